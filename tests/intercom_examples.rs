//! Every 2.16 OpenAPI example payload of the endpoints i2k reads parses into its model (walked from
//! the committed copy of the spec), plus payloads messier than the schema: ids as numbers, nulls,
//! unknown enum values and fields, wrong-shaped nested objects.

use i2k::intercom::Id;
use i2k::intercom::models::*;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/intercom-openapi/api.intercom.io-2.16.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The example values of the 2xx JSON responses of one operation.
fn examples(spec: &Value, path: &str, method: &str) -> Vec<(String, Value)> {
    let responses = &spec["paths"][path][method]["responses"];
    let mut out = Vec::new();
    for (code, response) in responses.as_object().unwrap() {
        if !code.starts_with('2') {
            continue;
        }
        if let Some(examples) = response["content"]["application/json"]["examples"].as_object() {
            for (name, example) in examples {
                out.push((format!("{method} {path} {name}"), example["value"].clone()));
            }
        }
    }
    assert!(!out.is_empty(), "no example for {method} {path}");
    out
}

/// Parses every item of `body[key]` (or the body itself when `key` is empty) as `T`.
fn items<T: DeserializeOwned>(label: &str, body: &Value, key: &str) -> Vec<T> {
    let list = if key.is_empty() {
        vec![body.clone()]
    } else {
        body[key]
            .as_array()
            .unwrap_or_else(|| panic!("{label}: no array `{key}`"))
            .clone()
    };
    list.into_iter()
        .map(|v| {
            serde_json::from_value::<T>(v.clone()).unwrap_or_else(|e| panic!("{label}: {e}\n{v:#}"))
        })
        .collect()
}

fn all<T: DeserializeOwned>(spec: &Value, path: &str, method: &str, key: &str) -> Vec<T> {
    examples(spec, path, method)
        .iter()
        .flat_map(|(label, body)| items::<T>(label, body, key))
        .collect()
}

#[test]
fn me_example_names_the_workspace_and_region() {
    let s = spec();
    let me: Vec<Me> = all(&s, "/me", "get", "");
    let app = me[0].app.as_ref().unwrap();
    assert_eq!(me[0].id, Some(Id::from("991267459")));
    assert_eq!(app.name.as_deref(), Some("MyApp 1"));
    assert_eq!(app.region.as_deref(), Some("US"));
}

#[test]
fn admin_team_tag_segment_examples_parse() {
    let s = spec();
    let admins: Vec<Admin> = all(&s, "/admins", "get", "admins");
    assert_eq!(admins[0].email.as_deref(), Some("admin7@email.com"));
    let _teams: Vec<Team> = all(&s, "/teams", "get", "teams");
    let tags: Vec<Tag> = all(&s, "/tags", "get", "data");
    assert_eq!(tags[0].id, Some(Id::from("102")));
    let segments: Vec<Segment> = all(&s, "/segments", "get", "segments");
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[0].person_type.as_deref(), Some("user"));
    let contact_segments: Vec<Segment> = all(&s, "/contacts/{contact_id}/segments", "get", "data");
    assert!(contact_segments[0].created_at.is_some());
    let _company_segments: Vec<Segment> =
        all(&s, "/companies/{company_id}/segments", "get", "data");
    let contact_tags: Vec<Tag> = all(&s, "/contacts/{contact_id}/tags", "get", "data");
    assert_eq!(contact_tags[0].applied_at, Some(1663597223));
}

#[test]
fn attribute_examples_parse_with_their_data_types() {
    let s = spec();
    let attrs: Vec<DataAttribute> = all(&s, "/data_attributes", "get", "data");
    assert!(
        attrs
            .iter()
            .all(|a| a.data_type.is_some() && a.name.is_some())
    );
    assert!(attrs.iter().any(|a| a.data_type == Some(DataType::Date)));
    let conv: Vec<ConversationAttribute> = all(&s, "/conversations/attributes", "get", "data");
    let list = conv
        .iter()
        .find(|a| a.data_type == Some(ConversationDataType::List))
        .unwrap();
    assert_eq!(list.id, Some(Id::from("2")), "numeric id read as text");
    assert_eq!(list.options.len(), 3);
    assert!(
        conv.iter()
            .any(|a| a.data_type == Some(ConversationDataType::Relationship))
    );
}

#[test]
fn company_contact_and_note_examples_parse() {
    let s = spec();
    for (label, body) in examples(&s, "/companies/scroll", "get") {
        assert!(body["scroll_param"].is_string(), "{label}");
        let companies: Vec<Company> = items(&label, &body, "data");
        assert_eq!(companies[0].user_count, Some(4));
        assert_eq!(
            companies[0].company_id,
            Some(Id::from("remote_companies_scroll_2"))
        );
    }
    let _: Vec<Company> = all(&s, "/contacts/{contact_id}/companies", "get", "data");
    let _: Vec<Contact> = all(&s, "/contacts", "get", "data");
    let _: Vec<Contact> = all(&s, "/companies/{company_id}/contacts", "get", "data");
    let _: Vec<Contact> = all(&s, "/contacts/search", "post", "data");
    let notes: Vec<Note> = all(&s, "/contacts/{contact_id}/notes", "get", "data");
    assert_eq!(notes.len(), 3);
    assert!(notes[0].contact.is_some() && notes[0].author.is_some());
    let company_notes: Vec<Note> = all(&s, "/companies/{company_id}/notes", "get", "data");
    assert!(company_notes[0].company.is_some());
    for (label, body) in examples(&s, "/contacts/{contact_id}/notes", "get") {
        let pages = Pages::of(&body);
        assert_eq!(pages.per_page, Some(50), "{label}");
        assert!(!pages.has_next_page(), "{label}");
    }
}

#[test]
fn conversation_example_parses_parts_and_coverage() {
    let s = spec();
    let convs: Vec<Conversation> = all(&s, "/conversations/{conversation_id}", "get", "");
    let c = &convs[0];
    assert_eq!(c.id, Some(Id::from("503")));
    assert_eq!(c.state, Some(ConversationState::Closed));
    assert_eq!(c.admin_assignee_id, Some(Id::from("991267715")));
    let parts = &c.conversation_parts.as_ref().unwrap().conversation_parts;
    assert_eq!(parts.len(), 4);
    assert_eq!(parts[0].id, Some(Id::from("1")), "numeric part id");
    assert_eq!(parts[0].part_type.as_deref(), Some("comment"));
    assert_eq!(parts[0].tags.len(), 1);
    assert!(parts[2].event_details.is_some());
    let coverage = c.part_coverage();
    assert_eq!((coverage.returned, coverage.existing), (4, 4));
    assert_eq!(coverage.missing(), 0);
    let found: Vec<Conversation> = all(&s, "/conversations/search", "post", "conversations");
    assert_eq!(found[0].id, Some(Id::from("515")));
    for (label, body) in examples(&s, "/conversations/search", "post") {
        let pages = Pages::of(&body);
        assert_eq!(pages.starting_after(), None, "{label}");
    }
}

#[test]
fn help_center_examples_parse() {
    let s = spec();
    let collections: Vec<Collection> = all(&s, "/help_center/collections", "get", "data");
    assert_eq!(collections[1].parent_id, Some(Id::from("159")));
    assert_eq!(collections[0].help_center_id, Some(Id::from("79")));
    let articles: Vec<Article> = all(&s, "/articles", "get", "data");
    assert_eq!(articles[0].author_id, Some(Id::from("991267492")));
    assert_eq!(articles[0].state, Some(ArticleState::Published));
    let versions: Vec<ArticleVersion> = all(&s, "/articles/{article_id}/versions", "get", "data");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].from_version_id, None);
    let full: Vec<ArticleVersion> = all(&s, "/articles/{article_id}/versions/{id}", "get", "");
    assert!(
        full[0]
            .body
            .as_deref()
            .unwrap()
            .contains("Body of this version")
    );
}

#[test]
fn events_example_parses_with_a_next_url() {
    let s = spec();
    for (label, body) in examples(&s, "/events", "get") {
        let summary: EventSummary = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(
            summary.email.as_deref(),
            Some("user26@email.com"),
            "{label}"
        );
        assert!(Pages::of(&body).next_url().is_some(), "{label}");
    }
}

#[test]
fn ticket_examples_parse_with_types_and_parts() {
    let s = spec();
    let types: Vec<TicketType> = all(&s, "/ticket_types", "get", "data");
    assert!(
        !types[0]
            .ticket_type_attributes
            .as_ref()
            .unwrap()
            .data
            .is_empty()
    );
    let found: Vec<Ticket> = all(&s, "/tickets/search", "post", "tickets");
    assert_eq!(found[0].id, Some(Id::from("633")));
    let tickets: Vec<Ticket> = all(&s, "/tickets/{ticket_id}", "get", "");
    let t = &tickets[0];
    assert_eq!(
        t.ticket_state.as_ref().unwrap().category.as_deref(),
        Some("submitted")
    );
    assert_eq!(t.ticket_parts.as_ref().unwrap().ticket_parts.len(), 1);
    // The example's `0` is Intercom's "unassigned", read like null.
    assert_eq!(t.admin_assignee_id, None);
}

#[test]
fn brand_schedule_and_macro_examples_parse() {
    let s = spec();
    let brands: Vec<Brand> = all(&s, "/brands", "get", "data");
    assert_eq!(brands[0].id, Some(Id::from("tlkp1d91")));
    let schedules: Vec<OfficeHoursSchedule> = all(&s, "/office_hours_schedules", "get", "data");
    assert_eq!(schedules[0].time_intervals[1].start_minute, Some(1980));
    let exceptions: Vec<OfficeHoursException> = all(
        &s,
        "/office_hours_schedules/{office_hours_schedule_id}/office_hours_exceptions",
        "get",
        "data",
    );
    assert!(
        exceptions[0].time_intervals.is_empty(),
        "null intervals read as none"
    );
    assert_eq!(exceptions[1].time_intervals.len(), 1);
    let macros: Vec<Macro> = all(&s, "/macros", "get", "data");
    assert!(macros.len() >= 5);
    assert!(
        macros.iter().all(|m| m.created_at.is_some()),
        "ISO times read"
    );
    assert_eq!(
        macros[0].created_at,
        Some(1752751088),
        "2025-07-17T11:18:08Z"
    );
    let cursors: Vec<String> = examples(&s, "/macros", "get")
        .iter()
        .filter_map(|(_, b)| Pages::of(b).starting_after().map(str::to_string))
        .collect();
    assert!(cursors.contains(&"WzE3MTk0OTAxMDAuMCwgIjEwMDIiXQ==".to_string()));
}

#[test]
fn ids_as_numbers_and_strings_read_the_same() {
    let a: Admin = serde_json::from_value(json!({"id": 42, "team_ids": [1, "2", null]})).unwrap();
    let b: Admin = serde_json::from_value(json!({"id": "42"})).unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(a.team_ids, vec![Id::from("1"), Id::from("2")]);
}

#[test]
fn nulls_and_absent_fields_do_not_fail_a_record() {
    let c: Conversation = serde_json::from_value(json!({
        "id": "7", "source": null, "statistics": null, "tags": null, "conversation_parts": null,
        "created_at": null, "open": null
    }))
    .unwrap();
    assert_eq!(c.id, Some(Id::from("7")));
    assert!(c.source.is_none() && c.created_at.is_none());
    assert_eq!(c.part_coverage().missing(), 0);
    let empty: Contact = serde_json::from_value(json!({})).unwrap();
    assert!(empty.id.is_none());
}

#[test]
fn unknown_enum_values_and_fields_are_kept_not_fatal() {
    let c: Conversation = serde_json::from_value(json!({
        "id": 1, "state": "pending_review", "priority": "critical", "brand_new_field": {"x": 1}
    }))
    .unwrap();
    assert_eq!(
        c.state,
        Some(ConversationState::Other("pending_review".into()))
    );
    assert_eq!(c.state.as_ref().unwrap().as_str(), "pending_review");
    assert_eq!(c.priority, Some(Priority::Other("critical".into())));
    let contact: Contact = serde_json::from_value(json!({"id": "x", "role": "visitor"})).unwrap();
    assert_eq!(contact.role, Some(ContactRole::Other("visitor".into())));
    let attr: DataAttribute = serde_json::from_value(json!({"data_type": "money"})).unwrap();
    assert_eq!(attr.data_type, Some(DataType::Other("money".into())));
}

#[test]
fn wrong_shaped_nested_values_become_none() {
    let company: Company = serde_json::from_value(json!({
        "id": "c1", "plan": "gold", "custom_attributes": [], "tags": "oops",
        "monthly_spend": "12.5", "user_count": "3", "created_at": "1700000000"
    }))
    .unwrap();
    assert_eq!(company.plan, Some(json!("gold")), "plan kept as raw value");
    assert!(company.custom_attributes.is_none() && company.tags.is_none());
    assert_eq!(company.monthly_spend, Some(12.5));
    assert_eq!(company.user_count, Some(3));
    assert_eq!(company.created_at, Some(1_700_000_000));
}

#[test]
fn truncated_threads_report_the_parts_the_api_cannot_return() {
    let parts: Vec<Value> = (0..500)
        .map(|i| json!({"type": "conversation_part", "id": i, "part_type": "comment"}))
        .collect();
    let c: Conversation = serde_json::from_value(json!({
        "id": "9",
        "statistics": {"count_conversation_parts": 521},
        "conversation_parts": {"conversation_parts": parts, "total_count": 500}
    }))
    .unwrap();
    let cov = c.part_coverage();
    assert_eq!((cov.returned, cov.existing, cov.missing()), (500, 520, 20));
}

#[test]
fn attachments_on_source_and_parts_are_listed_with_their_part() {
    let c: Conversation = serde_json::from_value(json!({
        "id": "9",
        "source": {"attachments": [{"name": "a.png", "url": "http://x/a", "filesize": "12"}]},
        "conversation_parts": {"conversation_parts": [
            {"id": 5, "attachments": [{"name": "b.pdf", "url": "http://x/b"}, "garbage"]}
        ]}
    }))
    .unwrap();
    let atts = c.attachments();
    assert_eq!(atts.len(), 2, "the malformed item is skipped");
    assert_eq!(atts[0].0, None);
    assert_eq!(atts[0].1.filesize, Some(12));
    assert_eq!(atts[1].0, Some(Id::from("5")));
}

#[test]
fn unassigned_is_zero_null_or_absent_alike() {
    for (admin, team) in [
        (json!(0), json!(0)),
        (json!("0"), json!("0")),
        (Value::Null, Value::Null),
    ] {
        let c: Conversation = serde_json::from_value(
            json!({"type": "conversation", "id": "1", "admin_assignee_id": admin, "team_assignee_id": team}),
        )
        .unwrap();
        assert_eq!(c.admin_assignee_id, None, "{admin}");
        assert_eq!(c.team_assignee_id, None, "{team}");
    }
    let absent: Conversation =
        serde_json::from_value(json!({"type": "conversation", "id": "1"})).unwrap();
    assert_eq!(absent.admin_assignee_id, None);
    let assigned: Conversation = serde_json::from_value(
        json!({"type": "conversation", "id": "1", "admin_assignee_id": 991267715, "team_assignee_id": "5"}),
    )
    .unwrap();
    assert_eq!(assigned.admin_assignee_id, Some(Id::from("991267715")));
    assert_eq!(assigned.team_assignee_id, Some(Id::from("5")));
    let ticket: Ticket = serde_json::from_value(
        json!({"type": "ticket", "id": "9", "admin_assignee_id": 0, "team_assignee_id": null}),
    )
    .unwrap();
    assert_eq!(ticket.admin_assignee_id, None);
    assert_eq!(ticket.team_assignee_id, None);
}
