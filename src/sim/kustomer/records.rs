//! What the single-record routes of every resource share: storing a record and noting its
//! `externalId`, merging an update into one, refusing an id that is not there, and answering the
//! stored record after a `POST` or `PUT`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::envelope::{self, ApiError, ApiResult, JsonBody};
use super::state::{Kind, Rel, Sim, Store};
use super::validation::optional_str;

/// A validated body of one record, as the create and update functions take it.
pub type Body = Map<String, Value>;

/// Stores a record under `collection` and notes its `externalId` (if any) in `scope` (the klass
/// name for kobjects, else empty). Returns the new id.
pub fn insert_noting_external(
    store: &mut Store,
    kind: Kind,
    scope: &str,
    body: Body,
    rels: BTreeMap<String, Rel>,
    collection: &str,
) -> Result<String, ApiError> {
    let external = optional_str(&body, "externalId")?.map(str::to_string);
    let id = store.insert(kind, body, rels, collection, false);
    if let Some(ext) = external {
        store.note_external_id(kind, scope, &ext, &id);
    }
    Ok(id)
}

/// Merges an update into record `id` (see [`merge`]) and notes its `externalId` (if any) in
/// `scope`. Returns the id.
pub fn merge_noting_external(
    store: &mut Store,
    kind: Kind,
    scope: &str,
    id: &str,
    body: Body,
    rels: BTreeMap<String, Rel>,
) -> Result<String, ApiError> {
    let external = optional_str(&body, "externalId")?.map(str::to_string);
    merge(store, kind, id, body, rels);
    if let Some(ext) = external {
        store.note_external_id(kind, scope, &ext, id);
    }
    Ok(id.to_string())
}

/// Merges attributes (and relationships) into a stored record, bumping `rev` when present.
pub fn merge(store: &mut Store, kind: Kind, id: &str, body: Body, rels: BTreeMap<String, Rel>) {
    store.update(kind, id, |attributes, relationships| {
        for (k, v) in body {
            if k == "_clientRef" {
                continue;
            }
            attributes.insert(k, v);
        }
        relationships.extend(rels);
        if let Some(rev) = attributes.get("rev").and_then(Value::as_i64) {
            attributes.insert("rev".into(), json!(rev + 1));
        }
    });
}

/// A 404 `no {noun} with id {id}` unless record `id` of `kind` is stored.
pub fn require(store: &Store, kind: Kind, noun: &str, id: &str) -> Result<(), ApiError> {
    match store.get(kind, id) {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!("no {noun} with id {id}"))),
    }
}

/// `GET` of record `id` of `kind`, or of the one noted with `external` (the path's
/// `externalId=…`, scope empty) where given; a 404 `no {noun} found for {id}` when there is none.
pub fn by_id_or_external(
    store: &Store,
    kind: Kind,
    noun: &str,
    id: &str,
    external: Option<&str>,
) -> ApiResult {
    let found = match external {
        Some(ext) => store.find_external(kind, "", ext),
        None => store.get(kind, id),
    };
    found
        .map(envelope::ok)
        .ok_or_else(|| ApiError::not_found(format!("no {noun} found for {id}")))
}

/// The stored record `id` of `kind` answered with `status` (an empty 200 should it be gone).
fn answer(store: &Store, kind: Kind, id: &str, status: StatusCode) -> Response {
    store
        .get(kind, id)
        .map(|record| envelope::single(record, status))
        .unwrap_or_default()
}

/// The stored record answered as a `201` (after a create).
pub fn created(store: &Store, kind: Kind, id: &str) -> Response {
    answer(store, kind, id, StatusCode::CREATED)
}

/// The stored record as it now stands, answered as a `200` (after an update, or a read).
pub fn current(store: &Store, kind: Kind, id: &str) -> Response {
    answer(store, kind, id, StatusCode::OK)
}

/// `POST` of one record: `create` validates and stores the body, the record is answered `201`.
pub fn post_one(
    sim: &Sim,
    kind: Kind,
    body: JsonBody,
    create: impl FnOnce(&mut Store, Body) -> Result<String, ApiError>,
) -> ApiResult {
    let body = body.object()?;
    let mut store = sim.lock();
    let id = create(&mut store, body)?;
    Ok(created(&store, kind, &id))
}

/// `PUT`/`PATCH` of record `id`: `update` validates and merges the body, the record is
/// answered `200`.
pub fn put_one(
    sim: &Sim,
    kind: Kind,
    id: &str,
    body: JsonBody,
    update: impl FnOnce(&mut Store, &str, Body) -> Result<String, ApiError>,
) -> ApiResult {
    let body = body.object()?;
    let mut store = sim.lock();
    update(&mut store, id, body)?;
    Ok(current(&store, kind, id))
}
