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

/// A ledger holding a full run, a plain run after it and a delta run with its changes, written
/// through the ledger's own API (no simulator): the report counts the delta's changes by type
/// and kind of change in `report.json`, and `report.md` and `report.html` give the delta its
/// section — the table, each conflict with the agent's value, the records deleted in Intercom
/// still in Kustomer and how to delete them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_run_is_reported_by_type_and_kind_of_change_with_its_conflicts_and_removals() {
    use i2k::ledger::{Change, ChangeKind};
    use serde_json::json;

    let dir = common::temp_state("report-delta");
    let ledger = Ledger::open(&dir).unwrap();
    let full = ledger.start_run("run").await.unwrap();
    ledger
        .finish_run(full, "completed", &json!({"created": {"contacts": 40}}))
        .await
        .unwrap();
    let repeat = ledger.start_run("run").await.unwrap();
    ledger
        .record_changes(vec![Change {
            kind: "contacts".into(),
            source_id: "c-catch-up".into(),
            change: ChangeKind::Updated,
            detail: "name".into(),
        }])
        .await
        .unwrap();
    ledger
        .finish_run(repeat, "completed", &json!({"created": {"contacts": 1}}))
        .await
        .unwrap();
    let delta = ledger.start_run("delta").await.unwrap();
    let change = |kind: &str, id: &str, change, detail: &str| Change {
        kind: kind.into(),
        source_id: id.into(),
        change,
        detail: detail.into(),
    };
    let mut changes = vec![
        change(
            "contacts",
            "c1",
            ChangeKind::Updated,
            "custom.planStr, name",
        ),
        change("contacts", "c2", ChangeKind::Updated, "phones"),
        change(
            "contacts",
            "c3",
            ChangeKind::Conflict,
            r#"name: i2k wrote "Ann", Kustomer has "Renamed By Agent" (kept), Intercom now "Ann B""#,
        ),
        change("contacts", "c9", ChangeKind::Removed, "deleted in Intercom"),
        change("companies", "co1", ChangeKind::Updated, "name"),
        change("conversations", "v1", ChangeKind::Closed, "state"),
        change("conversations", "v2", ChangeKind::Reopened, "state"),
        change("conversations", "v3", ChangeKind::Snoozed, "state"),
        change("conversations", "v4", ChangeKind::Reassigned, "assignee"),
        change(
            "conversations",
            "v5",
            ChangeKind::Removed,
            "deleted in Intercom",
        ),
        change(
            "conversations",
            "v6",
            ChangeKind::Removed,
            "deleted in Intercom",
        ),
        change(
            "conversations",
            "v6",
            ChangeKind::Deleted,
            "deleted in Kustomer",
        ),
    ];
    // More conflicts than the report lists: the rest are counted.
    for i in 0..205 {
        changes.push(change(
            "companies",
            &format!("co-{i:03}"),
            ChangeKind::Conflict,
            &format!(r#"name: i2k wrote "Co {i}", Kustomer has "Agent Co {i}" (kept), Intercom now "New Co {i}""#),
        ));
    }
    ledger.record_changes(changes).await.unwrap();
    ledger
        .finish_run(
            delta,
            "completed",
            &json!({"created": {"contacts": 2, "conversation_parts": 3}}),
        )
        .await
        .unwrap();
    ledger.flush().await.unwrap();

    let (report, _) = i2k::engine::report::rewrite(&ledger, &dir, &[]).unwrap();
    let kinds: Vec<&str> = report.runs.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["full", "repeat", "delta"]);

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(REPORT_JSON)).unwrap()).unwrap();
    let runs = json["runs"].as_array().unwrap();
    // A full run's creations are its rows' figures, not changes; a repeat's catch-up counts.
    assert_eq!(runs[0]["changes"], json!({}));
    assert_eq!(runs[1]["changes"], json!({"contacts": {"updated": 1}}));
    let changed = &runs[2]["changes"];
    assert_eq!(
        changed["contacts"],
        json!({"created": 2, "updated": 2, "conflict": 1, "removed": 1}),
        "{changed}"
    );
    assert_eq!(changed["conversation_parts"], json!({"created": 3}));
    assert_eq!(changed["companies"]["updated"], 1);
    assert_eq!(changed["companies"]["conflict"], 205);
    for (change, n) in [
        ("closed", 1),
        ("reopened", 1),
        ("snoozed", 1),
        ("reassigned", 1),
        ("removed", 2),
        ("deleted", 1),
    ] {
        assert_eq!(changed["conversations"][change], n, "{change}: {changed}");
    }
    // The conflicts are listed up to the cap of each kind (the companies' many leave the
    // customer's in); the records removed and not deleted, each once.
    let conflicts = runs[2]["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), i2k::engine::report::CHANGES_LISTED + 1);
    assert!(conflicts.iter().any(|c| c["id"] == "c3"), "{conflicts:?}");
    assert_eq!(json["removed_kept_total"], 2);
    let kept: Vec<(&str, &str)> = json["removed_kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["id"].as_str().unwrap()))
        .collect();
    assert_eq!(kept, [("contacts", "c9"), ("conversations", "v5")]);

    let md = std::fs::read_to_string(dir.join(REPORT_MD)).unwrap();
    let section = md
        .split("### Run #3 was a delta")
        .nth(1)
        .unwrap_or_else(|| panic!("no delta section in\n{md}"));
    let row = |kind: &str| {
        section
            .lines()
            .find(|l| l.starts_with(&format!("| {kind} |")))
            .unwrap_or_else(|| panic!("no {kind} row in\n{section}"))
            .to_string()
    };
    // type | created | updated | closed | reopened | snoozed | reassigned | retagged | conflict | removed | deleted
    assert_eq!(
        row("contacts"),
        "| contacts | 2 | 2 | 0 | 0 | 0 | 0 | 0 | 1 | 1 | 0 |"
    );
    assert_eq!(
        row("conversations"),
        "| conversations | 0 | 0 | 1 | 1 | 1 | 1 | 0 | 0 | 2 | 1 |"
    );
    assert!(section.contains("Renamed By Agent"), "{section}");
    assert!(section.contains("… and 5 more"), "{section}");
    assert!(
        section.contains("i2k run --delta --delete-removed"),
        "{section}"
    );
    assert!(section.contains("contacts c9"), "{section}");
    assert!(md.contains("### Run #2 caught up with what changed in Intercom while it ran"));
    let html = std::fs::read_to_string(dir.join(i2k::engine::report::REPORT_HTML)).unwrap();
    assert!(html.contains("<h3>Run #3 was a delta</h3>"), "{html}");
    assert!(html.contains("Renamed By Agent"));
    assert!(html.contains("Deleted in Intercom, still in Kustomer (2)"));
    drop(ledger);
    let _ = std::fs::remove_dir_all(&dir);
}
