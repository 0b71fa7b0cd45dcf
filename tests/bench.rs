//! `i2k bench`'s measurements on the tiny preset: the engine run behind the load figures, the
//! per-record baseline it is compared with, and the figures' arithmetic. No timed assertions: the
//! figures themselves are printed by `i2k bench`, here only their consistency is checked.

use std::time::Duration;

use i2k::bench::{LoadBenchOptions, bench_baseline, bench_load, compare};
use i2k::sim::SizePreset;

fn temp_state(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "i2k-test-{name}-{}-{}",
        std::process::id(),
        i2k::rng::Rng::from_entropy().hex(4)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn total(created: &std::collections::BTreeMap<String, u64>, kinds: &[&str]) -> u64 {
    kinds
        .iter()
        .map(|k| created.get(*k).copied().unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_loads_in_bulk_with_fewer_requests_than_one_post_per_record() {
    let dir = temp_state("bench");
    let mut options = LoadBenchOptions::new(SizePreset::Tiny, 7, dir.clone());
    // A generous budget keeps the test quick; the bench itself runs at the low one.
    options.kustomer_rate = 600_000;
    options.bulk_delay_max = Duration::from_millis(60);

    let load = bench_load(&options).await.unwrap();
    assert!(load.completed, "the engine run completes: {load:?}");
    assert_eq!(load.failed_records, 0);
    assert_eq!(load.throttled, 0, "no 429s at a budget the gate respects");
    assert!(
        load.bulk_posts > 0,
        "customers and conversations go in bulk"
    );
    assert!(
        load.bulk_items > load.bulk_posts,
        "a bulk request carries several records: {} items in {} posts",
        load.bulk_items,
        load.bulk_posts
    );
    assert!(load.load_requests > 0 && load.load_secs > 0.0);
    assert!(
        load.frames.frames > 0,
        "the console drew while the run streamed"
    );
    assert!(load.frames.p50_ms <= load.frames.p99_ms && load.frames.p99_ms <= load.frames.max_ms);
    assert!(load.memory.rss_before_kib > 0 && load.memory.peak_kib >= load.memory.rss_after_kib);

    let baseline = bench_baseline(&options).await.unwrap();
    assert_eq!(
        baseline.failed, 0,
        "the naive script's records are all accepted"
    );
    let kinds = ["customers", "conversations", "messages", "notes"];
    assert_eq!(
        baseline.requests,
        total(&baseline.created, &kinds) + baseline.files,
        "the script sends exactly one request per record it creates and per file it registers"
    );
    assert_eq!(
        baseline.created.get("customers"),
        load.created.get("customers"),
        "both load every contact"
    );
    assert_eq!(
        baseline.created.get("conversations"),
        load.created.get("conversations"),
        "both load every conversation"
    );
    let comparison = compare(&load, &baseline);
    assert_eq!(comparison.engine_requests, load.kustomer_requests);
    assert!(
        comparison.request_ratio() > 1.0,
        "bulk loading needs fewer requests: {comparison:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
