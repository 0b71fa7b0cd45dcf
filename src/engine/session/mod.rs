//! The session: one migration from connection to summary, the API both front-ends drive. It
//! owns the state directory's ledger (between runs), both clients, the prepared plan and the
//! operator's decisions, and the active run's handle:
//!
//! - **Prepare**: [`Session::open`] checks both connections (`SessionSessionUpdate::Connections`),
//!   opens the migration ([`Ctx::open`], the same opening a run makes), extracts the Intercom
//!   workspace in the background with live counts, then computes the engine's proposals
//!   (`decisions::prepare`) and sends the Scope, Mapping and Prerequisites data. Extraction resumes
//!   from the ledger's cursors, so the run that follows only fetches what changed since.
//! - **Decisions** (`DecideAdmin`, `DecideField`, `SetSegmentInUse`, `SetBucket`,
//!   `CreatePrerequisite`) go to `engine::decisions`, and the session answers with fresh `Admins`
//!   / `Fields` / `Scope` / `Prerequisites` from the ledger. `AcceptDefaults` sets the run's
//!   `accept_defaults`, so the engine applies them and records each in the report.
//! - **The run**: the ledger is locked by one owner at a time, so [`Session::launch`] cancels a
//!   preparation still under way, waits for it, releases the ledger and only then starts the
//!   engine (`runner::start`). The headless runner follows the handle `launch` returns; the
//!   console's `StartRun` forwards its snapshots (≤ 10 Hz) and events as updates, and
//!   `Engine(Command)` goes to the handle. Decisions are refused with a notice while a run owns
//!   the ledger; failures are read through a `LedgerReader`, which needs no lock.
//! - **Retry and skip between runs** go straight to the ledger through the same
//!   `runner::retry_failed` / `runner::skip_failed` the run's command loop uses, so a record ends
//!   in the same state either way; a retried record is `pending` and the next run loads it.
//! - **Verify**: once the run has stopped and released the ledger, the session verifies
//!   (`engine::verify::verify`) and sends `SessionSessionUpdate::Summary` with the report, the archive
//!   and the manual checklist. A run that stopped for decisions prepares again.
//! - **Quit** (or the front-end closing its channel) cancels an active run — a later run resumes
//!   it — and waits for the engine to settle before returning.
//!
//! Endpoints and tokens saved during a session apply to it only (a token is never written
//! anywhere); the session checks the connections again and prepares afresh.

mod protocol;

pub use protocol::*;

/// What the probe creates and the question asked first, for the console's probe row.
pub use crate::engine::probe::{QUESTION as PROBE_QUESTION, plan as probe_plan};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::context::{Ctx, EngineConfig};
use crate::engine::decisions::{self, Decisions};
use crate::engine::handle::{EngineHandle, RunOutcome};
use crate::engine::kinds::phase_of_kind;
use crate::engine::model::{ExtractProgress, OBJECT_TYPES};
use crate::engine::plan::{build_plan, counts_from_ledger, default_bucket};
use crate::engine::runner;
use crate::kustomer::KustomerClient;
use crate::kustomer::roles;
use crate::ledger::{Ledger, LedgerError, LedgerReader};

/// The most failed records one `LoadFailures` answer holds.
const FAILURE_PAGE: usize = 5000;
/// How long the session waits for a ledger lock another owner is releasing (an engine that just
/// finished, a preparation that was just cancelled).
const LOCK_PATIENCE: Duration = Duration::from_secs(10);
/// How long Quit waits for a cancelled run to settle before leaving anyway.
const QUIT_PATIENCE: Duration = Duration::from_secs(60);

/// Serves a front-end over channels until it quits (or closes `commands`): the console's link
/// to the engine. Errors reach the operator as `SessionUpdate::Notice`; this returns an error
/// only if the session itself cannot go on.
pub async fn serve(
    config: EngineConfig,
    mut commands: mpsc::Receiver<SessionCommand>,
    updates: mpsc::Sender<SessionUpdate>,
) -> anyhow::Result<()> {
    let mut session = Session::new(config, updates);
    let mut backlog = std::collections::VecDeque::new();
    // Quit is heard while a command or a run's ending is still being handled (a verification
    // takes a while on a large migration): what was under way is dropped — it only read, or
    // wrote through the ledger, whose commits are whole — and the session shuts down at once.
    let mut quit = until_quit(&mut commands, &mut backlog, session.open()).await;
    while !quit {
        let next = match backlog.pop_front() {
            Some(command) => Ok(command),
            None => tokio::select! {
                command = commands.recv() => Ok(command.unwrap_or(SessionCommand::Quit)),
                finished = wait_run(&mut session.run) => Err(finished),
            },
        };
        quit = match next {
            Ok(SessionCommand::Quit) => true,
            Ok(command) => until_quit(&mut commands, &mut backlog, session.handle(command)).await,
            Err(finished) => {
                session.run = None;
                until_quit(&mut commands, &mut backlog, session.run_ended(finished)).await
            }
        };
    }
    session.shut_down().await;
    Ok(())
}

/// Drives `work` while taking the commands that arrive meanwhile into `backlog`; true when one
/// of them is Quit (or the front-end is gone), and `work` was dropped for it.
async fn until_quit(
    commands: &mut mpsc::Receiver<SessionCommand>,
    backlog: &mut std::collections::VecDeque<SessionCommand>,
    work: impl std::future::Future<Output = ()>,
) -> bool {
    tokio::pin!(work);
    loop {
        tokio::select! {
            () = &mut work => return false,
            command = commands.recv() => match command {
                Some(SessionCommand::Quit) | None => return true,
                Some(command) => backlog.push_back(command),
            },
        }
    }
}

/// One migration, from connection to summary (see the module's documentation).
pub struct Session {
    config: EngineConfig,
    updates: mpsc::Sender<SessionUpdate>,
    /// The engine context used between runs (holds the ledger lock).
    prepared: Option<Arc<Ctx>>,
    /// Extraction and proposals under way on `prepared`.
    preparing: Option<JoinHandle<()>>,
    /// The active run's forwarder (a run started by [`Session::start_run`]).
    run: Option<JoinHandle<anyhow::Result<RunOutcome>>>,
    /// Commands for the active run's engine.
    commander: Option<mpsc::UnboundedSender<Command>>,
    /// Whether this session has held the ledger before (a preparation, a run): a lock found
    /// taken is then most likely its own being released, worth waiting for.
    held_ledger: bool,
}

/// Resolves when the active run's forwarder ends; never while there is no run.
async fn wait_run(
    run: &mut Option<JoinHandle<anyhow::Result<RunOutcome>>>,
) -> anyhow::Result<RunOutcome> {
    match run {
        Some(task) => match task.await {
            Ok(result) => result,
            Err(e) => Err(anyhow::anyhow!("the run stopped unexpectedly: {e}")),
        },
        None => std::future::pending().await,
    }
}

impl Session {
    /// A session on `config` that tells its front-end what happens on `updates`.
    pub fn new(config: EngineConfig, updates: mpsc::Sender<SessionUpdate>) -> Session {
        Session {
            config,
            updates,
            prepared: None,
            preparing: None,
            run: None,
            commander: None,
            held_ledger: false,
        }
    }

    /// A session whose driver reads no updates (the headless runner, which follows the run's
    /// handle itself): what it would be told is dropped.
    pub fn unattended(config: EngineConfig) -> Session {
        let (updates, _) = mpsc::channel(1);
        Session::new(config, updates)
    }

    /// Checks both connections and starts preparing the migration (extraction, proposals) in
    /// the background; sends the failed records a previous run left.
    pub async fn open(&mut self) {
        self.held_ledger = true;
        self.check_connections().await;
        self.start_preparing().await;
        self.send_failures().await;
    }

    /// The environment variables of the tokens not given yet (the console opens without them).
    fn tokens_missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.config.intercom_token.is_empty() {
            missing.push(crate::config::INTERCOM_TOKEN_ENV);
        }
        if self.config.kustomer_token.is_empty() {
            missing.push(crate::config::KUSTOMER_TOKEN_ENV);
        }
        missing
    }

    /// Waits until the preparation under way (extraction, proposals) has ended.
    pub async fn prepared(&mut self) {
        if let Some(task) = self.preparing.take() {
            let _ = task.await;
        }
    }

    /// Waits for the active run to end and does what follows it (the summary after a
    /// completed run, a new preparation after one that stopped for decisions). Returns how the
    /// run ended, or None when no run was active.
    pub async fn finish_run(&mut self) -> Option<anyhow::Result<()>> {
        self.run.as_ref()?;
        let finished = wait_run(&mut self.run).await;
        self.run = None;
        let ended = match &finished {
            Ok(_) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("{}", crate::error_text::chain_once(e))),
        };
        self.run_ended(finished).await;
        Some(ended)
    }

    async fn send(&self, update: SessionUpdate) {
        // The front-end gone means we are shutting down; nothing to tell.
        let _ = self.updates.send(update).await;
    }

    async fn notice(&self, text: impl Into<String>) {
        self.send(SessionUpdate::Notice(text.into())).await;
    }

    /// Applies one command of the front-end (`Quit` is the driver's: see [`serve`]).
    pub async fn handle(&mut self, request: SessionCommand) {
        match request {
            SessionCommand::Quit => {}
            SessionCommand::SaveEndpoint { side, url } => {
                match side.as_str() {
                    "intercom" => self.config.intercom_url = url,
                    "kustomer" => self.config.kustomer_url = url,
                    _ => return,
                }
                self.reconnect_and_prepare().await;
            }
            SessionCommand::SaveToken { side, token } => {
                match side.as_str() {
                    "intercom" => self.config.intercom_token = token,
                    "kustomer" => self.config.kustomer_token = token,
                    _ => return,
                }
                self.notice("Token saved for this session (never written to disk).")
                    .await;
                self.reconnect_and_prepare().await;
            }
            SessionCommand::Reconnect => {
                self.check_connections().await;
                if let Some(ctx) = self.ctx() {
                    self.send_prerequisites(&ctx).await;
                }
            }
            SessionCommand::SetHistoryMonths(months) => {
                self.config.options.history_months = months;
                if let Some(ctx) = self.ctx() {
                    self.send_scope(&ctx.ledger).await;
                }
            }
            SessionCommand::SetBucket { object, bucket } => {
                if let Some(ctx) = self.ctx_for_decisions().await {
                    let result = decisions::decide_bucket(&ctx.ledger, &object, bucket).await;
                    self.report_error(result.map_err(anyhow::Error::from)).await;
                    self.send_scope(&ctx.ledger).await;
                }
            }
            SessionCommand::SetSegmentInUse { id, in_use } => {
                if let Some(ctx) = self.ctx_for_decisions().await {
                    let result = decisions::decide_segment(&ctx.ledger, &id, in_use).await;
                    self.report_error(result.map_err(anyhow::Error::from)).await;
                    self.send_scope(&ctx.ledger).await;
                }
            }
            SessionCommand::DecideAdmin { admin_id, decision } => {
                if let Some(ctx) = self.ctx_for_decisions().await {
                    let result = decisions::decide_admin(&ctx.ledger, &admin_id, decision).await;
                    self.report_error(result.map_err(anyhow::Error::from)).await;
                    self.send_mappings(&ctx).await;
                    // The users check counts the admins still undecided.
                    self.send_prerequisites(&ctx).await;
                }
            }
            SessionCommand::DecideField {
                model,
                source_name,
                decision,
            } => {
                if let Some(ctx) = self.ctx_for_decisions().await {
                    let result =
                        decisions::decide_field(&ctx.ledger, &model, &source_name, decision).await;
                    self.report_error(result.map_err(anyhow::Error::from)).await;
                    self.send_mappings(&ctx).await;
                }
            }
            SessionCommand::CreatePrerequisite { name } => {
                if let Some(ctx) = self.ctx_for_decisions().await {
                    let check = decisions::create_prerequisite(&ctx, &name).await;
                    self.notice(format!("{}: {}", check.name, check.detail))
                        .await;
                    self.send_prerequisites(&ctx).await;
                }
            }
            SessionCommand::AcceptRestampedTimes { accept } => {
                if let Some(ctx) = self.ctx_for_decisions().await {
                    let result = decisions::accept_restamped_times(&ctx.ledger, accept).await;
                    self.report_error(result.map_err(anyhow::Error::from)).await;
                    self.notice(if accept {
                        "Re-stamped times accepted for this migration: the run goes ahead without org.admin and the report says so."
                    } else {
                        "Re-stamped times refused: the run starts only with a key holding org.admin."
                    })
                    .await;
                    self.send_prerequisites(&ctx).await;
                }
            }
            SessionCommand::ChooseKnowledgeBase { id, label } => {
                if let Some(ctx) = self.ctx_for_decisions().await {
                    let result = decisions::choose_knowledge_base(&ctx.ledger, &id, &label).await;
                    let chosen = result.is_ok();
                    self.report_error(result.map_err(anyhow::Error::from)).await;
                    if chosen {
                        self.notice(format!(
                            "KB categories and articles go to knowledge base {label} (saved in mapping.toml)."
                        ))
                        .await;
                    }
                    self.send_prerequisites(&ctx).await;
                }
            }
            SessionCommand::RunProbe => {
                if let Some(ctx) = self.ctx_for_decisions().await {
                    self.notice("Probing the Kustomer org…").await;
                    let findings = crate::engine::probe::probe(&ctx.kustomer).await;
                    let stored =
                        crate::engine::probe::record(&ctx.ledger, &ctx.config.state_dir, &findings)
                            .await;
                    self.report_error(stored).await;
                    let refused = findings
                        .iter()
                        .filter(|f| f.outcome == crate::engine::probe::Outcome::Refused)
                        .count();
                    self.notice(format!(
                        "Probe done: {refused} assumption(s) refused; what it left on the org is listed in MANUAL.md."
                    ))
                    .await;
                    self.send_prerequisites(&ctx).await;
                }
            }
            SessionCommand::AcceptDefaults => {
                // Taken now, so Mapping and Prerequisites show them decided (each is a stored
                // decision, listed in the report); the run also takes the default for anything
                // still open when it starts (a field extraction found later).
                self.config.accept_defaults = true;
                let Some(ctx) = self.ctx_for_decisions().await else {
                    return;
                };
                match decisions::apply_defaults(&ctx).await {
                    Ok(open) => {
                        let taken = ctx.defaults_taken().len();
                        let left = if open.is_empty() {
                            String::new()
                        } else {
                            format!(" Still open (no default): {}", open.join("; "))
                        };
                        self.notice(format!(
                            "Defaults accepted: {taken} decisions taken (the report lists each).{left}"
                        ))
                        .await;
                    }
                    Err(e) => self.report_error(Err(e)).await,
                }
                self.send_mappings(&ctx).await;
                self.send_prerequisites(&ctx).await;
            }
            SessionCommand::StartRun => self.start_run().await,
            SessionCommand::StartSample { conversations } => {
                self.config.options.sample = Some(conversations);
                self.start_run().await;
                self.config.options.sample = None;
            }
            SessionCommand::StartDelta { delete_removed } => self.start_delta(delete_removed).await,
            SessionCommand::Engine(command) => match (&self.run, &self.commander) {
                (Some(_), Some(commander)) => {
                    if commander.send(command).is_err() {
                        self.notice("The run is ending: try again in a moment.")
                            .await;
                    }
                }
                _ => self.command_between_runs(command).await,
            },
            SessionCommand::LoadFailures { filter } => {
                let result = load_failures(&self.config.state_dir, &filter);
                match result {
                    Ok(failures) => self.send(SessionUpdate::Failures(failures)).await,
                    Err(e) => self.notice(format!("cannot read the failures: {e}")).await,
                }
            }
            SessionCommand::LoadFailureDetail { record } => {
                match load_failure_detail(&self.config.state_dir, &record) {
                    Ok(Some(detail)) => self.send(SessionUpdate::FailureDetail(detail)).await,
                    Ok(None) => {
                        self.notice(format!(
                            "{} {} is no longer failed.",
                            record.object, record.source_id
                        ))
                        .await
                    }
                    Err(e) => self.notice(format!("cannot read the record: {e}")).await,
                }
            }
            SessionCommand::Rollback { confirmed } => self.rollback(confirmed).await,
            SessionCommand::Verify => {
                if self.run.is_some() {
                    self.notice("Verification runs once the run has ended.")
                        .await;
                } else {
                    self.summarize().await;
                }
            }
        }
    }

    /// Shows the rollback's plan, or (confirmed) runs it and says what it did.
    async fn rollback(&mut self, confirmed: bool) {
        let Some(ctx) = self.ctx_for_decisions().await else {
            return;
        };
        if !confirmed {
            match crate::engine::rollback::plan(&ctx.ledger) {
                Ok(plan) => {
                    self.send(SessionUpdate::RollbackPlan(plan.render_short()))
                        .await
                }
                Err(e) => self.notice(format!("cannot plan the rollback: {e}")).await,
            }
            return;
        }
        let text = match crate::engine::rollback::rollback(&ctx.ledger, &ctx.kustomer, |_| {}).await
        {
            Ok(done) => format!(
                "Rolled back: {} record(s) deleted from Kustomer, {} left; the ledger is ready for a fresh run.",
                done.deleted.values().sum::<u64>(),
                done.left.len()
            ),
            Err(e) => format!("cannot roll back: {e}"),
        };
        self.notice(text).await;
    }

    /// Retry and skip need no run: they change the ledger, and the next run loads what was put
    /// back to pending. Pause, resume, cancel and the rate share act on a run only.
    async fn command_between_runs(&mut self, command: Command) {
        let (records, skip_reason) = match command {
            Command::Retry { records } => (records, None),
            Command::Skip { records, reason } => (records, Some(reason)),
            _ => {
                self.notice("No run is active: press s on the Run screen.")
                    .await;
                return;
            }
        };
        let Some(ctx) = self.ctx_for_decisions().await else {
            return;
        };
        let text = match skip_reason {
            None => match runner::retry_failed(&ctx.ledger, &records).await {
                Ok(0) => "Nothing to retry: those records are no longer failed, or their outcome \
                          is unknown (never sent again, it could record them twice: check them in \
                          Kustomer; S marks one settled)."
                    .to_string(),
                Ok(n) => format!(
                    "{} queued: s on the Run screen (or :run) loads them.",
                    records_word(n)
                ),
                Err(e) => format!("cannot retry: {e}"),
            },
            Some(reason) => match runner::skip_failed(&ctx.ledger, &records, &reason).await {
                Ok(0) => {
                    "Nothing to skip: those records are no longer failed or unknown.".to_string()
                }
                Ok(n) => format!("{} skipped: {reason}", records_word(n)),
                Err(e) => format!("cannot skip: {e}"),
            },
        };
        self.notice(text).await;
    }

    /// The failed records as a front-end first shows them (no filter yet), so the header
    /// counts a previous run's failures before the Errors screen is opened.
    async fn send_failures(&self) {
        if let Ok(failures) = load_failures(&self.config.state_dir, &FailureFilter::default()) {
            self.send(SessionUpdate::Failures(failures)).await;
        }
    }

    async fn report_error(&self, result: anyhow::Result<()>) {
        if let Err(e) = result {
            self.notice(crate::error_text::chain_once(&e)).await;
        }
    }

    fn ctx(&self) -> Option<Arc<Ctx>> {
        self.prepared.clone()
    }

    /// The context for a decision, or a notice saying why there is none.
    async fn ctx_for_decisions(&mut self) -> Option<Arc<Ctx>> {
        if self.run.is_some() {
            self.notice("The run owns the ledger: decide after it ends (or stop it with x).")
                .await;
            return None;
        }
        if self.prepared.is_none() {
            match self.open_ctx().await {
                Ok(ctx) => self.prepared = Some(ctx),
                Err(e) => {
                    self.notice(crate::error_text::chain_once(&e)).await;
                    return None;
                }
            }
        }
        self.ctx()
    }

    /// Checks both connections (a quick request to each side) and sends what was found.
    pub async fn check_connections(&self) -> Vec<ConnectionInfo> {
        let given = |token: &crate::http::Secret| (!token.is_empty()).then(|| token.clone());
        let (intercom, kustomer) = tokio::join!(
            crate::engine::connect::check_intercom(
                &self.config.intercom_url,
                given(&self.config.intercom_token)
            ),
            crate::engine::connect::check_kustomer(
                &self.config.kustomer_url,
                given(&self.config.kustomer_token)
            ),
        );
        let connections = vec![intercom, kustomer];
        self.send(SessionUpdate::Connections(connections.clone()))
            .await;
        connections
    }

    async fn reconnect_and_prepare(&mut self) {
        self.check_connections().await;
        if self.run.is_none() {
            self.stop_preparing().await;
            self.start_preparing().await;
        }
    }

    /// Opens the migration ([`Ctx::open`], waiting for a lock being released) with its events
    /// forwarded to the front-end.
    async fn open_ctx(&self) -> anyhow::Result<Arc<Ctx>> {
        let (event_tx, mut event_rx) = mpsc::unbounded_channel();
        let config = self.config.clone();
        let ctx = when_unlocked(true, || {
            let (config, event_tx) = (config.clone(), event_tx.clone());
            async move { Ctx::open(config, event_tx) }
        })
        .await?;
        let updates = self.updates.clone();
        tokio::spawn(async move {
            while let Some(event) = event_rx.recv().await {
                if updates.send(SessionUpdate::Event(event)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Arc::new(ctx))
    }

    /// Opens a context and starts extraction and proposals in the background.
    async fn start_preparing(&mut self) {
        let missing = self.tokens_missing();
        if !missing.is_empty() {
            self.notice(format!(
                "{} not set: on 1 Connect, Enter on the token row to paste it (kept for this session only), \
                 or quit and export it.",
                missing.join(" and ")
            ))
            .await;
            return;
        }
        let ctx = match self.open_ctx().await {
            Ok(ctx) => ctx,
            Err(e) => {
                self.notice(crate::error_text::chain_once(&e)).await;
                return;
            }
        };
        self.send_scope(&ctx.ledger).await;
        // Where an earlier run left the migration, before anything runs (a reopened console).
        self.send(SessionUpdate::Snapshot(runner::ledger_snapshot(&ctx)))
            .await;
        match stored_summary(&ctx.ledger, &self.config.state_dir) {
            Ok(Some(update)) => self.send(update).await,
            Ok(None) => {}
            Err(e) => {
                self.notice(format!(
                    "cannot read the last verification: {}",
                    crate::error_text::chain_once(&e)
                ))
                .await
            }
        }
        self.prepared = Some(ctx.clone());
        let updates = self.updates.clone();
        let history_months = self.config.options.history_months;
        self.preparing = Some(tokio::spawn(async move {
            if let Err(e) = prepare(&ctx, &updates, history_months).await {
                let _ = updates
                    .send(SessionUpdate::Notice(format!(
                        "preparing the migration: {}",
                        crate::error_text::chain_once(&e)
                    )))
                    .await;
            }
        }));
    }

    /// Cancels a preparation still under way, waits for it and releases the ledger.
    async fn stop_preparing(&mut self) {
        if let Some(ctx) = &self.prepared {
            ctx.control.cancel();
        }
        if let Some(task) = self.preparing.take() {
            let _ = task.await;
        }
        self.prepared = None;
    }

    /// Starts a run: cancels a preparation still under way, releases the ledger and starts the
    /// engine on the session's configuration and decisions. The driver follows the handle (the
    /// headless runner); [`SessionCommand::StartRun`] does this and forwards it as updates.
    /// Refuses ([`RestampRefused`]) while the Kustomer key lacks `org.admin` and the operator
    /// has not accepted re-stamped times (the flag, or the Prerequisites decision), and
    /// ([`crate::engine::probe::ProbeRefused`]) while the stored probe found an assumption
    /// refused that has no fallback and that this migration's records need.
    pub async fn launch(&mut self) -> anyhow::Result<EngineHandle> {
        let missing = self.tokens_missing();
        if !missing.is_empty() {
            anyhow::bail!(
                "{} not set: give it on 1 Connect (Enter on the token row) first",
                missing.join(" and ")
            );
        }
        let restamped_times = self.restamp_check().await?;
        crate::engine::probe::start_check_in(
            &self.config.state_dir,
            &self.config.only,
            self.config.options.accept_restamped_times || restamped_times,
        )?;
        self.stop_preparing().await;
        let mut config = self.config.clone();
        config.options.restamped_times = restamped_times;
        when_unlocked(self.held_ledger, || runner::start(config.clone())).await
    }

    /// The start check on the key's roles: whether this run goes ahead with re-stamped message
    /// and note times (the key lacks `org.admin` and the operator accepted it), or a refusal.
    /// A key whose roles cannot be read is not refused here: `doctor` and the Connect screen
    /// warn about it.
    async fn restamp_check(&self) -> anyhow::Result<bool> {
        let info = crate::engine::connect::check_kustomer(
            &self.config.kustomer_url,
            Some(self.config.kustomer_token.clone()),
        )
        .await;
        if info.status == CheckStatus::Fail
            || info.roles.is_empty()
            || roles::keeps_times(&info.roles)
        {
            return Ok(false);
        }
        let decided = LedgerReader::open(&self.config.state_dir)
            .ok()
            .and_then(|reader| {
                decisions::restamped_times_accepted_in(&reader)
                    .ok()
                    .flatten()
            });
        if self.config.options.accept_restamped_times || decided == Some(true) {
            Ok(true)
        } else {
            Err(RestampRefused.into())
        }
    }

    async fn start_run(&mut self) {
        if self.run.is_some() {
            self.notice("A run is already under way.").await;
            return;
        }
        let handle = match self.launch().await {
            Ok(handle) => handle,
            Err(e) => {
                self.notice(format!(
                    "cannot start the run: {}",
                    crate::error_text::chain_once(&e)
                ))
                .await;
                return;
            }
        };
        let (mut snapshots, mut events, commands, task) = handle.split();
        self.commander = Some(commands);
        let updates = self.updates.clone();
        self.run = Some(tokio::spawn(async move {
            let mut snapshots_open = true;
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Some(event) => {
                            if updates.send(SessionUpdate::Event(event)).await.is_err() { break; }
                        }
                        // The engine's context is gone: the run has ended.
                        None => break,
                    },
                    changed = snapshots.changed(), if snapshots_open => match changed {
                        Ok(()) => {
                            let snapshot = snapshots.borrow_and_update().clone();
                            if updates.send(SessionUpdate::Snapshot(snapshot)).await.is_err() { break; }
                        }
                        Err(_) => snapshots_open = false,
                    },
                }
            }
            let last = snapshots.borrow().clone();
            let _ = updates.send(SessionUpdate::Snapshot(last)).await;
            match task.await {
                Ok(result) => result,
                Err(e) => Err(anyhow::anyhow!("the engine stopped unexpectedly: {e}")),
            }
        }));
    }

    /// Starts a delta run once a run has completed. Where records deleted in Intercom are still
    /// in Kustomer and the operator has not said what to do with them, asks first
    /// ([`SessionUpdate::RemovedKept`]).
    async fn start_delta(&mut self, delete_removed: Option<bool>) {
        if self.run.is_some() {
            self.notice("A run is already under way.").await;
            return;
        }
        let (completed, removed) = match delta_standing(&self.config.state_dir) {
            Ok(standing) => standing,
            Err(e) => {
                self.notice(format!("cannot start the delta: {e}")).await;
                return;
            }
        };
        if !completed {
            self.notice(
                "A delta carries what changed in Intercom since a completed run, and none has \
                 completed yet: press s on 5 Run and let the migration finish first.",
            )
            .await;
            return;
        }
        let delete_removed = match delete_removed {
            Some(delete) => delete,
            None if removed > 0 => {
                self.send(SessionUpdate::RemovedKept { records: removed })
                    .await;
                return;
            }
            None => false,
        };
        self.config.options.delta = true;
        self.config.options.delete_removed = delete_removed;
        self.start_run().await;
        self.config.options.delta = false;
        self.config.options.delete_removed = false;
    }

    async fn run_ended(&mut self, outcome: anyhow::Result<RunOutcome>) {
        self.commander = None;
        match outcome {
            Ok(RunOutcome::Completed(_)) => self.summarize().await,
            Ok(RunOutcome::Cancelled(_)) => {
                self.notice("Run stopped; the next start resumes it.").await;
            }
            Ok(RunOutcome::NeedsDecisions(lines)) => {
                self.notice(format!(
                    "{} decisions need you first: press 4 (Mapping), decide or accept defaults (D), then s.",
                    lines.len()
                ))
                .await;
                self.start_preparing().await;
            }
            Err(e) => {
                self.notice(format!(
                    "the run failed: {}",
                    crate::error_text::chain_once(&e)
                ))
                .await
            }
        }
    }

    /// Verifies against Kustomer and sends the Summary (report, archive, checklist).
    /// Verifies the migration: the ledger's accounting beside Kustomer's own counts, once no
    /// preparation holds the ledger (the run's own lock is waited out). What `Verify` sends as
    /// the summary, and what the headless demo prints.
    pub async fn verify(&mut self) -> anyhow::Result<crate::engine::verify::Verification> {
        let ledger = self.released_ledger().await?;
        self.verify_on(&ledger).await
    }

    /// The ledger once this session's preparation has released it and no run holds it.
    async fn released_ledger(&mut self) -> anyhow::Result<Ledger> {
        self.stop_preparing().await;
        let dir = self.config.state_dir.clone();
        when_unlocked(true, || {
            let dir = dir.clone();
            async move { Ok(Ledger::open(&dir)?) }
        })
        .await
    }

    async fn verify_on(
        &self,
        ledger: &Ledger,
    ) -> anyhow::Result<crate::engine::verify::Verification> {
        let kustomer = KustomerClient::connect(
            &self.config.kustomer_url,
            self.config.kustomer_token.clone(),
            self.config.kustomer_rate,
            self.config.rate_share,
        )?;
        crate::engine::context::start_from_kept_timeouts(ledger, kustomer.api());
        let verification = crate::engine::verify::verify(ledger, &kustomer).await?;
        // The report (where a run wrote one) shows this verification from now on.
        crate::engine::report::refresh(ledger, &self.config.state_dir)?;
        Ok(verification)
    }

    /// Verifies and sends the Summary (report, archive, checklist) and the decisions the run
    /// loaded with.
    async fn summarize(&mut self) {
        let result = async {
            let ledger = self.released_ledger().await?;
            let verification = self.verify_on(&ledger).await?;
            // The run may have taken defaults: show the decisions it loaded with.
            self.send(SessionUpdate::Admins(
                decisions::admin_mappings(&ledger).await?,
            ))
            .await;
            self.send(SessionUpdate::Fields(
                decisions::field_mappings(&ledger).await?,
            ))
            .await;
            summary_update(&ledger, &self.config.state_dir, verification.types)
        }
        .await;
        self.send_or_notice(result, VERIFY_FAILED).await;
    }

    /// Sends `update`, or a notice that `failed`, with the error's causes.
    async fn send_or_notice(&self, update: anyhow::Result<SessionUpdate>, failed: &str) {
        match update {
            Ok(update) => self.send(update).await,
            Err(e) => {
                let causes = crate::error_text::chain_once(&e);
                self.notice(format!("{failed}: {causes}")).await
            }
        }
    }

    async fn send_scope(&self, ledger: &Ledger) {
        self.send_or_notice(scope_update(ledger, &self.config), "cannot read the scope")
            .await;
        match disk_update(ledger).await {
            Ok(update) => self.send(update).await,
            Err(e) => {
                self.notice(format!("cannot estimate the disk: {e:#}"))
                    .await
            }
        }
    }

    async fn send_mappings(&self, ctx: &Ctx) {
        send_mappings(ctx, &self.updates).await;
    }

    /// Runs the prerequisite checks again and sends them (after a decision, a creation, a run).
    async fn send_prerequisites(&self, ctx: &Ctx) {
        let checks = prerequisites(ctx).await;
        self.send(SessionUpdate::Prerequisites(checks)).await;
    }

    /// Cancels an active run and waits (bounded) for it to settle, then releases the ledger.
    pub async fn shut_down(&mut self) {
        if let Some(commander) = &self.commander {
            let _ = commander.send(Command::Cancel);
        }
        if let Some(run) = self.run.take() {
            let _ = tokio::time::timeout(QUIT_PATIENCE, run).await;
        }
        self.stop_preparing().await;
    }
}

/// Whether a run of the migration in `state_dir` has completed (what a delta run needs: a full
/// run, or a delta, to the end), and how many records deleted in Intercom are still in
/// Kustomer. Read without the ledger's lock; a state directory without a ledger has neither.
fn delta_standing(state_dir: &Path) -> Result<(bool, u64), LedgerError> {
    let reader = match LedgerReader::open(state_dir) {
        Ok(reader) => reader,
        Err(LedgerError::Missing { .. }) => return Ok((false, 0)),
        Err(e) => return Err(e),
    };
    let completed = reader.runs()?.iter().any(|r| {
        r.outcome.as_deref() == Some("completed") && matches!(r.command.as_str(), "run" | "delta")
    });
    Ok((completed, reader.removed_kept()?.len() as u64))
}

/// Extraction with live Scope counts, then the engine's proposals for Mapping and the
/// prerequisite checks.
async fn prepare(
    ctx: &Arc<Ctx>,
    updates: &mpsc::Sender<SessionUpdate>,
    history_months: Option<u32>,
) -> anyhow::Result<()> {
    let scope_updates = updates.clone();
    let extracted = runner::extract_reporting(ctx, None, move |rows| {
        let updates = scope_updates.clone();
        async move {
            let items = rows.iter().map(live_scope_item).collect();
            let update = SessionUpdate::Scope {
                items,
                segments: Vec::new(),
                history_months,
            };
            updates.send(update).await.is_ok()
        }
    })
    .await;
    match extracted {
        Ok(summary) => {
            let staged: u64 = summary.staged.values().sum();
            ctx.log(
                LogLevel::Info,
                format!("workspace read: {staged} records staged; review Scope and Mapping, then press s on Run"),
            );
        }
        Err(crate::engine::extract::ExtractError::Cancelled) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    ctx.mark_extracted(&OBJECT_TYPES);
    let mut config = ctx.config.clone();
    config.options.history_months = history_months;
    let _ = updates.send(scope_update(&ctx.ledger, &config)?).await;
    let unresolved = decisions::prepare(ctx).await?;
    send_mappings(ctx, updates).await;
    let checks = prerequisites(ctx).await;
    let _ = updates.send(SessionUpdate::Prerequisites(checks)).await;
    let _ = updates.send(scope_update(&ctx.ledger, &config)?).await;
    let _ = updates.send(disk_update(&ctx.ledger).await?).await;
    if !unresolved.is_empty() {
        let _ = updates
            .send(SessionUpdate::Notice(open_decisions_notice(&unresolved)))
            .await;
    }
    Ok(())
}

/// What is left to decide, split as the console counts it: the header's "! N unresolved" is
/// Mapping's share (admins and fields); prerequisites are decided on their own screen.
fn open_decisions_notice(unresolved: &[String]) -> String {
    let prerequisites = unresolved
        .iter()
        .filter(|line| line.starts_with(decisions::PREREQUISITE_LINE))
        .count();
    let mapping = unresolved.len() - prerequisites;
    let mut parts = Vec::new();
    if mapping > 0 {
        parts.push(format!("{mapping} on Mapping (4)"));
    }
    if prerequisites > 0 {
        parts.push(format!("{prerequisites} on Prerequisites (3)"));
    }
    let open = match unresolved.len() {
        1 => "1 decision is open".to_string(),
        n => format!("{n} decisions are open"),
    };
    format!(
        "{open}: {}. Decide there, or press D on 4 to accept the defaults.",
        parts.join(", ")
    )
}

/// Why a run was not started: the key lacks `org.admin` and nobody accepted re-stamped times.
#[derive(Debug, thiserror::Error)]
#[error(
    "the Kustomer API key lacks {role}: without it the {cost}. Nothing was created. Create a key \
     with {role} (Kustomer: Settings › Security › API Keys; roles cannot be edited) and set \
     KUSTOMER_API_KEY to it, or accept re-stamped times: `i2k run --accept-restamped-times`, or \
     on the console's Prerequisites screen, c on \"{KEY_ROLES_CHECK}\"",
    role = roles::ORG_ADMIN,
    cost = roles::RESTAMP_COST
)]
pub struct RestampRefused;

/// Every prerequisite check, with the key's roles last.
async fn prerequisites(ctx: &Ctx) -> Vec<PrereqCheck> {
    let mut checks = decisions::prerequisite_checks(ctx).await;
    checks.push(roles_check(ctx).await);
    checks.push(probe_check(ctx));
    checks
}

/// The stored probe as a prerequisite: failing while it found a refusal the run cannot get
/// round (the start check refuses the run then), warning before any probe or with a fallback
/// in use, passing when every assumption probed was confirmed. The detail names each result.
fn probe_check(ctx: &Ctx) -> PrereqCheck {
    use crate::engine::probe;
    let findings = ctx.ledger.read(probe::stored).unwrap_or_default();
    let check = |status, detail: String| PrereqCheck {
        name: PROBE_CHECK.into(),
        status,
        detail,
        can_create: None,
        choices: Vec::new(),
    };
    if findings.is_empty() {
        return check(
            CheckStatus::Warn,
            "the org's assumptions are not probed yet: c probes them on throwaway records (asked first), as `i2k doctor --probe` does".into(),
        );
    }
    let results: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f.outcome.symbol(),
                f.assumption,
                f.outcome.as_str().replace('_', " ")
            )
        })
        .collect();
    let sources = ctx.ledger.read(|r| r.source_counts()).unwrap_or_default();
    let accepted = decisions::restamped_times_accepted(&ctx.ledger)
        .ok()
        .flatten()
        .unwrap_or(false)
        || ctx.config.options.accept_restamped_times;
    match probe::start_check(&findings, &sources, accepted) {
        Err(refused) => check(
            CheckStatus::Fail,
            format!("{refused}; {}", results.join(", ")),
        ),
        Ok(fallbacks) if !fallbacks.is_empty() => check(
            CheckStatus::Warn,
            format!(
                "fallbacks: {}; {}",
                fallbacks.join("; "),
                results.join(", ")
            ),
        ),
        Ok(_) => check(CheckStatus::Pass, results.join(", ")),
    }
}

/// The key's roles as a prerequisite: failing while `org.admin` is missing and re-stamped
/// times are not accepted (the start check refuses the run then), warning for other missing
/// roles.
async fn roles_check(ctx: &Ctx) -> PrereqCheck {
    let held = match ctx.kustomer.token_current().await {
        Ok(token) => token.roles,
        Err(e) => {
            return PrereqCheck {
                name: KEY_ROLES_CHECK.into(),
                status: CheckStatus::Warn,
                detail: format!("cannot read the key's roles: {e}"),
                choices: Vec::new(),
                can_create: None,
            };
        }
    };
    let missing = roles::missing(&held);
    let accepted = decisions::restamped_times_accepted(&ctx.ledger)
        .ok()
        .flatten()
        .unwrap_or(false)
        || ctx.config.options.accept_restamped_times;
    let lines: Vec<String> = missing.iter().map(|n| n.describe()).collect();
    let (status, detail) = if held.is_empty() {
        (
            CheckStatus::Warn,
            "the key's roles could not be read: check them against the README".to_string(),
        )
    } else if !roles::keeps_times(&held) && !accepted {
        (
            CheckStatus::Fail,
            format!(
                "{}; the run refuses to start: c accepts re-stamped times, or use a key with {}",
                lines.join("; "),
                roles::ORG_ADMIN
            ),
        )
    } else if !roles::keeps_times(&held) {
        (
            CheckStatus::Warn,
            format!(
                "re-stamped times accepted (the report says so); {}",
                lines.join("; ")
            ),
        )
    } else if !missing.is_empty() {
        (CheckStatus::Warn, lines.join("; "))
    } else {
        (
            CheckStatus::Pass,
            format!("the key holds every role i2k needs ({})", roles::ORG_ADMIN),
        )
    };
    PrereqCheck {
        name: KEY_ROLES_CHECK.into(),
        status,
        detail,
        choices: Vec::new(),
        can_create: None,
    }
}

/// The Summary: the verification's rows, where the report and archive are, and the same
/// checklist as MANUAL.md and the report, one line an item.
fn summary_update(
    ledger: &Ledger,
    state_dir: &Path,
    verification: Vec<TypeVerification>,
) -> anyhow::Result<SessionUpdate> {
    let workflows = crate::engine::archive::written_workflows(state_dir);
    let manual: Vec<String> = crate::engine::manual::checklist(ledger, &workflows)?
        .iter()
        .map(crate::engine::manual::ChecklistItem::one_line)
        .collect();
    let existing = |p: &Path| p.exists().then(|| p.display().to_string());
    Ok(SessionUpdate::Summary {
        verification,
        report_path: existing(&state_dir.join("report.md")),
        archive_path: existing(&state_dir.join("archive")),
        manual,
    })
}

/// The Summary a reopened console shows at once: the last verification the ledger keeps (none
/// before the first) and the checklist, when a run has written a report.
fn stored_summary(ledger: &Ledger, state_dir: &Path) -> anyhow::Result<Option<SessionUpdate>> {
    if !state_dir.join("report.md").exists() {
        return Ok(None);
    }
    let verification = crate::engine::verify::last_verification(ledger)?
        .map(|v| v.verification.types)
        .unwrap_or_default();
    summary_update(ledger, state_dir, verification).map(Some)
}

/// A Scope row while extraction is still counting.
fn live_scope_item(row: &ExtractProgress) -> ScopeItem {
    let note = match (row.complete, row.total) {
        (true, _) => "read".to_string(),
        (false, Some(total)) => format!("reading… {}/{}", row.fetched, total),
        (false, None) => format!("reading… {}", row.fetched),
    };
    ScopeItem {
        object: row.object.clone(),
        count: row.total.unwrap_or(row.fetched).max(row.fetched),
        bucket: default_bucket(&row.object),
        not_retrievable: 0,
        note,
    }
}

async fn send_mappings(ctx: &Ctx, updates: &mpsc::Sender<SessionUpdate>) {
    match decisions::user_choices(ctx).await {
        Ok(users) => {
            let _ = updates.send(SessionUpdate::Users(users)).await;
        }
        Err(e) => {
            let _ = updates
                .send(SessionUpdate::Notice(format!(
                    "cannot list the Kustomer users: {}",
                    crate::error_text::chain_once(&e)
                )))
                .await;
        }
    }
    match decisions::admin_mappings(&ctx.ledger).await {
        Ok(admins) => {
            let _ = updates.send(SessionUpdate::Admins(admins)).await;
        }
        Err(e) => {
            let _ = updates.send(SessionUpdate::Notice(format!("{e}"))).await;
        }
    }
    match decisions::field_mappings(&ctx.ledger).await {
        Ok(fields) => {
            let _ = updates.send(SessionUpdate::Fields(fields)).await;
        }
        Err(e) => {
            let _ = updates.send(SessionUpdate::Notice(format!("{e}"))).await;
        }
    }
}

/// The Scope screen from the ledger: the plan's rows with the operator's buckets, and every
/// segment with its in-use decision.
fn scope_update(ledger: &Ledger, config: &EngineConfig) -> anyhow::Result<SessionUpdate> {
    let (counts, unused_segments) = ledger.read(counts_from_ledger)?;
    let plan = build_plan(
        &counts,
        unused_segments,
        config.kustomer_rate,
        config.rate_share,
    );
    let chosen = Decisions::load(ledger)?;
    let unfinished = ledger.read(crate::engine::plan::unfinished_listings)?;
    let items = plan
        .types
        .iter()
        .map(|row| {
            let mut item = row.scope_item();
            item.bucket = chosen.bucket(&item.object);
            if let Some(listing) = unfinished.iter().find(|u| u.types.contains(&item.object)) {
                item.note = format!(
                    "extraction unfinished ({}): partial count; {}",
                    listing.read_text(),
                    item.note
                );
            }
            item
        })
        .collect();
    let mut segments = Vec::new();
    for record in decisions::all_sources(ledger, "segments")? {
        let raw: serde_json::Value = serde_json::from_str(&record.raw).unwrap_or_default();
        let members = raw.get("count").and_then(serde_json::Value::as_u64);
        segments.push(SegmentChoice {
            name: raw
                .get("name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or(&record.source_id)
                .to_string(),
            members: members.unwrap_or(0),
            updated_at: raw
                .get("updated_at")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0),
            in_use: chosen
                .segment_in_use(&record.source_id)
                .unwrap_or(members.unwrap_or(0) > 0),
            id: record.source_id,
        });
    }
    Ok(SessionUpdate::Scope {
        items,
        segments,
        history_months: config.options.history_months,
    })
}

/// The disk estimate for the Scope screen (read on the blocking pool: it sums the staged files).
async fn disk_update(ledger: &Ledger) -> anyhow::Result<SessionUpdate> {
    let estimate = crate::engine::disk::estimate_for(ledger).await?;
    let free = crate::engine::disk::free_bytes(ledger.dir()).ok();
    Ok(SessionUpdate::Disk { estimate, free })
}

/// "1 record", "3 records".
fn records_word(n: usize) -> String {
    if n == 1 {
        "1 record".to_string()
    } else {
        format!("{n} records")
    }
}

fn failure_summary(row: crate::ledger::FailureRow) -> FailureSummary {
    FailureSummary {
        phase: phase_of_kind(&row.kind).unwrap_or(PhaseId::Extras),
        record: RecordRef {
            object: row.kind,
            source_id: row.source_id,
        },
        class: row.class,
        message: row.message,
        attempts: row.attempts,
    }
}

/// The failed records and those of unknown outcome matching a front-end's filter, read without
/// the ledger lock.
fn load_failures(
    state_dir: &Path,
    filter: &FailureFilter,
) -> Result<Vec<FailureSummary>, LedgerError> {
    let reader = LedgerReader::open(state_dir)?;
    let ledger_filter = crate::ledger::FailureFilter {
        kind: filter.object.clone(),
        class: filter.class,
        text: None,
    };
    Ok(reader
        .failures_and_unknown(&ledger_filter, 0, FAILURE_PAGE)?
        .into_iter()
        .map(failure_summary)
        .filter(|f| filter.matches(f))
        .collect())
}

fn load_failure_detail(
    state_dir: &Path,
    record: &RecordRef,
) -> Result<Option<FailureDetail>, LedgerError> {
    let reader = LedgerReader::open(state_dir)?;
    Ok(reader
        .failure_detail(&record.object, &record.source_id)?
        .map(|found| FailureDetail {
            summary: failure_summary(found.failure),
            source: found.source.unwrap_or_default(),
            request: found.request,
            response: found.response,
            mapping_key: None,
        }))
}

/// `open`, again while the ledger is locked by an owner in this process that is releasing it
/// (an engine that just finished, a preparation just cancelled), when `patient`.
async fn when_unlocked<T, F, Fut>(patient: bool, mut open: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match open().await {
            Err(e)
                if patient
                    && tokio::time::Instant::now() < deadline
                    && matches!(
                        e.downcast_ref::<LedgerError>(),
                        Some(LedgerError::Locked { .. })
                    ) =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_decisions_notice_splits_them_as_the_screens_count_them() {
        let lines: Vec<String> = [
            "admin 1 Ann <ann@x>: no Kustomer user",
            "contact attribute \"plan\" (string): …",
            "prerequisite brands: 1 of 1 missing; i2k can create brands: B",
            "prerequisite teams: 2 of 2 missing; i2k can create teams: T, U",
            "prerequisite knowledge_base: the org has 2 knowledge bases",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            open_decisions_notice(&lines),
            "5 decisions are open: 2 on Mapping (4), 3 on Prerequisites (3). Decide there, or press D on 4 to accept the defaults."
        );
        assert_eq!(
            open_decisions_notice(&lines[..1]),
            "1 decision is open: 1 on Mapping (4). Decide there, or press D on 4 to accept the defaults."
        );
    }
}
