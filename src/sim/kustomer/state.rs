//! The simulated org held in memory: records of every kind, custom-attribute metadata, bulk jobs,
//! rate-limit windows and the counters behind the ground truth (`/__sim/truth`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::Config;
use crate::rng::Rng;

/// Every kind of record the simulator stores.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
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
    KnowledgeBase,
    KbCategory,
    KbArticle,
    KbVersion,
    Shortcut,
    ShortcutCategory,
}

impl Kind {
    pub const ALL: [Kind; 22] = [
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
        Kind::KnowledgeBase,
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
            Kind::KnowledgeBase => "kb_knowledge_base",
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
            Kind::KnowledgeBase => "knowledge_bases",
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

/// A link from one record to another, rendered under `relationships`. The link is derived
/// (`{collection}/{id}`) rather than stored: one shared collection string per path.
#[derive(Debug, Clone)]
pub struct Rel {
    pub kind: Kind,
    pub id: String,
    collection: Arc<str>,
}

impl Rel {
    /// The target's self link.
    pub fn link(&self) -> String {
        format!("{}/{}", self.collection, self.id)
    }
}

/// A record's relationships by name, in name order (as a `BTreeMap` would iterate them), held
/// in one boxed slice: a map node per record cost more than the links themselves.
#[derive(Debug, Clone, Default)]
pub struct Rels(Box<[(Box<str>, Rel)]>);

impl Rels {
    pub fn get(&self, name: &str) -> Option<&Rel> {
        self.0
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Rel)> {
        self.0.iter().map(|(n, r)| (&**n, r))
    }

    /// Adds `rels`, replacing those of the same name.
    pub fn extend(&mut self, rels: BTreeMap<String, Rel>) {
        if rels.is_empty() {
            return;
        }
        let mut all: BTreeMap<String, Rel> = std::mem::take(self).into();
        all.extend(rels);
        *self = Rels::from(all);
    }
}

impl From<BTreeMap<String, Rel>> for Rels {
    fn from(rels: BTreeMap<String, Rel>) -> Rels {
        Rels(rels.into_iter().map(|(n, r)| (n.into(), r)).collect())
    }
}

impl From<Rels> for BTreeMap<String, Rel> {
    fn from(rels: Rels) -> BTreeMap<String, Rel> {
        rels.0
            .into_vec()
            .into_iter()
            .map(|(n, r)| (n.into(), r))
            .collect()
    }
}

/// A record's attributes, kept as their compact JSON text: a `serde_json` map costs several
/// times the bytes of its text, and a `large` org holds millions of records that are written
/// once and read rarely (GET by id, lookups, listings, the ground truth). Reads parse the text
/// (one field at a time where that is all they need); writes go through [`Store::update`].
#[derive(Debug, Clone)]
pub struct Attrs(Box<str>);

impl Attrs {
    pub fn new(map: &Map<String, Value>) -> Attrs {
        Attrs(
            serde_json::to_string(map)
                .unwrap_or_else(|_| "{}".into())
                .into_boxed_str(),
        )
    }

    /// All the attributes.
    pub fn map(&self) -> Map<String, Value> {
        serde_json::from_str(&self.0).unwrap_or_default()
    }

    /// One attribute, without building the others.
    pub fn get(&self, field: &str) -> Option<Value> {
        let mut de = serde_json::Deserializer::from_str(&self.0);
        serde::de::DeserializeSeed::deserialize(FieldSeed(field), &mut de)
            .ok()
            .flatten()
    }

    /// One string attribute.
    pub fn str(&self, field: &str) -> Option<String> {
        match self.get(field)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl serde::Serialize for Attrs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map().serialize(serializer)
    }
}

/// Reads one field of a JSON object, skipping the others without allocating.
struct FieldSeed<'f>(&'f str);

impl<'de> serde::de::DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = Option<Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FieldSeed<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(matches) = map.next_key_seed(KeyIs(self.0))? {
            if matches {
                found = Some(map.next_value::<Value>()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a map key equals the wanted one.
struct KeyIs<'f>(&'f str);

impl<'de> serde::de::DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub kind: Kind,
    pub attributes: Attrs,
    pub relationships: Rels,
    /// The path the record's self link hangs under (shared between records).
    collection: Arc<str>,
    /// Part of the fresh org rather than created through the API.
    pub seeded: bool,
    /// When search starts seeing the record (the indexing delay).
    pub visible_at: Instant,
}

impl Record {
    pub fn self_link(&self) -> String {
        format!("{}/{}", self.collection, self.id)
    }
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
            started_epoch_ms: crate::timefmt::now_unix_ms(),
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

#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct RouteStats {
    pub count: u64,
    pub throttled: u64,
}

/// One bulk item's outcome, as `GET /v1/bulk/{id}/batches` reports it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ItemResult {
    pub client_ref: Option<String>,
    pub object_id: Option<String>,
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BulkJob {
    pub id: String,
    pub resource: String,
    /// `create`, `update` or `delete`.
    pub operation: String,
    pub item_count: usize,
    pub status: JobStatus,
    pub created_at: String,
    pub completed_at: Option<String>,
    pub results: Vec<ItemResult>,
    /// The items still to take effect (a delete's are `{"id"}`), held here rather than by the
    /// task that runs the job, so a saved org keeps a job that had not run yet.
    #[serde(default)]
    pub pending: Vec<Map<String, Value>>,
}

/// The whole org. Held under one mutex that is never kept across an `.await`.
pub struct Store {
    records: BTreeMap<Kind, Vec<Record>>,
    index: HashMap<String, (Kind, usize)>,
    /// The collections self links hang under, each held once.
    collections: HashMap<String, Arc<str>>,
    /// `(kind, scope, externalId)` → ids carrying it (scope = klass name for kobjects).
    external_ids: HashMap<(Kind, String, String), Vec<String>>,
    /// `(kind, field, value)` → positions in `records[kind]`, in creation order, of the records
    /// whose relationship `field` (one of [`LISTED_UNDER`]) points at the record `value`, or (for
    /// kobjects, `field` "klass") whose klass is `value`: the sub-lists of a conversation or a
    /// customer and a klass's kobjects are read without a walk over every record of the kind.
    children: HashMap<(Kind, &'static str, String), Vec<usize>>,
    /// Custom-attribute metadata per resource (`customer`, `kobject.order`, …).
    pub metadata: BTreeMap<String, Value>,
    pub duplicates: BTreeMap<String, Vec<String>>,
    /// Bodies refused for a field Kustomer's published request type does not allow
    /// (`"<method> <path>: <detail>"`), see [`super::published`].
    pub refused_fields: Vec<String>,
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

/// The relationships records are listed under by their parent (`GET /v1/conversations/{id}/
/// messages`, `/notes`, `GET /v1/customers/{id}/conversations`…).
const LISTED_UNDER: [&str; 2] = ["conversation", "customer"];

/// `field` as the index keys it.
fn field_name(field: &str) -> &'static str {
    LISTED_UNDER
        .iter()
        .find(|f| **f == field)
        .copied()
        .unwrap_or("klass")
}

/// What a record is listed under: its parents through [`LISTED_UNDER`], and a kobject's klass.
fn listed_under(record: &Record) -> impl Iterator<Item = (&'static str, String)> + '_ {
    let parents = LISTED_UNDER
        .iter()
        .filter_map(|field| Some((*field, record.relationships.get(field)?.id.clone())));
    let klass = (record.kind == Kind::Kobject)
        .then(|| record.attributes.str("klass"))
        .flatten()
        .map(|k| ("klass", k));
    parents.chain(klass)
}

impl Store {
    pub fn new(seed: u64, indexing_delay: Duration) -> Store {
        Store {
            records: BTreeMap::new(),
            index: HashMap::new(),
            collections: HashMap::new(),
            external_ids: HashMap::new(),
            children: HashMap::new(),
            metadata: BTreeMap::new(),
            duplicates: BTreeMap::new(),
            refused_fields: Vec::new(),
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
            attributes: Attrs::new(&attributes),
            relationships: relationships.into(),
            collection: self.collection(collection),
            seeded,
            visible_at,
        };
        self.push(record);
        id
    }

    /// The shared string of `collection`, held once.
    fn collection(&mut self, collection: &str) -> Arc<str> {
        match self.collections.get(collection) {
            Some(shared) => shared.clone(),
            None => {
                let shared: Arc<str> = collection.into();
                self.collections
                    .insert(collection.to_string(), shared.clone());
                shared
            }
        }
    }

    /// Appends `record` to its kind's list and indexes it.
    fn push(&mut self, record: Record) {
        let kind = record.kind;
        let list = self.records.entry(kind).or_default();
        let position = list.len();
        self.index.insert(record.id.clone(), (kind, position));
        for (field, parent) in listed_under(&record) {
            self.children
                .entry((kind, field, parent))
                .or_default()
                .push(position);
        }
        list.push(record);
    }

    /// The records of `kind` whose relationship `field` points at `parent` (for kobjects, field
    /// "klass": those of the klass named `parent`), in creation order.
    pub fn children(&self, kind: Kind, field: &str, parent: &str) -> Vec<&Record> {
        let all = self.all(kind);
        let key = (kind, field_name(field), parent.to_string());
        self.children
            .get(&key)
            .map(|positions| {
                positions
                    .iter()
                    .filter_map(|&i| all.get(i))
                    // An update may have pointed a record elsewhere since it was indexed (a
                    // kobject's klass never changes).
                    .filter(|r| {
                        key.1 == "klass"
                            || r.relationships.get(key.1).is_some_and(|p| p.id == parent)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<&Record> {
        let (k, i) = self.index.get(id)?;
        if *k != kind {
            return None;
        }
        self.records.get(k)?.get(*i)
    }

    /// Changes a stored record's attributes and relationships, stamping `updatedAt` and
    /// `modifiedAt`; `None` (and `f` not called) when there is no such record.
    pub fn update<T>(
        &mut self,
        kind: Kind,
        id: &str,
        f: impl FnOnce(&mut Map<String, Value>, &mut Rels) -> T,
    ) -> Option<T> {
        let (k, i) = *self.index.get(id)?;
        if k != kind {
            return None;
        }
        let record = self.records.get_mut(&k)?.get_mut(i)?;
        let before: Vec<(&'static str, String)> = listed_under(record).collect();
        let mut attributes = record.attributes.map();
        attributes.insert("updatedAt".into(), Value::String(now_iso()));
        attributes.insert("modifiedAt".into(), Value::String(now_iso()));
        let out = f(&mut attributes, &mut record.relationships);
        record.attributes = Attrs::new(&attributes);
        let moved: Vec<(&'static str, String)> = listed_under(record)
            .filter(|link| !before.contains(link))
            .collect();
        for (field, parent) in moved {
            self.children
                .entry((kind, field, parent))
                .or_default()
                .push(i);
        }
        Some(out)
    }

    /// Removes the records of `kind` with these ids (a delete route); returns how many were
    /// stored. Their externalIds are freed: the simulator assumes a deleted record's externalId
    /// may be used again (README "Rollback"). The kind's positions are renumbered, so one call
    /// per request (a bulk delete removes its whole batch at once) keeps the cost to one pass.
    pub fn remove(&mut self, kind: Kind, ids: &[String]) -> usize {
        let doomed: std::collections::HashSet<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| self.index.get(*id).is_some_and(|(k, _)| *k == kind))
            .collect();
        if doomed.is_empty() {
            return 0;
        }
        let list = self.records.entry(kind).or_default();
        list.retain(|r| !doomed.contains(r.id.as_str()));
        for id in &doomed {
            self.index.remove(*id);
        }
        self.children.retain(|key, _| key.0 != kind);
        for (position, record) in list.iter().enumerate() {
            self.index.insert(record.id.clone(), (kind, position));
            for (field, parent) in listed_under(record) {
                self.children
                    .entry((kind, field, parent))
                    .or_default()
                    .push(position);
            }
        }
        self.external_ids.retain(|key, carriers| {
            if key.0 == kind {
                carriers.retain(|id| !doomed.contains(id.as_str()));
            }
            !carriers.is_empty()
        });
        doomed.len()
    }

    pub fn all(&self, kind: Kind) -> &[Record] {
        self.records.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A relationship to an existing record of `kind`, if it exists.
    pub fn rel(&self, kind: Kind, id: &str) -> Option<Rel> {
        self.get(kind, id).map(|r| Rel {
            kind,
            id: r.id.clone(),
            collection: r.collection.clone(),
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
                .entry(kind.truth_name().to_string())
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

/// The org as a file keeps it (`i2k demo` saves it beside the ledger, so a quit demo resumes on
/// the same org): every record with its relationships, the externalIds (duplicates included),
/// metadata, bulk jobs with the items they have still to run, the ground truth's counters and
/// where the id stream stands. Rate windows start afresh and loaded records are visible to
/// search at once (their indexing delay has long passed).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SavedOrg {
    /// The seed the org was made from; a saved org is loaded only under the same one.
    pub seed: u64,
    records: Vec<SavedRecord>,
    external_ids: Vec<SavedExternalId>,
    metadata: BTreeMap<String, Value>,
    duplicates: BTreeMap<String, Vec<String>>,
    refused_fields: Vec<String>,
    metadata_properties_created: u64,
    tracking_events: u64,
    tracking_identities: u64,
    invitations: u64,
    requests: BTreeMap<String, RouteStats>,
    bulk_jobs: Vec<BulkJob>,
    search_positions: Value,
    rng: u64,
    fault_rng: u64,
    machine_user_id: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedRecord {
    id: String,
    kind: Kind,
    /// The attributes' JSON text, as the store holds it.
    attributes: String,
    /// `(name, kind, id, collection)` of each relationship.
    relationships: Vec<(String, Kind, String, String)>,
    collection: String,
    seeded: bool,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedExternalId {
    kind: Kind,
    scope: String,
    external_id: String,
    ids: Vec<String>,
}

impl Store {
    /// The org as [`SavedOrg`] keeps it.
    pub fn save(&self, seed: u64) -> SavedOrg {
        let records = self
            .records
            .values()
            .flatten()
            .map(|r| SavedRecord {
                id: r.id.clone(),
                kind: r.kind,
                attributes: r.attributes.0.to_string(),
                relationships: r
                    .relationships
                    .iter()
                    .map(|(name, rel)| {
                        (
                            name.to_string(),
                            rel.kind,
                            rel.id.clone(),
                            rel.collection.to_string(),
                        )
                    })
                    .collect(),
                collection: r.collection.to_string(),
                seeded: r.seeded,
            })
            .collect();
        let external_ids = self
            .external_ids
            .iter()
            .map(|((kind, scope, external_id), ids)| SavedExternalId {
                kind: *kind,
                scope: scope.clone(),
                external_id: external_id.clone(),
                ids: ids.clone(),
            })
            .collect();
        SavedOrg {
            seed,
            records,
            external_ids,
            metadata: self.metadata.clone(),
            duplicates: self.duplicates.clone(),
            refused_fields: self.refused_fields.clone(),
            metadata_properties_created: self.metadata_properties_created,
            tracking_events: self.tracking_events,
            tracking_identities: self.tracking_identities,
            invitations: self.invitations,
            requests: self.requests.clone(),
            bulk_jobs: self.bulk_jobs.values().cloned().collect(),
            search_positions: self.search_positions.clone(),
            rng: self.rng.state(),
            fault_rng: self.fault_rng.state(),
            machine_user_id: self.machine_user_id.clone(),
        }
    }

    /// The org `saved` holds, its lookups rebuilt.
    pub fn restore(saved: SavedOrg, indexing_delay: Duration) -> Store {
        let mut store = Store::new(saved.seed, indexing_delay);
        let now = Instant::now();
        for r in saved.records {
            let relationships: BTreeMap<String, Rel> = r
                .relationships
                .into_iter()
                .map(|(name, kind, id, collection)| {
                    let collection = store.collection(&collection);
                    (
                        name,
                        Rel {
                            kind,
                            id,
                            collection,
                        },
                    )
                })
                .collect();
            let record = Record {
                id: r.id,
                kind: r.kind,
                attributes: Attrs(r.attributes.into_boxed_str()),
                relationships: relationships.into(),
                collection: store.collection(&r.collection),
                seeded: r.seeded,
                visible_at: now,
            };
            store.push(record);
        }
        for e in saved.external_ids {
            store
                .external_ids
                .insert((e.kind, e.scope, e.external_id), e.ids);
        }
        store.metadata = saved.metadata;
        store.duplicates = saved.duplicates;
        store.refused_fields = saved.refused_fields;
        store.metadata_properties_created = saved.metadata_properties_created;
        store.tracking_events = saved.tracking_events;
        store.tracking_identities = saved.tracking_identities;
        store.invitations = saved.invitations;
        store.requests = saved.requests;
        store.bulk_jobs = saved
            .bulk_jobs
            .into_iter()
            .map(|job| (job.id.clone(), job))
            .collect();
        store.search_positions = saved.search_positions;
        store.rng = Rng::new(saved.rng);
        store.fault_rng = Rng::new(saved.fault_rng);
        store.machine_user_id = saved.machine_user_id;
        store
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

pub fn now_iso() -> String {
    crate::timefmt::unix_ms_to_iso(crate::timefmt::now_unix_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_listed_by_parent_in_creation_order_and_follow_a_move() {
        let mut store = Store::new(1, Duration::ZERO);
        let a = store.insert(Kind::Conversation, Map::new(), BTreeMap::new(), "/c", false);
        let b = store.insert(Kind::Conversation, Map::new(), BTreeMap::new(), "/c", false);
        let under = |store: &Store, id: &str| {
            BTreeMap::from([(
                "conversation".to_string(),
                store.rel(Kind::Conversation, id).unwrap(),
            )])
        };
        let mut in_a = Vec::new();
        for n in 0..3 {
            let rels = under(&store, if n == 1 { &b } else { &a });
            let id = store.insert(Kind::Message, Map::new(), rels, "/m", false);
            if n != 1 {
                in_a.push(id);
            }
        }
        let ids = |store: &Store, parent: &str| -> Vec<String> {
            store
                .children(Kind::Message, "conversation", parent)
                .iter()
                .map(|r| r.id.clone())
                .collect()
        };
        assert_eq!(ids(&store, &a), in_a);
        assert_eq!(ids(&store, &b).len(), 1);
        let moved = in_a.remove(0);
        let to_b = under(&store, &b);
        store.update(Kind::Message, &moved, |_, rels| rels.extend(to_b));
        assert_eq!(ids(&store, &a), in_a);
        assert_eq!(ids(&store, &b).len(), 2);
        assert!(ids(&store, &b).contains(&moved));

        let mut attrs = Map::new();
        attrs.insert("klass".into(), json!("order"));
        let k = store.insert(Kind::Kobject, attrs, BTreeMap::new(), "/k", false);
        let listed: Vec<&str> = store
            .children(Kind::Kobject, "klass", "order")
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(listed, [k.as_str()]);
        assert!(store.children(Kind::Kobject, "klass", "other").is_empty());
    }

    #[test]
    fn a_saved_org_restores_its_records_lookups_and_id_stream() {
        let mut store = Store::new(3, Duration::from_secs(120));
        let customer = store.insert(
            Kind::Customer,
            Map::new(),
            BTreeMap::new(),
            "/v1/customers",
            false,
        );
        store.note_external_id(Kind::Customer, "", "ic-1", &customer);
        let rels = BTreeMap::from([(
            "customer".to_string(),
            store.rel(Kind::Customer, &customer).unwrap(),
        )]);
        let mut attrs = Map::new();
        attrs.insert("externalId".into(), json!("ic-9"));
        let conversation =
            store.insert(Kind::Conversation, attrs, rels, "/v1/conversations", false);
        store.note_external_id(Kind::Conversation, "", "ic-9", &conversation);
        store.note_external_id(Kind::Conversation, "", "ic-9", "elsewhere");
        store.tracking_events = 4;

        let text = serde_json::to_string(&store.save(3)).unwrap();
        let saved: SavedOrg = serde_json::from_str(&text).unwrap();
        assert_eq!(saved.seed, 3);
        let mut restored = Store::restore(saved, Duration::from_secs(120));

        let found = restored.find_external(Kind::Customer, "", "ic-1").unwrap();
        assert_eq!(found.id, customer);
        let record = restored.get(Kind::Conversation, &conversation).unwrap();
        assert_eq!(record.attributes.str("externalId").as_deref(), Some("ic-9"));
        assert_eq!(
            record.self_link(),
            format!("/v1/conversations/{conversation}")
        );
        // Loaded records are visible to search at once.
        assert!(record.visible_at <= Instant::now());
        let under: Vec<&str> = restored
            .children(Kind::Conversation, "customer", &customer)
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(under, [conversation.as_str()]);
        assert_eq!(restored.duplicates["conversations"], ["ic-9"]);
        assert_eq!(restored.tracking_events, 4);
        // The id stream goes on where it stood, as the unsaved org's would.
        assert_eq!(restored.new_id(), store.new_id());
    }

    #[test]
    fn attrs_read_back_what_was_stored() {
        let map = match json!({
            "body": "a \"quoted\" body\nwith ünïcode",
            "count": 3,
            "ratio": 0.1,
            "big": u64::MAX,
            "nested": {"list": [1, {"_id": "x"}], "null": null},
            "esc\"aped": true,
        }) {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let attrs = Attrs::new(&map);
        assert_eq!(attrs.map(), map);
        for (key, value) in &map {
            assert_eq!(attrs.get(key).as_ref(), Some(value), "{key}");
        }
        assert_eq!(attrs.get("absent"), None);
        assert_eq!(attrs.str("body").as_deref(), map["body"].as_str());
        assert_eq!(attrs.str("count"), None);
    }

    #[test]
    fn rels_keep_name_order_and_replace_by_name() {
        let mut store = Store::new(1, Duration::ZERO);
        let a = store.insert(
            Kind::Customer,
            Map::new(),
            BTreeMap::new(),
            "/v1/customers",
            true,
        );
        let b = store.insert(
            Kind::Company,
            Map::new(),
            BTreeMap::new(),
            "/v1/companies",
            true,
        );
        let rel_a = store.rel(Kind::Customer, &a).unwrap();
        assert_eq!(rel_a.link(), format!("/v1/customers/{a}"));
        let mut rels = Rels::from(BTreeMap::from([("zeta".to_string(), rel_a.clone())]));
        rels.extend(BTreeMap::from([
            ("alpha".to_string(), rel_a.clone()),
            ("zeta".to_string(), store.rel(Kind::Company, &b).unwrap()),
        ]));
        let names: Vec<&str> = rels.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["alpha", "zeta"]);
        assert_eq!(rels.get("zeta").map(|r| r.id.as_str()), Some(b.as_str()));
        assert_eq!(rels.get("alpha").map(|r| r.id.as_str()), Some(a.as_str()));
        assert!(rels.get("beta").is_none());
    }
}
