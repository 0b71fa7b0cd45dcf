//! Backups of the ledger's id map at phase boundaries (`ledger::backup`): after a phase, unless
//! the last backup is under [`BACKUP_INTERVAL`] old, and always at the end of a run. A backup that
//! fails is a warning in the run's log; it never fails the run.

use std::time::Duration;

use crate::engine::context::Ctx;
use crate::engine::model::LogLevel;
use crate::vocab::PhaseId;

/// Phase boundaries closer together than this share one backup.
pub const BACKUP_INTERVAL: Duration = Duration::from_secs(10);

/// The label of the backup taken at a run's end.
pub const RUN_END_LABEL: &str = "run-end";

/// After `phase` finished (whatever its outcome). A cancelled run leaves it to the run's end.
pub async fn after_phase(ctx: &Ctx, phase: PhaseId) {
    if ctx.control.is_cancelled() {
        return;
    }
    take(ctx, phase.label(), Some(BACKUP_INTERVAL)).await;
}

/// At the end of a run, however it ended.
pub async fn at_run_end(ctx: &Ctx) {
    take(ctx, RUN_END_LABEL, None).await;
}

async fn take(ctx: &Ctx, label: &str, min_interval: Option<Duration>) {
    // Done marks are fire-and-forget: let those queued so far land, so the backup has them.
    if let Err(e) = ctx.ledger.flush().await {
        tracing::warn!("could not flush the ledger before a backup: {e}");
    }
    let ledger = ctx.ledger.clone();
    let label = label.to_string();
    // The copy blocks for as long as the id map takes to copy: not on a runtime worker.
    let taken = tokio::task::spawn_blocking(move || match min_interval {
        Some(interval) => ledger.backup_id_map_unless_recent(&label, interval),
        None => ledger.backup_id_map(&label).map(Some),
    })
    .await;
    match taken {
        Ok(Ok(Some(path))) => tracing::info!("backed up the ledger's id map to {}", path.display()),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => ctx.log(
            LogLevel::Warn,
            format!("could not back up the ledger's id map (the run goes on): {e}"),
        ),
        Err(e) => ctx.log(
            LogLevel::Warn,
            format!("the ledger backup stopped unexpectedly (the run goes on): {e}"),
        ),
    }
}
