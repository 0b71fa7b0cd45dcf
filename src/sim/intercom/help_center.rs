//! The help center: collections, articles, and their versions.

use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::generate::{self as g, Workspace};
use super::render as r;
use super::routes::{
    Params, QueryMap, UnderRecord, not_found, ok, paged, record_route, with_record,
};
use super::{Shared, SimState};
use axum::routing::MethodRouter;

pub(super) async fn collections(State(st): State<Shared>, Query(q): Params) -> Response {
    let ws = st.workspace();
    // Descending `updated_at`, as Intercom lists help center content.
    let mut order: Vec<usize> = (0..ws.sizes.collections).collect();
    order.sort_by_key(|i| {
        std::cmp::Reverse((
            r::collection(&ws, *i)["updated_at"].as_i64().unwrap_or(0),
            *i,
        ))
    });
    paged(&q, 20, order.len(), |k| r::collection(&ws, order[k]))
}

pub(super) async fn articles(State(st): State<Shared>, Query(q): Params) -> Response {
    let ws = st.workspace();
    let mut order: Vec<usize> = (0..ws.sizes.articles).collect();
    order.sort_by_key(|a| std::cmp::Reverse((r::article_times(&ws, *a).1, *a)));
    paged(&q, 20, order.len(), |k| r::article(&ws, order[k]))
}

/// Intercom's answer for an article id it does not know.
fn no_article() -> Response {
    not_found("Article")
}

pub(super) fn article_index(ws: &Workspace, id: &str) -> Option<usize> {
    g::parse_numeric(id, g::ARTICLE_ID_BASE, ws.sizes.articles)
}

/// The route of `answer` under one article's path; an unknown id gets a 404.
pub(super) fn under_article(answer: UnderRecord) -> MethodRouter<Shared> {
    record_route(article_index, no_article, answer)
}

pub(super) fn article_by_id(_: &SimState, ws: &Workspace, a: usize, _: &QueryMap) -> Response {
    ok(r::article(ws, a))
}

pub(super) fn article_versions(_: &SimState, ws: &Workspace, a: usize, q: &QueryMap) -> Response {
    let n = usize::from(ws.article_versions[a]);
    paged(q, 25, n, |k| {
        r::article_version(ws, a, (n - 1 - k) as u64, false)
    })
}

pub(super) async fn article_version(
    State(st): State<Shared>,
    Path((id, vid)): Path<(String, String)>,
) -> Response {
    let find = |ws: &Workspace| article_index(ws, &id);
    with_record(
        &st,
        find,
        no_article,
        |ws, a| match g::parse_article_version_id(&vid) {
            Some((va, v)) if va == a && v < u64::from(ws.article_versions[a]) => {
                ok(r::article_version(ws, a, v, true))
            }
            _ => not_found("Article version"),
        },
    )
}
