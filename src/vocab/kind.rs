//! The record kinds of the ledger: every `kind` a source or target record is stored under. The
//! names are the ledger's strings exactly ([`Kind::as_str`], [`FromStr`]), so the schema does
//! not change; what each kind *does* (phase, routes, recovery) is the catalog in `engine::kinds`.
//! It lives on the ground floor so the ledger and the clients may name a kind too.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One record kind, source or target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Intercom admins, matched onto Kustomer users.
    Admins,
    Teams,
    Tags,
    Segments,
    /// The membership tag of a segment in use (invented).
    SegmentTags,
    /// A member's tag list carrying its segments (invented).
    SegmentMembers,
    DataAttributes,
    /// Built-in attributes, kept apart under `model:name`.
    DataAttributesStandard,
    ConversationAttributes,
    Companies,
    Contacts,
    ContactNotes,
    CompanyNotes,
    /// A contact's segment ids (a helper the load reads).
    ContactSegments,
    /// A contact's tags beyond the first page (a helper the load reads).
    ContactTags,
    /// A contact's companies beyond the first page (a helper).
    ContactCompanies,
    Collections,
    Articles,
    ArticleVersions,
    ArticleTranslations,
    Conversations,
    ConversationParts,
    /// A conversation's opening message (invented).
    ConversationSources,
    /// Event parts folded into one note (invented).
    TimelineNotes,
    /// The note saying a conversation lost parts to the 500-part cap (invented).
    TruncationNotes,
    /// A conversation's final state, set after its messages (invented).
    ConversationStates,
    Attachments,
    /// An attachment uploaded to Kustomer (the target of `attachments`).
    AttachmentUploads,
    /// Images inside HTML bodies (source helper).
    InlineImages,
    InlineImageUploads,
    DataEvents,
    EventSummaries,
    Tickets,
    TicketTypes,
    Brands,
    OfficeHoursSchedules,
    OfficeHoursExceptions,
    /// Kustomer klasses the prerequisites create for Intercom's ticket types.
    Klasses,
    Macros,
    /// Admin activity logs (API 2.16): archived, Kustomer has no counterpart.
    ActivityLogs,
}

impl Kind {
    pub const ALL: [Kind; 40] = [
        Kind::Admins,
        Kind::Teams,
        Kind::Tags,
        Kind::Segments,
        Kind::SegmentTags,
        Kind::SegmentMembers,
        Kind::DataAttributes,
        Kind::DataAttributesStandard,
        Kind::ConversationAttributes,
        Kind::Companies,
        Kind::Contacts,
        Kind::ContactNotes,
        Kind::CompanyNotes,
        Kind::ContactSegments,
        Kind::ContactTags,
        Kind::ContactCompanies,
        Kind::Collections,
        Kind::Articles,
        Kind::ArticleVersions,
        Kind::ArticleTranslations,
        Kind::Conversations,
        Kind::ConversationParts,
        Kind::ConversationSources,
        Kind::TimelineNotes,
        Kind::TruncationNotes,
        Kind::ConversationStates,
        Kind::Attachments,
        Kind::AttachmentUploads,
        Kind::InlineImages,
        Kind::InlineImageUploads,
        Kind::DataEvents,
        Kind::EventSummaries,
        Kind::Tickets,
        Kind::TicketTypes,
        Kind::Brands,
        Kind::OfficeHoursSchedules,
        Kind::OfficeHoursExceptions,
        Kind::Klasses,
        Kind::Macros,
        Kind::ActivityLogs,
    ];

    /// The ledger's name of the kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Admins => "admins",
            Kind::Teams => "teams",
            Kind::Tags => "tags",
            Kind::Segments => "segments",
            Kind::SegmentTags => "segment_tags",
            Kind::SegmentMembers => "segment_members",
            Kind::DataAttributes => "data_attributes",
            Kind::DataAttributesStandard => "data_attributes_standard",
            Kind::ConversationAttributes => "conversation_attributes",
            Kind::Companies => "companies",
            Kind::Contacts => "contacts",
            Kind::ContactNotes => "contact_notes",
            Kind::CompanyNotes => "company_notes",
            Kind::ContactSegments => "contact_segments",
            Kind::ContactTags => "contact_tags",
            Kind::ContactCompanies => "contact_companies",
            Kind::Collections => "collections",
            Kind::Articles => "articles",
            Kind::ArticleVersions => "article_versions",
            Kind::ArticleTranslations => "article_translations",
            Kind::Conversations => "conversations",
            Kind::ConversationParts => "conversation_parts",
            Kind::ConversationSources => "conversation_sources",
            Kind::TimelineNotes => "timeline_notes",
            Kind::TruncationNotes => "truncation_notes",
            Kind::ConversationStates => "conversation_states",
            Kind::Attachments => "attachments",
            Kind::AttachmentUploads => "attachment_uploads",
            Kind::InlineImages => "inline_images",
            Kind::InlineImageUploads => "inline_image_uploads",
            Kind::DataEvents => "data_events",
            Kind::EventSummaries => "event_summaries",
            Kind::Tickets => "tickets",
            Kind::TicketTypes => "ticket_types",
            Kind::Brands => "brands",
            Kind::OfficeHoursSchedules => "office_hours_schedules",
            Kind::OfficeHoursExceptions => "office_hours_exceptions",
            Kind::Klasses => "klasses",
            Kind::Macros => "macros",
            Kind::ActivityLogs => "activity_logs",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Kind {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A name the ledger does not know as a kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown record kind `{0}`")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Kind, UnknownKind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(k));
            assert!(seen.insert(k.as_str()), "{k} twice");
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!("widgets".parse::<Kind>().is_err());
    }
}
