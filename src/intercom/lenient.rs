//! Forgiving deserializers for Intercom payloads, which are messier than their schema: ids arrive
//! as numbers or strings, timestamps as unix seconds, numeric strings or ISO-8601 (macros), nested
//! objects of the wrong shape, and enum values the schema never listed. A field that cannot be read
//! becomes `None` rather than failing the whole record; the raw JSON is kept in the ledger anyway.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::vocab::scalar_text;

/// An Intercom identifier. Some endpoints send ids as JSON numbers (`admin_assignee_id`,
/// conversation part ids, `author_id`), others as strings; both read into the same string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id(pub String);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Id(s.to_string())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        id_from_value(&v).ok_or_else(|| serde::de::Error::custom(format!("not an id: {v}")))
    }
}

/// Reads an id from a JSON string or number; anything else (null, objects, empty) is no id.
pub fn id_from_value(v: &Value) -> Option<Id> {
    match v {
        Value::String(s) if !s.is_empty() => Some(Id(s.clone())),
        Value::Number(n) => Some(Id(n.to_string())),
        _ => None,
    }
}

/// `Option<Id>` that tolerates null, absent, `0`-free oddities and wrong types (→ `None`).
pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
    read_value(d, |v| id_from_value(&v))
}

/// An assignee id (`admin_assignee_id`, `team_assignee_id`): Intercom's 2.16 schema sends `0`
/// when nobody is assigned, older answers `null`; `0`, `"0"`, null, absent and unreadable are
/// all "unassigned" (`None`).
pub fn opt_assignee_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
    read_value(d, |v| {
        id_from_value(&v).filter(|id| id.as_str().trim() != "0")
    })
}

/// A list of ids where items may be numbers or strings; unreadable items are dropped.
pub fn id_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Id>, D::Error> {
    read_value(d, |v| match v {
        Value::Array(items) => items.iter().filter_map(id_from_value).collect(),
        _ => Vec::new(),
    })
}

/// Reads a time as unix seconds from an integer, a float, a numeric string or an ISO-8601 string.
pub fn time_from_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i64>()
                .ok()
                .or_else(|| t.parse::<f64>().ok().map(|f| f as i64))
                .or_else(|| crate::timefmt::iso_to_unix_ms(t).map(|ms| ms.div_euclid(1000)))
        }
        _ => None,
    }
}

/// `Option<i64>` unix seconds from any of the shapes [`time_from_value`] reads.
pub fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    read_value(d, |v| time_from_value(&v))
}

/// `Option<u64>` from a number or numeric string; anything else is `None`.
pub fn opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    read_value(d, |v| match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// `Option<f64>` from a number or numeric string.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    read_value(d, |v| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// `Option<bool>` from a boolean or the strings "true"/"false".
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    read_value(d, |v| match v {
        Value::Bool(b) => Some(b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    })
}

/// `Option<String>` that reads numbers and booleans as their text and everything else but strings
/// as `None`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    read_value(d, |v| scalar_text(&v))
}

/// Reads whatever JSON value stands in the field with `read`: what every lenient field does.
fn read_value<'de, D: Deserializer<'de>, T>(
    d: D,
    read: impl FnOnce(Value) -> T,
) -> Result<T, D::Error> {
    Value::deserialize(d).map(read)
}

/// `Option<T>` that becomes `None` when the value does not have `T`'s shape, instead of failing
/// the record (e.g. `plan: []` where an object is documented).
pub fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    read_value(d, |v| match v {
        Value::Null => None,
        v => serde_json::from_value(v).ok(),
    })
}

/// `Vec<T>` that skips items not shaped like `T` and reads null or a non-array as empty.
pub fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    read_value(d, |v| match v {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|i| serde_json::from_value(i).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// Declares a string enum that keeps values it does not know as `Other(text)`: Intercom adds
/// enum values without a version bump, and one unknown state must not cost a record.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this version of i2k does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s.as_str(),
                }
            }

            pub fn parse(s: &str) -> $name {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = serde_json::Value::deserialize(d)?;
                Ok(match v {
                    serde_json::Value::String(s) => $name::parse(&s),
                    other => $name::Other(other.to_string()),
                })
            }
        }
    };
}

pub(crate) use open_enum;
