//! The ledger's single writer: an OS thread owning the write connection. It drains whatever ops
//! are queued, applies them in one transaction (when one of them fails, the group is applied
//! again with each op inside its own savepoint, so one bad op fails alone), commits, then
//! updates the in-memory counters and answers the waiters.
//!
//! Durability: WAL with `synchronous = NORMAL` survives a crash of the process (the commit is in the
//! WAL before the call returns) but may lose the last commits on power loss. A lost `sent` mark
//! would mean a duplicate in Kustomer, so a group holding one is committed with
//! `synchronous = FULL` (the WAL is fsynced before `mark_sent` returns); every other group uses
//! NORMAL — losing a `done` mark only costs a lookup on the next run.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::{
    CounterSnapshot, ExtractCursor, KindStateDelta, LedgerError, Origin, RecordState, SourceRecord,
    error_class_str, lock_ignoring_poison, now_ms, sql,
};
use crate::vocab::ErrorClass;

/// The most ops one transaction takes; beyond it the next group starts.
const MAX_GROUP: usize = 4096;

/// What became of a record that was not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Refused or not sendable, with the class of the error.
    Failed(ErrorClass),
    /// Sent, its answer lost, and Kustomer offers no way to look it up.
    Unknown,
}

pub(super) enum Op {
    PutSources(Vec<SourceRecord>),
    EnsurePending {
        kind: String,
        ids: Vec<String>,
    },
    EnsurePendingFromSources {
        source_kind: String,
        target_kind: String,
    },
    MarkSent {
        kind: String,
        ids: Vec<String>,
        batch_id: Option<String>,
    },
    RecordJob {
        batch_id: String,
        job_id: String,
    },
    RecordUpload {
        kind: String,
        source_id: String,
        attachment_id: String,
    },
    MarkDone {
        kind: String,
        source_id: String,
        target_id: String,
        origin: Origin,
    },
    /// Settles a record as `failed` (with its class) or `unknown`, with the redacted exchange.
    MarkProblem {
        kind: String,
        source_id: String,
        problem: Problem,
        message: String,
        request: String,
        response: String,
    },
    MarkSkipped {
        kind: String,
        source_id: String,
        reason: String,
    },
    ResetToPending {
        records: Vec<(String, String)>,
    },
    /// A rollback deleted these records' Kustomer records: back to `pending` as never loaded.
    RolledBack {
        records: Vec<(String, String)>,
    },
    ResetFailed {
        kind: Option<String>,
    },
    Archive {
        kind: String,
        source_id: String,
        reason: String,
    },
    Manual {
        record: Option<(String, String)>,
        title: String,
        detail: String,
    },
    SetCursor(ExtractCursor),
    SetNotRetrievable {
        kind: String,
        scope_id: String,
        count: u64,
        reason: String,
    },
    AddWarning {
        kind: String,
        source_id: Option<String>,
        message: String,
    },
    LogEvent {
        level: String,
        message: String,
    },
    PutDecision {
        key: String,
        value: String,
    },
    DeleteDecision {
        key: String,
    },
    StartRun {
        command: String,
    },
    FinishRun {
        run_id: i64,
        outcome: String,
        figures: String,
    },
    BulkLatency {
        ms: u64,
    },
    PutSample(Box<super::Sample>),
    PutVerification {
        agrees: bool,
        result: String,
    },
    PutMeta {
        key: String,
        value: String,
    },
    PutProbes(Vec<super::StoredProbe>),
    RecordChanges(Vec<super::Change>),
    MarkUpdated {
        kind: String,
        source_id: String,
    },
    Flush,
}

impl Op {
    fn needs_power_safe_commit(&self) -> bool {
        matches!(self, Op::MarkSent { .. })
    }

    fn name(&self) -> &'static str {
        match self {
            Op::PutSources(_) => "put_sources",
            Op::EnsurePending { .. } => "ensure_pending",
            Op::EnsurePendingFromSources { .. } => "ensure_pending_from_sources",
            Op::MarkSent { .. } => "mark_sent",
            Op::RecordJob { .. } => "record_job",
            Op::RecordUpload { .. } => "record_upload",
            Op::MarkDone { .. } => "mark_done",
            Op::MarkProblem {
                problem: Problem::Failed(_),
                ..
            } => "mark_failed",
            Op::MarkProblem {
                problem: Problem::Unknown,
                ..
            } => "mark_unknown",
            Op::MarkSkipped { .. } => "mark_skipped",
            Op::ResetToPending { .. } => "reset_to_pending",
            Op::RolledBack { .. } => "rolled_back",
            Op::ResetFailed { .. } => "reset_failed",
            Op::Archive { .. } => "archive",
            Op::Manual { .. } => "add_manual_item",
            Op::SetCursor(_) => "set_cursor",
            Op::SetNotRetrievable { .. } => "set_not_retrievable",
            Op::AddWarning { .. } => "add_warning",
            Op::LogEvent { .. } => "log_event",
            Op::PutDecision { .. } => "put_decision",
            Op::DeleteDecision { .. } => "delete_decision",
            Op::StartRun { .. } => "start_run",
            Op::FinishRun { .. } => "finish_run",
            Op::BulkLatency { .. } => "record_bulk_latency",
            Op::PutSample(_) => "record_sample",
            Op::PutVerification { .. } => "record_verification",
            Op::PutMeta { .. } => "put_meta",
            Op::PutProbes(_) => "record_probes",
            Op::RecordChanges(_) => "record_changes",
            Op::MarkUpdated { .. } => "mark_updated",
            Op::Flush => "flush",
        }
    }
}

/// What an op answers its waiter.
#[derive(Debug, Clone, Copy)]
pub(super) enum Output {
    Unit,
    Count(u64),
    Id(i64),
}

impl Output {
    pub(super) fn count(self) -> u64 {
        match self {
            Output::Count(n) => n,
            _ => 0,
        }
    }

    pub(super) fn id(self) -> Result<i64, LedgerError> {
        match self {
            Output::Id(id) => Ok(id),
            other => Err(LedgerError::Corrupt(format!(
                "the writer answered {other:?} where an id was expected"
            ))),
        }
    }
}

pub(super) struct Envelope {
    pub(super) op: Op,
    pub(super) ack: Option<oneshot::Sender<Result<Output, LedgerError>>>,
}

/// State the writer shares with the handles: counters as of the last commit, `done` marks not yet
/// committed (so id lookups see them at once), and the longest bulk latency.
pub(super) struct WriterShared {
    pub(super) counters: Mutex<CounterSnapshot>,
    pub(super) done_in_flight: Mutex<HashMap<(String, String), String>>,
    pub(super) longest_bulk_ms: AtomicU64,
    /// Ops sent to the writer and not yet applied (see [`super::Ledger::keep_up`]).
    pub(super) queued: AtomicUsize,
}

impl WriterShared {
    /// Seeds the counters from the ledger, once at open: a restarted run shows true progress at once.
    pub(super) fn seed(conn: &Connection) -> Result<WriterShared, LedgerError> {
        let mut counters = CounterSnapshot::default();
        let mut statement = conn.prepare(sql::COUNTS_BY_KIND)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let kind: String = row.get(0)?;
            let state = RecordState::parse(&row.get::<_, String>(1)?)?;
            let count: i64 = row.get(2)?;
            counters.targets.entry(kind).or_default().add(state, count);
        }
        let mut statement = conn.prepare(sql::SOURCE_COUNTS)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let kind: String = row.get(0)?;
            let count: i64 = row.get(1)?;
            counters
                .sources
                .insert(kind, u64::try_from(count).unwrap_or(0));
        }
        let longest: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'longest_bulk_latency_ms'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        let longest = longest.and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(WriterShared {
            counters: Mutex::new(counters),
            done_in_flight: Mutex::new(HashMap::new()),
            longest_bulk_ms: AtomicU64::new(longest),
            queued: AtomicUsize::new(0),
        })
    }
}

/// Counter changes of a transaction, applied only once it commits.
#[derive(Default)]
struct Delta {
    targets: KindStateDelta,
    sources: BTreeMap<String, i64>,
}

impl Delta {
    fn moved(&mut self, kind: &str, from: Option<RecordState>, to: RecordState) {
        if from == Some(to) {
            return;
        }
        if let Some(from) = from {
            *self.targets.entry((kind.to_string(), from)).or_default() -= 1;
        }
        *self.targets.entry((kind.to_string(), to)).or_default() += 1;
    }

    fn merge(&mut self, other: Delta) {
        for (key, n) in other.targets {
            *self.targets.entry(key).or_default() += n;
        }
        for (key, n) in other.sources {
            *self.sources.entry(key).or_default() += n;
        }
    }

    fn apply(self, counters: &mut CounterSnapshot) {
        for ((kind, state), n) in self.targets {
            if n != 0 {
                counters.targets.entry(kind).or_default().add(state, n);
            }
        }
        for (kind, n) in self.sources {
            let slot = counters.sources.entry(kind).or_default();
            *slot = slot.saturating_add_signed(n);
        }
    }
}

/// The writer thread's body: runs until every `Ledger` clone is gone and the queue is drained.
pub(super) fn run(
    conn: Connection,
    mut ops: mpsc::UnboundedReceiver<Envelope>,
    shared: std::sync::Arc<WriterShared>,
) {
    let mut writer = Writer {
        conn,
        current_run: None,
        full_sync: false,
    };
    while let Some(first) = ops.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match ops.try_recv() {
                Ok(envelope) => group.push(envelope),
                Err(_) => break,
            }
        }
        writer.commit_group(group, &shared);
    }
    // A clean close checkpoints the WAL into the database and removes the -wal and -shm files.
    if let Err((_, e)) = writer.conn.close() {
        tracing::warn!("closing the ledger: {e}");
    }
}

/// What a group's ops came to: each op's result, and the counters' change.
type Applied = (Vec<Result<Output, LedgerError>>, Delta);

struct Writer {
    conn: Connection,
    current_run: Option<i64>,
    full_sync: bool,
}

impl Writer {
    fn commit_group(&mut self, group: Vec<Envelope>, shared: &WriterShared) {
        let power_safe = group.iter().any(|e| e.op.needs_power_safe_commit());
        let mut results = Vec::with_capacity(group.len());
        let mut delta = Delta::default();
        let mut done_marks = Vec::new();
        for envelope in &group {
            if let Op::MarkDone {
                kind,
                source_id,
                target_id,
                ..
            } = &envelope.op
            {
                done_marks.push((kind.clone(), source_id.clone(), target_id.clone()));
            }
        }
        let outcome = self.set_sync(power_safe).and_then(|()| {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            // Nearly every group applies whole: then no op needs a savepoint of its own (each
            // one journals every page its op touches, a tenth of the writer's time in the
            // engine-bound profile). When an op fails, the group is rolled back and applied
            // again op by op, each in its savepoint, so that the failed one fails alone.
            if let Some(whole) = self.apply_whole(&group) {
                (results, delta) = whole;
            } else {
                self.conn.execute_batch("ROLLBACK; BEGIN IMMEDIATE")?;
                for envelope in &group {
                    let mut op_delta = Delta::default();
                    let result = self.apply_in_savepoint(&envelope.op, &mut op_delta);
                    if result.is_ok() {
                        delta.merge(op_delta);
                    }
                    results.push(result);
                }
            }
            self.conn.execute_batch("COMMIT")?;
            Ok(())
        });

        if let Err(e) = &outcome {
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            tracing::error!(
                "ledger group of {} writes failed to commit: {e}",
                group.len()
            );
        } else {
            delta.apply(&mut lock_ignoring_poison(&shared.counters));
        }
        {
            let mut in_flight = lock_ignoring_poison(&shared.done_in_flight);
            for (kind, source_id, target_id) in done_marks {
                let key = (kind, source_id);
                // A later mark_done for the same record may be queued behind this group.
                if in_flight.get(&key) == Some(&target_id) {
                    in_flight.remove(&key);
                }
            }
        }

        // Counted as applied before anyone is told: whoever a flush wakes sees no op of its
        // group still queued.
        shared.queued.fetch_sub(group.len(), Ordering::Relaxed);
        let commit_error = outcome.err().map(|e| e.to_string());
        let mut results = results.into_iter();
        for envelope in group {
            let result = match (&commit_error, results.next()) {
                (Some(message), _) => Err(LedgerError::CommitFailed(message.clone())),
                (None, Some(result)) => result,
                (None, None) => Err(LedgerError::CommitFailed("no result".to_string())),
            };
            match envelope.ack {
                Some(ack) => {
                    let _ = ack.send(result);
                }
                None => {
                    if let Err(e) = result {
                        tracing::warn!("ledger {} failed: {e}", envelope.op.name());
                    }
                }
            }
        }
    }

    fn set_sync(&mut self, full: bool) -> Result<(), LedgerError> {
        if full != self.full_sync {
            let level = if full { "FULL" } else { "NORMAL" };
            self.conn
                .execute_batch(&format!("PRAGMA synchronous = {level}"))?;
            self.full_sync = full;
        }
        Ok(())
    }

    /// Applies every op of `group` in the open transaction, without savepoints: their results
    /// and counter changes, or `None` as soon as one fails (the caller rolls back what the
    /// earlier ones did).
    fn apply_whole(&mut self, group: &[Envelope]) -> Option<Applied> {
        let mut results = Vec::with_capacity(group.len());
        let mut delta = Delta::default();
        for envelope in group {
            results.push(Ok(self.apply(&envelope.op, &mut delta).ok()?));
        }
        Some((results, delta))
    }

    fn apply_in_savepoint(&mut self, op: &Op, delta: &mut Delta) -> Result<Output, LedgerError> {
        self.conn.execute_batch("SAVEPOINT op")?;
        match self.apply(op, delta) {
            Ok(output) => {
                self.conn.execute_batch("RELEASE op")?;
                Ok(output)
            }
            Err(e) => {
                self.conn.execute_batch("ROLLBACK TO op; RELEASE op")?;
                Err(e)
            }
        }
    }

    fn prior_state(&self, kind: &str, source_id: &str) -> Result<Option<RecordState>, LedgerError> {
        let state: Option<String> = self
            .conn
            .prepare_cached(sql::PRIOR_STATE)?
            .query_row(params![kind, source_id], |row| row.get(0))
            .optional()?;
        state.as_deref().map(RecordState::parse).transpose()
    }

    /// Puts `records` back to `pending` through `statement` (a retry keeps the Kustomer id and
    /// attempts, a rollback forgets both).
    fn back_to_pending(
        &mut self,
        records: &[(String, String)],
        statement: &str,
        now: i64,
        delta: &mut Delta,
    ) -> Result<Output, LedgerError> {
        let mut moved = 0u64;
        for (kind, source_id) in records {
            let Some(prior) = self.prior_state(kind, source_id)? else {
                continue;
            };
            self.conn
                .prepare_cached(statement)?
                .execute(params![kind, source_id, now])?;
            delta.moved(kind, Some(prior), RecordState::Pending);
            moved += 1;
        }
        Ok(Output::Count(moved))
    }

    fn apply(&mut self, op: &Op, delta: &mut Delta) -> Result<Output, LedgerError> {
        let now = now_ms();
        match op {
            Op::PutSources(records) => self.put_sources(records, now, delta),
            Op::EnsurePending { kind, ids } => {
                let mut insert = self.conn.prepare_cached(
                    "INSERT INTO target (kind, source_id, state, updated_ms) VALUES (?1, ?2, 'pending', ?3)
                     ON CONFLICT (kind, source_id) DO NOTHING",
                )?;
                let mut added = 0u64;
                for id in ids {
                    if insert.execute(params![kind, id, now])? == 1 {
                        added += 1;
                    }
                }
                *delta
                    .targets
                    .entry((kind.clone(), RecordState::Pending))
                    .or_default() += i64::try_from(added).unwrap_or(i64::MAX);
                Ok(Output::Count(added))
            }
            Op::EnsurePendingFromSources {
                source_kind,
                target_kind,
            } => {
                let added = self.conn.execute(
                    sql::ENSURE_PENDING_FROM_SOURCES,
                    params![source_kind, target_kind, now],
                )?;
                *delta
                    .targets
                    .entry((target_kind.clone(), RecordState::Pending))
                    .or_default() += i64::try_from(added).unwrap_or(i64::MAX);
                Ok(Output::Count(added as u64))
            }
            Op::MarkSent {
                kind,
                ids,
                batch_id,
            } => {
                for id in ids {
                    let prior = self.prior_state(kind, id)?;
                    self.conn
                        .prepare_cached(
                            "INSERT INTO target (kind, source_id, state, batch_id, sent_ms, updated_ms)
                             VALUES (?1, ?2, 'sent', ?3, ?4, ?4)
                             ON CONFLICT (kind, source_id) DO UPDATE SET
                               state = 'sent', batch_id = excluded.batch_id, job_id = NULL,
                               sent_ms = excluded.sent_ms, updated_ms = excluded.updated_ms",
                        )?
                        .execute(params![kind, id, batch_id, now])?;
                    delta.moved(kind, prior, RecordState::Sent);
                }
                Ok(Output::Unit)
            }
            Op::RecordJob { batch_id, job_id } => {
                let n = self
                    .conn
                    .prepare_cached(sql::RECORD_JOB)?
                    .execute(params![batch_id, job_id, now])?;
                Ok(Output::Count(n as u64))
            }
            Op::RecordUpload {
                kind,
                source_id,
                attachment_id,
            } => {
                let n = self
                    .conn
                    .prepare_cached(sql::RECORD_UPLOAD)?
                    .execute(params![kind, source_id, attachment_id, now])?;
                Ok(Output::Count(n as u64))
            }
            Op::MarkDone {
                kind,
                source_id,
                target_id,
                origin,
            } => {
                let prior = self.prior_state(kind, source_id)?;
                self.conn
                    .prepare_cached(
                        "INSERT INTO target (kind, source_id, state, target_id, origin, updated_ms)
                         VALUES (?1, ?2, 'done', ?3, ?5, ?4)
                         ON CONFLICT (kind, source_id) DO UPDATE SET
                           state = 'done', target_id = excluded.target_id, source_changed = 0,
                           error_class = NULL, error_message = NULL, reason = NULL,
                           origin = excluded.origin, updated_ms = excluded.updated_ms",
                    )?
                    .execute(params![kind, source_id, target_id, now, origin.as_str()])?;
                delta.moved(kind, prior, RecordState::Done);
                Ok(Output::Unit)
            }
            Op::MarkProblem {
                kind,
                source_id,
                problem,
                message,
                request,
                response,
            } => {
                let (state, class) = match problem {
                    Problem::Failed(class) => (RecordState::Failed, error_class_str(*class)),
                    Problem::Unknown => (RecordState::Unknown, "unknown"),
                };
                let exchange = (message.as_str(), request.as_str(), response.as_str());
                self.settle_with_error((kind, source_id), state, class, exchange, now, delta)?;
                Ok(Output::Unit)
            }
            Op::MarkSkipped {
                kind,
                source_id,
                reason,
            } => {
                self.set_disposition(kind, source_id, RecordState::Skipped, reason, now, delta)?;
                Ok(Output::Unit)
            }
            Op::ResetToPending { records } => {
                self.back_to_pending(records, sql::RESET_TO_PENDING, now, delta)
            }
            Op::RolledBack { records } => {
                self.back_to_pending(records, sql::ROLLED_BACK, now, delta)
            }
            Op::ResetFailed { kind } => {
                let mut per_kind: Vec<(String, i64)> = Vec::new();
                {
                    let mut statement = self.conn.prepare(sql::FAILED_PER_KIND)?;
                    let mut rows = statement.query(params![kind])?;
                    while let Some(row) = rows.next()? {
                        per_kind.push((row.get(0)?, row.get(1)?));
                    }
                }
                let moved = self.conn.execute(sql::RESET_FAILED, params![kind, now])?;
                for (kind, n) in per_kind {
                    *delta
                        .targets
                        .entry((kind.clone(), RecordState::Failed))
                        .or_default() -= n;
                    *delta
                        .targets
                        .entry((kind, RecordState::Pending))
                        .or_default() += n;
                }
                Ok(Output::Count(moved as u64))
            }
            Op::Archive {
                kind,
                source_id,
                reason,
            } => {
                self.set_disposition(kind, source_id, RecordState::Archived, reason, now, delta)?;
                self.conn.execute(
                    "INSERT INTO archive (run_id, kind, source_id, reason, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![self.current_run, kind, source_id, reason, now],
                )?;
                Ok(Output::Unit)
            }
            Op::Manual {
                record,
                title,
                detail,
            } => {
                if let Some((kind, source_id)) = record {
                    self.set_disposition(kind, source_id, RecordState::Manual, title, now, delta)?;
                }
                let (kind, source_id) = match record {
                    Some((k, id)) => (Some(k), Some(id)),
                    None => (None, None),
                };
                self.conn.execute(
                    "INSERT INTO manual (run_id, kind, source_id, title, detail, at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![self.current_run, kind, source_id, title, detail, now],
                )?;
                Ok(Output::Unit)
            }
            Op::SetCursor(cursor) => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO cursors (listing, cursor, complete, max_updated_at, fetched, total, updated_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT (listing) DO UPDATE SET
                           cursor = excluded.cursor, complete = excluded.complete,
                           max_updated_at = excluded.max_updated_at, fetched = excluded.fetched,
                           total = excluded.total, updated_ms = excluded.updated_ms",
                    )?
                    .execute(params![
                        cursor.listing,
                        cursor.cursor,
                        cursor.complete,
                        cursor.max_updated_at,
                        i64::try_from(cursor.fetched).unwrap_or(i64::MAX),
                        cursor.total.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
                        now
                    ])?;
                Ok(Output::Unit)
            }
            Op::SetNotRetrievable {
                kind,
                scope_id,
                count,
                reason,
            } => {
                self.conn.execute(
                    "INSERT INTO not_retrievable (kind, scope_id, count, reason) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (kind, scope_id) DO UPDATE SET count = excluded.count, reason = excluded.reason",
                    params![kind, scope_id, i64::try_from(*count).unwrap_or(i64::MAX), reason],
                )?;
                Ok(Output::Unit)
            }
            Op::AddWarning {
                kind,
                source_id,
                message,
            } => {
                self.conn.execute(
                    "INSERT INTO warnings (at_ms, kind, source_id, message) VALUES (?1, ?2, ?3, ?4)",
                    params![now, kind, source_id, message],
                )?;
                Ok(Output::Unit)
            }
            Op::LogEvent { level, message } => {
                self.conn.execute(
                    "INSERT INTO events (at_ms, level, message) VALUES (?1, ?2, ?3)",
                    params![now, level, message],
                )?;
                Ok(Output::Unit)
            }
            Op::PutDecision { key, value } => {
                self.conn.execute(
                    "INSERT INTO decisions (key, value, updated_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
                    params![key, value, now],
                )?;
                Ok(Output::Unit)
            }
            Op::DeleteDecision { key } => {
                let n = self
                    .conn
                    .execute("DELETE FROM decisions WHERE key = ?1", params![key])?;
                Ok(Output::Count(n as u64))
            }
            Op::StartRun { command } => {
                self.conn.execute(
                    "INSERT INTO runs (command, started_ms) VALUES (?1, ?2)",
                    params![command, now],
                )?;
                let id = self.conn.last_insert_rowid();
                self.current_run = Some(id);
                Ok(Output::Id(id))
            }
            Op::FinishRun {
                run_id,
                outcome,
                figures,
            } => {
                let n = self.conn.execute(
                    "UPDATE runs SET finished_ms = ?2, outcome = ?3, figures = ?4 WHERE id = ?1",
                    params![run_id, now, outcome, figures],
                )?;
                if n == 0 {
                    return Err(LedgerError::Corrupt(format!("no run with id {run_id}")));
                }
                Ok(Output::Unit)
            }
            Op::BulkLatency { ms } => {
                self.conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('longest_bulk_latency_ms', ?1)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![ms.to_string()],
                )?;
                Ok(Output::Unit)
            }
            Op::PutSample(sample) => {
                let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                self.conn.execute(
                    "INSERT INTO samples (run_id, at_ms, settled, settled_by_phase, kustomer_requests,
                         intercom_requests, kustomer_used, kustomer_allowed, kustomer_throttled,
                         intercom_throttled, faults, phases)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    params![
                        sample.run_id.or(self.current_run),
                        sample.at_ms,
                        to_i64(sample.settled),
                        serde_json::to_string(&sample.settled_by_phase)?,
                        to_i64(sample.kustomer_requests),
                        to_i64(sample.intercom_requests),
                        sample.kustomer_used,
                        sample.kustomer_allowed,
                        to_i64(sample.kustomer_throttled),
                        to_i64(sample.intercom_throttled),
                        to_i64(sample.faults),
                        serde_json::to_string(&sample.phases)?,
                    ],
                )?;
                Ok(Output::Unit)
            }
            Op::PutVerification { agrees, result } => {
                let run: Option<i64> =
                    self.conn
                        .query_row("SELECT max(id) FROM runs", [], |row| row.get(0))?;
                self.conn.execute(
                    "INSERT INTO verifications (run_id, at_ms, agrees, result) VALUES (?1, ?2, ?3, ?4)",
                    params![run, now, agrees, result],
                )?;
                Ok(Output::Unit)
            }
            Op::PutProbes(probes) => {
                // A new probe replaces the whole earlier one: an assumption it no longer
                // names must not keep an old answer.
                self.conn.execute("DELETE FROM probes", [])?;
                for p in probes {
                    self.conn.execute(
                        "INSERT INTO probes (assumption, outcome, detail, leftover, at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![p.assumption, p.outcome, p.detail, p.leftover, now],
                    )?;
                }
                Ok(Output::Unit)
            }
            Op::RecordChanges(changes) => {
                let mut insert = self.conn.prepare_cached(sql::RECORD_CHANGE)?;
                for c in changes {
                    insert.execute(params![
                        self.current_run,
                        c.kind,
                        c.source_id,
                        c.change.as_str(),
                        c.detail,
                        now
                    ])?;
                }
                Ok(Output::Unit)
            }
            Op::MarkUpdated { kind, source_id } => {
                self.conn
                    .prepare_cached(sql::MARK_UPDATED_TARGET)?
                    .execute(params![kind, source_id, now])?;
                self.conn
                    .prepare_cached(sql::MARK_UPDATED_SOURCE)?
                    .execute(params![kind, source_id])?;
                Ok(Output::Unit)
            }
            Op::PutMeta { key, value } => {
                self.conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![key, value],
                )?;
                Ok(Output::Unit)
            }
            Op::Flush => Ok(Output::Unit),
        }
    }

    /// Settles a record as `failed` or `unknown` with its error class, message and the redacted
    /// exchange `(message, request, response)`, counting the attempt.
    fn settle_with_error(
        &mut self,
        (kind, source_id): (&str, &str),
        state: RecordState,
        class: &str,
        (message, request, response): (&str, &str, &str),
        now: i64,
        delta: &mut Delta,
    ) -> Result<(), LedgerError> {
        let prior = self.prior_state(kind, source_id)?;
        self.conn
            .prepare_cached(
                "INSERT INTO target (kind, source_id, state, attempts, error_class, error_message,
                                     last_request, last_response, updated_ms)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (kind, source_id) DO UPDATE SET
                   state = excluded.state, attempts = attempts + 1,
                   error_class = excluded.error_class, error_message = excluded.error_message,
                   last_request = excluded.last_request, last_response = excluded.last_response,
                   updated_ms = excluded.updated_ms",
            )?
            .execute(params![
                kind,
                source_id,
                state.as_str(),
                class,
                message,
                request,
                response,
                now
            ])?;
        delta.moved(kind, prior, state);
        Ok(())
    }

    fn put_sources(
        &mut self,
        records: &[SourceRecord],
        now: i64,
        delta: &mut Delta,
    ) -> Result<Output, LedgerError> {
        let mut added = 0u64;
        for record in records {
            let prior: Option<String> = self
                .conn
                .prepare_cached(sql::PRIOR_RAW)?
                .query_row(params![record.kind, record.source_id], |row| row.get(0))
                .optional()?;
            self.conn
                .prepare_cached(
                    "INSERT INTO source (kind, source_id, parent_id, updated_at, raw, problem, incomplete, extracted_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (kind, source_id) DO UPDATE SET
                       parent_id = excluded.parent_id, updated_at = excluded.updated_at,
                       raw = excluded.raw, problem = excluded.problem,
                       incomplete = excluded.incomplete, extracted_ms = excluded.extracted_ms",
                )?
                .execute(params![
                    record.kind,
                    record.source_id,
                    record.parent_id,
                    record.updated_at,
                    record.raw,
                    record.problem,
                    record.is_incomplete(),
                    now
                ])?;
            match prior {
                None => {
                    added += 1;
                    *delta.sources.entry(record.kind.clone()).or_default() += 1;
                }
                Some(prior_raw) if prior_raw != record.raw => {
                    let flagged = self
                        .conn
                        .prepare_cached(sql::FLAG_SOURCE_CHANGED)?
                        .execute(params![record.kind, record.source_id, now])?;
                    if flagged > 0 {
                        self.conn
                            .prepare_cached(sql::KEEP_LOADED_RAW)?
                            .execute(params![record.kind, record.source_id, prior_raw])?;
                    }
                }
                Some(_) => {}
            }
        }
        Ok(Output::Count(added))
    }

    /// Moves a record to an end state that carries a reason (skipped, archived, manual).
    fn set_disposition(
        &mut self,
        kind: &str,
        source_id: &str,
        state: RecordState,
        reason: &str,
        now: i64,
        delta: &mut Delta,
    ) -> Result<(), LedgerError> {
        let prior = self.prior_state(kind, source_id)?;
        self.conn
            .prepare_cached(
                "INSERT INTO target (kind, source_id, state, reason, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kind, source_id) DO UPDATE SET
                   state = excluded.state, reason = excluded.reason, updated_ms = excluded.updated_ms",
            )?
            .execute(params![kind, source_id, state.as_str(), reason, now])?;
        delta.moved(kind, prior, state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sent_marks_ask_for_a_power_safe_commit() {
        let sent = Op::MarkSent {
            kind: "customers".into(),
            ids: vec!["1".into()],
            batch_id: None,
        };
        let done = Op::MarkDone {
            kind: "customers".into(),
            source_id: "1".into(),
            target_id: "k1".into(),
            origin: Origin::Created,
        };
        assert!(sent.needs_power_safe_commit());
        assert!(!done.needs_power_safe_commit());
    }

    #[test]
    fn a_delta_moves_one_record_between_states() {
        let mut delta = Delta::default();
        delta.moved("customers", None, RecordState::Pending);
        delta.moved("customers", Some(RecordState::Pending), RecordState::Sent);
        delta.moved("customers", Some(RecordState::Sent), RecordState::Sent);
        let mut counters = CounterSnapshot::default();
        delta.apply(&mut counters);
        let counts = counters.target("customers");
        assert_eq!((counts.pending, counts.sent, counts.total()), (0, 1, 1));
    }
}
