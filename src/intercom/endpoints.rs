//! The one place that names every Intercom route i2k reads, and how each listing pages.

use serde::{Deserialize, Serialize};

use crate::http::path_segment as seg;
use crate::vocab::route_paths;

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

route_paths! {
    seg;
    contact(id) => "/contacts/{}";
    conversation(id) => "/conversations/{}";
    ticket(id) => "/tickets/{}";
    contact_notes(id) => "/contacts/{}/notes";
    contact_segments(id) => "/contacts/{}/segments";
    contact_tags(id) => "/contacts/{}/tags";
    contact_companies(id) => "/contacts/{}/companies";
    company_notes(id) => "/companies/{}/notes";
    article_versions(id) => "/articles/{}/versions";
    article_version(id, version_id) => "/articles/{}/versions/{}";
    office_hours_exceptions(schedule_id) => "/office_hours_schedules/{}/office_hours_exceptions";
    workflow_export(id) => "/export/workflows/{}";
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_routes_carry_their_ids_as_one_encoded_segment() {
        assert_eq!(contact("6512ab"), "/contacts/6512ab");
        assert_eq!(contact("a/b c?"), "/contacts/a%2Fb%20c%3F");
        assert_eq!(conversation("../1"), "/conversations/..%2F1");
        assert_eq!(article_version("7", "v#2"), "/articles/7/versions/v%232");
    }
}
