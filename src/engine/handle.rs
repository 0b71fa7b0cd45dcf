//! `EngineHandle`: what a front-end holds of a running engine — the latest `Snapshot` on a
//! `watch` channel, discrete `Event`s on an unbounded channel (a front-end that stops reading
//! never stalls the engine's writers for long: events are few beside records), and `send` for
//! `Command`s. The TUI and the headless runner are two readers of the same handle.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::engine::model::{Command, Event, RunSummary, Snapshot};

/// How a run ended, beside its summary.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Every phase ran; records may still have failed (see the summary).
    Completed(RunSummary),
    /// Stopped before loading: these decisions need the operator (or `--accept-defaults`).
    NeedsDecisions(Vec<String>),
    /// Cancelled by the operator; a later run resumes where this one stopped.
    Cancelled(RunSummary),
}

pub struct EngineHandle {
    pub snapshot: watch::Receiver<Snapshot>,
    pub events: mpsc::UnboundedReceiver<Event>,
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<anyhow::Result<RunOutcome>>,
}

impl EngineHandle {
    pub fn new(
        snapshot: watch::Receiver<Snapshot>,
        events: mpsc::UnboundedReceiver<Event>,
        commands: mpsc::UnboundedSender<Command>,
        task: JoinHandle<anyhow::Result<RunOutcome>>,
    ) -> EngineHandle {
        EngineHandle {
            snapshot,
            events,
            commands,
            task,
        }
    }

    /// Sends a command; ignored once the run has ended.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// A sender that outlives borrows of the handle (for UI glue tasks).
    pub fn commander(&self) -> mpsc::UnboundedSender<Command> {
        self.commands.clone()
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the run to end.
    pub async fn wait(self) -> anyhow::Result<RunOutcome> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(anyhow::anyhow!("the engine stopped unexpectedly: {e}")),
        }
    }

    /// Splits the handle so the events can be drained while waiting for the end.
    pub fn split(
        self,
    ) -> (
        watch::Receiver<Snapshot>,
        mpsc::UnboundedReceiver<Event>,
        mpsc::UnboundedSender<Command>,
        JoinHandle<anyhow::Result<RunOutcome>>,
    ) {
        (self.snapshot, self.events, self.commands, self.task)
    }
}
