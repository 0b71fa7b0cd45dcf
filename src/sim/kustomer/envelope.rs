//! Kustomer's wire conventions: JSON:API envelopes for records and pages, both error shapes, and
//! the flat JSON request body extractor.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::state::Record;

/// Which of Kustomer's two documented error shapes a refusal uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"errors":[{"status","code","title","detail","source","meta"}]}`: most routes.
    JsonApi,
    /// `{"errors":[{"code","message","meta"}]}`: auth failures, org-wide and search 429s,
    /// bulk-envelope refusals, tracking and attachment routes.
    Simple,
}

/// A refusal, rendered in one of the two error shapes.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// The offending field, rendered as `source.pointer` (JSON:API shape only).
    pub pointer: Option<String>,
    pub shape: Shape,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            pointer: None,
            shape: Shape::JsonApi,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// A 400 naming the field (`/custom/planStr`, `/name`, …).
    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_attribute", detail);
        e.pointer = Some(pointer.into());
        e
    }

    pub fn missing(field: &str) -> Self {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_required",
            format!("`{field}` is required"),
        );
        e.pointer = Some(format!("/{field}"));
        e
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "duplicate", detail)
    }

    /// The 413 of a body larger than the API reads.
    pub fn payload_too_large() -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than this API accepts; send fewer or smaller items",
        )
    }

    pub fn too_many(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded", detail)
    }

    pub fn simple(mut self) -> Self {
        self.shape = Shape::Simple;
        self
    }

    pub fn body(&self) -> Value {
        match self.shape {
            Shape::JsonApi => {
                let mut error = json!({
                    "status": self.status.as_u16(),
                    "code": self.code,
                    "title": self.status.canonical_reason().unwrap_or("Error"),
                    "detail": self.detail,
                    "meta": {},
                });
                if let Some(pointer) = &self.pointer {
                    error["source"] = json!({ "pointer": pointer });
                }
                json!({ "errors": [error] })
            }
            Shape::Simple => json!({
                "errors": [{ "code": self.code, "message": self.detail, "meta": {} }]
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// A request body that must be flat JSON (Kustomer: "Don't wrap request bodies in `data` or
/// `attributes`"); invalid JSON is a 400 in the JSON:API error shape.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::bad_request(format!("could not read the body: {e}"))
            }
        })?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
        if value
            .get("data")
            .and_then(|d| d.get("attributes"))
            .is_some()
        {
            return Err(ApiError::bad_request(
                "request bodies are flat JSON; do not wrap them in `data`/`attributes`",
            ));
        }
        Ok(JsonBody(value))
    }
}

impl JsonBody {
    /// The body as an object, or a 400.
    pub fn object(self) -> Result<Map<String, Value>, ApiError> {
        match self.0 {
            Value::Object(map) => Ok(map),
            _ => Err(ApiError::bad_request("the body must be a JSON object")),
        }
    }
}

/// A record as JSON:API resource object.
pub fn resource(record: &Record) -> Value {
    let relationships: Map<String, Value> = record
        .relationships
        .iter()
        .map(|(name, rel)| {
            (
                name.to_string(),
                json!({
                    "data": { "type": rel.kind.json_type(), "id": rel.id },
                    "links": { "self": rel.link() },
                }),
            )
        })
        .collect();
    json!({
        "type": record.kind.json_type(),
        "id": record.id,
        "attributes": record.attributes.map(),
        "relationships": relationships,
        "links": { "self": record.self_link() },
    })
}

/// `{"data": resource}` with `status`.
pub fn single(record: &Record, status: StatusCode) -> Response {
    (status, Json(json!({ "data": resource(record) }))).into_response()
}

pub fn ok(record: &Record) -> Response {
    single(record, StatusCode::OK)
}

pub fn created(record: &Record) -> Response {
    single(record, StatusCode::CREATED)
}

/// `page` (from 1) and `pageSize` from the query, with Kustomer's default of 100 and a cap.
pub fn page_params(
    query: &HashMap<String, String>,
    max: usize,
) -> Result<(usize, usize), ApiError> {
    let parse = |name: &str, default: usize| -> Result<usize, ApiError> {
        match query.get(name) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::invalid(
                    format!("/{name}"),
                    format!("`{name}` must be a positive integer"),
                )
            }),
        }
    };
    let page = parse("page", 1)?;
    let size = parse("pageSize", 100)?.min(max);
    Ok((page, size))
}

/// One page of `items` with `meta{page,pageSize,total}` and `links{self,first,prev,next}`.
pub fn page_of(
    items: &[&Record],
    query: &HashMap<String, String>,
    path: &str,
    max: usize,
) -> ApiResult {
    page_rendered(items, query, path, max, resource).map(|body| Json(body).into_response())
}

/// The envelope of one page of `items`, each rendered by `render` (which sees only the items on
/// the page, in order).
pub fn page_rendered(
    items: &[&Record],
    query: &HashMap<String, String>,
    path: &str,
    max: usize,
    mut render: impl FnMut(&Record) -> Value,
) -> Result<Value, ApiError> {
    let (page, size) = page_params(query, max)?;
    let start = (page - 1).saturating_mul(size);
    let data: Vec<Value> = items
        .iter()
        .skip(start)
        .take(size)
        .map(|r| render(r))
        .collect();
    let has_next = start.saturating_add(size) < items.len();
    Ok(page_body(
        data,
        page,
        size,
        items.len(),
        has_next,
        query,
        path,
    ))
}

/// The envelope of a page whose items are already rendered.
pub fn page_body(
    data: Vec<Value>,
    page: usize,
    size: usize,
    total: usize,
    has_next: bool,
    query: &HashMap<String, String>,
    path: &str,
) -> Value {
    let link = |p: usize| {
        let mut pairs: Vec<String> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "page" && k.as_str() != "pageSize")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.sort();
        pairs.push(format!("page={p}"));
        pairs.push(format!("pageSize={size}"));
        format!("{path}?{}", pairs.join("&"))
    };
    json!({
        "data": data,
        "meta": { "page": page, "pageSize": size, "total": total },
        "links": {
            "self": link(page),
            "first": link(1),
            "prev": if page > 1 { Value::String(link(page - 1)) } else { Value::Null },
            "next": if has_next { Value::String(link(page + 1)) } else { Value::Null },
        }
    })
}
