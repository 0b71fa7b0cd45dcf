//! 429 storms against both simulators (tiny workspace): injected 429s on every API route of one
//! side, announcing a reset a second ahead (`429`) or nothing at all (`429bare`), slow the run
//! but never end it: it completes with every record loaded, and while a 429 holds the gate the
//! snapshot says the run is throttled and until when.

mod common;

use i2k::engine::handle::RunOutcome;
use i2k::engine::runner;
use i2k::headless::records_left;
use i2k::sim::SizePreset;
use i2k::sim::faults::FaultSpec;
use serde_json::Value;

/// Requests a simulator answered 429, by its own count.
fn throttled_by_kustomer(truth: &Value) -> u64 {
    truth["requests"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|r| r["throttled"].as_u64())
        .sum()
}

async fn throttled_by_intercom(base: &str) -> u64 {
    let counted: Value = reqwest::get(format!("{base}/__sim/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    counted["throttled"].as_u64().unwrap()
}

/// Runs the whole tiny migration under `faults`; returns the outcome, the simulators and the
/// throttled notes the snapshots carried.
async fn run_under(name: &str, faults: &str) -> (RunOutcome, common::Sims, Vec<String>) {
    let spec = FaultSpec::parse(faults).unwrap();
    let sims = common::sims_with(SizePreset::Tiny, |ic, kc| {
        ic.faults = spec.clone();
        kc.faults = spec;
    })
    .await;
    let home = common::temp_state(name);
    let handle = runner::start(common::engine_config(&sims, home.clone()))
        .await
        .unwrap();
    let mut snapshots = handle.snapshot.clone();
    let notes = tokio::spawn(async move {
        let mut notes: Vec<String> = Vec::new();
        while snapshots.changed().await.is_ok() {
            let note = snapshots.borrow_and_update().throttled_note();
            if let Some(note) = note.filter(|n| notes.last() != Some(n)) {
                notes.push(note);
            }
        }
        notes
    });
    let outcome = handle.wait().await.expect("throttling never ends a run");
    let notes = notes.await.unwrap();
    let _ = std::fs::remove_dir_all(&home);
    (outcome, sims, notes)
}

fn assert_completed_in_full(outcome: &RunOutcome) {
    let RunOutcome::Completed(summary) = outcome else {
        panic!("the run did not complete: {outcome:?}");
    };
    let failed: u64 = summary.phases.iter().map(|p| p.failed).sum();
    assert_eq!(failed, 0, "{summary:#?}");
    assert_eq!(records_left(summary), 0, "{summary:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_on_intercom_with_announced_resets_ends_in_a_completed_run() {
    let (outcome, sims, notes) = run_under("storm-intercom", "intercom.429=0.08").await;
    assert_completed_in_full(&outcome);
    let throttled = throttled_by_intercom(&sims.intercom.url).await;
    assert!(throttled >= 5, "a storm: only {throttled} 429s");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("throttled by Intercom until ")),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_on_kustomer_without_resets_ends_in_a_completed_run() {
    let (outcome, sims, notes) = run_under("storm-kustomer", "kustomer.429bare=0.05").await;
    assert_completed_in_full(&outcome);
    let truth = common::truth(&sims.kustomer.url).await;
    let throttled = throttled_by_kustomer(&truth);
    assert!(throttled >= 5, "a storm: only {throttled} 429s");
    assert!(
        truth["duplicates"].as_object().is_none_or(|d| d.is_empty()),
        "{}",
        truth["duplicates"]
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("throttled by Kustomer until ")),
        "{notes:?}"
    );
}
