//! `i2k run --sample N` against both simulators over loopback HTTP: after an extraction, the
//! sample carries N conversations covering every channel, state and part type present, with
//! the customers, companies, tags and files they touch and nothing else — the Kustomer
//! simulator's ground truth compared record by record with what the Intercom simulator says
//! those conversations touch — and the report says it was a sample and which conversations it
//! took, and why. A full run afterwards (also after a rollback of the sample) carries the rest,
//! once: no duplicates, verify agrees.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use i2k::ledger::LedgerReader;
use i2k::sim::SizePreset;
use serde_json::Value;

/// Conversations the sample takes: enough on `tiny` to cover its channels, states and part types.
const N: usize = 8;
/// The ground-truth types a sample may create: its conversations and what they touch, and the
/// set-up every load needs (brands, schedules, attribute metadata). Teams and users are matched
/// or made for the admins and teams its conversations name.
const SAMPLE_TYPES: [&str; 12] = [
    "attachments",
    "brands",
    "companies",
    "conversations",
    "customers",
    "messages",
    "metadata_properties",
    "notes",
    "schedules",
    "tags",
    "teams",
    "users",
];
/// Where a Kustomer record keeps its externalId.
const EXTERNAL_ID: &str = "/attributes/externalId";

/// Every conversation id the extraction staged (the whole workspace's listing).
fn staged_conversations(state: &Path) -> Vec<String> {
    let reader = LedgerReader::open(state).expect("the ledger opens");
    reader
        .sources_page("conversations", None, 100_000)
        .expect("conversations read")
        .into_iter()
        .map(|r| r.source_id)
        .collect()
}

/// A conversation as Intercom gives it: its channel, state and part types.
fn features(conversation: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(channel) = conversation["source"]["type"].as_str() {
        out.insert(format!("channel {channel}"));
    }
    if let Some(state) = conversation["state"].as_str() {
        out.insert(format!("state {state}"));
    }
    for part in conversation["conversation_parts"]["conversation_parts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(t) = part["part_type"].as_str() {
            out.insert(format!("part {t}"));
        }
    }
    out
}

fn ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| match &v["id"] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// What the sample's conversations touch, as the Intercom simulator says.
#[derive(Default)]
struct Touched {
    contacts: BTreeSet<String>,
    companies: BTreeSet<String>,
    tag_names: BTreeSet<String>,
    features: BTreeSet<String>,
}

async fn touched_by(sims: &common::Sims, conversations: &BTreeSet<String>) -> Touched {
    let mut t = Touched::default();
    for id in conversations {
        let c = common::intercom_get(sims, &format!("/conversations/{id}")).await;
        t.features.extend(features(&c));
        for tag in c["tags"]["tags"].as_array().into_iter().flatten() {
            t.tag_names
                .insert(tag["name"].as_str().unwrap_or_default().to_string());
        }
        t.contacts.extend(ids(&c["contacts"]["contacts"]));
    }
    for contact in t.contacts.clone() {
        let companies = common::intercom_get(sims, &format!("/contacts/{contact}/companies")).await;
        t.companies.extend(ids(&companies["data"]));
        let tags = common::intercom_get(sims, &format!("/contacts/{contact}/tags")).await;
        for tag in tags["data"].as_array().into_iter().flatten() {
            t.tag_names
                .insert(tag["name"].as_str().unwrap_or_default().to_string());
        }
    }
    t
}

/// One text field (`/attributes/externalId`, `/relationships/conversation`, `/id`…) of each
/// record i2k created of `kind` (not the org's own).
async fn created(sims: &common::Sims, kind: &str, pointer: &str) -> Vec<String> {
    common::records(&sims.kustomer.url, kind).await["data"]
        .as_array()
        .expect("records listed")
        .iter()
        .filter(|r| r["seeded"] == false)
        .map(|r| {
            let field = r.pointer(pointer).and_then(Value::as_str);
            field.unwrap_or_default().to_string()
        })
        .collect()
}

/// [`created`] as a set.
async fn created_set(sims: &common::Sims, kind: &str, pointer: &str) -> BTreeSet<String> {
    created(sims, kind, pointer).await.into_iter().collect()
}

fn report_json(home: &Path) -> Value {
    let text = std::fs::read_to_string(common::state_dir(home).join("report.json"))
        .expect("the run wrote report.json");
    serde_json::from_str(&text).expect("report.json is JSON")
}

/// Extracts, then runs a sample of `N`; returns the conversations the report says it took.
async fn extract_and_sample(sims: &common::Sims, home: &Path) -> BTreeSet<String> {
    let extract = common::i2k(sims, home, &["extract"]).await;
    assert!(extract.status.success(), "{}", common::text(&extract));
    let n = N.to_string();
    let out = common::i2k(
        sims,
        home,
        &["run", "--headless", "--accept-defaults", "--sample", &n],
    )
    .await;
    assert!(out.status.success(), "{}", common::text(&out));
    let report = report_json(home);
    let run = report["runs"]
        .as_array()
        .expect("runs listed")
        .iter()
        .find(|r| r["kind"] == "sample")
        .unwrap_or_else(|| panic!("no sample run in the report: {}", report["runs"]))
        .clone();
    let sample = run["sample"].as_array().expect("the sample is listed");
    assert_eq!(sample.len(), N, "{sample:?}");
    for c in sample {
        assert!(
            !c["covers"].as_array().expect("covers listed").is_empty(),
            "a conversation without its reason: {c}"
        );
    }
    sample
        .iter()
        .map(|c| c["id"].as_str().expect("an id").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_carries_only_its_conversations_and_what_they_touch() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("sample");
    let state = common::state_dir(&home);
    let sample = extract_and_sample(&sims, &home).await;
    let all = staged_conversations(&state);
    assert!(all.len() > N, "the workspace is no larger than the sample");

    // The sample covers every channel, state and part type the workspace shows.
    let mut present = BTreeSet::new();
    for id in &all {
        present.extend(features(
            &common::intercom_get(&sims, &format!("/conversations/{id}")).await,
        ));
    }
    let touched = touched_by(&sims, &sample).await;
    assert_eq!(
        touched.features, present,
        "the sample misses a channel, state or part type"
    );

    // Record by record: what Kustomer received is the sample and what it touches.
    assert_eq!(
        created_set(&sims, "conversations", EXTERNAL_ID).await,
        sample
    );
    assert_eq!(
        created_set(&sims, "customers", EXTERNAL_ID).await,
        touched.contacts
    );
    assert_eq!(
        created_set(&sims, "companies", EXTERNAL_ID).await,
        touched.companies
    );
    let tags = created_set(&sims, "tags", "/attributes/name").await;
    assert!(
        tags.is_subset(&touched.tag_names),
        "tags beyond the sample's: {:?}",
        tags.difference(&touched.tag_names).collect::<Vec<_>>()
    );
    let kustomer_conversations = created_set(&sims, "conversations", "/id").await;
    for kind in ["messages", "notes"] {
        let under = created(&sims, kind, "/relationships/conversation").await;
        assert!(!under.is_empty(), "the sample carried no {kind}");
        for conversation in under {
            assert!(
                kustomer_conversations.contains(&conversation),
                "a {kind} record outside the sample's conversations: {conversation}"
            );
        }
    }
    // Every file of the sample's conversations, and no other.
    let reader = LedgerReader::open(&state).expect("the ledger opens");
    let mut files = 0;
    for id in &sample {
        for kind in ["attachments", "inline_images"] {
            files += reader.children(kind, id).expect("files read").len() as u64;
        }
    }
    let truth = common::truth(&sims.kustomer.url).await;
    let counts = common::truth_counts(&truth);
    assert_eq!(counts["attachments"], files, "uploaded files");
    // Nothing that hangs on no conversation: only the sample's types and the set-up grew.
    for (t, n) in &counts {
        if !SAMPLE_TYPES.contains(&t.as_str()) {
            assert_eq!(*n, 0, "{t} loaded by a sample");
        }
    }
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);

    // The report says it was a sample, with its conversations and why each was taken.
    let md = std::fs::read_to_string(state.join("report.md")).expect("report.md");
    assert!(md.contains("was a sample"), "{md}");
    for id in &sample {
        assert!(md.contains(&format!("- {id}: ")), "{id} not in report.md");
    }
    let html = std::fs::read_to_string(state.join("report.html")).expect("report.html");
    assert!(html.contains("was a sample"));

    // A full run carries the rest, once, and verify agrees.
    common::run_engine(common::engine_config(&sims, state.clone())).await;
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);
    assert_eq!(
        created_set(&sims, "conversations", EXTERNAL_ID).await,
        all.into_iter().collect::<BTreeSet<_>>()
    );
    let verify = common::i2k(&sims, &home, &["verify"]).await;
    assert!(verify.status.success(), "{}", common::text(&verify));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_after_a_rolled_back_sample_carries_everything_once() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("sample-rollback");
    let state = common::state_dir(&home);
    extract_and_sample(&sims, &home).await;
    let rollback = common::i2k(&sims, &home, &["rollback", "--yes"]).await;
    assert!(rollback.status.success(), "{}", common::text(&rollback));
    let after_rollback = common::truth_counts(&common::truth(&sims.kustomer.url).await);
    assert_eq!(after_rollback["conversations"], 0);
    assert_eq!(after_rollback["customers"], 0);

    common::run_engine(common::engine_config(&sims, state.clone())).await;
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);
    assert_eq!(
        created_set(&sims, "conversations", EXTERNAL_ID).await,
        staged_conversations(&state)
            .into_iter()
            .collect::<BTreeSet<_>>()
    );
    let verify = common::i2k(&sims, &home, &["verify"]).await;
    assert!(verify.status.success(), "{}", common::text(&verify));
    // What Kustomer could not delete stays listed after the full run rewrote the checklist.
    let manual = std::fs::read_to_string(state.join("MANUAL.md")).expect("MANUAL.md");
    assert!(
        manual.contains("Left in Kustomer after the rollback")
            && manual.contains("# Rebuild by hand"),
        "{manual}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_of_nothing_is_refused_with_the_reason() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("sample-refused");
    let zero = common::i2k(&sims, &home, &["run", "--headless", "--sample", "0"]).await;
    assert!(!zero.status.success());
    assert!(
        String::from_utf8_lossy(&zero.stderr).contains("--sample must be at least 1"),
        "{}",
        common::text(&zero)
    );
    let empty = common::i2k(
        &sims,
        &home,
        &["run", "--headless", "--accept-defaults", "--sample", "3"],
    )
    .await;
    assert!(!empty.status.success());
    assert!(
        String::from_utf8_lossy(&empty.stderr).contains("no extracted conversations"),
        "{}",
        common::text(&empty)
    );
    let truth = common::truth_counts(&common::truth(&sims.kustomer.url).await);
    assert_eq!(truth["customers"], 0, "a refused sample loaded records");
}
