//! Which migration a ledger is, and the check that keeps a missing, emptied or foreign ledger from
//! being taken for a new migration.
//!
//! Every ledger gets a random migration id on its first open (ledgers of an earlier schema get one
//! when they are upgraded) and, on the first run that connects both APIs, the Intercom app and the
//! Kustomer org it moves between; later runs are refused when their tokens connect others. The
//! files a migration leaves in its state directory (report.json, MANUAL.md, the archive, stored
//! attachments, a mapping.toml i2k wrote) are evidence of it: beside them, a ledger that is
//! empty, or that names another migration id, means the id map was lost, and a run would create
//! every record in Kustomer a second time. Such a directory is refused with what happened and how
//! to recover (`i2k restore`).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::LedgerError;

/// The first line of a `mapping.toml` written by i2k: the migration id follows.
pub const MIGRATION_MARK: &str = "# i2k migration ";

/// The migration a ledger belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub migration_id: Option<String>,
    /// Intercom's app id (`/me` → `app.id_code`).
    pub intercom_app: Option<String>,
    /// Kustomer's org id (`/v1/auth/tokens/current` → the org).
    pub kustomer_org: Option<String>,
}

impl Identity {
    pub(super) fn read(conn: &Connection) -> Result<Identity, LedgerError> {
        Ok(Identity {
            migration_id: meta(conn, "migration_id")?,
            intercom_app: meta(conn, "intercom_app")?,
            kustomer_org: meta(conn, "kustomer_org")?,
        })
    }

    /// "Intercom app X to Kustomer org Y", for messages.
    pub fn describe(app: Option<&str>, org: Option<&str>) -> String {
        format!(
            "Intercom app {} to Kustomer org {}",
            app.unwrap_or("(unknown)"),
            org.unwrap_or("(unknown)")
        )
    }
}

pub(super) fn meta(conn: &Connection, key: &str) -> Result<Option<String>, LedgerError> {
    Ok(conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            params![key],
            |row| row.get(0),
        )
        .optional()?)
}

/// Refuses a ledger that is empty, or names another migration, beside an earlier migration's files.
pub(super) fn check_state_dir(conn: &Connection, dir: &Path) -> Result<(), LedgerError> {
    let evidence = evidence(dir);
    if evidence.is_empty() {
        return Ok(());
    }
    let has_rows = |table: &str| -> Result<bool, LedgerError> {
        Ok(conn
            .prepare(&format!("SELECT 1 FROM {table} LIMIT 1"))?
            .exists([])?)
    };
    // A ledger that holds only a probe of the org (`i2k doctor --probe`, which also writes
    // MANUAL.md) is this migration's, not an emptied one.
    let empty = !(has_rows("target")?
        || has_rows("source")?
        || has_rows("runs")?
        || has_rows("decisions")?
        || has_rows("probes")?);
    let refuse = |problem: String| LedgerError::EarlierMigration {
        dir: dir.to_path_buf(),
        evidence: evidence.join(", "),
        problem,
    };
    if empty {
        return Err(refuse(format!(
            "its ledger ({}) is missing or empty",
            super::DB_FILE
        )));
    }
    let ours = meta(conn, "migration_id")?;
    if let (Some(theirs), Some(ours)) = (artifacts_migration_id(dir), ours)
        && theirs != ours
    {
        return Err(refuse(format!(
            "its ledger belongs to another migration (the ledger is {ours}, the files are {theirs})"
        )));
    }
    Ok(())
}

/// The state directory's `report.json`, when there is a readable one.
fn report_json(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("report.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The migration id the state directory's files name: report.json's, else mapping.toml's mark.
pub fn artifacts_migration_id(dir: &Path) -> Option<String> {
    let from_report =
        report_json(dir).and_then(|v| v.get("migration_id")?.as_str().map(str::to_string));
    from_report.or_else(|| {
        let text = std::fs::read_to_string(dir.join("mapping.toml")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(MIGRATION_MARK))
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
    })
}

/// The files in `dir` that only a migration that loaded records leaves behind.
fn evidence(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let report_loaded = report_json(dir).is_some_and(|v| {
        v.get("rows")
            .and_then(|r| r.as_array())
            .is_some_and(|rows| {
                rows.iter()
                    .any(|r| r.get("migrated").and_then(|m| m.as_u64()).unwrap_or(0) > 0)
            })
    });
    if report_loaded {
        found.push("report.json".to_string());
    }
    if dir.join("MANUAL.md").is_file() {
        found.push("MANUAL.md".to_string());
    }
    if std::fs::read_to_string(dir.join("mapping.toml"))
        .is_ok_and(|t| t.lines().any(|l| l.starts_with(MIGRATION_MARK)))
    {
        found.push("mapping.toml".to_string());
    }
    for sub in ["archive", "attachments"] {
        let non_empty = std::fs::read_dir(dir.join(sub))
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
        if non_empty {
            found.push(format!("{sub}/"));
        }
    }
    found
}
