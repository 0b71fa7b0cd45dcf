//! Contacts: the cursor list, the search, one contact, and its tags, companies, notes and
//! segments.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::generate::{self as g, Workspace};
use super::render as r;
use super::routes::{
    Answer, Params, QueryMap, Refusal, UnderRecord, cursor_pages, listing, not_found, ok,
    page_params, paged, paged_list, record_route, run_search, search_request, with_record,
};
use super::search::{self, DateSemantics, FieldValue};
use super::{Shared, SimState};
use axum::routing::MethodRouter;

/// Intercom's answer for a contact id it does not know.
fn no_contact() -> Response {
    not_found("User")
}

pub(super) fn contact_index(ws: &Workspace, id: &str) -> Option<usize> {
    g::parse_contact_id(id).filter(|i| ws.contacts.get(*i).is_some_and(|c| !c.deleted))
}

pub(super) async fn contacts_list(State(st): State<Shared>, Query(q): Params) -> Answer {
    let ws = st.workspace();
    let (per_page, _) = page_params(&q, 50)?;
    let offset = match q.get("starting_after") {
        Some(c) => search::decode_cursor(c).ok_or_else(|| {
            Refusal::new("cursor_invalid", "starting_after is not a valid cursor")
        })?,
        None => 0,
    };
    // Positions count deleted contacts too (so cursors stay put); a page may hold fewer.
    let total = ws.contacts.len();
    let end = (offset + per_page).min(total);
    let data: Vec<Value> = (offset.min(total)..end)
        .filter(|i| !ws.contacts[*i].deleted)
        .map(|i| r::contact(&ws, i))
        .collect();
    let live = ws.live_contacts().count();
    Ok(ok(
        json!({"type": "list", "data": data, "total_count": live, "pages": cursor_pages(offset, per_page, total)}),
    ))
}

/// The route of `answer` under one contact's path; an unknown id gets a 404.
pub(super) fn under_contact(answer: UnderRecord) -> MethodRouter<Shared> {
    record_route(contact_index, no_contact, answer)
}

pub(super) fn contact_by_id(_: &SimState, ws: &Workspace, c: usize, _: &QueryMap) -> Response {
    ok(r::contact(ws, c))
}

pub(super) fn contact_field(ws: &Workspace, i: usize, field: &str) -> Option<FieldValue> {
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

pub(super) fn field_sample(field: &str) -> Option<FieldValue> {
    Some(match field {
        "id" | "role" | "external_id" | "state" | "category" => FieldValue::Str(String::new()),
        "created_at" | "updated_at" | "signed_up_at" => FieldValue::Date(0),
        "open" => FieldValue::Bool(false),
        "admin_assignee_id" | "team_assignee_id" | "ticket_type_id" => FieldValue::Int(0),
        "contact_ids" => FieldValue::Many(Vec::new()),
        _ => return None,
    })
}

pub(super) async fn contacts_search(
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
        ws.contacts.len(),
        &|i| !ws.contacts[i].deleted,
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

pub(super) fn contact_field_known(f: &str) -> bool {
    matches!(
        f,
        "id" | "created_at" | "updated_at" | "signed_up_at" | "role" | "external_id"
    )
}

pub(super) fn contact_tags(_: &SimState, ws: &Workspace, c: usize, _: &QueryMap) -> Response {
    let idx = &ws.contacts[c];
    let tags = idx.tags.iter().map(|t| {
        let mut v = r::tag(*t as usize);
        v["applied_at"] = json!(idx.created_at + 3600);
        v["applied_by"] = json!({"type": "admin", "id": r::admin_id(0)});
        v
    });
    listing("list", "data", tags)
}

pub(super) async fn contact_companies(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let find = |ws: &Workspace| contact_index(ws, &id);
    with_record(&st, find, no_contact, |ws, c| -> Answer {
        let (per_page, page) = page_params(&q, 50)?;
        let list = &ws.contacts[c].companies;
        let mut v = paged_list(list.len(), per_page, page, |k| {
            r::company(ws, list[k] as usize)
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
        Ok(ok(v))
    })
}

pub(super) fn contact_notes(_: &SimState, ws: &Workspace, c: usize, q: &QueryMap) -> Response {
    let n = usize::from(ws.contacts[c].notes);
    paged(q, 50, n, |k| r::contact_note(ws, c, (n - 1 - k) as u64))
}

pub(super) fn contact_segments(_: &SimState, ws: &Workspace, c: usize, _: &QueryMap) -> Response {
    let segments = r::contact_segments(ws, c)
        .into_iter()
        .map(|s| r::segment(ws, s, false));
    listing("list", "data", segments)
}
