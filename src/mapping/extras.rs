//! Pure Intercom → Kustomer mapping for the extras: data events (tracking events or
//! `intercom_event` kobjects), segments (a membership tag and the saved search that filters on
//! it), tickets (kobjects of their ticket type's klass with attributes and a compact
//! transcript), contact and company notes (`intercom_note` kobjects) and macros (shortcuts).

use serde_json::{Map, Value, json};

use crate::kustomer::assumptions;
use crate::mapping::attributes::convert_value;
use crate::mapping::conversations::html_to_text;
use crate::mapping::names::assigned_suffix;
use crate::mapping::people::TicketField;
use crate::mapping::raw::{self, RawMappingError, id_text, parse, text};
use crate::timefmt;

/// Kustomer's longest shortcut text.
pub const MAX_SHORTCUT_TEXT: usize = 10_240;
/// A ticket transcript keeps at most this many characters (the kobject stays readable).
pub const MAX_TRANSCRIPT_CHARS: usize = 8_000;
/// Events older than this are summarised only (Intercom lists the last 90 days).
pub const EVENT_WINDOW_DAYS: i64 = 90;

/// An Intercom time Kustomer can read (years 1–9999); others are left out.
fn time(v: &Value, key: &str) -> Option<i64> {
    raw::time(v, key).filter(|t| crate::mapping::clean::in_iso_range(*t))
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

// ---- data events ------------------------------------------------------------------------------

/// A Kustomer event name: starts with a letter (Kustomer refuses others), keeps the rest.
pub fn event_name(name: &str) -> String {
    let trimmed = name.trim();
    if trimmed
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
    {
        trimmed.to_string()
    } else {
        format!("intercom {trimmed}")
    }
}

/// `POST /v1/tracking/identityEvent` `{identity, event}` for a data event of a contact. The body
/// has no time field, so the original time travels in `meta.intercomCreatedAt`.
pub fn tracking_event(
    raw: &str,
    contact_id: &str,
    email: Option<&str>,
) -> Result<(Value, Value), RawMappingError> {
    let v = parse(raw)?;
    let name = text(&v, "event_name").ok_or(RawMappingError::Missing("event_name"))?;
    let mut meta = v
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(t) = time(&v, "created_at") {
        meta.insert("intercomCreatedAt".into(), json!(timefmt::unix_to_iso(t)));
    }
    meta.insert("intercomEventName".into(), json!(name));
    let mut identity = json!({ "externalId": contact_id });
    if let Some(e) = email {
        identity["email"] = json!(e);
    }
    Ok((identity, json!({ "name": event_name(name), "meta": meta })))
}

/// An `intercom_event` kobject: it keeps the event's time and loads in bulk.
pub fn event_kobject(
    raw: &str,
    external_id: &str,
    customer: &str,
    imported_at: &str,
) -> Result<Value, RawMappingError> {
    let v = parse(raw)?;
    let name = text(&v, "event_name").ok_or(RawMappingError::Missing("event_name"))?;
    let mut body = json!({
        "title": name,
        "customer": customer,
        "externalId": external_id,
        "importedAt": imported_at,
        "data": { "eventName": name, "metadata": v.get("metadata").cloned().unwrap_or(json!({})) },
    });
    if let Some(t) = time(&v, "created_at") {
        body["createdAt"] = json!(timefmt::unix_to_iso(t));
    }
    Ok(body)
}

/// Whether an event summary holds events older than the listing window (those are archived).
pub fn summary_has_old_events(raw: &str, now: i64) -> bool {
    let Ok(v) = parse(raw) else { return false };
    let cutoff = now - EVENT_WINDOW_DAYS * 86_400;
    v.get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|e| time(e, "first").is_some_and(|t| t < cutoff))
}

// ---- segments --------------------------------------------------------------------------------

/// The default "in use" rule: the segment has members and was updated within `max_age_days`.
pub fn segment_in_use_by_default(raw: &str, now: i64, max_age_days: u32) -> bool {
    let Ok(v) = parse(raw) else { return false };
    let members = v.get("count").and_then(Value::as_u64).unwrap_or(0);
    let recent = time(&v, "updated_at")
        .or_else(|| time(&v, "created_at"))
        .is_some_and(|t| now - t <= i64::from(max_age_days) * 86_400);
    members > 0 && recent
}

pub fn segment_name(raw: &str) -> Option<String> {
    parse(raw)
        .ok()
        .and_then(|v| text(&v, "name").map(str::to_string))
}

/// The customer tag that carries a segment's membership (Intercom does not expose segment
/// rules, so membership is what can be carried). The id keeps two same-named segments apart.
pub fn segment_tag_name(segment_id: &str, name: &str) -> String {
    format!("segment {name} [{segment_id}]")
}

/// `POST /v1/customers/searches` body: customers carrying the segment's tag.
pub fn saved_search_body(name: &str, tag_id: &str) -> Value {
    json!({
        "name": name,
        "data": {
            "queryContext": "customer",
            "and": [ { "customer_tags": { "equals": tag_id } } ],
        },
        "defaultVisibility": "all",
    })
}

/// The segment ids a contact belongs to (the staged `contact_segments` list).
pub fn contact_segment_ids(raw: &str) -> Vec<String> {
    parse(raw)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| id_text(s, "id"))
        .collect()
}

// ---- tickets ---------------------------------------------------------------------------------

/// The ticket type id and the first contact of a ticket.
pub fn ticket_links(raw: &str) -> Result<(String, Option<String>), RawMappingError> {
    let v = parse(raw)?;
    let ticket_type = v
        .get("ticket_type")
        .and_then(|t| id_text(t, "id"))
        .or_else(|| id_text(&v, "ticket_type_id"))
        .ok_or(RawMappingError::Missing("ticket type"))?;
    let contact = v
        .get("contacts")
        .and_then(|c| c.get("contacts"))
        .and_then(Value::as_array)
        .and_then(|list| list.first())
        .and_then(|c| id_text(c, "id"));
    Ok((ticket_type, contact))
}

/// One line per part: time, author, what happened, the text.
pub fn ticket_transcript(v: &Value) -> String {
    let mut lines = Vec::new();
    let parts = v
        .get("ticket_parts")
        .and_then(|p| p.get("ticket_parts"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for p in &parts {
        let at = time(p, "created_at")
            .map(timefmt::unix_to_iso)
            .unwrap_or_default();
        let author = p
            .get("author")
            .and_then(|a| text(a, "name").or_else(|| text(a, "email")))
            .unwrap_or("unknown");
        let what = match (text(p, "previous_ticket_state"), text(p, "ticket_state")) {
            (Some(from), Some(to)) if from != to => format!(" [{from} → {to}]"),
            _ => String::new(),
        };
        let kind = text(p, "part_type").unwrap_or("part");
        let body = p
            .get("body")
            .and_then(Value::as_str)
            .map(html_to_text)
            .unwrap_or_default();
        let mut line = format!("{at} {author} ({kind}){what}");
        if !body.is_empty() {
            line.push_str(": ");
            line.push_str(&body);
        }
        lines.push(line);
    }
    cut(&lines.join("\n"), MAX_TRANSCRIPT_CHARS)
}

/// A ticket → a kobject of its type's klass: the title attribute as title, the customer link,
/// every mapped attribute under `custom`, the state and a compact transcript. Values that do not
/// fit their attribute come back as notes (the value is left out, nothing else).
pub fn ticket_kobject(
    raw: &str,
    customer: Option<&str>,
    fields: &[TicketField],
    imported_at: &str,
) -> Result<(Value, Vec<String>), RawMappingError> {
    let v = parse(raw)?;
    let id = id_text(&v, "id").ok_or(RawMappingError::Missing("id"))?;
    let attributes = v
        .get("ticket_attributes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let number = id_text(&v, "ticket_id");
    let title = attributes
        .get("_default_title_")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("Ticket {}", number.as_deref().unwrap_or(&id)));
    let mut custom = Map::new();
    let mut notes = Vec::new();
    for field in fields {
        let (Some(name), Some(value)) = (&field.attribute, attributes.get(&field.source_name))
        else {
            continue;
        };
        let Some(suffix) = assigned_suffix(name) else {
            continue;
        };
        match convert_value(value, suffix) {
            Ok(c) => {
                if let Some(n) = c.note {
                    notes.push(format!("{}: {n}", field.source_name));
                }
                custom.insert(name.clone(), c.value);
            }
            Err(e) => notes.push(format!("{}: {e}", field.source_name)),
        }
    }
    let state = v.get("ticket_state");
    let mut body = json!({
        "title": title,
        "externalId": id,
        "importedAt": imported_at,
        "description": ticket_transcript(&v),
        "custom": custom,
        "data": {
            "ticketNumber": number,
            "category": v.get("category"),
            "state": state.and_then(|s| s.get("category")),
            "stateLabel": state.and_then(|s| s.get("internal_label")),
            "open": v.get("open"),
            "intercomAttributes": attributes,
        },
    });
    if let Some(c) = customer {
        body["customer"] = json!(c);
    }
    if let Some(t) = time(&v, "created_at") {
        body["createdAt"] = json!(timefmt::unix_to_iso(t));
    }
    Ok((body, notes))
}

// ---- notes -----------------------------------------------------------------------------------

/// Whom a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteOwner<'a> {
    Customer(&'a str),
    Company(&'a str),
}

/// A contact or company note → an `intercom_note` kobject on that timeline, with its author
/// (the mapped Kustomer user when there is one, and Intercom's name and e-mail always) and time.
pub fn note_kobject(
    raw: &str,
    owner: NoteOwner,
    author_user: Option<&str>,
    imported_at: &str,
) -> Result<Value, RawMappingError> {
    let v = parse(raw)?;
    let id = id_text(&v, "id").ok_or(RawMappingError::Missing("id"))?;
    let html = v.get("body").and_then(Value::as_str).unwrap_or_default();
    let plain = html_to_text(html);
    let author = v.get("author").cloned().unwrap_or(Value::Null);
    let author_name = text(&author, "name").unwrap_or("unknown author");
    let mut body = json!({
        "title": cut(&format!("Note by {author_name}: {plain}"), 250),
        "externalId": id,
        "importedAt": imported_at,
        "description": plain,
        "data": {
            "htmlBody": html,
            "authorName": author.get("name"),
            "authorEmail": author.get("email"),
            "authorIntercomId": id_text(&author, "id"),
            "authorUserId": author_user,
        },
    });
    match owner {
        NoteOwner::Customer(c) => body["customer"] = json!(c),
        NoteOwner::Company(c) => body["company"] = json!(c),
    }
    if let Some(t) = time(&v, "created_at") {
        body["createdAt"] = json!(timefmt::unix_to_iso(t));
    }
    Ok(body)
}

/// The author's Intercom admin id of a note, for the user mapping.
pub fn note_author_id(raw: &str) -> Option<String> {
    parse(raw)
        .ok()
        .and_then(|v| v.get("author").and_then(|a| id_text(a, "id")))
}

// ---- macros ----------------------------------------------------------------------------------

/// A macro → a shortcut (body assumed, see `assumptions::SHORTCUT_CREATE_PATH`): the plain text
/// (Kustomer shortcut text is Markdown), cut to Kustomer's limit.
pub fn shortcut_body(raw: &str) -> Result<(Value, Vec<String>), RawMappingError> {
    let v = parse(raw)?;
    let name = text(&v, "name").ok_or(RawMappingError::Missing("name"))?;
    let text_body = text(&v, "body_text")
        .map(str::to_string)
        .or_else(|| v.get("body").and_then(Value::as_str).map(html_to_text))
        .unwrap_or_default();
    let mut notes = Vec::new();
    if text_body.chars().count() > MAX_SHORTCUT_TEXT {
        notes.push(format!(
            "the macro text was cut to {MAX_SHORTCUT_TEXT} characters"
        ));
    }
    let mut shown: String = text_body.chars().take(MAX_SHORTCUT_TEXT).collect();
    if shown.is_empty() {
        shown = name.to_string();
    }
    let _ = assumptions::SHORTCUT_CREATE_PATH;
    let mut body = json!({ "name": name, "draft": { "text": shown } });
    if let Some(id) = id_text(&v, "id") {
        body["externalId"] = json!(id);
    }
    Ok((body, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_events_keep_their_time_in_meta_and_start_with_a_letter() {
        let raw = json!({"event_name": "9-lives", "created_at": 1_700_000_000, "metadata": {"plan": "pro"}}).to_string();
        let (identity, event) = tracking_event(&raw, "c1", Some("a@b.c")).unwrap();
        assert_eq!(identity, json!({"externalId": "c1", "email": "a@b.c"}));
        assert_eq!(event["name"], "intercom 9-lives");
        assert_eq!(event["meta"]["plan"], "pro");
        assert_eq!(
            event["meta"]["intercomCreatedAt"],
            "2023-11-14T22:13:20.000Z"
        );
        assert!(tracking_event("{}", "c1", None).is_err());
    }

    #[test]
    fn event_kobjects_keep_their_time() {
        let raw = json!({"event_name": "paid", "created_at": 1_700_000_000}).to_string();
        let b = event_kobject(&raw, "c1:ab:1", "k1", "2026-01-01T00:00:00.000Z").unwrap();
        assert_eq!(b["createdAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(b["customer"], "k1");
        assert_eq!(b["externalId"], "c1:ab:1");
    }

    #[test]
    fn old_event_summaries_are_recognised() {
        let now = 1_700_000_000;
        let old =
            json!({"events": [{"name": "a", "first": now - 100 * 86_400, "count": 2}]}).to_string();
        let new =
            json!({"events": [{"name": "a", "first": now - 10 * 86_400, "count": 2}]}).to_string();
        assert!(summary_has_old_events(&old, now));
        assert!(!summary_has_old_events(&new, now));
    }

    #[test]
    fn segments_are_in_use_by_default_when_populated_and_recent() {
        let now = 1_700_000_000;
        let cases = [
            (json!({"count": 3, "updated_at": now - 86_400}), true),
            (json!({"count": 0, "updated_at": now - 86_400}), false),
            (json!({"count": 3, "updated_at": now - 400 * 86_400}), false),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                segment_in_use_by_default(&raw.to_string(), now, 365),
                expected,
                "{raw}"
            );
        }
    }

    #[test]
    fn saved_searches_filter_on_the_membership_tag() {
        let b = saved_search_body("Active users", "t1");
        assert_eq!(b["data"]["queryContext"], "customer");
        assert_eq!(b["data"]["and"][0]["customer_tags"]["equals"], "t1");
        assert_eq!(segment_tag_name("s1", "Active"), "segment Active [s1]");
        assert_eq!(
            contact_segment_ids(&json!([{"id": "s1"}, {"id": 2}]).to_string()),
            vec!["s1", "2"]
        );
    }

    #[test]
    fn tickets_carry_title_attributes_customer_and_transcript() {
        let raw = json!({"id": "900", "ticket_id": "4",
            "ticket_type": {"id": "77"}, "contacts": {"contacts": [{"id": "c1"}]},
            "ticket_attributes": {"_default_title_": "Broken", "affected_users": 12},
            "ticket_state": {"category": "in_progress", "internal_label": "In progress"},
            "created_at": 1_700_000_000,
            "ticket_parts": {"ticket_parts": [
                {"part_type": "comment", "body": "<p>It broke</p>", "created_at": 1_700_000_000, "author": {"name": "Ada"}},
                {"part_type": "ticket_state_updated_by_admin", "previous_ticket_state": "submitted", "ticket_state": "in_progress", "created_at": 1_700_000_060, "author": {"name": "Ada"}}
            ]}})
        .to_string();
        assert_eq!(
            ticket_links(&raw).unwrap(),
            ("77".to_string(), Some("c1".to_string()))
        );
        let fields = vec![TicketField {
            source_name: "affected_users".into(),
            data_type: "integer".into(),
            attribute: Some("affectedUsersNum".into()),
        }];
        let (b, notes) =
            ticket_kobject(&raw, Some("k1"), &fields, "2026-01-01T00:00:00.000Z").unwrap();
        assert!(notes.is_empty());
        assert_eq!(b["title"], "Broken");
        assert_eq!(b["customer"], "k1");
        assert_eq!(b["custom"]["affectedUsersNum"], 12);
        assert_eq!(b["data"]["state"], "in_progress");
        let t = b["description"].as_str().unwrap();
        assert!(t.contains("Ada (comment): It broke"), "{t}");
        assert!(t.contains("[submitted → in_progress]"), "{t}");
    }

    #[test]
    fn notes_keep_author_time_and_owner() {
        let raw = json!({"id": "55", "created_at": 1_700_000_000, "body": "<p>Called them</p>",
            "author": {"id": "a1", "name": "Ada", "email": "ada@x.io"}})
        .to_string();
        let b = note_kobject(
            &raw,
            NoteOwner::Company("co1"),
            Some("u1"),
            "2026-01-01T00:00:00.000Z",
        )
        .unwrap();
        assert_eq!(b["company"], "co1");
        assert!(b.get("customer").is_none());
        assert_eq!(b["data"]["authorName"], "Ada");
        assert_eq!(b["data"]["authorUserId"], "u1");
        assert_eq!(b["createdAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(b["description"], "Called them");
        assert_eq!(note_author_id(&raw).as_deref(), Some("a1"));
    }

    #[test]
    fn macros_become_shortcuts_within_the_text_limit() {
        let long = "x".repeat(MAX_SHORTCUT_TEXT + 5);
        let (b, notes) =
            shortcut_body(&json!({"id": "1", "name": "Hi", "body_text": long}).to_string())
                .unwrap();
        assert_eq!(
            b["draft"]["text"].as_str().unwrap().chars().count(),
            MAX_SHORTCUT_TEXT
        );
        assert_eq!(notes.len(), 1);
        let (b, _) =
            shortcut_body(&json!({"name": "Hi", "body": "<p>Hello &amp; bye</p>"}).to_string())
                .unwrap();
        assert_eq!(b["draft"]["text"], "Hello & bye");
    }
}
