//! The one place that names every Intercom route i2k reads, and how each listing pages.

use serde::{Deserialize, Serialize};

use crate::http::path_segment as seg;

pub const ME: &str = "/me";
pub const COMPANIES_SCROLL: &str = "/companies/scroll";
pub const EVENTS: &str = "/events";
/// Admin activity logs (2.16): `created_at_after` is required; cursor pages (`pages.next`).
pub const ACTIVITY_LOGS: &str = "/admins/activity_logs";

/// Largest page the search and list endpoints accept.
pub const MAX_PER_PAGE: u32 = 150;
/// Contact sub-lists have a smaller maximum page ("addressable_list endpoints have a different
/// max page size", Singer's tap pages them with 60).
pub const SUB_LIST_PER_PAGE: u32 = 60;
/// `/macros` pages at most 50.
pub const MACROS_PER_PAGE: u32 = 50;

pub fn conversation(id: &str) -> String {
    format!("/conversations/{}", seg(id))
}

pub fn contact(id: &str) -> String {
    format!("/contacts/{id}")
}

pub fn ticket(id: &str) -> String {
    format!("/tickets/{}", seg(id))
}

pub fn contact_notes(id: &str) -> String {
    format!("/contacts/{}/notes", seg(id))
}

pub fn contact_segments(id: &str) -> String {
    format!("/contacts/{}/segments", seg(id))
}

pub fn contact_tags(id: &str) -> String {
    format!("/contacts/{}/tags", seg(id))
}

pub fn contact_companies(id: &str) -> String {
    format!("/contacts/{}/companies", seg(id))
}

pub fn company_notes(id: &str) -> String {
    format!("/companies/{}/notes", seg(id))
}

pub fn article_versions(id: &str) -> String {
    format!("/articles/{}/versions", seg(id))
}

pub fn article_version(id: &str, version_id: &str) -> String {
    format!("/articles/{}/versions/{}", seg(id), seg(version_id))
}

pub fn office_hours_exceptions(schedule_id: &str) -> String {
    format!(
        "/office_hours_schedules/{}/office_hours_exceptions",
        seg(schedule_id)
    )
}

pub fn workflow_export(id: &str) -> String {
    format!("/export/workflows/{}", seg(id))
}

/// Unpaginated lists: one GET returns the whole collection under `key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WholeList {
    Admins,
    Teams,
    Tags,
    Segments,
    ContactAttributes,
    CompanyAttributes,
    ConversationAttributes,
    TicketTypes,
    Brands,
    OfficeHoursSchedules,
}

impl WholeList {
    pub const ALL: [WholeList; 10] = [
        WholeList::Admins,
        WholeList::Teams,
        WholeList::Tags,
        WholeList::Segments,
        WholeList::ContactAttributes,
        WholeList::CompanyAttributes,
        WholeList::ConversationAttributes,
        WholeList::TicketTypes,
        WholeList::Brands,
        WholeList::OfficeHoursSchedules,
    ];

    /// Path and query of the request.
    pub fn route(self) -> (&'static str, &'static [(&'static str, &'static str)]) {
        match self {
            WholeList::Admins => ("/admins", &[]),
            WholeList::Teams => ("/teams", &[]),
            WholeList::Tags => ("/tags", &[]),
            WholeList::Segments => ("/segments", &[("include_count", "true")]),
            WholeList::ContactAttributes => (
                "/data_attributes",
                &[("model", "contact"), ("include_archived", "true")],
            ),
            WholeList::CompanyAttributes => (
                "/data_attributes",
                &[("model", "company"), ("include_archived", "true")],
            ),
            WholeList::ConversationAttributes => {
                ("/conversations/attributes", &[("include_archived", "true")])
            }
            WholeList::TicketTypes => ("/ticket_types", &[]),
            WholeList::Brands => ("/brands", &[]),
            WholeList::OfficeHoursSchedules => ("/office_hours_schedules", &[]),
        }
    }

    /// The key of the array in the response.
    pub fn key(self) -> &'static str {
        match self {
            WholeList::Admins => "admins",
            WholeList::Teams => "teams",
            WholeList::Segments => "segments",
            _ => "data",
        }
    }
}

/// The searchable object types: `POST /{x}/search`, cursor in the body, sorted by `updated_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Searchable {
    Contacts,
    Conversations,
    Tickets,
}

impl Searchable {
    pub fn path(self) -> &'static str {
        match self {
            Searchable::Contacts => "/contacts/search",
            Searchable::Conversations => "/conversations/search",
            Searchable::Tickets => "/tickets/search",
        }
    }

    /// The key of the array in the response.
    pub fn key(self) -> &'static str {
        match self {
            Searchable::Contacts => "data",
            Searchable::Conversations => "conversations",
            Searchable::Tickets => "tickets",
        }
    }
}
