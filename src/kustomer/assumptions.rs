//! Every shape i2k assumes about Kustomer that the reference (`api/kustomer.md`) marks
//! UNCONFIRMED, in one place: when a sandbox org proves one wrong, this is the file to change.

use serde_json::{Value, json};

use crate::mapping::names::Suffix;

/// Metadata `type` for each attribute suffix. The reference confirms only that types are
/// inferred from the suffix (`totalOrdersNum` → number); the other names are assumed.
pub fn metadata_type(suffix: Suffix) -> &'static str {
    match suffix {
        Suffix::Str => "string",
        Suffix::Txt => "text",
        Suffix::Num => "number",
        Suffix::At => "date",
        Suffix::Bool => "boolean",
        Suffix::Url => "url",
    }
}

/// Metadata `enumeration[]`: documented as an array, its items' shape is not. Assumed
/// `{value, displayName}` with the option label as both.
pub fn enumeration(options: &[String]) -> Value {
    Value::Array(
        options
            .iter()
            .map(|o| json!({ "value": o, "displayName": o }))
            .collect(),
    )
}

/// `POST /v1/tags` creating a tag by name: not in any reference (tags are documented to be
/// created by appending names to a conversation). Body assumed `{name}`.
pub const TAGS_CREATE_PATH: &str = "/v1/tags";
pub fn tag_create_body(name: &str) -> Value {
    json!({ "name": name })
}

/// `POST /v1/customers/searches` creating a saved search: presumed path and body
/// `{name, data, defaultVisibility}`; no page or schema was found.
pub const SAVED_SEARCH_CREATE_PATH: &str = "/v1/customers/searches";

/// `POST /v1/shortcuts`: the path is listed in the Help Center's permission table; the body is
/// assumed from the read schema (`name`, `draft.text`, …).
pub const SHORTCUT_CREATE_PATH: &str = "/v1/shortcuts";

/// `POST /v1/kb/categories` ("POST category" in the KB guide): path and body
/// `{langs:{<lang>:{title, description}}, parent?}` assumed from the read attributes.
pub const KB_CATEGORY_CREATE_PATH: &str = "/v1/kb/categories";

/// The field that nests a KB category under another: assumed `parent` (category id).
pub const KB_CATEGORY_PARENT_FIELD: &str = "parent";

/// Version bodies `POST|PUT /v1/kb/articles/{id}/versions/{lang}`: assumed
/// `{title, htmlBody, slug?, publishedAt?}`; the paths are listed in the KB operation index.
pub const KB_VERSION_FIELDS: [&str; 4] = ["title", "htmlBody", "slug", "publishedAt"];

/// A bulk item error meaning "this externalId already exists": the documented example is
/// `"duplicate detected"`; other wordings (`already exists`) are treated the same.
pub fn is_duplicate_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("duplicate") || m.contains("already exist")
}

/// Whether a single-create refusal means the externalId exists (status undocumented: 409
/// likely, else a 400 whose code or message says duplicate).
pub fn is_duplicate_refusal(status: u16, code: &str, message: &str) -> bool {
    status == 409
        || ((400..500).contains(&status)
            && (is_duplicate_error(code) || is_duplicate_error(message)))
}
