//! Conversations (create open/done, update with status, snooze and `ended*`, tag append), their
//! messages and notes, and the 120-creates-per-minute-per-customer limit that `importedAt` lifts.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::customers::find_or_create_tag;
use super::envelope::{self, ApiError, ApiResult, JsonBody};
use super::org::{fetched, listed};
use super::records::{
    Body, by_id_or_external, created, current, insert_noting_external, merge_noting_external,
    post_one, put_one, require,
};
use super::state::{Kind, Record, Rel, Sim, Store};
use super::validation::{
    check_custom, common_dates, is_imported, known_ids, optional_date, optional_str, required_str,
};

/// Creates of conversations, messages, notes and kobjects one customer may receive per minute
/// (bodies carrying `importedAt` are exempt, bulk items included).
pub const CUSTOMER_CREATES_PER_MINUTE: u32 = 120;
/// Message channels a client may create.
pub const MESSAGE_CHANNELS: [&str; 9] = [
    "email",
    "sms",
    "chat",
    "facebook",
    "twitter-dm",
    "twitter-tweet",
    "voice",
    "instagram",
    "whatsapp",
];

type Q = Query<HashMap<String, String>>;

pub fn routes() -> Router<Sim> {
    Router::new()
        .route(
            "/v1/conversations",
            listed(Kind::Conversation).post(post_conversation),
        )
        .route(
            "/v1/conversations/{id}",
            get(get_conversation)
                .put(put_conversation)
                .patch(put_conversation),
        )
        .route("/v1/conversations/{id}/tags", post(append_tags))
        .route(
            "/v1/conversations/{id}/messages",
            children_of(Kind::Message, "conversation", Kind::Conversation)
                .merge(post_in_conversation(Kind::Message, create_message)),
        )
        .route(
            "/v1/conversations/{id}/notes",
            children_of(Kind::Note, "conversation", Kind::Conversation)
                .merge(post_in_conversation(Kind::Note, create_note)),
        )
        .route(
            "/v1/customers/{id}/messages",
            children_of(Kind::Message, "customer", Kind::Customer).post(post_customer_message),
        )
        // Reference §3 Customers ("Customer-scoped sub-resources") and §3 Notes.
        .route(
            "/v1/customers/{id}/conversations",
            children_of(Kind::Conversation, "customer", Kind::Customer),
        )
        .route(
            "/v1/customers/{id}/notes",
            children_of(Kind::Note, "customer", Kind::Customer),
        )
        // Reference §3 Attachments ("Reads: … `GET /v1/conversations/{id}/attachments`").
        .route(
            "/v1/conversations/{id}/attachments",
            reading(conversation_attachments),
        )
        .route("/v1/messages", post(post_message))
        .route(
            "/v1/messages/{id}",
            get(get_message).put(put_message).patch(put_message),
        )
        .route("/v1/notes", listed(Kind::Note).post(post_note))
        .route(
            "/v1/notes/{id}",
            fetched(Kind::Note).put(put_note).patch(put_note),
        )
}

/// Takes one create from the customer's budget unless the body carries `importedAt`.
pub fn take_customer_budget(
    store: &mut Store,
    customer_id: &str,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    if is_imported(body) || store.take_customer_create(customer_id, CUSTOMER_CREATES_PER_MINUTE) {
        return Ok(());
    }
    Err(ApiError::too_many(format!(
        "customer {customer_id} received more than {CUSTOMER_CREATES_PER_MINUTE} creates this minute; send importedAt for historical records"
    )))
}

fn one_of(body: &Map<String, Value>, field: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if let Some(v) = optional_str(body, field)?
        && !allowed.contains(&v)
    {
        return Err(ApiError::invalid(
            format!("/{field}"),
            format!("`{field}` must be one of {}, got `{v}`", allowed.join("|")),
        ));
    }
    Ok(())
}

fn id_list(
    store: &Store,
    body: &Map<String, Value>,
    field: &str,
    kind: Kind,
    max: usize,
) -> Result<(), ApiError> {
    let Some(value) = body.get(field) else {
        return Ok(());
    };
    let list = value.as_array().ok_or_else(|| {
        ApiError::invalid(
            format!("/{field}"),
            format!("`{field}` must be an array of ids"),
        )
    })?;
    if list.len() > max {
        return Err(ApiError::invalid(
            format!("/{field}"),
            format!("`{field}` takes at most {max} entries"),
        ));
    }
    known_ids(store, list, field, kind, |item| {
        format!("no {} with id {item}", kind.json_type())
    })
}

fn check_conversation_common(store: &Store, body: &Map<String, Value>) -> Result<(), ApiError> {
    common_dates(body)?;
    one_of(body, "direction", &["in", "out"])?;
    if let Some(p) = body.get("priority")
        && !p.as_i64().is_some_and(|p| (1..=5).contains(&p))
    {
        return Err(ApiError::invalid("/priority", "`priority` is 1–5"));
    }
    id_list(store, body, "assignedUsers", Kind::User, 10)?;
    id_list(store, body, "assignedTeams", Kind::Team, 10)?;
    check_custom(store, "conversation", body.get("custom"))
}

/// Validates and stores a conversation (`status` only `open` or `done` on create).
pub fn create_conversation(store: &mut Store, mut body: Body) -> Result<String, ApiError> {
    let customer = required_str(&body, "customer")?.to_string();
    let customer_rel = store
        .rel(Kind::Customer, &customer)
        .ok_or_else(|| ApiError::invalid("/customer", format!("no customer with id {customer}")))?;
    one_of(&body, "status", &["open", "done"])?;
    check_conversation_common(store, &body)?;
    take_customer_budget(store, &customer, &body)?;
    body.remove("customer");
    body.entry("status").or_insert(json!("open"));
    body.entry("tags").or_insert(json!([]));
    body.insert("messageCount".into(), json!(0));
    body.insert("noteCount".into(), json!(0));
    body.insert("channels".into(), json!([]));
    body.entry("ended").or_insert(json!(false));
    body.insert("rev".into(), json!(1));
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("open")
        .to_string();
    let rels = BTreeMap::from([("customer".to_string(), customer_rel)]);
    let id = insert_noting_external(
        store,
        Kind::Conversation,
        "",
        body,
        rels,
        "/v1/conversations",
    )?;
    store.update(Kind::Customer, &customer, |attributes, _| {
        if let Some(counts) = attributes.get_mut("conversationCounts") {
            for key in ["all", status.as_str()] {
                let n = counts.get(key).and_then(Value::as_i64).unwrap_or(0);
                counts[key] = json!(n + 1);
            }
        }
    });
    Ok(id)
}

/// Merges an update into conversation `id`: `status` open|snoozed|done, `snooze{time, status}`,
/// `ended`, `endedAt`, `endedReason`, `endedBy` (a user id), `endedByType` user|customer.
pub fn update_conversation(
    store: &mut Store,
    id: &str,
    mut body: Body,
) -> Result<String, ApiError> {
    body.remove("id");
    require(store, Kind::Conversation, "conversation", id)?;
    one_of(&body, "status", &["open", "snoozed", "done"])?;
    check_conversation_common(store, &body)?;
    if let Some(snooze) = body.get("snooze") {
        let snooze = snooze.as_object().ok_or_else(|| {
            ApiError::invalid("/snooze", "`snooze` must be an object {time, status}")
        })?;
        match snooze.get("status").and_then(Value::as_str) {
            Some("scheduled" | "canceled" | "elapsed") => {}
            _ => {
                return Err(ApiError::invalid(
                    "/snooze/status",
                    "`snooze.status` is required: scheduled|canceled|elapsed",
                ));
            }
        }
        optional_date(snooze, "time").map_err(|_| {
            ApiError::invalid(
                "/snooze/time",
                "`snooze.time` must be an ISO-8601 date-time",
            )
        })?;
    }
    if optional_str(&body, "status")? == Some("snoozed")
        && !body
            .get("snooze")
            .and_then(|s| s.get("time"))
            .is_some_and(Value::is_string)
    {
        return Err(ApiError::invalid(
            "/snooze",
            "a snoozed conversation needs `snooze.time`",
        ));
    }
    if let Some(ended) = body.get("ended")
        && !ended.is_boolean()
    {
        return Err(ApiError::invalid("/ended", "`ended` must be a boolean"));
    }
    optional_date(&body, "endedAt")?;
    optional_str(&body, "endedReason")?;
    one_of(&body, "endedByType", &["user", "customer"])?;
    if let Some(user) = optional_str(&body, "endedBy")?
        && store.get(Kind::User, user).is_none()
    {
        return Err(ApiError::invalid(
            "/endedBy",
            format!("no user with id {user}"),
        ));
    }
    body.remove("customer");
    merge_noting_external(store, Kind::Conversation, "", id, body, BTreeMap::new())
}

/// `attachments`: ids or `{_id, …}` objects, each an attachment whose file was uploaded.
fn check_attachments(store: &Store, body: &Map<String, Value>) -> Result<(), ApiError> {
    let Some(value) = body.get("attachments") else {
        return Ok(());
    };
    let list = value
        .as_array()
        .ok_or_else(|| ApiError::invalid("/attachments", "`attachments` must be an array"))?;
    for (i, item) in list.iter().enumerate() {
        let id = item
            .as_str()
            .or_else(|| item.get("_id").and_then(Value::as_str))
            .unwrap_or_default();
        let uploaded = store
            .get(Kind::Attachment, id)
            .is_some_and(|a| a.attributes.get("uploaded") == Some(json!(true)));
        if !uploaded {
            return Err(ApiError::invalid(
                format!("/attachments/{i}"),
                format!("attachment {item} does not exist or was never uploaded"),
            ));
        }
    }
    Ok(())
}

/// The conversation a message or note belongs to (from the path or the body) and its customer.
fn conversation_of(
    store: &Store,
    body: &Map<String, Value>,
    from_path: Option<&str>,
) -> Result<(Rel, Rel), ApiError> {
    let id = match from_path {
        Some(id) => id.to_string(),
        None => required_str(body, "conversation")?.to_string(),
    };
    let record = store.get(Kind::Conversation, &id).ok_or_else(|| {
        if from_path.is_some() {
            ApiError::not_found(format!("no conversation with id {id}"))
        } else {
            ApiError::invalid("/conversation", format!("no conversation with id {id}"))
        }
    })?;
    let customer = record
        .relationships
        .get("customer")
        .cloned()
        .ok_or_else(|| ApiError::bad_request("the conversation has no customer"))?;
    let conversation = store
        .rel(Kind::Conversation, &id)
        .ok_or_else(|| ApiError::not_found(format!("no conversation with id {id}")))?;
    Ok((conversation, customer))
}

fn bump(store: &mut Store, conversation: &str, counter: &str, channel: Option<&str>) {
    store.update(Kind::Conversation, conversation, |attributes, _| {
        let n = attributes.get(counter).and_then(Value::as_i64).unwrap_or(0);
        attributes.insert(counter.into(), json!(n + 1));
        if let Some(channel) = channel
            && let Some(Value::Array(channels)) = attributes.get_mut("channels")
            && !channels.iter().any(|x| x == channel)
        {
            channels.push(json!(channel));
        }
    });
}

/// Stores a message or note under its conversation and that conversation's customer, on the
/// customer's create budget (the body's `conversation` becomes the relationship), and counts it on
/// the conversation (`messageCount` or `noteCount`, and a message's `channel`).
fn insert_in_conversation(
    store: &mut Store,
    kind: Kind,
    mut body: Body,
    (conversation, customer): (Rel, Rel),
    channel: Option<&str>,
) -> Result<String, ApiError> {
    take_customer_budget(store, &customer.id, &body)?;
    body.remove("conversation");
    let (collection, counter) = match kind {
        Kind::Message => ("/v1/messages", "messageCount"),
        _ => ("/v1/notes", "noteCount"),
    };
    let conversation_id = conversation.id.clone();
    let rels = BTreeMap::from([
        ("conversation".to_string(), conversation),
        ("customer".to_string(), customer),
    ]);
    let id = insert_noting_external(store, kind, "", body, rels, collection)?;
    bump(store, &conversation_id, counter, channel);
    Ok(id)
}

fn check_message_fields(
    store: &Store,
    body: &Map<String, Value>,
    creating: bool,
) -> Result<(), ApiError> {
    if creating {
        required_str(body, "channel")?;
        required_str(body, "app")?;
    }
    one_of(body, "channel", &MESSAGE_CHANNELS)?;
    one_of(body, "direction", &["in", "out"])?;
    one_of(body, "status", &["sent", "received", "error"])?;
    common_dates(body)?;
    check_attachments(store, body)?;
    check_custom(store, "message", body.get("custom"))
}

/// Validates and stores a message. `conversation` comes from the path or the body; without a
/// path conversation `direction` is required too (as on `POST /v1/messages`).
pub fn create_message(
    store: &mut Store,
    mut body: Body,
    from_path: Option<&str>,
) -> Result<String, ApiError> {
    check_message_fields(store, &body, true)?;
    if from_path.is_none() {
        required_str(&body, "direction")?;
    }
    let (conversation, customer) = conversation_of(store, &body, from_path)?;
    if let Some(given) = optional_str(&body, "customer")?
        && given != customer.id
    {
        return Err(ApiError::invalid(
            "/customer",
            "the message's customer differs from its conversation's",
        ));
    }
    body.remove("customer");
    body.entry("direction").or_insert(json!("in"));
    let channel = body
        .get("channel")
        .and_then(Value::as_str)
        .map(str::to_string);
    let under = (conversation, customer);
    insert_in_conversation(store, Kind::Message, body, under, channel.as_deref())
}

pub fn update_message(store: &mut Store, id: &str, mut body: Body) -> Result<String, ApiError> {
    body.remove("id");
    require(store, Kind::Message, "message", id)?;
    check_message_fields(store, &body, false)?;
    body.remove("conversation");
    body.remove("customer");
    merge_noting_external(store, Kind::Message, "", id, body, BTreeMap::new())
}

fn check_note_fields(
    store: &Store,
    body: &Map<String, Value>,
    creating: bool,
) -> Result<(), ApiError> {
    if creating || body.contains_key("body") {
        required_str(body, "body")?;
    }
    common_dates(body)?;
    check_attachments(store, body)
}

/// Validates and stores a note on a conversation (from the path or the body).
pub fn create_note(
    store: &mut Store,
    body: Body,
    from_path: Option<&str>,
) -> Result<String, ApiError> {
    check_note_fields(store, &body, true)?;
    let under = conversation_of(store, &body, from_path)?;
    insert_in_conversation(store, Kind::Note, body, under, None)
}

pub fn update_note(store: &mut Store, id: &str, mut body: Body) -> Result<String, ApiError> {
    body.remove("id");
    require(store, Kind::Note, "note", id)?;
    check_note_fields(store, &body, false)?;
    body.remove("conversation");
    merge_noting_external(store, Kind::Note, "", id, body, BTreeMap::new())
}

async fn post_conversation(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    post_one(&sim, Kind::Conversation, body, create_conversation)
}

async fn put_conversation(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    put_one(&sim, Kind::Conversation, &id, body, update_conversation)
}

/// `GET /v1/conversations/{id}`, also `…/externalId={externalId}`.
async fn get_conversation(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    let external = id.strip_prefix("externalId=");
    by_id_or_external(
        &sim.lock(),
        Kind::Conversation,
        "conversation",
        &id,
        external,
    )
}

/// `POST /v1/conversations/{id}/tags` with an array of tag names or ids; unknown names become tags.
async fn append_tags(State(sim): State<Sim>, Path(id): Path<String>, body: JsonBody) -> ApiResult {
    let names: Vec<String> = match body.0 {
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_string)
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ApiError::bad_request("the body is an array of tag names or ids"))?,
        _ => {
            return Err(ApiError::bad_request(
                "the body is a non-empty array of tag names or ids",
            ));
        }
    };
    let mut store = sim.lock();
    require(&store, Kind::Conversation, "conversation", &id)?;
    let ids: Vec<String> = names
        .iter()
        .map(|n| find_or_create_tag(&mut store, n))
        .collect();
    store.update(Kind::Conversation, &id, |attributes, _| {
        let tags = attributes.entry("tags").or_insert(json!([]));
        if let Value::Array(list) = tags {
            for tag in ids {
                if !list.iter().any(|t| t == &tag) {
                    list.push(json!(tag));
                }
            }
        }
    });
    Ok(current(&store, Kind::Conversation, &id))
}

fn children(
    store: &Store,
    kind: Kind,
    parent_field: &str,
    parent: &str,
    parent_kind: Kind,
    q: &HashMap<String, String>,
    path: &str,
) -> ApiResult {
    require(store, parent_kind, parent_kind.json_type(), parent)?;
    let items = store.children(kind, parent_field, parent);
    envelope::page_of(&items, q, path, 100)
}

/// `GET` of the records of `kind` that hang on a `parent_kind` record (through the
/// `parent_field` relationship), paged: the sub-lists of conversations and customers.
fn children_of(
    kind: Kind,
    parent_field: &'static str,
    parent_kind: Kind,
) -> axum::routing::MethodRouter<Sim> {
    reading(move |store, id, q, path| children(store, kind, parent_field, id, parent_kind, q, path))
}

/// A `GET` route answered from the store: `answer` reads it for the path's one parameter, the
/// query and the path.
fn reading(
    answer: impl Fn(&Store, &str, &HashMap<String, String>, &str) -> ApiResult
    + Clone
    + Send
    + Sync
    + 'static,
) -> axum::routing::MethodRouter<Sim> {
    get(
        move |State(sim): State<Sim>, Path(id): Path<String>, Query(q): Q, uri: Uri| {
            std::future::ready(answer(&sim.lock(), &id, &q, uri.path()))
        },
    )
}

/// The attachment ids a message or note body references (`attachments`: ids or `{_id, …}`).
fn attachment_ids(record: &Record) -> Vec<String> {
    let Some(Value::Array(list)) = record.attributes.get("attachments") else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|item| {
            item.as_str()
                .or_else(|| item.get("_id").and_then(Value::as_str))
                .map(str::to_string)
        })
        .collect()
}

/// `GET /v1/conversations/{id}/attachments` (reference §3 Attachments), paged: the attachments
/// its messages and notes reference, each once, in the order they were first referenced
/// (messages, then notes).
fn conversation_attachments(
    store: &Store,
    id: &str,
    q: &HashMap<String, String>,
    path: &str,
) -> ApiResult {
    require(store, Kind::Conversation, "conversation", id)?;
    let mut seen = std::collections::HashSet::new();
    let items: Vec<&Record> = [Kind::Message, Kind::Note]
        .into_iter()
        .flat_map(|kind| store.all(kind))
        .filter(|r| {
            r.relationships
                .get("conversation")
                .is_some_and(|c| c.id == id)
        })
        .flat_map(attachment_ids)
        .filter(|a| seen.insert(a.clone()))
        .filter_map(|a| store.get(Kind::Attachment, &a))
        .collect();
    let body = envelope::page_rendered(
        &items,
        q,
        path,
        100,
        super::attachments::attachment_resource,
    )?;
    Ok(axum::Json(body).into_response())
}

/// The `POST` route of a message or note (`create`) under the conversation the path names.
fn post_in_conversation(
    kind: Kind,
    create: fn(&mut Store, Body, Option<&str>) -> Result<String, ApiError>,
) -> axum::routing::MethodRouter<Sim> {
    post(
        move |State(sim): State<Sim>, Path(id): Path<String>, body: JsonBody| {
            std::future::ready(post_one(&sim, kind, body, |store, body| {
                create(store, body, Some(&id))
            }))
        },
    )
}

/// `POST /v1/customers/{id}/messages`: without a `conversation`, a new one is created for it.
async fn post_customer_message(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    let mut body = body.object()?;
    let mut store = sim.lock();
    require(&store, Kind::Customer, "customer", &id)?;
    check_message_fields(&store, &body, true)?;
    let conversation = match optional_str(&body, "conversation")? {
        Some(c) => c.to_string(),
        None => {
            let mut conv = Map::new();
            conv.insert("customer".into(), json!(id));
            if let Some(imported) = body.get("importedAt") {
                conv.insert("importedAt".into(), imported.clone());
            }
            create_conversation(&mut store, conv)?
        }
    };
    body.insert("customer".into(), json!(id));
    let mid = create_message(&mut store, body, Some(&conversation))?;
    Ok(created(&store, Kind::Message, &mid))
}

async fn post_message(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    post_one(&sim, Kind::Message, body, |store, body| {
        create_message(store, body, None)
    })
}

/// `GET /v1/messages/{id}`, also `…/externalid={externalId}` (lower-case, as in the spec).
async fn get_message(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    let external = id
        .strip_prefix("externalid=")
        .or_else(|| id.strip_prefix("externalId="));
    by_id_or_external(&sim.lock(), Kind::Message, "message", &id, external)
}

async fn put_message(State(sim): State<Sim>, Path(id): Path<String>, body: JsonBody) -> ApiResult {
    put_one(&sim, Kind::Message, &id, body, update_message)
}

async fn post_note(State(sim): State<Sim>, body: JsonBody) -> ApiResult {
    post_one(&sim, Kind::Note, body, |store, body| {
        create_note(store, body, None)
    })
}

async fn put_note(State(sim): State<Sim>, Path(id): Path<String>, body: JsonBody) -> ApiResult {
    put_one(&sim, Kind::Note, &id, body, update_note)
}
