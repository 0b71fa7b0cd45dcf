//! `KustomerClient`: one typed method per route the phases use, all through the shared send path
//! (`crate::http::ApiClient`) and the Kustomer `RateGate` (the org-wide 60-second budget × the
//! migration's share).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::http::{
    ApiClient, ApiError, ApiSide, ClientConfig, GateConfig, RateGate, Reply, Request, Retry, Secret,
};
use crate::kustomer::assumptions;
use crate::kustomer::bulk::{JobClock, MAX_BULK_ITEMS};
use crate::kustomer::endpoints;
use crate::kustomer::models::{
    AttachmentRef, DayHours, Named, Page, Resource, Schedule, Team, TokenInfo, UploadTicket, User,
};
use crate::vocab::{CheckStatus, ConnectionInfo, ErrorClass};

/// Enterprise plan budget, until the server announces its own in `x-ratelimit-limit`.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 1000;
/// The share of the org budget the migration takes unless told otherwise (`--rate-share`).
pub const DEFAULT_RATE_SHARE: f64 = 0.8;
/// Most lists accept up to 100 per page.
pub const PAGE_SIZE: u32 = 100;
/// Users and teams lists accept up to 500 per page.
pub const PEOPLE_PAGE_SIZE: u32 = 500;
/// A guard against a server whose pages never end.
pub(super) const MAX_PAGES: u32 = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum KustomerError {
    #[error(
        "Kustomer rejected the API key (401 {message}): check KUSTOMER_API_KEY, its expiry, and that the URL is the key's region or org host"
    )]
    Unauthorized { message: String, request: String },
    #[error(
        "the Kustomer API key lacks a role for {request} (403 {message}): create a key with the roles the README lists under `Before a real migration` → `Roles the API key needs` (`i2k doctor` names the missing ones; roles cannot be edited)"
    )]
    Forbidden { message: String, request: String },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("Kustomer answered {request} without {missing}: {response}")]
    Unexpected {
        request: String,
        missing: &'static str,
        response: String,
    },
    #[error("a bulk request takes 1 to {MAX_BULK_ITEMS} items, not {0}")]
    BulkSize(usize),
    #[error("bulk item {client_ref:?} is invalid: {why}")]
    BulkItem {
        client_ref: String,
        why: &'static str,
    },
    #[error("bulk job {job_id} still {status} after {waited:?}; poll it again later")]
    JobTimeout {
        job_id: String,
        status: String,
        waited: Duration,
    },
    #[error("cannot read {path} for upload: {message}")]
    File { path: String, message: String },
}

impl KustomerError {
    pub fn class(&self) -> ErrorClass {
        match self {
            KustomerError::Unauthorized { .. } => ErrorClass::Unauthorized,
            KustomerError::Forbidden { .. } => ErrorClass::Auth,
            KustomerError::Api(e) => e.class(),
            KustomerError::Unexpected { .. } | KustomerError::BulkItem { .. } => {
                ErrorClass::Rejected
            }
            KustomerError::BulkSize(_) => ErrorClass::Mapping,
            KustomerError::JobTimeout { .. } => ErrorClass::Unknown,
            KustomerError::File { .. } => ErrorClass::Source,
        }
    }

    /// A single create refused because the externalId exists: resolve by lookup, do not resend.
    pub fn is_duplicate(&self) -> bool {
        self.http_refusal(assumptions::is_duplicate_refusal)
    }

    /// A create refused because the route does not exist on this org (see
    /// `assumptions::is_absent_route`), not because of its body.
    pub fn is_absent_route(&self) -> bool {
        self.http_refusal(assumptions::is_absent_route)
    }

    /// An HTTP answer that `reads` (status, code, message) as its kind of refusal.
    fn http_refusal(&self, reads: fn(u16, &str, &str) -> bool) -> bool {
        match self {
            KustomerError::Api(ApiError::Http {
                status,
                code,
                message,
                ..
            }) => reads(*status, code, message),
            _ => false,
        }
    }

    /// The redacted request and response, for the ledger and the Errors screen.
    pub fn exchange(&self) -> (String, String) {
        match self {
            KustomerError::Api(e) => (e.request().to_string(), e.response().to_string()),
            KustomerError::Unauthorized { request, message }
            | KustomerError::Forbidden { request, message } => (request.clone(), message.clone()),
            KustomerError::Unexpected {
                request, response, ..
            } => (request.clone(), response.clone()),
            _ => (String::new(), String::new()),
        }
    }
}

pub type Result<T, E = KustomerError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct KustomerClient {
    api: ApiClient,
    token_hint: String,
    /// Submit→complete times of the bulk jobs this client submitted (see `bulk`).
    pub(super) jobs: Arc<Mutex<JobClock>>,
}

impl KustomerClient {
    /// Wraps an existing send path (its gate is the Kustomer gate).
    pub fn new(api: ApiClient) -> KustomerClient {
        KustomerClient {
            api,
            token_hint: "set".to_string(),
            jobs: Arc::default(),
        }
    }

    /// A client with its own gate: `limit_per_minute` × `share` of the org budget per 60 s.
    pub fn connect(
        base_url: &str,
        token: Secret,
        limit_per_minute: u32,
        share: f64,
    ) -> Result<KustomerClient> {
        let config = ClientConfig::new(ApiSide::Kustomer, base_url, token);
        KustomerClient::from_config(config, GateConfig::kustomer(limit_per_minute, share))
    }

    /// A client with its own gate from explicit settings (timeouts, attempts, backoff).
    pub fn from_config(config: ClientConfig, gate: GateConfig) -> Result<KustomerClient> {
        let token_hint = config.token.hint();
        let mut client = KustomerClient::new(ApiClient::new(config, RateGate::new(gate))?);
        client.token_hint = token_hint;
        Ok(client)
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    pub fn gate(&self) -> &Arc<RateGate> {
        self.api.gate()
    }

    pub fn set_rate_share(&self, share: f64) {
        self.api.gate().set_share(share);
    }

    // ---- the send path -------------------------------------------------------------------

    pub(super) async fn send(&self, req: Request) -> Result<Reply> {
        match self.api.send(req).await {
            Ok(reply) => Ok(reply),
            Err(ApiError::Http {
                status: 401,
                message,
                request,
                ..
            }) => Err(KustomerError::Unauthorized { message, request }),
            Err(ApiError::Http {
                status: 403,
                message,
                request,
                ..
            }) => Err(KustomerError::Forbidden { message, request }),
            Err(e) => Err(e.into()),
        }
    }

    fn resource(reply: &Reply) -> Result<Resource> {
        Resource::from_body(&reply.body).ok_or_else(|| KustomerError::Unexpected {
            request: reply.request.clone(),
            missing: "a data object with an id",
            response: reply.response.clone(),
        })
    }

    async fn create(&self, path: &str, body: Value) -> Result<Resource> {
        let reply = self.send(Request::post(path, body)).await?;
        Self::resource(&reply)
    }

    /// A PUT of the fields given, retried as idempotent: the record as it now stands.
    async fn replace(&self, path: String, body: Value) -> Result<Resource> {
        let reply = self
            .send(Request::put(path, body).retry(Retry::Idempotent))
            .await?;
        Self::resource(&reply)
    }

    /// A direct externalId lookup: 404 (or an empty `data`) is `None`, and so is a record whose
    /// own `externalId` differs (a lookup must never adopt a stranger).
    async fn find(&self, path: String, external_id: &str) -> Result<Option<Resource>> {
        match self.send(Request::get(path)).await {
            Ok(reply) => Ok(Resource::from_body(&reply.body)
                .filter(|r| r.external_id().is_none_or(|x| x == external_id))),
            Err(KustomerError::Api(e)) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page (`page` from 1) of a list route.
    pub async fn page(
        &self,
        path: &str,
        query: &[(&str, &str)],
        page: u32,
        page_size: u32,
    ) -> Result<Page> {
        let mut req = Request::get(path)
            .query("page", page)
            .query("pageSize", page_size);
        for (k, v) in query {
            req = req.query(k, v);
        }
        let reply = self.send(req).await?;
        Ok(Page::from_body(&reply.body))
    }

    /// Walks every page of a list route. Continues while the API gives a `links.next`, or, when
    /// it gives no links, while pages come back full.
    pub async fn list_all(
        &self,
        path: &str,
        query: &[(&str, &str)],
        page_size: u32,
    ) -> Result<Vec<Resource>> {
        let mut out = Vec::new();
        for page_no in 1..=MAX_PAGES {
            let page = self.page(path, query, page_no, page_size).await?;
            let fetched = (out.len() + page.items.len()) as u64;
            let more = page.more_after(fetched, page_size);
            out.extend(page.items);
            if !more {
                break;
            }
        }
        Ok(out)
    }

    /// Every record of a list route that takes no filter, at the usual page size.
    async fn list_whole(&self, path: &str) -> Result<Vec<Resource>> {
        self.list_all(path, &[], PAGE_SIZE).await
    }

    /// How many records a list route holds: `meta.total` when the API gives it, else by walking
    /// the pages (never through search, whose index lags).
    pub async fn count(&self, path: &str, query: &[(&str, &str)]) -> Result<u64> {
        let first = self.page(path, query, 1, PAGE_SIZE).await?;
        if let Some(total) = first.total {
            return Ok(total);
        }
        let mut count = first.items.len() as u64;
        let mut more = first.more_after(count, PAGE_SIZE);
        let mut page_no = 2;
        while more && page_no <= MAX_PAGES {
            let page = self.page(path, query, page_no, PAGE_SIZE).await?;
            count += page.items.len() as u64;
            more = page.more_after(count, PAGE_SIZE);
            page_no += 1;
        }
        Ok(count)
    }

    // ---- connection ----------------------------------------------------------------------

    pub async fn token_current(&self) -> Result<TokenInfo> {
        let reply = self.send(Request::get(endpoints::TOKEN_CURRENT)).await?;
        Ok(TokenInfo::from_body(&reply.body))
    }

    pub async fn current_user(&self) -> Result<User> {
        let reply = self.send(Request::get(endpoints::USERS_CURRENT)).await?;
        Ok(User::from_resource(&Self::resource(&reply)?))
    }

    /// What `i2k doctor` and the Connect screen show: key validity and roles, org name, the
    /// key's user, and the budget the server announced.
    pub async fn check_connection(&self) -> ConnectionInfo {
        let url = self.api.base_url().to_string();
        let mut info = ConnectionInfo {
            side: "kustomer".into(),
            region: region_of(&url).map(str::to_string),
            url,
            status: CheckStatus::Pass,
            name: None,
            api_version: Some("v1".into()),
            rate_limit: None,
            rate_window_secs: Some(60),
            token: self.token_hint.clone(),
            token_refused: false,
            roles: Vec::new(),
            detail: None,
        };
        match self.token_current().await {
            Ok(token) => {
                info.name = token.org_name;
                info.roles = token.roles;
            }
            Err(e) => {
                info.token_refused = matches!(
                    e,
                    KustomerError::Unauthorized { .. }
                        | KustomerError::Api(ApiError::Http { status: 401, .. })
                );
                info.status = CheckStatus::Fail;
                info.detail = Some(e.to_string());
                return info;
            }
        }
        match self.current_user().await {
            Ok(user) => {
                if info.name.is_none() {
                    info.name = user.email.clone().or(Some(user.name.clone()));
                }
            }
            Err(e) => {
                info.status = CheckStatus::Warn;
                info.detail = Some(format!("the key works but /v1/users/current failed: {e}"));
            }
        }
        let budget = self.gate().budget();
        if budget.limit > 0 {
            info.rate_limit = Some(budget.limit);
        }
        info
    }

    // ---- users, teams, prerequisites -----------------------------------------------------

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let all = self
            .list_all(endpoints::USERS, &[], PEOPLE_PAGE_SIZE)
            .await?;
        Ok(all.iter().map(User::from_resource).collect())
    }

    /// Users with this email (`GET /v1/users?email=`), usually zero or one.
    pub async fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
        let page = self
            .page(endpoints::USERS, &[("email", email)], 1, PAGE_SIZE)
            .await?;
        Ok(page
            .items
            .iter()
            .map(User::from_resource)
            .filter(|u| {
                u.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .collect())
    }

    /// Creates a user. **Kustomer emails an invitation** to `email`; there is no documented way
    /// to create a user without it, so the operator must choose this explicitly.
    pub async fn invite_user(&self, name: &str, email: &str) -> Result<User> {
        let r = self
            .create(endpoints::USERS, json!({ "name": name, "email": email }))
            .await?;
        Ok(User::from_resource(&r))
    }

    pub async fn list_teams(&self) -> Result<Vec<Team>> {
        let all = self
            .list_all(endpoints::TEAMS, &[], PEOPLE_PAGE_SIZE)
            .await?;
        Ok(all.iter().map(Team::from_resource).collect())
    }

    /// Creates a team with its members (Kustomer user ids).
    pub async fn create_team(
        &self,
        name: &str,
        members: &[String],
        external_id: Option<&str>,
    ) -> Result<Team> {
        let mut body = json!({ "name": name, "displayName": name, "members": members });
        if let Some(x) = external_id {
            body["externalId"] = json!(x);
        }
        Ok(Team::from_resource(
            &self.create(endpoints::TEAMS, body).await?,
        ))
    }

    pub async fn list_brands(&self) -> Result<Vec<Named>> {
        self.list_named(endpoints::BRANDS).await
    }

    /// `iconUrl` is required by Kustomer.
    pub async fn create_brand(&self, name: &str, icon_url: &str) -> Result<Named> {
        let r = self
            .create(
                endpoints::BRANDS,
                json!({ "name": name, "iconUrl": icon_url }),
            )
            .await?;
        Ok(Named::from_resource(&r))
    }

    pub async fn list_schedules(&self) -> Result<Vec<Schedule>> {
        let all = self.list_whole(endpoints::SCHEDULES).await?;
        Ok(all.iter().map(Schedule::from_resource).collect())
    }

    /// `hours[0]` is Sunday; intervals are minutes from midnight, sorted and non-overlapping.
    pub async fn create_schedule(
        &self,
        name: &str,
        hours: &[DayHours; 7],
        timezone: &str,
        is_default: bool,
    ) -> Result<Schedule> {
        let body = json!({
            "name": name,
            "hours": Schedule::hours_body(hours),
            "timezone": timezone,
            "default": is_default,
        });
        Ok(Schedule::from_resource(
            &self.create(endpoints::SCHEDULES, body).await?,
        ))
    }

    pub async fn list_klasses(&self) -> Result<Vec<Named>> {
        self.list_named(endpoints::KLASSES).await
    }

    /// `body` is the klass definition (`name`, `displayName`, `icon`, `color`, …).
    pub async fn create_klass(&self, body: Value) -> Result<Named> {
        Ok(Named::from_resource(
            &self.create(endpoints::KLASSES, body).await?,
        ))
    }

    async fn list_named(&self, path: &str) -> Result<Vec<Named>> {
        let all = self.list_whole(path).await?;
        Ok(all.iter().map(Named::from_resource).collect())
    }

    // ---- metadata ------------------------------------------------------------------------

    /// `GET /v1/metadata/{resource}`, the raw body (`data.attributes.properties…`).
    pub async fn get_metadata(&self, resource: &str) -> Result<Value> {
        Ok(self
            .send(Request::get(endpoints::metadata(resource)))
            .await?
            .body)
    }

    /// `PUT /v1/metadata/{resource}` (idempotent; safe to repeat).
    pub async fn put_metadata(&self, resource: &str, body: Value) -> Result<Value> {
        Ok(self
            .send(Request::put(endpoints::metadata(resource), body))
            .await?
            .body)
    }

    // ---- companies, customers ------------------------------------------------------------

    pub async fn create_company(&self, body: Value) -> Result<Resource> {
        self.create(endpoints::COMPANIES, body).await
    }

    /// `GET /v1/companies?externalId=`, keeping only an exact match (a server that ignored the
    /// filter must not make a stranger look like ours).
    pub async fn company_by_external_id(&self, external_id: &str) -> Result<Option<Resource>> {
        let page = match self
            .page(
                endpoints::COMPANIES,
                &[("externalId", external_id)],
                1,
                PAGE_SIZE,
            )
            .await
        {
            Ok(page) => page,
            Err(KustomerError::Api(e)) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(page
            .items
            .into_iter()
            .find(|r| r.external_id() == Some(external_id)))
    }

    pub async fn create_customer(&self, body: Value) -> Result<Resource> {
        self.create(endpoints::CUSTOMERS, body).await
    }

    /// `PUT /v1/customers/{id}` (`UpdateCustomer`): the fields given replace theirs (`tags`
    /// replaces the whole list).
    pub async fn update_customer(&self, id: &str, body: Value) -> Result<Resource> {
        self.replace(endpoints::customer(id), body).await
    }

    /// `PUT /v1/companies/{id}` (`UpdateCompanyAttributes`), as [`Self::update_customer`].
    pub async fn update_company(&self, id: &str, body: Value) -> Result<Resource> {
        self.replace(endpoints::company(id), body).await
    }

    pub async fn customer_by_external_id(&self, external_id: &str) -> Result<Option<Resource>> {
        self.find(endpoints::customer_by_external_id(external_id), external_id)
            .await
    }

    // ---- conversations, messages, notes, tags ---------------------------------------------

    pub async fn create_conversation(&self, body: Value) -> Result<Resource> {
        self.create(endpoints::CONVERSATIONS, body).await
    }

    /// Final states and the like (`status`, `snooze`, `ended*`).
    pub async fn patch_conversation(&self, id: &str, body: Value) -> Result<Resource> {
        let reply = self
            .send(Request::patch(endpoints::conversation(id), body))
            .await?;
        Self::resource(&reply)
    }

    pub async fn conversation_by_external_id(&self, external_id: &str) -> Result<Option<Resource>> {
        self.find(
            endpoints::conversation_by_external_id(external_id),
            external_id,
        )
        .await
    }

    /// Appends tags by name; Kustomer creates names it does not know. Appending twice is
    /// harmless, so this is retried like an idempotent request.
    pub async fn add_conversation_tags(&self, id: &str, tags: &[String]) -> Result<()> {
        let req =
            Request::post(endpoints::conversation_tags(id), json!(tags)).retry(Retry::Idempotent);
        self.send(req).await?;
        Ok(())
    }

    pub async fn create_conversation_message(
        &self,
        conversation_id: &str,
        body: Value,
    ) -> Result<Resource> {
        self.create(&endpoints::conversation_messages(conversation_id), body)
            .await
    }

    pub async fn message_by_external_id(&self, external_id: &str) -> Result<Option<Resource>> {
        self.find(endpoints::message_by_external_id(external_id), external_id)
            .await
    }

    pub async fn conversation_messages(&self, conversation_id: &str) -> Result<Vec<Resource>> {
        self.list_whole(&endpoints::conversation_messages(conversation_id))
            .await
    }

    pub async fn create_conversation_note(
        &self,
        conversation_id: &str,
        body: Value,
    ) -> Result<Resource> {
        self.create(&endpoints::conversation_notes(conversation_id), body)
            .await
    }

    pub async fn conversation_notes(&self, conversation_id: &str) -> Result<Vec<Resource>> {
        self.list_whole(&endpoints::conversation_notes(conversation_id))
            .await
    }

    /// Notes have no externalId route: the conversation's notes, matched on externalId.
    pub async fn note_by_external_id(
        &self,
        conversation_id: &str,
        external_id: &str,
    ) -> Result<Option<Resource>> {
        Ok(self
            .conversation_notes(conversation_id)
            .await?
            .into_iter()
            .find(|n| n.external_id() == Some(external_id)))
    }

    pub async fn list_tags(&self) -> Result<Vec<Named>> {
        self.list_named(endpoints::TAGS).await
    }

    /// Every tag of the org, its id by name.
    pub async fn tag_ids_by_name(&self) -> Result<std::collections::HashMap<String, String>> {
        Ok(self
            .list_tags()
            .await?
            .into_iter()
            .map(|t| (t.name, t.id))
            .collect())
    }

    /// UNCONFIRMED route: see `assumptions::TAGS_CREATE_PATH`.
    pub async fn create_tag(&self, name: &str) -> Result<Named> {
        let r = self
            .create(
                assumptions::TAGS_CREATE_PATH,
                assumptions::tag_create_body(name),
            )
            .await?;
        Ok(Named::from_resource(&r))
    }

    // ---- attachments, tracking, kobjects ---------------------------------------------------

    /// Step 1 of an upload: registers the attachment and gets the upload form.
    pub async fn create_attachment(
        &self,
        name: &str,
        content_type: &str,
        content_length: u64,
    ) -> Result<UploadTicket> {
        let body =
            json!({ "name": name, "contentType": content_type, "contentLength": content_length });
        let reply = self
            .send(Request::post(endpoints::ATTACHMENTS, body))
            .await?;
        UploadTicket::from_body(&reply.body).ok_or_else(|| KustomerError::Unexpected {
            request: reply.request.clone(),
            missing: "data.id and meta.upload.{url, fields}",
            response: reply.response.clone(),
        })
    }

    /// The whole flow: register, upload the file (form fields, then the file last), and return
    /// the reference a message or note carries. `registered` hears the attachment's id as soon
    /// as Kustomer has issued it, before the file goes up, so that a caller can keep it and
    /// later ask [`Self::attachment_uploaded`] instead of uploading the file a second time.
    pub async fn upload_attachment<R, RF>(
        &self,
        file: &Path,
        name: &str,
        content_type: &str,
        registered: R,
    ) -> Result<AttachmentRef>
    where
        R: FnOnce(String) -> RF,
        RF: std::future::Future<Output = ()>,
    {
        let length = tokio::fs::metadata(file)
            .await
            .map_err(|e| KustomerError::File {
                path: file.display().to_string(),
                message: e.to_string(),
            })?
            .len();
        let ticket = self.create_attachment(name, content_type, length).await?;
        registered(ticket.id.clone()).await;
        self.api
            .upload_form(&ticket.url, &ticket.fields, file, name, content_type)
            .await?;
        Ok(AttachmentRef {
            id: ticket.id,
            name: name.to_string(),
            content_type: content_type.to_string(),
            content_length: length,
        })
    }

    /// `GET /v1/attachments/{id}`: whether the attachment's file is stored (`uploaded`); `None`
    /// when there is no such attachment.
    pub async fn attachment_uploaded(&self, id: &str) -> Result<Option<bool>> {
        match self
            .send(Request::get(format!("{}/{id}", endpoints::ATTACHMENTS)))
            .await
        {
            Ok(reply) => Ok(Resource::from_body(&reply.body).map(|r| {
                r.attributes
                    .get("uploaded")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            })),
            Err(KustomerError::Api(e)) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/tracking/identityEvent` `{identity, event}`; answers 204. Stamped at receipt:
    /// the API takes no event time.
    pub async fn identity_event(&self, identity: Value, event: Value) -> Result<()> {
        let body = json!({ "identity": identity, "event": event });
        self.send(Request::post(endpoints::TRACKING_IDENTITY_EVENT, body))
            .await?;
        Ok(())
    }

    pub async fn create_kobject(&self, klass: &str, body: Value) -> Result<Resource> {
        self.create(&endpoints::kobjects(klass), body).await
    }

    /// `PUT /v1/klasses/{klass}/{id}` (`UpdateKObject`): the fields given replace theirs.
    pub async fn update_kobject(&self, klass: &str, id: &str, body: Value) -> Result<Resource> {
        self.replace(endpoints::kobject(klass, id), body).await
    }

    pub async fn kobject_by_external_id(
        &self,
        klass: &str,
        external_id: &str,
    ) -> Result<Option<Resource>> {
        self.find(
            endpoints::kobject_by_external_id(klass, external_id),
            external_id,
        )
        .await
    }

    // ---- saved searches, shortcuts, knowledge base -----------------------------------------

    pub async fn list_saved_searches(&self) -> Result<Vec<Named>> {
        self.list_named(endpoints::SAVED_SEARCHES).await
    }

    /// UNCONFIRMED create: see `assumptions::SAVED_SEARCH_CREATE_PATH`.
    pub async fn create_saved_search(&self, body: Value) -> Result<Named> {
        Ok(Named::from_resource(
            &self
                .create(assumptions::SAVED_SEARCH_CREATE_PATH, body)
                .await?,
        ))
    }

    pub async fn list_shortcuts(&self) -> Result<Vec<Named>> {
        self.list_named(endpoints::SHORTCUTS).await
    }

    /// UNCONFIRMED create body: see `assumptions::SHORTCUT_CREATE_PATH`.
    pub async fn create_shortcut(&self, body: Value) -> Result<Named> {
        Ok(Named::from_resource(
            &self.create(assumptions::SHORTCUT_CREATE_PATH, body).await?,
        ))
    }

    /// The org's knowledge bases (one per brand; `default: true` is the default brand's). The
    /// listing path is assumed: see `assumptions::KNOWLEDGE_BASES_PATH`.
    pub async fn list_knowledge_bases(&self) -> Result<Vec<Named>> {
        self.list_named(assumptions::KNOWLEDGE_BASES_PATH).await
    }

    pub async fn list_kb_categories(&self) -> Result<Vec<Resource>> {
        self.list_whole(endpoints::KB_CATEGORIES).await
    }

    /// UNCONFIRMED: see `assumptions::KB_CATEGORY_CREATE_PATH`.
    pub async fn create_kb_category(&self, body: Value) -> Result<Resource> {
        self.create(assumptions::KB_CATEGORY_CREATE_PATH, body)
            .await
    }

    pub async fn list_kb_articles(&self) -> Result<Vec<Resource>> {
        self.list_whole(endpoints::KB_ARTICLES).await
    }

    /// `GET /v1/kb/articles/{id}` (its `langVersions` name each language's current and draft
    /// version).
    pub async fn get_kb_article(&self, id: &str) -> Result<Resource> {
        let reply = self
            .send(Request::get(format!("{}/{id}", endpoints::KB_ARTICLES)))
            .await?;
        Self::resource(&reply)
    }

    /// Creates the article and its empty draft in the source language.
    pub async fn create_kb_article(&self, body: Value) -> Result<Resource> {
        self.create(endpoints::KB_ARTICLES, body).await
    }

    /// A new version (another language or a revision) of an article.
    pub async fn create_kb_version(
        &self,
        article_id: &str,
        lang: &str,
        body: Value,
    ) -> Result<Resource> {
        self.create(&endpoints::kb_article_version(article_id, lang), body)
            .await
    }

    /// Fills the draft of a language; with `publishedAt` in `body` it publishes.
    pub async fn update_kb_version(
        &self,
        article_id: &str,
        lang: &str,
        body: Value,
    ) -> Result<Resource> {
        // Not idempotent: a PUT that publishes consumes the draft, so sent again after its
        // answer was lost it is refused (no draft left). A lost answer is the caller's to
        // settle by looking the version up, as for a create.
        let reply = self
            .send(
                Request::put(endpoints::kb_article_version(article_id, lang), body)
                    .retry(Retry::Create),
            )
            .await?;
        Self::resource(&reply)
    }
}

/// The Kustomer region a base URL points at, when it says: the first host part it contains.
pub fn region_of(url: &str) -> Option<&'static str> {
    const HOSTS: [(&str, &str); 4] = [
        ("api.prod2.kustomerapp.com", "eu"),
        ("api.prod4.kustomerapp.com", "in"),
        ("://api.kustomerapp.com", "us"),
        (".api.kustomerapp.com", "org host"),
    ];
    HOSTS
        .iter()
        .find(|(host, _)| url.contains(host))
        .map(|(_, region)| *region)
}
