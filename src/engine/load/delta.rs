//! Updates in place of loaded customers, companies and tickets (kobjects) whose Intercom record
//! changed since (see
//! [`crate::engine::delta`] for the rule): the phase's own mapping applied to the record i2k
//! wrote and to the record now, Kustomer's current values read by externalId (never search),
//! then one `PUT` of the fields to write. Several records at once, within the gate.

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::Value;

use super::MapRecord;
use crate::engine::context::Ctx;
use crate::engine::delta::{changes_of, owned_changed, plan_update};
use crate::engine::model::LogLevel;
use crate::kustomer::models::Resource;
use crate::ledger::{Listed, WorkItem};
use crate::vocab::Kind;

/// Records read from the ledger per page, and updated at once.
const PAGE: usize = 500;
const AT_ONCE: usize = 8;

/// What an update pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Updated {
    pub updated: u64,
    pub conflicts: u64,
    pub unchanged: u64,
    pub failed: u64,
}

/// Brings every loaded record of `kind` (contacts or companies) whose source changed up to
/// date, through `map` (the phase's mapping).
pub(super) async fn update_changed(
    ctx: &Ctx,
    kind: Kind,
    map: &impl MapRecord,
) -> anyhow::Result<Updated> {
    let mut totals = Updated::default();
    let mut pages = ctx
        .ledger
        .listed_pages(Listed::ChangedSinceDone, kind.as_str(), PAGE);
    while let Some(page) = pages.next_page().await? {
        ctx.control.checkpoint().await?;
        if totals.updated + totals.unchanged == 0 {
            ctx.set_activity(format!("{}: updating changed records", kind.as_str()));
        }
        let mut outcomes = Vec::with_capacity(page.len());
        for chunk in page.chunks(AT_ONCE) {
            let mut running = FuturesUnordered::new();
            for item in chunk {
                running.push(update_one(ctx, kind, item, map));
            }
            while let Some(outcome) = running.next().await {
                outcomes.push(outcome);
            }
        }
        for outcome in outcomes {
            match outcome? {
                Outcome::Unchanged => totals.unchanged += 1,
                Outcome::Updated { conflicts } => {
                    totals.updated += 1;
                    totals.conflicts += conflicts;
                }
                Outcome::Failed => totals.failed += 1,
            }
        }
    }
    if totals.updated + totals.failed > 0 {
        ctx.log(
            LogLevel::Info,
            format!(
                "{}: {} changed record(s) brought up to date in Kustomer ({} conflict(s) kept the agent's value), {} failed",
                kind.as_str(),
                totals.updated,
                totals.conflicts,
                totals.failed
            ),
        );
    }
    Ok(totals)
}

enum Outcome {
    Unchanged,
    Updated { conflicts: u64 },
    Failed,
}

async fn update_one(
    ctx: &Ctx,
    kind: Kind,
    item: &WorkItem,
    map: &impl MapRecord,
) -> anyhow::Result<Outcome> {
    let ledger = &ctx.ledger;
    let id = item.source_id.as_str();
    let (Some(raw), Some(target)) = (item.raw.as_deref(), item.target_id.as_deref()) else {
        return Ok(Outcome::Unchanged);
    };
    let warn = |message: String| ledger.add_warning(kind.as_str(), Some(id), &message);
    let desired = match map(item, raw) {
        Ok(mapped) => mapped.body,
        Err((_, reason)) => {
            warn(format!(
                "not updated in Kustomer: its changed Intercom record cannot be mapped: {reason}"
            ))?;
            return Ok(Outcome::Failed);
        }
    };
    let wrote = ledger
        .read(|r| r.loaded_raw(kind.as_str(), id))?
        .and_then(|old| map(item, &old).ok())
        .map(|m| m.body);
    if wrote.as_ref().is_some_and(|w| !owned_changed(w, &desired)) {
        ledger.mark_updated(kind.as_str(), id).await?;
        return Ok(Outcome::Unchanged);
    }
    let current = match current(ctx, kind, id, raw).await {
        Ok(Some(resource)) => resource,
        Ok(None) => {
            warn(format!(
                "not updated: Kustomer no longer has it ({target}) by its externalId"
            ))?;
            return Ok(Outcome::Failed);
        }
        Err(e) => {
            warn(format!("not updated (the next run tries again): {e}"))?;
            return Ok(Outcome::Failed);
        }
    };
    let plan = plan_update(
        wrote.as_ref(),
        &desired,
        &current.attributes,
        ctx.config.options.overwrite_conflicts,
    );
    if plan.writes() {
        let body = Value::Object(plan.patch.clone());
        let sent = match (kind, klass_of(kind, raw)) {
            (Kind::Companies, _) => ctx.kustomer.update_company(target, body).await,
            (Kind::Tickets, Some(klass)) => ctx.kustomer.update_kobject(&klass, target, body).await,
            _ => ctx.kustomer.update_customer(target, body).await,
        };
        if let Err(e) = sent {
            warn(format!("not updated (the next run tries again): {e}"))?;
            return Ok(Outcome::Failed);
        }
    }
    let conflicts = plan.conflicts.len() as u64;
    ledger
        .record_changes(changes_of(kind, id, &plan, &[]))
        .await?;
    ledger.mark_updated(kind.as_str(), id).await?;
    if plan.changed.is_empty() {
        Ok(Outcome::Unchanged)
    } else {
        Ok(Outcome::Updated { conflicts })
    }
}

/// The record as Kustomer holds it now, by its externalId route.
async fn current(
    ctx: &Ctx,
    kind: Kind,
    id: &str,
    raw: &str,
) -> Result<Option<Resource>, crate::kustomer::KustomerError> {
    match (kind, klass_of(kind, raw)) {
        (Kind::Companies, _) => ctx.kustomer.company_by_external_id(id).await,
        (Kind::Tickets, Some(klass)) => ctx.kustomer.kobject_by_external_id(&klass, id).await,
        (Kind::Tickets, None) => Ok(None),
        _ => ctx.kustomer.customer_by_external_id(id).await,
    }
}

/// The klass a ticket's kobject is in (its ticket type's); `None` for other kinds.
fn klass_of(kind: Kind, raw: &str) -> Option<String> {
    if kind != Kind::Tickets {
        return None;
    }
    let (ticket_type, _) = crate::mapping::extras::ticket_links(raw).ok()?;
    Some(crate::mapping::people::ticket_klass_name(&ticket_type))
}
