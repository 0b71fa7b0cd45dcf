//! Tickets: the search, one ticket, and the ticket types.

use axum::extract::State;
use axum::response::Response;

use super::Shared;
use super::generate as g;
use super::render as r;
use super::routes::{ExactSearch, listing};
use super::search::FieldValue;

/// `POST /tickets/search`: the fields it may filter on, each with its reader.
pub(super) static SEARCH: ExactSearch = ExactSearch {
    fields: &[
        ("id", |_, t| {
            FieldValue::Int((g::TICKET_ID_BASE + t as u64) as i64)
        }),
        ("created_at", |ws, t| FieldValue::Date(ws.ticket_created[t])),
        ("updated_at", |ws, t| FieldValue::Date(ws.ticket_updated[t])),
        ("open", |_, t| FieldValue::Bool(r::ticket_state_of(t) != 3)),
        ("state", |_, t| {
            let states = [
                "submitted",
                "in_progress",
                "waiting_on_customer",
                "resolved",
            ];
            FieldValue::Str(states[r::ticket_state_of(t)].into())
        }),
        ("ticket_type_id", |ws, t| {
            FieldValue::Int((g::TICKET_TYPE_ID_BASE + r::ticket_type_of(ws, t) as u64) as i64)
        }),
        ("contact_ids", |ws, t| {
            FieldValue::Many(vec![g::contact_id(r::ticket_contact(ws, t))])
        }),
    ],
    total: |ws| ws.sizes.tickets,
    exists: |_, _| true,
    list: ("ticket.list", "tickets"),
    render: |_, ws, t| r::ticket(ws, t),
};

pub(super) async fn ticket_types(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let types = (0..ws.sizes.ticket_types).map(|t| r::ticket_type(&ws, t));
    listing("list", "data", types)
}
