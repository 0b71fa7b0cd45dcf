//! Every shape i2k assumes about Kustomer that the reference (`api/kustomer.md`) marks
//! UNCONFIRMED, in one place: when a sandbox org proves one wrong, this is the file to change.
//! `i2k doctor --probe` (`engine::probe`) tries each on the operator's org and keeps the answer.

use serde_json::{Value, json};

use super::endpoints;
use super::models::Resource;
use super::suffix::Suffix;

/// Metadata `type` for each attribute suffix, for display only: i2k does not send it (Kustomer
/// infers the type from the suffix, `totalOrdersNum` → number; the other names are unconfirmed).
pub fn metadata_type(suffix: Suffix) -> &'static str {
    suffix.metadata_type()
}

/// Metadata `enumeration[]`: plain strings, as Kustomer's published metadata example shows
/// (`GetCustomAttributeMetadata` / `UpdateCustomAttributeMetadata` answers:
/// `myCustomStr.enumeration: Array<string>`). The request type leaves the property shape open.
pub fn enumeration(options: &[String]) -> Value {
    Value::Array(options.iter().map(|o| json!(o)).collect())
}

/// `POST /v1/tags` creating a tag by name: not in any reference, published request type or
/// public code (tags are documented to be created by appending names to a conversation,
/// `AppendTagsToConversation`). Body assumed `{name}`. Without it (`i2k sim --no-tags-route`)
/// i2k falls back on the documented route (see `engine::load::tag_fallback`).
pub const TAGS_CREATE_PATH: &str = endpoints::TAGS;
pub fn tag_create_body(name: &str) -> Value {
    json!({ "name": name })
}

/// Whether a refusal of a create says the route itself does not exist on this org (404 or 405,
/// or a 4xx whose words say there is no such route), not that the body was wrong: a 404 to a
/// `POST` of a new record cannot mean the record is missing. A validation error (400/422
/// naming a field) is not an absent route.
pub fn is_absent_route(status: u16, code: &str, message: &str) -> bool {
    if status == 404 || status == 405 {
        return true;
    }
    let words = format!("{code} {message}").to_ascii_lowercase();
    (400..500).contains(&status)
        && [
            "no route",
            "route not found",
            "cannot post",
            "unknown route",
            "not implemented",
        ]
        .iter()
        .any(|w| words.contains(w))
}

/// `POST /v1/customers/searches` creating a saved search: presumed path and body
/// `{name, data, defaultVisibility}`; no page or schema was found.
pub const SAVED_SEARCH_CREATE_PATH: &str = endpoints::SAVED_SEARCHES;

/// `POST /v1/shortcuts`: the path is listed in the Help Center's permission table; the body is
/// assumed from the read schema (`name`, `draft.text`, …).
pub const SHORTCUT_CREATE_PATH: &str = endpoints::SHORTCUTS;

/// `GET /v1/kb/knowledge-bases`: Kustomer documents `POST /v1/kb/knowledge-bases` (Create
/// Knowledge Base) and `PATCH /v1/kb/knowledge-bases/{id}` (Update Knowledge Base) in its
/// knowledge base API reference, which says every org has a default knowledge base
/// (`default: true`, the default brand's) and one per further brand; the listing on the same
/// collection path is assumed.
pub const KNOWLEDGE_BASES_PATH: &str = endpoints::KB_KNOWLEDGE_BASES;

/// The brand a listed knowledge base belongs to: its `brand` attribute or relationship (the
/// reference says each belongs to exactly one brand; the field name is assumed).
pub fn knowledge_base_brand(kb: &Resource) -> Option<String> {
    kb.str("brand")
        .map(str::to_string)
        .or_else(|| kb.related_id("brand"))
}

/// The field binding a KB category to its knowledge base: assumed `knowledgeBase` (an id).
/// Kustomer's SDKs read categories per `knowledgeBaseId`, so a category belongs to one.
pub const KB_CATEGORY_KNOWLEDGE_BASE_FIELD: &str = "knowledgeBase";

/// The knowledge base a listed category carries (attribute, as an id or `{id}`, or
/// relationship `knowledgeBase`).
pub fn kb_category_knowledge_base(category: &Resource) -> Option<String> {
    match category.attributes.get(KB_CATEGORY_KNOWLEDGE_BASE_FIELD) {
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => category.related_id(KB_CATEGORY_KNOWLEDGE_BASE_FIELD),
    }
}

/// The article's `knowledgeBases`: the KB guide lists it among the container's fields "with
/// `featured`"; each entry assumed `{id, featured}`.
pub fn kb_article_knowledge_bases(knowledge_base: &str) -> Value {
    json!([{ "id": knowledge_base, "featured": false }])
}

/// The knowledge bases a listed article is in (entries `{id}` or bare ids).
pub fn kb_article_knowledge_bases_of(article: &Resource) -> Vec<String> {
    article
        .attributes
        .get("knowledgeBases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_str().or_else(|| k.get("id").and_then(Value::as_str)))
        .map(str::to_string)
        .collect()
}

/// The article container's language field: `source`, its original language (KB guide: the
/// article holds `source`; title, body and slug live on its versions, one series per language).
pub const KB_ARTICLE_LANG_FIELD: &str = "source";

/// `POST /v1/kb/categories` ("POST category" in the KB guide): the path is assumed.
pub const KB_CATEGORY_CREATE_PATH: &str = endpoints::KB_CATEGORIES;

/// The field that nests a KB category under another: assumed `parent` (category id).
pub const KB_CATEGORY_PARENT_FIELD: &str = "parent";

/// A KB category create body. The read attributes put titles under `langs.<lang>`; a create
/// may instead take a top-level `title` (the simulator reads it so). Both are sent, so either
/// reading finds what it needs.
pub fn kb_category_body(
    title: &str,
    description: Option<&str>,
    lang: &str,
    parent: Option<&str>,
    knowledge_base: Option<&str>,
) -> Value {
    let mut body = json!({
        "title": title,
        "langs": { lang: { "title": title } },
    });
    if let Some(kb) = knowledge_base {
        body[KB_CATEGORY_KNOWLEDGE_BASE_FIELD] = json!(kb);
    }
    if let Some(d) = description {
        body["description"] = json!(d);
        body["langs"][lang]["description"] = json!(d);
    }
    if let Some(p) = parent {
        body[KB_CATEGORY_PARENT_FIELD] = json!(p);
    }
    body
}

/// Version bodies for `POST|PUT /v1/kb/articles/{id}/versions/{lang}` (paths listed in the KB
/// operation index): assumed `{title, htmlBody, slug?, publishedAt?}`; `publishedAt` publishes.
pub fn kb_version_body(
    title: &str,
    html_body: &str,
    slug: Option<&str>,
    published_at: Option<&str>,
) -> Value {
    let mut body = json!({ "title": title, "htmlBody": html_body });
    if let Some(s) = slug {
        body["slug"] = json!(s);
    }
    if let Some(p) = published_at {
        body["publishedAt"] = json!(p);
    }
    body
}

/// A bulk item error meaning "this externalId already exists": the documented example is
/// `"duplicate detected"`; other wordings (`already exists`) are treated the same.
pub fn is_duplicate_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("duplicate") || m.contains("already exist")
}

/// Whether a single-create refusal means the externalId exists (status undocumented: 409
/// likely, else a 4xx whose code or message says duplicate; `i2k sim --duplicate-status 422`
/// shows it adopted through the externalId lookup).
pub fn is_duplicate_refusal(status: u16, code: &str, message: &str) -> bool {
    status == 409
        || ((400..500).contains(&status)
            && (is_duplicate_error(code) || is_duplicate_error(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_recognised_in_either_wording_and_status() {
        assert!(is_duplicate_error("duplicate detected"));
        assert!(is_duplicate_error("Customer already exists"));
        assert!(!is_duplicate_error("name is required"));
        assert!(is_duplicate_refusal(409, "", ""));
        assert!(is_duplicate_refusal(400, "duplicate", "bad"));
        assert!(!is_duplicate_refusal(400, "bad_request", "invalid name"));
        assert!(!is_duplicate_refusal(500, "duplicate", ""));
    }

    #[test]
    fn absent_routes_are_told_from_refused_bodies() {
        assert!(is_absent_route(
            404,
            "not_found",
            "no route for POST /v1/tags"
        ));
        assert!(is_absent_route(405, "", ""));
        assert!(is_absent_route(400, "bad_request", "Cannot POST /v1/tags"));
        assert!(!is_absent_route(400, "bad_request", "name is required"));
        assert!(!is_absent_route(422, "invalid", "/name must be a string"));
        assert!(!is_absent_route(500, "", "no route"));
    }

    #[test]
    fn kb_bodies_carry_both_title_readings_and_optional_fields() {
        let c = kb_category_body(
            "Billing",
            Some("Money"),
            "en_us",
            Some("root1"),
            Some("kb2"),
        );
        assert_eq!(c[KB_CATEGORY_KNOWLEDGE_BASE_FIELD], "kb2");
        assert_eq!(c["title"], "Billing");
        assert_eq!(c["langs"]["en_us"]["title"], "Billing");
        assert_eq!(c["langs"]["en_us"]["description"], "Money");
        assert_eq!(c[KB_CATEGORY_PARENT_FIELD], "root1");
        let bare = kb_category_body("Top", None, "fr", None, None);
        assert!(bare.get("description").is_none() && bare.get("parent").is_none());
        assert!(bare.get(KB_CATEGORY_KNOWLEDGE_BASE_FIELD).is_none());
        let v = kb_version_body("T", "<p>x</p>", None, Some("2024-05-01T00:00:00.000Z"));
        assert_eq!(v["publishedAt"], "2024-05-01T00:00:00.000Z");
        assert!(v.get("slug").is_none());
    }
}
