//! The text of every ledger query that reads `source` or `target` by a condition, named once: the
//! reader and the writer run these, and `tests/ledger_plans.rs` asks SQLite how it plans each one
//! (with parameters bound, as the ledger runs them) so that a full scan or a sort of a whole kind
//! fails a test instead of slowing a migration down.
//!
//! Plans are pinned with `INDEXED BY` where SQLite's planner, which has no statistics on a
//! ledger (no `ANALYZE` is ever run: a ledger starts empty, and statistics taken then would mislead
//! it later), would otherwise misjudge: with a non-covering index on a `WITHOUT ROWID` table it
//! estimates the index plus the table lookup as dearer than a range of the primary key, so
//! `kind = ? AND parent_id = ?` ran as `SEARCH source USING PRIMARY KEY (kind=?)` — every
//! conversation read every staged part. `INDEXED BY` also turns a dropped or renamed index into an
//! error at prepare time rather than a silent scan.

/// The columns of a `WorkItem` and the join that gives each target record its source.
const WORK_ITEM_COLUMNS: &str = "t.kind, t.source_id, t.state, t.target_id, t.batch_id, t.job_id,
    t.sent_ms, t.attempts, t.source_changed, s.raw, coalesce(s.incomplete, 0)
    FROM target t LEFT JOIN source s ON s.kind = t.kind AND s.source_id = t.source_id";

/// The columns of a `SourceRecord`.
const SOURCE_COLUMNS: &str = "kind, source_id, parent_id, updated_at, raw, problem FROM source";

/// [`WORK_ITEM_COLUMNS`] reading `target` through `index`.
fn work_items_by(index: &str) -> String {
    WORK_ITEM_COLUMNS.replace(
        "FROM target t",
        &format!("FROM target t INDEXED BY {index}"),
    )
}

/// [`SOURCE_COLUMNS`] reading `source` through `index`.
fn sources_by(index: &str) -> String {
    SOURCE_COLUMNS.replace("FROM source", &format!("FROM source INDEXED BY {index}"))
}

// ---- reader: target ---------------------------------------------------------------------------

pub const TARGET_ID: &str = "SELECT target_id FROM target WHERE kind = ?1 AND source_id = ?2";

pub fn record() -> String {
    format!("SELECT {WORK_ITEM_COLUMNS} WHERE t.kind = ?1 AND t.source_id = ?2")
}

/// A page of a kind in `states` states after a key. With one state the (kind, state, source_id)
/// index yields exactly the rows wanted, in order. With several, `+t.state` keeps SQLite off that
/// index and on the primary key, already in source-id order, so it never sorts a whole type to
/// return one page (it steps over records in other states, which a page of a phase's own work
/// rarely meets in numbers).
pub fn next_batch(states: usize) -> String {
    let state_term = if states == 1 {
        "t.state = ?".to_string()
    } else {
        format!("+t.state IN ({})", vec!["?"; states].join(", "))
    };
    let columns = if states == 1 {
        work_items_by("target_by_state")
    } else {
        WORK_ITEM_COLUMNS.to_string()
    };
    format!(
        "SELECT {columns}
         WHERE t.kind = ? AND t.source_id > ? AND {state_term}
         ORDER BY t.source_id LIMIT ?"
    )
}

pub fn sent_without_job() -> String {
    format!(
        "SELECT {}
         WHERE t.kind = ?1 AND t.state = 'sent' AND t.source_id > ?2
           AND t.batch_id IS NOT NULL AND t.job_id IS NULL
         ORDER BY t.source_id LIMIT ?3",
        work_items_by("target_by_state")
    )
}

pub fn changed_since_done() -> String {
    format!(
        "SELECT {}
         WHERE t.kind = ?1 AND t.state = 'done' AND t.source_changed = 1 AND t.source_id > ?2
         ORDER BY t.source_id LIMIT ?3",
        work_items_by("target_by_state")
    )
}

/// Groups the `sent` items of one kind by batch: it sorts only those items (a resumed run's
/// in-flight batches), never the kind.
pub const SENT_BATCHES: &str = "SELECT batch_id, max(job_id), min(sent_ms), count(*)
     FROM target INDEXED BY target_by_state
     WHERE kind = ?1 AND state = 'sent' AND batch_id IS NOT NULL
     GROUP BY batch_id ORDER BY min(sent_ms), batch_id";

/// A batch holds one kind, so ordering by (kind, source id) is ordering by source id, and that is
/// the order the batch index keeps (the primary key follows `batch_id` in it): no sort.
pub fn batch_items() -> String {
    format!(
        "SELECT {}
         WHERE t.batch_id = ?1 ORDER BY t.kind, t.source_id",
        work_items_by("target_by_batch")
    )
}

/// Every target record counted per kind and state: for the report, verify and the counters'
/// seed at open, never per item.
pub const COUNTS_BY_KIND: &str = "SELECT kind, state, count(*) FROM target GROUP BY kind, state";

/// Why records of a kind are in a state, grouped (the report).
pub const REASONS: &str = "SELECT COALESCE(CASE WHEN state = 'failed' THEN error_message ELSE reason END, ''), count(*)
     FROM target INDEXED BY target_by_state WHERE kind = ?1 AND state = ?2 GROUP BY 1 ORDER BY 2 DESC, 1";

/// A page of the records of a kind in one state after a source id, with their Kustomer id and
/// why they are in it (the follow-up list of failed, skipped and unknown records).
pub const FOLLOW_UP: &str = "SELECT source_id, target_id,
     COALESCE(CASE WHEN state = 'failed' THEN error_message ELSE COALESCE(reason, error_message) END, '')
     FROM target INDEXED BY target_by_state WHERE kind = ?1 AND state = ?2 AND source_id > ?3
     ORDER BY source_id LIMIT ?4";

/// Failed records, optionally of one kind, class, or matching a text; `condition` comes from
/// `LedgerReader::failure_where` and names a kind when `of_kind`.
pub fn failures(condition: &str, of_kind: bool) -> String {
    format!(
        "SELECT kind, source_id, error_class, error_message, attempts, updated_ms FROM target {}
         WHERE {condition} ORDER BY kind, source_id LIMIT ? OFFSET ?",
        state_index(of_kind)
    )
}

pub fn failure_count(condition: &str, of_kind: bool) -> String {
    format!(
        "SELECT count(*) FROM target {} WHERE {condition}",
        state_index(of_kind)
    )
}

/// With a kind, the failed records are one range of the (kind, state, source_id) index.
fn state_index(of_kind: bool) -> &'static str {
    if of_kind {
        "INDEXED BY target_by_state"
    } else {
        ""
    }
}

pub const FAILURE_DETAIL: &str =
    "SELECT kind, source_id, error_class, error_message, attempts, updated_ms,
            last_request, last_response
     FROM target WHERE kind = ?1 AND source_id = ?2 AND state IN ('failed', 'unknown')";

// ---- reader: source ---------------------------------------------------------------------------

pub fn source() -> String {
    format!("SELECT {SOURCE_COLUMNS} WHERE kind = ?1 AND source_id = ?2")
}

pub fn sources_page() -> String {
    format!(
        "SELECT {SOURCE_COLUMNS} WHERE kind = ?1 AND source_id > ?2 ORDER BY source_id LIMIT ?3"
    )
}

/// A page of the records of `kind` staged since a time (`extracted_ms >= ?3`), in source-id
/// order: what one extraction pass staged, read again for a second stage of that pass.
pub fn staged_since_page() -> String {
    format!(
        "SELECT {SOURCE_COLUMNS} WHERE kind = ?1 AND source_id > ?2 AND extracted_ms >= ?3 ORDER BY source_id LIMIT ?4"
    )
}

/// A record's children (a conversation's parts, an article's versions). The partial index holds
/// (kind, parent_id) and, as every index of a `WITHOUT ROWID` table does, the primary key after
/// them, so it yields the children already in source-id order.
pub fn children() -> String {
    format!(
        "SELECT {} WHERE kind = ?1 AND parent_id = ?2 ORDER BY source_id",
        sources_by("source_by_parent")
    )
}

/// A parent's children of a kind, each with the state of its target record of `?3` (NULL when it
/// has none): one pass where a lookup per child read each child's raw JSON a second time.
pub const CHILDREN_WITH_STATE: &str =
    "SELECT s.kind, s.source_id, s.parent_id, s.updated_at, s.raw, s.problem, t.state
     FROM source s INDEXED BY source_by_parent
     LEFT JOIN target t ON t.kind = ?3 AND t.source_id = s.source_id
     WHERE s.kind = ?1 AND s.parent_id = ?2 ORDER BY s.source_id";

/// Whether a record is staged, without reading its raw JSON.
pub const SOURCE_EXISTS: &str = "SELECT 1 FROM source WHERE kind = ?1 AND source_id = ?2";

/// Staged records per kind (the report, verify, the counters' seed at open).
pub const SOURCE_COUNTS: &str = "SELECT kind, count(*) FROM source GROUP BY kind";

pub fn source_problems() -> String {
    format!(
        "SELECT {} WHERE problem IS NOT NULL ORDER BY kind, source_id LIMIT ?1 OFFSET ?2",
        sources_by("source_problems")
    )
}

pub fn incomplete_sources() -> String {
    format!(
        "SELECT {} WHERE kind = ?1 AND incomplete = 1 ORDER BY source_id",
        sources_by("source_incomplete")
    )
}

/// Done records per kind whose Kustomer record existed before i2k (matched, not created).
pub const MATCHED_COUNTS: &str = "SELECT kind, count(*) FROM target INDEXED BY target_matched
     WHERE origin = 'matched' AND state = 'done' GROUP BY kind";

pub const INCOMPLETE_COUNTS: &str = "SELECT kind, count(*) FROM source INDEXED BY source_incomplete
     WHERE incomplete = 1 GROUP BY kind";

/// The stored source records of a kind that cannot be read (`raw` is not JSON: the load's one
/// decode policy marks such a record failed rather than read it as an empty one), with where
/// their target records (of kind `?2`) stand: failed, or settled before the record was damaged.
/// One range of the primary key per kind, each target found by its key; plan counts them before
/// any load, verify apart from ordinary failures.
pub const UNREADABLE: &str = "SELECT count(*),
       coalesce(sum(t.state = 'failed'), 0),
       coalesce(sum(t.state IN ('done', 'skipped', 'archived', 'manual')), 0)
     FROM source s LEFT JOIN target t ON t.kind = ?2 AND t.source_id = s.source_id
     WHERE s.kind = ?1 AND json_valid(s.raw) = 0";

/// The bytes of a kind of staged files (attachments, inline images): what Intercom says each
/// weighs (or what was downloaded, when it was), and what was downloaded. For the disk estimate.
pub const FILE_BYTES: &str = "SELECT
       coalesce(sum(coalesce(json_extract(raw, '$.size'), json_extract(raw, '$.filesize'), 0)), 0),
       coalesce(sum(coalesce(json_extract(raw, '$.size'), 0)), 0)
     FROM source WHERE kind = ?1";

// ---- writer -----------------------------------------------------------------------------------

pub const PRIOR_STATE: &str = "SELECT state FROM target WHERE kind = ?1 AND source_id = ?2";

pub const PRIOR_RAW: &str = "SELECT raw FROM source WHERE kind = ?1 AND source_id = ?2";

pub const FLAG_SOURCE_CHANGED: &str = "UPDATE target SET source_changed = 1, updated_ms = ?3
     WHERE kind = ?1 AND source_id = ?2 AND state = 'done'";

/// Keeps the source record a loaded record was written from, the first time it changes after
/// the write (a second change before the update keeps the first: that is what Kustomer holds).
pub const KEEP_LOADED_RAW: &str = "UPDATE source SET loaded_raw = coalesce(loaded_raw, ?3)
     WHERE kind = ?1 AND source_id = ?2";

/// An update in place carried the changed source record: it is what Kustomer holds now.
pub const MARK_UPDATED_TARGET: &str = "UPDATE target SET source_changed = 0, updated_ms = ?3
     WHERE kind = ?1 AND source_id = ?2";
pub const MARK_UPDATED_SOURCE: &str =
    "UPDATE source SET loaded_raw = NULL WHERE kind = ?1 AND source_id = ?2";

pub const RECORD_CHANGE: &str = "INSERT INTO changes (run_id, kind, source_id, change, detail, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// What each kind of change a run made counts, by kind.
pub const CHANGES_OF_RUN: &str =
    "SELECT kind, change, count(*) FROM changes INDEXED BY changes_by_run
     WHERE run_id = ?1 GROUP BY kind, change ORDER BY kind, change";

/// The changes of one kind of a run, in the order they were recorded.
pub const CHANGE_ROWS_OF_RUN: &str = "SELECT kind, source_id, change, detail, at_ms FROM changes
     INDEXED BY changes_by_run WHERE run_id = ?1 AND kind = ?2 AND change = ?3 ORDER BY id LIMIT ?4";

/// Records found removed in Intercom that no later change deleted in Kustomer.
pub const REMOVED_KEPT: &str =
    "SELECT DISTINCT r.kind, r.source_id FROM changes r INDEXED BY changes_by_record
     WHERE r.change = 'removed' AND NOT EXISTS (
       SELECT 1 FROM changes d INDEXED BY changes_by_record
       WHERE d.change = 'deleted' AND d.kind = r.kind AND d.source_id = r.source_id)
     ORDER BY r.kind, r.source_id";

pub const ENSURE_PENDING_FROM_SOURCES: &str =
    "INSERT INTO target (kind, source_id, state, updated_ms)
     SELECT ?2, source_id, 'pending', ?3 FROM source WHERE kind = ?1
     ON CONFLICT (kind, source_id) DO NOTHING";

pub const RECORD_JOB: &str =
    "UPDATE target INDEXED BY target_by_batch SET job_id = ?2, updated_ms = ?3
     WHERE batch_id = ?1 AND state = 'sent'";

/// Keeps the id of the attachment a `sent` upload registered (in `job_id`), so that a later run
/// asks whether its file arrived instead of uploading it again.
pub const RECORD_UPLOAD: &str = "UPDATE target SET job_id = ?3, updated_ms = ?4
     WHERE kind = ?1 AND source_id = ?2 AND state = 'sent'";

pub const RESET_TO_PENDING: &str =
    "UPDATE target SET state = 'pending', batch_id = NULL, job_id = NULL,
       sent_ms = NULL, updated_ms = ?3
     WHERE kind = ?1 AND source_id = ?2";

/// A rollback deleted the record's Kustomer record: the row is as if never loaded, so the next
/// run creates it afresh (its origin, Kustomer id, attempts and last error forgotten).
pub const ROLLED_BACK: &str =
    "UPDATE target SET state = 'pending', target_id = NULL, origin = NULL, batch_id = NULL,
       job_id = NULL, sent_ms = NULL, attempts = 0, error_class = NULL, error_message = NULL,
       reason = NULL, source_changed = 0, updated_ms = ?3
     WHERE kind = ?1 AND source_id = ?2";

/// How many records of a kind i2k created in Kustomer (done, `origin = 'created'`).
pub const CREATED_COUNT: &str = "SELECT count(*) FROM target INDEXED BY target_by_state
     WHERE kind = ?1 AND state = 'done' AND origin = 'created'";

/// A page of the records of a kind that i2k created in Kustomer (done, `origin = 'created'`),
/// after a key: what a rollback may delete.
pub fn created_page() -> String {
    format!(
        "SELECT {}
         WHERE t.kind = ?1 AND t.state = 'done' AND t.source_id > ?2 AND t.origin = 'created'
         ORDER BY t.source_id LIMIT ?3",
        work_items_by("target_by_state")
    )
}

/// `run --retry-failed`, once per run: the failed records of every kind, or of one.
pub const FAILED_PER_KIND: &str = "SELECT kind, count(*) FROM target
     WHERE state = 'failed' AND (?1 IS NULL OR kind = ?1) GROUP BY kind";

pub const RESET_FAILED: &str =
    "UPDATE target SET state = 'pending', batch_id = NULL, job_id = NULL,
       sent_ms = NULL, updated_ms = ?2
     WHERE state = 'failed' AND (?1 IS NULL OR kind = ?1)";

/// A query as the catalog names it, for the plan test.
#[doc(hidden)]
pub struct NamedQuery {
    pub name: &'static str,
    pub sql: String,
}

/// Every query above (the failure filters in their fullest form), by name.
#[doc(hidden)]
pub fn catalog() -> Vec<NamedQuery> {
    let q = |name: &'static str, sql: String| NamedQuery { name, sql };
    vec![
        q("target_id", TARGET_ID.to_string()),
        q("record", record()),
        q("next_batch_one_state", next_batch(1)),
        q("next_batch_two_states", next_batch(2)),
        q("sent_without_job", sent_without_job()),
        q("changed_since_done", changed_since_done()),
        q("sent_batches", SENT_BATCHES.to_string()),
        q("batch_items", batch_items()),
        q("counts_by_kind", COUNTS_BY_KIND.to_string()),
        q("reasons", REASONS.to_string()),
        q("follow_up", FOLLOW_UP.to_string()),
        q(
            "failures_of_kind",
            failures("state = 'failed' AND kind = ?", true),
        ),
        q("failures_all", failures("state = 'failed'", false)),
        q(
            "failure_count_of_kind",
            failure_count("state = 'failed' AND kind = ?", true),
        ),
        q(
            "failure_count_all",
            failure_count("state = 'failed'", false),
        ),
        q("failure_detail", FAILURE_DETAIL.to_string()),
        q("source", source()),
        q("sources_page", sources_page()),
        q("staged_since_page", staged_since_page()),
        q("children", children()),
        q("children_with_state", CHILDREN_WITH_STATE.to_string()),
        q("source_exists", SOURCE_EXISTS.to_string()),
        q("source_counts", SOURCE_COUNTS.to_string()),
        q("source_problems", source_problems()),
        q("incomplete_sources", incomplete_sources()),
        q("incomplete_counts", INCOMPLETE_COUNTS.to_string()),
        q("matched_counts", MATCHED_COUNTS.to_string()),
        q("file_bytes", FILE_BYTES.to_string()),
        q("unreadable", UNREADABLE.to_string()),
        q("prior_state", PRIOR_STATE.to_string()),
        q("prior_raw", PRIOR_RAW.to_string()),
        q("flag_source_changed", FLAG_SOURCE_CHANGED.to_string()),
        q("keep_loaded_raw", KEEP_LOADED_RAW.to_string()),
        q("mark_updated_target", MARK_UPDATED_TARGET.to_string()),
        q("mark_updated_source", MARK_UPDATED_SOURCE.to_string()),
        q("changes_of_run", CHANGES_OF_RUN.to_string()),
        q("change_rows_of_run", CHANGE_ROWS_OF_RUN.to_string()),
        q("removed_kept", REMOVED_KEPT.to_string()),
        q(
            "ensure_pending_from_sources",
            ENSURE_PENDING_FROM_SOURCES.to_string(),
        ),
        q("record_job", RECORD_JOB.to_string()),
        q("record_upload", RECORD_UPLOAD.to_string()),
        q("reset_to_pending", RESET_TO_PENDING.to_string()),
        q("rolled_back", ROLLED_BACK.to_string()),
        q("created_page", created_page()),
        q("created_count", CREATED_COUNT.to_string()),
        q("failed_per_kind", FAILED_PER_KIND.to_string()),
        q("reset_failed", RESET_FAILED.to_string()),
    ]
}
