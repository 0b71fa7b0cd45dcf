//! Content and settings: tracking, saved searches with folders and positions, the knowledge base
//! (categories, articles, per-language versions with publishing) and shortcuts with categories.
//!
//! ASSUMPTIONS (the reference could not confirm these bodies; each is named here, in one place):
//! - KB category create: `POST /v1/kb/categories {langs: {<lang>: {title, slug?, description?}},
//!   parent?}` or the short form `{title, slug?, lang? (default en_us), parent?}`; `parent` is an
//!   existing category id.
//! - Knowledge bases: `GET /v1/kb/knowledge-bases` lists them (one per brand; the default one,
//!   `default: true`, is the default brand's). Every category and article belongs to one and
//!   its reads carry it: a category's `knowledgeBase` (id), an article's
//!   `knowledgeBases: [{id, featured}]`; a create that names none goes to the default one. A
//!   parent category, and an article's categories, must be in the same knowledge base (400).
//! - KB article create: `POST /v1/kb/articles {categories?[ids], knowledgeBases?, source?
//!   (default en_us), externalId?}` makes the article container and an empty draft version in
//!   its `source` language (that draft counts as a kb_version). Kustomer's KB guide puts the
//!   title on versions, and the language field is `source`: the strict simulator refuses
//!   `title` and `lang` on the article (lenient: `lang` is read as `source`, `title` pre-fills
//!   the draft).
//! - `POST /v1/kb/articles/{id}/versions/{lang}` opens a new draft `{title, htmlBody, slug}`;
//!   `PUT` on the same path fills the draft, and a `publishedAt` publishes it (title and htmlBody
//!   then required), making the article `published`.
//! - Saved search create: `POST /v1/customers/searches {name, data{queryContext,…}, defaultVisibility?}`;
//!   folder create `POST /v1/customers/searches/folders {name}`.
//! - Shortcut create: `POST /v1/shortcuts {name, draft{text ≤ 10,240}, parent? (category id)}`;
//!   category create `POST /v1/shortcuts/categories {name}`.
//! - Tracking: `identity` (any object) and `event`/`identityEvent` (name starting with a letter)
//!   answer 204; events are stamped at receipt (the documented body has no timestamp).

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::envelope::{ApiError, ApiResult, JsonBody};
use super::org::{fetched, listed};
use super::records::{created, current, merge, require};
use super::state::{Kind, Sim, Store, now_iso};
use super::validation::{optional_date, optional_str, required_str};

/// Longest shortcut text.
pub const MAX_SHORTCUT_TEXT: usize = 10_240;
const DEFAULT_LANG: &str = "en_us";

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/v1/tracking/identity", post(track_identity))
        .route("/v1/tracking/event", post(track_event))
        .route("/v1/tracking/identityEvent", post(track_identity_event))
        .route(
            "/v1/customers/searches",
            listed(Kind::SavedSearch).post(post_search),
        )
        .route("/v1/customers/searches/folders", post(post_folder))
        .route(
            "/v1/customers/searches/positions",
            get(get_positions).put(put_positions),
        )
        .route("/v1/kb/knowledge-bases", listed(Kind::KnowledgeBase))
        .route(
            "/v1/kb/categories",
            listed(Kind::KbCategory).post(post_category),
        )
        .route(
            "/v1/kb/articles",
            listed(Kind::KbArticle).post(post_article),
        )
        .route(
            "/v1/kb/articles/{id}",
            fetched(Kind::KbArticle).put(put_article),
        )
        .route(
            "/v1/kb/articles/{id}/versions/{lang}",
            post(post_version).put(put_version),
        )
        .route("/v1/shortcuts", listed(Kind::Shortcut).post(post_shortcut))
        .route(
            "/v1/shortcuts/categories",
            listed(Kind::ShortcutCategory).post(post_shortcut_category),
        )
}

fn check_event_name(event: &Map<String, Value>, pointer: &str) -> Result<(), ApiError> {
    let name = event
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(ApiError::invalid(
            pointer,
            format!("event name `{name}` must start with a letter"),
        )
        .simple());
    }
    Ok(())
}

async fn track_identity(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    body.object().map_err(ApiError::simple)?;
    sim.lock().tracking_identities += 1;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn track_event(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let body = body.object().map_err(ApiError::simple)?;
    check_event_name(&body, "/name")?;
    sim.lock().tracking_events += 1;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn track_identity_event(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let body = body.object().map_err(ApiError::simple)?;
    let identity_ok = body.get("identity").is_some_and(Value::is_object);
    let event = body.get("event").and_then(Value::as_object);
    let (true, Some(event)) = (identity_ok, event) else {
        return Err(
            ApiError::bad_request("the body is {identity: {…}, event: {name, …}}").simple(),
        );
    };
    check_event_name(event, "/event/name")?;
    let identity = body.get("identity").and_then(Value::as_object);
    let key = identity
        .and_then(|i| i.get("externalId").or_else(|| i.get("email")))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut store = sim.lock();
    // The per-customer limit holds for tracking events too, and `importedAt` does not lift it:
    // tracking events have no such field.
    if !key.is_empty()
        && !store.take_customer_create(
            &format!("tracking:{key}"),
            super::conversations::CUSTOMER_CREATES_PER_MINUTE,
        )
    {
        return Err(ApiError::too_many(format!(
            "customer {key} received more than {} tracking events this minute",
            super::conversations::CUSTOMER_CREATES_PER_MINUTE
        )));
    }
    store.tracking_identities += 1;
    store.tracking_events += 1;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Stores a validated body as a record of `kind` under `collection`, answered `201`.
fn insert_created(sim: &Sim, kind: Kind, body: Map<String, Value>, collection: &str) -> ApiResult {
    let mut store = sim.lock();
    let id = store.insert(kind, body, BTreeMap::new(), collection, false);
    Ok(created(&store, kind, &id))
}

/// `POST` of a record whose one rule is a required `name`.
fn post_named(sim: &Sim, body: JsonBody, kind: Kind, collection: &str) -> ApiResult {
    let body = body.object()?;
    required_str(&body, "name")?;
    insert_created(sim, kind, body, collection)
}

async fn post_search(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let body = body.object()?;
    required_str(&body, "name")?;
    let data = body
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::missing("data"))?;
    if !data.get("queryContext").is_some_and(Value::is_string) {
        return Err(ApiError::invalid(
            "/data/queryContext",
            "a saved search's `data` needs a `queryContext`",
        ));
    }
    if data
        .get("fields")
        .and_then(Value::as_array)
        .is_some_and(|f| f.len() > 20)
    {
        return Err(ApiError::invalid(
            "/data/fields",
            "a saved search shows at most 20 fields",
        ));
    }
    for field in ["teamVisibilities", "userVisibilities"] {
        if body
            .get(field)
            .and_then(Value::as_array)
            .is_some_and(|v| v.len() > 10)
        {
            return Err(ApiError::invalid(
                format!("/{field}"),
                format!("`{field}` takes at most 10 entries"),
            ));
        }
    }
    insert_created(&sim, Kind::SavedSearch, body, "/v1/customers/searches")
}

async fn post_folder(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    post_named(
        &sim,
        body,
        Kind::SearchFolder,
        "/v1/customers/searches/folders",
    )
}

async fn get_positions(State(sim): State<Sim>) -> ApiResult {
    let store = sim.lock();
    Ok(
        Json(json!({"data": {"type": "search_positions", "attributes": store.search_positions}}))
            .into_response(),
    )
}

/// `PUT /v1/customers/searches/positions {positions: [{type: search|folder, id, children?}], rev?}`:
/// every id must exist; folders hold only searches (folders cannot nest).
async fn put_positions(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let body = body.object()?;
    let positions = body
        .get("positions")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::missing("positions"))?;
    let mut store = sim.lock();
    for (i, entry) in positions.iter().enumerate() {
        let pointer = format!("/positions/{i}");
        let kind = match entry.get("type").and_then(Value::as_str) {
            Some("search") => Kind::SavedSearch,
            Some("folder") => Kind::SearchFolder,
            _ => return Err(ApiError::invalid(&pointer, "`type` is search or folder")),
        };
        let id = entry.get("id").and_then(Value::as_str).unwrap_or_default();
        if store.get(kind, id).is_none() {
            return Err(ApiError::invalid(
                &pointer,
                format!("no {} with id {id}", kind.json_type()),
            ));
        }
        if let Some(children) = entry.get("children").and_then(Value::as_array) {
            if kind != Kind::SearchFolder {
                return Err(ApiError::invalid(&pointer, "only folders have children"));
            }
            for (j, child) in children.iter().enumerate() {
                let child_id = child.get("id").and_then(Value::as_str).unwrap_or_default();
                if child.get("type").and_then(Value::as_str) != Some("search")
                    || store.get(Kind::SavedSearch, child_id).is_none()
                {
                    return Err(ApiError::invalid(
                        format!("{pointer}/children/{j}"),
                        "folders hold existing searches only; folders cannot be placed into other folders",
                    ));
                }
            }
        }
    }
    let rev = store
        .search_positions
        .get("rev")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        + 1;
    store.search_positions = json!({"positions": positions, "rev": rev});
    Ok(
        Json(json!({"data": {"type": "search_positions", "attributes": store.search_positions}}))
            .into_response(),
    )
}

/// See the module's assumptions: `{langs: {<lang>: {title, slug?, description?}}}` (the read
/// shape) or the short form `{title, slug?, lang?}`; `parent` nests it under another category.
async fn post_category(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let body = body.object()?;
    let langs = match body.get("langs") {
        Some(Value::Object(langs)) if !langs.is_empty() => {
            for (lang, entry) in langs {
                if entry
                    .get("title")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t.trim().is_empty())
                {
                    return Err(ApiError::invalid(
                        format!("/langs/{lang}/title"),
                        format!("category language {lang} needs a `title`"),
                    ));
                }
            }
            Value::Object(langs.clone())
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "/langs",
                "`langs` must be an object keyed by language",
            ));
        }
        None => {
            let title = required_str(&body, "title")?;
            let lang = optional_str(&body, "lang")?.unwrap_or(DEFAULT_LANG);
            json!({ lang: { "title": title, "slug": body.get("slug"), "description": body.get("description"), "disabled": false } })
        }
    };
    let mut store = sim.lock();
    let kb = knowledge_base(
        &store,
        optional_str(&body, "knowledgeBase")?,
        "/knowledgeBase",
    )?;
    let mut rels = BTreeMap::new();
    if let Some(parent) = optional_str(&body, "parent")? {
        let rel = store
            .rel(Kind::KbCategory, parent)
            .ok_or_else(|| ApiError::invalid("/parent", format!("no category with id {parent}")))?;
        let parent_kb = category_knowledge_base(&store, parent);
        if parent_kb.as_deref() != Some(kb.as_str()) {
            return Err(ApiError::invalid(
                "/parent",
                format!(
                    "parent category {parent} belongs to knowledge base {}, not {kb}",
                    parent_kb.unwrap_or_default()
                ),
            ));
        }
        rels.insert("parent".to_string(), rel);
    }
    let mut attrs = Map::new();
    attrs.insert("knowledgeBase".into(), json!(kb));
    attrs.insert("langs".into(), langs);
    attrs.insert(
        "published".into(),
        json!(
            body.get("published")
                .and_then(Value::as_bool)
                .unwrap_or(true)
        ),
    );
    attrs.insert("root".into(), json!(rels.is_empty()));
    let id = store.insert(Kind::KbCategory, attrs, rels, "/v1/kb/categories", false);
    Ok(created(&store, Kind::KbCategory, &id))
}

fn new_version(
    store: &mut Store,
    article: &str,
    lang: &str,
    mut body: Map<String, Value>,
) -> String {
    body.insert("lang".into(), json!(lang));
    body.insert("status".into(), json!("draft"));
    let rels = store
        .rel(Kind::KbArticle, article)
        .map(|rel| BTreeMap::from([("article".to_string(), rel)]))
        .unwrap_or_default();
    let vid = store.insert(
        Kind::KbVersion,
        body,
        rels,
        &format!("/v1/kb/articles/{article}/versions"),
        false,
    );
    set_pointer(store, article, lang, "draftVersion", Some(&vid));
    vid
}

/// The article's `langVersions.{lang}.{key}` as the reference reads it: the version itself
/// (`_id`, `title`, `htmlBody`, `slug`, `status`), or null.
fn set_pointer(store: &mut Store, article: &str, lang: &str, key: &str, version: Option<&str>) {
    let snapshot = version
        .and_then(|vid| store.get(Kind::KbVersion, vid).map(|v| (vid, v)))
        .map(|(vid, v)| {
            let a = v.attributes.map();
            json!({
                "_id": vid,
                "title": a.get("title").cloned().unwrap_or(Value::Null),
                "htmlBody": a.get("htmlBody").cloned().unwrap_or(Value::Null),
                "slug": a.get("slug").cloned().unwrap_or(Value::Null),
                "status": a.get("status").cloned().unwrap_or(Value::Null),
            })
        })
        .unwrap_or(Value::Null);
    store.update(Kind::KbArticle, article, |attributes, _| {
        let versions = attributes.entry("langVersions").or_insert(json!({}));
        versions[lang][key] = snapshot;
    });
}

/// The knowledge base a create names (it must exist), else the org's default one.
fn knowledge_base(store: &Store, given: Option<&str>, pointer: &str) -> Result<String, ApiError> {
    match given {
        Some(id) if store.get(Kind::KnowledgeBase, id).is_some() => Ok(id.to_string()),
        Some(id) => Err(ApiError::invalid(
            pointer,
            format!("no knowledge base with id {id}"),
        )),
        None => store
            .all(Kind::KnowledgeBase)
            .iter()
            .find(|k| k.attributes.get("default") == Some(json!(true)))
            .map(|k| k.id.clone())
            .ok_or_else(|| ApiError::invalid(pointer, "the org has no default knowledge base")),
    }
}

/// The knowledge base category `id` belongs to.
fn category_knowledge_base(store: &Store, id: &str) -> Option<String> {
    store
        .get(Kind::KbCategory, id)?
        .attributes
        .str("knowledgeBase")
}

/// An article's `knowledgeBases` as `[{id, featured}]` (each an id or `{id, featured?}`), the
/// default knowledge base when the body names none.
fn article_knowledge_bases(store: &Store, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let Some(given) = body.get("knowledgeBases") else {
        let id = knowledge_base(store, None, "/knowledgeBases")?;
        return Ok(json!([{ "id": id, "featured": false }]));
    };
    let list = given.as_array().filter(|l| !l.is_empty()).ok_or_else(|| {
        ApiError::invalid(
            "/knowledgeBases",
            "`knowledgeBases` must be a non-empty array of {id, featured}",
        )
    })?;
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let pointer = format!("/knowledgeBases/{i}");
        let id = entry
            .as_str()
            .or_else(|| entry.get("id").and_then(Value::as_str))
            .ok_or_else(|| ApiError::invalid(&pointer, "a knowledge base is {id, featured}"))?;
        let id = knowledge_base(store, Some(id), &pointer)?;
        let featured = entry
            .get("featured")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        out.push(json!({ "id": id, "featured": featured }));
    }
    Ok(Value::Array(out))
}

/// The strict simulator's refusal of a field Kustomer's KB guide puts elsewhere (the article is
/// a container: its title lives on versions, its language field is `source`).
fn refuse_container_field(sim: &Sim, body: &Map<String, Value>) -> Result<(), ApiError> {
    if !sim.config().strict {
        return Ok(());
    }
    for (field, why) in [
        (
            "title",
            "an article is a container: its title lives on its versions",
        ),
        ("lang", "an article's language field is `source`"),
    ] {
        if body.contains_key(field) {
            let e = ApiError::invalid(
                format!("/{field}"),
                format!(
                    "`{field}` is not an article field: {why} (Kustomer's knowledge base guide)"
                ),
            );
            sim.lock()
                .refused_fields
                .push(format!("POST /v1/kb/articles: {}", e.detail));
            return Err(e);
        }
    }
    Ok(())
}

async fn post_article(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let body = body.object()?;
    refuse_container_field(&sim, &body)?;
    let title = optional_str(&body, "title")?.map(str::to_string);
    let lang = match optional_str(&body, "source")? {
        Some(l) => l,
        None => optional_str(&body, "lang")?.unwrap_or(DEFAULT_LANG),
    }
    .to_string();
    let mut store = sim.lock();
    let knowledge_bases = article_knowledge_bases(&store, &body)?;
    let kb_ids: Vec<&str> = knowledge_bases
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k.get("id").and_then(Value::as_str))
        .collect();
    if let Some(categories) = body.get("categories") {
        let list = categories.as_array().ok_or_else(|| {
            ApiError::invalid(
                "/categories",
                "`categories` must be an array of category ids",
            )
        })?;
        for (i, c) in list.iter().enumerate() {
            let id = c
                .as_str()
                .or_else(|| c.get("id").and_then(Value::as_str))
                .unwrap_or_default();
            if store.get(Kind::KbCategory, id).is_none() {
                return Err(ApiError::invalid(
                    format!("/categories/{i}"),
                    format!("no category with id {c}"),
                ));
            }
            let category_kb = category_knowledge_base(&store, id).unwrap_or_default();
            if !kb_ids.contains(&category_kb.as_str()) {
                return Err(ApiError::invalid(
                    format!("/categories/{i}"),
                    format!(
                        "category {id} belongs to knowledge base {category_kb}, which the article is not in"
                    ),
                ));
            }
        }
    }
    let mut attrs = body.clone();
    attrs.remove("lang");
    attrs.remove("title");
    attrs.insert("knowledgeBases".into(), knowledge_bases);
    attrs.insert("source".into(), json!(lang));
    attrs.insert("status".into(), json!("draft"));
    attrs.insert("langVersions".into(), json!({}));
    attrs.entry("deleted").or_insert(json!(false));
    let id = store.insert(
        Kind::KbArticle,
        attrs,
        BTreeMap::new(),
        "/v1/kb/articles",
        false,
    );
    let draft = super::org::obj(json!({"title": title, "htmlBody": "", "slug": null}));
    new_version(&mut store, &id, &lang, draft);
    Ok(created(&store, Kind::KbArticle, &id))
}

/// `PUT /v1/kb/articles/{id}`: merges attributes (`deleted: true` soft-deletes).
async fn put_article(State(sim): State<Sim>, Path(id): Path<String>, body: JsonBody) -> ApiResult {
    let body = body.object()?;
    let mut store = sim.lock();
    require(&store, Kind::KbArticle, "article", &id)?;
    merge(&mut store, Kind::KbArticle, &id, body, BTreeMap::new());
    Ok(current(&store, Kind::KbArticle, &id))
}

fn check_version_body(body: &Map<String, Value>) -> Result<(), ApiError> {
    for field in ["title", "htmlBody", "slug"] {
        optional_str(body, field)?;
    }
    optional_date(body, "publishedAt")
}

/// `POST …/versions/{lang}`: a new draft for `lang` (a new language or a new revision).
async fn post_version(
    State(sim): State<Sim>,
    Path((id, lang)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult {
    let body = body.object()?;
    check_version_body(&body)?;
    let mut store = sim.lock();
    require(&store, Kind::KbArticle, "article", &id)?;
    let publish = body.get("publishedAt").cloned().filter(|p| !p.is_null());
    let mut draft = body;
    draft.remove("publishedAt");
    let vid = new_version(&mut store, &id, &lang, draft);
    if let Some(at) = publish {
        publish_version(&mut store, &id, &lang, &vid, at)?;
    }
    Ok(created(&store, Kind::KbVersion, &vid))
}

/// `PUT …/versions/{lang}`: fills the draft; `publishedAt` publishes it.
async fn put_version(
    State(sim): State<Sim>,
    Path((id, lang)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult {
    let mut body = body.object()?;
    check_version_body(&body)?;
    let mut store = sim.lock();
    let draft = store
        .get(Kind::KbArticle, &id)
        .ok_or_else(|| ApiError::not_found(format!("no article with id {id}")))?
        .attributes
        .get("langVersions")
        .as_ref()
        .and_then(|v| v.get(&lang))
        .and_then(|v| v.get("draftVersion"))
        .and_then(|v| v.get("_id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "article {id} has no {lang} draft; POST a version first"
            ))
        })?;
    let publish = body.remove("publishedAt").filter(|p| !p.is_null());
    merge(&mut store, Kind::KbVersion, &draft, body, BTreeMap::new());
    set_pointer(&mut store, &id, &lang, "draftVersion", Some(&draft));
    if let Some(at) = publish {
        publish_version(&mut store, &id, &lang, &draft, at)?;
    }
    Ok(current(&store, Kind::KbVersion, &draft))
}

fn publish_version(
    store: &mut Store,
    article: &str,
    lang: &str,
    version: &str,
    at: Value,
) -> Result<(), ApiError> {
    let v = store
        .get(Kind::KbVersion, version)
        .ok_or_else(|| ApiError::not_found("version vanished"))?;
    for field in ["title", "htmlBody"] {
        if v.attributes.str(field).is_none_or(|s| s.is_empty()) {
            return Err(ApiError::invalid(
                format!("/{field}"),
                format!("a version needs `{field}` before it is published"),
            ));
        }
    }
    store.update(Kind::KbVersion, version, |attributes, _| {
        attributes.insert("status".into(), json!("published"));
        attributes.insert("publishedAt".into(), at.clone());
    });
    store.update(Kind::KbArticle, article, |attributes, _| {
        attributes.insert("status".into(), json!("published"));
        attributes.insert("publishedAt".into(), at);
        let versions = attributes.entry("langVersions").or_insert(json!({}));
        versions[lang]["publishedAt"] = json!(now_iso());
    });
    set_pointer(store, article, lang, "currentVersion", Some(version));
    set_pointer(store, article, lang, "draftVersion", None);
    Ok(())
}

async fn post_shortcut(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    let body = body.object()?;
    required_str(&body, "name")?;
    let text = body
        .get("draft")
        .and_then(|d| d.get("text"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing("draft.text"))?;
    if text.chars().count() > MAX_SHORTCUT_TEXT {
        return Err(ApiError::invalid(
            "/draft/text",
            format!("shortcut text is longer than {MAX_SHORTCUT_TEXT} characters"),
        ));
    }
    let mut store = sim.lock();
    let mut rels = BTreeMap::new();
    if let Some(parent) = optional_str(&body, "parent")? {
        let rel = store.rel(Kind::ShortcutCategory, parent).ok_or_else(|| {
            ApiError::invalid("/parent", format!("no shortcut category with id {parent}"))
        })?;
        rels.insert("parent".to_string(), rel);
    }
    let mut attrs = body;
    attrs.remove("parent");
    let id = store.insert(Kind::Shortcut, attrs, rels, "/v1/shortcuts", false);
    Ok(created(&store, Kind::Shortcut, &id))
}

async fn post_shortcut_category(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    post_named(
        &sim,
        body,
        Kind::ShortcutCategory,
        "/v1/shortcuts/categories",
    )
}
