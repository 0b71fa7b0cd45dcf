//! `i2k run`: the migration, headless (progress lines or JSON lines) or in the console.

use std::process::ExitCode;

use crate::cli::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NEEDS_DECISIONS, RunArgs};
use crate::commands::Context;
use crate::config::{Endpoints, FileConfig};
use crate::engine::context::{EngineConfig, LoadOptions};
use crate::engine::handle::RunOutcome;
use crate::engine::model::Command;
use crate::engine::session::Session;
use crate::headless::{self, HeadlessOptions};

/// Where a conversation's event parts (assignments, state and attribute changes) go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimelineParts {
    /// One timeline note per conversation in Kustomer.
    Note,
    /// The archive files only (`<state>/archive/conversation_parts.jsonl`).
    Archive,
}

/// What Intercom data events become in Kustomer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventsAs {
    /// Tracking events (`POST /v1/tracking/identityEvent`).
    Tracking,
    /// Kobjects of the `intercom_event` klass.
    Kobjects,
}

pub async fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitCode> {
    let endpoints = ctx.endpoints()?;
    let state_dir = ctx.state_dir()?;
    let config = engine_config(&endpoints, state_dir.clone(), &args, &ctx.file)?;
    let sample = config.options.sample.is_some();
    if !args.headless {
        return crate::commands::console::open(config).await;
    }
    let outcome = match follow_run(config, args.json).await? {
        Followed::Ended(outcome) => outcome,
        Followed::Refused(code) => return Ok(code),
    };
    // A completed run is verified against Kustomer (the report then carries the verification),
    // unless the operator asked not to.
    if matches!(outcome, RunOutcome::Completed(_)) && !args.no_verify {
        verify_after_run(config_again(ctx, &state_dir, &args)?, args.json).await;
    }
    // The archive, the checklist and the report are written when a run reaches loading (a
    // failure to write them was logged as it happened).
    let written = state_dir.join(crate::engine::report::REPORT_MD).exists();
    if written && matches!(outcome, RunOutcome::Completed(_) | RunOutcome::Cancelled(_)) {
        let mut stdout = std::io::stdout();
        headless::print_written(&state_dir, HeadlessOptions { json: args.json }, &mut stdout)?;
    }
    Ok(exit_code_of(&outcome, sample))
}

/// The run's configuration once more (it was moved into the run), for the verification after it.
fn config_again(
    ctx: &Context,
    state_dir: &std::path::Path,
    args: &RunArgs,
) -> anyhow::Result<EngineConfig> {
    engine_config(&ctx.endpoints()?, state_dir.to_path_buf(), args, &ctx.file)
}

/// Verifies a finished migration against Kustomer through the session, as the console does
/// after a run (and as `i2k verify` would), and prints it: the table, or with `json` one line
/// `{"type": "verification", "agrees", "verification"}`. A verification that cannot run says
/// why in one line; it never changes the run's exit code (`i2k verify` gives its own).
pub async fn verify_after_run(config: EngineConfig, json: bool) {
    // The engine releases the state directory as its last task ends; the session waits for it.
    let mut session = Session::unattended(config);
    match session.verify().await {
        Ok(v) if json => {
            let agrees = v.agrees();
            println!(
                "{}",
                serde_json::json!({"type": "verification", "agrees": agrees, "verification": v})
            )
        }
        Ok(v) => print!("{}", crate::commands::verify::render(&v)),
        Err(e)
            if matches!(
                e.downcast_ref::<crate::ledger::LedgerError>(),
                Some(crate::ledger::LedgerError::Locked { .. })
            ) =>
        {
            println!("verify: skipped (the state directory is still busy)")
        }
        Err(e) => println!("verify: could not run: {e}"),
    }
}

/// Builds the engine's configuration from the command line, refusing what cannot work.
/// A flag given on the command line wins over the config file, which wins over the default.
pub fn engine_config(
    endpoints: &Endpoints,
    state_dir: std::path::PathBuf,
    args: &RunArgs,
    file: &FileConfig,
) -> anyhow::Result<EngineConfig> {
    let (kustomer_rate, rate_share) = crate::commands::kustomer_budget(file, &args.budget)?;
    let workflow_ids = if args.workflow_ids.is_empty() {
        file.run.workflow_ids.clone().unwrap_or_default()
    } else {
        args.workflow_ids.clone()
    };
    if args.history_months == Some(0) {
        anyhow::bail!(
            "--history-months must be at least 1 (leave it out to carry every conversation)"
        );
    }
    crate::engine::phases::phases_for(&args.only).map_err(anyhow::Error::msg)?;
    if args.sample == Some(0) {
        return Err(crate::engine::sample::SampleError::Zero.into());
    }
    let intercom_token = endpoints.required_intercom_token()?;
    let kustomer_token = endpoints.required_kustomer_token()?;
    let knowledge_base = match args.knowledge_base.as_deref().map(str::trim) {
        Some("") => anyhow::bail!(
            "--knowledge-base needs the id of a Kustomer knowledge base (the Prerequisites screen and `i2k run` list them)"
        ),
        other => other.map(str::to_string),
    };
    Ok(EngineConfig {
        state_dir,
        intercom_url: endpoints.intercom_url.clone(),
        intercom_token,
        kustomer_url: endpoints.kustomer_url.clone(),
        kustomer_token,
        kustomer_rate,
        rate_share,
        only: args.only.clone(),
        accept_defaults: args.accept_defaults,
        workflow_ids,
        options: LoadOptions {
            timeline_notes: args.timeline_parts == TimelineParts::Note,
            events_as_kobjects: args.events_as == EventsAs::Kobjects,
            segment_max_age_days: args.segment_max_age_days,
            history_months: args.history_months,
            retry_failed: args
                .retry_failed
                .then(|| crate::engine::context::RetryFilter {
                    kind: args.failed_type.clone(),
                    phase: args.failed_phase,
                    class: args.failed_class,
                }),
            bulk_max_bytes: args.bulk_max_bytes,
            accept_restamped_times: args.accept_restamped_times,
            knowledge_base,
            sample: args.sample,
            delta: args.delta,
            delete_removed: args.delete_removed,
            overwrite_conflicts: args.overwrite_conflicts,
            ..LoadOptions::default()
        },
    })
}

/// Runs to the end printing progress; the first Ctrl-C cancels cleanly (a later run resumes).
pub async fn run_headless(config: EngineConfig, json: bool) -> anyhow::Result<ExitCode> {
    let sample = config.options.sample.is_some();
    Ok(match follow_run(config, json).await? {
        Followed::Ended(outcome) => exit_code_of(&outcome, sample),
        Followed::Refused(code) => code,
    })
}

/// How a headless run ended: it ran to an outcome, or a connection check refused to start it.
enum Followed {
    Ended(RunOutcome),
    Refused(ExitCode),
}

async fn follow_run(config: EngineConfig, json: bool) -> anyhow::Result<Followed> {
    // The headless runner drives the same session as the console: it checks the connections
    // and launches the run, then follows the run's handle itself.
    let state_dir = config.state_dir.clone();
    let mut session = Session::unattended(config);
    // A wrong token, host or region is said in one line at once, not after a minute of retries.
    for side in session.check_connections().await {
        if side.status == crate::engine::model::CheckStatus::Fail {
            let detail = side
                .detail
                .clone()
                .unwrap_or_else(|| format!("{} check failed", side.side));
            eprintln!("error: {detail}");
            return Ok(Followed::Refused(ExitCode::from(
                crate::cli::EXIT_BAD_INPUT,
            )));
        }
    }
    let _log = crate::logging::to_file(&state_dir)?;
    let handle = match session.launch().await {
        Ok(handle) => handle,
        Err(e)
            if e.is::<crate::engine::disk::DiskShortage>()
                || e.is::<crate::engine::session::RestampRefused>()
                || e.is::<crate::engine::sample::SampleError>()
                || e.is::<crate::engine::delta::DeltaRefused>()
                || e.is::<crate::engine::probe::ProbeRefused>() =>
        {
            eprintln!("error: {e}");
            return Ok(Followed::Refused(ExitCode::from(
                crate::cli::EXIT_BAD_INPUT,
            )));
        }
        Err(e) => return Err(e),
    };
    let commands = handle.commander();
    let interrupt = tokio::spawn(async move {
        let mut signals = Signals::new();
        if let Some(name) = signals.next().await {
            let _ = commands.send(Command::Interrupt {
                reason: format!(
                    "{name}: stopping once in-flight requests settle; run again to resume \
                     ({name} again stops at once)"
                ),
            });
            tokio::select! {
                _ = signals.next() => {}
                () = tokio::time::sleep(STOP_GRACE) => eprintln!(
                    "still stopping after {} s (requests waiting out a throttle or a slow answer): \
                     stopping now; what was sent without an answer is settled by the next run",
                    STOP_GRACE.as_secs()
                ),
            }
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
    let mut stdout = std::io::stdout();
    let outcome = headless::follow(handle, HeadlessOptions { json }, &mut stdout).await;
    interrupt.abort();
    Ok(Followed::Ended(outcome?))
}

/// How long a signalled run may take to settle its in-flight requests before the process stops
/// without them: a request held by the rate gate could otherwise wait out a whole throttled
/// window. Stopping then is as safe as a second signal: every create is marked `sent` on disk
/// before it leaves, and the next run settles what has no answer by lookup.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// SIGINT and SIGTERM (a person's Ctrl-C; a service manager, CI job or container stop), as
/// their names, in the order they arrive.
pub struct Signals {
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub fn new() -> Signals {
        Signals {
            terminate: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| tracing::warn!("SIGTERM cannot be caught: {e}"))
                .ok(),
        }
    }

    /// The next signal's name; `None` when none can arrive any more.
    pub async fn next(&mut self) -> Option<&'static str> {
        let terminate = async {
            match self.terminate.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted.ok().map(|()| "SIGINT"),
            terminated = terminate => terminated.map(|()| "SIGTERM"),
        }
    }
}

impl Default for Signals {
    fn default() -> Self {
        Self::new()
    }
}

/// [`exit_code`], except that a sample run leaves the records it did not take pending by
/// design (a full run carries them): it exits 0 when none of its phases' records failed or
/// ended unknown.
pub fn exit_code_of(outcome: &RunOutcome, sample: bool) -> ExitCode {
    match outcome {
        RunOutcome::Completed(s)
            if sample && s.phases.iter().all(|p| p.failed == 0 && p.unknown == 0) =>
        {
            ExitCode::SUCCESS
        }
        _ => exit_code(outcome),
    }
}

/// 0 when every record is done or deliberately skipped; 1 when records failed or are still
/// pending or sent (a re-run resumes them); 3 when decisions are needed; 5 when the run was
/// interrupted or cancelled (a re-run resumes it).
pub fn exit_code(outcome: &RunOutcome) -> ExitCode {
    match outcome {
        RunOutcome::Completed(s)
            if s.phases.iter().all(|p| p.failed == 0) && headless::records_left(s) == 0 =>
        {
            if s.phases.iter().any(|p| p.unknown > 0) {
                ExitCode::from(crate::cli::EXIT_UNKNOWN_OUTCOMES)
            } else {
                ExitCode::SUCCESS
            }
        }
        RunOutcome::Completed(_) => ExitCode::from(EXIT_FAILED),
        RunOutcome::Cancelled(_) => ExitCode::from(EXIT_INTERRUPTED),
        RunOutcome::NeedsDecisions(_) => ExitCode::from(EXIT_NEEDS_DECISIONS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::{PhaseId, PhaseProgress, PhaseStatus, RunSummary};

    fn summary(phases: Vec<PhaseProgress>) -> RunSummary {
        RunSummary {
            phases,
            elapsed: std::time::Duration::from_secs(3),
            kustomer_requests: 10,
            intercom_requests: 10,
            defaults_taken: Vec::new(),
            cancelled: false,
        }
    }

    fn phase(phase: PhaseId, status: PhaseStatus, total: u64, done: u64) -> PhaseProgress {
        PhaseProgress {
            phase,
            status,
            total,
            done,
            failed: 0,
            skipped: 0,
            unknown: 0,
            in_flight: 0,
            expected: 0,
        }
    }

    #[test]
    fn a_completed_run_exits_0_only_when_nothing_is_left_pending_or_sent() {
        let settled = summary(vec![
            phase(PhaseId::Customers, PhaseStatus::Done, 10, 8),
            phase(PhaseId::Conversations, PhaseStatus::Done, 5, 5),
        ]);
        assert_eq!(
            exit_code(&RunOutcome::Completed(settled)),
            ExitCode::from(EXIT_FAILED)
        );
        let mut skipped = phase(PhaseId::Customers, PhaseStatus::Done, 10, 8);
        skipped.skipped = 2;
        assert_eq!(
            exit_code(&RunOutcome::Completed(summary(vec![skipped]))),
            ExitCode::SUCCESS
        );
        // Records of a phase outside the run's scope are not the run's to finish.
        let out_of_scope = summary(vec![
            phase(PhaseId::Customers, PhaseStatus::Done, 10, 10),
            phase(PhaseId::Extras, PhaseStatus::Skipped, 4, 0),
        ]);
        assert_eq!(
            exit_code(&RunOutcome::Completed(out_of_scope)),
            ExitCode::SUCCESS
        );
    }
}
