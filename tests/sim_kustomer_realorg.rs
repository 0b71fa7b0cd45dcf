//! The org variants a real Kustomer org may turn out to be, each run through a whole `tiny`
//! migration with the real engine over HTTP: the strict simulator (bodies checked against
//! Kustomer's published request types, by default), a key without `org.admin`, no
//! `POST /v1/tags` route, bulk batches answered as a bare array, and duplicates answered with
//! another status than 409. Each run ends with every record migrated or explained, no body
//! refused for a field Kustomer's published type (or its KB guide) does not allow, and the report
//! naming each fallback the variant made the run take (none where the variant needs none).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::run_engine;
use i2k::engine::handle::RunOutcome;
use i2k::engine::report::{REPORT_JSON, Report};
use i2k::sim::SizePreset;
use i2k::sim::kustomer::Config;
use serde_json::{Value, json};

/// Runs a whole tiny migration against a Kustomer simulator `tweak`ed into one org variant, as
/// `i2k run --headless --accept-defaults --accept-restamped-times` does (through the session,
/// whose start check reads the key's roles), and checks that every record is migrated or
/// explained and no body was refused for its fields.
async fn migrate_under(name: &str, tweak: impl FnOnce(&mut Config)) -> (common::Sims, PathBuf) {
    let sims = common::sims_with(SizePreset::Tiny, |_, k| tweak(k)).await;
    let state = common::temp_state(name);
    let mut config = common::engine_config(&sims, state.clone());
    config.options.accept_restamped_times = true;
    let mut session = i2k::engine::session::Session::unattended(config);
    let handle = session.launch().await.expect("the run starts");
    let outcome = handle.wait().await.expect("the run ends without an error");
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

fn report_of(state: &std::path::Path) -> Report {
    serde_json::from_str(&std::fs::read_to_string(state.join(REPORT_JSON)).unwrap()).unwrap()
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
    let (array, state) = migrate_under("realorg-array", |k| k.batches_as_array = true).await;
    // The bare array is the bulk guide's own drawing: read as it is, no fallback taken.
    let report = report_of(&state);
    assert!(report.fallbacks.is_empty(), "{:?}", report.fallbacks);
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
    let (sims, state) = migrate_under("realorg-no-admin", |k| k.org_admin = false).await;
    let report = report_of(&state);
    assert_eq!(
        report.fallbacks,
        vec![i2k::engine::decisions::RESTAMPED_LINE.to_string()]
    );
    assert!(report.restamped_times);
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

/// The ledger of a finished run (its helpers release the lock just after it reports).
async fn open_when_released(dir: &std::path::Path) -> i2k::ledger::Ledger {
    for _ in 0..100 {
        if let Ok(l) = i2k::ledger::Ledger::open(dir) {
            return l;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    i2k::ledger::Ledger::open(dir).unwrap()
}

/// A re-run after a lost answer, where Kustomer answers the repeated create's duplicate with
/// 422: an admin the operator now invites lost its invitation's answer (the user was created in
/// Kustomer, the ledger holds the record failed); the retry's create is refused as a duplicate
/// with 422, read as one from its words, adopted through the e-mail lookup (never a second
/// user), and the report names the fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_whose_duplicate_is_answered_422_adopts_the_record_and_names_the_fallback() {
    use i2k::engine::model::AdminDecision;
    let (sims, state) = migrate_under("realorg-dup-rerun", |k| k.duplicate_status = 422).await;
    assert!(report_of(&state).fallbacks.is_empty());
    let users = common::records(&sims.kustomer.url, "users").await;
    let has_user = |email: &str| {
        users["data"].as_array().unwrap().iter().any(|u| {
            u["attributes"]["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
    };
    let admins = common::intercom_get(&sims, "/admins").await;
    let (admin_id, name, email) = admins["admins"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| {
            let email = a["email"].as_str()?;
            Some((
                a["id"].as_str()?.to_string(),
                a["name"].as_str().unwrap_or_default().to_string(),
                email.to_string(),
            ))
        })
        .find(|(_, _, email)| !has_user(email))
        .expect("an admin without a Kustomer user");

    let ledger = open_when_released(&state).await;
    i2k::engine::decisions::decide_admin(&ledger, &admin_id, AdminDecision::Invite)
        .await
        .unwrap();
    ledger
        .mark_failed(
            "admins",
            &admin_id,
            i2k::vocab::ErrorClass::Unknown,
            "the invitation's answer was lost",
            "",
            "",
        )
        .unwrap();
    ledger.flush().await.unwrap();
    drop(ledger);
    let client = common::people::kustomer_client(&sims.kustomer.url, &sims.kustomer.token);
    let invited = client.invite_user(&name, &email).await.unwrap();

    let mut config = common::engine_config(&sims, state.clone());
    config.options.retry_failed = Some(i2k::engine::context::RetryFilter {
        kind: Some("admins".into()),
        ..Default::default()
    });
    let outcome = run_engine(config).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");
    let ledger = open_when_released(&state).await;
    assert_eq!(
        ledger.target_id("admins", &admin_id).unwrap().as_deref(),
        Some(invited.id.as_str())
    );
    drop(ledger);
    let same_email = common::records(&sims.kustomer.url, "users").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| {
            u["attributes"]["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(&email))
        })
        .count();
    assert_eq!(same_email, 1, "the invitation was sent twice");
    let report = report_of(&state);
    assert_eq!(report.fallbacks.len(), 1, "{:?}", report.fallbacks);
    assert!(
        report.fallbacks[0].starts_with("Duplicates answered 422 instead of 409"),
        "{:?}",
        report.fallbacks
    );
}
