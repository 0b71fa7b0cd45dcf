//! What stops a run from outside the operator's hands — a signal, a token refused in the middle
//! of the run, a full disk — and how each is told: the run is cancelled as the operator's cancel
//! is (in-flight requests settle, the ledger keeps where it stopped), recorded as interrupted,
//! and the reason says what to fix before running again.

use std::sync::Arc;

use crate::engine::context::Ctx;
use crate::engine::model::LogLevel;
use crate::http::ApiClient;

/// Interrupts the run for `reason` and tells the operator, once: later reasons are consequences.
pub fn interrupt(ctx: &Ctx, reason: &str) {
    if ctx.control.interrupt(reason) {
        ctx.log(LogLevel::Error, format!("interrupted: {reason}"));
    }
}

/// Watches both clients for a refused token: a 401 in the middle of a run (expired or revoked)
/// stops it rather than fail every record that follows.
pub fn watch_tokens(ctx: &Arc<Ctx>) -> Vec<tokio::task::JoinHandle<()>> {
    let clients: [(ApiClient, &str, &str); 2] = [
        (
            ctx.intercom.api().clone(),
            "Intercom",
            crate::config::INTERCOM_TOKEN_ENV,
        ),
        (
            ctx.kustomer.api().clone(),
            "Kustomer",
            crate::config::KUSTOMER_TOKEN_ENV,
        ),
    ];
    clients
        .into_iter()
        .map(|(client, side, env)| {
            let ctx = ctx.clone();
            let mut refused = client.token_refused();
            tokio::spawn(async move {
                if refused.wait_for(|r| *r).await.is_ok() {
                    interrupt(&ctx, &token_refused_reason(side, env));
                }
            })
        })
        .collect()
}

fn token_refused_reason(side: &str, env: &str) -> String {
    format!(
        "{side} refused the token (HTTP 401): it expired or was revoked. Export a valid {env} and \
         run again; the run resumes where it stopped and nothing already sent is lost"
    )
}

/// Whether the run's error is one an interruption explains: the disk filled (which interrupts
/// the run now), or the run had already been interrupted and the error is its echo.
pub fn absorbs(ctx: &Ctx, err: &anyhow::Error) -> bool {
    if is_disk_full(err) {
        interrupt(
            ctx,
            &format!(
                "the disk holding {} is full: free some space and run again; the run resumes \
                 where it stopped",
                ctx.config.state_dir.display()
            ),
        );
    }
    match ctx.control.interruption() {
        Some(_) => {
            tracing::warn!("after the interruption: {err:#}");
            true
        }
        None => false,
    }
}

/// ENOSPC anywhere in the chain: from a file write, or SQLite's "database or disk is full".
pub fn is_disk_full(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28);
        }
        if let Some(rusqlite::Error::SqliteFailure(e, _)) = cause.downcast_ref::<rusqlite::Error>()
        {
            return e.code == rusqlite::ErrorCode::DiskFull;
        }
        let text = cause.to_string();
        text.contains("No space left on device") || text.contains("database or disk is full")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_recognised_however_it_is_wrapped() {
        let io = anyhow::Error::new(std::io::Error::from_raw_os_error(28)).context("writing x");
        assert!(is_disk_full(&io));
        let sqlite = anyhow::Error::new(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(13),
            None,
        ))
        .context("ledger");
        assert!(is_disk_full(&sqlite));
        let text = anyhow::anyhow!("ledger writer: database or disk is full");
        assert!(is_disk_full(&text));
        assert!(!is_disk_full(&anyhow::anyhow!("permission denied")));
    }
}
