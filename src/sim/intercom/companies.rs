//! Companies: the scroll, one company, and its contacts, segments and notes.

use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::generate::{self as g, Workspace};
use super::render as r;
use super::routes::{
    Params, QueryMap, UnderRecord, bad_request, listing, not_found, ok, paged, record_route,
};
use super::scroll::ScrollStep;
use super::{Shared, SimState, error, lock};
use axum::routing::MethodRouter;

pub(super) async fn companies_scroll(State(st): State<Shared>, Query(q): Params) -> Response {
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

/// Intercom's answer for a company id it does not know (its own code, unlike the generic
/// `not_found`).
fn company_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "company_not_found",
        "Company Not Found",
    )
}

pub(super) fn company_index(ws: &Workspace, id: &str) -> Option<usize> {
    g::parse_company_id(id).filter(|i| *i < ws.sizes.companies)
}

/// The route of `answer` under one company's path; an unknown id gets `company_not_found`.
pub(super) fn under_company(answer: UnderRecord) -> MethodRouter<Shared> {
    record_route(company_index, company_not_found, answer)
}

pub(super) fn company_by_id(_: &SimState, ws: &Workspace, c: usize, _: &QueryMap) -> Response {
    ok(r::company(ws, c))
}

pub(super) fn company_contacts(_: &SimState, ws: &Workspace, c: usize, q: &QueryMap) -> Response {
    let members = &ws.company_contacts[c];
    paged(q, 50, members.len(), |k| {
        r::contact(ws, members[k] as usize)
    })
}

pub(super) fn company_segments(_: &SimState, ws: &Workspace, c: usize, _: &QueryMap) -> Response {
    let segments = (0..ws.used_segments())
        .filter(|s| (c + s).is_multiple_of(4))
        .map(|s| r::segment(ws, s, false));
    listing("list", "data", segments)
}

pub(super) fn company_notes(_: &SimState, ws: &Workspace, c: usize, q: &QueryMap) -> Response {
    let n = usize::from(ws.companies[c].notes);
    // Newest first, as Intercom lists notes.
    paged(q, 50, n, |k| r::company_note(ws, c, (n - 1 - k) as u64))
}
