//! The `i2k run --headless` binary against both simulators over loopback: it stops with exit 3
//! and the list of decisions when admins have no Kustomer user and no defaults were accepted; with
//! `--accept-defaults --only` it loads that scope, prints JSON lines and leaves a migration that
//! `i2k verify` finds in agreement; with `--timeline-parts archive` event parts go to the archive
//! instead of a timeline note; and the summary says where the report, archive and checklist are.

mod common;

use common::{i2k, i2k_with_env, state_dir, text};

use std::path::PathBuf;
use std::process::Output;

use i2k::sim::SizePreset;
use serde_json::Value;

/// `run --headless` with the simulators' budget, so a tiny workspace loads in seconds.
fn run_args<'a>(more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--headless", "--kustomer-rate", "600000"];
    args.extend_from_slice(more);
    args
}

/// A `run --headless --accept-defaults` with `more` on a fresh tiny workspace, which must exit 0.
async fn run_accepting_defaults(name: &str, more: &[&str]) -> (common::Sims, PathBuf, Output) {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state(name);
    let mut args = vec!["--accept-defaults"];
    args.extend_from_slice(more);
    let out = i2k(&sims, &home, &run_args(&args)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    (sims, home, out)
}

/// External ids of the notes the Kustomer simulator holds that are conversation timeline notes.
async fn timeline_notes(sims: &common::Sims) -> Vec<String> {
    common::records(&sims.kustomer.url, "notes").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["attributes"]["externalId"].as_str())
        .filter(|e| e.ends_with("-timeline"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_without_the_free_disk_the_plan_estimates_refuses_to_start_with_exit_2() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("cli-run-disk");
    let planned = i2k(&sims, &home, &["plan", "--json"]).await;
    assert_eq!(planned.status.code(), Some(0), "{}", text(&planned));
    let plan: Value = serde_json::from_slice(&planned.stdout).unwrap();
    let needed = plan["disk"]["needed_bytes"].as_u64().unwrap();
    assert!(needed > 0, "{plan:#}");

    // The file system is said to have one byte less than the estimate.
    let free = (needed - 1).to_string();
    let args = run_args(&["--accept-defaults"]);
    let out = i2k_with_env(&sims, &home, &args, &[("I2K_FREE_DISK_BYTES", &free)]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not enough free disk"), "{}", text(&out));
    let needed_text = i2k::engine::disk::human_bytes(needed);
    let free_text = i2k::engine::disk::human_bytes(needed - 1);
    assert!(
        stderr.contains(&format!("needs {needed_text} more")),
        "{}",
        text(&out)
    );
    assert!(
        stderr.contains(&format!("has {free_text} free")),
        "{}",
        text(&out)
    );
    // Refused before it started: only the plan's extraction is recorded, nothing was written to
    // Kustomer.
    let reader = i2k::ledger::LedgerReader::open(&state_dir(&home)).unwrap();
    let runs = reader.runs().unwrap();
    assert!(runs.iter().all(|r| r.command == "extract"), "{runs:?}");
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(truth["counts"]["customers"], 0, "{truth:#}");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_without_accept_defaults_exits_3_listing_the_decisions() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("cli-run-decisions");
    let out = i2k(&sims, &home, &run_args(&[])).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("decisions need you"), "{}", text(&out));
    let unmatched: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  - ") && l.contains("no Kustomer user with this e-mail"))
        .collect();
    assert!(!unmatched.is_empty(), "{}", text(&out));
    assert!(stdout.contains("--accept-defaults"), "{}", text(&out));
    // Nothing was loaded, so nothing was written either.
    assert!(!stdout.contains("Report: "), "{}", text(&out));
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(truth["counts"]["customers"], 0, "{truth:#}");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_only_contacts_and_conversations_as_json_then_verify_agrees() {
    let (sims, home, out) = run_accepting_defaults(
        "cli-run-json",
        &["--only", "contacts,conversations", "--json"],
    )
    .await;
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().all(|l| l["type"].is_string()));
    let summary = lines
        .iter()
        .find(|l| l["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary line: {}", text(&out)));
    assert_eq!(summary["outcome"], "completed");
    assert_eq!(summary["left"], 0);
    // Durations are plain seconds, never {"secs", "nanos"}.
    let elapsed = summary["summary"]["elapsed"].as_f64();
    assert!(elapsed.is_some_and(|s| s > 0.0), "{summary}");
    // A completed run is verified, and says so before it names its files.
    let verification = lines
        .iter()
        .position(|l| l["type"] == "verification")
        .unwrap_or_else(|| panic!("no verification line: {}", text(&out)));
    assert_eq!(
        lines[verification]["agrees"], true,
        "{}",
        lines[verification]
    );
    let verified_types = lines[verification]["verification"]["types"].clone();
    assert!(!verified_types.as_array().unwrap().is_empty());
    let written = lines.last().unwrap();
    assert_eq!(written["type"], "written", "{written}");
    assert_eq!(
        verification,
        lines.len() - 2,
        "the verification comes just before the files"
    );
    // The report the run wrote carries that verification.
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(state_dir(&home).join("report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        report["verification"]["verification"]["types"],
        verified_types
    );
    for (key, name) in [
        ("report", "report.md"),
        ("report_html", "report.html"),
        ("report_json", "report.json"),
        ("follow_up_csv", "follow-up.csv"),
        ("archive", "archive"),
        ("manual", "MANUAL.md"),
    ] {
        let path = PathBuf::from(written[key].as_str().unwrap());
        assert_eq!(path, state_dir(&home).join(name));
        assert!(path.exists(), "{}", path.display());
    }
    // By default a conversation's event parts become one timeline note.
    assert!(!timeline_notes(&sims).await.is_empty());

    // Verify works within the budget it is given, and refuses one that cannot work.
    let out = i2k(&sims, &home, &["verify", "--rate-share", "0"]).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("--rate-share"), "{}", text(&out));
    // Verify on the same state judges the run's scope only, and agrees.
    let out = i2k(
        &sims,
        &home,
        &["verify", "--kustomer-rate", "6000", "--rate-share", "1"],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout.contains("verify: everything agrees"), "{stdout}");
    for object in ["segments", "macros", "articles"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(object) && l.ends_with("not in scope")),
            "{object} not in scope:\n{stdout}"
        );
    }
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("contacts ") && l.contains(" ok ")),
        "{stdout}"
    );
    // As JSON: the results, whether they agree, and the report written again with them.
    let out = i2k(
        &sims,
        &home,
        &[
            "verify",
            "--json",
            "--kustomer-rate",
            "6000",
            "--rate-share",
            "1",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let verified: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verified["agrees"], true, "{verified:#}");
    assert!(!verified["types"].as_array().unwrap().is_empty());
    let html = PathBuf::from(verified["report"]["html"].as_str().unwrap());
    assert_eq!(html, state_dir(&home).join("report.html"));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(state_dir(&home).join("report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        report["verification"]["verification"]["types"], verified["types"],
        "the report shows the last verification"
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_parts_archive_creates_no_timeline_notes_and_archives_the_parts() {
    let (sims, home, out) = run_accepting_defaults(
        "cli-run-archive",
        &[
            "--only",
            "conversations",
            "--timeline-parts",
            "archive",
            "--no-verify",
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Run complete"), "{stdout}");
    // Asked not to, the run does not verify.
    assert!(!stdout.contains("verify:"), "{stdout}");
    assert!(!stdout.lines().any(|l| l.starts_with("type ")), "{stdout}");
    let state = state_dir(&home);
    let written = format!(
        "Report: {}  With charts: {}  As JSON: {}  To follow up: {}  Archive: {}  Checklist: {}",
        state.join("report.md").display(),
        state.join("report.html").display(),
        state.join("report.json").display(),
        state.join("follow-up.csv").display(),
        state.join("archive").display(),
        state.join("MANUAL.md").display()
    );
    assert!(stdout.lines().any(|l| l == written), "{stdout}");

    assert_eq!(timeline_notes(&sims).await, Vec::<String>::new());
    let archived = std::fs::read_to_string(state.join("archive/conversation_parts.jsonl"))
        .expect("the event parts are archived");
    let events: Vec<Value> = archived
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| {
            l["reason"]
                .as_str()
                .is_some_and(|r| r.contains("timeline notes are off"))
        })
        .collect();
    assert!(!events.is_empty(), "{archived}");
    assert!(events.iter().all(|e| e["record"]["part_type"].is_string()));
    // Files on those event parts go with them: verify finds every uploaded file referenced.
    let out = i2k(&sims, &home, &["verify"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_as_kobjects_and_a_history_window_are_taken_from_the_command_line() {
    let (sims, home, _) = run_accepting_defaults(
        "cli-run-options",
        &[
            "--only",
            "data_events,conversations",
            "--events-as",
            "kobjects",
            "--history-months",
            "6",
        ],
    )
    .await;
    let truth = common::truth(&sims.kustomer.url).await;
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(state_dir(&home).join("report.json")).unwrap(),
    )
    .unwrap();
    let row = |object: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["object"] == object)
            .cloned()
            .unwrap()
    };
    // Events became kobjects of the intercom_event klass, none a tracking event.
    let events = row("data_events");
    assert!(events["migrated"].as_u64().unwrap() > 0, "{events}");
    assert_eq!(truth["counts"]["tracking_events"], 0, "{truth:#}");
    let kobjects = common::records(&sims.kustomer.url, "kobjects").await;
    let event_kobjects = kobjects["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| {
            k["relationships"]["klass"]
                .as_str()
                .or(k["attributes"]["klass"].as_str())
                .is_some_and(|n| n.contains("intercom_event"))
        })
        .count() as u64;
    assert_eq!(event_kobjects, events["migrated"].as_u64().unwrap());
    // The history window skipped some conversations, and the report says so.
    let conversations = row("conversations");
    assert!(
        conversations["skipped"].as_u64().unwrap() > 0,
        "{conversations}"
    );
    assert_eq!(
        truth["counts"]["conversations"], conversations["migrated"],
        "{conversations}"
    );
    // Both choices are listed among the decisions, with what they affected.
    let decided = |text: &str| {
        report["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["decision"].as_str().unwrap().contains(text))
            .cloned()
            .unwrap_or_else(|| panic!("no {text:?} decision in {:#}", report["decisions"]))
    };
    let window = decided("history window: conversations updated within the last 6 month(s)");
    assert_eq!(
        window["affected"].as_str().unwrap(),
        format!(
            "{} conversations outside it skipped, with their messages, notes and files",
            conversations["skipped"]
        )
    );
    decided("data events as intercom_event kobjects");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_ids_in_mapping_toml_are_exported_into_the_archive() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("cli-run-workflows");
    let state = state_dir(&home);
    std::fs::create_dir_all(&state).unwrap();
    let first = i2k::sim::intercom::generate::WORKFLOW_ID_BASE;
    std::fs::write(
        state.join("mapping.toml"),
        format!("workflow_ids = [{first}]\n"),
    )
    .unwrap();
    let out = i2k(
        &sims,
        &home,
        &run_args(&["--accept-defaults", "--only", "admins"]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let export = state.join(format!("archive/workflows/{first}.json"));
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    assert!(exported.is_object(), "{exported}");
    let manual = std::fs::read_to_string(state.join("MANUAL.md")).unwrap();
    assert!(
        manual.contains(&format!("workflow {first}: exported definition")),
        "{manual}"
    );
    // The id stays in mapping.toml as i2k rewrites it.
    let mapping = std::fs::read_to_string(state.join("mapping.toml")).unwrap();
    assert!(
        mapping.contains(&format!("workflow_ids = [\"{first}\"]")),
        "{mapping}"
    );
    let _ = std::fs::remove_dir_all(&home);
}
