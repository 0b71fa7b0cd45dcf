//! Forgiving deserializers for Intercom payloads, which are messier than their schema: ids arrive
//! as numbers or strings, timestamps as unix seconds, numeric strings or ISO-8601 (macros), nested
//! objects of the wrong shape, and enum values the schema never listed. A field that cannot be read
//! becomes `None` rather than failing the whole record; the raw JSON is kept in the ledger anyway.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

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

/// An assignee id (`admin_assignee_id`, `team_assignee_id`): Intercom's 2.16 schema sends `0`
/// when nobody is assigned, older answers `null`; `0`, `"0"`, null, absent and unreadable are
/// all "unassigned" (`None`).
pub fn opt_assignee_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
    field(d).map(|id: Option<Id>| id.filter(|id| id.as_str().trim() != "0"))
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

/// How a field of an Intercom record reads whatever JSON value stands in it, chosen by the
/// field's type. A value that cannot be read is `None` (a list: the items that can be read).
pub trait Lenient: Sized {
    fn read(v: Value) -> Self;
}

/// Reads one field of a record by its type ([`Lenient`]): the reader of every `records!` field.
pub fn field<'de, D: Deserializer<'de>, T: Lenient>(d: D) -> Result<T, D::Error> {
    Value::deserialize(d).map(T::read)
}

/// An id from a string or a number; null, objects and empty strings are no id.
impl Lenient for Option<Id> {
    fn read(v: Value) -> Self {
        id_from_value(&v)
    }
}

/// Every `i64` of a record is a time: unix seconds, from any of the shapes [`time_from_value`]
/// reads.
impl Lenient for Option<i64> {
    fn read(v: Value) -> Self {
        time_from_value(&v)
    }
}

/// A count from a number or numeric string.
impl Lenient for Option<u64> {
    fn read(v: Value) -> Self {
        match v {
            Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// A number or numeric string.
impl Lenient for Option<f64> {
    fn read(v: Value) -> Self {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// A boolean or the strings "true"/"false".
impl Lenient for Option<bool> {
    fn read(v: Value) -> Self {
        match v {
            Value::Bool(b) => Some(b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }
}

/// Text from a string, or a number or boolean as its text.
impl Lenient for Option<String> {
    fn read(v: Value) -> Self {
        scalar_text(&v)
    }
}

/// The items shaped like `T`; null or a non-array is empty.
impl<T: DeserializeOwned> Lenient for Vec<T> {
    fn read(v: Value) -> Self {
        match v {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|i| serde_json::from_value(i).ok())
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Lenient for Option<Map<String, Value>> {
    fn read(v: Value) -> Self {
        shaped(v)
    }
}

impl Lenient for Option<Value> {
    fn read(v: Value) -> Self {
        shaped(v)
    }
}

/// `Some` when `v` has `T`'s shape, `None` when it is null or has another shape (e.g. `plan: []`
/// where an object is documented), instead of failing the record: how nested records, enums and
/// objects read.
pub fn shaped<T: DeserializeOwned>(v: Value) -> Option<T> {
    match v {
        Value::Null => None,
        v => serde_json::from_value(v).ok(),
    }
}

/// Declares Intercom records: every field is read leniently by its type ([`Lenient`]) and is
/// `None` (or empty) when absent, so a declaration names fields and types only. A field read
/// another way names its reader after its type (`pub x: Option<Id> as "opt_assignee_id",`); a
/// record nested in another reads as `None` when it does not have its shape.
macro_rules! records {
    ($($(#[$meta:meta])* pub struct $name:ident { $($fields:tt)* })*) => {
        $($crate::intercom::lenient::records!(@fields [$(#[$meta])*] $name [] $($fields)*);)*
    };
    (@fields $meta:tt $name:ident [$($done:tt)*]
        $(#[$m:meta])* pub $field:ident : $ty:ty as $reader:literal, $($rest:tt)*) => {
        $crate::intercom::lenient::records!(@fields $meta $name [$($done)*
            $(#[$m])* #[serde(default, deserialize_with = $reader)] pub $field: $ty,
        ] $($rest)*);
    };
    (@fields $meta:tt $name:ident [$($done:tt)*]
        $(#[$m:meta])* pub $field:ident : $ty:ty, $($rest:tt)*) => {
        $crate::intercom::lenient::records!(@fields $meta $name [$($done)*
            $(#[$m])* #[serde(default, deserialize_with = "crate::intercom::lenient::field")]
            pub $field: $ty,
        ] $($rest)*);
    };
    (@fields [$($meta:tt)*] $name:ident [$($done:tt)*]) => {
        $($meta)*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $($done)*
        }

        impl $crate::intercom::lenient::Lenient for Option<$name> {
            fn read(v: serde_json::Value) -> Self {
                $crate::intercom::lenient::shaped(v)
            }
        }
    };
}

pub(crate) use records;

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

        impl $crate::intercom::lenient::Lenient for Option<$name> {
            fn read(v: serde_json::Value) -> Self {
                $crate::intercom::lenient::shaped(v)
            }
        }
    };
}

pub(crate) use open_enum;
