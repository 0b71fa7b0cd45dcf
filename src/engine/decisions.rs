//! The operator's decisions: admins → users, fields → custom attributes, segments in use, buckets,
//! and which missing prerequisites i2k may create. Proposals are computed from the extracted
//! workspace and the Kustomer org, persisted in the ledger (table `decisions`), exported to and
//! imported from `<state_dir>/mapping.toml` so a person can review them in an editor.
//!
//! The ledger is the source of truth and `mapping.toml` its export: every decision taken here
//! (console, defaults, prerequisites, proposals) rewrites the file, so the file `prepare` reads
//! back before a run holds either exactly the ledger's decisions or a person's edits made since —
//! never an older state that would undo a newer decision. A decision taken while the file holds
//! such edits reads them in first, so they are not overwritten either.
//!
//! Ledger keys: `admin:<id>` → [`AdminMapping`], `field:<model>:<name>` → [`FieldMapping`],
//! `segment:<id>` → `{in_use}`, `bucket:<object>` → [`Bucket`], `prereq:<check>` → `{create}`,
//! `fallback_user` → `{user_id, email}`, `knowledge_base` → `{id, name}` (where KB categories and
//! articles go, on an org with several), `created:<kind>:<id>` → marks records i2k created.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::engine::context::Ctx;
use crate::engine::model::{
    AdminDecision, AdminMapping, Bucket, OBJECT_TYPES, PrereqCheck, UserChoice,
};
use crate::engine::plan::default_bucket;
use crate::intercom::models::{Admin, ConversationAttribute, DataAttribute, Segment};
use crate::ledger::{Ledger, LedgerError, SourceRecord};
use crate::mapping::attributes::{self, SourceAttribute, SourceModel};
use crate::mapping::names::{NameAllocator, assigned_suffix};
use crate::mapping::people::email_key;
use crate::vocab::{CheckStatus, FieldDecision, FieldMapping};

pub use crate::engine::load::prerequisites::{
    KNOWLEDGE_BASE as KNOWLEDGE_BASE_CHECK, create_prerequisite, prerequisite_checks,
};

/// The file the decisions are exported to, inside the state directory.
pub const MAPPING_FILE: &str = "mapping.toml";

const ADMIN: &str = "admin:";
const FIELD: &str = "field:";
const SEGMENT: &str = "segment:";
const BUCKET: &str = "bucket:";
const PREREQ: &str = "prereq:";
const CREATED: &str = "created:";
const FALLBACK: &str = "fallback_user";
const WORKFLOWS: &str = "workflow_ids";
/// The Kustomer knowledge base the help center goes to (`{id, name}`).
const KNOWLEDGE_BASE: &str = "knowledge_base";
/// The operator's answer to a key without `org.admin`: go ahead with re-stamped times or not.
const RESTAMPED_ACCEPTED: &str = "roles:restamped_times_accepted";
/// Set once a run went ahead with re-stamped message and note times.
const RESTAMPED_RUN: &str = "roles:restamped_times_run";

/// The source types `prepare` reads.
const DECISION_INPUTS: [&str; 8] = [
    "admins",
    "teams",
    "data_attributes",
    "conversation_attributes",
    "segments",
    "brands",
    "office_hours_schedules",
    "ticket_types",
];

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("a decision could not be encoded: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: anyhow::Error,
    },
    #[error("{path} is not valid TOML: {source}")]
    Toml {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("mapping.toml could not be written: {0}")]
    Encode(#[from] toml::ser::Error),
    #[error("{path}: {entry}: {why}")]
    Invalid {
        path: PathBuf,
        entry: String,
        why: String,
    },
    #[error("no decision is known for {0}; run i2k once so the proposals exist")]
    Unknown(String),
    #[error("attribute name {0:?} needs a type suffix (Str, Txt, Num, At, Bool, Url)")]
    BadAttributeName(String),
}

type Result<T, E = DecisionError> = std::result::Result<T, E>;

/// The decisions as one phase reads them, loaded once.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    admins: HashMap<String, String>,
    fields: HashMap<String, Vec<FieldMapping>>,
    segments: HashMap<String, bool>,
    buckets: HashMap<String, Bucket>,
    fallback_user: Option<String>,
}

impl Decisions {
    pub fn load(ledger: &Ledger) -> Result<Decisions> {
        let fallback_user = fallback_user(ledger)?.map(|(id, _)| id);
        let mut admins = HashMap::new();
        for mapping in stored_admins(ledger)? {
            let user = match &mapping.decision {
                AdminDecision::User { user_id, .. } => Some(user_id.clone()),
                AdminDecision::Fallback => fallback_user.clone(),
                AdminDecision::Invite => ledger.target_id("admins", &mapping.admin_id)?,
                AdminDecision::Unresolved => None,
            };
            if let Some(user) = user {
                admins.insert(mapping.admin_id, user);
            }
        }
        let mut fields: HashMap<String, Vec<FieldMapping>> = HashMap::new();
        for mapping in stored_fields(ledger)? {
            fields
                .entry(mapping.model.clone())
                .or_default()
                .push(mapping);
        }
        Ok(Decisions {
            admins,
            fields,
            segments: stored_under(ledger, SEGMENT, |v| v.get("in_use")?.as_bool())?,
            buckets: stored_under(ledger, BUCKET, |v| serde_json::from_value(v).ok())?,
            fallback_user,
        })
    }

    /// The Kustomer user an Intercom admin's work is attributed to (None while undecided, or
    /// for an invitation the users phase has not sent yet).
    pub fn user_for_admin(&self, admin_id: &str) -> Option<&str> {
        self.admins.get(admin_id).map(String::as_str)
    }

    /// The user records of unknown or undecided admins fall back to (the API key's own user
    /// unless the operator names another).
    pub fn fallback_user(&self) -> Option<&str> {
        self.fallback_user.as_deref()
    }

    /// The attribute mappings of one model (`contact`, `company`, `conversation`).
    pub fn fields(&self, model: &str) -> &[FieldMapping] {
        self.fields
            .get(model)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn segment_in_use(&self, id: &str) -> Option<bool> {
        self.segments.get(id).copied()
    }

    pub fn bucket(&self, object: &str) -> Bucket {
        self.buckets
            .get(object)
            .copied()
            .unwrap_or_else(|| default_bucket(object))
    }
}

// ---- reading and writing single decisions ------------------------------------------------

/// The decisions stored under `prefix`, by the name that follows it, each read by `read` (what
/// it cannot read is left out).
fn stored_under<T>(
    ledger: &Ledger,
    prefix: &str,
    read: impl Fn(Value) -> Option<T>,
) -> Result<HashMap<String, T>> {
    Ok(ledger
        .read(|r| r.decisions(prefix))?
        .into_iter()
        .filter_map(|(key, v)| Some((key.strip_prefix(prefix)?.to_string(), read(v)?)))
        .collect())
}

fn admin_key(id: &str) -> String {
    format!("{ADMIN}{id}")
}

fn field_key(model: &str, name: &str) -> String {
    format!("{FIELD}{model}:{name}")
}

pub(crate) fn stored_admins(ledger: &Ledger) -> Result<Vec<AdminMapping>> {
    Ok(ledger
        .read(|r| r.decisions(ADMIN))?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_value(v).ok())
        .collect())
}

fn stored_fields(ledger: &Ledger) -> Result<Vec<FieldMapping>> {
    Ok(ledger
        .read(|r| r.decisions(FIELD))?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_value(v).ok())
        .collect())
}

/// The fallback user's id and e-mail, once `prepare` has asked Kustomer for the key's user.
/// The Intercom workflow ids `mapping.toml` names for export into the archive.
pub fn workflow_ids(ledger: &Ledger) -> Result<Vec<String>> {
    Ok(ledger
        .read(|r| r.decision(WORKFLOWS))?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

pub fn fallback_user(ledger: &Ledger) -> Result<Option<(String, String)>> {
    id_and_text(ledger, FALLBACK, "user_id", "email")
}

/// The knowledge base the operator chose for the help center (`--knowledge-base` aside): its id
/// and name, `None` while nobody has chosen.
pub fn knowledge_base(ledger: &Ledger) -> Result<Option<(String, String)>> {
    id_and_text(ledger, KNOWLEDGE_BASE, "id", "name")
}

/// The decision `key` stored as `{<id>, <text>}`: the id and the text (empty when absent).
fn id_and_text(
    ledger: &Ledger,
    key: &str,
    id: &str,
    text: &str,
) -> Result<Option<(String, String)>> {
    Ok(ledger.read(|r| r.decision(key))?.and_then(|v| {
        Some((
            v.get(id)?.as_str()?.to_string(),
            v.get(text)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ))
    }))
}

/// Stores the knowledge base the help center goes to, and rewrites `mapping.toml`.
pub async fn choose_knowledge_base(ledger: &Ledger, id: &str, name: &str) -> Result<()> {
    ledger
        .put_decision(KNOWLEDGE_BASE, &json!({ "id": id, "name": name }))
        .await?;
    export_toml(ledger, &mapping_path(ledger))
}

/// Whether the operator (or `--accept-defaults`) allows i2k to create what check `name` misses:
/// `None` while nobody has said.
pub fn prerequisite_allowed(ledger: &Ledger, name: &str) -> Result<Option<bool>> {
    Ok(ledger
        .read(|r| r.decision(&format!("{PREREQ}{name}")))?
        .and_then(|v| v.get("create")?.as_bool()))
}

/// What i2k can create for the failing prerequisite `check` while nobody has said whether it
/// may (None where the check passed, i2k cannot create what it misses, or it was decided).
fn creatable_undecided<'c>(ledger: &Ledger, check: &'c PrereqCheck) -> Result<Option<&'c str>> {
    Ok(match &check.can_create {
        Some(what)
            if check.status == CheckStatus::Fail
                && prerequisite_allowed(ledger, &check.name)?.is_none() =>
        {
            Some(what.as_str())
        }
        _ => None,
    })
}

/// Whether the operator accepted re-stamped message and note times (a key without `org.admin`)
/// for this migration: `None` while nobody has said.
pub fn restamped_times_accepted(ledger: &Ledger) -> Result<Option<bool>> {
    Ok(ledger
        .read(|r| r.decision(RESTAMPED_ACCEPTED))?
        .and_then(|v| v.get("accept")?.as_bool()))
}

/// As [`restamped_times_accepted`], through a read connection (no ledger lock needed).
pub fn restamped_times_accepted_in(reader: &crate::ledger::LedgerReader) -> Result<Option<bool>> {
    Ok(reader
        .decision(RESTAMPED_ACCEPTED)?
        .and_then(|v| v.get("accept")?.as_bool()))
}

/// Stores the operator's answer to a key without `org.admin`.
pub async fn accept_restamped_times(ledger: &Ledger, accept: bool) -> Result<()> {
    ledger
        .put_decision(RESTAMPED_ACCEPTED, &json!({ "accept": accept }))
        .await?;
    Ok(())
}

/// Notes that a run went ahead with re-stamped message and note times (the report says so,
/// among the fallbacks taken).
pub async fn note_restamped_run(ledger: &Ledger) -> Result<()> {
    ledger.put_decision(RESTAMPED_RUN, &json!(true)).await?;
    ledger
        .put_decision(
            &format!(
                "{}restamped_times",
                crate::engine::load::tag_fallback::FALLBACK_PREFIX
            ),
            &json!({ "line": RESTAMPED_LINE }),
        )
        .await?;
    Ok(())
}

/// The report's fallback line for a run without `org.admin`.
pub const RESTAMPED_LINE: &str = "Message and note times and authors re-stamped by Kustomer (time of loading, the key's user): the API key lacks org.admin, and the operator went ahead";

/// Whether any run of this migration went ahead with re-stamped message and note times.
pub fn restamped_run(ledger: &Ledger) -> Result<bool> {
    Ok(ledger
        .read(|r| r.decision(RESTAMPED_RUN))?
        .and_then(|v| v.as_bool())
        .unwrap_or(false))
}

/// One decision as the report lists it: what was decided and what it affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionEntry {
    /// What the decision is about: `admin`, `field`, `bucket`, `segment`, `prerequisite`,
    /// `fallback user`, `key roles`, `run option`.
    pub area: String,
    pub decision: String,
    pub affected: String,
}

impl DecisionEntry {
    pub fn new(area: &str, decision: String, affected: String) -> DecisionEntry {
        DecisionEntry {
            area: area.to_string(),
            decision,
            affected,
        }
    }
}

/// Every decision stored for this migration (those a person took and the defaults a run took
/// for them), with what each one affected.
pub fn report_entries(ledger: &Ledger) -> Result<Vec<DecisionEntry>> {
    let mut out = Vec::new();
    let fallback = fallback_user(ledger)?.map(|(_, email)| email);
    let fallback_name = fallback.as_deref().unwrap_or("the API key's own user");
    if let Some(email) = &fallback {
        out.push(DecisionEntry::new(
            "fallback user",
            format!("records of unknown or undecided admins go to {email}"),
            "the author or assignee of every record whose Intercom admin has no Kustomer user"
                .to_string(),
        ));
    }
    if let Some((id, name)) = knowledge_base(ledger)? {
        out.push(DecisionEntry::new(
            "knowledge base",
            format!("KB categories and articles go to knowledge base {name} ({id})"),
            "every help-center collection and article".to_string(),
        ));
    }
    let mut admins = stored_admins(ledger)?;
    admins.sort_by(|a, b| a.name.cmp(&b.name));
    for m in admins {
        let who = format!("Intercom admin {} <{}>", m.name, m.email);
        let (decision, affected) = match &m.decision {
            AdminDecision::User { email, .. } => (
                format!("{who} → Kustomer user {email}"),
                format!("their assignments, messages and notes are attributed to {email}"),
            ),
            AdminDecision::Invite => (
                format!("{who} → invited as a new Kustomer user"),
                format!(
                    "Kustomer e-mailed an invitation to {}; their assignments, messages and notes are attributed to the new user",
                    m.email
                ),
            ),
            AdminDecision::Fallback => (
                format!("{who} → the fallback user {fallback_name}"),
                format!(
                    "their assignments, messages and notes are attributed to {fallback_name}, not to them"
                ),
            ),
            AdminDecision::Unresolved => (
                format!("{who}: undecided"),
                "their records wait: a run needs a decision".to_string(),
            ),
        };
        out.push(DecisionEntry::new("admin", decision, affected));
    }
    let mut fields = stored_fields(ledger)?;
    fields.sort_by(|a, b| (&a.model, &a.source_name).cmp(&(&b.model, &b.source_name)));
    for m in fields {
        let what = format!(
            "{} attribute `{}` ({})",
            m.model, m.source_name, m.source_type
        );
        let (decision, affected) = match &m.decision {
            FieldDecision::Attribute { name } => (
                format!("{what} → custom attribute `{name}`"),
                format!("its values on every {} are carried as `{name}`", m.model),
            ),
            FieldDecision::Archive => (
                format!("{what} → archive"),
                format!(
                    "its values on every {} are kept in the archive files, not in Kustomer",
                    m.model
                ),
            ),
            FieldDecision::Unresolved => (
                format!("{what}: undecided"),
                "its values wait: a run needs a decision".to_string(),
            ),
        };
        out.push(DecisionEntry::new("field", decision, affected));
    }
    for (object, bucket) in
        stored_under(ledger, BUCKET, |v| serde_json::from_value::<Bucket>(v).ok())?
            .into_iter()
            .collect::<BTreeMap<_, _>>()
    {
        out.push(DecisionEntry::new(
            "bucket",
            format!("{object} → {}", bucket.label()),
            format!("every {object} record (see its row below)"),
        ));
    }
    let segments = stored_under(ledger, SEGMENT, |v| v.get("in_use")?.as_bool())?;
    let in_use = segments.values().filter(|v| **v).count();
    if !segments.is_empty() {
        out.push(DecisionEntry::new(
            "segment",
            format!(
                "{in_use} of {} segments in use → saved searches on a membership tag; the others → archive",
                segments.len()
            ),
            format!(
                "{in_use} saved searches and membership tags created; {} segments archived",
                segments.len() - in_use
            ),
        ));
    }
    for (check, create) in stored_under(ledger, PREREQ, |v| v.get("create")?.as_bool())?
        .into_iter()
        .collect::<BTreeMap<_, _>>()
    {
        out.push(DecisionEntry::new(
            "prerequisite",
            format!(
                "{check}: {}",
                if create {
                    "i2k creates what is missing"
                } else {
                    "i2k creates nothing"
                }
            ),
            if create {
                format!("the missing {check} were created in Kustomer")
            } else {
                format!("the missing {check} were not created")
            },
        ));
    }
    if let Some(accept) = restamped_times_accepted(ledger)? {
        out.push(DecisionEntry::new(
            "key roles",
            if accept {
                "go ahead with a key without org.admin (re-stamped times)".to_string()
            } else {
                "do not go ahead with a key without org.admin".to_string()
            },
            if accept {
                "messages and notes carry Kustomer's load time and the key's user".to_string()
            } else {
                "nothing: runs wait for a key with org.admin".to_string()
            },
        ));
    }
    Ok(out)
}

/// Takes in the operator's edits of `mapping.toml` first, then stores `put`'s decision and writes
/// the file again.
async fn decide(ledger: &Ledger, put: impl Future<Output = Result<()>>) -> Result<()> {
    adopt_file_edits(ledger).await?;
    put.await?;
    export_mapping(ledger)
}

pub async fn allow_prerequisite(ledger: &Ledger, name: &str, create: bool) -> Result<()> {
    decide(ledger, Plain::Prerequisite(name, create).put(ledger)).await
}

/// A decision stored as it is under its key: a segment in use or not, an object type's bucket, a
/// prerequisite i2k may create or not.
enum Plain<'a> {
    Segment(&'a str, bool),
    Bucket(&'a str, Bucket),
    Prerequisite(&'a str, bool),
}

impl Plain<'_> {
    async fn put(self, ledger: &Ledger) -> Result<()> {
        let (key, value) = match self {
            Plain::Segment(id, in_use) => (format!("{SEGMENT}{id}"), json!({ "in_use": in_use })),
            Plain::Bucket(object, bucket) => (format!("{BUCKET}{object}"), json!(bucket)),
            Plain::Prerequisite(name, create) => {
                (format!("{PREREQ}{name}"), json!({ "create": create }))
            }
        };
        ledger.put_decision(&key, &value).await?;
        Ok(())
    }
}

/// Notes that i2k created record `id` of `kind` (so checks can say "created", not "pass").
pub async fn note_created(ledger: &Ledger, kind: &str, id: &str) -> Result<()> {
    ledger
        .put_decision(&format!("{CREATED}{kind}:{id}"), &json!(true))
        .await?;
    Ok(())
}

pub fn created_count(ledger: &Ledger, kind: &str) -> Result<usize> {
    Ok(ledger
        .read(|r| r.decisions(&format!("{CREATED}{kind}:")))?
        .len())
}

/// Every admin's mapping, for the console's Mapping screen.
pub async fn admin_mappings(ledger: &Ledger) -> Result<Vec<AdminMapping>> {
    stored_admins(ledger)
}

/// Every field's mapping, for the console's Mapping screen.
pub async fn field_mappings(ledger: &Ledger) -> Result<Vec<FieldMapping>> {
    stored_fields(ledger)
}

/// The Kustomer users an admin can be mapped to (active, non-machine users first).
pub async fn user_choices(ctx: &Ctx) -> anyhow::Result<Vec<UserChoice>> {
    let mut users = ctx.kustomer.list_users().await?;
    users.retain(|u| !u.deleted);
    users.sort_by_key(|u| u.user_type.as_deref() == Some("machine"));
    Ok(users
        .into_iter()
        .map(|u| UserChoice {
            user_id: u.id,
            name: u.name,
            email: u.email.unwrap_or_default(),
        })
        .collect())
}

/// The operator maps admin `admin_id`; `mapping.toml` follows.
pub async fn decide_admin(ledger: &Ledger, admin_id: &str, decision: AdminDecision) -> Result<()> {
    decide(ledger, put_admin(ledger, admin_id, decision)).await
}

async fn put_admin(ledger: &Ledger, admin_id: &str, decision: AdminDecision) -> Result<()> {
    let what = || format!("admin {admin_id}");
    update_stored(
        ledger,
        &admin_key(admin_id),
        what,
        |m: &mut AdminMapping| m.decision = decision,
    )
    .await
}

/// The operator carries (or archives) attribute `name` of `model`; `mapping.toml` follows.
pub async fn decide_field(
    ledger: &Ledger,
    model: &str,
    name: &str,
    decision: FieldDecision,
) -> Result<()> {
    decide(ledger, put_field(ledger, model, name, decision)).await
}

async fn put_field(
    ledger: &Ledger,
    model: &str,
    name: &str,
    decision: FieldDecision,
) -> Result<()> {
    if let FieldDecision::Attribute { name: attribute } = &decision
        && assigned_suffix(attribute).is_none()
    {
        return Err(DecisionError::BadAttributeName(attribute.clone()));
    }
    let what = || format!("{model} attribute {name}");
    update_stored(
        ledger,
        &field_key(model, name),
        what,
        |m: &mut FieldMapping| m.decision = decision,
    )
    .await
}

/// Changes the mapping stored at `key`; `what` names it when there is none.
async fn update_stored<T: Serialize + DeserializeOwned>(
    ledger: &Ledger,
    key: &str,
    what: impl FnOnce() -> String,
    change: impl FnOnce(&mut T),
) -> Result<()> {
    let mut mapping: T = ledger
        .read(|r| r.decision(key))?
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| DecisionError::Unknown(what()))?;
    change(&mut mapping);
    ledger
        .put_decision(key, &serde_json::to_value(&mapping).unwrap_or_default())
        .await?;
    Ok(())
}

/// The operator says whether segment `id` is in use; `mapping.toml` follows.
pub async fn decide_segment(ledger: &Ledger, id: &str, in_use: bool) -> Result<()> {
    decide(ledger, Plain::Segment(id, in_use).put(ledger)).await
}

/// The operator puts `object` in `bucket`; `mapping.toml` follows.
pub async fn decide_bucket(ledger: &Ledger, object: &str, bucket: Bucket) -> Result<()> {
    decide(ledger, Plain::Bucket(object, bucket).put(ledger)).await
}

/// Where the ledger in `ledger.dir()` exports its decisions.
pub fn mapping_path(ledger: &Ledger) -> PathBuf {
    ledger.dir().join(MAPPING_FILE)
}

/// Rewrites `mapping.toml` from the ledger.
fn export_mapping(ledger: &Ledger) -> Result<()> {
    export_toml(ledger, &mapping_path(ledger))
}

/// Reads in `mapping.toml` when it no longer says what the ledger holds — a person edited it
/// since i2k last wrote it — so the export after the next decision keeps those edits.
async fn adopt_file_edits(ledger: &Ledger) -> Result<()> {
    let path = mapping_path(ledger);
    let on_disk = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(DecisionError::Read { path, source }),
    };
    if on_disk != render_toml(ledger)? {
        import_toml(ledger, &path).await?;
    }
    Ok(())
}

// ---- sources --------------------------------------------------------------------------------

/// Every source record of a small kind (admins, attributes, brands…), in id order.
pub fn all_sources(ledger: &Ledger, kind: &str) -> Result<Vec<SourceRecord>, LedgerError> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ledger.read(|r| r.sources_page(kind, after.as_deref(), 500))?;
        let Some(last) = page.last() else { break };
        after = Some(last.source_id.clone());
        all.extend(page);
    }
    Ok(all)
}

/// The Intercom attribute behind a `data_attributes` or `conversation_attributes` record, and
/// whether it is carried at all (built-in and archived attributes are not custom attributes).
pub fn source_attribute(kind: &str, raw: &str) -> Option<(SourceAttribute, bool)> {
    if kind == "conversation_attributes" {
        let attr: ConversationAttribute = serde_json::from_str(raw).ok()?;
        let options = attr
            .options
            .iter()
            .filter(|o| o.archived != Some(true))
            .filter_map(|o| o.label.clone())
            .collect();
        let carried = attr.archived != Some(true);
        let name = attr.name?;
        let data_type = attr.data_type.map(|t| t.as_str().to_string());
        return Some((
            SourceAttribute {
                model: SourceModel::Conversation,
                label: Some(name.clone()),
                name,
                data_type: data_type.unwrap_or_default(),
                options,
                // Not in the typed model: read it from the record as the API returned it.
                multiline: serde_json::from_str::<Value>(raw)
                    .ok()
                    .and_then(|v| v.get("multiline")?.as_bool())
                    .unwrap_or(false),
            },
            carried,
        ));
    }
    let attr: DataAttribute = serde_json::from_str(raw).ok()?;
    let model = SourceModel::parse(attr.model.as_deref()?)?;
    let options = attr
        .options
        .iter()
        .filter_map(|o| match o {
            Value::String(s) => Some(s.clone()),
            Value::Object(m) => m
                .get("value")
                .or_else(|| m.get("label"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        })
        .collect();
    let carried = attr.custom == Some(true) && attr.archived != Some(true);
    Some((
        SourceAttribute {
            model,
            name: attr.name.clone()?,
            label: attr.label.clone(),
            data_type: attr
                .data_type
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            options,
            multiline: false,
        },
        carried,
    ))
}

/// Every property Kustomer already has for a metadata resource: its name, its display name, and
/// whether it is a custom one (`properties`, not `standardProperties`).
async fn existing_properties(
    ctx: &Ctx,
    resource: &str,
) -> anyhow::Result<Vec<(String, Option<String>, bool)>> {
    let body = ctx.kustomer.get_metadata(resource).await?;
    let attributes = body
        .pointer("/data/attributes")
        .or_else(|| body.get("data"))
        .unwrap_or(&body);
    let mut out = Vec::new();
    for section in ["properties", "standardProperties"] {
        if let Some(map) = attributes.get(section).and_then(Value::as_object) {
            for (name, spec) in map {
                let display = spec
                    .get("displayName")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                out.push((name.clone(), display, section == "properties"));
            }
        }
    }
    Ok(out)
}

// ---- prepare and defaults ---------------------------------------------------------------------

/// Computes proposals and returns what still needs the operator (one line each).
pub async fn prepare(ctx: &Arc<Ctx>) -> anyhow::Result<Vec<String>> {
    ctx.wait_extracted(&DECISION_INPUTS).await?;
    ctx.set_activity("computing proposals");
    let ledger = &ctx.ledger;

    if fallback_user(ledger)?.is_none() {
        let me = ctx.kustomer.current_user().await?;
        ledger
            .put_decision(
                FALLBACK,
                &json!({ "user_id": me.id, "email": me.email.unwrap_or_default() }),
            )
            .await?;
    }
    propose_admins(ctx).await?;
    propose_fields(ctx).await?;
    propose_segments(ctx).await?;

    let path = ctx.config.state_dir.join(MAPPING_FILE);
    if path.exists() {
        let n = import_toml(ledger, &path).await?;
        ctx.log(
            crate::engine::model::LogLevel::Info,
            format!("{n} decisions read from {}", path.display()),
        );
    }
    let unresolved = unresolved(ctx).await?;
    export_toml(ledger, &path)?;
    Ok(unresolved)
}

async fn propose_admins(ctx: &Ctx) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let users = ctx.kustomer.list_users().await?;
    let by_email: HashMap<String, &crate::kustomer::models::User> = users
        .iter()
        .filter(|u| !u.deleted)
        .filter_map(|u| Some((email_key(u.email.as_deref()?), u)))
        .collect();
    let existing: HashMap<String, AdminMapping> = stored_admins(ledger)?
        .into_iter()
        .map(|m| (m.admin_id.clone(), m))
        .collect();
    for record in all_sources(ledger, "admins")? {
        let Ok(admin) = serde_json::from_str::<Admin>(&record.raw) else {
            continue;
        };
        let email = admin.email.clone().unwrap_or_default();
        let suggestion = by_email.get(&email_key(&email)).map(|u| UserChoice {
            user_id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone().unwrap_or_default(),
        });
        let decision = match existing.get(&record.source_id) {
            Some(m) if m.decision != AdminDecision::Unresolved => m.decision.clone(),
            _ => match &suggestion {
                Some(u) => AdminDecision::User {
                    user_id: u.user_id.clone(),
                    email: u.email.clone(),
                },
                None => AdminDecision::Unresolved,
            },
        };
        let mapping = AdminMapping {
            admin_id: record.source_id.clone(),
            name: admin.name.clone().unwrap_or_default(),
            email,
            suggestion,
            decision,
        };
        if existing.get(&record.source_id) != Some(&mapping) {
            ledger
                .put_decision(
                    &admin_key(&record.source_id),
                    &serde_json::to_value(&mapping)?,
                )
                .await?;
        }
    }
    Ok(())
}

async fn propose_fields(ctx: &Ctx) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let existing: HashMap<(String, String), FieldMapping> = stored_fields(ledger)?
        .into_iter()
        .map(|m| ((m.model.clone(), m.source_name.clone()), m))
        .collect();
    let mut attributes = Vec::new();
    for kind in ["data_attributes", "conversation_attributes"] {
        for record in all_sources(ledger, kind)? {
            if let Some((attr, true)) = source_attribute(kind, &record.raw) {
                attributes.push(attr);
            }
        }
    }
    let mut allocators: HashMap<SourceModel, NameAllocator> = HashMap::new();
    for model in [
        SourceModel::Contact,
        SourceModel::Company,
        SourceModel::Conversation,
    ] {
        let properties = existing_properties(ctx, model.kustomer_resource()).await?;
        // A new ledger beside an org that already holds this migration's attributes (its state
        // directory was lost): a custom property named as i2k would name one of this
        // workspace's attributes and showing its label is the earlier migration's own, and is
        // reused rather than numbered around, so records land in the same attributes.
        let ours: Vec<String> = if ledger.is_fresh() {
            let mut fresh = NameAllocator::new();
            attributes
                .iter()
                .filter(|a| a.model == model)
                .filter_map(|a| {
                    let proposed = attributes::propose(a, &mut fresh).proposed?;
                    let label =
                        crate::mapping::names::display_name(a.label.as_deref().unwrap_or(&a.name));
                    properties
                        .iter()
                        .any(|(name, display, custom)| {
                            *custom
                                && name.eq_ignore_ascii_case(&proposed)
                                && display.as_deref() == Some(label.as_str())
                        })
                        .then_some(proposed)
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut names: Vec<String> = properties
            .into_iter()
            .map(|(name, _, _)| name)
            .filter(|n| !ours.iter().any(|o| o.eq_ignore_ascii_case(n)))
            .collect();
        // Names decided earlier (possibly already created by this migration) stay theirs.
        names.retain(|n| {
            !existing.values().any(|m| {
                m.model == model.as_str()
                    && matches!(&m.decision, FieldDecision::Attribute { name } if name.eq_ignore_ascii_case(n))
            })
        });
        let mut allocator = NameAllocator::with_existing(names);
        for m in existing.values().filter(|m| m.model == model.as_str()) {
            if let FieldDecision::Attribute { name } = &m.decision {
                allocator.reserve(name);
            }
        }
        allocators.insert(model, allocator);
    }
    for attr in attributes {
        let key = (attr.model.as_str().to_string(), attr.name.clone());
        if existing
            .get(&key)
            .is_some_and(|m| m.decision != FieldDecision::Unresolved)
        {
            continue;
        }
        let Some(allocator) = allocators.get_mut(&attr.model) else {
            continue;
        };
        let mut mapping = attributes::propose(&attr, allocator);
        if mapping.proposed.is_some() {
            mapping.decision = attributes::default_decision(&mapping);
        }
        if existing.get(&key) != Some(&mapping) {
            ledger
                .put_decision(
                    &field_key(&mapping.model, &mapping.source_name),
                    &serde_json::to_value(&mapping)?,
                )
                .await?;
        }
    }
    Ok(())
}

async fn propose_segments(ctx: &Ctx) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let decided: std::collections::HashSet<String> = ledger
        .read(|r| r.decisions(SEGMENT))?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let max_age = i64::from(ctx.config.options.segment_max_age_days) * 86_400;
    let now = crate::timefmt::now_unix();
    for record in all_sources(ledger, "segments")? {
        let key = format!("{SEGMENT}{}", record.source_id);
        if decided.contains(&key) {
            continue;
        }
        let Ok(segment) = serde_json::from_str::<Segment>(&record.raw) else {
            continue;
        };
        let recent = segment
            .updated_at
            .or(segment.created_at)
            .is_some_and(|t| now - t <= max_age);
        let in_use = segment.count.unwrap_or(0) > 0 && recent;
        Plain::Segment(&record.source_id, in_use)
            .put(ledger)
            .await?;
    }
    Ok(())
}

/// What still needs a person, one line each.
/// How an open prerequisite decision's line starts (the others are admins and fields).
pub const PREREQUISITE_LINE: &str = "prerequisite ";

async fn unresolved(ctx: &Ctx) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for m in stored_admins(&ctx.ledger)? {
        if m.decision == AdminDecision::Unresolved {
            lines.push(format!(
                "admin {} {} <{}>: no Kustomer user with this e-mail; map to a user, invite (Kustomer e-mails an invitation) or use the fallback user",
                m.admin_id, m.name, m.email
            ));
        }
    }
    for m in stored_fields(&ctx.ledger)? {
        if m.decision == FieldDecision::Unresolved {
            lines.push(format!(
                "{} attribute {:?} ({}): {}",
                m.model, m.source_name, m.source_type, m.note
            ));
        }
    }
    for check in prerequisite_checks(ctx).await {
        if let Some(what) = creatable_undecided(&ctx.ledger, &check)? {
            lines.push(format!(
                "{PREREQUISITE_LINE}{}: {}; i2k can {what}",
                check.name, check.detail
            ));
        }
        if check.name == KNOWLEDGE_BASE_CHECK && check.status == CheckStatus::Fail {
            lines.push(format!(
                "{PREREQUISITE_LINE}{}: {}",
                check.name, check.detail
            ));
        }
    }
    Ok(lines)
}

/// Takes the stated default for every unresolved decision, recording each in the summary:
/// unmatched admins → the fallback user (never an invitation), unmappable fields → archive,
/// missing prerequisites i2k can create → created, the knowledge base → the org's default one.
/// Returns what has no default and still needs the operator (a knowledge base `--knowledge-base`
/// names that the org does not have, or several and none the default).
pub async fn apply_defaults(ctx: &Arc<Ctx>) -> anyhow::Result<Vec<String>> {
    let ledger = &ctx.ledger;
    let fallback = fallback_user(ledger)?
        .map(|(_, email)| email)
        .unwrap_or_default();
    for m in stored_admins(ledger)? {
        if m.decision == AdminDecision::Unresolved {
            put_admin(ledger, &m.admin_id, AdminDecision::Fallback).await?;
            ctx.took_default(format!(
                "admin {} <{}> → the API key's own user {fallback} (no invitation sent)",
                m.name, m.email
            ));
        }
    }
    for m in stored_fields(ledger)? {
        if m.decision == FieldDecision::Unresolved {
            let decision = attributes::default_decision(&m);
            let what = match &decision {
                FieldDecision::Attribute { name } => format!("carried as {name}"),
                _ => "to the archive".to_string(),
            };
            put_field(ledger, &m.model, &m.source_name, decision).await?;
            ctx.took_default(format!("{} attribute {:?} {what}", m.model, m.source_name));
        }
    }
    let mut open = Vec::new();
    for check in prerequisite_checks(ctx).await {
        if let Some(what) = creatable_undecided(ledger, &check)? {
            Plain::Prerequisite(&check.name, true).put(ledger).await?;
            ctx.took_default(format!("prerequisite {}: {what}", check.name));
        }
        if check.name == KNOWLEDGE_BASE_CHECK && check.status == CheckStatus::Fail {
            match crate::engine::load::prerequisites::default_knowledge_base(ctx, &check) {
                Some(choice) => {
                    ledger
                        .put_decision(
                            KNOWLEDGE_BASE,
                            &json!({ "id": choice.id, "name": choice.label }),
                        )
                        .await?;
                    ctx.took_default(format!(
                        "knowledge base: KB categories and articles go to the org's default knowledge base {}",
                        choice.label
                    ));
                }
                None => open.push(format!("prerequisite {}: {}", check.name, check.detail)),
            }
        }
    }
    export_toml(ledger, &ctx.config.state_dir.join(MAPPING_FILE))?;
    Ok(open)
}

// ---- mapping.toml -------------------------------------------------------------------------------

/// `mapping.toml` as a person edits it. Tables stay [`toml::Table`]s until each entry is decoded
/// on its own ([`entries`]): the entries are applied in the file's order, and an entry of the
/// wrong shape is refused with its place (`admins.7`), not as a parse error of the whole file.
#[derive(Debug, Default, Deserialize)]
struct MappingFile {
    fallback_user_id: Option<String>,
    knowledge_base_id: Option<String>,
    workflow_ids: Option<Vec<WorkflowId>>,
    #[serde(default)]
    admins: toml::Table,
    /// model → attribute name → [`FieldEntry`].
    #[serde(default)]
    fields: toml::Table,
    #[serde(default)]
    segments: toml::Table,
    /// object type → `migrate`, `manual` or `archive`.
    #[serde(default)]
    buckets: toml::Table,
    #[serde(default)]
    prerequisites: toml::Table,
}

/// A workflow id as a person may type it: Intercom's ids are numeric strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WorkflowId {
    Text(String),
    Number(i64),
}

/// One `[admins."<id>"]` table (`None` fields are left out of the file). `decision` stays text so an unknown one is refused with the
/// choices, and `name`/`email` are there for the reader (the ledger's own win on import).
#[derive(Debug, Default, Serialize, Deserialize)]
struct AdminEntry {
    name: Option<String>,
    email: Option<String>,
    decision: Option<String>,
    user_id: Option<String>,
    user_email: Option<String>,
}

impl AdminEntry {
    fn of(m: &AdminMapping) -> AdminEntry {
        let (decision, user_id, user_email) = match &m.decision {
            AdminDecision::User { user_id, email } => {
                ("user", Some(user_id.clone()), Some(email.clone()))
            }
            AdminDecision::Invite => ("invite", None, None),
            AdminDecision::Fallback => ("fallback", None, None),
            AdminDecision::Unresolved => ("unresolved", None, None),
        };
        AdminEntry {
            name: Some(m.name.clone()),
            email: Some(m.email.clone()),
            decision: Some(decision.to_string()),
            user_id,
            user_email,
        }
    }
}

/// One `[fields."<model>"."<name>"]` table; `type` and `proposed` are there for the reader.
#[derive(Debug, Default, Serialize, Deserialize)]
struct FieldEntry {
    #[serde(rename = "type")]
    source_type: Option<String>,
    proposed: Option<String>,
    decision: Option<String>,
    name: Option<String>,
}

impl FieldEntry {
    fn of(m: &FieldMapping) -> FieldEntry {
        let (decision, name) = match &m.decision {
            FieldDecision::Attribute { name } => ("attribute", Some(name.clone())),
            FieldDecision::Archive => ("archive", None),
            FieldDecision::Unresolved => ("unresolved", None),
        };
        FieldEntry {
            source_type: Some(m.source_type.clone()),
            proposed: m.proposed.clone(),
            decision: Some(decision.to_string()),
            name,
        }
    }
}

/// One `[segments."<id>"]` table; without `in_use` it says nothing.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SegmentEntry {
    in_use: Option<bool>,
}

/// One `[prerequisites."<check>"]` table; without `create` it says nothing.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PrerequisiteEntry {
    create: Option<bool>,
}

/// A TOML string (or key) quoted as i2k has always written it: keys stay quoted even where a
/// bare key would do, so files written before keep comparing equal to a fresh export.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Appends the table `[<section>."<key>"…]` holding `entry`, then a blank line.
fn push_table(
    out: &mut String,
    section: &str,
    keys: &[&str],
    entry: &impl Serialize,
) -> Result<()> {
    out.push('[');
    out.push_str(section);
    for key in keys {
        out.push('.');
        out.push_str(&quote(key));
    }
    out.push_str("]\n");
    out.push_str(&toml::to_string(entry)?);
    out.push('\n');
    Ok(())
}

/// Writes every decision to `path` (mode 0600), with a comment above each unresolved one.
pub fn export_toml(ledger: &Ledger, path: &Path) -> Result<()> {
    write_private(path, &render_toml(ledger)?)
}

/// Every decision as `mapping.toml` text: the migration's mark (read by `ledger::identity`), a
/// guide to the choices, then one table per decision, each unresolved one under a comment that
/// says what is missing.
fn render_toml(ledger: &Ledger) -> Result<String> {
    let mut out = String::new();
    if let Some(id) = ledger.migration_id() {
        out.push_str(&format!("{}{id}\n", crate::ledger::MIGRATION_MARK));
    }
    out.push_str(
        "# i2k decisions. Edit and run again: i2k reads this file before loading.\n\
         # admins: decision = \"user\" (with user_id), \"invite\" (Kustomer e-mails an invitation),\n\
         #         \"fallback\" (the API key's own user unless fallback_user_id says otherwise)\n\
         # fields: decision = \"attribute\" (with name, suffix Str/Txt/Num/At/Bool/Url) or \"archive\"\n\n",
    );
    if let Some((id, email)) = fallback_user(ledger)? {
        out.push_str(&format!(
            "# the fallback user: {email}\nfallback_user_id = {}\n\n",
            quote(&id)
        ));
    }
    if let Some((id, name)) = knowledge_base(ledger)? {
        out.push_str(&format!(
            "# the Kustomer knowledge base KB categories and articles go to{}\nknowledge_base_id = {}\n\n",
            if name.is_empty() { String::new() } else { format!(": {name}") },
            quote(&id)
        ));
    }
    let workflows = workflow_ids(ledger)?;
    out.push_str("# Intercom workflows (and series) to export into the archive beside MANUAL.md\n");
    out.push_str(&format!(
        "workflow_ids = [{}]\n\n",
        workflows
            .iter()
            .map(|w| quote(w))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for m in stored_admins(ledger)? {
        if m.decision == AdminDecision::Unresolved {
            out.push_str(&format!(
                "# UNRESOLVED: no Kustomer user has {}; choose user, invite or fallback\n",
                m.email
            ));
        }
        push_table(&mut out, "admins", &[&m.admin_id], &AdminEntry::of(&m))?;
    }
    let mut by_model: BTreeMap<String, Vec<FieldMapping>> = BTreeMap::new();
    for m in stored_fields(ledger)? {
        by_model.entry(m.model.clone()).or_default().push(m);
    }
    for (model, mappings) in by_model {
        for m in mappings {
            if m.decision == FieldDecision::Unresolved {
                out.push_str(&format!("# UNRESOLVED: {}\n", m.note));
            }
            push_table(
                &mut out,
                "fields",
                &[&model, &m.source_name],
                &FieldEntry::of(&m),
            )?;
        }
    }
    push_flags(&mut out, ledger, SEGMENT, "segments", |v| SegmentEntry {
        in_use: Some(flag(v, "in_use")),
    })?;
    let buckets = ledger.read(|r| r.decisions(BUCKET))?;
    if !buckets.is_empty() {
        out.push_str("[buckets]\n");
        for (key, v) in buckets {
            let object = key.strip_prefix(BUCKET).unwrap_or(&key);
            if let Some(b) = v.as_str() {
                out.push_str(&format!("{} = {}\n", quote(object), quote(b)));
            }
        }
        out.push('\n');
    }
    push_flags(&mut out, ledger, PREREQ, "prerequisites", |v| {
        PrerequisiteEntry {
            create: Some(flag(v, "create")),
        }
    })?;
    Ok(out)
}

/// One `[section."name"]` table per decision stored under `prefix` (segments, prerequisites),
/// `entry` reading each stored flag.
fn push_flags<E: Serialize>(
    out: &mut String,
    ledger: &Ledger,
    prefix: &str,
    section: &str,
    entry: impl Fn(&Value) -> E,
) -> Result<()> {
    for (key, v) in ledger.read(|r| r.decisions(prefix))? {
        let name = key.strip_prefix(prefix).unwrap_or(&key);
        push_table(out, section, &[name], &entry(&v))?;
    }
    Ok(())
}

/// The boolean `name` of a stored decision (false when absent).
fn flag(v: &Value, name: &str) -> bool {
    v.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    crate::config::replace_private_file(path, text.as_bytes()).map_err(|source| {
        DecisionError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// The entries of one table of `mapping.toml`, in the file's order, each decoded as `T`; `at` is
/// the table's place in the file, for the error that names a malformed entry.
fn entries<T: serde::de::DeserializeOwned>(
    path: &Path,
    at: &str,
    table: toml::Table,
) -> Result<Vec<(String, T)>> {
    table
        .into_iter()
        .map(|(key, value)| {
            let entry = if value.is_table() {
                value.try_into().map_err(|e: toml::de::Error| e.to_string())
            } else {
                Err("must be a table".to_string())
            };
            match entry {
                Ok(entry) => Ok((key, entry)),
                Err(why) => Err(DecisionError::Invalid {
                    path: path.to_path_buf(),
                    entry: format!("{at}.{key}"),
                    why: why.trim().to_string(),
                }),
            }
        })
        .collect()
}

/// Reads `path` and stores every decision it makes (entries left `unresolved` change nothing).
/// Returns how many decisions were applied.
pub async fn import_toml(ledger: &Ledger, path: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(path).map_err(|source| DecisionError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: MappingFile = toml::from_str(&text).map_err(|source| DecisionError::Toml {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    let invalid = |entry: String, why: &str| DecisionError::Invalid {
        path: path.to_path_buf(),
        entry,
        why: why.to_string(),
    };
    let mut applied = 0;

    if let Some(id) = doc.fallback_user_id {
        let current = fallback_user(ledger)?;
        if current.as_ref().map(|(c, _)| c.as_str()) != Some(id.as_str()) {
            ledger
                .put_decision(FALLBACK, &json!({ "user_id": id, "email": "" }))
                .await?;
            applied += 1;
        }
    }
    if let Some(id) = doc.knowledge_base_id.filter(|id| !id.trim().is_empty())
        && knowledge_base(ledger)?.map(|(c, _)| c) != Some(id.clone())
    {
        ledger
            .put_decision(KNOWLEDGE_BASE, &json!({ "id": id, "name": "" }))
            .await?;
        applied += 1;
    }
    if let Some(list) = doc.workflow_ids {
        let ids: Vec<String> = list
            .into_iter()
            .map(|id| match id {
                WorkflowId::Text(s) => s,
                WorkflowId::Number(n) => n.to_string(),
            })
            .collect();
        if ids != workflow_ids(ledger)? {
            ledger.put_decision(WORKFLOWS, &json!(ids)).await?;
            applied += 1;
        }
    }
    let known_admins: HashMap<String, AdminMapping> = stored_admins(ledger)?
        .into_iter()
        .map(|m| (m.admin_id.clone(), m))
        .collect();
    for (id, entry) in entries::<AdminEntry>(path, "admins", doc.admins)? {
        let decision = match entry.decision.as_deref() {
            Some("user") => {
                let user_id = entry.user_id.ok_or_else(|| {
                    invalid(format!("admins.{id}"), "decision \"user\" needs user_id")
                })?;
                AdminDecision::User {
                    user_id,
                    email: entry.user_email.unwrap_or_default(),
                }
            }
            Some("invite") => AdminDecision::Invite,
            Some("fallback") => AdminDecision::Fallback,
            Some("unresolved") | None => continue,
            Some(_) => {
                return Err(invalid(
                    format!("admins.{id}"),
                    "decision is user, invite, fallback or unresolved",
                ));
            }
        };
        let mut mapping = known_admins.get(&id).cloned().unwrap_or(AdminMapping {
            admin_id: id.clone(),
            name: entry.name.unwrap_or_default(),
            email: entry.email.unwrap_or_default(),
            suggestion: None,
            decision: AdminDecision::Unresolved,
        });
        if mapping.decision != decision {
            mapping.decision = decision;
            ledger
                .put_decision(&admin_key(&id), &serde_json::to_value(&mapping)?)
                .await?;
            applied += 1;
        }
    }
    let known_fields: HashMap<(String, String), FieldMapping> = stored_fields(ledger)?
        .into_iter()
        .map(|m| ((m.model.clone(), m.source_name.clone()), m))
        .collect();
    for (model, fields) in entries::<toml::Table>(path, "fields", doc.fields)? {
        for (name, entry) in entries::<FieldEntry>(path, &format!("fields.{model}"), fields)? {
            let at = format!("fields.{model}.{name}");
            let decision = match entry.decision.as_deref() {
                Some("attribute") => {
                    let attribute = entry
                        .name
                        .ok_or_else(|| invalid(at.clone(), "decision \"attribute\" needs name"))?;
                    if assigned_suffix(&attribute).is_none() {
                        return Err(invalid(
                            at.clone(),
                            "name needs a type suffix: Str, Txt, Num, At, Bool or Url",
                        ));
                    }
                    FieldDecision::Attribute { name: attribute }
                }
                Some("archive") => FieldDecision::Archive,
                Some("unresolved") | None => continue,
                Some(_) => {
                    return Err(invalid(at, "decision is attribute, archive or unresolved"));
                }
            };
            let mut mapping = known_fields
                .get(&(model.clone(), name.clone()))
                .cloned()
                .unwrap_or(FieldMapping {
                    model: model.clone(),
                    source_name: name.clone(),
                    source_type: entry.source_type.unwrap_or_default(),
                    proposed: None,
                    decision: FieldDecision::Unresolved,
                    note: String::new(),
                });
            if mapping.decision != decision {
                mapping.decision = decision;
                ledger
                    .put_decision(&field_key(&model, &name), &serde_json::to_value(&mapping)?)
                    .await?;
                applied += 1;
            }
        }
    }
    for (id, entry) in entries::<SegmentEntry>(path, "segments", doc.segments)? {
        if let Some(in_use) = entry.in_use {
            Plain::Segment(&id, in_use).put(ledger).await?;
            applied += 1;
        }
    }
    for (object, value) in doc.buckets {
        if !OBJECT_TYPES.contains(&object.as_str()) {
            return Err(invalid(format!("buckets.{object}"), "unknown object type"));
        }
        let bucket: Bucket = value
            .try_into()
            .map_err(|_| invalid(format!("buckets.{object}"), "is migrate, manual or archive"))?;
        Plain::Bucket(&object, bucket).put(ledger).await?;
        applied += 1;
    }
    for (name, entry) in entries::<PrerequisiteEntry>(path, "prerequisites", doc.prerequisites)? {
        if let Some(create) = entry.create {
            Plain::Prerequisite(&name, create).put(ledger).await?;
            applied += 1;
        }
    }
    Ok(applied)
}
