//! The ledger's SQLite schema, its version, and the connection settings every connection uses.
//! README.md ("Ledger schema") documents the same tables for operators who open the file with `sqlite3`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::LedgerError;

/// The schema this build writes. A ledger with a higher version was written by a newer i2k and is
/// refused rather than misread.
pub const SCHEMA_VERSION: i64 = 6;

/// How long a connection waits for a lock held by another connection before giving up. Readers in
/// WAL mode rarely wait; this covers checkpoints and the writer's first open.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS source (
    kind         TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    parent_id    TEXT,
    updated_at   INTEGER,
    raw          TEXT NOT NULL,
    problem      TEXT,
    incomplete   INTEGER NOT NULL DEFAULT 0,
    extracted_ms INTEGER NOT NULL,
    loaded_raw   TEXT,
    PRIMARY KEY (kind, source_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS source_by_parent ON source (kind, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS source_incomplete ON source (kind, source_id) WHERE incomplete = 1;
CREATE INDEX IF NOT EXISTS source_problems ON source (kind, source_id) WHERE problem IS NOT NULL;

CREATE TABLE IF NOT EXISTS target (
    kind           TEXT NOT NULL,
    source_id      TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending','sent','done','failed','skipped','archived','manual','unknown')),
    target_id      TEXT,
    batch_id       TEXT,
    job_id         TEXT,
    sent_ms        INTEGER,
    attempts       INTEGER NOT NULL DEFAULT 0,
    error_class    TEXT,
    error_message  TEXT,
    last_request   TEXT,
    last_response  TEXT,
    reason         TEXT,
    source_changed INTEGER NOT NULL DEFAULT 0,
    updated_ms     INTEGER NOT NULL,
    origin         TEXT CHECK (origin IN ('created','matched')),
    PRIMARY KEY (kind, source_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS target_by_state ON target (kind, state, source_id);
CREATE INDEX IF NOT EXISTS target_by_batch ON target (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS target_matched ON target (kind) WHERE origin = 'matched';

CREATE TABLE IF NOT EXISTS cursors (
    listing        TEXT PRIMARY KEY,
    cursor         TEXT,
    complete       INTEGER NOT NULL DEFAULT 0,
    max_updated_at INTEGER,
    fetched        INTEGER NOT NULL DEFAULT 0,
    total          INTEGER,
    updated_ms     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS not_retrievable (
    kind     TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    count    INTEGER NOT NULL,
    reason   TEXT NOT NULL,
    PRIMARY KEY (kind, scope_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS warnings (
    id        INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    source_id TEXT,
    message   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS decisions (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY,
    command     TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    outcome     TEXT,
    figures     TEXT
);

CREATE TABLE IF NOT EXISTS archive (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER,
    kind      TEXT NOT NULL,
    source_id TEXT NOT NULL,
    reason    TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS manual (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER,
    kind      TEXT,
    source_id TEXT,
    title     TEXT NOT NULL,
    detail    TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY,
    at_ms   INTEGER NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS samples (
    id                 INTEGER PRIMARY KEY,
    run_id             INTEGER,
    at_ms              INTEGER NOT NULL,
    settled            INTEGER NOT NULL,
    settled_by_phase   TEXT NOT NULL,
    kustomer_requests  INTEGER NOT NULL,
    intercom_requests  INTEGER NOT NULL,
    kustomer_used      INTEGER NOT NULL,
    kustomer_allowed   INTEGER NOT NULL,
    kustomer_throttled INTEGER NOT NULL,
    intercom_throttled INTEGER NOT NULL,
    faults             INTEGER NOT NULL,
    phases             TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS verifications (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER,
    at_ms   INTEGER NOT NULL,
    agrees  INTEGER NOT NULL,
    result  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS changes (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER,
    kind      TEXT NOT NULL,
    source_id TEXT NOT NULL,
    change    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_record ON changes (change, kind, source_id);
CREATE INDEX IF NOT EXISTS changes_by_run ON changes (run_id, kind, change);

CREATE TABLE IF NOT EXISTS probes (
    assumption TEXT PRIMARY KEY,
    outcome    TEXT NOT NULL CHECK (outcome IN ('confirmed','refused','not_probed')),
    detail     TEXT NOT NULL,
    leftover   TEXT,
    at_ms      INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Prepared statements a connection keeps: more than the writer's and the reader's distinct
/// statements (rusqlite's default of 16 is fewer, so a varied group re-parsed its SQL).
const STATEMENT_CACHE: usize = 96;

/// Settings for the writer connection: WAL so readers never block the writer nor it them.
/// `synchronous` starts at NORMAL; the writer raises it to FULL for groups that hold `sent` marks.
pub fn configure_writer(conn: &Connection) -> Result<(), LedgerError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::Corrupt(format!(
            "SQLite refused WAL mode (journal_mode is {mode}); is the state directory on a network file system?"
        )));
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Settings for read connections: they never write, even by mistake.
pub fn configure_reader(conn: &Connection) -> Result<(), LedgerError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA query_only = 1;")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// The tables a ledger holds from its first open on: one missing from a ledger that has a
/// `meta` table was dropped or lost, and the ledger is refused rather than silently re-created
/// empty (an empty id map would create every record a second time).
const CORE_TABLES: [&str; 6] = [
    "source",
    "target",
    "cursors",
    "decisions",
    "runs",
    "archive",
];

/// What `migrate` found before it brought the schema up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// No schema at all: a new file, or one emptied (truncated) since.
    Fresh,
    /// A ledger of this or an earlier schema.
    Existing,
}

/// Creates the tables of a fresh ledger, upgrades one of an earlier schema, or checks the version
/// of an existing one; gives every ledger its migration id.
pub fn migrate(conn: &Connection, path: &Path) -> Result<Opened, LedgerError> {
    let has_meta = table_exists(conn, "meta")?;
    let mut found = 0;
    if has_meta {
        found = read_version(conn)?;
        check_supported(found, path)?;
        let mut missing = Vec::new();
        for table in CORE_TABLES {
            if !table_exists(conn, table)? {
                missing.push(table);
            }
        }
        if !missing.is_empty() {
            return Err(LedgerError::Damaged {
                dir: path.parent().unwrap_or(path).to_path_buf(),
                what: format!(
                    "its {} table{} missing",
                    missing.join(", "),
                    if missing.len() == 1 { " is" } else { "s are" }
                ),
            });
        }
    }
    conn.execute_batch("BEGIN IMMEDIATE;")?;
    let upgraded = (|| -> Result<(), LedgerError> {
        if has_meta && found < 2 {
            upgrade_v1_to_v2(conn)?;
        }
        if has_meta && found < 3 {
            upgrade_v2_to_v3(conn)?;
        }
        if has_meta && found < 6 {
            upgrade_to_v6(conn)?;
        }
        // Version 4 adds `samples` (the run's figures over time) and `verifications` (each
        // verification's result): new tables only, which `SCHEMA` creates below. An upgraded
        // ledger has neither for its earlier runs, and its report says so. Version 5 adds
        // `probes` (what `i2k doctor --probe` found of each Kustomer assumption on this org),
        // again a new table only: an upgraded ledger holds no probe until one is run. Version 6
        // adds `source.loaded_raw` and `changes` (see `upgrade_to_v6`).
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![SCHEMA_VERSION.to_string()],
        )?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('migration_id', ?1) ON CONFLICT (key) DO NOTHING",
            params![crate::rng::Rng::from_entropy().hex(16)],
        )?;
        Ok(())
    })();
    match upgraded {
        Ok(()) => conn.execute_batch("COMMIT;")?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK;");
            return Err(e);
        }
    }
    Ok(if has_meta {
        Opened::Existing
    } else {
        Opened::Fresh
    })
}

fn table_exists(conn: &Connection, name: &str) -> Result<bool, LedgerError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            params![name],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false))
}

/// Adds `column` of `definition` (its type and constraints) to `table`, unless the table has it
/// already.
fn add_column(
    conn: &Connection,
    table: &str,
    column: &str,
    definition: &str,
) -> Result<(), LedgerError> {
    let has = conn
        .prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?
        .exists(params![table, column])?;
    if !has {
        conn.execute_batch(&format!(
            "ALTER TABLE {table} ADD COLUMN {column} {definition};"
        ))?;
    }
    Ok(())
}

/// Version 6 adds `source.loaded_raw`: the source record as it was when i2k last wrote it to
/// Kustomer, kept when a later extraction stages a changed record that was already loaded (what
/// a delta run compares Kustomer's current values with, to tell an agent's edit from its own),
/// and the `changes` table (what each run changed in place, found removed, or left in conflict).
/// A ledger upgraded from an earlier version kept no loaded record: a delta run takes Kustomer's
/// current values as what i2k last wrote for the records changed before the upgrade.
fn upgrade_to_v6(conn: &Connection) -> Result<(), LedgerError> {
    add_column(conn, "source", "loaded_raw", "TEXT")
}

/// Version 2 adds the `unknown` state (a write whose outcome Kustomer offers no way to look up)
/// and `source.incomplete` (a record whose extraction could not read it whole). SQLite cannot
/// change a CHECK constraint in place, so `target` is rebuilt under the new one.
fn upgrade_v1_to_v2(conn: &Connection) -> Result<(), LedgerError> {
    add_column(conn, "source", "incomplete", "INTEGER NOT NULL DEFAULT 0")?;
    conn.execute_batch(
        "ALTER TABLE target RENAME TO target_v1;
         DROP INDEX IF EXISTS target_by_state;
         DROP INDEX IF EXISTS target_by_batch;",
    )?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(&format!(
        "INSERT INTO target ({V2_TARGET_COLUMNS}) SELECT {V2_TARGET_COLUMNS} FROM target_v1;
             DROP TABLE target_v1;"
    ))?;
    Ok(())
}

/// The columns `target` had in versions 1 and 2.
const V2_TARGET_COLUMNS: &str = "kind, source_id, state, target_id, batch_id, job_id, sent_ms, \
     attempts, error_class, error_message, last_request, last_response, reason, source_changed, \
     updated_ms";

/// Version 3 adds `target.origin`: whether i2k created the Kustomer record (`created`) or found
/// one that already existed and took it as the record's (`matched`: users by e-mail, existing
/// teams, tags and prerequisites by name, records adopted by externalId on a fresh ledger,
/// duplicates). A rollback deletes only what i2k created. A ledger written before kept no such
/// mark, and the rule that holds for every write it made stands in: a record done without ever
/// being sent was matched (a lookup found it), one that was sent was created. The one case it
/// misreads, a create answered "duplicate" (an older i2k sent it, the record existed), reads as
/// created, and a rollback checks each record's externalId before deleting it.
fn upgrade_v2_to_v3(conn: &Connection) -> Result<(), LedgerError> {
    add_column(
        conn,
        "target",
        "origin",
        "TEXT CHECK (origin IN ('created','matched'))",
    )?;
    conn.execute_batch(
        "UPDATE target SET origin = CASE WHEN sent_ms IS NULL THEN 'matched' ELSE 'created' END
         WHERE state = 'done' AND origin IS NULL;",
    )?;
    Ok(())
}

/// The version recorded in `meta`, for readers that must not write.
/// Refuses a ledger (or a backup of one) at `path` whose schema `found` is newer than this build
/// reads.
pub fn check_supported(found: i64, path: &Path) -> Result<(), LedgerError> {
    if found > SCHEMA_VERSION {
        return Err(LedgerError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

pub fn read_version(conn: &Connection) -> Result<i64, LedgerError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    let text = text.unwrap_or_else(|| "0".to_string());
    text.trim()
        .parse()
        .map_err(|_| LedgerError::Corrupt(format!("meta.schema_version is not a number: {text}")))
}
