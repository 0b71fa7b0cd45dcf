//! The one way to walk a kind's target records: pages in source-id order, each a keyset range
//! scan from the previous page's last id, so a kind costs one pass and one page is in memory at
//! a time. Records that change state while the walk goes on are not seen twice. A ledger limited
//! to a [`Selection`] (a sample run) walks only the open records the selection takes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Ledger, LedgerError, Listed, RecordState, WorkItem};

/// The records a limited run may take up (a sample): per kind, the source ids it takes, and
/// the kinds it takes whole. Records not taken stay as they are (pending, or failed) for a later
/// run; records already sent or done are walked as ever, so a limited run still settles what
/// an earlier run left without an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    records: HashMap<String, HashSet<String>>,
    whole: HashSet<String>,
}

impl Selection {
    /// Takes record `id` of `kind`.
    pub fn take(&mut self, kind: &str, id: &str) {
        self.records
            .entry(kind.to_string())
            .or_default()
            .insert(id.to_string());
    }

    /// Takes every record of `kind`.
    pub fn take_whole(&mut self, kind: &str) {
        self.whole.insert(kind.to_string());
    }

    /// Whether record `id` of `kind` is taken.
    pub fn takes(&self, kind: &str, id: &str) -> bool {
        self.whole.contains(kind) || self.records.get(kind).is_some_and(|ids| ids.contains(id))
    }

    /// How many records of `kind` are taken by id.
    pub fn count(&self, kind: &str) -> usize {
        self.records.get(kind).map_or(0, HashSet::len)
    }

    /// Whether a walk hands out `item`: an open record (pending or failed) only when taken.
    fn hands_out(&self, item: &WorkItem) -> bool {
        !matches!(item.state, RecordState::Pending | RecordState::Failed)
            || self.takes(&item.kind, &item.source_id)
    }
}

impl Ledger {
    /// Limits every later walk of this ledger handle (and its clones) to `selection`; `None`
    /// lifts the limit. A run limits its own ledger: other handles on the directory are not.
    pub fn limit_to(&self, selection: Option<Selection>) {
        *super::lock_ignoring_poison(&self.inner.selection) = selection.map(Arc::new);
    }

    /// The selection walks are limited to, if any.
    pub fn selection(&self) -> Option<Arc<Selection>> {
        super::lock_ignoring_poison(&self.inner.selection).clone()
    }
}

/// The stored source a page of a walk holds at most (the record that reaches it ends the page):
/// a page is `page_size` records or this many bytes of raw JSON, whichever comes first. Mapping
/// a page holds its records' sources, their parsed trees and their bodies at once, so a count
/// alone let heavy kinds take far more memory than light ones, and more on larger workspaces:
/// `large`'s 10,000 tickets (4 KB of source each) filled pages of 2,000 where `medium`'s 1,000
/// made one page of 1,000, and its peak RSS rose with them. 4 MiB keeps every page of `medium`
/// whole (its heaviest, the tickets, is 4.16 MB) and holds `large`'s to the same weight.
pub const PAGE_RAW_BYTES: usize = 4 * 1024 * 1024;

/// Pages of the target records of one kind in some states (see [`Ledger::pages`]).
pub struct Pages {
    ledger: Ledger,
    kind: String,
    states: Vec<RecordState>,
    /// A keyset listing walked instead of states (see [`Ledger::listed_pages`]).
    listing: Option<Listed>,
    page_size: usize,
    after: Option<String>,
    done: bool,
    selection: Option<Arc<Selection>>,
}

impl Ledger {
    /// Pages of `page_size` target records of `kind` in any of `states` (fewer where their
    /// sources reach [`PAGE_RAW_BYTES`]), in source-id order. Async callers take
    /// [`Pages::next_page`] (the read runs on the blocking pool); sync ones iterate.
    pub fn pages(&self, kind: &str, states: &[RecordState], page_size: usize) -> Pages {
        Pages {
            ledger: self.clone(),
            kind: kind.to_string(),
            states: states.to_vec(),
            listing: None,
            page_size,
            after: None,
            done: false,
            selection: self.selection(),
        }
    }

    /// Pages of `page_size` target records of `kind` in `listing` (loaded records whose source
    /// changed, sent ones without a job…), in source-id order, walked as [`Ledger::pages`]:
    /// records that leave the listing while the walk goes on are not missed nor seen twice.
    pub fn listed_pages(&self, listing: Listed, kind: &str, page_size: usize) -> Pages {
        Pages {
            listing: Some(listing),
            ..self.pages(kind, &[], page_size)
        }
    }
}

/// One page of a walk after `after`, from its states or its listing.
fn read_batch(
    r: &super::LedgerReader,
    kind: &str,
    states: &[RecordState],
    listing: Option<Listed>,
    after: Option<&str>,
    size: usize,
) -> Result<Vec<WorkItem>, LedgerError> {
    match listing {
        Some(listing) => r.listed_within(listing, kind, after, size, PAGE_RAW_BYTES),
        None => r.next_batch_within(kind, states, after, size, PAGE_RAW_BYTES),
    }
}

impl Pages {
    /// The next page, read on the blocking pool so async workers never wait on SQLite; `None`
    /// once the kind is walked.
    pub async fn next_page(&mut self) -> Result<Option<Vec<WorkItem>>, LedgerError> {
        self.ledger.keep_up().await?;
        loop {
            if self.done {
                return Ok(None);
            }
            let (kind, states, listing, after, size) = (
                self.kind.clone(),
                self.states.clone(),
                self.listing,
                self.after.clone(),
                self.page_size,
            );
            let page = self
                .ledger
                .read_blocking(move |r| {
                    read_batch(r, &kind, &states, listing, after.as_deref(), size)
                })
                .await?;
            if let Some(page) = self.advance(page) {
                return Ok(Some(page));
            }
        }
    }

    /// Moves past `page`; `None` when nothing of it is handed out (the walk is over, or the
    /// selection took none of the page: the caller reads the next).
    fn advance(&mut self, page: Vec<WorkItem>) -> Option<Vec<WorkItem>> {
        match page.last() {
            Some(last) => {
                self.after = Some(last.source_id.clone());
                let page: Vec<WorkItem> = match &self.selection {
                    Some(selection) => page
                        .into_iter()
                        .filter(|i| selection.hands_out(i))
                        .collect(),
                    None => page,
                };
                (!page.is_empty()).then_some(page)
            }
            None => {
                self.done = true;
                None
            }
        }
    }
}

/// Sync callers (already off the async workers, or small kinds) iterate on their own thread.
impl Iterator for Pages {
    type Item = Result<Vec<WorkItem>, LedgerError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(page) = self.next_read() {
                return Some(page);
            }
            if self.done {
                return None;
            }
        }
    }
}

impl Pages {
    /// One read of the sync walk: `None` when the walk is over or nothing of the page was
    /// handed out.
    fn next_read(&mut self) -> Option<Result<Vec<WorkItem>, LedgerError>> {
        if self.done {
            return None;
        }
        let read = self.ledger.read(|r| {
            read_batch(
                r,
                &self.kind,
                &self.states,
                self.listing,
                self.after.as_deref(),
                self.page_size,
            )
        });
        match read {
            Ok(page) => self.advance(page).map(Ok),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
