//! The shared transport of both API clients: one send path with timeouts, retries with backoff
//! and jitter, typed errors carrying the API's own code and message, redaction of secrets, and the
//! `RateGate` that paces requests inside the budget each server announces.

pub mod client;
pub mod error;
pub mod gate;
pub mod secret;

pub use client::{ApiClient, ClientConfig, Downloaded, LearntTimeouts, Reply, Request, Retry};
pub use error::{ApiError, ApiSide};
pub use gate::{GateConfig, RateGate, RateInfo};
pub use secret::Secret;

/// Percent-encodes one path segment (ids, names and externalIds are opaque text that may hold
/// `/`, spaces or any other byte).
pub fn path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
