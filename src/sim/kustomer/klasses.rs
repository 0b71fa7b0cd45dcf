//! Klasses (custom object types), their KObjects addressed by klass name, and the
//! custom-attribute metadata (`GET/PUT /v1/metadata/{resource}`).

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::conversations::take_customer_budget;
use super::envelope::{self, ApiError, ApiResult, JsonBody};
use super::org::listed;
use super::records::{
    Body, created, current, insert_noting_external, merge_noting_external, put_one,
};
use super::state::{Kind, Sim, Store, now_iso};
use super::validation::{
    check_custom, common_dates, display_name, known_suffix, optional_str, required_str,
};

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/v1/klasses", listed(Kind::Klass).post(post_klass))
        .route("/v1/klasses/{name}", get(list_kobjects).post(post_kobject))
        .route(
            "/v1/klasses/{name}/{id}",
            get(get_kobject).put(put_kobject).patch(put_kobject),
        )
        .route(
            "/v1/metadata/{resource}",
            get(get_metadata).put(put_metadata),
        )
}

fn klass_exists(store: &Store, name: &str) -> bool {
    store
        .all(Kind::Klass)
        .iter()
        .any(|k| k.attributes.str("name").as_deref() == Some(name))
}

/// 404 unless klass `name` exists.
pub fn require_klass(store: &Store, name: &str) -> Result<(), ApiError> {
    if klass_exists(store, name) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no klass named {name}; POST /v1/klasses first"
        )))
    }
}

/// `POST /v1/klasses`: a new klass (name unique) and its empty `kobject.<name>` metadata.
async fn post_klass(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let mut body = body.object()?;
    let name = required_str(&body, "name")?.to_string();
    if !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::invalid(
            "/name",
            format!("klass name `{name}` must be a letter then letters, digits, - or _"),
        ));
    }
    if let Some(status) = optional_str(&body, "status")?
        && !["enabled", "disabled"].contains(&status)
    {
        return Err(ApiError::invalid(
            "/status",
            "`status` is enabled or disabled",
        ));
    }
    let mut store = sim.lock();
    if klass_exists(&store, &name) {
        return Err(ApiError::conflict(format!(
            "a klass named {name} already exists"
        )));
    }
    body.entry("displayName")
        .or_insert(json!(display_name(&name)));
    body.entry("status").or_insert(json!("enabled"));
    let id = store.insert(Kind::Klass, body, BTreeMap::new(), "/v1/klasses", false);
    let resource = format!("kobject.{name}");
    store
        .metadata
        .insert(resource.clone(), super::org::standard_metadata(&resource));
    Ok(created(&store, Kind::Klass, &id))
}

fn check_kobject_fields(
    store: &Store,
    klass: &str,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    common_dates(body)?;
    for (field, kind) in [("customer", Kind::Customer), ("company", Kind::Company)] {
        if let Some(id) = optional_str(body, field)?
            && store.get(kind, id).is_none()
        {
            return Err(ApiError::invalid(
                format!("/{field}"),
                format!("no {field} with id {id}"),
            ));
        }
    }
    if let Some(data) = body.get("data")
        && !data.is_object()
    {
        return Err(ApiError::invalid("/data", "`data` must be an object"));
    }
    check_custom(store, &format!("kobject.{klass}"), body.get("custom"))
}

fn take_rels(store: &Store, body: &mut Map<String, Value>) -> BTreeMap<String, super::state::Rel> {
    let mut rels = BTreeMap::new();
    for (field, kind) in [("customer", Kind::Customer), ("company", Kind::Company)] {
        if let Some(Value::String(id)) = body.remove(field)
            && let Some(rel) = store.rel(kind, &id)
        {
            rels.insert(field.to_string(), rel);
        }
    }
    rels
}

/// Validates and stores a KObject of klass `klass` (shared by the single and bulk routes).
pub fn create_kobject(store: &mut Store, klass: &str, mut body: Body) -> Result<String, ApiError> {
    require_klass(store, klass)?;
    required_str(&body, "title")?;
    check_kobject_fields(store, klass, &body)?;
    if let Some(customer) = optional_str(&body, "customer")?.map(str::to_string) {
        take_customer_budget(store, &customer, &body)?;
    }
    let rels = take_rels(store, &mut body);
    body.insert("klass".into(), json!(klass));
    body.entry("data").or_insert(json!({}));
    body.insert("rev".into(), json!(1));
    let collection = format!("/v1/klasses/{klass}");
    insert_noting_external(store, Kind::Kobject, klass, body, rels, &collection)
}

pub fn update_kobject(
    store: &mut Store,
    klass: &str,
    id: &str,
    mut body: Body,
) -> Result<String, ApiError> {
    body.remove("id");
    require_klass(store, klass)?;
    if !kobject_in(store, klass, id) {
        return Err(ApiError::not_found(format!("no {klass} with id {id}")));
    }
    check_kobject_fields(store, klass, &body)?;
    let rels = take_rels(store, &mut body);
    merge_noting_external(store, Kind::Kobject, klass, id, body, rels)
}

/// Whether `id` is a kobject of klass `klass`.
pub(super) fn kobject_in(store: &Store, klass: &str, id: &str) -> bool {
    store
        .get(Kind::Kobject, id)
        .is_some_and(|k| k.attributes.str("klass").as_deref() == Some(klass))
}

async fn list_kobjects(
    State(sim): State<Sim>,
    Path(name): Path<String>,
    Query(q): Q,
    uri: Uri,
) -> ApiResult {
    let store = sim.lock();
    if name.len() == 24 && store.get(Kind::Klass, &name).is_some() {
        return Ok(current(&store, Kind::Klass, &name));
    }
    require_klass(&store, &name)?;
    let items = store.children(Kind::Kobject, "klass", &name);
    envelope::page_of(&items, &q, uri.path(), 100)
}

async fn post_kobject(
    State(sim): State<Sim>,
    Path(name): Path<String>,
    body: JsonBody,
) -> ApiResult {
    super::records::post_one(&sim, Kind::Kobject, body, |store, body| {
        create_kobject(store, &name, body)
    })
}

/// `GET /v1/klasses/{name}/{id}`, also `…/externalId={externalId}`.
async fn get_kobject(
    State(sim): State<Sim>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult {
    let store = sim.lock();
    require_klass(&store, &name)?;
    let found = match id.strip_prefix("externalId=") {
        Some(ext) => store.find_external(Kind::Kobject, &name, ext),
        None => store
            .get(Kind::Kobject, &id)
            .filter(|_| kobject_in(&store, &name, &id)),
    };
    found
        .map(envelope::ok)
        .ok_or_else(|| ApiError::not_found(format!("no {name} found for {id}")))
}

async fn put_kobject(
    State(sim): State<Sim>,
    Path((name, id)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult {
    put_one(&sim, Kind::Kobject, &id, body, |store, id, body| {
        update_kobject(store, &name, id, body)
    })
}

fn metadata_body(resource: &str, metadata: &Value) -> Value {
    json!({"data": {"type": "metadata", "id": resource, "attributes": metadata, "links": {"self": format!("/v1/metadata/{resource}")}}})
}

async fn get_metadata(State(sim): State<Sim>, Path(resource): Path<String>) -> ApiResult {
    let store = sim.lock();
    let metadata = store
        .metadata
        .get(&resource)
        .ok_or_else(|| ApiError::not_found(format!("no metadata for `{resource}`")))?;
    Ok(Json(metadata_body(&resource, metadata)).into_response())
}

/// `PUT /v1/metadata/{resource}`: merges `properties`; each name's suffix decides its type
/// (an unknown suffix is a 400 naming the property). Idempotent: repeating it changes nothing.
async fn put_metadata(
    State(sim): State<Sim>,
    Path(resource): Path<String>,
    body: JsonBody,
) -> ApiResult {
    let body = body.object()?;
    let mut store = sim.lock();
    if !store.metadata.contains_key(&resource) {
        return Err(ApiError::not_found(format!(
            "no metadata for `{resource}` (customer, company, conversation, message or kobject.<klass>)"
        )));
    }
    let properties = match body.get("properties") {
        None => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                "/properties",
                "`properties` must be an object",
            ));
        }
    };
    let mut staged = Vec::new();
    for (name, spec) in &properties {
        let pointer = format!("/properties/{name}");
        let suffix = known_suffix(name, &pointer, "property", "")?;
        let spec = spec.as_object().ok_or_else(|| {
            ApiError::invalid(&pointer, format!("property `{name}` must be an object"))
        })?;
        if let Some(t) = spec.get("type").and_then(Value::as_str)
            && t != suffix.metadata_type()
        {
            return Err(ApiError::invalid(
                &pointer,
                format!(
                    "property `{name}` is a {} by its suffix, not {t}",
                    suffix.metadata_type()
                ),
            ));
        }
        let mut property = spec.clone();
        property.insert("type".into(), json!(suffix.metadata_type()));
        property
            .entry("displayName")
            .or_insert(json!(display_name(name)));
        staged.push((name.clone(), property));
    }
    let user = store.machine_user_id.clone();
    let mut added = 0;
    if let Some(Value::Object(existing)) = store
        .metadata
        .get_mut(&resource)
        .and_then(|m| m.get_mut("properties"))
    {
        for (name, mut property) in staged {
            property.insert("modifiedBy".into(), json!(user));
            property.insert("updatedAt".into(), json!(now_iso()));
            if !existing.contains_key(&name) {
                added += 1;
            }
            existing.insert(name, Value::Object(property));
        }
    }
    store.metadata_properties_created += added;
    let metadata = store
        .metadata
        .get(&resource)
        .cloned()
        .unwrap_or(Value::Null);
    Ok(Json(metadata_body(&resource, &metadata)).into_response())
}
