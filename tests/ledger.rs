//! The ledger against real SQLite files in fresh directories under the system temp dir: file
//! permissions, the directory lock (also across a SIGKILLed process), group-commit durability,
//! state transitions and counters, paging, failures, decisions, cursors and crash recovery.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use i2k::engine::model::{ErrorClass, PhaseId};
use i2k::ledger::{
    DB_FILE, ExtractCursor, FailureFilter, Ledger, LedgerError, LedgerReader, Listed, RecordState,
    Sample, SourceRecord, StoredProbe,
};
use serde_json::json;

/// A fresh state directory path (not created: the ledger creates it).
struct TempState(PathBuf);

impl TempState {
    fn new(name: &str) -> TempState {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let root =
            std::env::temp_dir().join(format!("i2k-ledger-{name}-{}-{nanos}", std::process::id()));
        TempState(root.join("state"))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempState {
    fn drop(&mut self) {
        if let Some(root) = self.0.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn ids(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|n| format!("{n:06}")).collect()
}

/// Stages `ids` as source records of `kind` (each id's `raw`), a thousand at a time, and makes
/// them pending under the same kind; returns how many became pending.
async fn stage(
    ledger: &Ledger,
    kind: &str,
    ids: &[String],
    raw: impl Fn(&str) -> serde_json::Value,
) -> u64 {
    for chunk in ids.chunks(1_000) {
        let page: Vec<SourceRecord> = chunk.iter().map(|id| source(kind, id, raw(id))).collect();
        assert_eq!(ledger.put_sources(page).await.unwrap(), chunk.len() as u64);
    }
    ledger
        .ensure_pending_from_sources(kind, kind)
        .await
        .unwrap()
}

fn source(kind: &str, id: &str, raw: serde_json::Value) -> SourceRecord {
    SourceRecord {
        kind: kind.to_string(),
        source_id: id.to_string(),
        parent_id: None,
        updated_at: raw["updated_at"].as_i64(),
        raw: raw.to_string(),
        problem: None,
    }
}

#[tokio::test]
async fn ledger_files_are_private_to_their_owner() {
    let state = TempState::new("modes");
    let ledger = Ledger::open(state.path()).unwrap();
    ledger
        .put_sources(vec![source("contacts", "1", json!({"id": "1"}))])
        .await
        .unwrap();
    let db = state.path().join(DB_FILE);
    let wal = state.path().join(format!("{DB_FILE}-wal"));
    let shm = state.path().join(format!("{DB_FILE}-shm"));
    assert_eq!(mode(state.path()), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert!(wal.exists(), "WAL mode keeps a -wal file while open");
    assert_eq!(mode(&wal), 0o600);
    assert_eq!(mode(&shm), 0o600);
    assert_eq!(mode(&state.path().join(i2k::ledger::LOCK_FILE)), 0o600);
}

#[tokio::test]
async fn a_second_open_of_the_same_state_dir_fails_until_the_first_is_dropped() {
    let state = TempState::new("lock");
    let first = Ledger::open(state.path()).unwrap();
    let clone = first.clone();
    let err = Ledger::open(state.path())
        .err()
        .expect("second open must fail");
    assert!(matches!(err, LedgerError::Locked { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("another i2k run holds"), "{message}");
    assert!(
        message.contains(&state.path().display().to_string()),
        "{message}"
    );
    drop(first);
    assert!(
        Ledger::open(state.path()).is_err(),
        "a live clone still holds the directory"
    );
    drop(clone);
    Ledger::open(state.path()).expect("open after the last handle is dropped");
}

/// A lock let go a moment after the open began (a run that is just ending, or this process's
/// lock file shared with a child between its fork and its exec) is waited for, not refused.
#[test]
fn an_open_waits_briefly_for_a_lock_that_is_being_released() {
    let state = TempState::new("lock-released");
    drop(Ledger::open(state.path()).unwrap());
    let held = i2k::ledger::StateDirLock::try_acquire(state.path()).unwrap();
    let (taken, take) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        take.recv().unwrap();
        std::thread::sleep(i2k::ledger::LOCK_PATIENCE / 5);
        drop(held);
    });
    taken.send(()).unwrap();
    Ledger::open(state.path()).expect("the lock was let go within the patience");
    holder.join().unwrap();
}

#[tokio::test]
async fn an_awaited_sent_mark_is_visible_to_a_fresh_reader_connection() {
    let state = TempState::new("durable");
    let ledger = Ledger::open(state.path()).unwrap();
    ledger.ensure_pending("customers", ids(0..3)).await.unwrap();
    ledger
        .mark_sent("customers", ids(0..2), Some("batch-1"))
        .await
        .unwrap();
    // A connection opened after the await, as another process would.
    let reader = LedgerReader::open(state.path()).unwrap();
    let sent = reader
        .next_batch("customers", &[RecordState::Sent], None, 10)
        .unwrap();
    assert_eq!(
        sent.iter()
            .map(|i| i.source_id.as_str())
            .collect::<Vec<_>>(),
        ["000000", "000001"]
    );
    assert!(
        sent.iter()
            .all(|i| i.batch_id.as_deref() == Some("batch-1"))
    );
    assert!(
        sent.iter()
            .all(|i| i.sent_ms.is_some() && i.job_id.is_none())
    );
    let pending = reader
        .next_batch("customers", &[RecordState::Pending], None, 10)
        .unwrap();
    assert_eq!(pending.len(), 1);
}

/// Writes queued together commit together; one that fails (a run that does not exist) fails
/// alone, with its error, and every write queued around it still lands, counted once.
#[tokio::test]
async fn a_failing_write_among_queued_ones_fails_alone() {
    let state = TempState::new("fails-alone");
    let ledger = Ledger::open(state.path()).unwrap();
    ledger
        .ensure_pending("customers", ids(0..200))
        .await
        .unwrap();
    let figures = json!({});
    for round in 0..5u32 {
        let (before, after) = (round * 40, round * 40 + 20);
        for id in ids(before..after) {
            ledger
                .mark_done("customers", &id, &format!("k{id}"))
                .unwrap();
        }
        let bad = ledger.finish_run(1_000_000 + i64::from(round), "completed", &figures);
        let good = ledger.start_run("run");
        let (bad, good) = tokio::join!(bad, good);
        assert!(matches!(bad, Err(LedgerError::Corrupt(_))), "{bad:?}");
        assert!(good.is_ok(), "{good:?}");
        for id in ids(after..after + 20) {
            ledger
                .mark_done("customers", &id, &format!("k{id}"))
                .unwrap();
        }
    }
    ledger.flush().await.unwrap();
    let counts = ledger.counters().target("customers");
    assert_eq!((counts.done, counts.pending, counts.total()), (200, 0, 200));
    let reader = LedgerReader::open(state.path()).unwrap();
    let done = reader
        .next_batch("customers", &[RecordState::Done], None, 1000)
        .unwrap();
    assert_eq!(done.len(), 200);
    assert!(
        done.iter()
            .all(|i| i.target_id.as_deref() == Some(format!("k{}", i.source_id).as_str()))
    );
    drop(ledger);
    // Counted once: the counters seeded from the file on reopen agree.
    let reopened = Ledger::open(state.path()).unwrap();
    assert_eq!(reopened.counters().target("customers").done, 200);
}

#[tokio::test]
async fn record_states_move_and_counters_follow_and_are_seeded_on_reopen() {
    let state = TempState::new("counters");
    {
        let ledger = Ledger::open(state.path()).unwrap();
        assert_eq!(
            ledger
                .ensure_pending("customers", ids(0..10))
                .await
                .unwrap(),
            10
        );
        assert_eq!(
            ledger
                .ensure_pending("customers", ids(5..12))
                .await
                .unwrap(),
            2,
            "existing records are left as they are"
        );
        ledger
            .mark_sent("customers", ids(0..6), None)
            .await
            .unwrap();
        for id in ids(0..3) {
            ledger
                .mark_done("customers", &id, &format!("k-{id}"))
                .unwrap();
        }
        ledger
            .mark_failed(
                "customers",
                "000003",
                ErrorClass::Rejected,
                "bad email",
                "POST",
                "400",
            )
            .unwrap();
        ledger
            .mark_skipped("customers", "000004", "operator")
            .unwrap();
        ledger.archive("segments", "s1", "unused segment").unwrap();
        ledger
            .add_manual_item(Some(("macros", "m1")), "Rebuild macro", "Greeting macro")
            .unwrap();
        ledger.flush().await.unwrap();

        let counts = ledger.counters().target("customers");
        assert_eq!(
            (
                counts.pending,
                counts.sent,
                counts.done,
                counts.failed,
                counts.skipped
            ),
            (6, 1, 3, 1, 1)
        );
        assert_eq!(counts.total(), 12);
        assert_eq!(ledger.counters().target("segments").archived, 1);
        assert_eq!(ledger.counters().target("macros").manual, 1);

        // The in-memory counters agree with a count in SQL.
        let counted = ledger.read(|r| r.counts_by_kind()).unwrap();
        assert_eq!(counted["customers"], counts);

        ledger.reset_failed(Some("customers")).unwrap();
        ledger
            .reset_to_pending(vec![("customers".into(), "000004".into())])
            .unwrap();
        ledger.flush().await.unwrap();
        let counts = ledger.counters().target("customers");
        assert_eq!((counts.pending, counts.failed, counts.skipped), (8, 0, 0));
        let retried = ledger
            .read(|r| r.record("customers", "000003"))
            .unwrap()
            .unwrap();
        assert_eq!(retried.state, RecordState::Pending);
        assert_eq!(retried.attempts, 1, "a retry keeps the attempt count");

        let phases = ledger.counters().by_phase(|kind| match kind {
            "customers" => Some(PhaseId::Customers),
            "segments" | "macros" => Some(PhaseId::Extras),
            _ => None,
        });
        assert_eq!(phases[&PhaseId::Customers].total(), 12);
        assert_eq!(phases[&PhaseId::Extras].settled(), 2);
    }
    let reopened = Ledger::open(state.path()).unwrap();
    let counts = reopened.counters().target("customers");
    assert_eq!(
        (counts.pending, counts.sent, counts.done, counts.failed),
        (8, 1, 3, 0)
    );
    assert_eq!(reopened.counters().target("segments").archived, 1);
    assert_eq!(
        reopened
            .target_id("customers", "000002")
            .unwrap()
            .as_deref(),
        Some("k-000002")
    );
}

#[tokio::test]
async fn paging_walks_ten_thousand_records_one_page_at_a_time() {
    let state = TempState::new("paging");
    let ledger = Ledger::open(state.path()).unwrap();
    let all = ids(0..10_000);
    let staged = stage(
        &ledger,
        "contacts",
        &all,
        |id| json!({"id": id, "email": format!("{id}@x.test")}),
    )
    .await;
    assert_eq!(staged, 10_000);
    // Every third record is done, so a page of pending-or-failed must skip over them.
    for id in all.iter().step_by(3) {
        ledger.mark_done("contacts", id, "k").unwrap();
    }
    ledger.flush().await.unwrap();
    assert_eq!(ledger.counters().source("contacts"), 10_000);

    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = ledger
            .read(|r| {
                r.next_batch(
                    "contacts",
                    &[RecordState::Pending, RecordState::Failed],
                    after.as_deref(),
                    250,
                )
            })
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 250);
        assert!(page.iter().all(|item| item.raw.is_some()));
        pages += 1;
        after = page.last().map(|item| item.source_id.clone());
        seen.extend(page.into_iter().map(|item| item.source_id));
    }
    let expected: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 3 != 0)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(seen, expected, "every pending record once, in order");
    assert_eq!(pages, expected.len().div_ceil(250));

    // Neither form of the page query sorts a whole type in a temporary b-tree.
    let reader = ledger.open_reader().unwrap();
    for state_term in ["t.state = 'pending'", "+t.state IN ('pending', 'failed')"] {
        let plan = reader
            .explain(&format!(
                "SELECT t.source_id FROM target t LEFT JOIN source s ON s.kind = t.kind AND s.source_id = t.source_id
                 WHERE t.kind = 'contacts' AND t.source_id > '' AND {state_term} ORDER BY t.source_id LIMIT 250"
            ))
            .unwrap();
        assert!(
            plan.iter().all(|step| !step.contains("TEMP B-TREE")),
            "{state_term}: {plan:?}"
        );
    }
}

#[tokio::test]
async fn failures_filter_by_kind_class_and_text_and_detail_shows_the_exchange() {
    let state = TempState::new("failures");
    let ledger = Ledger::open(state.path()).unwrap();
    ledger
        .put_sources(vec![source(
            "contacts",
            "c1",
            json!({"id": "c1", "email": "a@b.test"}),
        )])
        .await
        .unwrap();
    ledger
        .mark_failed(
            "contacts",
            "c1",
            ErrorClass::Rejected,
            "email is invalid",
            "POST /v1/customers {…}",
            "400 {\"errors\":[]}",
        )
        .unwrap();
    ledger
        .mark_failed(
            "contacts",
            "c1",
            ErrorClass::Rejected,
            "email is invalid",
            "POST /v1/customers {…}",
            "400 again",
        )
        .unwrap();
    ledger
        .mark_failed(
            "contacts",
            "c2",
            ErrorClass::Transient,
            "timed out",
            "POST",
            "",
        )
        .unwrap();
    ledger
        .mark_failed(
            "companies",
            "co1",
            ErrorClass::Rejected,
            "name missing",
            "POST",
            "400",
        )
        .unwrap();
    ledger.mark_done("contacts", "c3", "k3").unwrap();
    ledger.flush().await.unwrap();

    let reader = ledger.open_reader().unwrap();
    let everything = reader.failures(&FailureFilter::default(), 0, 100).unwrap();
    assert_eq!(
        everything
            .iter()
            .map(|f| f.source_id.as_str())
            .collect::<Vec<_>>(),
        ["co1", "c1", "c2"]
    );
    let rejected_contacts = FailureFilter {
        kind: Some("contacts".into()),
        class: Some(ErrorClass::Rejected),
        text: None,
    };
    let rows = reader.failures(&rejected_contacts, 0, 100).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attempts, 2);
    let by_text = FailureFilter {
        text: Some("TIMED".into()),
        ..Default::default()
    };
    assert_eq!(
        reader.failures(&by_text, 0, 100).unwrap()[0].source_id,
        "c2"
    );
    assert_eq!(reader.failure_count(&FailureFilter::default()).unwrap(), 3);
    assert_eq!(
        reader
            .failures(&FailureFilter::default(), 2, 100)
            .unwrap()
            .len(),
        1
    );

    let detail = reader.failure_detail("contacts", "c1").unwrap().unwrap();
    assert_eq!(detail.failure.class, ErrorClass::Rejected);
    assert_eq!(detail.failure.message, "email is invalid");
    assert_eq!(detail.response, "400 again");
    assert!(detail.source.unwrap().contains("\"email\": \"a@b.test\""));
    assert!(reader.failure_detail("contacts", "c3").unwrap().is_none());
}

#[tokio::test]
async fn decisions_round_trip_by_namespace() {
    let state = TempState::new("decisions");
    {
        let ledger = Ledger::open(state.path()).unwrap();
        ledger
            .put_decision("admin:7", &json!({"decision": "user", "user_id": "u1"}))
            .await
            .unwrap();
        ledger
            .put_decision("admin:8", &json!({"decision": "invite"}))
            .await
            .unwrap();
        ledger
            .put_decision(
                "field:contact:plan",
                &json!({"decision": "attribute", "name": "planStr"}),
            )
            .await
            .unwrap();
        ledger
            .put_decision("admin:8", &json!({"decision": "fallback"}))
            .await
            .unwrap();
        ledger
            .put_decision("bucket:macros", &json!("manual"))
            .await
            .unwrap();
        ledger.delete_decision("bucket:macros").await.unwrap();
    }
    let reader = LedgerReader::open(state.path()).unwrap();
    let admins = reader.decisions("admin:").unwrap();
    assert_eq!(
        admins,
        vec![
            (
                "admin:7".to_string(),
                json!({"decision": "user", "user_id": "u1"})
            ),
            ("admin:8".to_string(), json!({"decision": "fallback"})),
        ]
    );
    assert_eq!(
        reader.decision("field:contact:plan").unwrap(),
        Some(json!({"decision": "attribute", "name": "planStr"}))
    );
    assert_eq!(reader.decision("bucket:macros").unwrap(), None);
    assert!(reader.decisions("segment:").unwrap().is_empty());
}

#[tokio::test]
async fn cursors_and_extraction_figures_survive_a_restart() {
    let state = TempState::new("cursors");
    {
        let ledger = Ledger::open(state.path()).unwrap();
        ledger
            .put_sources(vec![SourceRecord {
                parent_id: Some("conv1".into()),
                problem: Some("attachment URL expired".into()),
                ..source(
                    "conversation_parts",
                    "p1",
                    json!({"id": "p1", "updated_at": 1_700_000_000}),
                )
            }])
            .await
            .unwrap();
        ledger
            .set_cursor(ExtractCursor {
                listing: "companies/scroll".into(),
                cursor: Some(json!({"scroll_param": "abc"}).to_string()),
                complete: false,
                max_updated_at: Some(1_700_000_000),
                fetched: 50,
                total: Some(120),
            })
            .unwrap();
        ledger
            .set_cursor(ExtractCursor {
                listing: "admins".into(),
                complete: true,
                fetched: 3,
                ..Default::default()
            })
            .unwrap();
        ledger
            .set_not_retrievable("conversation_parts", "conv1", 40, "beyond 500 parts")
            .unwrap();
        ledger
            .set_not_retrievable("conversation_parts", "conv1", 42, "beyond 500 parts")
            .unwrap();
        ledger
            .set_not_retrievable("conversation_parts", "conv2", 8, "beyond 500 parts")
            .unwrap();
        ledger
            .add_warning("contacts", Some("c9"), "custom attribute dropped")
            .unwrap();
    }
    let reader = LedgerReader::open(state.path()).unwrap();
    let scroll = reader.cursor("companies/scroll").unwrap().unwrap();
    assert_eq!(scroll.cursor.as_deref(), Some(r#"{"scroll_param":"abc"}"#));
    assert!(!scroll.complete);
    assert_eq!(
        (scroll.fetched, scroll.total, scroll.max_updated_at),
        (50, Some(120), Some(1_700_000_000))
    );
    assert!(reader.cursor("admins").unwrap().unwrap().complete);
    assert!(reader.cursor("teams").unwrap().is_none());
    assert_eq!(reader.cursors().unwrap().len(), 2);
    assert_eq!(reader.not_retrievable().unwrap()["conversation_parts"], 50);
    assert_eq!(
        reader.warnings(0, 10).unwrap()[0].message,
        "custom attribute dropped"
    );
    let parts = reader.children("conversation_parts", "conv1").unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].updated_at, Some(1_700_000_000));
    assert_eq!(reader.source_problems(0, 10).unwrap()[0].source_id, "p1");
}

#[tokio::test]
async fn re_extracting_a_changed_record_flags_its_loaded_target() {
    let state = TempState::new("changed");
    let ledger = Ledger::open(state.path()).unwrap();
    let v1 = json!({"id": "c1", "name": "Acme", "updated_at": 1});
    let v2 = json!({"id": "c1", "name": "Acme Inc", "updated_at": 2});
    ledger
        .put_sources(vec![source("companies", "c1", v1.clone())])
        .await
        .unwrap();
    ledger
        .put_sources(vec![source("companies", "c2", v1.clone())])
        .await
        .unwrap();
    ledger.mark_done("companies", "c1", "k1").unwrap();
    // Same content again: nothing to update.
    assert_eq!(
        ledger
            .put_sources(vec![source("companies", "c1", v1)])
            .await
            .unwrap(),
        0
    );
    let reader = ledger.open_reader().unwrap();
    assert!(
        reader
            .listed(Listed::ChangedSinceDone, "companies", None, 10)
            .unwrap()
            .is_empty()
    );

    ledger
        .put_sources(vec![source("companies", "c1", v2.clone())])
        .await
        .unwrap();
    let changed = reader
        .listed(Listed::ChangedSinceDone, "companies", None, 10)
        .unwrap();
    assert_eq!(changed.len(), 1);
    assert!(changed[0].source_changed);
    assert_eq!(changed[0].raw.as_deref(), Some(v2.to_string().as_str()));
    assert_eq!(
        ledger.counters().source("companies"),
        2,
        "a replaced record is not counted twice"
    );

    ledger.mark_done("companies", "c1", "k1").unwrap();
    ledger.flush().await.unwrap();
    assert!(
        reader
            .listed(Listed::ChangedSinceDone, "companies", None, 10)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn target_ids_are_found_as_soon_as_they_are_marked_done() {
    let state = TempState::new("idmap");
    let ledger = Ledger::open(state.path()).unwrap();
    ledger.mark_done("companies", "co1", "kust-co1").unwrap();
    assert_eq!(
        ledger.target_id("companies", "co1").unwrap().as_deref(),
        Some("kust-co1")
    );
    ledger.flush().await.unwrap();
    assert_eq!(
        ledger.target_id("companies", "co1").unwrap().as_deref(),
        Some("kust-co1")
    );
    assert_eq!(
        ledger
            .open_reader()
            .unwrap()
            .target_id("companies", "co1")
            .unwrap()
            .as_deref(),
        Some("kust-co1")
    );
    assert_eq!(ledger.target_id("companies", "co2").unwrap(), None);
    assert_eq!(ledger.target_id("customers", "co1").unwrap(), None);
}

#[tokio::test]
async fn dropping_without_finishing_leaves_sent_records_for_recovery() {
    let state = TempState::new("crash");
    {
        let ledger = Ledger::open(state.path()).unwrap();
        let run = ledger.start_run("run").await.unwrap();
        ledger.ensure_pending("customers", ids(0..6)).await.unwrap();
        ledger
            .mark_sent("customers", ids(0..3), Some("b1"))
            .await
            .unwrap();
        ledger
            .mark_sent("customers", ids(3..5), Some("b2"))
            .await
            .unwrap();
        ledger.record_job("b1", "job-1").unwrap();
        ledger.record_bulk_latency(Duration::from_secs(9)).unwrap();
        ledger.record_bulk_latency(Duration::from_secs(5)).unwrap();
        ledger.mark_done("customers", "000000", "k0").unwrap();
        let _ = run; // the run is never finished: the process "dies" here
    }
    let ledger = Ledger::open(state.path()).unwrap();
    let counts = ledger.counters().target("customers");
    assert_eq!((counts.pending, counts.sent, counts.done), (1, 4, 1));

    let reader = ledger.open_reader().unwrap();
    let batches = reader.sent_batches("customers").unwrap();
    assert_eq!(batches.len(), 2);
    assert_eq!(
        (
            batches[0].batch_id.as_str(),
            batches[0].job_id.as_deref(),
            batches[0].items
        ),
        ("b1", Some("job-1"), 2)
    );
    assert_eq!(
        (
            batches[1].batch_id.as_str(),
            batches[1].job_id.as_deref(),
            batches[1].items
        ),
        ("b2", None, 2)
    );
    let lost = ledger
        .read(|r| r.listed(Listed::SentWithoutJob, "customers", None, 10))
        .unwrap();
    assert_eq!(
        lost.iter()
            .map(|i| i.source_id.as_str())
            .collect::<Vec<_>>(),
        ["000003", "000004"]
    );
    assert_eq!(reader.batch_items("b1").unwrap().len(), 3);

    // The latency last learnt, not the longest: one slow job does not hold every later settle.
    assert_eq!(ledger.longest_bulk_latency(), Some(Duration::from_secs(5)));
    assert_eq!(ledger.bulk_patience(), Duration::from_secs(15));
    let runs = reader.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].finished_ms, None);
}

#[tokio::test]
async fn runs_archive_entries_and_the_manual_checklist_are_recorded() {
    let state = TempState::new("runs");
    let ledger = Ledger::open(state.path()).unwrap();
    assert_eq!(
        ledger.bulk_patience(),
        Duration::from_secs(10),
        "never under 10 s"
    );
    let run = ledger.start_run("run").await.unwrap();
    ledger
        .archive("segments", "s1", "not used by any saved search")
        .unwrap();
    ledger
        .add_manual_item(None, "KB theme", "colours and logo")
        .unwrap();
    ledger.log_event("info", "phase companies started").unwrap();
    ledger
        .finish_run(run, "finished", &json!({"done": 10, "failed": 0}))
        .await
        .unwrap();
    assert!(ledger.finish_run(run + 100, "x", &json!({})).await.is_err());

    let reader = ledger.open_reader().unwrap();
    let runs = reader.runs().unwrap();
    assert_eq!(runs[0].outcome.as_deref(), Some("finished"));
    assert_eq!(runs[0].figures, Some(json!({"done": 10, "failed": 0})));
    assert!(runs[0].finished_ms.unwrap() >= runs[0].started_ms);
    let archived = reader.archive_entries(0, 10).unwrap();
    assert_eq!(
        (archived[0].run_id, archived[0].reason.as_str()),
        (Some(run), "not used by any saved search")
    );
    let manual = reader.manual_items().unwrap();
    assert_eq!(
        (manual[0].kind.as_deref(), manual[0].title.as_str()),
        (None, "KB theme")
    );
    assert_eq!(
        reader.events(0, 10).unwrap()[0].2,
        "phase companies started"
    );
}

#[tokio::test]
async fn a_ledger_from_a_newer_i2k_is_refused_with_a_clear_error() {
    let state = TempState::new("schema");
    drop(Ledger::open(state.path()).unwrap());
    let conn = rusqlite::Connection::open(state.path().join(DB_FILE)).unwrap();
    conn.execute(
        "UPDATE meta SET value = '999' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let err = Ledger::open(state.path())
        .err()
        .expect("newer schema must be refused");
    assert!(
        matches!(err, LedgerError::SchemaTooNew { found: 999, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("newer than this i2k supports"),
        "{err}"
    );
    assert!(matches!(
        LedgerReader::open(state.path()),
        Err(LedgerError::SchemaTooNew { .. })
    ));
}

#[test]
fn a_reader_of_a_directory_without_a_ledger_says_so() {
    let state = TempState::new("missing");
    let err = LedgerReader::open(state.path()).err().unwrap();
    assert!(err.to_string().contains("no ledger in"), "{err}");
}

const CHILD_ENV: &str = "I2K_LEDGER_TEST_CHILD_DIR";

/// Run twice: as the test (parent), and as a child process that holds the ledger until killed.
#[tokio::test]
async fn a_killed_run_releases_the_lock_and_leaves_its_sent_marks() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let ledger = Ledger::open(Path::new(&dir)).unwrap();
        ledger
            .ensure_pending("conversations", ids(0..4))
            .await
            .unwrap();
        ledger
            .mark_sent("conversations", ids(0..2), None)
            .await
            .unwrap();
        println!("SENT");
        tokio::time::sleep(Duration::from_secs(60)).await;
        return;
    }
    let state = TempState::new("killed");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_killed_run_releases_the_lock_and_leaves_its_sent_marks",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.any(|line| line.map(|l| l.contains("SENT")).unwrap_or(false));
    assert!(ready, "the child never reported its sent marks");

    let held = Ledger::open(state.path())
        .err()
        .expect("the child holds the lock");
    assert!(matches!(held, LedgerError::Locked { .. }), "{held:?}");

    child.kill().unwrap(); // SIGKILL: no destructors, no clean close
    child.wait().unwrap();

    let ledger = Ledger::open(state.path()).expect("the kernel released the lock");
    let counts = ledger.counters().target("conversations");
    assert_eq!((counts.sent, counts.pending), (2, 2));
    let sent = ledger
        .read(|r| r.next_batch("conversations", &[RecordState::Sent], None, 10))
        .unwrap();
    assert_eq!(sent.len(), 2);
}

#[tokio::test]
async fn one_failing_write_does_not_undo_the_rest_of_its_group() {
    let state = TempState::new("savepoint");
    let ledger = Ledger::open(state.path()).unwrap();
    // Queued back to back, these land in one group; the bad run id fails inside it.
    ledger.mark_done("companies", "co1", "k1").unwrap();
    let bad = ledger.finish_run(424_242, "finished", &json!({})).await;
    assert!(bad.is_err());
    let reader = ledger.open_reader().unwrap();
    assert_eq!(
        reader.target_id("companies", "co1").unwrap().as_deref(),
        Some("k1")
    );
    assert_eq!(ledger.counters().target("companies").done, 1);
}

#[test]
fn handles_can_be_shared_across_threads_and_readers_moved_into_blocking_tasks() {
    fn shared<T: Send + Sync + Clone>() {}
    fn movable<T: Send>() {}
    shared::<Ledger>();
    movable::<LedgerReader>();
}

#[tokio::test]
async fn a_clean_close_folds_the_wal_back_into_the_database() {
    let state = TempState::new("close");
    let ledger = Ledger::open(state.path()).unwrap();
    ledger.ensure_pending("tags", ids(0..5)).await.unwrap();
    drop(ledger);
    assert!(!state.path().join(format!("{DB_FILE}-wal")).exists());
    let reader = LedgerReader::open(state.path()).unwrap();
    assert_eq!(reader.counts_by_kind().unwrap()["tags"].pending, 5);
}

#[tokio::test]
async fn a_done_record_keeps_whether_i2k_created_or_matched_it_and_older_ledgers_learn_it() {
    let state = TempState::new("origin");
    let origins = |path: &Path| -> Vec<(String, String, Option<String>)> {
        let conn = rusqlite::Connection::open(path.join(DB_FILE)).unwrap();
        let mut statement = conn
            .prepare("SELECT kind, source_id, origin FROM target ORDER BY kind, source_id")
            .unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let row = |k: &str, id: &str, origin: Option<&str>| {
        (k.to_string(), id.to_string(), origin.map(str::to_string))
    };
    {
        let ledger = Ledger::open(state.path()).unwrap();
        // Created: sent, then answered with its new id.
        ledger
            .mark_sent("customers", vec!["c1".into()], None)
            .await
            .unwrap();
        ledger.mark_done("customers", "c1", "k-c1").unwrap();
        // Matched: a user found by e-mail, never sent.
        ledger.mark_matched("admins", "a1", "k-u1").unwrap();
        // A pending record has no origin yet.
        ledger
            .ensure_pending("customers", vec!["c2".to_string()])
            .await
            .unwrap();
        ledger.flush().await.unwrap();
        assert_eq!(
            ledger.read(|r| r.matched_counts()).unwrap(),
            [("admins".to_string(), 1)].into_iter().collect()
        );
    }
    let written = vec![
        row("admins", "a1", Some("matched")),
        row("customers", "c1", Some("created")),
        row("customers", "c2", None),
    ];
    assert_eq!(origins(state.path()), written);
    // The same ledger as version 2 wrote it: no origin column.
    {
        let conn = rusqlite::Connection::open(state.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "DROP INDEX target_matched;
             ALTER TABLE target DROP COLUMN origin;
             UPDATE meta SET value = '2' WHERE key = 'schema_version';",
        )
        .unwrap();
    }
    let ledger = Ledger::open(state.path()).unwrap();
    // Sent once: created; done without ever being sent: matched (what was written, learnt).
    assert_eq!(origins(state.path()), written);
    assert_eq!(ledger.read(|r| r.matched_counts()).unwrap().len(), 1);
}

#[tokio::test]
async fn a_rolled_back_record_is_pending_again_with_its_kustomer_id_and_origin_forgotten() {
    let state = TempState::new("rolled-back");
    let ledger = Ledger::open(state.path()).unwrap();
    ledger
        .mark_sent("contacts", vec!["c1".into(), "c2".into()], None)
        .await
        .unwrap();
    ledger.mark_done("contacts", "c1", "k-c1").unwrap();
    ledger.mark_done("contacts", "c2", "k-c2").unwrap();
    ledger.mark_matched("contacts", "c3", "k-c3").unwrap();
    ledger.flush().await.unwrap();
    // Only what i2k created is a rollback's to delete.
    let created: Vec<String> = ledger
        .read(|r| r.listed(Listed::Created, "contacts", None, 10))
        .unwrap()
        .into_iter()
        .map(|w| w.source_id)
        .collect();
    assert_eq!(created, ["c1", "c2"]);
    assert_eq!(ledger.read(|r| r.created_count("contacts")).unwrap(), 2);

    ledger
        .mark_rolled_back(vec![("contacts".into(), "c1".into())])
        .unwrap();
    ledger.flush().await.unwrap();
    let c1 = ledger
        .read(|r| r.record("contacts", "c1"))
        .unwrap()
        .unwrap();
    assert_eq!(c1.state, RecordState::Pending);
    assert_eq!(c1.target_id, None);
    assert_eq!(c1.attempts, 0);
    assert_eq!(ledger.target_id("contacts", "c1").unwrap(), None);
    assert_eq!(ledger.read(|r| r.created_count("contacts")).unwrap(), 1);
    let counts = ledger.counters().target("contacts");
    assert_eq!(
        (
            counts.get(RecordState::Pending),
            counts.get(RecordState::Done)
        ),
        (1, 2)
    );
    // The matched record is untouched.
    assert_eq!(
        ledger.read(|r| r.matched_counts()).unwrap(),
        [("contacts".to_string(), 1)].into_iter().collect()
    );
}

#[tokio::test]
async fn samples_and_verifications_are_kept_and_a_version_3_ledger_gains_their_tables() {
    let state = TempState::new("samples");
    {
        let ledger = Ledger::open(state.path()).unwrap();
        ledger.start_run("run").await.unwrap();
        ledger.flush().await.unwrap();
    }
    // The same ledger as version 3 wrote it: neither table.
    {
        let conn = rusqlite::Connection::open(state.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "DROP TABLE samples; DROP TABLE verifications;
             UPDATE meta SET value = '3' WHERE key = 'schema_version';",
        )
        .unwrap();
    }
    let ledger = Ledger::open(state.path()).unwrap();
    assert_eq!(ledger.read(|r| r.runs()).unwrap().len(), 1, "runs kept");
    assert!(ledger.read(|r| r.samples()).unwrap().is_empty());
    assert_eq!(ledger.last_verification().unwrap(), None);

    let run_id = ledger.read(|r| r.runs()).unwrap()[0].id;
    let sample = |at_ms: i64, settled: u64| Sample {
        run_id: Some(run_id),
        at_ms,
        settled,
        settled_by_phase: [("Customers".to_string(), settled)].into_iter().collect(),
        kustomer_requests: 10,
        intercom_requests: 20,
        kustomer_used: 5,
        kustomer_allowed: 800,
        kustomer_throttled: 1,
        intercom_throttled: 0,
        faults: 2,
        phases: vec!["Customers".to_string()],
    };
    ledger.record_sample(sample(1_000, 3)).unwrap();
    ledger.record_sample(sample(3_000, 9)).unwrap();
    ledger
        .record_verification(false, &json!({"first": true}))
        .await
        .unwrap();
    ledger
        .record_verification(true, &json!({"types": [1, 2]}))
        .await
        .unwrap();
    ledger.flush().await.unwrap();

    assert_eq!(
        ledger.read(|r| r.samples()).unwrap(),
        vec![sample(1_000, 3), sample(3_000, 9)]
    );
    let last = ledger.last_verification().unwrap().expect("a verification");
    assert!(last.agrees);
    assert_eq!(last.result, json!({"types": [1, 2]}));
    assert_eq!(last.run_id, Some(run_id), "the run it followed");
}

#[tokio::test]
async fn a_version_4_ledger_gains_the_probes_table_and_a_new_probe_replaces_the_last() {
    let state = TempState::new("probes");
    {
        let ledger = Ledger::open(state.path()).unwrap();
        ledger.start_run("run").await.unwrap();
        ledger.flush().await.unwrap();
    }
    // The same ledger as version 4 wrote it: no probes table.
    {
        let conn = rusqlite::Connection::open(state.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "DROP TABLE probes; UPDATE meta SET value = '4' WHERE key = 'schema_version';",
        )
        .unwrap();
    }
    let ledger = Ledger::open(state.path()).unwrap();
    assert_eq!(ledger.read(|r| r.runs()).unwrap().len(), 1, "runs kept");
    assert!(ledger.probes().unwrap().is_empty());
    let probe = |assumption: &str, outcome: &str| StoredProbe {
        assumption: assumption.into(),
        outcome: outcome.into(),
        detail: format!("{assumption} {outcome}"),
        leftover: None,
        at_ms: 0,
    };
    ledger
        .record_probes(vec![
            probe("tags_route", "refused"),
            probe("bulk", "confirmed"),
        ])
        .await
        .unwrap();
    ledger
        .record_probes(vec![probe("tags_route", "confirmed")])
        .await
        .unwrap();
    let stored = ledger.probes().unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        (stored[0].outcome.as_str(), stored[0].at_ms > 0),
        ("confirmed", true)
    );
    // A value outside the three outcomes is refused by the table itself.
    let conn = rusqlite::Connection::open(state.path().join(DB_FILE)).unwrap();
    assert!(
        conn.execute(
            "INSERT INTO probes (assumption, outcome, detail, at_ms) VALUES ('x', 'maybe', '', 1)",
            [],
        )
        .is_err()
    );
}

/// A walk that settles every record with a queued write (no wait per record) keeps the writer's
/// queue near one page: each page waits for the writer once more than `QUEUED_AT_MOST` ops are
/// queued, so the memory the queue holds does not grow with the kind's size.
#[tokio::test]
async fn a_walk_that_writes_per_record_does_not_outrun_the_writer() {
    let state = TempState::new("keep-up");
    let ledger = Ledger::open(state.path()).unwrap();
    let staged = stage(
        &ledger,
        "event_summaries",
        &ids(0..40_000),
        |id| json!({"id": id}),
    )
    .await;
    assert_eq!(staged, 40_000);
    let page_size = 500;
    let mut pages = ledger.pages("event_summaries", &[RecordState::Pending], page_size);
    let (mut walked, mut most_queued) = (0, 0);
    while let Some(page) = pages.next_page().await.unwrap() {
        most_queued = most_queued.max(ledger.queued_ops());
        for item in page {
            ledger
                .archive("event_summaries", &item.source_id, "kept here")
                .unwrap();
            walked += 1;
        }
    }
    assert_eq!(walked, 40_000);
    assert!(
        most_queued <= i2k::ledger::QUEUED_AT_MOST,
        "{most_queued} ops were queued when a page was handed out"
    );
    ledger.flush().await.unwrap();
    assert_eq!(
        ledger.queued_ops(),
        0,
        "every op sent was applied and counted"
    );
    assert_eq!(ledger.counters().target("event_summaries").archived, 40_000);
}

/// A page ends once its records' stored sources reach `PAGE_RAW_BYTES`, so heavy records come in
/// shorter pages than light ones (memory per page does not grow with a kind's weight), and the
/// walk still hands out every record once, in order.
#[tokio::test]
async fn pages_of_heavy_records_end_at_the_byte_budget_and_miss_none() {
    let state = TempState::new("heavy-pages");
    let ledger = Ledger::open(state.path()).unwrap();
    let heavy = "x".repeat(20_000);
    let staged = stage(
        &ledger,
        "tickets",
        &ids(0..1_500),
        |id| json!({"id": id, "body": heavy}),
    )
    .await;
    assert_eq!(staged, 1_500);
    stage(&ledger, "contacts", &ids(0..1_500), |id| json!({"id": id})).await;
    ledger.flush().await.unwrap();

    let weight = |page: &[i2k::ledger::WorkItem]| -> usize {
        page.iter()
            .map(|i| i.raw.as_ref().map_or(0, String::len))
            .sum()
    };
    let mut pages = ledger.pages("tickets", &[RecordState::Pending], 1_000);
    let (mut seen, mut sizes) = (Vec::new(), Vec::new());
    while let Some(page) = pages.next_page().await.unwrap() {
        let last = page.last().unwrap().raw.as_ref().unwrap().len();
        assert!(
            weight(&page) - last < i2k::ledger::PAGE_RAW_BYTES,
            "a page went on past the byte budget"
        );
        sizes.push(page.len());
        seen.extend(page.into_iter().map(|i| i.source_id));
    }
    let mut expected = ids(0..1_500);
    expected.sort();
    assert_eq!(
        seen, expected,
        "every heavy record once, in source-id order"
    );
    assert!(
        sizes.len() > 2,
        "20 KB records filled 1,000-record pages: {sizes:?}"
    );
    assert!(sizes.iter().all(|&n| n < 1_000), "{sizes:?}");

    // Light records fill the page by count, as before.
    let mut pages = ledger.pages("contacts", &[RecordState::Pending], 1_000);
    let first = pages.next_page().await.unwrap().unwrap();
    assert_eq!(first.len(), 1_000);
}
