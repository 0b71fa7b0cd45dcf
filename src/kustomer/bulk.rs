//! Kustomer bulk operations: up to 100 records in one request (one unit of the rate budget),
//! processed asynchronously as a job; i2k polls the job, then reads its batches and matches each
//! item's result by the `_clientRef` it sent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::kustomer::assumptions;
use crate::kustomer::endpoints;
use crate::kustomer::models::Resource;

/// Kustomer's documented maximum per bulk request.
pub const MAX_BULK_ITEMS: usize = 100;
/// Kustomer's documented maximum length of a `_clientRef`.
pub const MAX_CLIENT_REF_LEN: usize = 255;
/// The default byte budget of one bulk request body: Kustomer documents none, and 1 MB stays well
/// under what a JSON API is likely to enforce (the simulator refuses bodies over 2 MB).
pub const DEFAULT_MAX_BULK_BYTES: usize = 1_000_000;
/// What an item adds to the request beside its own body: `,"_clientRef":"…"` at its longest and
/// the comma between items.
pub const ITEM_OVERHEAD_BYTES: usize = MAX_CLIENT_REF_LEN + 20;
/// The array's brackets.
const REQUEST_OVERHEAD_BYTES: usize = 2;

/// The most an item's own body may take for a request of `max_bytes` to hold it alone.
pub fn item_budget(max_bytes: usize) -> usize {
    max_bytes.saturating_sub(REQUEST_OVERHEAD_BYTES + ITEM_OVERHEAD_BYTES)
}

/// `items` (id, body, body size in bytes) in order, cut into requests of at most
/// [`MAX_BULK_ITEMS`] items and `max_bytes` bytes. An item over the budget on its own still gets a
/// request of its own (the caller fits it first; the server refuses what cannot be fitted).
pub fn split_by_budget<T>(items: Vec<(T, usize)>, max_bytes: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut current: Vec<T> = Vec::new();
    let mut bytes = REQUEST_OVERHEAD_BYTES;
    for (item, size) in items {
        let cost = size.saturating_add(ITEM_OVERHEAD_BYTES);
        if !current.is_empty()
            && (current.len() >= MAX_BULK_ITEMS || bytes.saturating_add(cost) > max_bytes)
        {
            out.push(std::mem::take(&mut current));
            bytes = REQUEST_OVERHEAD_BYTES;
        }
        bytes = bytes.saturating_add(cost);
        current.push(item);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The resources with bulk create/update routes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BulkResource {
    Customers,
    Companies,
    Conversations,
    Messages,
    Notes,
    /// KObjects of one klass, by klass name.
    KObjects(String),
}

impl BulkResource {
    pub fn path(&self) -> String {
        match self {
            BulkResource::Customers => format!("{}/bulk", endpoints::CUSTOMERS),
            BulkResource::Companies => format!("{}/bulk", endpoints::COMPANIES),
            BulkResource::Conversations => format!("{}/bulk", endpoints::CONVERSATIONS),
            BulkResource::Messages => endpoints::MESSAGES_BULK.to_string(),
            BulkResource::Notes => endpoints::NOTES_BULK.to_string(),
            BulkResource::KObjects(klass) => endpoints::kobjects_bulk(klass),
        }
    }
}

/// A submitted job.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkJob {
    pub id: String,
    pub resource: BulkResource,
    /// The `_clientRef` of every item, in the order sent.
    pub client_refs: Vec<String>,
    pub submitted_at: Instant,
}

impl BulkJob {
    /// One result per submitted item, in submission order; an item the batches do not mention
    /// comes back as [`BulkOutcome::NoResult`] (look it up by externalId before resending).
    pub fn match_results(&self, results: Vec<BulkItemResult>) -> Vec<BulkItemResult> {
        let mut by_ref: HashMap<String, BulkItemResult> = results
            .into_iter()
            .map(|r| (r.client_ref.clone(), r))
            .collect();
        self.client_refs
            .iter()
            .map(|client_ref| {
                by_ref.remove(client_ref).unwrap_or_else(|| BulkItemResult {
                    client_ref: client_ref.clone(),
                    outcome: BulkOutcome::NoResult,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItemResult {
    pub client_ref: String,
    pub outcome: BulkOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkOutcome {
    Created {
        id: String,
    },
    Updated {
        id: String,
    },
    /// Refused. `duplicate` = the externalId exists already: resolve by lookup, do not resend.
    Error {
        message: String,
        duplicate: bool,
    },
    /// The completed job reported nothing for this item.
    NoResult,
}

/// A job's state as `GET /v1/bulk/{id}` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// `queued`, `running` or `complete`.
    pub status: String,
    pub batches_complete: Option<u64>,
    pub batches_total: Option<u64>,
}

impl JobStatus {
    pub fn from_body(body: &Value) -> Option<JobStatus> {
        let data = body.get("data")?;
        // The submit answer has `status` directly in `data`; the status route in `attributes`.
        let field = |key: &str| {
            data.get("attributes")
                .and_then(|a| a.get(key))
                .filter(|v| !v.is_null())
                .or_else(|| data.get(key))
        };
        let status = field("status")?.as_str()?.to_string();
        let batches = field("batches");
        let count = |key: &str| batches.and_then(|b| b.get(key)).and_then(Value::as_u64);
        Some(JobStatus {
            status,
            batches_complete: count("complete"),
            batches_total: count("total"),
        })
    }

    pub fn is_complete(&self) -> bool {
        self.status.eq_ignore_ascii_case("complete")
            || self.status.eq_ignore_ascii_case("completed")
    }
}

fn batches_of(body: &Value) -> Vec<&Value> {
    match body.get("data") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    }
}

/// Whether a page of `GET /v1/bulk/{id}/batches` lists any batch.
pub fn batches_listed(body: &Value) -> bool {
    !batches_of(body).is_empty()
}

/// Whether every batch on a page of `GET /v1/bulk/{id}/batches` is `complete` (a batch without
/// a status counts as not complete: its results may still grow).
pub fn batches_complete(body: &Value) -> bool {
    batches_of(body).iter().all(|batch| {
        batch
            .get("attributes")
            .and_then(|a| a.get("status"))
            .or_else(|| batch.get("status"))
            .and_then(Value::as_str)
            .is_some_and(|s| {
                s.eq_ignore_ascii_case("complete") || s.eq_ignore_ascii_case("completed")
            })
    })
}

/// Reads the per-item results of `GET /v1/bulk/{id}/batches`.
pub fn results_from_batches(body: &Value) -> Vec<BulkItemResult> {
    let batches = batches_of(body);
    let mut out = Vec::new();
    for batch in batches {
        let results = batch
            .get("attributes")
            .and_then(|a| a.get("results"))
            .or_else(|| batch.get("results"))
            .and_then(Value::as_array);
        for item in results.into_iter().flatten() {
            if let Some(result) = item_result(item) {
                out.push(result);
            }
        }
    }
    out
}

fn item_result(item: &Value) -> Option<BulkItemResult> {
    let client_ref = item.get("_clientRef")?.as_str()?.to_string();
    let id = item
        .get("objectId")
        .or_else(|| item.get("id"))
        .and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    let status = item.get("status").and_then(Value::as_str).unwrap_or("");
    let outcome = match (status, id) {
        ("created", Some(id)) => BulkOutcome::Created { id },
        ("updated", Some(id)) => BulkOutcome::Updated { id },
        _ => {
            let message = error_text(item.get("error"))
                .unwrap_or_else(|| format!("bulk item status {status:?} without an object id"));
            BulkOutcome::Error {
                duplicate: assumptions::is_duplicate_error(&message),
                message,
            }
        }
    };
    Some(BulkItemResult {
        client_ref,
        outcome,
    })
}

fn error_text(error: Option<&Value>) -> Option<String> {
    match error? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Object(o) => ["message", "detail", "title", "code"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .map(str::to_string)
            .or_else(|| Some(Value::Object(o.clone()).to_string())),
        other => Some(other.to_string()),
    }
}

/// The job id of a submit answer (`201 {data: {type: "bulk", id, status}}`).
pub fn job_id_from_body(body: &Value) -> Option<String> {
    Resource::from_body(body).map(|r| r.id)
}

/// How `wait_job` polls: exponential backoff from `initial` to `max`, giving up after `timeout`.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(5),
            timeout: Duration::from_secs(15 * 60),
        }
    }
}

impl PollPolicy {
    pub fn next_delay(&self, current: Duration) -> Duration {
        (current * 2).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batch_results_become_outcomes_matched_by_client_ref() {
        let body = json!({"data": [
            {"type": "batch", "id": "b1", "attributes": {"status": "complete", "results": [
                {"_clientRef": "r1", "objectId": "c1", "status": "created"},
                {"_clientRef": "r2", "status": "error", "error": "duplicate detected"}
            ]}},
            {"type": "batch", "id": "b2", "attributes": {"results": [
                {"_clientRef": "r3", "objectId": "c3", "status": "updated"},
                {"_clientRef": "r4", "status": "error", "error": {"message": "name is required"}},
                {"objectId": "orphan", "status": "created"}
            ]}}
        ]});
        let job = BulkJob {
            id: "j".into(),
            resource: BulkResource::Customers,
            client_refs: ["r1", "r2", "r3", "r4", "r5"].map(String::from).to_vec(),
            submitted_at: Instant::now(),
        };
        let outcomes: Vec<BulkOutcome> = job
            .match_results(results_from_batches(&body))
            .into_iter()
            .map(|r| r.outcome)
            .collect();
        assert_eq!(
            outcomes,
            vec![
                BulkOutcome::Created { id: "c1".into() },
                BulkOutcome::Error {
                    message: "duplicate detected".into(),
                    duplicate: true
                },
                BulkOutcome::Updated { id: "c3".into() },
                BulkOutcome::Error {
                    message: "name is required".into(),
                    duplicate: false
                },
                BulkOutcome::NoResult,
            ]
        );
    }

    #[test]
    fn a_job_is_done_when_every_listed_batch_is_complete() {
        let page = |statuses: &[&str]| {
            let data: Vec<Value> = statuses
                .iter()
                .map(|s| json!({"type": "bulk_batch", "attributes": {"status": s, "results": []}}))
                .collect();
            json!({ "data": data })
        };
        assert!(batches_complete(&page(&["complete", "Complete"])));
        assert!(!batches_complete(&page(&["complete", "scheduled"])));
        assert!(!batches_complete(&page(&["queued"])));
        // No status at all: the results may still grow.
        assert!(!batches_complete(
            &json!({"data": [{"attributes": {"results": []}}]})
        ));
        // An empty listing is "complete" page-wise but lists nothing: the caller needs both.
        assert!(batches_complete(&page(&[])) && !batches_listed(&page(&[])));
        assert!(batches_listed(&page(&["queued"])));
    }

    #[test]
    fn job_status_is_read_from_data_or_attributes() {
        let submitted = json!({"data": {"type": "bulk", "id": "j1", "status": "queued"}});
        assert_eq!(JobStatus::from_body(&submitted).unwrap().status, "queued");
        assert_eq!(job_id_from_body(&submitted).as_deref(), Some("j1"));
        let polled = json!({"data": {"id": "j1", "attributes": {"status": "complete",
                            "batches": {"complete": 2, "total": 2}}}});
        let s = JobStatus::from_body(&polled).unwrap();
        assert!(s.is_complete());
        assert_eq!((s.batches_complete, s.batches_total), (Some(2), Some(2)));
    }

    #[test]
    fn requests_are_cut_by_item_count_and_by_bytes() {
        let small: Vec<(usize, usize)> = (0..250).map(|i| (i, 10)).collect();
        let sizes: Vec<usize> = split_by_budget(small, DEFAULT_MAX_BULK_BYTES)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        // 4 items of 400 KB: two fit in 1 MB, never three.
        let big: Vec<(usize, usize)> = (0..4).map(|i| (i, 400_000)).collect();
        let batches = split_by_budget(big, DEFAULT_MAX_BULK_BYTES);
        assert_eq!(batches, vec![vec![0, 1], vec![2, 3]]);
        // One item over the budget travels alone, in order.
        let mixed = vec![(0, 10), (1, 2_000_000), (2, 10)];
        assert_eq!(
            split_by_budget(mixed, DEFAULT_MAX_BULK_BYTES),
            vec![vec![0], vec![1], vec![2]]
        );
    }

    #[test]
    fn polling_backs_off_up_to_the_maximum() {
        let p = PollPolicy::default();
        assert_eq!(
            p.next_delay(Duration::from_millis(250)),
            Duration::from_millis(500)
        );
        assert_eq!(p.next_delay(Duration::from_secs(4)), Duration::from_secs(5));
        assert_eq!(
            BulkResource::KObjects("ticket".into()).path(),
            "/v1/klasses/ticket/bulk"
        );
    }
}
