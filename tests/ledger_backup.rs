//! Backups of the ledger's id map and `i2k restore`, against real SQLite files and the real
//! binary: a backup holds every table but `source`, privately; a ledger truncated to nothing or
//! missing its `target` table comes back with the same id map, its cursors cleared and the damaged
//! file kept; a backup from before a column was added still restores; without a backup, or without
//! `--yes` off a terminal, nothing changes. And a tiny run against both simulators leaves backups
//! whose id map is the ledger's; when its ledger is emptied the next run is refused, and after a
//! restore it resumes without creating anything twice.

mod common;

use common::text;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use i2k::engine::handle::RunOutcome;
use i2k::engine::model::ErrorClass;
use i2k::engine::runner;
use i2k::ledger::backup::{self, BACKUP_DIR, KEEP_BACKUPS};
use i2k::ledger::{DB_FILE, ExtractCursor, Ledger, SourceRecord, StateDirLock};
use i2k::sim::SizePreset;
use rusqlite::Connection;
use serde_json::json;

/// One target row as the id map holds it: kind, source id → state, Kustomer id.
type IdMap = BTreeMap<(String, String), (String, Option<String>)>;

fn id_map(db: &Path) -> IdMap {
    let conn = Connection::open(db).unwrap();
    let mut statement = conn
        .prepare("SELECT kind, source_id, state, target_id FROM target")
        .unwrap();
    statement
        .query_map([], |row| {
            Ok(((row.get(0)?, row.get(1)?), (row.get(2)?, row.get(3)?)))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn count(db: &Path, table: &str) -> i64 {
    let conn = Connection::open(db).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
        row.get(0)
    })
    .unwrap()
}

fn tables(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A ledger with records in every interesting state, a decision, a cursor and a run.
async fn migrated_ledger(state: &Path) -> IdMap {
    let ledger = Ledger::open(state).unwrap();
    let sources = (1..=6)
        .map(|i| SourceRecord {
            kind: "contacts".to_string(),
            source_id: format!("c{i}"),
            parent_id: None,
            updated_at: Some(1_700_000_000 + i),
            raw: json!({ "id": format!("c{i}") }).to_string(),
            problem: None,
        })
        .collect();
    ledger.put_sources(sources).await.unwrap();
    ledger
        .ensure_pending_from_sources("contacts", "customers")
        .await
        .unwrap();
    let ids = |r: std::ops::RangeInclusive<u32>| r.map(|i| format!("c{i}")).collect::<Vec<_>>();
    ledger
        .mark_sent("customers", ids(1..=4), Some("batch-1"))
        .await
        .unwrap();
    ledger.mark_done("customers", "c1", "k-1").unwrap();
    ledger.mark_done("customers", "c2", "k-2").unwrap();
    ledger
        .mark_failed(
            "customers",
            "c3",
            ErrorClass::Rejected,
            "email is invalid",
            "{}",
            "{}",
        )
        .unwrap();
    ledger.mark_skipped("customers", "c5", "a test").unwrap();
    ledger
        .put_decision("admin:1", &json!({ "user": "u-1" }))
        .await
        .unwrap();
    ledger
        .set_cursor(ExtractCursor {
            listing: "contacts".to_string(),
            cursor: None,
            complete: true,
            max_updated_at: Some(1_700_000_006),
            fetched: 6,
            total: Some(6),
        })
        .unwrap();
    let run = ledger.start_run("run").await.unwrap();
    ledger
        .finish_run(run, "completed", &json!({}))
        .await
        .unwrap();
    ledger.flush().await.unwrap();
    let map = id_map(ledger.db_path());
    assert_eq!(map.len(), 6);
    let path = ledger.backup_id_map("Customers").unwrap();
    assert!(
        path.starts_with(state.join(BACKUP_DIR)),
        "{}",
        path.display()
    );
    map
}

/// `i2k restore --state DIR …` with a clean environment and no terminal on stdin.
fn restore(state: &Path, more: &[&str]) -> Output {
    let home = state.parent().unwrap();
    Command::new(env!("CARGO_BIN_EXE_i2k"))
        .arg("restore")
        .arg("--state")
        .arg(state)
        .args(more)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("xdg-state"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The files the restore moved aside (`ledger.db.damaged-…`, without sidecars).
fn damaged(state: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("ledger.db.damaged-")
                && !name.ends_with("-wal")
                && !name.ends_with("-shm")
        })
        .collect();
    found.sort();
    found
}

/// Asserts the ledger in `state` holds `expected` as its id map, no source records, no cursors.
fn assert_restored(state: &Path, expected: &IdMap, out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let db = state.join(DB_FILE);
    assert_eq!(&id_map(&db), expected, "the id map came back as it was");
    assert_eq!(count(&db, "cursors"), 0, "cursors cleared");
    assert_eq!(count(&db, "source"), 0);
    assert_eq!(count(&db, "decisions"), 1);
    assert_eq!(count(&db, "runs"), 1);
    assert_eq!(mode(&db), 0o600);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("6 target rows"), "{}", text(out));
    assert!(stdout.contains("2 done"), "{}", text(out));
    assert!(stdout.contains("i2k run"), "{}", text(out));
    // The restored ledger opens and counts what it holds.
    let ledger = Ledger::open(state).unwrap();
    assert_eq!(ledger.counters().target("customers").total(), 6);
}

fn temp_state(name: &str) -> PathBuf {
    common::temp_state(name).join("state")
}

#[tokio::test]
async fn a_backup_holds_every_table_but_source_and_is_private() {
    let state = temp_state("backup-tables");
    let expected = migrated_ledger(&state).await;
    let backups = backup::list_backups(&state).unwrap();
    assert_eq!(backups.len(), 1);
    let file = &backups[0];
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("ledger-") && name.ends_with("-customers.db"),
        "{name}"
    );
    assert_eq!(mode(file), 0o600);
    assert_eq!(mode(&state.join(BACKUP_DIR)), 0o700);
    let mut ledger_tables = tables(&state.join(DB_FILE));
    ledger_tables.retain(|t| t != "source");
    assert_eq!(tables(file), ledger_tables);
    assert_eq!(id_map(file), expected);
    let journal: String = Connection::open(state.join(DB_FILE))
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(journal, "wal", "the backup left the ledger as it was");
    assert_eq!(
        count(file, "cursors"),
        1,
        "the backup keeps the cursors as they were"
    );
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

#[tokio::test]
async fn a_ledger_truncated_to_nothing_is_restored_from_the_newest_backup() {
    let state = temp_state("restore-truncated");
    let expected = migrated_ledger(&state).await;
    std::fs::File::create(state.join(DB_FILE)).unwrap();

    let out = restore(&state, &["--yes"]);

    assert_restored(&state, &expected, &out);
    let aside = damaged(&state);
    assert_eq!(aside.len(), 1, "the damaged ledger is kept");
    assert_eq!(std::fs::metadata(&aside[0]).unwrap().len(), 0);
    for file in backup::list_backups(&state).unwrap() {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

#[tokio::test]
async fn a_ledger_that_lost_its_target_table_is_restored() {
    let state = temp_state("restore-dropped");
    let expected = migrated_ledger(&state).await;
    Connection::open(state.join(DB_FILE))
        .unwrap()
        .execute_batch("DROP TABLE target")
        .unwrap();

    let out = restore(&state, &["--yes"]);

    assert_restored(&state, &expected, &out);
    let aside = damaged(&state);
    assert_eq!(aside.len(), 1);
    assert!(
        !tables(&aside[0]).contains(&"target".to_string()),
        "the file moved aside is the damaged one, untouched"
    );
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

#[tokio::test]
async fn a_backup_from_before_a_column_was_added_still_restores() {
    let state = temp_state("restore-older");
    let expected = migrated_ledger(&state).await;
    let file = backup::latest_backup(&state).unwrap().unwrap();
    Connection::open(&file)
        .unwrap()
        .execute_batch("ALTER TABLE target DROP COLUMN source_changed")
        .unwrap();
    std::fs::remove_file(state.join(DB_FILE)).unwrap();

    let out = restore(&state, &["--yes", "--from", file.to_str().unwrap()]);

    assert_restored(&state, &expected, &out);
    assert!(
        damaged(&state).is_empty(),
        "there was no ledger to move aside"
    );
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

#[tokio::test]
async fn without_a_backup_or_without_consent_nothing_changes() {
    let state = temp_state("restore-refused");
    std::fs::create_dir_all(&state).unwrap();
    let out = restore(&state, &["--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no backup in"),
        "{}",
        text(&out)
    );

    let expected = migrated_ledger(&state).await;
    let out = restore(&state, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--yes"),
        "{}",
        text(&out)
    );
    assert_eq!(id_map(&state.join(DB_FILE)), expected);
    assert_eq!(count(&state.join(DB_FILE), "source"), 6, "untouched");
    assert!(damaged(&state).is_empty());
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

#[tokio::test]
async fn backups_beyond_the_newest_few_are_deleted() {
    let state = temp_state("backup-prune");
    migrated_ledger(&state).await;
    let ledger = Ledger::open(&state).unwrap();
    for i in 0..KEEP_BACKUPS + 2 {
        ledger.backup_id_map(&format!("round {i}")).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let kept = backup::list_backups(&state).unwrap();
    assert_eq!(kept.len(), KEEP_BACKUPS);
    assert!(
        kept.last()
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("-round-6.db")
    );
    assert_eq!(
        ledger
            .backup_id_map_unless_recent("soon after", Duration::from_secs(60))
            .unwrap(),
        None,
        "a backup under a minute old makes the next one wait"
    );
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

/// Waits until no one holds the state directory's lock (a finished run releases it as its last
/// ledger handle drops).
async fn wait_unlocked(state: &Path) {
    for _ in 0..100 {
        if StateDirLock::acquire(state).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the state directory stayed locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_backs_up_its_id_map_and_a_restored_ledger_resumes_without_duplicates() {
    let sims = common::sims(SizePreset::Tiny).await;
    let state = temp_state("backup-run");
    let outcome = common::run_engine(common::engine_config(&sims, state.clone())).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");
    wait_unlocked(&state).await;

    let backups = backup::list_backups(&state).unwrap();
    assert!(!backups.is_empty(), "phase boundaries took backups");
    let newest = backups.last().unwrap();
    assert!(newest.to_str().unwrap().ends_with("-run-end.db"));
    let ledger_map = id_map(&state.join(DB_FILE));
    assert!(
        ledger_map.len() > 100,
        "a tiny workspace loads hundreds of records"
    );
    assert_eq!(
        id_map(newest),
        ledger_map,
        "the run's end backup is its id map"
    );
    let created = common::truth(&sims.kustomer.url).await["counts"].clone();

    std::fs::File::create(state.join(DB_FILE)).unwrap();
    let refused = runner::start(common::engine_config(&sims, state.clone()))
        .await
        .err()
        .expect("an emptied ledger beside the migration's files is refused");
    assert!(
        format!("{refused:#}").contains("i2k restore"),
        "{refused:#}"
    );
    wait_unlocked(&state).await;
    let out = restore(&state, &["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(id_map(&state.join(DB_FILE)), ledger_map);

    let outcome = common::run_engine(common::engine_config(&sims, state.clone())).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");
    assert_eq!(
        common::truth(&sims.kustomer.url).await["counts"],
        created,
        "the resumed run created nothing twice"
    );
    assert!(count(&state.join(DB_FILE), "source") > 0, "re-extracted");
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_taken_while_the_writer_commits_see_whole_commits() {
    const PER_COMMIT: usize = 50;
    let state = temp_state("backup-concurrent");
    let ledger = Ledger::open(&state).unwrap();
    let writer = {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            for round in 0..40 {
                let ids = (0..PER_COMMIT).map(|i| format!("r{round}-{i}")).collect();
                ledger.ensure_pending("customers", ids).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut seen = Vec::new();
    while !writer.is_finished() {
        let ledger = ledger.clone();
        let file = tokio::task::spawn_blocking(move || ledger.backup_id_map("busy"))
            .await
            .unwrap()
            .unwrap();
        seen.push(id_map(&file).len());
    }
    writer.await.unwrap();
    assert!(
        seen.len() > 1,
        "backups interleaved with the writes: {seen:?}"
    );
    for n in &seen {
        assert_eq!(n % PER_COMMIT, 0, "a backup saw part of a commit: {seen:?}");
    }
    let _ = std::fs::remove_dir_all(state.parent().unwrap());
}
