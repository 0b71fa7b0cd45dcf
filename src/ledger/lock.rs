//! One run per state directory: an OS file lock on `i2k.lock`, released by the kernel when the
//! process ends however it ends (a pid file would survive SIGKILL). Also creates the directory and
//! the ledger files with owner-only permissions before SQLite touches them.

use std::fs::{DirBuilder, File, OpenOptions, Permissions, TryLockError};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::LedgerError;

/// The lock file's name inside the state directory.
pub const LOCK_FILE: &str = "i2k.lock";

/// How long [`StateDirLock::acquire`] waits for a held lock before calling it another run's.
pub const LOCK_PATIENCE: Duration = Duration::from_millis(500);
const LOCK_RETRY: Duration = Duration::from_millis(20);

/// Holds the state directory for this process until dropped.
#[derive(Debug)]
pub struct StateDirLock {
    // Kept open: closing the file releases the lock.
    _file: File,
    dir: PathBuf,
}

impl StateDirLock {
    /// Takes the lock, waiting at most [`LOCK_PATIENCE`]; fails with `LedgerError::Locked`
    /// naming the directory when another process (or another `Ledger` in this one) holds it.
    ///
    /// The short wait is not politeness. The lock belongs to the open file, and a process this
    /// one starts (from any thread) shares every open file from its fork until its `exec` closes
    /// them: for those few milliseconds a lock this process has just released is still held,
    /// and a `Ledger` reopened in that window would be refused for no reason.
    pub fn acquire(dir: &Path) -> Result<StateDirLock, LedgerError> {
        let started = Instant::now();
        loop {
            match StateDirLock::try_acquire(dir) {
                Err(LedgerError::Locked { .. }) if started.elapsed() < LOCK_PATIENCE => {
                    std::thread::sleep(LOCK_RETRY);
                }
                taken_or_not => return taken_or_not,
            }
        }
    }

    /// Takes the lock without waiting (for async callers that wait on their own terms).
    pub fn try_acquire(dir: &Path) -> Result<StateDirLock, LedgerError> {
        let path = dir.join(LOCK_FILE);
        let file = create_private_file(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(StateDirLock {
                _file: file,
                dir: dir.to_path_buf(),
            }),
            Err(TryLockError::WouldBlock) => Err(LedgerError::Locked {
                dir: dir.to_path_buf(),
            }),
            Err(TryLockError::Error(source)) => Err(LedgerError::Io { path, source }),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Creates `dir` (and parents) as 0700 if it does not exist yet. An existing directory keeps the
/// permissions its owner gave it.
pub fn create_private_dir(dir: &Path) -> Result<(), LedgerError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| LedgerError::Io {
            path: dir.to_path_buf(),
            source,
        })
}

/// Opens (creating if needed) `path` as 0600 without truncating it.
pub fn create_private_file(path: &Path) -> Result<File, LedgerError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| LedgerError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Narrows `path` to 0600 if it exists. SQLite gives `-wal` and `-shm` the database file's mode,
/// but a file left by an older tool or a wide umask at creation would otherwise stay readable.
pub fn restrict_if_present(path: &Path) -> Result<(), LedgerError> {
    unless_missing(
        std::fs::set_permissions(path, Permissions::from_mode(0o600)),
        path,
    )
}

/// The `result` of a file operation on `path` in which a missing file is no error.
pub(super) fn unless_missing(result: std::io::Result<()>, path: &Path) -> Result<(), LedgerError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LedgerError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}
