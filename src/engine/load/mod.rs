//! The load phases, one module each, dispatched from the phase table. Every phase pages its
//! records from the ledger, maps them with `mapping/`, writes them through `engine::write`, and
//! checks `ctx.control` between batches so pause and cancel take effect promptly.

pub mod companies;
pub mod conversations;
pub mod customers;
pub mod extras;
pub mod kb;
pub mod metadata;
pub mod prerequisites;
pub mod users_teams;

use std::sync::Arc;

use crate::engine::context::Ctx;
use crate::ledger::{Ledger, RecordState, WorkItem};
use crate::vocab::PhaseId;

/// Runs one phase to its end (records that fail are marked failed; the phase goes on).
pub async fn run_phase(id: PhaseId, ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    match id {
        PhaseId::Prerequisites => prerequisites::run(ctx).await,
        PhaseId::UsersTeams => users_teams::run(ctx).await,
        PhaseId::Metadata => metadata::run(ctx).await,
        PhaseId::Companies => companies::run(ctx).await,
        PhaseId::Customers => customers::run(ctx).await,
        PhaseId::Kb => kb::run(ctx).await,
        PhaseId::Conversations => conversations::run(ctx).await,
        // Runs beside the conversations: their pages go first, the extras take the slots they
        // leave, so the budget is never idle and the conversations are not slowed.
        PhaseId::Extras => crate::http::gate::as_filler(extras::run(ctx)).await,
    }
}

/// Records of `kind` still to settle (pending, or `sent` by a run that stopped), read page by
/// page. For the small kinds (prerequisites, people, metadata, tags) that fit in memory.
pub fn open_items(ledger: &Ledger, kind: &str) -> anyhow::Result<Vec<WorkItem>> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ledger.next_batch(
            kind,
            &[RecordState::Pending, RecordState::Sent],
            after.as_deref(),
            500,
        )?;
        let Some(last) = page.last() else { break };
        after = Some(last.source_id.clone());
        all.extend(page);
    }
    Ok(all)
}
