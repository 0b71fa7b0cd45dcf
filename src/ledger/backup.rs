//! Backups of the ledger's id map, and the restore that rebuilds a ledger from one. A backup is an
//! SQLite file in `<state>/backups/` holding every table of the ledger except `source` (the raw
//! Intercom records: re-extractable, and by far the bulkiest table); a restore copies it into a
//! fresh ledger and clears the extraction cursors, so the next run re-extracts what the backup does
//! not hold while the id map keeps anything already created from being created again.
//!
//! How a backup is taken: a connection of its own opens a new file, `ATTACH`es the live ledger
//! and, inside one transaction, recreates each table from the ledger's `sqlite_master` (so the
//! backup follows schema changes without a column list here) and copies its rows with
//! `INSERT … SELECT *`. Reads of a WAL database inside one transaction see one snapshot, so the
//! copy is consistent while the writer thread goes on committing; it never waits for the writer
//! nor the writer for it (the WAL only grows meanwhile: a checkpoint stops at a reader's
//! snapshot). SQLite's online backup API would copy every page, `source` included, only for most
//! of them to be dropped and vacuumed away: on a large workspace, gigabytes per phase.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::schema::{self, BUSY_TIMEOUT};
use super::{DB_FILE, Ledger, LedgerError, RecordState, StateCounts, StateDirLock, lock, now_ms};

/// The backups' directory inside the state directory.
pub const BACKUP_DIR: &str = "backups";

/// How many backups are kept; older ones are deleted when a new one is written.
pub const KEEP_BACKUPS: usize = 5;

/// Tables a backup leaves out: the raw extracted records, which a run extracts again.
pub const NOT_BACKED_UP: &[&str] = &["source"];

const PREFIX: &str = "ledger-";
const SUFFIX: &str = ".db";
const TEMP_SUFFIX: &str = ".tmp";
/// `YYYYMMDDTHHMMSS.mmmZ`: fixed width, so names sort by time.
const STAMP_LEN: usize = 20;

/// One backup at a time in this process: phases finish concurrently, and the newest backup's age
/// decides whether the next one is due. Another process cannot write here: it would need the
/// state directory's lock.
static BACKUP_TURN: Mutex<()> = Mutex::new(());

impl Ledger {
    /// Writes `<state>/backups/ledger-<UTC time>-<label>.db` (0600, directory 0700) holding every
    /// table but `source`, as of one consistent snapshot, and keeps the newest [`KEEP_BACKUPS`].
    /// Blocks for the copy (seconds on a large ledger): from async code call it in
    /// `spawn_blocking`. It reads through a connection of its own and never holds up the writer.
    pub fn backup_id_map(&self, label: &str) -> Result<PathBuf, LedgerError> {
        let _turn = super::lock_ignoring_poison(&BACKUP_TURN);
        write_backup(self.db_path(), &backup_dir(self.dir()), label, now_ms())
    }

    /// As [`Ledger::backup_id_map`], unless the newest backup is younger than `min_interval`
    /// (then `None`): phase boundaries can come seconds apart, and each backup copies the id map.
    pub fn backup_id_map_unless_recent(
        &self,
        label: &str,
        min_interval: Duration,
    ) -> Result<Option<PathBuf>, LedgerError> {
        let _turn = super::lock_ignoring_poison(&BACKUP_TURN);
        let now = now_ms();
        let dir = backup_dir(self.dir());
        let newest = list_backups(self.dir())?
            .last()
            .and_then(|path| stamp_of(path));
        let interval_ms = i64::try_from(min_interval.as_millis()).unwrap_or(i64::MAX);
        if newest.is_some_and(|taken| now.saturating_sub(taken) < interval_ms) {
            return Ok(None);
        }
        write_backup(self.db_path(), &dir, label, now).map(Some)
    }
}

/// `<state>/backups`.
pub fn backup_dir(state_dir: &Path) -> PathBuf {
    state_dir.join(BACKUP_DIR)
}

/// The backups in `<state>/backups`, oldest first (none when the directory does not exist).
pub fn list_backups(state_dir: &Path) -> Result<Vec<PathBuf>, LedgerError> {
    let dir = backup_dir(state_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(LedgerError::Io { path: dir, source }),
    };
    let mut backups: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| stamp_of(path).is_some())
        .collect();
    backups.sort();
    Ok(backups)
}

/// The newest backup in `<state>/backups`.
pub fn latest_backup(state_dir: &Path) -> Result<Option<PathBuf>, LedgerError> {
    Ok(list_backups(state_dir)?.pop())
}

/// Deletes all but the newest `keep` backups in `backups_dir`, and temporary files a backup
/// interrupted by a crash left behind. Returns what it deleted.
pub fn prune_backups(backups_dir: &Path, keep: usize) -> Result<Vec<PathBuf>, LedgerError> {
    let io = |source| LedgerError::Io {
        path: backups_dir.to_path_buf(),
        source,
    };
    let mut backups = Vec::new();
    let mut deleted = Vec::new();
    for entry in std::fs::read_dir(backups_dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(&format!(".{PREFIX}")) && name.ends_with(TEMP_SUFFIX) {
            remove(&path)?;
            deleted.push(path);
        } else if stamp_of(&path).is_some() {
            backups.push(path);
        }
    }
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    for path in backups.into_iter().take(excess) {
        remove(&path)?;
        deleted.push(path);
    }
    Ok(deleted)
}

/// What a backup holds, read without changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    pub path: PathBuf,
    /// When it was taken (unix ms): from its name, else the file's modification time.
    pub taken_ms: Option<i64>,
    pub schema_version: i64,
    /// The id map's rows per state (`target`).
    pub targets: StateCounts,
    /// Every table with its row count.
    pub tables: BTreeMap<String, u64>,
}

/// Reads a backup (or any ledger file) read-only and checks it can be restored: SQLite finds it
/// sound, it holds the id map, and no newer i2k wrote it.
pub fn inspect_backup(path: &Path) -> Result<BackupInfo, LedgerError> {
    let metadata = std::fs::metadata(path).map_err(|source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if check != "ok" {
        return Err(LedgerError::Corrupt(format!(
            "the backup {} is damaged: {check}",
            path.display()
        )));
    }
    let tables = table_names(&conn, "main")?;
    if !tables.iter().any(|t| t == "target") {
        return Err(LedgerError::Corrupt(format!(
            "{} is not an i2k ledger backup: it has no `target` table",
            path.display()
        )));
    }
    let schema_version = if tables.iter().any(|t| t == "meta") {
        schema::read_version(&conn)?
    } else {
        0
    };
    schema::check_supported(schema_version, path)?;
    let mut targets = StateCounts::default();
    let mut statement = conn.prepare("SELECT state, count(*) FROM target GROUP BY state")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let state = RecordState::parse(&row.get::<_, String>(0)?)?;
        targets.add(state, row.get(1)?);
    }
    let mut counts = BTreeMap::new();
    for table in tables {
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM main.{}", quote(&table)),
            [],
            |row| row.get(0),
        )?;
        counts.insert(table, u64::try_from(n).unwrap_or(0));
    }
    let modified_ms = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok());
    Ok(BackupInfo {
        path: path.to_path_buf(),
        taken_ms: stamp_of(path).or(modified_ms),
        schema_version,
        targets,
        tables: counts,
    })
}

/// Renames `ledger.db` and its `-wal` / `-shm` files to `ledger.db.damaged-<UTC time>` (with the
/// same suffixes, so `sqlite3` opens the set as it was). Nothing is deleted. Holding the lock
/// proves no run is using them. Returns the new names.
pub fn move_ledger_aside(dir_lock: &StateDirLock) -> Result<Vec<PathBuf>, LedgerError> {
    let dir = dir_lock.dir();
    let aside = format!("{DB_FILE}.damaged-{}", stamp(now_ms()));
    let mut moved = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let from = dir.join(format!("{DB_FILE}{suffix}"));
        let to = dir.join(format!("{aside}{suffix}"));
        match std::fs::rename(&from, &to) {
            Ok(()) => moved.push(to),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(LedgerError::Io { path: from, source }),
        }
    }
    sync_dir(dir)?;
    Ok(moved)
}

/// What a restore copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// Rows copied per table.
    pub tables: BTreeMap<String, u64>,
    /// Tables of the backup this build's ledger does not have (left out).
    pub unknown_tables: Vec<String>,
    /// Extraction cursors cleared.
    pub cursors_cleared: u64,
}

/// Creates a fresh ledger in the locked state directory as `Ledger::open` creates one (the file
/// 0600 before SQLite opens it, WAL, this build's schema) and fills it from `backup` in one
/// transaction: every table the backup holds, column by column where both have the column (an
/// older backup lacks columns added since), except the backup's schema version; then the
/// extraction cursors are cleared, so the next run re-extracts every listing. The caller has moved
/// any previous ledger aside ([`move_ledger_aside`]); a ledger still in place is refused. Open the
/// result with `Ledger::open_for_restore`, which counts what it holds.
pub fn restore_ledger(dir_lock: &StateDirLock, backup: &Path) -> Result<Restored, LedgerError> {
    let db_path = dir_lock.dir().join(DB_FILE);
    if std::fs::metadata(&db_path).is_ok_and(|m| m.len() > 0) {
        return Err(LedgerError::Io {
            path: db_path,
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a ledger is still in place; move it aside before restoring",
            ),
        });
    }
    let backup = absolute(backup)?;
    drop(lock::create_private_file(&db_path)?);
    let conn = Connection::open(&db_path)?;
    schema::configure_writer(&conn)?;
    schema::migrate(&conn, &db_path)?;
    let restored = copy_from_backup(&conn, &backup)?;
    conn.close().map_err(|(_, e)| LedgerError::Sqlite(e))?;
    Ok(restored)
}

/// Copies `backup` into the fresh ledger connection `conn`, in one transaction.
fn copy_from_backup(conn: &Connection, backup: &Path) -> Result<Restored, LedgerError> {
    if !backup.is_file() {
        return Err(LedgerError::Io {
            path: backup.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such backup"),
        });
    }
    conn.execute("ATTACH DATABASE ?1 AS bak", [path_text(backup)?])?;
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let copied = copy_tables(conn, backup);
    let finished = match copied {
        Ok(restored) => conn.execute_batch("COMMIT").map(|()| restored),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            let _ = conn.execute_batch("DETACH DATABASE bak");
            return Err(e);
        }
    };
    conn.execute_batch("DETACH DATABASE bak")?;
    Ok(finished?)
}

fn copy_tables(conn: &Connection, backup: &Path) -> Result<Restored, LedgerError> {
    let version: Option<String> = if table_names(conn, "bak")?.iter().any(|t| t == "meta") {
        conn.query_row(
            "SELECT value FROM bak.meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?
    } else {
        None
    };
    let found = version
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    schema::check_supported(found, backup)?;
    let mut restored = Restored::default();
    for table in table_names(conn, "bak")? {
        let ours = column_names(conn, &table, "main")?;
        if ours.is_empty() {
            restored.unknown_tables.push(table);
            continue;
        }
        // Columns by name: an older backup lacks columns added since (they take their defaults).
        let columns: Vec<String> = column_names(conn, &table, "bak")?
            .into_iter()
            .filter(|c| ours.contains(c))
            .map(|c| quote(&c))
            .collect();
        let columns = columns.join(", ");
        // The fresh ledger's schema version stands: its tables are this build's.
        let only = if table == "meta" {
            " WHERE key <> 'schema_version'"
        } else {
            ""
        };
        let rows = conn.execute(
            &format!(
                "INSERT OR REPLACE INTO main.{t} ({columns}) SELECT {columns} FROM bak.{t}{only}",
                t = quote(&table)
            ),
            [],
        )?;
        restored.tables.insert(table, rows as u64);
    }
    if !column_names(conn, "cursors", "main")?.is_empty() {
        restored.cursors_cleared = conn.execute("DELETE FROM main.cursors", [])? as u64;
    }
    Ok(restored)
}

/// Copies the ledger at `db_path` into a new backup in `backups_dir` and prunes old ones.
fn write_backup(
    db_path: &Path,
    backups_dir: &Path,
    label: &str,
    now: i64,
) -> Result<PathBuf, LedgerError> {
    lock::create_private_dir(backups_dir)?;
    let name = format!("{PREFIX}{}-{}{SUFFIX}", stamp(now), slug(label));
    let path = backups_dir.join(&name);
    let temp = backups_dir.join(format!(".{name}{TEMP_SUFFIX}"));
    remove(&temp)?;
    // Created 0600 before SQLite opens it, as the ledger is.
    drop(lock::create_private_file(&temp)?);
    let written = absolute(db_path).and_then(|db| copy_into(&temp, &db));
    if let Err(e) = written {
        let _ = remove(&temp);
        return Err(e);
    }
    let io = |source| LedgerError::Io {
        path: temp.clone(),
        source,
    };
    File::open(&temp).and_then(|f| f.sync_all()).map_err(io)?;
    std::fs::rename(&temp, &path).map_err(io)?;
    sync_dir(backups_dir)?;
    if let Err(e) = prune_backups(backups_dir, KEEP_BACKUPS) {
        tracing::warn!("could not delete old ledger backups: {e}");
    }
    Ok(path)
}

/// Fills the empty database file `temp` from the ledger `db` (see the module's comment).
fn copy_into(temp: &Path, db: &Path) -> Result<(), LedgerError> {
    let conn = Connection::open(temp)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A half-written file is deleted, never renamed into place: no journal, one fsync at the end.
    conn.execute_batch("PRAGMA main.journal_mode = OFF; PRAGMA main.synchronous = OFF;")?;
    conn.execute("ATTACH DATABASE ?1 AS src", [path_text(db)?])?;
    conn.execute_batch("BEGIN")?;
    let copied = copy_objects(&conn);
    let finished = match copied {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    };
    finished?;
    conn.execute_batch("DETACH DATABASE src")?;
    conn.close().map_err(|(_, e)| LedgerError::Sqlite(e))
}

/// Inside the caller's transaction: the ledger's tables (but `NOT_BACKED_UP`) with their rows, as
/// `sqlite_master` describes them. Indexes are left out: a restore copies rows into a fresh
/// ledger that has its own, and here they would only make each backup larger and slower.
fn copy_objects(conn: &Connection) -> Result<(), LedgerError> {
    let mut statement = conn.prepare(
        "SELECT name, sql FROM src.sqlite_master
         WHERE type = 'table' AND sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY rowid",
    )?;
    let tables = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (table, sql) in tables {
        if NOT_BACKED_UP.contains(&table.as_str()) {
            continue;
        }
        // Unqualified, the statement creates the table in `main`: the backup.
        conn.execute_batch(&sql)?;
        conn.execute(
            &format!(
                "INSERT INTO main.{t} SELECT * FROM src.{t}",
                t = quote(&table)
            ),
            [],
        )?;
    }
    Ok(())
}

/// The tables of schema `db` (`main`, or an attached name), SQLite's own left out.
fn table_names(conn: &Connection, db: &str) -> Result<Vec<String>, LedgerError> {
    let mut statement = conn.prepare(&format!(
        "SELECT name FROM {}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        quote(db)
    ))?;
    let names = statement
        .query_map([], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

/// The columns of `table` in schema `db`, in order; empty when there is no such table.
fn column_names(conn: &Connection, table: &str, db: &str) -> Result<Vec<String>, LedgerError> {
    let mut statement = conn.prepare("SELECT name FROM pragma_table_info(?1, ?2) ORDER BY cid")?;
    let names = statement
        .query_map(params![table, db], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

/// An SQL identifier in double quotes.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `ms` as `YYYYMMDDTHHMMSS.mmmZ` (UTC), for file names.
fn stamp(ms: i64) -> String {
    crate::timefmt::unix_ms_to_iso(ms).replace(['-', ':'], "")
}

/// The time in a backup's file name (`ledger-<stamp>-<label>.db`), if it is one.
fn stamp_of(path: &Path) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let compact = rest.get(..STAMP_LEN)?;
    if !rest[STAMP_LEN..].starts_with('-') {
        return None;
    }
    let b = compact.as_bytes();
    if b[8] != b'T' || b[15] != b'.' || b[19] != b'Z' {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}",
        &compact[0..4],
        &compact[4..6],
        &compact[6..8],
        &compact[9..11],
        &compact[11..13],
        &compact[13..]
    );
    crate::timefmt::iso_to_unix_ms(&iso)
}

/// A label fit for a file name: lower-case letters, digits and single dashes.
fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "backup".to_string()
    } else {
        out.to_string()
    }
}

/// The path as SQLite takes it in `ATTACH`: UTF-8, absolute (a relative name starting with
/// `file:` would be read as a URI).
fn path_text(path: &Path) -> Result<String, LedgerError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| LedgerError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "SQLite needs a UTF-8 path here",
            ),
        })
}

fn absolute(path: &Path) -> Result<PathBuf, LedgerError> {
    std::path::absolute(path).map_err(|source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn remove(path: &Path) -> Result<(), LedgerError> {
    lock::unless_missing(std::fs::remove_file(path), path)
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), LedgerError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|source| LedgerError::Io {
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "i2k-backup-{name}-{}-{}",
            std::process::id(),
            now_ms()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn touch(path: &Path) {
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn pruning_keeps_the_newest_backups_and_clears_interrupted_ones() {
        let dir = temp_dir("prune");
        let names: Vec<String> = (0..8)
            .map(|i| {
                format!(
                    "ledger-{}-phase-{i}.db",
                    stamp(1_765_000_000_000 + i * 1000)
                )
            })
            .collect();
        // Created out of order: age comes from the name, not from when the file was made.
        for name in names.iter().rev() {
            touch(&dir.join(name));
        }
        touch(&dir.join(format!(".{}.tmp", names[7])));
        touch(&dir.join("notes.txt"));

        let deleted = prune_backups(&dir, 5).unwrap();

        assert_eq!(deleted.len(), 4, "three old backups and the temporary file");
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected: Vec<String> = names[3..].to_vec();
        expected.push("notes.txt".to_string());
        expected.sort();
        assert_eq!(left, expected);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn backup_names_carry_their_time_and_a_file_safe_label() {
        let ms = 1_765_000_000_123;
        let name = format!("ledger-{}-{}.db", stamp(ms), slug("Users & teams"));
        assert_eq!(name, "ledger-20251206T054640.123Z-users-teams.db");
        assert_eq!(stamp_of(Path::new(&name)), Some(ms));
        assert_eq!(stamp_of(Path::new("ledger.db")), None);
        assert_eq!(
            stamp_of(Path::new(".ledger-20251206T054640.123Z-x.db.tmp")),
            None
        );
        assert_eq!(slug(" ?? "), "backup");
    }
}
