//! The help center: collections, articles, and their versions.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::generate::{self as g, Workspace};
use super::render as r;
use super::routes::{Params, not_found, ok, page_params, paged_list};

pub(super) async fn collections(State(st): State<Shared>, Query(q): Params) -> Response {
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

pub(super) async fn articles(State(st): State<Shared>, Query(q): Params) -> Response {
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

pub(super) fn article_index(ws: &Workspace, id: &str) -> Option<usize> {
    g::parse_numeric(id, g::ARTICLE_ID_BASE, ws.sizes.articles)
}

pub(super) async fn article_by_id(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    match article_index(&ws, &id) {
        Some(a) => ok(r::article(&ws, a)),
        None => not_found("Article"),
    }
}

pub(super) async fn article_versions(
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

pub(super) async fn article_version(
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
