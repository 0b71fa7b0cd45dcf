//! Phase 2, attribute metadata: Intercom's custom data attributes (contact, company,
//! conversation) declared as Kustomer custom attributes — `PUT /v1/metadata/{customer, company,
//! conversation}` with the decided suffixed names, display names and option enumerations.
//! Metadata PUTs are idempotent, so a repeated or resumed run simply sends them again. Built-in
//! attributes are carried by the record mappings and skipped here; archived ones and those the
//! operator sent to the archive are archived.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::engine::context::Ctx;
use crate::engine::decisions::{self, field_mappings};
use crate::engine::model::LogLevel;
use crate::mapping::attributes::{AttributeSpec, metadata_body, spec_for};
use crate::vocab::{ErrorClass, FieldDecision, FieldMapping, Kind};

/// Properties per PUT: keeps each request small enough to read in a failure report.
const PROPERTIES_PER_PUT: usize = 100;

const SOURCE_KINDS: [&str; 2] = [
    Kind::DataAttributes.as_str(),
    Kind::ConversationAttributes.as_str(),
];

/// A record whose attribute is declared in one PUT.
struct Declared {
    kind: String,
    source_id: String,
    spec: AttributeSpec,
}

/// Runs phase 2.
pub async fn run(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let mappings: HashMap<(String, String), FieldMapping> = field_mappings(ledger)
        .await?
        .into_iter()
        .map(|m| ((m.model.clone(), m.source_name.clone()), m))
        .collect();
    // Kustomer resource → the attributes to declare there.
    let mut by_resource: BTreeMap<&'static str, Vec<Declared>> = BTreeMap::new();
    for kind in SOURCE_KINDS {
        ledger.ensure_pending_from_sources(kind, kind).await?;
        for item in super::open_items(ledger, kind)? {
            let id = item.source_id.as_str();
            let parsed = item
                .raw
                .as_deref()
                .and_then(|raw| decisions::source_attribute(kind, raw));
            let Some((attr, carried)) = parsed else {
                ledger.mark_failed(
                    kind,
                    id,
                    ErrorClass::Source,
                    "the attribute record could not be read (no name or model)",
                    "",
                    "",
                )?;
                continue;
            };
            if !carried {
                if item.raw.as_deref().is_some_and(is_archived) {
                    ledger.archive(kind, id, "archived in Intercom")?;
                } else {
                    ledger.mark_skipped(
                        kind,
                        id,
                        "built-in Intercom attribute: carried by the record mappings as a standard Kustomer field",
                    )?;
                }
                continue;
            }
            let key = (attr.model.as_str().to_string(), attr.name.clone());
            match mappings.get(&key).map(|m| &m.decision) {
                Some(FieldDecision::Attribute { name }) => match spec_for(&attr, name) {
                    Ok(spec) => by_resource
                        .entry(attr.model.kustomer_resource())
                        .or_default()
                        .push(Declared {
                            kind: kind.to_string(),
                            source_id: id.to_string(),
                            spec,
                        }),
                    Err(e) => {
                        ledger.mark_failed(kind, id, ErrorClass::Mapping, &e.to_string(), "", "")?
                    }
                },
                Some(FieldDecision::Archive) => ledger.archive(
                    kind,
                    id,
                    &format!(
                        "{} attribute {:?} ({}) is kept in the archive only",
                        attr.model.as_str(),
                        attr.name,
                        attr.data_type
                    ),
                )?,
                Some(FieldDecision::Unresolved) | None => ledger.mark_failed(
                    kind,
                    id,
                    ErrorClass::Mapping,
                    &format!(
                        "{} attribute {:?} has no decision: rename, retype or archive it",
                        attr.model.as_str(),
                        attr.name
                    ),
                    "",
                    "",
                )?,
            }
        }
    }
    for (resource, declared) in by_resource {
        for chunk in declared.chunks(PROPERTIES_PER_PUT) {
            ctx.control.checkpoint().await?;
            ctx.set_activity(format!("declaring {resource} attributes"));
            let specs: Vec<AttributeSpec> = chunk.iter().map(|d| d.spec.clone()).collect();
            let _in_flight = ctx.in_flight(crate::engine::model::PhaseId::Metadata, 1);
            match ctx
                .kustomer
                .put_metadata(resource, metadata_body(&specs))
                .await
            {
                Ok(_) => {
                    for d in chunk {
                        ledger.mark_done(&d.kind, &d.source_id, &d.spec.name)?;
                    }
                    ctx.log(
                        LogLevel::Info,
                        format!("{} {resource} attributes declared", chunk.len()),
                    );
                }
                Err(e) => {
                    let (request, response) = e.exchange();
                    for d in chunk {
                        ledger.mark_failed(
                            &d.kind,
                            &d.source_id,
                            e.class(),
                            &format!("metadata for {resource} refused: {e}"),
                            &request,
                            &response,
                        )?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn is_archived(raw: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get("archived")?.as_bool())
        .unwrap_or(false)
}
