//! The archive: everything in the archive bucket as JSON lines per type in the run directory
//! (`<state>/archive/<kind>.jsonl`, 0600), each line the archive entry's reason with the Intercom
//! record as extracted, plus the workflow exports the operator asked for
//! (`<state>/archive/workflows/<id>.json`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::config::{create_private_dir, create_private_file};
use crate::intercom::IntercomClient;
use crate::ledger::{Ledger, LedgerError, SourceRecord, for_each_page};
use crate::mapping::clean::{FULL_VALUE_NOTE, FULL_VALUES_FILE};
use crate::vocab::Kind;

/// The archive directory inside a state directory.
pub const ARCHIVE_DIR: &str = "archive";
/// Where workflow exports go, inside the archive directory.
pub const WORKFLOWS_DIR: &str = "workflows";
const ENTRIES_PAGE: usize = 1_000;
/// The entry of [`ArchiveFiles`] for the records kept in full beside their cut Kustomer copy.
pub const FULL_VALUES_KEY: &str = "full_values";

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("cannot write the archive file {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// The error of a failed write of `path`.
pub(crate) fn write_err(path: &Path, e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `text` as the whole of the file `path`, readable by its owner only (0600).
pub(crate) fn write_private_file(path: &Path, text: &str) -> Result<(), ArchiveError> {
    let mut file = create_private_file(path, true).map_err(|e| write_err(path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| write_err(path, e))
}

/// What the archive holds: one file per kind with its line count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveFiles {
    pub dir: PathBuf,
    pub files: BTreeMap<String, (PathBuf, u64)>,
}

impl ArchiveFiles {
    pub fn lines(&self, kind: &str) -> u64 {
        self.files.get(kind).map_or(0, |(_, n)| *n)
    }
}

/// Rewrites `<state>/archive/<kind>.jsonl` from the ledger's archive entries (the latest reason
/// per record; a record archived by several runs is written once) and the staged sources.
pub fn write_archive(ledger: &Ledger, state_dir: &Path) -> Result<ArchiveFiles, ArchiveError> {
    let dir = state_dir.join(ARCHIVE_DIR);
    create_private_dir(&dir).map_err(|e| write_err(&dir, e))?;
    // Later entries win: the reason of the most recent run.
    let mut entries: BTreeMap<(String, String), String> = BTreeMap::new();
    for_each_entry(
        |offset| ledger.read(|r| r.archive_entries(offset, ENTRIES_PAGE)),
        |e| {
            entries.insert((e.kind, e.source_id), e.reason);
        },
    )?;
    let mut out = ArchiveFiles {
        dir: dir.clone(),
        files: BTreeMap::new(),
    };
    let mut current: Option<(String, std::fs::File, PathBuf, u64)> = None;
    for ((kind, id), reason) in entries {
        if current.as_ref().is_none_or(|(k, ..)| *k != kind) {
            if let Some((k, _, path, n)) = current.take() {
                out.files.insert(k, (path, n));
            }
            let path = dir.join(format!("{}.jsonl", safe_name(&kind)));
            let file = create_private_file(&path, true).map_err(|e| write_err(&path, e))?;
            current = Some((kind.clone(), file, path, 0));
        }
        let source = ledger.read(|r| r.source(&kind, &id))?;
        let record = record_of(source.as_ref());
        let line = json!({
            "kind": kind,
            "id": id,
            "reason": reason,
            "parent_id": source.as_ref().and_then(|s| s.parent_id.clone()),
            "record": record,
        });
        if let Some((_, file, path, n)) = current.as_mut() {
            writeln!(file, "{line}").map_err(|e| write_err(path, e))?;
            *n += 1;
        }
    }
    if let Some((k, _, path, n)) = current.take() {
        out.files.insert(k, (path, n));
    }
    write_full_values(ledger, &dir, &mut out)?;
    Ok(out)
}

/// `<state>/archive/full_values.jsonl`: every record migrated with a value cut or left out whose
/// warning says the full value is here, one line per record with its warnings and the whole
/// Intercom record as extracted.
fn write_full_values(
    ledger: &Ledger,
    dir: &Path,
    out: &mut ArchiveFiles,
) -> Result<(), ArchiveError> {
    let mut records: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for_each_entry(
        |offset| ledger.read(|r| r.warnings(offset, ENTRIES_PAGE)),
        |w| {
            if let Some(id) = w.source_id.filter(|_| w.message.contains(FULL_VALUE_NOTE)) {
                let messages = records.entry((w.kind, id)).or_default();
                if !messages.contains(&w.message) {
                    messages.push(w.message);
                }
            }
        },
    )?;
    if records.is_empty() {
        return Ok(());
    }
    let path = dir.join(FULL_VALUES_FILE);
    let mut file = create_private_file(&path, true).map_err(|e| write_err(&path, e))?;
    let mut n = 0;
    for ((kind, id), warnings) in records {
        // A message or note made from a conversation is kept with the conversation's record.
        let source = match ledger.read(|r| r.source(&kind, &id))? {
            Some(s) => Some(s),
            None => ledger.read(|r| r.source(Kind::Conversations.as_str(), &id))?,
        };
        let record = record_of(source.as_ref());
        let line = json!({"kind": kind, "id": id, "warnings": warnings, "record": record});
        writeln!(file, "{line}").map_err(|e| write_err(&path, e))?;
        n += 1;
    }
    out.files.insert(FULL_VALUES_KEY.to_string(), (path, n));
    Ok(())
}

/// Reads a ledger listing from its start, `page_at(offset)` after `page_at(offset)`, until a page
/// comes back empty, handing each entry to `each`.
fn for_each_entry<T>(
    page_at: impl Fn(usize) -> Result<Vec<T>, LedgerError>,
    mut each: impl FnMut(T),
) -> Result<(), LedgerError> {
    for_each_page(page_at, |page| page.into_iter().for_each(&mut each))
}

/// The Intercom record as extracted, `null` when none is stored or it cannot be read (the
/// archive line still says what was archived and why).
fn record_of(source: Option<&SourceRecord>) -> Value {
    source
        .and_then(|s| serde_json::from_str(&s.raw).ok())
        .unwrap_or(Value::Null)
}

fn safe_name(kind: &str) -> String {
    kind.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One workflow export: where it was written, or why it could not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkflowExport {
    Written { id: String, path: PathBuf },
    Failed { id: String, reason: String },
}

/// The workflow exports already in the archive (`<state>/archive/workflows/*.json`), by id:
/// what `i2k report` and the console's Summary list without asking Intercom again.
pub fn written_workflows(state_dir: &Path) -> Vec<WorkflowExport> {
    let mut workflows = Vec::new();
    if let Ok(entries) = std::fs::read_dir(state_dir.join(ARCHIVE_DIR).join(WORKFLOWS_DIR)) {
        for entry in entries.flatten() {
            let path = entry.path();
            if let Some(id) = path.file_stem().and_then(|s| s.to_str()) {
                workflows.push(WorkflowExport::Written {
                    id: id.to_string(),
                    path: path.clone(),
                });
            }
        }
    }
    workflows.sort_by_key(|w| format!("{w:?}"));
    workflows
}

/// `GET /export/workflows/{id}` for each id, written to `<state>/archive/workflows/<id>.json`
/// (0600). A failed export is reported, not fatal: the manual checklist says so.
pub async fn export_workflows(
    intercom: &IntercomClient,
    ids: &[String],
    state_dir: &Path,
) -> Result<Vec<WorkflowExport>, ArchiveError> {
    let dir = state_dir.join(ARCHIVE_DIR).join(WORKFLOWS_DIR);
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    create_private_dir(&dir).map_err(|e| write_err(&dir, e))?;
    let mut out = Vec::new();
    for id in ids {
        match intercom.workflow_export(id).await {
            Ok(export) => {
                let path = dir.join(format!("{}.json", safe_name(id)));
                let text = serde_json::to_string_pretty(&export).unwrap_or_default();
                write_private_file(&path, &text)?;
                out.push(WorkflowExport::Written {
                    id: id.clone(),
                    path,
                });
            }
            Err(e) => out.push(WorkflowExport::Failed {
                id: id.clone(),
                reason: e.to_string(),
            }),
        }
    }
    Ok(out)
}
