//! The console's only link to the world: [`Request`]s it sends to the glue (which talks to the
//! engine, the ledger and the config) and [`Update`]s the glue sends back. Plain data, so the console
//! is a pure state machine that tests drive without a terminal or an engine.

use crate::engine::model::AdminMapping;
use crate::engine::model::{
    AdminDecision, Bucket, Command, ConnectionInfo, ErrorClass, Event, FailureDetail,
    FailureSummary, FieldDecision, FieldMapping, PhaseId, PrereqCheck, RecordRef, ScopeItem,
    SegmentChoice, Snapshot, TypeVerification, UserChoice,
};
use crate::http::Secret;

/// What the console asks of the glue.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Store a new base URL for one side ("intercom" or "kustomer") and reconnect.
    SaveEndpoint {
        side: String,
        url: String,
    },
    /// Use this token for one side for the session (never written to disk by the console).
    SaveToken {
        side: String,
        token: Secret,
    },
    /// Check both connections again.
    Reconnect,
    SetBucket {
        object: String,
        bucket: Bucket,
    },
    SetSegmentInUse {
        id: String,
        in_use: bool,
    },
    /// Only conversations updated in the last N months; `None` takes them all.
    SetHistoryMonths(Option<u32>),
    /// Create the missing prerequisite with this check name (after the operator confirmed).
    CreatePrerequisite {
        name: String,
    },
    DecideAdmin {
        admin_id: String,
        decision: AdminDecision,
    },
    DecideField {
        model: String,
        source_name: String,
        decision: FieldDecision,
    },
    /// The operator accepted the stated defaults for every unresolved mapping.
    AcceptDefaults,
    StartRun,
    /// A command for the running engine (pause, resume, rate share, retry, skip, cancel).
    Engine(Command),
    LoadFailures {
        filter: FailureFilter,
    },
    LoadFailureDetail {
        record: RecordRef,
    },
    Verify,
    /// The operator quit; an active run is stopped so that the next start resumes it.
    Quit,
}

/// Which failed records the Errors screen lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureFilter {
    pub phase: Option<PhaseId>,
    /// Intercom object type (`contacts`, `conversations`…).
    pub object: Option<String>,
    pub class: Option<ErrorClass>,
}

impl FailureFilter {
    pub fn matches(&self, failure: &FailureSummary) -> bool {
        self.phase.is_none_or(|p| p == failure.phase)
            && self
                .object
                .as_deref()
                .is_none_or(|o| o == failure.record.object)
            && self.class.is_none_or(|c| c == failure.class)
    }
}

/// What the glue tells the console.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Connections(Vec<ConnectionInfo>),
    Scope {
        items: Vec<ScopeItem>,
        segments: Vec<SegmentChoice>,
        history_months: Option<u32>,
    },
    Prerequisites(Vec<PrereqCheck>),
    /// The disk the migration needs in the state directory, and what the file system has free.
    Disk {
        estimate: crate::engine::disk::DiskEstimate,
        free: Option<u64>,
    },
    /// The Kustomer users the admin picker offers.
    Users(Vec<UserChoice>),
    Admins(Vec<AdminMapping>),
    Fields(Vec<FieldMapping>),
    Snapshot(Snapshot),
    Event(Event),
    /// The failed records matching the last `LoadFailures` filter (replaces the list).
    Failures(Vec<FailureSummary>),
    FailureDetail(FailureDetail),
    Summary {
        verification: Vec<TypeVerification>,
        report_path: Option<String>,
        archive_path: Option<String>,
        manual: Vec<String>,
    },
    /// A line for the operator (a saved setting, an error with what to do).
    Notice(String),
}
