//! The org variants a real Kustomer org may turn out to be, each run through a whole `tiny`
//! migration with the real engine over HTTP: the strict simulator (bodies checked against
//! Kustomer's published request types, by default), a key without `org.admin`, no
//! `POST /v1/tags` route, bulk batches answered as a bare array, and duplicates answered with
//! another status than 409. Each run ends with every record migrated or explained and no body
//! refused for a field Kustomer's published type does not allow.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::run_engine;
use i2k::engine::handle::RunOutcome;
use i2k::engine::report::{REPORT_JSON, Report};
use i2k::sim::SizePreset;
use i2k::sim::kustomer::Config;
use serde_json::{Value, json};

/// Runs a whole tiny migration against a Kustomer simulator `tweak`ed into one org variant and
/// checks that every record is migrated or explained and no body was refused for its fields.
async fn migrate_under(name: &str, tweak: impl FnOnce(&mut Config)) -> (common::Sims, PathBuf) {
    let sims = common::sims_with(SizePreset::Tiny, |_, k| tweak(k)).await;
    let state = common::temp_state(name);
    let outcome = run_engine(common::engine_config(&sims, state.clone())).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(state.join(REPORT_JSON)).unwrap()).unwrap();
    let mut problems = Vec::new();
    for row in &report.rows {
        if row.accounted() != row.source || row.not_loaded > 0 {
            problems.push(format!("{}: {row:?}", row.object));
        }
        let explained: u64 = row
            .failed_reasons
            .iter()
            .filter(|(r, _)| !r.is_empty())
            .map(|(_, n)| n)
            .sum();
        if explained != row.failed {
            problems.push(format!(
                "{}: {} failed without a reason",
                row.object, row.failed
            ));
        }
        if row
            .failed_reasons
            .iter()
            .any(|(r, _)| r.contains("published request type"))
        {
            problems.push(format!("{}: {:?}", row.object, row.failed_reasons));
        }
    }
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(
        truth["refused_fields"],
        json!([]),
        "bodies refused for their fields"
    );
    assert!(problems.is_empty(), "{problems:#?}");
    (sims, state)
}

#[tokio::test]
async fn the_strict_simulator_refuses_a_field_the_published_type_lacks_naming_it() {
    let sims = common::sims(SizePreset::Tiny).await;
    let http = reqwest::Client::new();
    let post = |body: Value| {
        http.post(format!("{}/v1/klasses", sims.kustomer.url))
            .bearer_auth(&sims.kustomer.token)
            .json(&body)
            .send()
    };
    let refused = post(json!({"name": "ticketType1", "displayName": "T", "description": "d"}))
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["source"]["pointer"], "/description");
    let detail = body["errors"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("`description`") && detail.contains("CreateKlass"),
        "{detail}"
    );
    let accepted = post(json!({"name": "ticketType1", "displayName": "T"}))
        .await
        .unwrap();
    assert!(accepted.status().is_success(), "{}", accepted.status());
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(truth["refused_fields"].as_array().unwrap().len(), 1);

    let lenient = common::sims_with(SizePreset::Tiny, |_, k| k.strict = false).await;
    let answer = http
        .post(format!("{}/v1/klasses", lenient.kustomer.url))
        .bearer_auth(&lenient.kustomer.token)
        .json(&json!({"name": "ticketType1", "displayName": "T", "description": "d"}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

fn lookups(truth: &Value) -> u64 {
    truth["requests"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(route, _)| route.contains("xternalId=") || route.contains("xternalid="))
        .map(|(_, v)| v["count"].as_u64().unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_answered_as_a_bare_array_are_read() {
    let (array, _) = migrate_under("realorg-array", |k| k.batches_as_array = true).await;
    let (envelope, _) = migrate_under("realorg-envelope", |_| {}).await;
    // The bulk results were read from the array: no more records looked up one by one than
    // when the batches come in a `data` envelope.
    let array = common::truth(&array.kustomer.url).await;
    let envelope = common::truth(&envelope.kustomer.url).await;
    assert_eq!(
        lookups(&array),
        lookups(&envelope),
        "{:#?}",
        array["requests"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_org_admin_message_and_note_times_are_restamped() {
    let started = i2k::timefmt::unix_ms_to_iso(i2k::timefmt::now_unix() * 1000 - 1000);
    let (sims, _) = migrate_under("realorg-no-admin", |k| k.org_admin = false).await;
    for kind in ["messages", "notes"] {
        let records = common::records(&sims.kustomer.url, kind).await;
        let created: Vec<&Value> = records["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["seeded"] != json!(true))
            .collect();
        assert!(!created.is_empty(), "no {kind} created");
        for r in created {
            let at = r["attributes"]["createdAt"].as_str().unwrap_or("");
            assert!(at >= started.as_str(), "{kind} kept its historic time {at}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_org_keeps_historic_message_times() {
    let started = i2k::timefmt::unix_ms_to_iso(i2k::timefmt::now_unix() * 1000 - 1000);
    let sims = common::sims(SizePreset::Tiny).await;
    let state = common::temp_state("realorg-admin");
    let outcome = run_engine(common::engine_config(&sims, state)).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");
    let records = common::records(&sims.kustomer.url, "messages").await;
    assert!(
        records["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["attributes"]["createdAt"]
                .as_str()
                .is_some_and(|at| at < started.as_str())),
        "no message kept its Intercom time"
    );
}

/// The names in an Intercom tag list (`[{id, name}]`).
fn intercom_names(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

/// The records of `kind` i2k created in the Kustomer simulator.
async fn created(sims: &common::Sims, kind: &str) -> Vec<Value> {
    let records = common::records(&sims.kustomer.url, kind).await;
    records["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["seeded"] != json!(true))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_tags_route_tags_are_created_through_conversations_and_applied() {
    let (sims, state) = migrate_under("realorg-no-tags", |k| k.tags_route = false).await;
    // The fallback is named in the report.
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(state.join(REPORT_JSON)).unwrap()).unwrap();
    let line =
        "Tags created through the conversation tag route: POST /v1/tags is absent on this org";
    assert_eq!(report.fallbacks, vec![line.to_string()]);
    let md = std::fs::read_to_string(state.join(i2k::engine::report::REPORT_MD)).unwrap();
    assert!(md.contains(line), "{md}");
    // Every tag done or listed for a manual rebuild, with its reason in MANUAL.md.
    let tags_row = report.row("tags").expect("a tags row");
    assert!(tags_row.migrated > 0, "{tags_row:?}");
    assert_eq!(
        tags_row.migrated + tags_row.manual,
        tags_row.source,
        "{tags_row:?}"
    );
    let manual = std::fs::read_to_string(state.join("MANUAL.md")).unwrap();
    // Kustomer's tags by id; what Kustomer lacks by name must be in MANUAL.md.
    let kustomer_tags: std::collections::HashMap<String, String> =
        common::records(&sims.kustomer.url, "tags").await["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let name = t["attributes"]["name"].as_str().unwrap().to_string();
                (t["id"].as_str().unwrap().to_string(), name)
            })
            .collect();
    let in_kustomer: BTreeSet<String> = kustomer_tags.values().cloned().collect();
    let names_of = |r: &Value| -> BTreeSet<String> {
        r["attributes"]["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|id| kustomer_tags[id.as_str().unwrap()].clone())
            .collect()
    };
    let mut missing_listed = BTreeSet::new();
    let mut check = |object: &str, id: &str, got: BTreeSet<String>, want: BTreeSet<String>| {
        let (there, absent): (BTreeSet<String>, BTreeSet<String>) =
            want.into_iter().partition(|n| in_kustomer.contains(n));
        assert_eq!(got, there, "{object} {id}: tags in Kustomer vs Intercom");
        for name in absent {
            assert!(
                manual.contains(&format!("Tag `{name}`")),
                "tag {name} of {object} {id} is neither in Kustomer nor in MANUAL.md"
            );
            missing_listed.insert(name);
        }
        !got.is_empty()
    };
    // Conversations carry every tag they carry in Intercom (each was created on them).
    let mut tagged = 0;
    for c in created(&sims, "conversations").await {
        let ext = c["attributes"]["externalId"].as_str().unwrap().to_string();
        let ic = common::intercom_get(&sims, &format!("/conversations/{ext}")).await;
        let want = intercom_names(&ic["tags"]["tags"]);
        assert!(
            want.iter().all(|n| in_kustomer.contains(n)),
            "conversation {ext}: a tag it carries was not created: {want:?}"
        );
        tagged += usize::from(check("conversation", &ext, names_of(&c), want));
    }
    assert!(tagged > 0, "no conversation carries a tag");
    // Companies and customers carry theirs, applied by update once the tags existed.
    let mut tagged = 0;
    for c in created(&sims, "companies").await {
        let ext = c["attributes"]["externalId"].as_str().unwrap().to_string();
        let ic = common::intercom_get(&sims, &format!("/companies/{ext}")).await;
        let want = intercom_names(&ic["tags"]["tags"]);
        tagged += usize::from(check("company", &ext, names_of(&c), want));
    }
    assert!(tagged > 0, "no company carries a tag");
    let mut tagged = 0;
    for c in created(&sims, "customers").await {
        let ext = c["attributes"]["externalId"].as_str().unwrap().to_string();
        let ic = common::intercom_get(&sims, &format!("/contacts/{ext}/tags")).await;
        let want = intercom_names(&ic["data"]);
        tagged += usize::from(check("customer", &ext, names_of(&c), want));
    }
    assert!(tagged > 0, "no customer carries a tag");
    // The absent route was tried once, then left alone.
    let truth = common::truth(&sims.kustomer.url).await;
    let posts: u64 = truth["requests"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(route, _)| route.starts_with("POST /v1/tags"))
        .map(|(_, v)| v["count"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        posts <= 2,
        "POST /v1/tags tried {posts} times: {:#?}",
        truth["requests"]
    );
    eprintln!("tags only some records carry, listed in MANUAL.md: {missing_listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_org_creates_tags_through_the_tags_route_and_names_no_fallback() {
    let (_, state) = migrate_under("realorg-tags", |_| {}).await;
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(state.join(REPORT_JSON)).unwrap()).unwrap();
    assert!(report.fallbacks.is_empty(), "{:?}", report.fallbacks);
    let tags_row = report.row("tags").expect("a tags row");
    assert_eq!(tags_row.migrated, tags_row.source, "{tags_row:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_answered_422_is_adopted_through_the_external_id_lookup() {
    let (sims, _) = migrate_under("realorg-dup", |k| k.duplicate_status = 422).await;
    let client = common::people::kustomer_client(&sims.kustomer.url, &sims.kustomer.token);
    let body = json!({"name": "Dup Licate", "externalId": "dup-1"});
    let first = client.create_customer(body.clone()).await.unwrap();
    let err = client.create_customer(body).await.unwrap_err();
    assert!(err.to_string().contains("422"), "{err}");
    assert!(
        err.is_duplicate(),
        "a 422 naming the duplicate is a duplicate: {err}"
    );
    let found = client
        .customer_by_external_id("dup-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, first.id);
}
