//! Phase Companies: Intercom companies → Kustomer companies through `POST /v1/companies/bulk`,
//! 100 per request. Tags are made to exist first (kind `tags`, see [`ensure_tags`]) because
//! companies and customers both take tag ids; the Customers phase runs the same pass again, which
//! does nothing once every tag is done.
//!
//! Also home of [`load_bulk`], the page → map → bulk-create loop the people phases share.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use serde_json::Value;

use crate::engine::context::Ctx;
use crate::engine::kinds::{self, BulkTo};
use crate::engine::load::read_source;
use crate::engine::model::LogLevel;
use crate::engine::write::{self, BulkWrite, Outcome};
use crate::kustomer::bulk::BulkResource;
use crate::kustomer::bulk::MAX_BULK_ITEMS;

use super::MapRecord;
use crate::engine::found;
use crate::ledger::{Ledger, LedgerError, RecordState, WorkItem};
use crate::mapping::companies::company_body;
use crate::vocab::{ErrorClass, FieldMapping, Kind, PhaseId};

/// Records read from the ledger per page of a bulk pass: five bulk requests' worth, so that a
/// pass reads its next page as soon as five of its [`super::BULK_CONCURRENCY`] requests are
/// done. Pages of 2,000 (twenty requests) were read whenever one request of twenty was done,
/// and so held up to 39 requests' mapped bodies at once: on `large` the customers' and the
/// notes' passes held ≈ 20 MB of bodies where 20 requests' worth is half that.
const PAGE: usize = 500;
/// The bulk requests a page of [`PAGE`] records makes (more where bodies are large enough to
/// split by bytes).
const PAGE_REQUESTS: usize = PAGE / MAX_BULK_ITEMS;
/// Tags created at once (one request each).
const TAGS_IN_FLIGHT: usize = 8;
/// Passes over what is still pending: a lost bulk answer leaves items `sent`, recovery looks
/// them up and puts the absent ones back to pending for the next pass.
const MAX_PASSES: usize = 5;

pub async fn run(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    ctx.wait_extracted(&[Kind::Tags.as_str()]).await?;
    ensure_tags(ctx).await?;
    let mappings = field_mappings(&ctx.ledger, "company")?;
    let ledger = ctx.ledger.clone();
    let imported_at = crate::timefmt::unix_ms_to_iso(crate::timefmt::now_unix() * 1000);
    let map = move |_item: &WorkItem, raw: &str| {
        let tag_id = |id: &str| ledger.target_id(Kind::Tags.as_str(), id).ok().flatten();
        company_body(raw, &mappings, &tag_id, &imported_at)
            .map_err(|e| (ErrorClass::Source, e.to_string()))
    };
    // Companies loaded earlier whose Intercom record changed since: updated in place first.
    super::delta::update_changed(ctx, Kind::Companies, &map).await?;
    load_bulk(ctx, BulkLoad::of(PhaseId::Companies, Kind::Companies)?, map).await
}

/// The operator's attribute decisions for one model (`company`, `contact`), as the decisions
/// module stores them (ledger keys `field:<model>:<name>`).
pub(super) fn field_mappings(
    ledger: &Ledger,
    model: &str,
) -> Result<Vec<FieldMapping>, LedgerError> {
    Ok(ledger
        .read(|r| r.decisions(&format!("field:{model}:")))?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_value(v).ok())
        .collect())
}

// ---- tags -----------------------------------------------------------------------------------

fn tag_name(raw: Option<&str>) -> Option<String> {
    let v: Value = serde_json::from_str(raw?).ok()?;
    v.get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// The name of an open tag; `None` when its Intercom record has none, and then the tag is
/// marked failed.
pub(super) fn named_tag(ledger: &Ledger, item: &WorkItem) -> Result<Option<String>, LedgerError> {
    let name = tag_name(item.raw.as_deref());
    if name.is_none() {
        ledger.mark_failed(
            Kind::Tags.as_str(),
            &item.source_id,
            ErrorClass::Source,
            "the Intercom tag has no name",
            "",
            "",
        )?;
    }
    Ok(name)
}

/// Makes the tag `name` exist for `item` through `POST /v1/tags` (adopting one listed by that
/// name). Besides the outcome, the refusal when it says the route is absent on this org (the
/// caller remembers it, see [`super::tag_fallback`]).
pub(super) async fn create_tag(
    ctx: &Ctx,
    item: &WorkItem,
    name: &str,
) -> Result<(Outcome, Option<String>), LedgerError> {
    let absent = std::sync::Mutex::new(None::<String>);
    let kustomer = &ctx.kustomer;
    let create = || async {
        let created = kustomer.create_tag(name).await;
        if let Err(e) = &created
            && e.is_absent_route()
        {
            *absent.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
        created
    };
    let list = || kustomer.list_tags();
    let made = super::create_named(&ctx.ledger, item, name, create, list).await?;
    let refusal = absent.lock().unwrap_or_else(|p| p.into_inner()).take();
    Ok((made, refusal))
}

/// Makes every Intercom tag exist in Kustomer and records its id: a tag whose name Kustomer
/// already has is adopted (no request), the rest are created one by one (`POST /v1/tags`, the
/// named assumption; there is no bulk route). Idempotent: done tags are skipped.
///
/// The first create goes alone: refused as an absent route, the refusal is remembered (see
/// [`super::tag_fallback`]), that tag is put back to pending with the others, and they wait for
/// the fallback after the conversations. Once the route is known absent, nothing is done here
/// (tags that exist by name are resolved by the fallback too, so that a run it stopped part-way
/// still applies them to what carries them).
pub async fn ensure_tags(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    ledger
        .ensure_pending_from_sources(Kind::Tags.as_str(), Kind::Tags.as_str())
        .await?;
    ledger.flush().await?;
    if super::tag_fallback::route_absent(ledger)? {
        return Ok(());
    }
    let todo: Vec<WorkItem> = super::open_items(ledger, Kind::Tags.as_str())?;
    if todo.is_empty() {
        return Ok(());
    }
    ctx.set_activity(format!("tags: {} to make exist", todo.len()));
    let existing = ctx.kustomer.tag_ids_by_name().await?;
    let mut creates = Vec::new();
    for item in todo {
        let Some(name) = named_tag(ledger, &item)? else {
            continue;
        };
        match existing.get(&name) {
            Some(id) => ledger.mark_found(&item, id)?,
            None => creates.push((item, name)),
        }
    }
    // The first alone: an org without the route refuses it, and the rest are not sent.
    let mut creates = creates.into_iter();
    if let Some((item, name)) = creates.next() {
        let _guard = ctx.in_flight(PhaseId::Customers, 1);
        if let (_, Some(refusal)) = create_tag(ctx, &item, &name).await? {
            ledger.reset_to_pending(vec![(Kind::Tags.as_str().to_string(), item.source_id)])?;
            ledger.flush().await?;
            super::tag_fallback::remember_absent(ctx, &refusal).await?;
            return Ok(());
        }
    }
    // One request each, no bulk route: several in flight, so the companies and customers that
    // wait for the tags wait for the budget, not for round trips one after another.
    let mut sent = futures_util::stream::iter(creates.map(|(item, name)| async move {
        ctx.control.checkpoint().await?;
        let _guard = ctx.in_flight(PhaseId::Customers, 1);
        let kustomer = &ctx.kustomer;
        let create = || kustomer.create_tag(&name);
        let list = || kustomer.list_tags();
        super::create_named(ledger, &item, &name, create, list).await?;
        anyhow::Ok(())
    }))
    .buffer_unordered(TAGS_IN_FLIGHT);
    while let Some(done) = sent.next().await {
        done?;
    }
    Ok(())
}

// ---- the shared bulk loop ---------------------------------------------------------------------

/// Where one kind's pending records go in bulk: the kind, the phase whose progress it feeds,
/// where each record is sent (the kind catalog's route, or one the phase chose, such as
/// [`crate::engine::kinds::EVENTS_AS_KOBJECTS`]), and whether a record Intercom could not return
/// whole waits (left pending) for a later extraction.
#[derive(Clone, Copy)]
pub(super) struct BulkLoad {
    pub phase: PhaseId,
    pub kind: Kind,
    pub to: BulkTo,
    pub complete_only: bool,
    /// Warn of times in the record Kustomer cannot read (the mapping leaves them out of the
    /// body; the warning keeps the original value for the report).
    pub warn_times: bool,
}

impl BulkLoad {
    /// `kind`'s records where the kind catalog sends them, incomplete ones included.
    pub fn of(phase: PhaseId, kind: Kind) -> anyhow::Result<Self> {
        let Some((to, false)) = kinds::bulk_of(kind) else {
            anyhow::bail!("the kind catalog writes {kind} otherwise than by bulk create");
        };
        Ok(BulkLoad {
            phase,
            kind,
            to,
            complete_only: false,
            warn_times: false,
        })
    }
}

/// Loads every pending record of `load.kind` through its bulk route: settles what a previous run
/// left `sent`, then pages through pending records, maps each (`map(item, raw)`; an error marks
/// the record failed with its class and reason, notes become warnings on the record), and sends
/// bulk requests of 100 per resource (a ticket's klass, say), several in flight. Items whose
/// answer was lost are looked up after the bulk patience and sent again only when absent. While
/// this run's extraction is still staging records of the kind, what is staged is loaded as it
/// comes, a full bulk request at a time.
pub(super) async fn load_bulk(
    ctx: &Arc<Ctx>,
    load: BulkLoad,
    map: impl MapRecord,
) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let (catalogued, to) = (load.kind, load.to);
    let find = |id: String| found::sent_to(ctx, catalogued, to, id);
    let kind = catalogued.as_str();
    while !ctx.is_extracted(kind) {
        ctx.control.checkpoint().await?;
        // Making staged records pending walks the kind's sources: only when more were staged.
        let counters = ledger.counters();
        if counters.source(kind) > counters.target(kind).total() {
            ledger.ensure_pending_from_sources(kind, kind).await?;
        }
        if ledger.counters().target(kind).pending >= MAX_BULK_ITEMS as u64 {
            ledger.flush().await?;
            bulk_pass(ctx, load, find, &map, true).await?;
        } else {
            let staged = [kind];
            tokio::select! {
                _ = ctx.wait_extracted(&staged) => {}
                _ = tokio::time::sleep(STAGING_POLL) => {}
            }
        }
    }
    ledger.ensure_pending_from_sources(kind, kind).await?;
    for pass in 0..MAX_PASSES {
        // Reads see committed writes only: a `done` still queued would look pending and be sent twice.
        ledger.flush().await?;
        let recovered = write::recover_sent(ctx, catalogued, find).await?;
        if recovered > 0 {
            ctx.log(
                LogLevel::Info,
                format!("{kind}: settled {recovered} records left sent by an earlier attempt"),
            );
        }
        ledger.flush().await?;
        let (sent, unsettled) = bulk_pass(ctx, load, find, &map, false).await?;
        if unsettled > 0 {
            ctx.log(
                LogLevel::Warn,
                format!("{kind}: {unsettled} records' bulk answers were lost; looking them up"),
            );
        }
        if sent == 0 && unsettled == 0 && pass > 0 {
            break;
        }
        if unsettled == 0 {
            // Nothing left sent by this pass; one more pass only if recovery re-queued records.
            ledger.flush().await?;
            let counts = ledger.counters().target(kind);
            if counts.pending == 0 && counts.sent == 0 {
                break;
            }
        }
    }
    Ok(())
}

/// How often a load that follows the extraction looks for newly staged records.
const STAGING_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// One pass over the pending records of `load.kind`: maps and sends them in bulk, grouped by
/// the resource each goes to (with `whole`, only whole bulk requests of a page: the rest stays
/// pending for a later pass, so that following the extraction costs no more requests than
/// loading after it). Pages are read while earlier pages' requests wait for their jobs, up to
/// [`super::BULK_CONCURRENCY`] requests in flight, so the pass waits for the budget, not for
/// one page's slowest job before the next page goes. Returns how many were sent and how many of
/// those answers were lost (left `sent`).
async fn bulk_pass<L>(
    ctx: &Arc<Ctx>,
    load: BulkLoad,
    find: L,
    map: &impl MapRecord,
    whole: bool,
) -> anyhow::Result<(usize, usize)>
where
    L: write::Lookup + Copy,
{
    let ledger = &ctx.ledger;
    let kind = load.kind.as_str();
    let mut pages = ledger.pages(kind, &[RecordState::Pending], PAGE);
    let (mut sent, mut unsettled) = (0usize, 0usize);
    let mut in_flight = FuturesUnordered::new();
    let mut more = true;
    loop {
        while more && in_flight.len() + PAGE_REQUESTS <= super::BULK_CONCURRENCY {
            ctx.control.checkpoint().await?;
            let Some(page) = pages.next_page().await? else {
                more = false;
                break;
            };
            let take = if whole {
                page.len() / MAX_BULK_ITEMS * MAX_BULK_ITEMS
            } else {
                page.len()
            };
            for (resource, bodies) in map_page(ledger, load, map, &page[..take])? {
                sent += bodies.len();
                ctx.set_activity(format!("{kind}: sending {} in bulk", bodies.len()));
                let max_bytes = ctx.config.options.bulk_max_bytes;
                for chunk in write::bulk_requests(ledger, kind, bodies, max_bytes)? {
                    let resource = resource.clone();
                    in_flight.push(async move {
                        let _guard = ctx.in_flight(load.phase, chunk.len() as u64);
                        let bulk = BulkWrite::new(ctx, kind, resource, false, find);
                        write::create_bulk(ledger, &bulk, chunk).await
                    });
                }
            }
        }
        match in_flight.next().await {
            Some(outcomes) => {
                unsettled += outcomes?
                    .values()
                    .filter(|o| **o == write::Outcome::Unsettled)
                    .count();
            }
            None if !more => break,
            None => {}
        }
    }
    Ok((sent, unsettled))
}

/// Maps a page's records to their bodies, grouped by the resource each goes to; a record that
/// cannot be read, placed or mapped is marked failed with the reason, notes become warnings.
fn map_page(
    ledger: &Ledger,
    load: BulkLoad,
    map: &impl MapRecord,
    page: &[WorkItem],
) -> Result<HashMap<BulkResource, Vec<(String, Value)>>, LedgerError> {
    let kind = load.kind.as_str();
    let mut by_resource: HashMap<BulkResource, Vec<(String, Value)>> = HashMap::new();
    for item in page
        .iter()
        .filter(|item| !(load.complete_only && item.incomplete))
    {
        let Some((raw, record)) = read_source(ledger, item)? else {
            continue;
        };
        let Some(resource) = load.to.resource(Some(raw)) else {
            ledger.mark_failed(
                kind,
                &item.source_id,
                ErrorClass::Source,
                "the record does not say where it belongs in Kustomer (its klass)",
                "",
                "",
            )?;
            continue;
        };
        match map(item, raw) {
            Ok(mapped) => {
                let times = match load.warn_times {
                    true => crate::mapping::clean::out_of_range_times(&record, &[]),
                    false => Vec::new(),
                };
                for note in mapped.notes.iter().chain(&times) {
                    ledger.add_warning(kind, Some(&item.source_id), note)?;
                }
                by_resource
                    .entry(resource)
                    .or_default()
                    .push((item.source_id.clone(), mapped.body));
            }
            Err((class, reason)) => {
                ledger.mark_failed(kind, &item.source_id, class, &reason, "", "")?
            }
        }
    }
    Ok(by_resource)
}
