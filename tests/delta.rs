//! `i2k run --delta` against both simulators over loopback HTTP: after a full run, the Intercom
//! simulator moves its workspace forward (`POST /__sim/advance`: new contacts and conversations,
//! replies, edited contacts and companies, conversations closed, reopened, snoozed and
//! reassigned, records deleted) and a delta run carries exactly those changes — checked field by
//! field on the changed records in the Kustomer simulator's ground truth — with no duplicate; an
//! agent's edit made in Kustomer meanwhile is kept and reported as a conflict; records deleted in
//! Intercom are reported and deleted in Kustomer only with `--delete-removed`; a delta of an
//! unchanged workspace writes nothing to Kustomer; a delta killed (SIGKILL) half-way and run
//! again ends the same, with no duplicate.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use i2k::ledger::LedgerReader;
use i2k::sim::SizePreset;
use serde_json::{Value, json};

/// The changes one advance makes on `tiny` (each conversation takes at most one).
fn amounts(seed: u64) -> Value {
    json!({
        "seed": seed, "new_contacts": 2, "new_conversations": 2, "replies": 3,
        "edited_contacts": 3, "edited_companies": 2, "closed": 2, "reopened": 1, "snoozed": 1,
        "reassigned": 2, "deleted_contacts": 1, "deleted_conversations": 1, "edited_articles": 2,
        "retagged": 1,
    })
}

async fn advance(sims: &common::Sims, body: Value) -> BTreeMap<String, Vec<String>> {
    common::advance(sims, body).await["changes"]
        .as_object()
        .expect("changes listed")
        .iter()
        .map(|(k, v)| {
            let ids = v
                .as_array()
                .expect("ids")
                .iter()
                .map(|i| i.as_str().expect("an id").to_string())
                .collect();
            (k.clone(), ids)
        })
        .collect()
}

/// The Kustomer simulator's records of `kind` that i2k made, by externalId.
async fn by_external_id(sims: &common::Sims, kind: &str) -> BTreeMap<String, Value> {
    common::records(&sims.kustomer.url, kind).await["data"]
        .as_array()
        .expect("records listed")
        .iter()
        .filter(|r| r["seeded"] == false)
        .filter(|r| r["attributes"]["deleted"] != true)
        .filter_map(|r| {
            let id = r["attributes"]["externalId"].as_str()?.to_string();
            Some((id, r.clone()))
        })
        .collect()
}

/// Every Kustomer write (any method but GET) the simulator has answered, summed.
async fn writes(sims: &common::Sims) -> u64 {
    let truth = common::truth(&sims.kustomer.url).await;
    truth["requests"]
        .as_object()
        .expect("requests counted")
        .iter()
        .filter(|(route, _)| !route.starts_with("GET "))
        .map(|(_, stats)| stats["count"].as_u64().unwrap_or(0))
        .sum()
}

fn report_json(home: &Path) -> Value {
    let text =
        std::fs::read_to_string(common::state_dir(home).join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("report.json is JSON")
}

/// Tiny simulators whose Kustomer answers after `ms` milliseconds (a run long enough to act on
/// while it goes on).
async fn slow_sims(ms: u64) -> common::Sims {
    common::sims_with(SizePreset::Tiny, |_, k| {
        k.latency = std::time::Duration::from_millis(ms);
    })
    .await
}

async fn full_run(sims: &common::Sims, home: &Path) {
    let out = common::i2k(sims, home, &common::run_args(&["--no-verify"])).await;
    assert!(out.status.success(), "{}", common::text(&out));
}

async fn delta(sims: &common::Sims, home: &Path, more: &[&str]) -> std::process::Output {
    let mut args = vec!["--delta"];
    args.extend_from_slice(more);
    let out = common::i2k(sims, home, &common::run_args(&args)).await;
    assert!(out.status.success(), "{}", common::text(&out));
    out
}

/// The Kustomer user i2k matched or made for an Intercom admin.
fn user_of(state: &Path, admin: &str) -> Option<String> {
    let reader = LedgerReader::open(state).expect("the ledger opens");
    reader
        .record("admins", admin)
        .expect("admin read")
        .and_then(|w| w.target_id)
}

/// The ids of every part Intercom shows of a conversation.
async fn part_ids(sims: &common::Sims, id: &str) -> BTreeSet<String> {
    let c = common::intercom_get(sims, &format!("/conversations/{id}")).await;
    c["conversation_parts"]["conversation_parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str().map(str::to_string))
        .collect()
}

/// Checks, field by field, that Kustomer holds what the advance changed.
async fn assert_carried(
    sims: &common::Sims,
    state: &Path,
    changes: &BTreeMap<String, Vec<String>>,
) {
    let customers = by_external_id(sims, "customers").await;
    let companies = by_external_id(sims, "companies").await;
    let conversations = by_external_id(sims, "conversations").await;
    for id in changes["edited_contacts"]
        .iter()
        .chain(&changes["new_contacts"])
    {
        let contact = common::intercom_get(sims, &format!("/contacts/{id}")).await;
        let customer = customers
            .get(id)
            .unwrap_or_else(|| panic!("contact {id} is not in Kustomer"));
        assert_eq!(
            customer["attributes"]["name"], contact["name"],
            "contact {id}'s name"
        );
    }
    for id in &changes["edited_companies"] {
        let company = common::intercom_get(sims, &format!("/companies/{id}")).await;
        let k = companies
            .get(id)
            .unwrap_or_else(|| panic!("company {id} is not in Kustomer"));
        assert_eq!(
            k["attributes"]["name"], company["name"],
            "company {id}'s name"
        );
    }
    let status_of = |id: &str| -> String {
        conversations
            .get(id)
            .unwrap_or_else(|| panic!("conversation {id} is not in Kustomer"))["attributes"]
            ["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    for id in &changes["closed"] {
        assert_eq!(status_of(id), "done", "closed conversation {id}");
    }
    for id in &changes["reopened"] {
        assert_eq!(status_of(id), "open", "reopened conversation {id}");
    }
    for id in &changes["snoozed"] {
        assert_eq!(status_of(id), "snoozed", "snoozed conversation {id}");
    }
    for id in &changes["reassigned"] {
        let c = common::intercom_get(sims, &format!("/conversations/{id}")).await;
        let admin = match &c["admin_assignee_id"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => panic!("conversation {id} names no admin: {other}"),
        };
        let user = user_of(state, &admin).expect("the admin has a Kustomer user");
        let k = &conversations[id];
        let assigned = k["attributes"]["assignedUsers"]
            .as_array()
            .cloned()
            .or_else(|| k["relationships"]["assignedUsers"].as_array().cloned())
            .unwrap_or_default();
        assert_eq!(assigned, vec![json!(user)], "conversation {id}'s assignee");
    }
    for id in &changes["retagged"] {
        let c = common::intercom_get(sims, &format!("/conversations/{id}")).await;
        let tags = c["tags"]["tags"].as_array().map_or(0, Vec::len);
        let k = &conversations[id]["attributes"]["tags"];
        assert_eq!(
            k.as_array().map_or(0, Vec::len),
            tags,
            "conversation {id}'s tags: Kustomer {k}, Intercom {}",
            c["tags"]
        );
    }
    // Every part of a conversation that received replies, and every new conversation, is in
    // Kustomer: a message or note by its externalId, or folded into the timeline note.
    let messages = by_external_id(sims, "messages").await;
    let notes = by_external_id(sims, "notes").await;
    let reader = LedgerReader::open(state).expect("the ledger opens");
    for id in changes["replies"]
        .iter()
        .chain(&changes["new_conversations"])
    {
        assert!(conversations.contains_key(id), "conversation {id} missing");
        for part in part_ids(sims, id).await {
            let settled = reader
                .record("conversation_parts", &part)
                .expect("part read")
                .map(|w| w.state);
            assert_eq!(
                settled,
                Some(i2k::ledger::RecordState::Done),
                "part {part} of {id}"
            );
            let in_kustomer = messages.contains_key(&part) || notes.contains_key(&part);
            let folded = notes.values().any(|n| {
                n["attributes"]["externalId"]
                    .as_str()
                    .is_some_and(|e| e.contains(id.as_str()))
            });
            assert!(
                in_kustomer || folded,
                "part {part} of {id} is not in Kustomer"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_carries_exactly_what_changed_and_keeps_an_agents_edit() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("delta");
    let state = common::state_dir(&home);
    full_run(&sims, &home).await;

    // Unchanged: a delta writes nothing.
    let before = writes(&sims).await;
    delta(&sims, &home, &[]).await;
    assert_eq!(
        writes(&sims).await,
        before,
        "a delta of an unchanged workspace wrote"
    );

    let changes = advance(&sims, amounts(1)).await;
    // An agent renames one of the edited customers in Kustomer before the delta.
    let agent_edited = changes["edited_contacts"][0].clone();
    let customers = by_external_id(&sims, "customers").await;
    let k_id = customers[&agent_edited]["id"].as_str().unwrap().to_string();
    let put = reqwest::Client::new()
        .put(format!("{}/v1/customers/{k_id}", sims.kustomer.url))
        .bearer_auth(&sims.kustomer.token)
        .json(&json!({"name": "Renamed By Agent"}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());

    let versions_before =
        common::truth_counts(&common::truth(&sims.kustomer.url).await)["kb_versions"];
    let articles_before = by_external_id(&sims, "kb_articles").await;
    delta(&sims, &home, &[]).await;
    // An edited article's new content is its language's new version: one each, no other.
    let versions_after =
        common::truth_counts(&common::truth(&sims.kustomer.url).await)["kb_versions"];
    assert_eq!(
        versions_after,
        versions_before + changes["edited_articles"].len() as u64,
        "KB versions after the delta"
    );
    let articles_after = by_external_id(&sims, "kb_articles").await;
    for (id, before) in &articles_before {
        let moved = before["attributes"]["langVersions"]
            != articles_after[id]["attributes"]["langVersions"];
        assert_eq!(
            moved,
            changes["edited_articles"].contains(id),
            "article {id}'s versions: {} → {}",
            before["attributes"]["langVersions"],
            articles_after[id]["attributes"]["langVersions"]
        );
    }
    let mut carried = changes.clone();
    carried
        .get_mut("edited_contacts")
        .unwrap()
        .retain(|id| *id != agent_edited);
    assert_carried(&sims, &state, &carried).await;
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);

    // The agent's value is kept, and the conflict reported.
    let customers = by_external_id(&sims, "customers").await;
    assert_eq!(
        customers[&agent_edited]["attributes"]["name"],
        "Renamed By Agent"
    );
    let report = report_json(&home);
    let run = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|r| r["kind"] == "delta")
        .expect("the delta run is in the report")
        .clone();
    let changed = &run["changes"];
    assert_eq!(changed["contacts"]["conflict"], 1, "{changed}");
    // The agent's customer too: its other changed fields (last seen) are written, its name kept.
    assert_eq!(
        changed["contacts"]["updated"],
        changes["edited_contacts"].len() as u64,
        "{changed}"
    );
    assert_eq!(changed["companies"]["updated"], 2, "{changed}");
    assert_eq!(changed["articles"]["updated"], 2, "{changed}");
    assert_eq!(changed["conversations"]["closed"], 2, "{changed}");
    assert_eq!(changed["conversations"]["reopened"], 1, "{changed}");
    assert_eq!(changed["conversations"]["snoozed"], 1, "{changed}");
    assert_eq!(changed["conversations"]["reassigned"], 2, "{changed}");
    assert_eq!(changed["conversations"]["retagged"], 1, "{changed}");
    assert_eq!(changed["contacts"]["removed"], 1, "{changed}");
    assert_eq!(changed["conversations"]["removed"], 1, "{changed}");
    let md = std::fs::read_to_string(state.join("report.md")).unwrap();
    assert!(
        md.contains("Renamed By Agent"),
        "the conflict is not in report.md"
    );

    // Deleted in Intercom: still in Kustomer until the operator asks.
    let removed_contact = &changes["deleted_contacts"][0];
    let removed_conversation = &changes["deleted_conversations"][0];
    assert!(
        by_external_id(&sims, "customers")
            .await
            .contains_key(removed_contact)
    );
    let before = writes(&sims).await;
    delta(&sims, &home, &["--delete-removed"]).await;
    assert!(writes(&sims).await > before);
    assert!(
        !by_external_id(&sims, "customers")
            .await
            .contains_key(removed_contact)
    );
    assert!(
        !by_external_id(&sims, "conversations")
            .await
            .contains_key(removed_conversation)
    );
    let verify = common::i2k(&sims, &home, &["verify"]).await;
    assert!(verify.status.success(), "{}", common::text(&verify));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_killed_half_way_and_run_again_carries_everything_once() {
    let sims = slow_sims(40).await;
    let home = common::temp_state("delta-kill");
    let state = common::state_dir(&home);
    full_run(&sims, &home).await;
    let changes = advance(&sims, amounts(2)).await;

    // Killed once Kustomer has received some of the delta's writes.
    let before = writes(&sims).await;
    let mut child = common::i2k_command(&sims, &state, &home, &common::run_args(&["--delta"]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("i2k starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while writes(&sims).await < before + 3 && std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the delta ended before it could be killed"
    );
    let _ = child.kill();
    let _ = child.wait();
    let reader = LedgerReader::open(&state).expect("the ledger opens");
    let last = reader.runs().expect("runs read").pop().expect("a run");
    assert_eq!((last.command.as_str(), last.outcome), ("delta", None));
    drop(reader);

    delta(&sims, &home, &[]).await;
    assert_carried(&sims, &state, &changes).await;
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);
    let verify = common::i2k(&sims, &home, &["verify"]).await;
    assert!(verify.status.success(), "{}", common::text(&verify));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_before_any_completed_run_is_refused() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("delta-refused");
    let out = common::i2k(&sims, &home, &common::run_args(&["--delta"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(
        common::text(&out).contains("--delta carries what changed since a completed run"),
        "{}",
        common::text(&out)
    );
}

/// The cutover figure (by hand: `cargo test --release --test delta -- --ignored --nocapture`):
/// on `small` at an Enterprise org's budget (1,000 requests a minute, i2k's share 0.8), a delta
/// after advancing about 1 % of the workspace's records, timed from start to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a figure for the notes: minutes of wall time at a real org's budget"]
async fn a_delta_of_one_percent_on_small_at_enterprise_budget() {
    let sims = common::sims_with(SizePreset::Small, |_, k| {
        k.rate_per_minute = 1_000;
    })
    .await;
    let home = common::temp_state("delta-small");
    let budget = [
        "--kustomer-rate",
        "1000",
        "--rate-share",
        "0.8",
        "--accept-defaults",
    ];
    let mut args = vec!["run", "--headless", "--no-verify"];
    args.extend_from_slice(&budget);
    let started = std::time::Instant::now();
    let out = common::i2k(&sims, &home, &args).await;
    assert!(out.status.success(), "{}", common::text(&out));
    println!("full run: {:.0} s", started.elapsed().as_secs_f64());
    let truth = common::truth(&sims.intercom.url).await;
    println!("workspace: {}", truth["counts"]);
    // About 1 % of the workspace's ~17,000 records: 140 changed or new contacts, companies
    // and conversations, with the parts their replies and new conversations bring.
    let changes = advance(
        &sims,
        json!({
            "seed": 3, "new_contacts": 10, "new_conversations": 15, "replies": 30,
            "edited_contacts": 20, "edited_companies": 5, "closed": 15, "reopened": 10,
            "snoozed": 10, "reassigned": 15, "deleted_contacts": 5, "deleted_conversations": 5,
        }),
    )
    .await;
    let parts_before: u64 = truth["counts"]["conversation_parts"].as_u64().unwrap_or(0);
    let after = common::truth(&sims.intercom.url).await;
    println!(
        "parts added: {}",
        after["counts"]["conversation_parts"].as_u64().unwrap_or(0) as i64 - parts_before as i64
    );
    let started = std::time::Instant::now();
    args.push("--delta");
    let out = common::i2k(&sims, &home, &args).await;
    let wall = started.elapsed();
    assert!(out.status.success(), "{}", common::text(&out));
    println!(
        "delta after advancing {} records: {:.1} s",
        changes.values().map(Vec::len).sum::<usize>(),
        wall.as_secs_f64()
    );
    assert_carried(&sims, &common::state_dir(&home), &changes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_catches_up_with_what_changed_while_it_ran() {
    let sims = slow_sims(30).await;
    let home = common::temp_state("delta-catch-up");
    let state = common::state_dir(&home);
    let mut child = common::i2k_command(&sims, &state, &home, &common::run_args(&["--no-verify"]))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("i2k starts");
    // The workspace moves once the load is under way (its extraction read it before).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while writes(&sims).await < 20 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the workspace could move"
    );
    let changes = advance(&sims, amounts(4)).await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    let said = common::text(&out);
    assert!(said.contains("catch-up: carrying"), "{said}");
    assert_carried(&sims, &state, &changes).await;
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);
}
