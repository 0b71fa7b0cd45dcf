//! Outside text and times made safe for Kustomer: control characters out of names, phones and
//! titles; cuts on character boundaries only; times Kustomer can read; bulk items fitted to a
//! byte budget. Every alteration comes back as a note naming the original value or where the full
//! value is kept.

use serde_json::Value;

use crate::timefmt;

/// Where a value cut to fit is kept in full: the archive writes this file from the warnings whose
/// text names it, each line with the whole Intercom record.
pub const FULL_VALUES_FILE: &str = "full_values.jsonl";
/// Ends every note about a cut value, so the archive knows which records to keep in full.
pub const FULL_VALUE_NOTE: &str = "the full value is in archive/full_values.jsonl";
/// What a cut string ends with, so a reader of the Kustomer record sees it is not whole.
pub const CUT_MARKER: &str = "… [cut by i2k; the full text is in the migration archive]";
/// A string shorter than this is never cut to make room: cutting it would leave nothing useful.
const MIN_CUT_BYTES: usize = 64;

/// Whether `c` is invisible control text: C0/C1 controls, DEL, and the bidirectional formatting
/// characters that reorder what a person reads (U+202A–U+202E, U+2066–U+2069, marks).
pub fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        )
}

/// `s` without control characters and terminal escape sequences (`ESC [ … final`, `ESC ] … BEL`);
/// tabs and line breaks become spaces (a name or phone is one line). `None` when nothing changed.
pub fn strip_controls(s: &str) -> Option<String> {
    if !s.chars().any(is_control) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                // CSI: parameters and intermediates up to a final byte in @..~.
                Some('[') => {
                    chars.next();
                    for n in chars.by_ref() {
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \.
                Some(']') => {
                    chars.next();
                    while let Some(n) = chars.next() {
                        if n == '\u{7}' {
                            break;
                        }
                        if n == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                // A two-character escape: drop the next character with it.
                Some(n) if !n.is_control() => {
                    chars.next();
                }
                _ => {}
            },
            '\t' | '\n' | '\r' => out.push(' '),
            c if is_control(c) => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// `value` without control characters; a note (naming `field`) when any were removed.
pub fn clean_line(value: &str, field: &str, notes: &mut Vec<String>) -> String {
    match strip_controls(value) {
        None => value.to_string(),
        Some(clean) => {
            notes.push(format!(
                "{field}: control characters removed (Intercom value {value:?})"
            ));
            clean
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn cut_to_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Unix seconds Kustomer can read: years 1 to 9999 (ISO-8601 with four-digit years).
pub fn in_iso_range(secs: i64) -> bool {
    const FIRST: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
    const AFTER_LAST: i64 = 253_402_300_800; // 10000-01-01T00:00:00Z
    (FIRST..AFTER_LAST).contains(&secs)
}

/// Intercom unix seconds as Kustomer's ISO-8601, or `None` outside years 1–9999.
pub fn iso_time(secs: i64) -> Option<String> {
    in_iso_range(secs).then(|| timefmt::unix_to_iso(secs))
}

/// [`iso_time`], with a note naming `field` and the original value when it is out of range.
pub fn iso_time_noted(secs: i64, field: &str, notes: &mut Vec<String>) -> Option<String> {
    let iso = iso_time(secs);
    if iso.is_none() {
        notes.push(out_of_range_note(field, secs));
    }
    iso
}

fn out_of_range_note(field: &str, secs: i64) -> String {
    format!(
        "{field}: Intercom time {secs} (unix seconds) is outside the years 1–9999 Kustomer reads; left out (original value {secs})"
    )
}

/// Notes for every integer `*_at` field of an Intercom record (top level, and inside the objects
/// named in `nested`) whose time Kustomer cannot read: for mappings whose body drops such a time
/// without notes. Embedded records (a conversation's company) are not the record's own times.
pub fn out_of_range_times(record: &Value, nested: &[&str]) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(top) = record.as_object() else {
        return notes;
    };
    let mut visit = |prefix: &str, map: &serde_json::Map<String, Value>| {
        for (key, v) in map {
            if key.ends_with("_at")
                && let Some(secs) = v.as_i64()
                && !in_iso_range(secs)
            {
                notes.push(out_of_range_note(&format!("{prefix}{key}"), secs));
            }
        }
    };
    visit("", top);
    for key in nested {
        if let Some(inner) = top.get(*key).and_then(Value::as_object) {
            visit(&format!("{key}."), inner);
        }
    }
    notes
}

/// Why a body cannot be made to fit its byte budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the request item is {bytes} bytes, over the bulk request cap of {cap} bytes, and has no text long enough to cut"
)]
pub struct TooLarge {
    pub bytes: usize,
    pub cap: usize,
}

/// Bytes `body` takes as JSON.
pub fn json_bytes(body: &Value) -> usize {
    serde_json::to_vec(body).map_or(usize::MAX, |v| v.len())
}

/// Cuts `body`'s longest strings (an HTML body, its preview) until the body is at most `cap`
/// bytes as JSON; each cut string ends with [`CUT_MARKER`]. One note per cut, naming the field,
/// the sizes and [`FULL_VALUE_NOTE`].
pub fn fit_body(body: &mut Value, cap: usize) -> Result<Vec<String>, TooLarge> {
    let mut notes = Vec::new();
    loop {
        let bytes = json_bytes(body);
        if bytes <= cap {
            return Ok(notes);
        }
        let excess = bytes - cap;
        let Some((path, len)) = longest_string(body, String::new())
            .filter(|(_, len)| *len >= MIN_CUT_BYTES.max(CUT_MARKER.len() + 1))
        else {
            return Err(TooLarge { bytes, cap });
        };
        let keep = len.saturating_sub(excess + CUT_MARKER.len());
        if let Some(Value::String(s)) = body.pointer_mut(&path) {
            let original = s.len();
            let mut cut = cut_to_bytes(s, keep).to_string();
            cut.push_str(CUT_MARKER);
            *s = cut;
            let field = path.trim_start_matches('/').replace('/', ".");
            notes.push(format!(
                "{field} of {original} bytes cut to {} bytes to fit the bulk request cap of {cap} bytes; {FULL_VALUE_NOTE}",
                s.len()
            ));
        }
    }
}

/// The JSON pointer and byte length of the longest string in `v`.
fn longest_string(v: &Value, at: String) -> Option<(String, usize)> {
    match v {
        Value::String(s) => Some((at, s.len())),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| longest_string(item, format!("{at}/{i}")))
            .max_by_key(|(_, len)| *len),
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, item)| {
                let key = k.replace('~', "~0").replace('/', "~1");
                longest_string(item, format!("{at}/{key}"))
            })
            .max_by_key(|(_, len)| *len),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn control_characters_and_escape_sequences_leave_names_and_phones() {
        assert_eq!(strip_controls("Ann Lee"), None);
        assert_eq!(
            strip_controls("Ann\u{0}\u{1b}[31mLee\u{1b}[0m").as_deref(),
            Some("AnnLee")
        );
        assert_eq!(
            strip_controls("evil\u{202E}gpj.exe").as_deref(),
            Some("evilgpj.exe")
        );
        assert_eq!(
            strip_controls("+1\t555\u{1b}]0;title\u{7}0001").as_deref(),
            Some("+1 5550001")
        );
        let mut notes = Vec::new();
        assert_eq!(clean_line("Zoë\u{0}", "name", &mut notes), "Zoë");
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("name: control characters removed"));
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        assert_eq!(cut_to_bytes("héllo", 2), "h");
        assert_eq!(cut_to_bytes("héllo", 3), "hé");
        assert_eq!(cut_to_bytes("日本", 5), "日");
        assert_eq!(cut_to_bytes("ab", 10), "ab");
    }

    #[test]
    fn times_outside_four_digit_years_are_refused_with_their_value() {
        assert_eq!(iso_time(-1).as_deref(), Some("1969-12-31T23:59:59.000Z"));
        assert_eq!(
            iso_time(-2_208_988_800).as_deref(),
            Some("1900-01-01T00:00:00.000Z")
        );
        assert_eq!(
            iso_time(253_402_300_799).as_deref(),
            Some("9999-12-31T23:59:59.000Z")
        );
        assert_eq!(iso_time(253_402_300_800), None);
        assert_eq!(iso_time(-62_135_596_801), None);
        assert_eq!(iso_time(i64::MAX), None);
        let mut notes = Vec::new();
        assert_eq!(iso_time_noted(i64::MIN, "createdAt", &mut notes), None);
        assert!(notes[0].contains(&i64::MIN.to_string()));
        let record = json!({"created_at": 999_999_999_999_i64, "statistics": {"first_reply_at": -99_999_999_999_i64}, "updated_at": 5, "company": {"created_at": 999_999_999_999_i64}});
        let notes = out_of_range_times(&record, &["statistics"]);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("statistics.first_reply_at"))
        );
    }

    #[test]
    fn a_body_over_the_cap_has_its_longest_text_cut() {
        let html = format!("<p>{}</p>", "é".repeat(3_000));
        let mut body = json!({"externalId": "m1", "preview": "short", "meta": {"htmlBody": html}});
        let notes = fit_body(&mut body, 2_000).unwrap();
        assert!(json_bytes(&body) <= 2_000);
        let cut = body["meta"]["htmlBody"].as_str().unwrap();
        assert!(cut.ends_with(CUT_MARKER));
        assert!(cut.starts_with("<p>éé"));
        assert_eq!(body["externalId"], "m1");
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("meta.htmlBody of 6007 bytes cut to"));
        assert!(notes[0].ends_with(FULL_VALUE_NOTE));
    }

    #[test]
    fn a_body_without_long_text_cannot_be_fitted() {
        let mut body = json!({"ids": (0..500).map(|i| json!(i)).collect::<Vec<_>>()});
        let err = fit_body(&mut body, 100).unwrap_err();
        assert_eq!(err.cap, 100);
        assert!(err.bytes > 100);
    }
}
