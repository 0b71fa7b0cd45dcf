//! Extraction into the ledger against the Intercom simulator over loopback: counts equal the
//! simulator's ground truth, an interrupted run resumes where it stopped, a second run makes only
//! the requests needed to find changes, and injected faults do not change the result.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use i2k::engine::control::Control;
use i2k::engine::extract::{ExtractError, ExtractOptions, ExtractSummary, extract};
use i2k::engine::model::ExtractProgress;
use i2k::engine::plan::{build_plan, counts_from_ledger};
use i2k::http::Secret;
use i2k::intercom::IntercomClient;
use i2k::ledger::Ledger;
use i2k::sim::faults::FaultSpec;
use i2k::sim::intercom::{Config, spawn};
use i2k::sim::{SimHandle, SizePreset};
use serde_json::{Value, json};

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

fn state_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "i2k-extract-{name}-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn start(config: Config) -> (SimHandle, IntercomClient) {
    let rate = config.rate_per_window;
    let handle = spawn(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let client =
        IntercomClient::connect(&handle.url, Secret::new(handle.token.clone()), rate).unwrap();
    (handle, client)
}

async fn get_json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn run(client: &IntercomClient, ledger: &Ledger, dir: &std::path::Path) -> ExtractSummary {
    extract(
        client,
        ledger,
        &ExtractOptions::for_state_dir(dir),
        &Control::new(),
        None,
    )
    .await
    .unwrap()
}

/// Plan counts per type, as `i2k plan --json` reports them.
fn plan_counts(ledger: &Ledger) -> BTreeMap<String, u64> {
    let (counts, unused) = ledger.read(counts_from_ledger).unwrap();
    build_plan(&counts, unused, 1000, 1.0)
        .types
        .into_iter()
        .map(|r| (r.object, r.count))
        .collect()
}

async fn truth(handle: &SimHandle) -> BTreeMap<String, u64> {
    let t = get_json(format!("{}/__sim/truth", handle.url)).await;
    t["counts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

async fn requests(handle: &SimHandle) -> Value {
    get_json(format!("{}/__sim/requests", handle.url)).await
}

fn route(requests: &Value, route: &str) -> u64 {
    requests["by_route"][route].as_u64().unwrap_or(0)
}

/// Every staged record's kind, id and `updated_at`, plus the attachments' content hashes.
fn fingerprint(ledger: &Ledger) -> Vec<String> {
    let mut out = Vec::new();
    let kinds: Vec<String> = ledger
        .read(|r| r.source_counts())
        .unwrap()
        .into_keys()
        .collect();
    for kind in kinds {
        let mut after: Option<String> = None;
        loop {
            let page = ledger
                .read(|r| r.sources_page(&kind, after.as_deref(), 1000))
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.source_id.clone());
            for rec in page {
                let sha = if kind == "attachments" {
                    serde_json::from_str::<Value>(&rec.raw).unwrap()["sha256"].to_string()
                } else {
                    String::new()
                };
                out.push(format!(
                    "{kind} {} {:?} {sha} {:?}",
                    rec.source_id, rec.updated_at, rec.problem
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn extraction_counts_equal_the_simulator_ground_truth() {
    let (handle, client) = start(Config::new(42, SizePreset::Tiny)).await;
    let dir = state_dir("truth");
    let ledger = Ledger::open(&dir).unwrap();
    let summary = run(&client, &ledger, &dir).await;
    assert!(summary.complete(), "{:?}", summary.incomplete);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(plan_counts(&ledger), truth(&handle).await);
    // Images inline in HTML bodies expire like attachments: they are downloaded too.
    assert!(ledger.counters().source("inline_images") > 0);
    // Attachments are stored by content hash, every one of them.
    let stored = std::fs::read_dir(dir.join("attachments"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .count();
    assert!(stored > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What an extraction of `small` interrupted once and then run to the end asked the simulator.
struct Interrupted {
    handle: SimHandle,
    /// Requests by route after the interrupted run, and after the second.
    first: Value,
    second: Value,
}

/// When to interrupt the first extraction.
#[derive(Clone, Copy)]
enum Stop {
    /// When its progress says so (checked as each report is sent).
    Progress(fn(&[ExtractProgress]) -> bool),
    /// When the simulator's request counts say so (checked every 5 ms).
    Requests(fn(&Value) -> bool),
}

/// Extracts a fresh `small` workspace until `stop` says so, then again to the end; checks that
/// the second run completes with every record of the ground truth.
async fn interrupted_then_resumed(name: &str, stop: Stop) -> Interrupted {
    // A generous budget keeps the test quick.
    let mut config = Config::new(42, SizePreset::Small);
    config.rate_per_window = 50_000;
    let (handle, client) = start(config).await;
    let dir = state_dir(name);
    let control = Control::new();
    let (tx, mut rx) = tokio::sync::watch::channel(Vec::<ExtractProgress>::new());
    let canceller = {
        let (control, url) = (control.clone(), handle.url.clone());
        tokio::spawn(async move {
            loop {
                // Woken by each progress report as it is sent (the test runtime has one
                // thread, so the extraction has not read another page by then), or every 5 ms
                // to look at the requests.
                let reported = tokio::select! {
                    changed = rx.changed() => changed.is_ok(),
                    () = tokio::time::sleep(std::time::Duration::from_millis(5)) => false,
                };
                let rows = rx.borrow_and_update().clone();
                let stopped = match stop {
                    Stop::Progress(stop) => reported && stop(&rows),
                    Stop::Requests(stop) => stop(&get_json(format!("{url}/__sim/requests")).await),
                };
                if stopped {
                    control.cancel();
                    break;
                }
            }
        })
    };
    {
        let ledger = Ledger::open(&dir).unwrap();
        let first = extract(
            &client,
            &ledger,
            &ExtractOptions::for_state_dir(&dir),
            &control,
            Some(tx),
        )
        .await;
        assert!(matches!(first, Err(ExtractError::Cancelled)), "{first:?}");
    }
    canceller.abort();
    let first = requests(&handle).await;
    let ledger = Ledger::open(&dir).unwrap();
    let second = run(&client, &ledger, &dir).await;
    assert!(second.complete());
    assert_eq!(plan_counts(&ledger), truth(&handle).await);
    let second = requests(&handle).await;
    let _ = std::fs::remove_dir_all(&dir);
    Interrupted {
        handle,
        first,
        second,
    }
}

#[tokio::test]
async fn an_extraction_interrupted_in_a_listing_resumes_where_it_stopped() {
    // In the middle of the contacts listing: a page read, not all.
    let run = interrupted_then_resumed(
        "resume",
        Stop::Progress(|rows| {
            rows.iter()
                .any(|r| r.object == "contacts" && r.fetched >= 150)
        }),
    )
    .await;
    let total = truth(&run.handle).await["contacts"];
    let searched = route(&run.first, "POST /contacts/search");
    assert!(searched < total.div_ceil(150), "{searched} pages before");
    // The search resumes from the saved cursor: at most the interrupted page is read twice.
    assert!(
        route(&run.second, "POST /contacts/search")
            < 2 * route(&run.first, "POST /contacts/search") + total.div_ceil(150)
    );
    // Every contact's activity is read once, those staged by the first run too (a page in
    // flight at the interruption may be read twice).
    let read = route(&run.second, "GET /contacts/{id}/segments");
    assert!(
        read >= total && read <= total + 150,
        "{read} reads for {total} contacts"
    );
    // The listings run at once: conversations retrieved before the interruption are not
    // retrieved again, but for the page in flight when it came.
    let conversations = truth(&run.handle).await["conversations"];
    let retrieved = route(&run.second, "GET /conversations/{id}");
    let before = route(&run.first, "GET /conversations/{id}");
    assert!(
        retrieved >= conversations && retrieved <= conversations + 150,
        "{retrieved} retrievals for {conversations} conversations ({before} before the interruption)"
    );
}

#[tokio::test]
async fn an_extraction_interrupted_in_the_contacts_activity_resumes_there() {
    // The contacts' listing is read whole first; their activity (notes, segments, events)
    // after it: interrupted when some contacts' activity is read, not all.
    let run = interrupted_then_resumed(
        "resume-activity",
        Stop::Requests(|asked| route(asked, "GET /contacts/{id}/segments") >= 150),
    )
    .await;
    let total = truth(&run.handle).await["contacts"];
    let before = route(&run.first, "GET /contacts/{id}/segments");
    assert!(before >= 150 && before < total, "{before} read before");
    // The listing is not read again, and the activity resumes after the last page staged.
    assert_eq!(
        route(&run.second, "POST /contacts/search"),
        route(&run.first, "POST /contacts/search")
    );
    let read = route(&run.second, "GET /contacts/{id}/segments");
    assert!(
        read >= total && read <= total + 150,
        "{read} reads for {total} contacts ({before} before the interruption)"
    );
}

#[tokio::test]
async fn a_second_extraction_requests_only_what_changed() {
    let (handle, client) = start(Config::new(9, SizePreset::Tiny)).await;
    let dir = state_dir("incremental");
    let ledger = Ledger::open(&dir).unwrap();
    let first = run(&client, &ledger, &dir).await;
    let r1 = requests(&handle).await;

    let unchanged = run(&client, &ledger, &dir).await;
    let r2 = requests(&handle).await;
    let per_record = [
        "GET /conversations/{id}",
        "GET /contacts/{id}/segments",
        "GET /contacts/{id}/notes",
        "GET /companies/{id}/notes",
        "GET /events",
        "GET /tickets/{id}",
        "GET /articles/{id}/versions",
    ];
    for r in per_record {
        assert_eq!(route(&r2, r), route(&r1, r), "{r} was read again");
    }
    assert!(!unchanged.staged.contains_key("contacts"));

    let touched = reqwest::Client::new()
        .post(format!("{}/__sim/touch", handle.url))
        .json(&json!({"contacts": 2, "conversations": 3, "companies": 1}))
        .send()
        .await
        .unwrap();
    assert!(touched.status().is_success());
    let third = run(&client, &ledger, &dir).await;
    let r3 = requests(&handle).await;
    assert_eq!(
        route(&r3, "GET /conversations/{id}") - route(&r2, "GET /conversations/{id}"),
        3
    );
    assert_eq!(
        route(&r3, "GET /contacts/{id}/segments") - route(&r2, "GET /contacts/{id}/segments"),
        2
    );
    assert_eq!(
        route(&r3, "GET /companies/{id}/notes") - route(&r2, "GET /companies/{id}/notes"),
        1
    );
    assert_eq!(third.staged.get("conversations"), Some(&3));
    assert_eq!(plan_counts(&ledger), truth(&handle).await);
    println!(
        "requests: first run {}, unchanged re-run {}, after touching 2 contacts, 3 conversations, 1 company {}",
        first.requests, unchanged.requests, third.requests
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn injected_faults_leave_the_result_identical() {
    let clean_dir = state_dir("clean");
    let faulty_dir = state_dir("faulty");
    let (clean_sim, clean_client) = start(Config::new(21, SizePreset::Tiny)).await;
    let mut config = Config::new(21, SizePreset::Tiny);
    config.faults = FaultSpec::parse("intercom.5xx=0.05,intercom.reset=0.02").unwrap();
    let (faulty_sim, faulty_client) = start(config).await;

    let clean = Ledger::open(&clean_dir).unwrap();
    run(&clean_client, &clean, &clean_dir).await;
    let faulty = Ledger::open(&faulty_dir).unwrap();
    let summary = run(&faulty_client, &faulty, &faulty_dir).await;
    assert!(summary.complete(), "{:?}", summary.incomplete);

    assert_eq!(fingerprint(&faulty), fingerprint(&clean));
    assert_eq!(plan_counts(&faulty), truth(&faulty_sim).await);
    assert_eq!(truth(&faulty_sim).await, truth(&clean_sim).await);
    let faulty_requests = requests(&faulty_sim).await["count"].as_u64().unwrap();
    let clean_requests = requests(&clean_sim).await["count"].as_u64().unwrap();
    assert!(
        faulty_requests > clean_requests,
        "faults were injected and retried"
    );
    let _ = std::fs::remove_dir_all(&clean_dir);
    let _ = std::fs::remove_dir_all(&faulty_dir);
}

/// The budget benchmark (`i2k bench` prints the same figures). Run with `--ignored --nocapture`.
#[tokio::test]
#[ignore = "benchmark: prints figures, asserts nothing timed"]
async fn benchmark_budget_use_during_conversation_retrieval() {
    let dir = state_dir("bench");
    let figures = i2k::bench::bench_extraction(SizePreset::Small, 42, 1667, &dir)
        .await
        .unwrap();
    for line in figures.lines() {
        println!("{line}");
    }
    assert!(figures.counts_match_truth);
    let _ = std::fs::remove_dir_all(&dir);
}
