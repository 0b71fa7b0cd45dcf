//! `follow-up.csv`: every failed, skipped and unknown record — type, Intercom id, Kustomer id,
//! state, reason — for whoever must follow them up. Read from the ledger page by page, so the
//! file grows with the records listed, never memory.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::config::create_private_file;
use crate::engine::archive::{ArchiveError, write_err};
use crate::ledger::{Ledger, RecordState};

/// The states a person follows up.
const STATES: [RecordState; 3] = [
    RecordState::Failed,
    RecordState::Skipped,
    RecordState::Unknown,
];
const PAGE: usize = 1_000;
pub const CSV_HEADER: &str = "type,intercom_id,kustomer_id,state,reason";

/// One CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Writes the follow-up list to `path` (0600); returns how many records it lists.
pub fn write_follow_up(ledger: &Ledger, path: &Path) -> Result<u64, ArchiveError> {
    let file = create_private_file(path, true).map_err(|e| write_err(path, e))?;
    let mut out = BufWriter::new(file);
    writeln!(out, "{CSV_HEADER}").map_err(|e| write_err(path, e))?;
    let mut listed = 0u64;
    for (kind, counts) in &ledger.counters().targets {
        for state in STATES {
            if counts.get(state) == 0 {
                continue;
            }
            let mut after = String::new();
            loop {
                let page = ledger.read(|r| r.follow_up_page(kind, state, &after, PAGE))?;
                for (source_id, target_id, reason) in &page {
                    writeln!(
                        out,
                        "{},{},{},{},{}",
                        field(kind),
                        field(source_id),
                        field(target_id.as_deref().unwrap_or("")),
                        state.as_str(),
                        field(reason)
                    )
                    .map_err(|e| write_err(path, e))?;
                    listed += 1;
                }
                match page.last() {
                    Some((last, _, _)) if page.len() == PAGE => after = last.clone(),
                    _ => break,
                }
            }
        }
    }
    out.flush().map_err(|e| write_err(path, e))?;
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_holding_commas_quotes_or_line_breaks_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"no\""), "\"say \"\"no\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
    }
}
