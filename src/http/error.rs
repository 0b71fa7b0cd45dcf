//! Typed errors of the send path. Every variant carries the redacted request (and response where
//! there was one) so a failed record can be shown to the operator exactly as it went out.

use crate::vocab::ErrorClass;

/// Which API a request went to; errors and logs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiSide {
    Intercom,
    Kustomer,
}

impl std::fmt::Display for ApiSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApiSide::Intercom => "Intercom",
            ApiSide::Kustomer => "Kustomer",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API answered with a permanent error (4xx other than 429, or 5xx after retries).
    #[error("{side} answered HTTP {status} {code}: {message}")]
    Http {
        side: ApiSide,
        status: u16,
        code: String,
        message: String,
        request: String,
        response: String,
    },
    /// The request may or may not have taken effect (a create whose answer was lost).
    #[error("{side}: outcome unknown ({message}); look the record up before sending it again")]
    Ambiguous {
        side: ApiSide,
        message: String,
        request: String,
    },
    /// Transport failure after all retries (unreachable host, DNS, TLS, timeouts).
    #[error("{side} could not be reached: {message}")]
    Transport {
        side: ApiSide,
        message: String,
        request: String,
    },
    /// A success whose body is not the JSON expected.
    #[error("{side} sent an unreadable answer: {message}")]
    Decode {
        side: ApiSide,
        message: String,
        request: String,
        response: String,
    },
}

impl ApiError {
    pub fn side(&self) -> ApiSide {
        match self {
            ApiError::Http { side, .. }
            | ApiError::Ambiguous { side, .. }
            | ApiError::Transport { side, .. }
            | ApiError::Decode { side, .. } => *side,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API's own error code (`errors[0].code`), when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Http { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::Http { message, .. }
            | ApiError::Ambiguous { message, .. }
            | ApiError::Transport { message, .. }
            | ApiError::Decode { message, .. } => message.clone(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// How the operator should read this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            ApiError::Http { status: 401, .. } => ErrorClass::Unauthorized,
            ApiError::Http { status: 403, .. } => ErrorClass::Auth,
            ApiError::Http { status, .. } if *status == 429 || *status >= 500 => {
                ErrorClass::Transient
            }
            ApiError::Http { .. } => ErrorClass::Rejected,
            ApiError::Ambiguous { .. } => ErrorClass::Unknown,
            ApiError::Transport { .. } | ApiError::Decode { .. } => ErrorClass::Transient,
        }
    }

    /// The redacted request as it went out.
    pub fn request(&self) -> &str {
        match self {
            ApiError::Http { request, .. }
            | ApiError::Ambiguous { request, .. }
            | ApiError::Transport { request, .. }
            | ApiError::Decode { request, .. } => request,
        }
    }

    /// The redacted response, if one arrived.
    pub fn response(&self) -> &str {
        match self {
            ApiError::Http { response, .. } | ApiError::Decode { response, .. } => response,
            _ => "",
        }
    }
}

/// Pulls `(code, message)` out of either API's error body:
/// Intercom `{"type":"error.list","errors":[{"code","message"}]}`, Kustomer
/// `{"errors":[{"code","message"}]}` or JSON:API `{"errors":[{"status","code","title","detail"}]}`.
pub fn parse_error_body(body: &serde_json::Value) -> (String, String) {
    let first = body.get("errors").and_then(|e| e.get(0));
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let code = first
        .and_then(|e| text(e.get("code")))
        .or_else(|| text(body.get("code")))
        .unwrap_or_default();
    let message = first
        .and_then(|e| {
            text(e.get("message")).or_else(|| match (text(e.get("title")), text(e.get("detail"))) {
                (Some(t), Some(d)) if t != d => Some(format!("{t}: {d}")),
                (t, d) => d.or(t),
            })
        })
        .or_else(|| text(body.get("message")))
        .unwrap_or_default();
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_apis_error_shapes() {
        let intercom = json!({"type":"error.list","request_id":null,"errors":[{"code":"unauthorized","message":"Access Token Invalid"}]});
        assert_eq!(
            parse_error_body(&intercom),
            ("unauthorized".into(), "Access Token Invalid".into())
        );
        let kustomer = json!({"errors":[{"code":"bad_request","message":"Invalid request body or parameters.","meta":{}}]});
        assert_eq!(parse_error_body(&kustomer).0, "bad_request");
        let jsonapi = json!({"errors":[{"status":400,"code":"invalid-attribute","title":"Bad attribute","detail":"fooNum must be a number"}]});
        assert_eq!(
            parse_error_body(&jsonapi),
            (
                "invalid-attribute".into(),
                "Bad attribute: fooNum must be a number".into()
            )
        );
        assert_eq!(
            parse_error_body(&json!("oops")),
            (String::new(), String::new())
        );
    }

    #[test]
    fn classes_follow_status() {
        let http = |status| ApiError::Http {
            side: ApiSide::Kustomer,
            status,
            code: String::new(),
            message: String::new(),
            request: String::new(),
            response: String::new(),
        };
        assert_eq!(http(401).class(), ErrorClass::Unauthorized);
        assert_eq!(http(403).class(), ErrorClass::Auth);
        assert_eq!(http(400).class(), ErrorClass::Rejected);
        assert_eq!(http(503).class(), ErrorClass::Transient);
        assert!(http(404).is_not_found());
    }
}
