//! The kind catalog proves itself on a kind added by one row and its mapping: Intercom's admin
//! activity logs (`GET /admins/activity_logs`, API 2.16). The real engine runs against both
//! simulators over loopback HTTP; every log the Intercom simulator holds must reach
//! `<state>/archive/activity_logs.jsonl` as extracted, be reported archived, and none reach
//! Kustomer (it has no audit log to import into).

mod common;

use std::collections::BTreeMap;

use i2k::engine::archive::ARCHIVE_DIR;
use i2k::engine::handle::RunOutcome;
use i2k::engine::report::{REPORT_JSON, Report};
use i2k::sim::SizePreset;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_activity_log_the_workspace_holds_reaches_the_archive() {
    let sims = common::sims(SizePreset::Tiny).await;
    let state = common::temp_state("activity-logs");
    let outcome = common::run_engine(common::engine_config(&sims, state.clone())).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");

    let truth: Value = reqwest::get(format!("{}/__sim/truth/activity_logs", sims.intercom.url))
        .await
        .expect("truth route answers")
        .json()
        .await
        .expect("truth is JSON");
    let logs = truth["activity_logs"].as_array().expect("a list of logs");
    assert!(
        logs.len() > 20,
        "the listing must page: {} logs",
        logs.len()
    );

    let path = state.join(ARCHIVE_DIR).join("activity_logs.jsonl");
    let text = std::fs::read_to_string(&path).expect("the archive file is written");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let archived: BTreeMap<&str, &Value> = lines
        .iter()
        .map(|l| (l["id"].as_str().expect("an id"), &l["record"]))
        .collect();
    assert_eq!(archived.len(), lines.len(), "a log archived twice");
    assert_eq!(archived.len(), logs.len());
    for log in logs {
        let id = log["id"].as_str().expect("a log id");
        assert_eq!(archived.get(id), Some(&log), "log {id}");
    }
    for line in &lines {
        let reason = line["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("admin activity log ("), "{reason}");
    }

    let report: Report = serde_json::from_str(
        &std::fs::read_to_string(state.join(REPORT_JSON)).expect("report.json written"),
    )
    .expect("report.json parses");
    let row = report.row("activity_logs").expect("a report row");
    assert_eq!(row.source, logs.len() as u64);
    assert_eq!(row.archived, logs.len() as u64);
    assert_eq!(row.accounted(), row.source);
}
