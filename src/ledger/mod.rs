//! The SQLite ledger: extracted source records, per-record load state and the id map, failures,
//! decisions, extraction cursors and runs. One `Ledger` per state directory (held by an OS file
//! lock); one writer thread owns the write connection and commits in groups; readers open their
//! own connections (`LedgerReader`).
//!
//! Vocabulary: a *kind* is a string naming a record type — the ground-truth Intercom type names
//! (`contacts`, `conversations`, `conversation_parts`…) for source records, and whatever the engine
//! names its target records (`customers`, `messages`, `notes`…). The ledger does not know phases:
//! counters are kept per kind and state, and `CounterSnapshot::by_phase` folds them with the
//! engine's own kind → `PhaseId` table.

pub mod backup;
mod changes;
mod identity;
mod lock;
mod pages;
mod read;
mod schema;
#[doc(hidden)]
pub mod sql;
mod writer;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::vocab::{ErrorClass, PhaseId};

pub use changes::{Change, ChangeKind, ChangeRow};
pub use identity::{Identity, MIGRATION_MARK, artifacts_migration_id};
pub use lock::{LOCK_FILE, LOCK_PATIENCE, StateDirLock};
pub use pages::{PAGE_RAW_BYTES, Pages, Selection};
pub use read::{LedgerReader, Listed, Unreadable, for_each_page};
pub use schema::SCHEMA_VERSION;

use writer::{Envelope, Op, Output, Problem, WriterShared};

/// The database file's name inside the state directory.
pub const DB_FILE: &str = "ledger.db";

/// The floor of the bulk-job patience (DESIGN.md: never look up a lost bulk item before 10 s).
pub const MIN_BULK_PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "another i2k run holds the state directory {dir} (lock file {LOCK_FILE}); wait for it to finish or pass another --state"
    )]
    Locked { dir: PathBuf },
    #[error(
        "the ledger {path} has schema version {found}, newer than this i2k supports ({supported}); upgrade i2k or use another --state"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no ledger in {dir}: run `i2k extract` first")]
    Missing { dir: PathBuf },
    #[error("ledger database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("ledger JSON error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the ledger could not commit a group of writes: {0}")]
    CommitFailed(String),
    #[error("the ledger writer has stopped; the run cannot record progress")]
    WriterGone,
    #[error("the ledger holds unexpected data: {0}")]
    Corrupt(String),
    #[error("a ledger read on the blocking pool did not finish: {0}")]
    ReadTask(String),
    #[error(
        "the ledger in {dir} is damaged: {what}. Its id map is what keeps a re-run from creating every record in Kustomer a second time, so i2k will not use it. Restore the latest backup with `i2k restore --state {dir}` (backups are in {dir}/backups), or, to start a new migration on purpose, use another --state"
    )]
    Damaged { dir: PathBuf, what: String },
    #[error(
        "{dir} holds an earlier migration ({evidence}) but {problem}. Running on would take it for a new migration and create every record in Kustomer a second time. Restore the ledger's latest backup with `i2k restore --state {dir}` (backups are in {dir}/backups); to start a new migration on purpose, use another --state"
    )]
    EarlierMigration {
        dir: PathBuf,
        evidence: String,
        problem: String,
    },
    #[error(
        "this ledger belongs to another migration: it moved {recorded}, but the tokens given connect {connected}. Use the state directory of this migration (--state), or the tokens of the recorded one"
    )]
    Foreign { recorded: String, connected: String },
}

/// Where a done record's Kustomer record came from: i2k created it, or found one that already
/// existed and took it as the record's (a user by e-mail, a team or tag by name, a record with
/// its externalId before this migration sent it). A rollback deletes only what i2k created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Created,
    Matched,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Created => "created",
            Origin::Matched => "matched",
        }
    }
}

/// Where a target record stands. `archived` and `manual` are dispositions: the record is accounted
/// for without being created in Kustomer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    Pending,
    Sent,
    Done,
    Failed,
    Skipped,
    Archived,
    Manual,
    /// Sent, but its answer was lost and Kustomer offers no way to look it up: it may or may not
    /// exist. Reported in a column of its own; never resent unless the operator asks.
    Unknown,
}

impl RecordState {
    pub const ALL: [RecordState; 8] = [
        RecordState::Pending,
        RecordState::Sent,
        RecordState::Done,
        RecordState::Failed,
        RecordState::Skipped,
        RecordState::Archived,
        RecordState::Manual,
        RecordState::Unknown,
    ];

    /// The value stored in `target.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Pending => "pending",
            RecordState::Sent => "sent",
            RecordState::Done => "done",
            RecordState::Failed => "failed",
            RecordState::Skipped => "skipped",
            RecordState::Archived => "archived",
            RecordState::Manual => "manual",
            RecordState::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Result<RecordState, LedgerError> {
        RecordState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| LedgerError::Corrupt(format!("unknown record state `{text}`")))
    }
}

/// The stored text of an error class (`rejected`, `transient`…), as its serde name.
pub fn error_class_str(class: ErrorClass) -> &'static str {
    class.as_str()
}

fn parse_error_class(text: &str) -> Result<ErrorClass, LedgerError> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| LedgerError::Corrupt(format!("unknown error class `{text}`")))
}

/// One extracted Intercom record, as staged by extraction and read back by the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    pub kind: String,
    pub source_id: String,
    /// The record it belongs to, e.g. the conversation of a part or an attachment.
    pub parent_id: Option<String>,
    /// Intercom's `updated_at` (unix seconds), when the record has one.
    pub updated_at: Option<i64>,
    /// The record as the API returned it (JSON text).
    pub raw: String,
    /// Why the record could not be read in full, if it could not.
    pub problem: Option<String>,
}

/// How a source record's `problem` begins when extraction could not read the record whole (its
/// retrieval or a sub-list failed after the retries): the ledger flags it `incomplete`, the load
/// holds back what depends on it, and the next extraction reads it again.
pub const INCOMPLETE: &str = "incomplete: ";

impl SourceRecord {
    /// Whether extraction could not read this record whole (see [`INCOMPLETE`]).
    pub fn is_incomplete(&self) -> bool {
        self.problem
            .as_deref()
            .is_some_and(|p| p.starts_with(INCOMPLETE))
    }
}

/// Whether a kind of a fresh ledger is created directly or looked up first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    /// Records of the kind are still being looked up before they are created (`probed` so far).
    Sampling { probed: u32 },
    /// The sample found none in Kustomer: create directly.
    Create,
    /// The sample found some: every record is looked up first and adopted when it exists.
    LookupFirst,
}

/// One target record and what the load needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub kind: String,
    pub source_id: String,
    pub state: RecordState,
    pub target_id: Option<String>,
    pub batch_id: Option<String>,
    pub job_id: Option<String>,
    /// When it was marked `sent` (unix ms).
    pub sent_ms: Option<i64>,
    pub attempts: u32,
    /// The source record changed after it was loaded: it needs an update.
    pub source_changed: bool,
    /// The source record of the same kind and id, when there is one.
    pub raw: Option<String>,
    /// Its source record could not be read whole: it is not loaded until a later extraction
    /// reads it (see [`INCOMPLETE`]).
    pub incomplete: bool,
}

/// A bulk batch with items still `sent`: what a resumed run polls or looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentBatch {
    pub kind: String,
    pub batch_id: String,
    pub job_id: Option<String>,
    /// The earliest `sent` mark in the batch (unix ms).
    pub sent_ms: i64,
    pub items: u64,
}

/// A failed record, for the Errors list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRow {
    pub kind: String,
    pub source_id: String,
    pub class: ErrorClass,
    pub message: String,
    pub attempts: u32,
    pub updated_ms: i64,
}

/// Everything the Errors screen shows about one failed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRecord {
    pub failure: FailureRow,
    /// The source record of the same kind and id, pretty-printed, when there is one.
    pub source: Option<String>,
    /// The last request and response, redacted by the caller before they were recorded.
    pub request: String,
    pub response: String,
}

/// Which failures to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureFilter {
    pub kind: Option<String>,
    pub class: Option<ErrorClass>,
    /// Case-insensitive substring of the message or the source id.
    pub text: Option<String>,
}

/// Where an extraction listing stands, so a re-run resumes or fetches only what changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractCursor {
    pub listing: String,
    /// The listing's own cursor (JSON text: a scroll param, a `starting_after`, a search page…).
    pub cursor: Option<String>,
    pub complete: bool,
    /// The largest `updated_at` seen, for incremental re-runs.
    pub max_updated_at: Option<i64>,
    pub fetched: u64,
    /// The listing's total when the API says it.
    pub total: Option<u64>,
}

/// A warning raised during extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub at_ms: i64,
    pub kind: String,
    pub source_id: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub command: String,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub outcome: Option<String>,
    pub figures: Option<serde_json::Value>,
}

/// The run's figures at one moment, sampled every few seconds into `samples`, so a report (or
/// a reopened console) draws throughput, budget use and the phase timeline from what happened.
/// Totals are as of `at_ms` since the run started (requests, 429s, faults) or overall (settled).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    pub run_id: Option<i64>,
    pub at_ms: i64,
    /// Records settled so far (done, failed, skipped, archived, manual, unknown), every kind.
    pub settled: u64,
    /// The same per phase (by its label).
    pub settled_by_phase: std::collections::BTreeMap<String, u64>,
    pub kustomer_requests: u64,
    pub intercom_requests: u64,
    /// Kustomer requests sent in the current rate window, and those the migration may send.
    pub kustomer_used: u32,
    pub kustomer_allowed: u32,
    /// 429s so far on each side.
    pub kustomer_throttled: u64,
    pub intercom_throttled: u64,
    /// Attempts that failed and were retried (5xx, timeouts, resets), both sides.
    pub faults: u64,
    /// The phases running at `at_ms` (labels); `extract` while extraction runs.
    pub phases: Vec<String>,
}

/// A verification as it was stored: when, after which run, whether everything agreed, and its
/// whole result (the engine's `Verification` as JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVerification {
    pub run_id: Option<i64>,
    pub at_ms: i64,
    pub agrees: bool,
    pub result: serde_json::Value,
}

/// One assumption's answer from `i2k doctor --probe`, as stored in `probes`: `outcome` is
/// `confirmed`, `refused` or `not_probed`; `detail` the server's answer, what was dropped or why
/// it was not probed; `leftover` what the probe could not delete from the org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProbe {
    pub assumption: String,
    pub outcome: String,
    pub detail: String,
    pub leftover: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    pub run_id: Option<i64>,
    pub kind: String,
    pub source_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualItem {
    pub run_id: Option<i64>,
    pub kind: Option<String>,
    pub source_id: Option<String>,
    pub title: String,
    pub detail: String,
}

/// Records of one kind in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub pending: u64,
    pub sent: u64,
    pub done: u64,
    pub failed: u64,
    pub skipped: u64,
    pub archived: u64,
    pub manual: u64,
    #[serde(default)]
    pub unknown: u64,
}

impl StateCounts {
    pub fn get(&self, state: RecordState) -> u64 {
        match state {
            RecordState::Pending => self.pending,
            RecordState::Sent => self.sent,
            RecordState::Done => self.done,
            RecordState::Failed => self.failed,
            RecordState::Skipped => self.skipped,
            RecordState::Archived => self.archived,
            RecordState::Manual => self.manual,
            RecordState::Unknown => self.unknown,
        }
    }

    fn slot(&mut self, state: RecordState) -> &mut u64 {
        match state {
            RecordState::Pending => &mut self.pending,
            RecordState::Sent => &mut self.sent,
            RecordState::Done => &mut self.done,
            RecordState::Failed => &mut self.failed,
            RecordState::Skipped => &mut self.skipped,
            RecordState::Archived => &mut self.archived,
            RecordState::Manual => &mut self.manual,
            RecordState::Unknown => &mut self.unknown,
        }
    }

    /// Adds `delta` to one state, never going below zero.
    pub(crate) fn add(&mut self, state: RecordState, delta: i64) {
        let slot = self.slot(state);
        *slot = slot.saturating_add_signed(delta);
    }

    pub fn total(&self) -> u64 {
        RecordState::ALL.iter().map(|&s| self.get(s)).sum()
    }

    /// Records that reached an end state (done, failed, skipped, archived, manual).
    pub fn settled(&self) -> u64 {
        self.total() - self.pending - self.sent
    }

    fn merge(&mut self, other: &StateCounts) {
        for state in RecordState::ALL {
            *self.slot(state) += other.get(state);
        }
    }
}

/// The writer's counters, copied out for a frame: cheap (a few dozen map entries, no SQL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Target records per kind and state.
    pub targets: BTreeMap<String, StateCounts>,
    /// Extracted source records per kind.
    pub sources: BTreeMap<String, u64>,
}

impl CounterSnapshot {
    /// Folds the per-kind counts into phases; kinds `phase_of` does not place are left out.
    pub fn by_phase(
        &self,
        phase_of: impl Fn(&str) -> Option<PhaseId>,
    ) -> BTreeMap<PhaseId, StateCounts> {
        let mut phases: BTreeMap<PhaseId, StateCounts> = BTreeMap::new();
        for (kind, counts) in &self.targets {
            if let Some(phase) = phase_of(kind) {
                phases.entry(phase).or_default().merge(counts);
            }
        }
        phases
    }

    pub fn target(&self, kind: &str) -> StateCounts {
        self.targets.get(kind).copied().unwrap_or_default()
    }

    pub fn source(&self, kind: &str) -> u64 {
        self.sources.get(kind).copied().unwrap_or(0)
    }
}

/// The handle the engine, extraction and the front-ends share. Cheap to clone; the writer thread
/// stops and the directory lock is released when the last clone is dropped (after committing
/// whatever was queued).
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<LedgerInner>,
}

struct LedgerInner {
    dir: PathBuf,
    db_path: PathBuf,
    ops: Option<mpsc::UnboundedSender<Envelope>>,
    shared: Arc<WriterShared>,
    readers: Mutex<Vec<LedgerReader>>,
    writer: Option<JoinHandle<()>>,
    /// Nothing was ever sent from this ledger when it was opened (see [`Ledger::is_fresh`]).
    fresh: bool,
    /// Per kind, what the fresh ledger's sample lookups found (see [`Adoption`]).
    adoption: Mutex<HashMap<String, Adoption>>,
    /// The records walks are limited to (a sample run), if any.
    selection: Mutex<Option<Arc<pages::Selection>>>,
    // Declared last so it is released after the writer has closed the database.
    _lock: StateDirLock,
}

impl Drop for LedgerInner {
    fn drop(&mut self) {
        // Closing the channel lets the writer commit what is queued and stop.
        self.ops.take();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the ledger writer thread panicked");
        }
        lock_ignoring_poison(&self.readers).clear();
    }
}

fn lock_ignoring_poison<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding one of these short locks leaves plain data behind.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How many idle read connections a `Ledger` keeps for its own lookups.
const READER_POOL: usize = 4;

impl Ledger {
    /// Opens (creating if needed) the ledger in `dir`: creates the directory 0700 and the database
    /// 0600, takes the directory lock, migrates the schema, seeds the counters and starts the writer.
    pub fn open(dir: &Path) -> Result<Ledger, LedgerError> {
        Ledger::open_with(dir, true)
    }

    /// Opens the ledger of `dir` without the check that refuses a missing, empty or foreign
    /// ledger beside an earlier migration's files: for `i2k restore`, which replaces it.
    pub fn open_for_restore(dir: &Path) -> Result<Ledger, LedgerError> {
        Ledger::open_with(dir, false)
    }

    fn open_with(dir: &Path, check_artifacts: bool) -> Result<Ledger, LedgerError> {
        lock::create_private_dir(dir)?;
        let dir_lock = StateDirLock::acquire(dir)?;
        let db_path = dir.join(DB_FILE);
        // Created before SQLite opens it, so it is never readable by others, not even briefly.
        drop(lock::create_private_file(&db_path)?);
        let conn = rusqlite::Connection::open(&db_path)?;
        schema::configure_writer(&conn)?;
        schema::migrate(&conn, &db_path)?;
        if check_artifacts {
            identity::check_state_dir(&conn, dir)?;
        }
        // An existing ledger copied in with wider permissions is narrowed too.
        for suffix in ["", "-wal", "-shm"] {
            lock::restrict_if_present(&sidecar(&db_path, suffix))?;
        }
        let shared = Arc::new(WriterShared::seed(&conn)?);
        let fresh = lock_ignoring_poison(&shared.counters)
            .targets
            .values()
            .all(|c| c.total() == c.pending);
        let (tx, rx) = mpsc::unbounded_channel();
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("i2k-ledger-writer".to_string())
            .spawn(move || writer::run(conn, rx, writer_shared))
            .map_err(|source| LedgerError::Io {
                path: db_path.clone(),
                source,
            })?;
        Ok(Ledger {
            inner: Arc::new(LedgerInner {
                dir: dir.to_path_buf(),
                db_path,
                ops: Some(tx),
                shared,
                readers: Mutex::new(Vec::new()),
                writer: Some(writer),
                fresh,
                adoption: Mutex::new(HashMap::new()),
                selection: Mutex::new(None),
                _lock: dir_lock,
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn db_path(&self) -> &Path {
        &self.inner.db_path
    }

    /// A new read connection of its own (for a TUI drill-down, verify, `spawn_blocking`).
    pub fn open_reader(&self) -> Result<LedgerReader, LedgerError> {
        LedgerReader::open_file(&self.inner.db_path)
    }

    /// Runs `query` on a pooled read connection. Reads see committed writes only; call
    /// `flush().await` first to see fire-and-forget writes. Blocks for the query's duration:
    /// from async code keep it to point lookups and pages.
    pub fn read<R>(
        &self,
        query: impl FnOnce(&LedgerReader) -> Result<R, LedgerError>,
    ) -> Result<R, LedgerError> {
        let pooled = lock_ignoring_poison(&self.inner.readers).pop();
        let reader = match pooled {
            Some(reader) => reader,
            None => self.open_reader()?,
        };
        let result = query(&reader);
        let mut pool = lock_ignoring_poison(&self.inner.readers);
        if pool.len() < READER_POOL {
            pool.push(reader);
        }
        result
    }

    /// Runs `query` as [`Ledger::read`] does, on tokio's blocking pool: for async code that reads
    /// more than a point lookup or a page (a whole kind, counts over a table), so SQLite's work
    /// never holds up an async worker thread.
    pub async fn read_blocking<R, Q>(&self, query: Q) -> Result<R, LedgerError>
    where
        R: Send + 'static,
        Q: FnOnce(&LedgerReader) -> Result<R, LedgerError> + Send + 'static,
    {
        let ledger = self.clone();
        tokio::task::spawn_blocking(move || ledger.read(query))
            .await
            .map_err(|e| LedgerError::ReadTask(e.to_string()))?
    }

    // ---- counters -------------------------------------------------------------------------

    /// The writer's counters as of its last commit. Memory only: call it every frame.
    pub fn counters(&self) -> CounterSnapshot {
        lock_ignoring_poison(&self.inner.shared.counters).clone()
    }

    /// The bulk-job latency last learnt in this migration (kept across runs; the engine records
    /// the 90th percentile of the recent jobs). The meta key keeps its first name,
    /// `longest_bulk_latency_ms`, so that older ledgers read it.
    pub fn longest_bulk_latency(&self) -> Option<Duration> {
        match self.inner.shared.longest_bulk_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// How long after its `sent` mark an item without a job id may be looked up: three times the
    /// learnt bulk latency, never under `MIN_BULK_PATIENCE`. It follows the jobs as they are now:
    /// one slow job (or a poll that waited) once held every later settle to three times its
    /// time for the rest of the migration.
    pub fn bulk_patience(&self) -> Duration {
        self.longest_bulk_latency()
            .map(|latency| latency * 3)
            .unwrap_or_default()
            .max(MIN_BULK_PATIENCE)
    }

    // ---- lookups --------------------------------------------------------------------------

    /// The Kustomer id of a loaded record. Sees `mark_done` calls at once, even before their
    /// group commits; otherwise a primary-key lookup on a pooled read connection.
    pub fn target_id(&self, kind: &str, source_id: &str) -> Result<Option<String>, LedgerError> {
        let key = (kind.to_string(), source_id.to_string());
        if let Some(id) = lock_ignoring_poison(&self.inner.shared.done_in_flight).get(&key) {
            return Ok(Some(id.clone()));
        }
        self.read(|reader| reader.target_id(kind, source_id))
    }

    // ---- writes that wait for their group's commit ----------------------------------------

    /// Stages extracted records; a changed record that was already loaded gets `source_changed`.
    /// Returns how many records were new to the ledger.
    pub async fn put_sources(&self, records: Vec<SourceRecord>) -> Result<u64, LedgerError> {
        self.commit(Op::PutSources(records))
            .await
            .map(Output::count)
    }

    /// Adds `pending` target records for the ids not in the ledger yet; returns how many were added.
    pub async fn ensure_pending(&self, kind: &str, ids: Vec<String>) -> Result<u64, LedgerError> {
        self.commit(Op::EnsurePending {
            kind: kind.to_string(),
            ids,
        })
        .await
        .map(Output::count)
    }

    /// Adds a `pending` target record of `target_kind` for every source record of `source_kind`
    /// not yet in the ledger, inside SQLite (nothing is loaded into memory).
    pub async fn ensure_pending_from_sources(
        &self,
        source_kind: &str,
        target_kind: &str,
    ) -> Result<u64, LedgerError> {
        self.commit(Op::EnsurePendingFromSources {
            source_kind: source_kind.to_string(),
            target_kind: target_kind.to_string(),
        })
        .await
        .map(Output::count)
    }

    /// Marks records `sent` (with the bulk batch id, if any) and returns once that is on disk:
    /// the request may leave only after this returns. The group is committed with
    /// `synchronous = FULL`, so the mark survives a power loss as well as a crash.
    pub async fn mark_sent(
        &self,
        kind: &str,
        source_ids: Vec<String>,
        batch_id: Option<&str>,
    ) -> Result<(), LedgerError> {
        self.commit(Op::MarkSent {
            kind: kind.to_string(),
            ids: source_ids,
            batch_id: batch_id.map(str::to_string),
        })
        .await
        .map(drop)
    }

    pub async fn put_decision(
        &self,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), LedgerError> {
        self.commit(Op::PutDecision {
            key: key.to_string(),
            value: serde_json::to_string(value)?,
        })
        .await
        .map(drop)
    }

    pub async fn delete_decision(&self, key: &str) -> Result<(), LedgerError> {
        self.commit(Op::DeleteDecision {
            key: key.to_string(),
        })
        .await
        .map(drop)
    }

    /// Records the start of a run (`command` e.g. "run", "extract"); returns its id. Archive and
    /// manual entries added afterwards carry this id.
    pub async fn start_run(&self, command: &str) -> Result<i64, LedgerError> {
        self.commit(Op::StartRun {
            command: command.to_string(),
        })
        .await?
        .id()
    }

    pub async fn finish_run(
        &self,
        run_id: i64,
        outcome: &str,
        figures: &serde_json::Value,
    ) -> Result<(), LedgerError> {
        self.commit(Op::FinishRun {
            run_id,
            outcome: outcome.to_string(),
            figures: serde_json::to_string(figures)?,
        })
        .await
        .map(drop)
    }

    /// Stores one verification's result (committed before this returns).
    pub async fn record_verification(
        &self,
        agrees: bool,
        result: &serde_json::Value,
    ) -> Result<(), LedgerError> {
        self.commit(Op::PutVerification {
            agrees,
            result: serde_json::to_string(result)?,
        })
        .await
        .map(drop)
    }

    /// The newest verification stored, if any.
    pub fn last_verification(&self) -> Result<Option<StoredVerification>, LedgerError> {
        self.read(|r| r.last_verification())
    }

    /// Replaces the stored probe results with `probes` (committed before this returns).
    pub async fn record_probes(&self, probes: Vec<StoredProbe>) -> Result<(), LedgerError> {
        self.commit(Op::PutProbes(probes)).await.map(drop)
    }

    /// The stored probe results, by assumption.
    pub fn probes(&self) -> Result<Vec<StoredProbe>, LedgerError> {
        self.read(|r| r.probes())
    }

    /// Returns once everything queued before it is committed.
    pub async fn flush(&self) -> Result<(), LedgerError> {
        self.commit(Op::Flush).await.map(drop)
    }

    /// Keeps, committed, the id of the attachment the `sent` upload `kind`/`source_id` has
    /// registered: the file goes up only after this returns, so whatever happens next, a later
    /// run asks Kustomer about this attachment rather than uploading the file again.
    pub async fn record_upload(
        &self,
        kind: &str,
        source_id: &str,
        attachment_id: &str,
    ) -> Result<(), LedgerError> {
        self.commit(Op::RecordUpload {
            kind: kind.to_string(),
            source_id: source_id.to_string(),
            attachment_id: attachment_id.to_string(),
        })
        .await
        .map(drop)
    }

    // ---- fire-and-forget writes (committed with the next group; errors are logged) ---------

    /// Adds one sample of the run's figures (committed with the next group).
    pub fn record_sample(&self, sample: Sample) -> Result<(), LedgerError> {
        self.enqueue(Op::PutSample(Box::new(sample)))
    }

    /// Records the job id the bulk answer carried for `batch_id`.
    pub fn record_job(&self, batch_id: &str, job_id: &str) -> Result<(), LedgerError> {
        self.enqueue(Op::RecordJob {
            batch_id: batch_id.to_string(),
            job_id: job_id.to_string(),
        })
    }

    /// Keeps `latency` as the learnt bulk-job latency of this migration.
    pub fn record_bulk_latency(&self, latency: Duration) -> Result<(), LedgerError> {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.inner
            .shared
            .longest_bulk_ms
            .store(ms, Ordering::Relaxed);
        self.enqueue(Op::BulkLatency { ms })
    }

    /// Marks a record done with the Kustomer record i2k created for it. Not waiting is safe here:
    /// a done mark lost in a crash leaves the record `sent`, which the next run resolves by
    /// lookup.
    pub fn mark_done(
        &self,
        kind: &str,
        source_id: &str,
        target_id: &str,
    ) -> Result<(), LedgerError> {
        self.mark_done_as(kind, source_id, target_id, Origin::Created)
    }

    /// Marks a record done with a Kustomer record that existed before i2k wrote it (a user
    /// matched by e-mail, a team or tag found by name, a record found by its externalId before
    /// this migration had sent it): as [`Ledger::mark_done`], and a rollback leaves it alone.
    pub fn mark_matched(
        &self,
        kind: &str,
        source_id: &str,
        target_id: &str,
    ) -> Result<(), LedgerError> {
        self.mark_done_as(kind, source_id, target_id, Origin::Matched)
    }

    /// Marks a work item done with a Kustomer record found by name or externalId: one this
    /// migration had sent (`sent`: its answer was lost) is the record i2k created; otherwise it
    /// existed before and is matched.
    pub fn mark_found(&self, item: &WorkItem, target_id: &str) -> Result<(), LedgerError> {
        let origin = if item.state == RecordState::Sent {
            Origin::Created
        } else {
            Origin::Matched
        };
        self.mark_done_as(&item.kind, &item.source_id, target_id, origin)
    }

    /// Marks a record done with the origin the caller established.
    pub fn mark_done_as(
        &self,
        kind: &str,
        source_id: &str,
        target_id: &str,
        origin: Origin,
    ) -> Result<(), LedgerError> {
        lock_ignoring_poison(&self.inner.shared.done_in_flight).insert(
            (kind.to_string(), source_id.to_string()),
            target_id.to_string(),
        );
        self.enqueue(Op::MarkDone {
            kind: kind.to_string(),
            source_id: source_id.to_string(),
            target_id: target_id.to_string(),
            origin,
        })
    }

    /// Marks a record `failed` and counts the attempt. `request` and `response` must already be
    /// redacted.
    pub fn mark_failed(
        &self,
        kind: &str,
        source_id: &str,
        class: ErrorClass,
        message: &str,
        request: &str,
        response: &str,
    ) -> Result<(), LedgerError> {
        if class == ErrorClass::Unauthorized {
            // The token was refused, not the record: it stays pending (or sent, to be looked
            // up) for the run that follows a new token.
            return Ok(());
        }
        self.mark_problem(
            kind,
            source_id,
            Problem::Failed(class),
            [message, request, response],
        )
    }

    pub fn mark_skipped(
        &self,
        kind: &str,
        source_id: &str,
        reason: &str,
    ) -> Result<(), LedgerError> {
        self.enqueue(Op::MarkSkipped {
            kind: kind.to_string(),
            source_id: source_id.to_string(),
            reason: reason.to_string(),
        })
    }

    /// Marks a record `unknown`: it was sent, its answer was lost, and Kustomer offers no way to
    /// look it up. `request` and `response` must already be redacted.
    pub fn mark_unknown(
        &self,
        kind: &str,
        source_id: &str,
        message: &str,
        request: &str,
        response: &str,
    ) -> Result<(), LedgerError> {
        self.mark_problem(
            kind,
            source_id,
            Problem::Unknown,
            [message, request, response],
        )
    }

    fn mark_problem(
        &self,
        kind: &str,
        source_id: &str,
        problem: Problem,
        [message, request, response]: [&str; 3],
    ) -> Result<(), LedgerError> {
        self.enqueue(Op::MarkProblem {
            kind: kind.to_string(),
            source_id: source_id.to_string(),
            problem,
            message: message.to_string(),
            request: request.to_string(),
            response: response.to_string(),
        })
    }

    // ---- adoption (the second line of defence) ---------------------------------------------

    /// Whether nothing had ever been sent from this ledger when it was opened: a new migration,
    /// or a state directory that lost its ledger with every other file. Before such a ledger
    /// creates records of a kind, the write path looks a sample of them up by externalId; if
    /// any exists in Kustomer, the kind is loaded lookup-first, adopting what exists.
    pub fn is_fresh(&self) -> bool {
        self.inner.fresh
    }

    /// What the sample lookups decided for `kind` so far.
    pub fn adoption(&self, kind: &str) -> Adoption {
        lock_ignoring_poison(&self.inner.adoption)
            .get(kind)
            .copied()
            .unwrap_or(Adoption::Sampling { probed: 0 })
    }

    pub fn set_adoption(&self, kind: &str, adoption: Adoption) {
        lock_ignoring_poison(&self.inner.adoption).insert(kind.to_string(), adoption);
    }

    // ---- identity -------------------------------------------------------------------------

    /// The migration this ledger belongs to.
    pub fn identity(&self) -> Result<Identity, LedgerError> {
        self.read(|r| Identity::read(r.conn()))
    }

    /// The migration's id (every ledger has one from its first open).
    pub fn migration_id(&self) -> Option<String> {
        self.identity().ok().and_then(|i| i.migration_id)
    }

    /// Keeps `value` under `key` in `meta` (committed with the next group): what a run learnt
    /// of the migration for its report (the workspace's name and region, the org's name, the
    /// API hosts).
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), LedgerError> {
        self.enqueue(Op::PutMeta {
            key: key.to_string(),
            value: value.to_string(),
        })
    }

    /// The value kept under `key` in `meta`.
    pub fn meta(&self, key: &str) -> Result<Option<String>, LedgerError> {
        self.read(|r| identity::meta(r.conn(), key))
    }

    /// Binds the ledger to the Intercom app and Kustomer org a run connects, or refuses the run
    /// when it is bound to others (a state directory used with another workspace's tokens).
    pub async fn bind_identity(
        &self,
        intercom_app: Option<&str>,
        kustomer_org: Option<&str>,
    ) -> Result<(), LedgerError> {
        let recorded = self.identity()?;
        let differs = |recorded: &Option<String>, now: Option<&str>| matches!((recorded.as_deref(), now), (Some(a), Some(b)) if a != b);
        if differs(&recorded.intercom_app, intercom_app)
            || differs(&recorded.kustomer_org, kustomer_org)
        {
            return Err(LedgerError::Foreign {
                recorded: Identity::describe(
                    recorded.intercom_app.as_deref(),
                    recorded.kustomer_org.as_deref(),
                ),
                connected: Identity::describe(intercom_app, kustomer_org),
            });
        }
        for (key, recorded, now) in [
            ("intercom_app", &recorded.intercom_app, intercom_app),
            ("kustomer_org", &recorded.kustomer_org, kustomer_org),
        ] {
            if let (None, Some(value)) = (recorded, now) {
                self.enqueue(Op::PutMeta {
                    key: key.to_string(),
                    value: value.to_string(),
                })?;
            }
        }
        self.flush().await
    }

    /// Puts records back to `pending` (operator retry); batch and job ids are cleared, attempts kept.
    pub fn reset_to_pending(&self, records: Vec<(String, String)>) -> Result<(), LedgerError> {
        self.enqueue(Op::ResetToPending { records })
    }

    /// Puts records whose Kustomer records a rollback deleted back to `pending`, as never
    /// loaded: Kustomer id, origin, attempts and last error cleared, so the next run creates them.
    pub fn mark_rolled_back(&self, records: Vec<(String, String)>) -> Result<(), LedgerError> {
        for key in &records {
            lock_ignoring_poison(&self.inner.shared.done_in_flight).remove(key);
        }
        self.enqueue(Op::RolledBack { records })
    }

    /// Puts every failed record (of `kind`, or of all kinds) back to `pending`.
    pub fn reset_failed(&self, kind: Option<&str>) -> Result<(), LedgerError> {
        self.enqueue(Op::ResetFailed {
            kind: kind.map(str::to_string),
        })
    }

    /// Marks a record `archived` and lists it in the archive entries.
    pub fn archive(&self, kind: &str, source_id: &str, reason: &str) -> Result<(), LedgerError> {
        self.enqueue(Op::Archive {
            kind: kind.to_string(),
            source_id: source_id.to_string(),
            reason: reason.to_string(),
        })
    }

    /// Adds an item to the manual checklist; with a record, also marks it `manual`.
    pub fn add_manual_item(
        &self,
        record: Option<(&str, &str)>,
        title: &str,
        detail: &str,
    ) -> Result<(), LedgerError> {
        self.enqueue(Op::Manual {
            record: record.map(|(k, id)| (k.to_string(), id.to_string())),
            title: title.to_string(),
            detail: detail.to_string(),
        })
    }

    /// Saves where an extraction listing stands. Writes apply in call order, so a cursor set after
    /// `put_sources` never lands without the records of its page.
    pub fn set_cursor(&self, cursor: ExtractCursor) -> Result<(), LedgerError> {
        self.enqueue(Op::SetCursor(cursor))
    }

    /// Records what exists in Intercom but its API cannot return, per scope (e.g. kind
    /// `conversation_parts`, scope the conversation id). Setting it again replaces the figure.
    pub fn set_not_retrievable(
        &self,
        kind: &str,
        scope_id: &str,
        count: u64,
        reason: &str,
    ) -> Result<(), LedgerError> {
        self.enqueue(Op::SetNotRetrievable {
            kind: kind.to_string(),
            scope_id: scope_id.to_string(),
            count,
            reason: reason.to_string(),
        })
    }

    pub fn add_warning(
        &self,
        kind: &str,
        source_id: Option<&str>,
        message: &str,
    ) -> Result<(), LedgerError> {
        self.enqueue(Op::AddWarning {
            kind: kind.to_string(),
            source_id: source_id.map(str::to_string),
            message: message.to_string(),
        })
    }

    /// Appends to the events log (`level` e.g. "info", "warn", "error").
    pub fn log_event(&self, level: &str, message: &str) -> Result<(), LedgerError> {
        self.enqueue(Op::LogEvent {
            level: level.to_string(),
            message: message.to_string(),
        })
    }

    // ---- plumbing -------------------------------------------------------------------------

    fn sender(&self) -> Result<&mpsc::UnboundedSender<Envelope>, LedgerError> {
        self.inner.ops.as_ref().ok_or(LedgerError::WriterGone)
    }

    fn enqueue(&self, op: Op) -> Result<(), LedgerError> {
        self.send(Envelope { op, ack: None })
    }

    async fn commit(&self, op: Op) -> Result<Output, LedgerError> {
        let (ack, done) = oneshot::channel();
        self.send(Envelope { op, ack: Some(ack) })?;
        done.await.map_err(|_| LedgerError::WriterGone)?
    }

    fn send(&self, envelope: Envelope) -> Result<(), LedgerError> {
        let sender = self.sender()?;
        self.inner.shared.queued.fetch_add(1, Ordering::Relaxed);
        sender.send(envelope).map_err(|_| {
            self.inner.shared.queued.fetch_sub(1, Ordering::Relaxed);
            LedgerError::WriterGone
        })
    }

    /// Waits for the writer when more than [`QUEUED_AT_MOST`] ops wait for it. Most writes are
    /// queued without waiting (`mark_done`, `archive`…), so a loop that writes per record faster
    /// than the writer commits would otherwise hold every op it made in memory (on `large`, the
    /// segment memberships mark 100k contacts skipped in a few seconds; `tests/ledger.rs` saw
    /// 36,000 ops queued by a walk of 40,000). Walks of the ledger ([`Pages::next_page`]) call it
    /// before each page.
    pub async fn keep_up(&self) -> Result<(), LedgerError> {
        if self.queued_ops() > QUEUED_AT_MOST {
            self.flush().await?;
        }
        Ok(())
    }

    /// Ops sent to the writer that it has not applied yet.
    pub fn queued_ops(&self) -> usize {
        self.inner.shared.queued.load(Ordering::Relaxed)
    }
}

fn sidecar(db_path: &Path, suffix: &str) -> PathBuf {
    let mut name = db_path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Ops queued for the writer beyond which a walk of the ledger waits for it ([`Ledger::keep_up`]).
pub const QUEUED_AT_MOST: usize = 5_000;

/// Milliseconds since the Unix epoch, for the ledger's timestamps.
pub(crate) use crate::timefmt::now_unix_ms as now_ms;

/// Counts of records per kind as the writer tracks them between commits.
pub(crate) type KindStateDelta = HashMap<(String, RecordState), i64>;
