//! Logs go to a file in the state directory through `tracing-appender`, never to the terminal
//! while the console is up. The file is created 0600 before anything is written to it. The level
//! comes from `I2K_LOG` (e.g. `debug`, `i2k=trace`), `info` by default.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The log file's name inside `<state dir>/logs/`.
pub const LOG_FILE: &str = "i2k.log";

/// Log lines queued for the writer thread at most (see [`to_file`]).
const LOG_LINES_QUEUED: usize = 8_192;

/// Starts logging to `<state_dir>/logs/i2k.log`. Keep the guard alive for the whole run: dropping
/// it flushes the log. A second call (e.g. in tests) keeps the first subscriber.
pub fn to_file(state_dir: &Path) -> anyhow::Result<WorkerGuard> {
    let dir = state_dir.join("logs");
    crate::config::create_private_dir(&dir)?;
    let file = crate::config::create_private_file(&dir.join(LOG_FILE), false)?;
    // Lines wait for the writer thread rather than being dropped when they come faster than it
    // writes (the default drops them); the queue's slots are allocated up front, and the default
    // 128,000 took 4 MB of every run's memory where a few thousand lines of headroom do.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_LINES_QUEUED)
        .finish(file);
    let filter = EnvFilter::try_from_env("I2K_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(guard)
}

/// Warnings to standard error, for commands without a state directory (`sim`, `doctor`).
pub fn to_stderr() {
    let filter = EnvFilter::try_from_env("I2K_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .try_init();
}
