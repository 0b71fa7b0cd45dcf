//! `i2k restore`: rebuilds a lost or damaged ledger from a backup of its id map (the newest in
//! `<state>/backups`, or `--from FILE`). With the state directory locked it moves the current
//! ledger aside (never deleting it), fills a fresh ledger from the backup and clears the extraction
//! cursors, so the next run re-extracts the Intercom records the backup does not hold while the id
//! map keeps anything already created from being created again.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::RestoreArgs;
use crate::commands::Context;
use crate::ledger::backup::{self, BackupInfo};
use crate::ledger::{Ledger, RecordState, StateCounts, StateDirLock};
use crate::timefmt::unix_ms_to_iso;
use crate::tui::view::fmt_count;

pub async fn run(ctx: &Context, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let state_dir = ctx.state_dir()?;
    let interactive = std::io::stdin().is_terminal();
    // File copies, SQLite and a prompt: all blocking, none of it on a runtime worker.
    tokio::task::spawn_blocking(move || restore(&state_dir, args, interactive))
        .await
        .context("the restore stopped unexpectedly")?
}

fn restore(state_dir: &Path, args: RestoreArgs, interactive: bool) -> anyhow::Result<ExitCode> {
    let chosen = match args.from {
        Some(path) => path,
        None => backup::latest_backup(state_dir)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no backup in {}: a run backs the ledger up at each phase boundary; pass --from FILE to restore another file",
                backup::backup_dir(state_dir).display()
            )
        })?,
    };
    let current = state_dir.join(crate::ledger::DB_FILE);
    if current.exists() && same_file(&chosen, &current) {
        anyhow::bail!(
            "{} is the ledger being replaced: pass a backup or a copy kept elsewhere",
            chosen.display()
        );
    }
    let info = backup::inspect_backup(&chosen)
        .with_context(|| format!("cannot restore from {}", chosen.display()))?;
    if !state_dir.is_dir() {
        anyhow::bail!(
            "the state directory {} does not exist: pass the migration's --state",
            state_dir.display()
        );
    }
    let dir_lock = StateDirLock::acquire(state_dir)?;
    print!("{}", describe_backup(&info));
    if !args.yes {
        if !interactive {
            anyhow::bail!(
                "not restoring without confirmation: pass --yes when stdin is not a terminal"
            );
        }
        if !crate::commands::confirm(
            "Move the current ledger aside and restore this backup? [y/N] ",
        )? {
            println!("nothing changed");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let moved = backup::move_ledger_aside(&dir_lock)?;
    let restored = backup::restore_ledger(&dir_lock, &info.path).with_context(|| {
        format!(
            "the restore failed; the previous ledger is kept as {}",
            list(&moved)
        )
    })?;
    // The restored ledger is whole before the lock goes: a run that takes the directory now
    // resumes from it.
    drop(dir_lock);
    let ledger = Ledger::open_for_restore(state_dir)
        .context("the ledger was restored, but cannot be opened to count what it holds")?;
    let mut out = String::new();
    if moved.is_empty() {
        let _ = writeln!(out, "there was no ledger to move aside");
    } else {
        let _ = writeln!(
            out,
            "the previous ledger was moved aside (nothing was deleted): {}",
            list(&moved)
        );
    }
    let restored_targets =
        ledger
            .counters()
            .targets
            .values()
            .fold(StateCounts::default(), |mut all, counts| {
                for state in RecordState::ALL {
                    all.add(state, counts.get(state) as i64);
                }
                all
            });
    let _ = writeln!(
        out,
        "restored into {}: {} of the id map ({})",
        ledger.db_path().display(),
        rows(restored_targets.total()),
        by_state(&restored_targets)
    );
    let tables: Vec<String> = restored
        .tables
        .iter()
        .filter(|(table, _)| !matches!(table.as_str(), "target" | "cursors"))
        .map(|(table, n)| format!("{table} {}", fmt_count(*n)))
        .collect();
    let _ = writeln!(out, "  other tables: {}", tables.join(", "));
    if !restored.unknown_tables.is_empty() {
        let _ = writeln!(
            out,
            "  left out (unknown to this i2k): {}",
            restored.unknown_tables.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "  extraction cursors cleared: {} (the backup holds no Intercom records)",
        fmt_count(restored.cursors_cleared)
    );
    let _ = writeln!(
        out,
        "next: run `i2k run --state {}` to re-extract and resume; records the id map holds are not created again",
        state_dir.display()
    );
    print!("{out}");
    drop(ledger);
    Ok(ExitCode::SUCCESS)
}

fn describe_backup(info: &BackupInfo) -> String {
    let taken = info
        .taken_ms
        .map(unix_ms_to_iso)
        .unwrap_or_else(|| "an unknown time".to_string());
    format!(
        "backup {} (taken {taken}, schema version {}): {} of the id map ({})\n",
        info.path.display(),
        info.schema_version,
        rows(info.targets.total()),
        by_state(&info.targets)
    )
}

fn rows(n: u64) -> String {
    format!(
        "{} target {}",
        fmt_count(n),
        if n == 1 { "row" } else { "rows" }
    )
}

/// `1,200 done, 30 skipped`: the states that have rows.
fn by_state(counts: &StateCounts) -> String {
    let parts: Vec<String> = RecordState::ALL
        .into_iter()
        .filter(|&s| counts.get(s) > 0)
        .map(|s| format!("{} {}", fmt_count(counts.get(s)), s.as_str()))
        .collect();
    if parts.is_empty() {
        "empty".to_string()
    } else {
        parts.join(", ")
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

fn list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "(none)".to_string();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
