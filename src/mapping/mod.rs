//! Pure Intercom → Kustomer transforms (no I/O, no async): request bodies from Intercom records
//! plus the operator's decisions. Table-driven unit tests cover every object and data type.

pub mod activity_logs;
pub mod attributes;
pub mod clean;
pub mod companies;
pub mod conversations;
pub mod customers;
pub mod extras;
pub mod kb;
pub mod names;
pub mod people;
pub mod raw;

/// A string attribute of `model` carried as Kustomer attribute `name`, as the operator would
/// decide it (the tests' field mapping).
#[cfg(test)]
pub(crate) fn string_attribute(
    model: &str,
    source: &str,
    name: &str,
) -> crate::vocab::FieldMapping {
    crate::vocab::FieldMapping {
        model: model.into(),
        source_name: source.into(),
        source_type: "string".into(),
        proposed: Some(name.into()),
        decision: crate::vocab::FieldDecision::Attribute { name: name.into() },
        note: String::new(),
    }
}
