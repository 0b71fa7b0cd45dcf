//! Pause, resume and cancel, shared by every task of a run. Tasks call [`Control::checkpoint`]
//! between records: it returns at once while running, waits while paused, and reports a cancel so
//! the task stops cleanly (in-flight requests settle; the ledger keeps where it stopped).

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlState {
    Running,
    Paused,
    Cancelled,
}

/// The run was cancelled; unwinding tasks return this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the run was cancelled")]
pub struct Cancelled;

#[derive(Debug, Clone)]
pub struct Control {
    tx: watch::Sender<ControlState>,
    /// Why the run was stopped from outside the operator's hands (a signal, a refused token,
    /// a full disk): the first reason given.
    interruption: Arc<Mutex<Option<String>>>,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl Control {
    pub fn new() -> Control {
        Control {
            tx: watch::Sender::new(ControlState::Running),
            interruption: Arc::new(Mutex::new(None)),
        }
    }

    pub fn state(&self) -> ControlState {
        *self.tx.borrow()
    }

    pub fn pause(&self) {
        self.tx.send_if_modified(|s| {
            let change = *s == ControlState::Running;
            if change {
                *s = ControlState::Paused;
            }
            change
        });
    }

    pub fn resume(&self) {
        self.tx.send_if_modified(|s| {
            let change = *s == ControlState::Paused;
            if change {
                *s = ControlState::Running;
            }
            change
        });
    }

    pub fn cancel(&self) {
        self.tx.send_replace(ControlState::Cancelled);
    }

    /// Cancels the run for `reason` (what stopped it and what to do), unless another reason
    /// came first. Returns whether this was the first.
    pub fn interrupt(&self, reason: impl Into<String>) -> bool {
        let first = {
            let mut slot = self
                .interruption
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let first = slot.is_none();
            if first {
                *slot = Some(reason.into());
            }
            first
        };
        self.cancel();
        first
    }

    /// The reason the run was interrupted, if it was.
    pub fn interruption(&self) -> Option<String> {
        self.interruption
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn is_cancelled(&self) -> bool {
        self.state() == ControlState::Cancelled
    }

    /// Returns when the run may go on; waits while paused; `Err(Cancelled)` once cancelled.
    pub async fn checkpoint(&self) -> Result<(), Cancelled> {
        let mut rx = self.tx.subscribe();
        loop {
            match *rx.borrow_and_update() {
                ControlState::Running => return Ok(()),
                ControlState::Cancelled => return Err(Cancelled),
                ControlState::Paused => {}
            }
            if rx.changed().await.is_err() {
                return Err(Cancelled);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A paused control and a task waiting at its checkpoint.
    fn paused_waiter() -> (Control, tokio::task::JoinHandle<Result<(), Cancelled>>) {
        let control = Control::new();
        control.pause();
        let c2 = control.clone();
        (control, tokio::spawn(async move { c2.checkpoint().await }))
    }

    #[tokio::test]
    async fn a_paused_run_waits_until_resumed() {
        let (control, waiter) = paused_waiter();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiter.is_finished());
        control.resume();
        assert_eq!(waiter.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn cancel_releases_paused_tasks_with_an_error() {
        let (control, waiter) = paused_waiter();
        control.cancel();
        assert_eq!(waiter.await.unwrap(), Err(Cancelled));
        control.resume();
        assert!(control.is_cancelled());
    }
}
