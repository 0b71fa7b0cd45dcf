//! Typed Intercom 2.16 records, as the API returns them when read: every field optional, ids read
//! from numbers or strings, times from unix seconds or ISO strings, enums open to new values, and
//! unknown fields ignored. These are views over the raw JSON that the ledger keeps verbatim.
//! `records!` declares them: how each field reads is its type's ([`Lenient`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient::{Id, Lenient, field, open_enum, opt_assignee_id, records, shaped};

open_enum!(
    /// `conversation.state`.
    ConversationState { Open => "open", Closed => "closed", Snoozed => "snoozed" }
);
open_enum!(
    /// `contact.role`.
    ContactRole { User => "user", Lead => "lead" }
);
open_enum!(
    /// `data_attribute.data_type` (contact and company attributes).
    DataType { String => "string", Integer => "integer", Float => "float", Boolean => "boolean", Date => "date" }
);
open_enum!(
    /// `conversation_attribute.data_type` (2.16).
    ConversationDataType {
        String => "string", Integer => "integer", List => "list", Decimal => "decimal",
        Boolean => "boolean", Datetime => "datetime", Relationship => "relationship", Files => "files"
    }
);
open_enum!(
    /// `article.state` and `article_version.state`.
    ArticleState { Published => "published", Draft => "draft" }
);
open_enum!(
    /// `conversation.priority`.
    Priority { None => "none", Low => "low", Medium => "medium", High => "high", Urgent => "urgent" }
);

records! {
    /// `{type, id}` reference to another object (`contact`, `company`, `admin`…).
    pub struct ObjectRef {
        #[serde(rename = "type")]
        pub kind: Option<String>,
        pub id: Option<Id>,
    }

    /// The author of a message, part or note.
    pub struct Author {
        #[serde(rename = "type")]
        pub kind: Option<String>,
        pub id: Option<Id>,
        pub name: Option<String>,
        pub email: Option<String>,
    }

    /// `GET /me`: the admin that owns the token, and the workspace (`app`).
    pub struct Me {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub email: Option<String>,
        pub app: Option<App>,
    }

    pub struct App {
        pub id_code: Option<String>,
        pub name: Option<String>,
        pub region: Option<String>,
        pub timezone: Option<String>,
        pub created_at: Option<i64>,
    }

    pub struct Admin {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub email: Option<String>,
        pub job_title: Option<String>,
        pub away_mode_enabled: Option<bool>,
        pub has_inbox_seat: Option<bool>,
        pub team_ids: Vec<Id>,
    }

    pub struct Team {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub admin_ids: Vec<Id>,
    }

    pub struct Tag {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub applied_at: Option<i64>,
        pub applied_by: Option<ObjectRef>,
    }

    /// `{type: "tag.list", tags: [...]}` on conversations and companies.
    pub struct TagList {
        pub tags: Vec<Tag>,
    }

    pub struct Segment {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
        pub person_type: Option<String>,
        /// Present with `include_count=true`.
        pub count: Option<u64>,
    }

    pub struct SegmentList {
        pub segments: Vec<Segment>,
    }

    pub struct DataAttribute {
        pub id: Option<Id>,
        pub model: Option<String>,
        pub name: Option<String>,
        pub full_name: Option<String>,
        pub label: Option<String>,
        pub description: Option<String>,
        pub data_type: Option<DataType>,
        pub options: Vec<Value>,
        pub api_writable: Option<bool>,
        pub custom: Option<bool>,
        pub archived: Option<bool>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
    }

    pub struct AttributeOption {
        pub id: Option<Id>,
        pub label: Option<String>,
        pub archived: Option<bool>,
    }

    pub struct ConversationAttribute {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub description: Option<String>,
        pub data_type: Option<ConversationDataType>,
        pub required: Option<bool>,
        pub archived: Option<bool>,
        pub options: Vec<AttributeOption>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
    }

    pub struct Company {
        pub id: Option<Id>,
        /// The workspace's own company id.
        pub company_id: Option<Id>,
        pub name: Option<String>,
        pub plan: Option<Value>,
        pub remote_created_at: Option<i64>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
        pub last_request_at: Option<i64>,
        pub size: Option<u64>,
        pub website: Option<String>,
        pub industry: Option<String>,
        pub monthly_spend: Option<f64>,
        pub session_count: Option<u64>,
        pub user_count: Option<u64>,
        pub custom_attributes: Option<Map<String, Value>>,
        pub tags: Option<TagList>,
        pub segments: Option<SegmentList>,
    }

    /// A contact's `tags`, `notes` or `companies`: at most 10 inline, the rest behind `url`.
    pub struct AddressableList {
        pub data: Vec<ObjectRef>,
        pub url: Option<String>,
        pub total_count: Option<u64>,
        pub has_more: Option<bool>,
    }

    pub struct Contact {
        pub id: Option<Id>,
        pub external_id: Option<Id>,
        pub role: Option<ContactRole>,
        pub email: Option<String>,
        pub phone: Option<String>,
        pub name: Option<String>,
        pub owner_id: Option<Id>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
        pub signed_up_at: Option<i64>,
        pub last_seen_at: Option<i64>,
        pub custom_attributes: Option<Map<String, Value>>,
        pub tags: Option<AddressableList>,
        pub notes: Option<AddressableList>,
        pub companies: Option<AddressableList>,
        pub location: Option<Value>,
    }

    /// A note on a contact or a company.
    pub struct Note {
        pub id: Option<Id>,
        pub created_at: Option<i64>,
        pub contact: Option<ObjectRef>,
        pub company: Option<ObjectRef>,
        pub author: Option<Author>,
        pub body: Option<String>,
    }

    /// A help-center collection; `parent_id` nests collections (sections are nested collections).
    pub struct Collection {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub description: Option<String>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
        pub url: Option<String>,
        pub icon: Option<String>,
        pub order: Option<u64>,
        pub default_locale: Option<String>,
        pub parent_id: Option<Id>,
        pub help_center_id: Option<Id>,
        pub translated_content: Option<Map<String, Value>>,
    }

    pub struct Article {
        pub id: Option<Id>,
        pub title: Option<String>,
        pub description: Option<String>,
        pub body: Option<String>,
        pub author_id: Option<Id>,
        pub state: Option<ArticleState>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
        pub url: Option<String>,
        pub parent_id: Option<Id>,
        pub parent_ids: Vec<Id>,
        pub default_locale: Option<String>,
        /// Locale → `article_content`; also carries `"type": "article_translated_content"`.
        pub translated_content: Option<Map<String, Value>>,
    }
}

impl Article {
    /// Locales with content other than the default one: what counts as a translation.
    pub fn translation_locales(&self) -> Vec<String> {
        let default = self.default_locale.as_deref().unwrap_or("en");
        let mut out: Vec<String> = self
            .translated_content
            .iter()
            .flatten()
            .filter(|(k, v)| k.as_str() != "type" && k.as_str() != default && v.is_object())
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out
    }
}

records! {
    pub struct ArticleVersion {
        pub id: Option<Id>,
        pub article_id: Option<Id>,
        pub title: Option<String>,
        pub body: Option<String>,
        pub author_id: Option<Id>,
        pub created_via: Option<String>,
        pub from_version_id: Option<Id>,
        pub state: Option<ArticleState>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
    }

    /// `part_attachment`: a file on a conversation source or part. Its URL expires (≈30 minutes).
    pub struct Attachment {
        #[serde(rename = "type")]
        pub kind: Option<String>,
        pub name: Option<String>,
        pub url: Option<String>,
        pub content_type: Option<String>,
        pub filesize: Option<u64>,
        pub width: Option<u64>,
        pub height: Option<u64>,
    }

    /// The first message of a conversation.
    pub struct ConversationSource {
        #[serde(rename = "type")]
        pub kind: Option<String>,
        pub id: Option<Id>,
        pub delivered_as: Option<String>,
        pub subject: Option<String>,
        pub body: Option<String>,
        pub author: Option<Author>,
        pub attachments: Vec<Attachment>,
        pub url: Option<String>,
        pub redacted: Option<bool>,
    }

    pub struct ConversationPart {
        pub id: Option<Id>,
        /// Not enumerated by the schema (`comment`, `note`, `assignment`, `close`, …).
        pub part_type: Option<String>,
        pub body: Option<String>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
        pub notified_at: Option<i64>,
        pub assigned_to: Option<ObjectRef>,
        pub author: Option<Author>,
        pub attachments: Vec<Attachment>,
        pub external_id: Option<Id>,
        pub redacted: Option<bool>,
        pub state: Option<ConversationState>,
        pub tags: Vec<Tag>,
        pub event_details: Option<Value>,
    }

    pub struct ConversationPartList {
        pub conversation_parts: Vec<ConversationPart>,
        pub total_count: Option<u64>,
    }

    pub struct ContactRef {
        pub id: Option<Id>,
        pub external_id: Option<Id>,
    }

    pub struct ContactRefList {
        pub contacts: Vec<ContactRef>,
    }

    pub struct ConversationStatistics {
        /// Includes the source message, so a complete thread has `parts + 1`.
        pub count_conversation_parts: Option<u64>,
        pub count_reopens: Option<u64>,
        pub count_assignments: Option<u64>,
        pub first_contact_reply_at: Option<i64>,
        pub last_close_at: Option<i64>,
    }

    pub struct Conversation {
        pub id: Option<Id>,
        pub title: Option<String>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
        pub waiting_since: Option<i64>,
        pub snoozed_until: Option<i64>,
        pub open: Option<bool>,
        pub state: Option<ConversationState>,
        pub read: Option<bool>,
        pub priority: Option<Priority>,
        pub admin_assignee_id: Option<Id> as "opt_assignee_id",
        pub team_assignee_id: Option<Id> as "opt_assignee_id",
        pub source: Option<ConversationSource>,
        pub contacts: Option<ContactRefList>,
        pub tags: Option<TagList>,
        pub statistics: Option<ConversationStatistics>,
        pub custom_attributes: Option<Map<String, Value>>,
        /// Only when retrieved one by one; at most the 500 most recent parts.
        pub conversation_parts: Option<ConversationPartList>,
    }
}

/// What the 500-part cap hid from one retrieved conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartCoverage {
    /// Parts the API returned.
    pub returned: u64,
    /// Parts that exist, excluding the source message.
    pub existing: u64,
}

impl PartCoverage {
    /// Older parts that exist but the API cannot return.
    pub fn missing(&self) -> u64 {
        self.existing.saturating_sub(self.returned)
    }
}

impl Conversation {
    /// The hard limit of parts `GET /conversations/{id}` returns (the most recent ones).
    pub const PART_CAP: u64 = 500;

    /// Compares returned parts with `statistics.count_conversation_parts` (which counts the
    /// source message) and `conversation_parts.total_count`, whichever says more exist.
    pub fn part_coverage(&self) -> PartCoverage {
        let list = self.conversation_parts.as_ref();
        let returned = list.map_or(0, |l| l.conversation_parts.len() as u64);
        let total_count = list.and_then(|l| l.total_count).unwrap_or(returned);
        let from_stats = self
            .statistics
            .as_ref()
            .and_then(|s| s.count_conversation_parts)
            .map_or(0, |n| n.saturating_sub(1));
        PartCoverage {
            returned,
            existing: returned.max(total_count).max(from_stats),
        }
    }

    /// Every attachment on the source and the parts, with the part id it hangs on (None = source).
    pub fn attachments(&self) -> Vec<(Option<Id>, &Attachment)> {
        let mut out = Vec::new();
        if let Some(src) = &self.source {
            out.extend(src.attachments.iter().map(|a| (None, a)));
        }
        if let Some(list) = &self.conversation_parts {
            for part in &list.conversation_parts {
                out.extend(part.attachments.iter().map(|a| (part.id.clone(), a)));
            }
        }
        out
    }
}

records! {
    /// A data event (only those from the last 90 days can be listed).
    pub struct DataEvent {
        pub id: Option<Id>,
        pub event_name: Option<String>,
        pub created_at: Option<i64>,
        pub user_id: Option<Id>,
        pub intercom_user_id: Option<Id>,
        pub email: Option<String>,
        pub metadata: Option<Map<String, Value>>,
    }

    /// One line of `GET /events?summary=true`: all events of a name, older ones included.
    pub struct EventSummaryItem {
        pub name: Option<String>,
        pub first: Option<i64>,
        pub last: Option<i64>,
        pub count: Option<u64>,
        pub description: Option<String>,
    }

    pub struct EventSummary {
        pub email: Option<String>,
        pub intercom_user_id: Option<Id>,
        pub user_id: Option<Id>,
        pub events: Vec<EventSummaryItem>,
    }
}

impl EventSummary {
    /// All events of this contact, of every age.
    pub fn total(&self) -> u64 {
        self.events.iter().filter_map(|e| e.count).sum()
    }
}

records! {
    pub struct TicketTypeAttribute {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub description: Option<String>,
        pub data_type: Option<String>,
        pub required_to_create: Option<bool>,
        pub archived: Option<bool>,
    }

    pub struct TicketTypeAttributeList {
        pub data: Vec<TicketTypeAttribute>,
    }

    pub struct TicketType {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub description: Option<String>,
        pub icon: Option<String>,
        pub category: Option<String>,
        pub archived: Option<bool>,
        pub is_internal: Option<bool>,
        pub ticket_type_attributes: Option<TicketTypeAttributeList>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
    }

    pub struct TicketState {
        pub id: Option<Id>,
        pub category: Option<String>,
        pub internal_label: Option<String>,
        pub external_label: Option<String>,
    }

    pub struct TicketPart {
        pub id: Option<Id>,
        pub part_type: Option<String>,
        pub body: Option<String>,
        pub ticket_state: Option<String>,
        pub previous_ticket_state: Option<String>,
        pub created_at: Option<i64>,
        pub author: Option<Author>,
        pub attachments: Vec<Attachment>,
    }

    pub struct TicketPartList {
        pub ticket_parts: Vec<TicketPart>,
        pub total_count: Option<u64>,
    }

    pub struct Ticket {
        pub id: Option<Id>,
        /// The inbox number shown to people, not an API id.
        pub ticket_id: Option<Id>,
        pub category: Option<String>,
        pub ticket_attributes: Option<Map<String, Value>>,
        pub ticket_state: Option<TicketState>,
        pub ticket_type: Option<TicketType>,
        pub contacts: Option<ContactRefList>,
        pub admin_assignee_id: Option<Id> as "opt_assignee_id",
        pub team_assignee_id: Option<Id> as "opt_assignee_id",
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
        pub open: Option<bool>,
        pub snoozed_until: Option<i64>,
        pub ticket_parts: Option<TicketPartList>,
    }

    pub struct Brand {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub is_default: Option<bool>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
        pub help_center_id: Option<Id>,
    }

    /// Minutes counted from the start of the week (Monday 00:00 = day 0).
    pub struct TimeInterval {
        pub start_minute: Option<u64>,
        pub end_minute: Option<u64>,
        pub day_of_week: Option<u64>,
    }

    pub struct OfficeHoursSchedule {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub time_zone_name: Option<String>,
        pub time_intervals: Vec<TimeInterval>,
        pub twenty_four_seven: Option<bool>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
    }

    pub struct OfficeHoursException {
        pub id: Option<Id>,
        pub office_hours_schedule_id: Option<Id>,
        pub exception_date: Option<String>,
        pub exception_type: Option<String>,
        pub name: Option<String>,
        pub time_intervals: Vec<TimeInterval>,
        pub recurring_annually: Option<bool>,
    }

    /// A saved reply; its times are ISO-8601 strings, unlike the rest of the API.
    pub struct Macro {
        pub id: Option<Id>,
        pub name: Option<String>,
        pub body: Option<String>,
        pub body_text: Option<String>,
        pub created_at: Option<i64>,
        pub updated_at: Option<i64>,
        pub visible_to: Option<String>,
        pub visible_to_team_ids: Vec<Id>,
        pub available_on: Vec<String>,
    }

    /// The `pages` object of a list response, in every style the API uses: `next` is absent/null,
    /// a full URL (page-number lists, events), or `{page?, starting_after?, per_page?}` (cursors).
    pub struct Pages {
        pub page: Option<u64>,
        pub per_page: Option<u64>,
        pub total_pages: Option<u64>,
        pub next: Option<NextPage>,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NextPage {
    Url(String),
    Cursor {
        #[serde(default, deserialize_with = "field")]
        page: Option<u64>,
        #[serde(default, deserialize_with = "field")]
        starting_after: Option<String>,
        #[serde(default, deserialize_with = "field")]
        per_page: Option<u64>,
    },
}

impl Lenient for Option<NextPage> {
    fn read(v: Value) -> Self {
        shaped(v)
    }
}

impl Pages {
    /// Reads `body.pages`, tolerating its absence or a null.
    pub fn of(body: &Value) -> Pages {
        body.get("pages")
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .unwrap_or_default()
    }

    /// The cursor for the next page, when `next` carries one.
    pub fn starting_after(&self) -> Option<&str> {
        match &self.next {
            Some(NextPage::Cursor {
                starting_after: Some(c),
                ..
            }) if !c.is_empty() => Some(c),
            _ => None,
        }
    }

    /// The next page's URL, when `next` is a link.
    pub fn next_url(&self) -> Option<&str> {
        match &self.next {
            Some(NextPage::Url(u)) if !u.is_empty() => Some(u),
            _ => None,
        }
    }

    /// Whether a page-numbered listing has a page after this one.
    pub fn has_next_page(&self) -> bool {
        match (&self.next, self.page, self.total_pages) {
            (Some(NextPage::Url(u)), _, _) if !u.is_empty() => true,
            (Some(NextPage::Cursor { .. }), _, _) => true,
            (_, Some(page), Some(total)) => page < total,
            _ => false,
        }
    }
}
