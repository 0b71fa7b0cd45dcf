//! The idempotent write path (DESIGN.md): every record created in Kustomer goes through here.
//!
//! One record: `done` → nothing to do; `sent` (a crash or a lost answer came between the request
//! and its answer) → look it up by externalId through a direct route, never search; otherwise the
//! `sent` mark is committed before the request leaves, then the id is recorded and the record is
//! `done`. A create refused as a duplicate, or whose answer was lost, is resolved by the lookup,
//! never retried blindly. Permanent refusals mark the record `failed` with the redacted request
//! and response; the run goes on.
//!
//! Bulk: items are marked `sent` with a batch id that also goes into each `_clientRef`; the job id
//! is recorded when the answer arrives; results are matched by `_clientRef`. An item `sent`
//! without a job id (the answer was lost) is looked up only after the ledger's bulk patience
//! (three times the longest bulk-job latency seen, never under 10 s), since bulk jobs complete
//! asynchronously and an early "not found" would resend and duplicate.
//!
//! A failed bulk item is recorded with its own exchange (see [`BulkRoute`]): as request the route
//! and the item as it was sent (`POST …/v1/customers/bulk item <clientRef> {…}`), as response the
//! item's result as the job reported it (`GET …/v1/bulk/{id}/batches {…}`); a batch refused on
//! submit gives every item the submit's exchange; a failed lookup records the lookup's. All of
//! it redacted and cut to the lengths the send path keeps.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use futures_util::StreamExt as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::engine::context::Ctx;
use crate::engine::kinds;
use crate::http::client::{KEPT_REQUEST_CHARS, KEPT_RESPONSE_CHARS, truncate};
use crate::http::{ApiError, Secret};
use crate::kustomer::bulk::{self, BulkOutcome, BulkResource, MAX_CLIENT_REF_LEN, PollPolicy};
use crate::kustomer::endpoints;
use crate::kustomer::{KustomerClient, KustomerError};
use crate::ledger::{Adoption, Ledger, LedgerError, Origin, RecordState, WorkItem};
use crate::mapping::clean;
use crate::rng::Rng;
use crate::vocab::{ErrorClass, Kind};

/// How many times a single create is sent again after a lookup proved it absent.
const MAX_RESENDS: u32 = 3;
/// How many records of each kind a fresh ledger looks up in Kustomer before it creates that kind
/// directly (see [`Ledger::is_fresh`]).
pub const ADOPTION_SAMPLE: u32 = 5;
/// Lookups in flight at once when a kind is loaded lookup-first.
const ADOPTION_CONCURRENCY: usize = 8;

/// How a record of the kind being written is found again by its Intercom id: its Kustomer id,
/// `None` when Kustomer has none. Any `Fn(String) -> impl Future<…>` is one (the engine passes
/// `found::lookup`, which reads the kind catalog's [`kinds::Found`]).
pub trait Lookup {
    type Found: Future<Output = Result<Option<String>, KustomerError>>;
    fn find(&self, source_id: String) -> Self::Found;
}

impl<F, Fut> Lookup for F
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Option<String>, KustomerError>>,
{
    type Found = Fut;
    fn find(&self, source_id: String) -> Fut {
        self(source_id)
    }
}

/// Where `kind` stands: its own decision, or `Create` when its parent kind's sample found none.
fn adoption_of(ledger: &Ledger, kind: &str) -> Adoption {
    let own = ledger.adoption(kind);
    if let Adoption::Sampling { .. } = own
        && let Some(parent) = crate::engine::kinds::parent_of(kind)
        && ledger.adoption(parent) == Adoption::Create
    {
        return Adoption::Create;
    }
    own
}

/// Counts one sampled record of `kind` found absent; after [`ADOPTION_SAMPLE`] the kind is
/// created directly.
fn sampled_absent(ledger: &Ledger, kind: &str) {
    if let Adoption::Sampling { probed } = ledger.adoption(kind) {
        let next = if probed + 1 >= ADOPTION_SAMPLE {
            Adoption::Create
        } else {
            Adoption::Sampling { probed: probed + 1 }
        };
        ledger.set_adoption(kind, next);
    }
}

/// The second line of defence against a lost id map, for one record of a fresh ledger: while
/// its kind is being sampled or is loaded lookup-first, it is looked up by externalId before it
/// is created. Returns its Kustomer id when it already exists (adopted, never created again).
async fn adopt_one<L, LF>(
    ledger: &Ledger,
    kind: &str,
    lookup: &L,
) -> Result<Option<String>, KustomerError>
where
    L: Fn() -> LF,
    LF: Future<Output = Result<Option<String>, KustomerError>>,
{
    match adoption_of(ledger, kind) {
        Adoption::Create => Ok(None),
        Adoption::LookupFirst => lookup().await,
        Adoption::Sampling { .. } => match lookup().await {
            Ok(Some(target)) => {
                adopting(ledger, kind);
                Ok(Some(target))
            }
            Ok(None) => {
                // Counted against the kind's state now, which other tasks may have moved on.
                sampled_absent(ledger, kind);
                Ok(None)
            }
            // Undecided: the next record of the kind is sampled instead.
            Err(_) => Ok(None),
        },
    }
}

fn adopting(ledger: &Ledger, kind: &str) {
    if ledger.adoption(kind) != Adoption::LookupFirst {
        ledger.set_adoption(kind, Adoption::LookupFirst);
        let message = format!(
            "{kind}: this ledger is new, yet Kustomer already holds records of this migration (found by externalId); every {kind} record is looked up first and adopted where it exists, never created twice"
        );
        tracing::warn!("{message}");
        let _ = ledger.log_event("warn", &message);
    }
}

/// The bulk route a batch goes to, so a failed item's ledger entry can say what was sent for it
/// and what the job answered, with the API tokens scrubbed out.
#[derive(Clone)]
pub struct BulkRoute {
    method: &'static str,
    base_url: String,
    path: String,
    secrets: Vec<Secret>,
}

impl BulkRoute {
    /// `POST` (create) or `PUT` (`update`) to `resource`'s bulk route on the run's Kustomer.
    pub fn new(ctx: &Ctx, resource: &BulkResource, update: bool) -> BulkRoute {
        BulkRoute {
            method: if update { "PUT" } else { "POST" },
            base_url: ctx.kustomer.api().base_url().to_string(),
            path: resource.path(),
            secrets: vec![
                ctx.config.kustomer_token.clone(),
                ctx.config.intercom_token.clone(),
            ],
        }
    }

    /// Whether this is an update route (`PUT`): its records are changes to records that exist.
    pub fn is_update(&self) -> bool {
        self.method == "PUT"
    }

    /// Where the kind catalog sends a record of `kind` in bulk (`raw`: its stored source record);
    /// a route that says it is unknown when the catalog cannot tell.
    pub fn of_item(ctx: &Ctx, kind: Kind, raw: Option<&str>) -> BulkRoute {
        match kinds::bulk_resource(kind, raw) {
            Some((resource, update)) => BulkRoute::new(ctx, &resource, update),
            None => BulkRoute {
                path: format!("(the bulk route of this {kind} record is not known)"),
                ..BulkRoute::new(ctx, &BulkResource::Customers, false)
            },
        }
    }

    /// Redacted, then cut to `max` (redacting first: a cut can never leave part of a token).
    fn scrub(&self, text: &str, max: usize) -> String {
        let redacted = self
            .secrets
            .iter()
            .fold(text.to_string(), |t, secret| secret.redact(&t));
        truncate(&redacted, max)
    }

    /// What was sent for one item: the route, its `_clientRef` and its body (`None` when an
    /// earlier attempt sent it and the body is no longer at hand).
    fn item_request(&self, client_ref: &str, body: Option<&Value>) -> String {
        let mut s = format!(
            "{} {}{} item {client_ref}",
            self.method, self.base_url, self.path
        );
        match body {
            Some(body) => {
                s.push(' ');
                s.push_str(&body.to_string());
            }
            None => s.push_str(" (sent by an earlier attempt; its body is not kept)"),
        }
        self.scrub(&s, KEPT_REQUEST_CHARS)
    }

    /// The item's result as the job's batches reported it.
    fn item_response(&self, job: &str, client_ref: &str, message: &str) -> String {
        let item = json!({"_clientRef": client_ref, "status": "error", "error": message});
        let s = format!(
            "GET {}{} item {item}",
            self.base_url,
            endpoints::bulk_job_batches(job)
        );
        self.scrub(&s, KEPT_RESPONSE_CHARS)
    }

    /// The exchange of a submit that failed: the error's own, or (an error raised before anything
    /// was sent) the item and the error.
    fn submit_exchange(
        &self,
        client_ref: &str,
        body: Option<&Value>,
        err: &KustomerError,
    ) -> (String, String) {
        let (request, response) = err.exchange();
        if request.is_empty() && response.is_empty() {
            let request = self.item_request(client_ref, body);
            let response = self.scrub(&format!("not sent: {err}"), KEPT_RESPONSE_CHARS);
            (request, response)
        } else {
            (
                self.scrub(&request, KEPT_REQUEST_CHARS),
                self.scrub(&response, KEPT_RESPONSE_CHARS),
            )
        }
    }
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It exists in Kustomer with this id (created now, found by lookup, or done before).
    Done(String),
    /// Marked failed in the ledger with its reason.
    Failed,
    /// Still `sent`: its outcome is not known yet (a bulk answer was lost; recovery will look it up).
    Unsettled,
}

/// A bulk item's result as the job reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemResult {
    Created(String),
    Updated(String),
    Error { message: String, duplicate: bool },
}

impl ItemResult {
    /// What an item's bulk outcome says for the write path; `None` for an item the job did not
    /// mention (it stays unsettled and recovery looks it up).
    fn of(outcome: BulkOutcome) -> Option<ItemResult> {
        Some(match outcome {
            BulkOutcome::Created { id } => ItemResult::Created(id),
            BulkOutcome::Updated { id } => ItemResult::Updated(id),
            BulkOutcome::Error { message, duplicate } => ItemResult::Error { message, duplicate },
            BulkOutcome::NoResult => return None,
        })
    }
}

/// Polls a bulk job to completion and returns its results by `_clientRef` (items the job did not
/// mention are left out).
pub async fn job_results(
    kustomer: &KustomerClient,
    job_id: &str,
) -> Result<HashMap<String, ItemResult>, KustomerError> {
    let results = kustomer.wait_job(job_id, &PollPolicy::default()).await?;
    Ok(results
        .into_iter()
        .filter_map(|r| Some((r.client_ref, ItemResult::of(r.outcome)?)))
        .collect())
}

fn fail(
    ledger: &Ledger,
    kind: &str,
    id: &str,
    err: &KustomerError,
) -> Result<Outcome, LedgerError> {
    let (request, response) = err.exchange();
    ledger.mark_failed(kind, id, err.class(), &err.to_string(), &request, &response)?;
    Ok(Outcome::Failed)
}

fn is_ambiguous(err: &KustomerError) -> bool {
    matches!(
        err,
        KustomerError::Api(ApiError::Ambiguous { .. }) | KustomerError::JobTimeout { .. }
    )
}

/// Creates one record through `send` (which returns the new Kustomer id), resolving lost answers
/// and duplicates through `lookup` (which finds the record by externalId, `None` when absent).
pub async fn create_one<S, SF, L, LF>(
    ledger: &Ledger,
    item: &WorkItem,
    send: S,
    lookup: L,
) -> Result<Outcome, LedgerError>
where
    S: Fn() -> SF,
    SF: Future<Output = Result<String, KustomerError>>,
    L: Fn() -> LF,
    LF: Future<Output = Result<Option<String>, KustomerError>>,
{
    let (kind, id) = (item.kind.as_str(), item.source_id.as_str());
    // A loaded record stays loaded, changed in Intercom since or not: bringing a changed one
    // up to date is an update in place (`engine::delta`), never a second create.
    if let (RecordState::Done, Some(target)) = (item.state, &item.target_id) {
        return Ok(Outcome::Done(target.clone()));
    }
    if item.state == RecordState::Sent {
        match lookup().await {
            Ok(Some(target)) => {
                ledger.mark_done(kind, id, &target)?;
                return Ok(Outcome::Done(target));
            }
            Ok(None) => {}
            Err(e) => return fail(ledger, kind, id, &e),
        }
    }
    if item.state == RecordState::Pending && ledger.is_fresh() {
        match adopt_one(ledger, kind, &lookup).await {
            Ok(Some(target)) => {
                ledger.mark_matched(kind, id, &target)?;
                return Ok(Outcome::Done(target));
            }
            Ok(None) => {}
            Err(e) => return fail(ledger, kind, id, &e),
        }
    }
    let mut resends = 0;
    loop {
        ledger.mark_sent(kind, vec![id.to_string()], None).await?;
        match send().await {
            Ok(target) => {
                ledger.mark_done(kind, id, &target)?;
                return Ok(Outcome::Done(target));
            }
            Err(e) if is_ambiguous(&e) || e.is_duplicate() => match lookup().await {
                Ok(Some(target)) => {
                    // A duplicate on the first send existed before; after a lost answer
                    // (ambiguous, or any resend) it is the record i2k created.
                    let origin = if e.is_duplicate() && resends == 0 {
                        Origin::Matched
                    } else {
                        Origin::Created
                    };
                    note_duplicate_status(ledger, &e).await?;
                    ledger.mark_done_as(kind, id, &target, origin)?;
                    return Ok(Outcome::Done(target));
                }
                Ok(None) if resends < MAX_RESENDS && !e.is_duplicate() => resends += 1,
                Ok(None) => return fail(ledger, kind, id, &e),
                Err(lookup_err) => return fail(ledger, kind, id, &lookup_err),
            },
            Err(e) => return fail(ledger, kind, id, &e),
        }
    }
}

/// The ledger decision naming a duplicate answered with another status than 409.
const DUPLICATE_STATUS_FALLBACK: &str = "fallback:duplicate_status";

/// When Kustomer refused a create as a duplicate with another status than 409 (the status is
/// undocumented: `assumptions::is_duplicate_refusal`), the report names the fallback taken: the
/// refusal was read from its words and the record adopted through its lookup. Noted once.
async fn note_duplicate_status(ledger: &Ledger, e: &KustomerError) -> Result<(), LedgerError> {
    let status = match e {
        KustomerError::Api(ApiError::Http { status, .. }) if *status != 409 => *status,
        _ => return Ok(()),
    };
    if !e.is_duplicate()
        || ledger
            .read(|r| r.decision(DUPLICATE_STATUS_FALLBACK))?
            .is_some()
    {
        return Ok(());
    }
    let line = format!(
        "Duplicates answered {status} instead of 409: told by the refusal's words (\"duplicate\", \"already exists\") and adopted through the record's lookup"
    );
    ledger
        .put_decision(
            DUPLICATE_STATUS_FALLBACK,
            &serde_json::json!({ "line": line }),
        )
        .await
}

/// A fresh batch id (also the prefix of each item's `_clientRef`).
pub fn new_batch_id() -> String {
    Rng::from_entropy().hex(8)
}

/// The `_clientRef` of `source_id` in `batch_id`: `"{batch}:{source_id}"`, or, when that would
/// pass Kustomer's 255 characters, `"{batch}:#"` and the SHA-256 of the id (a cut could split a
/// character and make two long ids of one batch the same ref).
pub fn client_ref(batch_id: &str, source_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let r = format!("{batch_id}:{source_id}");
    if r.len() <= MAX_CLIENT_REF_LEN {
        return r;
    }
    let digest = Sha256::digest(source_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{batch_id}:#{hex}")
}

/// Fits `items` (source id, body) into bulk requests of at most [`bulk::MAX_BULK_ITEMS`] items and
/// `max_bytes` bytes, in order. An item too large for a request of its own has its longest text
/// cut (a warning names the field and where the full value is kept); one with no text to cut is
/// marked failed with its size and the cap, and its neighbours go on.
pub fn bulk_requests(
    ledger: &Ledger,
    kind: &str,
    items: Vec<(String, Value)>,
    max_bytes: usize,
) -> Result<Vec<Vec<(String, Value)>>, LedgerError> {
    let budget = bulk::item_budget(max_bytes);
    let mut sized = Vec::with_capacity(items.len());
    for (id, mut body) in items {
        let mut bytes = clean::json_bytes(&body);
        if bytes > budget {
            match clean::fit_body(&mut body, budget) {
                Ok(notes) => {
                    for note in notes {
                        ledger.add_warning(kind, Some(&id), &note)?;
                    }
                    bytes = clean::json_bytes(&body);
                }
                Err(too_large) => {
                    ledger.mark_failed(
                        kind,
                        &id,
                        ErrorClass::Rejected,
                        &too_large.to_string(),
                        "",
                        "",
                    )?;
                    continue;
                }
            }
        }
        sized.push(((id, body), bytes));
    }
    Ok(bulk::split_by_budget(sized, max_bytes))
}

/// Whether a failed submit refused the request as a whole for what it carried (400, 413, 422, or
/// an item our client would not send): one item may be the cause, so the batch is split.
fn refused_for_content(err: &KustomerError) -> bool {
    matches!(
        err,
        KustomerError::Api(ApiError::Http {
            status: 400 | 413 | 422,
            ..
        }) | KustomerError::BulkItem { .. }
    )
}

/// One kind's bulk writes, built once per kind (or per route) by the phase: which kind, where its
/// batches go (the kind catalog says, [`BulkWrite::of`]), and how one of its records is found
/// again by externalId (`lookup`, `None` when absent). Its jobs are polled to completion.
pub struct BulkWrite<'a, L> {
    pub kind: &'a str,
    kustomer: &'a KustomerClient,
    resource: BulkResource,
    update: bool,
    route: BulkRoute,
    lookup: L,
}

impl<'a, L> BulkWrite<'a, L>
where
    L: Lookup,
{
    /// Creates (or, with `update`, updates) records of `kind` through `resource`'s bulk route on
    /// the run's Kustomer.
    pub fn new(
        ctx: &'a Ctx,
        kind: &'a str,
        resource: BulkResource,
        update: bool,
        lookup: L,
    ) -> Self {
        BulkWrite {
            kind,
            kustomer: &ctx.kustomer,
            route: BulkRoute::new(ctx, &resource, update),
            resource,
            update,
            lookup,
        }
    }

    /// Writes records of `kind` where the kind catalog sends its batches (`raw`: a stored source
    /// record of the batch, for the routes that depend on it: a part's role, a ticket's klass);
    /// `None` when the catalog writes the kind otherwise, or the record does not say.
    pub fn of(ctx: &'a Ctx, kind: Kind, raw: Option<&str>, lookup: L) -> Option<Self> {
        let (resource, update) = kinds::bulk_resource(kind, raw)?;
        Some(Self::new(ctx, kind.as_str(), resource, update, lookup))
    }

    /// Whether Kustomer keeps at most one record per externalId of this kind, refusing a second
    /// create as a duplicate: documented for customers only ("must be unique across all
    /// customers within an organization"); every other kind accepts a repeat.
    fn external_id_is_unique(&self) -> bool {
        matches!(self.resource, BulkResource::Customers) && !self.update
    }

    /// Where the batches go (for recovering what an earlier attempt left `sent`).
    pub fn route(&self) -> &BulkRoute {
        &self.route
    }

    /// Submits one batch; the job's id.
    async fn submit(&self, items: &[(String, Value)]) -> Result<String, KustomerError> {
        let job = self
            .kustomer
            .submit_bulk_of(self.resource.clone(), items, self.update)
            .await?;
        Ok(job.id)
    }
}

/// Sends bulk batches of `items` (source id, body) of `bulk`'s kind: submits each, waits for its
/// job, resolves duplicates by lookup. Records each job id and the job's latency in the ledger; a
/// failed item is recorded with the exchange of its own (the route names what it was sent to). A
/// batch refused as a whole for its content is split in halves and sent again until the item at
/// fault is alone: only it fails.
pub async fn create_bulk<L>(
    ledger: &Ledger,
    bulk: &BulkWrite<'_, L>,
    items: Vec<(String, Value)>,
) -> Result<HashMap<String, Outcome>, LedgerError>
where
    L: Lookup,
{
    let mut outcomes = HashMap::new();
    let items = if ledger.is_fresh() {
        adopt_bulk(ledger, bulk.kind, items, &bulk.lookup, &mut outcomes).await?
    } else {
        items
    };
    let mut queue = vec![items];
    let mut lost = Vec::new();
    let mut resent_after_loss = HashSet::new();
    for round in 0..=INLINE_SETTLE_ROUNDS {
        while let Some(items) = queue.pop() {
            match send_batch(ledger, bulk, items, &resent_after_loss, &mut outcomes).await? {
                BatchEnd::Answered => {}
                BatchEnd::Refused(mut refused) => {
                    let second = refused.split_off(refused.len() / 2);
                    // Popped last-in first: the first half goes first.
                    queue.push(second);
                    queue.push(refused);
                }
                BatchEnd::Lost(items) => lost.extend(items),
            }
        }
        if lost.is_empty() || round == INLINE_SETTLE_ROUNDS {
            break;
        }
        if bulk.external_id_is_unique() {
            // Kustomer keeps one record per externalId of this kind and answers a second create
            // "duplicate detected": sent again at once, without waiting out the bulk patience,
            // an item the lost request did create (or its job is still creating) comes back a
            // duplicate and is looked up; the others are created now, once.
            resent_after_loss.extend(lost.iter().map(|(id, _)| id.clone()));
            queue.push(std::mem::take(&mut lost));
            continue;
        }
        // Settled here, while the caller's page waits, rather than by a later pass over the
        // whole kind: what is found is done, what is absent goes out again.
        let absent = settle_lost(ledger, bulk, std::mem::take(&mut lost), &mut outcomes).await?;
        if !absent.is_empty() {
            queue.push(absent);
        }
    }
    Ok(outcomes)
}

/// How many times [`create_bulk`] settles the items whose bulk answer was lost and sends the
/// absent ones again before it leaves them `sent` (unsettled) for recovery.
const INLINE_SETTLE_ROUNDS: usize = 2;

/// How one bulk request ended.
enum BatchEnd {
    /// Every item has its outcome (unsettled for the items of a job that could not be read:
    /// recovery reads that job again).
    Answered,
    /// Refused as a whole for its content, with more than one item: the caller splits it.
    Refused(Vec<(String, Value)>),
    /// The submission's answer was lost, or the completed job did not mention these items: they
    /// (with their bodies) are `sent`, their outcome unsettled.
    Lost(Vec<(String, Value)>),
}

/// Settles items whose bulk answer was lost, once the bulk patience has passed since they were
/// sent (a job may still be running): each is looked up (found: done), several at once. Returns
/// those proved absent, to be sent again; a failed lookup fails its item with the reason.
async fn settle_lost<L>(
    ledger: &Ledger,
    bulk: &BulkWrite<'_, L>,
    lost: Vec<(String, Value)>,
    outcomes: &mut HashMap<String, Outcome>,
) -> Result<Vec<(String, Value)>, LedgerError>
where
    L: Lookup,
{
    let kind = bulk.kind;
    tracing::debug!(
        "{kind}: {} item(s) of a lost bulk answer, looked up after {:.1} s",
        lost.len(),
        ledger.bulk_patience().as_secs_f64()
    );
    tokio::time::sleep(ledger.bulk_patience()).await;
    let found = find_lost(bulk, lost).await;
    // Sent by this migration and answered lost: found, it is the record i2k created.
    take_found(ledger, kind, found, Origin::Created, outcomes)
}

/// Lost messages of one conversation from which listing its messages once costs fewer requests
/// than looking each up by externalId (a listing may take a page per 100 messages). Notes have
/// no externalId route: each lookup lists the conversation's notes, so one listing always pays.
const LIST_MESSAGES_FROM: usize = 3;

/// Finds again the items of a lost bulk answer. Messages and notes hang under the conversation
/// their body names: where several of one conversation were lost, its messages (or notes) are
/// listed once and matched on externalId, instead of one lookup each (a lost batch of 100
/// messages over 8 conversations: about 8 requests, not 100). Every other item, and the items of
/// a listing that failed, are looked up one by one.
async fn find_lost<L: Lookup>(
    bulk: &BulkWrite<'_, L>,
    lost: Vec<(String, Value)>,
) -> Vec<(String, Value, Result<Option<String>, KustomerError>)> {
    // How many lost items of one conversation make its listing worth it (none: never listed).
    let list_from = match (&bulk.resource, bulk.update) {
        (BulkResource::Messages, false) => Some(LIST_MESSAGES_FROM),
        (BulkResource::Notes, false) => Some(1),
        _ => None,
    };
    let mut by_conversation: HashMap<String, Vec<(String, Value)>> = HashMap::new();
    let mut one_by_one = Vec::new();
    for (id, body) in lost {
        match (
            list_from,
            body["conversation"].as_str(),
            body["externalId"].as_str(),
        ) {
            (Some(_), Some(conversation), Some(_)) => by_conversation
                .entry(conversation.to_string())
                .or_default()
                .push((id, body)),
            _ => one_by_one.push((id, body)),
        }
    }
    let mut listed = Vec::new();
    for (conversation, items) in by_conversation {
        if list_from.is_some_and(|from| items.len() >= from) {
            listed.push((conversation, items));
        } else {
            one_by_one.extend(items);
        }
    }
    let listings = listed.into_iter().map(|(conversation, items)| async move {
        let found = match bulk.resource {
            BulkResource::Messages => bulk.kustomer.conversation_messages(&conversation).await,
            _ => bulk.kustomer.conversation_notes(&conversation).await,
        };
        match found {
            Ok(resources) => {
                let ids: HashMap<&str, &str> = resources
                    .iter()
                    .filter_map(|r| Some((r.external_id()?, r.id.as_str())))
                    .collect();
                let found = |body: &Value| {
                    let external_id = body["externalId"].as_str().unwrap_or_default();
                    ids.get(external_id).map(|id| id.to_string())
                };
                items
                    .into_iter()
                    .map(|(id, body)| {
                        let target = found(&body);
                        (id, body, Ok(target))
                    })
                    .collect::<Vec<_>>()
            }
            Err(e) => {
                tracing::debug!(
                    "{}: listing conversation {conversation} for its lost items failed ({e}); \
                     looked up one by one",
                    bulk.kind
                );
                let mut found = Vec::with_capacity(items.len());
                for (id, body) in items {
                    let target = bulk.lookup.find(id.clone()).await;
                    found.push((id, body, target));
                }
                found
            }
        }
    });
    let mut found: Vec<_> = futures_util::stream::iter(listings)
        .buffer_unordered(SETTLE_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    let lookups = one_by_one.into_iter().map(|(id, body)| {
        let target = bulk.lookup.find(id.clone());
        async move { (id, body, target.await) }
    });
    found.extend(
        futures_util::stream::iter(lookups)
            .buffer_unordered(SETTLE_CONCURRENCY)
            .collect::<Vec<_>>()
            .await,
    );
    found
}

/// Records what lookups of `kind`'s items found: found → done (`origin` says whether i2k had
/// sent it), a failed lookup → failed with its reason (each with its outcome in `outcomes`).
/// Returns the items proved absent.
fn take_found(
    ledger: &Ledger,
    kind: &str,
    found: Vec<(String, Value, Result<Option<String>, KustomerError>)>,
    origin: Origin,
    outcomes: &mut HashMap<String, Outcome>,
) -> Result<Vec<(String, Value)>, LedgerError> {
    let mut absent = Vec::new();
    for (id, body, result) in found {
        match result {
            Ok(Some(target)) => {
                ledger.mark_done_as(kind, &id, &target, origin)?;
                outcomes.insert(id, Outcome::Done(target));
            }
            Ok(None) => absent.push((id, body)),
            Err(e) => {
                let o = fail(ledger, kind, &id, &e)?;
                outcomes.insert(id, o);
            }
        }
    }
    Ok(absent)
}

/// One bulk request of `items`; every item's outcome goes into `outcomes` (unsettled for the items
/// it gives back as lost).
async fn send_batch<L>(
    ledger: &Ledger,
    bulk: &BulkWrite<'_, L>,
    items: Vec<(String, Value)>,
    resent_after_loss: &HashSet<String>,
    outcomes: &mut HashMap<String, Outcome>,
) -> Result<BatchEnd, LedgerError>
where
    L: Lookup,
{
    let BulkWrite {
        kind,
        route,
        kustomer,
        lookup,
        ..
    } = bulk;
    if items.is_empty() {
        return Ok(BatchEnd::Answered);
    }
    let batch = new_batch_id();
    let ids: Vec<String> = items.iter().map(|(id, _)| id.clone()).collect();
    ledger.mark_sent(kind, ids.clone(), Some(&batch)).await?;
    // Each body tagged where it is (a body sent again gets its new batch's reference).
    let refs: Vec<(String, Value)> = items
        .into_iter()
        .map(|(id, mut body)| {
            let r = client_ref(&batch, &id);
            if let Value::Object(map) = &mut body {
                map.insert("_clientRef".into(), Value::String(r.clone()));
            }
            (r, body)
        })
        .collect();
    let submitted = bulk.submit(&refs).await;
    // Each item as sent, for the ledger entry should it fail.
    let mut sent: HashMap<String, Value> = refs.into_iter().collect();
    let mut take_items = |ids: &[String]| -> Vec<(String, Value)> {
        ids.iter()
            .filter_map(|id| {
                let body = sent.remove(&client_ref(&batch, id))?;
                Some((id.clone(), body))
            })
            .collect()
    };
    let job = match submitted {
        Ok(job) => job,
        Err(e) if is_ambiguous(&e) => {
            // The batch may be running: its items are looked up after the bulk patience.
            let items = take_items(&ids);
            for id in ids {
                outcomes.insert(id, Outcome::Unsettled);
            }
            return Ok(BatchEnd::Lost(items));
        }
        Err(e) if ids.len() > 1 && refused_for_content(&e) => {
            tracing::info!(
                "bulk batch {batch} of {} {kind} refused as a whole ({e}); splitting it to find the item at fault",
                ids.len()
            );
            return Ok(BatchEnd::Refused(take_items(&ids)));
        }
        Err(e) => {
            for id in ids {
                let r = client_ref(&batch, &id);
                let (request, response) = route.submit_exchange(&r, sent.get(&r), &e);
                ledger.mark_failed(kind, &id, e.class(), &e.to_string(), &request, &response)?;
                outcomes.insert(id, Outcome::Failed);
            }
            return Ok(BatchEnd::Answered);
        }
    };
    ledger.record_job(&batch, &job)?;
    // An item as it was sent, to be sent again when its answer is lost (its `_clientRef` is
    // replaced by the new batch's).
    let as_sent = |id: &String| (id.clone(), sent[&client_ref(&batch, id)].clone());
    let results = match job_results(kustomer, &job).await {
        Ok(r) => r,
        Err(e) => {
            // The job is known and may still be running (a poll that gave up): recovery reads
            // the job again, the one authority on its items. Looking them up now and sending
            // the absent ones again could duplicate what the job has yet to create.
            tracing::warn!("bulk job of batch {batch} could not be read: {e}");
            for id in ids {
                outcomes.insert(id, Outcome::Unsettled);
            }
            return Ok(BatchEnd::Answered);
        }
    };
    let unanswered: Vec<(String, Value)> = ids
        .iter()
        .filter(|id| !results.contains_key(&client_ref(&batch, id)))
        .map(as_sent)
        .collect();
    // The job's own time on the server: the time its submission queued for the budget or hung
    // before answering is not the job's, nor is a poll that timed out and was sent again;
    // counted in, one hung request would stretch the bulk patience (three times the longest
    // latency) to minutes of idle settling. Once enough jobs are known, their 90th percentile
    // is what the ledger keeps: a job is seen complete only when a poll asks, and a poll that
    // queued behind a busy budget makes its job look seconds longer than it was; one such
    // job would otherwise set the patience of every later lost answer (`small` under faults:
    // 16 s learnt for jobs the server completes within 2 s, 49 s of idle settling).
    let learnt = bulk
        .kustomer
        .recent_job_latency(0.9)
        .or_else(|| bulk.kustomer.job_server_latency(&job));
    if let Some(latency) = learnt {
        ledger.record_bulk_latency(latency)?;
    }
    for id in ids {
        let r = client_ref(&batch, &id);
        let outcome = match results.get(&r) {
            Some(ItemResult::Created(t)) => {
                ledger.mark_done(kind, &id, t)?;
                Outcome::Done(t.clone())
            }
            // An update route's answer; on a create route, Kustomer updated a record that had
            // the externalId already: it existed before this migration sent it.
            Some(ItemResult::Updated(t)) => {
                let origin = if route.is_update() {
                    Origin::Created
                } else {
                    Origin::Matched
                };
                ledger.mark_done_as(kind, &id, t, origin)?;
                Outcome::Done(t.clone())
            }
            Some(ItemResult::Error { message, duplicate }) => {
                let mut response = route.item_response(&job, &r, message);
                if *duplicate {
                    match lookup.find(id.clone()).await {
                        Ok(Some(t)) => {
                            // Sent again after its answer was lost: the record is the one the
                            // lost request created (as `settle_lost` takes a found one to be).
                            // Otherwise it existed before this migration sent it.
                            let origin = if resent_after_loss.contains(&id) {
                                Origin::Created
                            } else {
                                Origin::Matched
                            };
                            ledger.mark_done_as(kind, &id, &t, origin)?;
                            outcomes.insert(id, Outcome::Done(t));
                            continue;
                        }
                        // The lookup answered "not found": that answer is the news.
                        Ok(None) => response.push_str("\nlookup by externalId: no such record"),
                        Err(e) => {
                            let o = fail(ledger, kind, &id, &e)?;
                            outcomes.insert(id, o);
                            continue;
                        }
                    }
                }
                let request = route.item_request(&r, sent.get(&r));
                ledger.mark_failed(
                    kind,
                    &id,
                    ErrorClass::Rejected,
                    message,
                    &request,
                    &response,
                )?;
                Outcome::Failed
            }
            None => Outcome::Unsettled,
        };
        outcomes.insert(id, outcome);
    }
    if unanswered.is_empty() {
        Ok(BatchEnd::Answered)
    } else {
        Ok(BatchEnd::Lost(unanswered))
    }
}

/// [`adopt_one`] for a bulk batch of a fresh ledger: the items found in Kustomer are adopted
/// (done, with their outcome in `outcomes`), those whose lookup failed are failed with its reason
/// while the kind is loaded lookup-first; the rest are returned to be created. Each item is
/// looked up at most once, by its own externalId: an answer "not found" settles it.
async fn adopt_bulk<L>(
    ledger: &Ledger,
    kind: &str,
    items: Vec<(String, Value)>,
    lookup: &L,
    outcomes: &mut HashMap<String, Outcome>,
) -> Result<Vec<(String, Value)>, LedgerError>
where
    L: Lookup,
{
    let mut items = items;
    let mut unsampled = Vec::new();
    match adoption_of(ledger, kind) {
        Adoption::Create => return Ok(items),
        Adoption::LookupFirst => {}
        // Only as many as the sample still needs are looked up; if one of them is found, the
        // rest are looked up too (below), else they are created.
        Adoption::Sampling { probed } => {
            let wanted = ADOPTION_SAMPLE.saturating_sub(probed).max(1) as usize;
            if items.len() > wanted {
                unsampled = items.split_off(wanted);
            }
        }
    }
    let found: Vec<(String, Value, Result<Option<String>, KustomerError>)> =
        futures_util::stream::iter(items.into_iter().map(|(id, body)| async move {
            let one = || lookup.find(id.clone());
            let found = adopt_one(ledger, kind, &one).await;
            (id, body, found)
        }))
        .buffered(ADOPTION_CONCURRENCY)
        .collect()
        .await;
    // Found before this migration sent anything: it existed already.
    let mut rest = take_found(ledger, kind, found, Origin::Matched, outcomes)?;
    if !unsampled.is_empty() {
        if adoption_of(ledger, kind) == Adoption::LookupFirst {
            let adopted = Box::pin(adopt_bulk(ledger, kind, unsampled, lookup, outcomes)).await?;
            rest.extend(adopted);
        } else {
            rest.extend(unsampled);
        }
    }
    Ok(rest)
}

/// Settles `sent` items of `kind` left by a lost answer or a crash: a known job is read again;
/// an item without a job is looked up once the bulk patience has passed since it was sent
/// (found → done, absent → back to pending so the load sends it again). The kind catalog gives
/// the bulk route an item went to, for the ledger entry of an item the job refused.
pub async fn recover_sent<L>(ctx: &Ctx, kind: Kind, lookup: L) -> Result<u64, LedgerError>
where
    L: Lookup,
{
    let (ledger, kustomer) = (&ctx.ledger, &ctx.kustomer);
    let route = |item: &WorkItem| BulkRoute::of_item(ctx, kind, item.raw.as_deref());
    let kind = kind.as_str();
    let mut settled = 0;
    let mut jobs: HashMap<String, HashMap<String, ItemResult>> = HashMap::new();
    // A resumed run settles every `sent` item of a kind at once; its pages are read on the
    // blocking pool so the lookups running beside it keep their async workers.
    let mut pages = ledger.pages(kind, &[RecordState::Sent], 500);
    while let Some(page) = pages.next_page().await? {
        // The page's jobs not read yet, read at once rather than one after another: each is a
        // poll that may have to wait out a hung read.
        let mut unread: Vec<String> = page
            .iter()
            .filter(|item| item.batch_id.is_some())
            .filter_map(|item| item.job_id.clone())
            .filter(|job| !jobs.contains_key(job))
            .collect();
        unread.sort_unstable();
        unread.dedup();
        let mut reads = Vec::with_capacity(unread.len());
        for job in unread {
            reads.push(async move {
                let read = job_results(kustomer, &job).await;
                (job, read.unwrap_or_default())
            });
        }
        jobs.extend(
            futures_util::stream::iter(reads)
                .buffer_unordered(SETTLE_CONCURRENCY)
                .collect::<Vec<_>>()
                .await,
        );
        let mut to_look_up = Vec::new();
        for item in page {
            if let (Some(job), Some(batch)) = (&item.job_id, &item.batch_id) {
                let r = client_ref(batch, &item.source_id);
                if let Some(result) = jobs.get(job).and_then(|results| results.get(&r)) {
                    match result {
                        ItemResult::Created(t) | ItemResult::Updated(t) => {
                            ledger.mark_done(kind, &item.source_id, t)?
                        }
                        ItemResult::Error {
                            message,
                            duplicate: false,
                        } => {
                            let route = route(&item);
                            ledger.mark_failed(
                                kind,
                                &item.source_id,
                                ErrorClass::Rejected,
                                message,
                                &route.item_request(&r, None),
                                &route.item_response(job, &r, message),
                            )?
                        }
                        ItemResult::Error {
                            duplicate: true, ..
                        } => {
                            settle_by_lookup(ledger, &item, &lookup).await?;
                        }
                    }
                    settled += 1;
                    continue;
                }
            }
            to_look_up.push(item);
        }
        // Items without a job are looked up once the bulk patience has passed since the
        // youngest of them was sent, all at once rather than one after another.
        let patience = ledger.bulk_patience();
        let youngest = to_look_up
            .iter()
            .map(|item| {
                item.sent_ms
                    .map(|ms| crate::timefmt::now_unix() * 1000 - ms)
                    .map(|ms| Duration::from_millis(ms.max(0) as u64))
                    .unwrap_or(patience)
            })
            .min();
        if let Some(age) = youngest
            && age < patience
        {
            tokio::time::sleep(patience - age).await;
        }
        // Futures collected first: a stream holding the closure itself would not be `Send` for
        // every lifetime, which would keep the phase off spawned tasks.
        let mut lookups = Vec::with_capacity(to_look_up.len());
        for item in &to_look_up {
            lookups.push(settle_by_lookup(ledger, item, &lookup));
        }
        let results: Vec<Result<(), LedgerError>> = futures_util::stream::iter(lookups)
            .buffer_unordered(SETTLE_CONCURRENCY)
            .collect()
            .await;
        for result in results {
            result?;
            settled += 1;
        }
    }
    Ok(settled)
}

/// Lookups in flight at once while an earlier run's `sent` records are settled.
const SETTLE_CONCURRENCY: usize = 8;

async fn settle_by_lookup<L>(
    ledger: &Ledger,
    item: &WorkItem,
    lookup: &L,
) -> Result<(), LedgerError>
where
    L: Lookup,
{
    match lookup.find(item.source_id.clone()).await {
        Ok(Some(t)) => ledger.mark_done(&item.kind, &item.source_id, &t),
        Ok(None) => ledger.reset_to_pending(vec![(item.kind.clone(), item.source_id.clone())]),
        Err(e) => fail(ledger, &item.kind, &item.source_id, &e).map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_refs_stay_within_255_bytes_whole_and_distinct() {
        let batch = "0123abcd";
        assert_eq!(client_ref(batch, "c1"), "0123abcd:c1");
        // A multi-byte character straddles byte 255 of "{batch}:{id}".
        let a = format!("{}é-one", "x".repeat(245));
        let b = format!("{}é-two", "x".repeat(245));
        let (ra, rb) = (client_ref(batch, &a), client_ref(batch, &b));
        assert!(ra.len() <= MAX_CLIENT_REF_LEN && rb.len() <= MAX_CLIENT_REF_LEN);
        assert_ne!(ra, rb);
        assert!(ra.starts_with("0123abcd:#"));
        assert_eq!(ra, client_ref(batch, &a), "the same id gives the same ref");
        let long_unicode = "日本語".repeat(100);
        assert!(client_ref(batch, &long_unicode).len() <= MAX_CLIENT_REF_LEN);
    }
}
