//! Simulator of Intercom's REST API 2.16 over axum on loopback, serving a generated workspace.
//!
//! Every API route sits behind one gate that does what Intercom does before a handler runs:
//! bearer auth (`401 unauthorized`), the `Intercom-Version` header (missing → 2.16, unknown →
//! `400 intercom_version_invalid`), the 10-second rate window (`X-RateLimit-*`, `429
//! rate_limit_exceeded`), added latency and injected faults. The `/__sim/` routes (truth,
//! request counts, touches, revoking and restoring the token) bypass all of that and are not
//! counted; attachment files under `/__files/` are served like a CDN: no bearer, signed URLs
//! that expire.

mod activity_logs;
pub mod advance;
mod attachments;
mod companies;
mod contacts;
mod conversations;
mod events;
pub mod generate;
mod help_center;
pub mod hostile;
mod macros;
mod rate;
mod render;
mod routes;
mod scroll;
mod search;
mod tickets;
mod truth;
mod workspace;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::rng::Rng;
use crate::sim::faults::{FaultKind, FaultSpec, Side, Timing};
use crate::sim::{SimHandle, SizePreset};

use generate::Workspace;
use rate::RateWindow;
use scroll::Scrolls;

/// API versions the `Intercom-Version` header may name (the 2.16 spec's enum).
const KNOWN_VERSIONS: [&str; 22] = [
    "1.0", "1.1", "1.2", "1.3", "1.4", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7",
    "2.8", "2.9", "2.10", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16",
];

/// How the Intercom simulator behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    pub size: SizePreset,
    /// Requests allowed per 10-second window (1,667 ≈ 10,000/min).
    pub rate_per_window: u32,
    /// Added to every API response.
    pub latency: Duration,
    /// An open companies scroll idle this long expires.
    pub scroll_idle: Duration,
    /// Lifetime of attachment URLs.
    pub attachment_ttl: Duration,
    pub faults: FaultSpec,
    /// How long an injected timeout holds its answer.
    pub fault_hang: Duration,
    /// Plant pathological records among the normal ones ([`hostile`]).
    pub hostile: bool,
}

impl Config {
    pub fn new(seed: u64, size: SizePreset) -> Config {
        Config {
            seed,
            size,
            rate_per_window: 1667,
            latency: Duration::ZERO,
            scroll_idle: Duration::from_secs(60),
            attachment_ttl: Duration::from_secs(30 * 60),
            faults: FaultSpec::none(),
            fault_hang: Duration::from_secs(30),
            hostile: false,
        }
    }
}

/// Requests seen by the API routes, for `/__sim/requests`.
#[derive(Debug, Default)]
struct RequestLog {
    count: u64,
    by_route: BTreeMap<String, u64>,
    throttled: u64,
}

/// Shared state of one simulator.
pub(crate) struct SimState {
    config: Config,
    token: String,
    /// Set by `POST /__sim/token/revoke`: the token is refused (401) until restored.
    token_revoked: std::sync::atomic::AtomicBool,
    workspace: RwLock<Workspace>,
    base_url: OnceLock<String>,
    rate: RateWindow,
    scrolls: Mutex<Scrolls>,
    requests: Mutex<RequestLog>,
    fault_rng: Mutex<Rng>,
    /// Key for attachment URL signatures.
    file_key: String,
    /// `POST /__sim/fail` rules.
    failing: crate::sim::failing::FailingPaths,
}

type Shared = std::sync::Arc<SimState>;

/// Locks a mutex, recovering from poisoning: the guarded data stays consistent per operation.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl SimState {
    fn workspace(&self) -> std::sync::RwLockReadGuard<'_, Workspace> {
        match self.workspace.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn workspace_mut(&self) -> std::sync::RwLockWriteGuard<'_, Workspace> {
        match self.workspace.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn base(&self) -> &str {
        self.base_url.get().map(String::as_str).unwrap_or("")
    }

    fn sign(&self, file_id: &str, expires: i64) -> String {
        let digest = Sha256::digest(format!("{}|{file_id}|{expires}", self.file_key).as_bytes());
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// A signed, expiring URL for an attachment file.
    fn file_url(&self, file: &generate::FileRef) -> String {
        let expires = crate::timefmt::now_unix() + self.config.attachment_ttl.as_secs() as i64;
        format!(
            "{}/__files/{}/{}?expires={expires}&sig={}",
            self.base(),
            file.id,
            file.name,
            self.sign(&file.id, expires)
        )
    }
}

/// The token a simulator with `seed` accepts.
fn token_for(seed: u64) -> String {
    format!("sim_ic_{}", Rng::derive(seed, &["intercom-token"]).hex(20))
}

/// `(name, email)` of every admin of the generated workspace, in id order.
pub fn admin_identities(seed: u64, size: SizePreset) -> Vec<(String, String)> {
    let n = generate::Sizes::of(size).admins;
    (0..n).map(|i| render::admin_identity(seed, i)).collect()
}

/// Starts the simulator on `addr` (port 0 picks a free port).
pub async fn spawn(config: Config, addr: SocketAddr) -> std::io::Result<SimHandle> {
    Ok(spawn_kept(config, addr, None).await?.0)
}

/// What makes a workspace again: the generator's inputs (seed, size, the day its history ends,
/// planted records) and the touches and advances made since. `i2k demo` saves it beside the ledger, so a
/// quit demo resumes on the same workspace even on another day.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedWorkspace {
    pub seed: u64,
    pub size: SizePreset,
    pub hostile: bool,
    /// Midnight UTC of the day the workspace's history ends.
    pub anchor: i64,
    touches: Vec<truth::Touch>,
    /// The advances made since (`POST /__sim/advance`), replayed with the touches in order.
    #[serde(default)]
    advances: Vec<advance::Advance>,
}

/// Reads a served workspace for saving.
#[derive(Clone)]
pub struct Keeper(Shared);

impl Keeper {
    /// The workspace as it stands.
    pub fn save(&self) -> SavedWorkspace {
        let ws = self.0.workspace();
        SavedWorkspace {
            seed: ws.seed,
            size: self.0.config.size,
            hostile: ws.hostile.is_some(),
            anchor: ws.anchor,
            touches: ws.touches.clone(),
            advances: ws.advances.clone(),
        }
    }
}

/// Starts the simulator on `addr` serving the workspace `saved` describes (its seed, size and
/// hostility win over `config`'s), or today's, with a [`Keeper`] to save it later.
pub async fn spawn_kept(
    mut config: Config,
    addr: SocketAddr,
    saved: Option<SavedWorkspace>,
) -> std::io::Result<(SimHandle, Keeper)> {
    let (anchor, touches, advances) = match saved {
        Some(saved) => {
            config.seed = saved.seed;
            config.size = saved.size;
            config.hostile = saved.hostile;
            (saved.anchor, saved.touches, saved.advances)
        }
        None => (
            crate::timefmt::day_start(crate::timefmt::now_unix()),
            Vec::new(),
            Vec::new(),
        ),
    };
    let mut workspace = Workspace::generate(config.seed, config.size, anchor);
    if config.hostile {
        workspace.hostile = Some(hostile::Plan::plant(&mut workspace));
    }
    // Made again in the order they were made: each picks from what the ones before left.
    let mut touches = touches.into_iter().peekable();
    let mut advances = advances.into_iter().peekable();
    loop {
        let touch_first = match (touches.peek(), advances.peek()) {
            (Some(t), Some(a)) => t.seq <= a.seq,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if touch_first {
            if let Some(touch) = touches.next() {
                touch.apply(&mut workspace);
            }
        } else if let Some(made) = advances.next() {
            advance::apply(&mut workspace, &made.amounts, made.at);
        }
    }
    let token = token_for(config.seed);
    let state: Shared = std::sync::Arc::new(SimState {
        token: token.clone(),
        token_revoked: std::sync::atomic::AtomicBool::new(false),
        workspace: RwLock::new(workspace),
        base_url: OnceLock::new(),
        rate: RateWindow::new(config.rate_per_window),
        scrolls: Mutex::new(Scrolls::default()),
        requests: Mutex::new(RequestLog::default()),
        fault_rng: Mutex::new(Rng::derive(config.seed, &["intercom-faults"])),
        file_key: Rng::derive(config.seed, &["intercom-file-key"]).hex(16),
        failing: Default::default(),
        config,
    });
    let router = router(state.clone());
    let handle = SimHandle::serve(router, addr, token).await?;
    let _ = state.base_url.set(handle.url.clone());
    Ok((handle, Keeper(state)))
}

fn router(state: Shared) -> Router {
    let api = routes::api_routes()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api_gate,
        ))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "Resource Not Found") });
    let sim = Router::new()
        .route("/__sim/truth", axum::routing::get(truth::truth))
        .route(
            "/__sim/truth/activity_logs",
            axum::routing::get(activity_logs::truth),
        )
        .route("/__sim/requests", axum::routing::get(sim_requests))
        .route("/__sim/touch", axum::routing::post(truth::touch))
        .route("/__sim/advance", axum::routing::post(advance::advance))
        .route(
            "/__sim/fail",
            axum::routing::post(add_failing).delete(clear_failing),
        )
        .route(
            "/__sim/token/revoke",
            axum::routing::post(|State(state): State<Shared>| async move {
                set_token_revoked(&state, true)
            }),
        )
        .route(
            "/__sim/token/restore",
            axum::routing::post(|State(state): State<Shared>| async move {
                set_token_revoked(&state, false)
            }),
        )
        .route(
            "/__files/{id}/{name}",
            axum::routing::get(attachments::file_download),
        );
    sim.merge(api).with_state(state)
}

/// An `error.list` response; its `request_id` is a uuid, as the 2.16 `error` schema's
/// `format: uuid` and its examples have it.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let request_id = uuid(&mut Rng::from_entropy());
    (
        status,
        axum::Json(json!({
            "type": "error.list",
            "request_id": request_id,
            "errors": [{"code": code, "message": message}],
        })),
    )
        .into_response()
}

/// A uuid-shaped string (8-4-4-4-12 hex digits) drawn from `rng`.
fn uuid(rng: &mut Rng) -> String {
    let h = rng.hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `POST /__sim/token/revoke` and `/restore`: while revoked, every API request is refused 401
/// (a token that expires or is revoked in the middle of a run).
fn set_token_revoked(state: &SimState, revoked: bool) -> Response {
    state
        .token_revoked
        .store(revoked, std::sync::atomic::Ordering::SeqCst);
    axum::Json(json!({ "revoked": revoked })).into_response()
}

async fn sim_requests(State(state): State<Shared>) -> Response {
    let log = lock(&state.requests);
    axum::Json(json!({
        "count": log.count,
        "by_route": log.by_route,
        "throttled": log.throttled,
    }))
    .into_response()
}

fn set_rate_headers(response: &mut Response, d: rate::RateDecision) {
    crate::sim::faults::set_rate_headers(response.headers_mut(), d.limit, d.remaining, d.reset);
}

/// The path with its ids replaced by `{id}`, so requests group by route.
fn route_key(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let numeric = !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit());
            let hex_id = seg.len() == 24 && seg.bytes().all(|b| b.is_ascii_hexdigit());
            if numeric || hex_id { "{id}" } else { seg }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn add_failing(
    State(state): State<Shared>,
    axum::Json(rule): axum::Json<crate::sim::failing::Rule>,
) -> StatusCode {
    state.failing.add(rule);
    StatusCode::NO_CONTENT
}

async fn clear_failing(State(state): State<Shared>) -> StatusCode {
    state.failing.clear();
    StatusCode::NO_CONTENT
}

/// What Intercom does before any handler: count, auth, version, rate, latency, faults.
async fn api_gate(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let route = format!("{} {}", request.method(), route_key(request.uri().path()));
    {
        let mut log = lock(&state.requests);
        log.count += 1;
        *log.by_route.entry(route.clone()).or_insert(0) += 1;
    }
    let authorised = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| {
            t.trim() == state.token
                && !state
                    .token_revoked
                    .load(std::sync::atomic::Ordering::SeqCst)
        });
    if !authorised {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Access Token Invalid",
        );
    }
    let decision = state.rate.admit(crate::timefmt::now_unix());
    if let Some(version) = request.headers().get("intercom-version") {
        let known = version
            .to_str()
            .map(|v| KNOWN_VERSIONS.contains(&v.trim()))
            .unwrap_or(false);
        if !known {
            let mut response = error(
                StatusCode::BAD_REQUEST,
                "intercom_version_invalid",
                "The requested version could not be found",
            );
            set_rate_headers(&mut response, decision);
            return response;
        }
    }
    if !decision.allowed {
        lock(&state.requests).throttled += 1;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            &format!("Exceeded rate limit of {} in 10_seconds", decision.limit),
        );
        set_rate_headers(&mut response, decision);
        return response;
    }
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    match state
        .failing
        .strikes(request.method().as_str(), request.uri().path())
    {
        Some(crate::sim::failing::Strike::Refuse(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = error(status, "server_error", "Server Error (a /__sim/fail rule)");
            set_rate_headers(&mut response, decision);
            return response;
        }
        Some(crate::sim::failing::Strike::Garble) => {
            let status = next.run(request).await.status();
            let mut response =
                Response::new(axum::body::Body::from(crate::sim::failing::GARBLED_BODY));
            *response.status_mut() = status;
            set_rate_headers(&mut response, decision);
            return response;
        }
        None => {}
    }
    let fault = {
        let mut rng = lock(&state.fault_rng);
        state.config.faults.draw(Side::Intercom, &mut rng)
    };
    // A network error on the scroll kills it, as Intercom's reference describes: the client
    // cannot resume and must restart from the beginning.
    let continues_scroll = route == "GET /companies/scroll"
        && request
            .uri()
            .query()
            .is_some_and(|q| q.contains("scroll_param="));
    let kills_scroll = continues_scroll
        && fault.is_some_and(|f| {
            matches!(
                f.kind,
                FaultKind::ServerError | FaultKind::Timeout | FaultKind::Reset
            )
        });
    if kills_scroll && fault.is_some_and(|f| f.timing == Timing::BeforeWrite) {
        lock(&state.scrolls).kill();
    }
    let scroll_state = state.clone();
    let handler = async move {
        let response = next.run(request).await;
        if kills_scroll {
            lock(&scroll_state.scrolls).kill();
        }
        response
    };
    let mut response =
        crate::sim::faults::apply(fault, state.config.fault_hang, error, handler).await;
    if crate::sim::faults::set_throttle_headers(fault, decision.limit, response.headers_mut()) {
        lock(&state.requests).throttled += 1;
    } else {
        set_rate_headers(&mut response, decision);
    }
    response
}
