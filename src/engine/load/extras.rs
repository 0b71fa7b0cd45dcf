//! Phase Extras: what hangs off customers and companies once they exist.
//!
//! - Segments: each is in use or not (the operator's decision, else the default rule: members
//!   and updated within `segment_max_age_days`). In use → a membership tag (`segment_tags`), the
//!   saved search filtering on it (`segments`), and the tag on every member (`segment_members`,
//!   bulk customer updates carrying the member's full tag list, since `tags` replaces). Unused →
//!   the archive.
//! - Tickets → kobjects of their ticket type's klass; contact and company notes → `intercom_note`
//!   kobjects; both in bulk through the write path, found again by externalId in their klass.
//! - Data events → tracking events (`/v1/tracking/identityEvent`; no lookup route exists, so a
//!   lost answer marks the event `unknown` and it is not resent unless the operator retries) or,
//!   with `events_as_kobjects`, `intercom_event` kobjects in bulk. Event summaries holding events
//!   older than the 90-day listing go to the archive.
//! - Macros → shortcuts (assumed create body), found again by name.
//!
//! A type the operator put in the archive or manual bucket is disposed of that way instead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::MapRecord;
use crate::engine::context::Ctx;
use crate::engine::decisions::Decisions;
use crate::engine::kinds::{self, BulkTo};
use crate::engine::load::companies::{BulkLoad, load_bulk};
use crate::engine::load::kb::all_items;
use crate::engine::load::read_source;
use crate::engine::model::{Bucket, LogLevel};
use crate::engine::write::{self, BulkWrite, Outcome};
use crate::http::ApiError;
use crate::intercom::models::TicketType;
use crate::kustomer::KustomerError;
use crate::ledger::{Ledger, RecordState, WorkItem};
use crate::mapping::companies::Mapped;
use crate::mapping::extras::{self as map, NoteOwner};
use crate::mapping::people::{NOTE_KLASS, TicketField, ticket_fields};
use crate::timefmt;
use crate::vocab::{ErrorClass, Kind, PhaseId};

/// Records read from the ledger per page (bulk requests of a page in flight at once: see
/// `load::BULK_CONCURRENCY`).
const PAGE: usize = 2000;
/// Tracking events in flight at once: one request each, no bulk route.
const TRACKING_CONCURRENCY: usize = 16;
/// Single creates (shortcuts) in flight at once.
const SINGLE_CREATES_IN_FLIGHT: usize = 8;

pub async fn run(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let decisions = Decisions::load(&ctx.ledger)?;
    let imported_at = timefmt::unix_to_iso(timefmt::now_unix());
    for kind in [
        Kind::Segments.as_str(),
        Kind::Tickets.as_str(),
        Kind::ContactNotes.as_str(),
        Kind::CompanyNotes.as_str(),
        Kind::DataEvents.as_str(),
        Kind::Macros.as_str(),
    ] {
        ctx.ledger.ensure_pending_from_sources(kind, kind).await?;
    }
    ctx.ledger.flush().await?;

    // Lanes at once: the bulk kinds mostly wait on their jobs, the events (one request each
    // without a bulk route) fill the budget meanwhile. Nothing in one lane needs another's, and
    // nothing waits on an event: they go as filler, in the turns the bulk jobs, their polls and
    // the other phases leave, so a poll never queues behind a thousand events. The bulk kinds
    // are lanes of their own too: each may wait on a job, or out the patience a lost answer
    // calls for before its items are looked up, and one kind's wait need not hold the next.
    let segments_lane = async {
        if !dispose_by_bucket(ctx, &decisions, Kind::Segments.as_str()).await? {
            segments(ctx, &decisions).await?;
            memberships(ctx).await?;
        }
        anyhow::Ok(())
    };
    let tickets_lane = async {
        if !dispose_by_bucket(ctx, &decisions, Kind::Tickets.as_str()).await? {
            tickets(ctx, &imported_at).await?;
        }
        anyhow::Ok(())
    };
    let notes_lane = |kind: Kind| {
        let (decisions, imported_at) = (&decisions, &imported_at);
        async move {
            if !dispose_by_bucket(ctx, decisions, kind.as_str()).await? {
                notes(ctx, decisions, kind.as_str(), imported_at).await?;
            }
            anyhow::Ok(())
        }
    };
    let macros_lane = async {
        if !dispose_by_bucket(ctx, &decisions, Kind::Macros.as_str()).await? {
            macros(ctx).await?;
        }
        anyhow::Ok(())
    };
    let bulk_lane = async {
        tokio::try_join!(
            segments_lane,
            tickets_lane,
            notes_lane(Kind::ContactNotes),
            notes_lane(Kind::CompanyNotes),
            macros_lane,
        )?;
        anyhow::Ok(())
    };
    let events_lane = crate::http::gate::as_filler(async {
        if !dispose_by_bucket(ctx, &decisions, Kind::DataEvents.as_str()).await? {
            if ctx.config.options.events_as_kobjects {
                event_kobjects(ctx, &imported_at).await?;
            } else {
                tracking_events(ctx).await?;
            }
        }
        event_summaries(ctx).await?;
        anyhow::Ok(())
    });
    tokio::try_join!(bulk_lane, events_lane)?;
    ctx.ledger.flush().await?;
    Ok(())
}

/// Archives or lists for manual rebuild every open record of `kind` when the operator chose that
/// bucket; returns whether it did (the type is then not loaded).
async fn dispose_by_bucket(ctx: &Ctx, decisions: &Decisions, kind: &str) -> anyhow::Result<bool> {
    let bucket = decisions.bucket(kind);
    if bucket == Bucket::Migrate {
        return Ok(false);
    }
    // Page by page: an archived type can be a big one (data events, notes), and the whole kind
    // would otherwise sit in memory at once.
    let mut pages = ctx
        .ledger
        .pages(kind, &[RecordState::Pending, RecordState::Failed], PAGE);
    while let Some(page) = pages.next_page().await? {
        for item in page {
            match bucket {
                Bucket::Archive => ctx.ledger.archive(
                    kind,
                    &item.source_id,
                    "the operator put this type in the archive bucket",
                )?,
                _ => ctx.ledger.add_manual_item(
                    Some((kind, &item.source_id)),
                    &format!("Rebuild {kind} {}", item.source_id),
                    &item.raw.clone().unwrap_or_default(),
                )?,
            }
        }
    }
    ctx.ledger.flush().await?;
    Ok(true)
}

fn contact_customer(ledger: &Ledger, contact_id: &str) -> anyhow::Result<Option<String>> {
    Ok(ledger.target_id(Kind::Contacts.as_str(), contact_id)?)
}

// ---- segments ---------------------------------------------------------------------------------

async fn segments(ctx: &Arc<Ctx>, decisions: &Decisions) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let kustomer = &ctx.kustomer;
    let now = timefmt::now_unix();
    for item in all_items(
        ledger,
        Kind::Segments.as_str(),
        &[RecordState::Pending, RecordState::Sent],
    )
    .await?
    {
        ctx.control.checkpoint().await?;
        let id = item.source_id.clone();
        let Some((raw, _)) = read_source(ledger, &item)? else {
            continue;
        };
        let in_use = decisions.segment_in_use(&id).unwrap_or_else(|| {
            map::segment_in_use_by_default(raw, now, ctx.config.options.segment_max_age_days)
        });
        if !in_use {
            ledger.archive(
                Kind::Segments.as_str(),
                &id,
                "unused segment: not carried as a saved search (its definition is archived)",
            )?;
            continue;
        }
        let Some(name) = map::segment_name(raw) else {
            ledger.mark_failed(
                Kind::Segments.as_str(),
                &id,
                ErrorClass::Source,
                "the segment has no name",
                "",
                "",
            )?;
            continue;
        };
        let _guard = ctx.in_flight(PhaseId::Extras, 1);
        if super::tag_fallback::route_absent(ledger)? {
            ledger.mark_failed(
                Kind::Segments.as_str(),
                &id,
                ErrorClass::Rejected,
                "its membership tag cannot be created: POST /v1/tags is absent on this org and Kustomer creates tags only on conversations, which the segment's members are not",
                "",
                "",
            )?;
            continue;
        }
        // The membership tag first: the saved search filters on its id.
        ledger
            .ensure_pending(Kind::SegmentTags.as_str(), vec![id.clone()])
            .await?;
        let tag_item = ledger
            .read(|r| r.record(Kind::SegmentTags.as_str(), &id))?
            .ok_or_else(|| anyhow::anyhow!("segment tag record {id} vanished"))?;
        let tag_name = map::segment_tag_name(&id, &name);
        let (made, refusal) = super::companies::create_tag(ctx, &tag_item, &tag_name).await?;
        if let Some(refusal) = refusal {
            super::tag_fallback::remember_absent(ctx, &refusal).await?;
        }
        let Outcome::Done(tag_id) = made else {
            ledger.mark_failed(
                Kind::Segments.as_str(),
                &id,
                ErrorClass::Rejected,
                "its membership tag could not be created",
                "",
                "",
            )?;
            continue;
        };
        let body = map::saved_search_body(&name, &tag_id);
        let create = || kustomer.create_saved_search(body.clone());
        let list = || kustomer.list_saved_searches();
        super::create_named(ledger, &item, &name, create, list).await?;
    }
    ledger.flush().await?;
    Ok(())
}

/// Ids of a contact's tags as Kustomer knows them (the list the customer was created with).
fn contact_tag_ids(
    ledger: &Ledger,
    contact_id: &str,
    contact_raw: &Value,
) -> anyhow::Result<Vec<String>> {
    let intercom = super::tag_fallback::contact_intercom_tags(ledger, contact_id, contact_raw)?;
    let mut out = Vec::new();
    for t in intercom {
        if let Some(k) = ledger.target_id(Kind::Tags.as_str(), &t)?
            && !out.contains(&k)
        {
            out.push(k);
        }
    }
    Ok(out)
}

async fn memberships(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let kind = Kind::SegmentMembers.as_str();
    ledger
        .ensure_pending_from_sources(Kind::ContactSegments.as_str(), kind)
        .await?;
    ledger.flush().await?;
    let no_lookup = |_id: String| async { Ok::<_, KustomerError>(None) };
    let Some(bulk) = BulkWrite::of(ctx, Kind::SegmentMembers, None, no_lookup) else {
        anyhow::bail!("the kind catalog writes {kind} otherwise than in bulk");
    };
    write::recover_sent(ctx, Kind::SegmentMembers, no_lookup).await?;
    let mut pages = ledger.pages(kind, &[RecordState::Pending], PAGE);
    loop {
        ctx.control.checkpoint().await?;
        let Some(page) = pages.next_page().await? else {
            break;
        };
        let mut updates = Vec::new();
        for item in &page {
            let cid = &item.source_id;
            let mut segment_tags = Vec::new();
            for sid in map::contact_segment_ids(item.raw.as_deref().unwrap_or("[]")) {
                if let Some(t) = ledger.target_id(Kind::SegmentTags.as_str(), &sid)? {
                    segment_tags.push(t);
                }
            }
            if segment_tags.is_empty() {
                ledger.mark_skipped(
                    kind,
                    cid,
                    "the contact is in no segment carried as a saved search",
                )?;
                continue;
            }
            let Some(customer) = contact_customer(ledger, cid)? else {
                ledger.mark_failed(
                    kind,
                    cid,
                    ErrorClass::Mapping,
                    "the contact's customer was not loaded, so its segment tags cannot be set",
                    "",
                    "",
                )?;
                continue;
            };
            let contact_raw: Value = ledger
                .read(|r| r.source(Kind::Contacts.as_str(), cid))?
                .and_then(|s| serde_json::from_str(&s.raw).ok())
                .unwrap_or(Value::Null);
            let mut tags = contact_tag_ids(ledger, cid, &contact_raw)?;
            for t in segment_tags {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            updates.push((cid.clone(), json!({ "id": customer, "tags": tags })));
        }
        let unsettled = super::send_bulk(ctx, PhaseId::Extras, &bulk, updates).await?;
        warn_lost(ctx, kind, unsettled);
    }
    Ok(())
}

/// Says when answers of a page's bulk requests were lost (the next pass looks them up).
fn warn_lost(ctx: &Ctx, kind: &str, unsettled: usize) {
    if unsettled > 0 {
        ctx.log(
            LogLevel::Warn,
            format!("{kind}: {unsettled} bulk answers were lost; the next pass looks them up"),
        );
    }
}

// ---- kobjects (tickets, notes, events) -------------------------------------------------------

/// Loads every pending record of `kind` as kobjects where `to` sends them (the kind catalog's
/// route, or [`kinds::EVENTS_AS_KOBJECTS`]) through the shared bulk loop: `map` gives each its
/// body; times Kustomer cannot read are left out of the body, and a warning keeps the original
/// value for the report. A record Intercom could not return whole waits for a later extraction.
async fn load_kobjects(
    ctx: &Arc<Ctx>,
    kind: Kind,
    to: BulkTo,
    map: impl MapRecord,
) -> anyhow::Result<()> {
    let load = BulkLoad {
        phase: PhaseId::Extras,
        kind,
        to,
        complete_only: true,
        warn_times: true,
    };
    load_bulk(ctx, load, map).await
}

async fn tickets(ctx: &Arc<Ctx>, imported_at: &str) -> anyhow::Result<()> {
    let ledger = ctx.ledger.clone();
    let mut fields: HashMap<String, Vec<TicketField>> = HashMap::new();
    for r in ledger.read(|r| r.sources_page(Kind::TicketTypes.as_str(), None, 10_000))? {
        let tt: TicketType = serde_json::from_str(&r.raw).unwrap_or_default();
        fields.insert(r.source_id.clone(), ticket_fields(&tt));
    }
    let l = ledger.clone();
    let mapper = move |_item: &WorkItem, raw: &str| {
        let (ticket_type, contact) =
            map::ticket_links(raw).map_err(|e| (ErrorClass::Source, e.to_string()))?;
        if l.target_id(Kind::TicketTypes.as_str(), &ticket_type)
            .ok()
            .flatten()
            .is_none()
        {
            return Err((
                ErrorClass::Mapping,
                format!(
                    "the klass for ticket type {ticket_type} was not created (phase Prerequisites)"
                ),
            ));
        }
        let customer = match &contact {
            Some(c) => Some(
                l.target_id(Kind::Contacts.as_str(), c)
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        (
                            ErrorClass::Mapping,
                            format!("its contact {c} was not loaded as a customer"),
                        )
                    })?,
            ),
            None => None,
        };
        let f = fields
            .get(&ticket_type)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let (body, notes) = map::ticket_kobject(raw, customer.as_deref(), f, imported_at)
            .map_err(|e| (ErrorClass::Source, e.to_string()))?;
        Ok(Mapped { body, notes })
    };
    // Tickets loaded earlier whose Intercom record changed since: updated in place first.
    super::delta::update_changed(ctx, Kind::Tickets, &mapper).await?;
    load_kobjects(ctx, Kind::Tickets, BulkTo::TicketKlass, mapper).await
}

async fn notes(
    ctx: &Arc<Ctx>,
    decisions: &Decisions,
    kind: &str,
    imported_at: &str,
) -> anyhow::Result<()> {
    let ledger = ctx.ledger.clone();
    let company = kind == Kind::CompanyNotes.as_str();
    let mapper = |item: &WorkItem, raw: &str| {
        let parent = ledger
            .read(|r| r.source(kind, &item.source_id))
            .ok()
            .flatten()
            .and_then(|s| s.parent_id)
            .ok_or((
                ErrorClass::Source,
                "the note has no contact or company".to_string(),
            ))?;
        let owner_kind = if company {
            Kind::Companies.as_str()
        } else {
            Kind::Contacts.as_str()
        };
        let owner = ledger
            .target_id(owner_kind, &parent)
            .ok()
            .flatten()
            .ok_or_else(|| {
                (
                    ErrorClass::Mapping,
                    format!("its {owner_kind} record {parent} was not loaded"),
                )
            })?;
        let owner_ref = if company {
            NoteOwner::Company(&owner)
        } else {
            NoteOwner::Customer(&owner)
        };
        let author =
            map::note_author_id(raw).and_then(|a| decisions.user_for_admin(&a).map(str::to_string));
        let body = map::note_kobject(raw, owner_ref, author.as_deref(), imported_at)
            .map_err(|e| (ErrorClass::Source, e.to_string()))?;
        Ok(Mapped {
            body,
            notes: Vec::new(),
        })
    };
    let catalogued = if company {
        Kind::CompanyNotes
    } else {
        Kind::ContactNotes
    };
    load_kobjects(ctx, catalogued, BulkTo::KObjects(NOTE_KLASS), mapper).await
}

async fn event_kobjects(ctx: &Arc<Ctx>, imported_at: &str) -> anyhow::Result<()> {
    let ledger = ctx.ledger.clone();
    let mapper = |item: &WorkItem, raw: &str| {
        let contact = item
            .source_id
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let customer = ledger
            .target_id(Kind::Contacts.as_str(), &contact)
            .ok()
            .flatten()
            .ok_or_else(|| {
                (
                    ErrorClass::Mapping,
                    format!("its contact {contact} was not loaded as a customer"),
                )
            })?;
        let body = map::event_kobject(raw, &item.source_id, &customer, imported_at)
            .map_err(|e| (ErrorClass::Source, e.to_string()))?;
        Ok(Mapped {
            body,
            notes: Vec::new(),
        })
    };
    load_kobjects(ctx, Kind::DataEvents, kinds::EVENTS_AS_KOBJECTS, mapper).await
}

/// Tracking events have no lookup route: an event left `sent` (or whose answer was lost) is
/// marked `unknown` and not resent unless the operator retries it.
async fn tracking_events(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    const UNKNOWN: &str = "the answer was lost and Kustomer has no lookup for tracking events: it may or may not have been recorded: check it in Kustomer (it is never sent again)";
    for item in all_items(ledger, Kind::DataEvents.as_str(), &[RecordState::Sent]).await? {
        ledger.mark_unknown(
            Kind::DataEvents.as_str(),
            &item.source_id,
            UNKNOWN,
            "(sent by an earlier run that ended before its answer)",
            crate::engine::load::NO_ANSWER,
        )?;
    }
    let pace = CustomerPace::new(TRACKING_PER_CUSTOMER_PER_MINUTE, Duration::from_secs(60));
    let mut pages = ledger.pages(Kind::DataEvents.as_str(), &[RecordState::Pending], PAGE);
    loop {
        ctx.control.checkpoint().await?;
        let Some(page) = pages.next_page().await? else {
            break;
        };
        ctx.set_activity(format!(
            "data events: {} as tracking events — one request each (Kustomer has no bulk route \
             for them) and at most {TRACKING_PER_CUSTOMER_PER_MINUTE} a minute per customer",
            page.len()
        ));
        let mut sends = Vec::new();
        for item in page {
            let contact = contact_of(&item.source_id).to_string();
            if contact_customer(ledger, &contact)?.is_none() {
                ledger.mark_failed(
                    Kind::DataEvents.as_str(),
                    &item.source_id,
                    ErrorClass::Mapping,
                    &format!("its contact {contact} was not loaded as a customer"),
                    "",
                    "",
                )?;
                continue;
            }
            let email = ledger
                .read(|r| r.source(Kind::Contacts.as_str(), &contact))?
                .and_then(|s| serde_json::from_str::<Value>(&s.raw).ok())
                .and_then(|v| v.get("email").and_then(Value::as_str).map(str::to_string));
            let Some((raw, record)) = read_source(ledger, &item)? else {
                continue;
            };
            for note in crate::mapping::clean::out_of_range_times(&record, &[]) {
                ledger.add_warning(Kind::DataEvents.as_str(), Some(&item.source_id), &note)?;
            }
            match map::tracking_event(raw, &contact, email.as_deref()) {
                Ok(body) => sends.push((item.source_id, body)),
                Err(e) => ledger.mark_failed(
                    Kind::DataEvents.as_str(),
                    &item.source_id,
                    ErrorClass::Source,
                    &e.to_string(),
                    "",
                    "",
                )?,
            }
        }
        let pace = &pace;
        let mut stream = futures_util::stream::iter(interleave(sends).into_iter().map(
            |(id, (identity, event))| async move {
                pace.wait_turn(contact_of(&id)).await;
                let _guard = ctx.in_flight(PhaseId::Extras, 1);
                ledger
                    .mark_sent(Kind::DataEvents.as_str(), vec![id.clone()], None)
                    .await?;
                match ctx.kustomer.identity_event(identity, event).await {
                    // Kustomer answers 204 without an id: the event is recorded against its customer.
                    Ok(()) => ledger.mark_done(Kind::DataEvents.as_str(), &id, "tracked")?,
                    Err(e @ KustomerError::Api(ApiError::Ambiguous { .. })) => {
                        let (req, resp) = e.exchange();
                        ledger.mark_unknown(
                            Kind::DataEvents.as_str(),
                            &id,
                            &format!("{UNKNOWN} ({e})"),
                            &req,
                            &resp,
                        )?
                    }
                    Err(e) => {
                        let (req, resp) = e.exchange();
                        ledger.mark_failed(
                            Kind::DataEvents.as_str(),
                            &id,
                            e.class(),
                            &e.to_string(),
                            &req,
                            &resp,
                        )?
                    }
                }
                Ok::<(), anyhow::Error>(())
            },
        ))
        .buffer_unordered(TRACKING_CONCURRENCY);
        while let Some(r) = stream.next().await {
            r?;
        }
    }
    Ok(())
}

/// Tracking events one customer may receive per minute. Kustomer limits creates per customer
/// (120 a minute for messages, conversations, kobjects and notes); `importedAt` lifts that for
/// historical records, but a tracking event has no such field, so the limit holds for them.
const TRACKING_PER_CUSTOMER_PER_MINUTE: usize = 120;

/// A data event's contact: its record id is `<contact>:<digest>:<n>`.
fn contact_of(event_id: &str) -> &str {
    event_id.split(':').next().unwrap_or_default()
}

/// The page's events reordered so that consecutive sends go to different customers (round
/// robin over the contacts, each contact's events in their order): sent in contact order, a
/// contact with many events would take every request in flight and meet its per-customer limit
/// while the other customers wait.
fn interleave<T>(sends: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut by_contact: Vec<(String, std::collections::VecDeque<(String, T)>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (id, value) in sends {
        let contact = contact_of(&id).to_string();
        let at = *index.entry(contact.clone()).or_insert_with(|| {
            by_contact.push((contact, std::collections::VecDeque::new()));
            by_contact.len() - 1
        });
        by_contact[at].1.push_back((id, value));
    }
    let mut out = Vec::new();
    loop {
        let mut any = false;
        for (_, queue) in &mut by_contact {
            if let Some(next) = queue.pop_front() {
                out.push(next);
                any = true;
            }
        }
        if !any {
            return out;
        }
    }
}

/// At most `limit` sends per customer in any `window`: a send over the limit waits for the
/// customer's oldest send in the window to age out. Customers idle for a whole window are
/// forgotten, so the maps hold the customers of the last two windows at most, not the
/// workspace's.
///
/// With the budgets unlimited every customer of `large` (100k) sends within one window, so a
/// customer costs little until it nears the limit: a [`Light`] count (its sends taken, as
/// late as possible, to have all happened at its last one) until half the limit, then the exact
/// times. Customers are keyed by a 64-bit hash of their id: two ids with one hash would only
/// share one (stricter) count.
struct CustomerPace {
    limit: usize,
    window: Duration,
    sent: std::sync::Mutex<Sends>,
}

/// A customer's sends while few: `count` of them, the last at `last`.
#[derive(Clone, Copy)]
struct Light {
    last: Instant,
    count: u32,
}

/// Each customer's sends within the window, and when customers idle for a window were last
/// forgotten.
struct Sends {
    light: HashMap<u64, Light>,
    /// Customers past half the limit: the times of their sends within the window.
    exact: HashMap<u64, std::collections::VecDeque<Instant>>,
    pruned: Instant,
}

/// The key a customer's sends are counted under.
fn customer_key(customer: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(customer)
}

impl CustomerPace {
    fn new(limit: usize, window: Duration) -> CustomerPace {
        CustomerPace {
            limit: limit.max(1),
            window,
            sent: std::sync::Mutex::new(Sends {
                light: HashMap::new(),
                exact: HashMap::new(),
                pruned: Instant::now(),
            }),
        }
    }

    /// How long `customer`'s next send must wait at `now`; when zero, the send is counted.
    fn reserve(&self, customer: &str, now: Instant) -> Duration {
        let window = self.window;
        let within = |t: Instant| now.saturating_duration_since(t) < window;
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        // Once a window, not on every send: a pass over the maps costs as many customers as
        // sent in the last minute (tens of thousands with the budgets unlimited).
        if !within(sent.pruned) {
            sent.light.retain(|_, light| within(light.last));
            sent.exact
                .retain(|_, times| times.back().is_some_and(|t| within(*t)));
            sent.pruned = now;
        }
        let key = customer_key(customer);
        let sent = &mut *sent;
        if !sent.exact.contains_key(&key) {
            let light = sent.light.entry(key).or_insert(Light {
                last: now,
                count: 0,
            });
            if !within(light.last) {
                light.count = 0;
            }
            if (light.count as usize) < (self.limit / 2).max(1) {
                light.count += 1;
                light.last = now;
                return Duration::ZERO;
            }
            // Near the limit: its sends so far, each taken at the last one's time (no earlier
            // than it was), are counted exactly from here on.
            let Light { last, count } = *light;
            sent.light.remove(&key);
            sent.exact
                .insert(key, std::iter::repeat_n(last, count as usize).collect());
        }
        let times = sent.exact.entry(key).or_default();
        while times.front().is_some_and(|t| !within(*t)) {
            times.pop_front();
        }
        if times.len() < self.limit {
            times.push_back(now);
            return Duration::ZERO;
        }
        times
            .front()
            .map_or(Duration::ZERO, |oldest| {
                (*oldest + window).saturating_duration_since(now)
            })
            .max(Duration::from_millis(1))
    }

    async fn wait_turn(&self, customer: &str) {
        loop {
            let wait = self.reserve(customer, Instant::now());
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// Summaries with events older than the listing window go to the archive (those events exist in
/// Intercom but cannot be listed); the others are fully covered by the loaded events.
async fn event_summaries(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    ledger
        .ensure_pending_from_sources(Kind::EventSummaries.as_str(), Kind::EventSummaries.as_str())
        .await?;
    ledger.flush().await?;
    let now = timefmt::now_unix();
    // One summary per contact: paged, not held whole (100k on `large`).
    let mut pages = ledger.pages(Kind::EventSummaries.as_str(), &[RecordState::Pending], PAGE);
    while let Some(page) = pages.next_page().await? {
        for item in page {
            let Some((raw, _)) = read_source(ledger, &item)? else {
                continue;
            };
            if map::summary_has_old_events(raw, now) {
                ledger.archive(
                    Kind::EventSummaries.as_str(),
                    &item.source_id,
                    "events older than 90 days: Intercom lists only their counts, kept here",
                )?;
            } else {
                ledger.mark_skipped(
                    Kind::EventSummaries.as_str(),
                    &item.source_id,
                    "every event is within 90 days and loaded on its own",
                )?;
            }
        }
    }
    Ok(())
}

async fn macros(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let items = all_items(
        &ctx.ledger,
        Kind::Macros.as_str(),
        &[RecordState::Pending, RecordState::Sent],
    )
    .await?;
    // One create per shortcut and no bulk route: several at once, so the budget, not each
    // round trip, sets the pace.
    let mut loads = futures_util::stream::iter(items.into_iter().map(|item| async move {
        ctx.control.checkpoint().await?;
        shortcut(ctx, &item).await
    }))
    .buffer_unordered(SINGLE_CREATES_IN_FLIGHT);
    while let Some(done) = loads.next().await {
        done?;
    }
    Ok(())
}

async fn shortcut(ctx: &Ctx, item: &WorkItem) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let kustomer = &ctx.kustomer;
    let Some((raw, _)) = read_source(ledger, item)? else {
        return Ok(());
    };
    let (body, notes) = match map::shortcut_body(raw) {
        Ok(b) => b,
        Err(e) => {
            ledger.mark_failed(
                Kind::Macros.as_str(),
                &item.source_id,
                ErrorClass::Source,
                &e.to_string(),
                "",
                "",
            )?;
            return Ok(());
        }
    };
    for n in notes {
        ledger.add_warning(Kind::Macros.as_str(), Some(&item.source_id), &n)?;
    }
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let _guard = ctx.in_flight(PhaseId::Extras, 1);
    let create = || kustomer.create_shortcut(body.clone());
    let list = || kustomer.list_shortcuts();
    super::create_named(ledger, item, &name, create, list).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_interleaved_across_contacts_keeping_each_contacts_order() {
        let ids = ["a:1:1", "a:2:1", "a:3:1", "b:1:1", "c:1:1", "c:2:1"];
        let sends: Vec<(String, ())> = ids.iter().map(|i| (i.to_string(), ())).collect();
        let order: Vec<String> = interleave(sends).into_iter().map(|(id, ())| id).collect();
        assert_eq!(
            order,
            ["a:1:1", "b:1:1", "c:1:1", "a:2:1", "c:2:1", "a:3:1"].map(String::from)
        );
    }

    #[test]
    fn a_customer_never_gets_more_than_its_limit_and_few_sends_stay_light() {
        let pace = CustomerPace::new(120, Duration::from_secs(60));
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // A thousand customers with three sends each are counted, not timed.
        for c in 0..1000 {
            for n in 0..3 {
                assert!(pace.reserve(&format!("c{c}"), at(n)).is_zero());
            }
        }
        // One customer sending every 10 ms: exactly the limit goes through within the minute.
        let mut taken = Vec::new();
        for i in 0..300u64 {
            let now = at(1_000 + i * 10);
            let wait = pace.reserve("busy", now);
            if wait.is_zero() {
                taken.push(now);
            } else {
                assert!(wait <= Duration::from_secs(60), "{wait:?}");
            }
        }
        assert_eq!(taken.len(), 120);
        {
            let sent = pace.sent.lock().unwrap();
            assert_eq!(sent.exact.len(), 1, "only the busy customer is timed");
            assert_eq!(sent.light.len(), 1000);
        }
        // Later, once its sends age out, it sends again, and no minute holds more than 120.
        for i in 0..300u64 {
            let now = at(61_000 + i * 500);
            if pace.reserve("busy", now).is_zero() {
                taken.push(now);
            }
        }
        assert!(taken.len() > 120, "{}", taken.len());
        for (i, t) in taken.iter().enumerate() {
            let in_window = taken[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_secs(60))
                .count();
            assert!(in_window <= 120, "{in_window} sends within a minute");
        }
        // The quiet customers were forgotten a window after their last send.
        assert!(pace.sent.lock().unwrap().light.is_empty());
    }

    #[test]
    fn a_customer_over_its_limit_waits_for_its_oldest_send_to_age_out() {
        let pace = CustomerPace::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(pace.reserve("a", t0).is_zero());
        assert!(pace.reserve("a", t0 + Duration::from_secs(10)).is_zero());
        // The third within the minute waits until the first is a minute old.
        assert_eq!(
            pace.reserve("a", t0 + Duration::from_secs(20)),
            Duration::from_secs(40)
        );
        // Another customer is not held up.
        assert!(pace.reserve("b", t0 + Duration::from_secs(20)).is_zero());
        // A minute after the first send there is room again.
        assert!(pace.reserve("a", t0 + Duration::from_secs(60)).is_zero());
    }
}
