//! How SQLite plans every ledger query that reads `source` or `target` by a condition, asked on a
//! populated ledger with parameters bound as the ledger binds them: a load-path query that scans a
//! whole table, sorts a whole kind, or reaches its rows through a wider range than its filter
//! fails here instead of slowing a migration down. The query texts come from `i2k::ledger::sql`,
//! the same text the reader and writer run.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use i2k::engine::model::ErrorClass;
use i2k::ledger::{Ledger, RecordState, SourceRecord, sql};
use rusqlite::types::Value;

const CONVERSATIONS: u32 = 400;
const PARTS_PER_CONVERSATION: u32 = 12;
const CONTACTS: u32 = 3_000;

/// A private state directory, removed when the test ends.
struct TempState(PathBuf);

impl TempState {
    fn new(name: &str) -> TempState {
        TempState(common::temp_state(&format!("plans-{name}")))
    }
}

impl Drop for TempState {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn record(kind: &str, id: String, parent: Option<String>, problem: Option<&str>) -> SourceRecord {
    SourceRecord {
        kind: kind.to_string(),
        source_id: id.clone(),
        parent_id: parent,
        updated_at: Some(1_700_000_000),
        raw: format!(r#"{{"id":"{id}","body":"{}"}}"#, "x".repeat(200)),
        problem: problem.map(str::to_string),
    }
}

/// Several kinds, thousands of source and target rows, conversations with parts, and target
/// records in every state the load meets (pending, sent in batches with and without a job, done,
/// done with a changed source, failed), some sources with problems or incomplete.
async fn populated_ledger(state: &TempState) -> Ledger {
    let ledger = Ledger::open(&state.0.join("state")).unwrap();
    let mut sources = Vec::new();
    for c in 0..CONTACTS {
        let problem = (c % 500 == 0).then_some("incomplete: the tags sub-list failed");
        sources.push(record("contacts", format!("ct{c:06}"), None, problem));
    }
    for c in 0..CONVERSATIONS {
        let conversation = format!("cv{c:06}");
        for p in 0..PARTS_PER_CONVERSATION {
            sources.push(record(
                "conversation_parts",
                format!("pt{c:06}-{p:02}"),
                Some(conversation.clone()),
                None,
            ));
        }
        let mut file = record(
            "attachments",
            format!("at{c:06}"),
            Some(conversation.clone()),
            None,
        );
        // Half downloaded (their size known), half not yet (Intercom's filesize only).
        file.raw = if c % 2 == 0 {
            format!(r#"{{"filesize":1000,"size":1024,"sha256":"{c}"}}"#)
        } else {
            r#"{"filesize":1000}"#.to_string()
        };
        sources.push(file);
        sources.push(record("conversations", conversation, None, None));
    }
    for page in sources.chunks(2_000) {
        ledger.put_sources(page.to_vec()).await.unwrap();
    }
    for kind in ["contacts", "conversations", "conversation_parts"] {
        ledger
            .ensure_pending_from_sources(kind, kind)
            .await
            .unwrap();
    }
    for c in (0..CONTACTS).step_by(2) {
        ledger
            .mark_done("contacts", &format!("ct{c:06}"), &format!("k{c}"))
            .unwrap();
    }
    for c in (1..CONTACTS).step_by(50) {
        ledger
            .mark_failed(
                "contacts",
                &format!("ct{c:06}"),
                ErrorClass::Rejected,
                "email is invalid",
                "POST",
                "400",
            )
            .unwrap();
    }
    for batch in 0..5u32 {
        let ids: Vec<String> = (0..100)
            .map(|n| format!("ct{:06}", 1_003 + 2 * (batch * 100 + n)))
            .collect();
        let batch_id = format!("b{batch}");
        ledger
            .mark_sent("contacts", ids, Some(&batch_id))
            .await
            .unwrap();
        if batch % 2 == 0 {
            ledger
                .record_job(&batch_id, &format!("job{batch}"))
                .unwrap();
        }
    }
    ledger.flush().await.unwrap();
    // A second extraction of a few loaded contacts, changed since.
    let changed: Vec<SourceRecord> = (0..CONTACTS)
        .step_by(100)
        .map(|c| {
            let mut r = record("contacts", format!("ct{c:06}"), None, None);
            r.raw.push(' ');
            r
        })
        .collect();
    ledger.put_sources(changed).await.unwrap();
    ledger.flush().await.unwrap();
    ledger
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// Realistic bound values for each query of the catalog, by name.
fn bound_values() -> BTreeMap<&'static str, Vec<Value>> {
    let page = Value::Integer(500);
    let key = |k: &str, id: &str| vec![text(k), text(id)];
    BTreeMap::from([
        ("target_id", key("contacts", "ct000042")),
        ("record", key("conversation_parts", "pt000007-03")),
        (
            "next_batch_one_state",
            vec![
                text("contacts"),
                text("ct001000"),
                text("pending"),
                page.clone(),
            ],
        ),
        (
            "next_batch_two_states",
            vec![
                text("contacts"),
                text("ct001000"),
                text("pending"),
                text("failed"),
                page.clone(),
            ],
        ),
        (
            "sent_without_job",
            vec![text("contacts"), text(""), page.clone()],
        ),
        (
            "changed_since_done",
            vec![text("contacts"), text(""), page.clone()],
        ),
        ("sent_batches", vec![text("contacts")]),
        ("batch_items", vec![text("b3")]),
        ("counts_by_kind", vec![]),
        ("reasons", key("contacts", "failed")),
        (
            "follow_up",
            vec![
                text("contacts"),
                text("failed"),
                text("c0100"),
                page.clone(),
            ],
        ),
        (
            "failures_of_kind",
            vec![text("contacts"), page.clone(), Value::Integer(0)],
        ),
        ("failures_all", vec![page.clone(), Value::Integer(0)]),
        ("failure_count_of_kind", vec![text("contacts")]),
        ("failure_count_all", vec![]),
        ("failure_detail", key("contacts", "ct000051")),
        ("source", key("contacts", "ct000042")),
        (
            "sources_page",
            vec![text("contacts"), text("ct001000"), page.clone()],
        ),
        (
            "staged_since_page",
            vec![
                text("contacts"),
                text("ct001000"),
                Value::Integer(0),
                page.clone(),
            ],
        ),
        ("children", key("conversation_parts", "cv000007")),
        (
            "children_with_state",
            vec![
                text("conversation_parts"),
                text("cv000007"),
                text("conversation_parts"),
            ],
        ),
        ("source_exists", key("contacts", "ct000042")),
        ("source_counts", vec![]),
        ("source_problems", vec![page.clone(), Value::Integer(0)]),
        ("incomplete_sources", vec![text("contacts")]),
        ("incomplete_counts", vec![]),
        ("matched_counts", vec![]),
        ("file_bytes", vec![text("attachments")]),
        ("unreadable", vec![text("contacts"), text("contacts")]),
        ("prior_state", key("contacts", "ct000042")),
        ("prior_raw", key("contacts", "ct000042")),
        (
            "flag_source_changed",
            vec![text("contacts"), text("ct000042"), Value::Integer(1)],
        ),
        (
            "keep_loaded_raw",
            vec![text("contacts"), text("ct000042"), text("{}")],
        ),
        (
            "mark_updated_target",
            vec![text("contacts"), text("ct000042"), Value::Integer(1)],
        ),
        ("mark_updated_source", key("contacts", "ct000042")),
        ("changes_of_run", vec![Value::Integer(1)]),
        (
            "change_rows_of_run",
            vec![
                Value::Integer(1),
                text("contacts"),
                text("updated"),
                Value::Integer(200),
            ],
        ),
        ("removed_kept", vec![]),
        (
            "ensure_pending_from_sources",
            vec![
                text("conversations"),
                text("conversation_states"),
                Value::Integer(1),
            ],
        ),
        (
            "record_job",
            vec![text("b1"), text("job1"), Value::Integer(1)],
        ),
        (
            "record_upload",
            vec![
                text("attachment_uploads"),
                text("at000042"),
                text("0123456789abcdef01234567"),
                Value::Integer(1),
            ],
        ),
        (
            "reset_to_pending",
            vec![text("contacts"), text("ct000042"), Value::Integer(1)],
        ),
        (
            "rolled_back",
            vec![text("contacts"), text("ct000042"), Value::Integer(1)],
        ),
        (
            "created_page",
            vec![text("contacts"), text("ct001000"), page.clone()],
        ),
        ("created_count", vec![text("contacts")]),
        ("failed_per_kind", vec![text("contacts")]),
        ("reset_failed", vec![text("contacts"), Value::Integer(1)]),
    ])
}

/// The plan each load-path query must keep: the index that fits its filter and its order.
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "target_id",
        &["SEARCH target USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "record",
        &[
            "SEARCH t USING PRIMARY KEY (kind=? AND source_id=?)",
            "SEARCH s USING PRIMARY KEY (kind=? AND source_id=?) LEFT-JOIN",
        ],
    ),
    (
        "next_batch_one_state",
        &[
            "SEARCH t USING INDEX target_by_state (kind=? AND state=? AND source_id>?)",
            "SEARCH s USING PRIMARY KEY (kind=? AND source_id=?) LEFT-JOIN",
        ],
    ),
    (
        "next_batch_two_states",
        &[
            "SEARCH t USING PRIMARY KEY (kind=? AND source_id>?)",
            "SEARCH s USING PRIMARY KEY (kind=? AND source_id=?) LEFT-JOIN",
        ],
    ),
    (
        "sent_without_job",
        &[
            "SEARCH t USING INDEX target_by_state (kind=? AND state=? AND source_id>?)",
            "SEARCH s USING PRIMARY KEY (kind=? AND source_id=?) LEFT-JOIN",
        ],
    ),
    (
        "changed_since_done",
        &[
            "SEARCH t USING INDEX target_by_state (kind=? AND state=? AND source_id>?)",
            "SEARCH s USING PRIMARY KEY (kind=? AND source_id=?) LEFT-JOIN",
        ],
    ),
    (
        "sent_batches",
        &[
            "SEARCH target USING INDEX target_by_state (kind=? AND state=?)",
            "USE TEMP B-TREE FOR GROUP BY",
            "USE TEMP B-TREE FOR ORDER BY",
        ],
    ),
    (
        "batch_items",
        &[
            "SEARCH t USING INDEX target_by_batch (batch_id=?)",
            "SEARCH s USING PRIMARY KEY (kind=? AND source_id=?) LEFT-JOIN",
        ],
    ),
    (
        "failures_of_kind",
        &["SEARCH target USING INDEX target_by_state (kind=? AND state=?)"],
    ),
    (
        "failure_count_of_kind",
        &["SEARCH target USING COVERING INDEX target_by_state (kind=? AND state=?)"],
    ),
    (
        "failure_detail",
        &["SEARCH target USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "source",
        &["SEARCH source USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "sources_page",
        &["SEARCH source USING PRIMARY KEY (kind=? AND source_id>?)"],
    ),
    (
        "staged_since_page",
        &["SEARCH source USING PRIMARY KEY (kind=? AND source_id>?)"],
    ),
    (
        "children",
        &["SEARCH source USING INDEX source_by_parent (kind=? AND parent_id=?)"],
    ),
    (
        "children_with_state",
        &[
            "SEARCH s USING INDEX source_by_parent (kind=? AND parent_id=?)",
            "SEARCH t USING PRIMARY KEY (kind=? AND source_id=?) LEFT-JOIN",
        ],
    ),
    (
        "source_exists",
        &["SEARCH source USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    ("file_bytes", &["SEARCH source USING PRIMARY KEY (kind=?)"]),
    (
        "unreadable",
        &[
            "SEARCH s USING PRIMARY KEY (kind=?)",
            "SEARCH t USING PRIMARY KEY (kind=? AND source_id=?) LEFT-JOIN",
        ],
    ),
    (
        "incomplete_sources",
        &["SEARCH source USING INDEX source_incomplete (kind=?)"],
    ),
    (
        "prior_state",
        &["SEARCH target USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "prior_raw",
        &["SEARCH source USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "flag_source_changed",
        &["SEARCH target USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "keep_loaded_raw",
        &["SEARCH source USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "mark_updated_target",
        &["SEARCH target USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "mark_updated_source",
        &["SEARCH source USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "ensure_pending_from_sources",
        &["SEARCH source USING PRIMARY KEY (kind=?)"],
    ),
    (
        "record_job",
        &["SEARCH target USING INDEX target_by_batch (batch_id=?)"],
    ),
    (
        "record_upload",
        &["SEARCH target USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "reset_to_pending",
        &["SEARCH target USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "rolled_back",
        &["SEARCH target USING PRIMARY KEY (kind=? AND source_id=?)"],
    ),
    (
        "created_page",
        &[
            "SEARCH t USING INDEX target_by_state (kind=? AND state=? AND source_id>?)",
            "SEARCH s USING PRIMARY KEY (kind=? AND source_id=?) LEFT-JOIN",
        ],
    ),
    (
        "created_count",
        &["SEARCH target USING INDEX target_by_state (kind=? AND state=?)"],
    ),
    (
        "reasons",
        &[
            "SEARCH target USING INDEX target_by_state (kind=? AND state=?)",
            "USE TEMP B-TREE FOR GROUP BY",
            "USE TEMP B-TREE FOR ORDER BY",
        ],
    ),
];

/// The steps that may scan a table or sort, each with why it is not a cost on the load path.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "counts_by_kind",
        "SCAN target USING COVERING INDEX target_by_state",
        "counts every target record per kind and state, which is what it is for: the report, \
         verify, and the counters' seed once per open (progress is counted in memory after that)",
    ),
    (
        "source_counts",
        "SCAN source",
        "counts every staged record per kind: plan, the report, verify, and the counters' seed \
         once per open",
    ),
    (
        "failures_all",
        "SCAN target",
        "the console's error list and a retry of every kind's failures: an operator's action \
         between runs, never the load",
    ),
    (
        "failure_count_all",
        "SCAN target USING COVERING INDEX target_by_state",
        "counts the failures of every kind for the console and the manual checklist",
    ),
    (
        "failed_per_kind",
        "SCAN target USING COVERING INDEX target_by_state",
        "`run --retry-failed` without a kind, once before the run",
    ),
    (
        "reset_failed",
        "SCAN target USING INDEX target_by_state",
        "`run --retry-failed` without a kind, once before the run",
    ),
    (
        "source_problems",
        "SCAN source USING INDEX source_problems",
        "the partial index holds only the records with a problem",
    ),
    (
        "incomplete_counts",
        "SCAN source USING COVERING INDEX source_incomplete",
        "the partial index holds only the records extraction could not read whole",
    ),
    (
        "matched_counts",
        "SCAN target USING INDEX target_matched",
        "the partial index holds only the records matched to existing Kustomer records",
    ),
    (
        "sent_batches",
        "USE TEMP B-TREE FOR GROUP BY",
        "groups one kind's `sent` items by batch: sorts only those, once per resumed kind",
    ),
    (
        "sent_batches",
        "USE TEMP B-TREE FOR ORDER BY",
        "orders the batches found (not their items) by when they were sent",
    ),
    (
        "reasons",
        "USE TEMP B-TREE FOR GROUP BY",
        "groups one kind's records in one end state by reason, for the report",
    ),
    (
        "reasons",
        "USE TEMP B-TREE FOR ORDER BY",
        "orders the reasons found (not the records) by frequency",
    ),
];

fn is_scan_or_sort(step: &str) -> bool {
    step.starts_with("SCAN ") || step.contains("TEMP B-TREE")
}

#[tokio::test]
async fn every_ledger_query_is_planned_with_an_index_that_fits_it() {
    let state = TempState::new("every");
    let ledger = populated_ledger(&state).await;
    let reader = ledger.open_reader().unwrap();
    let values = bound_values();
    let catalog = sql::catalog();
    let names: Vec<&str> = catalog.iter().map(|q| q.name).collect();
    for name in values.keys() {
        assert!(names.contains(name), "{name} is no longer in the catalog");
    }
    let expected: BTreeMap<&str, &[&str]> = EXPECTED.iter().copied().collect();
    let mut problems = Vec::new();
    for query in &catalog {
        let bound = values
            .get(query.name)
            .unwrap_or_else(|| panic!("{}: the test has no values to bind for it", query.name));
        let plan = reader.explain_bound(&query.sql, bound).unwrap();
        if let Some(want) = expected.get(query.name)
            && plan != *want
        {
            problems.push(format!("{}: planned {plan:?}, want {want:?}", query.name));
        }
        for step in plan.iter().filter(|s| is_scan_or_sort(s)) {
            let allowed = ALLOWED
                .iter()
                .any(|(name, allowed, _)| *name == query.name && step == allowed);
            if !allowed {
                problems.push(format!("{}: {step} (plan {plan:?})", query.name));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for (name, _, reason) in ALLOWED {
        assert!(
            names.contains(name),
            "{name} is allowed but not in the catalog"
        );
        assert!(!reason.is_empty());
    }
}

#[tokio::test]
async fn a_conversation_reads_its_own_parts_in_order_from_a_ledger_of_many() {
    let state = TempState::new("children");
    let ledger = populated_ledger(&state).await;
    let parts = ledger
        .read(|r| r.children("conversation_parts", "cv000123"))
        .unwrap();
    let ids: Vec<String> = parts.into_iter().map(|p| p.source_id).collect();
    let want: Vec<String> = (0..PARTS_PER_CONVERSATION)
        .map(|p| format!("pt000123-{p:02}"))
        .collect();
    assert_eq!(ids, want);
    // The failed contacts of one kind come from the state index, in source-id order.
    let failures = ledger
        .read(|r| {
            r.failures(
                &i2k::ledger::FailureFilter {
                    kind: Some("contacts".to_string()),
                    ..Default::default()
                },
                0,
                1_000,
            )
        })
        .unwrap();
    let failed: Vec<String> = failures.iter().map(|f| f.source_id.clone()).collect();
    let mut sorted = failed.clone();
    sorted.sort();
    assert_eq!(failed, sorted);
    assert!(!failed.is_empty());
    let pending = ledger
        .read(|r| r.next_batch("contacts", &[RecordState::Pending], None, 10))
        .unwrap();
    assert!(pending.iter().all(|i| i.state == RecordState::Pending));
    // Files count their downloaded size, else Intercom's.
    let half = u64::from(CONVERSATIONS / 2);
    assert_eq!(
        ledger.read(|r| r.file_bytes("attachments")).unwrap(),
        (half * 1024 + half * 1000, half * 1024)
    );
}
