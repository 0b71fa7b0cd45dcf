//! The session's protocol: the [`SessionCommand`]s a front-end sends and the [`SessionUpdate`]s
//! the session answers with, plus the words of the front-end protocol (`engine::model`) and the
//! few helpers a front-end needs to show them. Plain data: the console is a pure state machine
//! over these values, and it names nothing of the engine but this module.

pub use crate::engine::disk::{DiskEstimate, describe as describe_disk, human_bytes};
pub use crate::engine::model::{
    AdminDecision, AdminMapping, Bucket, ChangeCount, CheckChoice, CheckStatus, Command,
    ConnectionInfo, ErrorClass, Event, FailureDetail, FailureSummary, FieldDecision, FieldMapping,
    LogLevel, PhaseId, PhaseProgress, PhaseStatus, PrereqCheck, RecordRef, RunState, ScopeItem,
    SegmentChoice, Snapshot, TypeVerification, UserChoice,
};
pub use crate::http::Secret;

/// The Prerequisites row for the Kustomer key's roles; `c` on it decides on re-stamped times.
pub const KEY_ROLES_CHECK: &str = "Key roles";
/// The Prerequisites row of `i2k doctor --probe`'s results (`c` runs the probe, asked first).
pub const PROBE_CHECK: &str = "Probe";
/// How the notice of a verification that could not finish begins (the front-end stops saying
/// one is under way).
pub const VERIFY_FAILED: &str = "verification failed";
/// The Prerequisites row for Intercom's admins as Kustomer users: fixed on Mapping.
pub const USERS_CHECK: &str = crate::engine::load::prerequisites::USERS;
/// The Prerequisites row for the knowledge base the help center goes to; `c` on it chooses.
pub const KNOWLEDGE_BASE_CHECK: &str = crate::engine::load::prerequisites::KNOWLEDGE_BASE;

/// What a front-end asks of the session.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionCommand {
    /// Store a new base URL for one side ("intercom" or "kustomer") and reconnect.
    SaveEndpoint {
        side: String,
        url: String,
    },
    /// Use this token for one side for the session (never written to disk).
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
    /// The operator's answer to a key without `org.admin`: go ahead with re-stamped message and
    /// note times (stored with the migration's decisions) or not.
    AcceptRestampedTimes {
        accept: bool,
    },
    /// The operator chose the Kustomer knowledge base KB categories and articles go to (stored
    /// with the migration's decisions).
    ChooseKnowledgeBase {
        id: String,
        label: String,
    },
    /// Probe the Kustomer org's assumptions on throwaway records (`i2k doctor --probe`), asked
    /// first by the console; the results are kept in the ledger and shown on the probe row.
    RunProbe,
    /// The operator accepted the stated defaults for every unresolved mapping.
    AcceptDefaults,
    StartRun,
    /// Start a sample run of this many conversations (`engine::sample`); the run after it is
    /// a full one again.
    StartSample {
        conversations: usize,
    },
    /// Start a delta run (cutover day: what changed in Intercom since the last completed run).
    /// `delete_removed` says whether records deleted in Intercom are deleted in Kustomer too;
    /// `None` leaves it to the operator: where the ledger holds such records still in Kustomer,
    /// the session answers [`SessionUpdate::RemovedKept`] for the front-end to ask, and starts
    /// nothing until asked again with the answer.
    StartDelta {
        delete_removed: Option<bool>,
    },
    /// A command for the run (pause, resume, rate share, cancel), or a retry or skip, which
    /// between runs change the ledger at once.
    Engine(Command),
    LoadFailures {
        filter: FailureFilter,
    },
    LoadFailureDetail {
        record: RecordRef,
    },
    Verify,
    /// Roll back what the migration created in Kustomer (`engine::rollback`). Unconfirmed, the
    /// session only shows what would be deleted and what cannot be, as a notice, for the
    /// front-end to ask about; confirmed, it deletes.
    Rollback {
        confirmed: bool,
    },
    /// The operator quit; an active run is stopped so that the next start resumes it.
    Quit,
}

/// Which failed records a front-end lists.
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

/// What the session tells its front-end.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionUpdate {
    Connections(Vec<ConnectionInfo>),
    Scope {
        items: Vec<ScopeItem>,
        segments: Vec<SegmentChoice>,
        history_months: Option<u32>,
    },
    Prerequisites(Vec<PrereqCheck>),
    /// The disk the migration needs in the state directory, and what the file system has free.
    Disk {
        estimate: DiskEstimate,
        free: Option<u64>,
    },
    /// The Kustomer users an admin can be mapped to.
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
    /// What a rollback would delete, by type, and how much stays: the front-end asks before
    /// it sends `Rollback { confirmed: true }`.
    RollbackPlan(String),
    /// Before a delta run: this many records deleted in Intercom since they were loaded are
    /// still in Kustomer. The front-end asks whether to delete them there too, and sends
    /// `StartDelta { delete_removed: Some(answer) }`.
    RemovedKept {
        records: u64,
    },
}
