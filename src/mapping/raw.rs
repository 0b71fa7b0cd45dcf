//! Reading fields of a stored Intercom record as raw JSON, for the mappings that read records the
//! typed models do not describe closely enough (the knowledge base, the extras): text that says
//! something, ids Intercom sends as strings or numbers, and times as epoch seconds or ISO text.

use serde_json::Value;

use crate::timefmt;

/// Why a record read as raw JSON cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawMappingError {
    #[error("the record is not valid JSON: {0}")]
    Json(String),
    #[error("the record has no {0}")]
    Missing(&'static str),
    #[error("the {0} has no title or name")]
    Untitled(&'static str),
}

/// The record as JSON.
pub fn parse(raw: &str) -> Result<Value, RawMappingError> {
    serde_json::from_str(raw).map_err(|e| RawMappingError::Json(e.to_string()))
}

/// The text at `key`, unless it is missing or blank.
pub fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The text at the first of `pointers` (JSON pointers, `/a/b`) that holds a string.
pub fn first_text<'a>(v: &'a Value, pointers: &[&str]) -> Option<&'a str> {
    pointers
        .iter()
        .find_map(|p| v.pointer(p).and_then(Value::as_str))
}

/// The id at `key` as text, whether Intercom sent it as a string or a number.
pub fn id_text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The time at `key` in epoch seconds, whether sent as a number or as ISO 8601 text.
pub fn time(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => timefmt::iso_to_unix_ms(s).map(|ms| ms / 1000),
        _ => None,
    }
}
