//! Fault injection for both simulators (`--faults 5xx=0.05,timeout=0.02,reset=0.01,429=0.01,malformed=0.005`).
//!
//! Each request to an API route draws at most one fault. Probabilities are per request; a key may be
//! prefixed `intercom.` or `kustomer.` to limit it to one side. Semantics:
//! - `5xx`: a 500 (Intercom's scroll treats it as the network error that kills the open scroll).
//! - `429`: a rate-limit refusal although the budget is not spent (a "429 storm" at high rates),
//!   as a burst limit answers: `x-ratelimit-remaining: 0` and a reset one second ahead.
//! - `429bare`: the same refusal with no `x-ratelimit-*` headers at all, so the client has to
//!   back off on its own.
//! - `timeout`: the answer is held for the hang time (default 30 s), so the client times out.
//!   Half of them strike *after* the handler ran: the write took effect, its answer is lost.
//! - `reset`: the connection is aborted mid-response. Half strike after the write took effect.
//! - `malformed`: the handler runs, its status is kept, its body is cut in half (invalid JSON).
//!
//! The `/__sim/` routes are never subject to faults; each simulator decides which routes draw.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Intercom,
    Kustomer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    ServerError,
    TooManyRequests,
    /// A 429 that announces no reset.
    TooManyRequestsBare,
    Timeout,
    Reset,
    Malformed,
}

const KINDS: [(&str, FaultKind); 6] = [
    ("5xx", FaultKind::ServerError),
    ("429", FaultKind::TooManyRequests),
    ("429bare", FaultKind::TooManyRequestsBare),
    ("timeout", FaultKind::Timeout),
    ("reset", FaultKind::Reset),
    ("malformed", FaultKind::Malformed),
];

/// When a fault strikes relative to the handler's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    BeforeWrite,
    AfterWrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injected {
    pub kind: FaultKind,
    pub timing: Timing,
}

/// The parsed `--faults` option: probabilities per side and kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    intercom: [f64; KINDS.len()],
    kustomer: [f64; KINDS.len()],
}

impl FaultSpec {
    /// No faults at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses `5xx=0.05,kustomer.timeout=0.02,...`. Errors name the offending entry.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut out = FaultSpec::default();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (key, value) = entry.split_once('=').ok_or_else(|| {
                format!("fault `{entry}` needs the form KIND=PROBABILITY, e.g. 5xx=0.05")
            })?;
            let p: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("fault `{entry}`: `{value}` is not a number"))?;
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "fault `{entry}`: probability must be between 0 and 1"
                ));
            }
            let key = key.trim();
            let (sides, kind_name): (&[Side], &str) = if let Some(k) = key.strip_prefix("intercom.")
            {
                (&[Side::Intercom], k)
            } else if let Some(k) = key.strip_prefix("kustomer.") {
                (&[Side::Kustomer], k)
            } else {
                (&[Side::Intercom, Side::Kustomer], key)
            };
            let idx = KINDS.iter().position(|(n, _)| *n == kind_name).ok_or_else(|| {
                format!("fault `{entry}`: unknown kind `{kind_name}` (known: 5xx, 429, 429bare, timeout, reset, malformed)")
            })?;
            for side in sides {
                match side {
                    Side::Intercom => out.intercom[idx] = p,
                    Side::Kustomer => out.kustomer[idx] = p,
                }
            }
        }
        let total = |a: &[f64; KINDS.len()]| a.iter().sum::<f64>();
        if total(&out.intercom) > 1.0 || total(&out.kustomer) > 1.0 {
            return Err("fault probabilities on one side add up to more than 1".into());
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.intercom
            .iter()
            .chain(self.kustomer.iter())
            .all(|p| *p == 0.0)
    }

    /// Probability of `kind` on `side`.
    pub fn probability(&self, side: Side, kind: FaultKind) -> f64 {
        let idx = KINDS.iter().position(|(_, k)| *k == kind).unwrap_or(0);
        match side {
            Side::Intercom => self.intercom[idx],
            Side::Kustomer => self.kustomer[idx],
        }
    }

    /// Draws the fault (if any) for one request on `side`.
    pub fn draw(&self, side: Side, rng: &mut Rng) -> Option<Injected> {
        let probs = match side {
            Side::Intercom => &self.intercom,
            Side::Kustomer => &self.kustomer,
        };
        let x = rng.next_f64();
        let mut acc = 0.0;
        for (i, p) in probs.iter().enumerate() {
            acc += p;
            if x < acc {
                let kind = KINDS[i].1;
                let timing = match kind {
                    FaultKind::Timeout | FaultKind::Reset if rng.chance(0.5) => Timing::AfterWrite,
                    FaultKind::Malformed => Timing::AfterWrite,
                    _ => Timing::BeforeWrite,
                };
                return Some(Injected { kind, timing });
            }
        }
        None
    }
}

/// Runs `handler` under `fault`. `refusal` builds the side's own error response
/// (`(status, code, message)`) for injected 500s and 429s, so each simulator keeps its envelope.
pub async fn apply<F>(
    fault: Option<Injected>,
    hang: Duration,
    refusal: impl FnOnce(StatusCode, &'static str, &'static str) -> Response,
    handler: F,
) -> Response
where
    F: Future<Output = Response>,
{
    let Some(fault) = fault else {
        return handler.await;
    };
    match (fault.kind, fault.timing) {
        (FaultKind::ServerError, _) => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Request failed due to an internal network error. Please restart the operation",
        ),
        (FaultKind::TooManyRequests | FaultKind::TooManyRequestsBare, _) => refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "Rate limit exceeded (injected)",
        ),
        (FaultKind::Timeout, Timing::BeforeWrite) => {
            tokio::time::sleep(hang).await;
            refusal(
                StatusCode::GATEWAY_TIMEOUT,
                "request_timeout",
                "The request timed out (injected)",
            )
        }
        (FaultKind::Timeout, Timing::AfterWrite) => {
            let response = handler.await;
            tokio::time::sleep(hang).await;
            response
        }
        (FaultKind::Reset, Timing::BeforeWrite) => reset_response(StatusCode::OK),
        (FaultKind::Reset, Timing::AfterWrite) => {
            let response = handler.await;
            reset_response(response.status())
        }
        (FaultKind::Malformed, _) => {
            let response = handler.await;
            let (parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let cut = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
            let mut out = Response::from_parts(parts, Body::from(cut));
            out.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
            out
        }
    }
}

/// How far ahead an injected 429 announces its reset.
const INJECTED_RESET: i64 = 1;

/// Puts a rate window's `x-ratelimit-*` headers on `headers`: its limit, the requests left in
/// it, and when it resets (unix seconds).
pub fn set_rate_headers(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: i64) {
    for (name, value) in [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

/// Puts on `headers` what an answer under `fault` carries in place of its window's
/// `x-ratelimit-*` headers, if it was an injected 429: nothing left and a reset a second ahead,
/// or no header at all for `429bare`. False when it was not (the answer then carries its
/// window's).
pub fn set_throttle_headers(fault: Option<Injected>, limit: u32, headers: &mut HeaderMap) -> bool {
    match fault.map(|f| f.kind) {
        Some(FaultKind::TooManyRequests) => {
            let reset = crate::timefmt::now_unix() + INJECTED_RESET;
            set_rate_headers(headers, limit, 0, reset);
            true
        }
        Some(FaultKind::TooManyRequestsBare) => true,
        _ => false,
    }
}

/// A response whose body fails at once: hyper aborts the connection, the client sees a reset.
fn reset_response(status: StatusCode) -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected connection reset",
        ))
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sides_and_kinds() {
        let spec = FaultSpec::parse("5xx=0.05, kustomer.timeout=0.02,intercom.429=0.1").unwrap();
        let bare = FaultSpec::parse("kustomer.429bare=0.2").unwrap();
        for (spec, side, kind, p) in [
            (&spec, Side::Intercom, FaultKind::ServerError, 0.05),
            (&spec, Side::Kustomer, FaultKind::ServerError, 0.05),
            (&spec, Side::Kustomer, FaultKind::Timeout, 0.02),
            (&spec, Side::Intercom, FaultKind::Timeout, 0.0),
            (&spec, Side::Intercom, FaultKind::TooManyRequests, 0.1),
            (&bare, Side::Kustomer, FaultKind::TooManyRequestsBare, 0.2),
            (&bare, Side::Kustomer, FaultKind::TooManyRequests, 0.0),
        ] {
            assert_eq!(spec.probability(side, kind), p, "{side:?} {kind:?}");
        }
        assert!(!spec.is_empty());
        assert!(FaultSpec::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_entries_with_the_entry_named() {
        assert!(FaultSpec::parse("boom=0.1").unwrap_err().contains("boom"));
        assert!(FaultSpec::parse("5xx").unwrap_err().contains("5xx"));
        assert!(FaultSpec::parse("5xx=lots").unwrap_err().contains("lots"));
        assert!(FaultSpec::parse("5xx=1.5").is_err());
        assert!(FaultSpec::parse("5xx=0.6,429=0.6").is_err());
    }

    #[test]
    fn draws_match_the_probabilities() {
        let spec = FaultSpec::parse("5xx=0.2").unwrap();
        let mut rng = Rng::new(3);
        let hits = (0..10_000)
            .filter(|_| spec.draw(Side::Intercom, &mut rng).is_some())
            .count();
        assert!((1_700..2_300).contains(&hits), "{hits}");
        assert!(FaultSpec::none().draw(Side::Kustomer, &mut rng).is_none());
    }
}
