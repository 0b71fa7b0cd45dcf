//! The ground floor: the vocabulary every layer shares (phases, record kinds, error classes, rate
//! budgets, connection checks, field decisions, Kustomer's attribute suffixes). Plain data with
//! no behaviour beyond labels, the text of a JSON scalar ([`scalar_text`]), which the clients,
//! mapping and the simulator read alike, and of a count as a person reads it ([`count_text`]),
//! which the console and the report print alike; and how the clients declare their routes
//! (`route_paths!`).
//!
//! This module names nothing of the crate (only std, serde, serde_json and clap's `ValueEnum` for
//! the CLI's filters), so the ledger, the transport, the clients, mapping and the engine can all
//! use it without importing one another. `tests/layers.rs` keeps it that way. The front-end protocol
//! built on these words (`Snapshot`, `Event`, `Command`…) stays in `engine::model`.

use serde::{Deserialize, Serialize};

mod kind;
mod route;
mod suffix;
pub use kind::{Kind, UnknownKind};
pub(crate) use route::route_paths;
pub use suffix::Suffix;

/// The text of a JSON scalar: a string as it is, a number or a boolean as written; `None` for
/// null, arrays and objects. What Intercom's text comparisons and Kustomer's string fields read.
pub fn scalar_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The load phases, in dependency order (DESIGN.md "Phases").
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum PhaseId {
    Prerequisites,
    UsersTeams,
    Metadata,
    Companies,
    Customers,
    Kb,
    Conversations,
    Extras,
}

impl PhaseId {
    pub const ALL: [PhaseId; 8] = [
        PhaseId::Prerequisites,
        PhaseId::UsersTeams,
        PhaseId::Metadata,
        PhaseId::Companies,
        PhaseId::Customers,
        PhaseId::Kb,
        PhaseId::Conversations,
        PhaseId::Extras,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PhaseId::Prerequisites => "Prerequisites",
            PhaseId::UsersTeams => "Users & teams",
            PhaseId::Metadata => "Attribute metadata",
            PhaseId::Companies => "Companies",
            PhaseId::Customers => "Customers",
            PhaseId::Kb => "Knowledge base",
            PhaseId::Conversations => "Conversations",
            PhaseId::Extras => "Events & extras",
        }
    }
}

/// A rate budget as the gate sees it in the current window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Requests sent in the current window.
    pub used: u32,
    /// Requests the migration may send in the window (limit × share).
    pub allowed: u32,
    /// The server's announced limit per window.
    pub limit: u32,
    pub window_secs: u32,
    /// Requests answered 429 so far.
    pub throttled: u64,
    pub requests: u64,
    /// While a 429 holds every request: when the hold ends (unix seconds).
    #[serde(default)]
    pub throttled_until: Option<i64>,
}

/// The class of an error, for filtering and for deciding what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The API refused the record (4xx other than 429): fix the data or the mapping.
    Rejected,
    /// Authentication or permission: fix the token or its roles.
    Auth,
    /// The token was refused (401: expired or revoked). Not the record's failure: the run stops
    /// as if interrupted and the record keeps its state for the next run.
    Unauthorized,
    /// Retries ran out on 429s, 5xx, timeouts or resets.
    Transient,
    /// The source record could not be read or mapped.
    Source,
    /// A decision (mapping) is missing or points nowhere.
    Mapping,
    /// The outcome of a write is unknown (answer lost, not found by lookup).
    Unknown,
}

impl ErrorClass {
    /// Its serde name (`rejected`, `transient`…): what the ledger stores and the console shows.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Rejected => "rejected",
            ErrorClass::Auth => "auth",
            ErrorClass::Unauthorized => "unauthorized",
            ErrorClass::Transient => "transient",
            ErrorClass::Source => "source",
            ErrorClass::Mapping => "mapping",
            ErrorClass::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    Created,
    Warn,
}

impl CheckStatus {
    /// A symbol, so status never depends on colour alone.
    pub fn symbol(self) -> &'static str {
        match self {
            CheckStatus::Pass => "✓",
            CheckStatus::Fail => "✗",
            CheckStatus::Created => "+",
            CheckStatus::Warn => "!",
        }
    }
}

/// One side's connection as `doctor` and the Connect screen show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// "intercom" or "kustomer".
    pub side: String,
    pub url: String,
    pub status: CheckStatus,
    /// Workspace name (Intercom) or org name (Kustomer).
    pub name: Option<String>,
    pub region: Option<String>,
    pub api_version: Option<String>,
    /// Announced limit and its window, e.g. 1667 per 10 s.
    pub rate_limit: Option<u32>,
    pub rate_window_secs: Option<u32>,
    /// "missing" or a redacted hint; never the token.
    pub token: String,
    /// The server refused the token (401 or 403): set, but not valid here.
    #[serde(default)]
    pub token_refused: bool,
    /// Roles of the Kustomer key, where readable.
    pub roles: Vec<String>,
    /// What went wrong and what to do, when status is not Pass.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum FieldDecision {
    Unresolved,
    /// Carry it as this custom attribute (name includes the type suffix).
    Attribute {
        name: String,
    },
    /// Write it to the archive only.
    Archive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldMapping {
    /// "contact", "company" or "conversation".
    pub model: String,
    pub source_name: String,
    pub source_type: String,
    /// Proposed attribute name with its Kustomer suffix (`planStr`, `seatsNum`…), if one fits.
    pub proposed: Option<String>,
    pub decision: FieldDecision,
    pub note: String,
}

/// A count with thousands separators, as a person reads it: `12345` → `12,345`.
pub fn count_text(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
