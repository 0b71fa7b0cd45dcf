//! Pure Intercom → Kustomer mapping: companies. One Intercom company becomes one
//! `POST /v1/companies/bulk` item: a name Kustomer accepts (3–255 characters), `externalId` = the
//! Intercom id, the original `createdAt`, domains from `website`, tags as Kustomer tag ids, and
//! the custom attributes the operator decided to carry, and `importedAt` (Kustomer's published
//! `CreateCompany` / `BulkCreateCompanies` request types have it).

use serde_json::{Map, Value, json};

use crate::intercom::models::Company;
use crate::mapping::attributes::custom_values;
use crate::mapping::clean;
use crate::vocab::FieldMapping;

/// Kustomer's documented bounds for a company name.
pub const NAME_MIN_CHARS: usize = 3;
pub const NAME_MAX_CHARS: usize = 255;
/// Kustomer's documented bound for a company `externalId`.
pub const EXTERNAL_ID_MAX_CHARS: usize = 256;

/// A Kustomer request body and what was altered or left out to make it fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub body: Value,
    /// One line per alteration, for the operator (recorded as warnings against the record).
    pub notes: Vec<String>,
}

/// Why a record cannot become a Kustomer body at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the Intercom record is not valid JSON: {0}")]
    NotJson(String),
    #[error("the Intercom record has no id")]
    NoId,
    #[error(
        "the Intercom id {0:?} is longer than Kustomer's externalId limit of {EXTERNAL_ID_MAX_CHARS}"
    )]
    IdTooLong(String),
}

/// A company name within Kustomer's 3–255 characters, and a note when it had to change.
/// Missing → the workspace's own `company_id`, else `Company <id>`; too short → the id in
/// parentheses is appended (names stay recognisable and distinct); too long → cut with `…`.
pub fn company_name(
    name: Option<&str>,
    company_id: Option<&str>,
    id: &str,
) -> (String, Option<String>) {
    let trimmed = name.map(str::trim).filter(|n| !n.is_empty());
    let (base, mut note) = match trimmed {
        Some(n) => (n.to_string(), None),
        None => {
            let fallback = match company_id.map(str::trim).filter(|c| !c.is_empty()) {
                Some(c) => c.to_string(),
                None => format!("Company {id}"),
            };
            let note = format!("name missing in Intercom; named {fallback:?}");
            (fallback, Some(note))
        }
    };
    let mut out = base.clone();
    if out.chars().count() < NAME_MIN_CHARS {
        let tag = company_id
            .map(str::trim)
            .filter(|c| !c.is_empty() && *c != base)
            .unwrap_or(id);
        out = format!("{base} ({tag})");
        // An id of one character still leaves "x (y)" at five characters: never below three.
        note = Some(format!(
            "name {base:?} is shorter than Kustomer's {NAME_MIN_CHARS} characters; padded to {out:?}"
        ));
    }
    let chars = out.chars().count();
    if chars > NAME_MAX_CHARS {
        out = out.chars().take(NAME_MAX_CHARS - 1).collect::<String>() + "…";
        note = Some(format!(
            "name of {chars} characters cut to Kustomer's {NAME_MAX_CHARS}; {}",
            clean::FULL_VALUE_NOTE
        ));
    }
    (out, note)
}

/// The domain of a website (`https://www.Acme.com/about` → `acme.com`), if it has one.
pub fn domain_of(website: &str) -> Option<String> {
    let w = website.trim();
    let rest = w
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(w)
        .trim_start_matches('/');
    let host = rest.split(['/', '?', '#']).next()?;
    // Drop credentials and port; keep only a plausible host name.
    let host = host
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    let plausible = host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    plausible.then_some(host)
}

/// A stored Intercom record read as `T`, through the JSON value it was stored as.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, RecordError> {
    let value: Value =
        serde_json::from_str(raw).map_err(|e| RecordError::NotJson(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| RecordError::NotJson(e.to_string()))
}

/// The Kustomer bulk item for one Intercom company. `tag_id` resolves an Intercom tag id to the
/// Kustomer tag id (from the id map); tags it cannot resolve are left out with a note.
pub fn company_body(
    raw: &str,
    mappings: &[FieldMapping],
    tag_id: &dyn Fn(&str) -> Option<String>,
    imported_at: &str,
) -> Result<Mapped, RecordError> {
    let company: Company = decode(raw)?;
    let id = company.id.as_ref().ok_or(RecordError::NoId)?.to_string();
    if id.chars().count() > EXTERNAL_ID_MAX_CHARS {
        return Err(RecordError::IdTooLong(id));
    }
    let mut notes = Vec::new();
    let clean_name = company
        .name
        .as_deref()
        .map(|n| clean::clean_line(n, "name", &mut notes));
    // The fallbacks a name is made of are outside text too.
    let clean_company_id = company
        .company_id
        .as_ref()
        .map(|c| clean::strip_controls(c.as_str()).unwrap_or_else(|| c.as_str().to_string()));
    let clean_id = clean::strip_controls(&id).unwrap_or_else(|| id.clone());
    let (name, name_note) = company_name(
        clean_name.as_deref(),
        clean_company_id.as_deref(),
        &clean_id,
    );
    notes.extend(name_note);

    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    body.insert("externalId".into(), json!(id));
    if let Some(created) = company
        .created_at
        .or(company.remote_created_at)
        .and_then(|t| clean::iso_time_noted(t, "createdAt", &mut notes))
    {
        body.insert("createdAt".into(), json!(created));
    }
    if let Some(website) = company.website.as_deref().filter(|w| !w.trim().is_empty()) {
        match domain_of(website) {
            Some(domain) => {
                body.insert("domains".into(), json!([{ "domain": domain }]));
            }
            None => notes.push(format!("website {website:?} has no domain; left out")),
        }
    }
    let mut tags: Vec<String> = Vec::new();
    for tag in company.tags.iter().flat_map(|t| &t.tags) {
        let Some(intercom_id) = tag.id.as_ref() else {
            continue;
        };
        match tag_id(intercom_id.as_str()) {
            Some(t) if !tags.contains(&t) => tags.push(t),
            Some(_) => {}
            None => notes.push(format!(
                "tag {} ({}) is not in Kustomer; left out",
                intercom_id,
                tag.name.as_deref().unwrap_or("unnamed")
            )),
        }
    }
    if !tags.is_empty() {
        body.insert("tags".into(), json!(tags));
    }
    if let Some(source) = &company.custom_attributes {
        let custom = custom_values(source, mappings);
        notes.extend(custom.notes);
        if !custom.custom.is_empty() {
            body.insert("custom".into(), Value::Object(custom.custom));
        }
    }
    body.insert("importedAt".into(), json!(imported_at));
    Ok(Mapped {
        body: Value::Object(body),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2024-05-01T00:00:00.000Z";

    fn mapping(source: &str, name: &str) -> FieldMapping {
        crate::mapping::string_attribute("company", source, name)
    }

    #[test]
    fn names_are_fitted_into_three_to_255_characters() {
        let long = "x".repeat(300);
        // (name, company_id, id, expected name, noted)
        type Row<'a> = (Option<&'a str>, Option<&'a str>, &'a str, &'a str, bool);
        let table: [Row; 7] = [
            (Some("Acme Inc"), Some("c-1"), "5f1", "Acme Inc", false),
            (Some("  Acme  "), None, "5f1", "Acme", false),
            (None, Some("acme-42"), "5f1", "acme-42", true),
            (Some("   "), None, "5f1", "Company 5f1", true),
            (Some("AB"), Some("c-9"), "5f1", "AB (c-9)", true),
            (Some("A"), None, "7", "A (7)", true),
            (Some("AB"), Some("AB"), "5f1", "AB (5f1)", true),
        ];
        for (name, company_id, id, expected, noted) in table {
            let (got, note) = company_name(name, company_id, id);
            assert_eq!(got, expected, "{name:?}");
            assert_eq!(note.is_some(), noted, "{name:?}: {note:?}");
        }
        let (cut, note) = company_name(Some(&long), None, "1");
        assert_eq!(cut.chars().count(), NAME_MAX_CHARS);
        assert!(cut.ends_with('…'));
        assert!(note.unwrap().contains("300"));
    }

    #[test]
    fn domains_come_from_the_website_host() {
        let table = [
            ("https://www.Acme.com/about?x=1", Some("acme.com")),
            ("http://shop.example.co.uk", Some("shop.example.co.uk")),
            ("example.org", Some("example.org")),
            ("https://user:pw@example.net:8443/x", Some("example.net")),
            ("not a website", None),
            ("https://localhost/", None),
            ("", None),
        ];
        for (website, expected) in table {
            assert_eq!(domain_of(website).as_deref(), expected, "{website}");
        }
    }

    #[test]
    fn a_company_becomes_a_bulk_item_with_its_links_and_attributes() {
        let raw = json!({
            "type": "company", "id": "6500aa", "company_id": "acme-1", "name": "Acme",
            "created_at": 1_600_000_000, "website": "https://acme.io",
            "custom_attributes": {"plan_tier": "gold", "ignored": 1},
            "tags": {"type": "tag.list", "tags": [
                {"id": "11", "name": "vip"}, {"id": "12", "name": "gone"}, {"id": "11", "name": "vip"}
            ]}
        })
        .to_string();
        let tag_id = |id: &str| (id == "11").then(|| "k-tag-11".to_string());
        let mapped =
            company_body(&raw, &[mapping("plan_tier", "planTierStr")], &tag_id, NOW).unwrap();
        assert_eq!(
            mapped.body,
            json!({
                "name": "Acme", "externalId": "6500aa", "createdAt": "2020-09-13T12:26:40.000Z",
                "domains": [{"domain": "acme.io"}], "tags": ["k-tag-11"],
                "custom": {"planTierStr": "gold"}, "importedAt": NOW
            })
        );
        assert_eq!(mapped.notes.len(), 1, "{:?}", mapped.notes);
        assert!(mapped.notes[0].contains("gone"));
    }

    #[test]
    fn records_without_an_id_or_json_are_refused() {
        let none = |_: &str| None;
        assert_eq!(
            company_body(r#"{"name":"Acme"}"#, &[], &none, NOW),
            Err(RecordError::NoId)
        );
        assert!(matches!(
            company_body("{not json", &[], &none, NOW),
            Err(RecordError::NotJson(_))
        ));
        let long_id = json!({"id": "9".repeat(300), "name": "Acme"}).to_string();
        assert!(matches!(
            company_body(&long_id, &[], &none, NOW),
            Err(RecordError::IdTooLong(_))
        ));
    }
}
