//! The org itself: the fresh org's seed (agents as users, the key's machine user, a default brand
//! and schedule, standard metadata), and the routes for the token, users, teams, brands and schedules.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use serde_json::{Map, Value, json};

use super::Config;
use super::envelope::{self, ApiError, ApiResult, JsonBody};
use super::records::{created, insert_noting_external};
use super::state::{Kind, Record, Sim, Store};
use super::validation::{known_ids, optional_str, required_str};

/// Roles of the simulator's one API key: every role an importer needs.
pub const TOKEN_ROLES: [&str; 16] = [
    "org.admin",
    "org.user",
    "org.admin.user",
    "org.permission.customer.create",
    "org.permission.company.create",
    "org.permission.conversation.create",
    "org.permission.message.create",
    "org.permission.note.create",
    "org.permission.kobject.create",
    "org.permission.klass.create",
    "org.permission.metadata.update",
    "org.permission.bulk.read",
    "org.permission.search.create",
    "org.permission.kb.create",
    "org.admin.shortcut.write",
    "org.tracking",
];

/// The simulated org's name (the subdomain of `<org>.kustomerapp.com`) and id.
pub const ORG_NAME: &str = "i2k-sim";
pub const ORG_ID: &str = "5f0000000000000000000001";

/// What the fresh org does with Intercom admin number `index`: most exist under the same e-mail,
/// the second is missing altogether, the third exists under another e-mail (then every 7th is
/// missing and every 9th aliased), so the user-matching step meets all three cases.
fn agent_fate(index: usize, count: usize) -> AgentFate {
    if count >= 3 && index == 1 || index >= 7 && index.is_multiple_of(7) {
        AgentFate::Missing
    } else if count >= 3 && index == 2 || index >= 9 && index.is_multiple_of(9) {
        AgentFate::OtherEmail
    } else {
        AgentFate::SameEmail
    }
}

enum AgentFate {
    SameEmail,
    Missing,
    OtherEmail,
}

/// The e-mail a person has in Kustomer when it differs from Intercom's.
fn other_email(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    format!("{local}@support-team.example")
}

pub fn seed(store: &mut Store, config: &Config) {
    let machine = obj(json!({
        "name": "i2k API key",
        "displayName": "i2k API key",
        "email": format!("apikey-{}@machine.kustomer.example", config.seed),
        "userType": "machine",
        "pending": false,
        "deleted": false,
        "roles": token_roles(config),
    }));
    store.machine_user_id = store.insert(Kind::User, machine, BTreeMap::new(), "/v1/users", true);
    for (i, (name, email)) in config.agents.iter().enumerate() {
        let email = match agent_fate(i, config.agents.len()) {
            AgentFate::Missing => continue,
            AgentFate::SameEmail => email.clone(),
            AgentFate::OtherEmail => other_email(email),
        };
        let user = obj(json!({
            "name": name,
            "displayName": name,
            "email": email,
            "userType": "user",
            "pending": false,
            "deleted": false,
            "roles": ["org.user", "org.admin"],
        }));
        store.insert(Kind::User, user, BTreeMap::new(), "/v1/users", true);
    }
    let brand = obj(
        json!({"name": "Default", "iconUrl": "https://cdn.kustomerapp.example/brand.png", "default": true}),
    );
    let default_brand = store.insert(Kind::Brand, brand, BTreeMap::new(), "/v1/brands", true);
    seed_knowledge_base(store, &default_brand, "Default", true);
    for name in &config.extra_brands {
        let brand = obj(json!({
            "name": name,
            "iconUrl": "https://cdn.kustomerapp.example/brand.png",
            "default": false,
        }));
        let id = store.insert(Kind::Brand, brand, BTreeMap::new(), "/v1/brands", true);
        seed_knowledge_base(store, &id, name, false);
    }
    let hours: Value = json!({"0": null, "1": [[540, 1020]], "2": [[540, 1020]], "3": [[540, 1020]], "4": [[540, 1020]], "5": [[540, 1020]], "6": null});
    let schedule = obj(
        json!({"name": "Business Hours", "timezone": "America/New_York", "hours": hours, "default": true, "deleted": false}),
    );
    let schedule_id = store.insert(
        Kind::Schedule,
        schedule,
        BTreeMap::new(),
        "/v1/schedules",
        true,
    );
    if let Some(rel) = store.rel(Kind::Schedule, &schedule_id) {
        let holiday = obj(json!({
            "name": "New Year's Day",
            "startDate": "2026-01-01T00:00:00.000Z",
            "endDate": "2026-01-02T00:00:00.000Z",
            "description": "Office closed",
            "enabled": true,
        }));
        let rels = BTreeMap::from([("schedule".to_string(), rel)]);
        store.insert(Kind::Holiday, holiday, rels, "/v1/holidays", true);
    }
    for resource in ["customer", "company", "conversation", "message"] {
        store
            .metadata
            .insert(resource.to_string(), standard_metadata(resource));
    }
}

/// The knowledge base of brand `brand_id` (Kustomer: each knowledge base belongs to exactly one
/// brand; the default one, `default: true`, to the org's default brand). Reads carry its brand.
fn seed_knowledge_base(store: &mut Store, brand_id: &str, name: &str, default: bool) {
    let subdomain: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let kb = obj(json!({
        "name": name,
        "subdomain": subdomain,
        "default": default,
        "brand": brand_id,
        "languages": ["en_us"],
    }));
    let rels = store
        .rel(Kind::Brand, brand_id)
        .map(|rel| BTreeMap::from([("brand".to_string(), rel)]))
        .unwrap_or_default();
    store.insert(
        Kind::KnowledgeBase,
        kb,
        rels,
        "/v1/kb/knowledge-bases",
        true,
    );
}

/// A resource's standard metadata: its built-in properties, and no custom ones.
pub fn standard_metadata(resource: &str) -> Value {
    let standard: &[&str] = match resource {
        "customer" => &[
            "name",
            "emails",
            "phones",
            "company",
            "externalId",
            "tags",
            "locale",
            "timeZone",
        ],
        "company" => &["name", "domains", "externalId", "tags"],
        "conversation" => &[
            "name",
            "status",
            "priority",
            "tags",
            "assignedUsers",
            "assignedTeams",
        ],
        "message" => &["channel", "direction", "preview", "subject", "app"],
        _ => &["title", "externalId", "data"],
    };
    let standard: Map<String, Value> = standard
        .iter()
        .map(|name| {
            (
                (*name).to_string(),
                json!({"displayName": super::validation::display_name(name)}),
            )
        })
        .collect();
    json!({"standardProperties": standard, "relationships": {}, "properties": {}, "validations": []})
}

pub fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/v1/auth/tokens/current", get(current_token))
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/users/current", get(current_user))
        .route("/v1/users/{id}", fetched(Kind::User))
        .route("/v1/teams", get(list_teams).post(create_team))
        .route("/v1/teams/{id}", fetched(Kind::Team))
        .route("/v1/brands", listed(Kind::Brand).post(create_brand))
        .route("/v1/brands/{id}", get(get_brand))
        .route("/v1/schedules", get(list_schedules).post(create_schedule))
        .route("/v1/schedules/{id}", get(get_schedule))
}

type Q = Query<HashMap<String, String>>;

/// The key's roles: every importer role, less `org.admin` when the org is set up without it.
pub fn token_roles(config: &Config) -> Vec<&'static str> {
    TOKEN_ROLES
        .into_iter()
        .filter(|r| config.org_admin || *r != "org.admin")
        .collect()
}

async fn current_token(State(sim): State<Sim>) -> ApiResult {
    let roles = token_roles(sim.config());
    let store = sim.lock();
    Ok(Json(json!({
        "data": {
            "type": "token",
            "id": format!("tok{}", &store.machine_user_id[3..]),
            "attributes": { "name": "i2k", "roles": roles, "expiresAt": null, "orgName": ORG_NAME },
            "relationships": {
                "user": { "data": { "type": "user", "id": store.machine_user_id } },
                "org": { "data": { "type": "org", "id": ORG_ID } },
            },
        }
    }))
    .into_response())
}

async fn list_users(State(sim): State<Sim>, Query(q): Q, uri: Uri) -> ApiResult {
    let filters: Vec<&str> = ["email", "userType", "pending", "deleted"]
        .into_iter()
        .filter(|f| q.contains_key(*f))
        .collect();
    if filters.len() > 1 {
        return Err(ApiError::bad_request(format!(
            "the user filters cannot be combined (got {})",
            filters.join(", ")
        )));
    }
    let store = sim.lock();
    let items: Vec<_> = store
        .all(Kind::User)
        .iter()
        .filter(|u| match filters.first() {
            None => true,
            Some(&"email") => q.get("email").is_some_and(|e| {
                u.attributes
                    .str("email")
                    .is_some_and(|ue| ue.eq_ignore_ascii_case(e))
            }),
            Some(field) => q
                .get(*field)
                .is_some_and(|want| match u.attributes.get(field) {
                    Some(Value::String(s)) => s == *want,
                    Some(Value::Bool(b)) => b.to_string() == *want,
                    _ => false,
                }),
        })
        .collect();
    envelope::page_of(&items, &q, uri.path(), 500)
}

async fn current_user(State(sim): State<Sim>) -> ApiResult {
    let store = sim.lock();
    let user = store
        .get(Kind::User, &store.machine_user_id)
        .ok_or_else(|| ApiError::not_found("no current user"))?;
    Ok(envelope::ok(user))
}

/// `GET` one record of `kind` by id: 404 when there is none.
pub fn get_one(sim: &Sim, kind: Kind, id: &str) -> ApiResult {
    let store = sim.lock();
    store
        .get(kind, id)
        .map(envelope::ok)
        .ok_or_else(|| ApiError::not_found(format!("no {} with id {id}", kind.json_type())))
}

/// `GET` every record of `kind`, paged.
pub fn list_all(sim: &Sim, kind: Kind, q: &HashMap<String, String>, path: &str) -> ApiResult {
    let store = sim.lock();
    let items: Vec<_> = store.all(kind).iter().collect();
    envelope::page_of(&items, q, path, 100)
}

/// The route that lists every record of `kind` ([`list_all`]).
pub fn listed(kind: Kind) -> MethodRouter<Sim> {
    get(move |State(sim): State<Sim>, Query(q): Q, uri: Uri| {
        std::future::ready(list_all(&sim, kind, &q, uri.path()))
    })
}

/// The route that reads one record of `kind` by the path's id ([`get_one`]).
pub fn fetched(kind: Kind) -> MethodRouter<Sim> {
    get(move |State(sim): State<Sim>, Path(id): Path<String>| {
        std::future::ready(get_one(&sim, kind, &id))
    })
}

async fn create_user(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let mut body = body.object()?;
    let _name = required_str(&body, "name")?;
    let email = required_str(&body, "email")?.to_string();
    if !email.contains('@') {
        return Err(ApiError::invalid(
            "/email",
            format!("`{email}` is not an e-mail address"),
        ));
    }
    if let Some(t) = optional_str(&body, "userType")?
        && !["user", "machine", "limited", "hourly"].contains(&t)
    {
        return Err(ApiError::invalid(
            "/userType",
            format!("unknown userType `{t}`"),
        ));
    }
    let mut store = sim.lock();
    let exists = store.all(Kind::User).iter().any(|u| {
        u.attributes
            .str("email")
            .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    });
    if exists {
        return Err(ApiError::conflict(format!(
            "a user with e-mail {email} already exists"
        )));
    }
    body.entry("userType").or_insert(json!("user"));
    body.entry("roles")
        .or_insert(json!(["org.user", "org.admin"]));
    let display_name = body.get("name").cloned().unwrap_or(Value::Null);
    body.entry("displayName").or_insert(display_name);
    body.insert("pending".into(), json!(true));
    body.insert("deleted".into(), json!(false));
    body.insert(
        "password".into(),
        json!({"allowNew": true, "forceNew": false, "updatedAt": null}),
    );
    // Kustomer sends the invitation e-mail here; the simulator counts it.
    store.invitations += 1;
    let id = store.insert(Kind::User, body, BTreeMap::new(), "/v1/users", false);
    Ok(created(&store, Kind::User, &id))
}

async fn list_teams(State(sim): State<Sim>, Query(q): Q, uri: Uri) -> ApiResult {
    let store = sim.lock();
    let items: Vec<_> = store.all(Kind::Team).iter().collect();
    envelope::page_of(&items, &q, uri.path(), 500)
}

async fn create_team(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let body = body.object()?;
    required_str(&body, "name")?;
    super::validation::common_dates(&body)?;
    let mut store = sim.lock();
    if let Some(members) = body.get("members") {
        let ids = members.as_array().ok_or_else(|| {
            ApiError::invalid("/members", "`members` must be an array of user ids")
        })?;
        known_ids(&store, ids, "members", Kind::User, |m| {
            format!("no user with id {m}")
        })?;
    }
    let rels = BTreeMap::new();
    let id = insert_noting_external(&mut store, Kind::Team, "", body, rels, "/v1/teams")?;
    Ok(created(&store, Kind::Team, &id))
}

async fn get_brand(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    if id == "default" {
        let store = sim.lock();
        let brand = store
            .all(Kind::Brand)
            .iter()
            .find(|b| b.attributes.get("default") == Some(json!(true)))
            .ok_or_else(|| ApiError::not_found("no default brand"))?;
        return Ok(envelope::ok(brand));
    }
    get_one(&sim, Kind::Brand, &id)
}

async fn create_brand(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let mut body = body.object()?;
    required_str(&body, "name")?;
    required_str(&body, "iconUrl")?;
    body.insert("default".into(), json!(false));
    let mut store = sim.lock();
    let id = store.insert(Kind::Brand, body, BTreeMap::new(), "/v1/brands", false);
    Ok(created(&store, Kind::Brand, &id))
}

/// `GET /v1/schedules`, paged; `include=holidays` side-loads the holidays of the schedules on the
/// page in `included[]` and links them from each schedule, as the single form does (§8.5 of the
/// reference documents `include=holidays` on the single form only).
async fn list_schedules(State(sim): State<Sim>, Query(q): Q, uri: Uri) -> ApiResult {
    if !wants_holidays(&q) {
        return list_all(&sim, Kind::Schedule, &q, uri.path());
    }
    let store = sim.lock();
    let schedules: Vec<&Record> = store.all(Kind::Schedule).iter().collect();
    let mut included = Vec::new();
    let mut body = envelope::page_rendered(&schedules, &q, uri.path(), 100, |schedule| {
        let (resource, holidays) = schedule_with_holidays(&store, schedule);
        included.extend(holidays);
        resource
    })?;
    body["included"] = Value::Array(included);
    Ok(Json(body).into_response())
}

fn wants_holidays(q: &HashMap<String, String>) -> bool {
    q.get("include")
        .is_some_and(|inc| inc.split(',').any(|i| i == "holidays"))
}

/// A schedule as resource object with `relationships.holidays` linking its holidays, and those
/// holidays as resource objects for `included[]`.
fn schedule_with_holidays(store: &Store, schedule: &Record) -> (Value, Vec<Value>) {
    let holidays: Vec<&Record> = store
        .all(Kind::Holiday)
        .iter()
        .filter(|h| {
            h.relationships
                .get("schedule")
                .is_some_and(|r| r.id == schedule.id)
        })
        .collect();
    let mut resource = envelope::resource(schedule);
    let linkage: Vec<Value> = holidays
        .iter()
        .map(|h| json!({ "type": h.kind.json_type(), "id": h.id }))
        .collect();
    resource["relationships"]["holidays"] = json!({ "data": linkage });
    (
        resource,
        holidays.into_iter().map(envelope::resource).collect(),
    )
}

/// `GET /v1/schedules/{id|default}`, with `include=holidays` side-loading them in `included[]`.
async fn get_schedule(State(sim): State<Sim>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let store = sim.lock();
    let schedule = if id == "default" {
        store
            .all(Kind::Schedule)
            .iter()
            .find(|s| s.attributes.get("default") == Some(json!(true)))
    } else {
        store.get(Kind::Schedule, &id)
    }
    .ok_or_else(|| ApiError::not_found(format!("no schedule with id {id}")))?;
    if !wants_holidays(&q) {
        return Ok(envelope::ok(schedule));
    }
    let (resource, included) = schedule_with_holidays(&store, schedule);
    Ok(Json(json!({ "data": resource, "included": included })).into_response())
}

async fn create_schedule(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let mut body = body.object()?;
    required_str(&body, "name")?;
    required_str(&body, "timezone")?;
    check_hours(body.get("hours"))?;
    let make_default = body.get("default") == Some(&json!(true));
    body.entry("default").or_insert(json!(false));
    body.insert("deleted".into(), json!(false));
    let mut store = sim.lock();
    if make_default {
        let others: Vec<String> = store
            .all(Kind::Schedule)
            .iter()
            .map(|s| s.id.clone())
            .collect();
        for other in others {
            store.update(Kind::Schedule, &other, |attributes, _| {
                attributes.insert("default".into(), json!(false))
            });
        }
    }
    let id = store.insert(
        Kind::Schedule,
        body,
        BTreeMap::new(),
        "/v1/schedules",
        false,
    );
    Ok(created(&store, Kind::Schedule, &id))
}

/// `hours`: keys "0".."6", each null or sorted, non-overlapping, non-touching `[start, end]`
/// minute pairs within 0..=1440.
fn check_hours(hours: Option<&Value>) -> Result<(), ApiError> {
    let Some(hours) = hours else {
        return Err(ApiError::missing("hours"));
    };
    let days = hours.as_object().ok_or_else(|| {
        ApiError::invalid("/hours", "`hours` must be an object keyed \"0\"..\"6\"")
    })?;
    for (day, intervals) in days {
        let pointer = format!("/hours/{day}");
        if !matches!(day.as_str(), "0" | "1" | "2" | "3" | "4" | "5" | "6") {
            return Err(ApiError::invalid(pointer, format!("unknown day `{day}`")));
        }
        if intervals.is_null() {
            continue;
        }
        let list = intervals.as_array().ok_or_else(|| {
            ApiError::invalid(&pointer, "a day is null or a list of [start, end]")
        })?;
        let mut last_end: Option<i64> = None;
        for pair in list {
            let (start, end) = match pair.as_array().map(Vec::as_slice) {
                Some([a, b]) => (a.as_i64(), b.as_i64()),
                _ => (None, None),
            };
            let (Some(start), Some(end)) = (start, end) else {
                return Err(ApiError::invalid(
                    &pointer,
                    "each interval is [startMinute, endMinute]",
                ));
            };
            if !(0..=1440).contains(&start) || !(0..=1440).contains(&end) || start >= end {
                return Err(ApiError::invalid(
                    &pointer,
                    format!("interval [{start}, {end}] is outside 0..1440 or empty"),
                ));
            }
            if last_end.is_some_and(|le| start <= le) {
                return Err(ApiError::invalid(
                    &pointer,
                    "intervals must be sorted, non-overlapping and non-touching",
                ));
            }
            last_end = Some(end);
        }
    }
    Ok(())
}
