//! The HTTP routes of the Intercom simulator: the table of API routes, and the envelopes, refusals,
//! paging and searching the handlers of every resource share. The handlers live one file per
//! resource family beside this one; the `/__sim/` helpers in `truth.rs`, attachment files in
//! `attachments.rs`.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::{Value, json};

use super::contacts::field_sample;
use super::generate::{self as g, Workspace};
use super::render as r;
use super::search::{self, DateSemantics, FieldValue, SearchRequest};
use super::{Shared, SimState, error};
use super::{companies, contacts, conversations, events, help_center, macros, tickets, workspace};

/// A request's query parameters.
pub(super) type QueryMap = HashMap<String, String>;
pub(super) type Params = Query<QueryMap>;

pub fn api_routes() -> Router<Shared> {
    Router::new()
        .route("/me", get(workspace::me))
        .route("/admins", get(workspace::admins))
        .route(
            "/admins/{id}",
            numbered_record(g::ADMIN_ID_BASE, |ws| ws.sizes.admins, r::admin, "Admin"),
        )
        .route("/teams", get(workspace::teams))
        .route("/tags", get(workspace::tags))
        .route("/segments", get(workspace::segments))
        .route("/data_attributes", get(workspace::data_attributes))
        .route(
            "/conversations/attributes",
            get(workspace::conversation_attributes),
        )
        .route("/companies/scroll", get(companies::companies_scroll))
        .route(
            "/companies/{company_id}",
            companies::under_company(companies::company_by_id),
        )
        .route(
            "/companies/{company_id}/contacts",
            companies::under_company(companies::company_contacts),
        )
        .route(
            "/companies/{company_id}/segments",
            companies::under_company(companies::company_segments),
        )
        .route(
            "/companies/{company_id}/notes",
            companies::under_company(companies::company_notes),
        )
        .route("/contacts", get(contacts::contacts_list))
        .route("/contacts/search", post(contacts::contacts_search))
        .route(
            "/contacts/{contact_id}",
            contacts::under_contact(contacts::contact_by_id),
        )
        .route(
            "/contacts/{contact_id}/tags",
            contacts::under_contact(contacts::contact_tags),
        )
        .route(
            "/contacts/{contact_id}/companies",
            get(contacts::contact_companies),
        )
        .route(
            "/contacts/{contact_id}/notes",
            contacts::under_contact(contacts::contact_notes),
        )
        .route(
            "/contacts/{contact_id}/segments",
            contacts::under_contact(contacts::contact_segments),
        )
        .route(
            "/conversations/search",
            exact_search(&conversations::SEARCH),
        )
        .route(
            "/conversations/{conversation_id}",
            get(conversations::conversation_by_id),
        )
        .route("/help_center/collections", get(help_center::collections))
        .route("/articles", get(help_center::articles))
        .route(
            "/articles/{article_id}",
            help_center::under_article(help_center::article_by_id),
        )
        .route(
            "/articles/{article_id}/versions",
            help_center::under_article(help_center::article_versions),
        )
        .route(
            "/articles/{article_id}/versions/{id}",
            get(help_center::article_version),
        )
        .route("/events", get(events::events))
        .route("/tickets/search", exact_search(&tickets::SEARCH))
        .route(
            "/tickets/{ticket_id}",
            numbered_record(
                g::TICKET_ID_BASE,
                |ws| ws.sizes.tickets,
                r::ticket,
                "Ticket",
            ),
        )
        .route("/ticket_types", get(tickets::ticket_types))
        .route("/brands", get(workspace::brands))
        .route("/office_hours_schedules", get(workspace::schedules))
        .route(
            "/office_hours_schedules/{office_hours_schedule_id}/office_hours_exceptions",
            get(workspace::schedule_exceptions),
        )
        .route("/macros", get(macros::macros))
        .route("/export/workflows/{id}", get(macros::workflow_export))
        .merge(super::activity_logs::api_routes())
}

pub(super) fn ok(v: Value) -> Response {
    Json(v).into_response()
}

pub(super) fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("{what} Not Found"),
    )
}

pub(super) fn bad_request(code: &str, message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

/// A 400 refusal, answered as an `error.list`; small enough to travel in a `Result`.
pub(super) struct Refusal {
    code: &'static str,
    message: String,
}

/// What a handler that may be refused answers: `?` on a [`Refusal`] answers the 400.
pub(super) type Answer = Result<Response, Refusal>;

impl Refusal {
    pub(super) fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        bad_request(self.code, &self.message)
    }
}

/// `per_page` and `page` from the query, with a default and the documented maximum of 150.
pub(super) fn page_params(
    q: &HashMap<String, String>,
    default: usize,
) -> Result<(usize, usize), Refusal> {
    let per_page = match q.get("per_page") {
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=150).contains(n))
            .ok_or_else(|| {
                Refusal::new("parameter_invalid", "per_page must be between 1 and 150")
            })?,
        None => default,
    };
    let page = match q.get("page") {
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| Refusal::new("parameter_invalid", "page must be 1 or more"))?,
        None => 1,
    };
    Ok((per_page, page))
}

/// A page-numbered `list` envelope over `total` items, `render` giving item `i`.
pub(super) fn paged_list(
    total: usize,
    per_page: usize,
    page: usize,
    render: impl Fn(usize) -> Value,
) -> Value {
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = (start + per_page).min(total);
    let data: Vec<Value> = (start..end).map(render).collect();
    let total_pages = total.div_ceil(per_page);
    let mut pages =
        json!({"type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages});
    if page < total_pages {
        pages["next"] = json!({"page": page + 1, "per_page": per_page, "starting_after": null});
    }
    json!({"type": "list", "data": data, "total_count": total, "pages": pages})
}

/// A page-numbered `list` envelope over `total` items, paged as the query asks (`per_page`
/// defaulting to `default`), or the 400 its paging parameters earn.
pub(super) fn paged(
    q: &HashMap<String, String>,
    default: usize,
    total: usize,
    render: impl Fn(usize) -> Value,
) -> Response {
    match page_params(q, default) {
        Ok((per_page, page)) => ok(paged_list(total, per_page, page, render)),
        Err(e) => e.into_response(),
    }
}

/// What a `GET` under one record's path answers, given the record's index in the workspace and
/// the query.
pub(super) type UnderRecord = fn(&SimState, &Workspace, usize, &QueryMap) -> Response;

/// A `GET` route under one record's path (`/{id}` and below): `find` reads the path's id in the
/// workspace, `missing` answers an id it does not know, `answer` the rest.
pub(super) fn record_route(
    find: fn(&Workspace, &str) -> Option<usize>,
    missing: fn() -> Response,
    answer: UnderRecord,
) -> MethodRouter<Shared> {
    get(
        move |State(st): State<Shared>, Path(id): Path<String>, Query(q): Params| {
            let response = with_record(
                &st,
                |ws| find(ws, &id),
                missing,
                |ws, i| answer(&st, ws, i, &q),
            );
            std::future::ready(response)
        },
    )
}

/// Answers `answer` on the record index `find` reads in the workspace, or `missing` where it
/// finds none: what every handler under one record's path starts with.
pub(super) fn with_record<R: IntoResponse>(
    st: &SimState,
    find: impl FnOnce(&Workspace) -> Option<usize>,
    missing: impl FnOnce() -> Response,
    answer: impl FnOnce(&Workspace, usize) -> R,
) -> Response {
    let ws = st.workspace();
    match find(&ws) {
        Some(i) => answer(&ws, i).into_response(),
        None => missing(),
    }
}

/// `GET /{id}` of a record numbered from `base` (admins, tickets): `render` gives record `i` of
/// the `count` the workspace holds; an id out of range gets the generic 404 naming `what`.
pub(super) fn numbered_record(
    base: u64,
    count: fn(&Workspace) -> usize,
    render: fn(&Workspace, usize) -> Value,
    what: &'static str,
) -> MethodRouter<Shared> {
    get(move |State(st): State<Shared>, Path(id): Path<String>| {
        let ws = st.workspace();
        let found = g::parse_numeric(&id, base, count(&ws)).map(|i| render(&ws, i));
        std::future::ready(found_or_404(found, what))
    })
}

/// The record `found`, or the generic 404 naming `what`.
pub(super) fn found_or_404(found: Option<Value>, what: &str) -> Response {
    match found {
        Some(v) => ok(v),
        None => not_found(what),
    }
}

/// An unpaged list: `{"type": list_type, key: items}`.
pub(super) fn listing(list_type: &str, key: &str, items: impl Iterator<Item = Value>) -> Response {
    let items: Vec<Value> = items.collect();
    ok(json!({"type": list_type, key: items}))
}

/// The cursor envelope of `GET /contacts` and the searches.
pub(super) fn cursor_pages(offset: usize, per_page: usize, total: usize) -> Value {
    let mut pages = json!({
        "type": "pages",
        "page": offset / per_page + 1,
        "per_page": per_page,
        "total_pages": total.div_ceil(per_page),
    });
    if offset + per_page < total {
        pages["next"] = json!({"per_page": per_page, "starting_after": search::encode_cursor(offset + per_page)});
    }
    pages
}

pub(super) fn parse_body(body: Result<Json<Value>, JsonRejection>) -> Result<Value, Refusal> {
    match body {
        Ok(Json(v)) => Ok(v),
        Err(e) => Err(Refusal::new(
            "parameter_invalid",
            format!("invalid JSON body: {e}"),
        )),
    }
}

/// Runs one search over `total` records; returns the page of indices and the match count.
pub(super) fn run_search(
    req: &SearchRequest,
    total: usize,
    exists: &dyn Fn(usize) -> bool,
    get: &dyn Fn(usize, &str) -> Option<FieldValue>,
    dates: DateSemantics,
    sort_key: &dyn Fn(usize, &str) -> Option<i64>,
) -> (Vec<usize>, usize) {
    let mut hits: Vec<usize> = (0..total)
        .filter(|i| exists(*i) && search::matches(&req.filter, &|f| get(*i, f), dates))
        .collect();
    if let Some(field) = &req.sort_field {
        // Keys computed once per hit: a key per comparison is too slow on 250k records.
        let mut keyed: Vec<(i64, usize)> = hits
            .iter()
            .map(|i| (sort_key(*i, field).unwrap_or(0), *i))
            .collect();
        keyed.sort_unstable();
        if !req.ascending {
            keyed.reverse();
        }
        hits = keyed.into_iter().map(|(_, i)| i).collect();
    }
    let n = hits.len();
    let page = hits
        .into_iter()
        .skip(req.offset)
        .take(req.per_page)
        .collect();
    (page, n)
}

/// Reads one field of record `i`.
pub(super) type ReadField = fn(&Workspace, usize) -> FieldValue;

/// A search with exact dates over one kind of record (conversations, tickets), answered as a
/// cursor page of `list` (its type, its key).
pub(super) struct ExactSearch {
    /// The only fields a search may filter on, each with what reads it of record `i`.
    pub fields: &'static [(&'static str, ReadField)],
    /// How many records the workspace holds (deleted ones too).
    pub total: fn(&Workspace) -> usize,
    /// Whether record `i` still exists (an advance may have deleted it).
    pub exists: fn(&Workspace, usize) -> bool,
    pub list: (&'static str, &'static str),
    /// A hit's JSON.
    pub render: fn(&SimState, &Workspace, usize) -> Value,
}

/// The `POST …/search` route of `search`: hits sort on a date or number (else in index order).
pub(super) fn exact_search(search: &'static ExactSearch) -> MethodRouter<Shared> {
    post(
        move |State(st): State<Shared>, body: Result<Json<Value>, JsonRejection>| {
            std::future::ready(search.answer(&st, body))
        },
    )
}

impl ExactSearch {
    /// Field `name` of record `i`, when both exist.
    fn field(&self, ws: &Workspace, i: usize, name: &str) -> Option<FieldValue> {
        let (_, read) = self.fields.iter().find(|(field, _)| *field == name)?;
        (i < (self.total)(ws)).then(|| read(ws, i))
    }

    fn answer(&self, st: &SimState, body: Result<Json<Value>, JsonRejection>) -> Response {
        let ws = st.workspace();
        let searchable = |f: &str| self.fields.iter().any(|(field, _)| *field == f);
        let sample = |f: &str| field_sample(f).filter(|_| searchable(f));
        let req = match search_request(body, 20, DateSemantics::Exact, &sample) {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
        let field = |i: usize, f: &str| self.field(&ws, i, f);
        let (page, total) = run_search(
            &req,
            (self.total)(&ws),
            &|i| (self.exists)(&ws, i),
            &field,
            DateSemantics::Exact,
            &|i, f| sort_value(field(i, f), i),
        );
        let hits: Vec<Value> = page
            .into_iter()
            .map(|i| (self.render)(st, &ws, i))
            .collect();
        let (list_type, key) = self.list;
        ok(
            json!({"type": list_type, key: hits, "total_count": total, "pages": cursor_pages(req.offset, req.per_page, total)}),
        )
    }
}

pub(super) fn sort_value(v: Option<FieldValue>, i: usize) -> Option<i64> {
    match v {
        Some(FieldValue::Date(t)) | Some(FieldValue::Int(t)) => Some(t),
        _ => Some(i as i64),
    }
}

pub(super) fn search_request(
    body: Result<Json<Value>, JsonRejection>,
    default_per_page: usize,
    dates: DateSemantics,
    sample: &dyn Fn(&str) -> Option<FieldValue>,
) -> Result<SearchRequest, Refusal> {
    let body = parse_body(body)?;
    let req = search::parse_request(&body, default_per_page)
        .map_err(|(code, msg)| Refusal::new(code, msg))?;
    search::validate(&req.filter, sample, dates).map_err(|(code, msg)| Refusal::new(code, msg))?;
    Ok(req)
}
