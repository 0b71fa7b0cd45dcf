//! Extraction: stages the whole Intercom workspace in the ledger as raw JSON, listing by listing,
//! saving each listing's position after every page so an interrupted run resumes where it
//! stopped, and on a later run fetching only what changed (search listings re-queried from the
//! day before the last `updated_at` seen; sub-lists fetched only for records whose `updated_at`
//! moved). One unreadable record never stops a run: its problem is recorded against it.
//!
//! Source kinds staged: the ground-truth types of `model::OBJECT_TYPES`, plus helpers the load
//! reads: `data_attributes_standard` (built-in attributes), `office_hours_exceptions`,
//! `event_summaries`, `contact_segments`, `contact_tags`, `contact_companies`, and
//! `inline_images` (images inside HTML bodies, downloaded like attachments because their URLs
//! expire too).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::engine::control::{Cancelled, Control};
use crate::engine::model::ExtractProgress;
use crate::http::ApiError;
use crate::intercom::lenient::{id_from_value, time_from_value};
use crate::intercom::models::{Article, Contact, Conversation, EventSummary};
use crate::intercom::{IntercomClient, IntercomError, Listing, Position, Searchable, WholeList};
use crate::ledger::{ExtractCursor, INCOMPLETE, Ledger, LedgerError, SourceRecord};
use crate::mapping::raw::first_text;
use crate::vocab::Kind;

/// Per-record requests in flight (conversations, contacts' sub-lists). The rate gate keeps them
/// inside the budget; this only needs to be enough to hide each request's latency.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// Listing only returns events of the last 90 days; a little margin for clocks and day edges.
const EVENT_LISTING_WINDOW_SECS: i64 = 91 * 86_400;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Intercom refused the token or the workspace: nothing can be read.
    #[error("Intercom refused access: {0}")]
    Refused(ApiError),
    #[error("extraction was interrupted; run it again to resume where it stopped")]
    Cancelled,
    #[error("cannot write attachments under {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<Cancelled> for ExtractError {
    fn from(_: Cancelled) -> Self {
        ExtractError::Cancelled
    }
}

#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Where attachment files go, named by their SHA-256 (`<state>/attachments`).
    pub attachments_dir: PathBuf,
    pub concurrency: usize,
    /// Told of every conversation as it is staged, with its parts and files, so the load can
    /// start on it before the whole workspace is read. A full feed drops the news (the load
    /// finds those conversations in the ledger once extraction is over); it never holds
    /// extraction back.
    pub conversations_staged: Option<tokio::sync::mpsc::Sender<StagedConversations>>,
}

/// Conversations just staged, with their parts, attachments and inline images: `(kind, id)`.
pub type StagedConversations = Vec<(&'static str, String)>;

/// The kinds staged together with their conversation, in one commit.
pub const STAGED_WITH_CONVERSATIONS: [Kind; 4] = [
    Kind::Conversations,
    Kind::ConversationParts,
    Kind::Attachments,
    Kind::InlineImages,
];

impl ExtractOptions {
    pub fn for_state_dir(state: &Path) -> ExtractOptions {
        ExtractOptions {
            attachments_dir: state.join("attachments"),
            concurrency: DEFAULT_CONCURRENCY,
            conversations_staged: None,
        }
    }
}

/// A record that could not be read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProblem {
    pub kind: String,
    pub source_id: String,
    pub problem: String,
}

/// What one extraction run did.
#[derive(Debug, Clone, Default)]
pub struct ExtractSummary {
    /// Records staged (new or changed) in this run, per kind.
    pub staged: BTreeMap<String, u64>,
    pub problems: Vec<RecordProblem>,
    pub warnings: Vec<String>,
    /// Listings that could not be completed (their error); a later run resumes them.
    pub incomplete: Vec<String>,
    /// Intercom API requests sent (attachment downloads not counted).
    pub requests: u64,
    pub elapsed: Duration,
    /// Requests and time of the per-conversation retrieval stage, for the budget benchmark.
    pub conversation_requests: u64,
    pub conversation_elapsed: Duration,
}

impl ExtractSummary {
    /// Whether every listing completed (records with problems do not count against it).
    pub fn complete(&self) -> bool {
        self.incomplete.is_empty()
    }
}

/// Records and figures produced for one record and its sub-lists.
#[derive(Default)]
struct Batch {
    records: Vec<SourceRecord>,
    not_retrievable: Vec<(String, String, u64, String)>,
    warnings: Vec<String>,
}

impl Batch {
    fn push(&mut self, record: SourceRecord) {
        self.records.push(record);
    }

    fn absorb(&mut self, other: Batch) {
        self.records.extend(other.records);
        self.not_retrievable.extend(other.not_retrievable);
        self.warnings.extend(other.warnings);
    }
}

/// What a contact's sub-reads gathered: the records they staged, and what could not be read
/// (the contact is then staged incomplete, with these reasons).
#[derive(Default)]
struct Gathered {
    batch: Batch,
    problems: Vec<String>,
}

impl Gathered {
    /// Keeps what a read staged, or says that `what` could not be read.
    fn absorb(&mut self, what: &str, read: Result<Batch, impl std::fmt::Display>) {
        match read {
            Ok(batch) => self.batch.absorb(batch),
            Err(e) => self.problems.push(format!("{what} could not be read: {e}")),
        }
    }

    /// Keeps a contact's sub-list whole, as one record of `kind` under the contact (see
    /// [`whole_list`]), or says that `what` could not be read.
    fn whole_list(
        &mut self,
        what: &str,
        kind: &str,
        contact: &SourceRecord,
        read: Result<Vec<Value>, impl std::fmt::Display>,
    ) {
        match read {
            Ok(items) => self.batch.push(whole_list(
                kind,
                &contact.source_id,
                contact.updated_at,
                items,
            )),
            Err(e) => self.problems.push(format!("{what} could not be read: {e}")),
        }
    }

    fn add(&mut self, other: Gathered) {
        self.batch.absorb(other.batch);
        self.problems.extend(other.problems);
    }

    /// What could not be read, in one line; None when everything was.
    fn problem(&self) -> Option<String> {
        (!self.problems.is_empty()).then(|| self.problems.join("; "))
    }

    /// The records gathered, and the contact itself, flagged incomplete with what could not be
    /// read.
    fn with_contact(mut self, contact: SourceRecord) -> Batch {
        let problem = self.problem();
        self.batch.push(with_incomplete(contact, problem));
        self.batch
    }
}

/// Runs one extraction over the whole workspace.
pub async fn extract(
    client: &IntercomClient,
    ledger: &Ledger,
    options: &ExtractOptions,
    control: &Control,
    progress: Option<watch::Sender<Vec<ExtractProgress>>>,
) -> Result<ExtractSummary, ExtractError> {
    {
        use std::os::unix::fs::DirBuilderExt;
        // Customer files: readable by the operator only, like the rest of the state.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&options.attachments_dir)
            .map_err(|source| ExtractError::Io {
                path: options.attachments_dir.clone(),
                source,
            })?;
    }
    let extractor = Extractor {
        client,
        ledger,
        options,
        control,
        progress,
        summary: Mutex::new(ExtractSummary::default()),
        totals: Mutex::new(BTreeMap::new()),
        done: Mutex::new(Vec::new()),
    };
    let start = Instant::now();
    let requests_before = client.gate().budget().requests;
    extractor.run().await?;
    ledger.flush().await?;
    let mut summary = extractor.take_summary();
    summary.requests = client.gate().budget().requests - requests_before;
    summary.elapsed = start.elapsed();
    Ok(summary)
}

struct Extractor<'a> {
    client: &'a IntercomClient,
    ledger: &'a Ledger,
    options: &'a ExtractOptions,
    control: &'a Control,
    progress: Option<watch::Sender<Vec<ExtractProgress>>>,
    summary: Mutex<ExtractSummary>,
    totals: Mutex<BTreeMap<String, u64>>,
    done: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The record's id as text, from a number or a string.
fn id_of(v: &Value) -> Option<String> {
    v.get("id").and_then(id_from_value).map(|i| i.0)
}

fn updated_of(v: &Value) -> Option<i64> {
    v.get("updated_at").and_then(time_from_value)
}

fn sha_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A source record for `raw`; a record without an id gets one from its content, with a problem.
fn source(kind: &str, raw: &Value, parent: Option<&str>) -> SourceRecord {
    let text = raw.to_string();
    let (source_id, problem) = match id_of(raw) {
        Some(id) => (id, None),
        None => (
            format!("noid-{}", &sha_hex(text.as_bytes())[..16]),
            Some("the record has no id".to_string()),
        ),
    };
    SourceRecord {
        kind: kind.to_string(),
        source_id,
        parent_id: parent.map(str::to_string),
        updated_at: updated_of(raw),
        raw: text,
        problem,
    }
}

/// Flags `record` as not read whole (its retrieval or a sub-list failed after the retries): the
/// load holds back what depends on it, and the next extraction reads it again before anything
/// else of its listing.
fn with_incomplete(mut record: SourceRecord, problem: Option<String>) -> SourceRecord {
    if let Some(p) = problem {
        record.problem = Some(match record.problem.take() {
            Some(existing) => format!("{INCOMPLETE}{p}; {existing}"),
            None => format!("{INCOMPLETE}{p}; the next run reads it again"),
        });
    }
    record
}

/// A contact's sub-list kept whole as one record of `kind` under the contact's id.
fn whole_list(kind: &str, id: &str, updated_at: Option<i64>, items: Vec<Value>) -> SourceRecord {
    SourceRecord {
        kind: kind.into(),
        source_id: id.to_string(),
        parent_id: Some(id.to_string()),
        updated_at,
        raw: Value::Array(items).to_string(),
        problem: None,
    }
}

fn with_problem(mut record: SourceRecord, problem: Option<String>) -> SourceRecord {
    if let Some(p) = problem {
        record.problem = Some(match record.problem.take() {
            Some(existing) => format!("{existing}; {p}"),
            None => p,
        });
    }
    record
}

/// Listing names, the keys of the ledger's cursors.
pub(crate) mod listing_key {
    /// The listings an extraction resumes from a cursor, with the object types each stages
    /// (a listing left unfinished leaves these counts partial).
    pub const RESUMABLE: [(&str, &[&str]); 4] = [
        (COMPANIES, &["companies"]),
        ("contacts:search", &["contacts"]),
        (
            "conversations:search",
            &["conversations", "conversation_parts"],
        ),
        ("tickets:search", &["tickets"]),
    ];

    pub const COMPANIES: &str = "companies:scroll";
    pub const COLLECTIONS: &str = "collections";
    pub const ARTICLES: &str = "articles";

    pub fn search(object: crate::intercom::Searchable) -> &'static str {
        match object {
            crate::intercom::Searchable::Contacts => "contacts:search",
            crate::intercom::Searchable::Conversations => "conversations:search",
            crate::intercom::Searchable::Tickets => "tickets:search",
        }
    }
}

/// A search listing's saved cursor: the `since` of the pass in progress and its position.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct SearchCursor {
    since: Option<i64>,
    position: Option<Position>,
    /// When the pass began staging (the ledger's clock, ms): its records are those staged since.
    #[serde(default)]
    started_ms: Option<i64>,
    /// Contacts: every page is read; the second stage (the contacts' activity) has read the
    /// contacts up to this id (empty: none yet).
    #[serde(default)]
    later_after: Option<String>,
}

impl<'a> Extractor<'a> {
    /// The small whole lists first (the decisions need them), then every other listing at
    /// once: they are independent, share Intercom's budget through one gate, and so the budget,
    /// not the slowest listing, sets the pace. A companies scroll left open by a killed run (at
    /// most one per workspace; it expires after a minute) holds up only the companies.
    async fn run(&self) -> Result<(), ExtractError> {
        self.whole_lists().await?;
        let (companies, contacts, help_center, conversations, tickets, macros, activity_logs) = tokio::join!(
            self.companies(),
            self.search(Searchable::Contacts),
            self.help_center(),
            // The contacts' listing is read first in full (with what the customers need) and
            // their activity (notes, segments, events) after it, as filler: customers load
            // from the contacts, the conversations wait for the customers and then give the
            // Kustomer side most of its work, so these go first.
            self.search(Searchable::Conversations),
            self.search(Searchable::Tickets),
            self.whole_listing(Listing::macros(), Kind::Macros),
            // Every log since the workspace began: the API requires a window's start.
            self.whole_listing(Listing::activity_logs(0), Kind::ActivityLogs),
        );
        companies?;
        contacts?;
        help_center?;
        conversations?;
        tickets?;
        macros?;
        activity_logs?;
        self.publish();
        Ok(())
    }

    fn take_summary(&self) -> ExtractSummary {
        std::mem::take(&mut *lock(&self.summary))
    }

    /// Handles a listing-level failure: an auth refusal ends the run, anything else is noted and
    /// the run goes on with the other listings.
    fn listing_failed(&self, listing: &str, err: IntercomError) -> Result<(), ExtractError> {
        let err = match err {
            IntercomError::Api(api) if api.is_auth() => return Err(ExtractError::Refused(api)),
            other => other,
        };
        let message = format!("{listing}: {err}");
        let _ = self.ledger.add_warning(listing, None, &message);
        lock(&self.summary).incomplete.push(message);
        Ok(())
    }

    fn warn(&self, kind: &str, source_id: Option<&str>, message: String) {
        let _ = self.ledger.add_warning(kind, source_id, &message);
        lock(&self.summary).warnings.push(message);
    }

    /// Writes a batch: records, then not-retrievable figures and warnings.
    async fn stage(&self, batch: Batch) -> Result<(), ExtractError> {
        for (kind, scope, count, reason) in &batch.not_retrievable {
            self.ledger
                .set_not_retrievable(kind, scope, *count, reason)?;
        }
        for w in batch.warnings {
            self.warn("extract", None, w);
        }
        if batch.records.is_empty() {
            return Ok(());
        }
        {
            let mut summary = lock(&self.summary);
            for r in &batch.records {
                *summary.staged.entry(r.kind.clone()).or_default() += 1;
                if let Some(problem) = &r.problem {
                    summary.problems.push(RecordProblem {
                        kind: r.kind.clone(),
                        source_id: r.source_id.clone(),
                        problem: problem.clone(),
                    });
                }
            }
        }
        let staged = self.options.conversations_staged.as_ref().map(|_| {
            batch
                .records
                .iter()
                .filter_map(|r| {
                    STAGED_WITH_CONVERSATIONS
                        .iter()
                        .find(|k| k.as_str() == r.kind)
                        .map(|k| (k.as_str(), r.source_id.clone()))
                })
                .collect::<StagedConversations>()
        });
        self.ledger.put_sources(batch.records).await?;
        if let (Some(feed), Some(staged)) = (&self.options.conversations_staged, staged)
            && staged
                .iter()
                .any(|(k, _)| *k == Kind::Conversations.as_str())
        {
            let _ = feed.try_send(staged);
        }
        self.publish();
        Ok(())
    }

    /// Of `records`, those new to the ledger, changed since staged, or staged with a problem.
    fn changed<'v>(
        &self,
        kind: &str,
        records: &'v [Value],
    ) -> Result<Vec<&'v Value>, ExtractError> {
        let keyed: Vec<(Option<String>, &Value)> = records.iter().map(|r| (id_of(r), r)).collect();
        let out = self.ledger.read(|reader| {
            let mut out = Vec::new();
            for (id, record) in &keyed {
                let Some(id) = id else {
                    out.push(*record);
                    continue;
                };
                let updated = updated_of(record);
                match reader.source(kind, id)? {
                    // Records without `updated_at` (admins, tags…) are compared by content.
                    Some(staged)
                        if staged.problem.is_none()
                            && staged.updated_at == updated
                            && (updated.is_some() || staged.raw == record.to_string()) => {}
                    _ => out.push(*record),
                }
            }
            Ok(out)
        })?;
        Ok(out)
    }

    fn publish(&self) {
        let Some(tx) = &self.progress else { return };
        let counters = self.ledger.counters();
        let totals = lock(&self.totals).clone();
        let done = lock(&self.done).clone();
        let rows = crate::engine::kinds::OBJECT_TYPES
            .iter()
            .map(|object| ExtractProgress {
                object: object.to_string(),
                fetched: counters.source(object),
                total: totals.get(*object).copied(),
                complete: done.iter().any(|d| d == object),
            })
            .collect();
        tx.send_replace(rows);
    }

    fn mark_done(&self, kinds: &[Kind]) {
        lock(&self.done).extend(kinds.iter().map(|k| k.as_str().to_string()));
        self.publish();
    }

    // ---- unpaginated lists --------------------------------------------------------------

    async fn whole_lists(&self) -> Result<(), ExtractError> {
        for list in WholeList::ALL {
            self.control.checkpoint().await?;
            let records = match self.client.whole_list(list).await {
                Ok(r) => r,
                Err(e) => {
                    self.listing_failed(list.route().0, IntercomError::Api(e))?;
                    continue;
                }
            };
            let mut batch = Batch::default();
            let kind = whole_list_kind(list);
            let changed: Vec<&Value> = match list {
                // Attributes are keyed by model and name, not id: staged whole (a few dozen).
                WholeList::ContactAttributes | WholeList::CompanyAttributes => {
                    records.iter().collect()
                }
                _ => self.changed(kind, &records)?,
            };
            for raw in changed {
                match list {
                    WholeList::ContactAttributes | WholeList::CompanyAttributes => {
                        batch.push(attribute_record(raw));
                    }
                    WholeList::OfficeHoursSchedules => {
                        batch.push(source(Kind::OfficeHoursSchedules.as_str(), raw, None));
                        if let Some(id) = id_of(raw) {
                            match self.client.office_hours_exceptions(&id).await {
                                Ok(exceptions) => {
                                    for ex in &exceptions {
                                        batch.push(source(
                                            Kind::OfficeHoursExceptions.as_str(),
                                            ex,
                                            Some(&id),
                                        ));
                                    }
                                }
                                Err(e) => batch
                                    .warnings
                                    .push(format!("office hours exceptions of schedule {id}: {e}")),
                            }
                        }
                    }
                    _ => batch.push(source(kind, raw, None)),
                }
            }
            self.stage(batch).await?;
        }
        self.mark_done(&[
            Kind::Admins,
            Kind::Teams,
            Kind::Tags,
            Kind::Segments,
            Kind::DataAttributes,
            Kind::ConversationAttributes,
            Kind::TicketTypes,
            Kind::Brands,
            Kind::OfficeHoursSchedules,
        ]);
        Ok(())
    }

    // ---- companies ----------------------------------------------------------------------

    /// The scroll cannot resume across processes (it expires after a minute idle), so an
    /// unfinished or repeated listing reads it from the start; records are upserted and notes
    /// are fetched only for companies that changed.
    async fn companies(&self) -> Result<(), ExtractError> {
        let staged = self.incomplete(Kind::Companies.as_str())?;
        self.reread_incomplete(Kind::Companies.as_str(), &staged, |c| {
            self.company_details(c)
        })
        .await?;
        let mut pager = self.client.pager(Listing::CompaniesScroll, None);
        let mut fetched = 0u64;
        let mut max_updated: Option<i64> = None;
        loop {
            self.control.checkpoint().await?;
            let page = match pager.next_page().await {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => return self.listing_failed(listing_key::COMPANIES, e),
            };
            for w in page.warnings {
                self.warn(Kind::Companies.as_str(), None, w);
            }
            fetched += page.records.len() as u64;
            max_updated = max_updated.max(page.records.iter().filter_map(updated_of).max());
            let changed = self.changed(Kind::Companies.as_str(), &page.records)?;
            let batch = self
                .for_each(changed, |company| self.company_details(company))
                .await;
            self.stage(batch).await?;
            self.ledger.set_cursor(ExtractCursor {
                listing: listing_key::COMPANIES.into(),
                cursor: None,
                complete: false,
                max_updated_at: max_updated,
                fetched,
                total: None,
            })?;
        }
        self.ledger.set_cursor(ExtractCursor {
            listing: listing_key::COMPANIES.into(),
            cursor: None,
            complete: true,
            max_updated_at: max_updated,
            fetched,
            total: Some(fetched),
        })?;
        self.mark_done(&[Kind::Companies, Kind::CompanyNotes]);
        Ok(())
    }

    async fn company_details(&self, company: &Value) -> Batch {
        let record = source(Kind::Companies.as_str(), company, None);
        let notes = Listing::company_notes(&record.source_id);
        self.with_children(Batch::default(), record, notes, Kind::CompanyNotes, "notes")
            .await
    }

    /// `batch` with the `child` records `listing` gives under `record`, then `record` itself,
    /// flagged incomplete when they could not be read (`what` names them).
    async fn with_children(
        &self,
        mut batch: Batch,
        record: SourceRecord,
        listing: Listing,
        child: Kind,
        what: &str,
    ) -> Batch {
        let children = self
            .all_pages(listing, child.as_str(), Some(&record.source_id))
            .await;
        let problem = match children {
            Ok(b) => {
                batch.absorb(b);
                None
            }
            Err(e) => Some(format!("{what} could not be read: {e}")),
        };
        batch.push(with_incomplete(record, problem));
        batch
    }

    /// Reads again, through `details`, the records of `kind` an earlier extraction could not read
    /// whole. They are read before the listing goes on, so a record a transient failure cut
    /// short is whole before anything that depends on it loads, even when an incremental
    /// listing (by `updated_at`) would not return it again.
    async fn reread_incomplete<'v, F, Fut>(
        &self,
        kind: &str,
        staged: &'v [Value],
        details: F,
    ) -> Result<(), ExtractError>
    where
        F: Fn(&'v Value) -> Fut,
        Fut: std::future::Future<Output = Batch>,
    {
        if staged.is_empty() {
            return Ok(());
        }
        self.control.checkpoint().await?;
        tracing::info!(
            "{kind}: reading {} incomplete record(s) again",
            staged.len()
        );
        let batch = self.for_each(staged.iter().collect(), details).await;
        self.stage(batch).await
    }

    /// The staged raw records of `kind` flagged incomplete.
    fn incomplete(&self, kind: &str) -> Result<Vec<Value>, ExtractError> {
        let staged = self.ledger.read(|r| r.incomplete_sources(kind))?;
        Ok(staged
            .iter()
            .filter_map(|s| serde_json::from_str(&s.raw).ok())
            .collect())
    }

    /// Reads every page of a small listing (a record's sub-list) into records of `kind`.
    async fn all_pages(
        &self,
        listing: Listing,
        kind: &str,
        parent: Option<&str>,
    ) -> Result<Batch, IntercomError> {
        let mut pager = self.client.pager(listing, None);
        let mut batch = Batch::default();
        while let Some(page) = pager.next_page().await? {
            batch.warnings.extend(page.warnings);
            for raw in &page.records {
                batch.push(source(kind, raw, parent));
            }
        }
        Ok(batch)
    }

    /// Runs `work` for each record, `concurrency` at a time, and merges what they produce.
    async fn for_each<'v, T: 'v, F, Fut>(&self, records: Vec<&'v T>, work: F) -> Batch
    where
        F: Fn(&'v T) -> Fut,
        Fut: std::future::Future<Output = Batch>,
    {
        let mut merged = Batch::default();
        // Futures collected first: a stream holding the closure itself is not `Send` for every
        // lifetime, which would keep the extraction off spawned tasks.
        let futures: Vec<Fut> = records.into_iter().map(work).collect();
        let mut results =
            futures_util::stream::iter(futures).buffer_unordered(self.options.concurrency.max(1));
        while let Some(batch) = results.next().await {
            merged.absorb(batch);
        }
        merged
    }

    // ---- search listings ----------------------------------------------------------------

    async fn search(&self, object: Searchable) -> Result<(), ExtractError> {
        let key = listing_key::search(object);
        let saved = self.ledger.read(|r| r.cursor(key))?;
        // A complete pass: the next one asks only for what changed since its newest record.
        // An unfinished pass: resume it with the same query and position.
        let (since, position, mut max_updated, mut fetched, started_ms, later_after) = match &saved
        {
            Some(c) if c.complete => (c.max_updated_at, None, c.max_updated_at, 0, None, None),
            Some(c) => {
                let sc: SearchCursor = c
                    .cursor
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_default();
                // A pass begun before passes kept their start: every staged record is its own.
                let started = sc.started_ms.or(Some(0));
                let (position, later) = (sc.position, sc.later_after);
                (
                    sc.since,
                    position,
                    c.max_updated_at,
                    c.fetched,
                    started,
                    later,
                )
            }
            None => (None, None, None, 0, None, None),
        };
        let kind = match object {
            Searchable::Contacts => Kind::Contacts.as_str(),
            Searchable::Conversations => Kind::Conversations.as_str(),
            Searchable::Tickets => Kind::Tickets.as_str(),
        };
        let staged = self.incomplete(kind)?;
        match object {
            Searchable::Contacts => {
                self.reread_incomplete(kind, &staged, |c| self.contact_details(c))
                    .await?
            }
            Searchable::Conversations => {
                self.reread_incomplete(kind, &staged, |c| self.conversation_details(c))
                    .await?
            }
            Searchable::Tickets => {
                self.reread_incomplete(kind, &staged, |t| self.ticket_details(t))
                    .await?
            }
        }
        // Taken before this pass stages anything: its records are those staged since (the
        // ledger stamps each with the same clock when it commits it).
        let started_ms = match started_ms {
            Some(started) => started,
            None => {
                // Kept before the first page is staged: a run killed after staging a page but
                // before saving its position re-reads that page, finds its records unchanged
                // and stages none again, so the contacts' second stage would know them only by
                // this start (without it, their notes, segments and events were never read).
                let started = crate::ledger::now_ms();
                let cursor = SearchCursor {
                    since,
                    position: position.clone(),
                    started_ms: Some(started),
                    later_after: None,
                };
                self.save_search(key, &cursor, max_updated, fetched, None)?;
                started
            }
        };
        let mut pager = self.client.pager(Listing::search(object, since), position);
        let stage_start = Instant::now();
        let requests_start = self.client.gate().budget().requests;
        // A pass whose pages were all read resumes with its second stage.
        let mut next = match later_after {
            Some(_) => Ok(None),
            None => pager.next_page().await,
        };
        loop {
            self.control.checkpoint().await?;
            let page = match next {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => return self.listing_failed(key, e),
            };
            for w in &page.warnings {
                self.warn(kind, None, w.clone());
            }
            if since.is_none()
                && let Some(total) = page.total
            {
                lock(&self.totals).insert(kind.to_string(), total);
            }
            fetched += page.records.len() as u64;
            max_updated = max_updated.max(page.records.iter().filter_map(updated_of).max());
            let changed = self.changed(kind, &page.records)?;
            let details = async {
                match object {
                    Searchable::Contacts => self.for_each(changed, |c| self.contact_core(c)).await,
                    Searchable::Conversations => {
                        self.for_each(changed, |c| self.conversation_details(c))
                            .await
                    }
                    Searchable::Tickets => self.for_each(changed, |t| self.ticket_details(t)).await,
                }
            };
            // The next search page is asked for while this page's records are read, so the
            // listing's own round trip and the page's slowest record never leave the budget
            // idle. Its cursor is saved only after this page is staged (below), so a resumed
            // run reads it again rather than skips it.
            let ahead = async {
                if page.position.is_some() {
                    pager.next_page().await
                } else {
                    Ok(None)
                }
            };
            let (batch, ahead) = tokio::join!(details, ahead);
            next = ahead;
            self.stage(batch).await?;
            if page.position.is_none() {
                // The last page: completion is saved below, before any checkpoint can interrupt.
                break;
            }
            let cursor = SearchCursor {
                since,
                position: page.position.clone(),
                started_ms: Some(started_ms),
                later_after: None,
            };
            self.save_search(key, &cursor, max_updated, fetched, page.total)?;
        }
        if object == Searchable::Contacts {
            // The customers need no more than the first stage staged.
            self.mark_done(&[Kind::Contacts]);
            let save = |after: &str| {
                let cursor = SearchCursor {
                    since,
                    position: None,
                    started_ms: Some(started_ms),
                    later_after: Some(after.to_string()),
                };
                self.save_search(key, &cursor, max_updated, fetched, None)
            };
            let after = later_after.unwrap_or_default();
            save(&after)?;
            self.contacts_later(started_ms, after, save).await?;
        }
        self.ledger.set_cursor(ExtractCursor {
            listing: key.into(),
            cursor: None,
            complete: true,
            max_updated_at: max_updated,
            fetched,
            total: None,
        })?;
        if object == Searchable::Conversations {
            let mut summary = lock(&self.summary);
            summary.conversation_requests = self.client.gate().budget().requests - requests_start;
            summary.conversation_elapsed = stage_start.elapsed();
        }
        match object {
            Searchable::Contacts => self.mark_done(&[Kind::ContactNotes, Kind::DataEvents]),
            Searchable::Conversations => self.mark_done(&[
                Kind::Conversations,
                Kind::ConversationParts,
                Kind::Attachments,
            ]),
            Searchable::Tickets => self.mark_done(&[Kind::Tickets]),
        }
        Ok(())
    }

    /// Saves where an unfinished pass of a search listing stands.
    fn save_search(
        &self,
        key: &str,
        cursor: &SearchCursor,
        max_updated_at: Option<i64>,
        fetched: u64,
        total: Option<u64>,
    ) -> Result<(), ExtractError> {
        self.ledger.set_cursor(ExtractCursor {
            listing: key.into(),
            cursor: serde_json::to_string(cursor).ok(),
            complete: false,
            max_updated_at,
            fetched,
            total,
        })?;
        Ok(())
    }

    // ---- contacts -----------------------------------------------------------------------

    /// A contact and all its sub-lists, read at once: what an incomplete contact is read again
    /// with. The contacts listing reads the same in two stages ([`Self::contact_core`] with the
    /// listing, [`Self::contact_later`] after it).
    async fn contact_details(&self, raw: &Value) -> Batch {
        let record = source(Kind::Contacts.as_str(), raw, None);
        let contact = Contact::deserialize(raw).unwrap_or_default();
        let (mut gathered, activity) = tokio::join!(
            self.contact_sublists(&record, &contact),
            self.contact_activity(&record, &contact),
        );
        gathered.add(activity);
        gathered.with_contact(record)
    }

    /// The contacts listing's first stage: a contact with what its customer is made of (its
    /// tags and companies beyond the ten inline), so the customers can load while the
    /// contacts' activity is still being read.
    async fn contact_core(&self, raw: &Value) -> Batch {
        let record = source(Kind::Contacts.as_str(), raw, None);
        let contact = Contact::deserialize(raw).unwrap_or_default();
        let gathered = self.contact_sublists(&record, &contact).await;
        gathered.with_contact(record)
    }

    /// The contacts listing's second stage, for a contact its first stage staged: its notes,
    /// segments and data events. A contact whose activity could not be read is staged again,
    /// flagged incomplete with the reason (beside any its first stage found), so the next run
    /// reads it again.
    async fn contact_later(&self, staged: &SourceRecord) -> Batch {
        let raw: Value = serde_json::from_str(&staged.raw).unwrap_or_default();
        let contact = Contact::deserialize(&raw).unwrap_or_default();
        let mut gathered = self.contact_activity(staged, &contact).await;
        if let Some(problem) = gathered.problem() {
            let mut record = staged.clone();
            record.problem = record
                .problem
                .map(|p| p.strip_prefix(INCOMPLETE).unwrap_or(&p).to_string());
            gathered.batch.push(with_incomplete(record, Some(problem)));
        }
        gathered.batch
    }

    /// A contact's tags and companies beyond the ten inline (`has_more`), each kept whole as one
    /// record; with what could not be read.
    async fn contact_sublists(&self, record: &SourceRecord, contact: &Contact) -> Gathered {
        let id = record.source_id.as_str();
        let sub_list = |kind: &'static str, more: bool, listing: Listing| async move {
            if more {
                Some((kind, self.all_pages(listing, kind, Some(id)).await))
            } else {
                None
            }
        };
        let more = |list: &Option<crate::intercom::models::AddressableList>| {
            list.as_ref().and_then(|l| l.has_more) == Some(true)
        };
        let (tags, companies) = tokio::join!(
            sub_list(
                Kind::ContactTags.as_str(),
                more(&contact.tags),
                Listing::contact_tags(id)
            ),
            sub_list(
                Kind::ContactCompanies.as_str(),
                more(&contact.companies),
                Listing::contact_companies(id),
            ),
        );
        let mut gathered = Gathered::default();
        for (kind, listed) in [tags, companies].into_iter().flatten() {
            let items = listed.map(|b| {
                b.records
                    .iter()
                    .filter_map(|r| serde_json::from_str(&r.raw).ok())
                    .collect()
            });
            gathered.whole_list(kind, kind, record, items);
        }
        gathered
    }

    /// A contact's activity: its notes, its segments and its data events (the summary counts
    /// every event; the listing returns only the last 90 days); with what could not be read.
    /// Independent reads, asked for at once: a contact costs one round trip, not three in a row.
    async fn contact_activity(&self, record: &SourceRecord, contact: &Contact) -> Gathered {
        let id = record.source_id.as_str();
        let has_notes = contact
            .notes
            .as_ref()
            .is_none_or(|n| n.total_count.unwrap_or(1) > 0 || n.has_more == Some(true));
        let notes = async {
            if has_notes {
                let listing = Listing::contact_notes(id);
                Some(
                    self.all_pages(listing, Kind::ContactNotes.as_str(), Some(id))
                        .await,
                )
            } else {
                None
            }
        };
        let (notes, segments, events) = tokio::join!(
            notes,
            self.client.contact_segments(id),
            self.contact_events(id),
        );
        let mut gathered = Gathered::default();
        if let Some(notes) = notes {
            gathered.absorb("notes", notes);
        }
        gathered.whole_list("segments", Kind::ContactSegments.as_str(), record, segments);
        gathered.absorb("events", events);
        gathered
    }

    /// The contacts listing's second stage: the activity of every contact this pass staged
    /// (`since_ms`: when the pass began staging), after `after` in source-id order; `done_up_to`
    /// keeps the position after each page, so a killed run resumes there. Filler at Intercom's
    /// gate: the conversations, which the Kustomer side waits for, take the turns first.
    async fn contacts_later<F>(
        &self,
        since_ms: i64,
        mut after: String,
        done_up_to: F,
    ) -> Result<(), ExtractError>
    where
        F: Fn(&str) -> Result<(), ExtractError>,
    {
        const PAGE: usize = 150;
        crate::http::gate::as_filler(async {
            loop {
                self.control.checkpoint().await?;
                let page = self.ledger.read(|r| {
                    r.staged_since_page(Kind::Contacts.as_str(), &after, since_ms, PAGE)
                })?;
                let Some(last) = page.last().map(|s| s.source_id.clone()) else {
                    return Ok(());
                };
                let batch = self
                    .for_each(page.iter().collect(), |s| self.contact_later(s))
                    .await;
                self.stage(batch).await?;
                after = last;
                done_up_to(&after)?;
            }
        })
        .await
    }

    async fn contact_events(&self, contact_id: &str) -> Result<Batch, IntercomError> {
        let mut batch = Batch::default();
        let summary_raw = self.client.event_summary(contact_id).await?;
        let summary = EventSummary::deserialize(&summary_raw).unwrap_or_default();
        let total = summary.total();
        let newest = summary.events.iter().filter_map(|e| e.last).max();
        let listable =
            newest.is_some_and(|t| t >= crate::timefmt::now_unix() - EVENT_LISTING_WINDOW_SECS);
        let mut listed = 0u64;
        if total > 0 && listable {
            let mut pager = self.client.pager(Listing::events(contact_id), None);
            let mut seen: HashMap<String, u32> = HashMap::new();
            while let Some(page) = pager.next_page().await? {
                batch.warnings.extend(page.warnings);
                for raw in &page.records {
                    // Events have no id of their own: name them by content, counting repeats.
                    let text = raw.to_string();
                    let digest = sha_hex(text.as_bytes());
                    let n = seen.entry(digest.clone()).or_default();
                    *n += 1;
                    batch.push(SourceRecord {
                        kind: Kind::DataEvents.as_str().into(),
                        source_id: format!("{contact_id}:{}:{n}", &digest[..16]),
                        parent_id: Some(contact_id.to_string()),
                        updated_at: raw.get("created_at").and_then(time_from_value),
                        raw: text,
                        problem: None,
                    });
                    listed += 1;
                }
            }
        }
        batch.push(SourceRecord {
            kind: Kind::EventSummaries.as_str().into(),
            source_id: contact_id.to_string(),
            parent_id: Some(contact_id.to_string()),
            updated_at: None,
            raw: summary_raw.to_string(),
            problem: None,
        });
        // Events listed by an earlier run stay staged after they age out of the 90 days.
        let known = self.known_children(Kind::DataEvents.as_str(), contact_id, &batch.records);
        let _ = listed;
        batch.not_retrievable.push((
            Kind::DataEvents.as_str().into(),
            contact_id.to_string(),
            total.saturating_sub(known),
            "older than 90 days: Intercom lists only recent events; summaries are archived".into(),
        ));
        Ok(batch)
    }

    /// Distinct records of `kind` under `parent`: those staged already and those in `fresh`.
    fn known_children(&self, kind: &str, parent: &str, fresh: &[SourceRecord]) -> u64 {
        let mut ids: std::collections::HashSet<String> = fresh
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.source_id.clone())
            .collect();
        // Only a record staged before can have children staged before.
        let parent_kind = if kind == Kind::DataEvents.as_str() {
            Kind::Contacts.as_str()
        } else {
            Kind::Conversations.as_str()
        };
        let staged_before = self
            .ledger
            .read(|r| r.has_source(parent_kind, parent))
            .unwrap_or(false);
        if staged_before && let Ok(staged) = self.ledger.read(|r| r.children(kind, parent)) {
            ids.extend(staged.into_iter().map(|r| r.source_id));
        }
        ids.len() as u64
    }

    // ---- help center --------------------------------------------------------------------

    async fn help_center(&self) -> Result<(), ExtractError> {
        self.control.checkpoint().await?;
        match self
            .all_pages(Listing::collections(), Kind::Collections.as_str(), None)
            .await
        {
            Ok(b) => self.stage(b).await?,
            Err(e) => self.listing_failed(listing_key::COLLECTIONS, e)?,
        }
        let staged = self.incomplete(Kind::Articles.as_str())?;
        self.reread_incomplete(Kind::Articles.as_str(), &staged, |a| {
            self.article_details(a)
        })
        .await?;
        let mut pager = self.client.pager(Listing::articles(), None);
        loop {
            self.control.checkpoint().await?;
            let page = match pager.next_page().await {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    self.listing_failed(listing_key::ARTICLES, e)?;
                    break;
                }
            };
            for w in page.warnings {
                self.warn(Kind::Articles.as_str(), None, w);
            }
            let changed = self.changed(Kind::Articles.as_str(), &page.records)?;
            let batch = self.for_each(changed, |a| self.article_details(a)).await;
            self.stage(batch).await?;
        }
        self.mark_done(&[
            Kind::Collections,
            Kind::Articles,
            Kind::ArticleVersions,
            Kind::ArticleTranslations,
        ]);
        Ok(())
    }

    async fn article_details(&self, raw: &Value) -> Batch {
        let mut batch = Batch::default();
        let record = source(Kind::Articles.as_str(), raw, None);
        let id = record.source_id.clone();
        let article = Article::deserialize(raw).unwrap_or_default();
        for locale in article.translation_locales() {
            let content = &raw["translated_content"][&locale];
            batch.push(SourceRecord {
                kind: Kind::ArticleTranslations.as_str().into(),
                source_id: format!("{id}:{locale}"),
                parent_id: Some(id.clone()),
                updated_at: updated_of(content),
                raw: json!({ "article_id": id, "locale": locale, "content": content }).to_string(),
                problem: None,
            });
        }
        let versions = Listing::article_versions(&id);
        self.with_children(batch, record, versions, Kind::ArticleVersions, "versions")
            .await
    }

    // ---- conversations ------------------------------------------------------------------

    /// Retrieves one conversation (at most its 500 newest parts), stages it without the parts
    /// array, each part on its own, the count of parts the API cannot return, and downloads its
    /// attachments at once (their URLs expire).
    async fn conversation_details(&self, item: &Value) -> Batch {
        let mut batch = Batch::default();
        let listed = source(Kind::Conversations.as_str(), item, None);
        let id = listed.source_id.clone();
        let mut full = match self.client.conversation(&id).await {
            Ok(v) => v,
            Err(e) => {
                batch.push(with_incomplete(
                    listed,
                    Some(format!("the conversation could not be retrieved: {e}")),
                ));
                return batch;
            }
        };
        let conversation = Conversation::deserialize(&full).unwrap_or_default();
        let coverage = conversation.part_coverage();
        let parts = full
            .get_mut("conversation_parts")
            .and_then(|l| l.get_mut("conversation_parts"))
            .map(Value::take);
        for part in parts.iter().flat_map(|p| p.as_array()).flatten() {
            batch.push(source(Kind::ConversationParts.as_str(), part, Some(&id)));
        }
        // Parts staged by an earlier run stay staged once newer ones push them past the cap.
        let known = self.known_children(Kind::ConversationParts.as_str(), &id, &batch.records);
        batch.not_retrievable.push((
            Kind::ConversationParts.as_str().into(),
            id.clone(),
            coverage
                .existing
                .saturating_sub(known.max(coverage.returned)),
            "beyond the API's 500-part limit (older parts)".into(),
        ));
        let mut failed_downloads = 0;
        for (index, (part_id, attachment)) in conversation.attachments().into_iter().enumerate() {
            let owner = part_id
                .as_ref()
                .map_or("source".to_string(), |p| p.0.clone());
            let record = self
                .download_attachment(&id, &owner, index, attachment)
                .await;
            if record.problem.is_some() {
                failed_downloads += 1;
            }
            batch.push(record);
        }
        // Images inline in HTML bodies point at the same expiring file URLs.
        let mut bodies: Vec<(String, Option<&str>)> = Vec::new();
        if let Some(body) = conversation.source.as_ref().and_then(|s| s.body.as_deref()) {
            bodies.push(("source".to_string(), Some(body)));
        }
        for part in conversation
            .conversation_parts
            .iter()
            .flat_map(|l| &l.conversation_parts)
        {
            let owner = part
                .id
                .as_ref()
                .map_or("unknown".to_string(), |p| p.0.clone());
            bodies.push((owner, part.body.as_deref()));
        }
        for (owner, body) in bodies {
            for (index, url) in inline_image_urls(body.unwrap_or(""))
                .into_iter()
                .enumerate()
            {
                let image = crate::intercom::models::Attachment {
                    url: Some(url),
                    ..Default::default()
                };
                let mut record = self.download_attachment(&id, &owner, index, &image).await;
                record.kind = Kind::InlineImages.as_str().into();
                record.source_id = format!("{id}:{owner}:img{index}");
                if record.problem.is_some() {
                    failed_downloads += 1;
                }
                batch.push(record);
            }
        }
        let mut record = source(Kind::Conversations.as_str(), &full, None);
        record.source_id = id;
        let problem = (failed_downloads > 0).then(|| {
            format!("{failed_downloads} attachment(s) could not be downloaded; a later run retries")
        });
        batch.push(with_problem(record, problem));
        batch
    }

    async fn download_attachment(
        &self,
        conversation_id: &str,
        owner: &str,
        index: usize,
        attachment: &crate::intercom::models::Attachment,
    ) -> SourceRecord {
        let mut meta = json!({
            "conversation_id": conversation_id,
            "part_id": if owner == "source" { Value::Null } else { json!(owner) },
            "url": attachment.url,
            "name": attachment.name,
            "content_type": attachment.content_type,
            "filesize": attachment.filesize,
        });
        let mut problem = None;
        match &attachment.url {
            None => problem = Some("the attachment has no URL".to_string()),
            Some(url) => {
                let dir = &self.options.attachments_dir;
                let tmp = dir.join(format!(".download-{conversation_id}-{owner}-{index}"));
                match self.client.download(url, &tmp).await {
                    Ok(done) => {
                        let dest = dir.join(&done.sha256);
                        let placed = if dest.exists() {
                            std::fs::remove_file(&tmp)
                        } else {
                            std::fs::rename(&tmp, &dest)
                        };
                        if let Err(e) = placed {
                            problem = Some(format!("cannot store {}: {e}", dest.display()));
                        }
                        meta["sha256"] = json!(done.sha256);
                        meta["size"] = json!(done.bytes);
                        if attachment.content_type.is_none() {
                            meta["content_type"] = json!(done.content_type);
                        }
                    }
                    Err(e) => {
                        let _ = std::fs::remove_file(&tmp);
                        problem = Some(format!("download failed: {e}"));
                    }
                }
            }
        }
        SourceRecord {
            kind: Kind::Attachments.as_str().into(),
            source_id: format!("{conversation_id}:{owner}:{index}"),
            parent_id: Some(conversation_id.to_string()),
            updated_at: None,
            raw: meta.to_string(),
            problem,
        }
    }

    // ---- tickets ------------------------------------------------------------------------

    async fn ticket_details(&self, item: &Value) -> Batch {
        let mut batch = Batch::default();
        let listed = source(Kind::Tickets.as_str(), item, None);
        let id = listed.source_id.clone();
        match self.client.ticket(&id).await {
            Ok(full) => {
                let mut record = source(Kind::Tickets.as_str(), &full, None);
                record.source_id = id;
                batch.push(record);
            }
            Err(e) => batch.push(with_incomplete(
                listed,
                Some(format!("the ticket could not be retrieved: {e}")),
            )),
        }
        batch
    }

    // ---- macros -------------------------------------------------------------------------

    /// A listing read whole each run (macros, admin activity logs): the records new or changed
    /// since staged are staged.
    async fn whole_listing(&self, listing: Listing, of: Kind) -> Result<(), ExtractError> {
        self.control.checkpoint().await?;
        let kind = of.as_str();
        match self.all_pages(listing, kind, None).await {
            Ok(b) => {
                let changed: Vec<SourceRecord> = b.records;
                let mut batch = Batch {
                    warnings: b.warnings,
                    ..Batch::default()
                };
                let raws: Vec<Value> = changed
                    .iter()
                    .filter_map(|r| serde_json::from_str(&r.raw).ok())
                    .collect();
                for raw in self.changed(kind, &raws)? {
                    batch.push(source(kind, raw, None));
                }
                self.stage(batch).await?;
            }
            Err(e) => self.listing_failed(kind, e)?,
        }
        self.mark_done(&[of]);
        Ok(())
    }
}

/// The `src` of every `<img>` in an HTML body that is an http(s) URL: the images to download.
pub fn inline_image_urls(html: &str) -> Vec<String> {
    crate::mapping::conversations::inline_image_urls(html)
        .into_iter()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .collect()
}

fn whole_list_kind(list: WholeList) -> &'static str {
    match list {
        WholeList::Admins => Kind::Admins.as_str(),
        WholeList::Teams => Kind::Teams.as_str(),
        WholeList::Tags => Kind::Tags.as_str(),
        WholeList::Segments => Kind::Segments.as_str(),
        WholeList::ContactAttributes | WholeList::CompanyAttributes => {
            Kind::DataAttributes.as_str()
        }
        WholeList::ConversationAttributes => Kind::ConversationAttributes.as_str(),
        WholeList::TicketTypes => Kind::TicketTypes.as_str(),
        WholeList::Brands => Kind::Brands.as_str(),
        WholeList::OfficeHoursSchedules => Kind::OfficeHoursSchedules.as_str(),
    }
}

/// Custom attributes are `data_attributes` (what the load creates); built-in ones, which have no
/// id, are kept apart as `data_attributes_standard` under `model:name`.
fn attribute_record(raw: &Value) -> SourceRecord {
    let custom = raw.get("custom").and_then(Value::as_bool).unwrap_or(false);
    let mut record = source(
        if custom {
            Kind::DataAttributes.as_str()
        } else {
            Kind::DataAttributesStandard.as_str()
        },
        raw,
        None,
    );
    if !custom || id_of(raw).is_none() {
        let model = first_text(raw, &["/model"]).unwrap_or("unknown");
        let name = first_text(raw, &["/full_name", "/name"]).unwrap_or("unnamed");
        record.source_id = format!("{model}:{name}");
        record.problem = None;
    }
    record
}

#[cfg(test)]
mod tests {
    use super::inline_image_urls;

    #[test]
    fn inline_images_are_found_in_html_bodies() {
        let html = r#"<p>hi</p><IMG width="1" SRC="https://x.test/a.png?e=1&amp;s=2"><img src='http://y/b.gif'/><img src="data:image/png;base64,xx">"#;
        assert_eq!(
            inline_image_urls(html),
            vec!["https://x.test/a.png?e=1&s=2", "http://y/b.gif"]
        );
        assert!(inline_image_urls("<p>no images</p>").is_empty());
    }
}
