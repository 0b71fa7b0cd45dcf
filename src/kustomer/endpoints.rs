//! Every Kustomer route i2k calls, named once. Paths are relative to the org or regional host;
//! ids and names are percent-encoded where they sit inside a path segment.

pub use crate::http::path_segment as segment;

pub const TOKEN_CURRENT: &str = "/v1/auth/tokens/current";
pub const USERS_CURRENT: &str = "/v1/users/current";
/// `GET` (paged, `?email=`) and `POST` (create + invite: Kustomer emails an invitation).
pub const USERS: &str = "/v1/users";
/// `GET` list, `POST` create (with `members[]`).
pub const TEAMS: &str = "/v1/teams";
pub const BRANDS: &str = "/v1/brands";
pub const SCHEDULES: &str = "/v1/schedules";
pub const KLASSES: &str = "/v1/klasses";
pub const COMPANIES: &str = "/v1/companies";
pub const CUSTOMERS: &str = "/v1/customers";
pub const CONVERSATIONS: &str = "/v1/conversations";
pub const TAGS: &str = "/v1/tags";
pub const ATTACHMENTS: &str = "/v1/attachments";
pub const TRACKING_IDENTITY_EVENT: &str = "/v1/tracking/identityEvent";
pub const SAVED_SEARCHES: &str = "/v1/customers/searches";
pub const SHORTCUTS: &str = "/v1/shortcuts";
pub const KB_KNOWLEDGE_BASES: &str = "/v1/kb/knowledge-bases";
pub const KB_CATEGORIES: &str = "/v1/kb/categories";
pub const KB_ARTICLES: &str = "/v1/kb/articles";
pub const MESSAGES_BULK: &str = "/v1/messages/bulk";
pub const NOTES_BULK: &str = "/v1/notes/bulk";

pub fn metadata(resource: &str) -> String {
    format!("/v1/metadata/{}", segment(resource))
}

pub fn customer_by_external_id(external_id: &str) -> String {
    format!("/v1/customers/externalId={}", segment(external_id))
}

pub fn customer(id: &str) -> String {
    format!("/v1/customers/{}", segment(id))
}

pub fn company(id: &str) -> String {
    format!("/v1/companies/{}", segment(id))
}

pub fn conversation(id: &str) -> String {
    format!("/v1/conversations/{}", segment(id))
}

pub fn conversation_by_external_id(external_id: &str) -> String {
    format!("/v1/conversations/externalId={}", segment(external_id))
}

pub fn conversation_tags(id: &str) -> String {
    format!("/v1/conversations/{}/tags", segment(id))
}

pub fn conversation_messages(id: &str) -> String {
    format!("/v1/conversations/{}/messages", segment(id))
}

pub fn conversation_notes(id: &str) -> String {
    format!("/v1/conversations/{}/notes", segment(id))
}

/// Lower-case `externalid`, as the reference spells this one route.
pub fn message_by_external_id(external_id: &str) -> String {
    format!("/v1/messages/externalid={}", segment(external_id))
}

pub fn kobjects(klass: &str) -> String {
    format!("/v1/klasses/{}", segment(klass))
}

pub fn kobjects_bulk(klass: &str) -> String {
    format!("/v1/klasses/{}/bulk", segment(klass))
}

pub fn kobject_by_external_id(klass: &str, external_id: &str) -> String {
    format!(
        "/v1/klasses/{}/externalId={}",
        segment(klass),
        segment(external_id)
    )
}

/// One kobject of `klass` (`GET|PUT|DELETE`, `DeleteKObject`).
pub fn kobject(klass: &str, id: &str) -> String {
    format!("/v1/klasses/{}/{}", segment(klass), segment(id))
}

/// One klass by its id (`DeleteKlass`); the same path shape as [`kobjects`], which takes a name.
pub fn klass(id: &str) -> String {
    format!("/v1/klasses/{}", segment(id))
}

/// One note (`DeleteNoteById`).
pub fn note(id: &str) -> String {
    format!("/v1/notes/{}", segment(id))
}

/// One business schedule (`DeleteScheduleById`: a soft delete).
pub fn schedule(id: &str) -> String {
    format!("/v1/schedules/{}", segment(id))
}

pub fn kb_article(id: &str) -> String {
    format!("/v1/kb/articles/{}", segment(id))
}

pub fn kb_article_version(id: &str, lang: &str) -> String {
    format!("/v1/kb/articles/{}/versions/{}", segment(id), segment(lang))
}

pub fn bulk_job(id: &str) -> String {
    format!("/v1/bulk/{}", segment(id))
}

pub fn bulk_job_batches(id: &str) -> String {
    format!("/v1/bulk/{}/batches", segment(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("abc-123_x.y"), "abc-123_x.y");
        assert_eq!(segment("a/b c=é"), "a%2Fb%20c%3D%C3%A9");
        assert_eq!(
            customer_by_external_id("123/45"),
            "/v1/customers/externalId=123%2F45"
        );
        assert_eq!(message_by_external_id("m1"), "/v1/messages/externalid=m1");
        assert_eq!(
            kobject_by_external_id("ticket", "t 1"),
            "/v1/klasses/ticket/externalId=t%201"
        );
    }
}
