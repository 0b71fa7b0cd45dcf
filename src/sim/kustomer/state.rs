//! The simulated org held in memory: records of every kind, custom-attribute metadata, bulk jobs,
//! rate-limit windows and the counters behind the ground truth (`/__sim/truth`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::Config;
use crate::rng::Rng;

/// Every kind of record the simulator stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    User,
    Team,
    Brand,
    Schedule,
    Holiday,
    Klass,
    Kobject,
    Company,
    Customer,
    Conversation,
    Message,
    Note,
    Attachment,
    Tag,
    SavedSearch,
    SearchFolder,
    KbCategory,
    KbArticle,
    KbVersion,
    Shortcut,
    ShortcutCategory,
}

impl Kind {
    pub const ALL: [Kind; 21] = [
        Kind::User,
        Kind::Team,
        Kind::Brand,
        Kind::Schedule,
        Kind::Holiday,
        Kind::Klass,
        Kind::Kobject,
        Kind::Company,
        Kind::Customer,
        Kind::Conversation,
        Kind::Message,
        Kind::Note,
        Kind::Attachment,
        Kind::Tag,
        Kind::SavedSearch,
        Kind::SearchFolder,
        Kind::KbCategory,
        Kind::KbArticle,
        Kind::KbVersion,
        Kind::Shortcut,
        Kind::ShortcutCategory,
    ];

    /// The JSON:API `type` of the record.
    pub fn json_type(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Team => "team",
            Kind::Brand => "brand",
            Kind::Schedule => "schedule",
            Kind::Holiday => "holiday",
            Kind::Klass => "klass",
            Kind::Kobject => "kobject",
            Kind::Company => "company",
            Kind::Customer => "customer",
            Kind::Conversation => "conversation",
            Kind::Message => "message",
            Kind::Note => "note",
            Kind::Attachment => "attachment",
            Kind::Tag => "tag",
            Kind::SavedSearch => "search",
            Kind::SearchFolder => "search_folder",
            Kind::KbCategory => "kb_category",
            Kind::KbArticle => "kb_article",
            Kind::KbVersion => "kb_version",
            Kind::Shortcut => "shortcut",
            Kind::ShortcutCategory => "shortcut_category",
        }
    }

    /// The name in `/__sim/truth` and `/__sim/records/{type}` (plural, snake case).
    pub fn truth_name(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::Team => "teams",
            Kind::Brand => "brands",
            Kind::Schedule => "schedules",
            Kind::Holiday => "holidays",
            Kind::Klass => "klasses",
            Kind::Kobject => "kobjects",
            Kind::Company => "companies",
            Kind::Customer => "customers",
            Kind::Conversation => "conversations",
            Kind::Message => "messages",
            Kind::Note => "notes",
            Kind::Attachment => "attachments",
            Kind::Tag => "tags",
            Kind::SavedSearch => "saved_searches",
            Kind::SearchFolder => "search_folders",
            Kind::KbCategory => "kb_categories",
            Kind::KbArticle => "kb_articles",
            Kind::KbVersion => "kb_versions",
            Kind::Shortcut => "shortcuts",
            Kind::ShortcutCategory => "shortcut_categories",
        }
    }

    pub fn from_truth_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.truth_name() == name)
    }
}

/// A link from one record to another, rendered under `relationships`.
#[derive(Debug, Clone)]
pub struct Rel {
    pub kind: Kind,
    pub id: String,
    pub link: String,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub kind: Kind,
    pub attributes: Map<String, Value>,
    pub relationships: BTreeMap<String, Rel>,
    pub self_link: String,
    /// Part of the fresh org rather than created through the API.
    pub seeded: bool,
    /// When search starts seeing the record (the indexing delay).
    pub visible_at: Instant,
}

/// A fixed 60-second budget window (org-wide, search, per-customer creates).
#[derive(Debug, Clone)]
pub struct Window {
    started: Instant,
    started_epoch_ms: i64,
    used: u32,
}

/// The outcome of taking one unit from a [`Window`].
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Epoch seconds at which the window resets.
    pub reset_epoch_secs: i64,
}

pub const WINDOW: Duration = Duration::from_secs(60);

impl Window {
    pub fn new() -> Self {
        Window {
            started: Instant::now(),
            started_epoch_ms: now_ms(),
            used: 0,
        }
    }

    /// Takes one unit if `limit` allows; a window older than 60 s starts afresh.
    pub fn take(&mut self, limit: u32) -> Budget {
        if self.started.elapsed() >= WINDOW {
            *self = Window::new();
        }
        let allowed = self.used < limit;
        if allowed {
            self.used += 1;
        }
        Budget {
            allowed,
            limit,
            remaining: limit.saturating_sub(self.used),
            reset_epoch_secs: (self.started_epoch_ms + WINDOW.as_millis() as i64 + 999) / 1000,
        }
    }
}

impl Default for Window {
    fn default() -> Self {
        Window::new()
    }
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct RouteStats {
    pub count: u64,
    pub throttled: u64,
}

/// One bulk item's outcome, as `GET /v1/bulk/{id}/batches` reports it.
#[derive(Debug, Clone)]
pub struct ItemResult {
    pub client_ref: Option<String>,
    pub object_id: Option<String>,
    pub status: &'static str,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Complete,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Complete => "complete",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BulkJob {
    pub id: String,
    pub resource: String,
    pub operation: &'static str,
    pub item_count: usize,
    pub status: JobStatus,
    pub created_at: String,
    pub completed_at: Option<String>,
    pub results: Vec<ItemResult>,
}

/// The whole org. Held under one mutex that is never kept across an `.await`.
pub struct Store {
    records: BTreeMap<Kind, Vec<Record>>,
    index: HashMap<String, (Kind, usize)>,
    /// `(kind, scope, externalId)` → ids carrying it (scope = klass name for kobjects).
    external_ids: HashMap<(Kind, String, String), Vec<String>>,
    /// Custom-attribute metadata per resource (`customer`, `kobject.order`, …).
    pub metadata: BTreeMap<String, Value>,
    pub duplicates: BTreeMap<&'static str, Vec<String>>,
    pub metadata_properties_created: u64,
    pub tracking_events: u64,
    pub tracking_identities: u64,
    pub invitations: u64,
    pub requests: BTreeMap<String, RouteStats>,
    pub org_window: Window,
    pub search_window: Window,
    pub customer_creates: HashMap<String, Window>,
    pub bulk_jobs: HashMap<String, BulkJob>,
    pub search_positions: Value,
    pub rng: Rng,
    pub fault_rng: Rng,
    pub machine_user_id: String,
    pub indexing_delay: Duration,
}

impl Store {
    pub fn new(seed: u64, indexing_delay: Duration) -> Store {
        Store {
            records: BTreeMap::new(),
            index: HashMap::new(),
            external_ids: HashMap::new(),
            metadata: BTreeMap::new(),
            duplicates: BTreeMap::new(),
            metadata_properties_created: 0,
            tracking_events: 0,
            tracking_identities: 0,
            invitations: 0,
            requests: BTreeMap::new(),
            org_window: Window::new(),
            search_window: Window::new(),
            customer_creates: HashMap::new(),
            bulk_jobs: HashMap::new(),
            search_positions: json!({"positions": [], "rev": 0}),
            rng: Rng::derive(seed, &["kustomer", "ids"]),
            fault_rng: Rng::derive(seed, &["kustomer", "faults"]),
            machine_user_id: String::new(),
            indexing_delay,
        }
    }

    /// A fresh 24-character lower-hex id.
    pub fn new_id(&mut self) -> String {
        loop {
            let id = self.rng.hex(12);
            if !self.index.contains_key(&id) && !self.bulk_jobs.contains_key(&id) {
                return id;
            }
        }
    }

    /// Stores a record, stamping `createdAt` (unless given: historical values are honoured),
    /// `updatedAt` and `modifiedAt`. `collection` is the path its self link hangs under.
    pub fn insert(
        &mut self,
        kind: Kind,
        mut attributes: Map<String, Value>,
        relationships: BTreeMap<String, Rel>,
        collection: &str,
        seeded: bool,
    ) -> String {
        let id = self.new_id();
        let now = now_iso();
        if !attributes.get("createdAt").is_some_and(Value::is_string) {
            attributes.insert("createdAt".into(), Value::String(now.clone()));
        }
        attributes.insert("updatedAt".into(), Value::String(now.clone()));
        attributes.insert("modifiedAt".into(), Value::String(now));
        let visible_at = if seeded {
            Instant::now()
        } else {
            Instant::now() + self.indexing_delay
        };
        let record = Record {
            id: id.clone(),
            kind,
            attributes,
            relationships,
            self_link: format!("{collection}/{id}"),
            seeded,
            visible_at,
        };
        let list = self.records.entry(kind).or_default();
        self.index.insert(id.clone(), (kind, list.len()));
        list.push(record);
        id
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<&Record> {
        let (k, i) = self.index.get(id)?;
        if *k != kind {
            return None;
        }
        self.records.get(k)?.get(*i)
    }

    pub fn get_mut(&mut self, kind: Kind, id: &str) -> Option<&mut Record> {
        let (k, i) = *self.index.get(id)?;
        if k != kind {
            return None;
        }
        let record = self.records.get_mut(&k)?.get_mut(i)?;
        record
            .attributes
            .insert("updatedAt".into(), Value::String(now_iso()));
        record
            .attributes
            .insert("modifiedAt".into(), Value::String(now_iso()));
        Some(record)
    }

    pub fn all(&self, kind: Kind) -> &[Record] {
        self.records.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A relationship to an existing record of `kind`, if it exists.
    pub fn rel(&self, kind: Kind, id: &str) -> Option<Rel> {
        self.get(kind, id).map(|r| Rel {
            kind,
            id: r.id.clone(),
            link: r.self_link.clone(),
        })
    }

    /// The first record of `kind` (in `scope`) carrying `external_id`.
    pub fn find_external(&self, kind: Kind, scope: &str, external_id: &str) -> Option<&Record> {
        let ids = self
            .external_ids
            .get(&(kind, scope.to_string(), external_id.to_string()))?;
        ids.iter().find_map(|id| self.get(kind, id))
    }

    /// Remembers that `id` carries `external_id`; a repeat is recorded in the duplicates.
    pub fn note_external_id(&mut self, kind: Kind, scope: &str, external_id: &str, id: &str) {
        let ids = self
            .external_ids
            .entry((kind, scope.to_string(), external_id.to_string()))
            .or_default();
        if !ids.is_empty() && !ids.iter().any(|i| i == id) {
            self.duplicates
                .entry(kind.truth_name())
                .or_default()
                .push(external_id.to_string());
        }
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }

    /// Takes one create from `customer_id`'s per-minute budget.
    pub fn take_customer_create(&mut self, customer_id: &str, limit: u32) -> bool {
        self.customer_creates
            .entry(customer_id.to_string())
            .or_default()
            .take(limit)
            .allowed
    }
}

/// What every handler holds: the configuration, the token and the store.
#[derive(Clone)]
pub struct Sim(pub Arc<SimInner>);

pub struct SimInner {
    pub config: Config,
    pub token: String,
    /// Set by `POST /__sim/token/revoke`: the token is refused (401) until restored.
    pub token_revoked: std::sync::atomic::AtomicBool,
    store: Mutex<Store>,
    /// `POST /__sim/fail` rules.
    pub failing: crate::sim::failing::FailingPaths,
}

impl Sim {
    pub fn new(config: Config, token: String, store: Store) -> Sim {
        Sim(Arc::new(SimInner {
            config,
            token,
            token_revoked: std::sync::atomic::AtomicBool::new(false),
            store: Mutex::new(store),
            failing: Default::default(),
        }))
    }

    /// The store; a panic in another handler does not lock everyone out.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.0.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Whether `token` is the org's API key and has not been revoked.
    pub fn accepts(&self, token: &str) -> bool {
        token == self.0.token
            && !self
                .0
                .token_revoked
                .load(std::sync::atomic::Ordering::SeqCst)
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn now_iso() -> String {
    crate::timefmt::unix_ms_to_iso(now_ms())
}
