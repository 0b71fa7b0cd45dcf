//! The one way to walk a kind's target records: pages in source-id order, each a keyset range
//! scan from the previous page's last id, so a kind costs one pass and one page is in memory at
//! a time. Records that change state while the walk goes on are not seen twice.

use super::{Ledger, LedgerError, RecordState, WorkItem};

/// Pages of the target records of one kind in some states (see [`Ledger::pages`]).
pub struct Pages {
    ledger: Ledger,
    kind: String,
    states: Vec<RecordState>,
    page_size: usize,
    after: Option<String>,
    done: bool,
}

impl Ledger {
    /// Pages of `page_size` target records of `kind` in any of `states`, in source-id order.
    /// Async callers take [`Pages::next_page`] (the read runs on the blocking pool); sync ones
    /// iterate.
    pub fn pages(&self, kind: &str, states: &[RecordState], page_size: usize) -> Pages {
        Pages {
            ledger: self.clone(),
            kind: kind.to_string(),
            states: states.to_vec(),
            page_size,
            after: None,
            done: false,
        }
    }
}

impl Pages {
    /// The next page, read on the blocking pool so async workers never wait on SQLite; `None`
    /// once the kind is walked.
    pub async fn next_page(&mut self) -> Result<Option<Vec<WorkItem>>, LedgerError> {
        if self.done {
            return Ok(None);
        }
        let (kind, states, after, size) = (
            self.kind.clone(),
            self.states.clone(),
            self.after.clone(),
            self.page_size,
        );
        let page = self
            .ledger
            .read_blocking(move |r| r.next_batch(&kind, &states, after.as_deref(), size))
            .await?;
        Ok(self.advance(page))
    }

    fn advance(&mut self, page: Vec<WorkItem>) -> Option<Vec<WorkItem>> {
        match page.last() {
            Some(last) => {
                self.after = Some(last.source_id.clone());
                Some(page)
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
        if self.done {
            return None;
        }
        let read = self.ledger.read(|r| {
            r.next_batch(
                &self.kind,
                &self.states,
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
