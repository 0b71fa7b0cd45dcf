//! `i2k verify` against the Kustomer simulator: after companies and customers were loaded, and
//! after a whole run of every type. It agrees (exit 0) when Kustomer holds what the ledger
//! expects, and differs (exit 1) when a record is missing, deleted or recorded under an id
//! Kustomer does not have, or when a sampled conversation's messages differ.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::people::setup;
use i2k::engine::context::Ctx;
use i2k::engine::load::{companies, customers};
use i2k::ledger::{Ledger, SourceRecord};
use i2k::sim::SizePreset;
use serde_json::json;

/// The people types only, so a full verify covers exactly what the two phases load.
const PEOPLE_KINDS: [&str; 5] = [
    "companies",
    "contacts",
    "tags",
    "contact_tags",
    "contact_companies",
];

/// Runs `i2k verify --json` on a state directory; returns the exit code and the report.
fn run_verify(kustomer_url: &str, token: &str, dir: &std::path::Path) -> (i32, serde_json::Value) {
    let (code, report, _) = run_verify_with(kustomer_url, token, dir, &[]);
    (code, report)
}

/// `i2k verify --json` with more arguments; also returns what it said on stderr.
fn run_verify_with(
    kustomer_url: &str,
    token: &str,
    dir: &std::path::Path,
    extra: &[&str],
) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_i2k"))
        .args([
            "verify",
            "--json",
            "--kustomer-url",
            kustomer_url,
            "--state",
        ])
        .arg(dir)
        .args(extra)
        .env("KUSTOMER_API_KEY", token)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(json!(null));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.code().unwrap_or(-1), report, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_agrees_after_a_run_and_differs_when_a_record_is_missing() {
    let s = setup(SizePreset::Tiny, "", 21).await;
    // A ledger holding only the people types, loaded by the two phases.
    let dir = common::temp_state("verify");
    {
        let ledger = Ledger::open(&dir).unwrap();
        for kind in PEOPLE_KINDS {
            let records = s
                .ctx
                .ledger
                .read(|r| r.sources_page(kind, None, 100_000))
                .unwrap();
            ledger.put_sources(records).await.unwrap();
        }
        let (events, _) = tokio::sync::mpsc::unbounded_channel();
        let ctx = Arc::new(Ctx::new(
            s.ctx.config.clone(),
            ledger,
            s.ctx.intercom.clone(),
            s.ctx.kustomer.clone(),
            events,
        ));
        ctx.mark_extracted(&i2k::engine::model::OBJECT_TYPES);
        companies::run(&ctx).await.unwrap();
        customers::run(&ctx).await.unwrap();
        ctx.ledger.flush().await.unwrap();
    }

    let (code, report) = run_verify(&s.kustomer.url, &s.kustomer.token, &dir);
    assert_eq!(code, 0, "{report:#}");
    let contacts = report["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["object"] == "contacts")
        .unwrap()
        .clone();
    assert_eq!(contacts["target"], contacts["source"]);
    assert_eq!(contacts["agrees"], json!(true));

    // A contact Kustomer never received: the count is one short and verify exits 1.
    {
        let ledger = Ledger::open(&dir).unwrap();
        ledger
            .put_sources(vec![SourceRecord {
                kind: "contacts".into(),
                source_id: "zz-missing".into(),
                parent_id: None,
                updated_at: Some(1_700_000_000),
                raw: json!({"type": "contact", "id": "zz-missing", "role": "lead"}).to_string(),
                problem: None,
            }])
            .await
            .unwrap();
    }
    let (code, report) = run_verify(&s.kustomer.url, &s.kustomer.token, &dir);
    assert_eq!(code, 1, "{report:#}");
    let after = report["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["object"] == "contacts")
        .unwrap();
    assert_eq!(after["agrees"], json!(false));
    assert_eq!(
        after["source"].as_u64().unwrap(),
        contacts["source"].as_u64().unwrap() + 1
    );
    assert_eq!(after["target"], contacts["target"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A finished run of the whole tiny workspace; the ledger once the engine let go of it.
async fn full_run(sims: &common::Sims, dir: &std::path::Path) -> Ledger {
    run_only(sims, dir, &[]).await
}

/// A finished run limited to `only` (empty: everything); the ledger once the engine let go of it.
async fn run_only(sims: &common::Sims, dir: &std::path::Path, only: &[&str]) -> Ledger {
    let mut config = common::engine_config(sims, dir.to_path_buf());
    config.only = only.iter().map(|t| t.to_string()).collect();
    let handle = i2k::engine::runner::start(config).await.unwrap();
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(120), handle.wait())
        .await
        .expect("the run finishes")
        .unwrap();
    assert!(
        matches!(outcome, i2k::engine::handle::RunOutcome::Completed(_)),
        "{outcome:?}"
    );
    for _ in 0..100 {
        if let Ok(ledger) = Ledger::open(dir) {
            return ledger;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ledger::open(dir).unwrap()
}

fn kustomer_client(sims: &common::Sims) -> i2k::kustomer::KustomerClient {
    i2k::kustomer::KustomerClient::connect(
        &sims.kustomer.url,
        i2k::http::Secret::new(sims.kustomer.token.clone()),
        sims.kustomer_rate,
        0.8,
    )
    .unwrap()
}

fn row<'a>(report: &'a serde_json::Value, object: &str) -> &'a serde_json::Value {
    report["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["object"] == object)
        .unwrap_or_else(|| panic!("no {object} row in {report:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_counts_every_type_through_kustomer_and_differs_when_records_go_missing() {
    use i2k::engine::verify::{NOT_LISTABLE, verify};

    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("verify-full");
    let ledger = full_run(&sims, &dir).await;
    let truth = common::truth(&sims.intercom.url).await;
    let kustomer = kustomer_client(&sims);

    let v = verify(&ledger, &kustomer).await.unwrap();
    for object in i2k::engine::model::OBJECT_TYPES {
        let want = truth["counts"][object].as_u64().unwrap();
        let t = v
            .type_row(object)
            .unwrap_or_else(|| panic!("{object} not verified"));
        assert!(t.agrees, "{t:?} counted by {:?}", v.counted_by.get(object));
        if object == "data_events" {
            // Tracking events: Kustomer has no route that lists them; said so, not hidden.
            assert_eq!(t.target, None);
            assert_eq!(v.counted_by[object], NOT_LISTABLE);
        } else {
            assert!(t.target.is_some(), "{object} must be counted in Kustomer");
            assert!(!v.counted_by[object].contains("NOT LISTABLE"));
        }
        if object != "attachments" {
            // The source side is Intercom's whole population (attachments also hold inline images).
            assert_eq!(t.source, want, "{object}");
        }
    }
    assert!(v.agrees(), "{v:#?}");
    let conversation_samples: Vec<_> = v
        .samples
        .iter()
        .filter(|s| s.object == "conversations")
        .collect();
    assert_eq!(conversation_samples.len(), i2k::engine::verify::SAMPLE_SIZE);
    assert!(v.samples.iter().any(|s| s.object == "contacts"));
    assert!(v.samples.iter().any(|s| s.object == "companies"));

    // The binary agrees too (the ledger must be released: verify takes the state lock).
    let sample = conversation_samples[0].clone();
    let article_target = ledger.target_id("articles", "3000").unwrap();
    drop(ledger);
    let (code, report) = run_verify(&sims.kustomer.url, &sims.kustomer.token, &dir);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["types"].as_array().unwrap().len(),
        i2k::engine::model::OBJECT_TYPES.len()
    );
    let articles_before = row(&report, "articles")["target"].as_u64().unwrap();
    let translations_before = row(&report, "article_translations")["target"]
        .as_u64()
        .unwrap();

    // An article deleted in Kustomer (soft delete: the simulator has no DELETE route): the
    // article, its revisions and its translations are no longer there, and verify exits 1.
    let http = reqwest::Client::new();
    let article = article_target.expect("article 3000 was migrated");
    let res = http
        .put(format!("{}/v1/kb/articles/{article}", sims.kustomer.url))
        .bearer_auth(&sims.kustomer.token)
        .json(&json!({"deleted": true}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    // A message added to a sampled conversation: its field-by-field comparison differs.
    let conversation = sample.target_id.clone().unwrap();
    let res = http
        .post(format!(
            "{}/v1/conversations/{conversation}/messages",
            sims.kustomer.url
        ))
        .bearer_auth(&sims.kustomer.token)
        .json(&json!({"preview": "added after the migration", "direction": "in", "channel": "email", "app": "postmark"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());

    let (code, report) = run_verify(&sims.kustomer.url, &sims.kustomer.token, &dir);
    assert_eq!(code, 1, "{report:#}");
    let articles = row(&report, "articles");
    assert_eq!(articles["agrees"], json!(false));
    assert_eq!(articles["target"].as_u64().unwrap(), articles_before - 1);
    let translations = row(&report, "article_translations");
    assert!(translations["target"].as_u64().unwrap() < translations_before);
    assert_eq!(row(&report, "contacts")["agrees"], json!(true));
    let differing: Vec<_> = report["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["source_id"] == sample.source_id.as_str())
        .collect();
    assert_eq!(differing.len(), 1);
    let mismatches = differing[0]["mismatches"].as_array().unwrap();
    assert!(
        mismatches
            .iter()
            .any(|m| m.as_str().unwrap().starts_with("message count")),
        "{mismatches:?}"
    );

    // A team the ledger says is done under an id Kustomer does not have: one short.
    let ledger = Ledger::open(&dir).unwrap();
    let team = ledger
        .read(|r| r.next_batch("teams", &[i2k::ledger::RecordState::Done], None, 1))
        .unwrap()
        .remove(0);
    ledger
        .mark_done("teams", &team.source_id, "000000000000000000000bad")
        .unwrap();
    ledger.flush().await.unwrap();
    let v = verify(&ledger, &kustomer).await.unwrap();
    let teams = v.type_row("teams").unwrap();
    assert!(!teams.agrees, "{teams:?}");
    assert_eq!(teams.target, Some(teams.migrated - 1));
    assert!(!v.agrees());
    drop(ledger);
    let _ = std::fs::remove_dir_all(&dir);
}

fn listed(report: &serde_json::Value, field: &str) -> Vec<String> {
    report[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} in {report:#}"))
        .iter()
        .map(|t| t["object"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_judges_only_the_scope_of_the_last_run_or_of_its_own_only() {
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("verify-scope");
    drop(run_only(&sims, &dir, &["contacts", "conversations"]).await);

    // By default the last run's scope: what contacts and conversations depend on is judged, the
    // rest of the (fully extracted) workspace is shown as not in scope and agrees with nothing.
    let (code, report, stderr) =
        run_verify_with(&sims.kustomer.url, &sims.kustomer.token, &dir, &[]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["scope"], json!(["contacts", "conversations"]));
    let judged = listed(&report, "types");
    for object in [
        "contacts",
        "conversations",
        "conversation_parts",
        "companies",
        "admins",
    ] {
        assert!(
            judged.iter().any(|t| t == object),
            "{object} judged: {judged:?}"
        );
    }
    let out_of_scope = listed(&report, "not_in_scope");
    for object in [
        "segments",
        "contact_notes",
        "articles",
        "tickets",
        "macros",
        "data_events",
    ] {
        assert!(
            out_of_scope.iter().any(|t| t == object),
            "{object} not in scope: {out_of_scope:?}"
        );
        assert!(!judged.iter().any(|t| t == object), "{object} judged");
        assert_eq!(report["counted_by"][object], "not in scope");
    }
    assert_eq!(
        judged.len() + out_of_scope.len(),
        i2k::engine::model::OBJECT_TYPES.len()
    );

    // --only names another scope: the KB was never loaded, so it differs; contacts are left out.
    let (code, report, stderr) = run_verify_with(
        &sims.kustomer.url,
        &sims.kustomer.token,
        &dir,
        &["--only", "articles"],
    );
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    assert_eq!(row(&report, "articles")["agrees"], json!(false));
    assert!(listed(&report, "not_in_scope").contains(&"contacts".to_string()));

    // A type that does not exist is refused, naming it.
    let (code, _, stderr) = run_verify_with(
        &sims.kustomer.url,
        &sims.kustomer.token,
        &dir,
        &["--only", "widgets"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("widgets"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Tracking events whose answers were lost (a 502: the server may or may not have recorded them,
/// and Kustomer has no route to look them up) are of unknown outcome: verify counts them per type
/// and says when they are the whole difference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_unknown_outcome_are_counted_and_named_as_the_difference() {
    let sims = common::sims(SizePreset::Tiny).await;
    common::sim_fail(
        &sims.kustomer.url,
        Some(json!({
            "path": "/v1/tracking/identityEvent", "method": "POST", "times": 2, "status": 502,
        })),
    )
    .await;
    let dir = common::temp_state("verify-unknown");
    drop(full_run(&sims, &dir).await);
    let (code, report) = run_verify(&sims.kustomer.url, &sims.kustomer.token, &dir);
    assert_eq!(code, 1, "{report}");
    let events = row(&report, "data_events");
    assert_eq!(events["unknown"], json!(2), "{events}");
    assert_eq!(events["agrees"], json!(false), "{events}");

    let out = Command::new(env!("CARGO_BIN_EXE_i2k"))
        .args(["verify", "--kustomer-url", &sims.kustomer.url, "--state"])
        .arg(&dir)
        .env("KUSTOMER_API_KEY", &sims.kustomer.token)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "data_events: 2 record(s) of unknown outcome (sent, the answer was lost, and Kustomer has no route to look them up)"
        ) && text.contains("they are the whole difference"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
