//! Data events of a user (`GET /events`).

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::Shared;
use super::contacts::contact_index;
use super::generate as g;
use super::render as r;
use super::routes::{Params, bad_request, not_found, ok};

pub(super) async fn events(State(st): State<Shared>, Query(q): Params) -> Response {
    if q.get("type").map(String::as_str) != Some("user") {
        return bad_request("parameter_invalid", "type must be user");
    }
    let ws = st.workspace();
    let contact = if let Some(id) = q.get("intercom_user_id") {
        contact_index(&ws, id)
    } else if let Some(uid) = q.get("user_id") {
        uid.strip_prefix("user-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|i| {
                ws.contacts
                    .get(*i)
                    .is_some_and(|c| !c.deleted && !c.is_lead)
            })
    } else {
        return bad_request(
            "parameter_not_found",
            "one of user_id, email or intercom_user_id is required",
        );
    };
    let Some(c) = contact else {
        return not_found("User");
    };
    let external = (!ws.contacts[c].is_lead).then(|| format!("user-{c}"));
    let email = r::contact_identity(&ws, c).1;
    let all = ws.events_of(c);
    if q.get("summary").is_some_and(|v| v == "true") {
        let mut by_name: Vec<(&str, i64, i64, u64)> = Vec::new();
        for e in &all {
            match by_name.iter_mut().find(|(n, ..)| *n == e.name) {
                Some(entry) => {
                    entry.1 = entry.1.min(e.created_at);
                    entry.2 = entry.2.max(e.created_at);
                    entry.3 += 1;
                }
                None => by_name.push((e.name, e.created_at, e.created_at, 1)),
            }
        }
        let events: Vec<Value> = by_name
            .into_iter()
            .map(|(name, first, last, count)| {
                json!({"name": name, "first": crate::timefmt::unix_to_iso(first), "last": crate::timefmt::unix_to_iso(last), "count": count, "description": format!("{name} event")})
            })
            .collect();
        return ok(json!({
            "type": "event.summary",
            "email": email,
            "intercom_user_id": g::contact_id(c),
            "user_id": external,
            "events": events,
        }));
    }
    // Only events younger than 90 days are listed; pages go back in time with `before` (ms).
    let horizon = crate::timefmt::now_unix() - g::EVENT_WINDOW_DAYS * g::DAY;
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=150).contains(n))
        .unwrap_or(50);
    let before_ms = q.get("before").and_then(|v| v.parse::<i64>().ok());
    let listable: Vec<&g::DataEvent> = all
        .iter()
        .filter(|e| e.created_at >= horizon)
        .filter(|e| before_ms.is_none_or(|b| e.created_at * 1000 < b))
        .collect();
    let page: Vec<Value> = listable
        .iter()
        .take(per_page)
        .enumerate()
        .map(|(k, e)| {
            let mut meta = serde_json::Map::new();
            for (key, val) in &e.metadata {
                meta.insert((*key).to_string(), json!(val));
            }
            json!({
                "type": "event",
                "id": format!("{:08x}{:016x}", 0x6762_f0f1u32, (c as u64) << 16 | (e.created_at as u64 & 0xfff0) | k as u64),
                "event_name": e.name,
                "created_at": e.created_at,
                "user_id": external,
                "intercom_user_id": g::contact_id(c),
                "email": email,
                "metadata": Value::Object(meta),
            })
        })
        .collect();
    let mut pages = json!({});
    if listable.len() > per_page
        && let Some(last) = listable.get(per_page - 1)
    {
        pages["next"] = json!(format!(
            "{}/events?per_page={per_page}&before={}&intercom_user_id={}&type=user",
            st.base(),
            last.created_at * 1000,
            g::contact_id(c)
        ));
    }
    ok(json!({"type": "event.list", "events": page, "pages": pages}))
}
