//! Simulator of Kustomer's REST API, served by axum on loopback: a fresh org that stores what it
//! receives and enforces what the reference (`api/kustomer.md`) says the real API enforces.
//!
//! Conventions: JSON:API envelopes (`data{type,id,attributes,relationships,links}`; lists add
//! `meta{page,pageSize,total}` and `links{self,first,prev,next}`, `next: null` at the end), flat
//! JSON request bodies, 24-character lower-hex ids, a bearer token on every `/v1/` path (401
//! without or with a wrong one, checked before routing as Kustomer checks the key first: an
//! unknown `/v1/` path is a 401 without a valid bearer and a JSON:API 404 `not_found` with one;
//! it counts against the budget like any request). The one API key holds every role
//! (`GET /v1/auth/tokens/current`), and its machine user is `GET /v1/users/current`.
//!
//! **Published request types** (see [`published`]): by default a body field that Kustomer's
//! published request type for the route does not allow is a 400 naming it. Org variants
//! (`i2k sim` options): `--no-org-admin` (message and note `createdAt`/`createdBy` silently
//! re-stamped with now and the key's user), `--no-tags-route` (`POST /v1/tags` is a 404),
//! `--batches-as-array`, `--duplicate-status N` (instead of 409), `--lenient-bodies`.
//!
//! Choices where the reference is silent (each is a named assumption):
//! - **Errors**: most routes answer `{"errors":[{status,code,title,detail,source,meta}]}`; the
//!   other documented shape `{"errors":[{code,message,meta}]}` is used by 401s, the org-wide and
//!   search 429s, injected faults, bulk-envelope refusals, tracking and the storage route.
//! - **Org-wide budget**: `rate_per_minute` requests per fixed 60-second window (default 1,000),
//!   `x-ratelimit-limit/-remaining/-reset` on every API answer (`reset` in epoch seconds), 429
//!   over budget; no `Retry-After` (unconfirmed). Storage uploads do not count; one bulk request
//!   counts once.
//! - **Per-customer creates**: 120 per minute per customer for conversations, messages, notes and
//!   kobjects (429), lifted by `importedAt` in the body, bulk items included (their refusal lands
//!   in the item's result).
//! - **externalId**: unique for customers (a second create gets 409; a bulk item gets
//!   `"duplicate detected"`). Every other type accepts a repeat and records it in the ground
//!   truth's `duplicates`: Kustomer documents no uniqueness there, so i2k must not rely on one.
//! - **Custom attributes**: the name's suffix decides the type (`Str`, `Txt` ≤ 1,024 chars, `Num`,
//!   `At`, `Bool`, `Url`, `Id` which needs metadata first); a wrong-typed value or an unknown
//!   suffix is a 400 naming the attribute (`source.pointer` `/custom/<name>`).
//! - **Validation**: required fields, company name 3–255 chars, ≤ 10 emails/phones, message
//!   `channel` and `app` required, conversation create status only `open|done`, a body wrapped in
//!   `data.attributes` is refused (Kustomer says not to wrap bodies).
//! - **Search** (`POST /v1/customers/search`) sees a record only after `indexing_delay`; the
//!   machine user may search 100 times per minute.
//! - **Tags**: `POST /v1/tags {name}` is an assumption (see `customers::TAG_CREATE_ASSUMPTION`);
//!   customers' `tags` take existing tag ids (unknown → 400); conversation tag append creates
//!   unknown names.
//! - **Bulk**: see [`bulk`]; **attachments and storage**: see [`attachments`]; **KB, saved
//!   searches, shortcuts, tracking**: see [`content`] for the assumed bodies.
//! - **Fresh org**: the agents as users (most by the same e-mail, the second missing, the third
//!   under another e-mail, see `org::seed`), the key's machine user, a default brand with the
//!   default knowledge base (plus each of `extra_brands` with its own), a default schedule
//!   (with one holiday, readable with `include=holidays`), standard metadata for customer,
//!   company, conversation and message, no klasses, no custom attributes, no teams, no tags.
//! - **Holidays**: `include=holidays` works on `GET /v1/schedules` (the list; the reference shows
//!   it on the single and default forms only) as on those: the page's schedules' holidays in
//!   `included[]`, and each schedule linking them as `relationships.holidays.data[{type,id}]`
//!   (JSON:API linkage; the reference shows only the holiday's `schedule` relationship).
//! - **Sub-resource lists** (paged like every list, behind the same gate):
//!   `GET /v1/customers/{id}/conversations` and `…/notes` (the customer's, via the conversation's
//!   customer); `GET /v1/conversations/{id}/attachments` is the attachments its messages and notes
//!   reference, each once, messages first (the reference names the route, not what it holds).
//!   Not served because the reference names no such read: a `GET` list of saved-search folders
//!   (only `POST`, `PUT|DELETE …/folders/{id}` and `GET …/searches/positions`) and a read of an
//!   article's versions (only `POST|PUT|DELETE /v1/kb/articles/{id}/versions/{lang}`; the
//!   article's `langVersions` carries them).
//! - **Deletes**: only the delete routes Kustomer publishes, see [`delete`] (cascades, freed
//!   externalIds, soft-deleted schedules).
//! - **Faults** (`--faults`, `kustomer.` prefix or unprefixed): drawn per request on every `/v1/`
//!   path (routed or not) after auth and the budget; not on `/__sim/` nor the storage route.
//! - **Ground truth**: `GET /__sim/truth` and `GET /__sim/records/{type}`, see [`truth`].

pub mod attachments;
pub mod bulk;
pub mod content;
pub mod conversations;
pub mod customers;
pub mod delete;
pub mod envelope;
pub mod gate;
pub mod klasses;
pub mod org;
pub mod published;
pub mod records;
pub mod state;
pub mod truth;
pub mod validation;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;

use crate::rng::Rng;
use crate::sim::SimHandle;
use crate::sim::faults::FaultSpec;
pub use state::SavedOrg;
use state::{Sim, Store};

/// How the simulated org behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    /// Org-wide requests per 60 s (Enterprise: 1,000).
    pub rate_per_minute: u32,
    /// Added to every API answer.
    pub latency: Duration,
    /// Each bulk job completes after a random delay ≤ this.
    pub bulk_delay_max: Duration,
    /// How long a new record stays invisible to search.
    pub indexing_delay: Duration,
    pub faults: FaultSpec,
    /// How long an injected timeout holds its answer.
    pub fault_hang: Duration,
    /// `(name, email)` of the Intercom admins the org's users are derived from.
    pub agents: Vec<(String, String)>,
    /// The largest JSON request body accepted; a larger one is a 413 in the JSON:API error shape.
    /// Kustomer documents no figure; 2 MB is a common default for JSON APIs.
    pub max_body_bytes: usize,
    /// Refuse (400, naming it) any body field Kustomer's published request type for the route
    /// does not allow (see [`published`]). On by default.
    pub strict: bool,
    /// The key holds `org.admin`. Without it, `createdAt`/`createdBy` on messages and notes are
    /// silently replaced by now and the key's user, as Kustomer documents.
    pub org_admin: bool,
    /// Serve `POST /v1/tags` (a route no published type or doc page names). Off: 404.
    pub tags_route: bool,
    /// Answer `GET /v1/bulk/{id}/batches` as a bare JSON array (Kustomer's bulk guide's
    /// drawing) instead of a JSON:API `data` envelope.
    pub batches_as_array: bool,
    /// The status of a create refused for a duplicate externalId (undocumented; 409 by default).
    pub duplicate_status: u16,
    /// Brands the org has besides its default one, each with its own knowledge base (Kustomer:
    /// one knowledge base per brand; the default brand's is the org's default knowledge base).
    pub extra_brands: Vec<String>,
}

/// The simulator's default request body limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

impl Config {
    pub fn new(seed: u64, agents: Vec<(String, String)>) -> Config {
        Config {
            seed,
            rate_per_minute: 1000,
            latency: Duration::ZERO,
            bulk_delay_max: Duration::from_secs(2),
            indexing_delay: Duration::from_secs(120),
            faults: FaultSpec::none(),
            fault_hang: Duration::from_secs(30),
            agents,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            strict: true,
            org_admin: true,
            tags_route: true,
            batches_as_array: false,
            duplicate_status: 409,
            extra_brands: Vec::new(),
        }
    }
}

impl Config {
    /// The Kustomer side of the shared simulator options (`i2k sim`, `demo`, `bench`).
    /// Errors name the offending `--faults` entry.
    pub fn from_options(
        options: &crate::sim::SimOptions,
        agents: Vec<(String, String)>,
    ) -> Result<Config, String> {
        let mut config = Config::new(options.seed, agents);
        config.rate_per_minute = options.kustomer_rate;
        config.latency = Duration::from_millis(options.latency_ms);
        config.bulk_delay_max = Duration::from_millis(options.bulk_delay_ms);
        config.indexing_delay = Duration::from_millis(options.indexing_delay_ms);
        config.faults = FaultSpec::parse(&options.faults)?;
        config.fault_hang = Duration::from_millis(options.fault_hang_ms);
        config.max_body_bytes = options.kustomer_max_body_bytes;
        config.strict = !options.lenient_bodies;
        config.org_admin = !options.no_org_admin;
        config.tags_route = !options.no_tags_route;
        config.batches_as_array = options.batches_as_array;
        if !(400..500).contains(&options.duplicate_status) {
            return Err(format!(
                "--duplicate-status {} is not a 4xx status",
                options.duplicate_status
            ));
        }
        config.duplicate_status = options.duplicate_status;
        config.extra_brands = options.extra_brand.clone();
        Ok(config)
    }
}

/// The API key the simulator accepts for `seed`.
pub fn token_for(seed: u64) -> String {
    format!("ksim_{}", Rng::derive(seed, &["kustomer", "token"]).hex(20))
}

/// Builds the router. The gate wraps every route and the fallback, so it runs for any path
/// before routing decides anything: a `/v1/` path without a valid bearer is a 401 whether or not
/// the route exists. The gate lets `/__sim/` and the storage route through untouched.
pub fn router(config: Config) -> (Router, String) {
    let (router, token, _) = router_on(fresh_org(&config), config);
    (router, token)
}

/// The org a fresh simulator starts with.
fn fresh_org(config: &Config) -> Store {
    let mut store = Store::new(config.seed, config.indexing_delay);
    org::seed(&mut store, config);
    store
}

/// The router serving `store`, its token and the state its handlers share.
fn router_on(store: Store, config: Config) -> (Router, String, Sim) {
    let token = token_for(config.seed);
    let body_limit = axum::extract::DefaultBodyLimit::max(config.max_body_bytes);
    let sim = Sim::new(config, token.clone(), store);
    let kept = sim.clone();
    let router = Router::new()
        .merge(org::routes())
        .merge(customers::routes())
        .merge(conversations::routes())
        .merge(klasses::routes())
        .merge(bulk::routes())
        .merge(attachments::routes())
        .merge(content::routes())
        .merge(delete::routes())
        .merge(truth::routes())
        .merge(attachments::storage_routes())
        .fallback(gate::no_route)
        // Inside the gate: the key and the budget are checked before the body is read.
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            published::enforce,
        ))
        // Outside the routes' own layers: the upload route keeps its larger limit.
        .layer(body_limit)
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            gate::api_gate,
        ))
        .with_state(sim);
    (router, token, kept)
}

/// Serves a fresh simulated org on `addr` (port 0 picks a free port).
pub async fn spawn(config: Config, addr: SocketAddr) -> std::io::Result<SimHandle> {
    let (router, token) = router(config);
    SimHandle::serve(router, addr, token).await
}

/// Serves on `addr` the org `saved` holds (its unfinished bulk jobs run again), or a fresh one
/// without it, with a [`Keeper`] to save it later. `saved` must come from an org of the same
/// seed (the caller checks [`SavedOrg::seed`]): the users derive from it.
pub async fn spawn_kept(
    config: Config,
    addr: SocketAddr,
    saved: Option<SavedOrg>,
) -> std::io::Result<(SimHandle, Keeper)> {
    let store = match saved {
        Some(saved) => Store::restore(saved, config.indexing_delay),
        None => fresh_org(&config),
    };
    let (router, token, sim) = router_on(store, config);
    bulk::resume_jobs(&sim);
    let handle = SimHandle::serve(router, addr, token).await?;
    Ok((handle, Keeper(sim)))
}

/// Reads a served org for saving.
#[derive(Clone)]
pub struct Keeper(Sim);

impl Keeper {
    /// The org as it stands.
    pub fn save(&self) -> SavedOrg {
        self.0.lock().save(self.0.config().seed)
    }
}
