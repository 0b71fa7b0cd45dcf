//! The front-end protocol: what front-ends read (`Snapshot`, `Event`, the wizard's data) and what
//! they send (`Command`). Plain data, no behaviour: the TUI and the headless runner are two readers
//! of the same values. The words every layer shares (`PhaseId`, `ErrorClass`, `Budget`…) are in
//! `crate::vocab`, the ground floor.

use std::time::Duration;

use serde::{Deserialize, Serialize};

// The shared vocabulary lives on the ground floor (`crate::vocab`); re-exported here so the
// front-ends keep reading the protocol from one place.
pub use crate::vocab::{
    Budget, CheckStatus, ConnectionInfo, ErrorClass, FieldDecision, FieldMapping, PhaseId,
};

/// The object types of the Intercom workspace: the catalog's (`engine::kinds`), re-exported so
/// the front-ends read the protocol's names from one place.
pub use crate::engine::kinds::OBJECT_TYPES;

/// Where an object type goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Migrated through Kustomer's API.
    Migrate,
    /// Rebuilt by a person from the checklist (`MANUAL.md`).
    Manual,
    /// Written to local JSON-lines files in the run directory.
    Archive,
}

impl Bucket {
    pub fn label(self) -> &'static str {
        match self {
            Bucket::Migrate => "migrate",
            Bucket::Manual => "manual",
            Bucket::Archive => "archive",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    /// Waiting for its inputs or the phases it depends on.
    Waiting,
    Running,
    Paused,
    Done,
    /// Finished with failed records.
    DoneWithFailures,
    /// Not in this run's scope.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseProgress {
    pub phase: PhaseId,
    pub status: PhaseStatus,
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Sent, answer lost, no way to look it up: may or may not exist in Kustomer.
    #[serde(default)]
    pub unknown: u64,
    pub in_flight: u64,
    /// The Intercom records staged for this phase while its own records are not planned yet
    /// (`total` 0 until the phase starts): what the ETA counts for it, shown as an estimate.
    #[serde(default)]
    pub expected: u64,
}

impl PhaseProgress {
    /// Records this phase has settled however they ended: done, failed, skipped or unknown.
    pub fn settled(&self) -> u64 {
        self.done + self.failed + self.skipped + self.unknown
    }

    /// Records this phase still has to settle: of its total, or, before it is planned, of the
    /// records staged for it; none for a skipped phase. The ETA sums it over every phase.
    pub fn left(&self) -> u64 {
        if self.status == PhaseStatus::Skipped {
            return 0;
        }
        self.size().saturating_sub(self.settled())
    }

    /// The phase's size as best known: its total, or the records staged for it while that is
    /// more (the phase is not fully planned yet, see [`PhaseProgress::estimated`]).
    pub fn size(&self) -> u64 {
        self.total.max(self.expected)
    }

    /// Whether [`PhaseProgress::size`] is an estimate (shown `~N`): the phase has planned fewer
    /// records than were staged for it.
    pub fn estimated(&self) -> bool {
        self.expected > self.total
    }
}

/// Extraction progress of one object type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractProgress {
    pub object: String,
    pub fetched: u64,
    /// Known once the API has said (search `total_count`) or the listing completed.
    pub total: Option<u64>,
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Idle,
    Extracting,
    Running,
    Paused,
    Cancelling,
    Finished,
    /// Ended before it finished: stopped by the operator or a signal, or waiting for decisions.
    /// The next start resumes it.
    Stopped,
    Failed(String),
}

/// Aggregate progress, published at most 10 times a second on a `watch` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub state: RunState,
    pub phases: Vec<PhaseProgress>,
    pub extraction: Vec<ExtractProgress>,
    pub records_per_sec: f64,
    pub requests_per_sec: f64,
    /// Records completed per second over the last minute, oldest first.
    pub throughput: Vec<u64>,
    pub kustomer: Budget,
    pub intercom: Budget,
    /// Share of the Kustomer org budget the migration takes (0 < share ≤ 1).
    pub rate_share: f64,
    #[serde(with = "crate::timefmt::duration_secs")]
    pub elapsed: Duration,
    #[serde(
        serialize_with = "crate::timefmt::duration_secs::serialize_option",
        deserialize_with = "crate::timefmt::duration_secs::deserialize_option"
    )]
    pub eta: Option<Duration>,
    /// What the engine is doing now, in a few words.
    pub activity: String,
    /// Kustomer bulk jobs the run is waiting on (submitted, not yet seen complete).
    #[serde(default)]
    pub bulk_jobs_waiting: u64,
    /// What the run changed in Kustomer beyond creating records (a delta run, a full run's
    /// catch-up pass) or found removed from Intercom, by kind of change in the ledger's order;
    /// empty while it changed nothing.
    #[serde(default)]
    pub changes: Vec<ChangeCount>,
    /// The run writes Intercom's value over an agent's edit (`--overwrite-conflicts`): its
    /// conflicts were overwritten, not kept.
    #[serde(default)]
    pub overwrite_conflicts: bool,
}

/// How many records a run changed one way, over every record type: `change` is one of the
/// ledger's kinds of change (`updated`, `closed`, `reopened`, `snoozed`, `reassigned`,
/// `retagged`, `conflict`, `removed`, `deleted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCount {
    pub change: String,
    pub count: u64,
}

impl Snapshot {
    /// `throttled by Kustomer until 00:41:07 UTC` while a 429 holds either API's requests.
    pub fn throttled_note(&self) -> Option<String> {
        let sides: Vec<String> = [("Kustomer", &self.kustomer), ("Intercom", &self.intercom)]
            .iter()
            .filter_map(|(side, budget)| {
                budget
                    .throttled_until
                    .map(|until| format!("{side} until {}", crate::timefmt::unix_to_clock(until)))
            })
            .collect();
        (!sides.is_empty()).then(|| format!("throttled by {}", sides.join(", ")))
    }

    /// `5 updated · 2 closed · 1 conflict (kept the agent's value) · 2 removed in Intercom`:
    /// what the run changed in place, or None while it changed nothing.
    pub fn changes_note(&self) -> Option<String> {
        let parts: Vec<String> = self
            .changes
            .iter()
            .filter(|c| c.count > 0)
            .map(|c| {
                let n = crate::vocab::count_text(c.count);
                match (c.change.as_str(), c.count, self.overwrite_conflicts) {
                    ("conflict", 1, false) => format!("{n} conflict (kept the agent's value)"),
                    ("conflict", _, false) => format!("{n} conflicts (kept the agents' values)"),
                    ("conflict", 1, true) => format!("{n} conflict (overwritten as asked)"),
                    ("conflict", _, true) => format!("{n} conflicts (overwritten as asked)"),
                    ("removed", ..) => format!("{n} removed in Intercom"),
                    ("deleted", ..) => format!("{n} deleted in Kustomer"),
                    (change, ..) => format!("{n} {change}"),
                }
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            state: RunState::Idle,
            phases: PhaseId::ALL
                .iter()
                .map(|&phase| PhaseProgress {
                    phase,
                    status: PhaseStatus::Waiting,
                    total: 0,
                    done: 0,
                    failed: 0,
                    skipped: 0,
                    unknown: 0,
                    in_flight: 0,
                    expected: 0,
                })
                .collect(),
            extraction: Vec::new(),
            records_per_sec: 0.0,
            requests_per_sec: 0.0,
            throughput: Vec::new(),
            kustomer: Budget::default(),
            intercom: Budget::default(),
            rate_share: 0.8,
            elapsed: Duration::ZERO,
            eta: None,
            activity: String::new(),
            bulk_jobs_waiting: 0,
            changes: Vec::new(),
            overwrite_conflicts: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// Discrete happenings, on an `mpsc` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Log {
        level: LogLevel,
        message: String,
    },
    PhaseStarted {
        phase: PhaseId,
    },
    PhaseFinished {
        phase: PhaseId,
        done: u64,
        failed: u64,
        skipped: u64,
    },
    RecordFailed {
        failure: FailureSummary,
    },
    Finished {
        summary: RunSummary,
    },
}

/// What a front-end asks of a running engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Pause,
    Resume,
    /// Stop after in-flight requests settle; a later run resumes where this one stopped.
    Cancel,
    /// As `Cancel`, for a reason from outside the console (a signal): the run is recorded as
    /// interrupted and the reason is logged.
    Interrupt {
        reason: String,
    },
    SetRateShare {
        share: f64,
    },
    /// Put failed records back to pending and run them again.
    Retry {
        records: Vec<RecordRef>,
    },
    /// Mark failed records skipped, with the operator's reason.
    Skip {
        records: Vec<RecordRef>,
        reason: String,
    },
}

/// One source record: its Intercom object type and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordRef {
    pub object: String,
    pub source_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureSummary {
    pub record: RecordRef,
    pub phase: PhaseId,
    pub class: ErrorClass,
    pub message: String,
    pub attempts: u32,
}

/// Everything the Errors screen shows about one failed record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureDetail {
    pub summary: FailureSummary,
    /// The source record as extracted (raw JSON, pretty-printed).
    pub source: String,
    /// The last request, redacted (method, URL, body).
    pub request: String,
    /// The last response, redacted (status, body).
    pub response: String,
    /// The mapping decision that shaped this record, if one did (e.g. `admin:123`).
    pub mapping_key: Option<String>,
}

/// One row of the scope: an object type, its live count and where it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeItem {
    pub object: String,
    pub count: u64,
    pub bucket: Bucket,
    /// What exists in Intercom but its API cannot return (parts beyond 500, events older than 90 days).
    pub not_retrievable: u64,
    pub note: String,
}

/// A segment and whether it is carried as a saved search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentChoice {
    pub id: String,
    pub name: String,
    pub members: u64,
    pub updated_at: i64,
    pub in_use: bool,
}

/// One prerequisite check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrereqCheck {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    /// What i2k would create on confirmation, if it can.
    pub can_create: Option<String>,
    /// What the operator chooses between, when the check is a choice (the knowledge base the
    /// help center goes to, on an org with several); empty otherwise.
    #[serde(default)]
    pub choices: Vec<CheckChoice>,
}

/// One option of a check that is a choice: its id and how it reads on screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckChoice {
    pub id: String,
    pub label: String,
    /// The option in force now (chosen, or the one the run would take).
    pub chosen: bool,
}

/// How an Intercom admin is carried into Kustomer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum AdminDecision {
    Unresolved,
    /// An existing Kustomer user.
    User {
        user_id: String,
        email: String,
    },
    /// Create the user in Kustomer (Kustomer emails an invitation).
    Invite,
    /// The fallback user (the API key's own user unless the operator names another).
    Fallback,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminMapping {
    pub admin_id: String,
    pub name: String,
    pub email: String,
    /// Suggested user (same email), if any.
    pub suggestion: Option<UserChoice>,
    pub decision: AdminDecision,
}

/// A Kustomer user the operator can pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserChoice {
    pub user_id: String,
    pub name: String,
    pub email: String,
}

/// Verification of one object type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeVerification {
    pub object: String,
    pub source: u64,
    pub migrated: u64,
    pub archived: u64,
    pub manual: u64,
    pub skipped: u64,
    pub failed: u64,
    pub not_retrievable: u64,
    /// Counted in Kustomer through list or externalId routes; None when not countable there.
    pub target: Option<u64>,
    pub agrees: bool,
    /// Records Intercom could not return whole (a retrieval or sub-list failed after the
    /// retries): until a later run reads them, the type cannot agree.
    #[serde(default)]
    pub incomplete: u64,
    /// Records whose stored source (the ledger's copy of the Intercom record) cannot be read
    /// and that did not load: counted apart from `failed`, which holds the ordinary failures.
    #[serde(default)]
    pub unreadable: u64,
    /// Records sent whose answer was lost where Kustomer offers no lookup (tracking events):
    /// whether Kustomer holds them is unknown. Part of the expected count, not of the migrated.
    #[serde(default)]
    pub unknown: u64,
}

impl TypeVerification {
    /// What Kustomer should hold: source − archived − manual − skipped − not retrievable.
    pub fn expected(&self) -> u64 {
        self.source
            .saturating_sub(self.archived + self.manual + self.skipped + self.not_retrievable)
    }

    /// Whether the type's whole difference is its records of unknown outcome.
    pub fn short_only_by_unknown(&self) -> bool {
        self.unreadable == 0 && self.short_only_by(self.unknown)
    }

    /// Whether the type's whole difference is its records that cannot be read from the ledger:
    /// Kustomer (or, where it cannot count, the ledger) holds every other expected record.
    pub fn short_only_by_unreadable(&self) -> bool {
        self.short_only_by(self.unreadable)
    }

    /// Whether the type does not agree by exactly `records`, none of them incomplete.
    fn short_only_by(&self, records: u64) -> bool {
        !self.agrees
            && records > 0
            && self.incomplete == 0
            && self.target.unwrap_or(self.migrated) + records == self.expected()
    }
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub phases: Vec<PhaseProgress>,
    #[serde(with = "crate::timefmt::duration_secs")]
    pub elapsed: Duration,
    pub kustomer_requests: u64,
    pub intercom_requests: u64,
    /// Defaults taken for unresolved decisions (with `--accept-defaults`).
    pub defaults_taken: Vec<String>,
    pub cancelled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_not_planned_yet_counts_what_was_staged_for_it() {
        let mut p = Snapshot::default().phases[0].clone();
        p.expected = 14_319;
        assert_eq!(p.left(), 14_319, "not planned: the staged records");
        p.total = 14_000;
        p.expected = 0;
        p.done = 5_000;
        p.skipped = 8_000;
        p.failed = 10;
        p.unknown = 2;
        assert_eq!(p.left(), 988);
        p.status = PhaseStatus::Skipped;
        assert_eq!(p.left(), 0);
    }
}
