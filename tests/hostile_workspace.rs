//! A hostile workspace (`--hostile`: control characters, times before 1970 and after 9999,
//! duplicate emails, conversations without contact or parts, blank and deleted authors, unknown
//! part types, 3 MB and malformed HTML, broken attachment URLs, long non-ASCII ids) migrated end
//! to end over real HTTP, cleanly and under faults on both sides: every record ends migrated,
//! migrated with a warning, or failed with a specific reason; each plant becomes what the
//! simulator's ground truth says; no record fails because of a neighbour; the report's rows sum
//! to the source; Kustomer holds no duplicate.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use i2k::engine::handle::RunOutcome;
use i2k::engine::report::{REPORT_JSON, Report};
use i2k::sim::SizePreset;
use i2k::sim::faults::FaultSpec;
use serde_json::Value;

const FAULTS: &str = "5xx=0.05,timeout=0.01,reset=0.01,429=0.02,malformed=0.01";

/// A failed record: `(kind, id) → (class, message)`.
type Failures = BTreeMap<(String, String), (String, String)>;

struct Ledger {
    db: rusqlite::Connection,
}

impl Ledger {
    fn open(state: &Path) -> Ledger {
        let db = rusqlite::Connection::open_with_flags(
            state.join("ledger.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        Ledger { db }
    }

    fn state(&self, kind: &str, id: &str) -> Option<String> {
        self.db
            .query_row(
                "SELECT state FROM target WHERE kind = ?1 AND source_id = ?2",
                [kind, id],
                |r| r.get(0),
            )
            .ok()
    }

    fn warnings(&self, kind: &str, id: &str) -> Vec<String> {
        let mut stmt = self
            .db
            .prepare("SELECT message FROM warnings WHERE kind = ?1 AND source_id = ?2")
            .unwrap();
        stmt.query_map([kind, id], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn failures(&self) -> Failures {
        let mut stmt = self
            .db
            .prepare(
                "SELECT kind, source_id, COALESCE(error_class, ''), COALESCE(error_message, '') FROM target WHERE state = 'failed'",
            )
            .unwrap();
        stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?))))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Ids of the staged sources of `kind` whose parent is `parent`.
    fn children(&self, kind: &str, parent: &str) -> BTreeSet<String> {
        let mut stmt = self
            .db
            .prepare("SELECT source_id FROM source WHERE kind = ?1 AND parent_id = ?2")
            .unwrap();
        stmt.query_map([kind, parent], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

fn report(state: &Path) -> Report {
    let text = std::fs::read_to_string(state.join(REPORT_JSON)).expect("report.json written");
    serde_json::from_str(&text).expect("report.json parses")
}

/// Runs a hostile tiny workspace (with `faults` on both sides) and checks every promise.
async fn hostile_run(faults: &str) {
    let hang = Duration::from_secs(2);
    let sims = common::sims_with(SizePreset::Tiny, |ic, kc| {
        ic.hostile = true;
        ic.faults = FaultSpec::parse(faults).unwrap();
        kc.faults = FaultSpec::parse(faults).unwrap();
        ic.fault_hang = hang;
        kc.fault_hang = hang;
        kc.indexing_delay = Duration::from_secs(2);
    })
    .await;
    let state = common::temp_state("hostile");
    let mut config = common::engine_config(&sims, state.clone());
    config.options.request_timeout = hang / 2;
    let outcome = common::run_engine(config).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");

    let intercom = common::truth(&sims.intercom.url).await;
    let kustomer = common::truth(&sims.kustomer.url).await;
    let ledger = Ledger::open(&state);
    let mut problems = Vec::new();

    // Each plant became what the ground truth says.
    let plants = intercom["hostile"]
        .as_array()
        .expect("the truth lists plants");
    assert!(plants.len() >= 13, "{plants:?}");
    let mut expected_failures: BTreeSet<(String, String)> = BTreeSet::new();
    for plant in plants {
        let kind = plant["kind"].as_str().unwrap();
        let id = plant["id"].as_str().unwrap();
        let detail = plant["detail"].as_str().unwrap_or("");
        let state = ledger.state(kind, id);
        let warnings = ledger.warnings(kind, id);
        let failures = ledger.failures();
        let ok = match plant["expect"].as_str().unwrap() {
            "migrated" => state.as_deref() == Some("done"),
            "migrated_with_warning" => {
                state.as_deref() == Some("done") && warnings.iter().any(|w| w.contains(detail))
            }
            "failed" => {
                expected_failures.insert((kind.to_string(), id.to_string()));
                failures
                    .get(&(kind.to_string(), id.to_string()))
                    .is_some_and(|(_, message)| message.contains(detail))
            }
            other => panic!("unknown expectation {other}"),
        };
        if !ok {
            problems.push(format!(
                "{} {kind} {id} ({}): state {state:?}, warnings {warnings:?}, failure {:?}",
                plant["expect"],
                plant["what"],
                failures.get(&(kind.to_string(), id.to_string()))
            ));
        }
    }

    // No record failed because of a neighbour: what failed is a planted failure, what hangs on
    // it, a file whose URL is broken, or a tracking event whose answer was lost (no lookup).
    let mut allowed_children: BTreeSet<(String, String)> = BTreeSet::new();
    for (kind, id) in &expected_failures {
        if kind == "conversations" {
            for child_kind in ["conversation_parts", "attachments", "inline_images"] {
                for child in ledger.children(child_kind, id) {
                    allowed_children.insert((child_kind.to_string(), child));
                }
            }
            for dependant in [
                "conversation_sources",
                "conversation_states",
                "timeline_notes",
            ] {
                allowed_children.insert((dependant.to_string(), id.clone()));
            }
        }
    }
    for ((kind, id), (class, message)) in ledger.failures() {
        if message.trim().is_empty() {
            problems.push(format!("{kind} {id} failed without a reason"));
        }
        let key = (kind.clone(), id.clone());
        // The kinds the plants live in and their bulk neighbours: a failure there must be a
        // plant's own. Elsewhere a failure under faults needs a specific reason only.
        let planted_kinds = [
            "contacts",
            "companies",
            "conversations",
            "conversation_sources",
            "conversation_parts",
            "timeline_notes",
            "conversation_states",
            "data_attributes",
        ];
        if !planted_kinds.contains(&kind.as_str()) {
            eprintln!("{kind} {id} failed with its own reason: {class}: {message}");
            continue;
        }
        let explained = expected_failures.contains(&key)
            || allowed_children.contains(&key)
            || ((kind == "attachment_uploads" || kind == "inline_image_uploads")
                && (message.contains("403") || message.contains("404")))
            || (kind == "data_events" && class == "unknown");
        if !explained {
            problems.push(format!(
                "{kind} {id} failed unexpectedly: {class}: {message}"
            ));
        }
    }

    // The report accounts for every source record.
    let source: BTreeMap<String, u64> = intercom["counts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
        .collect();
    let report = report(&state);
    // A time Kustomer cannot read is in the report with its original value.
    let future = i2k::sim::intercom::hostile::AFTER_9999.to_string();
    if !report
        .warnings
        .iter()
        .any(|w| w.kind == "contacts" && w.message.contains(&future))
    {
        problems.push(format!(
            "no report warning names the original time {future}"
        ));
    }
    for row in &report.rows {
        // The kinds the engine writes for the Intercom types have no Intercom count of their
        // own: they are held to their own sum.
        let truth = if row.intercom {
            source.get(&row.object).copied().unwrap_or(0)
        } else {
            row.source
        };
        if row.source != truth || row.accounted() != row.source {
            problems.push(format!(
                "{}: report source {} (rows sum {}) but Intercom holds {truth}",
                row.object,
                row.source,
                row.accounted()
            ));
        }
        if row.not_loaded > 0 {
            problems.push(format!("{}: {} not loaded", row.object, row.not_loaded));
        }
    }
    let duplicates = &kustomer["duplicates"];
    if duplicates.as_object().is_some_and(|d| !d.is_empty()) {
        problems.push(format!("duplicate externalIds: {duplicates}"));
    }

    // The 3 MB message was cut to fit; its full text is in the archive.
    let full = std::fs::read_to_string(state.join("archive").join("full_values.jsonl"))
        .unwrap_or_default();
    let huge = plants
        .iter()
        .find(|p| p["what"].as_str().is_some_and(|w| w.contains("3 MB")))
        .unwrap();
    let kept_in_full = full.lines().any(|line| {
        let v: Value = serde_json::from_str(line).unwrap();
        v["id"] == huge["id"]
            && v["record"]["source"]["body"]
                .as_str()
                .is_some_and(|b| b.len() >= i2k::sim::intercom::hostile::HUGE_HTML_BYTES)
    });
    if !kept_in_full {
        problems.push("the 3 MB message is not kept in full in archive/full_values.jsonl".into());
    }
    assert!(
        problems.is_empty(),
        "the hostile migration broke its promises:\n{}",
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_workspace_migrates_with_every_plant_as_the_truth_says() {
    hostile_run("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_workspace_under_faults_on_both_sides_loses_and_duplicates_nothing() {
    hostile_run(FAULTS).await;
}
