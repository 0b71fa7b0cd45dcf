//! Read connections to the ledger. Each `LedgerReader` owns its own SQLite connection (WAL lets it
//! read while the writer commits) and never writes. It is `Send`, so it can move into
//! `spawn_blocking` or a UI thread; it is not shared between threads at once.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params, params_from_iter};

use super::{
    ArchiveEntry, DB_FILE, ExtractCursor, FailureFilter, FailureRecord, FailureRow, LedgerError,
    ManualItem, RecordState, RunRecord, Sample, SentBatch, SourceRecord, StateCounts,
    StoredVerification, Warning, WorkItem, error_class_str, parse_error_class, schema, sql,
};

/// Records of a kind that a keyset listing of [`LedgerReader::listed`] walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// `sent` in a bulk batch whose job id never arrived (the answer was lost).
    SentWithoutJob,
    /// Loaded, but their source changed since: they need an update.
    ChangedSinceDone,
    /// Done with a Kustomer record i2k created (origin `created`): what a rollback may delete.
    Created,
}

pub struct LedgerReader {
    conn: Connection,
}

impl LedgerReader {
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }
}

fn work_item(row: &Row<'_>) -> rusqlite::Result<(WorkItem, String)> {
    let state: String = row.get(2)?;
    let attempts: i64 = row.get(7)?;
    Ok((
        WorkItem {
            kind: row.get(0)?,
            source_id: row.get(1)?,
            // Filled in by `collect_items`, which can report a bad state as a ledger error.
            state: RecordState::Pending,
            target_id: row.get(3)?,
            batch_id: row.get(4)?,
            job_id: row.get(5)?,
            sent_ms: row.get(6)?,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            source_changed: row.get::<_, i64>(8)? != 0,
            raw: row.get(9)?,
            incomplete: row.get::<_, i64>(10)? != 0,
        },
        state,
    ))
}

fn collect_items(
    rows: impl Iterator<Item = rusqlite::Result<(WorkItem, String)>>,
) -> Result<Vec<WorkItem>, LedgerError> {
    collect_within(rows, usize::MAX)
}

/// The rows read in order until their stored sources reach `raw_bytes` (the row that reaches it
/// is kept, so a page is never empty while rows remain); rows past it are not read at all.
fn collect_within(
    rows: impl Iterator<Item = rusqlite::Result<(WorkItem, String)>>,
    raw_bytes: usize,
) -> Result<Vec<WorkItem>, LedgerError> {
    let mut items = Vec::new();
    let mut held = 0usize;
    for row in rows {
        let (mut item, state) = row?;
        item.state = RecordState::parse(&state)?;
        held += item.raw.as_ref().map_or(0, String::len);
        items.push(item);
        if held >= raw_bytes {
            break;
        }
    }
    Ok(items)
}

/// Walks a listing read by offset (warnings, archive entries, source problems) page by page,
/// handing each page to `each`: no more than one page is in memory at a time.
pub fn for_each_page<T>(
    mut read: impl FnMut(usize) -> Result<Vec<T>, LedgerError>,
    mut each: impl FnMut(Vec<T>),
) -> Result<(), LedgerError> {
    let mut offset = 0;
    loop {
        let page = read(offset)?;
        if page.is_empty() {
            return Ok(());
        }
        offset += page.len();
        each(page);
    }
}

/// The stored source records of one kind that cannot be read (`raw` is not JSON), and where
/// their target records stand. The load marks such a record failed with its reason; it is never
/// read as an empty record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unreadable {
    /// Every such record.
    pub records: u64,
    /// Of them, those whose target record is `failed`.
    pub failed: u64,
    /// Of them, those settled otherwise (done, skipped, archived, manual) before their stored
    /// record was damaged.
    pub settled: u64,
}

impl Unreadable {
    /// The records that cannot be read and did not settle: what they keep from Kustomer.
    pub fn unsettled(&self) -> u64 {
        self.records.saturating_sub(self.settled)
    }
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn source_record(row: &Row<'_>) -> rusqlite::Result<SourceRecord> {
    Ok(SourceRecord {
        kind: row.get(0)?,
        source_id: row.get(1)?,
        parent_id: row.get(2)?,
        updated_at: row.get(3)?,
        raw: row.get(4)?,
        problem: row.get(5)?,
    })
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl LedgerReader {
    /// Opens a read connection to the ledger in the state directory `dir` (no lock needed: a
    /// report or verify may read while a run writes).
    pub fn open(dir: &Path) -> Result<LedgerReader, LedgerError> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(LedgerError::Missing {
                dir: dir.to_path_buf(),
            });
        }
        LedgerReader::open_file(&path)
    }

    pub(super) fn open_file(path: &Path) -> Result<LedgerReader, LedgerError> {
        // Read-write flags without CREATE: a read-only connection cannot open a WAL database whose
        // -shm file is gone; `query_only` keeps this connection from writing all the same.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        schema::configure_reader(&conn)?;
        let found = schema::read_version(&conn)?;
        schema::check_supported(found, path)?;
        Ok(LedgerReader { conn })
    }

    // ---- target records -------------------------------------------------------------------

    /// The Kustomer id of a loaded record (None until it is `done`).
    pub fn target_id(&self, kind: &str, source_id: &str) -> Result<Option<String>, LedgerError> {
        let id: Option<Option<String>> = self
            .conn
            .prepare_cached(sql::TARGET_ID)?
            .query_row(params![kind, source_id], |row| row.get(0))
            .optional()?;
        Ok(id.flatten())
    }

    pub fn record(&self, kind: &str, source_id: &str) -> Result<Option<WorkItem>, LedgerError> {
        let mut statement = self.conn.prepare_cached(&sql::record())?;
        let rows = statement.query_map(params![kind, source_id], work_item)?;
        Ok(collect_items(rows)?.pop())
    }

    /// One page of records of `kind` in any of `states`, ordered by source id, after `after_key`.
    /// Each page is a range scan from `after_key`: paging a type costs one pass, and only one
    /// page is in memory at a time.
    pub fn next_batch(
        &self,
        kind: &str,
        states: &[RecordState],
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<WorkItem>, LedgerError> {
        self.next_batch_within(kind, states, after_key, limit, usize::MAX)
    }

    /// [`LedgerReader::next_batch`], ending the page early once its stored sources reach
    /// `raw_bytes` (see [`super::PAGE_RAW_BYTES`]).
    pub fn next_batch_within(
        &self,
        kind: &str,
        states: &[RecordState],
        after_key: Option<&str>,
        limit: usize,
        raw_bytes: usize,
    ) -> Result<Vec<WorkItem>, LedgerError> {
        if states.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut values: Vec<rusqlite::types::Value> = vec![
            kind.to_string().into(),
            after_key.unwrap_or("").to_string().into(),
        ];
        values.extend(states.iter().map(|s| s.as_str().to_string().into()));
        values.push(limit_param(limit).into());
        let mut statement = self.conn.prepare_cached(&sql::next_batch(states.len()))?;
        let rows = statement.query_map(params_from_iter(values), work_item)?;
        collect_within(rows, raw_bytes)
    }

    /// One page of `kind`'s records in `listing`, ordered by source id, after `after_key`.
    pub fn listed(
        &self,
        listing: Listed,
        kind: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<WorkItem>, LedgerError> {
        self.listed_within(listing, kind, after_key, limit, usize::MAX)
    }

    /// [`LedgerReader::listed`], ending the page early once its stored sources reach
    /// `raw_bytes` (see [`super::PAGE_RAW_BYTES`]).
    pub fn listed_within(
        &self,
        listing: Listed,
        kind: &str,
        after_key: Option<&str>,
        limit: usize,
        raw_bytes: usize,
    ) -> Result<Vec<WorkItem>, LedgerError> {
        let sql = match listing {
            Listed::SentWithoutJob => sql::sent_without_job(),
            Listed::ChangedSinceDone => sql::changed_since_done(),
            Listed::Created => sql::created_page(),
        };
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(
            params![kind, after_key.unwrap_or(""), limit_param(limit)],
            work_item,
        )?;
        collect_within(rows, raw_bytes)
    }

    /// Every row `sql` selects with `params`, each read with `read`, collected.
    fn rows<T, C: FromIterator<T>>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<C, LedgerError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let rows = statement.query_map(params, read)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One keyset page of `kind` that `sql` selects (`?1` the kind, `?2` the source id the page
    /// starts after, `?3` the most rows), each row read with `read`.
    fn page_after<T>(
        &self,
        sql: &str,
        kind: &str,
        after_key: Option<&str>,
        limit: usize,
        read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, LedgerError> {
        self.rows(
            sql,
            params![kind, after_key.unwrap_or(""), limit_param(limit)],
            read,
        )
    }

    /// How many of `kind`'s records i2k created in Kustomer (done, origin `created`).
    pub fn created_count(&self, kind: &str) -> Result<u64, LedgerError> {
        let n: i64 = self
            .conn
            .prepare_cached(sql::CREATED_COUNT)?
            .query_row(params![kind], |row| row.get(0))?;
        Ok(to_u64(n))
    }

    /// Bulk batches of `kind` with items still `sent` (a resumed run polls or looks them up).
    pub fn sent_batches(&self, kind: &str) -> Result<Vec<SentBatch>, LedgerError> {
        self.rows(sql::SENT_BATCHES, params![kind], |row| {
            Ok(SentBatch {
                kind: kind.to_string(),
                batch_id: row.get(0)?,
                job_id: row.get(1)?,
                sent_ms: row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                items: to_u64(row.get(3)?),
            })
        })
    }

    /// Every record sent in `batch_id`, whatever its state now.
    pub fn batch_items(&self, batch_id: &str) -> Result<Vec<WorkItem>, LedgerError> {
        let mut statement = self.conn.prepare_cached(&sql::batch_items())?;
        let rows = statement.query_map(params![batch_id], work_item)?;
        collect_items(rows)
    }

    /// Counted in SQL (for the report and verify); per frame, use `Ledger::counters`.
    pub fn counts_by_kind(&self) -> Result<BTreeMap<String, StateCounts>, LedgerError> {
        let mut statement = self.conn.prepare_cached(sql::COUNTS_BY_KIND)?;
        let mut rows = statement.query([])?;
        let mut counts: BTreeMap<String, StateCounts> = BTreeMap::new();
        while let Some(row) = rows.next()? {
            let state = RecordState::parse(&row.get::<_, String>(1)?)?;
            counts
                .entry(row.get(0)?)
                .or_default()
                .add(state, row.get(2)?);
        }
        Ok(counts)
    }

    // ---- failures -------------------------------------------------------------------------

    /// The condition for `filter`'s records: failed ones, and with `unknown` also those whose
    /// write's outcome is unknown.
    fn failure_where(
        filter: &FailureFilter,
        unknown: bool,
    ) -> (String, Vec<rusqlite::types::Value>) {
        let mut sql = String::from(if unknown {
            "state IN ('failed', 'unknown')"
        } else {
            "state = 'failed'"
        });
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(kind) = &filter.kind {
            sql.push_str(" AND kind = ?");
            values.push(kind.clone().into());
        }
        if let Some(class) = filter.class {
            sql.push_str(" AND error_class = ?");
            values.push(error_class_str(class).to_string().into());
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
            sql.push_str(" AND (instr(lower(error_message), lower(?)) > 0 OR instr(lower(source_id), lower(?)) > 0)");
            values.push(text.to_string().into());
            values.push(text.to_string().into());
        }
        (sql, values)
    }

    /// Failed records matching `filter`, by kind then source id.
    pub fn failures(
        &self,
        filter: &FailureFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<FailureRow>, LedgerError> {
        self.failure_rows(filter, false, offset, limit)
    }

    /// What the Errors screen lists: the failed records matching `filter` and those whose write's
    /// outcome is unknown (sent, the answer lost, no lookup; class [`ErrorClass::Unknown`]), by
    /// kind then source id.
    pub fn failures_and_unknown(
        &self,
        filter: &FailureFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<FailureRow>, LedgerError> {
        self.failure_rows(filter, true, offset, limit)
    }

    fn failure_rows(
        &self,
        filter: &FailureFilter,
        unknown: bool,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<FailureRow>, LedgerError> {
        let (condition, mut values) = Self::failure_where(filter, unknown);
        let sql = sql::failures(&condition, filter.kind.is_some());
        values.push(limit_param(limit).into());
        values.push(limit_param(offset).into());
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params_from_iter(values))?;
        let mut failures = Vec::new();
        while let Some(row) = rows.next()? {
            failures.push(failure_row(row)?);
        }
        Ok(failures)
    }

    pub fn failure_count(&self, filter: &FailureFilter) -> Result<u64, LedgerError> {
        let (condition, values) = Self::failure_where(filter, false);
        let sql = sql::failure_count(&condition, filter.kind.is_some());
        let n: i64 = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(values), |row| row.get(0))?;
        Ok(to_u64(n))
    }

    /// The failure of one record with its source and last exchange; None unless it is `failed`
    /// (or `unknown`: sent, its answer lost, with the exchange that lost it).
    pub fn failure_detail(
        &self,
        kind: &str,
        source_id: &str,
    ) -> Result<Option<FailureRecord>, LedgerError> {
        let mut statement = self.conn.prepare_cached(sql::FAILURE_DETAIL)?;
        let mut rows = statement.query(params![kind, source_id])?;
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        let failure = failure_row(row)?;
        let request: Option<String> = row.get(6)?;
        let response: Option<String> = row.get(7)?;
        let source = self.source(kind, source_id)?.map(|s| pretty_json(&s.raw));
        Ok(Some(FailureRecord {
            failure,
            source,
            request: request.unwrap_or_default(),
            response: response.unwrap_or_default(),
        }))
    }

    // ---- source records -------------------------------------------------------------------

    pub fn source(&self, kind: &str, source_id: &str) -> Result<Option<SourceRecord>, LedgerError> {
        Ok(self
            .conn
            .prepare_cached(&sql::source())?
            .query_row(params![kind, source_id], source_record)
            .optional()?)
    }

    /// One page of source records of `kind`, ordered by id, after `after_key`.
    pub fn sources_page(
        &self,
        kind: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SourceRecord>, LedgerError> {
        self.page_after(&sql::sources_page(), kind, after_key, limit, source_record)
    }

    /// Up to `limit` source records of `kind` after `after_key` that were staged at or after
    /// `since_ms` (the ledger's clock, milliseconds since the epoch), in source-id order.
    pub fn staged_since_page(
        &self,
        kind: &str,
        after_key: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<SourceRecord>, LedgerError> {
        self.rows(
            &sql::staged_since_page(),
            params![kind, after_key, since_ms, limit_param(limit)],
            source_record,
        )
    }

    /// The source records of `kind` that belong to `parent_id` (e.g. a conversation's parts).
    pub fn children(&self, kind: &str, parent_id: &str) -> Result<Vec<SourceRecord>, LedgerError> {
        self.rows(&sql::children(), params![kind, parent_id], source_record)
    }

    /// A parent's children of `kind`, each with the state of its target record of `target_kind`
    /// (None when it has none yet), in one query.
    pub fn children_with_state(
        &self,
        kind: &str,
        parent_id: &str,
        target_kind: &str,
    ) -> Result<Vec<(SourceRecord, Option<RecordState>)>, LedgerError> {
        let rows: Vec<(SourceRecord, Option<String>)> = self.rows(
            sql::CHILDREN_WITH_STATE,
            params![kind, parent_id, target_kind],
            |row| Ok((source_record(row)?, row.get(6)?)),
        )?;
        rows.into_iter()
            .map(|(record, state)| {
                Ok((
                    record,
                    state.as_deref().map(RecordState::parse).transpose()?,
                ))
            })
            .collect()
    }

    /// Whether a record of `kind` is staged (its raw JSON is not read).
    pub fn has_source(&self, kind: &str, source_id: &str) -> Result<bool, LedgerError> {
        Ok(self
            .conn
            .prepare_cached(sql::SOURCE_EXISTS)?
            .exists(params![kind, source_id])?)
    }

    /// Extracted records per kind, counted in SQL.
    pub fn source_counts(&self) -> Result<BTreeMap<String, u64>, LedgerError> {
        self.counts_per_kind(sql::SOURCE_COUNTS)
    }

    /// Source records whose extraction noted a problem.
    pub fn source_problems(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<SourceRecord>, LedgerError> {
        self.rows(
            &sql::source_problems(),
            params![limit_param(limit), limit_param(offset)],
            source_record,
        )
    }

    /// Source records of `kind` that extraction could not read whole (`source.incomplete`).
    pub fn incomplete_sources(&self, kind: &str) -> Result<Vec<SourceRecord>, LedgerError> {
        self.rows(&sql::incomplete_sources(), params![kind], source_record)
    }

    /// How many source records of each kind extraction could not read whole.
    pub fn incomplete_counts(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, LedgerError> {
        self.counts_per_kind(sql::INCOMPLETE_COUNTS)
    }

    /// A `SELECT kind, count(*) … GROUP BY kind` (or `sum(…)`) as a map.
    fn counts_per_kind(
        &self,
        query: &str,
    ) -> Result<std::collections::BTreeMap<String, u64>, LedgerError> {
        self.rows(query, [], |row| {
            Ok((row.get::<_, String>(0)?, to_u64(row.get(1)?)))
        })
    }

    /// Done records per kind matched to a Kustomer record that existed before i2k wrote it
    /// (see `Origin`): a part of what the report counts as migrated, and what a rollback leaves.
    pub fn matched_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, LedgerError> {
        self.counts_per_kind(sql::MATCHED_COUNTS)
    }

    /// The stored source records of `kind` that cannot be read (their `raw` is not JSON), and
    /// where their target records of `target_kind` stand. Reads every record of the kind (one
    /// range of the primary key): for plan and verify, never per item.
    pub fn unreadable(&self, kind: &str, target_kind: &str) -> Result<Unreadable, LedgerError> {
        let (records, failed, settled): (i64, i64, i64) = self
            .conn
            .prepare_cached(sql::UNREADABLE)?
            .query_row(params![kind, target_kind], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
        Ok(Unreadable {
            records: to_u64(records),
            failed: to_u64(failed),
            settled: to_u64(settled),
        })
    }

    /// Per kind of `kinds`, how many stored source records cannot be read (kinds with none are
    /// left out). Each kind is one range of the primary key.
    pub fn unreadable_counts<'k>(
        &self,
        kinds: impl IntoIterator<Item = &'k str>,
    ) -> Result<BTreeMap<String, u64>, LedgerError> {
        let mut out = BTreeMap::new();
        for kind in kinds {
            let n = self.unreadable(kind, kind)?.records;
            if n > 0 {
                out.insert(kind.to_string(), n);
            }
        }
        Ok(out)
    }

    /// The ledger database's size as this connection sees it (committed writes still in the
    /// write-ahead log included): (bytes in the pages it uses, bytes of every page it has, free
    /// pages a deletion left behind included).
    pub fn page_bytes(&self) -> Result<(u64, u64), LedgerError> {
        let pragma = |name: &str| -> Result<u64, LedgerError> {
            let n: i64 = self
                .conn
                .query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))?;
            Ok(to_u64(n))
        };
        let (pages, free, size) = (
            pragma("page_count")?,
            pragma("freelist_count")?,
            pragma("page_size")?,
        );
        Ok((
            pages.saturating_sub(free).saturating_mul(size),
            pages.saturating_mul(size),
        ))
    }

    /// For a kind of staged files: (bytes of every file, as downloaded or as Intercom sized it;
    /// bytes downloaded so far).
    pub fn file_bytes(&self, kind: &str) -> Result<(u64, u64), LedgerError> {
        let (all, downloaded): (i64, i64) = self
            .conn
            .prepare_cached(sql::FILE_BYTES)?
            .query_row(params![kind], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok((to_u64(all), to_u64(downloaded)))
    }

    // ---- extraction state -----------------------------------------------------------------

    pub fn cursor(&self, listing: &str) -> Result<Option<ExtractCursor>, LedgerError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT listing, cursor, complete, max_updated_at, fetched, total FROM cursors WHERE listing = ?1",
            )?
            .query_row(params![listing], extract_cursor)
            .optional()?)
    }

    pub fn cursors(&self) -> Result<Vec<ExtractCursor>, LedgerError> {
        self.rows("SELECT listing, cursor, complete, max_updated_at, fetched, total FROM cursors ORDER BY listing", [], extract_cursor)
    }

    /// What Intercom holds but its API cannot return, summed per kind.
    pub fn not_retrievable(&self) -> Result<BTreeMap<String, u64>, LedgerError> {
        self.counts_per_kind("SELECT kind, sum(count) FROM not_retrievable GROUP BY kind")
    }

    pub fn warnings(&self, offset: usize, limit: usize) -> Result<Vec<Warning>, LedgerError> {
        self.log_page(
            "SELECT at_ms, kind, source_id, message FROM warnings ORDER BY id LIMIT ?1 OFFSET ?2",
            offset,
            limit,
            |row| {
                Ok(Warning {
                    at_ms: row.get(0)?,
                    kind: row.get(1)?,
                    source_id: row.get(2)?,
                    message: row.get(3)?,
                })
            },
        )
    }

    /// One page of a log table (warnings, archive, events) in the order it was written: `sql`
    /// ends in `LIMIT ?1 OFFSET ?2`.
    fn log_page<T>(
        &self,
        sql: &str,
        offset: usize,
        limit: usize,
        read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, LedgerError> {
        self.rows(sql, params![limit_param(limit), limit_param(offset)], read)
    }

    // ---- decisions ------------------------------------------------------------------------

    pub fn decision(&self, key: &str) -> Result<Option<serde_json::Value>, LedgerError> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM decisions WHERE key = ?1")?
            .query_row(params![key], |row| row.get(0))
            .optional()?;
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
    }

    /// Every decision whose key starts with `prefix` (e.g. `admin:`), by key.
    pub fn decisions(&self, prefix: &str) -> Result<Vec<(String, serde_json::Value)>, LedgerError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT key, value FROM decisions WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
        )?;
        let rows = statement.query_map(params![prefix], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut decisions = Vec::new();
        for row in rows {
            let (key, text) = row?;
            decisions.push((key, serde_json::from_str(&text)?));
        }
        Ok(decisions)
    }

    // ---- runs, archive, manual ------------------------------------------------------------

    pub fn runs(&self) -> Result<Vec<RunRecord>, LedgerError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, command, started_ms, finished_ms, outcome, figures FROM runs ORDER BY id",
        )?;
        let mut rows = statement.query([])?;
        let mut runs = Vec::new();
        while let Some(row) = rows.next()? {
            let figures: Option<String> = row.get(5)?;
            runs.push(RunRecord {
                id: row.get(0)?,
                command: row.get(1)?,
                started_ms: row.get(2)?,
                finished_ms: row.get(3)?,
                outcome: row.get(4)?,
                figures: figures.map(|f| serde_json::from_str(&f)).transpose()?,
            });
        }
        Ok(runs)
    }

    /// Every sample of the run's figures, oldest first.
    pub fn samples(&self) -> Result<Vec<Sample>, LedgerError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT run_id, at_ms, settled, settled_by_phase, kustomer_requests, intercom_requests,
                    kustomer_used, kustomer_allowed, kustomer_throttled, intercom_throttled,
                    faults, phases
             FROM samples ORDER BY id",
        )?;
        let mut rows = statement.query([])?;
        let mut samples = Vec::new();
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        while let Some(row) = rows.next()? {
            let by_phase: String = row.get(3)?;
            let phases: String = row.get(11)?;
            samples.push(Sample {
                run_id: row.get(0)?,
                at_ms: row.get(1)?,
                settled: count(row.get(2)?),
                settled_by_phase: serde_json::from_str(&by_phase)?,
                kustomer_requests: count(row.get(4)?),
                intercom_requests: count(row.get(5)?),
                kustomer_used: row.get(6)?,
                kustomer_allowed: row.get(7)?,
                kustomer_throttled: count(row.get(8)?),
                intercom_throttled: count(row.get(9)?),
                faults: count(row.get(10)?),
                phases: serde_json::from_str(&phases)?,
            });
        }
        Ok(samples)
    }

    /// The stored probe results (`i2k doctor --probe`), by assumption.
    pub fn probes(&self) -> Result<Vec<super::StoredProbe>, LedgerError> {
        self.rows(
            "SELECT assumption, outcome, detail, leftover, at_ms FROM probes ORDER BY assumption",
            [],
            |row| {
                Ok(super::StoredProbe {
                    assumption: row.get(0)?,
                    outcome: row.get(1)?,
                    detail: row.get(2)?,
                    leftover: row.get(3)?,
                    at_ms: row.get(4)?,
                })
            },
        )
    }

    /// The newest stored verification (the primary key's last row).
    pub fn last_verification(&self) -> Result<Option<StoredVerification>, LedgerError> {
        let row: Option<(Option<i64>, i64, bool, String)> = self
            .conn
            .query_row(
                "SELECT run_id, at_ms, agrees, result FROM verifications ORDER BY id DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()?;
        row.map(|(run_id, at_ms, agrees, result)| {
            Ok(StoredVerification {
                run_id,
                at_ms,
                agrees,
                result: serde_json::from_str(&result)?,
            })
        })
        .transpose()
    }

    pub fn archive_entries(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<ArchiveEntry>, LedgerError> {
        self.log_page(
            "SELECT run_id, kind, source_id, reason FROM archive ORDER BY id LIMIT ?1 OFFSET ?2",
            offset,
            limit,
            |row| {
                Ok(ArchiveEntry {
                    run_id: row.get(0)?,
                    kind: row.get(1)?,
                    source_id: row.get(2)?,
                    reason: row.get(3)?,
                })
            },
        )
    }

    /// Why records of `kind` are in `state`, grouped: (reason, count), most frequent first. The
    /// reason is the disposition's (skipped, archived, manual) or the error message (failed).
    pub fn reasons(
        &self,
        kind: &str,
        state: RecordState,
    ) -> Result<Vec<(String, u64)>, LedgerError> {
        self.rows(sql::REASONS, params![kind, state.as_str()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?.max(0) as u64,
            ))
        })
    }

    /// Up to `limit` records of `kind` in `state` after `after` (source-id order): their source
    /// id, Kustomer id and reason.
    pub fn follow_up_page(
        &self,
        kind: &str,
        state: RecordState,
        after: &str,
        limit: usize,
    ) -> Result<Vec<(String, Option<String>, String)>, LedgerError> {
        self.rows(
            sql::FOLLOW_UP,
            params![kind, state.as_str(), after, limit as i64],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
    }

    pub fn manual_items(&self) -> Result<Vec<ManualItem>, LedgerError> {
        self.rows(
            "SELECT run_id, kind, source_id, title, detail FROM manual ORDER BY id",
            [],
            |row| {
                Ok(ManualItem {
                    run_id: row.get(0)?,
                    kind: row.get(1)?,
                    source_id: row.get(2)?,
                    title: row.get(3)?,
                    detail: row.get(4)?,
                })
            },
        )
    }

    /// The events log, oldest first: (unix ms, level, message).
    pub fn events(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(i64, String, String)>, LedgerError> {
        self.log_page(
            "SELECT at_ms, level, message FROM events ORDER BY id LIMIT ?1 OFFSET ?2",
            offset,
            limit,
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
    }

    /// The longest bulk-job latency recorded, as committed.
    pub fn longest_bulk_latency(&self) -> Result<Option<Duration>, LedgerError> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'longest_bulk_latency_ms'")?
            .query_row([], |row| row.get(0))
            .optional()?;
        Ok(text
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .map(Duration::from_millis))
    }

    /// The query plan SQLite picks for `sql`, for tests that guard against whole-table sorts.
    pub fn explain(&self, sql: &str) -> Result<Vec<String>, LedgerError> {
        self.explain_bound(sql, &[])
    }

    /// The query plan SQLite picks for `sql` with `values` bound to its parameters, as the ledger
    /// runs it (a literal can let the planner prove what a parameter cannot, so plans are checked
    /// with parameters bound). For tests.
    #[doc(hidden)]
    pub fn explain_bound(
        &self,
        sql: &str,
        values: &[rusqlite::types::Value],
    ) -> Result<Vec<String>, LedgerError> {
        let mut statement = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let rows = statement.query_map(params_from_iter(values.iter()), |row| {
            row.get::<_, String>(3)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn failure_row(row: &Row<'_>) -> Result<FailureRow, LedgerError> {
    let class: Option<String> = row.get(2)?;
    let attempts: i64 = row.get(4)?;
    Ok(FailureRow {
        kind: row.get(0)?,
        source_id: row.get(1)?,
        class: parse_error_class(class.as_deref().unwrap_or("unknown"))?,
        message: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        updated_ms: row.get(5)?,
    })
}

fn extract_cursor(row: &Row<'_>) -> rusqlite::Result<ExtractCursor> {
    Ok(ExtractCursor {
        listing: row.get(0)?,
        cursor: row.get(1)?,
        complete: row.get(2)?,
        max_updated_at: row.get(3)?,
        fetched: to_u64(row.get(4)?),
        total: row.get::<_, Option<i64>>(5)?.map(to_u64),
    })
}

fn pretty_json(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| raw.to_string())
}
