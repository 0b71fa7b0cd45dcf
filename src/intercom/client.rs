//! `IntercomClient`: every read i2k makes of Intercom, on the shared send path (`crate::http`), and
//! `Pager`, which walks one listing page by page in the style its endpoint uses. A pager's
//! position can be saved after any page (`Pager::position`) and a new pager started from it, so an
//! interrupted extraction resumes where it stopped. A listing whose cursor or page repeats ends
//! with a warning instead of looping.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::endpoints::{self, MAX_PER_PAGE, Searchable, WholeList};
use super::lenient::id_from_value;
use super::models::{Me, Pages};
use crate::http::{
    ApiClient, ApiError, ApiSide, ClientConfig, Downloaded, GateConfig, RateGate, Request, Secret,
};

/// Intercom's default budget per 10-second window (10,000 per minute) until it announces its own.
pub const DEFAULT_RATE_PER_WINDOW: u32 = 1667;
/// Scroll restarts after which the companies listing gives up (each restart reads from the start).
const MAX_SCROLL_RESTARTS: u32 = 8;
/// Companies per scroll page; a shorter page is the last ("full (100), then partial, then 404").
const SCROLL_FULL_PAGE: usize = 100;
const DAY_SECS: i64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum IntercomError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(
        "another companies scroll is open on this workspace (scroll_exists) and stayed open for {waited_secs} s; \
         stop the other export (only one scroll per app) and try again"
    )]
    ScrollBusy { waited_secs: u64 },
    #[error(
        "the companies scroll was lost {restarts} times in a row (HTTP 500/404 mid-scroll); try again later"
    )]
    ScrollLost { restarts: u32 },
}

impl IntercomError {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            IntercomError::Api(e) => Some(e),
            _ => None,
        }
    }
}

/// Timing of the companies scroll, shortened by tests.
#[derive(Debug, Clone, Copy)]
pub struct ScrollTiming {
    /// Pause between attempts while another scroll is open (`scroll_exists`).
    pub busy_poll: Duration,
    /// Longest total wait on `scroll_exists`: one scroll idle timeout (60 s) plus margin.
    pub busy_max: Duration,
}

impl Default for ScrollTiming {
    fn default() -> Self {
        ScrollTiming {
            busy_poll: Duration::from_secs(5),
            busy_max: Duration::from_secs(75),
        }
    }
}

/// A client of one Intercom workspace. Cheap to clone; clones share the rate gate.
#[derive(Clone)]
pub struct IntercomClient {
    api: ApiClient,
    scroll: ScrollTiming,
}

impl IntercomClient {
    /// A client pinned to API version 2.16 with its own rate gate (`rate_per_window` requests per
    /// 10 s until the server's `X-RateLimit-Limit` says otherwise).
    pub fn connect(
        base_url: &str,
        token: Secret,
        rate_per_window: u32,
    ) -> Result<IntercomClient, ApiError> {
        IntercomClient::connect_with(
            ClientConfig::new(ApiSide::Intercom, base_url, token),
            rate_per_window,
        )
    }

    /// As [`IntercomClient::connect`], with the caller's timeouts and attempts (e.g. a quick check).
    pub fn connect_with(
        mut config: ClientConfig,
        rate_per_window: u32,
    ) -> Result<IntercomClient, ApiError> {
        config.headers.push((
            "Intercom-Version".into(),
            crate::config::INTERCOM_VERSION.into(),
        ));
        let gate = RateGate::new(GateConfig::intercom(rate_per_window));
        Ok(IntercomClient::from_api(ApiClient::new(config, gate)?))
    }

    /// Wraps a configured `ApiClient` (it must send `Intercom-Version`).
    pub fn from_api(api: ApiClient) -> IntercomClient {
        IntercomClient {
            api,
            scroll: ScrollTiming::default(),
        }
    }

    pub fn with_scroll_timing(mut self, timing: ScrollTiming) -> IntercomClient {
        self.scroll = timing;
        self
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    pub fn gate(&self) -> &Arc<RateGate> {
        self.api.gate()
    }

    /// `GET /me`: the token's admin and workspace, with the raw answer.
    pub async fn me(&self) -> Result<(Me, Value), ApiError> {
        let reply = self.api.get(endpoints::ME).await?;
        let me = serde_json::from_value(reply.body.clone()).unwrap_or_default();
        Ok((me, reply.body))
    }

    /// The body of `GET path`.
    async fn body(&self, path: &str) -> Result<Value, ApiError> {
        Ok(self.api.get(path).await?.body)
    }

    /// One of the unpaginated lists, whole.
    pub async fn whole_list(&self, list: WholeList) -> Result<Vec<Value>, ApiError> {
        let (path, query) = list.route();
        let mut req = Request::get(path);
        for (k, v) in query {
            req = req.query(k, v);
        }
        let reply = self.api.send(req).await?;
        Ok(take_array(reply.body, list.key()))
    }

    /// `GET /conversations/{id}` with HTML bodies (no `display_as=plaintext`): at most the 500
    /// most recent parts.
    pub async fn conversation(&self, id: &str) -> Result<Value, ApiError> {
        self.body(&endpoints::conversation(id)).await
    }

    /// `GET /contacts/{id}`: a 404 says the contact was deleted.
    pub async fn contact(&self, id: &str) -> Result<Value, ApiError> {
        self.body(&endpoints::contact(id)).await
    }

    pub async fn ticket(&self, id: &str) -> Result<Value, ApiError> {
        self.body(&endpoints::ticket(id)).await
    }

    /// A contact's segments (not paginated).
    pub async fn contact_segments(&self, contact_id: &str) -> Result<Vec<Value>, ApiError> {
        let body = self.body(&endpoints::contact_segments(contact_id)).await?;
        Ok(take_array(body, "data"))
    }

    /// `GET /events?type=user&intercom_user_id=…&summary=true`: counts of every event name, of
    /// every age (listing returns only the last 90 days).
    pub async fn event_summary(&self, contact_id: &str) -> Result<Value, ApiError> {
        let req = Request::get(endpoints::EVENTS)
            .query("type", "user")
            .query("intercom_user_id", contact_id)
            .query("summary", "true");
        Ok(self.api.send(req).await?.body)
    }

    /// `GET /export/workflows/{id}`: one workflow's export, raw.
    pub async fn workflow_export(&self, id: &str) -> Result<Value, ApiError> {
        self.body(&endpoints::workflow_export(id)).await
    }

    /// `GET /articles/{id}/versions/{version_id}`: one historical version with its body.
    pub async fn article_version(
        &self,
        article_id: &str,
        version_id: &str,
    ) -> Result<Value, ApiError> {
        self.body(&endpoints::article_version(article_id, version_id))
            .await
    }

    /// A schedule's office-hours exceptions (not paginated).
    pub async fn office_hours_exceptions(&self, schedule_id: &str) -> Result<Vec<Value>, ApiError> {
        let body = self
            .body(&endpoints::office_hours_exceptions(schedule_id))
            .await?;
        Ok(take_array(body, "data"))
    }

    /// Downloads an attachment URL (without the bearer token) into `dest`.
    pub async fn download(&self, url: &str, dest: &Path) -> Result<Downloaded, ApiError> {
        self.api.download(url, dest).await
    }

    /// A pager over `listing`, from its start or from a saved position.
    pub fn pager(&self, listing: Listing, from: Option<Position>) -> Pager {
        Pager::new(self.clone(), listing, from)
    }
}

/// Moves the array under `key` out of a response body; a missing key is an empty list.
fn take_array(mut body: Value, key: &str) -> Vec<Value> {
    match body.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// A paginated listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "style", rename_all = "snake_case")]
pub enum Listing {
    /// `POST /{x}/search`, cursor in the body, sorted by `updated_at` ascending. With `since`,
    /// only records updated from the day before `since`'s day (date filters match whole days).
    Search {
        object: Searchable,
        since: Option<i64>,
    },
    /// `GET /companies/scroll`: single worker, restarts from the start when the scroll is lost.
    CompaniesScroll,
    /// `GET path?page=N&per_page=M`, records under `key`.
    Paged {
        path: String,
        key: String,
        per_page: u32,
    },
    /// `GET path?per_page=M&starting_after=C`, cursor from `pages.next.starting_after` (macros).
    QueryCursor {
        path: String,
        key: String,
        per_page: u32,
    },
    /// A contact's recent data events, following `pages.next` URLs.
    Events { contact_id: String },
    /// `GET path?created_at_after=T&starting_after=C` (admin activity logs, 2.16): the window's
    /// start is required; cursor from `pages.next.starting_after`.
    CreatedAfter {
        path: String,
        key: String,
        created_at_after: i64,
    },
}

impl Listing {
    pub fn search(object: Searchable, since: Option<i64>) -> Listing {
        Listing::Search { object, since }
    }

    pub fn paged(path: impl Into<String>, key: &str, per_page: u32) -> Listing {
        Listing::Paged {
            path: path.into(),
            key: key.into(),
            per_page,
        }
    }

    pub fn collections() -> Listing {
        Listing::paged("/help_center/collections", "data", MAX_PER_PAGE)
    }

    pub fn articles() -> Listing {
        Listing::paged("/articles", "data", MAX_PER_PAGE)
    }

    pub fn article_versions(article_id: &str) -> Listing {
        Listing::paged(
            endpoints::article_versions(article_id),
            "data",
            MAX_PER_PAGE,
        )
    }

    /// One of a contact's or company's sub-lists (records under `data`, small pages).
    fn sub_list(path: String) -> Listing {
        Listing::paged(path, "data", endpoints::SUB_LIST_PER_PAGE)
    }

    pub fn contact_notes(contact_id: &str) -> Listing {
        Listing::sub_list(endpoints::contact_notes(contact_id))
    }

    pub fn company_notes(company_id: &str) -> Listing {
        Listing::sub_list(endpoints::company_notes(company_id))
    }

    pub fn contact_tags(contact_id: &str) -> Listing {
        Listing::sub_list(endpoints::contact_tags(contact_id))
    }

    pub fn contact_companies(contact_id: &str) -> Listing {
        Listing::sub_list(endpoints::contact_companies(contact_id))
    }

    pub fn macros() -> Listing {
        Listing::QueryCursor {
            path: "/macros".into(),
            key: "data".into(),
            per_page: endpoints::MACROS_PER_PAGE,
        }
    }

    /// Every admin activity log created after `created_at_after` (unix seconds).
    pub fn activity_logs(created_at_after: i64) -> Listing {
        Listing::CreatedAfter {
            path: endpoints::ACTIVITY_LOGS.into(),
            key: "activity_logs".into(),
            created_at_after,
        }
    }

    pub fn events(contact_id: &str) -> Listing {
        Listing::Events {
            contact_id: contact_id.into(),
        }
    }
}

/// Where a listing stands after a page: enough to continue it in a later process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Search and query cursors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_after: Option<String>,
    /// Page-numbered lists: the next page to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<u32>,
    /// Link-following lists: the next URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_url: Option<String>,
}

/// One page of records, raw.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub records: Vec<Value>,
    /// The listing's total, when the API says (`total_count`).
    pub total: Option<u64>,
    /// The position after this page, to save for a resume; `None` once the listing is complete.
    pub position: Option<Position>,
    /// The scroll was lost and restarted since the previous page: records will be seen again.
    pub restarted: bool,
    /// Problems worth telling the operator (a repeating cursor, a scroll restart).
    pub warnings: Vec<String>,
}

/// Walks one listing. Call [`Pager::next_page`] until it returns `Ok(None)`.
pub struct Pager {
    client: IntercomClient,
    listing: Listing,
    position: Position,
    done: bool,
    seen_cursors: HashSet<String>,
    previous_first_id: Option<String>,
    scroll: ScrollState,
    requests: u64,
}

#[derive(Debug, Default)]
struct ScrollState {
    param: Option<String>,
    largest_page: usize,
    last_page: usize,
    restarts: u32,
}

impl Pager {
    fn new(client: IntercomClient, listing: Listing, from: Option<Position>) -> Pager {
        Pager {
            client,
            listing,
            position: from.unwrap_or_default(),
            done: false,
            seen_cursors: HashSet::new(),
            previous_first_id: None,
            scroll: ScrollState::default(),
            requests: 0,
        }
    }

    pub fn listing(&self) -> &Listing {
        &self.listing
    }

    /// Requests this pager has sent (retries inside the send path not counted).
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The next page, or `None` when the listing is complete.
    pub async fn next_page(&mut self) -> Result<Option<Page>, IntercomError> {
        if self.done {
            return Ok(None);
        }
        let page = match self.listing.clone() {
            Listing::Search { object, since } => self.search_page(object, since).await?,
            Listing::CompaniesScroll => self.scroll_page().await?,
            Listing::Paged {
                path,
                key,
                per_page,
            } => self.numbered_page(&path, &key, per_page).await?,
            Listing::QueryCursor {
                path,
                key,
                per_page,
            } => self.query_cursor_page(&path, &key, per_page).await?,
            Listing::Events { contact_id } => self.events_page(&contact_id).await?,
            Listing::CreatedAfter {
                path,
                key,
                created_at_after,
            } => {
                let req = Request::get(path).query("created_at_after", created_at_after);
                self.cursor_page(req, &key).await?
            }
        };
        Ok(Some(page))
    }

    /// Ends the listing after this page.
    fn finish(&mut self, page: &mut Page) {
        self.done = true;
        page.position = None;
    }

    /// After a page with records, moves the position on to `next` (a cursor or a URL, kept in the
    /// field `at` picks); without records or a `next`, or with a `next` seen before, the listing
    /// ends.
    fn advance(
        &mut self,
        page: &mut Page,
        next: Option<&str>,
        at: fn(&mut Position) -> &mut Option<String>,
    ) {
        match next {
            Some(next) if !page.records.is_empty() => {
                if !self.repeated(next, page) {
                    *at(&mut self.position) = Some(next.to_string());
                    page.position = Some(self.position.clone());
                }
            }
            _ => self.finish(page),
        }
    }

    /// The cursor came back before: the server is looping; stop rather than loop forever.
    fn repeated(&mut self, cursor: &str, page: &mut Page) -> bool {
        if self.seen_cursors.insert(cursor.to_string()) {
            return false;
        }
        page.warnings.push(format!(
            "{}: the API returned cursor {cursor} a second time; the listing ends here",
            self.describe()
        ));
        self.finish(page);
        true
    }

    /// A page whose first record is the previous page's first record: the page did not move.
    fn page_repeats(&mut self, records: &[Value], page: &mut Page) -> bool {
        let first = records
            .first()
            .and_then(|r| r.get("id"))
            .and_then(id_from_value)
            .map(|i| i.0);
        let repeats = first.is_some() && first == self.previous_first_id;
        self.previous_first_id = first;
        if repeats {
            page.warnings.push(format!(
                "{}: the API returned the same page twice; the listing ends here",
                self.describe()
            ));
            page.records.clear();
            self.finish(page);
        }
        repeats
    }

    fn describe(&self) -> String {
        match &self.listing {
            Listing::Search { object, .. } => object.path().to_string(),
            Listing::CompaniesScroll => endpoints::COMPANIES_SCROLL.to_string(),
            Listing::Paged { path, .. }
            | Listing::QueryCursor { path, .. }
            | Listing::CreatedAfter { path, .. } => path.clone(),
            Listing::Events { contact_id } => format!("/events of contact {contact_id}"),
        }
    }

    async fn send(&mut self, req: Request) -> Result<Value, ApiError> {
        self.requests += 1;
        Ok(self.client.api.send(req).await?.body)
    }

    async fn search_page(
        &mut self,
        object: Searchable,
        since: Option<i64>,
    ) -> Result<Page, IntercomError> {
        let mut pagination = json!({ "per_page": MAX_PER_PAGE });
        if let Some(cursor) = &self.position.starting_after {
            pagination["starting_after"] = json!(cursor);
        }
        let body = json!({
            "query": search_query(since),
            "pagination": pagination,
            "sort": { "field": "updated_at", "order": "ascending" },
        });
        // A search changes nothing: resending it after a lost answer is safe.
        let req = Request::search(object.path(), body);
        let body = self.send(req).await?;
        let pages = Pages::of(&body);
        let total = body.get("total_count").and_then(Value::as_u64);
        let mut page = Page {
            records: take_array(body, object.key()),
            total,
            ..Page::default()
        };
        self.advance(&mut page, pages.starting_after(), |p| &mut p.starting_after);
        Ok(page)
    }

    async fn numbered_page(
        &mut self,
        path: &str,
        key: &str,
        per_page: u32,
    ) -> Result<Page, IntercomError> {
        let number = self.position.next_page.unwrap_or(1).max(1);
        let req = Request::get(path)
            .query("page", number)
            .query("per_page", per_page);
        let body = self.send(req).await?;
        let pages = Pages::of(&body);
        let total = body.get("total_count").and_then(Value::as_u64);
        let records = take_array(body, key);
        let mut page = Page {
            records: records.clone(),
            total,
            ..Page::default()
        };
        if self.page_repeats(&records, &mut page) {
            return Ok(page);
        }
        // Some sub-lists carry no `pages` at all: then a short page is the last.
        let more = if body_has_pages(&pages) {
            pages.has_next_page()
        } else {
            records.len() as u32 >= per_page
        };
        if more && !records.is_empty() {
            self.position.next_page = Some(number + 1);
            page.position = Some(self.position.clone());
        } else {
            self.finish(&mut page);
        }
        Ok(page)
    }

    async fn query_cursor_page(
        &mut self,
        path: &str,
        key: &str,
        per_page: u32,
    ) -> Result<Page, IntercomError> {
        let req = Request::get(path).query("per_page", per_page);
        self.cursor_page(req, key).await
    }

    /// One page of a `GET` listing whose cursor is `pages.next.starting_after`.
    async fn cursor_page(&mut self, mut req: Request, key: &str) -> Result<Page, IntercomError> {
        if let Some(cursor) = &self.position.starting_after {
            req = req.query("starting_after", cursor);
        }
        let body = self.send(req).await?;
        let pages = Pages::of(&body);
        let mut page = Page {
            records: take_array(body, key),
            ..Page::default()
        };
        self.advance(&mut page, pages.starting_after(), |p| &mut p.starting_after);
        Ok(page)
    }

    async fn events_page(&mut self, contact_id: &str) -> Result<Page, IntercomError> {
        let req = match &self.position.next_url {
            Some(url) => Request::get(url.clone()),
            None => Request::get(endpoints::EVENTS)
                .query("type", "user")
                .query("intercom_user_id", contact_id)
                .query("per_page", MAX_PER_PAGE),
        };
        let body = self.send(req).await?;
        let pages = Pages::of(&body);
        let mut page = Page {
            records: take_array(body, "events"),
            ..Page::default()
        };
        self.advance(&mut page, pages.next_url(), |p| &mut p.next_url);
        Ok(page)
    }

    /// One step of the companies scroll. A 500 or a 404 in the middle of a scroll means it was
    /// lost (a network error, another client opening its own scroll, the idle timeout): scrolls
    /// cannot resume, so it starts again from the beginning. `400 scroll_exists` means another
    /// scroll is open: wait for it to expire. The end is a page with no companies — or, on the
    /// real API, a 404 right after a short page.
    async fn scroll_page(&mut self) -> Result<Page, IntercomError> {
        let mut page = Page::default();
        let mut busy_since: Option<tokio::time::Instant> = None;
        loop {
            let mut req = Request::get(endpoints::COMPANIES_SCROLL);
            if let Some(param) = &self.scroll.param {
                req = req.query("scroll_param", param);
            }
            match self.send(req).await {
                Ok(body) => {
                    let param = body
                        .get("scroll_param")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    let records = take_array(body, "data");
                    if records.is_empty() {
                        self.finish(&mut page);
                        return Ok(page);
                    }
                    if self.page_repeats(&records, &mut page) {
                        return Ok(page);
                    }
                    self.scroll.largest_page = self.scroll.largest_page.max(records.len());
                    self.scroll.last_page = records.len();
                    match param {
                        Some(p) => self.scroll.param = Some(p),
                        None => {
                            // Without a scroll parameter there is no next page to ask for.
                            self.finish(&mut page);
                        }
                    }
                    page.records = records;
                    return Ok(page);
                }
                Err(err) if err.code() == Some("scroll_exists") => {
                    let started = *busy_since.get_or_insert_with(tokio::time::Instant::now);
                    if started.elapsed() >= self.client.scroll.busy_max {
                        return Err(IntercomError::ScrollBusy {
                            waited_secs: started.elapsed().as_secs(),
                        });
                    }
                    tokio::time::sleep(self.client.scroll.busy_poll).await;
                }
                Err(err) if self.scroll.param.is_none() && err.is_not_found() => {
                    // A workspace without companies answers the first call with 404.
                    self.finish(&mut page);
                    return Ok(page);
                }
                Err(err) if self.scroll.param.is_some() && scroll_lost(&err) => {
                    let short_page =
                        self.scroll.last_page < self.scroll.largest_page.max(SCROLL_FULL_PAGE);
                    if err.is_not_found() && short_page {
                        // The real API's undocumented end of scroll: a short page, then 404.
                        self.finish(&mut page);
                        return Ok(page);
                    }
                    self.scroll.restarts += 1;
                    if self.scroll.restarts > MAX_SCROLL_RESTARTS {
                        return Err(IntercomError::ScrollLost {
                            restarts: self.scroll.restarts - 1,
                        });
                    }
                    page.restarted = true;
                    page.warnings.push(format!(
                        "{}: the scroll was lost ({err}); reading the companies again from the start",
                        endpoints::COMPANIES_SCROLL
                    ));
                    self.scroll.param = None;
                    self.previous_first_id = None;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
}

fn body_has_pages(pages: &Pages) -> bool {
    pages.page.is_some() || pages.total_pages.is_some() || pages.next.is_some()
}

/// A scroll continuation that failed in a way that kills the scroll.
fn scroll_lost(err: &ApiError) -> bool {
    match err {
        ApiError::Http { status, .. } => *status == 404 || *status >= 500,
        ApiError::Transport { .. } | ApiError::Decode { .. } => true,
        ApiError::Ambiguous { .. } => false,
    }
}

/// The search query: everything, or everything updated since the day before `since`'s day.
/// Intercom's date filters match whole days and `>` starts at the next day, so `> D-2` matches
/// from the start of day `D-1` on.
pub fn search_query(since: Option<i64>) -> Value {
    let after = match since {
        Some(t) => crate::timefmt::day_start(t) - 2 * DAY_SECS,
        None => 0,
    };
    json!({ "field": "updated_at", "operator": ">", "value": after.max(0) })
}
