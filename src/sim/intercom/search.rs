//! The subset of Intercom's search query language the simulator understands: a single filter or
//! nested `AND`/`OR` groups of filters with `= != > < >= <= IN NIN ~ !~`, plus the body cursor.
//! Contacts search matches timestamps by calendar day (UTC here); other searches by the second.

use serde_json::Value;

use crate::timefmt::day_start;
use crate::vocab::scalar_text;

/// Why a query was refused, as `(code, message)` for a 400 `error.list`.
pub type QueryError = (&'static str, String);

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Field { field: String, op: Op, value: Value },
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    In,
    Nin,
    Contains,
    NotContains,
}

/// How timestamps compare: Intercom's contacts search rounds to the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSemantics {
    CalendarDay,
    Exact,
}

/// One field value of a record, as the search sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Date(i64),
    Int(i64),
    Str(String),
    Bool(bool),
    /// Several values (e.g. `contact_ids`): a filter matches when any matches.
    Many(Vec<String>),
}

const MAX_FILTERS_PER_GROUP: usize = 15;
const MAX_NESTING: usize = 2;

pub fn parse(query: &Value) -> Result<Filter, QueryError> {
    parse_at(query, 0)
}

fn parse_at(query: &Value, depth: usize) -> Result<Filter, QueryError> {
    let obj = query
        .as_object()
        .ok_or(("invalid_query", "query must be an object".to_string()))?;
    let op = obj
        .get("operator")
        .and_then(Value::as_str)
        .ok_or(("invalid_query", "query operator is missing".to_string()))?;
    if op == "AND" || op == "OR" {
        if depth >= MAX_NESTING {
            return Err((
                "invalid_query",
                "A maximum of 2 nested filters is supported".to_string(),
            ));
        }
        let items = obj
            .get("value")
            .and_then(Value::as_array)
            .ok_or(("invalid_query", format!("{op} needs an array of filters")))?;
        if items.len() > MAX_FILTERS_PER_GROUP {
            return Err((
                "invalid_query",
                "A maximum of 15 filters per AND or OR group is supported".to_string(),
            ));
        }
        let parsed = items
            .iter()
            .map(|q| parse_at(q, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if op == "AND" {
            Filter::And(parsed)
        } else {
            Filter::Or(parsed)
        });
    }
    let field = obj
        .get("field")
        .and_then(Value::as_str)
        .ok_or(("invalid_query", "query field is missing".to_string()))?;
    let op = match op {
        "=" => Op::Eq,
        "!=" => Op::Ne,
        ">" => Op::Gt,
        "<" => Op::Lt,
        ">=" => Op::Ge,
        "<=" => Op::Le,
        "IN" => Op::In,
        "NIN" => Op::Nin,
        "~" => Op::Contains,
        "!~" => Op::NotContains,
        other => {
            return Err((
                "invalid_query",
                format!("The operator `{other}` is not supported"),
            ));
        }
    };
    let value = obj.get("value").cloned().unwrap_or(Value::Null);
    Ok(Filter::Field {
        field: field.to_string(),
        op,
        value,
    })
}

/// Checks the filter against the fields the caller knows, before any record is looked at, so
/// unknown fields and unsupported date operators are refused even on an empty workspace.
pub fn validate(
    filter: &Filter,
    known: &dyn Fn(&str) -> Option<FieldValue>,
    dates: DateSemantics,
) -> Result<(), QueryError> {
    match filter {
        Filter::And(items) | Filter::Or(items) => {
            items.iter().try_for_each(|f| validate(f, known, dates))
        }
        Filter::Field { field, op, value } => {
            let sample = known(field).ok_or((
                "invalid_field",
                format!("{field} is not a searchable field"),
            ))?;
            if let FieldValue::Date(_) = sample {
                if dates == DateSemantics::CalendarDay
                    && matches!(op, Op::Ne | Op::Ge | Op::Le | Op::In | Op::Nin)
                {
                    return Err((
                        "invalid_operator",
                        format!(
                            "The operator is not supported on Date field {field}: use =, > or <"
                        ),
                    ));
                }
                let numeric = |v: &Value| v.as_i64().is_some();
                let ok = match value {
                    Value::Array(items) => items.iter().all(numeric),
                    other => numeric(other),
                };
                if !ok {
                    return Err((
                        "invalid_value",
                        format!("{field} accepts a date (unix timestamp)"),
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Evaluates `filter` on one record; `get` returns the record's value of a field.
pub fn matches(
    filter: &Filter,
    get: &dyn Fn(&str) -> Option<FieldValue>,
    dates: DateSemantics,
) -> bool {
    match filter {
        Filter::And(items) => items.iter().all(|f| matches(f, get, dates)),
        Filter::Or(items) => items.iter().any(|f| matches(f, get, dates)),
        Filter::Field { field, op, value } => match get(field) {
            Some(actual) => compare(&actual, *op, value, dates),
            None => false,
        },
    }
}

fn compare(actual: &FieldValue, op: Op, value: &Value, dates: DateSemantics) -> bool {
    match actual {
        FieldValue::Date(t) => {
            let Some(v) = value.as_i64() else {
                return match (op, value) {
                    (Op::In, Value::Array(items)) => items.iter().any(|i| i.as_i64() == Some(*t)),
                    (Op::Nin, Value::Array(items)) => !items.iter().any(|i| i.as_i64() == Some(*t)),
                    _ => false,
                };
            };
            match dates {
                DateSemantics::CalendarDay => {
                    let day = day_start(v);
                    match op {
                        Op::Eq => day_start(*t) == day,
                        Op::Gt => *t >= day + super::generate::DAY,
                        Op::Lt => *t < day,
                        _ => false,
                    }
                }
                DateSemantics::Exact => cmp_ord(*t, v, op),
            }
        }
        FieldValue::Int(n) => match (op, value) {
            (Op::In, Value::Array(items)) => items.iter().any(|i| as_int(i) == Some(*n)),
            (Op::Nin, Value::Array(items)) => !items.iter().any(|i| as_int(i) == Some(*n)),
            _ => as_int(value).is_some_and(|v| cmp_ord(*n, v, op)),
        },
        FieldValue::Bool(b) => {
            let v = value
                .as_bool()
                .or_else(|| value.as_str().map(|s| s == "true"));
            match op {
                Op::Eq => v == Some(*b),
                Op::Ne => v != Some(*b),
                _ => false,
            }
        }
        FieldValue::Str(s) => compare_str(s, op, value),
        FieldValue::Many(all) => match op {
            Op::Ne | Op::Nin | Op::NotContains => all.iter().all(|s| compare_str(s, op, value)),
            _ => all.iter().any(|s| compare_str(s, op, value)),
        },
    }
}

fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn compare_str(s: &str, op: Op, value: &Value) -> bool {
    match (op, value) {
        (Op::In, Value::Array(items)) => items.iter().any(|i| scalar_text(i).as_deref() == Some(s)),
        (Op::Nin, Value::Array(items)) => {
            !items.iter().any(|i| scalar_text(i).as_deref() == Some(s))
        }
        _ => {
            let Some(v) = scalar_text(value) else {
                return false;
            };
            match op {
                Op::Eq => s == v,
                Op::Ne => s != v,
                Op::Contains => s.contains(&v),
                Op::NotContains => !s.contains(&v),
                Op::Gt => s > v.as_str(),
                Op::Lt => s < v.as_str(),
                Op::Ge => s >= v.as_str(),
                Op::Le => s <= v.as_str(),
                _ => false,
            }
        }
    }
}

fn cmp_ord(a: i64, b: i64, op: Op) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Gt => a > b,
        Op::Lt => a < b,
        Op::Ge => a >= b,
        Op::Le => a <= b,
        _ => false,
    }
}

/// The body of a search request: query, pagination and sort.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub filter: Filter,
    pub per_page: usize,
    /// Offset decoded from `pagination.starting_after`.
    pub offset: usize,
    pub sort_field: Option<String>,
    pub ascending: bool,
}

/// Cursors are opaque to clients: hex of `o:OFFSET`.
pub fn encode_cursor(offset: usize) -> String {
    format!("o:{offset}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn decode_cursor(cursor: &str) -> Option<usize> {
    if !cursor.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    text.strip_prefix("o:")?.parse().ok()
}

/// Reads a search body. `default_per_page` differs per endpoint; 150 is the documented maximum.
pub fn parse_request(body: &Value, default_per_page: usize) -> Result<SearchRequest, QueryError> {
    let query = body.get("query").ok_or((
        "parameter_not_found",
        "query parameter is required".to_string(),
    ))?;
    let filter = parse(query)?;
    let pagination = body.get("pagination");
    let per_page = pagination
        .and_then(|p| p.get("per_page"))
        .and_then(Value::as_u64)
        .map(|n| n as usize)
        .unwrap_or(default_per_page);
    if !(1..=150).contains(&per_page) {
        return Err((
            "per_page_invalid",
            "per_page must be between 1 and 150".to_string(),
        ));
    }
    let offset = match pagination
        .and_then(|p| p.get("starting_after"))
        .and_then(Value::as_str)
    {
        Some(c) => decode_cursor(c).ok_or((
            "cursor_invalid",
            "starting_after is not a valid cursor".to_string(),
        ))?,
        None => 0,
    };
    let sort = body.get("sort");
    let sort_field = sort
        .and_then(|s| s.get("field"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let ascending = match sort.and_then(|s| s.get("order")).and_then(Value::as_str) {
        None | Some("descending") => false,
        Some("ascending") => true,
        Some(other) => {
            return Err((
                "invalid_sort_order",
                format!("sort order `{other}` must be ascending or descending"),
            ));
        }
    };
    Ok(SearchRequest {
        filter,
        per_page,
        offset,
        sort_field,
        ascending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn greater_than_on_a_date_starts_at_the_next_day() {
        let f = parse(&json!({"field":"created_at","operator":">","value":1577869200})).unwrap();
        let at = |t: i64| move |_: &str| Some(FieldValue::Date(t));
        assert!(!matches(&f, &at(1577890000), DateSemantics::CalendarDay));
        assert!(matches(&f, &at(1577923200), DateSemantics::CalendarDay));
        assert!(matches(&f, &at(1577890000), DateSemantics::Exact));
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(150)), Some(150));
        assert_eq!(decode_cursor("zz"), None);
    }
}
