//! The KB and Extras phases, the archive, MANUAL.md and the report, driven through the real
//! engine against both simulators over loopback HTTP (tiny workspace), checked against the
//! Kustomer simulator's stored records and the files in the state directory.

use std::path::PathBuf;
use std::time::Duration;

use i2k::engine::context::{EngineConfig, LoadOptions};
use i2k::engine::{archive, manual, report, runner};
use i2k::http::Secret;
use i2k::ledger::Ledger;
use i2k::sim::SizePreset;
use i2k::sim::{intercom, kustomer};
use serde_json::Value;

const SEED: u64 = 11;

fn state_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("i2k-p4-{name}-{}-{nanos}", std::process::id()))
}

async fn records(k: &i2k::sim::SimHandle, kind: &str) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/__sim/records/{kind}", k.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    match v {
        Value::Array(a) => a,
        other => other
            .get("data")
            .or_else(|| other.get("records"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}

fn attr<'a>(r: &'a Value, key: &str) -> &'a Value {
    r.get("attributes")
        .and_then(|a| a.get(key))
        .unwrap_or(&Value::Null)
}

/// The run's last helpers drop their ledger handle just after it reports; wait for the lock.
async fn open_when_released(dir: &std::path::Path) -> Ledger {
    for _ in 0..100 {
        if let Ok(l) = Ledger::open(dir) {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ledger::open(dir).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_workspace_lands_with_kb_extras_archive_manual_and_a_balanced_report() {
    let i = intercom::spawn(
        intercom::Config::new(SEED, SizePreset::Tiny),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let agents: Vec<(String, String)> = Vec::new();
    let mut kc = kustomer::Config::new(SEED, agents);
    kc.bulk_delay_max = Duration::from_millis(50);
    let k = kustomer::spawn(kc, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = state_dir("e2e");
    let config = EngineConfig {
        state_dir: dir.clone(),
        intercom_url: i.url.clone(),
        intercom_token: Secret::new(i.token.clone()),
        kustomer_url: k.url.clone(),
        kustomer_token: Secret::new(k.token.clone()),
        kustomer_rate: 100_000,
        rate_share: 1.0,
        only: Vec::new(),
        accept_defaults: true,
        workflow_ids: vec!["1".to_string()],
        options: LoadOptions::default(),
    };
    {
        let ledger = Ledger::open(&dir).unwrap();
        let client =
            i2k::intercom::IntercomClient::connect(&i.url, Secret::new(i.token.clone()), 1000)
                .unwrap();
        let control = i2k::engine::control::Control::new();
        let options = i2k::engine::extract::ExtractOptions::for_state_dir(&dir);
        let summary = i2k::engine::extract::extract(&client, &ledger, &options, &control, None)
            .await
            .unwrap();
        assert!(summary.complete(), "{:?}", summary.incomplete);
        ledger.flush().await.unwrap();
    }
    let handle = runner::start(config).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(240), handle.wait())
        .await
        .expect("the run finishes")
        .unwrap();
    println!("{outcome:?}");

    let ledger = open_when_released(&dir).await;
    let files = archive::write_archive(&ledger, &dir).unwrap();
    let intercom_client =
        i2k::intercom::IntercomClient::connect(&i.url, Secret::new(i.token.clone()), 100).unwrap();
    let exports = archive::export_workflows(&intercom_client, &["1".to_string()], &dir)
        .await
        .unwrap();
    manual::write_manual(&ledger, &dir, &exports).unwrap();
    let (built, _) = report::rewrite(&ledger, &dir, &exports).unwrap();

    // Every type's figures sum to its source count, and the phases of this module left nothing unloaded.
    let counters = ledger.counters();
    for row in &built.rows {
        assert_eq!(row.accounted(), row.source, "{row:?}");
        assert!(row.source >= counters.source(&row.object), "{row:?}");
    }
    for object in [
        "collections",
        "articles",
        "article_translations",
        "article_versions",
        "segments",
        "tickets",
        "contact_notes",
        "company_notes",
        "macros",
        "data_events",
    ] {
        let row = built.row(object).unwrap();
        assert_eq!(row.not_loaded, 0, "{row:?}");
        assert!(row.failed == 0, "{object} failed: {:?}", row.failed_reasons);
    }
    assert!(built.row("articles").unwrap().migrated > 0);
    assert!(!built.assumptions.is_empty());

    // A translated article: a version per language, published as in Intercom.
    let articles = records(&k, "kb_articles").await;
    let translated = articles
        .iter()
        .find(|a| {
            attr(a, "langVersions")
                .as_object()
                .is_some_and(|l| l.len() > 1)
        })
        .expect("a translated article");
    let langs = attr(translated, "langVersions").as_object().unwrap();
    assert!(langs.contains_key("en_us"), "{langs:?}");
    let ext = attr(translated, "externalId").as_str().unwrap();
    let source: Value = serde_json::from_str(
        &ledger
            .read(|r| r.source("articles", ext))
            .unwrap()
            .unwrap()
            .raw,
    )
    .unwrap();
    assert_eq!(
        attr(translated, "status"),
        if source["state"] == "published" {
            "published"
        } else {
            "draft"
        }
    );

    // A ticket kobject: its klass, customer, attributes and transcript.
    let kobjects = records(&k, "kobjects").await;
    let ticket = kobjects
        .iter()
        .find(|o| {
            attr(o, "title")
                .as_str()
                .is_some_and(|t| t.starts_with("Ticket "))
        })
        .expect("a ticket kobject");
    assert!(
        attr(ticket, "description")
            .as_str()
            .unwrap()
            .contains("(comment)")
    );
    assert!(
        attr(ticket, "custom").get("affectedUsersNum").is_some(),
        "{ticket}"
    );
    let tid = attr(ticket, "externalId").as_str().unwrap();
    let traw: Value = serde_json::from_str(
        &ledger
            .read(|r| r.source("tickets", tid))
            .unwrap()
            .unwrap()
            .raw,
    )
    .unwrap();
    let contact = traw["contacts"]["contacts"][0]["id"].as_str().unwrap();
    let customer = ledger.target_id("contacts", contact).unwrap().unwrap();
    assert!(ticket.to_string().contains(&customer), "{ticket}");

    // A contact note kobject: author and time.
    let notes = ledger
        .read(|r| r.sources_page("contact_notes", None, 1))
        .unwrap();
    let note = &notes[0];
    let nraw: Value = serde_json::from_str(&note.raw).unwrap();
    let kn = kobjects
        .iter()
        .find(|o| attr(o, "externalId") == note.source_id.as_str())
        .expect("the note kobject");
    assert_eq!(attr(kn, "data")["authorName"], nraw["author"]["name"]);
    assert_eq!(
        attr(kn, "createdAt").as_str().unwrap(),
        i2k::timefmt::unix_to_iso(nraw["created_at"].as_i64().unwrap())
    );

    // Segments: in use → saved search + tag on members; unused → an archived JSONL line.
    let searches = records(&k, "saved_searches").await;
    let seg = ledger.counters().target("segments");
    assert_eq!(seg.done as usize, searches.len());
    if seg.archived > 0 {
        assert_eq!(files.lines("segments"), seg.archived);
        let text = std::fs::read_to_string(dir.join("archive/segments.jsonl")).unwrap();
        let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert!(line["reason"].as_str().unwrap().contains("unused"));
        assert!(line["record"]["name"].is_string());
    }
    assert!(seg.done > 0, "an in-use segment");

    let manual_md = std::fs::read_to_string(dir.join("MANUAL.md")).unwrap();
    assert!(
        manual_md.contains("SLAs on the imported schedules") && manual_md.contains("workflow 1")
    );
    assert!(
        std::fs::read_to_string(dir.join("report.json"))
            .unwrap()
            .contains("\"rows\"")
    );
    drop(ledger);
    let _ = std::fs::remove_dir_all(&dir);
}
