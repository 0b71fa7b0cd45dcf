//! Customers, companies, tags and search (`POST /v1/customers/search`, with its indexing delay
//! and the machine user's search budget).

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::envelope::{self, ApiError, ApiResult, JsonBody};
use super::org::{fetched, listed};
use super::records::{
    Body, insert_noting_external, merge_noting_external, post_one, put_one, require,
};
use super::state::{Kind, Record, Sim, Store};
use super::validation::{check_custom, common_dates, contact_arrays, known_ids, optional_str};

/// Searches a machine user (API key) may run per minute.
pub const SEARCHES_PER_MINUTE: u32 = 100;
/// ASSUMPTION (unconfirmed): `POST /v1/tags {name}` creates a tag on its own. No Kustomer source
/// shows this route; the documented way is appending tag names to a conversation. Posting a name
/// that exists answers 200 with the existing tag instead of creating a second one.
pub const TAG_CREATE_ASSUMPTION: &str = "POST /v1/tags {name} is assumed, not documented";

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/v1/customers", get(list_customers).post(post_customer))
        .route(
            "/v1/customers/{id}",
            get(get_customer).put(put_customer).patch(put_customer),
        )
        .route("/v1/customers/search", post(search))
        .route("/v1/companies", get(list_companies).post(post_company))
        .route(
            "/v1/companies/{id}",
            fetched(Kind::Company).put(put_company).patch(put_company),
        )
        .route("/v1/tags", listed(Kind::Tag).post(post_tag))
        .route("/v1/tags/{id}", fetched(Kind::Tag))
}

fn str_attr(record: &Record, field: &str) -> Option<String> {
    record.attributes.str(field)
}

fn has_email(record: &Record, email: &str) -> bool {
    record
        .attributes
        .get("emails")
        .as_ref()
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|e| {
                e.get("email")
                    .and_then(Value::as_str)
                    .is_some_and(|x| x.eq_ignore_ascii_case(email))
            })
        })
}

/// Validates and stores a customer; shared by `POST /v1/customers` and bulk items.
/// A second customer with the same `externalId` is refused (409).
pub fn create_customer(store: &mut Store, mut body: Body) -> Result<String, ApiError> {
    check_customer_fields(store, &body)?;
    refuse_taken_external_id(store, &body, None)?;
    let rels = take_company_rel(store, &mut body)?;
    let display_name = body.get("name").cloned().unwrap_or(Value::Null);
    body.entry("displayName").or_insert(display_name);
    for list in ["emails", "phones", "tags", "externalIds"] {
        body.entry(list).or_insert(json!([]));
    }
    body.insert(
        "conversationCounts".into(),
        json!({"all": 0, "open": 0, "snoozed": 0, "done": 0}),
    );
    body.insert("verified".into(), json!(false));
    body.insert("rev".into(), json!(1));
    insert_noting_external(store, Kind::Customer, "", body, rels, "/v1/customers")
}

/// Refuses (409) the `externalId` of `body` where a customer other than `id` (any customer, for
/// a create) already carries it.
fn refuse_taken_external_id(
    store: &Store,
    body: &Map<String, Value>,
    id: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(ext) = optional_str(body, "externalId")?
        && store
            .find_external(Kind::Customer, "", ext)
            .is_some_and(|other| Some(other.id.as_str()) != id)
    {
        return Err(ApiError::conflict(format!(
            "duplicate detected: a customer with externalId {ext} already exists"
        )));
    }
    Ok(())
}

fn check_customer_fields(store: &Store, body: &Map<String, Value>) -> Result<(), ApiError> {
    common_dates(body)?;
    contact_arrays(body)?;
    optional_str(body, "name")?;
    if let Some(ext) = optional_str(body, "externalId")?
        && ext.is_empty()
    {
        return Err(ApiError::invalid(
            "/externalId",
            "`externalId` must not be empty",
        ));
    }
    if let Some(g) = optional_str(body, "gender")?
        && !["m", "f"].contains(&g)
    {
        return Err(ApiError::invalid("/gender", "`gender` is m or f"));
    }
    check_custom(store, "customer", body.get("custom"))?;
    if let Some(tags) = body.get("tags") {
        let list = tags
            .as_array()
            .ok_or_else(|| ApiError::invalid("/tags", "`tags` must be an array of tag ids"))?;
        known_ids(store, list, "tags", Kind::Tag, |tag| {
            format!("no tag with id {tag}; customer tags take tag ids")
        })?;
    }
    Ok(())
}

/// Moves `company` (an id) from the attributes into the relationships.
fn take_company_rel(
    store: &Store,
    body: &mut Map<String, Value>,
) -> Result<BTreeMap<String, super::state::Rel>, ApiError> {
    let mut rels = BTreeMap::new();
    if let Some(company) = body.remove("company") {
        if company.is_null() {
            return Ok(rels);
        }
        let id = company.as_str().unwrap_or_default();
        let rel = store.rel(Kind::Company, id).ok_or_else(|| {
            ApiError::invalid("/company", format!("no company with id {company}"))
        })?;
        rels.insert("company".to_string(), rel);
    }
    Ok(rels)
}

/// Merges `body` into customer `id`; shared by `PUT/PATCH /v1/customers/{id}` and bulk PUT.
pub fn update_customer(store: &mut Store, id: &str, mut body: Body) -> Result<String, ApiError> {
    body.remove("id");
    require(store, Kind::Customer, "customer", id)?;
    check_customer_fields(store, &body)?;
    refuse_taken_external_id(store, &body, Some(id))?;
    let rels = take_company_rel(store, &mut body)?;
    merge_noting_external(store, Kind::Customer, "", id, body, rels)
}

async fn post_customer(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    post_one(&sim, Kind::Customer, body, create_customer)
}

async fn put_customer(State(sim): State<Sim>, Path(id): Path<String>, body: JsonBody) -> ApiResult {
    put_one(&sim, Kind::Customer, &id, body, update_customer)
}

/// `GET /v1/customers/{id}`, also `…/externalId={externalId}` and `…/email={email}`.
async fn get_customer(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    let store = sim.lock();
    let found = if let Some(ext) = id.strip_prefix("externalId=") {
        store.find_external(Kind::Customer, "", ext)
    } else if let Some(email) = id.strip_prefix("email=") {
        store
            .all(Kind::Customer)
            .iter()
            .find(|c| has_email(c, email))
    } else {
        store.get(Kind::Customer, &id)
    };
    found
        .map(envelope::ok)
        .ok_or_else(|| ApiError::not_found(format!("no customer found for {id}")))
}

async fn list_customers(State(sim): State<Sim>, Query(q): Q, uri: Uri) -> ApiResult {
    let store = sim.lock();
    let items: Vec<&Record> = store
        .all(Kind::Customer)
        .iter()
        .filter(|c| {
            q.get("externalId")
                .is_none_or(|e| str_attr(c, "externalId").as_deref() == Some(e.as_str()))
        })
        .filter(|c| q.get("email").is_none_or(|e| has_email(c, e)))
        .collect();
    envelope::page_of(&items, &q, uri.path(), 100)
}

/// Validates and stores a company; companies accept a repeated `externalId` (recorded as a
/// duplicate in the ground truth: Kustomer documents no uniqueness for them).
pub fn create_company(store: &mut Store, mut body: Map<String, Value>) -> Result<String, ApiError> {
    check_company_fields(store, &body, true)?;
    for list in ["emails", "phones", "tags", "domains"] {
        body.entry(list).or_insert(json!([]));
    }
    body.insert("rev".into(), json!(1));
    let rels = BTreeMap::new();
    insert_noting_external(store, Kind::Company, "", body, rels, "/v1/companies")
}

fn check_company_fields(
    store: &Store,
    body: &Map<String, Value>,
    creating: bool,
) -> Result<(), ApiError> {
    common_dates(body)?;
    contact_arrays(body)?;
    match body.get("name") {
        None if !creating => {}
        None | Some(Value::Null) => return Err(ApiError::missing("name")),
        Some(Value::String(name)) => {
            let len = name.chars().count();
            if !(3..=255).contains(&len) {
                return Err(ApiError::invalid(
                    "/name",
                    format!("company name must be 3–255 characters, got {len}"),
                ));
            }
        }
        Some(_) => return Err(ApiError::invalid("/name", "`name` must be a string")),
    }
    if let Some(ext) = optional_str(body, "externalId")?
        && (ext.is_empty() || ext.chars().count() > 256)
    {
        return Err(ApiError::invalid(
            "/externalId",
            "`externalId` must be 1–256 characters",
        ));
    }
    check_custom(store, "company", body.get("custom"))
}

pub fn update_company(store: &mut Store, id: &str, mut body: Body) -> Result<String, ApiError> {
    body.remove("id");
    require(store, Kind::Company, "company", id)?;
    check_company_fields(store, &body, false)?;
    merge_noting_external(store, Kind::Company, "", id, body, BTreeMap::new())
}

async fn post_company(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    post_one(&sim, Kind::Company, body, create_company)
}

async fn put_company(State(sim): State<Sim>, Path(id): Path<String>, body: JsonBody) -> ApiResult {
    put_one(&sim, Kind::Company, &id, body, update_company)
}

/// `GET /v1/companies?externalId=…` or `?filter=<name>`; as documented, both at once are ignored.
async fn list_companies(State(sim): State<Sim>, Query(q): Q, uri: Uri) -> ApiResult {
    let (ext, name) = match (q.get("externalId"), q.get("filter")) {
        (Some(_), Some(_)) => (None, None),
        pair => pair,
    };
    let store = sim.lock();
    let items: Vec<&Record> = store
        .all(Kind::Company)
        .iter()
        .filter(|c| ext.is_none_or(|e| str_attr(c, "externalId").as_deref() == Some(e.as_str())))
        .filter(|c| {
            name.is_none_or(|n| str_attr(c, "name").is_some_and(|cn| cn.contains(n.as_str())))
        })
        .collect();
    envelope::page_of(&items, &q, uri.path(), 100)
}

/// The id of the tag called `name` (or with that id), creating the tag when there is none.
pub fn find_or_create_tag(store: &mut Store, name_or_id: &str) -> String {
    if store.get(Kind::Tag, name_or_id).is_some() {
        return name_or_id.to_string();
    }
    if let Some(tag) = store
        .all(Kind::Tag)
        .iter()
        .find(|t| str_attr(t, "name").as_deref() == Some(name_or_id))
    {
        return tag.id.clone();
    }
    let attrs = super::org::obj(json!({"name": name_or_id, "color": null, "deleted": false}));
    store.insert(Kind::Tag, attrs, BTreeMap::new(), "/v1/tags", false)
}

/// See [`TAG_CREATE_ASSUMPTION`].
async fn post_tag(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let body = body.object()?;
    let name = super::validation::required_str(&body, "name")?.to_string();
    let mut store = sim.lock();
    let existed = store
        .all(Kind::Tag)
        .iter()
        .any(|t| str_attr(t, "name").as_deref() == Some(name.as_str()));
    let id = find_or_create_tag(&mut store, &name);
    store.update(Kind::Tag, &id, |attributes, _| {
        if let Some(color) = body.get("color")
            && !existed
        {
            attributes.insert("color".into(), color.clone());
        }
    });
    let tag = store
        .get(Kind::Tag, &id)
        .ok_or_else(|| ApiError::not_found("tag vanished"))?;
    Ok(if existed {
        envelope::ok(tag)
    } else {
        envelope::created(tag)
    })
}

/// `POST /v1/customers/search`: `queryContext` plus `and[]` filters of the form
/// `{"<context>_<field>": {"equals": value}}` over `external_id`, `id`, `name`, `email`
/// (customers) and `customer_id` (conversations). A record is visible only once its
/// indexing delay has passed.
async fn search(State(sim): State<Sim>, Query(q): Q, uri: Uri, body: JsonBody) -> ApiResult {
    let body = body.object()?;
    let mut store = sim.lock();
    if !store.search_window.take(SEARCHES_PER_MINUTE).allowed {
        return Err(ApiError::too_many(format!(
            "machine users may search {SEARCHES_PER_MINUTE} times per minute"
        ))
        .simple());
    }
    let context = super::validation::required_str(&body, "queryContext")?;
    let kind = match context {
        "customer" => Kind::Customer,
        "company" => Kind::Company,
        "conversation" => Kind::Conversation,
        "message" => Kind::Message,
        "note" => Kind::Note,
        "kobject" => Kind::Kobject,
        other => {
            return Err(ApiError::invalid(
                "/queryContext",
                format!("unknown queryContext `{other}`"),
            ));
        }
    };
    let mut filters: Vec<(String, String)> = Vec::new();
    if let Some(and) = body.get("and") {
        let list = and
            .as_array()
            .ok_or_else(|| ApiError::invalid("/and", "`and` must be an array"))?;
        for (i, clause) in list.iter().enumerate() {
            let pointer = format!("/and/{i}");
            let (field, condition) = clause
                .as_object()
                .and_then(|o| o.iter().next())
                .ok_or_else(|| {
                    ApiError::invalid(&pointer, "each clause is {field: {equals: value}}")
                })?;
            let value = condition
                .get("equals")
                .or_else(|| condition.get("eq"))
                .and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .ok_or_else(|| {
                    ApiError::invalid(&pointer, format!("`{field}` needs {{\"equals\": value}}"))
                })?;
            let suffix = field.strip_prefix(&format!("{context}_")).ok_or_else(|| {
                ApiError::invalid(&pointer, format!("`{field}` does not belong to {context}"))
            })?;
            if !["external_id", "id", "name", "email", "customer_id"].contains(&suffix) {
                return Err(ApiError::invalid(
                    &pointer,
                    format!("unsupported search field `{field}`"),
                ));
            }
            filters.push((suffix.to_string(), value));
        }
    }
    let now = std::time::Instant::now();
    let matches = |r: &Record| {
        r.visible_at <= now
            && filters.iter().all(|(field, value)| match field.as_str() {
                "external_id" => str_attr(r, "externalId").as_deref() == Some(value.as_str()),
                "id" => r.id == *value,
                "name" => str_attr(r, "name").as_deref() == Some(value.as_str()),
                "email" => has_email(r, value),
                "customer_id" => r
                    .relationships
                    .get("customer")
                    .is_some_and(|c| c.id == *value),
                _ => false,
            })
    };
    let items: Vec<&Record> = store.all(kind).iter().filter(|r| matches(r)).collect();
    let (page, size) = envelope::page_params(&q, 500)?;
    let start = (page - 1).saturating_mul(size);
    let data: Vec<Value> = items
        .iter()
        .skip(start)
        .take(size)
        .map(|r| envelope::resource(r))
        .collect();
    let has_next = start.saturating_add(size) < items.len();
    let body = envelope::page_body(data, page, size, items.len(), has_next, &q, uri.path());
    drop(store);
    Ok(Json(body).into_response())
}
