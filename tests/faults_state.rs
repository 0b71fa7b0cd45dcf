//! Faults I, as a new user meets them, through the real binary against both simulators:
//! a ledger that lost its id map (emptied, or its `target` table dropped) beside the files of an
//! earlier migration is refused, and nothing is created twice; `report` never overwrites a good
//! report from an emptier ledger; a conversation whose retrieval fails is not loaded in part,
//! is a difference in `verify`, and loads whole on the next run; failed records are retried
//! headlessly with `run --retry-failed`.

mod common;

use std::path::{Path, PathBuf};

use common::{i2k, state_dir, text};

use i2k::sim::SizePreset;
use serde_json::{Value, json};

const RUN: [&str; 5] = [
    "run",
    "--headless",
    "--accept-defaults",
    "--kustomer-rate",
    "600000",
];

/// Kustomer's record counts per type, from the simulator's ground truth.
async fn kustomer_counts(sims: &common::Sims) -> Value {
    common::truth(&sims.kustomer.url).await["counts"].clone()
}

/// `(migrated, matched)` per type, from the run's report.json.
fn report_rows(home: &Path) -> std::collections::BTreeMap<String, (u64, u64)> {
    let text = std::fs::read_to_string(state_dir(home).join("report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let n = |k: &str| r[k].as_u64().unwrap_or(0);
            (
                r["object"].as_str().unwrap().to_string(),
                (n("migrated"), n("matched")),
            )
        })
        .collect()
}

/// A first run of the tiny workspace, which must finish with every record done.
async fn migrated(name: &str) -> (common::Sims, PathBuf) {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state(name);
    let out = i2k(&sims, &home, &RUN).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    (sims, home)
}

/// The second run after the damage: refused with exit 2 and a message naming the problem and
/// `i2k restore`, having created nothing in Kustomer.
async fn assert_refused(sims: &common::Sims, home: &Path, before: &Value, says: &str) {
    let out = i2k(sims, home, &RUN).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(says), "{}", text(&out));
    assert!(stderr.contains("i2k restore"), "{}", text(&out));
    assert_eq!(&kustomer_counts(sims).await, before, "nothing was created");
    assert_eq!(
        common::truth(&sims.kustomer.url).await["duplicates"],
        json!({}),
        "no duplicates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_ledger_beside_an_earlier_migration_is_refused_and_its_report_kept() {
    let (sims, home) = migrated("faults-emptied").await;
    let state = state_dir(&home);
    let before = kustomer_counts(&sims).await;
    let report = std::fs::read_to_string(state.join("report.json")).unwrap();
    // The ledger's file truncated to nothing (its WAL gone with it).
    std::fs::File::create(state.join("ledger.db")).unwrap();
    for side in ["ledger.db-wal", "ledger.db-shm"] {
        let _ = std::fs::remove_file(state.join(side));
    }
    assert_refused(&sims, &home, &before, "is missing or empty").await;
    // `report` is refused too: the good report stays as it was.
    let out = i2k(&sims, &home, &["report"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(state.join("report.json")).unwrap(),
        report
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_whose_target_table_was_dropped_is_refused_as_damaged() {
    let (sims, home) = migrated("faults-dropped").await;
    let before = kustomer_counts(&sims).await;
    let conn = rusqlite::Connection::open(state_dir(&home).join("ledger.db")).unwrap();
    conn.execute_batch("DROP TABLE target;").unwrap();
    drop(conn);
    assert_refused(&sims, &home, &before, "its target table is missing").await;
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_not_overwritten_by_one_from_another_migration() {
    let (sims, home) = migrated("faults-foreign-report").await;
    let state = state_dir(&home);
    let report = std::fs::read_to_string(state.join("report.json")).unwrap();
    // Another migration's ledger put in this one's place (a new, empty one would be refused
    // before anything reads it: see above).
    let other = common::temp_state("faults-foreign-other");
    let out = i2k(&sims, &other, &["extract"]).await;
    assert!(out.status.code().is_some(), "{}", text(&out));
    for file in ["ledger.db", "ledger.db-wal", "ledger.db-shm"] {
        let _ = std::fs::remove_file(state.join(file));
        if state_dir(&other).join(file).exists() {
            std::fs::copy(state_dir(&other).join(file), state.join(file)).unwrap();
        }
    }
    let out = i2k(&sims, &home, &["report"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another migration"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(state.join("report.json")).unwrap(),
        report
    );
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&other);
}

/// A conversation of the tiny workspace with a few parts, found through Intercom's search.
async fn conversation_with_parts(sims: &common::Sims) -> (String, u64) {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/conversations/search", sims.intercom.url))
        .bearer_auth(&sims.intercom.token)
        .header("Intercom-Version", "2.16")
        .json(&json!({
            "query": {"field": "updated_at", "operator": ">", "value": 0},
            "pagination": {"per_page": 150}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|c| {
            let parts = c["statistics"]["count_conversation_parts"].as_u64()?;
            (3..=40)
                .contains(&parts)
                .then(|| (c["id"].as_str().unwrap().to_string(), parts))
        })
        .expect("a conversation with a few parts")
}

fn external_ids(records: &Value) -> Vec<String> {
    records["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["attributes"]["externalId"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_intercom_fails_to_return_is_not_loaded_in_part_and_loads_whole_next_run() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("faults-partial");
    let (id, parts) = conversation_with_parts(&sims).await;
    common::sim_fail(
        &sims.intercom.url,
        Some(json!({"path": format!("/conversations/{id}"), "method": "GET"})),
    )
    .await;

    // The first run cannot read it: it is left pending (exit 1), with nothing of it in Kustomer
    // and no truncation note claiming Intercom's cap hid its parts.
    let out = i2k(&sims, &home, &RUN).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let conversations = external_ids(&common::records(&sims.kustomer.url, "conversations").await);
    assert!(!conversations.contains(&id), "{id} was loaded in part");
    let notes = external_ids(&common::records(&sims.kustomer.url, "notes").await);
    assert!(
        !notes.iter().any(|n| n.starts_with(&format!("{id}-"))),
        "a note about {id} was written: {notes:?}"
    );
    // verify counts it as a difference, and says why.
    let out = i2k(&sims, &home, &["verify"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("could not be read whole"),
        "{}",
        text(&out)
    );
    // So does the report.
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(state_dir(&home).join("report.json")).unwrap(),
    )
    .unwrap();
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["object"] == "conversations")
        .unwrap();
    assert_eq!(row["incomplete"], 1, "{row:#}");
    assert_eq!(row["not_loaded"], 1, "{row:#}");

    // Intercom answers again: the next run (an incremental extraction, which would not list the
    // unchanged conversation) reads it again and loads it whole.
    common::sim_fail(&sims.intercom.url, None).await;
    let out = i2k(&sims, &home, &RUN).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let conversations = external_ids(&common::records(&sims.kustomer.url, "conversations").await);
    assert!(conversations.contains(&id), "{id} was not loaded");
    let out = i2k(&sims, &home, &["verify"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(truth["duplicates"], json!({}), "{truth:#}");
    assert!(parts >= 3);
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_records_are_retried_headlessly_by_type() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("faults-retry");
    // Kustomer refuses every shortcut create: the macros fail, the run goes on.
    common::sim_fail(
        &sims.kustomer.url,
        Some(json!({"path": "/v1/shortcuts", "method": "POST", "status": 400})),
    )
    .await;
    let out = i2k(&sims, &home, &RUN).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(kustomer_counts(&sims).await["shortcuts"], 0);
    let failed = |kind: &str| {
        let conn = rusqlite::Connection::open(state_dir(&home).join("ledger.db")).unwrap();
        conn.query_row(
            "SELECT count(*) FROM target WHERE kind = ?1 AND state = 'failed'",
            [kind],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
    };
    let failed_macros = failed("macros");
    assert!(failed_macros > 0);

    // A plain re-run does not send failed records again.
    common::sim_fail(&sims.kustomer.url, None).await;
    let out = i2k(&sims, &home, &RUN).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(kustomer_counts(&sims).await["shortcuts"], 0);

    // --retry-failed narrowed to another phase or class leaves them failed...
    for narrow in [
        ["--failed-phase", "companies"],
        ["--failed-class", "transient"],
    ] {
        let mut args = RUN.to_vec();
        args.push("--retry-failed");
        args.extend(narrow);
        let out = i2k(&sims, &home, &args).await;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert_eq!(kustomer_counts(&sims).await["shortcuts"], 0);
        assert_eq!(failed("macros"), failed_macros);
    }

    // ...and narrowed to their type sends them again: the run ends with every record done.
    let mut args = RUN.to_vec();
    args.extend(["--retry-failed", "--failed-type", "macros"]);
    let out = i2k(&sims, &home, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let counts = kustomer_counts(&sims).await;
    assert_eq!(
        counts["shortcuts"].as_i64(),
        Some(failed_macros),
        "{counts:#}"
    );
    assert_eq!(failed("macros"), 0);
    let out = i2k(&sims, &home, &["verify"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(truth["duplicates"], json!({}), "{truth:#}");
    // The ledger records the retry run as such.
    let conn = rusqlite::Connection::open(state_dir(&home).join("ledger.db")).unwrap();
    let retries: i64 = conn
        .query_row(
            "SELECT count(*) FROM runs WHERE command = 'retry'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(retries, 3);
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_ledger_adopts_what_an_earlier_migration_created_instead_of_creating_it_again() {
    let (sims, home) = migrated("faults-adopt").await;
    let before = kustomer_counts(&sims).await;
    // The first migration created its records and matched the admins to existing users.
    let first = report_rows(&home);
    assert!(
        first["contacts"].0 > 0 && first["contacts"].1 == 0,
        "{first:?}"
    );
    assert!(
        first["companies"].0 > 0 && first["companies"].1 == 0,
        "{first:?}"
    );
    assert_eq!(first["admins"].1, first["admins"].0, "{first:?}");
    // Final states are updates of conversations i2k created: nothing matched there.
    assert!(first["conversation_states"].0 > 0, "{first:?}");
    assert_eq!(first["conversation_states"].1, 0, "{first:?}");
    // The whole state directory is lost: no ledger, no report, no files to tell.
    std::fs::remove_dir_all(state_dir(&home)).unwrap();
    let out = i2k(&sims, &home, &RUN).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let log =
        std::fs::read_to_string(state_dir(&home).join("logs").join("i2k.log")).unwrap_or_default();
    assert!(
        log.contains("At risk") && log.contains("data_events"),
        "the kinds without a lookup are named before the run"
    );
    let after = kustomer_counts(&sims).await;
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(truth["duplicates"], json!({}), "{truth:#}");
    // This migration found them: matched, not created (a rollback of it would leave them).
    let second = report_rows(&home);
    for kind in ["contacts", "companies", "conversations"] {
        assert!(second[kind].0 > 0, "{kind}: {second:?}");
        assert_eq!(second[kind].1, second[kind].0, "{kind}: {second:?}");
    }
    let report = std::fs::read_to_string(state_dir(&home).join("report.md")).unwrap();
    assert!(
        report.contains("Migrated by matching a Kustomer record that already existed"),
        "{report}"
    );
    // Everything with an externalId route was adopted, not created again. Uploads and tracking
    // events carry no externalId and Kustomer cannot look them up: the new run sends them again,
    // as the warning before it said; nothing else differs.
    for (kind, n) in before.as_object().unwrap() {
        if kind == "attachments" || kind == "tracking_events" {
            assert!(after[kind].as_u64() > n.as_u64(), "{kind}");
            continue;
        }
        assert_eq!(&after[kind], n, "{kind}: {after:#}");
    }
    let _ = std::fs::remove_dir_all(&home);
}

/// A run of a tiny workspace whose first `times` `POST path` requests land in Kustomer but are
/// answered with no JSON at all; it ends 0 with nothing duplicated. Returns the simulators, the
/// state directory, Kustomer's ground truth and a count of the ledger (`SELECT count(*) …`).
async fn run_with_lost_answers(
    name: &str,
    path: &str,
    times: u32,
    args: &[&str],
) -> (common::Sims, PathBuf, Value, impl Fn(&str) -> i64) {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state(name);
    common::sim_fail(
        &sims.kustomer.url,
        Some(json!({"path": path, "method": "POST", "garble": true, "times": times})),
    )
    .await;
    let out = i2k(&sims, &home, args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(truth["duplicates"], json!({}), "{truth:#}");
    let db = rusqlite::Connection::open(state_dir(&home).join("ledger.db")).unwrap();
    let count = move |sql: &str| db.query_row(sql, [], |r| r.get(0)).unwrap();
    (sims, home, truth, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_answer_was_lost_is_sent_again_and_its_message_holds_one_file() {
    // The first upload lands in Kustomer, but its answer comes back as no JSON at all.
    let (sims, home, truth, count) =
        run_with_lost_answers("faults-upload", "/v1/attachments", 1, &RUN).await;
    // Kustomer offers no way to find an upload whose id never arrived: it was sent again. The
    // lost one never received its file (the answer carried the upload form), so Kustomer holds
    // no second copy of any file: as many files as distinct uploads.
    let uploads = count(
        "SELECT count(DISTINCT target_id) FROM target
         WHERE kind IN ('attachment_uploads', 'inline_image_uploads') AND state = 'done'",
    );
    let failed = count("SELECT count(*) FROM target WHERE state IN ('failed', 'unknown')");
    assert_eq!(failed, 0, "no upload failed for its lost answer");
    assert_eq!(
        truth["counts"]["attachments"].as_i64(),
        Some(uploads),
        "{truth:#}"
    );
    // ...though one upload more was asked for: the lost one.
    assert_eq!(
        truth["requests"]["POST /v1/attachments"]["count"].as_i64(),
        Some(uploads + 1),
        "{:#}",
        truth["requests"]
    );
    let out = i2k(&sims, &home, &["verify"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&home);
}

/// A messages bulk request lands in Kustomer but its answer is lost. After the bulk patience the
/// items are found again, each conversation the batch touched listed once where it holds several
/// of them: fewer requests than one lookup a message, and every message exists once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_messages_batch_is_found_again_by_listing_its_conversations() {
    // The first batch opens each conversation (one message a conversation); the second holds
    // their parts, several a conversation.
    let run = ["run", "--headless", "--accept-defaults", "--no-verify"];
    let args = [&run[..], &RUN[3..]].concat();
    let (_sims, home, truth, count) =
        run_with_lost_answers("faults-messages", "/v1/messages/bulk", 2, &args).await;
    assert_eq!(
        count("SELECT count(*) FROM target WHERE state IN ('failed', 'unknown', 'sent')"),
        0
    );
    // The lost batches' items: sent in a batch whose job id never arrived, found, done.
    let lost = count(
        "SELECT count(*) FROM target WHERE kind IN ('conversation_parts', 'conversation_sources')
         AND state = 'done' AND batch_id IS NOT NULL AND job_id IS NULL",
    );
    assert!(lost >= 10, "the lost batches held {lost} messages");
    let requests = |route: &str| truth["requests"][route]["count"].as_i64().unwrap_or(0);
    let lookups = requests("GET /v1/messages/{lookup}");
    let listings = requests("GET /v1/conversations/{id}/messages");
    // One lookup a lost message would be `lost` lookups at least (a fresh ledger also samples a
    // few of each kind by externalId before creating it).
    eprintln!("{lost} lost messages: {lookups} lookups, {listings} listings");
    assert!(listings > 0, "{:#}", truth["requests"]);
    assert!(
        lookups + listings < lost,
        "{lookups} lookups and {listings} listings for {lost} lost messages"
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_hangs_on_a_refused_conversation_fails_with_it_and_is_retried_with_it() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("faults-dependants");
    common::sim_fail(
        &sims.kustomer.url,
        Some(json!({"path": "/v1/conversations/bulk", "method": "POST", "status": 400})),
    )
    .await;
    let out = i2k(&sims, &home, &RUN).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let db = state_dir(&home).join("ledger.db");
    let states = |kind: &str| -> Vec<(String, i64)> {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.prepare("SELECT state, count(*) FROM target WHERE kind = ?1 GROUP BY state")
            .unwrap()
            .query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    // The opening messages and parts are failed with their conversation's reason, not left
    // pending for a run that cannot load them.
    for kind in ["conversation_sources", "conversation_parts"] {
        let s = states(kind);
        assert!(
            s.iter().all(|(state, _)| state == "failed"),
            "{kind}: {s:?}"
        );
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let reason: String = conn
        .query_row(
            "SELECT error_message FROM target WHERE kind = 'conversation_sources' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(reason.contains("was not loaded"), "{reason}");
    drop(conn);

    // Retrying the conversations retries what hangs on them: they load whole.
    common::sim_fail(&sims.kustomer.url, None).await;
    let mut args = RUN.to_vec();
    args.extend(["--retry-failed", "--failed-type", "conversations"]);
    let out = i2k(&sims, &home, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = i2k(&sims, &home, &["verify"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(truth["duplicates"], json!({}), "{truth:#}");
    let _ = std::fs::remove_dir_all(&home);
}
