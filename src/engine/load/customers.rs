//! Phase Customers: Intercom contacts (users and leads) → Kustomer customers through
//! `POST /v1/customers/bulk`, 100 per request. The ledger kind is `contacts` (1:1 with the
//! source), so `ledger.target_id("contacts", intercom_contact_id)` is the Kustomer customer id
//! later phases link to. Tags are made to exist first (a no-op when Companies did it); the
//! company link comes from the companies' id map. A create refused as a duplicate externalId is
//! resolved by `GET /v1/customers/externalId=…`, never counted as a failure.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::context::Ctx;
use crate::engine::load::companies::{BulkLoad, ensure_tags, field_mappings, load_bulk};
use crate::ledger::{Ledger, WorkItem};
use crate::mapping::customers::{Extras, customer_body};
use crate::timefmt;
use crate::vocab::{ErrorClass, Kind, PhaseId};

fn sub_list(ledger: &Ledger, kind: &str, contact_id: &str) -> Option<Vec<Value>> {
    let record = ledger.read(|r| r.source(kind, contact_id)).ok()??;
    match serde_json::from_str(&record.raw).ok()? {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

pub async fn run(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    ensure_tags(ctx).await?;
    let mappings = field_mappings(&ctx.ledger, "contact")?;
    let ledger = ctx.ledger.clone();
    let imported_at = timefmt::unix_ms_to_iso(timefmt::now_unix() * 1000);
    let map = move |item: &WorkItem, raw: &str| {
        let all_tags = sub_list(&ledger, Kind::ContactTags.as_str(), &item.source_id);
        let all_companies = sub_list(&ledger, Kind::ContactCompanies.as_str(), &item.source_id);
        let extras = Extras {
            all_tags: all_tags.as_deref(),
            all_companies: all_companies.as_deref(),
            imported_at: &imported_at,
        };
        let company_id = |id: &str| {
            ledger
                .target_id(Kind::Companies.as_str(), id)
                .ok()
                .flatten()
        };
        let tag_id = |id: &str| ledger.target_id(Kind::Tags.as_str(), id).ok().flatten();
        customer_body(raw, extras, &mappings, &company_id, &tag_id)
            .map_err(|e| (ErrorClass::Source, e.to_string()))
    };
    // Customers loaded earlier whose contact changed since: updated in place first.
    super::delta::update_changed(ctx, Kind::Contacts, &map).await?;
    load_bulk(ctx, BulkLoad::of(PhaseId::Customers, Kind::Contacts)?, map).await
}
