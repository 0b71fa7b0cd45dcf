//! `Ctx`: what every phase of a run shares — the ledger, both clients, pause/cancel control, the
//! operator's decisions, the options, and the channels that feed the front-ends.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::engine::control::{Cancelled, Control};
use crate::engine::model::{Event, ExtractProgress, LogLevel, PhaseStatus};
use crate::http::{ApiClient, LearntTimeouts, Secret};
use crate::intercom::IntercomClient;
use crate::kustomer::KustomerClient;
use crate::ledger::Ledger;
use crate::vocab::PhaseId;

/// How a run loads what it loads: the choices the operator makes once.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Assignment, state-change and attribute-change parts as one timeline note per conversation
    /// (true) or to the archive only (false).
    pub timeline_notes: bool,
    /// Data events as kobjects of an `intercom_event` klass (keep their time, load in bulk) instead
    /// of tracking events.
    pub events_as_kobjects: bool,
    /// A segment is "in use" by default when it has members and was updated within this many days.
    pub segment_max_age_days: u32,
    /// Only conversations updated within the last N months (None: all).
    pub history_months: Option<u32>,
    /// The stable `app` value every migrated message carries.
    pub message_app: String,
    /// How long one request attempt may take on either API before it counts as timed out.
    pub request_timeout: Duration,
    /// `run --retry-failed`: the failed records this run puts back to pending before loading.
    pub retry_failed: Option<RetryFilter>,
    /// The byte budget of one Kustomer bulk request body (besides its 100 items).
    pub bulk_max_bytes: usize,
    /// `--accept-restamped-times`: the operator lets the run go ahead with a key without
    /// `org.admin` (message and note times and authors re-stamped by Kustomer).
    pub accept_restamped_times: bool,
    /// `run --sample N` (the Scope screen's sample): N conversations chosen to cover every
    /// channel, state and part type, with what they touch (`engine::sample`), and nothing else.
    pub sample: Option<usize>,
    /// Set by the session's start check: this run goes ahead without `org.admin`, so the ledger
    /// and the report say its message and note times were re-stamped.
    pub restamped_times: bool,
    /// `--knowledge-base ID`: the Kustomer knowledge base KB categories and articles go to
    /// (over the decision saved in mapping.toml).
    pub knowledge_base: Option<String>,
    /// `--delta`: a run after a completed one that carries what changed in Intercom since (it
    /// also looks for records deleted in Intercom, and is recorded as a delta run).
    pub delta: bool,
    /// `--delete-removed`: records found deleted in Intercom are deleted in Kustomer too.
    pub delete_removed: bool,
    /// `--overwrite-conflicts`: an update writes Intercom's value over an agent's edit.
    pub overwrite_conflicts: bool,
}

/// Which failed records a retry run sends again (the Errors screen's filters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryFilter {
    /// A ledger kind (`customers`, `conversation_sources`…).
    pub kind: Option<String>,
    pub phase: Option<PhaseId>,
    pub class: Option<crate::vocab::ErrorClass>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            timeline_notes: true,
            events_as_kobjects: false,
            segment_max_age_days: 365,
            history_months: None,
            message_app: "intercom-import".to_string(),
            request_timeout: Duration::from_secs(30),
            retry_failed: None,
            bulk_max_bytes: crate::kustomer::bulk::DEFAULT_MAX_BULK_BYTES,
            accept_restamped_times: false,
            sample: None,
            restamped_times: false,
            knowledge_base: None,
            delta: false,
            delete_removed: false,
            overwrite_conflicts: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub state_dir: PathBuf,
    pub intercom_url: String,
    pub intercom_token: Secret,
    pub kustomer_url: String,
    pub kustomer_token: Secret,
    /// The org's Kustomer budget per minute until the server announces its own.
    pub kustomer_rate: u32,
    pub rate_share: f64,
    /// Ground-truth type names limiting the run (empty: everything).
    pub only: Vec<String>,
    pub accept_defaults: bool,
    pub workflow_ids: Vec<String>,
    pub options: LoadOptions,
}

impl EngineConfig {
    /// The kind of run recorded in the ledger's `runs` table (and the report).
    pub fn run_kind(&self) -> &'static str {
        if self.options.retry_failed.is_some() {
            "retry"
        } else if self.options.sample.is_some() {
            "sample"
        } else if self.options.delta {
            "delta"
        } else {
            "run"
        }
    }
}

/// Batches of staged conversations (a search page each) the feed holds before news is dropped
/// (a dropped batch is found in the ledger once extraction ends): a few, so the ids waiting in
/// memory stay a few pages' worth however far the load trails the extraction.
const CONVERSATIONS_FEED_BATCHES: usize = 16;

pub struct Ctx {
    pub config: EngineConfig,
    pub ledger: Ledger,
    pub intercom: IntercomClient,
    pub kustomer: KustomerClient,
    pub control: Control,
    events: mpsc::UnboundedSender<Event>,
    extracted: watch::Sender<BTreeSet<String>>,
    status: Mutex<Status>,
    in_flight: BTreeMap<PhaseId, AtomicU64>,
    /// News of conversations as extraction stages them, for a Conversations phase that loads
    /// while extraction runs (taken by it; `None` when it waits for the whole extraction).
    conversations_staged:
        Mutex<Option<mpsc::Receiver<crate::engine::extract::StagedConversations>>>,
}

#[derive(Debug, Default)]
struct Status {
    phases: BTreeMap<PhaseId, PhaseStatus>,
    activity: String,
    defaults_taken: Vec<String>,
    extraction: Vec<ExtractProgress>,
}

/// Counts a phase's requests in flight while alive.
pub struct InFlight<'a> {
    counter: &'a AtomicU64,
    n: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.n, Ordering::Relaxed);
    }
}

/// Intercom's budget per 10 s until the server announces its own (the lowest tier, 1,000/min).
pub const INTERCOM_RATE_GUESS: u32 = 166;

/// The `meta` key (followed by the side's name) under which the ledger keeps learnt timeouts.
const LEARNT_TIMEOUTS_KEY: &str = "learnt_timeouts";

fn learnt_timeouts_key(api: &ApiClient) -> String {
    format!("{LEARNT_TIMEOUTS_KEY}.{}", api.side()).to_ascii_lowercase()
}

/// Keeps the timeouts `api` learnt of its API's latency in the ledger, so that the next process
/// opening it (a verify, a resumed run) abandons a hung request at a learnt timeout from its
/// very first requests, rather than at the configured one until it has learnt its own.
pub fn keep_learnt_timeouts(ledger: &Ledger, api: &ApiClient) {
    let learnt = api.learnt_timeouts();
    if learnt == LearntTimeouts::default() {
        return;
    }
    let kept = serde_json::to_string(&learnt)
        .map_err(crate::ledger::LedgerError::from)
        .and_then(|value| ledger.set_meta(&learnt_timeouts_key(api), &value));
    if let Err(e) = kept {
        tracing::warn!("could not keep the learnt {} timeouts: {e}", api.side());
    }
}

/// Starts `api` from the timeouts the ledger kept for its API (see [`keep_learnt_timeouts`]);
/// nothing kept (a new migration), the configured timeout until answers teach one.
pub fn start_from_kept_timeouts(ledger: &Ledger, api: &ApiClient) {
    let kept = ledger
        .meta(&learnt_timeouts_key(api))
        .ok()
        .flatten()
        .and_then(|value| serde_json::from_str::<LearntTimeouts>(&value).ok());
    if let Some(kept) = kept {
        api.start_from(kept);
    }
}

impl Ctx {
    /// Opens the migration of `config`: its ledger (which holds the state directory's lock until
    /// the `Ctx` is dropped) and both clients with the configured timeouts and rate budgets. The
    /// one way a run and a session's preparation reach the ledger and the APIs.
    pub fn open(config: EngineConfig, events: mpsc::UnboundedSender<Event>) -> anyhow::Result<Ctx> {
        use anyhow::Context as _;
        let ledger = Ledger::open(&config.state_dir)?;
        let timeout = config.options.request_timeout;
        let mut intercom_http = crate::http::ClientConfig::new(
            crate::http::ApiSide::Intercom,
            &config.intercom_url,
            config.intercom_token.clone(),
        );
        intercom_http.timeout = timeout;
        let intercom = IntercomClient::connect_with(intercom_http, INTERCOM_RATE_GUESS)
            .context("cannot set up the Intercom client")?;
        let mut kustomer_http = crate::http::ClientConfig::new(
            crate::http::ApiSide::Kustomer,
            &config.kustomer_url,
            config.kustomer_token.clone(),
        );
        kustomer_http.timeout = timeout;
        let kustomer = KustomerClient::from_config(
            kustomer_http,
            crate::http::GateConfig::kustomer(config.kustomer_rate, config.rate_share),
        )
        .context("cannot set up the Kustomer client")?;
        start_from_kept_timeouts(&ledger, intercom.api());
        start_from_kept_timeouts(&ledger, kustomer.api());
        Ok(Ctx::new(config, ledger, intercom, kustomer, events))
    }

    /// Keeps what both clients learnt of their APIs' latency in the ledger (see
    /// [`keep_learnt_timeouts`]).
    pub fn keep_learnt_timeouts(&self) {
        keep_learnt_timeouts(&self.ledger, self.intercom.api());
        keep_learnt_timeouts(&self.ledger, self.kustomer.api());
    }

    pub fn new(
        config: EngineConfig,
        ledger: Ledger,
        intercom: IntercomClient,
        kustomer: KustomerClient,
        events: mpsc::UnboundedSender<Event>,
    ) -> Ctx {
        Ctx {
            config,
            ledger,
            intercom,
            kustomer,
            control: Control::new(),
            events,
            extracted: watch::Sender::new(BTreeSet::new()),
            status: Mutex::new(Status::default()),
            in_flight: PhaseId::ALL
                .iter()
                .map(|p| (*p, AtomicU64::new(0)))
                .collect(),
            conversations_staged: Mutex::new(None),
        }
    }

    /// Opens the feed of staged conversations: the sender goes to extraction, the receiver waits
    /// here for the Conversations phase.
    pub fn open_conversations_feed(
        &self,
    ) -> mpsc::Sender<crate::engine::extract::StagedConversations> {
        let (tx, rx) = mpsc::channel(CONVERSATIONS_FEED_BATCHES);
        *self.feed_slot() = Some(rx);
        tx
    }

    /// Whether the Conversations phase may load while extraction runs (its feed is open).
    pub fn has_conversations_feed(&self) -> bool {
        self.feed_slot().is_some()
    }

    fn feed_slot(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        Option<mpsc::Receiver<crate::engine::extract::StagedConversations>>,
    > {
        self.conversations_staged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the feed of staged conversations (once).
    pub fn take_conversations_feed(
        &self,
    ) -> Option<mpsc::Receiver<crate::engine::extract::StagedConversations>> {
        self.feed_slot().take()
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// A line for the operator (the console's log tail, headless output) and the log file.
    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        match level {
            LogLevel::Info => tracing::info!("{message}"),
            LogLevel::Warn => tracing::warn!("{message}"),
            LogLevel::Error => tracing::error!("{message}"),
        }
        let _ = self.ledger.log_event(
            match level {
                LogLevel::Info => "info",
                LogLevel::Warn => "warn",
                LogLevel::Error => "error",
            },
            &message,
        );
        self.emit(Event::Log { level, message });
    }

    pub fn set_activity(&self, activity: impl Into<String>) {
        self.status().activity = activity.into();
    }

    pub fn activity(&self) -> String {
        self.status().activity.clone()
    }

    pub fn set_phase_status(&self, phase: PhaseId, status: PhaseStatus) {
        self.status().phases.insert(phase, status);
    }

    pub fn phase_status(&self, phase: PhaseId) -> PhaseStatus {
        self.status()
            .phases
            .get(&phase)
            .copied()
            .unwrap_or(PhaseStatus::Waiting)
    }

    pub fn took_default(&self, what: impl Into<String>) {
        let what = what.into();
        self.log(LogLevel::Info, format!("default taken: {what}"));
        self.status().defaults_taken.push(what);
    }

    /// Extraction reports how far one listing has come.
    pub fn set_extract_progress(
        &self,
        object: &str,
        fetched: u64,
        total: Option<u64>,
        complete: bool,
    ) {
        let mut status = self.status();
        let entry = ExtractProgress {
            object: object.to_string(),
            fetched,
            total,
            complete,
        };
        match status.extraction.iter_mut().find(|e| e.object == object) {
            Some(e) => *e = entry,
            None => status.extraction.push(entry),
        }
    }

    pub fn extract_progress(&self) -> Vec<ExtractProgress> {
        self.status().extraction.clone()
    }

    pub fn defaults_taken(&self) -> Vec<String> {
        self.status().defaults_taken.clone()
    }

    pub fn in_flight(&self, phase: PhaseId, n: u64) -> InFlight<'_> {
        let counter = &self.in_flight[&phase];
        counter.fetch_add(n, Ordering::Relaxed);
        InFlight { counter, n }
    }

    pub fn in_flight_count(&self, phase: PhaseId) -> u64 {
        self.in_flight[&phase].load(Ordering::Relaxed)
    }

    /// Extraction says these source types are complete.
    pub fn mark_extracted(&self, kinds: &[&str]) {
        self.extracted.send_modify(|set| {
            for k in kinds {
                set.insert((*k).to_string());
            }
        });
    }

    pub fn is_extracted(&self, kind: &str) -> bool {
        self.extracted.borrow().contains(kind)
    }

    /// Waits until every type in `kinds` is extracted (or the run is cancelled).
    pub async fn wait_extracted(&self, kinds: &[&str]) -> Result<(), Cancelled> {
        let mut rx = self.extracted.subscribe();
        loop {
            if self.control.is_cancelled() {
                return Err(Cancelled);
            }
            if kinds.iter().all(|k| rx.borrow_and_update().contains(*k)) {
                return Ok(());
            }
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { return Err(Cancelled) },
                _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            }
        }
    }
}
