//! Companies: the scroll, one company, and its contacts, segments and notes.

use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::generate::{self as g, Workspace};
use super::render as r;
use super::routes::{Params, bad_request, not_found, ok, page_params, paged_list};
use super::scroll::ScrollStep;
use super::{Shared, error, lock};

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

pub(super) async fn company_by_id(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    match company_index(&ws, &id) {
        Some(i) => ok(r::company(&ws, i)),
        None => company_not_found(),
    }
}

pub(super) async fn company_contacts(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let ws = st.workspace();
    let Some(c) = company_index(&ws, &id) else {
        return company_not_found();
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

pub(super) async fn company_segments(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    let Some(c) = company_index(&ws, &id) else {
        return company_not_found();
    };
    let data: Vec<Value> = (0..ws.used_segments())
        .filter(|s| (c + s) % 4 == 0)
        .map(|s| r::segment(&ws, s, false))
        .collect();
    ok(json!({"type": "list", "data": data}))
}

pub(super) async fn company_notes(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let ws = st.workspace();
    let Some(c) = company_index(&ws, &id) else {
        return company_not_found();
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
