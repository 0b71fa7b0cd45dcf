//! Attachment files, served like a CDN.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::routes::Params;

/// Attachment files, served like a CDN: no bearer, a signature and an expiry in the URL.
pub async fn file_download(
    State(st): State<Shared>,
    Path((id, name)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let denied = |msg: &str| {
        (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/xml")],
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>{msg}</Message></Error>"),
        )
            .into_response()
    };
    let expires = q.get("expires").and_then(|e| e.parse::<i64>().ok());
    let sig = q.get("sig");
    let (Some(expires), Some(sig)) = (expires, sig) else {
        return denied("Request is missing its signature");
    };
    if *sig != st.sign(&id, expires) {
        return denied("The request signature does not match");
    }
    if crate::timefmt::now_unix() > expires {
        return denied("Request has expired");
    }
    let ws = st.workspace();
    match ws.file_by_id(&id).filter(|f| f.name == name) {
        Some(file) => {
            let bytes = ws.file_bytes(&file);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, file.content_type)],
                bytes,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
