//! Macros (cursor-paged, with Intercom's base64 cursor) and workflow exports.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::Shared;
use super::generate as g;
use super::render as r;
use super::routes::{Answer, Params, Refusal, found_or_404, ok, page_params};

/// Minimal standard base64, for the macros cursor (`[updated_at, id]` as Intercom encodes it).
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(super) fn unbase64(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for ch in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == ch)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

pub(super) async fn macros(State(st): State<Shared>, Query(q): Params) -> Answer {
    let ws = st.workspace();
    let (per_page, _) = page_params(&q, 50)?;
    let since = match q.get("updated_since") {
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            Refusal::new(
                "parameter_invalid",
                "updated_since must be a unix timestamp",
            )
        })?),
        None => None,
    };
    // Ordered by (updated_at, id); the cursor is the last item's pair.
    let after = match q.get("starting_after") {
        Some(c) => Some(
            unbase64(c)
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| {
                    Some((
                        v.get(0)?.as_f64()? as i64,
                        v.get(1)?.as_str()?.parse::<u64>().ok()?,
                    ))
                })
                .ok_or_else(|| {
                    Refusal::new("parameter_invalid", "starting_after is not a valid cursor")
                })?,
        ),
        None => None,
    };
    let key = |m: usize| (r::macro_times(&ws, m) + g::DAY, g::MACRO_ID_BASE + m as u64);
    let matching: Vec<usize> = (0..ws.sizes.macros)
        .filter(|m| since.is_none_or(|s| key(*m).0 > s))
        .filter(|m| after.is_none_or(|a| key(*m) > (a.0, a.1)))
        .collect();
    let page: Vec<usize> = matching.iter().copied().take(per_page).collect();
    let mut pages = json!({"type": "pages", "per_page": per_page, "next": null});
    if matching.len() > per_page
        && let Some(last) = page.last()
    {
        let (t, id) = key(*last);
        let cursor = base64(format!("[{t}.0, \"{id}\"]").as_bytes());
        pages["next"] = json!({"starting_after": cursor});
    }
    let data: Vec<Value> = page.into_iter().map(|m| r::macro_(&ws, m)).collect();
    Ok(ok(json!({"type": "list", "data": data, "pages": pages})))
}

pub(super) async fn workflow_export(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let ws = st.workspace();
    let workflow = g::parse_numeric(&id, g::WORKFLOW_ID_BASE, ws.sizes.workflows);
    found_or_404(workflow.map(|w| r::workflow_export(&ws, w)), "Workflow")
}
