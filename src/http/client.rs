//! `ApiClient`: the one send path of both APIs. Every request passes the API's `RateGate`, carries
//! the bearer token and the API's fixed headers, and is retried with exponential backoff and full
//! jitter on transient failures. Non-idempotent creates are never resent blindly: a create whose
//! answer was lost comes back as `ApiError::Ambiguous` for the write path to resolve by lookup.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::error::{ApiError, ApiSide, parse_error_body};
use super::gate::{RateGate, RateInfo};
use super::secret::{Secret, redact_url_passwords};
use crate::rng::Rng;

/// Largest response body read into memory; larger answers are refused as unreadable.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// How much of a request or response body is kept for the operator to read.
/// How much of a request / response an error (and so the ledger) keeps.
pub const KEPT_REQUEST_CHARS: usize = 2 * 1024;
pub const KEPT_RESPONSE_CHARS: usize = 8 * 1024;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub side: ApiSide,
    /// Base URL without a trailing slash.
    pub base_url: String,
    pub token: Secret,
    /// Fixed headers sent on every request (e.g. `Intercom-Version`).
    pub headers: Vec<(String, String)>,
    /// Per attempt, connection to last byte.
    pub timeout: Duration,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl ClientConfig {
    pub fn new(side: ApiSide, base_url: impl Into<String>, token: Secret) -> Self {
        ClientConfig {
            side,
            base_url: base_url.into().trim_end_matches('/').to_string(),
            token,
            headers: Vec::new(),
            timeout: Duration::from_secs(30),
            max_attempts: 6,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(20),
        }
    }
}

/// Which failures a request may be resent after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Safe to repeat: every transient failure is retried (429, 5xx, timeouts, resets, malformed bodies).
    Idempotent,
    /// A create: retried only when it certainly had no effect (429, connection refused).
    Create,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// `/v1/x` relative to the base URL, or an absolute URL (e.g. Intercom's `pages.next`).
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The JSON body, serialized once (for every attempt and for the request's summary).
    pub body: Option<String>,
    pub retry: Retry,
    /// Changes nothing on the server (a GET, a search): it gets the timeout learnt from reads.
    pub read: bool,
}

impl Request {
    fn new(method: Method, path: impl Into<String>, body: Option<Value>, retry: Retry) -> Request {
        Request {
            read: method == Method::GET,
            method,
            path: path.into(),
            query: Vec::new(),
            body: body.map(|b| b.to_string()),
            retry,
        }
    }

    /// As [`Request::post`], with the body already serialized (`body`: a JSON text).
    pub fn post_text(path: impl Into<String>, body: String) -> Request {
        let mut req = Request::new(Method::POST, path, None, Retry::Create);
        req.body = Some(body);
        req
    }

    /// As [`Request::put`], with the body already serialized (`body`: a JSON text).
    pub fn put_text(path: impl Into<String>, body: String) -> Request {
        let mut req = Request::new(Method::PUT, path, None, Retry::Idempotent);
        req.body = Some(body);
        req
    }

    pub fn get(path: impl Into<String>) -> Request {
        Request::new(Method::GET, path, None, Retry::Idempotent)
    }

    pub fn post(path: impl Into<String>, body: Value) -> Request {
        Request::new(Method::POST, path, Some(body), Retry::Create)
    }

    /// A search sent as a POST: it changes nothing, so it is retried and timed like a read (a
    /// timeout learnt from writes, or none learnt yet, would hold a hung listing far longer).
    pub fn search(path: impl Into<String>, body: Value) -> Request {
        let mut req = Request::new(Method::POST, path, Some(body), Retry::Idempotent);
        req.read = true;
        req
    }

    pub fn put(path: impl Into<String>, body: Value) -> Request {
        Request::new(Method::PUT, path, Some(body), Retry::Idempotent)
    }

    /// A delete is safe to repeat: a second one finds nothing (404), which the caller reads as done.
    pub fn delete(path: impl Into<String>) -> Request {
        Request::new(Method::DELETE, path, None, Retry::Idempotent)
    }

    pub fn patch(path: impl Into<String>, body: Value) -> Request {
        Request::new(Method::PATCH, path, Some(body), Retry::Idempotent)
    }

    pub fn query(mut self, key: &str, value: impl ToString) -> Request {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    pub fn retry(mut self, retry: Retry) -> Request {
        self.retry = retry;
        self
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// `Null` for an empty body (204).
    pub body: Value,
    /// Redacted summary of the request, e.g. `POST https://…/v1/customers {…}`.
    pub request: String,
    /// Redacted status and body, truncated.
    pub response: String,
    /// When the rate gate let the answered attempt go: the moment the server was asked, apart
    /// from the time the request queued for the budget.
    pub admitted_at: Instant,
    /// An earlier attempt of this request failed and was tried again (a timeout, a 5xx, a lost
    /// connection): `admitted_at` is later than the moment the answer was first asked for.
    pub retried: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: u64,
    pub sha256: String,
    pub content_type: Option<String>,
}

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    gate: Arc<RateGate>,
    /// Latencies of recent reads that answered, for the timeout reads get.
    reads: std::sync::Mutex<Latencies>,
    /// Latencies of recent JSON writes that answered, for the timeout writes get.
    writes: std::sync::Mutex<Latencies>,
    /// Turns true at the first 401: the token expired or was revoked.
    token_refused: tokio::sync::watch::Sender<bool>,
    /// Attempts that failed in a way worth retrying (5xx, timeouts, resets), for the report.
    faults: std::sync::atomic::AtomicU64,
}

/// A client of one API. Cheap to clone.
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

/// A request (gate wait, attempts and backoffs) this slow is logged at debug level.
const SLOW_REQUEST: Duration = Duration::from_secs(1);
/// The shortest timeout a read ever gets: long enough for a slow page of a healthy server.
pub const READ_TIMEOUT_FLOOR: Duration = Duration::from_secs(3);
/// The shortest timeout a JSON write ever gets: a bulk submission carries up to 100 records and
/// a healthy server may take seconds to accept one. A write abandoned at its timeout is not lost:
/// its record is settled by lookup (or sent again where nothing can look it up), as a write whose
/// answer never came always was.
pub const WRITE_TIMEOUT_FLOOR: Duration = Duration::from_secs(5);
/// How often a request in flight looks again at the timeout it gets (see `ApiClient::overdue`).
const OVERDUE_RECHECK: Duration = Duration::from_secs(1);
/// What an abandoned request's error says, as reqwest's own timeout does.
const TIMED_OUT: &str = "timed out";
/// The pace a file upload is allowed on top of the learnt write timeout (256 KiB/s): a 20 MB
/// attachment may take 80 s before it is abandoned and sent again.
const SLOW_LINK_BYTES_PER_SEC: f64 = 256.0 * 1024.0;
/// Answers remembered for a learnt timeout.
const LATENCY_SAMPLES: usize = 128;
/// Answers needed before a timeout is learnt rather than configured.
const LATENCY_SAMPLES_NEEDED: usize = 16;
/// A learnt timeout is this many times the slowest of the recent answers (their 99th percentile).
const TIMEOUT_FACTOR: u32 = 4;

/// The latencies of the most recent reads (or writes) that answered.
#[derive(Debug, Default)]
struct Latencies {
    recent: std::collections::VecDeque<Duration>,
    /// A timeout an earlier process learnt against the same API (kept in the ledger), used
    /// until enough answers are known here.
    prior: Option<Duration>,
}

impl Latencies {
    fn record(&mut self, latency: Duration) {
        if self.recent.len() == LATENCY_SAMPLES {
            self.recent.pop_front();
        }
        self.recent.push_back(latency);
    }

    /// [`TIMEOUT_FACTOR`] × the 99th percentile, once enough answers are known; until then the
    /// prior, if any.
    fn timeout(&self) -> Option<Duration> {
        if self.recent.len() < LATENCY_SAMPLES_NEEDED {
            return self.prior;
        }
        // Asked before every attempt: selected in place on the stack, not sorted on the heap.
        let mut recent = [Duration::ZERO; LATENCY_SAMPLES];
        let n = self.recent.len();
        for (slot, latency) in recent.iter_mut().zip(&self.recent) {
            *slot = *latency;
        }
        let (_, p99, _) = recent[..n].select_nth_unstable((n * 99 / 100).min(n - 1));
        Some(*p99 * TIMEOUT_FACTOR)
    }
}

/// Timeouts a client learnt from its answers (see [`ApiClient::learnt_timeouts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LearntTimeouts {
    #[serde(with = "millis", default)]
    pub read: Option<Duration>,
    #[serde(with = "millis", default)]
    pub write: Option<Duration>,
}

/// `Option<Duration>` as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

/// What one attempt came to.
enum Attempt<T> {
    Done(T),
    /// Try again after a backoff.
    Again(ApiError),
    /// A 429: try again when the gate's hold ends. Throttling never uses up the attempts.
    Throttled,
    Fail(ApiError),
}

impl ApiClient {
    pub fn new(config: ClientConfig, gate: Arc<RateGate>) -> Result<ApiClient, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("i2k/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Transport {
                side: config.side,
                message: format!("cannot build the HTTP client: {e}"),
                request: String::new(),
            })?;
        Ok(ApiClient {
            inner: Arc::new(Inner {
                config,
                http,
                gate,
                reads: std::sync::Mutex::default(),
                writes: std::sync::Mutex::default(),
                token_refused: tokio::sync::watch::Sender::new(false),
                faults: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    pub fn gate(&self) -> &Arc<RateGate> {
        &self.inner.gate
    }

    /// Attempts so far that failed in a way worth retrying (5xx, timeouts, resets); 429s are
    /// the gate's (`Budget::throttled`).
    pub fn faults(&self) -> u64 {
        self.inner.faults.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Turns true when the API refuses the token (a 401), so a run can stop rather than fail
    /// record after record on a token that expired or was revoked while it ran.
    pub fn token_refused(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.token_refused.subscribe()
    }

    pub fn side(&self) -> ApiSide {
        self.inner.config.side
    }

    pub fn base_url(&self) -> &str {
        &self.inner.config.base_url
    }

    pub async fn get(&self, path: &str) -> Result<Reply, ApiError> {
        self.send(Request::get(path)).await
    }

    fn url_for(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.inner.config.base_url, path)
        }
    }

    fn redact(&self, text: &str) -> String {
        redact_url_passwords(&self.inner.config.token.redact(text))
    }

    fn summarize_request(&self, req: &Request, url: &str) -> String {
        let mut s = format!("{} {}", req.method, url);
        if !req.query.is_empty() {
            let q: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push(if url.contains('?') { '&' } else { '?' });
            s.push_str(&q.join("&"));
        }
        if let Some(body) = &req.body {
            s.push(' ');
            s.push_str(&truncate(body, KEPT_REQUEST_CHARS));
        }
        self.redact(&s)
    }

    /// Sends `req` through the gate, retrying as its policy allows. Any non-2xx answer is an error.
    /// 429s are waited out however many come (the gate holds every caller until the reset the
    /// server announced, or backs off): throttling slows a run, it never ends one.
    pub async fn send(&self, req: Request) -> Result<Reply, ApiError> {
        let cfg = &self.inner.config;
        let url = self.url_for(&req.path);
        let summary = self.summarize_request(&req, &url);
        if !self.is_own_origin(&url) {
            // Absolute URLs come from answers (`pages.next`): the token goes nowhere else.
            return Err(ApiError::Transport {
                side: cfg.side,
                message: format!(
                    "refused to send the {} token to {}, which is not the configured API host {}",
                    cfg.side,
                    self.redact(&origin_of(&url)),
                    self.redact(&origin_of(&cfg.base_url)),
                ),
                request: summary,
            });
        }
        let failed_before = std::sync::atomic::AtomicBool::new(false);
        let started = Instant::now();
        let result = self
            .retrying(|| async {
                let attempt = self.gated_attempt(&req, &url, &summary).await;
                if matches!(attempt, Attempt::Again(_)) {
                    failed_before.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                attempt
            })
            .await;
        let took = started.elapsed();
        let retried = failed_before.into_inner();
        // Method and path only, for the logs below (the query may carry an email).
        let route = || {
            format!(
                "{} {}",
                req.method,
                self.redact(req.path.split('?').next().unwrap_or_default())
            )
        };
        tracing::trace!(
            side = %cfg.side,
            "request: {} {}",
            route(),
            match &result {
                Ok(reply) => reply.status.to_string(),
                Err(e) => format!("error: {e}"),
            }
        );
        if took >= SLOW_REQUEST {
            tracing::debug!(
                side = %cfg.side,
                "slow request: {} took {:.1} s{}{}",
                route(),
                took.as_secs_f64(),
                if retried { ", retried" } else { "" },
                if result.is_err() { ", failed" } else { "" },
            );
        }
        let mut reply = result?;
        reply.retried = retried;
        Ok(reply)
    }

    /// The one retry loop of every request this client makes: `attempt` again until it is done
    /// or fails for good, or until failures worth retrying have used up the configured attempts,
    /// with a jittered exponential backoff between them. A throttled attempt does not use one
    /// up: its wait is the gate's, not the backoff's.
    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        let cfg = &self.inner.config;
        let mut rng = Rng::from_entropy();
        let mut failures = 0;
        loop {
            match attempt().await {
                Attempt::Done(done) => return Ok(done),
                Attempt::Fail(err) => return Err(err),
                Attempt::Throttled => {
                    tracing::debug!(side = %cfg.side, "throttled (429): waiting for the gate");
                }
                Attempt::Again(err) => {
                    failures += 1;
                    self.inner
                        .faults
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if failures >= cfg.max_attempts.max(1) {
                        return Err(err);
                    }
                    tracing::debug!(side = %cfg.side, "retrying after: {err}");
                    tokio::time::sleep(backoff(
                        cfg.backoff_base,
                        cfg.backoff_max,
                        failures,
                        &mut rng,
                    ))
                    .await;
                }
            }
        }
    }

    /// One try of `req` once the gate lets it go.
    async fn gated_attempt(&self, req: &Request, url: &str, summary: &str) -> Attempt<Reply> {
        self.inner.gate.acquire().await;
        self.attempt(req, url, summary, Instant::now()).await
    }

    /// The timeout a read gets: learnt from the latencies of recent reads that answered (a
    /// timed-out read records none, so a hang never raises it), never under [`READ_TIMEOUT_FLOOR`]
    /// nor over the configured request timeout; the configured timeout until enough are known.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.learnt_timeout(false)
    }

    /// The timeout a JSON write gets, learnt as a read's is from the writes that answered, never
    /// under [`WRITE_TIMEOUT_FLOOR`]. File uploads and downloads keep the configured timeout: their
    /// time grows with the file.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.learnt_timeout(true)
    }

    fn latencies(&self, write: bool) -> std::sync::MutexGuard<'_, Latencies> {
        let class = if write {
            &self.inner.writes
        } else {
            &self.inner.reads
        };
        class.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The timeouts learnt so far (reads, JSON writes), before their floor and ceiling: for
    /// [`ApiClient::start_from`] in a later process.
    pub fn learnt_timeouts(&self) -> LearntTimeouts {
        LearntTimeouts {
            read: self.latencies(false).timeout(),
            write: self.latencies(true).timeout(),
        }
    }

    /// Starts from timeouts an earlier process learnt against this API, until this one has
    /// enough answers of its own: its first requests, which leave before any answer, are then
    /// abandoned as soon as a hung one would be later in the run, not at the configured timeout.
    pub fn start_from(&self, learnt: LearntTimeouts) {
        self.latencies(false).prior = learnt.read;
        self.latencies(true).prior = learnt.write;
    }

    fn learnt_timeout(&self, write: bool) -> Option<Duration> {
        let ceiling = self.inner.config.timeout;
        let floor = if write {
            WRITE_TIMEOUT_FLOOR
        } else {
            READ_TIMEOUT_FLOOR
        };
        let learnt = self.latencies(write).timeout()?;
        Some(learnt.clamp(floor.min(ceiling), ceiling))
    }

    /// Resolves once a JSON request (a read, or a write when `write`) sent at `sent_at` has been
    /// out longer than the timeout its kind gets *now*: the learnt one as soon as there is one,
    /// else the configured one. Looked at again at least every [`OVERDUE_RECHECK`].
    async fn overdue(&self, write: bool, sent_at: Instant) {
        loop {
            let limit = self
                .learnt_timeout(write)
                .unwrap_or(self.inner.config.timeout);
            let out_for = sent_at.elapsed();
            if out_for >= limit {
                return;
            }
            tokio::time::sleep((limit - out_for).min(OVERDUE_RECHECK)).await;
        }
    }

    /// Whether `url` has the scheme and host (with port) of the configured base URL.
    fn is_own_origin(&self, url: &str) -> bool {
        origin_of(url).eq_ignore_ascii_case(&origin_of(&self.inner.config.base_url))
    }

    /// One try of `req`, which the gate let go at `admitted_at`.
    async fn attempt(
        &self,
        req: &Request,
        url: &str,
        summary: &str,
        admitted_at: Instant,
    ) -> Attempt<Reply> {
        let cfg = &self.inner.config;
        let side = cfg.side;
        let mut builder = self
            .inner
            .http
            .request(req.method.clone(), url)
            .bearer_auth(cfg.token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        for (k, v) in &cfg.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(body) = &req.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        // A request that hangs is abandoned once it has taken far longer than its like take here,
        // rather than held for the whole request timeout: a read is retried, a create is settled
        // as a create whose answer was lost.
        //
        // The limit is looked at again while the request is out (see [`ApiClient::overdue`]):
        // the first requests of a process leave before any answer has taught one, and each of
        // them would otherwise be held for the configured timeout, however soon one is learnt.
        let write = !req.read;
        let sent_at = Instant::now();
        let lost = |message: String| {
            if req.retry == Retry::Create {
                Attempt::Fail(ApiError::Ambiguous {
                    side,
                    message,
                    request: summary.to_string(),
                })
            } else {
                Attempt::Again(ApiError::Transport {
                    side,
                    message,
                    request: summary.to_string(),
                })
            }
        };
        let sent = tokio::select! {
            sent = builder.send() => sent,
            () = self.overdue(write, sent_at) => return lost(TIMED_OUT.to_string()),
        };
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Attempt::Again(ApiError::Transport {
                    side,
                    message: format!("cannot connect to {}: {}", host_of(url), root_cause(&e)),
                    request: summary.to_string(),
                });
            }
            Err(e) if e.is_builder() => {
                return Attempt::Fail(ApiError::Transport {
                    side,
                    message: format!("invalid request: {}", root_cause(&e)),
                    request: summary.to_string(),
                });
            }
            Err(e) => return lost(describe_transport(&e)),
        };
        let status = response.status().as_u16();
        if status != 429 {
            self.latencies(write).record(sent_at.elapsed());
        }
        let rate = RateInfo::from_headers(response.headers());
        if status == 429 {
            // The hold follows the reset alone: a throttle's figures say nothing of the window.
            self.inner
                .gate
                .on_throttled(rate.and_then(|r| r.throttled_until_unix()));
            return Attempt::Throttled;
        }
        self.inner.gate.on_answered();
        if let Some(info) = rate {
            self.inner.gate.observe(info);
        }
        let read = tokio::select! {
            read = read_capped(response) => read,
            () = self.overdue(write, sent_at) => return lost(TIMED_OUT.to_string()),
        };
        let bytes = match read {
            Ok(b) => b,
            Err(message) => return lost(message),
        };
        let text = String::from_utf8_lossy(&bytes);
        let response_text = self.redact(&format!(
            "{status} {}",
            truncate(&text, KEPT_RESPONSE_CHARS)
        ));
        let parsed: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
            Some(Value::Null)
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if (200..300).contains(&status) {
            return match parsed {
                Some(body) => Attempt::Done(Reply {
                    status,
                    body,
                    request: summary.to_string(),
                    response: response_text,
                    admitted_at,
                    retried: false,
                }),
                None if req.retry == Retry::Create => Attempt::Fail(ApiError::Ambiguous {
                    side,
                    message: format!("HTTP {status} with a body that is not JSON"),
                    request: summary.to_string(),
                }),
                None => Attempt::Again(ApiError::Decode {
                    side,
                    message: format!("HTTP {status} with a body that is not JSON"),
                    request: summary.to_string(),
                    response: response_text,
                }),
            };
        }
        let err = self.http_error(status, parsed.as_ref(), summary, response_text);
        if status == 401 {
            self.inner.token_refused.send_replace(true);
        }
        if status >= 500 {
            return match req.retry {
                Retry::Idempotent => Attempt::Again(err),
                Retry::Create => Attempt::Fail(ApiError::Ambiguous {
                    side,
                    message: format!("HTTP {status}: {}", err.message()),
                    request: summary.to_string(),
                }),
            };
        }
        Attempt::Fail(err)
    }

    fn http_error(
        &self,
        status: u16,
        body: Option<&Value>,
        request: &str,
        response: String,
    ) -> ApiError {
        let (code, message) = body.map(parse_error_body).unwrap_or_default();
        let message = if message.is_empty() {
            default_message(status).to_string()
        } else {
            self.redact(&message)
        };
        ApiError::Http {
            side: self.inner.config.side,
            status,
            code,
            message,
            request: request.to_string(),
            response,
        }
    }

    /// Streams an absolute URL into the file `dest` (created 0600), hashing it on the way.
    /// Downloads never carry the bearer token (attachment URLs are signed, and a URL from an
    /// answer may name any host) and do not count against the gate.
    pub async fn download(&self, url: &str, dest: &Path) -> Result<Downloaded, ApiError> {
        let request = self.redact(&format!("GET {url}"));
        self.retrying(|| self.download_once(url, dest, &request))
            .await
    }

    /// One try of [`ApiClient::download`]: 5xx, 429 and lost connections are tried again.
    async fn download_once(&self, url: &str, dest: &Path, request: &str) -> Attempt<Downloaded> {
        let side = self.inner.config.side;
        let response = match self.inner.http.get(url).send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Again(ApiError::Transport {
                    side,
                    message: describe_transport(&e),
                    request: request.to_string(),
                });
            }
        };
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = response.text().await.unwrap_or_default();
            let err = ApiError::Http {
                side,
                status,
                code: String::new(),
                message: format!("download refused: {}", default_message(status)),
                request: request.to_string(),
                response: self.redact(&format!(
                    "{status} {}",
                    truncate(&text, KEPT_RESPONSE_CHARS)
                )),
            };
            if status >= 500 || status == 429 {
                return Attempt::Again(err);
            }
            return Attempt::Fail(err);
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match stream_to_file(response, dest).await {
            Ok((bytes, sha256)) => Attempt::Done(Downloaded {
                bytes,
                sha256,
                content_type,
            }),
            Err(message) => Attempt::Again(ApiError::Transport {
                side,
                message,
                request: request.to_string(),
            }),
        }
    }

    /// Multipart POST of `fields`, then the file last under the name `file` (an S3-style upload
    /// form). No bearer token; not counted against the gate; retried on transient failures since
    /// the same key simply overwrites.
    pub async fn upload_form(
        &self,
        url: &str,
        fields: &[(String, String)],
        file: &Path,
        file_name: &str,
        content_type: &str,
    ) -> Result<u16, ApiError> {
        let request = format!("POST {url} (upload form, {})", file_name);
        let form = UploadForm {
            url,
            fields,
            file,
            file_name,
            content_type,
        };
        self.retrying(|| self.upload_once(&form, &request)).await
    }

    /// One try of [`ApiClient::upload_form`]: 5xx, 429 and lost connections are tried again.
    async fn upload_once(&self, form: &UploadForm<'_>, request: &str) -> Attempt<u16> {
        let side = self.inner.config.side;
        let bytes = match tokio::fs::read(form.file).await {
            Ok(bytes) => bytes,
            Err(e) => {
                return Attempt::Fail(ApiError::Transport {
                    side,
                    message: format!("cannot read {}: {e}", form.file.display()),
                    request: request.to_string(),
                });
            }
        };
        let mut multipart = reqwest::multipart::Form::new();
        for (k, v) in form.fields {
            multipart = multipart.text(k.clone(), v.clone());
        }
        // A hung upload is abandoned and sent again (the same key overwrites) once it has taken
        // the learnt write timeout plus the file's time at a slow link's pace.
        let transfer = Duration::from_secs_f64(bytes.len() as f64 / SLOW_LINK_BYTES_PER_SEC);
        let timeout = self.learnt_timeout(true).map(|t| t + transfer);
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(form.file_name.to_string())
            .mime_str(form.content_type)
            .unwrap_or_else(|_| reqwest::multipart::Part::bytes(Vec::new()));
        multipart = multipart.part("file", part);
        let mut builder = self.inner.http.post(form.url).multipart(multipart);
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                if (200..300).contains(&status) {
                    return Attempt::Done(status);
                }
                let text = response.text().await.unwrap_or_default();
                let err = ApiError::Http {
                    side,
                    status,
                    code: String::new(),
                    message: format!("upload refused: {}", truncate(&text, 300)),
                    request: request.to_string(),
                    response: format!("{status} {}", truncate(&text, KEPT_RESPONSE_CHARS)),
                };
                if status >= 500 || status == 429 {
                    return Attempt::Again(err);
                }
                Attempt::Fail(err)
            }
            Err(e) => Attempt::Again(ApiError::Transport {
                side,
                message: describe_transport(&e),
                request: request.to_string(),
            }),
        }
    }
}

/// What [`ApiClient::upload_form`] sends, read again for every try.
struct UploadForm<'a> {
    url: &'a str,
    fields: &'a [(String, String)],
    file: &'a Path,
    file_name: &'a str,
    content_type: &'a str,
}

/// The body of an answer, refused past [`MAX_BODY_BYTES`]. The buffer is sized from the
/// declared length up front: grown by doubling, a 600 KB page of conversations passed through
/// six reallocations and copies, 1.9 MB of short-lived large blocks that the allocator holds
/// for its decay time, and those transients were a share of the peak RSS.
async fn read_capped(response: reqwest::Response) -> Result<Vec<u8>, String> {
    let declared = response.content_length().unwrap_or(0) as usize;
    let mut out = Vec::with_capacity(declared.min(MAX_BODY_BYTES));
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| describe_transport(&e))?;
        if out.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!(
                "answer larger than {} MiB",
                MAX_BODY_BYTES / (1024 * 1024)
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn stream_to_file(response: reqwest::Response, dest: &Path) -> Result<(u64, String), String> {
    let mut options = tokio::fs::OpenOptions::new();
    options.create(true).write(true).truncate(true).mode(0o600);
    let mut file = options
        .open(dest)
        .await
        .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| describe_transport(&e))?;
        hasher.update(&chunk);
        total += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    }
    file.flush()
        .await
        .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    let digest = hasher.finalize();
    Ok((total, digest.iter().map(|b| format!("{b:02x}")).collect()))
}

/// Exponential backoff with full jitter: uniform in `[0, min(max, base · 2^attempt)]`, at least 10 ms.
fn backoff(base: Duration, max: Duration, attempt: u32, rng: &mut Rng) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16)).min(max);
    exp.mul_f64(rng.next_f64()).max(Duration::from_millis(10))
}

/// `https://host:port` of a URL: what the token is bound to.
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) => format!("{}://{}", scheme.to_ascii_lowercase(), host_of(url)),
        None => host_of(url).to_string(),
    }
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// `s` cut to at most `max` bytes (on a character boundary), saying how long it was.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn describe_transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        TIMED_OUT.to_string()
    } else if e.is_body() || e.is_decode() {
        format!(
            "connection broke while reading the answer: {}",
            root_cause(e)
        )
    } else {
        root_cause(e)
    }
}

fn default_message(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        401 => "the token was refused (unauthorized)",
        403 => "the token lacks the permission for this",
        404 => "not found",
        409 => "conflict",
        422 => "unprocessable entity",
        429 => "rate limit exceeded",
        500..=599 => "server error",
        _ => "unexpected status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut rng = Rng::new(9);
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempt in 0..20 {
            let b = backoff(base, max, attempt, &mut rng);
            assert!(b <= max && b >= Duration::from_millis(10));
        }
    }

    #[test]
    fn hosts_are_compared_without_paths() {
        assert_eq!(
            host_of("https://api.intercom.io/contacts?x=1"),
            "api.intercom.io"
        );
        assert_eq!(host_of("http://127.0.0.1:4000"), "127.0.0.1:4000");
    }

    #[test]
    fn truncation_keeps_char_boundaries() {
        let s = "é".repeat(10);
        let t = truncate(&s, 5);
        assert!(t.starts_with("éé"));
        assert!(t.contains("20 bytes"));
    }
}

#[cfg(test)]
mod read_timeout_tests {
    use super::*;

    #[test]
    fn the_read_timeout_is_learnt_from_answered_reads_within_floor_and_ceiling() {
        let mut reads = Latencies::default();
        for _ in 0..LATENCY_SAMPLES_NEEDED - 1 {
            reads.record(Duration::from_millis(20));
        }
        assert_eq!(reads.timeout(), None, "too few reads to learn from");
        reads.record(Duration::from_millis(20));
        assert_eq!(reads.timeout(), Some(Duration::from_millis(80)));
        // A slow minority moves the 99th percentile, not one outlier among many.
        for _ in 0..LATENCY_SAMPLES {
            reads.record(Duration::from_millis(500));
        }
        assert_eq!(reads.timeout(), Some(Duration::from_secs(2)));
        let config = ClientConfig::new(
            ApiSide::Kustomer,
            "http://127.0.0.1:9",
            Secret::new("k".to_string()),
        );
        let client = ApiClient::new(
            config,
            RateGate::new(super::super::gate::GateConfig::kustomer(1000, 1.0)),
        )
        .unwrap();
        assert_eq!(
            client.read_timeout(),
            None,
            "the configured timeout at first"
        );
        for _ in 0..LATENCY_SAMPLES_NEEDED {
            client.latencies(false).record(Duration::from_millis(10));
        }
        assert_eq!(client.read_timeout(), Some(READ_TIMEOUT_FLOOR));
        for _ in 0..LATENCY_SAMPLES {
            client.latencies(false).record(Duration::from_secs(60));
        }
        assert_eq!(client.read_timeout(), Some(Duration::from_secs(30)));
        // Writes learn apart from reads, with their own floor.
        assert_eq!(client.write_timeout(), None);
        for _ in 0..LATENCY_SAMPLES_NEEDED {
            client.latencies(true).record(Duration::from_millis(10));
        }
        assert_eq!(client.write_timeout(), Some(WRITE_TIMEOUT_FLOOR));
        assert_eq!(client.read_timeout(), Some(Duration::from_secs(30)));
    }
}
