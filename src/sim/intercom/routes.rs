//! The HTTP handlers of the Intercom simulator: one per API route, plus the `/__sim/` helpers
//! (truth counts, touches) and the attachment file route.

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::generate::{self as g, Workspace};
use super::render as r;
use super::scroll::ScrollStep;
use super::search::{self, DateSemantics, FieldValue, SearchRequest};
use super::{Shared, error, lock};

type Params = Query<HashMap<String, String>>;

pub fn api_routes() -> Router<Shared> {
    Router::new()
        .route("/me", get(me))
        .route("/admins", get(admins))
        .route("/admins/{id}", get(admin_by_id))
        .route("/teams", get(teams))
        .route("/tags", get(tags))
        .route("/segments", get(segments))
        .route("/data_attributes", get(data_attributes))
        .route("/conversations/attributes", get(conversation_attributes))
        .route("/companies/scroll", get(companies_scroll))
        .route("/companies/{company_id}", get(company_by_id))
        .route("/companies/{company_id}/contacts", get(company_contacts))
        .route("/companies/{company_id}/segments", get(company_segments))
        .route("/companies/{company_id}/notes", get(company_notes))
        .route("/contacts", get(contacts_list))
        .route("/contacts/search", post(contacts_search))
        .route("/contacts/{contact_id}", get(contact_by_id))
        .route("/contacts/{contact_id}/tags", get(contact_tags))
        .route("/contacts/{contact_id}/companies", get(contact_companies))
        .route("/contacts/{contact_id}/notes", get(contact_notes))
        .route("/contacts/{contact_id}/segments", get(contact_segments))
        .route("/conversations/search", post(conversations_search))
        .route("/conversations/{conversation_id}", get(conversation_by_id))
        .route("/help_center/collections", get(collections))
        .route("/articles", get(articles))
        .route("/articles/{article_id}", get(article_by_id))
        .route("/articles/{article_id}/versions", get(article_versions))
        .route("/articles/{article_id}/versions/{id}", get(article_version))
        .route("/events", get(events))
        .route("/tickets/search", post(tickets_search))
        .route("/tickets/{ticket_id}", get(ticket_by_id))
        .route("/ticket_types", get(ticket_types))
        .route("/brands", get(brands))
        .route("/office_hours_schedules", get(schedules))
        .route(
            "/office_hours_schedules/{office_hours_schedule_id}/office_hours_exceptions",
            get(schedule_exceptions),
        )
        .route("/macros", get(macros))
        .route("/export/workflows/{id}", get(workflow_export))
        .merge(super::activity_logs::api_routes())
}

fn ok(v: Value) -> Response {
    Json(v).into_response()
}

fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("{what} Not Found"),
    )
}

fn bad_request(code: &str, message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

/// A 400 refusal, answered as an `error.list`; small enough to travel in a `Result`.
struct Refusal {
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Refusal {
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
fn page_params(q: &HashMap<String, String>, default: usize) -> Result<(usize, usize), Refusal> {
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
fn paged_list(
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

async fn me(State(st): State<Shared>) -> Response {
    ok(r::me(&st.workspace()))
}

async fn admins(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let admins: Vec<Value> = (0..ws.sizes.admins).map(|i| r::admin(&ws, i)).collect();
    ok(json!({"type": "admin.list", "admins": admins}))
}

async fn admin_by_id(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    match g::parse_numeric(&id, g::ADMIN_ID_BASE, ws.sizes.admins) {
        Some(i) => ok(r::admin(&ws, i)),
        None => not_found("Admin"),
    }
}

async fn teams(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let teams: Vec<Value> = (0..ws.sizes.teams).map(|t| r::team(&ws, t)).collect();
    ok(json!({"type": "team.list", "teams": teams}))
}

async fn tags(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let data: Vec<Value> = (0..ws.sizes.tags).map(r::tag).collect();
    ok(json!({"type": "list", "data": data}))
}

async fn segments(State(st): State<Shared>, Query(q): Params) -> Response {
    let ws = st.workspace();
    let include_count = q.get("include_count").is_some_and(|v| v == "true");
    let segments: Vec<Value> = (0..ws.sizes.segments)
        .map(|s| r::segment(&ws, s, include_count))
        .collect();
    ok(json!({"type": "segment.list", "segments": segments, "pages": {}}))
}

async fn data_attributes(State(st): State<Shared>, Query(q): Params) -> Response {
    let ws = st.workspace();
    let include_archived = q.get("include_archived").is_some_and(|v| v == "true");
    let models: Vec<&str> = match q.get("model").map(String::as_str) {
        None => vec!["contact", "company"],
        Some("contact") => vec!["contact"],
        Some("company") => vec!["company"],
        Some("conversation") => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "parameter_invalid",
                "model=conversation is no longer supported. Use GET /conversations/attributes instead",
            );
        }
        Some(_) => {
            return bad_request(
                "parameter_invalid",
                "model must be one of contact or company",
            );
        }
    };
    let data: Vec<Value> = models
        .into_iter()
        .flat_map(|m| r::data_attributes(&ws, m))
        .filter(|a| include_archived || a["archived"] != json!(true))
        .collect();
    ok(json!({"type": "list", "data": data}))
}

async fn conversation_attributes(State(st): State<Shared>, Query(q): Params) -> Response {
    let ws = st.workspace();
    let include_archived = q.get("include_archived").is_some_and(|v| v == "true");
    let data: Vec<Value> = (0..ws.sizes.conversation_attributes)
        .map(|k| r::conversation_attribute(&ws, k))
        .filter(|a| include_archived || a["archived"] != json!(true))
        .collect();
    ok(json!({"type": "list", "data": data}))
}

async fn companies_scroll(State(st): State<Shared>, Query(q): Params) -> Response {
    let total = st.workspace().sizes.companies;
    let step = lock(&st.scrolls).step(
        q.get("scroll_param").map(String::as_str),
        total,
        st.config.scroll_idle,
        Instant::now(),
        st.config.seed,
    );
    match step {
        ScrollStep::Exists => bad_request(
            "scroll_exists",
            "scroll already exists for this workspace. Please ensure to use the scroll parameter from the previous request",
        ),
        ScrollStep::Gone => not_found("Scroll parameter"),
        ScrollStep::Page { param, range } => {
            let ws = st.workspace();
            let data: Vec<Value> = range.map(|i| r::company(&ws, i)).collect();
            ok(
                json!({"type": "list", "data": data, "pages": null, "total_count": null, "scroll_param": param}),
            )
        }
    }
}

fn company_index(ws: &Workspace, id: &str) -> Option<usize> {
    g::parse_company_id(id).filter(|i| *i < ws.sizes.companies)
}

fn contact_index(ws: &Workspace, id: &str) -> Option<usize> {
    g::parse_contact_id(id).filter(|i| *i < ws.sizes.contacts)
}

async fn company_by_id(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    match company_index(&ws, &id) {
        Some(i) => ok(r::company(&ws, i)),
        None => error(
            StatusCode::NOT_FOUND,
            "company_not_found",
            "Company Not Found",
        ),
    }
}

async fn company_contacts(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let ws = st.workspace();
    let Some(c) = company_index(&ws, &id) else {
        return error(
            StatusCode::NOT_FOUND,
            "company_not_found",
            "Company Not Found",
        );
    };
    let (per_page, page) = match page_params(&q, 50) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let members = &ws.company_contacts[c];
    ok(paged_list(members.len(), per_page, page, |k| {
        r::contact(&ws, members[k] as usize)
    }))
}

async fn company_segments(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    let Some(c) = company_index(&ws, &id) else {
        return error(
            StatusCode::NOT_FOUND,
            "company_not_found",
            "Company Not Found",
        );
    };
    let data: Vec<Value> = (0..ws.used_segments())
        .filter(|s| (c + s) % 4 == 0)
        .map(|s| r::segment(&ws, s, false))
        .collect();
    ok(json!({"type": "list", "data": data}))
}

async fn company_notes(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let ws = st.workspace();
    let Some(c) = company_index(&ws, &id) else {
        return error(
            StatusCode::NOT_FOUND,
            "company_not_found",
            "Company Not Found",
        );
    };
    let (per_page, page) = match page_params(&q, 50) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let n = usize::from(ws.companies[c].notes);
    // Newest first, as Intercom lists notes.
    ok(paged_list(n, per_page, page, |k| {
        r::company_note(&ws, c, (n - 1 - k) as u64)
    }))
}

/// The cursor envelope of `GET /contacts` and the searches.
fn cursor_pages(offset: usize, per_page: usize, total: usize) -> Value {
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

async fn contacts_list(State(st): State<Shared>, Query(q): Params) -> Response {
    let ws = st.workspace();
    let (per_page, _) = match page_params(&q, 50) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let offset = match q.get("starting_after") {
        Some(c) => match search::decode_cursor(c) {
            Some(o) => o,
            None => return bad_request("cursor_invalid", "starting_after is not a valid cursor"),
        },
        None => 0,
    };
    let total = ws.sizes.contacts;
    let end = (offset + per_page).min(total);
    let data: Vec<Value> = (offset.min(total)..end)
        .map(|i| r::contact(&ws, i))
        .collect();
    ok(
        json!({"type": "list", "data": data, "total_count": total, "pages": cursor_pages(offset, per_page, total)}),
    )
}

async fn contact_by_id(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    match contact_index(&ws, &id) {
        Some(i) => ok(r::contact(&ws, i)),
        None => not_found("User"),
    }
}

fn parse_body(body: Result<Json<Value>, JsonRejection>) -> Result<Value, Refusal> {
    match body {
        Ok(Json(v)) => Ok(v),
        Err(e) => Err(Refusal::new(
            "parameter_invalid",
            format!("invalid JSON body: {e}"),
        )),
    }
}

fn contact_field(ws: &Workspace, i: usize, field: &str) -> Option<FieldValue> {
    let c = ws.contacts.get(i)?;
    Some(match field {
        "id" => FieldValue::Str(g::contact_id(i)),
        "created_at" => FieldValue::Date(c.created_at),
        "updated_at" => FieldValue::Date(c.updated_at),
        "signed_up_at" => FieldValue::Date(c.created_at),
        "role" => FieldValue::Str(if c.is_lead { "lead" } else { "user" }.into()),
        "external_id" => FieldValue::Str(format!("user-{i}")),
        _ => return None,
    })
}

fn field_sample(field: &str) -> Option<FieldValue> {
    Some(match field {
        "id" | "role" | "external_id" | "state" | "category" => FieldValue::Str(String::new()),
        "created_at" | "updated_at" | "signed_up_at" => FieldValue::Date(0),
        "open" => FieldValue::Bool(false),
        "admin_assignee_id" | "team_assignee_id" | "ticket_type_id" => FieldValue::Int(0),
        "contact_ids" => FieldValue::Many(Vec::new()),
        _ => return None,
    })
}

/// Runs one search over `total` records; returns the page of indices and the match count.
fn run_search(
    req: &SearchRequest,
    total: usize,
    get: &dyn Fn(usize, &str) -> Option<FieldValue>,
    dates: DateSemantics,
    sort_key: &dyn Fn(usize, &str) -> Option<i64>,
) -> (Vec<usize>, usize) {
    let mut hits: Vec<usize> = (0..total)
        .filter(|i| search::matches(&req.filter, &|f| get(*i, f), dates))
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

fn search_request(
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

async fn contacts_search(
    State(st): State<Shared>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let sample = |f: &str| field_sample(f).filter(|_| contact_field_known(f));
    let req = match search_request(body, 50, DateSemantics::CalendarDay, &sample) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let ws = st.workspace();
    let (page, total) = run_search(
        &req,
        ws.sizes.contacts,
        &|i, f| contact_field(&ws, i, f),
        DateSemantics::CalendarDay,
        &|i, f| match contact_field(&ws, i, f) {
            Some(FieldValue::Date(t)) => Some(t),
            _ => Some(i as i64),
        },
    );
    let data: Vec<Value> = page.into_iter().map(|i| r::contact(&ws, i)).collect();
    ok(
        json!({"type": "list", "data": data, "total_count": total, "pages": cursor_pages(req.offset, req.per_page, total)}),
    )
}

fn contact_field_known(f: &str) -> bool {
    matches!(
        f,
        "id" | "created_at" | "updated_at" | "signed_up_at" | "role" | "external_id"
    )
}

async fn contact_tags(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    let Some(c) = contact_index(&ws, &id) else {
        return not_found("User");
    };
    let idx = &ws.contacts[c];
    let data: Vec<Value> = idx
        .tags
        .iter()
        .map(|t| {
            let mut v = r::tag(*t as usize);
            v["applied_at"] = json!(idx.created_at + 3600);
            v["applied_by"] = json!({"type": "admin", "id": r::admin_id(0)});
            v
        })
        .collect();
    ok(json!({"type": "list", "data": data}))
}

async fn contact_companies(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let ws = st.workspace();
    let Some(c) = contact_index(&ws, &id) else {
        return not_found("User");
    };
    let (per_page, page) = match page_params(&q, 50) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let list = &ws.contacts[c].companies;
    let mut v = paged_list(list.len(), per_page, page, |k| {
        r::company(&ws, list[k] as usize)
    });
    // This list's `pages.next` is a URL (`pages_link`), unlike the cursor lists.
    let total_pages = list.len().div_ceil(per_page);
    v["pages"]["next"] = if page < total_pages {
        json!(format!(
            "{}/contacts/{id}/companies?page={}&per_page={per_page}",
            st.base(),
            page + 1
        ))
    } else {
        Value::Null
    };
    ok(v)
}

async fn contact_notes(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let ws = st.workspace();
    let Some(c) = contact_index(&ws, &id) else {
        return not_found("User");
    };
    let (per_page, page) = match page_params(&q, 50) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let n = usize::from(ws.contacts[c].notes);
    ok(paged_list(n, per_page, page, |k| {
        r::contact_note(&ws, c, (n - 1 - k) as u64)
    }))
}

async fn contact_segments(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    let Some(c) = contact_index(&ws, &id) else {
        return not_found("User");
    };
    let data: Vec<Value> = r::contact_segments(&ws, c)
        .into_iter()
        .map(|s| r::segment(&ws, s, false))
        .collect();
    ok(json!({"type": "list", "data": data}))
}

fn conversation_field(ws: &Workspace, i: usize, field: &str) -> Option<FieldValue> {
    let c = ws.conversations.get(i)?;
    Some(match field {
        "id" => FieldValue::Int((g::CONVERSATION_ID_BASE + i as u64) as i64),
        "created_at" => FieldValue::Date(c.created_at),
        "updated_at" => FieldValue::Date(c.updated_at),
        "state" => FieldValue::Str(c.state.as_str().into()),
        "open" => FieldValue::Bool(c.state != g::ConversationState::Closed),
        "admin_assignee_id" => FieldValue::Int(
            c.admin_assignee
                .map_or(0, |a| g::ADMIN_ID_BASE as i64 + i64::from(a)),
        ),
        "team_assignee_id" => FieldValue::Int(
            c.team_assignee
                .map_or(0, |t| g::TEAM_ID_BASE as i64 + i64::from(t)),
        ),
        "contact_ids" => FieldValue::Many(vec![g::contact_id(c.contact as usize)]),
        _ => return None,
    })
}

fn sort_value(v: Option<FieldValue>, i: usize) -> Option<i64> {
    match v {
        Some(FieldValue::Date(t)) | Some(FieldValue::Int(t)) => Some(t),
        _ => Some(i as i64),
    }
}

async fn conversations_search(
    State(st): State<Shared>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let sample = |f: &str| {
        field_sample(f).filter(|_| {
            matches!(
                f,
                "id" | "created_at"
                    | "updated_at"
                    | "state"
                    | "open"
                    | "admin_assignee_id"
                    | "team_assignee_id"
                    | "contact_ids"
            )
        })
    };
    let req = match search_request(body, 20, DateSemantics::Exact, &sample) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let ws = st.workspace();
    let (page, total) = run_search(
        &req,
        ws.sizes.conversations,
        &|i, f| conversation_field(&ws, i, f),
        DateSemantics::Exact,
        &|i, f| sort_value(conversation_field(&ws, i, f), i),
    );
    let conversations: Vec<Value> = page
        .into_iter()
        .map(|i| r::conversation(&st, &ws, i, false))
        .collect();
    ok(
        json!({"type": "conversation.list", "conversations": conversations, "total_count": total, "pages": cursor_pages(req.offset, req.per_page, total)}),
    )
}

async fn conversation_by_id(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let ws = st.workspace();
    let Some(i) = g::parse_numeric(&id, g::CONVERSATION_ID_BASE, ws.sizes.conversations) else {
        return not_found("Conversation");
    };
    let mut v = r::conversation(&st, &ws, i, true);
    if q.get("display_as").is_some_and(|d| d == "plaintext") {
        plaintext_bodies(&mut v);
    }
    ok(v)
}

/// `display_as=plaintext`: bodies lose their markup.
fn plaintext_bodies(v: &mut Value) {
    fn strip(s: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for ch in s.chars() {
            match ch {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
    }
    if let Some(b) = v["source"]["body"].as_str().map(strip) {
        v["source"]["body"] = json!(b);
    }
    if let Some(parts) = v["conversation_parts"]["conversation_parts"].as_array_mut() {
        for p in parts {
            if let Some(b) = p["body"].as_str().map(strip) {
                p["body"] = json!(b);
            }
        }
    }
}

async fn collections(State(st): State<Shared>, Query(q): Params) -> Response {
    let ws = st.workspace();
    let (per_page, page) = match page_params(&q, 20) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    // Descending `updated_at`, as Intercom lists help center content.
    let mut order: Vec<usize> = (0..ws.sizes.collections).collect();
    order.sort_by_key(|i| {
        std::cmp::Reverse((
            r::collection(&ws, *i)["updated_at"].as_i64().unwrap_or(0),
            *i,
        ))
    });
    ok(paged_list(order.len(), per_page, page, |k| {
        r::collection(&ws, order[k])
    }))
}

async fn articles(State(st): State<Shared>, Query(q): Params) -> Response {
    let ws = st.workspace();
    let (per_page, page) = match page_params(&q, 20) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut order: Vec<usize> = (0..ws.sizes.articles).collect();
    order.sort_by_key(|a| std::cmp::Reverse((r::article_times(&ws, *a).1, *a)));
    ok(paged_list(order.len(), per_page, page, |k| {
        r::article(&ws, order[k])
    }))
}

fn article_index(ws: &Workspace, id: &str) -> Option<usize> {
    g::parse_numeric(id, g::ARTICLE_ID_BASE, ws.sizes.articles)
}

async fn article_by_id(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    match article_index(&ws, &id) {
        Some(a) => ok(r::article(&ws, a)),
        None => not_found("Article"),
    }
}

async fn article_versions(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let ws = st.workspace();
    let Some(a) = article_index(&ws, &id) else {
        return not_found("Article");
    };
    let (per_page, page) = match page_params(&q, 25) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let n = usize::from(ws.article_versions[a]);
    ok(paged_list(n, per_page, page, |k| {
        r::article_version(&ws, a, (n - 1 - k) as u64, false)
    }))
}

async fn article_version(
    State(st): State<Shared>,
    Path((id, vid)): Path<(String, String)>,
) -> Response {
    let ws = st.workspace();
    let Some(a) = article_index(&ws, &id) else {
        return not_found("Article");
    };
    match g::parse_article_version_id(&vid) {
        Some((va, v)) if va == a && v < u64::from(ws.article_versions[a]) => {
            ok(r::article_version(&ws, a, v, true))
        }
        _ => not_found("Article version"),
    }
}

async fn events(State(st): State<Shared>, Query(q): Params) -> Response {
    if q.get("type").map(String::as_str) != Some("user") {
        return bad_request("parameter_invalid", "type must be user");
    }
    let ws = st.workspace();
    let contact = if let Some(id) = q.get("intercom_user_id") {
        contact_index(&ws, id)
    } else if let Some(uid) = q.get("user_id") {
        uid.strip_prefix("user-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|i| *i < ws.sizes.contacts && !ws.contacts[*i].is_lead)
    } else {
        return bad_request(
            "parameter_not_found",
            "one of user_id, email or intercom_user_id is required",
        );
    };
    let Some(c) = contact else {
        return not_found("User");
    };
    let external = (!ws.contacts[c].is_lead).then(|| format!("user-{c}"));
    let email = r::contact_identity(&ws, c).1;
    let all = ws.events_of(c);
    if q.get("summary").is_some_and(|v| v == "true") {
        let mut by_name: Vec<(&str, i64, i64, u64)> = Vec::new();
        for e in &all {
            match by_name.iter_mut().find(|(n, ..)| *n == e.name) {
                Some(entry) => {
                    entry.1 = entry.1.min(e.created_at);
                    entry.2 = entry.2.max(e.created_at);
                    entry.3 += 1;
                }
                None => by_name.push((e.name, e.created_at, e.created_at, 1)),
            }
        }
        let events: Vec<Value> = by_name
            .into_iter()
            .map(|(name, first, last, count)| {
                json!({"name": name, "first": crate::timefmt::unix_to_iso(first), "last": crate::timefmt::unix_to_iso(last), "count": count, "description": format!("{name} event")})
            })
            .collect();
        return ok(json!({
            "type": "event.summary",
            "email": email,
            "intercom_user_id": g::contact_id(c),
            "user_id": external,
            "events": events,
        }));
    }
    // Only events younger than 90 days are listed; pages go back in time with `before` (ms).
    let horizon = crate::timefmt::now_unix() - g::EVENT_WINDOW_DAYS * g::DAY;
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=150).contains(n))
        .unwrap_or(50);
    let before_ms = q.get("before").and_then(|v| v.parse::<i64>().ok());
    let listable: Vec<&g::DataEvent> = all
        .iter()
        .filter(|e| e.created_at >= horizon)
        .filter(|e| before_ms.is_none_or(|b| e.created_at * 1000 < b))
        .collect();
    let page: Vec<Value> = listable
        .iter()
        .take(per_page)
        .enumerate()
        .map(|(k, e)| {
            let mut meta = serde_json::Map::new();
            for (key, val) in &e.metadata {
                meta.insert((*key).to_string(), json!(val));
            }
            json!({
                "type": "event",
                "id": format!("{:08x}{:016x}", 0x6762_f0f1u32, (c as u64) << 16 | (e.created_at as u64 & 0xfff0) | k as u64),
                "event_name": e.name,
                "created_at": e.created_at,
                "user_id": external,
                "intercom_user_id": g::contact_id(c),
                "email": email,
                "metadata": Value::Object(meta),
            })
        })
        .collect();
    let mut pages = json!({});
    if listable.len() > per_page
        && let Some(last) = listable.get(per_page - 1)
    {
        pages["next"] = json!(format!(
            "{}/events?per_page={per_page}&before={}&intercom_user_id={}&type=user",
            st.base(),
            last.created_at * 1000,
            g::contact_id(c)
        ));
    }
    ok(json!({"type": "event.list", "events": page, "pages": pages}))
}

fn ticket_field(ws: &Workspace, t: usize, field: &str) -> Option<FieldValue> {
    if t >= ws.sizes.tickets {
        return None;
    }
    Some(match field {
        "id" => FieldValue::Int((g::TICKET_ID_BASE + t as u64) as i64),
        "created_at" => FieldValue::Date(ws.ticket_created[t]),
        "updated_at" => FieldValue::Date(ws.ticket_updated[t]),
        "open" => FieldValue::Bool(r::ticket_state_of(t) != 3),
        "state" => FieldValue::Str(
            [
                "submitted",
                "in_progress",
                "waiting_on_customer",
                "resolved",
            ][r::ticket_state_of(t)]
            .into(),
        ),
        "ticket_type_id" => {
            FieldValue::Int((g::TICKET_TYPE_ID_BASE + r::ticket_type_of(ws, t) as u64) as i64)
        }
        "contact_ids" => FieldValue::Many(vec![g::contact_id(r::ticket_contact(ws, t))]),
        _ => return None,
    })
}

async fn tickets_search(
    State(st): State<Shared>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let sample = |f: &str| {
        field_sample(f).filter(|_| {
            matches!(
                f,
                "id" | "created_at"
                    | "updated_at"
                    | "open"
                    | "state"
                    | "ticket_type_id"
                    | "contact_ids"
            )
        })
    };
    let req = match search_request(body, 20, DateSemantics::Exact, &sample) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let ws = st.workspace();
    let (page, total) = run_search(
        &req,
        ws.sizes.tickets,
        &|i, f| ticket_field(&ws, i, f),
        DateSemantics::Exact,
        &|i, f| sort_value(ticket_field(&ws, i, f), i),
    );
    let tickets: Vec<Value> = page.into_iter().map(|t| r::ticket(&ws, t)).collect();
    ok(
        json!({"type": "ticket.list", "tickets": tickets, "total_count": total, "pages": cursor_pages(req.offset, req.per_page, total)}),
    )
}

async fn ticket_by_id(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    match g::parse_numeric(&id, g::TICKET_ID_BASE, ws.sizes.tickets) {
        Some(t) => ok(r::ticket(&ws, t)),
        None => not_found("Ticket"),
    }
}

async fn ticket_types(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let data: Vec<Value> = (0..ws.sizes.ticket_types)
        .map(|t| r::ticket_type(&ws, t))
        .collect();
    ok(json!({"type": "list", "data": data}))
}

async fn brands(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let data: Vec<Value> = (0..ws.sizes.brands).map(|b| r::brand(&ws, b)).collect();
    ok(json!({"type": "list", "data": data}))
}

async fn schedules(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let data: Vec<Value> = (0..ws.sizes.schedules)
        .map(|s| r::schedule(&ws, s))
        .collect();
    ok(json!({"type": "office_hours_schedule.list", "data": data}))
}

async fn schedule_exceptions(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    let Some(s) = g::parse_numeric(&id, g::SCHEDULE_ID_BASE, ws.sizes.schedules) else {
        return not_found("Office hours schedule");
    };
    let data: Vec<Value> = (0..ws.schedule_exceptions(s))
        .map(|e| r::schedule_exception(&ws, s, e))
        .collect();
    ok(json!({"type": "office_hours_exception.list", "data": data}))
}

/// Minimal standard base64, for the macros cursor (`[updated_at, id]` as Intercom encodes it).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for ch in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == ch)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

async fn macros(State(st): State<Shared>, Query(q): Params) -> Response {
    let ws = st.workspace();
    let (per_page, _) = match page_params(&q, 50) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let since = match q.get("updated_since") {
        Some(v) => match v.parse::<i64>() {
            Ok(t) => Some(t),
            Err(_) => {
                return bad_request(
                    "parameter_invalid",
                    "updated_since must be a unix timestamp",
                );
            }
        },
        None => None,
    };
    // Ordered by (updated_at, id); the cursor is the last item's pair.
    let after = match q.get("starting_after") {
        Some(c) => {
            let parsed = unbase64(c)
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| {
                    Some((
                        v.get(0)?.as_f64()? as i64,
                        v.get(1)?.as_str()?.parse::<u64>().ok()?,
                    ))
                });
            match parsed {
                Some(p) => Some(p),
                None => {
                    return bad_request(
                        "parameter_invalid",
                        "starting_after is not a valid cursor",
                    );
                }
            }
        }
        None => None,
    };
    let key = |m: usize| (r::macro_times(&ws, m) + g::DAY, g::MACRO_ID_BASE + m as u64);
    let matching: Vec<usize> = (0..ws.sizes.macros)
        .filter(|m| since.is_none_or(|s| key(*m).0 > s))
        .filter(|m| after.is_none_or(|a| key(*m) > (a.0, a.1)))
        .collect();
    let page: Vec<usize> = matching.iter().copied().take(per_page).collect();
    let mut pages = json!({"type": "pages", "per_page": per_page, "next": null});
    if matching.len() > per_page
        && let Some(last) = page.last()
    {
        let (t, id) = key(*last);
        let cursor = base64(format!("[{t}.0, \"{id}\"]").as_bytes());
        pages["next"] = json!({"starting_after": cursor});
    }
    let data: Vec<Value> = page.into_iter().map(|m| r::macro_(&ws, m)).collect();
    ok(json!({"type": "list", "data": data, "pages": pages}))
}

async fn workflow_export(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    match g::parse_numeric(&id, g::WORKFLOW_ID_BASE, ws.sizes.workflows) {
        Some(w) => ok(r::workflow_export(&ws, w)),
        None => not_found("Workflow"),
    }
}

/// `GET /__sim/truth`: what exists, including what the API cannot return.
pub async fn truth(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let s = ws.sizes;
    let versions: u64 = ws.article_versions.iter().map(|v| u64::from(*v)).sum();
    let translations: usize = ws.article_locales.iter().map(Vec::len).sum();
    ok(json!({"counts": {
        "admins": s.admins,
        "teams": s.teams,
        "tags": s.tags,
        "segments": s.segments,
        "data_attributes": s.contact_attributes + s.company_attributes
            + if ws.hostile.is_some() { super::hostile::COLLIDING_ATTRIBUTES.len() } else { 0 },
        "conversation_attributes": s.conversation_attributes,
        "companies": s.companies,
        "contacts": s.contacts,
        "contact_notes": ws.total_contact_notes(),
        "company_notes": ws.total_company_notes(),
        "collections": s.collections,
        "articles": s.articles,
        "article_versions": versions,
        "article_translations": translations,
        "conversations": s.conversations,
        "conversation_parts": ws.total_parts(),
        "attachments": ws.total_attachments(),
        "data_events": ws.total_events(),
        "tickets": s.tickets,
        "ticket_types": s.ticket_types,
        "brands": s.brands,
        "office_hours_schedules": s.schedules,
        "macros": s.macros,
        "activity_logs": super::activity_logs::count(&ws),
    },
    "hostile": ws.hostile.as_ref().map(|plan| plan.truth().iter().map(|p| p.to_json()).collect::<Vec<_>>()),
    }))
}

/// Picks `n` distinct indices below `total`, deterministically from `rng`.
fn pick_distinct(rng: &mut crate::rng::Rng, n: usize, total: usize) -> Vec<usize> {
    let n = n.min(total);
    let mut out: Vec<usize> = Vec::with_capacity(n);
    while out.len() < n {
        let i = rng.range(0, total as u64) as usize;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// `POST /__sim/touch {"contacts": N, "conversations": N, "companies": N}`: bumps `updated_at`
/// of N deterministically chosen records of each type to now and returns their ids.
pub async fn touch(State(st): State<Shared>, body: Result<Json<Value>, JsonRejection>) -> Response {
    let body = match parse_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let count = |k: &str| body.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
    let now = crate::timefmt::now_unix();
    let mut ws = st.workspace_mut();
    ws.touches += 1;
    let mut rng = crate::rng::Rng::derive(ws.seed, &["touch", &ws.touches.to_string()]);
    let contacts = pick_distinct(&mut rng, count("contacts"), ws.sizes.contacts);
    let conversations = pick_distinct(&mut rng, count("conversations"), ws.sizes.conversations);
    let companies = pick_distinct(&mut rng, count("companies"), ws.sizes.companies);
    for &i in &contacts {
        ws.contacts[i].updated_at = now;
    }
    for &i in &conversations {
        ws.conversations[i].updated_at = now;
    }
    for &i in &companies {
        ws.companies[i].updated_at = now;
    }
    ok(json!({
        "updated_at": now,
        "contacts": contacts.iter().map(|i| g::contact_id(*i)).collect::<Vec<_>>(),
        "conversations": conversations.iter().map(|i| (g::CONVERSATION_ID_BASE + *i as u64).to_string()).collect::<Vec<_>>(),
        "companies": companies.iter().map(|i| g::company_id(*i)).collect::<Vec<_>>(),
    }))
}

/// Attachment files, served like a CDN: no bearer, a signature and an expiry in the URL.
pub async fn file_download(
    State(st): State<Shared>,
    Path((id, name)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let denied = |msg: &str| {
        (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/xml")],
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>{msg}</Message></Error>"),
        )
            .into_response()
    };
    let expires = q.get("expires").and_then(|e| e.parse::<i64>().ok());
    let sig = q.get("sig");
    let (Some(expires), Some(sig)) = (expires, sig) else {
        return denied("Request is missing its signature");
    };
    if *sig != st.sign(&id, expires) {
        return denied("The request signature does not match");
    }
    if crate::timefmt::now_unix() > expires {
        return denied("Request has expired");
    }
    let ws = st.workspace();
    match ws.file_by_id(&id).filter(|f| f.name == name) {
        Some(file) => {
            let bytes = ws.file_bytes(&file);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, file.content_type)],
                bytes,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
