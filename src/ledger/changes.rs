//! What a run changed in Kustomer beyond creating records (updates in place, conversations'
//! state changes, conflicts left to the agent's value), and the records it found deleted in
//! Intercom: the `changes` table, one row per record and change, stamped with the run. A delta
//! run's screen and report count these by kind and change; `removed` rows that no `deleted` row
//! follows are the records `--delete-removed` may delete.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Ledger, LedgerError, LedgerReader, sql, writer::Op};

/// A kind of change a run made to (or found on) a record already in Kustomer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Fields i2k owns were updated in place.
    Updated,
    /// A conversation closed since it was loaded.
    Closed,
    /// A conversation reopened since it was loaded.
    Reopened,
    /// A conversation snoozed since it was loaded.
    Snoozed,
    /// A conversation assigned to another admin or team since it was loaded.
    Reassigned,
    /// A conversation's tags changed since it was loaded.
    Retagged,
    /// Kustomer's value differs from what i2k last wrote (an agent edited it): kept, unless the
    /// operator asked to overwrite (then the detail says so).
    Conflict,
    /// Gone from Intercom since it was loaded (still in Kustomer unless a `deleted` follows).
    Removed,
    /// Deleted in Kustomer because it was removed from Intercom (`--delete-removed`).
    Deleted,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 9] = [
        ChangeKind::Updated,
        ChangeKind::Closed,
        ChangeKind::Reopened,
        ChangeKind::Snoozed,
        ChangeKind::Reassigned,
        ChangeKind::Retagged,
        ChangeKind::Conflict,
        ChangeKind::Removed,
        ChangeKind::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Updated => "updated",
            ChangeKind::Closed => "closed",
            ChangeKind::Reopened => "reopened",
            ChangeKind::Snoozed => "snoozed",
            ChangeKind::Reassigned => "reassigned",
            ChangeKind::Retagged => "retagged",
            ChangeKind::Conflict => "conflict",
            ChangeKind::Removed => "removed",
            ChangeKind::Deleted => "deleted",
        }
    }

    pub fn parse(name: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// One change, as recorded (the run is the one in progress).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: String,
    pub source_id: String,
    pub change: ChangeKind,
    /// For the operator: the fields updated, or the conflict's field and both values.
    pub detail: String,
}

/// A recorded change with its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeRow {
    pub kind: String,
    pub source_id: String,
    pub change: ChangeKind,
    pub detail: String,
    pub at_ms: i64,
}

impl LedgerReader {
    /// The source record `kind`/`source_id` was last written to Kustomer from, when it changed
    /// since (`None`: unchanged since loaded, or loaded by a ledger older than schema 6).
    pub fn loaded_raw(&self, kind: &str, source_id: &str) -> Result<Option<String>, LedgerError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT loaded_raw FROM source WHERE kind = ?1 AND source_id = ?2")?
            .query_row(params![kind, source_id], |row| {
                row.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten())
    }

    /// How many changes of each kind run `run_id` made, by record kind.
    pub fn change_counts(
        &self,
        run_id: i64,
    ) -> Result<Vec<(String, ChangeKind, u64)>, LedgerError> {
        let mut statement = self.conn().prepare_cached(sql::CHANGES_OF_RUN)?;
        let rows = statement.query_map(params![run_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, change, n) = row?;
            if let Some(change) = ChangeKind::parse(&change) {
                out.push((kind, change, n as u64));
            }
        }
        Ok(out)
    }

    /// Up to `limit` changes of one kind run `run_id` made to records of `kind`.
    pub fn change_rows(
        &self,
        run_id: i64,
        kind: &str,
        change: ChangeKind,
        limit: usize,
    ) -> Result<Vec<ChangeRow>, LedgerError> {
        let mut statement = self.conn().prepare_cached(sql::CHANGE_ROWS_OF_RUN)?;
        let rows = statement.query_map(
            params![run_id, kind, change.as_str(), limit as i64],
            |row| {
                Ok(ChangeRow {
                    kind: row.get(0)?,
                    source_id: row.get(1)?,
                    change,
                    detail: row.get(3)?,
                    at_ms: row.get(4)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The records found removed from Intercom and not deleted from Kustomer since, by kind.
    pub fn removed_kept(&self) -> Result<Vec<(String, String)>, LedgerError> {
        let mut statement = self.conn().prepare_cached(sql::REMOVED_KEPT)?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Ledger {
    /// Records changes made (or found) by the run in progress; fire-and-forget like warnings,
    /// committed with the writes around them.
    pub async fn record_changes(&self, changes: Vec<Change>) -> Result<(), LedgerError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.commit(Op::RecordChanges(changes)).await.map(drop)
    }

    /// An update in place carried the record's changed source: it is no longer changed, and
    /// the source it was updated from is what Kustomer holds.
    pub async fn mark_updated(&self, kind: &str, source_id: &str) -> Result<(), LedgerError> {
        self.commit(Op::MarkUpdated {
            kind: kind.to_string(),
            source_id: source_id.to_string(),
        })
        .await
        .map(drop)
    }
}
