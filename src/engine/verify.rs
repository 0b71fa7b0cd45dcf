//! Verification: for every Intercom object type, the ledger's account of its records set against
//! what Kustomer holds, counted through list routes (never search, whose index lags), plus a
//! sample of records compared field by field.
//!
//! A type *agrees* when the Kustomer count equals source − archived − manual − skipped − not
//! retrievable. Kustomer is counted by walking a type's list route and keeping only records whose
//! `externalId` is a source id of that type in this ledger (a real org holds other records too),
//! or, for types without externalIds (tags), records whose id the ledger recorded. A type
//! Kustomer cannot count ([`CountRoute::NotCountable`]) is held to the ledger instead: every
//! expected record must be `done`. Duplicates make the count too high, failed or pending records
//! too low: either way the type disagrees.
//!
//! Other phases extend [`COUNT_ROUTES`] (type → ledger kind → route) and [`sample_checks`].

use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;

use crate::engine::model::TypeVerification;
use crate::intercom::models::{Company, Contact};
use crate::kustomer::client::PAGE_SIZE;
use crate::kustomer::models::Resource;
use crate::kustomer::{KustomerClient, KustomerError};
use crate::ledger::{Ledger, LedgerError, RecordState};
use crate::mapping::companies::company_name;
use crate::timefmt;

/// Records compared field by field per sampled type.
pub const SAMPLE_SIZE: usize = 5;
/// A guard against a list route whose pages never end.
const MAX_PAGES: u32 = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("counting {object} in Kustomer failed: {source}")]
    Kustomer {
        object: String,
        #[source]
        source: KustomerError,
    },
}

/// How Kustomer's side of a type is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountRoute {
    /// Walk this list route; count records whose `externalId` is a source id of the type.
    ListByExternalId(&'static str),
    /// Walk this list route; count the ledger's done records whose Kustomer id it lists.
    ListByTargetId(&'static str),
    /// No list or externalId route counts it; the ledger's done count stands in.
    NotCountable,
}

/// One row of the table: an Intercom type, the ledger kind its records load as, and the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountSpec {
    pub object: &'static str,
    pub kind: &'static str,
    pub route: CountRoute,
}

const fn spec(object: &'static str, kind: &'static str, route: CountRoute) -> CountSpec {
    CountSpec {
        object,
        kind,
        route,
    }
}

/// Every ground-truth type (`model::OBJECT_TYPES`) and how it is counted. Types loaded under
/// another kind, or countable through a route not listed yet, are changed here by their phase.
pub const COUNT_ROUTES: [CountSpec; 23] = [
    spec("admins", "admins", CountRoute::NotCountable),
    spec("teams", "teams", CountRoute::NotCountable),
    spec("tags", "tags", CountRoute::ListByTargetId("/v1/tags")),
    spec("segments", "segments", CountRoute::NotCountable),
    spec(
        "data_attributes",
        "data_attributes",
        CountRoute::NotCountable,
    ),
    spec(
        "conversation_attributes",
        "conversation_attributes",
        CountRoute::NotCountable,
    ),
    spec(
        "companies",
        "companies",
        CountRoute::ListByExternalId("/v1/companies"),
    ),
    spec(
        "contacts",
        "contacts",
        CountRoute::ListByExternalId("/v1/customers"),
    ),
    spec("contact_notes", "contact_notes", CountRoute::NotCountable),
    spec("company_notes", "company_notes", CountRoute::NotCountable),
    spec("collections", "collections", CountRoute::NotCountable),
    spec("articles", "articles", CountRoute::NotCountable),
    spec(
        "article_versions",
        "article_versions",
        CountRoute::NotCountable,
    ),
    spec(
        "article_translations",
        "article_translations",
        CountRoute::NotCountable,
    ),
    spec(
        "conversations",
        "conversations",
        CountRoute::ListByExternalId("/v1/conversations"),
    ),
    spec(
        "conversation_parts",
        "conversation_parts",
        CountRoute::NotCountable,
    ),
    spec(
        "attachments",
        "attachment_uploads",
        CountRoute::NotCountable,
    ),
    spec("data_events", "data_events", CountRoute::NotCountable),
    spec("tickets", "tickets", CountRoute::NotCountable),
    spec("ticket_types", "ticket_types", CountRoute::NotCountable),
    spec("brands", "brands", CountRoute::NotCountable),
    spec(
        "office_hours_schedules",
        "office_hours_schedules",
        CountRoute::NotCountable,
    ),
    spec("macros", "macros", CountRoute::NotCountable),
];

/// One record compared field by field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleCheck {
    pub object: String,
    pub source_id: String,
    pub target_id: Option<String>,
    /// One line per field that differs (empty: the record matches).
    pub mismatches: Vec<String>,
}

/// Everything `i2k verify` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub types: Vec<TypeVerification>,
    pub samples: Vec<SampleCheck>,
}

impl Verification {
    /// Every type agrees and every sampled record matches.
    pub fn agrees(&self) -> bool {
        self.types.iter().all(|t| t.agrees) && self.samples.iter().all(|s| s.mismatches.is_empty())
    }
}

/// Counts and samples every type.
pub async fn verify(
    ledger: &Ledger,
    kustomer: &KustomerClient,
) -> Result<Verification, VerifyError> {
    let types = verify_counts(ledger, kustomer).await?;
    let mut samples = Vec::new();
    for t in &types {
        samples.extend(sample_checks(ledger, kustomer, &t.object).await?);
    }
    Ok(Verification { types, samples })
}

/// The count comparison of every type in [`COUNT_ROUTES`] that has source records or Kustomer
/// records in the ledger (types absent from the workspace are left out).
pub async fn verify_counts(
    ledger: &Ledger,
    kustomer: &KustomerClient,
) -> Result<Vec<TypeVerification>, VerifyError> {
    let (sources, targets, not_retrievable) = ledger.read(|r| {
        Ok((
            r.source_counts()?,
            r.counts_by_kind()?,
            r.not_retrievable()?,
        ))
    })?;
    let mut out = Vec::new();
    for spec in COUNT_ROUTES {
        let not_retrievable = not_retrievable.get(spec.object).copied().unwrap_or(0);
        // What exists in Intercom: what was staged plus what its API cannot return, as in the
        // report and the plan — the not-retrievable part is then taken off the expected count.
        let source = sources.get(spec.object).copied().unwrap_or(0) + not_retrievable;
        let states = targets.get(spec.kind).copied().unwrap_or_default();
        if source == 0 && states.total() == 0 {
            continue;
        }
        let expected = source
            .saturating_sub(states.archived + states.manual + states.skipped + not_retrievable);
        let target = count_target(ledger, kustomer, &spec)
            .await
            .map_err(|e| match e {
                CountError::Ledger(e) => VerifyError::Ledger(e),
                CountError::Kustomer(source) => VerifyError::Kustomer {
                    object: spec.object.to_string(),
                    source,
                },
            })?;
        let agrees = target.unwrap_or(states.done) == expected;
        out.push(TypeVerification {
            object: spec.object.to_string(),
            source,
            migrated: states.done,
            archived: states.archived,
            manual: states.manual,
            skipped: states.skipped,
            failed: states.failed,
            not_retrievable,
            target,
            agrees,
        });
    }
    Ok(out)
}

enum CountError {
    Ledger(LedgerError),
    Kustomer(KustomerError),
}

impl From<LedgerError> for CountError {
    fn from(e: LedgerError) -> Self {
        CountError::Ledger(e)
    }
}

impl From<KustomerError> for CountError {
    fn from(e: KustomerError) -> Self {
        CountError::Kustomer(e)
    }
}

/// Walks a list route page by page, handing each page's records to `visit`.
async fn walk<F>(kustomer: &KustomerClient, path: &str, mut visit: F) -> Result<(), CountError>
where
    F: FnMut(&[Resource]) -> Result<(), CountError>,
{
    let mut fetched = 0u64;
    for page_no in 1..=MAX_PAGES {
        let page = kustomer.page(path, &[], page_no, PAGE_SIZE).await?;
        fetched += page.items.len() as u64;
        visit(&page.items)?;
        if !page.more_after(fetched, PAGE_SIZE) {
            break;
        }
    }
    Ok(())
}

async fn count_target(
    ledger: &Ledger,
    kustomer: &KustomerClient,
    spec: &CountSpec,
) -> Result<Option<u64>, CountError> {
    match spec.route {
        CountRoute::NotCountable => Ok(None),
        CountRoute::ListByExternalId(path) => {
            let mut count = 0u64;
            walk(kustomer, path, |items| {
                let ours = ledger.read(|r| {
                    let mut n = 0u64;
                    for item in items {
                        if let Some(ext) = item.external_id()
                            && r.source(spec.object, ext)?.is_some()
                        {
                            n += 1;
                        }
                    }
                    Ok(n)
                })?;
                count += ours;
                Ok(())
            })
            .await?;
            Ok(Some(count))
        }
        CountRoute::ListByTargetId(path) => {
            // Only for small types (tags): their Kustomer ids fit in memory.
            let mut listed: HashSet<String> = HashSet::new();
            walk(kustomer, path, |items| {
                listed.extend(items.iter().map(|r| r.id.clone()));
                Ok(())
            })
            .await?;
            let mut count = 0u64;
            let mut after: Option<String> = None;
            loop {
                let page =
                    ledger.next_batch(spec.kind, &[RecordState::Done], after.as_deref(), 500)?;
                let Some(last) = page.last() else { break };
                after = Some(last.source_id.clone());
                count += page
                    .iter()
                    .filter(|i| i.target_id.as_ref().is_some_and(|t| listed.contains(t)))
                    .count() as u64;
            }
            Ok(Some(count))
        }
    }
}

// ---- samples --------------------------------------------------------------------------------

/// The sampled comparison for `object`, if it has one: the first [`SAMPLE_SIZE`] done records
/// (by Intercom id, so repeated runs compare the same records), each fetched through its
/// externalId route.
pub async fn sample_checks(
    ledger: &Ledger,
    kustomer: &KustomerClient,
    object: &str,
) -> Result<Vec<SampleCheck>, VerifyError> {
    if !matches!(object, "contacts" | "companies") {
        return Ok(Vec::new());
    }
    let items = ledger.next_batch(object, &[RecordState::Done], None, SAMPLE_SIZE)?;
    let mut out = Vec::new();
    for item in items {
        let kustomer_err = |source| VerifyError::Kustomer {
            object: object.to_string(),
            source,
        };
        let found = match object {
            "contacts" => kustomer.customer_by_external_id(&item.source_id).await,
            _ => kustomer.company_by_external_id(&item.source_id).await,
        }
        .map_err(kustomer_err)?;
        let raw = item.raw.as_deref().unwrap_or("{}");
        let mismatches = match &found {
            None => vec!["not found by its externalId".to_string()],
            Some(r) if Some(&r.id) != item.target_id.as_ref() => vec![format!(
                "found as {} but the ledger recorded {}",
                r.id,
                item.target_id.as_deref().unwrap_or("nothing")
            )],
            Some(r) if object == "contacts" => compare_customer(ledger, raw, r)?,
            Some(r) => compare_company(raw, r),
        };
        out.push(SampleCheck {
            object: object.to_string(),
            source_id: item.source_id.clone(),
            target_id: item.target_id.clone(),
            mismatches,
        });
    }
    Ok(out)
}

fn same_time(field: &str, intercom: Option<i64>, kustomer: Option<&str>, out: &mut Vec<String>) {
    let want = intercom.filter(|s| *s > 0).map(|s| s * 1000);
    let got = kustomer.and_then(timefmt::iso_to_unix_ms);
    if want.is_some() && want != got {
        out.push(format!(
            "{field}: Intercom {} but Kustomer {}",
            want.map(timefmt::unix_ms_to_iso).unwrap_or_default(),
            kustomer.unwrap_or("nothing")
        ));
    }
}

/// A customer's emails, company link and creation time against its contact.
pub fn compare_customer(
    ledger: &Ledger,
    raw: &str,
    customer: &Resource,
) -> Result<Vec<String>, LedgerError> {
    let contact: Contact = serde_json::from_str(raw).unwrap_or_default();
    let mut out = Vec::new();
    let emails: Vec<String> = customer
        .attributes
        .get("emails")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|e| e.get("email").and_then(Value::as_str))
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default();
    if let Some(email) = contact
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        && !emails.contains(&email.to_ascii_lowercase())
    {
        out.push(format!(
            "emails: Intercom {email} not among Kustomer {emails:?}"
        ));
    }
    let first_company = contact
        .companies
        .as_ref()
        .and_then(|l| l.data.first())
        .and_then(|c| c.id.as_ref())
        .map(|i| i.0.clone());
    if let Some(company) = first_company {
        let want = ledger.target_id("companies", &company)?;
        let got = customer
            .related_id("company")
            .or_else(|| customer.str("company").map(str::to_string));
        if want.is_some() && want != got {
            out.push(format!(
                "company: Intercom {company} is Kustomer {} but the customer links {}",
                want.unwrap_or_default(),
                got.unwrap_or_else(|| "none".into())
            ));
        }
    }
    same_time(
        "createdAt",
        contact.created_at,
        customer.str("createdAt"),
        &mut out,
    );
    Ok(out)
}

/// A company's name and creation time against its Intercom record.
pub fn compare_company(raw: &str, company: &Resource) -> Vec<String> {
    let source: Company = serde_json::from_str(raw).unwrap_or_default();
    let mut out = Vec::new();
    let id = source.id.as_ref().map(|i| i.0.clone()).unwrap_or_default();
    let (name, _) = company_name(
        source.name.as_deref(),
        source.company_id.as_ref().map(|c| c.as_str()),
        &id,
    );
    if company.str("name") != Some(name.as_str()) {
        out.push(format!(
            "name: expected {name:?}, Kustomer has {:?}",
            company.str("name")
        ));
    }
    same_time(
        "createdAt",
        source.created_at.or(source.remote_created_at),
        company.str("createdAt"),
        &mut out,
    );
    out
}
