//! A small OpenAPI 3.0 schema validator for the contract tests: `$ref`, `type`, `nullable`,
//! `properties`, `required`, `items`, `enum`, `anyOf`/`oneOf`/`allOf` and
//! `additionalProperties`, over the committed Intercom 2.16 description. Formats are not checked.

#![allow(dead_code)]

use serde_json::Value;

pub struct Spec {
    root: Value,
}

/// Where reality (as `intercom.md` records it) differs from the schema, per check.
#[derive(Default, Clone)]
pub struct Exceptions {
    /// Property names whose value may be `null` although the schema says otherwise.
    pub nullable: Vec<&'static str>,
    /// JSON path suffixes whose content is not checked (the schema contradicts its example).
    pub unchecked: Vec<&'static str>,
}

impl Spec {
    pub fn load() -> Spec {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/intercom-openapi/api.intercom.io-2.16.json"
        );
        let text = std::fs::read_to_string(path).expect("OpenAPI file is committed");
        Spec {
            root: serde_json::from_str(&text).expect("OpenAPI file is JSON"),
        }
    }

    /// The `200` `application/json` schema of an operation.
    pub fn response_schema(&self, path: &str, method: &str) -> Value {
        self.root["paths"][path][method]["responses"]["200"]["content"]["application/json"]
            ["schema"]
            .clone()
    }

    pub fn component(&self, name: &str) -> Value {
        self.root["components"]["schemas"][name].clone()
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut s = schema;
        let mut hops = 0;
        while let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/components/schemas/");
            s = &self.root["components"]["schemas"][name];
            hops += 1;
            if hops > 32 {
                break;
            }
        }
        s
    }

    /// Every violation of `schema` by `value`, each with its JSON path.
    pub fn validate(&self, schema: &Value, value: &Value, ex: &Exceptions) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", None, ex, &mut errors);
        errors
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        prop: Option<&str>,
        ex: &Exceptions,
        errors: &mut Vec<String>,
    ) {
        let schema = self.resolve(schema);
        if ex.unchecked.iter().any(|suffix| path.ends_with(suffix)) {
            return;
        }
        if schema.is_null() || schema.as_object().is_some_and(|o| o.is_empty()) {
            return;
        }
        if value.is_null() {
            let enum_has_null = schema
                .get("enum")
                .and_then(Value::as_array)
                .is_some_and(|e| e.contains(&Value::Null));
            let nullable = schema.get("nullable") == Some(&Value::Bool(true))
                || enum_has_null
                || prop.is_some_and(|p| ex.nullable.contains(&p))
                || self.composite_nullable(schema);
            if !nullable {
                errors.push(format!("{path}: null where the schema is not nullable"));
            }
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(s, value, path, prop, ex, errors);
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
            && !any
                .iter()
                .any(|s| self.validate_at(s, value, path, prop, ex).is_empty())
        {
            errors.push(format!("{path}: matches none of anyOf"));
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let matching = one
                .iter()
                .filter(|s| self.validate_at(s, value, path, prop, ex).is_empty())
                .count();
            // Exactly one would be the letter of oneOf, but Intercom's oneOf branches declare
            // no required fields and overlap; at least one is what the schema can prove.
            if matching == 0 {
                errors.push(format!("{path}: matches none of oneOf"));
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{path}: {value} not in enum {allowed:?}"));
        }
        let ty = schema.get("type").and_then(Value::as_str);
        let type_ok = match ty {
            None => true,
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some(_) => true,
        };
        if !type_ok {
            errors.push(format!(
                "{path}: expected {}, got {value}",
                ty.unwrap_or("?")
            ));
            return;
        }
        if let Some(obj) = value.as_object() {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(r) {
                        errors.push(format!("{path}: missing required `{r}`"));
                    }
                }
            }
            for (k, v) in obj {
                let child = format!("{path}.{k}");
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.check(s, v, &child, Some(k), ex, errors),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            errors.push(format!("{path}: unexpected property `{k}`"))
                        }
                        Some(s @ Value::Object(_)) => self.check(s, v, &child, Some(k), ex, errors),
                        _ => {}
                    },
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
            for (i, v) in arr.iter().enumerate() {
                self.check(items, v, &format!("{path}[{i}]"), prop, ex, errors);
            }
        }
    }

    fn composite_nullable(&self, schema: &Value) -> bool {
        ["allOf", "anyOf", "oneOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|list| {
                    list.iter()
                        .any(|s| self.resolve(s).get("nullable") == Some(&Value::Bool(true)))
                })
        })
    }

    fn validate_at(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        prop: Option<&str>,
        ex: &Exceptions,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, path, prop, ex, &mut errors);
        errors
    }
}
