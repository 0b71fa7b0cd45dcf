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

use serde_json::Value;

use crate::engine::context::Ctx;
use crate::engine::kinds::{CATALOG, Write};
use crate::ledger::{Ledger, RecordState, WorkItem};
use crate::vocab::{ErrorClass, PhaseId};

/// Runs one phase to its end (records that fail are marked failed; the phase goes on).
pub async fn run_phase(id: PhaseId, ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let loaded = match id {
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
    };
    loaded?;
    archive_whole_kinds(id, ctx).await
}

/// The phase's kinds the catalog archives whole (Kustomer has no counterpart for them): every
/// open record goes to the archive with the reason the kind's mapping gives. No phase code is
/// written for such a kind; its catalog row is enough.
async fn archive_whole_kinds(id: PhaseId, ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    for row in CATALOG.iter().filter(|r| r.phase == Some(id)) {
        let Write::Archived {
            reason: Some(reason),
        } = row.write
        else {
            continue;
        };
        let kind = row.kind.as_str();
        ctx.ledger.ensure_pending_from_sources(kind, kind).await?;
        ctx.ledger.flush().await?;
        let open = [RecordState::Pending, RecordState::Sent, RecordState::Failed];
        let mut pages = ctx.ledger.pages(kind, &open, 500);
        while let Some(page) = pages.next_page().await? {
            for item in page {
                if let Some((_, record)) = read_source(&ctx.ledger, &item)? {
                    ctx.ledger
                        .archive(kind, &item.source_id, &reason(&record))?;
                }
            }
        }
        ctx.ledger.flush().await?;
    }
    Ok(())
}

/// The one way to read a work item's stored source record, with one policy: a record that cannot
/// be read (none stored, or not JSON) is marked failed (`ErrorClass::Source`) with the reason,
/// so the Errors screen shows it and verify counts it among the failed, and `None` comes back.
/// It is never read as an empty record, which would load an empty record or archive nothing.
pub fn read_source<'i>(
    ledger: &Ledger,
    item: &'i WorkItem,
) -> Result<Option<(&'i str, Value)>, crate::ledger::LedgerError> {
    let reason = match item.raw.as_deref() {
        None => "no extracted source record".to_string(),
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(value) => return Ok(Some((raw, value))),
            Err(e) => format!("the stored source record cannot be read: {e}"),
        },
    };
    ledger.mark_failed(
        &item.kind,
        &item.source_id,
        ErrorClass::Source,
        &reason,
        "",
        "",
    )?;
    Ok(None)
}

/// Records of `kind` still to settle (pending, or `sent` by a run that stopped), read page by
/// page. For the small kinds (prerequisites, people, metadata, tags) that fit in memory.
pub fn open_items(ledger: &Ledger, kind: &str) -> anyhow::Result<Vec<WorkItem>> {
    let mut all = Vec::new();
    for page in ledger.pages(kind, &[RecordState::Pending, RecordState::Sent], 500) {
        all.extend(page?);
    }
    Ok(all)
}
