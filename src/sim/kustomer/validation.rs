//! Field validation shared by single and bulk writes: required fields, lengths, contact arrays,
//! ISO dates, and custom attributes typed by their name's suffix.

use serde_json::{Map, Value};

use super::envelope::ApiError;
use super::state::{Kind, Store};
use crate::vocab::Suffix;

/// Longest `Str`/`Txt` custom value (the reference gives 0..1024 for both).
pub const MAX_TEXT_ATTRIBUTE: usize = 1024;
/// Most entries in `emails`, `phones`, `whatsapps`, `socials`, `urls`.
pub const MAX_CONTACT_ENTRIES: usize = 10;

/// The suffix of a camelCase attribute name (`planStr` → `Str`); `None` for an unknown one.
pub fn suffix_of(name: &str) -> Option<Suffix> {
    Suffix::ALL.into_iter().find(|s| {
        name.strip_suffix(s.as_str())
            .and_then(|stem| stem.chars().last())
            .is_some_and(|last| last.is_ascii_lowercase() || last.is_ascii_digit())
    })
}

/// The suffix of `name` (a `what` at `pointer`), or the 400 for an unknown one; `hint` ends
/// its detail.
pub fn known_suffix(name: &str, pointer: &str, what: &str, hint: &str) -> Result<Suffix, ApiError> {
    suffix_of(name).ok_or_else(|| {
        ApiError::invalid(
            pointer,
            format!("{what} `{name}` has an unknown suffix (bad custom attribute suffix{hint})"),
        )
    })
}

/// `{ Display Name }` from `totalOrdersNum` → `Total Orders`.
pub fn display_name(name: &str) -> String {
    let stem = match suffix_of(name) {
        Some(s) => &name[..name.len() - s.as_str().len()],
        None => name,
    };
    let mut out = String::new();
    for (i, c) in stem.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else if c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks a `custom{}` object against `resource`'s metadata (`customer`, `kobject.order`, …).
pub fn check_custom(store: &Store, resource: &str, custom: Option<&Value>) -> Result<(), ApiError> {
    let Some(custom) = custom else {
        return Ok(());
    };
    let Value::Object(map) = custom else {
        return Err(ApiError::invalid("/custom", "`custom` must be an object"));
    };
    for (name, value) in map {
        let pointer = format!("/custom/{name}");
        let hint = "; use Str, Txt, Num, At, Bool, Url or Id";
        let suffix = known_suffix(name, &pointer, "custom attribute", hint)?;
        if value.is_null() {
            continue;
        }
        let wrong = |expected: &str| {
            ApiError::invalid(
                &pointer,
                format!("custom attribute `{name}` must be {expected}, got {value}"),
            )
        };
        match suffix {
            Suffix::Str | Suffix::Txt => {
                let s = value.as_str().ok_or_else(|| wrong("a string"))?;
                if s.chars().count() > MAX_TEXT_ATTRIBUTE {
                    return Err(ApiError::invalid(
                        &pointer,
                        format!(
                            "custom attribute `{name}` is longer than {MAX_TEXT_ATTRIBUTE} characters"
                        ),
                    ));
                }
            }
            Suffix::Num => {
                value.as_f64().ok_or_else(|| wrong("a number"))?;
            }
            Suffix::Bool => {
                value.as_bool().ok_or_else(|| wrong("a boolean"))?;
            }
            Suffix::At => {
                value
                    .as_str()
                    .and_then(crate::timefmt::iso_to_unix_ms)
                    .ok_or_else(|| wrong("an ISO-8601 date-time"))?;
            }
            Suffix::Url => {
                value
                    .as_str()
                    .filter(|s| s.starts_with("http://") || s.starts_with("https://"))
                    .ok_or_else(|| wrong("a URL"))?;
            }
            Suffix::Id => {
                let property = store
                    .metadata
                    .get(resource)
                    .and_then(|m| m.get("properties"))
                    .and_then(|p| p.get(name));
                let Some(property) = property else {
                    return Err(ApiError::invalid(
                        &pointer,
                        format!(
                            "custom attribute `{name}` is an Id attribute without metadata; PUT /v1/metadata/{resource} first"
                        ),
                    ));
                };
                let id = value.as_str().ok_or_else(|| wrong("an id string"))?;
                if let Some(target) = property.get("target").and_then(Value::as_str) {
                    let kind = match target {
                        "customer" => Some(Kind::Customer),
                        "company" => Some(Kind::Company),
                        "conversation" => Some(Kind::Conversation),
                        "user" => Some(Kind::User),
                        t if t.starts_with("kobject") => Some(Kind::Kobject),
                        _ => None,
                    };
                    if let Some(kind) = kind
                        && store.get(kind, id).is_none()
                    {
                        return Err(ApiError::invalid(
                            &pointer,
                            format!("custom attribute `{name}`: no {target} with id {id}"),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// A required non-empty string field.
pub fn required_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match body.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(ApiError::missing(field)),
        Some(_) => Err(ApiError::invalid(
            format!("/{field}"),
            format!("`{field}` must be a string"),
        )),
    }
}

/// An optional string field (absent or null → `None`).
pub fn optional_str<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(
            format!("/{field}"),
            format!("`{field}` must be a string"),
        )),
    }
}

/// An optional ISO-8601 date-time field.
pub fn optional_date(body: &Map<String, Value>, field: &str) -> Result<(), ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if crate::timefmt::iso_to_unix_ms(s).is_some() => Ok(()),
        Some(other) => Err(ApiError::invalid(
            format!("/{field}"),
            format!("`{field}` must be an ISO-8601 date-time, got {other}"),
        )),
    }
}

/// `createdAt`, `importedAt`, `modifiedAt` … whichever of the common dates are present.
pub fn common_dates(body: &Map<String, Value>) -> Result<(), ApiError> {
    for field in [
        "createdAt",
        "importedAt",
        "modifiedAt",
        "signedUpAt",
        "lastSeenAt",
        "sentAt",
    ] {
        optional_date(body, field)?;
    }
    Ok(())
}

/// `emails`, `phones`, … each an array of at most ten objects carrying `key`.
pub fn contact_arrays(body: &Map<String, Value>) -> Result<(), ApiError> {
    for (field, key) in [
        ("emails", "email"),
        ("phones", "phone"),
        ("whatsapps", "phone"),
        ("socials", "username"),
        ("urls", "url"),
    ] {
        let Some(value) = body.get(field) else {
            continue;
        };
        let Value::Array(items) = value else {
            return Err(ApiError::invalid(
                format!("/{field}"),
                format!("`{field}` must be an array"),
            ));
        };
        if items.len() > MAX_CONTACT_ENTRIES {
            return Err(ApiError::invalid(
                format!("/{field}"),
                format!(
                    "`{field}` has {} entries; at most {MAX_CONTACT_ENTRIES} are allowed",
                    items.len()
                ),
            ));
        }
        for (i, item) in items.iter().enumerate() {
            let ok = item.as_object().is_some_and(|o| {
                field == "socials"
                    || o.get(key)
                        .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            });
            if !ok {
                return Err(ApiError::invalid(
                    format!("/{field}/{i}"),
                    format!("`{field}[{i}]` must be an object with a `{key}`"),
                ));
            }
        }
    }
    Ok(())
}

/// True when the body carries `importedAt` (which lifts the per-customer create limit).
pub fn is_imported(body: &Map<String, Value>) -> bool {
    body.get("importedAt").is_some_and(|v| !v.is_null())
}

/// Refuses the first entry of `list` (the array at `/{field}`) that is the id of no stored `kind`
/// record; `unknown` words the refusal for that entry.
pub fn known_ids(
    store: &Store,
    list: &[Value],
    field: &str,
    kind: Kind,
    unknown: impl Fn(&Value) -> String,
) -> Result<(), ApiError> {
    for (i, item) in list.iter().enumerate() {
        if store.get(kind, item.as_str().unwrap_or_default()).is_none() {
            return Err(ApiError::invalid(format!("/{field}/{i}"), unknown(item)));
        }
    }
    Ok(())
}
