//! Verification: for every Intercom object type, the ledger's account of its records set against
//! what Kustomer holds, counted through list routes or per-record routes (never search, whose
//! index lags), plus a sample of records compared field by field.
//!
//! A type *agrees* when the Kustomer count equals source − archived − manual − skipped − not
//! retrievable, where `source` is what extraction staged plus what Intercom's API could not
//! return. Kustomer is counted only over records that belong to this migration (a real org
//! holds others too): records whose `externalId` is a source id of the type in this ledger, or,
//! for types Kustomer gives no externalId (users, teams, tags, brands, klasses…), records whose
//! id the ledger recorded for the type. Soft-deleted records (`deleted: true`) are not counted.
//! Each type's [`CountRoute`] says how, and [`Verification::counted_by`] reports it per type.
//!
//! Tracking events have no list route at all: that type is held to the ledger (every expected
//! record must be `done`) and labelled so. Duplicates make a count too high, failed, pending or
//! vanished records too low: either way the type disagrees.
//!
//! A stored source record that cannot be read (its raw JSON in the ledger is damaged) is never
//! loaded: the load marks it failed with its reason. Verify finds such records in the ledger
//! itself (`json_valid(raw) = 0`, [`LedgerReader::unreadable`](crate::ledger::LedgerReader::unreadable)),
//! counts them per type as `unreadable`, apart from the ordinary failures, and the type
//! disagrees; when they are its whole difference, the report says so. A sampled record is never
//! compared as an empty record either: an unreadable one is a mismatch with its reason.
//!
//! Only the types in the migration's [`Scope`] are judged: by default the `--only` list the last
//! run recorded (with what those types depend on, as the run expanded it). Types outside it are
//! listed as not in scope, neither counted in Kustomer nor held against the result.

use std::collections::{BTreeMap, HashSet};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::kinds::{self, phase_of};
use crate::engine::model::TypeVerification;
use crate::engine::phases::phases_for;
use crate::intercom::models::{Company, Contact, Conversation, ConversationPart};
use crate::kustomer::client::PAGE_SIZE;
use crate::kustomer::endpoints;
use crate::kustomer::models::Resource;
use crate::kustomer::{KustomerClient, KustomerError};
use crate::ledger::{Ledger, LedgerError, RecordState, WorkItem};
use crate::mapping::companies::company_name;
use crate::mapping::conversations::{PartRole, part_role};
use crate::mapping::people::{EVENT_KLASS, ticket_klass_name};
use crate::timefmt;
use crate::vocab::{Kind, PhaseId};

/// Records compared field by field per sampled type.
pub const SAMPLE_SIZE: usize = 5;
/// A guard against a list route whose pages never end.
const MAX_PAGES: u32 = 1_000_000;
/// Ledger records read per page while counting.
const LEDGER_PAGE: usize = 500;
/// The target id the Extras phase records for a data event sent as a tracking event.
const TRACKED: &str = "tracked";

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

// How each type is counted is a column of the kind catalog.
pub use crate::engine::kinds::CountRoute;

impl CountRoute {
    /// How the count was taken, for the report.
    pub fn describe(&self) -> String {
        match self {
            CountRoute::ListByExternalId(path) => format!("GET {path} by externalId"),
            CountRoute::KobjectsByExternalId(klass) => {
                format!("GET {} by externalId", endpoints::kobjects(klass))
            }
            CountRoute::ListByTargetId(path) => format!("GET {path} by recorded id"),
            CountRoute::MetadataProperties(resources) => {
                format!("GET /v1/metadata/{{{}}} properties", resources.join(","))
            }
            CountRoute::KbLanguageVersions => {
                "GET /v1/kb/articles langVersions by recorded id".to_string()
            }
            CountRoute::ChildrenOfListed { parent, path } => {
                format!("via their {parent} (GET {path} by externalId; revisions are not listed)")
            }
            CountRoute::ConversationTimelines => {
                "GET /v1/conversations/{id}/messages + /notes by externalId".to_string()
            }
            CountRoute::ConversationFiles => {
                "attachments of GET /v1/conversations/{id}/messages + /notes".to_string()
            }
            CountRoute::TicketKlasses => "GET /v1/klasses/{ticket klass} by externalId".to_string(),
            CountRoute::TrackingEvents => NOT_LISTABLE.to_string(),
            CountRoute::NothingInKustomer => NOTHING_IN_KUSTOMER.to_string(),
        }
    }
}

/// The label of a type Kustomer cannot count.
pub const NOT_LISTABLE: &str = "NOT LISTABLE in Kustomer (tracking events): ledger count";

/// The label of an archived type: nothing of it is written to Kustomer, which counts zero.
pub const NOTHING_IN_KUSTOMER: &str = "archived, never written to Kustomer: counts zero";

/// One type as verify counts it: the Intercom type, the ledger kind its records load as, and the
/// route (the catalog's columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountSpec {
    pub object: &'static str,
    pub kind: &'static str,
    pub route: CountRoute,
}

/// Every ground-truth type of the catalog and how it is counted in Kustomer.
pub fn count_routes() -> impl Iterator<Item = CountSpec> {
    kinds::objects().filter_map(|row| {
        Some(CountSpec {
            object: row.kind.as_str(),
            kind: row.target.as_str(),
            route: row.count?,
        })
    })
}

/// What `--only` names, as the run's own `--only` does: ground-truth types plus, through the phase
/// table, what they depend on. An empty list is the whole workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    only: Vec<String>,
    phases: Vec<PhaseId>,
}

impl Scope {
    /// Every type.
    pub fn whole() -> Scope {
        Scope {
            only: Vec::new(),
            phases: crate::engine::phases::PHASES.iter().map(|p| p.id).collect(),
        }
    }

    /// The scope of `--only TYPES`; the error names an unknown type and lists the known ones.
    pub fn only(types: &[String]) -> Result<Scope, String> {
        let phases = phases_for(types)?;
        Ok(Scope {
            only: types.iter().map(|t| t.trim().to_string()).collect(),
            phases,
        })
    }

    /// The scope the last run that reached loading recorded (a run stopped for decisions loaded
    /// nothing and does not count). A run that recorded no scope — one that crashed, or ran
    /// before runs recorded theirs — and a ledger with no run are the whole workspace, so
    /// nothing goes unverified by default.
    pub fn of_last_run(ledger: &Ledger) -> Result<Scope, LedgerError> {
        let runs = ledger.read(|r| r.runs())?;
        let Some(last) = runs
            .iter()
            .rev()
            .find(|r| r.command == "run" && r.outcome.as_deref() != Some("needs_decisions"))
        else {
            return Ok(Scope::whole());
        };
        let only: Vec<String> = last
            .figures
            .as_ref()
            .and_then(|f| f.get(crate::engine::runner::SCOPE_FIGURE))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        // A name this version no longer knows cannot narrow the scope: verify everything.
        Ok(Scope::only(&only).unwrap_or_else(|_| Scope::whole()))
    }

    /// The `--only` list (empty: every type).
    pub fn types(&self) -> &[String] {
        &self.only
    }

    pub fn is_whole(&self) -> bool {
        self.only.is_empty()
    }

    /// Whether the migration loads `object` (a ground-truth type name).
    pub fn contains(&self, object: &str) -> bool {
        phase_of(object).is_none_or(|p| self.phases.contains(&p))
    }
}

/// The label of a type outside the migration's scope.
pub const NOT_IN_SCOPE: &str = "not in scope";

/// A type the workspace holds but the migration's scope leaves out: not counted, not judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfScope {
    pub object: String,
    /// What extraction staged (plus what Intercom could not return).
    pub source: u64,
}

/// One record compared field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleCheck {
    pub object: String,
    pub source_id: String,
    pub target_id: Option<String>,
    /// One line per field that differs (empty: the record matches).
    pub mismatches: Vec<String>,
}

/// Everything `i2k verify` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// The types judged: those of the scope the workspace holds.
    pub types: Vec<TypeVerification>,
    /// Per type, how Kustomer's count was taken ([`NOT_LISTABLE`] when it was not,
    /// [`NOT_IN_SCOPE`] for a type outside the scope).
    pub counted_by: BTreeMap<String, String>,
    pub samples: Vec<SampleCheck>,
    /// The `--only` list judged (empty: the whole workspace).
    pub scope: Vec<String>,
    /// Types the workspace holds that the scope leaves out; they never make verify differ.
    pub not_in_scope: Vec<OutOfScope>,
}

impl Verification {
    /// Every type agrees and every sampled record matches.
    pub fn agrees(&self) -> bool {
        self.types.iter().all(|t| t.agrees) && self.samples.iter().all(|s| s.mismatches.is_empty())
    }

    pub fn type_row(&self, object: &str) -> Option<&TypeVerification> {
        self.types.iter().find(|t| t.object == object)
    }
}

/// Counts and samples every type in the scope of the last run ([`Scope::of_last_run`]).
pub async fn verify(
    ledger: &Ledger,
    kustomer: &KustomerClient,
) -> Result<Verification, VerifyError> {
    verify_scope(ledger, kustomer, &Scope::of_last_run(ledger)?).await
}

/// Counts and samples every type in `scope`; lists the others as not in scope.
pub async fn verify_scope(
    ledger: &Ledger,
    kustomer: &KustomerClient,
    scope: &Scope,
) -> Result<Verification, VerifyError> {
    let counts = verify_counts_described(ledger, kustomer, scope).await?;
    let mut samples = Vec::new();
    for t in &counts.types {
        samples.extend(sample_checks(ledger, kustomer, &t.object).await?);
    }
    let verification = Verification {
        types: counts.types,
        counted_by: counts.counted_by,
        samples,
        scope: scope.types().to_vec(),
        not_in_scope: counts.not_in_scope,
    };
    // Kept in the ledger, so the report and a reopened console show what was verified and when.
    let result = serde_json::to_value(&verification).map_err(LedgerError::from)?;
    ledger
        .record_verification(verification.agrees(), &result)
        .await?;
    Ok(verification)
}

/// A verification as the ledger kept it: when it was made, after which run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verified {
    pub at_ms: i64,
    pub run_id: Option<i64>,
    pub verification: Verification,
}

/// The newest verification the ledger keeps (None before the first, or when it was stored by a
/// build whose result this one cannot read).
pub fn last_verification(ledger: &Ledger) -> Result<Option<Verified>, LedgerError> {
    Ok(ledger.last_verification()?.and_then(|stored| {
        Some(Verified {
            at_ms: stored.at_ms,
            run_id: stored.run_id,
            verification: serde_json::from_value(stored.result).ok()?,
        })
    }))
}

/// The count comparison of every type in [`count_routes`] that has source records or Kustomer
/// records in the ledger (types absent from the workspace are left out).
pub async fn verify_counts(
    ledger: &Ledger,
    kustomer: &KustomerClient,
) -> Result<Vec<TypeVerification>, VerifyError> {
    Ok(verify_counts_described(ledger, kustomer, &Scope::whole())
        .await?
        .types)
}

struct Counts {
    types: Vec<TypeVerification>,
    counted_by: BTreeMap<String, String>,
    not_in_scope: Vec<OutOfScope>,
}

async fn verify_counts_described(
    ledger: &Ledger,
    kustomer: &KustomerClient,
    scope: &Scope,
) -> Result<Counts, VerifyError> {
    // Counts over whole tables: on the blocking pool, not an async worker.
    let in_scope = scope.clone();
    let (staged, targets, not_retrievable, incomplete, unreadable) = ledger
        .read_blocking(move |r| {
            let staged = r.source_counts()?;
            // The stored records that cannot be read, of each staged type in the scope.
            let mut unreadable = BTreeMap::new();
            for spec in count_routes() {
                if staged.get(spec.object).is_some_and(|n| *n > 0) && in_scope.contains(spec.object)
                {
                    unreadable.insert(spec.object, r.unreadable(spec.object, spec.kind)?);
                }
            }
            Ok((
                staged,
                r.counts_by_kind()?,
                r.not_retrievable()?,
                r.incomplete_counts()?,
                unreadable,
            ))
        })
        .await?;
    let mut out = Vec::new();
    let mut counted_by = BTreeMap::new();
    let mut not_in_scope = Vec::new();
    let mut timelines: Option<Timelines> = None;
    for spec in count_routes() {
        let not_retrievable = not_retrievable.get(spec.object).copied().unwrap_or(0);
        // What Intercom's API could not return was never staged, yet it is part of the source.
        let source = staged.get(spec.object).copied().unwrap_or(0) + not_retrievable;
        let states = targets.get(spec.kind).copied().unwrap_or_default();
        if source == 0 && states.total() == 0 {
            continue;
        }
        if !scope.contains(spec.object) {
            counted_by.insert(spec.object.to_string(), NOT_IN_SCOPE.to_string());
            not_in_scope.push(OutOfScope {
                object: spec.object.to_string(),
                source,
            });
            continue;
        }
        let expected = source
            .saturating_sub(states.archived + states.manual + states.skipped + not_retrievable);
        let counted = count_target(ledger, kustomer, &spec, &mut timelines)
            .await
            .map_err(|e| match e {
                CountError::Ledger(e) => VerifyError::Ledger(e),
                CountError::Kustomer(source) => VerifyError::Kustomer {
                    object: spec.object.to_string(),
                    source,
                },
            })?;
        let (target, how) = match counted {
            Counted::Listed(n, how) => (Some(n), how),
            Counted::NotListable => (None, NOT_LISTABLE.to_string()),
        };
        // A record Intercom could not return whole is a difference until a run reads it.
        let incomplete = incomplete.get(spec.object).copied().unwrap_or(0);
        // A record whose stored source cannot be read did not load (the load marks it failed
        // with its reason): a difference of its own, counted apart from ordinary failures.
        let unreadable = unreadable.get(spec.object).copied().unwrap_or_default();
        let agrees = target.unwrap_or(states.done) == expected
            && incomplete == 0
            && unreadable.unsettled() == 0;
        counted_by.insert(spec.object.to_string(), how);
        out.push(TypeVerification {
            object: spec.object.to_string(),
            source,
            migrated: states.done,
            archived: states.archived,
            manual: states.manual,
            skipped: states.skipped,
            failed: states.failed.saturating_sub(unreadable.failed),
            not_retrievable,
            target,
            agrees,
            incomplete,
            unreadable: unreadable.unsettled(),
            unknown: states.unknown,
        });
    }
    Ok(Counts {
        types: out,
        counted_by,
        not_in_scope,
    })
}

enum Counted {
    /// Counted in Kustomer, and how.
    Listed(u64, String),
    NotListable,
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

fn is_deleted(r: &Resource) -> bool {
    r.bool("deleted") == Some(true)
}

/// Walks a list route page by page, handing each page's live (not soft-deleted) records to
/// `visit`.
async fn walk<F>(kustomer: &KustomerClient, path: &str, mut visit: F) -> Result<(), CountError>
where
    F: FnMut(&[Resource]) -> Result<(), CountError>,
{
    let mut fetched = 0u64;
    for page_no in 1..=MAX_PAGES {
        let page = kustomer.page(path, &[], page_no, PAGE_SIZE).await?;
        fetched += page.items.len() as u64;
        let live: Vec<Resource> = page
            .items
            .iter()
            .filter(|r| !is_deleted(r))
            .cloned()
            .collect();
        visit(&live)?;
        if !page.more_after(fetched, PAGE_SIZE) {
            break;
        }
    }
    Ok(())
}

/// Walks `path` counting records whose externalId is a source id of `object`.
async fn count_by_external_id(
    ledger: &Ledger,
    kustomer: &KustomerClient,
    object: &str,
    path: &str,
) -> Result<u64, CountError> {
    let mut count = 0u64;
    let walked = walk(kustomer, path, |items| {
        count += ledger.read(|r| {
            let mut n = 0u64;
            for item in items {
                if let Some(ext) = item.external_id()
                    && r.source(object, ext)?.is_some()
                {
                    n += 1;
                }
            }
            Ok(n)
        })?;
        Ok(())
    })
    .await;
    match walked {
        // A klass the run never created (its phase did not run) holds no records.
        Err(CountError::Kustomer(KustomerError::Api(e)))
            if e.is_not_found() && path.starts_with(&format!("{}/", endpoints::KLASSES)) =>
        {
            Ok(0)
        }
        other => other.map(|()| count),
    }
}

/// Every done record of `kind`, a page at a time.
fn for_each_done(
    ledger: &Ledger,
    kind: &str,
    mut visit: impl FnMut(&WorkItem) -> Result<(), LedgerError>,
) -> Result<(), LedgerError> {
    for page in ledger.pages(kind, &[RecordState::Done], LEDGER_PAGE) {
        for item in &page? {
            visit(item)?;
        }
    }
    Ok(())
}

/// The done records of `kind` whose recorded Kustomer id is in `listed`.
fn count_done_listed(
    ledger: &Ledger,
    kind: &str,
    listed: &HashSet<String>,
) -> Result<u64, LedgerError> {
    let mut count = 0u64;
    for_each_done(ledger, kind, |item| {
        if item.target_id.as_ref().is_some_and(|t| listed.contains(t)) {
            count += 1;
        }
        Ok(())
    })?;
    Ok(count)
}

async fn count_target(
    ledger: &Ledger,
    kustomer: &KustomerClient,
    spec: &CountSpec,
    timelines: &mut Option<Timelines>,
) -> Result<Counted, CountError> {
    let how = spec.route.describe();
    let n = match spec.route {
        CountRoute::ListByExternalId(path) => {
            count_by_external_id(ledger, kustomer, spec.object, path).await?
        }
        CountRoute::KobjectsByExternalId(klass) => {
            let path = endpoints::kobjects(klass);
            count_by_external_id(ledger, kustomer, spec.object, &path).await?
        }
        CountRoute::NothingInKustomer => 0,
        CountRoute::ListByTargetId(path) => {
            // Only for small types (users, tags, klasses…): their Kustomer ids fit in memory.
            let mut listed: HashSet<String> = HashSet::new();
            walk(kustomer, path, |items| {
                listed.extend(items.iter().map(|r| r.id.clone()));
                Ok(())
            })
            .await?;
            count_done_listed(ledger, spec.kind, &listed)?
        }
        CountRoute::MetadataProperties(resources) => {
            let mut declared: HashSet<String> = HashSet::new();
            for resource in resources {
                let body = kustomer.get_metadata(resource).await?;
                if let Some(props) = body
                    .pointer("/data/attributes/properties")
                    .and_then(Value::as_object)
                {
                    declared.extend(props.keys().cloned());
                }
            }
            count_done_listed(ledger, spec.kind, &declared)?
        }
        CountRoute::KbLanguageVersions => {
            let mut versions: HashSet<String> = HashSet::new();
            walk(kustomer, endpoints::KB_ARTICLES, |items| {
                for item in items {
                    let ours = match item.external_id() {
                        Some(ext) => ledger
                            .read(|r| r.source(Kind::Articles.as_str(), ext))?
                            .is_some(),
                        None => false,
                    };
                    if ours {
                        versions.extend(language_version_ids(item));
                    }
                }
                Ok(())
            })
            .await?;
            count_done_listed(ledger, spec.kind, &versions)?
        }
        CountRoute::ChildrenOfListed { parent, path } => {
            let mut parents: HashSet<String> = HashSet::new();
            walk(kustomer, path, |items| {
                for item in items {
                    if let Some(ext) = item.external_id()
                        && ledger.read(|r| r.source(parent.as_str(), ext))?.is_some()
                    {
                        parents.insert(ext.to_string());
                    }
                }
                Ok(())
            })
            .await?;
            let mut count = 0u64;
            for_each_done(ledger, spec.kind, |item| {
                let parent_id = ledger
                    .read(|r| r.source(spec.kind, &item.source_id))?
                    .and_then(|s| s.parent_id);
                if parent_id.is_some_and(|p| parents.contains(&p)) {
                    count += 1;
                }
                Ok(())
            })?;
            count
        }
        CountRoute::ConversationTimelines | CountRoute::ConversationFiles => {
            if timelines.is_none() {
                *timelines = Some(tally_timelines(ledger, kustomer).await?);
            }
            let Some(t) = timelines.as_ref() else {
                return Ok(Counted::NotListable);
            };
            if spec.route == CountRoute::ConversationTimelines {
                t.parts
            } else {
                count_done_listed(ledger, spec.kind, &t.files)?
            }
        }
        CountRoute::TicketKlasses => {
            let mut count = 0u64;
            let types =
                ledger.read(|r| r.sources_page(Kind::TicketTypes.as_str(), None, usize::MAX))?;
            for ticket_type in types {
                let loaded = ledger
                    .read(|r| r.record(Kind::TicketTypes.as_str(), &ticket_type.source_id))?
                    .is_some_and(|w| w.state == RecordState::Done);
                if loaded {
                    let path = endpoints::kobjects(&ticket_klass_name(&ticket_type.source_id));
                    count += count_by_external_id(ledger, kustomer, spec.object, &path).await?;
                }
            }
            count
        }
        CountRoute::TrackingEvents => {
            // Events sent as tracking events record `tracked`; any other id is a kobject.
            let mut as_kobjects = false;
            for_each_done(ledger, spec.kind, |item| {
                as_kobjects |= item.target_id.as_deref().is_some_and(|t| t != TRACKED);
                Ok(())
            })?;
            if !as_kobjects {
                return Ok(Counted::NotListable);
            }
            let path = endpoints::kobjects(EVENT_KLASS);
            let n = count_by_external_id(ledger, kustomer, spec.object, &path).await?;
            return Ok(Counted::Listed(n, format!("GET {path} by externalId")));
        }
    };
    Ok(Counted::Listed(n, how))
}

/// The version ids an article lists per language (current, draft and published).
fn language_version_ids(article: &Resource) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(langs) = article
        .attributes
        .get("langVersions")
        .and_then(Value::as_object)
    {
        for entry in langs.values() {
            for key in ["currentVersion", "draftVersion", "publishedVersion"] {
                if let Some(id) = entry.get(key).and_then(version_id) {
                    out.push(id.to_string());
                }
            }
        }
    }
    out
}

/// A `langVersions` pointer's version id: the version object's `_id` (as the reference reads
/// it), or a bare id.
pub fn version_id(pointer: &Value) -> Option<&str> {
    pointer
        .as_str()
        .or_else(|| pointer.get("_id").and_then(Value::as_str))
        .or_else(|| pointer.get("id").and_then(Value::as_str))
}

/// What the messages and notes of the migrated conversations account for.
#[derive(Debug, Default)]
struct Timelines {
    /// Conversation parts found: messages and notes by externalId, event parts through the
    /// timeline note they were folded into.
    parts: u64,
    /// Attachment ids the listed messages and notes reference.
    files: HashSet<String>,
}

/// Conversations whose timelines verify reads at once (the rate gate keeps them in the budget).
/// More than the budget needs on a healthy network: a read that hangs holds its slot until its
/// timeout, and with eight slots 1 % of hung reads cost `small`'s verify a quarter of its time.
const TIMELINES_AT_ONCE: usize = 24;

/// The messages and notes of a conversation in Kustomer (soft-deleted ones left out).
async fn timeline_of(
    kustomer: &KustomerClient,
    conversation: &str,
) -> Result<(Vec<Resource>, Vec<Resource>), KustomerError> {
    let mut messages = kustomer.conversation_messages(conversation).await?;
    let mut notes = kustomer.conversation_notes(conversation).await?;
    messages.retain(|r| !is_deleted(r));
    notes.retain(|r| !is_deleted(r));
    Ok((messages, notes))
}

async fn tally_timelines(
    ledger: &Ledger,
    kustomer: &KustomerClient,
) -> Result<Timelines, CountError> {
    let mut out = Timelines::default();
    let mut pages = ledger.pages(
        Kind::Conversations.as_str(),
        &[RecordState::Done],
        LEDGER_PAGE,
    );
    loop {
        let Some(page) = pages.next_page().await? else {
            break;
        };
        // Several timelines read at once: each is two reads, and one that hangs under faults
        // holds only its own conversation.
        let mut reads = Vec::with_capacity(page.len());
        for conversation in page {
            let Some(target) = conversation.target_id else {
                continue;
            };
            let source_id = conversation.source_id;
            reads.push(async move {
                let (mut listed, notes) = timeline_of(kustomer, &target).await?;
                listed.extend(notes);
                let files: Vec<String> = listed.iter().flat_map(attachment_ids).collect();
                let parts = ledger
                    .read_blocking(move |r| parts_found(r, &source_id, &listed))
                    .await?;
                Ok::<_, CountError>((parts, files))
            });
        }
        let mut timelines = futures_util::stream::iter(reads).buffer_unordered(TIMELINES_AT_ONCE);
        while let Some(timeline) = timelines.next().await {
            let (parts, files) = timeline?;
            out.parts += parts;
            out.files.extend(files);
        }
    }
    Ok(out)
}

/// How many parts of `conversation` the listed messages and notes hold: each listed record
/// whose externalId is one of its parts, plus each done part whose recorded id is a listed note
/// (event parts share their conversation's timeline note).
fn parts_found(
    r: &crate::ledger::LedgerReader,
    conversation: &str,
    listed: &[Resource],
) -> Result<u64, LedgerError> {
    let parts: HashSet<String> = r
        .children(Kind::ConversationParts.as_str(), conversation)?
        .into_iter()
        .map(|s| s.source_id)
        .collect();
    let mut found = 0u64;
    let mut by_external_id: HashSet<&str> = HashSet::new();
    for item in listed {
        if let Some(ext) = item.external_id()
            && parts.contains(ext)
        {
            found += 1;
            by_external_id.insert(ext);
        }
    }
    let listed_ids: HashSet<&str> = listed.iter().map(|i| i.id.as_str()).collect();
    for part in &parts {
        if by_external_id.contains(part.as_str()) {
            continue;
        }
        if let Some(w) = r.record(Kind::ConversationParts.as_str(), part)?
            && w.state == RecordState::Done
            && w.target_id
                .as_deref()
                .is_some_and(|t| listed_ids.contains(t))
        {
            found += 1;
        }
    }
    Ok(found)
}

/// The attachment ids a message or note references (`attachments`: ids or `{_id, …}`).
fn attachment_ids(item: &Resource) -> Vec<String> {
    item.attributes
        .get("attachments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    a.as_str()
                        .or_else(|| a.get("_id").and_then(Value::as_str))
                        .or_else(|| a.get("id").and_then(Value::as_str))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---- samples --------------------------------------------------------------------------------

/// The sampled comparison for `object`, if it has one: the first [`SAMPLE_SIZE`] done records
/// (by Intercom id, so repeated runs compare the same records), each fetched through its
/// externalId route. Customers (emails, company, creation), companies (name, creation) and
/// conversations (message count, first and last message times) are sampled.
pub async fn sample_checks(
    ledger: &Ledger,
    kustomer: &KustomerClient,
    object: &str,
) -> Result<Vec<SampleCheck>, VerifyError> {
    let kind = match object.parse::<Kind>() {
        Ok(kind @ (Kind::Contacts | Kind::Companies | Kind::Conversations)) => kind,
        _ => return Ok(Vec::new()),
    };
    let items = ledger.read(|r| r.next_batch(object, &[RecordState::Done], None, SAMPLE_SIZE))?;
    let mut out = Vec::new();
    for item in items {
        let kustomer_err = |source| VerifyError::Kustomer {
            object: object.to_string(),
            source,
        };
        let found = match kind {
            Kind::Contacts => kustomer.customer_by_external_id(&item.source_id).await,
            Kind::Conversations => kustomer.conversation_by_external_id(&item.source_id).await,
            _ => kustomer.company_by_external_id(&item.source_id).await,
        }
        .map_err(kustomer_err)?;
        // The load's one policy: a stored record that cannot be read is a difference with its
        // reason, never compared as an empty record.
        let readable = crate::engine::load::decode_source(&item).map(|(raw, _)| raw);
        let mismatches = match (&found, readable) {
            (_, Err(reason)) => vec![reason],
            (None, _) => vec!["not found by its externalId".to_string()],
            (Some(r), _) if Some(&r.id) != item.target_id.as_ref() => vec![format!(
                "found as {} but the ledger recorded {}",
                r.id,
                item.target_id.as_deref().unwrap_or("nothing")
            )],
            (Some(r), Ok(raw)) if kind == Kind::Contacts => compare_customer(ledger, raw, r)?,
            (Some(r), Ok(raw)) if kind == Kind::Conversations => {
                let (messages, _) = timeline_of(kustomer, &r.id).await.map_err(kustomer_err)?;
                let parts = ledger
                    .read(|l| l.children(Kind::ConversationParts.as_str(), &item.source_id))?;
                compare_conversation(raw, &parts, &messages)
            }
            (Some(r), Ok(raw)) => compare_company(raw, r),
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

/// A conversation's messages in Kustomer against Intercom: as many as the source message plus
/// the comment parts Intercom returned, the first at the conversation's creation and the last at
/// its latest returned comment.
pub fn compare_conversation(
    raw: &str,
    parts: &[crate::ledger::SourceRecord],
    messages: &[Resource],
) -> Vec<String> {
    let conversation: Conversation = serde_json::from_str(raw).unwrap_or_default();
    let comments: Vec<ConversationPart> = parts
        .iter()
        .filter_map(|p| serde_json::from_str::<ConversationPart>(&p.raw).ok())
        .filter(|p| part_role(p.part_type.as_deref()) == PartRole::Message)
        .collect();
    let mut out = Vec::new();
    let want_count = comments.len() + 1;
    if messages.len() != want_count {
        out.push(format!(
            "message count: Intercom 1 source message + {} comment parts = {want_count}, Kustomer {}",
            comments.len(),
            messages.len()
        ));
    }
    let mut times: Vec<i64> = messages
        .iter()
        .filter_map(|m| m.str("createdAt").and_then(timefmt::iso_to_unix_ms))
        .collect();
    times.sort_unstable();
    let first = conversation.created_at.filter(|s| *s > 0);
    let last = comments
        .iter()
        .filter_map(|p| p.created_at)
        .chain(first)
        .max();
    for (field, want, got) in [
        ("first message", first, times.first()),
        ("last message", last, times.last()),
    ] {
        let want = want.map(|s| s * 1000);
        if want.is_some() && want != got.copied() {
            out.push(format!(
                "{field}: Intercom {} but Kustomer {}",
                want.map(timefmt::unix_ms_to_iso).unwrap_or_default(),
                got.map(|t| timefmt::unix_ms_to_iso(*t))
                    .unwrap_or_else(|| "nothing".into())
            ));
        }
    }
    out
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
        let want = ledger.target_id(Kind::Companies.as_str(), &company)?;
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
