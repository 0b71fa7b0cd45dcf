//! `i2k verify` against the Kustomer simulator after companies and customers were loaded: it
//! agrees (exit 0) when Kustomer holds what the ledger expects, and differs (exit 1) when a record
//! is missing.

mod people;

use std::process::Command;
use std::sync::Arc;

use i2k::engine::context::Ctx;
use i2k::engine::load::{companies, customers};
use i2k::ledger::{Ledger, SourceRecord};
use i2k::sim::SizePreset;
use people::{fresh_dir, setup};
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
    let out = Command::new(env!("CARGO_BIN_EXE_i2k"))
        .args([
            "verify",
            "--json",
            "--kustomer-url",
            kustomer_url,
            "--state",
        ])
        .arg(dir)
        .env("KUSTOMER_API_KEY", token)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(json!(null));
    (out.status.code().unwrap_or(-1), report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_agrees_after_a_run_and_differs_when_a_record_is_missing() {
    let s = setup(SizePreset::Tiny, "", 21).await;
    // A ledger holding only the people types, loaded by the two phases.
    let dir = fresh_dir("verify");
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
