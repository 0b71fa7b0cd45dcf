//! Tickets: the search, one ticket, and the ticket types.

use axum::extract::State;
use axum::response::Response;

use super::Shared;
use super::generate::{self as g, Workspace};
use super::render as r;
use super::routes::{ExactSearch, listing};
use super::search::FieldValue;

/// `POST /tickets/search`.
pub(super) static SEARCH: ExactSearch = ExactSearch {
    searchable: &[
        "id",
        "created_at",
        "updated_at",
        "open",
        "state",
        "ticket_type_id",
        "contact_ids",
    ],
    total: |ws| ws.sizes.tickets,
    field: ticket_field,
    list: ("ticket.list", "tickets"),
    render: |_, ws, t| r::ticket(ws, t),
};

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

pub(super) async fn ticket_types(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let types = (0..ws.sizes.ticket_types).map(|t| r::ticket_type(&ws, t));
    listing("list", "data", types)
}
