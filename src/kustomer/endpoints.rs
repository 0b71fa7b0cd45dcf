//! Every Kustomer route i2k calls, named once. Paths are relative to the org or regional host;
//! ids and names are percent-encoded where they sit inside a path segment.

pub use crate::http::path_segment as segment;

use crate::vocab::route_paths;

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

route_paths! {
    segment;
    metadata(resource) => "/v1/metadata/{}";
    customer_by_external_id(external_id) => "/v1/customers/externalId={}";
    customer(id) => "/v1/customers/{}";
    company(id) => "/v1/companies/{}";
    conversation(id) => "/v1/conversations/{}";
    conversation_by_external_id(external_id) => "/v1/conversations/externalId={}";
    conversation_tags(id) => "/v1/conversations/{}/tags";
    conversation_messages(id) => "/v1/conversations/{}/messages";
    conversation_notes(id) => "/v1/conversations/{}/notes";
    /// Lower-case `externalid`, as the reference spells this one route.
    message_by_external_id(external_id) => "/v1/messages/externalid={}";
    kobjects(klass) => "/v1/klasses/{}";
    kobjects_bulk(klass) => "/v1/klasses/{}/bulk";
    kobject_by_external_id(klass, external_id) => "/v1/klasses/{}/externalId={}";
    /// One kobject of `klass` (`GET|PUT|DELETE`, `DeleteKObject`).
    kobject(klass, id) => "/v1/klasses/{}/{}";
    /// One klass by its id (`DeleteKlass`); the same path shape as [`kobjects`], which takes a name.
    klass(id) => "/v1/klasses/{}";
    /// One note (`DeleteNoteById`).
    note(id) => "/v1/notes/{}";
    /// One business schedule (`DeleteScheduleById`: a soft delete).
    schedule(id) => "/v1/schedules/{}";
    kb_article(id) => "/v1/kb/articles/{}";
    kb_article_version(id, lang) => "/v1/kb/articles/{}/versions/{}";
    bulk_job(id) => "/v1/bulk/{}";
    bulk_job_batches(id) => "/v1/bulk/{}/batches";
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
