//! Phase Conversations: the conversation history, a page of up to 100 conversations at a time,
//! each page in the order the issue fixes per conversation:
//! 1. the conversations (bulk create, open, with customer, assignees, tag ids and custom
//!    attributes);
//! 2. their files (each stored attachment and inline image uploaded once, `attachment_uploads`);
//! 3. at once, since a note needs its conversation and files but never a message:
//!    - their messages (bulk): the `source` first, then every comment part, oldest first;
//!    - their notes (bulk): note parts, one timeline note of the event parts (or the event parts
//!      to the archive, `LoadOptions::timeline_notes`), and a truncation note where Intercom's
//!      500-part cap hid older parts;
//! 4. their final state last (bulk update: `done` with `ended*`, or `snoozed` until its time),
//!    only once every message of the conversation has settled, since a customer message would
//!    reopen a done conversation.
//!
//! Ledger kinds: `conversations`, `conversation_sources` (the first message; id = conversation
//! id), `conversation_parts` (comment → message, note → note, events → folded into the timeline
//! note, whose Kustomer id becomes theirs), `timeline_notes`, `truncation_notes` and
//! `conversation_states` (id = conversation id), `attachment_uploads` (id = attachment record),
//! `inline_image_uploads` (id = inline image record).

mod delta;
mod refs;
mod send;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::engine::context::Ctx;
use crate::engine::model::LogLevel;
use crate::engine::write::{self, Outcome};
use crate::intercom::models::{Conversation, ConversationPart};
use crate::ledger::{RecordState, SourceRecord, WorkItem};
use crate::mapping::attributes::custom_values;
use crate::mapping::clean;
use crate::mapping::conversations::{self as map, PartRole};
use crate::vocab::{ErrorClass, Kind};

use send::StoredFile;

/// Conversations per page: one bulk create each.
const PAGE: usize = 100;
/// Pages of conversations loaded at once.
const PAGES_IN_FLIGHT: usize = 8;
/// Bulk requests (or uploads) of one page in flight at once.
const CONCURRENT: usize = 4;
/// Conversations told of by the feed and not yet sent in a page, at most (then the feed waits).
const WAITING_AT_MOST: usize = PAGE * PAGES_IN_FLIGHT * 2;
/// Uploads of one streamed page in flight at once (no prefetcher runs ahead of streamed pages).
const STREAMED_UPLOADS: usize = 16;
/// Uploads the prefetcher keeps in flight.
const PREFETCH_CONCURRENT: usize = 8;

/// The records that hang on a conversation: each source kind with the target kind its records
/// are loaded as (its parts, then its stored files and its inline images).
const CHILD_KINDS: [(Kind, Kind); 3] = [
    (Kind::ConversationParts, Kind::ConversationParts),
    (Kind::Attachments, Kind::AttachmentUploads),
    (Kind::InlineImages, Kind::InlineImageUploads),
];
/// The files among them.
const FILE_KINDS: [(Kind, Kind); 2] = [CHILD_KINDS[1], CHILD_KINDS[2]];

pub async fn run(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let mut totals = Totals::default();
    ctx.set_activity("conversations: settling requests of an earlier run");
    settle_sent(ctx).await?;
    let refs = refs::Refs::load(ctx)?;
    let files = ledger.dir().join("attachments");
    let prefetched = Prefetched::default();
    let imported_at = crate::timefmt::unix_ms_to_iso(crate::timefmt::now_unix() * 1000);
    // While extraction runs, each page is loaded as soon as its conversations are staged; their
    // files go with their page (the prefetcher walks the ledger in order, which a feed has not).
    // Only while extraction is still running: once it is over, the pages go in ledger order with
    // the prefetcher filling the budget with uploads ahead of them, which at a low budget keeps
    // it fuller than streamed pages uploading their own files (`i2k bench --size small`: 0.96
    // of the budget against 0.76).
    let extracting = !crate::engine::kinds::sources_of(crate::vocab::PhaseId::Conversations)
        .iter()
        .all(|k| ctx.is_extracted(k));
    if let Some(feed) = ctx.take_conversations_feed().filter(|_| extracting) {
        let (_, no_prefetch) = tokio::sync::watch::channel(Progress {
            through: None,
            finished: true,
        });
        let loader = PageLoader {
            ctx,
            refs: &refs,
            imported_at: imported_at.clone(),
            files: files.clone(),
            prefetched: &prefetched,
            progress: no_prefetch,
            uploads_at_once: STREAMED_UPLOADS,
        };
        totals.add(stream_pages(ctx, &loader, feed).await?);
    }
    // Then what the feed did not bring (all of it when the phase waited for the extraction). The
    // feed closes when extraction has staged its last record, so that is all in the ledger now.
    ctx.set_activity("conversations: preparing");
    for (source_kind, kind) in TARGETS {
        ledger
            .ensure_pending_from_sources(source_kind.as_str(), kind.as_str())
            .await?;
    }
    if let Some(months) = ctx.config.options.history_months {
        let skipped = totals.outside_history + skip_outside_history(ctx, months).await?;
        if skipped > 0 {
            ctx.log(
                LogLevel::Info,
                format!(
                    "conversations: {skipped} last updated over {months} month(s) ago are skipped (the history window), with their messages, notes and files"
                ),
            );
        }
    }
    // A streamed phase loaded every conversation it was told of; what is left is pending.
    let states: &[RecordState] = if totals.streamed {
        &[RecordState::Pending]
    } else {
        &[RecordState::Pending, RecordState::Done]
    };
    // With timeline notes off, files on event parts go to the archive: the pages decide alone.
    let prefetching = ctx.config.options.timeline_notes;
    let mut pass = final_pass(
        ctx,
        &refs,
        &files,
        &prefetched,
        &imported_at,
        states,
        prefetching,
    )
    .await?;
    // Answers lost under faults are settled here, beside the phases still running, not by a
    // repeat of the whole phase after them: once the bulk patience has passed since they were
    // sent, each is looked up (found: done; absent: pending again) and what is pending is sent
    // again, its conversation's page reloaded for the children still open.
    for _ in 1..SETTLE_PASSES {
        let sent = sent_left(ctx).await?;
        if sent == 0 {
            break;
        }
        ctx.log(
            LogLevel::Info,
            format!(
                "conversations: {sent} record(s) await a bulk answer; looking them up once the bulk patience has passed"
            ),
        );
        totals.add(pass);
        ctx.set_activity("conversations: settling lost bulk answers");
        settle_sent(ctx).await?;
        ledger.flush().await?;
        let again = [RecordState::Pending, RecordState::Done];
        pass = final_pass(ctx, &refs, &files, &prefetched, &imported_at, &again, false).await?;
    }
    totals.add(pass);
    ctx.log(
        LogLevel::Info,
        format!(
            "conversations: {} older part(s) in {} conversation(s) could not be returned by Intercom's API (500-part cap); each carries a note saying so",
            totals.truncated.values().sum::<u64>(),
            totals.truncated.len()
        ),
    );
    if !totals.incomplete.is_empty() {
        ctx.log(
            LogLevel::Warn,
            format!(
                "conversations: {} conversation(s) could not be read whole from Intercom (retrieval failed after retries); they are not loaded, and the next run reads them again and loads them",
                totals.incomplete.len()
            ),
        );
    }
    let unsettled = sent_left(ctx).await?;
    if unsettled > 0 {
        ctx.log(
            LogLevel::Warn,
            format!(
                "conversations: {unsettled} record(s) await a bulk answer; the next run settles them by lookup"
            ),
        );
    }
    // Conversations loaded earlier that changed in Intercom since: their new parts went out
    // with the pages above; now their state, assignees, tags and name follow.
    let (_, finished) = tokio::sync::watch::channel(Progress {
        through: None,
        finished: true,
    });
    PageLoader {
        ctx,
        refs: &refs,
        imported_at: imported_at.clone(),
        files: files.clone(),
        prefetched: &prefetched,
        progress: finished,
        uploads_at_once: CONCURRENT,
    }
    .update_changed()
    .await?;
    // Without `POST /v1/tags`: the tags, created by name on the conversations that carry them,
    // then applied to their companies and customers.
    super::tag_fallback::run(ctx).await
}

/// The kinds the phase writes in bulk, whose lost answers are settled by lookup.
const SENT_KINDS: [Kind; 6] = [
    Kind::Conversations,
    Kind::ConversationSources,
    Kind::ConversationParts,
    Kind::TimelineNotes,
    Kind::TruncationNotes,
    Kind::ConversationStates,
];

/// Settles what is `sent` of the phase's bulk kinds (see [`send::recover`]).
async fn settle_sent(ctx: &Ctx) -> Result<(), crate::ledger::LedgerError> {
    for kind in SENT_KINDS {
        send::recover(ctx, kind).await?;
    }
    Ok(())
}

/// Records of the phase's bulk kinds whose answer was lost (`sent` in the ledger): the ledger's
/// count, not the pages', since streamed pages leave theirs too.
async fn sent_left(ctx: &Ctx) -> anyhow::Result<u64> {
    ctx.ledger.flush().await?;
    let counters = ctx.ledger.counters();
    Ok(SENT_KINDS
        .iter()
        .map(|kind| counters.target(kind.as_str()).sent)
        .sum())
}

/// Passes of the phase over what is left open: the first, then at most this many less one to
/// settle answers lost under faults (what is still unsettled then waits for the next run).
const SETTLE_PASSES: usize = 4;

/// One pass over the conversations in `states` (pages several at once), with the prefetcher
/// uploading files ahead of them when `prefetching`.
async fn final_pass(
    ctx: &Ctx,
    refs: &refs::Refs,
    files: &Path,
    prefetched: &Prefetched,
    imported_at: &str,
    states: &[RecordState],
    prefetching: bool,
) -> anyhow::Result<Totals> {
    let (progress_tx, progress_rx) = tokio::sync::watch::channel(Progress {
        through: None,
        finished: !prefetching,
    });
    let loader = PageLoader {
        ctx,
        refs,
        imported_at: imported_at.to_string(),
        files: files.to_path_buf(),
        prefetched,
        progress: progress_rx,
        uploads_at_once: CONCURRENT,
    };
    let prefetch = async {
        if prefetching {
            // Its uploads only fill the budget the pages leave: the pages' bulk jobs and polls
            // go first, so pages keep pace with the prefetcher instead of trailing it.
            let result = crate::http::gate::as_filler(prefetch_uploads(
                ctx,
                files,
                prefetched,
                &progress_tx,
            ))
            .await;
            progress_tx.send_modify(|p| p.finished = true);
            result
        } else {
            Ok(())
        }
    };
    let (pages, prefetch) = tokio::join!(load_pages(ctx, &loader, states), prefetch);
    prefetch?;
    pages
}

/// Source kinds staged with the conversations, and the target kinds that load them.
const TARGETS: [(Kind, Kind); 5] = [
    (Kind::Conversations, Kind::Conversations),
    (Kind::Conversations, Kind::ConversationSources),
    CHILD_KINDS[0],
    CHILD_KINDS[1],
    CHILD_KINDS[2],
];

/// Loads conversations as extraction stages them: each batch of news makes its records pending,
/// and pages of up to [`PAGE`] conversations go out as they fill, [`PAGES_IN_FLIGHT`] at once
/// (a part-filled page when nothing else is in flight). Ends when extraction closes the feed
/// and the last page is loaded.
async fn stream_pages(
    ctx: &Ctx,
    loader: &PageLoader<'_>,
    mut feed: tokio::sync::mpsc::Receiver<crate::engine::extract::StagedConversations>,
) -> anyhow::Result<Totals> {
    let ledger = &ctx.ledger;
    let mut totals = Totals {
        streamed: true,
        ..Totals::default()
    };
    let cutoff = ctx
        .config
        .options
        .history_months
        .map(|months| (months, history_cutoff(months)));
    let mut waiting: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    let mut open = true;
    loop {
        while in_flight.len() < PAGES_IN_FLIGHT
            && (waiting.len() >= PAGE || (!waiting.is_empty() && (!open || in_flight.is_empty())))
        {
            ctx.control.checkpoint().await?;
            let ids: Vec<String> = waiting.drain(..waiting.len().min(PAGE)).collect();
            let mut page = ledger
                .read_blocking(move |r| {
                    ids.iter()
                        .map(|id| r.record(Kind::Conversations.as_str(), id))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await?
                .into_iter()
                .flatten()
                .filter(|item| item.state == RecordState::Pending)
                .collect::<Vec<_>>();
            if let Some((months, cutoff)) = &cutoff {
                let mut kept = Vec::with_capacity(page.len());
                for item in page {
                    if skip_if_outside(ctx, &item, *months, *cutoff)? {
                        totals.outside_history += 1;
                    } else {
                        kept.push(item);
                    }
                }
                page = kept;
            }
            if page.is_empty() {
                continue;
            }
            ctx.set_activity(format!(
                "conversations: {} staged, loading as extraction goes",
                page.len()
            ));
            in_flight.push(loader.load_page_totals(page));
        }
        if !open && waiting.is_empty() && in_flight.is_empty() {
            return Ok(totals);
        }
        tokio::select! {
            // News is taken only while few conversations wait: when the load trails the
            // extraction, the feed fills and drops news (found in the ledger at the end) rather
            // than the ids of the whole workspace piling up here.
            news = feed.recv(), if open && waiting.len() < WAITING_AT_MOST => match news {
                Some(staged) => {
                    for (source_kind, kind) in TARGETS {
                        let ids: Vec<String> = staged
                            .iter()
                            .filter(|(k, _)| *k == source_kind.as_str())
                            .map(|(_, id)| id.clone())
                            .collect();
                        if !ids.is_empty() {
                            ledger.ensure_pending(kind.as_str(), ids).await?;
                        }
                    }
                    waiting.extend(
                        staged
                            .into_iter()
                            .filter(|(k, _)| *k == Kind::Conversations.as_str())
                            .map(|(_, id)| id),
                    );
                }
                None => open = false,
            },
            Some(page_totals) = in_flight.next(), if !in_flight.is_empty() => {
                totals.add(page_totals?);
            }
        }
    }
}

/// The pages of conversations in `states`, several in flight at once.
async fn load_pages(
    ctx: &Ctx,
    loader: &PageLoader<'_>,
    states: &[RecordState],
) -> anyhow::Result<Totals> {
    let ledger = &ctx.ledger;
    let mut totals = Totals::default();
    let mut pages = ledger.pages(Kind::Conversations.as_str(), states, PAGE);
    let mut exhausted = false;
    // Several pages in flight, so one page's bulk jobs and uploads overlap another's requests
    // and the Kustomer budget is not left idle while a job completes.
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    loop {
        while !exhausted && in_flight.len() < PAGES_IN_FLIGHT {
            // A cancel unwinds as `Cancelled`, which the runner knows is no failure.
            ctx.control.checkpoint().await?;
            let Some(page) = pages.next_page().await? else {
                exhausted = true;
                break;
            };
            ctx.set_activity(format!("conversations: page after {}", page[0].source_id));
            in_flight.push(loader.load_page_totals(page));
        }
        match in_flight.next().await {
            Some(page_totals) => totals.add(page_totals?),
            None => break,
        }
    }
    Ok(totals)
}

/// Files uploaded ahead of their pages. An upload needs only its stored file, so the prefetcher
/// walks the conversations in the pages' order uploading their files while the pages wait on
/// their bulk jobs, and the Kustomer budget is not left idle meanwhile.
#[derive(Default)]
struct Prefetched {
    /// Upload record id → the Kustomer attachment id, or `None` when the upload failed (its
    /// reason is in the ledger; the page does not send it again).
    done: std::sync::Mutex<HashMap<String, Option<String>>>,
}

impl Prefetched {
    /// Takes the outcome of one upload. Each file belongs to one conversation, so to one page,
    /// which asks once: taking it keeps the map to the files in flight, not every file of the
    /// workspace (≈ 350k on `large`).
    fn take(&self, record_id: &str) -> Option<Option<String>> {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(record_id)
    }
}

/// How far the prefetcher got: every file of the conversations up to `through` (in source id
/// order) has been tried.
#[derive(Debug, Clone)]
struct Progress {
    through: Option<String>,
    finished: bool,
}

async fn prefetch_uploads(
    ctx: &Ctx,
    dir: &std::path::Path,
    prefetched: &Prefetched,
    progress: &tokio::sync::watch::Sender<Progress>,
) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    // Done conversations too, whatever states the pages walk: a page creates its conversations
    // (done) before it uploads their files, so a walk of pending ones alone would pass over the
    // very conversations the pages are loading and leave each page its own uploads.
    let mut pages = ledger.pages(
        Kind::Conversations.as_str(),
        &[RecordState::Pending, RecordState::Done],
        PAGE,
    );
    loop {
        if ctx.control.is_cancelled() {
            return Ok(());
        }
        let Some(page) = pages.next_page().await? else {
            return Ok(());
        };
        let through = page.last().map(|last| last.source_id.clone());
        let mut jobs: Vec<(WorkItem, StoredFile)> = Vec::new();
        for item in page.iter().filter(|item| !item.incomplete) {
            // Only for conversations that will load: their customer is in Kustomer.
            let loads = parse::<Conversation>(item.raw.as_deref())
                .and_then(|c| customer_contact(&c))
                .map(|contact| ledger.target_id(Kind::Contacts.as_str(), &contact))
                .transpose()?
                .flatten()
                .is_some();
            if !loads {
                continue;
            }
            let id = &item.source_id;
            let files = ledger.read(|r| {
                let mut out = Vec::new();
                for (source, kind) in FILE_KINDS {
                    for s in r.children(source.as_str(), id)? {
                        out.push((file_of(&s, None), r.record(kind.as_str(), &s.source_id)?));
                    }
                }
                Ok(out)
            })?;
            for (file, upload) in files {
                if let (Some(upload), Some(stored)) = (upload, file.stored)
                    && upload.state == RecordState::Pending
                    && dir.join(&stored.sha256).is_file()
                {
                    jobs.push((upload, stored));
                }
            }
        }
        let results: Vec<_> = futures_util::stream::iter(jobs)
            .map(|(item, stored)| async move {
                let outcome = send::upload(ctx, &item, &stored, dir).await;
                (item.source_id, outcome)
            })
            .buffer_unordered(PREFETCH_CONCURRENT)
            .collect()
            .await;
        for (record_id, outcome) in results {
            let target = match outcome? {
                Outcome::Done(target) => Some(target),
                Outcome::Failed => None,
                Outcome::Unsettled => continue,
            };
            prefetched
                .done
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(record_id, target);
        }
        progress.send_modify(|p| p.through = through);
    }
}

/// What hangs on conversation `id` in the ledger, as `(kind, record id)`: its opening message,
/// its final state, its parts and its files. A conversation that did not load fails them with it,
/// and a retried one takes them back (`runner::retry_failed`).
pub fn dependants(
    r: &crate::ledger::LedgerReader,
    id: &str,
) -> Result<Vec<(&'static str, String)>, crate::ledger::LedgerError> {
    let mut records = vec![
        (Kind::ConversationSources.as_str(), id.to_string()),
        (Kind::ConversationStates.as_str(), id.to_string()),
    ];
    for (source, kind) in CHILD_KINDS {
        for child in r.children(source.as_str(), id)? {
            records.push((kind.as_str(), child.source_id));
        }
    }
    Ok(records)
}

/// Marks skipped every pending conversation last updated before the history window of `months`
/// (30.44 days each), with its source message, parts and files, so the report accounts for them
/// as the operator's choice. Returns how many conversations it skipped.
async fn skip_outside_history(ctx: &Ctx, months: u32) -> anyhow::Result<u64> {
    let cutoff = history_cutoff(months);
    let mut skipped = 0u64;
    let mut pages = ctx
        .ledger
        .pages(Kind::Conversations.as_str(), &[RecordState::Pending], PAGE);
    loop {
        let Some(page) = pages.next_page().await? else {
            break;
        };
        for item in &page {
            if skip_if_outside(ctx, item, months, cutoff)? {
                skipped += 1;
            }
        }
    }
    ctx.ledger.flush().await?;
    Ok(skipped)
}

/// The oldest last-update (unix seconds) a conversation may have to be loaded.
fn history_cutoff(months: u32) -> i64 {
    crate::timefmt::now_unix() - i64::from(months) * 2_630_016
}

/// Marks a conversation last updated before `cutoff` skipped, with everything that hangs on
/// it; says whether it did.
fn skip_if_outside(ctx: &Ctx, item: &WorkItem, months: u32, cutoff: i64) -> anyhow::Result<bool> {
    let ledger = &ctx.ledger;
    let updated =
        parse::<Conversation>(item.raw.as_deref()).and_then(|c| c.updated_at.or(c.created_at));
    if updated.is_none_or(|t| t >= cutoff) {
        return Ok(false);
    }
    let reason = format!("outside the history window: last updated over {months} month(s) ago");
    let id = item.source_id.as_str();
    ledger.mark_skipped(Kind::Conversations.as_str(), id, &reason)?;
    if ledger
        .read(|r| r.record(Kind::ConversationSources.as_str(), id))?
        .is_some()
    {
        ledger.mark_skipped(Kind::ConversationSources.as_str(), id, &reason)?;
    }
    for (source, kind) in CHILD_KINDS {
        for child in ledger.read(|r| r.children(source.as_str(), id))? {
            ledger.mark_skipped(kind.as_str(), &child.source_id, &reason)?;
        }
    }
    Ok(true)
}

#[derive(Debug, Default)]
struct Totals {
    /// Conversations Intercom returned without their oldest parts, with how many are missing
    /// (by id: a later pass over the same conversations counts each once).
    truncated: HashMap<String, u64>,
    /// Conversations held back because Intercom could not return them whole this time.
    incomplete: HashSet<String>,
    /// Pages were loaded as extraction staged them.
    streamed: bool,
    /// Conversations skipped as they streamed in, outside the history window.
    outside_history: u64,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.truncated.extend(other.truncated);
        self.incomplete.extend(other.incomplete);
        self.streamed |= other.streamed;
        self.outside_history += other.outside_history;
    }
}

struct PageLoader<'a> {
    ctx: &'a Ctx,
    refs: &'a refs::Refs,
    imported_at: String,
    files: PathBuf,
    prefetched: &'a Prefetched,
    progress: tokio::sync::watch::Receiver<Progress>,
    /// Uploads of one page in flight at once: more when no prefetcher uploads ahead of the
    /// pages (streamed pages), whose files would otherwise hold each page on its uploads.
    uploads_at_once: usize,
}

/// One part of a conversation with its load state.
struct Part {
    id: String,
    part: ConversationPart,
    state: RecordState,
}

/// A stored file of a conversation and what became of its upload.
struct File {
    record_id: String,
    /// The part it hangs on (`None`: the source message).
    owner: Option<String>,
    url: Option<String>,
    inline: bool,
    stored: Option<StoredFile>,
    problem: Option<String>,
    upload: Option<WorkItem>,
}

impl File {
    /// The Kustomer attachment id, once the upload is done.
    fn uploaded_id(&self) -> Option<&String> {
        self.upload
            .as_ref()
            .filter(|u| u.state == RecordState::Done)?
            .target_id
            .as_ref()
    }
}

/// A conversation loaded in Kustomer, with everything that hangs on it.
struct Loaded {
    id: String,
    kustomer_id: String,
    customer: String,
    conversation: Conversation,
    source_state: RecordState,
    parts: Vec<Part>,
    files: Vec<File>,
    state: Option<WorkItem>,
}

/// Whether `file` hangs on one of the conversation's event parts (assignment, state or
/// attribute change), which only a timeline note carries.
fn on_event_part(c: &Loaded, file: &File) -> bool {
    file.owner.as_deref().is_some_and(|owner| {
        c.parts.iter().any(|p| {
            p.id == owner && map::part_role(p.part.part_type.as_deref()) == PartRole::Timeline
        })
    })
}

fn parse<T: serde::de::DeserializeOwned + Default>(raw: Option<&str>) -> Option<T> {
    serde_json::from_str(raw?).ok()
}

fn customer_contact(conversation: &Conversation) -> Option<String> {
    conversation
        .contacts
        .as_ref()
        .and_then(|l| l.contacts.first())
        .and_then(|c| c.id.as_ref())
        .map(|i| i.as_str().to_string())
}

impl PageLoader<'_> {
    async fn load_page_totals(&self, page: Vec<WorkItem>) -> anyhow::Result<Totals> {
        let mut totals = Totals::default();
        self.load_page(page, &mut totals).await?;
        Ok(totals)
    }

    async fn load_page(&self, page: Vec<WorkItem>, totals: &mut Totals) -> anyhow::Result<()> {
        let ledger = &self.ctx.ledger;
        // 1. the conversations themselves; one Intercom could not return whole is not loaded
        // (no partial thread, no truncation note it does not deserve) until a later
        // extraction reads it.
        let (held, page): (Vec<WorkItem>, Vec<WorkItem>) =
            page.into_iter().partition(|item| item.incomplete);
        totals
            .incomplete
            .extend(held.into_iter().map(|item| item.source_id));
        let mut parsed: Vec<(WorkItem, Conversation)> = Vec::new();
        // Conversations refused here or by Kustomer: what hangs on them cannot load either.
        let mut refused: Vec<String> = Vec::new();
        for item in page {
            match parse::<Conversation>(item.raw.as_deref()) {
                Some(c) => parsed.push((item, c)),
                None => {
                    ledger.mark_failed(
                        Kind::Conversations.as_str(),
                        &item.source_id,
                        ErrorClass::Source,
                        "the extracted conversation is missing or is not JSON",
                        "",
                        "",
                    )?;
                    refused.push(item.source_id);
                }
            }
        }
        let mut creates = Vec::new();
        for (item, c) in &parsed {
            if item.state != RecordState::Pending {
                continue;
            }
            let Some(body) = self.conversation_body(&item.source_id, c).await? else {
                refused.push(item.source_id.clone());
                continue;
            };
            // Times Kustomer cannot read are left out of the body; the warning keeps them.
            let raw: Value = parse(item.raw.as_deref()).unwrap_or_default();
            let mut notes = clean::out_of_range_times(&raw, &["statistics"]);
            if let Some(title) = c.title.as_deref() {
                clean::clean_line(title, "title", &mut notes);
            }
            for note in notes {
                ledger.add_warning(Kind::Conversations.as_str(), Some(&item.source_id), &note)?;
            }
            creates.push((item.source_id.clone(), body));
        }
        let outcomes = send::bulk(self.ctx, Kind::Conversations, None, creates).await?;
        refused.extend(
            outcomes
                .iter()
                .filter(|(_, o)| **o == Outcome::Failed)
                .map(|(id, _)| id.clone()),
        );

        // A closed or snoozed conversation has a final state to set.
        let closing: Vec<String> = parsed
            .iter()
            .filter(|(item, _)| !refused.contains(&item.source_id))
            .filter(|(_, c)| map::final_state("", c, None, None).is_some())
            .map(|(item, _)| item.source_id.clone())
            .collect();
        ledger
            .ensure_pending(Kind::ConversationStates.as_str(), closing)
            .await?;
        for id in &refused {
            self.fail_dependants(id)?;
        }

        // What hangs on each conversation now in Kustomer.
        let mut loaded = Vec::new();
        for (item, conversation) in parsed {
            let kustomer_id = match (&item.state, &item.target_id, outcomes.get(&item.source_id)) {
                (_, _, Some(Outcome::Done(id))) => id.clone(),
                (RecordState::Done, Some(id), None) => id.clone(),
                _ => continue,
            };
            let Some(customer) = customer_contact(&conversation)
                .map(|c| self.refs.customer(self.ctx, &c))
                .transpose()?
                .flatten()
            else {
                continue;
            };
            loaded.push(
                self.gather(item.source_id, kustomer_id, customer, conversation)
                    .await?,
            );
        }

        // 2. files: those the prefetcher uploaded, inline images extraction did not store, then
        // every upload still pending
        if let Some(last) = loaded.last().map(|c| c.id.clone()) {
            self.take_prefetched(&last, &mut loaded).await;
        }
        for c in &mut loaded {
            self.stage_inline_images(c).await?;
        }
        self.upload_files(&mut loaded).await?;

        // 3. messages and notes at once: a note needs its conversation and files, never a
        // message, so the two chains of bulk jobs overlap instead of queueing behind each other
        let (unsettled, (), (), ()) = tokio::try_join!(
            self.messages(&loaded),
            self.part_notes(&loaded),
            self.timeline(&loaded),
            self.truncation(&loaded, totals),
        )?;

        // 4. final states, last
        let mut states = Vec::new();
        for c in &loaded {
            if unsettled.contains(&c.id) {
                continue;
            }
            let Some(item) = &c.state else { continue };
            if item.state != RecordState::Pending {
                continue;
            }
            let events: Vec<&ConversationPart> = c.parts.iter().map(|p| &p.part).collect();
            let close = map::close_part(&events);
            let ended_by = self.author_user(close.and_then(|p| p.author.as_ref()))?;
            if let Some(body) =
                map::final_state(&c.kustomer_id, &c.conversation, close, ended_by.as_deref())
            {
                states.push((c.id.clone(), body));
            }
        }
        self.send_chunks(Kind::ConversationStates, None, states)
            .await?;
        Ok(())
    }

    /// The page's messages: every source first, then every comment part (oldest first). Returns
    /// the conversations with a message still awaiting its bulk answer (their final state waits).
    async fn messages(&self, loaded: &[Loaded]) -> anyhow::Result<HashSet<String>> {
        let mut unsettled: HashSet<String> = HashSet::new();
        let sources: Vec<(String, Value)> = loaded
            .iter()
            .filter(|c| c.source_state == RecordState::Pending)
            .map(|c| (c.id.clone(), self.source_message(c)))
            .collect();
        let outcomes = self
            .create_messages(Kind::ConversationSources, sources)
            .await?;
        unsettled.extend(unsettled_ids(&outcomes).cloned());
        let mut owner_of: HashMap<String, String> = HashMap::new();
        let mut messages = Vec::new();
        for c in loaded {
            let mut comments: Vec<&Part> = c
                .parts
                .iter()
                .filter(|p| {
                    p.state == RecordState::Pending
                        && map::part_role(p.part.part_type.as_deref()) == PartRole::Message
                })
                .collect();
            comments.sort_by_key(|p| (p.part.created_at.unwrap_or(0), p.id.clone()));
            for p in comments {
                self.note_part_time(p)?;
                owner_of.insert(p.id.clone(), c.id.clone());
                messages.push((p.id.clone(), self.part_message(c, p)?));
            }
        }
        let outcomes = self
            .create_messages(Kind::ConversationParts, messages)
            .await?;
        unsettled.extend(
            unsettled_ids(&outcomes)
                .filter_map(|id| owner_of.get(id))
                .cloned(),
        );
        Ok(unsettled)
    }

    /// Creates messages of `kind` through the bulk messages route.
    async fn create_messages(
        &self,
        kind: Kind,
        messages: Vec<(String, Value)>,
    ) -> anyhow::Result<HashMap<String, Outcome>> {
        self.send_chunks(kind, Some(PartRole::Message), messages)
            .await
    }

    /// A part's time Kustomer cannot read is left out of its body: a warning keeps the value.
    fn note_part_time(&self, p: &Part) -> anyhow::Result<()> {
        if let Some(t) = p.part.created_at {
            let mut notes = Vec::new();
            clean::iso_time_noted(t, "created_at", &mut notes);
            for note in notes {
                self.ctx.ledger.add_warning(
                    Kind::ConversationParts.as_str(),
                    Some(&p.id),
                    &note,
                )?;
            }
        }
        Ok(())
    }

    /// The page's note parts, with the files they carry.
    async fn part_notes(&self, loaded: &[Loaded]) -> anyhow::Result<()> {
        let mut notes = Vec::new();
        for c in loaded {
            for p in c.parts.iter().filter(|p| {
                p.state == RecordState::Pending
                    && map::part_role(p.part.part_type.as_deref()) == PartRole::Note
            }) {
                let by = self.author_user(p.part.author.as_ref())?;
                let files = self.references(c, Some(&p.id));
                self.note_part_time(p)?;
                notes.push((
                    p.id.clone(),
                    map::note_body(
                        &p.id,
                        &p.part,
                        &c.kustomer_id,
                        by.as_deref(),
                        &files,
                        &self.imported_at,
                    ),
                ));
            }
        }
        self.send_chunks(Kind::ConversationParts, Some(PartRole::Note), notes)
            .await?;
        Ok(())
    }

    /// Marks failed, with the reason, what hangs on a conversation that did not load: its
    /// opening message, its parts, its final state and its files, where still pending. A later
    /// `run --retry-failed` (or the Errors screen's retry) sends them with the conversation.
    fn fail_dependants(&self, id: &str) -> anyhow::Result<()> {
        let ledger = &self.ctx.ledger;
        let reason = format!(
            "its conversation {id} was not loaded (see that conversation's own failure); retry them together"
        );
        let records = ledger.read(|r| dependants(r, id))?;
        for (kind, record) in records {
            let pending = ledger
                .read(|r| r.record(kind, &record))?
                .is_some_and(|w| w.state == RecordState::Pending);
            if pending {
                ledger.mark_failed(kind, &record, ErrorClass::Mapping, &reason, "", "")?;
            }
        }
        Ok(())
    }

    /// The create body, or `None` after marking the conversation failed (its customer is not
    /// loaded, so it has nowhere to go).
    async fn conversation_body(&self, id: &str, c: &Conversation) -> anyhow::Result<Option<Value>> {
        let ledger = &self.ctx.ledger;
        let Some(contact) = customer_contact(c) else {
            ledger.mark_failed(
                Kind::Conversations.as_str(),
                id,
                ErrorClass::Source,
                "the conversation names no contact",
                "",
                "",
            )?;
            return Ok(None);
        };
        let Some(customer) = self.refs.customer(self.ctx, &contact)? else {
            ledger.mark_failed(
                Kind::Conversations.as_str(),
                id,
                ErrorClass::Mapping,
                &format!("its customer (Intercom contact {contact}) is not loaded in Kustomer; retry after the customer loads"),
                "",
                "",
            )?;
            return Ok(None);
        };
        let assigned_user = match &c.admin_assignee_id {
            Some(a) => self.refs.user(self.ctx, a.as_str())?,
            None => None,
        };
        let assigned_team = match &c.team_assignee_id {
            Some(t) => self.refs.team(self.ctx, t.as_str())?,
            None => None,
        };
        let mut tags = Vec::new();
        for t in c.tags.iter().flat_map(|l| &l.tags) {
            if let (Some(tid), Some(name)) = (&t.id, &t.name)
                && let Some(k) = self.refs.tag(self.ctx, tid.as_str(), name).await?
            {
                tags.push(k);
            }
        }
        let custom = c
            .custom_attributes
            .as_ref()
            .map(|attrs| custom_values(attrs, &self.refs.conversation_fields))
            .unwrap_or_default();
        for note in &custom.notes {
            self.ctx
                .log(LogLevel::Warn, format!("conversation {id}: {note}"));
        }
        let refs = map::ConversationRefs {
            customer,
            assigned_user,
            assigned_team,
            tags,
            custom: custom.custom,
        };
        Ok(Some(map::conversation_body(
            id,
            c,
            &refs,
            &self.imported_at,
        )))
    }

    /// Reads the parts, files and per-conversation records of a loaded conversation.
    async fn gather(
        &self,
        id: String,
        kustomer_id: String,
        customer: String,
        conversation: Conversation,
    ) -> anyhow::Result<Loaded> {
        let (parts, files, source_state, state) = self.ctx.ledger.read(|r| {
            let mut parts = Vec::new();
            let kind = Kind::ConversationParts.as_str();
            for (s, state) in r.children_with_state(kind, &id, kind)? {
                let part: ConversationPart = serde_json::from_str(&s.raw).unwrap_or_default();
                parts.push(Part {
                    state: state.unwrap_or(RecordState::Pending),
                    id: s.source_id,
                    part,
                });
            }
            let mut files = Vec::new();
            for s in r.children(Kind::Attachments.as_str(), &id)? {
                files.push(file_of(
                    &s,
                    r.record(Kind::AttachmentUploads.as_str(), &s.source_id)?,
                ));
            }
            for s in r.children(Kind::InlineImages.as_str(), &id)? {
                let mut file = file_of(
                    &s,
                    r.record(Kind::InlineImageUploads.as_str(), &s.source_id)?,
                );
                file.inline = true;
                files.push(file);
            }
            let source_state = r
                .record(Kind::ConversationSources.as_str(), &id)?
                .map_or(RecordState::Pending, |w| w.state);
            Ok((
                parts,
                files,
                source_state,
                r.record(Kind::ConversationStates.as_str(), &id)?,
            ))
        })?;
        Ok(Loaded {
            id,
            kustomer_id,
            customer,
            conversation,
            source_state,
            parts,
            files,
            state,
        })
    }

    /// Inline images whose `<img src>` no stored file matches: extraction keeps attachments; an
    /// image referenced only from HTML is fetched here while its URL still works, stored the same
    /// content-addressed way and staged as an `inline_images` record (its upload is accounted for
    /// as an `inline_image_uploads` record, apart from Intercom's attachments).
    async fn stage_inline_images(&self, c: &mut Loaded) -> anyhow::Result<()> {
        let known: HashSet<String> = c.files.iter().filter_map(|f| f.url.clone()).collect();
        let mut bodies: Vec<(Option<String>, String)> = Vec::new();
        if c.source_state == RecordState::Pending
            && let Some(html) = c.conversation.source.as_ref().and_then(|s| s.body.clone())
        {
            bodies.push((None, html));
        }
        for p in &c.parts {
            if p.state == RecordState::Pending
                && map::part_role(p.part.part_type.as_deref()) == PartRole::Message
                && let Some(html) = &p.part.body
            {
                bodies.push((Some(p.id.clone()), html.clone()));
            }
        }
        let mut staged = Vec::new();
        for (owner, html) in bodies {
            for (k, url) in map::inline_image_urls(&html).into_iter().enumerate() {
                if known.contains(&url) || !url.starts_with("http") {
                    continue;
                }
                let owner_key = owner.clone().unwrap_or_else(|| "source".to_string());
                let record_id = format!("{}:{owner_key}:inline-{k}", c.id);
                if c.files.iter().any(|f| f.record_id == record_id) {
                    continue;
                }
                staged.push(
                    self.fetch_inline(&c.id, &record_id, owner.as_deref(), &url)
                        .await,
                );
            }
        }
        if staged.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = staged.iter().map(|s| s.source_id.clone()).collect();
        self.ctx.ledger.put_sources(staged.clone()).await?;
        self.ctx
            .ledger
            .ensure_pending(Kind::InlineImageUploads.as_str(), ids)
            .await?;
        for s in staged {
            let upload = self
                .ctx
                .ledger
                .read(|r| r.record(Kind::InlineImageUploads.as_str(), &s.source_id))?;
            let mut file = file_of(&s, upload);
            file.inline = true;
            c.files.push(file);
        }
        Ok(())
    }

    async fn fetch_inline(
        &self,
        conversation_id: &str,
        record_id: &str,
        owner: Option<&str>,
        url: &str,
    ) -> SourceRecord {
        let mut meta = json!({
            "conversation_id": conversation_id, "part_id": owner, "url": url,
            "name": url.rsplit('/').next().and_then(|n| n.split('?').next()).filter(|n| !n.is_empty()).unwrap_or("inline-image"),
            "content_type": null, "inline": true,
        });
        let mut problem = None;
        let tmp = self
            .files
            .join(format!(".inline-{}", record_id.replace(':', "-")));
        let stored = async {
            tokio::fs::create_dir_all(&self.files)
                .await
                .map_err(|e| e.to_string())?;
            let done = self
                .ctx
                .intercom
                .download(url, &tmp)
                .await
                .map_err(|e| format!("download failed: {e}"))?;
            let dest = self.files.join(&done.sha256);
            if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
                let _ = tokio::fs::remove_file(&tmp).await;
            } else {
                tokio::fs::rename(&tmp, &dest)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(done)
        }
        .await;
        match stored {
            Ok(done) => {
                meta["sha256"] = json!(done.sha256);
                meta["size"] = json!(done.bytes);
                meta["content_type"] =
                    json!(done.content_type.unwrap_or_else(|| "image/png".into()));
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                problem = Some(format!("inline image {url}: {e}"));
            }
        }
        SourceRecord {
            kind: Kind::InlineImages.as_str().to_string(),
            source_id: record_id.to_string(),
            parent_id: Some(conversation_id.to_string()),
            updated_at: None,
            raw: meta.to_string(),
            problem,
        }
    }

    /// Waits until the prefetcher has been through the page (its last conversation `last`), then
    /// takes the uploads it made.
    async fn take_prefetched(&self, last: &str, loaded: &mut [Loaded]) {
        let mut progress = self.progress.clone();
        let _ = progress
            .wait_for(|p| p.finished || p.through.as_deref().is_some_and(|t| t >= last))
            .await;
        for c in loaded {
            for f in &mut c.files {
                if let Some(item) = &mut f.upload
                    && item.state != RecordState::Done
                    && let Some(outcome) = self.prefetched.take(&f.record_id)
                {
                    item.state = if outcome.is_some() {
                        RecordState::Done
                    } else {
                        RecordState::Failed
                    };
                    item.target_id = outcome;
                }
            }
        }
    }

    /// Uploads every pending file of the page (a few at a time); a file extraction could not
    /// store is marked failed with its reason, and its message goes without it.
    async fn upload_files(&self, loaded: &mut [Loaded]) -> anyhow::Result<()> {
        let ledger = &self.ctx.ledger;
        let mut jobs = Vec::new();
        for (ci, c) in loaded.iter().enumerate() {
            for (fi, f) in c.files.iter().enumerate() {
                let Some(item) = &f.upload else { continue };
                if !matches!(item.state, RecordState::Pending | RecordState::Sent) {
                    continue;
                }
                if !self.ctx.config.options.timeline_notes && on_event_part(c, f) {
                    // Its event part goes to the archive: so does the file (nothing would
                    // reference an upload).
                    ledger.archive(
                        &item.kind,
                        &f.record_id,
                        "file on a conversation event kept in the archive: timeline notes are off",
                    )?;
                    continue;
                }
                match &f.stored {
                    Some(stored) if self.files.join(&stored.sha256).is_file() => {
                        jobs.push((ci, fi, item.clone(), stored.clone()))
                    }
                    _ => ledger.mark_failed(
                        &item.kind,
                        &f.record_id,
                        ErrorClass::Source,
                        f.problem
                            .as_deref()
                            .unwrap_or("the file was not stored at extraction; extract again"),
                        "",
                        "",
                    )?,
                }
            }
        }
        let results: Vec<_> = futures_util::stream::iter(jobs)
            .map(|(ci, fi, item, stored)| async move {
                let outcome = send::upload(self.ctx, &item, &stored, &self.files).await;
                (ci, fi, outcome)
            })
            .buffer_unordered(self.uploads_at_once)
            .collect()
            .await;
        for (ci, fi, outcome) in results {
            if let Outcome::Done(id) = outcome? {
                let f = &mut loaded[ci].files[fi];
                if let Some(item) = &mut f.upload {
                    item.state = RecordState::Done;
                    item.target_id = Some(id);
                }
            }
        }
        Ok(())
    }

    /// The uploaded files of one message (`owner` None: the source), attachments then inline.
    fn references(&self, c: &Loaded, owner: Option<&str>) -> Vec<Value> {
        let mut files: Vec<&File> = c
            .files
            .iter()
            .filter(|f| f.owner.as_deref() == owner)
            .collect();
        files.sort_by_key(|f| f.inline);
        files
            .into_iter()
            .filter_map(|f| Some(f.stored.as_ref()?.reference(f.uploaded_id()?)))
            .collect()
    }

    fn inline_images(&self, c: &Loaded, owner: Option<&str>) -> Vec<(String, String)> {
        c.files
            .iter()
            .filter(|f| f.inline && f.owner.as_deref() == owner)
            .filter_map(|f| Some((f.url.clone()?, f.uploaded_id()?.clone())))
            .collect()
    }

    fn author_user(
        &self,
        author: Option<&crate::intercom::models::Author>,
    ) -> anyhow::Result<Option<String>> {
        match author {
            Some(a) if a.kind.as_deref() == Some("admin") => match &a.id {
                Some(id) => Ok(self.refs.user(self.ctx, id.as_str())?),
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    fn message_refs(
        &self,
        c: &Loaded,
        owner: Option<&str>,
        created_by: Option<String>,
    ) -> map::MessageRefs {
        let source = c.conversation.source.as_ref();
        map::MessageRefs {
            conversation: c.kustomer_id.clone(),
            customer: c.customer.clone(),
            channel: map::channel(
                source.and_then(|s| s.kind.as_deref()),
                source.and_then(|s| s.delivered_as.as_deref()),
            )
            .to_string(),
            app: self.ctx.config.options.message_app.clone(),
            created_by,
            attachments: self.references(c, owner),
            inline_images: self.inline_images(c, owner),
        }
    }

    fn source_message(&self, c: &Loaded) -> Value {
        let source = c.conversation.source.clone().unwrap_or_default();
        let external_id = map::source_message_external_id(&c.id);
        let created_by = self.author_user(source.author.as_ref()).ok().flatten();
        let refs = self.message_refs(c, None, created_by);
        map::message_body(
            &map::MessageSource {
                external_id: &external_id,
                author: source.author.as_ref(),
                html: source.body.as_deref(),
                subject: source.subject.as_deref(),
                created_at: c.conversation.created_at,
                part_type: None,
            },
            &refs,
            &self.imported_at,
        )
    }

    fn part_message(&self, c: &Loaded, p: &Part) -> anyhow::Result<Value> {
        let created_by = self.author_user(p.part.author.as_ref())?;
        let refs = self.message_refs(c, Some(&p.id), created_by);
        Ok(map::message_body(
            &map::MessageSource {
                external_id: &p.id,
                author: p.part.author.as_ref(),
                html: p.part.body.as_deref(),
                subject: None,
                created_at: p.part.created_at,
                part_type: p.part.part_type.as_deref(),
            },
            &refs,
            &self.imported_at,
        ))
    }

    /// Sends `items` in bulk requests of 100 items and the byte budget at most, a few at a time,
    /// where the kind catalog sends `kind` (`role`: the role of the parts sent).
    async fn send_chunks(
        &self,
        kind: Kind,
        role: Option<PartRole>,
        items: Vec<(String, Value)>,
    ) -> anyhow::Result<HashMap<String, Outcome>> {
        let chunks = write::bulk_requests(
            &self.ctx.ledger,
            kind.as_str(),
            items,
            self.ctx.config.options.bulk_max_bytes,
        )?;
        let results: Vec<_> = futures_util::stream::iter(chunks)
            .map(|chunk| send::bulk(self.ctx, kind, role, chunk))
            .buffer_unordered(CONCURRENT)
            .collect()
            .await;
        let mut out = HashMap::new();
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }

    /// Event parts: one timeline note per conversation (the parts take its id), or each part to
    /// the archive when timeline notes are off.
    async fn timeline(&self, loaded: &[Loaded]) -> anyhow::Result<()> {
        let ledger = &self.ctx.ledger;
        let with_events: Vec<usize> = (0..loaded.len())
            .filter(|&i| {
                loaded[i].parts.iter().any(|p| {
                    p.state == RecordState::Pending
                        && map::part_role(p.part.part_type.as_deref()) == PartRole::Timeline
                })
            })
            .collect();
        if !self.ctx.config.options.timeline_notes {
            for &i in &with_events {
                for p in loaded[i].parts.iter().filter(|p| {
                    p.state == RecordState::Pending
                        && map::part_role(p.part.part_type.as_deref()) == PartRole::Timeline
                }) {
                    ledger.archive(
                        Kind::ConversationParts.as_str(),
                        &p.id,
                        "conversation event (assignment, state or attribute change) kept in the archive: timeline notes are off",
                    )?;
                }
            }
            return Ok(());
        }
        let ids: Vec<String> = with_events.iter().map(|&i| loaded[i].id.clone()).collect();
        ledger
            .ensure_pending(Kind::TimelineNotes.as_str(), ids)
            .await?;
        let mut notes = Vec::new();
        // The note an earlier run already made for a conversation, whose id its events take.
        let mut made_earlier: HashMap<usize, String> = HashMap::new();
        for &i in &with_events {
            let c = &loaded[i];
            let Some(record) = ledger.read(|r| r.record(Kind::TimelineNotes.as_str(), &c.id))?
            else {
                continue;
            };
            if let (RecordState::Done, Some(id)) = (record.state, &record.target_id) {
                made_earlier.insert(i, id.clone());
            }
            if record.state == RecordState::Pending {
                // Every event of the conversation, also those a previous note already carried.
                let events: Vec<&ConversationPart> = c
                    .parts
                    .iter()
                    .filter(|p| map::part_role(p.part.part_type.as_deref()) == PartRole::Timeline)
                    .map(|p| &p.part)
                    .collect();
                let mut body =
                    map::timeline_note_body(&c.id, &c.kustomer_id, &events, &self.imported_at);
                // Files on event parts (an assignment with a screenshot) would otherwise be
                // uploaded yet referenced by nothing: the timeline note carries them.
                let files: Vec<Value> = c
                    .parts
                    .iter()
                    .filter(|p| map::part_role(p.part.part_type.as_deref()) == PartRole::Timeline)
                    .flat_map(|p| self.references(c, Some(&p.id)))
                    .collect();
                if !files.is_empty() {
                    body["attachments"] = Value::Array(files);
                }
                notes.push((c.id.clone(), body));
            }
        }
        let outcomes = self.send_chunks(Kind::TimelineNotes, None, notes).await?;
        for &i in &with_events {
            let c = &loaded[i];
            let note = match outcomes.get(&c.id) {
                Some(Outcome::Done(id)) => Some(id.clone()),
                Some(_) => None,
                None => made_earlier.get(&i).cloned(),
            };
            let Some(note) = note else { continue };
            for p in c.parts.iter().filter(|p| {
                p.state == RecordState::Pending
                    && map::part_role(p.part.part_type.as_deref()) == PartRole::Timeline
            }) {
                ledger.mark_done(Kind::ConversationParts.as_str(), &p.id, &note)?;
            }
        }
        Ok(())
    }

    /// The note on each conversation whose older parts Intercom's API could not return.
    async fn truncation(&self, loaded: &[Loaded], totals: &mut Totals) -> anyhow::Result<()> {
        let ledger = &self.ctx.ledger;
        let mut truncated = Vec::new();
        for (i, c) in loaded.iter().enumerate() {
            let missing = map::missing_parts(&c.conversation, c.parts.len() as u64);
            if missing > 0 {
                totals.truncated.insert(c.id.clone(), missing);
                truncated.push((i, missing));
            }
        }
        let ids: Vec<String> = truncated
            .iter()
            .map(|&(i, _)| loaded[i].id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        ledger
            .ensure_pending(Kind::TruncationNotes.as_str(), ids)
            .await?;
        let mut notes = Vec::new();
        for (i, missing) in truncated {
            let c = &loaded[i];
            let record = ledger.read(|r| r.record(Kind::TruncationNotes.as_str(), &c.id))?;
            if record.map(|t| t.state) == Some(RecordState::Pending) {
                notes.push((
                    c.id.clone(),
                    map::truncation_note_body(
                        &c.id,
                        &c.kustomer_id,
                        missing,
                        c.conversation.created_at,
                        &self.imported_at,
                    ),
                ));
            }
        }
        self.send_chunks(Kind::TruncationNotes, None, notes).await?;
        Ok(())
    }
}

/// The records whose bulk answer was lost.
fn unsettled_ids(outcomes: &HashMap<String, Outcome>) -> impl Iterator<Item = &String> {
    outcomes
        .iter()
        .filter(|(_, o)| **o == Outcome::Unsettled)
        .map(|(id, _)| id)
}

/// A stored-file record and its upload record.
fn file_of(s: &SourceRecord, upload: Option<WorkItem>) -> File {
    let meta: Value = serde_json::from_str(&s.raw).unwrap_or(Value::Null);
    File {
        record_id: s.source_id.clone(),
        owner: meta
            .get("part_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        url: meta.get("url").and_then(Value::as_str).map(str::to_string),
        inline: meta.get("inline").and_then(Value::as_bool).unwrap_or(false),
        stored: StoredFile::from_meta(&meta),
        problem: s.problem.clone(),
        upload,
    }
}
