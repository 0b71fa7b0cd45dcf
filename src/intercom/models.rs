//! Typed Intercom 2.16 records, as the API returns them when read: every field optional, ids read
//! from numbers or strings, times from unix seconds or ISO strings, enums open to new values, and
//! unknown fields ignored. These are views over the raw JSON that the ledger keeps verbatim.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient::{
    Id, id_list, lenient, lenient_vec, open_enum, opt_assignee_id, opt_bool, opt_count, opt_f64,
    opt_id, opt_string, opt_time,
};

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

/// `{type, id}` reference to another object (`contact`, `company`, `admin`…).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(rename = "type", default, deserialize_with = "opt_string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
}

/// The author of a message, part or note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Author {
    #[serde(rename = "type", default, deserialize_with = "opt_string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub email: Option<String>,
}

/// `GET /me`: the admin that owns the token, and the workspace (`app`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Me {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub app: Option<App>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct App {
    #[serde(default, deserialize_with = "opt_string")]
    pub id_code: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub region: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub timezone: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Admin {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub job_title: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub away_mode_enabled: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub has_inbox_seat: Option<bool>,
    #[serde(default, deserialize_with = "id_list")]
    pub team_ids: Vec<Id>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Team {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "id_list")]
    pub admin_ids: Vec<Id>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub applied_at: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub applied_by: Option<ObjectRef>,
}

/// `{type: "tag.list", tags: [...]}` on conversations and companies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TagList {
    #[serde(default, deserialize_with = "lenient_vec")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub person_type: Option<String>,
    /// Present with `include_count=true`.
    #[serde(default, deserialize_with = "opt_count")]
    pub count: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentList {
    #[serde(default, deserialize_with = "lenient_vec")]
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataAttribute {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub full_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub data_type: Option<DataType>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub options: Vec<Value>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub api_writable: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub custom: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub archived: Option<bool>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttributeOption {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub archived: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationAttribute {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub data_type: Option<ConversationDataType>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub required: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub archived: Option<bool>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub options: Vec<AttributeOption>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Company {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    /// The workspace's own company id.
    #[serde(default, deserialize_with = "opt_id")]
    pub company_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub plan: Option<Value>,
    #[serde(default, deserialize_with = "opt_time")]
    pub remote_created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_request_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub size: Option<u64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub website: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub industry: Option<String>,
    #[serde(default, deserialize_with = "opt_f64")]
    pub monthly_spend: Option<f64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub session_count: Option<u64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub user_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub custom_attributes: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "lenient")]
    pub tags: Option<TagList>,
    #[serde(default, deserialize_with = "lenient")]
    pub segments: Option<SegmentList>,
}

/// A contact's `tags`, `notes` or `companies`: at most 10 inline, the rest behind `url`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddressableList {
    #[serde(default, deserialize_with = "lenient_vec")]
    pub data: Vec<ObjectRef>,
    #[serde(default, deserialize_with = "opt_string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "opt_count")]
    pub total_count: Option<u64>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub has_more: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_id")]
    pub external_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient")]
    pub role: Option<ContactRole>,
    #[serde(default, deserialize_with = "opt_string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub owner_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub signed_up_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_seen_at: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub custom_attributes: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "lenient")]
    pub tags: Option<AddressableList>,
    #[serde(default, deserialize_with = "lenient")]
    pub notes: Option<AddressableList>,
    #[serde(default, deserialize_with = "lenient")]
    pub companies: Option<AddressableList>,
    #[serde(default, deserialize_with = "lenient")]
    pub location: Option<Value>,
}

/// A note on a contact or a company.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Note {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub contact: Option<ObjectRef>,
    #[serde(default, deserialize_with = "lenient")]
    pub company: Option<ObjectRef>,
    #[serde(default, deserialize_with = "lenient")]
    pub author: Option<Author>,
    #[serde(default, deserialize_with = "opt_string")]
    pub body: Option<String>,
}

/// A help-center collection; `parent_id` nests collections (sections are nested collections).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub icon: Option<String>,
    #[serde(default, deserialize_with = "opt_count")]
    pub order: Option<u64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub default_locale: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub parent_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_id")]
    pub help_center_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient")]
    pub translated_content: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Article {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub author_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient")]
    pub state: Option<ArticleState>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub parent_id: Option<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub parent_ids: Vec<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub default_locale: Option<String>,
    /// Locale → `article_content`; also carries `"type": "article_translated_content"`.
    #[serde(default, deserialize_with = "lenient")]
    pub translated_content: Option<Map<String, Value>>,
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArticleVersion {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_id")]
    pub article_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub author_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub created_via: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub from_version_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient")]
    pub state: Option<ArticleState>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
}

/// `part_attachment`: a file on a conversation source or part. Its URL expires (≈30 minutes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(rename = "type", default, deserialize_with = "opt_string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub content_type: Option<String>,
    #[serde(default, deserialize_with = "opt_count")]
    pub filesize: Option<u64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub width: Option<u64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub height: Option<u64>,
}

/// The first message of a conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationSource {
    #[serde(rename = "type", default, deserialize_with = "opt_string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub delivered_as: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub subject: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub author: Option<Author>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub attachments: Vec<Attachment>,
    #[serde(default, deserialize_with = "opt_string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub redacted: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationPart {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    /// Not enumerated by the schema (`comment`, `note`, `assignment`, `close`, …).
    #[serde(default, deserialize_with = "opt_string")]
    pub part_type: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub notified_at: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub assigned_to: Option<ObjectRef>,
    #[serde(default, deserialize_with = "lenient")]
    pub author: Option<Author>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub attachments: Vec<Attachment>,
    #[serde(default, deserialize_with = "opt_id")]
    pub external_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub redacted: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub state: Option<ConversationState>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub tags: Vec<Tag>,
    #[serde(default, deserialize_with = "lenient")]
    pub event_details: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationPartList {
    #[serde(default, deserialize_with = "lenient_vec")]
    pub conversation_parts: Vec<ConversationPart>,
    #[serde(default, deserialize_with = "opt_count")]
    pub total_count: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactRef {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_id")]
    pub external_id: Option<Id>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactRefList {
    #[serde(default, deserialize_with = "lenient_vec")]
    pub contacts: Vec<ContactRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationStatistics {
    /// Includes the source message, so a complete thread has `parts + 1`.
    #[serde(default, deserialize_with = "opt_count")]
    pub count_conversation_parts: Option<u64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub count_reopens: Option<u64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub count_assignments: Option<u64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub first_contact_reply_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_close_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub waiting_since: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub snoozed_until: Option<i64>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub open: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub state: Option<ConversationState>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub read: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub priority: Option<Priority>,
    #[serde(default, deserialize_with = "opt_assignee_id")]
    pub admin_assignee_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_assignee_id")]
    pub team_assignee_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient")]
    pub source: Option<ConversationSource>,
    #[serde(default, deserialize_with = "lenient")]
    pub contacts: Option<ContactRefList>,
    #[serde(default, deserialize_with = "lenient")]
    pub tags: Option<TagList>,
    #[serde(default, deserialize_with = "lenient")]
    pub statistics: Option<ConversationStatistics>,
    #[serde(default, deserialize_with = "lenient")]
    pub custom_attributes: Option<Map<String, Value>>,
    /// Only when retrieved one by one; at most the 500 most recent parts.
    #[serde(default, deserialize_with = "lenient")]
    pub conversation_parts: Option<ConversationPartList>,
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

/// A data event (only those from the last 90 days can be listed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataEvent {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub event_name: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_id")]
    pub user_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_id")]
    pub intercom_user_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub metadata: Option<Map<String, Value>>,
}

/// One line of `GET /events?summary=true`: all events of a name, older ones included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventSummaryItem {
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub first: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last: Option<i64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub count: Option<u64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    #[serde(default, deserialize_with = "opt_string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub intercom_user_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_id")]
    pub user_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub events: Vec<EventSummaryItem>,
}

impl EventSummary {
    /// All events of this contact, of every age.
    pub fn total(&self) -> u64 {
        self.events.iter().filter_map(|e| e.count).sum()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketTypeAttribute {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub data_type: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub required_to_create: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub archived: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketTypeAttributeList {
    #[serde(default, deserialize_with = "lenient_vec")]
    pub data: Vec<TicketTypeAttribute>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketType {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub icon: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub category: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub archived: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_internal: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub ticket_type_attributes: Option<TicketTypeAttributeList>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketState {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub category: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub internal_label: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub external_label: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketPart {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub part_type: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub ticket_state: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub previous_ticket_state: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub author: Option<Author>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TicketPartList {
    #[serde(default, deserialize_with = "lenient_vec")]
    pub ticket_parts: Vec<TicketPart>,
    #[serde(default, deserialize_with = "opt_count")]
    pub total_count: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    /// The inbox number shown to people, not an API id.
    #[serde(default, deserialize_with = "opt_id")]
    pub ticket_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub category: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub ticket_attributes: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "lenient")]
    pub ticket_state: Option<TicketState>,
    #[serde(default, deserialize_with = "lenient")]
    pub ticket_type: Option<TicketType>,
    #[serde(default, deserialize_with = "lenient")]
    pub contacts: Option<ContactRefList>,
    #[serde(default, deserialize_with = "opt_assignee_id")]
    pub admin_assignee_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_assignee_id")]
    pub team_assignee_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub open: Option<bool>,
    #[serde(default, deserialize_with = "opt_time")]
    pub snoozed_until: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub ticket_parts: Option<TicketPartList>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Brand {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_default: Option<bool>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_id")]
    pub help_center_id: Option<Id>,
}

/// Minutes counted from the start of the week (Monday 00:00 = day 0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeInterval {
    #[serde(default, deserialize_with = "opt_count")]
    pub start_minute: Option<u64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub end_minute: Option<u64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub day_of_week: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OfficeHoursSchedule {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub time_zone_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub time_intervals: Vec<TimeInterval>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub twenty_four_seven: Option<bool>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OfficeHoursException {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_id")]
    pub office_hours_schedule_id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub exception_date: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub exception_type: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub time_intervals: Vec<TimeInterval>,
    #[serde(default, deserialize_with = "opt_bool")]
    pub recurring_annually: Option<bool>,
}

/// A saved reply; its times are ISO-8601 strings, unlike the rest of the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Macro {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<Id>,
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    pub body_text: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_string")]
    pub visible_to: Option<String>,
    #[serde(default, deserialize_with = "id_list")]
    pub visible_to_team_ids: Vec<Id>,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub available_on: Vec<String>,
}

/// The `pages` object of a list response, in every style the API uses: `next` is absent/null,
/// a full URL (page-number lists, events), or `{page?, starting_after?, per_page?}` (cursors).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pages {
    #[serde(default, deserialize_with = "opt_count")]
    pub page: Option<u64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub per_page: Option<u64>,
    #[serde(default, deserialize_with = "opt_count")]
    pub total_pages: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub next: Option<NextPage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NextPage {
    Url(String),
    Cursor {
        #[serde(default, deserialize_with = "opt_count")]
        page: Option<u64>,
        #[serde(default, deserialize_with = "opt_string")]
        starting_after: Option<String>,
        #[serde(default, deserialize_with = "opt_count")]
        per_page: Option<u64>,
    },
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
