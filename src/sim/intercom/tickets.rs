//! Tickets: the search, one ticket, and the ticket types.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::Value;

use super::Shared;
use super::generate::{self as g, Workspace};
use super::render as r;
use super::routes::{exact_search, found_or_404, listing};
use super::search::FieldValue;

/// The fields a ticket search may filter on.
const SEARCHABLE: [&str; 7] = [
    "id",
    "created_at",
    "updated_at",
    "open",
    "state",
    "ticket_type_id",
    "contact_ids",
];

pub(super) fn ticket_field(ws: &Workspace, t: usize, field: &str) -> Option<FieldValue> {
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

pub(super) async fn tickets_search(
    State(st): State<Shared>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let ws = st.workspace();
    exact_search(
        body,
        &SEARCHABLE,
        ws.sizes.tickets,
        &|t, f| ticket_field(&ws, t, f),
        ("ticket.list", "tickets"),
        &|t| r::ticket(&ws, t),
    )
}

pub(super) async fn ticket_by_id(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    let ticket = g::parse_numeric(&id, g::TICKET_ID_BASE, ws.sizes.tickets);
    found_or_404(ticket.map(|t| r::ticket(&ws, t)), "Ticket")
}

pub(super) async fn ticket_types(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let types = (0..ws.sizes.ticket_types).map(|t| r::ticket_type(&ws, t));
    listing("list", "data", types)
}
