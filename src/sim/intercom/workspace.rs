//! The workspace's settings: `/me`, admins, teams, tags, segments, data and conversation
//! attributes, brands and office-hours schedules.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::generate::{self as g, Workspace};
use super::render as r;
use super::routes::{Params, bad_request, listing, not_found, ok, with_record};
use super::{Shared, error};

pub(super) async fn me(State(st): State<Shared>) -> Response {
    ok(r::me(&st.workspace()))
}

pub(super) async fn admins(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let admins = (0..ws.sizes.admins).map(|i| r::admin(&ws, i));
    listing("admin.list", "admins", admins)
}

pub(super) async fn teams(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let teams = (0..ws.sizes.teams).map(|t| r::team(&ws, t));
    listing("team.list", "teams", teams)
}

pub(super) async fn tags(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    listing("list", "data", (0..ws.sizes.tags).map(r::tag))
}

pub(super) async fn segments(State(st): State<Shared>, Query(q): Params) -> Response {
    let ws = st.workspace();
    let include_count = q.get("include_count").is_some_and(|v| v == "true");
    let segments: Vec<Value> = (0..ws.sizes.segments)
        .map(|s| r::segment(&ws, s, include_count))
        .collect();
    ok(json!({"type": "segment.list", "segments": segments, "pages": {}}))
}

pub(super) async fn data_attributes(State(st): State<Shared>, Query(q): Params) -> Response {
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
    let attributes = models
        .into_iter()
        .flat_map(|m| r::data_attributes(&ws, m))
        .filter(|a| include_archived || a["archived"] != json!(true));
    listing("list", "data", attributes)
}

pub(super) async fn conversation_attributes(
    State(st): State<Shared>,
    Query(q): Params,
) -> Response {
    let ws = st.workspace();
    let include_archived = q.get("include_archived").is_some_and(|v| v == "true");
    let attributes = (0..ws.sizes.conversation_attributes)
        .map(|k| r::conversation_attribute(&ws, k))
        .filter(|a| include_archived || a["archived"] != json!(true));
    listing("list", "data", attributes)
}

pub(super) async fn brands(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    listing(
        "list",
        "data",
        (0..ws.sizes.brands).map(|b| r::brand(&ws, b)),
    )
}

pub(super) async fn schedules(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let schedules = (0..ws.sizes.schedules).map(|s| r::schedule(&ws, s));
    listing("office_hours_schedule.list", "data", schedules)
}

pub(super) async fn schedule_exceptions(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Response {
    let find = |ws: &Workspace| g::parse_numeric(&id, g::SCHEDULE_ID_BASE, ws.sizes.schedules);
    with_record(
        &st,
        find,
        || not_found("Office hours schedule"),
        |ws, s| {
            let exceptions =
                (0..ws.schedule_exceptions(s)).map(|e| r::schedule_exception(ws, s, e));
            listing("office_hours_exception.list", "data", exceptions)
        },
    )
}
