//! The report a person signs off, after a `tiny` migration of two runs — a full run in which
//! Kustomer refused every shortcut (with one Intercom admin that has no Kustomer user, so
//! `--accept-defaults` sends them to the fallback user), then a retry run once it accepts them —
//! and a verification: one report for the whole migration, with its header, both runs, the
//! decisions with what they affected, the verification, rows that sum to Intercom's counts, the
//! figures sampled into the ledger, a self-contained `report.html` and the follow-up CSV.

mod common;

use std::time::Duration;

use i2k::engine::context::RetryFilter;
use i2k::engine::handle::RunOutcome;
use i2k::engine::model::OBJECT_TYPES;
use i2k::engine::report::{FOLLOW_UP_CSV, REPORT_HTML, REPORT_JSON, REPORT_MD, Report};
use i2k::engine::session::Session;
use i2k::ledger::Ledger;
use i2k::sim::SizePreset;
use serde_json::{Value, json};

/// The ledger once the engine's last task has released the state directory.
async fn open_when_released(dir: &std::path::Path) -> Ledger {
    for _ in 0..100 {
        if let Ok(ledger) = Ledger::open(dir) {
            return ledger;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the engine does not release {}", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_covers_the_whole_migration_its_runs_decisions_and_verification() {
    // One Intercom admin has no Kustomer user: a decision the run takes by default.
    let sims = common::sims_with(SizePreset::Tiny, |_, k| {
        k.agents.pop();
    })
    .await;
    let dir = common::temp_state("report-signoff");
    let config = common::engine_config(&sims, dir.clone());

    // Run 1: every shortcut refused.
    common::sim_fail(
        &sims.kustomer.url,
        Some(json!({"path": "/v1/shortcuts", "method": "POST", "status": 400})),
    )
    .await;
    let first = common::run_engine(config.clone()).await;
    let RunOutcome::Completed(first) = first else {
        panic!("{first:?}")
    };
    assert!(!first.defaults_taken.is_empty(), "{first:?}");
    // Run 2: Kustomer accepts them; the retry sends them again.
    common::sim_fail(&sims.kustomer.url, None).await;
    let mut retry = config.clone();
    retry.options.retry_failed = Some(RetryFilter::default());
    let second = common::run_engine(retry).await;
    assert!(matches!(second, RunOutcome::Completed(_)), "{second:?}");
    // The verification is kept in the ledger and the report is written again with it.
    let verification = Session::unattended(config.clone())
        .verify()
        .await
        .expect("verify runs");
    assert!(verification.agrees(), "{verification:#?}");

    let ledger = open_when_released(&dir).await;
    let runs = ledger.read(|r| r.runs()).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let samples = ledger.read(|r| r.samples()).unwrap();
    for run in &runs {
        assert!(
            samples.iter().filter(|s| s.run_id == Some(run.id)).count() >= 2,
            "run {} was sampled at its start and end: {samples:?}",
            run.id
        );
    }
    let stored = i2k::engine::verify::last_verification(&ledger)
        .unwrap()
        .expect("the verification is stored");
    assert_eq!(stored.verification, verification);
    assert_eq!(stored.run_id, Some(runs[1].id));
    drop(ledger);

    let text = std::fs::read_to_string(dir.join(REPORT_JSON)).unwrap();
    let report: Report = serde_json::from_str(&text).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();

    // The header: which workspace, which org, which i2k, where, when.
    let h = &report.header;
    assert!(
        h.intercom_workspace
            .as_deref()
            .is_some_and(|w| !w.is_empty()),
        "{h:?}"
    );
    assert!(
        h.intercom_app.is_some() && h.kustomer_org_id.is_some(),
        "{h:?}"
    );
    assert_eq!(h.intercom_url.as_deref(), Some(sims.intercom.url.as_str()));
    assert_eq!(h.kustomer_url.as_deref(), Some(sims.kustomer.url.as_str()));
    assert_eq!(h.i2k_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(h.state_dir, dir.display().to_string());
    assert_eq!(h.first_start_ms, Some(runs[0].started_ms));
    assert_eq!(h.last_finish_ms, runs[1].finished_ms);
    // The duration is the whole migration's: both runs, not the last one.
    let (d1, d2) = (
        report.runs[0].duration_secs.unwrap(),
        report.runs[1].duration_secs.unwrap(),
    );
    assert!(d1 > 0.0 && d2 > 0.0);
    assert!((h.total_duration_secs - (d1 + d2)).abs() < 1e-6, "{h:?}");
    assert_eq!(report.duration_secs, Some(h.total_duration_secs));
    assert!(
        json["header"]["total_duration_secs"].is_f64(),
        "durations are plain seconds"
    );

    // Both runs, each with its kind and what it did.
    let kinds: Vec<&str> = report.runs.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["full", "retry"]);
    assert!(report.runs.iter().all(|r| r.outcome == "completed"));
    let failed_macros = report.row("macros").unwrap().source;
    assert!(failed_macros > 0);
    // The retry settled the shortcuts the first run could not.
    assert!(
        report.runs[1].settled.unwrap() >= failed_macros,
        "{:?}",
        report.runs[1]
    );
    assert!(report.runs[0].settled.unwrap() > report.runs[1].settled.unwrap());
    assert_eq!(
        report.kustomer_requests,
        Some(report.runs.iter().filter_map(|r| r.kustomer_requests).sum())
    );
    assert_eq!(report.runs[0].defaults_taken, first.defaults_taken);

    // The decisions, each with what it affected: the admin without a user went to the fallback.
    let fallback = report
        .decisions
        .iter()
        .find(|d| d.area == "admin" && d.decision.contains("fallback user"))
        .unwrap_or_else(|| {
            panic!(
                "no admin sent to the fallback user: {:#?}",
                report.decisions
            )
        });
    assert!(fallback.affected.contains("attributed to"), "{fallback:?}");
    assert!(
        report
            .decisions
            .iter()
            .any(|d| d.decision.contains("accept the defaults")),
        "{:#?}",
        report.decisions
    );

    // The verification, with how each count was made and the field samples.
    let v = report.verification.as_ref().expect("the verification");
    assert_eq!(v.verification, verification);
    for t in &v.verification.types {
        assert!(v.verification.counted_by.contains_key(&t.object), "{t:?}");
    }
    assert!(!v.verification.samples.is_empty());

    // The sums: every Intercom type accounted for, to Intercom's own count; nothing left failed.
    let truth = common::truth(&sims.intercom.url).await;
    for object in OBJECT_TYPES {
        let row = report.row(object).unwrap();
        assert_eq!(row.accounted(), row.source, "{row:?}");
        assert_eq!(
            Some(row.source),
            truth["counts"][object].as_u64(),
            "{row:?}"
        );
        assert_eq!(row.failed, 0, "{row:?}");
    }
    assert_eq!(report.row("macros").unwrap().migrated, failed_macros);

    // report.md says the same as text.
    let md = std::fs::read_to_string(dir.join(REPORT_MD)).unwrap();
    for expected in [
        format!(
            "- Intercom workspace: {}",
            h.intercom_workspace.as_deref().unwrap()
        ),
        format!("- i2k version: {}", h.i2k_version),
        "## Runs".to_string(),
        format!("| #{} | full |", runs[0].id),
        format!("| #{} | retry |", runs[1].id),
        "## Decisions".to_string(),
        format!("| admin | {} |", fallback.decision),
        "## Verification".to_string(),
        "everything agrees".to_string(),
        "Field samples:".to_string(),
        "## Rebuild by hand".to_string(),
    ] {
        assert!(md.contains(&expected), "no {expected:?} in\n{md}");
    }

    // report.html: the same content and three charts, and nothing fetched from anywhere.
    let html = std::fs::read_to_string(dir.join(REPORT_HTML)).unwrap();
    assert_self_contained(&html);
    assert_eq!(html.matches("<svg").count(), 3, "three charts");
    assert!(html.contains("everything agrees"));
    assert!(html.contains(&format!("#{}", runs[1].id)));
    assert!(html.contains("@media print"));

    // The follow-up CSV lists every skipped, failed and unknown record, with its reason.
    let csv = std::fs::read_to_string(dir.join(FOLLOW_UP_CSV)).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("type,intercom_id,kustomer_id,state,reason")
    );
    let listed: Vec<&str> = lines.collect();
    assert_eq!(listed.len() as u64, report.follow_up);
    let expected: u64 = report
        .rows
        .iter()
        .map(|r| r.skipped + r.failed + r.unknown)
        .sum();
    assert_eq!(report.follow_up, expected);
    for (state, figure) in [("skipped", 0usize), ("unknown", 1)] {
        let counted: u64 = report
            .rows
            .iter()
            .map(|r| [r.skipped, r.unknown][figure])
            .sum();
        let lines = listed
            .iter()
            .filter(|l| l.contains(&format!(",{state},")))
            .count() as u64;
        assert_eq!(lines, counted, "{state}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// No external reference of any kind: no URL, no `src=`, no stylesheet link, no `@import`, no
/// `url(…)`, no script.
fn assert_self_contained(html: &str) {
    let lower = html.to_lowercase();
    for forbidden in [
        "http://", "https://", "src=", "<link", "@import", "url(", "<script", "href=",
    ] {
        assert!(
            !lower.contains(forbidden),
            "report.html refers outside itself ({forbidden}):\n{}",
            &html[lower.find(forbidden).unwrap().saturating_sub(200)..]
        );
    }
}
