//! The simulator's own routes under `/__sim/` (no auth, no limits, no latency, no faults, not
//! counted): the ground truth of what the org received, a dump of stored records, and revoking
//! and restoring the API key (a key that expires or is revoked in the middle of a run).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::envelope::{ApiError, ApiResult};
use super::state::{Kind, Sim, Store};

/// The type names of `counts`, in the order the issue lists them.
pub const TRUTH_TYPES: [&str; 20] = [
    "users",
    "teams",
    "brands",
    "schedules",
    "klasses",
    "kobjects",
    "metadata_properties",
    "companies",
    "customers",
    "conversations",
    "messages",
    "notes",
    "attachments",
    "tags",
    "tracking_events",
    "saved_searches",
    "kb_categories",
    "kb_articles",
    "kb_versions",
    "shortcuts",
];

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/__sim/truth", get(truth))
        .route("/__sim/records/{type}", get(records))
        .route(
            "/__sim/fail",
            axum::routing::post(add_failing).delete(clear_failing),
        )
        .route("/__sim/token/revoke", post(revoke_token))
        .route("/__sim/token/restore", post(restore_token))
}

/// `POST /__sim/token/revoke`: every API request is refused with 401 until restored.
async fn revoke_token(State(sim): State<Sim>) -> Json<Value> {
    sim.0
        .token_revoked
        .store(true, std::sync::atomic::Ordering::SeqCst);
    Json(json!({"revoked": true}))
}

/// `POST /__sim/token/restore`: the API key is accepted again.
async fn restore_token(State(sim): State<Sim>) -> Json<Value> {
    sim.0
        .token_revoked
        .store(false, std::sync::atomic::Ordering::SeqCst);
    Json(json!({"revoked": false}))
}

/// How many records of `name` i2k created (`seeded == false`) and the fresh org started with.
fn count(store: &Store, name: &str) -> (u64, u64) {
    match name {
        "metadata_properties" => (store.metadata_properties_created, 0),
        "tracking_events" => (store.tracking_events, 0),
        "attachments" => {
            let uploaded = store
                .all(Kind::Attachment)
                .iter()
                .filter(|a| !a.seeded && a.attributes.get("uploaded") == Some(json!(true)))
                .count();
            (uploaded as u64, 0)
        }
        _ => match Kind::from_truth_name(name) {
            Some(kind) => {
                // A softly deleted record (a schedule) is no longer the org's.
                let live: Vec<_> = store
                    .all(kind)
                    .iter()
                    .filter(|r| r.attributes.get("deleted") != Some(json!(true)))
                    .collect();
                let seeded = live.iter().filter(|r| r.seeded).count() as u64;
                (live.len() as u64 - seeded, seeded)
            }
            None => (0, 0),
        },
    }
}

/// `GET /__sim/truth`: `counts` (what i2k created), `seeded` (what the fresh org started with),
/// `duplicates` (externalIds stored more than once, by type), `refused_fields` (bodies refused
/// for a field the published request type does not allow), `requests` per route (every request
/// to a `/v1/` route, refused ones included; `throttled` counts its 429s, org-wide, per-customer,
/// search or injected)
/// (`{count, throttled}`), `invitations` (users invited by `POST /v1/users`), and
/// `attachments_created` (attachment records, uploaded or not).
async fn truth(State(sim): State<Sim>) -> ApiResult {
    let store = sim.lock();
    let mut counts = Map::new();
    let mut seeded = Map::new();
    for name in TRUTH_TYPES {
        let (created, initial) = count(&store, name);
        counts.insert(name.to_string(), json!(created));
        seeded.insert(name.to_string(), json!(initial));
    }
    let duplicates = &store.duplicates;
    let attachments_created = store
        .all(Kind::Attachment)
        .iter()
        .filter(|a| !a.seeded)
        .count();
    Ok(Json(json!({
        "counts": counts,
        "seeded": seeded,
        "duplicates": duplicates,
        "refused_fields": store.refused_fields,
        "requests": store.requests,
        "invitations": store.invitations,
        "attachments_created": attachments_created,
        "tracking_identities": store.tracking_identities,
    }))
    .into_response())
}

/// `GET /__sim/records/{type}` (type as in `counts`, plus `holidays`, `search_folders`,
/// `shortcut_categories`): every stored record as `{id, seeded, attributes, relationships}`, for
/// field-by-field checks. `metadata_properties` dumps the metadata of every resource instead.
async fn records(State(sim): State<Sim>, Path(name): Path<String>) -> ApiResult {
    let store = sim.lock();
    if name == "metadata_properties" {
        return Ok(Json(json!({ "data": store.metadata })).into_response());
    }
    let kind = Kind::from_truth_name(&name)
        .ok_or_else(|| ApiError::not_found(format!("no record type `{name}`")))?;
    let data: Vec<Value> = store
        .all(kind)
        .iter()
        .map(|r| {
            let rels: Map<String, Value> = r
                .relationships
                .iter()
                .map(|(k, rel)| (k.to_string(), json!(rel.id)))
                .collect();
            json!({"id": r.id, "seeded": r.seeded, "attributes": r.attributes, "relationships": rels})
        })
        .collect();
    Ok(Json(json!({ "data": data })).into_response())
}

async fn add_failing(
    State(sim): State<Sim>,
    axum::Json(rule): axum::Json<crate::sim::failing::Rule>,
) -> axum::http::StatusCode {
    sim.0.failing.add(rule);
    axum::http::StatusCode::NO_CONTENT
}

async fn clear_failing(State(sim): State<Sim>) -> axum::http::StatusCode {
    sim.0.failing.clear();
    axum::http::StatusCode::NO_CONTENT
}
