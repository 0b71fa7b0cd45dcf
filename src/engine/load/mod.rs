//! The load phases, one module each, dispatched from the phase table. Every phase pages its
//! records from the ledger, maps them with `mapping/`, writes them through `engine::write`, and
//! checks `ctx.control` between batches so pause and cancel take effect promptly.

/// The response of a write whose answer never came (the run that sent it ended first).
pub const NO_ANSWER: &str = "(no answer: the run that sent it ended before Kustomer's answer arrived, or the answer was lost)";

pub mod companies;
pub mod conversations;
pub mod customers;
pub mod delta;
pub mod extras;
pub mod kb;
pub mod metadata;
pub mod prerequisites;
pub mod tag_fallback;
pub mod users_teams;

use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::Value;

use crate::engine::context::Ctx;
use crate::engine::kinds::{CATALOG, Write};
use crate::engine::write::{self, BulkWrite, Outcome};
use crate::kustomer::KustomerError;
use crate::kustomer::models::Named;
use crate::ledger::{Ledger, LedgerError, RecordState, WorkItem};
use crate::vocab::{ErrorClass, Kind, PhaseId};

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

/// A work item's stored source record as text and JSON, or why it cannot be read (none stored,
/// or not JSON). [`read_source`] applies the policy; verify's samples read through this too.
pub fn decode_source(item: &WorkItem) -> Result<(&str, Value), String> {
    match item.raw.as_deref() {
        None => Err("no extracted source record".to_string()),
        Some(raw) => serde_json::from_str::<Value>(raw)
            .map(|value| (raw, value))
            .map_err(|e| format!("the stored source record cannot be read: {e}")),
    }
}

/// The one way to read a work item's stored source record, with one policy: a record that cannot
/// be read (none stored, or not JSON) is marked failed (`ErrorClass::Source`) with the reason,
/// so the Errors screen shows it and verify and plan count it as unreadable (`json_valid(raw) = 0`),
/// and `None` comes back.
/// It is never read as an empty record, which would load an empty record or archive nothing.
pub fn read_source<'i>(
    ledger: &Ledger,
    item: &'i WorkItem,
) -> Result<Option<(&'i str, Value)>, crate::ledger::LedgerError> {
    let reason = match decode_source(item) {
        Ok(read) => return Ok(Some(read)),
        Err(reason) => reason,
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

/// Makes a work item of every extracted record of `kind` (a source kind that is its own target)
/// and returns those still to settle, as [`open_items`] does; when there are any, the phase's
/// activity becomes `activity`.
pub async fn open_work(ctx: &Ctx, kind: Kind, activity: &str) -> anyhow::Result<Vec<WorkItem>> {
    let kind = kind.as_str();
    ctx.ledger.ensure_pending_from_sources(kind, kind).await?;
    let items = open_items(&ctx.ledger, kind)?;
    if !items.is_empty() {
        ctx.set_activity(activity);
    }
    Ok(items)
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

/// Bulk requests in flight at once; the rate gate keeps them inside the budget, this only hides
/// the jobs' latency. A job takes seconds to complete and the phases after this one wait for
/// it, so a page's twenty jobs run at once: four at a time held the customers of a `medium`
/// workspace for a minute (at 5 requests/s of an 80/s budget) while everything else waited.
pub(crate) const BULK_CONCURRENCY: usize = 20;

/// Sends `items` (source id, body) through `bulk` in requests of at most 100 items and the run's
/// byte budget, [`BULK_CONCURRENCY`] in flight, each counted in flight for `phase`. Returns how
/// many items' answers were lost (left `sent`, for recovery to look up).
pub(super) async fn send_bulk<L>(
    ctx: &Ctx,
    phase: PhaseId,
    bulk: &BulkWrite<'_, L>,
    items: Vec<(String, Value)>,
) -> Result<usize, LedgerError>
where
    L: write::Lookup,
{
    let ledger = &ctx.ledger;
    let chunks = write::bulk_requests(ledger, bulk.kind, items, ctx.config.options.bulk_max_bytes)?;
    let mut results = futures_util::stream::iter(chunks.into_iter().map(|chunk| async move {
        let _guard = ctx.in_flight(phase, chunk.len() as u64);
        write::create_bulk(ledger, bulk, chunk).await
    }))
    .buffer_unordered(BULK_CONCURRENCY);
    let mut unsettled = 0;
    while let Some(outcomes) = results.next().await {
        unsettled += outcomes?
            .values()
            .filter(|o| **o == Outcome::Unsettled)
            .count();
    }
    Ok(unsettled)
}

/// Maps one pending record (`raw`: its stored source) to its Kustomer body and the notes for
/// the operator; an error fails the record with its class and reason.
pub(super) trait MapRecord:
    Fn(&WorkItem, &str) -> Result<crate::mapping::companies::Mapped, (ErrorClass, String)>
{
}

impl<F> MapRecord for F where
    F: Fn(&WorkItem, &str) -> Result<crate::mapping::companies::Mapped, (ErrorClass, String)>
{
}

/// Creates one record known by its name (a tag, a saved search, a shortcut) through the write
/// path: `create` sends it; after a lost answer or a duplicate refusal, the record of that name
/// in `list` is taken.
pub(super) async fn create_named<C, CF, L, LF>(
    ledger: &Ledger,
    item: &WorkItem,
    name: &str,
    create: C,
    list: L,
) -> Result<Outcome, LedgerError>
where
    C: Fn() -> CF,
    CF: Future<Output = Result<Named, KustomerError>>,
    L: Fn() -> LF,
    LF: Future<Output = Result<Vec<Named>, KustomerError>>,
{
    let send = || async { Ok(create().await?.id) };
    let find = || async {
        Ok(list()
            .await?
            .into_iter()
            .find(|n| n.name == name)
            .map(|n| n.id))
    };
    write::create_one(ledger, item, send, find).await
}
