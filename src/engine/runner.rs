//! The runner: starts a run and drives it to its end. Extraction and loading overlap — each load
//! phase starts as soon as the phases it depends on have loaded and its source types are
//! extracted (the table in `phases.rs`), so the wall time approaches the larger of the two rather
//! than their sum. A publisher turns ledger counters and rate gates into a `Snapshot` ten times a
//! second; a command loop applies pause, resume, cancel, the rate share, retries and skips.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::engine::context::{Ctx, EngineConfig};
use crate::engine::control::{Cancelled, ControlState};
use crate::engine::handle::{EngineHandle, RunOutcome};
use crate::engine::kinds::{phase_of_kind, sources_of};
use crate::engine::meter::Meter;
use crate::engine::model::RecordRef;
use crate::engine::model::{
    ChangeCount, Command, Event, LogLevel, PhaseProgress, PhaseStatus, RunState, RunSummary,
    Snapshot,
};
use crate::engine::phases::{PHASES, phase, phases_for};
use crate::engine::{backups, decisions, load, sample};
use crate::ledger::{ChangeKind, Ledger, LedgerError, RecordState, StateCounts};
use crate::vocab::{Kind, PhaseId};

/// How often the snapshot is refreshed (≤ 10 Hz).
const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(100);
/// How often the run's figures are sampled into the ledger (`samples`) for the report's charts:
/// every 20th snapshot.
const SAMPLE_EVERY: u32 = 20;
/// The `meta` keys under which a run keeps what the report's header names.
pub const META_INTERCOM_NAME: &str = "intercom_app_name";
pub const META_INTERCOM_REGION: &str = "intercom_region";
pub const META_KUSTOMER_NAME: &str = "kustomer_org_name";
pub const META_INTERCOM_URL: &str = "intercom_url";
pub const META_KUSTOMER_URL: &str = "kustomer_url";
/// The label a sample gives extraction among the running phases.
pub const EXTRACTION_LABEL: &str = "Extraction";
/// How many extra passes a run makes over records put back to pending while it ran (retries) or
/// left sent without an answer.
const RETRY_PASSES: usize = 3;
/// The key of a run's recorded figures that holds its `--only` list (absent or empty: every
/// type), so `i2k verify` judges the types the run was limited to.
pub const SCOPE_FIGURE: &str = "only";
/// The key of a run's recorded figures that holds the options it loaded with.
pub const OPTIONS_FIGURE: &str = "options";
/// The run's figure of records it settled done, by ledger kind (a delta run's new records).
pub const CREATED_FIGURE: &str = "created";

/// Opens the migration ([`Ctx::open`]: the ledger and both clients), checks the disk and starts
/// the run in the background.
/// A sample run (`LoadOptions::sample`) is chosen here, from what the ledger has staged, and
/// limits the run's ledger to it: the phases a conversation needs, and of their records only
/// those the sample takes (`engine::sample`).
pub async fn start(config: EngineConfig) -> anyhow::Result<EngineHandle> {
    let mut phases = phases_for(&config.only).map_err(anyhow::Error::msg)?;
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    let ctx = Ctx::open(config, event_tx)?;
    let sample = match ctx.config.options.sample {
        Some(n) => {
            let ledger = ctx.ledger.clone();
            let sample = tokio::task::spawn_blocking(move || sample::choose(&ledger, n)).await??;
            phases = phases_for(&[Kind::Conversations.as_str().to_string()])
                .map_err(anyhow::Error::msg)?;
            ctx.ledger.limit_to(Some(sample.selection.clone()));
            Some(sample)
        }
        None => None,
    };
    if ctx.config.options.delta {
        let ledger = ctx.ledger.clone();
        let runs = tokio::task::spawn_blocking(move || ledger.read(|r| r.runs())).await??;
        let full = runs.iter().any(|r| {
            r.outcome.as_deref() == Some("completed")
                && matches!(r.command.as_str(), "run" | "delta")
        });
        if !full {
            return Err(crate::engine::delta::DeltaRefused.into());
        }
    }
    let estimate = crate::engine::disk::estimate_for(&ctx.ledger).await?;
    crate::engine::disk::check(&estimate, &ctx.config.state_dir)?;
    let (snapshot_tx, snapshot_rx) = watch::channel(Snapshot {
        rate_share: ctx.config.rate_share,
        ..Snapshot::default()
    });
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let dir = ctx.config.state_dir.clone();
    let task = tokio::spawn(async move {
        let ctx = Arc::new(ctx);
        let held = Arc::downgrade(&ctx);
        let outcome = run(ctx, phases, sample, snapshot_tx, command_rx).await;
        released(&held, &dir).await;
        outcome
    });
    Ok(EngineHandle::new(snapshot_rx, event_rx, command_tx, task))
}

/// How long a finished run waits for its last tasks to let go of the state directory.
const RELEASE_PATIENCE: Duration = Duration::from_secs(10);
/// How long it then tries the directory's lock, which the last task releases as it drops the
/// ledger (someone else may take it first: then it stops waiting).
const LOCK_PATIENCE: Duration = Duration::from_secs(1);

/// Returns once nothing of the run holds the state directory any more — the helpers it stopped
/// drop their share of the migration as the runtime gets to them — so whoever waited for the
/// run can open the directory at once (`i2k verify`, a rollback, the next run). After the
/// patience it returns anyway (the next opener then says the directory is busy).
async fn released(held: &std::sync::Weak<Ctx>, dir: &std::path::Path) {
    let deadline = Instant::now() + RELEASE_PATIENCE;
    while held.strong_count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + LOCK_PATIENCE;
    loop {
        match crate::ledger::StateDirLock::try_acquire(dir) {
            // Taken and let go at once: free.
            Ok(_) => return,
            Err(LedgerError::Locked { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return,
        }
    }
}

async fn run(
    ctx: Arc<Ctx>,
    phases: Vec<PhaseId>,
    sample: Option<sample::Sample>,
    snapshot_tx: watch::Sender<Snapshot>,
    commands: mpsc::UnboundedReceiver<Command>,
) -> anyhow::Result<RunOutcome> {
    let started = Instant::now();
    bind_identity(&ctx).await?;
    let run_id = ctx.ledger.start_run(ctx.config.run_kind()).await?;
    let done_before: BTreeMap<String, u64> = ctx
        .ledger
        .counters()
        .targets
        .iter()
        .map(|(kind, c)| (kind.clone(), c.done))
        .collect();
    if ctx.config.options.restamped_times {
        crate::engine::decisions::note_restamped_run(&ctx.ledger).await?;
        ctx.log(
            LogLevel::Warn,
            format!(
                "the Kustomer key lacks org.admin and re-stamped times were accepted: {}",
                crate::kustomer::roles::RESTAMP_COST
            ),
        );
    }
    let accepted = ctx.config.options.restamped_times || ctx.config.options.accept_restamped_times;
    for line in
        crate::engine::probe::take_fallbacks(&ctx.ledger, &ctx.config.only, accepted).await?
    {
        ctx.log(LogLevel::Warn, format!("fallback: {line}"));
    }
    if ctx.ledger.is_fresh() {
        ctx.log(
            LogLevel::Warn,
            format!(
                "a new ledger: before creating each kind, i2k looks {} of its records up in Kustomer by externalId and adopts what already exists. At risk if this org already received this migration from a state directory since lost: {} (Kustomer cannot look them up, so they would be sent again)",
                crate::engine::write::ADOPTION_SAMPLE,
                crate::engine::kinds::not_looked_up().join(", ")
            ),
        );
    }
    if let Some(sample) = &sample {
        ctx.log(
            LogLevel::Info,
            format!(
                "sample: {} conversation(s) with their customers, companies, admins, teams, tags and files; everything else stays pending for a full run",
                sample.conversations.len()
            ),
        );
        if !sample.uncovered.is_empty() {
            ctx.log(
                LogLevel::Warn,
                format!(
                    "sample: too few conversations to cover {}",
                    sample.uncovered.join(", ")
                ),
            );
        }
    }
    if let Some(filter) = &ctx.config.options.retry_failed {
        let n = retry_matching(&ctx.ledger, filter).await?;
        ctx.log(
            LogLevel::Info,
            format!("retry: {n} failed record(s) put back to pending"),
        );
    }
    for p in PHASES {
        let status = if phases.contains(&p.id) {
            PhaseStatus::Waiting
        } else {
            PhaseStatus::Skipped
        };
        ctx.set_phase_status(p.id, status);
    }
    let state = Arc::new(std::sync::Mutex::new(RunState::Extracting));
    let publisher = tokio::spawn(publish(
        ctx.clone(),
        state.clone(),
        snapshot_tx,
        started,
        run_id,
    ));
    let commander = tokio::spawn(obey(ctx.clone(), commands, state.clone()));
    let token_watchers = crate::engine::interrupt::watch_tokens(&ctx);

    // On a migration's first load of conversations, they load as extraction stages them rather
    // than after the whole workspace is read. Once any conversation is in Kustomer (a resumed
    // or repeated run), the phase waits for the whole extraction as before: a conversation
    // loaded earlier may receive new parts anywhere in the listing.
    let conversations = ctx.ledger.counters().target(Kind::Conversations.as_str());
    // A sample loads what the ledger had staged when it was chosen, never the feed's news.
    let feed = (phases.contains(&PhaseId::Conversations)
        && sample.is_none()
        && conversations.done == 0
        && conversations.sent == 0)
        .then(|| ctx.open_conversations_feed());
    let extraction = tokio::spawn({
        let ctx = ctx.clone();
        async move { extract(&ctx, feed).await }
    });

    let result = match drive(&ctx, &phases, &state).await {
        Err(e) if crate::engine::interrupt::absorbs(&ctx, &e) => {
            Ok(RunOutcome::Cancelled(summarize(&ctx, started)))
        }
        other => other,
    };
    let cancelled = ctx.control.is_cancelled();
    if cancelled || result.is_err() {
        ctx.control.cancel();
    }
    match extraction.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) if !cancelled => ctx.log(
            LogLevel::Error,
            format!("extraction stopped: {}", crate::error_text::chain_once(&e)),
        ),
        Ok(Err(_)) => {}
        Err(e) => ctx.log(
            LogLevel::Error,
            format!("extraction stopped unexpectedly: {e}"),
        ),
    }
    // A full run catches up with what changed in Intercom while it ran; a delta run looks for
    // what was deleted there.
    let result = match result {
        Ok(RunOutcome::Completed(_)) if !ctx.control.is_cancelled() => {
            match after_load(&ctx, &phases, &state, sample.is_some()).await {
                Err(e) if crate::engine::interrupt::absorbs(&ctx, &e) => {
                    Ok(RunOutcome::Cancelled(summarize(&ctx, started)))
                }
                Err(e) => {
                    ctx.control.cancel();
                    Err(e)
                }
                Ok(()) if ctx.control.is_cancelled() => {
                    Ok(RunOutcome::Cancelled(summarize(&ctx, started)))
                }
                Ok(()) => Ok(RunOutcome::Completed(summarize(&ctx, started))),
            }
        }
        other => other,
    };
    // The summary counts from the ledger: let every write the phases queued land first, or the
    // last records settled would show as still left.
    if let Err(e) = ctx.ledger.flush().await {
        tracing::warn!("could not flush the ledger before the summary: {e}");
    }
    let summary = summarize(&ctx, started);
    // The last sample holds the run's final figures, so the charts end where the run did.
    record_sample(&ctx, run_id, &summary.phases);
    let (outcome_name, final_state) = match &result {
        Ok(RunOutcome::Completed(_)) => ("completed", RunState::Finished),
        Ok(RunOutcome::Cancelled(_)) => ("interrupted", RunState::Stopped),
        Ok(RunOutcome::NeedsDecisions(_)) => ("needs_decisions", RunState::Stopped),
        Err(e) => ("failed", RunState::Failed(crate::error_text::chain_once(e))),
    };
    set_state(&state, final_state);
    let mut figures = serde_json::to_value(&summary).unwrap_or_default();
    if let Some(fields) = figures.as_object_mut() {
        fields.insert(SCOPE_FIGURE.to_string(), serde_json::json!(ctx.config.only));
        let created: BTreeMap<String, u64> = ctx
            .ledger
            .counters()
            .targets
            .iter()
            .map(|(kind, c)| {
                let before = done_before.get(kind).copied().unwrap_or(0);
                (kind.clone(), c.done.saturating_sub(before))
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        fields.insert(CREATED_FIGURE.to_string(), serde_json::json!(created));
        if let Some(sample) = &sample {
            fields.insert(
                sample::SAMPLE_FIGURE.to_string(),
                serde_json::json!(sample.conversations),
            );
        }
        let options = &ctx.config.options;
        // The choices the run loaded with, for the report's decisions.
        fields.insert(
            OPTIONS_FIGURE.to_string(),
            serde_json::json!({
                "history_months": options.history_months,
                "events_as_kobjects": options.events_as_kobjects,
                "timeline_notes": options.timeline_notes,
                "segment_max_age_days": options.segment_max_age_days,
                "rate_share": ctx.config.rate_share,
                "accept_defaults": ctx.config.accept_defaults,
                "delta": options.delta,
                "delete_removed": options.delete_removed,
                "overwrite_conflicts": options.overwrite_conflicts,
            }),
        );
    }
    if let Err(e) = ctx.ledger.finish_run(run_id, outcome_name, &figures).await {
        tracing::warn!("could not record the end of the run: {e}");
    }
    let _ = ctx.ledger.flush().await;
    ctx.keep_learnt_timeouts();
    backups::at_run_end(&ctx).await;
    if matches!(
        result,
        Ok(RunOutcome::Completed(_) | RunOutcome::Cancelled(_))
    ) {
        ctx.set_activity("writing the archive, the checklist and the report");
        if let Err(e) = crate::engine::report::finish(&ctx).await {
            ctx.log(
                LogLevel::Error,
                format!(
                    "could not write the report: {}",
                    crate::error_text::chain_once(&e)
                ),
            );
        }
    }
    ctx.set_activity("");
    // One last snapshot with the final figures, then stop the helpers.
    tokio::time::sleep(SNAPSHOT_INTERVAL * 2).await;
    publisher.abort();
    commander.abort();
    for watcher in token_watchers {
        watcher.abort();
    }
    ctx.emit(Event::Finished {
        summary: summary.clone(),
    });
    match result {
        Ok(RunOutcome::Completed(_)) => Ok(RunOutcome::Completed(summary)),
        Ok(RunOutcome::Cancelled(_)) => Ok(RunOutcome::Cancelled(summary)),
        other => other,
    }
}

/// After a run's load: a full run (the whole scope, not a sample, a retry or a delta) reads
/// again what changed in Intercom while it ran and carries it (one catch-up pass); a delta run
/// takes a census of what was deleted in Intercom (deleting it in Kustomer when asked).
async fn after_load(
    ctx: &Arc<Ctx>,
    phases: &[PhaseId],
    state: &std::sync::Mutex<RunState>,
    sampled: bool,
) -> anyhow::Result<()> {
    let options = &ctx.config.options;
    if options.delta {
        crate::engine::delta::census(ctx, options.delete_removed).await?;
        return Ok(());
    }
    let full = !sampled && options.retry_failed.is_none() && ctx.config.only.is_empty();
    if !full {
        return Ok(());
    }
    ctx.log(
        LogLevel::Info,
        "catch-up: reading what changed in Intercom while the run went on".to_string(),
    );
    set_state(state, RunState::Extracting);
    extract(ctx, None).await?;
    if ctx.control.is_cancelled() {
        return Ok(());
    }
    let changed = {
        let ledger = ctx.ledger.clone();
        tokio::task::spawn_blocking(move || crate::engine::delta::has_changed(&ledger)).await??
    };
    if !has_open(ctx, phases) && !changed {
        ctx.log(
            LogLevel::Info,
            "catch-up: nothing changed in Intercom while the run went on".to_string(),
        );
        set_state(state, RunState::Running);
        return Ok(());
    }
    ctx.log(
        LogLevel::Info,
        "catch-up: carrying what changed in Intercom while the run went on".to_string(),
    );
    match drive(ctx, phases, state).await? {
        RunOutcome::Completed(_) => {
            crate::engine::delta::census(ctx, false).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Binds the ledger to the Intercom app and the Kustomer org this run connects (the first run
/// records them; later runs with another workspace's tokens are refused before any write).
/// A side that cannot be asked now is checked by a later run.
async fn bind_identity(ctx: &Ctx) -> anyhow::Result<()> {
    let (me, token) = tokio::join!(ctx.intercom.me(), ctx.kustomer.token_current());
    let app = me.ok().and_then(|(me, _)| me.app);
    let token = token.ok();
    // What the report's header names: the workspace, its region, the org and both hosts.
    let known = [
        (
            META_INTERCOM_NAME,
            app.as_ref().and_then(|a| a.name.clone()),
        ),
        (
            META_INTERCOM_REGION,
            app.as_ref().and_then(|a| a.region.clone()),
        ),
        (
            META_KUSTOMER_NAME,
            token.as_ref().and_then(|t| t.org_name.clone()),
        ),
        (META_INTERCOM_URL, Some(ctx.config.intercom_url.clone())),
        (META_KUSTOMER_URL, Some(ctx.config.kustomer_url.clone())),
    ];
    for (key, value) in known {
        if let Some(value) = value {
            ctx.ledger.set_meta(key, &value)?;
        }
    }
    let app = app.and_then(|a| a.id_code);
    let org = token.and_then(|t| t.org_id);
    ctx.ledger
        .bind_identity(app.as_deref(), org.as_deref())
        .await?;
    Ok(())
}

fn set_state(state: &std::sync::Mutex<RunState>, value: RunState) {
    *state.lock().unwrap_or_else(|p| p.into_inner()) = value;
}

/// Decisions, then the phases in dependency order (concurrently where the table allows).
async fn drive(
    ctx: &Arc<Ctx>,
    phases: &[PhaseId],
    state: &std::sync::Mutex<RunState>,
) -> anyhow::Result<RunOutcome> {
    let unresolved = match decisions::prepare(ctx).await {
        Ok(u) => u,
        Err(e) if e.is::<Cancelled>() => {
            return Ok(RunOutcome::Cancelled(summarize(ctx, Instant::now())));
        }
        Err(e) => return Err(e),
    };
    if !unresolved.is_empty() {
        let open = if ctx.config.accept_defaults {
            decisions::apply_defaults(ctx).await?
        } else {
            unresolved
        };
        if !open.is_empty() {
            ctx.log(
                LogLevel::Warn,
                format!("{} decisions need the operator before loading", open.len()),
            );
            ctx.control.cancel();
            return Ok(RunOutcome::NeedsDecisions(open));
        }
    }
    set_state(state, RunState::Running);

    for pass in 0..=RETRY_PASSES {
        let ran = run_phases(ctx, phases, pass > 0).await?;
        // The counters decide the next pass: let the pass's queued writes land first.
        ctx.ledger.flush().await?;
        if ctx.control.is_cancelled() {
            return Ok(RunOutcome::Cancelled(summarize(ctx, Instant::now())));
        }
        if pass > 0 && ran == 0 {
            break;
        }
        if pass == 0 && !has_open(ctx, phases) {
            break;
        }
    }
    Ok(RunOutcome::Completed(summarize(ctx, Instant::now())))
}

/// Whether any kind of these phases still has records to load (see [`is_open`]).
fn has_open(ctx: &Ctx, phases: &[PhaseId]) -> bool {
    let counters = ctx.ledger.counters();
    counters
        .by_phase(phase_of_kind)
        .iter()
        .any(|(p, c)| phases.contains(p) && is_open_to(ctx, c))
}

/// [`is_open`] for this run: a run limited to a sample leaves the records it did not take
/// pending, so only sent ones (answers lost) call for another pass.
fn is_open_to(ctx: &Ctx, counts: &StateCounts) -> bool {
    if ctx.ledger.selection().is_some() {
        counts.sent > 0
    } else {
        is_open(counts)
    }
}

/// Whether a phase has records still to load: pending ones, and sent ones whose answer was lost
/// (a bulk request that timed out), which the phase settles by lookup when it runs again. A run
/// settles its own doubts rather than leave them to the next run.
fn is_open(counts: &StateCounts) -> bool {
    counts.pending > 0 || counts.sent > 0
}

/// Runs each phase once its dependencies are done. On a retry pass only phases with open
/// records run. Returns how many phases ran.
async fn run_phases(ctx: &Arc<Ctx>, phases: &[PhaseId], retry_pass: bool) -> anyhow::Result<usize> {
    let counts: BTreeMap<PhaseId, StateCounts> = ctx.ledger.counters().by_phase(phase_of_kind);
    let selected: Vec<PhaseId> = phases
        .iter()
        .copied()
        .filter(|p| !retry_pass || counts.get(p).is_some_and(|c| is_open_to(ctx, c)))
        .collect();
    if selected.is_empty() {
        return Ok(0);
    }
    let mut done: HashMap<PhaseId, watch::Sender<bool>> = HashMap::new();
    for p in PhaseId::ALL {
        // Phases outside this pass count as done for their dependents.
        done.insert(p, watch::Sender::new(!selected.contains(&p)));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for &id in &selected {
        let ctx = ctx.clone();
        let deps: Vec<watch::Receiver<bool>> = phase(id)
            .depends_on
            .iter()
            .map(|d| done[d].subscribe())
            .collect();
        let finished = done[&id].clone();
        tasks.spawn(async move {
            let result = run_one(&ctx, id, deps).await;
            finished.send_replace(true);
            // Dependents start at once; the pass waits for the backup.
            ctx.keep_learnt_timeouts();
            backups::after_phase(&ctx, id).await;
            (id, result)
        });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(()))) => {}
            Ok((id, Err(e))) => {
                if !e.is::<Cancelled>() {
                    ctx.log(
                        LogLevel::Error,
                        format!(
                            "{} stopped: {}",
                            id.label(),
                            crate::error_text::chain_once(&e)
                        ),
                    );
                    first_error.get_or_insert(e.context(format!("phase {} failed", id.label())));
                    ctx.control.cancel();
                }
            }
            Err(e) => {
                first_error
                    .get_or_insert(anyhow::anyhow!("a phase task stopped unexpectedly: {e}"));
                ctx.control.cancel();
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(selected.len()),
    }
}

async fn run_one(
    ctx: &Arc<Ctx>,
    id: PhaseId,
    mut deps: Vec<watch::Receiver<bool>>,
) -> anyhow::Result<()> {
    for dep in &mut deps {
        loop {
            if *dep.borrow_and_update() {
                break;
            }
            tokio::select! {
                changed = dep.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(Duration::from_millis(250)) => {
                    if ctx.control.is_cancelled() { return Err(Cancelled.into()); }
                }
            }
        }
    }
    // A Conversations phase fed by extraction starts on what is staged and follows it; the
    // Customers phase follows the contacts as they are staged (`load_bulk`).
    if !(id == PhaseId::Conversations && ctx.has_conversations_feed()) {
        let waits: Vec<&str> = sources_of(id)
            .into_iter()
            .filter(|k| !(id == PhaseId::Customers && *k == Kind::Contacts.as_str()))
            .collect();
        ctx.wait_extracted(&waits).await?;
    }
    ctx.control.checkpoint().await?;
    ctx.set_phase_status(id, PhaseStatus::Running);
    ctx.emit(Event::PhaseStarted { phase: id });
    let result = load::run_phase(id, ctx).await;
    let counts = ctx
        .ledger
        .counters()
        .by_phase(phase_of_kind)
        .remove(&id)
        .unwrap_or_default();
    let status = match (&result, counts.failed) {
        (Err(_), _) | (Ok(()), 1..) => PhaseStatus::DoneWithFailures,
        (Ok(()), 0) => PhaseStatus::Done,
    };
    if ctx.control.is_cancelled() && result.is_ok() {
        ctx.set_phase_status(id, PhaseStatus::Waiting);
        return Err(Cancelled.into());
    }
    ctx.set_phase_status(id, status);
    ctx.emit(Event::PhaseFinished {
        phase: id,
        done: counts.done + counts.archived + counts.manual,
        failed: counts.failed,
        skipped: counts.skipped,
    });
    result
}

/// Applies the front-end's commands until the run ends.
async fn obey(
    ctx: Arc<Ctx>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    state: Arc<std::sync::Mutex<RunState>>,
) {
    let mut before_pause = RunState::Running;
    while let Some(command) = commands.recv().await {
        match command {
            Command::Pause => {
                ctx.control.pause();
                let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                if !matches!(
                    *s,
                    RunState::Paused | RunState::Finished | RunState::Stopped | RunState::Failed(_)
                ) {
                    before_pause = s.clone();
                    *s = RunState::Paused;
                }
                ctx.log(
                    LogLevel::Info,
                    "paused: in-flight requests settle, nothing new starts",
                );
            }
            Command::Resume => {
                ctx.control.resume();
                let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                if *s == RunState::Paused {
                    *s = before_pause.clone();
                }
                ctx.log(LogLevel::Info, "resumed");
            }
            Command::Interrupt { reason } => {
                set_state(&state, RunState::Cancelling);
                crate::engine::interrupt::interrupt(&ctx, &reason);
            }
            Command::Cancel => {
                ctx.control.cancel();
                set_state(&state, RunState::Cancelling);
                ctx.log(
                    LogLevel::Warn,
                    "cancelling: a later run resumes where this one stops",
                );
            }
            Command::SetRateShare { share } => {
                ctx.kustomer.set_rate_share(share);
                ctx.log(
                    LogLevel::Info,
                    format!(
                        "Kustomer rate share set to {:.0}%",
                        ctx.kustomer.gate().share() * 100.0
                    ),
                );
            }
            Command::Retry { records } => match retry_failed(&ctx.ledger, &records).await {
                Ok(n) => ctx.log(LogLevel::Info, format!("{n} records put back to pending")),
                Err(e) => ctx.log(LogLevel::Error, format!("cannot retry: {e}")),
            },
            Command::Skip { records, reason } => {
                match skip_failed(&ctx.ledger, &records, &reason).await {
                    Ok(n) => ctx.log(LogLevel::Info, format!("{n} records skipped: {reason}")),
                    Err(e) => ctx.log(LogLevel::Error, format!("cannot skip: {e}")),
                }
            }
        }
    }
}

/// The reason a record the operator skipped carries into the report.
pub fn operator_skip_reason(reason: &str) -> String {
    match reason.trim() {
        "" => "skipped by the operator".to_string(),
        why => format!("skipped by the operator: {why}"),
    }
}

/// The operator's retry: those of `records` still failed go back to `pending`, which a run under
/// way loads in its retry passes and a later run loads like any pending record. Records no longer
/// failed (done or skipped since the list was read) are left alone. Returns how many moved.
/// The console calls this directly when no run is active, the run's command loop otherwise, so
/// both end in the same ledger states.
pub async fn retry_failed(ledger: &Ledger, records: &[RecordRef]) -> Result<usize, LedgerError> {
    // Records of unknown outcome are never sent again: Kustomer may hold them already.
    let failed = still_in(ledger, records, &[RecordState::Failed])?;
    let n = failed.len();
    if n > 0 {
        ledger.reset_to_pending(failed)?;
    }
    ledger.flush().await?;
    Ok(n)
}

/// The failed records `filter` matches (kind, phase, error class, as on the Errors screen) go back
/// to pending through [`retry_failed`], the console's own retry. Returns how many moved.
pub async fn retry_matching(
    ledger: &Ledger,
    filter: &crate::engine::context::RetryFilter,
) -> Result<usize, LedgerError> {
    const PAGE: usize = 1000;
    let query = crate::ledger::FailureFilter {
        kind: filter.kind.clone(),
        class: filter.class,
        text: None,
    };
    let mut records = Vec::new();
    let mut offset = 0;
    loop {
        let page = ledger.read(|r| r.failures(&query, offset, PAGE))?;
        offset += page.len();
        let last = page.len() < PAGE;
        records.extend(
            page.into_iter()
                .filter(|f| {
                    filter
                        .phase
                        .is_none_or(|p| phase_of_kind(&f.kind) == Some(p))
                })
                .map(|f| RecordRef {
                    object: f.kind,
                    source_id: f.source_id,
                }),
        );
        if last {
            break;
        }
    }
    retry_failed(ledger, &records).await
}

/// The operator's skip: those of `records` still failed (or of unknown outcome) become `skipped`
/// with [`operator_skip_reason`]. Returns how many.
pub async fn skip_failed(
    ledger: &Ledger,
    records: &[RecordRef],
    reason: &str,
) -> Result<usize, LedgerError> {
    let reason = operator_skip_reason(reason);
    // An unknown outcome the operator has checked in Kustomer is settled the same way.
    let failed = still_in(
        ledger,
        records,
        &[RecordState::Failed, RecordState::Unknown],
    )?;
    for (kind, source_id) in &failed {
        ledger.mark_skipped(kind, source_id, &reason)?;
    }
    ledger.flush().await?;
    Ok(failed.len())
}

/// Those of `records` (with what failed with a conversation among them) still in one of `states`.
fn still_in(
    ledger: &Ledger,
    records: &[RecordRef],
    states: &[RecordState],
) -> Result<Vec<(String, String)>, LedgerError> {
    ledger.read(|r| {
        let mut found = Vec::new();
        let mut push_if_in = |kind: &str, id: &str| -> Result<(), LedgerError> {
            if r.record(kind, id)?
                .is_some_and(|item| states.contains(&item.state))
                && !found
                    .iter()
                    .any(|(k, i): &(String, String)| k == kind && i == id)
            {
                found.push((kind.to_string(), id.to_string()));
            }
            Ok(())
        };
        for record in records {
            push_if_in(&record.object, &record.source_id)?;
            // What hangs on a conversation failed with it: retried with it, or the conversation
            // would load without its messages.
            if record.object == Kind::Conversations.as_str() {
                for (kind, id) in load::conversations::dependants(r, &record.source_id)? {
                    push_if_in(kind, &id)?;
                }
            }
        }
        Ok(found)
    })
}

/// Phase progress from the ledger's in-memory counters.
fn progress(ctx: &Ctx) -> Vec<PhaseProgress> {
    let counters = ctx.ledger.counters();
    let counts = counters.by_phase(phase_of_kind);
    PhaseId::ALL
        .iter()
        .map(|&p| {
            let c = counts.get(&p).copied().unwrap_or_default();
            let status = ctx.phase_status(p);
            PhaseProgress {
                phase: p,
                status,
                total: c.total(),
                done: c.done + c.archived + c.manual,
                failed: c.failed,
                skipped: c.skipped,
                unknown: c.unknown,
                in_flight: ctx.in_flight_count(p),
                // Until the phase starts, some of its records may be planned early (a few
                // customers for the conversations that name them): the staged count is the
                // better estimate of its size until then.
                expected: if status == PhaseStatus::Waiting {
                    sources_of(p).iter().map(|k| counters.source(k)).sum()
                } else {
                    0
                },
            }
        })
        .collect()
}

/// Where the migration stands between runs, from the ledger alone: each phase's figures, its
/// status read from them, and the state the last run left (finished, or stopped: resumable).
/// What a reopened console shows before anything runs.
pub(crate) fn ledger_snapshot(ctx: &Ctx) -> Snapshot {
    let mut phases = progress(ctx);
    for p in &mut phases {
        let settled = p.settled();
        p.in_flight = 0;
        p.status = if p.total == 0 || settled < p.total {
            PhaseStatus::Waiting
        } else if p.failed > 0 {
            PhaseStatus::DoneWithFailures
        } else {
            PhaseStatus::Done
        };
        if p.status != PhaseStatus::Waiting {
            p.expected = 0;
        }
    }
    let last = ctx.ledger.read(|r| r.runs()).ok().and_then(|runs| {
        runs.into_iter()
            .rev()
            .find(|r| matches!(r.command.as_str(), "run" | "retry" | "delta"))
    });
    // What the last run changed in place (a delta, a catch-up pass), as its screen showed it.
    let changes = last
        .as_ref()
        .map(|r| change_counts(&ctx.ledger, r.id))
        .unwrap_or_default();
    let overwrite_conflicts = last
        .as_ref()
        .and_then(|r| {
            r.figures
                .as_ref()?
                .get(OPTIONS_FIGURE)?
                .get("overwrite_conflicts")
        })
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let state = match last.as_ref().and_then(|r| r.outcome.as_deref()) {
        None if last.is_none() => RunState::Idle,
        Some("completed") => RunState::Finished,
        // Interrupted, waiting for decisions, failed, or killed before it could say.
        _ => RunState::Stopped,
    };
    let elapsed = last
        .as_ref()
        .and_then(|r| {
            Some(Duration::from_millis(
                (r.finished_ms? - r.started_ms).max(0) as u64,
            ))
        })
        .unwrap_or_default();
    // Phases not planned yet count the records staged for them, as their rows do (`~`).
    let total: u64 = phases.iter().map(PhaseProgress::size).sum();
    let settled: u64 = phases.iter().map(PhaseProgress::settled).sum();
    let left: u64 = phases.iter().map(PhaseProgress::left).sum();
    let about = if phases.iter().any(PhaseProgress::estimated) {
        "~"
    } else {
        ""
    };
    let figures = format!(
        "{} of {about}{} records settled, {about}{} left",
        crate::vocab::count_text(settled),
        crate::vocab::count_text(total),
        crate::vocab::count_text(left)
    );
    let activity = match state {
        RunState::Stopped => format!("Stopped: {figures}. s resumes where it left off."),
        RunState::Finished => format!("Finished: {figures}. 7 Summary verifies and reports."),
        _ => String::new(),
    };
    Snapshot {
        state,
        phases,
        elapsed,
        rate_share: ctx.kustomer.gate().share(),
        kustomer: ctx.kustomer.gate().budget(),
        intercom: ctx.intercom.gate().budget(),
        activity,
        changes,
        overwrite_conflicts,
        ..Snapshot::default()
    }
}

/// What run `run_id` changed in place, by kind of change over every record type, in the
/// ledger's order (one grouped read of the run's `changes` rows). A ledger that cannot be read
/// now shows none: the figure returns with the next snapshot.
pub(crate) fn change_counts(ledger: &Ledger, run_id: i64) -> Vec<ChangeCount> {
    let counts = match ledger.read(|r| r.change_counts(run_id)) {
        Ok(counts) => counts,
        Err(e) => {
            tracing::warn!("could not read the run's changes: {e}");
            return Vec::new();
        }
    };
    ChangeKind::ALL
        .into_iter()
        .filter_map(|change| {
            let count: u64 = counts
                .iter()
                .filter(|(_, c, _)| *c == change)
                .map(|(_, _, n)| n)
                .sum();
            (count > 0).then(|| ChangeCount {
                change: change.as_str().to_string(),
                count,
            })
        })
        .collect()
}

fn summarize(ctx: &Ctx, started: Instant) -> RunSummary {
    RunSummary {
        phases: progress(ctx),
        elapsed: started.elapsed(),
        kustomer_requests: ctx.kustomer.gate().budget().requests,
        intercom_requests: ctx.intercom.gate().budget().requests,
        defaults_taken: ctx.defaults_taken(),
        cancelled: ctx.control.is_cancelled(),
    }
}

/// The phases running now, in phase order.
fn running_phases(phases: &[PhaseProgress]) -> Vec<PhaseId> {
    phases
        .iter()
        .filter(|p| p.status == PhaseStatus::Running)
        .map(|p| p.phase)
        .collect()
}

/// Samples the run's figures into the ledger (fire-and-forget: a lost sample costs a point on a
/// chart, never the run).
fn record_sample(ctx: &Ctx, run_id: i64, phases: &[PhaseProgress]) {
    let kustomer = ctx.kustomer.gate().budget();
    let intercom = ctx.intercom.gate().budget();
    let mut running: Vec<String> = Vec::new();
    if !crate::engine::model::OBJECT_TYPES
        .iter()
        .all(|kind| ctx.is_extracted(kind))
    {
        running.push(EXTRACTION_LABEL.to_string());
    }
    running.extend(
        running_phases(phases)
            .into_iter()
            .map(|p| p.label().to_string()),
    );
    let sample = crate::ledger::Sample {
        run_id: Some(run_id),
        at_ms: crate::timefmt::now_unix_ms(),
        settled: phases.iter().map(PhaseProgress::settled).sum(),
        settled_by_phase: phases
            .iter()
            .map(|p| (p.phase.label().to_string(), p.settled()))
            .collect(),
        kustomer_requests: kustomer.requests,
        intercom_requests: intercom.requests,
        kustomer_used: kustomer.used,
        kustomer_allowed: kustomer.allowed,
        kustomer_throttled: kustomer.throttled,
        intercom_throttled: intercom.throttled,
        faults: ctx.kustomer.api().faults() + ctx.intercom.api().faults(),
        phases: running,
    };
    if let Err(e) = ctx.ledger.record_sample(sample) {
        tracing::warn!("could not sample the run's figures: {e}");
    }
}

async fn publish(
    ctx: Arc<Ctx>,
    state: Arc<std::sync::Mutex<RunState>>,
    tx: watch::Sender<Snapshot>,
    started: Instant,
    run_id: i64,
) {
    // What the runs before this one settled and sent is not this run's pace.
    let settled_of = |phases: &[PhaseProgress]| -> u64 {
        phases.iter().map(|p| p.done + p.failed + p.skipped).sum()
    };
    let requests_of =
        |ctx: &Ctx| ctx.kustomer.gate().budget().requests + ctx.intercom.gate().budget().requests;
    let mut meter = Meter::resuming(started, settled_of(&progress(&ctx)), requests_of(&ctx));
    let mut tick = tokio::time::interval(SNAPSHOT_INTERVAL);
    let mut ticks = 0u32;
    let mut running_before: Vec<PhaseId> = Vec::new();
    loop {
        tick.tick().await;
        let now = Instant::now();
        let phases = progress(&ctx);
        // Every few seconds, and whenever a phase starts or ends, so a phase shorter than the
        // interval still has its place on the report's timeline.
        let running = running_phases(&phases);
        if ticks.is_multiple_of(SAMPLE_EVERY) || running != running_before {
            record_sample(&ctx, run_id, &phases);
        }
        running_before = running;
        ticks = ticks.wrapping_add(1);
        let settled = settled_of(&phases);
        // Every phase left, those not planned yet counted by the records staged for them.
        let remaining: u64 = phases.iter().map(PhaseProgress::left).sum();
        let kustomer = ctx.kustomer.gate().budget();
        let intercom = ctx.intercom.gate().budget();
        meter.sample(now, settled, kustomer.requests + intercom.requests);
        // One grouped read of this run's changes per tick, off the async workers.
        let changes = {
            let ledger = ctx.ledger.clone();
            tokio::task::spawn_blocking(move || change_counts(&ledger, run_id))
                .await
                .unwrap_or_default()
        };
        let mut run_state = state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if ctx.control.state() == ControlState::Paused
            && !matches!(run_state, RunState::Finished | RunState::Stopped)
        {
            run_state = RunState::Paused;
        }
        // An ended run has no time left to estimate.
        let eta = match run_state {
            RunState::Finished | RunState::Stopped | RunState::Failed(_) => None,
            _ => meter.eta(remaining),
        };
        let snapshot = Snapshot {
            state: run_state,
            phases,
            extraction: ctx.extract_progress(),
            records_per_sec: meter.records_per_sec(),
            requests_per_sec: meter.requests_per_sec(),
            throughput: meter.history(),
            rate_share: ctx.kustomer.gate().share(),
            kustomer,
            intercom,
            elapsed: meter.elapsed(now),
            eta,
            activity: ctx.activity(),
            bulk_jobs_waiting: ctx.kustomer.bulk_jobs_waiting(),
            changes,
            overwrite_conflicts: ctx.config.options.overwrite_conflicts,
        };
        tx.send_replace(snapshot);
    }
}

/// Stages what is not yet in the ledger (resuming an interrupted extraction, fetching only what
/// changed on a re-run), reporting each type complete as it lands so its phase may start.
async fn extract(
    ctx: &Arc<Ctx>,
    conversations_staged: Option<
        tokio::sync::mpsc::Sender<crate::engine::extract::StagedConversations>,
    >,
) -> anyhow::Result<()> {
    ctx.set_activity("extracting the Intercom workspace");
    match extract_reporting(ctx, conversations_staged, |_| async { true }).await {
        Ok(summary) => {
            for problem in &summary.problems {
                ctx.log(
                    LogLevel::Warn,
                    format!(
                        "{} {} could not be read in full: {}",
                        problem.kind, problem.source_id, problem.problem
                    ),
                );
            }
            for listing in &summary.incomplete {
                ctx.log(
                    LogLevel::Warn,
                    format!("listing incomplete (a later run resumes it): {listing}"),
                );
            }
            let staged: u64 = summary.staged.values().sum();
            ctx.log(
                LogLevel::Info,
                format!(
                    "extraction done: {staged} records staged with {} requests",
                    summary.requests
                ),
            );
            ctx.mark_extracted(&crate::engine::model::OBJECT_TYPES);
            Ok(())
        }
        Err(crate::engine::extract::ExtractError::Cancelled) => {
            ctx.mark_extracted(&crate::engine::model::OBJECT_TYPES);
            Ok(())
        }
        Err(e) => {
            // Nothing may load from a workspace that could not be read.
            ctx.control.cancel();
            ctx.mark_extracted(&crate::engine::model::OBJECT_TYPES);
            Err(e.into())
        }
    }
}

/// Runs the extraction with the run's options, reporting each type's progress as it lands and
/// each type complete, so its phase may start; `also` sees every progress update after that and
/// stops following them by returning false. `conversations_staged` hears of each conversation
/// as it is staged (see [`crate::engine::extract::ExtractOptions`]).
pub(crate) async fn extract_reporting<F, Fut>(
    ctx: &Arc<Ctx>,
    conversations_staged: Option<
        tokio::sync::mpsc::Sender<crate::engine::extract::StagedConversations>,
    >,
    mut also: F,
) -> Result<crate::engine::extract::ExtractSummary, crate::engine::extract::ExtractError>
where
    F: FnMut(Vec<crate::engine::model::ExtractProgress>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let (tx, mut rx) = watch::channel(Vec::<crate::engine::model::ExtractProgress>::new());
    let forward = tokio::spawn({
        let ctx = ctx.clone();
        async move {
            while rx.changed().await.is_ok() {
                let rows = rx.borrow_and_update().clone();
                for row in &rows {
                    ctx.set_extract_progress(&row.object, row.fetched, row.total, row.complete);
                    if row.complete {
                        ctx.mark_extracted(&[row.object.as_str()]);
                    }
                }
                if !also(rows).await {
                    break;
                }
            }
        }
    });
    let options = crate::engine::extract::ExtractOptions {
        conversations_staged,
        ..crate::engine::extract::ExtractOptions::for_state_dir(&ctx.config.state_dir)
    };
    let result = crate::engine::extract::extract(
        &ctx.intercom,
        &ctx.ledger,
        &options,
        &ctx.control,
        Some(tx),
    )
    .await;
    let _ = forward.await;
    result
}
