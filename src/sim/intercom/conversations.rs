//! Conversations: the search and one conversation with its parts.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::Shared;
use super::generate::{self as g, Workspace};
use super::render as r;
use super::routes::{ExactSearch, Params, not_found, ok, with_record};
use super::search::FieldValue;

/// `POST /conversations/search`: the fields it may filter on, each with its reader.
pub(super) static SEARCH: ExactSearch = ExactSearch {
    fields: &[
        ("id", |_, i| {
            FieldValue::Int((g::CONVERSATION_ID_BASE + i as u64) as i64)
        }),
        ("created_at", |ws, i| {
            FieldValue::Date(ws.conversations[i].created_at)
        }),
        ("updated_at", |ws, i| {
            FieldValue::Date(ws.conversations[i].updated_at)
        }),
        ("state", |ws, i| {
            FieldValue::Str(ws.conversations[i].state.as_str().into())
        }),
        ("open", |ws, i| {
            FieldValue::Bool(ws.conversations[i].state != g::ConversationState::Closed)
        }),
        ("admin_assignee_id", |ws, i| {
            let admin = ws.conversations[i].admin_assignee;
            FieldValue::Int(admin.map_or(0, |a| g::ADMIN_ID_BASE as i64 + i64::from(a)))
        }),
        ("team_assignee_id", |ws, i| {
            let team = ws.conversations[i].team_assignee;
            FieldValue::Int(team.map_or(0, |t| g::TEAM_ID_BASE as i64 + i64::from(t)))
        }),
        ("contact_ids", |ws, i| {
            FieldValue::Many(vec![g::contact_id(ws.conversations[i].contact as usize)])
        }),
    ],
    total: |ws| ws.conversations.len(),
    exists: |ws, i| !ws.conversations[i].deleted,
    list: ("conversation.list", "conversations"),
    render: |st, ws, i| r::conversation(st, ws, i, false),
};

pub(super) async fn conversation_by_id(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let find = |ws: &Workspace| {
        g::parse_numeric(&id, g::CONVERSATION_ID_BASE, ws.conversations.len())
            .filter(|i| !ws.conversations[*i].deleted)
    };
    with_record(
        &st,
        find,
        || not_found("Conversation"),
        |ws, i| {
            let mut v = r::conversation(&st, ws, i, true);
            if q.get("display_as").is_some_and(|d| d == "plaintext") {
                plaintext_bodies(&mut v);
            }
            ok(v)
        },
    )
}

/// `display_as=plaintext`: bodies lose their markup.
pub(super) fn plaintext_bodies(v: &mut Value) {
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
