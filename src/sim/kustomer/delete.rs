//! The delete routes Kustomer publishes (its generated client's `DeleteCustomer`,
//! `BulkDeleteCustomers`, `DeleteConversation`, `DeleteKObject`, `BulkDeleteKObjects`,
//! `DeleteKlass`, `DeleteNoteById`, `DeleteScheduleById`), and only those: companies, messages,
//! tags, brands, teams, KB and metadata have none, so their records cannot be deleted here either.
//!
//! Choices where the reference is silent (each a named assumption):
//! - **Cascade**: a conversation's messages and notes go with it (its timeline is the
//!   conversation's); a customer's conversations go with the customer, and theirs with them (the
//!   Help Center describes deleting a customer as deleting their history). KObjects linked to a
//!   customer are not cascaded.
//! - **externalId**: a deleted record's externalId is free to be used again ([`Store::remove`]).
//! - **Answers**: single deletes answer 204 with no body, 404 for an unknown id. Bulk deletes take
//!   `?ids=` (comma list, 1–100, as the bulk guide says of bulk deletes) and answer a bulk job
//!   like the bulk creates (201, `queued`), completed after a random delay ≤ `bulk_delay_max`;
//!   its batch results carry `{objectId, status: "deleted"}` per id, or `status: "error"` with
//!   the reason (the published type does not show a delete's result shape).
//! - **Klasses**: a klass with kobjects is refused (400), as `DeleteKlass` documents; its
//!   attribute metadata (`kobject.<name>`) goes with it, and leaves the ground truth's count.
//! - **Schedules** are deleted softly (`deleted: true`, `deletedAt`), as the developer docs say:
//!   the record stays readable and the ground truth no longer counts it.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::delete;
use serde_json::{Value, json};

use super::bulk::{MAX_BULK_ITEMS, queue_job};
use super::envelope::{ApiError, ApiResult};
use super::klasses::kobject_in;
use super::state::{ItemResult, Kind, Sim, Store, now_iso};

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/v1/customers/{id}", delete(delete_customer))
        .route("/v1/customers/bulk", delete(bulk_delete_customers))
        .route("/v1/conversations/{id}", delete(delete_conversation))
        // `DeleteKlass` is `/v1/klasses/{id}`: the same path shape as a klass's kobject list.
        .route("/v1/klasses/{name}", delete(delete_klass))
        .route("/v1/klasses/{name}/{id}", delete(delete_kobject))
        .route("/v1/klasses/{name}/bulk", delete(bulk_delete_kobjects))
        .route("/v1/notes/{id}", delete(delete_note))
        .route("/v1/schedules/{id}", delete(delete_schedule))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn gone(what: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("no {what} with id {id}"))
}

/// Removes conversations and, with them, their messages and notes.
fn remove_conversations(store: &mut Store, ids: &[String]) -> usize {
    let mut messages = Vec::new();
    let mut notes = Vec::new();
    for id in ids {
        messages.extend(
            store
                .children(Kind::Message, "conversation", id)
                .iter()
                .map(|r| r.id.clone()),
        );
        notes.extend(
            store
                .children(Kind::Note, "conversation", id)
                .iter()
                .map(|r| r.id.clone()),
        );
    }
    store.remove(Kind::Message, &messages);
    store.remove(Kind::Note, &notes);
    store.remove(Kind::Conversation, ids)
}

/// Removes customers and, with them, their conversations.
fn remove_customers(store: &mut Store, ids: &[String]) -> usize {
    let conversations: Vec<String> = ids
        .iter()
        .flat_map(|id| store.children(Kind::Conversation, "customer", id))
        .map(|r| r.id.clone())
        .collect();
    remove_conversations(store, &conversations);
    store.remove(Kind::Customer, ids)
}

async fn delete_customer(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    let mut store = sim.lock();
    match remove_customers(&mut store, std::slice::from_ref(&id)) {
        0 => Err(gone("customer", &id)),
        _ => Ok(no_content()),
    }
}

async fn delete_conversation(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    let mut store = sim.lock();
    match remove_conversations(&mut store, std::slice::from_ref(&id)) {
        0 => Err(gone("conversation", &id)),
        _ => Ok(no_content()),
    }
}

async fn delete_note(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    match sim.lock().remove(Kind::Note, std::slice::from_ref(&id)) {
        0 => Err(gone("note", &id)),
        _ => Ok(no_content()),
    }
}

async fn delete_kobject(
    State(sim): State<Sim>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult {
    let mut store = sim.lock();
    if !kobject_in(&store, &name, &id) {
        return Err(ApiError::not_found(format!("no {name} found for {id}")));
    }
    store.remove(Kind::Kobject, std::slice::from_ref(&id));
    Ok(no_content())
}

async fn delete_klass(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    let mut store = sim.lock();
    let name = store
        .get(Kind::Klass, &id)
        .and_then(|k| k.attributes.str("name"))
        .ok_or_else(|| gone("klass", &id))?;
    if !store.children(Kind::Kobject, "klass", &name).is_empty() {
        return Err(ApiError::bad_request(format!(
            "klass {name} still has kobjects; delete them first"
        )));
    }
    store.remove(Kind::Klass, std::slice::from_ref(&id));
    // The klass's attribute metadata goes with it: the properties i2k declared on it (those a
    // metadata PUT stamped) no longer exist.
    let declared = store
        .metadata
        .remove(&format!("kobject.{name}"))
        .and_then(|m| m.get("properties").and_then(Value::as_object).cloned())
        .map_or(0, |p| {
            p.values().filter(|p| p.get("modifiedBy").is_some()).count()
        });
    store.metadata_properties_created = store
        .metadata_properties_created
        .saturating_sub(declared as u64);
    Ok(no_content())
}

async fn delete_schedule(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    let now = now_iso();
    sim.lock()
        .update(Kind::Schedule, &id, |attributes, _| {
            attributes.insert("deleted".into(), json!(true));
            attributes.insert("deletedAt".into(), json!(now));
        })
        .ok_or_else(|| gone("schedule", &id))?;
    Ok(no_content())
}

/// The `ids` query parameter of a bulk delete: 1–100 comma-separated ids.
fn bulk_ids(q: &HashMap<String, String>) -> Result<Vec<String>, ApiError> {
    let ids: Vec<String> = q
        .get("ids")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > MAX_BULK_ITEMS {
        return Err(ApiError::bad_request(format!(
            "a bulk delete takes 1 to {MAX_BULK_ITEMS} ids in `ids`, got {}",
            ids.len()
        ))
        .simple());
    }
    Ok(ids)
}

/// What a bulk delete removes.
#[derive(Clone)]
enum Doomed {
    Customers,
    Kobjects(String),
}

async fn bulk_delete_customers(State(sim): State<Sim>, Query(q): Q) -> ApiResult {
    submit(&sim, Doomed::Customers, bulk_ids(&q)?)
}

async fn bulk_delete_kobjects(
    State(sim): State<Sim>,
    Path(name): Path<String>,
    Query(q): Q,
) -> ApiResult {
    let ids = bulk_ids(&q)?;
    super::klasses::require_klass(&sim.lock(), &name)?;
    submit(&sim, Doomed::Kobjects(name), ids)
}

fn submit(sim: &Sim, doomed: Doomed, ids: Vec<String>) -> ApiResult {
    let mut store = sim.lock();
    let items = ids
        .into_iter()
        .map(|id| {
            let mut item = serde_json::Map::new();
            item.insert("id".into(), Value::String(id));
            item
        })
        .collect();
    let (id, delay, answer) = queue_job(sim, &mut store, doomed.resource(), "delete", items);
    drop(store);
    super::bulk::schedule(sim, id, delay);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

impl Doomed {
    fn resource(&self) -> String {
        match self {
            Doomed::Customers => "customers".to_string(),
            Doomed::Kobjects(klass) => format!("klasses/{klass}"),
        }
    }

    fn of(resource: &str) -> Option<Doomed> {
        if resource == "customers" {
            return Some(Doomed::Customers);
        }
        let klass = resource.strip_prefix("klasses/")?;
        Some(Doomed::Kobjects(klass.to_string()))
    }
}

/// Deletes what a bulk delete job on `resource` names (items `{"id"}`): one result per id.
pub(super) fn run_delete(
    store: &mut Store,
    resource: &str,
    items: Vec<serde_json::Map<String, Value>>,
) -> Vec<ItemResult> {
    let Some(doomed) = Doomed::of(resource) else {
        return Vec::new();
    };
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let found = match &doomed {
            Doomed::Customers => store.get(Kind::Customer, &id).is_some(),
            Doomed::Kobjects(klass) => kobject_in(store, klass, &id),
        };
        if found {
            match &doomed {
                Doomed::Customers => remove_customers(store, std::slice::from_ref(&id)),
                Doomed::Kobjects(_) => store.remove(Kind::Kobject, std::slice::from_ref(&id)),
            };
        }
        results.push(ItemResult {
            client_ref: None,
            object_id: Some(id),
            status: if found { "deleted" } else { "error" }.to_string(),
            error: (!found).then(|| "not found".to_string()),
        });
    }
    results
}
