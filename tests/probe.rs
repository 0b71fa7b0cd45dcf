//! `i2k doctor --probe` through the real binary against the Kustomer simulator over loopback:
//! on the default org every probed assumption is confirmed and the org's ground truth is as it
//! was, apart from what the probe lists as left behind; under each org variant `i2k sim` can
//! start, that one assumption is refused and the others confirmed. A run reads the stored
//! results: a refusal with a fallback runs with it (the report names it), one without refuses to
//! start, naming it. Without `--yes` off a terminal nothing is created.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{i2k, run_args, state_dir, text};
use i2k::engine::probe::{
    self, BULK_BATCHES, DUPLICATE_STATUS, Finding, KB_VERSION, MESSAGE_NOTE_TIMES, Outcome,
    SHORTCUT_CREATE, TAGS_ROUTE,
};
use i2k::ledger::LedgerReader;
use i2k::sim::SizePreset;
use i2k::sim::kustomer::Config;
use serde_json::json;

/// What the probe leaves on every org (no delete route): truth type → records.
const LEFT_BEHIND: [(&str, u64); 7] = [
    ("tags", 1),
    ("saved_searches", 1),
    ("shortcuts", 1),
    ("kb_categories", 2),
    ("kb_articles", 1),
    // The article's draft.
    ("kb_versions", 1),
    ("metadata_properties", 1),
];

/// Assumptions a probe cannot answer on any org (none: each is probed).
const NEVER_PROBED: [&str; 0] = [];

const PROBE: [&str; 5] = ["doctor", "--probe", "--yes", "--kustomer-rate", "600000"];

fn stored(home: &Path) -> BTreeMap<String, Finding> {
    stored_in(&state_dir(home))
}

fn stored_in(state: &Path) -> BTreeMap<String, Finding> {
    let reader = LedgerReader::open(state).expect("the probe kept a ledger");
    probe::stored(&reader)
        .unwrap()
        .into_iter()
        .map(|f| (f.assumption.clone(), f))
        .collect()
}

/// Probes the org `tweak`ed into one variant and checks that exactly `refused` is refused,
/// every other assumption confirmed (bar those no probe can answer), and the ground truth
/// unchanged apart from the listed leftovers.
async fn probe_under(
    name: &str,
    refused: Option<&str>,
    tweak: impl FnOnce(&mut Config),
) -> (common::Sims, std::path::PathBuf) {
    let sims = common::sims_with(SizePreset::Tiny, |_, k| tweak(k)).await;
    let home = common::temp_state(name);
    let before = common::truth_counts(&common::truth(&sims.kustomer.url).await);
    let out = i2k(&sims, &home, &PROBE).await;
    let expected_exit = if refused.is_some() { 1 } else { 0 };
    assert_eq!(out.status.code(), Some(expected_exit), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("example.invalid") && stderr.contains("i2k probe"),
        "the plan is said first: {}",
        text(&out)
    );

    let findings = stored(&home);
    assert_eq!(
        findings.len(),
        probe::ASSUMPTIONS.len(),
        "one result per assumption"
    );
    for (id, f) in &findings {
        let want = if Some(id.as_str()) == refused {
            Outcome::Refused
        } else if NEVER_PROBED.contains(&id.as_str()) {
            Outcome::NotProbed
        } else {
            Outcome::Confirmed
        };
        assert_eq!(f.outcome, want, "{id}: {f:?}\n{}", text(&out));
        assert!(!f.detail.is_empty(), "{id} says nothing");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&f.line()),
            "{id} not printed: {}",
            text(&out)
        );
    }

    let after = common::truth_counts(&common::truth(&sims.kustomer.url).await);
    let left: BTreeMap<&str, u64> = LEFT_BEHIND.into_iter().collect();
    for (kind, n) in &after {
        let was = before.get(kind).copied().unwrap_or(0);
        assert_eq!(
            *n,
            was + left.get(kind.as_str()).copied().unwrap_or(0),
            "{kind}: the probe changed the org beyond what it lists"
        );
    }
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(
        truth["refused_fields"],
        json!([]),
        "a probe body was refused"
    );
    let manual = std::fs::read_to_string(state_dir(&home).join("MANUAL.md")).unwrap();
    for what in [
        "tag \"i2k probe",
        "saved search",
        "shortcut",
        "KB category",
        "KB article",
        "i2kProbeStr",
    ] {
        assert!(
            manual.contains(what),
            "MANUAL.md does not name {what}:\n{manual}"
        );
    }
    (sims, home)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_org_confirms_every_assumption_and_keeps_only_what_is_listed() {
    let (_, home) = probe_under("probe-default", None, |_| {}).await;
    let findings = stored(&home);
    assert!(
        findings[KB_VERSION].detail.contains("title and HTML body"),
        "{:?}",
        findings[KB_VERSION]
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_org_admin_has_message_and_note_times_refused() {
    let (_, home) = probe_under("probe-restamp", Some(MESSAGE_NOTE_TIMES), |k| {
        k.org_admin = false
    })
    .await;
    let detail = &stored(&home)[MESSAGE_NOTE_TIMES].detail;
    assert!(
        detail.contains("createdAt sent 2020-01-02T03:04:05.000Z"),
        "{detail}"
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_without_the_tags_route_has_it_refused() {
    let (_, home) = probe_under("probe-tags", Some(TAGS_ROUTE), |k| k.tags_route = false).await;
    let detail = &stored(&home)[TAGS_ROUTE].detail;
    assert!(detail.contains("404"), "{detail}");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_answered_as_a_bare_array_have_the_envelope_refused() {
    let (_, home) = probe_under("probe-array", Some(BULK_BATCHES), |k| {
        k.batches_as_array = true
    })
    .await;
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_answered_with_another_status_have_409_refused_but_are_recognised() {
    let (_, home) = probe_under("probe-dup", Some(DUPLICATE_STATUS), |k| {
        k.duplicate_status = 422
    })
    .await;
    let detail = &stored(&home)[DUPLICATE_STATUS].detail;
    assert!(detail.contains("422"), "{detail}");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_after_a_refused_tags_route_takes_the_fallback_and_never_calls_the_route() {
    let (sims, home) =
        probe_under("probe-run-tags", Some(TAGS_ROUTE), |k| k.tags_route = false).await;
    let out = i2k(&sims, &home, &run_args(&[])).await;
    // Segments alone fail on such an org (their membership tags cannot be made on customers
    // without the route: the realorg tests show the same), each with that reason.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let reader = LedgerReader::open(&state_dir(&home)).unwrap();
    let failed: Vec<String> = reader
        .counts_by_kind()
        .unwrap()
        .into_iter()
        .filter(|(_, c)| c.failed > 0)
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(failed, ["segments"], "{}", text(&out));
    let report = std::fs::read_to_string(state_dir(&home).join("report.md")).unwrap();
    assert!(
        report.contains(i2k::engine::load::tag_fallback::REPORT_LINE),
        "{report}"
    );
    // Only the probe's own request reached POST /v1/tags: the run went straight to the fallback.
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(
        truth["requests"]["POST /v1/tags"]["count"],
        json!(1),
        "{:#}",
        truth["requests"]
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_after_bare_array_batches_names_the_fallback_in_its_report() {
    let (sims, home) = probe_under("probe-run-array", Some(BULK_BATCHES), |k| {
        k.batches_as_array = true
    })
    .await;
    let out = i2k(&sims, &home, &run_args(&[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = std::fs::read_to_string(state_dir(&home).join("report.md")).unwrap();
    assert!(
        report.contains("bulk job batches read as a bare JSON array"),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_after_a_refusal_without_fallback_refuses_to_start_naming_it() {
    let sims = common::sims(SizePreset::Tiny).await;
    common::sim_fail(
        &sims.kustomer.url,
        Some(json!({"path": "/v1/shortcuts", "method": "POST", "status": 400})),
    )
    .await;
    let home = common::temp_state("probe-run-refused");
    let out = i2k(&sims, &home, &PROBE).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(stored(&home)[SHORTCUT_CREATE].outcome, Outcome::Refused);
    common::sim_fail(&sims.kustomer.url, None).await;

    let before = common::truth_counts(&common::truth(&sims.kustomer.url).await);
    let refused = i2k(&sims, &home, &run_args(&[])).await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    for said in [
        SHORTCUT_CREATE,
        "answered 400",
        "Nothing was created",
        "--only",
    ] {
        assert!(stderr.contains(said), "{said:?} not in {}", text(&refused));
    }
    let after = common::truth_counts(&common::truth(&sims.kustomer.url).await);
    assert_eq!(before, after, "the refused run created records");
    // Limited to what does not depend on shortcuts, as the refusal suggests, the run goes.
    let scoped = i2k(&sims, &home, &run_args(&["--only", "contacts"])).await;
    assert_eq!(scoped.status.code(), Some(0), "{}", text(&scoped));
    let shortcuts = common::truth_counts(&common::truth(&sims.kustomer.url).await)
        .get("shortcuts")
        .copied();
    assert_eq!(
        shortcuts,
        before.get("shortcuts").copied(),
        "no shortcut written"
    );

    // A new probe that confirms it lets the run start.
    let out = i2k(&sims, &home, &PROBE).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = i2k(&sims, &home, &run_args(&[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_yes_off_a_terminal_the_probe_creates_nothing() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("probe-no-yes");
    let before = common::truth(&sims.kustomer.url).await;
    let out = i2k(&sims, &home, &["doctor", "--probe"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pass --yes when stdin is not a terminal"),
        "{}",
        text(&out)
    );
    let after = common::truth(&sims.kustomer.url).await;
    assert_eq!(before["counts"], after["counts"]);
    let writes = |truth: &serde_json::Value| {
        truth["requests"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(route, _)| !route.starts_with("GET "))
            .map(|(route, v)| (route.clone(), v["count"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(writes(&before), writes(&after), "a write was sent");
    let _ = std::fs::remove_dir_all(&home);
}

/// The console's next Prerequisites update, its probe row.
async fn probe_row(
    updates: &mut tokio::sync::mpsc::Receiver<i2k::tui::Update>,
    what: &str,
) -> i2k::engine::session::PrereqCheck {
    use std::time::Duration;
    loop {
        match tokio::time::timeout(Duration::from_secs(120), updates.recv()).await {
            Ok(Some(i2k::tui::Update::Prerequisites(checks))) => {
                if let Some(row) = checks
                    .into_iter()
                    .find(|c| c.name == i2k::engine::session::PROBE_CHECK)
                {
                    return row;
                }
            }
            Ok(Some(_)) => {}
            _ => panic!("no probe row {what}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prerequisites_probe_row_runs_the_probe_through_the_session_and_shows_each_result() {
    use i2k::engine::session::CheckStatus;
    use i2k::tui::{Request, glue};
    use std::time::Duration;

    let sims = common::sims_with(SizePreset::Tiny, |_, k| k.batches_as_array = true).await;
    let dir = common::temp_state("probe-console");
    let config = common::engine_config(&sims, dir.clone());
    let (update_tx, mut updates) = tokio::sync::mpsc::channel(1024);
    let (requests, request_rx) = tokio::sync::mpsc::channel(64);
    let served = tokio::spawn(glue::serve(config, request_rx, update_tx));
    let row = probe_row(&mut updates, "before the probe").await;
    assert_eq!(row.status, CheckStatus::Warn, "{row:?}");
    assert!(row.detail.contains("not probed yet"), "{row:?}");

    requests.send(Request::RunProbe).await.unwrap();
    let row = probe_row(&mut updates, "after the probe").await;
    // The bare-array batches are refused and have a fallback: a warning naming it.
    assert_eq!(row.status, CheckStatus::Warn, "{row:?}");
    assert!(
        row.detail
            .contains("bulk job batches read as a bare JSON array"),
        "{row:?}"
    );
    for a in probe::ASSUMPTIONS {
        assert!(
            row.detail.contains(a.id),
            "{} not on the row: {row:?}",
            a.id
        );
    }
    assert!(
        row.detail.contains(&format!("✗ {BULK_BATCHES} refused")),
        "{row:?}"
    );
    assert_eq!(stored_in(&dir)[BULK_BATCHES].outcome, Outcome::Refused);

    requests.send(Request::Quit).await.unwrap();
    drop(requests);
    tokio::time::timeout(Duration::from_secs(30), served)
        .await
        .expect("the glue stops")
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_readme_says_what_each_refusal_means() {
    let section = common::readme_section("## Before a real migration");
    assert!(section.contains("i2k doctor --probe"));
    for a in probe::ASSUMPTIONS {
        assert!(
            section.contains(&format!("`{}`", a.id)),
            "{} not in the README",
            a.id
        );
    }
    assert!(
        section.contains("| `probes` |"),
        "the ledger table list lacks probes"
    );
}
