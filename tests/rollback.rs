//! `i2k rollback` against both simulators over loopback HTTP: a run, then a rollback of the real
//! binary, must leave the Kustomer simulator's ground truth as it was before the run apart from
//! the types Kustomer's API cannot delete (which it lists in MANUAL.md) — also when the rollback
//! is killed with SIGKILL midway and run again; matched users and a tag that existed before the
//! run are untouched; a record whose externalId is no longer the ledger's is left; and a full run
//! after the rollback ends with verify agreeing and no duplicates.

mod common;

use std::process::Stdio;
use std::time::Duration;

use i2k::sim::SizePreset;
use serde_json::{Value, json};

/// The ground-truth types a rollback deletes (customers, and with their conversations the
/// messages and notes; kobjects, then the klasses i2k made for them).
const DELETED_TYPES: [&str; 6] = [
    "customers",
    "conversations",
    "messages",
    "notes",
    "kobjects",
    "klasses",
];

/// The org as the ground truth sees it: its counts, and its attribute metadata.
struct Org {
    truth: Value,
    metadata: Value,
}

async fn org(sims: &common::Sims) -> Org {
    Org {
        truth: common::truth(&sims.kustomer.url).await,
        metadata: common::records(&sims.kustomer.url, "metadata_properties").await["data"].clone(),
    }
}

/// After the rollback the deleted types are back to what they were before the run, and every
/// other type is as the run left it (the rollback deleted nothing it lists as staying) — but
/// the attribute metadata of the klasses it deleted, which went with them.
async fn assert_rolled_back(sims: &common::Sims, before: &Org, after_run: &Org) {
    let after = org(sims).await;
    let (before_n, run_n, after_n) = (
        common::truth_counts(&before.truth),
        common::truth_counts(&after_run.truth),
        common::truth_counts(&after.truth),
    );
    for t in DELETED_TYPES {
        assert_eq!(after_n[t], before_n[t], "{t}: not back to before the run");
    }
    for (t, n) in &run_n {
        if !DELETED_TYPES.contains(&t.as_str()) && t != "metadata_properties" {
            assert_eq!(
                after_n[t], *n,
                "{t}: the rollback changed a type it cannot delete"
            );
        }
    }
    let mut expected = after_run.metadata.as_object().cloned().unwrap_or_default();
    expected.retain(|resource, _| {
        !resource.starts_with("kobject.") || before.metadata.get(resource).is_some()
    });
    assert_eq!(
        after.metadata,
        Value::Object(expected),
        "attribute metadata"
    );
    assert_eq!(
        after.truth["seeded"], before.truth["seeded"],
        "the org's own records changed"
    );
    assert!(
        common::no_duplicates(&after.truth),
        "{}",
        after.truth["duplicates"]
    );
}

async fn kustomer_send(sims: &common::Sims, method: reqwest::Method, path: &str, body: Value) {
    let answer = reqwest::Client::new()
        .request(method, format!("{}{path}", sims.kustomer.url))
        .bearer_auth(&sims.kustomer.token)
        .json(&body)
        .send()
        .await
        .expect("the Kustomer simulator answers");
    assert!(
        answer.status().is_success(),
        "{path}: {}",
        answer.text().await.unwrap_or_default()
    );
}

/// Creates in Kustomer, before the run, a tag named as one of the workspace's: the run matches
/// it. Returns its record.
async fn pre_existing_tag(sims: &common::Sims) -> Value {
    let tags = common::intercom_get(sims, "/tags").await;
    let name = tags["data"][0]["name"]
        .as_str()
        .expect("the workspace has a tag")
        .to_string();
    kustomer_send(
        sims,
        reqwest::Method::POST,
        "/v1/tags",
        json!({ "name": name }),
    )
    .await;
    tag_named(sims, &name).await.expect("the tag was created")
}

async fn tag_named(sims: &common::Sims, name: &str) -> Option<Value> {
    common::records(&sims.kustomer.url, "tags").await["data"]
        .as_array()?
        .iter()
        .find(|t| t["attributes"]["name"] == name)
        .cloned()
}

fn manual(home: &std::path::Path) -> String {
    std::fs::read_to_string(common::state_dir(home).join("MANUAL.md")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_deletes_what_the_run_created_and_a_new_run_migrates_again() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("rollback");
    let tag = pre_existing_tag(&sims).await;
    let before = org(&sims).await;
    let users_before = common::records(&sims.kustomer.url, "users").await;

    common::run_engine(common::engine_config(&sims, common::state_dir(&home))).await;
    let after_run = org(&sims).await;
    for t in ["customers", "conversations", "messages", "kobjects"] {
        assert!(
            common::truth_counts(&after_run.truth)[t] > 0,
            "the run created no {t}"
        );
    }

    let out = common::i2k(&sims, &home, &["rollback", "--yes"]).await;
    assert!(out.status.success(), "{}", common::text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Will delete from Kustomer") && stdout.contains("contacts"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Cannot delete through Kustomer's API"),
        "{stdout}"
    );
    assert_rolled_back(&sims, &before, &after_run).await;
    // Matched users and the tag that existed before are untouched (same ids, same fields).
    let users_after = common::records(&sims.kustomer.url, "users").await;
    for user in users_before["data"].as_array().expect("users listed") {
        assert!(
            users_after["data"]
                .as_array()
                .expect("users listed")
                .contains(user),
            "user {} changed",
            user["id"]
        );
    }
    let name = tag["attributes"]["name"].as_str().unwrap_or_default();
    assert_eq!(
        tag_named(&sims, name).await.map(|t| t["id"].clone()),
        Some(tag["id"].clone())
    );
    let manual = manual(&home);
    assert!(
        manual.contains("Left in Kustomer after the rollback") && manual.contains("**companies**"),
        "{manual}"
    );

    // The ledger is ready for a fresh run: it migrates everything again, once.
    common::run_engine(common::engine_config(&sims, common::state_dir(&home))).await;
    let again = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&again), "{}", again["duplicates"]);
    assert_eq!(
        common::truth_counts(&again),
        common::truth_counts(&after_run.truth),
        "the second run differs from the first"
    );
    let verify = common::i2k(&sims, &home, &["verify"]).await;
    assert!(verify.status.success(), "{}", common::text(&verify));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_killed_midway_finishes_with_the_same_org() {
    let sims = common::sims_with(SizePreset::Small, |_, k| {
        k.latency = Duration::from_millis(3);
    })
    .await;
    let home = common::temp_state("rollback-killed");
    let before = org(&sims).await;
    common::run_engine(common::engine_config(&sims, common::state_dir(&home))).await;
    let after_run = org(&sims).await;
    let conversations = common::truth_counts(&after_run.truth)["conversations"];

    let mut child = common::i2k_command(
        &sims,
        &common::state_dir(&home),
        &home,
        &["rollback", "--yes"],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("i2k starts");
    // Kill it once it has deleted some conversations, before it is done.
    let mut killed_running = false;
    for _ in 0..20_000 {
        if child.try_wait().expect("the child can be polled").is_some() {
            break;
        }
        let now = common::truth_counts(&common::truth(&sims.kustomer.url).await)["conversations"];
        if now < conversations {
            // SIGKILL: no destructor, no flush.
            child.kill().expect("the child can be killed");
            killed_running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = child.wait();
    assert!(
        killed_running,
        "the rollback ended before it could be killed"
    );
    let halfway = common::truth_counts(&common::truth(&sims.kustomer.url).await)["conversations"];
    assert!(
        halfway > 0,
        "the kill came after every conversation was deleted"
    );

    let out = common::i2k(&sims, &home, &["rollback", "--yes"]).await;
    assert!(out.status.success(), "{}", common::text(&out));
    assert_rolled_back(&sims, &before, &after_run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_whose_external_id_is_no_longer_the_ledgers_is_left_alone() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("rollback-stranger");
    common::run_engine(common::engine_config(&sims, common::state_dir(&home))).await;
    let customers = common::records(&sims.kustomer.url, "customers").await;
    let stranger = customers["data"]
        .as_array()
        .expect("customers listed")
        .iter()
        .find(|c| c["seeded"] == false)
        .expect("the run created customers")["id"]
        .as_str()
        .unwrap()
        .to_string();
    kustomer_send(
        &sims,
        reqwest::Method::PUT,
        &format!("/v1/customers/{stranger}"),
        json!({ "externalId": "someone-else" }),
    )
    .await;

    let out = common::i2k(&sims, &home, &["rollback", "--yes"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("(Kustomer id {stranger})")) && stdout.contains("someone-else"),
        "{stdout}"
    );
    let left: Vec<Value> = common::records(&sims.kustomer.url, "customers").await["data"]
        .as_array()
        .expect("customers listed")
        .iter()
        .filter(|c| c["seeded"] == false)
        .cloned()
        .collect();
    assert_eq!(left.len(), 1, "only the stranger stays: {left:?}");
    assert_eq!(left[0]["id"], stranger.as_str());
    assert!(manual(&home).contains(&stranger));
}
