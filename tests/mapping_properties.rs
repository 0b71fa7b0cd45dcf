//! Property tests over the mapping: any Intercom record — well-formed or not, with control
//! characters, extreme times, huge or broken HTML — maps to a request body or a typed error,
//! never a panic; what it maps to carries only times Kustomer reads and names without control
//! characters; once fitted, every body stays within the bulk request cap; bulk requests keep to
//! their item and byte budgets; `_clientRef`s stay within 255 bytes and distinct.

use std::collections::HashSet;

use i2k::engine::write::client_ref;
use i2k::intercom::models::{Conversation, ConversationPart};
use i2k::kustomer::bulk::{ITEM_OVERHEAD_BYTES, MAX_BULK_ITEMS, item_budget, split_by_budget};
use i2k::mapping::clean::{self, fit_body, json_bytes};
use i2k::mapping::conversations as conv;
use i2k::mapping::{companies, customers, extras};
use i2k::timefmt::iso_to_unix_ms;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NOW: &str = "2026-01-02T03:04:05.000Z";

/// Text as hostile as people and integrations make it: controls, escapes, bidi overrides,
/// multi-byte characters, markup and entities.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\u{0}".to_string()),
        Just("\u{1b}[31m".to_string()),
        Just("\u{1b}]0;t\u{7}".to_string()),
        Just("\u{202E}".to_string()),
        Just("\r\n\t".to_string()),
        Just("日本語".to_string()),
        Just("é".to_string()),
        Just("<p>".to_string()),
        Just("</b".to_string()),
        Just("<img src=\"x".to_string()),
        Just("&amp;".to_string()),
        Just("&#xZZ;".to_string()),
        Just("<".to_string()),
        Just("&".to_string()),
        "[a-zA-Z0-9 @.+-]{0,12}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

/// Times anywhere in i64, weighted towards the edges Kustomer cares about.
fn time() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(0i64),
        Just(-1i64),
        Just(-62_135_596_801i64),
        Just(253_402_300_800i64),
        -100_000_000_000i64..500_000_000_000i64,
    ]
}

/// Any JSON value a field might hold (nested a little).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        time().prop_map(|t| json!(t)),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An Intercom-shaped record: the fields the mapping reads, each well-formed or not.
fn record(fields: &'static [(&'static str, u8)]) -> impl Strategy<Value = Value> {
    let one = |kind: u8| -> BoxedStrategy<Value> {
        match kind {
            0 => prop_oneof![text().prop_map(Value::String), json_value()].boxed(),
            1 => prop_oneof![time().prop_map(|t| json!(t)), json_value()].boxed(),
            _ => json_value().boxed(),
        }
    };
    let strategies: Vec<BoxedStrategy<Option<Value>>> = fields
        .iter()
        .map(|(_, kind)| prop::option::weighted(0.8, one(*kind)).boxed())
        .collect();
    strategies.prop_map(move |values| {
        let mut m = Map::new();
        for ((name, _), v) in fields.iter().zip(values) {
            if let Some(v) = v {
                m.insert((*name).to_string(), v);
            }
        }
        Value::Object(m)
    })
}

const CONTACT: &[(&str, u8)] = &[
    ("id", 0),
    ("type", 0),
    ("role", 0),
    ("name", 0),
    ("email", 0),
    ("phone", 0),
    ("external_id", 0),
    ("created_at", 1),
    ("signed_up_at", 1),
    ("last_seen_at", 1),
    ("custom_attributes", 2),
    ("tags", 2),
    ("companies", 2),
];

const COMPANY: &[(&str, u8)] = &[
    ("id", 0),
    ("name", 0),
    ("company_id", 0),
    ("website", 0),
    ("created_at", 1),
    ("remote_created_at", 1),
    ("custom_attributes", 2),
    ("tags", 2),
];

const CONVERSATION: &[(&str, u8)] = &[
    ("id", 0),
    ("title", 0),
    ("state", 0),
    ("priority", 0),
    ("created_at", 1),
    ("updated_at", 1),
    ("snoozed_until", 1),
    ("source", 2),
    ("contacts", 2),
    ("statistics", 2),
    ("conversation_parts", 2),
];

const PART: &[(&str, u8)] = &[
    ("id", 0),
    ("part_type", 0),
    ("body", 0),
    ("created_at", 1),
    ("author", 2),
    ("assigned_to", 2),
];

const NOTE: &[(&str, u8)] = &[("id", 0), ("body", 0), ("created_at", 1), ("author", 2)];

/// Every string value in `v` that names a time Kustomer would read must parse as one.
fn assert_readable_times(v: &Value) {
    if let Value::Object(m) = v {
        for (key, value) in m {
            if key.ends_with("At")
                && !key.starts_with("intercom")
                && let Value::String(s) = value
            {
                assert!(iso_to_unix_ms(s).is_some(), "{key}: {s:?} is not a time");
            }
            assert_readable_times(value);
        }
    } else if let Value::Array(items) = v {
        items.iter().for_each(assert_readable_times);
    }
}

fn no_controls(s: &str) -> bool {
    !s.chars().any(clean::is_control)
}

/// Fitting to the cap of one request always ends within the budget, or says why it cannot.
fn assert_fits(mut body: Value, cap: usize) {
    let budget = item_budget(cap);
    match fit_body(&mut body, budget) {
        Ok(_) => assert!(
            json_bytes(&body) <= budget,
            "{} > {budget}",
            json_bytes(&body)
        ),
        Err(e) => assert!(e.bytes > budget && e.cap == budget, "{e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_contact_maps_to_a_body_or_a_typed_error(raw in record(CONTACT), cap in 600usize..4_000) {
        let mapped = customers::customer_body(
            &raw.to_string(),
            customers::Extras { all_tags: None, all_companies: None, imported_at: NOW },
            &[],
            &|id| Some(format!("k-{id}")),
            &|id| Some(format!("t-{id}")),
        );
        if let Ok(m) = mapped {
            assert_readable_times(&m.body);
            if let Some(name) = m.body.get("name").and_then(Value::as_str) {
                prop_assert!(no_controls(name), "{name:?}");
            }
            for phone in m.body["phones"].as_array().into_iter().flatten() {
                prop_assert!(no_controls(phone["phone"].as_str().unwrap_or("")));
            }
            assert_fits(m.body, cap);
        }
    }

    #[test]
    fn any_company_maps_to_a_body_or_a_typed_error(raw in record(COMPANY), cap in 600usize..4_000) {
        if let Ok(m) = companies::company_body(&raw.to_string(), &[], &|id| Some(format!("t-{id}")), "2024-05-01T00:00:00.000Z") {
            assert_readable_times(&m.body);
            let name = m.body["name"].as_str().unwrap_or("");
            prop_assert!(no_controls(name), "{name:?}");
            prop_assert!((3..=255).contains(&name.chars().count()), "{name:?}");
            assert_fits(m.body, cap);
        }
    }

    #[test]
    fn any_conversation_and_its_parts_map_without_panicking(
        raw in record(CONVERSATION),
        parts in prop::collection::vec(record(PART), 0..4),
        cap in 600usize..4_000,
    ) {
        // The models read leniently: any object is a conversation, fields that do not fit are absent.
        let c: Conversation = serde_json::from_value(raw).expect("a lenient model reads any object");
        let refs = conv::ConversationRefs { customer: "k-c".into(), ..Default::default() };
        let body = conv::conversation_body("1", &c, &refs, NOW);
        assert_readable_times(&body);
        if let Some(name) = body.get("name").and_then(Value::as_str) {
            prop_assert!(no_controls(name), "{name:?}");
        }
        assert_fits(body, cap);
        let parts: Vec<ConversationPart> = parts
            .into_iter()
            .filter_map(|p| serde_json::from_value(p).ok())
            .collect();
        let source = c.source.clone().unwrap_or_default();
        let message_refs = conv::MessageRefs { conversation: "k".into(), customer: "k-c".into(), ..Default::default() };
        let message = conv::message_body(
            &conv::MessageSource {
                external_id: "1",
                author: source.author.as_ref(),
                html: source.body.as_deref(),
                subject: source.subject.as_deref(),
                created_at: c.created_at,
                part_type: None,
            },
            &message_refs,
            NOW,
        );
        assert_readable_times(&message);
        assert_fits(message, cap);
        for p in &parts {
            let note = conv::note_body("p", p, "k", None, &[], NOW);
            assert_readable_times(&note);
            assert_fits(note, cap);
            let _ = conv::part_role(p.part_type.as_deref());
        }
        let refs: Vec<&ConversationPart> = parts.iter().collect();
        let timeline = conv::timeline_note_body("1", "k", &refs, NOW);
        assert_readable_times(&timeline);
        if let Some(state) = conv::final_state("k", &c, conv::close_part(&refs), None) {
            assert_readable_times(&state);
        }
        let _ = conv::missing_parts(&c, parts.len() as u64);
    }

    #[test]
    fn any_note_maps_to_a_kobject_or_a_typed_error(raw in record(NOTE)) {
        if let Ok(body) = extras::note_kobject(&raw.to_string(), extras::NoteOwner::Customer("k"), None, NOW) {
            assert_readable_times(&body);
        }
    }

    #[test]
    fn html_helpers_take_any_text(html in text()) {
        let plain = conv::html_to_text(&html);
        prop_assert!(!plain.contains("  "));
        prop_assert!(conv::preview(&html).chars().count() <= plain.chars().count());
        let _ = conv::inline_image_urls(&html);
    }

    #[test]
    fn cuts_and_cleaning_never_split_a_character(s in text(), max in 0usize..64) {
        let cut = clean::cut_to_bytes(&s, max);
        prop_assert!(cut.len() <= max && s.starts_with(cut));
        if let Some(cleaned) = clean::strip_controls(&s) {
            prop_assert!(no_controls(&cleaned), "{cleaned:?}");
        }
    }

    #[test]
    fn bulk_requests_keep_to_their_item_and_byte_budgets(
        sizes in prop::collection::vec(0usize..400_000, 0..400),
        cap in 1_000usize..2_000_000,
    ) {
        let items: Vec<(usize, usize)> = sizes.iter().copied().enumerate().collect();
        let batches = split_by_budget(items, cap);
        let order: Vec<usize> = batches.iter().flatten().copied().collect();
        prop_assert_eq!(order, (0..sizes.len()).collect::<Vec<_>>());
        for batch in &batches {
            prop_assert!(!batch.is_empty() && batch.len() <= MAX_BULK_ITEMS);
            let bytes: usize = 2 + batch.iter().map(|i| sizes[*i] + ITEM_OVERHEAD_BYTES).sum::<usize>();
            prop_assert!(bytes <= cap || batch.len() == 1, "{bytes} > {cap} in {} items", batch.len());
        }
    }

    #[test]
    fn client_refs_stay_within_255_bytes_and_distinct(ids in prop::collection::hash_set(text(), 1..20)) {
        let refs: HashSet<String> = ids.iter().map(|id| client_ref("0123abcd", id)).collect();
        prop_assert_eq!(refs.len(), ids.len());
        prop_assert!(refs.iter().all(|r| r.len() <= 255));
    }
}
