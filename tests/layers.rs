//! The layers of DESIGN.md, enforced: dependencies point down only.
//!
//! Reads every `.rs` file under `src/`, collects every path into the crate it names (`use` lines,
//! grouped `use crate::{a, b::c}` forms spanning lines, inline `crate::x::y` paths, and `super::`
//! chains that climb out of a file's top-level module) and checks each against the rules below.
//! Comments (doc comments included) are not code and are skipped; so are a file's unit tests: the
//! scan of a file stops at a `#[cfg(test)]` line followed by `mod tests` (or `mod …_tests`), which
//! by convention ends each file.
//!
//! A module's layer is the first component of its path under `src/`: `src/engine/load/kb.rs` is in
//! `engine`, `src/cli.rs` is `cli`.
//!
//! The ground floor names nothing of the crate but itself:
//! - `vocab`: the shared vocabulary (`PhaseId`, `ErrorClass`, `Budget`, `CheckStatus`,
//!   `ConnectionInfo`, field decisions);
//! - `rng`: the deterministic generator (std only);
//! - `timefmt`: unix ↔ ISO-8601 conversions (std only).
//!
//! Other crate-root helpers (`config`, `error_text`, `logging`) name the transport or the ledger,
//! so they are not ground floor; the rules below only forbid what they must not reach.
//!
//! Rules (a module may always name its own layer):
//! - the ground floor names only the ground floor;
//! - `ledger/`, `http/`, `kustomer/`, `intercom/`, `mapping/` name nothing of `engine/`, the
//!   front-ends and commands (`tui/`, `headless`, `commands/`, `cli`, `main`, `bench`) or `sim/`;
//!   the clients, the ledger and the transport name nothing of `mapping/` either (mapping sits
//!   above the clients it maps into);
//! - `engine/` names nothing of the front-ends and commands, nor `sim/`;
//! - `sim/` names only `sim/` and the ground floor;
//! - `tui/` and `headless` name nothing of `commands/`, `cli`, `main` or `bench`;
//! - `tui/` names the engine only through its session (`engine::session`): the session's
//!   protocol and the words it re-exports, never the engine's internals.

use std::path::{Path, PathBuf};

const GROUND_FLOOR: &[&str] = &["vocab", "rng", "timefmt"];
/// Front-ends, commands and what sits above them (a future top-level `bench` included).
const ABOVE_ENGINE: &[&str] = &["tui", "headless", "commands", "cli", "main", "bench"];
const LOWER: &[&str] = &["ledger", "http", "kustomer", "intercom", "mapping"];

/// Why `layer` may not name `target`, or None when it may.
fn violation(layer: &str, target: &str) -> Option<String> {
    if target == layer {
        return None;
    }
    let is = |set: &[&str], name: &str| set.contains(&name);
    if is(GROUND_FLOOR, layer) {
        return (!is(GROUND_FLOOR, target))
            .then(|| format!("the ground floor ({layer}) names only the ground floor"));
    }
    if is(LOWER, layer) {
        if target == "engine" || target == "sim" || is(ABOVE_ENGINE, target) {
            return Some(format!("{layer}/ names nothing of engine/, sim/ or above"));
        }
        if layer != "mapping" && target == "mapping" {
            return Some(format!(
                "{layer}/ names nothing of mapping/ (it sits above)"
            ));
        }
        return None;
    }
    match layer {
        "engine" if target == "sim" || is(ABOVE_ENGINE, target) => Some(
            "engine/ names nothing of tui/, headless, commands/, cli, bench or sim/".to_string(),
        ),
        "sim" if !is(GROUND_FLOOR, target) => {
            Some("sim/ names only sim/ and the ground floor".to_string())
        }
        "tui" | "headless" if matches!(target, "commands" | "cli" | "main" | "bench") => Some(
            format!("{layer} names nothing of commands/, cli, main or bench"),
        ),
        _ => None,
    }
}

/// Why a path of `layer` reaches past the API its layer may use, or None when it does not: the
/// console names of the engine only its session, the one API both front-ends drive.
fn path_violation(layer: &str, path: &str) -> Option<String> {
    const SESSION: &str = "crate::engine::session";
    if layer != "tui" || !path.starts_with("crate::engine") {
        return None;
    }
    let through_session = match path.strip_prefix("crate::engine::{") {
        // `crate::engine::{session::A, session::B}`: each item through the session.
        Some(group) => group
            .trim_end_matches('}')
            .split(',')
            .all(|item| item == "session" || item.starts_with("session::")),
        None => path == SESSION || path.starts_with("crate::engine::session::"),
    };
    (!through_session).then(|| {
        "tui/ names the engine only through engine::session (its protocol), not its internals"
            .to_string()
    })
}

/// One path into the crate: where it is and the top-level module it names.
#[derive(Debug, PartialEq)]
struct Named {
    line: usize,
    path: String,
    target: String,
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier at the start of `s`.
fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// The code of a file up to its unit tests, comments blanked, lines kept (so offsets map to
/// line numbers).
fn code_of(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]"
            && let Some(next) = lines.get(i + 1)
        {
            let next = next.trim();
            let module = next
                .strip_prefix("pub mod ")
                .or_else(|| next.strip_prefix("mod "))
                .map(ident);
            if module.is_some_and(|m| m == "tests" || m.ends_with("_tests")) {
                break;
            }
        }
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        out.push(code.to_string());
    }
    out
}

/// Every crate path a file names. `module` is the file's module path under `src/` (empty for
/// `lib.rs` and `main.rs`), for resolving `super::`.
fn named_paths(text: &str, module: &[String]) -> Vec<Named> {
    let lines = code_of(text);
    let code = lines.join("\n");
    let line_at = |offset: usize| code[..offset].matches('\n').count() + 1;
    let mut found = Vec::new();

    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == '$' || c == ':') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the top-level items, split at depth 0.
            let mut depth = 0usize;
            let mut item = String::new();
            let mut offset = at;
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        items.push(std::mem::take(&mut item));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            for item in items {
                let item = item.trim();
                if let Some(pos) = code[offset..].find(item)
                    && !item.is_empty()
                {
                    offset += pos;
                }
                let target = ident(item);
                if !target.is_empty() && target != "self" {
                    found.push(Named {
                        line: line_at(offset),
                        path: format!("crate::{}", item.split_whitespace().collect::<String>()),
                        target: target.to_string(),
                    });
                }
            }
        } else {
            let target = ident(rest);
            if !target.is_empty() {
                let full: String = rest
                    .chars()
                    .take_while(|&c| is_ident(c) || c == ':')
                    .collect();
                found.push(Named {
                    line: line_at(at),
                    path: format!("crate::{}", full.trim_end_matches(':')),
                    target: target.to_string(),
                });
            }
        }
    }

    for (at, _) in code.match_indices("super::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue; // the middle of a chain, or `foo::super` (not Rust)
        }
        let mut rest = &code[at..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        // Climbing `ups` levels from the file's module: out of the layer only when it reaches
        // the crate root, where the next segment names the layer. (Inline modules are not
        // tracked: none outside unit tests uses `super::`.)
        if ups < module.len() {
            continue;
        }
        let target = if ups == module.len() {
            ident(rest)
        } else {
            "" // above the crate root: not Rust
        };
        if !target.is_empty() {
            let path: String = code[at..]
                .chars()
                .take_while(|&c| is_ident(c) || c == ':')
                .collect();
            found.push(Named {
                line: line_at(at),
                path: path.trim_end_matches(':').to_string(),
                target: target.to_string(),
            });
        }
    }
    found.sort_by_key(|n| n.line);
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `engine/load/kb.rs` → `[engine, load, kb]`; `engine/mod.rs` → `[engine]`; `lib.rs` → `[]`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts
}

#[test]
fn dependencies_point_down_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );

    let mut named = 0;
    let mut offences = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src/");
        let shown = relative.to_string_lossy().replace('\\', "/");
        let module = module_of(relative);
        // `lib.rs` and `main.rs` are the crate root: they declare the layers, above them all.
        let Some(layer) = module.first() else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for path in named_paths(&text, &module) {
            named += 1;
            let rule = violation(layer, &path.target).or_else(|| path_violation(layer, &path.path));
            if let Some(rule) = rule {
                offences.push(format!(
                    "src/{shown}:{}: {}  ({rule})",
                    path.line, path.path
                ));
            }
        }
    }
    assert!(
        named > 300,
        "found only {named} crate paths: is the scan broken?"
    );
    assert!(
        offences.is_empty(),
        "{} paths break the layers of DESIGN.md:\n{}",
        offences.len(),
        offences.join("\n")
    );
}

#[test]
fn the_scan_sees_grouped_inline_and_climbing_paths() {
    let text = "\
//! Doc: crate::tui::App is a comment, not a dependency.
use crate::{
    ledger::Ledger,
    engine::{model::Event, runner},
};
use super::super::commands::doctor;
use super::sibling::Thing;
fn f() -> crate::cli::Args { let _ = \"x\"; // crate::sim in a comment
    todo!()
}
macro_rules! m { () => { $crate::vocab::PhaseId } }

#[cfg(test)]
mod tests {
    use crate::tui::App;
}
";
    let module = vec!["ledger".to_string(), "writer".to_string()];
    let found: Vec<(usize, String, String)> = named_paths(text, &module)
        .into_iter()
        .map(|n| (n.line, n.path, n.target))
        .collect();
    let expected = [
        (3, "crate::ledger::Ledger", "ledger"),
        (4, "crate::engine::{model::Event,runner}", "engine"),
        (6, "super::super::commands::doctor", "commands"),
        (8, "crate::cli::Args", "cli"),
    ];
    let expected: Vec<(usize, String, String)> = expected
        .iter()
        .map(|(l, p, t)| (*l, p.to_string(), t.to_string()))
        .collect();
    assert_eq!(found, expected);
    assert!(violation("ledger", "engine").is_some());
    assert!(violation("ledger", "vocab").is_none());
    assert!(violation("sim", "rng").is_none());
    assert!(violation("sim", "cli").is_some());
    assert!(violation("kustomer", "mapping").is_some());
    assert!(violation("mapping", "kustomer").is_none());
    assert!(violation("tui", "commands").is_some());
    assert!(violation("vocab", "engine").is_some());
    assert!(path_violation("tui", "crate::engine::session::Snapshot").is_none());
    assert!(path_violation("tui", "crate::engine::session").is_none());
    assert!(path_violation("tui", "crate::engine::{session::Snapshot,session::Bucket}").is_none());
    assert!(path_violation("tui", "crate::engine::model::Snapshot").is_some());
    assert!(path_violation("tui", "crate::engine::{session::Bucket,disk::DiskEstimate}").is_some());
    assert!(path_violation("tui", "crate::engine::runner").is_some());
    assert!(path_violation("headless", "crate::engine::runner").is_none());
}
