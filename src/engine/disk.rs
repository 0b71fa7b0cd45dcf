//! The disk a migration needs in its state directory (the ledger and the files extraction
//! downloads), estimated from the ledger, and the free space the file system has there. `plan`
//! and the console's Scope screen show the estimate; a run does not start without the space.
//!
//! The ledger's size is projected from bytes per staged record, measured on this ledger (the
//! pages it uses ÷ its source records) once it holds enough records to measure, else the default
//! measured on the simulators; each record also gets a target row when it is loaded. Files count
//! what Intercom says they weigh until they are downloaded, then their size on disk.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ledger::{CounterSnapshot, Ledger, LedgerError, LedgerReader};
use crate::vocab::Kind;

/// Ledger bytes per staged source record when too few are staged to measure: measured on the
/// simulators' `small` workspace after extraction (18,132,992 bytes of pages for 17,114 source
/// records: 1,060; `tiny` gives 954).
pub const DEFAULT_LEDGER_BYTES_PER_RECORD: u64 = 1_100;
/// Ledger bytes the load adds per source record (its target row, the rows of what the engine
/// derives from it — conversation sources and states, uploads, timeline notes — and their index
/// entries): measured on `small`, where a full run grew the ledger from 18,132,992 to 22,339,584
/// bytes, 246 per source record.
pub const TARGET_BYTES_PER_RECORD: u64 = 250;
/// Bytes per source record of one backup of the id map (every table but `source`): measured on
/// `medium`, where the run's last backup held 53,342,208 bytes for 371,222 source records (144).
pub const BACKUP_BYTES_PER_RECORD: u64 = 150;
/// Below this many staged records the measured figure is mostly the empty tables' own pages.
pub const MEASURE_FROM_RECORDS: u64 = 500;
/// Room kept beyond the estimate for the write-ahead log between checkpoints, the logs, the
/// archive and the report: a tenth of the ledger, and never under this floor.
pub const HEADROOM_FLOOR: u64 = 64 * 1024 * 1024;
/// The kinds whose records are files downloaded into the state directory.
pub const FILE_KINDS: [&str; 2] = [Kind::Attachments.as_str(), Kind::InlineImages.as_str()];
/// When set (bytes), the free space the disk check assumes instead of asking the file system:
/// for tests and for operators who know better (a quota the file system does not report).
pub const FREE_DISK_ENV: &str = "I2K_FREE_DISK_BYTES";

/// What the migration needs on disk, as `plan --json` prints it under `disk`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskEstimate {
    /// Source records staged in the ledger.
    pub records: u64,
    /// Ledger bytes per staged record the projection uses.
    pub ledger_bytes_per_record: u64,
    /// Whether that figure was measured on this ledger (else the default).
    pub measured: bool,
    /// The ledger's projected size once every staged record is loaded.
    pub ledger_bytes: u64,
    /// The ledger's database as it is now (its pages, committed writes still in the
    /// write-ahead log included).
    pub ledger_bytes_on_disk: u64,
    /// Every staged file (attachments, inline images).
    pub attachment_bytes: u64,
    /// The part of `attachment_bytes` already downloaded.
    pub attachment_bytes_on_disk: u64,
    /// The backups of the id map the run keeps (`<state>/backups`, the newest
    /// [`crate::ledger::backup::KEEP_BACKUPS`] of them, each the size of the full id map).
    #[serde(default)]
    pub backup_bytes: u64,
    /// Free space still needed in the state directory: what the ledger and the files have yet
    /// to grow, plus the headroom.
    pub needed_bytes: u64,
}

/// Estimates the disk for `ledger`: its counters (in memory) give the records, a read on the
/// blocking pool the pages and the staged files.
pub async fn estimate_for(ledger: &Ledger) -> Result<DiskEstimate, LedgerError> {
    let counters = ledger.counters();
    ledger
        .read_blocking(move |reader| estimate(reader, &counters))
        .await
}

/// Estimates the disk from the ledger `reader` reads and the writer's `counters`. The
/// write-ahead log is not counted apart: its pages are in the database's page count, and the
/// headroom covers the log file itself.
pub fn estimate(
    reader: &LedgerReader,
    counters: &CounterSnapshot,
) -> Result<DiskEstimate, LedgerError> {
    let records: u64 = counters.sources.values().sum();
    let targets: u64 = counters.targets.values().map(|counts| counts.total()).sum();
    let (used, on_disk) = reader.page_bytes()?;
    let measured = records >= MEASURE_FROM_RECORDS;
    let per_record = if measured {
        // The target rows already written are in `used`; the rest are added below.
        used.div_ceil(records.max(1))
    } else {
        DEFAULT_LEDGER_BYTES_PER_RECORD
    };
    let ledger_bytes = per_record.saturating_mul(records).max(on_disk)
        + TARGET_BYTES_PER_RECORD.saturating_mul(records.saturating_sub(targets));
    let (mut attachment_bytes, mut attachment_bytes_on_disk) = (0u64, 0u64);
    for kind in FILE_KINDS {
        let (all, downloaded) = reader.file_bytes(kind)?;
        attachment_bytes += all;
        attachment_bytes_on_disk += downloaded;
    }
    let backup_bytes = BACKUP_BYTES_PER_RECORD
        .saturating_mul(records)
        .saturating_mul(crate::ledger::backup::KEEP_BACKUPS as u64);
    let growth = ledger_bytes.saturating_sub(on_disk)
        + attachment_bytes.saturating_sub(attachment_bytes_on_disk)
        + backup_bytes;
    let headroom = (ledger_bytes / 10).max(HEADROOM_FLOOR);
    Ok(DiskEstimate {
        records,
        ledger_bytes_per_record: per_record,
        measured,
        ledger_bytes,
        ledger_bytes_on_disk: on_disk,
        attachment_bytes,
        attachment_bytes_on_disk,
        backup_bytes,
        needed_bytes: growth + headroom,
    })
}

/// Free bytes an unprivileged process may use on the file system holding `dir`, or what
/// [`FREE_DISK_ENV`] says.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    if let Ok(text) = std::env::var(FREE_DISK_ENV) {
        return text.trim().parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{FREE_DISK_ENV} is not a number of bytes: {text}"),
            )
        });
    }
    statvfs_free(dir)
}

fn statvfs_free(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is a NUL-terminated string that outlives the call, and `stat` is a
    // writable buffer of the type statvfs fills; it is read only after the call succeeded.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// The run would not fit on the state directory's file system.
#[derive(Debug, thiserror::Error)]
#[error(
    "not enough free disk in {dir}: the migration needs {} more ({}) and the file system has {} free. Free some space or move the state directory (--state) to a larger disk; `i2k plan` shows the estimate",
    human_bytes(*needed),
    detail,
    human_bytes(*free)
)]
pub struct DiskShortage {
    pub dir: std::path::PathBuf,
    pub needed: u64,
    pub free: u64,
    pub detail: String,
}

/// Refuses a run whose estimate does not fit in the free space of `state_dir`.
pub fn check(estimate: &DiskEstimate, state_dir: &Path) -> Result<(), anyhow::Error> {
    let free = free_bytes(state_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot tell how much disk is free in {}: {e}",
            state_dir.display()
        )
    })?;
    if free < estimate.needed_bytes {
        return Err(DiskShortage {
            dir: state_dir.to_path_buf(),
            needed: estimate.needed_bytes,
            free,
            detail: describe(estimate),
        }
        .into());
    }
    Ok(())
}

/// "ledger 1.2 GB for 850,000 records, attachments 3.4 GB", for messages and the console.
pub fn describe(estimate: &DiskEstimate) -> String {
    format!(
        "ledger {} for {} records at {} B each{}, attachments {} ({} downloaded), backups {}",
        human_bytes(estimate.ledger_bytes),
        estimate.records,
        estimate.ledger_bytes_per_record,
        if estimate.measured {
            " measured"
        } else {
            " by default"
        },
        human_bytes(estimate.attachment_bytes),
        human_bytes(estimate.attachment_bytes_on_disk),
        human_bytes(estimate.backup_bytes),
    )
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_in_binary_units() {
        for (bytes, shown) in [(900, "900 B"), (1536, "1.5 KiB"), (3 << 30, "3.0 GiB")] {
            assert_eq!(human_bytes(bytes), shown);
        }
    }

    #[test]
    fn the_file_system_of_a_real_directory_reports_free_space() {
        let free = statvfs_free(&std::env::temp_dir()).unwrap();
        assert!(free > 0);
    }

    #[test]
    fn a_run_that_fits_passes_and_one_that_cannot_is_refused_with_both_figures() {
        let dir = std::env::temp_dir();
        let fits = DiskEstimate {
            needed_bytes: 1,
            ..DiskEstimate::default()
        };
        check(&fits, &dir).unwrap();
        let too_big = DiskEstimate {
            needed_bytes: u64::MAX,
            ..DiskEstimate::default()
        };
        let err = check(&too_big, &dir).unwrap_err();
        let shortage = err.downcast_ref::<DiskShortage>().unwrap();
        assert_eq!(shortage.needed, u64::MAX);
        assert!(shortage.free < u64::MAX);
        assert!(err.to_string().contains("not enough free disk"), "{err}");
        assert!(err.to_string().contains(" TiB more ("), "{err}");
    }
}
