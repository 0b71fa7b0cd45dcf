//! Attachments: `POST /v1/attachments` issues an S3-style upload form pointing at the simulated
//! storage route `POST /__storage/upload` (no bearer, not rate-counted, no faults), which takes
//! the form fields then `file` last and answers 204; messages and notes may then reference it.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::envelope::{self, ApiError, ApiResult, JsonBody};
use super::state::{Kind, Record, Sim};
use super::validation::required_str;

/// The storage route the upload forms point at.
pub const STORAGE_PATH: &str = "/__storage/upload";
/// Largest upload the storage route accepts.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// The policy fields, in the order they are issued; all must precede `file`.
const POLICY_FIELDS: [&str; 10] = [
    "key",
    "acl",
    "Content-Type",
    "X-Amz-Meta-Attachment-Id",
    "bucket",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "Policy",
    "X-Amz-Signature",
];

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/v1/attachments", post(create_attachment))
        .route("/v1/attachments/{id}", get(get_attachment))
}

/// The storage route; merged outside the API gate.
pub fn storage_routes() -> Router<Sim> {
    Router::new()
        .route(STORAGE_PATH, post(upload))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
}

async fn create_attachment(
    State(sim): State<Sim>,
    headers: HeaderMap,
    body: JsonBody,
) -> ApiResult {
    let mut body = body.object()?;
    let name = required_str(&body, "name")?.to_string();
    let content_type = required_str(&body, "contentType")?.to_string();
    let length = match body.get("contentLength") {
        Some(Value::Number(n)) if n.as_u64().is_some_and(|l| l > 0) => n.as_u64().unwrap_or(0),
        None | Some(Value::Null) => return Err(ApiError::missing("contentLength")),
        Some(_) => {
            return Err(ApiError::invalid(
                "/contentLength",
                "`contentLength` must be a positive number of bytes",
            ));
        }
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let mut store = sim.lock();
    body.insert("uploaded".into(), json!(false));
    body.insert("contentLength".into(), json!(length));
    let id = store.insert(
        Kind::Attachment,
        body,
        BTreeMap::new(),
        "/v1/attachments",
        false,
    );
    let key = format!("attachments/{id}/{name}");
    let signature = store.rng.hex(32);
    let fields = json!({
        "key": key,
        "acl": "private",
        "Content-Type": content_type,
        "X-Amz-Meta-Attachment-Id": id,
        "bucket": "kustomer-sim-attachments",
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "SIMULATED/20260101/us-east-1/s3/aws4_request",
        "X-Amz-Date": "20260101T000000Z",
        "Policy": store.rng.hex(48),
        "X-Amz-Signature": signature,
    });
    store.update(Kind::Attachment, &id, |attributes, _| {
        attributes.insert("uploadFields".into(), fields.clone())
    });
    let record = store
        .get(Kind::Attachment, &id)
        .ok_or_else(|| ApiError::not_found("attachment vanished"))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "data": attachment_resource(record),
            "meta": { "upload": { "url": format!("http://{host}{STORAGE_PATH}"), "fields": fields } }
        })),
    )
        .into_response())
}

/// An attachment as resource object, without the upload form it was issued.
pub fn attachment_resource(record: &Record) -> Value {
    let mut resource = envelope::resource(record);
    if let Some(attrs) = resource
        .get_mut("attributes")
        .and_then(Value::as_object_mut)
    {
        attrs.remove("uploadFields");
    }
    resource
}

async fn get_attachment(State(sim): State<Sim>, Path(id): Path<String>) -> ApiResult {
    let store = sim.lock();
    let record = store
        .get(Kind::Attachment, &id)
        .ok_or_else(|| ApiError::not_found(format!("no attachment with id {id}")))?;
    Ok(Json(json!({ "data": attachment_resource(record) })).into_response())
}

fn storage_refusal(message: impl Into<String>) -> Response {
    ApiError::bad_request(message).simple().into_response()
}

/// The simulated storage: every issued policy field, unchanged, then `file` last, whose size
/// must equal the declared `contentLength`.
async fn upload(State(sim): State<Sim>, mut form: Multipart) -> Response {
    let mut fields: Map<String, Value> = Map::new();
    let mut file: Option<bytes::Bytes> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return storage_refusal(format!("malformed multipart body: {e}")),
        };
        let name = field.name().unwrap_or_default().to_string();
        if file.is_some() {
            return storage_refusal(format!(
                "field `{name}` comes after `file`; `file` must be last"
            ));
        }
        if name == "file" {
            match field.bytes().await {
                Ok(bytes) => file = Some(bytes),
                Err(e) => return storage_refusal(format!("could not read `file`: {e}")),
            }
        } else {
            match field.text().await {
                Ok(text) => {
                    fields.insert(name, Value::String(text));
                }
                Err(e) => return storage_refusal(format!("could not read field `{name}`: {e}")),
            }
        }
    }
    let Some(file) = file else {
        return storage_refusal("the form has no `file` field");
    };
    for required in POLICY_FIELDS {
        if !fields.contains_key(required) {
            return storage_refusal(format!(
                "policy field `{required}` is missing before `file`"
            ));
        }
    }
    let id = fields
        .get("X-Amz-Meta-Attachment-Id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut store = sim.lock();
    let Some(record) = store.get(Kind::Attachment, &id) else {
        return storage_refusal(format!("no attachment {id} awaits an upload"));
    };
    let issued = record.attributes.get("uploadFields").unwrap_or(Value::Null);
    for name in POLICY_FIELDS {
        if issued.get(name) != fields.get(name) {
            return storage_refusal(format!(
                "policy field `{name}` does not match the issued form"
            ));
        }
    }
    let declared = record
        .attributes
        .get("contentLength")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    if declared != file.len() as u64 {
        return storage_refusal(format!(
            "the file has {} bytes but contentLength declared {declared}",
            file.len()
        ));
    }
    store.update(Kind::Attachment, &id, |attributes, _| {
        attributes.insert("uploaded".into(), json!(true))
    });
    StatusCode::NO_CONTENT.into_response()
}
