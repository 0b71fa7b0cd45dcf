//! Pure Intercom → Kustomer mapping: customers. One Intercom contact (user or lead) becomes one
//! `POST /v1/customers/bulk` item.
//!
//! Choices (documented here because Kustomer has no exact counterpart):
//! - `externalId` = the Intercom contact id (unique in Kustomer, the key every lookup uses).
//! - Intercom's own `external_id` (the workspace's user id) is kept in Kustomer's
//!   `externalIds[{externalId, verified: false}]`, the native list of other ids a customer has.
//! - The role (`user` / `lead`) is kept as `custom.intercomRoleStr` (no metadata needed for a
//!   `Str` attribute; searchable as `customer_custom_intercomRoleStr`).
//! - Emails and phones carry type `other` (Intercom does not say whether they are work or home),
//!   at most 10 each (Kustomer's limit), de-duplicated.
//! - `company` = the Kustomer id of the contact's first Intercom company (from the id map).
//! - Tags are Kustomer tag ids (tags are created before any customer).
//! - `createdAt`, `signedUpAt`, `lastSeenAt` keep Intercom's times; `importedAt` marks the import.

use serde_json::{Map, Value, json};

use crate::intercom::lenient::id_from_value;
use crate::intercom::models::{AddressableList, Contact};
use crate::mapping::attributes::custom_values;
use crate::mapping::clean;
use crate::mapping::companies::{Mapped, RecordError, decode};
use crate::vocab::FieldMapping;

/// Kustomer's documented maximum of entries in `emails`, `phones` and the like.
pub const MAX_CONTACT_ENTRIES: usize = 10;
/// The custom attribute carrying the Intercom role.
pub const ROLE_ATTRIBUTE: &str = "intercomRoleStr";
/// The `externalIds[]` entries never claim Kustomer-side verification.
const EMAIL_TYPE: &str = "other";
const PHONE_TYPE: &str = "other";

/// What the load knows beside the contact record itself.
#[derive(Debug, Clone, Copy)]
pub struct Extras<'a> {
    /// The full `contact_tags` sub-list (tag objects) when the contact had more than fit inline.
    pub all_tags: Option<&'a [Value]>,
    /// The full `contact_companies` sub-list when the contact had more than fit inline.
    pub all_companies: Option<&'a [Value]>,
    /// ISO time of the import (the same for the whole run).
    pub imported_at: &'a str,
}

/// Ids from an addressable list's inline `data`, or from the full sub-list when there is one
/// (a contact's companies or tags).
pub fn ids_of(inline: Option<&AddressableList>, full: Option<&[Value]>) -> Vec<String> {
    match full {
        Some(items) if !items.is_empty() => items
            .iter()
            .filter_map(|v| v.get("id").and_then(id_from_value))
            .map(|id| id.0)
            .collect(),
        _ => inline
            .iter()
            .flat_map(|l| &l.data)
            .filter_map(|r| r.id.as_ref().map(|i| i.0.clone()))
            .collect(),
    }
}

/// Keeps the first `MAX_CONTACT_ENTRIES` distinct, non-empty values (case-insensitive).
pub fn capped_entries(values: &[&str], what: &str, notes: &mut Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if out.iter().any(|o| o.eq_ignore_ascii_case(v)) {
            continue;
        }
        out.push(v.to_string());
    }
    if out.len() > MAX_CONTACT_ENTRIES {
        notes.push(format!(
            "{} {what}s; Kustomer keeps {MAX_CONTACT_ENTRIES}, the rest are left out; {}",
            out.len(),
            clean::FULL_VALUE_NOTE
        ));
        out.truncate(MAX_CONTACT_ENTRIES);
    }
    out
}

/// Kustomer's `emails` or `phones` list (`what`: "email" or "phone") for a contact's value,
/// each entry of `entry_type`; no list when there is no value.
fn insert_entries(
    body: &mut Map<String, Value>,
    what: &str,
    entry_type: &str,
    value: Option<&str>,
    notes: &mut Vec<String>,
) {
    let entries = capped_entries(&value.into_iter().collect::<Vec<_>>(), what, notes);
    if !entries.is_empty() {
        let list: Vec<Value> = entries
            .iter()
            .map(|v| json!({ "type": entry_type, what: v }))
            .collect();
        body.insert(format!("{what}s"), Value::Array(list));
    }
}

/// The Kustomer bulk item for one Intercom contact. `company_id` and `tag_id` resolve Intercom
/// ids to Kustomer ids through the id map; what they cannot resolve is left out with a note.
pub fn customer_body(
    raw: &str,
    extras: Extras<'_>,
    mappings: &[FieldMapping],
    company_id: &dyn Fn(&str) -> Option<String>,
    tag_id: &dyn Fn(&str) -> Option<String>,
) -> Result<Mapped, RecordError> {
    let contact: Contact = decode(raw)?;
    let id = contact.id.as_ref().ok_or(RecordError::NoId)?.to_string();
    let mut notes = Vec::new();
    let mut body = Map::new();
    body.insert("externalId".into(), json!(id));
    if let Some(name) = contact
        .name
        .as_deref()
        .map(|n| clean::clean_line(n, "name", &mut notes))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
    {
        body.insert("name".into(), json!(name));
    }
    if let Some(own) = contact.external_id.as_ref().filter(|x| !x.0.is_empty()) {
        body.insert(
            "externalIds".into(),
            json!([{ "externalId": own.as_str(), "verified": false }]),
        );
    }
    insert_entries(
        &mut body,
        "email",
        EMAIL_TYPE,
        contact.email.as_deref(),
        &mut notes,
    );
    let phone = contact
        .phone
        .as_deref()
        .map(|p| clean::clean_line(p, "phone", &mut notes));
    insert_entries(&mut body, "phone", PHONE_TYPE, phone.as_deref(), &mut notes);

    let companies = ids_of(contact.companies.as_ref(), extras.all_companies);
    if let Some(first) = companies.first() {
        match company_id(first) {
            Some(k) => {
                body.insert("company".into(), json!(k));
            }
            None => notes.push(format!(
                "company {first} is not in Kustomer (not loaded or failed); no company link"
            )),
        }
    }

    let mut tags: Vec<String> = Vec::new();
    for intercom_tag in ids_of(contact.tags.as_ref(), extras.all_tags) {
        match tag_id(&intercom_tag) {
            Some(t) if !tags.contains(&t) => tags.push(t),
            Some(_) => {}
            None => notes.push(format!("tag {intercom_tag} is not in Kustomer; left out")),
        }
    }
    if !tags.is_empty() {
        body.insert("tags".into(), json!(tags));
    }

    let mut custom = Map::new();
    if let Some(source) = &contact.custom_attributes {
        let values = custom_values(source, mappings);
        notes.extend(values.notes);
        custom = values.custom;
    }
    if let Some(role) = &contact.role {
        custom.insert(ROLE_ATTRIBUTE.into(), json!(role.as_str()));
    }
    if !custom.is_empty() {
        body.insert("custom".into(), Value::Object(custom));
    }

    for (field, time) in [
        ("createdAt", contact.created_at),
        ("signedUpAt", contact.signed_up_at),
        ("lastSeenAt", contact.last_seen_at),
    ] {
        // 0 is Intercom's "never"; before 1970 is a time like any other.
        if let Some(iso) = time
            .filter(|s| *s != 0)
            .and_then(|s| clean::iso_time_noted(s, field, &mut notes))
        {
            body.insert(field.into(), json!(iso));
        }
    }
    body.insert("importedAt".into(), json!(extras.imported_at));
    Ok(Mapped {
        body: Value::Object(body),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-02T03:04:05.000Z";

    fn extras() -> Extras<'static> {
        Extras {
            all_tags: None,
            all_companies: None,
            imported_at: NOW,
        }
    }

    fn mapping(source: &str, name: &str) -> FieldMapping {
        crate::mapping::string_attribute("contact", source, name)
    }

    fn company(id: &str) -> Option<String> {
        id.strip_prefix("ic-").map(|rest| format!("k-co-{rest}"))
    }

    fn tag(id: &str) -> Option<String> {
        (id != "404").then(|| format!("k-tag-{id}"))
    }

    #[test]
    fn a_user_becomes_a_customer_with_every_field_and_link() {
        let raw = json!({
            "type": "contact", "id": "c1", "role": "user", "external_id": "u-77",
            "email": "Ann@example.com", "phone": "+15550001", "name": "Ann Lee",
            "created_at": 1_600_000_000, "signed_up_at": 1_600_000_100, "last_seen_at": 1_700_000_000,
            "custom_attributes": {"plan": "pro", "seats": "12"},
            "tags": {"type": "list", "data": [{"type": "tag", "id": "5"}, {"type": "tag", "id": "404"}]},
            "companies": {"type": "list", "data": [{"type": "company", "id": "ic-1"}, {"type": "company", "id": "ic-2"}]}
        })
        .to_string();
        let mut seats = mapping("seats", "seatsNum");
        seats.source_type = "integer".into();
        let mapped = customer_body(
            &raw,
            extras(),
            &[mapping("plan", "planStr"), seats],
            &company,
            &tag,
        )
        .unwrap();
        assert_eq!(
            mapped.body,
            json!({
                "externalId": "c1", "name": "Ann Lee",
                "externalIds": [{"externalId": "u-77", "verified": false}],
                "emails": [{"type": "other", "email": "Ann@example.com"}],
                "phones": [{"type": "other", "phone": "+15550001"}],
                "company": "k-co-1", "tags": ["k-tag-5"],
                "custom": {"planStr": "pro", "seatsNum": 12, "intercomRoleStr": "user"},
                "createdAt": "2020-09-13T12:26:40.000Z", "signedUpAt": "2020-09-13T12:28:20.000Z",
                "lastSeenAt": "2023-11-14T22:13:20.000Z", "importedAt": NOW
            })
        );
        assert_eq!(mapped.notes.len(), 1, "{:?}", mapped.notes);
        assert!(mapped.notes[0].contains("404"));
    }

    #[test]
    fn a_bare_lead_keeps_its_role_and_times_only() {
        let raw = json!({"type": "contact", "id": "l9", "role": "lead", "email": null,
            "created_at": 1_600_000_000, "signed_up_at": null, "last_seen_at": 0})
        .to_string();
        let mapped = customer_body(&raw, extras(), &[], &company, &tag).unwrap();
        assert_eq!(
            mapped.body,
            json!({"externalId": "l9", "custom": {"intercomRoleStr": "lead"},
                   "createdAt": "2020-09-13T12:26:40.000Z", "importedAt": NOW})
        );
        assert!(mapped.notes.is_empty());
    }

    #[test]
    fn full_sub_lists_replace_the_inline_ten() {
        let raw = json!({"id": "c2", "role": "user",
            "tags": {"data": [{"id": "1"}], "has_more": true},
            "companies": {"data": [{"id": "ic-unknown"}], "has_more": true}})
        .to_string();
        let all_tags = [
            json!({"type": "tag", "id": "1"}),
            json!({"type": "tag", "id": 2}),
        ];
        let all_companies = [json!({"type": "company", "id": "ic-3"})];
        let mapped = customer_body(
            &raw,
            Extras {
                all_tags: Some(&all_tags),
                all_companies: Some(&all_companies),
                imported_at: NOW,
            },
            &[],
            &company,
            &tag,
        )
        .unwrap();
        assert_eq!(mapped.body["tags"], json!(["k-tag-1", "k-tag-2"]));
        assert_eq!(mapped.body["company"], json!("k-co-3"));
    }

    #[test]
    fn an_unloaded_company_leaves_no_link_but_a_note() {
        let raw = json!({"id": "c3", "companies": {"data": [{"id": "zz"}]}}).to_string();
        let mapped = customer_body(&raw, extras(), &[], &company, &tag).unwrap();
        assert!(mapped.body.get("company").is_none());
        assert!(mapped.notes[0].contains("zz"));
    }

    #[test]
    fn entries_are_deduplicated_and_capped_at_ten() {
        let many: Vec<String> = (0..12).map(|i| format!("a{i}@x.io")).collect();
        let mut values: Vec<&str> = many.iter().map(String::as_str).collect();
        values.push("A0@X.IO");
        values.push("  ");
        let mut notes = Vec::new();
        let kept = capped_entries(&values, "email", &mut notes);
        assert_eq!(kept.len(), MAX_CONTACT_ENTRIES);
        assert_eq!(kept[0], "a0@x.io");
        assert!(notes[0].contains("12 emails"));
    }

    #[test]
    fn a_contact_without_an_id_is_refused() {
        assert_eq!(
            customer_body(r#"{"role":"user"}"#, extras(), &[], &company, &tag),
            Err(RecordError::NoId)
        );
    }

    #[test]
    fn times_before_1970_are_kept_and_times_past_9999_are_left_out_with_their_value() {
        let raw = json!({
            "type": "contact", "id": "c9", "role": "user",
            "created_at": -2_208_988_800_i64, "signed_up_at": 0, "last_seen_at": 400_000_000_000_i64,
        })
        .to_string();
        let mapped = customer_body(&raw, extras(), &[], &company, &tag).unwrap();
        assert_eq!(mapped.body["createdAt"], "1900-01-01T00:00:00.000Z");
        assert!(mapped.body.get("signedUpAt").is_none());
        assert!(mapped.body.get("lastSeenAt").is_none());
        assert_eq!(mapped.notes.len(), 1, "{:?}", mapped.notes);
        assert!(mapped.notes[0].starts_with("lastSeenAt: "));
        assert!(mapped.notes[0].contains("400000000000"));
    }

    #[test]
    fn control_characters_leave_names_and_phones_with_a_note() {
        let raw = json!({
            "type": "contact", "id": "c8", "role": "lead",
            "name": "Eve\u{0}\u{1b}[2J\u{202e}nosrep", "phone": "+1 555\u{7}0100",
        })
        .to_string();
        let mapped = customer_body(&raw, extras(), &[], &company, &tag).unwrap();
        assert_eq!(mapped.body["name"], "Evenosrep");
        assert_eq!(mapped.body["phones"][0]["phone"], "+1 5550100");
        assert_eq!(mapped.notes.len(), 2, "{:?}", mapped.notes);
        assert!(
            mapped
                .notes
                .iter()
                .any(|n| n.starts_with("name: control characters removed"))
        );
        assert!(
            mapped
                .notes
                .iter()
                .any(|n| n.starts_with("phone: control characters removed"))
        );
    }
}
