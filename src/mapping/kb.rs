//! Pure Intercom → Kustomer mapping for the knowledge base: collections → categories (parents
//! first, so the hierarchy can be kept), articles → KB articles, and the steps that give each
//! article its language versions (Intercom versions in order, then every translation).

use serde_json::{Map, Value, json};

use crate::kustomer::assumptions;
use crate::mapping::raw::{id_text, parse, text, time};

/// Why a KB record cannot be mapped (the loader names it so).
pub use crate::mapping::raw::RawMappingError as KbMappingError;

/// Kustomer's language code for an Intercom locale: lower case with `_`, and bare English as
/// `en_us` (Kustomer's default language).
pub fn lang_code(locale: &str) -> String {
    let l = locale.trim().to_ascii_lowercase().replace('-', "_");
    if l.is_empty() || l == "en" {
        "en_us".to_string()
    } else {
        l
    }
}

/// The Intercom parent collection of a collection, when it has one.
pub fn collection_parent(raw: &str) -> Option<String> {
    parse(raw).ok().and_then(|v| id_text(&v, "parent_id"))
}

/// Collection ids ordered so every parent comes before its children (a parent missing from the
/// list does not hold its children back; a cycle is broken in id order).
pub fn parents_first(collections: &[(String, Option<String>)]) -> Vec<String> {
    let known: std::collections::HashSet<&str> =
        collections.iter().map(|(id, _)| id.as_str()).collect();
    let mut placed: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(collections.len());
    let mut remaining: Vec<&(String, Option<String>)> = collections.iter().collect();
    remaining.sort_by(|a, b| a.0.cmp(&b.0));
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|(id, parent)| {
            let ready = parent
                .as_deref()
                .is_none_or(|p| !known.contains(p) || placed.contains(p));
            if ready {
                placed.insert(id.clone());
                out.push(id.clone());
            }
            !ready
        });
        if remaining.len() == before {
            let (id, _) = remaining.remove(0);
            placed.insert(id.clone());
            out.push(id.clone());
        }
    }
    out
}

/// `POST /v1/kb/categories` body for a collection: the default-language title and description
/// through the assumed create shape, every translated name as another language, the parent
/// category when nested, the knowledge base it goes to (none: the org's default), and the
/// Intercom id as `externalId`.
pub fn category_body(
    raw: &str,
    parent: Option<&str>,
    knowledge_base: Option<&str>,
) -> Result<Value, KbMappingError> {
    let v = parse(raw)?;
    let name = text(&v, "name").ok_or(KbMappingError::Untitled("collection"))?;
    let default_locale = text(&v, "default_locale").unwrap_or("en");
    let lang = lang_code(default_locale);
    let mut body =
        assumptions::kb_category_body(name, text(&v, "description"), &lang, parent, knowledge_base);
    if let Some(translated) = v.get("translated_content").and_then(Value::as_object) {
        for (locale, content) in translated {
            if locale == "type" || locale == default_locale {
                continue;
            }
            if let Some(title) = text(content, "name") {
                let mut entry = json!({ "title": title });
                if let Some(d) = text(content, "description") {
                    entry["description"] = json!(d);
                }
                body["langs"][lang_code(locale)] = entry;
            }
        }
    }
    if let Some(id) = id_text(&v, "id") {
        body["externalId"] = json!(id);
    }
    Ok(body)
}

/// The Intercom collections an article sits in (nearest first).
pub fn article_collections(raw: &str) -> Vec<String> {
    let Ok(v) = parse(raw) else { return Vec::new() };
    let mut out: Vec<String> = v
        .get("parent_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| match p {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    if out.is_empty()
        && let Some(p) = id_text(&v, "parent_id")
    {
        out.push(p);
    }
    out
}

/// What an article is, read once: its default language, title, current body and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleHead {
    pub lang: String,
    pub title: String,
    pub html: String,
    pub published: bool,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

pub fn article_head(raw: &str) -> Result<ArticleHead, KbMappingError> {
    let v = parse(raw)?;
    let title = text(&v, "title").ok_or(KbMappingError::Untitled("article"))?;
    Ok(ArticleHead {
        lang: lang_code(text(&v, "default_locale").unwrap_or("en")),
        title: title.to_string(),
        html: v
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        published: text(&v, "state") == Some("published"),
        created_at: time(&v, "created_at"),
        updated_at: time(&v, "updated_at"),
    })
}

/// `POST /v1/kb/articles` body: the container as Kustomer's KB guide describes it — its
/// categories, its knowledge base (none: the org's default) and its original language
/// (`source`); the title and body go on its versions — with the Intercom id as `externalId`
/// and the original creation time.
pub fn article_body(
    head: &ArticleHead,
    external_id: &str,
    categories: &[String],
    knowledge_base: Option<&str>,
) -> Value {
    let mut body = json!({
        assumptions::KB_ARTICLE_LANG_FIELD: head.lang,
        "externalId": external_id,
    });
    if !categories.is_empty() {
        body["categories"] = json!(categories);
    }
    if let Some(kb) = knowledge_base {
        body["knowledgeBases"] = assumptions::kb_article_knowledge_bases(kb);
    }
    if let Some(t) = head.created_at.and_then(crate::mapping::clean::iso_time) {
        body["createdAt"] = json!(t);
    }
    body
}

/// One historical Intercom version, as the listing staged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionHead {
    pub id: String,
    pub created_at: i64,
}

pub fn version_head(source_id: &str, raw: &str) -> VersionHead {
    let v = parse(raw).unwrap_or(Value::Null);
    VersionHead {
        id: source_id.to_string(),
        created_at: time(&v, "created_at").unwrap_or(0),
    }
}

/// Versions oldest first (ties in id order), the order they are recreated in.
pub fn versions_in_order(mut versions: Vec<VersionHead>) -> Vec<VersionHead> {
    versions.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.len().cmp(&b.id.len()))
            .then_with(|| a.id.cmp(&b.id))
    });
    versions
}

/// A version body; `published_at` publishes it (historical versions keep their own time).
pub fn version_body(title: &str, html: &str, published_at: Option<i64>) -> Value {
    assumptions::kb_version_body(
        title,
        html,
        None,
        published_at
            .and_then(crate::mapping::clean::iso_time)
            .as_deref(),
    )
}

/// A full Intercom article version (`GET /articles/{id}/versions/{vid}`) → title and body.
pub fn full_version(raw: &Value) -> Option<(String, String)> {
    let title = text(raw, "title")?.to_string();
    let html = raw.get("body").and_then(Value::as_str)?.to_string();
    Some((title, html))
}

/// A staged translation (`{article_id, locale, content}`) → its Kustomer language and version
/// body, published when Intercom has that translation published.
pub fn translation(raw: &str) -> Result<(String, Value), KbMappingError> {
    let v = parse(raw)?;
    let locale = text(&v, "locale").unwrap_or("en");
    let content = v.get("content").cloned().unwrap_or(Value::Null);
    let title = text(&content, "title").ok_or(KbMappingError::Untitled("translation"))?;
    let html = content
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let published = text(&content, "state") == Some("published");
    let at = time(&content, "updated_at").or_else(|| time(&content, "created_at"));
    Ok((
        lang_code(locale),
        version_body(title, html, if published { at.or(Some(0)) } else { None }),
    ))
}

/// The category title (default language) a created category is matched on again.
pub fn category_title(body: &Value) -> Option<String> {
    body.get("title")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Whether a listed category (attributes) carries `title` in any language.
pub fn category_has_title(attributes: &Map<String, Value>, title: &str) -> bool {
    attributes
        .get("langs")
        .and_then(Value::as_object)
        .is_some_and(|langs| {
            langs
                .values()
                .any(|l| l.get("title").and_then(Value::as_str) == Some(title))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_become_kustomer_language_codes() {
        for (intercom, kustomer) in [
            ("en", "en_us"),
            ("fr", "fr"),
            ("pt-BR", "pt_br"),
            ("", "en_us"),
        ] {
            assert_eq!(lang_code(intercom), kustomer, "{intercom}");
        }
    }

    #[test]
    fn parents_come_before_their_children() {
        let c = vec![
            ("3".to_string(), Some("2".to_string())),
            ("2".to_string(), Some("1".to_string())),
            ("1".to_string(), None),
            ("9".to_string(), Some("gone".to_string())),
        ];
        let order = parents_first(&c);
        let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
        assert!(pos("1") < pos("2") && pos("2") < pos("3"));
        assert_eq!(order.len(), 4);
    }

    #[test]
    fn a_collection_keeps_its_translations_parent_and_id() {
        let raw =
            json!({"id": "7", "name": "Billing", "description": "Money", "default_locale": "en",
            "translated_content": {"type": "group_translated_content",
                "en": {"name": "Billing"}, "fr": {"name": "Facturation", "description": "Argent"}}})
            .to_string();
        let b = category_body(&raw, Some("k1"), Some("kb2")).unwrap();
        assert_eq!(b[assumptions::KB_CATEGORY_KNOWLEDGE_BASE_FIELD], "kb2");
        assert_eq!(b["langs"]["en_us"]["title"], "Billing");
        assert_eq!(b["langs"]["fr"]["title"], "Facturation");
        assert_eq!(b["langs"]["fr"]["description"], "Argent");
        assert_eq!(b[assumptions::KB_CATEGORY_PARENT_FIELD], "k1");
        assert_eq!(b["externalId"], "7");
        assert_eq!(
            category_body(&json!({"id": "8"}).to_string(), None, None),
            Err(KbMappingError::Untitled("collection"))
        );
    }

    #[test]
    fn articles_carry_state_categories_knowledge_base_and_time() {
        let raw = json!({"id": "5", "title": "Reset", "body": "<p>b</p>", "state": "draft",
            "created_at": 1_700_000_000, "parent_ids": [11, "10"], "default_locale": "en"})
        .to_string();
        let head = article_head(&raw).unwrap();
        assert!(!head.published);
        assert_eq!(article_collections(&raw), vec!["11", "10"]);
        let body = article_body(&head, "5", &["c1".to_string()], Some("kb2"));
        assert_eq!(body["externalId"], "5");
        // The container: its language is `source`; the title lives on its versions.
        assert_eq!(body[assumptions::KB_ARTICLE_LANG_FIELD], "en_us");
        assert!(body.get("title").is_none() && body.get("lang").is_none());
        assert_eq!(
            body["knowledgeBases"],
            json!([{"id": "kb2", "featured": false}])
        );
        let unbound = article_body(&head, "5", &[], None);
        assert!(unbound.get("knowledgeBases").is_none() && unbound.get("categories").is_none());
        assert_eq!(body["categories"], json!(["c1"]));
        assert_eq!(body["createdAt"], "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn versions_are_recreated_oldest_first() {
        let v = versions_in_order(vec![
            VersionHead {
                id: "b".into(),
                created_at: 20,
            },
            VersionHead {
                id: "a".into(),
                created_at: 10,
            },
        ]);
        assert_eq!(v[0].id, "a");
    }

    #[test]
    fn translations_keep_language_and_published_state() {
        let raw = json!({"article_id": "5", "locale": "fr",
            "content": {"title": "[fr] Reset", "body": "<p>x</p>", "state": "published", "updated_at": 1_700_000_000}})
        .to_string();
        let (lang, body) = translation(&raw).unwrap();
        assert_eq!(lang, "fr");
        assert_eq!(body["title"], "[fr] Reset");
        assert_eq!(body["publishedAt"], "2023-11-14T22:13:20.000Z");
        let draft =
            json!({"locale": "de", "content": {"title": "T", "body": "", "state": "draft"}})
                .to_string();
        assert!(translation(&draft).unwrap().1.get("publishedAt").is_none());
    }
}
