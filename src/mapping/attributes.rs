//! Intercom data attributes → Kustomer custom attributes: which type and suffix each Intercom
//! `data_type` becomes (or why it cannot map on its own), the metadata `PUT` body, and the
//! conversion of each value into what the Kustomer type accepts.

use serde_json::{Map, Value, json};

use crate::kustomer::assumptions;
use crate::mapping::names::{NameAllocator, Suffix, assigned_suffix, display_name};
use crate::timefmt;
use crate::vocab::{FieldDecision, FieldMapping, scalar_text};

/// Kustomer's documented maximum for `…Str` and `…Txt` values (both "length 0..1024").
pub const MAX_STRING_CHARS: usize = 1024;

/// The Intercom object an attribute belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceModel {
    Contact,
    Company,
    Conversation,
}

impl SourceModel {
    /// `"contact"`, `"company"` or `"conversation"`, as `FieldMapping::model` spells them.
    pub fn parse(model: &str) -> Option<SourceModel> {
        match model {
            "contact" => Some(SourceModel::Contact),
            "company" => Some(SourceModel::Company),
            "conversation" => Some(SourceModel::Conversation),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceModel::Contact => "contact",
            SourceModel::Company => "company",
            SourceModel::Conversation => "conversation",
        }
    }

    /// The Kustomer metadata resource (`PUT /v1/metadata/{resource}`) for this model.
    pub fn kustomer_resource(self) -> &'static str {
        match self {
            SourceModel::Contact => "customer",
            SourceModel::Company => "company",
            SourceModel::Conversation => "conversation",
        }
    }
}

/// One Intercom attribute as the mapping needs it (built by the caller from `/data_attributes`
/// or `/conversations/attributes`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceAttribute {
    pub model: SourceModel,
    /// The key under `custom_attributes` in Intercom records.
    pub name: String,
    /// Intercom's label, if it has one; becomes the Kustomer display name.
    pub label: Option<String>,
    pub data_type: String,
    /// Option labels (contact/company `options[]`, conversation list options not archived).
    pub options: Vec<String>,
    /// Conversation string attributes: multi-line text.
    pub multiline: bool,
}

/// The suffix an Intercom `data_type` maps to, or why a person must decide.
pub fn suffix_for(
    model: SourceModel,
    data_type: &str,
    multiline: bool,
) -> Result<Suffix, &'static str> {
    let contact_like = matches!(model, SourceModel::Contact | SourceModel::Company);
    match (data_type, contact_like) {
        ("string", _) if multiline => Ok(Suffix::Txt),
        ("string", _) => Ok(Suffix::Str),
        ("integer", _) => Ok(Suffix::Num),
        ("float", true) | ("decimal", false) => Ok(Suffix::Num),
        ("boolean", _) => Ok(Suffix::Bool),
        ("date", true) | ("datetime", false) => Ok(Suffix::At),
        // A list holds one of its options: a string with an enumeration in the metadata.
        ("list", false) => Ok(Suffix::Str),
        ("relationship", false) => Err(
            "a relationship points at other Intercom objects; Kustomer needs an …Id attribute with a \
             configured target: rename, retype or archive it",
        ),
        ("files", false) => Err(
            "file attributes have no Kustomer attribute type; rename, retype (e.g. to a URL list \
             as text) or archive it",
        ),
        _ => Err("unknown Intercom data type for this model: rename, retype or archive it"),
    }
}

/// The proposed mapping of one attribute, with the decision left to the operator
/// (`FieldDecision::Unresolved`); [`default_decision`] says what `--accept-defaults` takes.
pub fn propose(attr: &SourceAttribute, names: &mut NameAllocator) -> FieldMapping {
    let (proposed, note) = match suffix_for(attr.model, &attr.data_type, attr.multiline) {
        Ok(suffix) => {
            let name = names.allocate(&attr.name, suffix);
            let note = if attr.options.is_empty() {
                String::new()
            } else {
                format!("{} options become an enumeration", attr.options.len())
            };
            (Some(name), note)
        }
        Err(reason) => (None, format!("cannot map automatically: {reason}")),
    };
    FieldMapping {
        model: attr.model.as_str().to_string(),
        source_name: attr.name.clone(),
        source_type: attr.data_type.clone(),
        proposed,
        decision: FieldDecision::Unresolved,
        note,
    }
}

/// The decision taken when the operator accepts defaults: the proposed attribute, else archive.
pub fn default_decision(mapping: &FieldMapping) -> FieldDecision {
    match &mapping.proposed {
        Some(name) => FieldDecision::Attribute { name: name.clone() },
        None => FieldDecision::Archive,
    }
}

/// What the metadata `PUT` declares for one attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeSpec {
    /// Full name with suffix, e.g. `planStr`.
    pub name: String,
    pub display_name: String,
    /// The metadata `type` for the name's suffix (see `kustomer::assumptions::metadata_type`).
    pub kustomer_type: &'static str,
    pub enumeration: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error(
        "attribute name {name:?} has no suffix i2k can type (Str, Txt, Num, At, Bool, Url); `…Id` needs metadata with a target set in Kustomer"
    )]
    UnknownSuffix { name: String },
    #[error("{value} is not a valid {expected} value: {why}")]
    BadValue {
        expected: &'static str,
        value: String,
        why: &'static str,
    },
}

/// The metadata entry for `attr` carried as attribute `name` (the operator may have renamed or
/// retyped it; the name's suffix decides the type).
pub fn spec_for(attr: &SourceAttribute, name: &str) -> Result<AttributeSpec, MappingError> {
    let suffix = assigned_suffix(name).ok_or_else(|| MappingError::UnknownSuffix {
        name: name.to_string(),
    })?;
    let label = attr.label.as_deref().unwrap_or(&attr.name);
    // An enumeration only makes sense for values that are strings.
    let enumeration = if matches!(suffix, Suffix::Str | Suffix::Txt) {
        attr.options.clone()
    } else {
        Vec::new()
    };
    Ok(AttributeSpec {
        name: name.to_string(),
        display_name: display_name(label),
        kustomer_type: assumptions::metadata_type(suffix),
        enumeration,
    })
}

/// `PUT /v1/metadata/{resource}` body: `{properties: {name: {displayName, enumeration?}}}`. No
/// `type`: Kustomer infers it from the name's suffix, and its own examples send only
/// `displayName` (`kustomer_type` stays for display).
pub fn metadata_body(specs: &[AttributeSpec]) -> Value {
    let mut properties = Map::new();
    for spec in specs {
        let mut entry = Map::new();
        entry.insert("displayName".into(), json!(spec.display_name));
        if !spec.enumeration.is_empty() {
            entry.insert(
                "enumeration".into(),
                assumptions::enumeration(&spec.enumeration),
            );
        }
        properties.insert(spec.name.clone(), Value::Object(entry));
    }
    json!({ "properties": properties })
}

/// A value ready for `custom.<name>`, with a note when it was altered to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    pub value: Value,
    pub note: Option<String>,
}

impl Converted {
    fn exact(value: Value) -> Converted {
        Converted { value, note: None }
    }
}

fn bad(expected: &'static str, value: &Value, why: &'static str) -> MappingError {
    let mut shown = value.to_string();
    if shown.chars().count() > 80 {
        shown = shown.chars().take(80).collect::<String>() + "…";
    }
    MappingError::BadValue {
        expected,
        value: shown,
        why,
    }
}

/// Converts one Intercom value into the Kustomer type of `suffix`. `null` stays `null` (every
/// Kustomer type accepts it).
pub fn convert_value(value: &Value, suffix: Suffix) -> Result<Converted, MappingError> {
    if value.is_null() {
        return Ok(Converted::exact(Value::Null));
    }
    match suffix {
        // i2k assigns no `…Id` attribute (`assigned_suffix`); an id is text to Kustomer.
        Suffix::Str | Suffix::Txt | Suffix::Id => {
            let text = scalar_text(value).ok_or_else(|| bad("string", value, "not a scalar"))?;
            let chars = text.chars().count();
            if chars > MAX_STRING_CHARS {
                let cut: String = text.chars().take(MAX_STRING_CHARS).collect();
                Ok(Converted {
                    value: Value::String(cut),
                    note: Some(format!(
                        "truncated from {chars} to {MAX_STRING_CHARS} characters (Kustomer's limit); {}",
                        crate::mapping::clean::FULL_VALUE_NOTE
                    )),
                })
            } else {
                Ok(Converted::exact(Value::String(text)))
            }
        }
        Suffix::Num => {
            let number = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            }
            .ok_or_else(|| bad("number", value, "not a number"))?;
            // Keep integers integral in JSON (42, not 42.0).
            if let Some(i) = value
                .as_i64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse::<i64>().ok()))
            {
                return Ok(Converted::exact(json!(i)));
            }
            Ok(Converted::exact(json!(number)))
        }
        Suffix::Bool => {
            let flag = match value {
                Value::Bool(b) => Some(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(1) => Some(true),
                    Some(0) => Some(false),
                    _ => None,
                },
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => Some(true),
                    "false" | "0" | "no" => Some(false),
                    _ => None,
                },
                _ => None,
            }
            .ok_or_else(|| bad("boolean", value, "not true/false/1/0"))?;
            Ok(Converted::exact(Value::Bool(flag)))
        }
        Suffix::At => {
            let ms = match value {
                // Intercom dates are unix seconds.
                Value::Number(n) => n.as_i64().map(|s| s.saturating_mul(1000)),
                Value::String(s) => {
                    let s = s.trim();
                    s.parse::<i64>()
                        .ok()
                        .map(|secs| secs.saturating_mul(1000))
                        .or_else(|| timefmt::iso_to_unix_ms(s))
                }
                _ => None,
            }
            .ok_or_else(|| bad("date-time", value, "neither unix seconds nor ISO-8601"))?;
            Ok(Converted::exact(Value::String(timefmt::unix_ms_to_iso(ms))))
        }
        Suffix::Url => {
            let text = value
                .as_str()
                .ok_or_else(|| bad("URL", value, "not a string"))?;
            let url = text.trim();
            if is_url(url) {
                Ok(Converted::exact(Value::String(url.to_string())))
            } else {
                Err(bad(
                    "URL",
                    value,
                    "not an absolute http(s) URL without spaces",
                ))
            }
        }
    }
}

/// An absolute `http`/`https` URL with a host and no whitespace: what Kustomer's `format: uri`
/// check can be trusted to accept.
pub fn is_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    let Some(rest) = rest else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The `custom` object of one record and notes about anything altered or left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomValues {
    pub custom: Map<String, Value>,
    pub notes: Vec<String>,
}

/// Builds a record's `custom` object from its Intercom `custom_attributes` and the decided
/// mappings of its model. Archived and unresolved attributes are left out (the archive keeps
/// the raw record); values that do not convert are left out with a note naming the attribute.
pub fn custom_values(source: &Map<String, Value>, mappings: &[FieldMapping]) -> CustomValues {
    let mut out = CustomValues::default();
    for mapping in mappings {
        let FieldDecision::Attribute { name } = &mapping.decision else {
            continue;
        };
        let Some(value) = source.get(&mapping.source_name) else {
            continue;
        };
        let Some(suffix) = assigned_suffix(name) else {
            // An operator-chosen `…Id` (or other) attribute: Kustomer validates it; pass it on.
            out.custom.insert(name.clone(), value.clone());
            continue;
        };
        match convert_value(value, suffix) {
            Ok(converted) => {
                if let Some(note) = converted.note {
                    out.notes.push(format!("{}: {note}", mapping.source_name));
                }
                out.custom.insert(name.clone(), converted.value);
            }
            Err(e) => out
                .notes
                .push(format!("{}: left out, {e}", mapping.source_name)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(model: SourceModel, name: &str, data_type: &str) -> SourceAttribute {
        SourceAttribute {
            model,
            name: name.into(),
            label: None,
            data_type: data_type.into(),
            options: Vec::new(),
            multiline: false,
        }
    }

    #[test]
    fn every_intercom_data_type_has_a_target_or_a_reason() {
        use SourceModel::*;
        let table: [(SourceModel, &str, bool, Option<Suffix>); 17] = [
            (Contact, "string", false, Some(Suffix::Str)),
            (Contact, "integer", false, Some(Suffix::Num)),
            (Contact, "float", false, Some(Suffix::Num)),
            (Contact, "boolean", false, Some(Suffix::Bool)),
            (Contact, "date", false, Some(Suffix::At)),
            (Company, "string", false, Some(Suffix::Str)),
            (Company, "float", false, Some(Suffix::Num)),
            (Company, "date", false, Some(Suffix::At)),
            (Conversation, "string", false, Some(Suffix::Str)),
            (Conversation, "string", true, Some(Suffix::Txt)),
            (Conversation, "integer", false, Some(Suffix::Num)),
            (Conversation, "list", false, Some(Suffix::Str)),
            (Conversation, "decimal", false, Some(Suffix::Num)),
            (Conversation, "boolean", false, Some(Suffix::Bool)),
            (Conversation, "datetime", false, Some(Suffix::At)),
            (Conversation, "relationship", false, None),
            (Conversation, "files", false, None),
        ];
        for (model, data_type, multiline, expected) in table {
            let got = suffix_for(model, data_type, multiline);
            match expected {
                Some(s) => assert_eq!(got, Ok(s), "{model:?} {data_type}"),
                None => assert!(
                    got.as_ref().is_err_and(|r| r.contains("archive")),
                    "{model:?} {data_type}: {got:?}"
                ),
            }
        }
        assert!(suffix_for(Contact, "list", false).is_err());
        assert!(suffix_for(Contact, "geo", false).is_err());
    }

    #[test]
    fn proposals_name_the_attribute_and_leave_the_decision_open() {
        let mut names = NameAllocator::new();
        let mut plan = attr(SourceModel::Contact, "plan name", "string");
        plan.options = vec!["gold".into(), "silver".into()];
        let m = propose(&plan, &mut names);
        assert_eq!(m.proposed.as_deref(), Some("planNameStr"));
        assert_eq!(m.decision, FieldDecision::Unresolved);
        assert!(m.note.contains("2 options"));
        assert_eq!(
            default_decision(&m),
            FieldDecision::Attribute {
                name: "planNameStr".into()
            }
        );
        let twin = propose(
            &attr(SourceModel::Contact, "plan_name", "string"),
            &mut names,
        );
        assert_eq!(twin.proposed.as_deref(), Some("planName2Str"));

        let files = propose(
            &attr(SourceModel::Conversation, "proof", "files"),
            &mut names,
        );
        assert_eq!(files.proposed, None);
        assert!(files.note.starts_with("cannot map automatically"));
        assert_eq!(default_decision(&files), FieldDecision::Archive);
    }

    #[test]
    fn metadata_body_declares_display_name_and_enumeration_but_no_type() {
        let mut tier = attr(SourceModel::Conversation, "tier", "list");
        tier.label = Some("Customer tier".into());
        tier.options = vec!["gold".into(), "silver".into()];
        let seats = attr(SourceModel::Company, "seats", "integer");
        let specs = vec![
            spec_for(&tier, "tierStr").unwrap(),
            spec_for(&seats, "seatsNum").unwrap(),
        ];
        let body = metadata_body(&specs);
        let props = &body["properties"];
        assert!(props["tierStr"].get("type").is_none());
        assert_eq!(props["tierStr"]["displayName"], "Customer tier");
        assert_eq!(props["tierStr"]["enumeration"], json!(["gold", "silver"]));
        assert!(props["seatsNum"].get("type").is_none());
        assert_eq!(props["seatsNum"]["displayName"], "seats");
        assert!(props["seatsNum"].get("enumeration").is_none());
        assert_eq!(
            spec_for(&seats, "seatsId"),
            Err(MappingError::UnknownSuffix {
                name: "seatsId".into()
            })
        );
    }

    #[test]
    fn values_convert_to_each_kustomer_type() {
        let ok = |v: Value, s: Suffix| convert_value(&v, s).map(|c| c.value);
        let table: Vec<(Value, Suffix, Value)> = vec![
            (json!("gold"), Suffix::Str, json!("gold")),
            (json!(42), Suffix::Str, json!("42")),
            (json!(true), Suffix::Txt, json!("true")),
            (json!(7), Suffix::Num, json!(7)),
            (json!(2.5), Suffix::Num, json!(2.5)),
            (json!(" 12 "), Suffix::Num, json!(12)),
            (json!("3.75"), Suffix::Num, json!(3.75)),
            (json!(true), Suffix::Bool, json!(true)),
            (json!("true"), Suffix::Bool, json!(true)),
            (json!("1"), Suffix::Bool, json!(true)),
            (json!("FALSE"), Suffix::Bool, json!(false)),
            (json!(0), Suffix::Bool, json!(false)),
            (
                json!(1_700_000_000),
                Suffix::At,
                json!("2023-11-14T22:13:20.000Z"),
            ),
            (
                json!("1700000000"),
                Suffix::At,
                json!("2023-11-14T22:13:20.000Z"),
            ),
            (
                json!("2023-11-14T23:13:20+01:00"),
                Suffix::At,
                json!("2023-11-14T22:13:20.000Z"),
            ),
            (
                json!(" https://example.com/a?b=c "),
                Suffix::Url,
                json!("https://example.com/a?b=c"),
            ),
            (Value::Null, Suffix::Num, Value::Null),
            (Value::Null, Suffix::Url, Value::Null),
        ];
        for (input, suffix, expected) in table {
            assert_eq!(
                ok(input.clone(), suffix),
                Ok(expected),
                "{input} as {suffix:?}"
            );
        }
        let refused: Vec<(Value, Suffix)> = vec![
            (json!("many"), Suffix::Num),
            (json!("NaN"), Suffix::Num),
            (json!("maybe"), Suffix::Bool),
            (json!(2), Suffix::Bool),
            (json!("yesterday"), Suffix::At),
            (json!("example.com"), Suffix::Url),
            (json!("ftp://example.com"), Suffix::Url),
            (json!("https://exa mple.com"), Suffix::Url),
            (json!("https:///path"), Suffix::Url),
            (json!({"a": 1}), Suffix::Str),
            (json!([1, 2]), Suffix::Num),
        ];
        for (input, suffix) in refused {
            assert!(
                matches!(
                    convert_value(&input, suffix),
                    Err(MappingError::BadValue { .. })
                ),
                "{input} as {suffix:?} should be refused"
            );
        }
    }

    #[test]
    fn long_strings_are_truncated_with_a_note() {
        let long = "é".repeat(MAX_STRING_CHARS + 5);
        for suffix in [Suffix::Str, Suffix::Txt] {
            let c = convert_value(&json!(long), suffix).unwrap();
            assert_eq!(c.value.as_str().unwrap().chars().count(), MAX_STRING_CHARS);
            assert!(c.note.unwrap().contains("truncated from 1029"));
        }
        let exact = "x".repeat(MAX_STRING_CHARS);
        assert_eq!(
            convert_value(&json!(exact), Suffix::Str).unwrap().note,
            None
        );
    }

    #[test]
    fn custom_values_follow_the_decisions() {
        let mapping = |source: &str, decision: FieldDecision| FieldMapping {
            model: "contact".into(),
            source_name: source.into(),
            source_type: "string".into(),
            proposed: None,
            decision,
            note: String::new(),
        };
        let attribute = |name: &str| FieldDecision::Attribute { name: name.into() };
        let mappings = vec![
            mapping("plan", attribute("planStr")),
            mapping("seats", attribute("seatsNum")),
            mapping("signup", attribute("signupAt")),
            mapping("homepage", attribute("homepageUrl")),
            mapping("order", attribute("primaryOrderId")),
            mapping("secret", FieldDecision::Archive),
            mapping("pending", FieldDecision::Unresolved),
            mapping("absent", attribute("absentStr")),
        ];
        let source = json!({
            "plan": "gold", "seats": "12", "signup": 1_700_000_000,
            "homepage": "not a url", "order": "abc", "secret": "s", "pending": "p"
        });
        let out = custom_values(source.as_object().unwrap(), &mappings);
        assert_eq!(
            Value::Object(out.custom),
            json!({
                "planStr": "gold", "seatsNum": 12,
                "signupAt": "2023-11-14T22:13:20.000Z", "primaryOrderId": "abc"
            })
        );
        assert_eq!(out.notes.len(), 1);
        assert!(
            out.notes[0].starts_with("homepage: left out"),
            "{:?}",
            out.notes
        );
    }
}
