//! Phases Companies and Customers against both simulators over loopback: the Intercom workspace
//! is extracted for real, then the phases load it into the Kustomer simulator, whose ground truth
//! (`/__sim/truth`, `/__sim/records/{type}`) is what the assertions read.

mod common;

use common::people::{Setup, get_json, post_count, setup};
use i2k::engine::load::{companies, customers};
use i2k::engine::verify;
use i2k::sim::SizePreset;
use serde_json::{Value, json};

async fn load(s: &Setup) {
    companies::run(&s.ctx).await.unwrap();
    customers::run(&s.ctx).await.unwrap();
    s.ctx.ledger.flush().await.unwrap();
}

fn count(truth: &Value, name: &str) -> u64 {
    truth["counts"][name].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companies_and_customers_migrate_once_with_counts_equal_to_the_truth() {
    let s = setup(SizePreset::Tiny, "", 11).await;
    // The operator carries one contact attribute (what the decisions module stores).
    let attr = s.first_contact_attribute().await;
    load(&s).await;

    let source = get_json(&format!("{}/__sim/truth", s.intercom.url)).await;
    let truth = get_json(&format!("{}/__sim/truth", s.kustomer.url)).await;
    assert_eq!(count(&truth, "customers"), count(&source, "contacts"));
    assert_eq!(count(&truth, "companies"), count(&source, "companies"));
    assert_eq!(count(&truth, "tags"), count(&source, "tags"));
    assert_eq!(truth["duplicates"], json!({}), "{}", truth["duplicates"]);
    let v = verify::verify(&s.ctx.ledger, &s.ctx.kustomer)
        .await
        .unwrap();
    for object in ["companies", "contacts", "tags"] {
        let t = v.types.iter().find(|t| t.object == object).unwrap();
        assert!(t.agrees && t.target.is_some(), "{t:?}");
    }
    assert_eq!(v.samples.len(), 2 * verify::SAMPLE_SIZE);
    assert!(
        v.samples.iter().all(|s| s.mismatches.is_empty()),
        "{:#?}",
        v.samples
    );

    // One customer, field by field, against its Intercom contact.
    let records = get_json(&format!("{}/__sim/records/customers", s.kustomer.url)).await;
    let with_company = records["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["relationships"]["company"].is_string())
        .expect("some customer links a company");
    let ext = with_company["attributes"]["externalId"].as_str().unwrap();
    let contact: Value = s.source("contacts", ext);
    let a = &with_company["attributes"];
    if let Some(email) = contact["email"].as_str() {
        assert_eq!(a["emails"], json!([{"type": "other", "email": email}]));
    }
    let company = contact["companies"]["data"][0]["id"].as_str().unwrap();
    let company_target = s.ctx.ledger.target_id("companies", company).unwrap();
    assert_eq!(
        with_company["relationships"]["company"].as_str(),
        company_target.as_deref()
    );
    assert_eq!(
        a["createdAt"],
        json!(i2k::timefmt::unix_to_iso(
            contact["created_at"].as_i64().unwrap()
        ))
    );
    assert!(a["importedAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(a["custom"]["intercomRoleStr"], contact["role"]);
    if let Some((source_name, kustomer_name)) = &attr {
        let with_value = records["data"].as_array().unwrap().iter().find(|r| {
            let c: Value = s.source("contacts", r["attributes"]["externalId"].as_str().unwrap());
            c["custom_attributes"][source_name].is_string()
        });
        if let Some(r) = with_value {
            let c: Value = s.source("contacts", r["attributes"]["externalId"].as_str().unwrap());
            assert_eq!(
                r["attributes"]["custom"][kustomer_name],
                c["custom_attributes"][source_name]
            );
        }
    }

    // A second run creates nothing.
    let posts_before = post_count(&truth);
    load(&s).await;
    let again = get_json(&format!("{}/__sim/truth", s.kustomer.url)).await;
    assert_eq!(again["counts"], truth["counts"]);
    assert_eq!(post_count(&again), posts_before, "{}", again["requests"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_injected_faults_nothing_is_lost_and_nothing_is_duplicated() {
    let s = setup(
        SizePreset::Tiny,
        "kustomer.5xx=0.05,kustomer.timeout=0.02,kustomer.reset=0.02",
        12,
    )
    .await;
    load(&s).await;
    let source = get_json(&format!("{}/__sim/truth", s.intercom.url)).await;
    let truth = get_json(&format!("{}/__sim/truth", s.kustomer.url)).await;
    assert_eq!(count(&truth, "customers"), count(&source, "contacts"));
    assert_eq!(count(&truth, "companies"), count(&source, "companies"));
    assert_eq!(truth["duplicates"], json!({}), "{}", truth["duplicates"]);
    let counters = s.ctx.ledger.counters();
    for kind in ["companies", "contacts", "tags"] {
        let c = counters.target(kind);
        assert_eq!(c.failed + c.pending + c.sent, 0, "{kind}: {c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_requests_carry_at_least_90_records_on_the_small_preset() {
    let s = setup(SizePreset::Small, "", 13).await;
    load(&s).await;
    let truth = get_json(&format!("{}/__sim/truth", s.kustomer.url)).await;
    let records = count(&truth, "customers") + count(&truth, "companies");
    let bulk_posts: u64 = ["POST /v1/customers/bulk", "POST /v1/companies/bulk"]
        .iter()
        .map(|r| truth["requests"][r]["count"].as_u64().unwrap_or(0))
        .sum();
    let per_request = records as f64 / bulk_posts as f64;
    eprintln!(
        "records per bulk request: {per_request:.1} ({records} records / {bulk_posts} requests)"
    );
    assert!(per_request >= 90.0, "{per_request}");
    let throttled: u64 = truth["requests"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["throttled"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(throttled, 0);
}

/// Kustomer keeps one customer per externalId, so a customers batch whose answer was lost is sent
/// again at once rather than after the bulk patience and a lookup of every item. Whether the lost
/// request took effect (its answer garbled after the handler ran) or not (a 500 before it), every
/// contact ends done exactly once, as a customer i2k created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_customers_batch_is_sent_again_at_once_and_creates_each_customer_once() {
    for (seed, garble) in [(14, true), (15, false)] {
        let s = setup(SizePreset::Tiny, "", seed).await;
        common::sim_fail(
            &s.kustomer.url,
            Some(json!({
                "path": "/v1/customers/bulk", "method": "POST", "times": 1,
                "garble": garble, "status": if garble { 201 } else { 500 },
            })),
        )
        .await;
        let started = std::time::Instant::now();
        load(&s).await;
        eprintln!(
            "garble {garble}: companies and customers in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let source = get_json(&format!("{}/__sim/truth", s.intercom.url)).await;
        let truth = get_json(&format!("{}/__sim/truth", s.kustomer.url)).await;
        let contacts = count(&source, "contacts");
        assert_eq!(count(&truth, "customers"), contacts);
        assert_eq!(truth["duplicates"], json!({}), "{}", truth["duplicates"]);
        // The lost batch and the one that replaced it.
        let posts = truth["requests"]["POST /v1/customers/bulk"]["count"]
            .as_u64()
            .unwrap();
        assert_eq!(posts, 2, "{}", truth["requests"]);
        let c = s.ctx.ledger.counters().target("contacts");
        assert_eq!(
            (c.done, c.failed + c.pending + c.sent),
            (contacts, 0),
            "{c:?}"
        );
        let created = s.ctx.ledger.read(|r| r.created_count("contacts")).unwrap();
        assert_eq!(created, contacts, "garble {garble}");
    }
}
