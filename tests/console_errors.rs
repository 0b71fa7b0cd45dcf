//! The Errors screen's retry and skip against the real glue, engine and ledger, both simulators
//! over loopback: between runs they change the ledger at once (a retried record is loaded by the
//! next run, a skipped one carries the operator's reason), during a run the engine applies them,
//! and both paths end in the same ledger states.

mod common;

use std::path::Path;
use std::time::Duration;

use common::console::Console;
use i2k::engine::control::Control;
use i2k::engine::extract::{ExtractOptions, extract};
use i2k::engine::handle::RunOutcome;
use i2k::engine::model::{Command, ErrorClass, RecordRef};
use i2k::engine::runner;
use i2k::engine::session::FailureSummary;
use i2k::http::Secret;
use i2k::intercom::IntercomClient;
use i2k::ledger::{Ledger, LedgerReader, RecordState};
use i2k::sim::SizePreset;
use i2k::tui::{FailureFilter, Request, Update};

const REASON: &str = "duplicate of an existing company";

/// Stages the simulated workspace in `dir` and marks its first three companies failed, as a run
/// that the API refused them in would have left them: (to skip, to retry, left alone).
async fn three_failed_companies(sims: &common::Sims, dir: &Path) -> [RecordRef; 3] {
    let ledger = Ledger::open(dir).unwrap();
    let intercom = IntercomClient::connect(
        &sims.intercom.url,
        Secret::new(sims.intercom.token.clone()),
        100_000,
    )
    .unwrap();
    extract(
        &intercom,
        &ledger,
        &ExtractOptions::for_state_dir(dir),
        &Control::new(),
        None,
    )
    .await
    .unwrap();
    let failed = mark_first(&ledger, "companies", 3, |ledger, id| {
        ledger.mark_failed(
            "companies",
            id,
            ErrorClass::Rejected,
            "400 from Kustomer: refused",
            "",
            "",
        )
    })
    .await;
    [failed[0].clone(), failed[1].clone(), failed[2].clone()]
}

/// The first `n` extracted records of `kind`, made target records and marked by `mark`, as a
/// run would have left them.
async fn mark_first(
    ledger: &Ledger,
    kind: &str,
    n: usize,
    mark: impl Fn(&Ledger, &str) -> Result<(), i2k::ledger::LedgerError>,
) -> Vec<RecordRef> {
    let ids: Vec<String> = ledger
        .read(|r| r.sources_page(kind, None, n))
        .unwrap()
        .into_iter()
        .map(|s| s.source_id)
        .collect();
    assert_eq!(ids.len(), n, "the workspace has {n} {kind}");
    ledger.ensure_pending(kind, ids.clone()).await.unwrap();
    for id in &ids {
        mark(ledger, id).unwrap();
    }
    ledger.flush().await.unwrap();
    ids.into_iter()
        .map(|source_id| RecordRef {
            object: kind.into(),
            source_id,
        })
        .collect()
}

fn state_of(dir: &Path, record: &RecordRef) -> RecordState {
    LedgerReader::open(dir)
        .unwrap()
        .record(&record.object, &record.source_id)
        .unwrap()
        .expect("the record is in the ledger")
        .state
}

fn skip_reasons(dir: &Path) -> Vec<(String, u64)> {
    LedgerReader::open(dir)
        .unwrap()
        .reasons("companies", RecordState::Skipped)
        .unwrap()
}

/// The failed records (and those of unknown outcome) the console is sent next.
async fn failures(console: &mut Console) -> Vec<FailureSummary> {
    console
        .next("the failed records", |u| match u {
            Update::Failures(f) => Some(f.clone()),
            _ => None,
        })
        .await
}

/// Sends `command` between runs; returns the notice that answers it (it contains `says`).
async fn command(console: &mut Console, command: Command, says: &str) -> String {
    console.request(Request::Engine(command)).await;
    console.notice(says).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_runs_skip_and_retry_change_the_ledger_and_the_next_run_loads_the_retried() {
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("console-errors-idle");
    let [skipped, retried, left] = three_failed_companies(&sims, &dir).await;
    let mut console = Console::open(&sims, &dir);
    // The console opens on the previous run's failures.
    assert_eq!(failures(&mut console).await.len(), 3);

    let skip = Command::Skip {
        records: vec![skipped.clone()],
        reason: REASON.into(),
    };
    let said = command(&mut console, skip, "skipped").await;
    assert!(said.contains("1 record skipped"), "{said}");
    let retry = Command::Retry {
        records: vec![retried.clone()],
    };
    let said = command(&mut console, retry, "queued").await;
    assert!(
        said.contains("queued: s on the Run screen (or :run) loads them"),
        "{said}"
    );

    // The list and the ledger agree: one failure left.
    console
        .request(Request::LoadFailures {
            filter: FailureFilter::default(),
        })
        .await;
    let listed = failures(&mut console).await;
    let listed: Vec<RecordRef> = listed.into_iter().map(|f| f.record).collect();
    assert_eq!(listed, vec![left.clone()]);
    assert_eq!(state_of(&dir, &skipped), RecordState::Skipped);
    assert_eq!(state_of(&dir, &retried), RecordState::Pending);
    let expected_reason = runner::operator_skip_reason(REASON);
    assert_eq!(
        expected_reason,
        format!("skipped by the operator: {REASON}")
    );
    assert_eq!(skip_reasons(&dir), vec![(expected_reason.clone(), 1)]);

    // The next run loads the retried record; the skipped and the untouched stay as they are.
    console.request(Request::StartRun).await;
    console
        .next("the run's summary", |u| match u {
            Update::Summary { .. } => Some(()),
            Update::Notice(n) if n.contains("run failed") => panic!("{n}"),
            _ => None,
        })
        .await;
    assert_eq!(state_of(&dir, &retried), RecordState::Done);
    assert_eq!(state_of(&dir, &skipped), RecordState::Skipped);
    assert_eq!(state_of(&dir, &left), RecordState::Failed);
    assert_eq!(skip_reasons(&dir), vec![(expected_reason, 1)]);

    console.quit().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_run_skip_and_retry_end_in_the_same_ledger_states() {
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("console-errors-running");
    let [skipped, retried, left] = three_failed_companies(&sims, &dir).await;
    let config = common::engine_config(&sims, dir.clone());

    let handle = runner::start(config).await.unwrap();
    handle.send(Command::Skip {
        records: vec![skipped.clone()],
        reason: REASON.into(),
    });
    handle.send(Command::Retry {
        records: vec![retried.clone()],
    });
    let outcome = tokio::time::timeout(Duration::from_secs(120), handle.wait())
        .await
        .expect("the run ends")
        .unwrap();
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");

    assert_eq!(state_of(&dir, &skipped), RecordState::Skipped);
    assert_eq!(
        skip_reasons(&dir),
        vec![(format!("skipped by the operator: {REASON}"), 1)]
    );
    // Put back to pending, then loaded by this run's retry pass (or the next run's, had its phase
    // already ended).
    let state = state_of(&dir, &retried);
    assert!(
        matches!(state, RecordState::Done | RecordState::Pending),
        "{state:?}"
    );
    assert_eq!(state_of(&dir, &left), RecordState::Failed);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Tracking events whose write answers were lost (outcome unknown): the Errors screen lists them
/// beside the failures, as `unknown`; a retry never sends one again; the operator's skip, once they
/// have checked it in Kustomer, settles it with their reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_unknown_outcome_are_listed_never_retried_and_can_be_skipped() {
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("console-errors-unknown");
    let [_, _, failed] = three_failed_companies(&sims, &dir).await;
    let ledger = Ledger::open(&dir).unwrap();
    let unknown = mark_first(&ledger, "data_events", 2, |ledger, id| {
        ledger.mark_unknown(
            "data_events",
            id,
            "the answer was lost and Kustomer has no route to look it up",
            "POST /v1/tracking/event",
            "",
        )
    })
    .await;
    drop(ledger);
    let mut console = Console::open(&sims, &dir);
    let listed = failures(&mut console).await;
    let unknown_listed: Vec<RecordRef> = listed
        .iter()
        .filter(|f| f.class == ErrorClass::Unknown)
        .map(|f| f.record.clone())
        .collect();
    assert_eq!(unknown_listed, unknown, "{listed:?}");
    assert!(listed.iter().any(|f| f.record == failed));
    assert_eq!(listed.len(), 5);

    // A retry of every record shown sends the failures again, never the unknown.
    let everything = listed.iter().map(|f| f.record.clone()).collect();
    let retry_all = Command::Retry {
        records: everything,
    };
    let said = command(&mut console, retry_all, "queued").await;
    assert!(said.starts_with("3 records queued"), "{said}");
    for record in &unknown {
        assert_eq!(state_of(&dir, record), RecordState::Unknown);
    }
    let retry_one = Command::Retry {
        records: vec![unknown[0].clone()],
    };
    let said = command(&mut console, retry_one, "Nothing to retry").await;
    assert!(said.contains("outcome is unknown"), "{said}");
    assert_eq!(state_of(&dir, &unknown[0]), RecordState::Unknown);

    // Checked in Kustomer: the operator's skip settles it.
    let skip = Command::Skip {
        records: vec![unknown[1].clone()],
        reason: "present in Kustomer".into(),
    };
    let said = command(&mut console, skip, "skipped").await;
    assert!(said.contains("1 record skipped"), "{said}");
    assert_eq!(state_of(&dir, &unknown[1]), RecordState::Skipped);

    console.quit().await;
    let _ = std::fs::remove_dir_all(&dir);
}
