//! Kustomer bulk operations: up to 100 records in one request (one unit of the rate budget),
//! processed asynchronously as a job; i2k polls the job, then reads its batches and matches each
//! item's result by the `_clientRef` it sent. The whole job lifecycle is here: submitting, waiting
//! (first poll timed by the latencies learnt so far), reading the batches, and recording how long
//! jobs take.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::http::Request;
use crate::kustomer::assumptions;
use crate::kustomer::client::{KustomerClient, KustomerError, MAX_PAGES, Result};
use crate::kustomer::endpoints;
use crate::kustomer::models::{Page, Resource};

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

/// The batches of an answer of `GET /v1/bulk/{id}/batches`: Kustomer's bulk guide draws it as a
/// bare JSON array of batches; a JSON:API `data` envelope (an array, or one batch) is read too.
pub(super) fn batches_of(body: &Value) -> Vec<&Value> {
    if let Value::Array(items) = body {
        return items.iter().collect();
    }
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

/// Submit→complete times of the bulk jobs this client submitted.
#[derive(Debug, Default)]
pub(super) struct JobClock {
    submitted: HashMap<String, Submitted>,
    /// Per job, from before its submission queued for the budget to the answer of the poll that
    /// saw it complete: the widest view, for waits that must never be too short. The latest
    /// [`KEPT_LATENCIES`] only, so a migration's tens of thousands of jobs cost no memory.
    /// With each, the server's part (see [`KustomerClient::job_server_latency`]).
    latency: VecDeque<(String, Duration, Duration)>,
    max: Duration,
    /// The latest server-side latencies (submission answered → the completing poll admitted by
    /// the gate), oldest first, for when to poll the next job. Time spent queueing for the budget
    /// is left out: counted in, a busy gate would push each first poll later, every late poll
    /// would be measured as a slower job, and the polls would drift ever later.
    recent: VecDeque<Duration>,
    /// Jobs a caller is waiting on now (in [`KustomerClient::wait_job`]).
    waiting: u64,
}

/// Counts one job as waited on while alive.
struct Waiting<'a>(&'a Mutex<JobClock>);

impl<'a> Waiting<'a> {
    fn start(clock: &'a Mutex<JobClock>) -> Waiting<'a> {
        if let Ok(mut c) = clock.lock() {
            c.waiting += 1;
        }
        Waiting(clock)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Ok(mut c) = self.0.lock() {
            c.waiting = c.waiting.saturating_sub(1);
        }
    }
}

/// When a bulk job was submitted: before its request queued for the budget, and when the server
/// answered with the job's id (the job runs from about then).
#[derive(Debug, Clone, Copy)]
struct Submitted {
    asked: Instant,
    answered: Instant,
}

/// How many recent job latencies decide when a new job is first polled.
const RECENT_JOBS: usize = 32;
/// Recent jobs needed before [`KustomerClient::recent_job_latency`] answers.
const QUANTILE_AFTER: usize = 8;
/// How many jobs' own latencies are kept for [`KustomerClient::job_latency`].
const KEPT_LATENCIES: usize = 256;

impl JobClock {
    /// The recent server-side latencies, sorted, and a reader of their `q` quantile.
    fn quantiles(&self) -> impl Fn(f64) -> Duration {
        let mut sorted: Vec<Duration> = self.recent.iter().copied().collect();
        sorted.sort();
        move |q: f64| sorted[((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize]
    }

    /// The `q` quantile of the recent server-side latencies, once [`QUANTILE_AFTER`] are known.
    fn quantile(&self, q: f64) -> Option<Duration> {
        (self.recent.len() >= QUANTILE_AFTER).then(|| self.quantiles()(q))
    }

    /// When to poll a job first, and how long to wait between later polls, from the latencies
    /// seen so far: each poll costs a request of the org's budget, so a job is first asked about
    /// about when four in five recent jobs had completed, then at steps of a quarter of the
    /// spread.
    /// Before any job completed: `initial`, then the policy's doubling.
    ///
    /// With `thrifty` (the budget is the limit: a poll costs someone else's request), a job is
    /// first asked about when the slowest recent job had completed: nearly every job is complete
    /// at its first poll (about 1.1 polls a job against 1.4), at the cost of some waiting, which
    /// jobs in flight side by side absorb.
    fn poll_plan(&self, initial: Duration, thrifty: bool) -> (Duration, Duration) {
        if self.recent.len() < 4 {
            return (initial, initial);
        }
        let at = self.quantiles();
        // A tenth earlier than that: a job that completed by its first poll tells only an upper
        // bound of its latency, so the plan keeps probing down towards what the jobs really take.
        let first = if thrifty { at(1.0) } else { at(0.8) * 9 / 10 }.max(initial);
        let step = ((at(1.0).saturating_sub(at(0.2))) / 4).max(initial);
        (first, step)
    }
}

/// What one read of a job's batches said.
struct Batches {
    results: Vec<BulkItemResult>,
    /// At least one batch, and every batch `complete`.
    complete: bool,
    asked: Option<Instant>,
    /// A page was asked for more than once (its first attempt timed out or failed): when the
    /// server was asked is not known closely enough to time the job by.
    retried: bool,
}

/// The job id of a bulk submit's answer.
pub(super) fn job_id_of(reply: &crate::http::Reply) -> Result<String> {
    job_id_from_body(&reply.body).ok_or_else(|| KustomerError::Unexpected {
        request: reply.request.clone(),
        missing: "the bulk job id (data.id)",
        response: reply.response.clone(),
    })
}

impl KustomerClient {
    /// Submits up to 100 items, each tagged with its `_clientRef`, as one bulk create.
    pub async fn bulk_create(
        &self,
        resource: BulkResource,
        items: Vec<(String, Value)>,
    ) -> Result<BulkJob> {
        self.submit_bulk(resource, items, false).await
    }

    /// Submits up to 100 items as one bulk create, or with `update` as one bulk update (each
    /// item must then carry the Kustomer `id` it updates).
    pub async fn submit_bulk(
        &self,
        resource: BulkResource,
        items: Vec<(String, Value)>,
        update: bool,
    ) -> Result<BulkJob> {
        self.submit_bulk_of(resource, &items, update).await
    }

    /// As [`KustomerClient::submit_bulk`], reading the items where they are: an item that
    /// already carries its `_clientRef` is serialized as it is, never copied.
    pub async fn submit_bulk_of(
        &self,
        resource: BulkResource,
        items: &[(String, Value)],
        update: bool,
    ) -> Result<BulkJob> {
        if items.is_empty() || items.len() > MAX_BULK_ITEMS {
            return Err(KustomerError::BulkSize(items.len()));
        }
        let mut seen = HashSet::new();
        let mut client_refs = Vec::with_capacity(items.len());
        // The array as sent: an item that carries its reference as it is, else a tagged copy.
        let mut body: Vec<Cow<'_, Value>> = Vec::with_capacity(items.len());
        for (client_ref, item) in items {
            let why = if client_ref.is_empty() || client_ref.len() > MAX_CLIENT_REF_LEN {
                Some("a _clientRef must be 1 to 255 characters")
            } else if !seen.insert(client_ref.as_str()) {
                Some("a _clientRef must be unique within the request")
            } else if !item.is_object() {
                Some("each item must be a JSON object")
            } else if update && item.get("id").and_then(Value::as_str).is_none() {
                Some("a bulk update item needs the Kustomer `id`")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(KustomerError::BulkItem {
                    client_ref: client_ref.clone(),
                    why,
                });
            }
            if item.get("_clientRef").and_then(Value::as_str) == Some(client_ref.as_str()) {
                body.push(Cow::Borrowed(item));
            } else {
                let mut item = item.clone();
                item["_clientRef"] = json!(client_ref);
                body.push(Cow::Owned(item));
            }
            client_refs.push(client_ref.clone());
        }
        // JSON values always serialize (their keys are strings).
        let text = serde_json::to_string(&body).unwrap_or_default();
        let path = resource.path();
        let req = if update {
            Request::put_text(path, text)
        } else {
            Request::post_text(path, text)
        };
        let submitted_at = Instant::now();
        let reply = self.send(req).await?;
        let id = job_id_of(&reply)?;
        if let Ok(mut clock) = self.jobs.lock() {
            let answered = Instant::now();
            clock.submitted.insert(
                id.clone(),
                Submitted {
                    asked: submitted_at,
                    answered,
                },
            );
        }
        Ok(BulkJob {
            id,
            resource,
            client_refs,
            submitted_at,
        })
    }

    pub async fn job_status(&self, job_id: &str) -> Result<JobStatus> {
        self.job_status_at(job_id).await.map(|(status, _)| status)
    }

    /// The job's status and when the server was asked (the gate's admission of the poll), unless
    /// the poll had to be sent again.
    async fn job_status_at(&self, job_id: &str) -> Result<(JobStatus, Option<Instant>)> {
        let reply = self.send(Request::get(endpoints::bulk_job(job_id))).await?;
        let status =
            JobStatus::from_body(&reply.body).ok_or_else(|| KustomerError::Unexpected {
                request: reply.request.clone(),
                missing: "the job status",
                response: reply.response.clone(),
            })?;
        Ok((status, (!reply.retried).then_some(reply.admitted_at)))
    }

    /// Per-item results of a completed job (`GET /v1/bulk/{id}/batches`, every page).
    /// Whether `GET /v1/bulk/{id}/batches` answers in a JSON:API `data` envelope (`true`) or as
    /// the bare array Kustomer's bulk guide draws (`false`); either is read (`batches_of`), and
    /// `i2k doctor --probe` reports which this org serves.
    pub async fn batches_enveloped(&self, job_id: &str) -> Result<bool> {
        let req = Request::get(endpoints::bulk_job_batches(job_id)).query("page", 1);
        let reply = self.send(req).await?;
        Ok(!reply.body.is_array() && reply.body.get("data").is_some())
    }

    pub async fn job_results(&self, job_id: &str) -> Result<Vec<BulkItemResult>> {
        self.job_batches_at(job_id).await.map(|b| b.results)
    }

    /// Every page of a job's batches: their results, whether every batch is complete, and when
    /// the server was asked (the gate's admission of the first page).
    async fn job_batches_at(&self, job_id: &str) -> Result<Batches> {
        let path = endpoints::bulk_job_batches(job_id);
        let mut out = Batches {
            results: Vec::new(),
            complete: true,
            asked: None,
            retried: false,
        };
        let mut any = false;
        for page_no in 1..=MAX_PAGES {
            let req = Request::get(&path).query("page", page_no);
            let reply = self.send(req).await?;
            out.asked.get_or_insert(reply.admitted_at);
            out.retried |= reply.retried;
            any |= batches_listed(&reply.body);
            out.complete &= batches_complete(&reply.body);
            out.results.extend(results_from_batches(&reply.body));
            let page = Page::from_body(&reply.body);
            if page.next.is_none() || page.items.is_empty() {
                break;
            }
        }
        out.complete &= any;
        Ok(out)
    }

    /// Bulk jobs a caller of [`KustomerClient::wait_job`] is waiting on now: the run states it as
    /// the reason it is waiting.
    pub fn bulk_jobs_waiting(&self) -> u64 {
        self.jobs.lock().map(|c| c.waiting).unwrap_or(0)
    }

    /// Waits for a job and returns its results. The poll is the batches route itself: its
    /// batches carry their own status (`queued`, `scheduled`, `complete`), so one request tells
    /// both whether the job is done and what it did — where polling `/v1/bulk/{id}` first costs
    /// a second request per job (≈ 4 % of a medium migration's whole budget). A server whose
    /// batches route cannot answer before completion (404) is polled on the status route for
    /// that job. The first poll comes when the learnt latency says the job should be done.
    /// Records the submit→complete latency of jobs this client submitted.
    pub async fn wait_job(&self, job_id: &str, poll: &PollPolicy) -> Result<Vec<BulkItemResult>> {
        let _waiting = Waiting::start(&self.jobs);
        let started = Instant::now();
        let thrifty = self.gate().saturated();
        let (first, mut delay) = match self.jobs.lock() {
            Ok(clock) => {
                let (first, step) = clock.poll_plan(poll.initial, thrifty);
                let since = clock
                    .submitted
                    .get(job_id)
                    .map_or(Duration::ZERO, |s| s.answered.elapsed());
                (first.saturating_sub(since), step)
            }
            Err(_) => (poll.initial, poll.initial),
        };
        tokio::time::sleep(first).await;
        let mut by_status = false;
        // When the server was last asked and answered "still running": the job completed after.
        let mut running_at: Option<Instant> = None;
        loop {
            // When this poll was ready to go: it may then queue for the budget (for long, when
            // the job is filler work and the budget is busy: 26 s seen on `small` under faults).
            let ready = Instant::now();
            let (done, asked) = if by_status {
                let (status, asked) = self.job_status_at(job_id).await?;
                let results = match status.is_complete() {
                    true => Some(self.job_results(job_id).await?),
                    false => None,
                };
                (results, asked)
            } else {
                match self.job_batches_at(job_id).await {
                    Ok(b) => (
                        b.complete.then_some(b.results),
                        b.asked.filter(|_| !b.retried),
                    ),
                    Err(KustomerError::Api(e)) if e.is_not_found() => {
                        by_status = true;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            };
            if let Some(results) = done {
                match asked {
                    // Counted up to when the poll was ready, not when the budget let it go:
                    // a job complete by a poll that queued half a minute did not take that long
                    // (learnt so, the bulk patience rose to 43 s for jobs done within 2).
                    Some(_) => self.record_latency(job_id, started, ready, running_at),
                    // A poll that timed out and was sent again saw the job complete late: its
                    // time would teach a latency the job did not have.
                    None => self.forget_job(job_id),
                }
                return Ok(results);
            }
            if asked.is_some() {
                running_at = asked;
            }
            if started.elapsed() >= poll.timeout {
                let status = self.job_status(job_id).await?;
                return Err(KustomerError::JobTimeout {
                    job_id: job_id.to_string(),
                    status: status.status,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(delay).await;
            delay = poll.next_delay(delay);
        }
    }

    /// `wait_job`, then one result per submitted item in submission order.
    pub async fn run_job(&self, job: &BulkJob, poll: &PollPolicy) -> Result<Vec<BulkItemResult>> {
        let results = self.wait_job(&job.id, poll).await?;
        Ok(job.match_results(results))
    }

    /// Records a job found complete by the poll that was ready to ask at `ready`, after the poll
    /// asked at `running_at` (if any) found it still running.
    ///
    /// The polls only bracket the job's completion: after the last "running" (or its
    /// submission's answer) and before the "complete". Learning the bracket's end as the
    /// latency would hold the plan up, or ratchet it up by each poll's wait in the gate (on
    /// `medium`, first polls crept to 20 s for jobs done in 2, and every page waited them out),
    /// and polls spaced further and further apart widen the bracket: on `small` under faults the
    /// learnt 90th percentile reached 7 s for jobs the server completes within 2, and the bulk
    /// patience (three times it) 22 s. The job is learnt at the bracket's middle, so the plan
    /// probes down until a first poll finds a job still running, whose later poll then tells the
    /// latency closely.
    fn record_latency(
        &self,
        job_id: &str,
        wait_started: Instant,
        ready: Instant,
        running_at: Option<Instant>,
    ) {
        if let Ok(mut clock) = self.jobs.lock() {
            let submitted = clock.submitted.remove(job_id).unwrap_or(Submitted {
                asked: wait_started,
                answered: wait_started,
            });
            let latency = submitted.asked.elapsed();
            let after = running_at.map_or(Duration::ZERO, |r| {
                r.saturating_duration_since(submitted.answered)
            });
            let before = ready.saturating_duration_since(submitted.answered);
            let server = after + before.saturating_sub(after) / 2;
            clock.max = clock.max.max(latency);
            if clock.latency.len() == KEPT_LATENCIES {
                clock.latency.pop_front();
            }
            clock
                .latency
                .push_back((job_id.to_string(), latency, server));
            if clock.recent.len() == RECENT_JOBS {
                clock.recent.pop_front();
            }
            clock.recent.push_back(server);
        }
    }

    /// Drops what is known of a job's submission without learning from it.
    fn forget_job(&self, job_id: &str) {
        if let Ok(mut clock) = self.jobs.lock() {
            clock.submitted.remove(job_id);
        }
    }

    /// Time a job this client waited for took on the server: from its submission's answer to the
    /// poll that saw it complete. `None` when that poll had to be sent again (a timeout), or the
    /// job is not among the latest waited for.
    pub fn job_server_latency(&self, job_id: &str) -> Option<Duration> {
        self.latencies_of(job_id).map(|(_, server)| server)
    }

    /// The `q` quantile of the server-side latencies of the recent jobs this client waited for,
    /// once at least [`QUANTILE_AFTER`] are known (`None` before).
    pub fn recent_job_latency(&self, q: f64) -> Option<Duration> {
        self.jobs.lock().ok()?.quantile(q)
    }

    /// Submit→complete time of a job this client waited for.
    pub fn job_latency(&self, job_id: &str) -> Option<Duration> {
        self.latencies_of(job_id).map(|(whole, _)| whole)
    }

    /// A recent job's submit→complete time and its time on the server.
    fn latencies_of(&self, job_id: &str) -> Option<(Duration, Duration)> {
        let clock = self.jobs.lock().ok()?;
        clock
            .latency
            .iter()
            .rev()
            .find(|(id, ..)| id == job_id)
            .map(|(_, whole, server)| (*whole, *server))
    }

    /// The longest submit→complete time seen by this client (zero before any job completed).
    pub fn max_job_latency(&self) -> Duration {
        self.jobs.lock().map(|c| c.max).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_learnt_at_the_middle_of_the_polls_that_bracket_its_completion() {
        let client = KustomerClient::connect(
            "http://127.0.0.1:9",
            crate::http::Secret::new("k".to_string()),
            1000,
            0.8,
        )
        .unwrap();
        let asked = Instant::now();
        let (Some(started), Some(running)) = (
            asked.checked_sub(Duration::from_secs(4)),
            asked.checked_sub(Duration::from_secs(1)),
        ) else {
            return;
        };
        client.record_latency("first", started, asked, None);
        client.record_latency("later", started, asked, Some(running));
        let learnt = |job: &str| client.job_server_latency(job).unwrap().as_millis();
        assert_eq!(
            learnt("first"),
            2000,
            "complete at its first poll: at most 4 s, learnt as 2"
        );
        assert_eq!(
            learnt("later"),
            3500,
            "running at 3 s and complete at 4: learnt as 3.5"
        );
    }

    #[test]
    fn batches_answered_as_a_bare_array_are_read_like_an_envelope() {
        let batches = json!([
            {"status": "complete", "results": [
                {"_clientRef": "r1", "objectId": "c1", "status": "created"}
            ]},
            {"status": "queued", "results": []}
        ]);
        assert!(batches_listed(&batches));
        assert!(!batches_complete(&batches));
        let results = results_from_batches(&batches);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].outcome, BulkOutcome::Created { id: "c1".into() });
        let done = json!([{"status": "complete", "results": []}]);
        assert!(batches_complete(&done));
        assert!(!batches_listed(&json!([])));
        assert!(!batches_listed(&json!({"meta": {}})));
    }

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

    fn clock(latencies_ms: &[u64]) -> JobClock {
        JobClock {
            recent: latencies_ms
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
            ..JobClock::default()
        }
    }

    #[test]
    fn jobs_are_first_polled_when_most_recent_ones_had_completed() {
        let initial = Duration::from_millis(250);
        // Too few jobs seen: the policy's own start.
        assert_eq!(
            clock(&[1900, 1900]).poll_plan(initial, false),
            (initial, initial)
        );
        // Latencies spread over 0–2 s: the first poll comes late in that spread, a little before
        // four in five had completed; later polls step through the rest.
        let spread: Vec<u64> = (0..=20).map(|i| i * 100).collect();
        let (first, step) = clock(&spread).poll_plan(initial, false);
        assert_eq!(first, Duration::from_millis(1440));
        assert_eq!(step, Duration::from_millis(400));
        // When the budget is the limit, when the slowest recent job had completed.
        let (first, step) = clock(&spread).poll_plan(initial, true);
        assert_eq!(first, Duration::from_millis(2000));
        assert_eq!(step, Duration::from_millis(400));
        // Fast jobs never make the first poll earlier than the policy's start.
        assert_eq!(
            clock(&[10, 12, 9, 11, 10]).poll_plan(initial, true),
            (initial, initial)
        );
    }

    #[test]
    fn the_learnt_latency_is_a_high_quantile_not_the_one_slow_job() {
        // Too few jobs: nothing to learn from yet.
        assert_eq!(clock(&[1000; 7]).quantile(0.9), None);
        // Thirty jobs near 1.5 s and two seen late (their polls queued behind a busy budget):
        // the 90th percentile stays with the thirty.
        let mut seen = vec![1500u64; 30];
        seen.extend([16_000, 9_000]);
        assert_eq!(
            clock(&seen).quantile(0.9),
            Some(Duration::from_millis(1500))
        );
        // When most jobs are slow, so is what is learnt.
        let slow = vec![6000u64; 32];
        assert_eq!(
            clock(&slow).quantile(0.9),
            Some(Duration::from_millis(6000))
        );
    }
}
