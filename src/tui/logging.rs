//! Logs to a file while the console is up (never to the screen): `i2k.log` in the state
//! directory, created 0600, written through `tracing-appender`'s non-blocking writer. The level
//! comes from `I2K_LOG` (an `EnvFilter` directive), `info` by default.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The log file's name inside the state directory.
pub const LOG_FILE: &str = "i2k.log";
/// The environment variable holding the log filter.
pub const LOG_FILTER_ENV: &str = "I2K_LOG";

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("cannot open the log file {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("{LOG_FILTER_ENV}=`{value}` is not a log filter: {message}")]
    Filter { value: String, message: String },
    #[error("logging was already set up in this process")]
    AlreadySet,
}

/// Sends `tracing` output to `<state_dir>/i2k.log` (0600). Keep the guard alive for the program's
/// lifetime: dropping it flushes what is buffered.
pub fn init_file_logging(state_dir: &Path) -> Result<WorkerGuard, LoggingError> {
    let path = state_dir.join(LOG_FILE);
    let open_error = |message: String| LoggingError::Open {
        path: path.clone(),
        message,
    };
    crate::config::create_private_dir(state_dir).map_err(|e| open_error(format!("{e:#}")))?;
    let file = crate::config::create_private_file(&path, false)
        .map_err(|e| open_error(format!("{e:#}")))?;
    let filter = match std::env::var(LOG_FILTER_ENV) {
        Ok(value) if !value.trim().is_empty() => {
            EnvFilter::try_new(&value).map_err(|e| LoggingError::Filter {
                value: value.clone(),
                message: e.to_string(),
            })?
        }
        _ => EnvFilter::new("info"),
    };
    let (writer, guard) = tracing_appender::non_blocking(file);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .map_err(|_| LoggingError::AlreadySet)?;
    Ok(guard)
}
