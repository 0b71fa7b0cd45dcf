//! `GET /admins/activity_logs` (API 2.16, `listActivityLogs`): the admins' audit trail, a
//! deterministic list generated from the workspace's seed and admins. `created_at_after` is
//! required and `created_at_before` optional (unix seconds, as strings); pages are the
//! `cursor_pages` of the schema: 20 logs (the example's `per_page`), `pages.next.starting_after`
//! naming where the next page starts, `next: null` on the last.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::generate::Workspace;
use super::render;
use super::{Shared, error};

/// Logs per page, as the schema's example pages them.
const PER_PAGE: usize = 20;
/// Logs generated per admin: enough that a tiny workspace pages more than once.
const LOGS_PER_ADMIN: usize = 9;
/// How far back the logs reach.
const HISTORY_SECS: i64 = 400 * 86_400;
/// Activity types of the 2.16 enum, with what the description says the admin did.
const ACTIVITIES: [(&str, &str); 6] = [
    ("admin_login_success", "logged in"),
    ("app_name_change", "changed your app name"),
    ("admin_away_mode_change", "changed their away mode"),
    ("message_state_change", "changed the state of a message"),
    ("admin_invite_creation", "invited a teammate"),
    ("app_timezone_change", "changed your app's time zone"),
];

pub fn api_routes() -> Router<Shared> {
    Router::new().route("/admins/activity_logs", get(list))
}

/// Every log the workspace holds, for tests (`/__sim/truth/activity_logs`).
pub async fn truth(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let logs: Vec<Value> = (0..count(&ws)).map(|i| log(&ws, i)).collect();
    axum::Json(json!({ "activity_logs": logs })).into_response()
}

pub fn count(ws: &Workspace) -> usize {
    ws.sizes.admins * LOGS_PER_ADMIN
}

/// Log `i`, ordered by `created_at` ascending over the history.
fn log(ws: &Workspace, i: usize) -> Value {
    let mut rng = ws.rng("activity-log", i as u64);
    let admin = i % ws.sizes.admins.max(1);
    let (name, email) = render::admin_identity(ws.seed, admin);
    let (activity_type, did) = *rng.pick(&ACTIVITIES);
    let slot = HISTORY_SECS / count(ws).max(1) as i64;
    let created_at = ws.anchor - HISTORY_SECS + i as i64 * slot + rng.range(0, slot as u64) as i64;
    let h = rng.hex(32);
    let metadata = match activity_type {
        // `before` and `after` are objects in the schema (its example shows strings).
        "app_name_change" => {
            json!({"before": {"name": "Support"}, "after": {"name": "Customer Support"}})
        }
        "admin_login_success" => json!({"sign_in_method": "email_password"}),
        "admin_away_mode_change" => json!({"away_mode": true, "reassign_conversations": false}),
        _ => json!({}),
    };
    json!({
        "id": format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]),
        "performed_by": {
            "type": "admin",
            "id": render::admin_id(admin),
            "email": email,
            "ip": format!("198.51.100.{}", admin % 250 + 1),
        },
        "metadata": metadata,
        "created_at": created_at,
        "activity_type": activity_type,
        "activity_description": format!("{name} {did}."),
    })
}

fn bad(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "parameter_invalid", message)
}

/// A unix-seconds parameter; the error is the refusal's message.
fn unix(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, String> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("{key} must be a UNIX timestamp")),
    }
}

async fn list(State(st): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let after = match unix(&q, "created_at_after") {
        Ok(Some(t)) => t,
        Ok(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "parameter_not_found",
                "created_at_after is required",
            );
        }
        Err(e) => return bad(&e),
    };
    let before = match unix(&q, "created_at_before") {
        Ok(t) => t,
        Err(e) => return bad(&e),
    };
    let ws = st.workspace();
    let window: Vec<Value> = (0..count(&ws))
        .map(|i| log(&ws, i))
        .filter(|l| {
            let t = l["created_at"].as_i64().unwrap_or(0);
            t >= after && before.is_none_or(|b| t < b)
        })
        .collect();
    let start = match q.get("starting_after") {
        None => 0,
        Some(cursor) => match window.iter().position(|l| l["id"] == cursor.as_str()) {
            Some(i) => i + 1,
            None => return bad("starting_after is not a valid cursor"),
        },
    };
    let end = (start + PER_PAGE).min(window.len());
    let page: Vec<Value> = window[start..end].to_vec();
    let next = match page.last() {
        Some(last) if end < window.len() => {
            json!({"per_page": PER_PAGE, "starting_after": last["id"]})
        }
        _ => Value::Null,
    };
    axum::Json(json!({
        "type": "activity_log.list",
        "pages": {
            "type": "pages",
            "next": next,
            "page": start / PER_PAGE + 1,
            "per_page": PER_PAGE,
            "total_pages": window.len().div_ceil(PER_PAGE).max(1),
        },
        "activity_logs": page,
    }))
    .into_response()
}
