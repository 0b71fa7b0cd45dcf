//! Bulk jobs: `POST|PUT /v1/{customers,companies,conversations,messages,notes}/bulk` and
//! `/v1/klasses/{name}/bulk`. A bare array of 1–100 items is accepted at once (201, `queued`);
//! the items take effect when the job runs after a random delay ≤ `bulk_delay_max`, through the
//! same validation as single writes, and per-item refusals land in the batch results.

use std::collections::HashSet;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};
use serde_json::{Map, Value, json};

use super::envelope::{ApiError, ApiResult, JsonBody};
use super::state::{BulkJob, ItemResult, JobStatus, Sim, Store, now_iso};
use super::{conversations, customers, klasses};

/// Most items in one bulk request.
pub const MAX_BULK_ITEMS: usize = 100;
/// Longest `_clientRef`.
pub const MAX_CLIENT_REF: usize = 255;

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/v1/customers/bulk", jobs_of(Target::Customers))
        .route("/v1/companies/bulk", jobs_of(Target::Companies))
        .route("/v1/conversations/bulk", jobs_of(Target::Conversations))
        .route("/v1/messages/bulk", jobs_of(Target::Messages))
        .route("/v1/notes/bulk", jobs_of(Target::Notes))
        .route("/v1/klasses/{name}/bulk", kobject_jobs())
        .route("/v1/bulk/{id}", get(get_job))
        .route("/v1/bulk/{id}/batches", get(get_batches))
}

/// What a job writes.
#[derive(Debug, Clone)]
enum Target {
    Customers,
    Companies,
    Conversations,
    Messages,
    Notes,
    Kobjects(String),
}

impl Target {
    /// The target a job's `resource` names.
    fn of(resource: &str) -> Option<Target> {
        Some(match resource {
            "customers" => Target::Customers,
            "companies" => Target::Companies,
            "conversations" => Target::Conversations,
            "messages" => Target::Messages,
            "notes" => Target::Notes,
            _ => Target::Kobjects(resource.strip_prefix("klasses/")?.to_string()),
        })
    }

    fn resource(&self) -> String {
        match self {
            Target::Customers => "customers".into(),
            Target::Companies => "companies".into(),
            Target::Conversations => "conversations".into(),
            Target::Messages => "messages".into(),
            Target::Notes => "notes".into(),
            Target::Kobjects(klass) => format!("klasses/{klass}"),
        }
    }

    fn create(&self, store: &mut Store, body: Map<String, Value>) -> Result<String, ApiError> {
        match self {
            Target::Customers => customers::create_customer(store, body),
            Target::Companies => customers::create_company(store, body),
            Target::Conversations => conversations::create_conversation(store, body),
            Target::Messages => conversations::create_message(store, body, None),
            Target::Notes => conversations::create_note(store, body, None),
            Target::Kobjects(klass) => klasses::create_kobject(store, klass, body),
        }
    }

    fn update(
        &self,
        store: &mut Store,
        id: &str,
        body: Map<String, Value>,
    ) -> Result<String, ApiError> {
        match self {
            Target::Customers => customers::update_customer(store, id, body),
            Target::Companies => customers::update_company(store, id, body),
            Target::Conversations => conversations::update_conversation(store, id, body),
            Target::Messages => conversations::update_message(store, id, body),
            Target::Notes => conversations::update_note(store, id, body),
            Target::Kobjects(klass) => klasses::update_kobject(store, klass, id, body),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Create,
    Update,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
        }
    }
}

/// Checks the envelope: a bare array of 1–100 objects; `_clientRef` on all items or none,
/// non-empty, ≤ 255 characters and unique; bulk PUT items each carry their own `id`.
fn check_items(body: Value, op: Operation) -> Result<Vec<Map<String, Value>>, ApiError> {
    let Value::Array(items) = body else {
        return Err(ApiError::bad_request("a bulk body is a bare JSON array of items").simple());
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("a bulk body needs at least one item").simple());
    }
    if items.len() > MAX_BULK_ITEMS {
        return Err(ApiError::bad_request(format!(
            "a bulk body holds at most {MAX_BULK_ITEMS} items, got {}",
            items.len()
        ))
        .simple());
    }
    let mut objects = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::Object(map) => objects.push(map),
            _ => {
                return Err(
                    ApiError::bad_request(format!("bulk item {i} is not an object")).simple(),
                );
            }
        }
    }
    let with_ref = objects
        .iter()
        .filter(|o| o.contains_key("_clientRef"))
        .count();
    if with_ref != 0 && with_ref != objects.len() {
        return Err(
            ApiError::bad_request("_clientRef must be set on every item or on none").simple(),
        );
    }
    let mut seen = HashSet::new();
    for (i, o) in objects.iter().enumerate() {
        if let Some(r) = o.get("_clientRef") {
            let r = r
                .as_str()
                .filter(|s| !s.is_empty() && s.chars().count() <= MAX_CLIENT_REF)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("item {i}: _clientRef must be a non-empty string of at most {MAX_CLIENT_REF} characters")).simple()
                })?;
            if !seen.insert(r.to_string()) {
                return Err(
                    ApiError::bad_request(format!("_clientRef `{r}` appears twice")).simple(),
                );
            }
        }
        if op == Operation::Update
            && o.get("id")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            return Err(
                ApiError::bad_request(format!("bulk update item {i} needs its own `id`")).simple(),
            );
        }
    }
    Ok(objects)
}

fn submit(sim: &Sim, target: Target, op: Operation, body: Value) -> ApiResult {
    let items = check_items(body, op)?;
    let mut store = sim.lock();
    if let Target::Kobjects(klass) = &target {
        klasses::require_klass(&store, klass)?;
    }
    let (id, delay, answer) = queue_job(sim, &mut store, target.resource(), op.name(), items);
    drop(store);
    schedule(sim, id, delay);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Queues a job on `resource` whose `items` take effect later: its id, the random delay after
/// which it completes (≤ `bulk_delay_max`), and the submit answer.
pub(super) fn queue_job(
    sim: &Sim,
    store: &mut Store,
    resource: String,
    operation: &str,
    items: Vec<Map<String, Value>>,
) -> (String, Duration, Value) {
    let id = store.new_id();
    let max_ms = sim.config().bulk_delay_max.as_millis() as u64;
    let delay = Duration::from_millis(store.rng.range(0, max_ms + 1));
    let job = BulkJob {
        id: id.clone(),
        resource,
        operation: operation.to_string(),
        item_count: items.len(),
        status: JobStatus::Queued,
        created_at: now_iso(),
        completed_at: None,
        results: Vec::new(),
        pending: items,
    };
    let answer = job_body(&job);
    store.bulk_jobs.insert(id.clone(), job);
    (id, delay, answer)
}

/// Runs job `id` after `delay`: `running` from half of it, its items taking effect at the end.
pub(super) fn schedule(sim: &Sim, id: String, delay: Duration) {
    let runner = sim.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay / 2).await;
        if let Some(job) = runner.lock().bulk_jobs.get_mut(&id) {
            job.status = JobStatus::Running;
        }
        tokio::time::sleep(delay - delay / 2).await;
        run_job(&runner, &id);
    });
}

/// Runs again every job a loaded org holds unfinished (the simulator stopped before it ran),
/// as Kustomer would have gone on running it while nobody was connected.
pub fn resume_jobs(sim: &Sim) {
    let unfinished: Vec<String> = sim
        .lock()
        .bulk_jobs
        .values()
        .filter(|job| job.status != JobStatus::Complete)
        .map(|job| job.id.clone())
        .collect();
    for id in unfinished {
        schedule(sim, id, Duration::ZERO);
    }
}

/// Takes effect of job `id`'s pending items and completes it with their results.
fn run_job(sim: &Sim, id: &str) {
    let mut store = sim.lock();
    let Some(job) = store.bulk_jobs.get_mut(id) else {
        return;
    };
    if job.status == JobStatus::Complete {
        return;
    }
    let items = std::mem::take(&mut job.pending);
    let (resource, operation) = (job.resource.clone(), job.operation.clone());
    let results = match (operation.as_str(), Target::of(&resource)) {
        ("delete", _) => super::delete::run_delete(&mut store, &resource, items),
        (name, Some(target)) => {
            let op = if name == "update" {
                Operation::Update
            } else {
                Operation::Create
            };
            run_items(&mut store, &target, op, items)
        }
        (_, None) => Vec::new(),
    };
    if let Some(job) = store.bulk_jobs.get_mut(id) {
        job.results = results;
        job.status = JobStatus::Complete;
        job.completed_at = Some(now_iso());
    }
}

fn run_items(
    store: &mut Store,
    target: &Target,
    op: Operation,
    items: Vec<Map<String, Value>>,
) -> Vec<ItemResult> {
    let mut results = Vec::with_capacity(items.len());
    for mut item in items {
        let client_ref = item
            .remove("_clientRef")
            .and_then(|v| v.as_str().map(str::to_string));
        let outcome = match op {
            Operation::Create => target.create(store, item),
            Operation::Update => {
                let object = item
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                target.update(store, &object, item)
            }
        };
        results.push(match outcome {
            Ok(object_id) => ItemResult {
                client_ref,
                object_id: Some(object_id),
                status: match op {
                    Operation::Create => "created",
                    Operation::Update => "updated",
                }
                .to_string(),
                error: None,
            },
            Err(e) => ItemResult {
                client_ref,
                object_id: None,
                status: "error".to_string(),
                error: Some(if e.status == StatusCode::CONFLICT {
                    "duplicate detected".to_string()
                } else {
                    e.detail
                }),
            },
        });
    }
    results
}

fn job_body(job: &BulkJob) -> Value {
    let complete = usize::from(job.status == JobStatus::Complete);
    json!({
        "data": {
            "type": "bulk",
            "id": job.id,
            "attributes": {
                "status": job.status.as_str(),
                "resource": job.resource,
                "operation": job.operation,
                "count": job.item_count,
                "batches": { "complete": complete, "total": 1 },
                "createdAt": job.created_at,
                "completedAt": job.completed_at,
            },
            "links": { "self": format!("/v1/bulk/{}", job.id) },
        }
    })
}

fn job_of<'a>(store: &'a Store, id: &str) -> Result<&'a BulkJob, ApiError> {
    store
        .bulk_jobs
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("no bulk operation with id {id}")))
}

async fn get_job(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    let store = sim.lock();
    let job = job_of(&store, &id)?;
    Ok(Json(job_body(job)).into_response())
}

/// One batch per job (a job holds at most 100 items).
async fn get_batches(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    let store = sim.lock();
    let job = job_of(&store, &id)?;
    let results: Vec<Value> = job
        .results
        .iter()
        .map(|r| {
            json!({
                "_clientRef": r.client_ref,
                "objectId": r.object_id,
                "status": r.status,
                "error": r.error,
            })
        })
        .collect();
    let errors: Vec<Value> = job
        .results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.error
                .as_ref()
                .map(|e| json!({"index": i, "_clientRef": r.client_ref, "message": e}))
        })
        .collect();
    let batch_status = match job.status {
        JobStatus::Complete => "complete",
        JobStatus::Running => "scheduled",
        JobStatus::Queued => "queued",
    };
    let object_ids: Vec<&String> = job
        .results
        .iter()
        .filter_map(|r| r.object_id.as_ref())
        .collect();
    let success = job.results.iter().filter(|r| r.error.is_none()).count();
    let batch = json!({
        "type": "bulk_batch",
        "id": format!("{}-1", job.id),
        "attributes": {
            "status": batch_status,
            "objectIds": object_ids,
            "successCount": success,
            "failureCount": job.results.len() - success,
            "completedAt": job.completed_at,
            "errors": errors,
            "results": results,
        }
    });
    // Kustomer's bulk guide draws this answer as a bare array; `--batches-as-array` serves it so.
    if sim.config().batches_as_array {
        return Ok(Json(Value::Array(vec![batch])).into_response());
    }
    Ok(Json(json!({
        "data": [batch],
        "meta": { "page": 1, "pageSize": 1, "total": 1 },
        "links": { "self": format!("/v1/bulk/{id}/batches"), "first": format!("/v1/bulk/{id}/batches"), "prev": null, "next": null },
    }))
    .into_response())
}

/// `POST` (create) and `PUT` (update) of a bulk job writing `target`.
fn jobs_of(target: Target) -> MethodRouter<Sim> {
    let job = |op: Operation, target: Target| {
        move |State(sim): State<Sim>, JsonBody(body): JsonBody| {
            std::future::ready(submit(&sim, target.clone(), op, body))
        }
    };
    post(job(Operation::Create, target.clone())).put(job(Operation::Update, target))
}

/// `POST` and `PUT` of a bulk job writing kobjects of the klass the path names.
fn kobject_jobs() -> MethodRouter<Sim> {
    let job = |op: Operation| {
        move |State(sim): State<Sim>, Path(name): Path<String>, JsonBody(body): JsonBody| {
            std::future::ready(submit(&sim, Target::Kobjects(name), op, body))
        }
    };
    post(job(Operation::Create)).put(job(Operation::Update))
}
