//! `i2k report --state DIR` after a real run of the tiny workspace: it rewrites `report.md` and
//! `report.json` from the ledger alone (no tokens, no network), every Intercom type has a row, each
//! row's figures sum to its source count, and the source counts are Intercom's own.

mod common;

use std::process::Command;
use std::time::Duration;

use i2k::engine::handle::RunOutcome;
use i2k::engine::model::OBJECT_TYPES;
use i2k::engine::report::{REPORT_JSON, REPORT_MD};
use i2k::ledger::Ledger;
use i2k::sim::SizePreset;
use serde_json::Value;

const FIGURES: [&str; 8] = [
    "migrated",
    "skipped",
    "failed",
    "unknown",
    "archived",
    "manual",
    "not_retrievable",
    "not_loaded",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_rewrites_markdown_and_json_from_the_ledger_with_rows_summing_to_intercom_counts() {
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("report");
    let handle = i2k::engine::runner::start(common::engine_config(&sims, dir.clone()))
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), handle.wait())
        .await
        .expect("the run finishes")
        .unwrap();
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");
    let truth = common::truth(&sims.intercom.url).await;
    // The engine releases the state directory once its last task ends.
    let mut released = false;
    for _ in 0..100 {
        if Ledger::open(&dir).is_ok() {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(released, "the engine releases the state directory");

    // Removed first, so what is checked below is what `i2k report` wrote.
    std::fs::remove_file(dir.join(REPORT_MD)).unwrap();
    std::fs::remove_file(dir.join(REPORT_JSON)).unwrap();
    // No tokens and unroutable endpoints: the report must come from the ledger alone.
    let out = Command::new(env!("CARGO_BIN_EXE_i2k"))
        .args([
            "report",
            "--intercom-url",
            "http://127.0.0.1:9",
            "--kustomer-url",
            "http://127.0.0.1:9",
            "--state",
        ])
        .arg(&dir)
        .env_remove("INTERCOM_TOKEN")
        .env_remove("KUSTOMER_API_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(REPORT_JSON)).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    let intercom_rows = rows.iter().filter(|r| r["intercom"] == true).count();
    assert_eq!(intercom_rows, OBJECT_TYPES.len());
    // The kinds the engine writes for them are accounted for too, each summing to its records.
    for kind in [
        "conversation_sources",
        "conversation_states",
        "timeline_notes",
    ] {
        let row = rows
            .iter()
            .find(|r| r["object"] == kind && r["intercom"] == false)
            .unwrap_or_else(|| panic!("no {kind} row in {json:#}"));
        let sum: u64 = FIGURES.iter().map(|k| row[k].as_u64().unwrap()).sum();
        assert_eq!(sum, row["source"].as_u64().unwrap(), "{row:#}");
        assert!(sum > 0, "{row:#}");
    }
    assert_eq!(
        json["migration_id"].as_str().map(str::len),
        Some(32),
        "the report names its migration"
    );
    for object in OBJECT_TYPES {
        let row = rows
            .iter()
            .find(|r| r["object"] == object)
            .unwrap_or_else(|| panic!("no {object} row"));
        let figure = |k: &str| row[k].as_u64().unwrap_or_else(|| panic!("{object} {k}"));
        let sum: u64 = FIGURES.iter().map(|k| figure(k)).sum();
        assert_eq!(sum, figure("source"), "{row:#}");
        // ...and to what extraction staged plus what Intercom's API could not return.
        assert_eq!(
            figure("source"),
            figure("extracted") + figure("not_retrievable"),
            "{row:#}"
        );
        // Inline images are uploaded under their own kind: every type's source is Intercom's count.
        let intercom = truth["counts"][object].as_u64().unwrap();
        assert_eq!(figure("source"), intercom, "{object}: {row:#}");
        // A finished run leaves nothing unloaded.
        assert_eq!(figure("not_loaded"), 0, "{row:#}");
        for (figure_name, reasons) in [
            ("skipped", "skipped_reasons"),
            ("failed", "failed_reasons"),
            ("archived", "archived_reasons"),
        ] {
            let with_reason: u64 = row[reasons]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r[1].as_u64().unwrap())
                .sum();
            assert_eq!(with_reason, figure(figure_name), "{row:#}");
        }
    }
    assert!(json["duration_secs"].as_f64().unwrap() > 0.0);
    assert!(json["kustomer_requests"].as_u64().unwrap() > 0);
    assert!(json["records_per_sec"].as_f64().unwrap() > 0.0);

    // The Markdown holds the same rows, and it is what the command printed.
    let md = std::fs::read_to_string(dir.join(REPORT_MD)).unwrap();
    assert_eq!(md.trim(), stdout.trim());
    let records = md
        .split("## Intercom records")
        .nth(1)
        .unwrap_or_else(|| panic!("no records table in\n{md}"));
    for object in OBJECT_TYPES {
        let line = records
            .lines()
            .find(|l| l.starts_with(&format!("| {object} |")))
            .unwrap_or_else(|| panic!("no {object} line in\n{md}"));
        // Counts carry thousands separators.
        let cells: Vec<u64> = line
            .split('|')
            .map(|c| c.trim().replace(',', ""))
            .filter_map(|c| c.parse().ok())
            .collect();
        assert_eq!(cells.len(), 1 + FIGURES.len(), "{line}");
        assert_eq!(cells[1..].iter().sum::<u64>(), cells[0], "{line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
