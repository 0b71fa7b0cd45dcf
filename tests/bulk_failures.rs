//! Failed bulk items keep their own exchange: the Errors screen opens each with the request that
//! carried it (the bulk route, its `_clientRef`, its body), the item's result as the job reported
//! it, and the reason. Against both simulators over loopback; the Kustomer simulator refuses
//! items through its own validation (an `…Id` custom attribute without metadata, an unknown klass).

mod common;

use common::people::{Setup, setup};
use i2k::engine::load::{companies, customers};
use i2k::engine::model::{ErrorClass, FieldDecision, FieldMapping};
use i2k::engine::write::{self, BulkWrite, Outcome};
use i2k::kustomer::BulkResource;
use i2k::ledger::FailureRecord;
use i2k::sim::SizePreset;
use serde_json::{Value, json};

/// What the simulator says of an `…Id` custom attribute no metadata describes.
const NO_METADATA: &str = "is an Id attribute without metadata";

/// Makes the operator carry the (invented) Intercom attribute `planCode` of `model` as the
/// `planCodeId` attribute, which Kustomer refuses without metadata.
async fn decide_id_attribute(s: &Setup, model: &str) {
    let mapping = FieldMapping {
        model: model.into(),
        source_name: "planCode".into(),
        source_type: "string".into(),
        proposed: Some("planCodeId".into()),
        decision: FieldDecision::Attribute {
            name: "planCodeId".into(),
        },
        note: String::new(),
    };
    s.ctx
        .ledger
        .put_decision(
            &format!("field:{model}:planCode"),
            &serde_json::to_value(&mapping).unwrap(),
        )
        .await
        .unwrap();
}

/// Gives the first extracted record of `kind` a `planCode` custom attribute holding the Kustomer
/// API key (so the refused item's body carries the secret); returns its id.
async fn poison_first(s: &Setup, kind: &str) -> String {
    let mut record = s
        .ctx
        .ledger
        .read(|r| r.sources_page(kind, None, 1))
        .unwrap()
        .remove(0);
    let mut raw: Value = serde_json::from_str(&record.raw).unwrap();
    raw["custom_attributes"]["planCode"] = json!(s.kustomer.token);
    record.raw = raw.to_string();
    let id = record.source_id.clone();
    s.ctx.ledger.put_sources(vec![record]).await.unwrap();
    id
}

fn failure(s: &Setup, kind: &str, id: &str) -> FailureRecord {
    s.ctx
        .ledger
        .read(|r| r.failure_detail(kind, id))
        .unwrap()
        .unwrap_or_else(|| panic!("{kind} {id} is not failed"))
}

fn assert_no_secret(s: &Setup, f: &FailureRecord) {
    for secret in [&s.kustomer.token, &s.intercom.token] {
        assert!(!f.request.contains(secret.as_str()), "{}", f.request);
        assert!(!f.response.contains(secret.as_str()), "{}", f.response);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_bulk_item_is_recorded_with_its_request_and_the_jobs_answer() {
    let s = setup(SizePreset::Tiny, "", 31).await;
    decide_id_attribute(&s, "company").await;
    decide_id_attribute(&s, "contact").await;
    let company = poison_first(&s, "companies").await;
    let contact = poison_first(&s, "contacts").await;
    companies::run(&s.ctx).await.unwrap();
    customers::run(&s.ctx).await.unwrap();
    s.ctx.ledger.flush().await.unwrap();

    for (kind, id, route) in [
        ("companies", &company, "POST "),
        ("contacts", &contact, "POST "),
    ] {
        let f = failure(&s, kind, id);
        let path = if kind == "companies" {
            "/v1/companies/bulk item "
        } else {
            "/v1/customers/bulk item "
        };
        assert_eq!(f.failure.class, ErrorClass::Rejected);
        assert!(f.failure.message.contains(NO_METADATA), "{f:?}");
        assert!(
            f.request.starts_with(route) && f.request.contains(path),
            "{}",
            f.request
        );
        assert!(
            f.request.contains(&format!("\"externalId\":\"{id}\"")),
            "{}",
            f.request
        );
        assert!(f.request.contains("[redacted]"), "{}", f.request);
        assert!(f.response.contains("/batches"), "{}", f.response);
        assert!(f.response.contains(NO_METADATA), "{}", f.response);
        assert!(
            f.response.contains("\"status\":\"error\""),
            "{}",
            f.response
        );
        assert_no_secret(&s, &f);
    }
    // Only the refused items failed.
    let counters = s.ctx.ledger.counters();
    assert_eq!(counters.target("companies").failed, 1);
    assert_eq!(counters.target("contacts").failed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_left_sent_and_refused_by_its_job_is_recorded_when_recovered() {
    let s = setup(SizePreset::Tiny, "", 32).await;
    companies::run(&s.ctx).await.unwrap();
    let ledger = &s.ctx.ledger;
    let contact = ledger
        .read(|r| r.sources_page("contacts", None, 1))
        .unwrap()
        .remove(0)
        .source_id;
    // An earlier attempt sent it and crashed once the job id was recorded.
    ledger
        .ensure_pending_from_sources("contacts", "contacts")
        .await
        .unwrap();
    let batch = write::new_batch_id();
    ledger
        .mark_sent("contacts", vec![contact.clone()], Some(&batch))
        .await
        .unwrap();
    let body = json!({
        "externalId": contact,
        "name": "left sent",
        "custom": {"planCodeId": s.kustomer.token},
    });
    let job = s
        .ctx
        .kustomer
        .bulk_create(
            BulkResource::Customers,
            vec![(write::client_ref(&batch, &contact), body)],
        )
        .await
        .unwrap();
    ledger.record_job(&batch, &job.id).unwrap();
    ledger.flush().await.unwrap();

    customers::run(&s.ctx).await.unwrap();
    ledger.flush().await.unwrap();

    let f = failure(&s, "contacts", &contact);
    assert!(f.failure.message.contains(NO_METADATA), "{f:?}");
    assert!(
        f.request.starts_with("POST ")
            && f.request.contains("/v1/customers/bulk item ")
            && f.request.contains(&write::client_ref(&batch, &contact)),
        "{}",
        f.request
    );
    assert!(
        f.response.contains(&format!("/v1/bulk/{}/batches", job.id)),
        "{}",
        f.response
    );
    assert!(f.response.contains(NO_METADATA), "{}", f.response);
    assert_no_secret(&s, &f);
    assert_eq!(ledger.counters().target("contacts").failed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_on_submit_gives_every_item_the_submits_exchange() {
    let s = setup(SizePreset::Tiny, "", 33).await;
    let ledger = &s.ctx.ledger;
    let kind = "bulk_failure_probe";
    let ids: Vec<String> = ["p1", "p2"].map(String::from).to_vec();
    ledger.ensure_pending(kind, ids.clone()).await.unwrap();
    let resource = BulkResource::KObjects("noSuchKlass".into());
    let items: Vec<(String, Value)> = ids
        .iter()
        .map(|id| {
            (
                id.clone(),
                json!({"externalId": id, "title": s.kustomer.token}),
            )
        })
        .collect();
    let bulk = BulkWrite::new(&s.ctx, kind, resource, false, |_id| async { Ok(None) });
    let outcomes = write::create_bulk(ledger, &bulk, items).await.unwrap();
    ledger.flush().await.unwrap();
    for id in &ids {
        assert_eq!(outcomes[id], Outcome::Failed);
        let f = failure(&s, kind, id);
        assert!(
            f.request.starts_with("POST ")
                && f.request.contains("/v1/klasses/noSuchKlass/bulk")
                && f.request.contains(&format!("\"externalId\":\"{id}\"")),
            "{}",
            f.request
        );
        assert!(
            f.response.contains("no klass named noSuchKlass"),
            "{}",
            f.response
        );
        assert!(f.failure.message.contains("HTTP 404"), "{f:?}");
        assert_no_secret(&s, &f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_too_large_for_the_server_is_split_until_only_the_item_at_fault_fails() {
    let s = setup(SizePreset::Tiny, "", 34).await;
    let ledger = &s.ctx.ledger;
    let kind = "companies_split_probe";
    let ids: Vec<String> = (0..9).map(|i| format!("split-{i}")).collect();
    ledger.ensure_pending(kind, ids.clone()).await.unwrap();
    let resource = BulkResource::Companies;
    // Item 5 alone is over the simulator's 2 MB body limit; nothing fits it first here.
    let items: Vec<(String, Value)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let name = if i == 5 {
                "x".repeat(3 * 1024 * 1024)
            } else {
                format!("Company {id}")
            };
            (id.clone(), json!({"externalId": id, "name": name}))
        })
        .collect();
    let bulk = BulkWrite::new(&s.ctx, kind, resource, false, |_id| async { Ok(None) });
    let outcomes = write::create_bulk(ledger, &bulk, items).await.unwrap();
    ledger.flush().await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        if i == 5 {
            assert_eq!(outcomes[id], Outcome::Failed, "{id}");
            let f = failure(&s, kind, id);
            assert_eq!(f.failure.class, ErrorClass::Rejected);
            assert!(f.failure.message.contains("HTTP 413"), "{f:?}");
        } else {
            assert!(
                matches!(outcomes[id], Outcome::Done(_)),
                "{id} failed with its neighbour: {:?}",
                outcomes[id]
            );
        }
    }
    let counts = ledger.counters().target(kind);
    assert_eq!((counts.done, counts.failed), (8, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_too_large_for_a_request_has_its_text_cut_and_one_without_text_fails_alone() {
    let s = setup(SizePreset::Tiny, "", 35).await;
    let ledger = &s.ctx.ledger;
    let kind = "fit_probe";
    let ids: Vec<String> = ["small", "huge-html", "huge-list", "after"]
        .map(String::from)
        .to_vec();
    ledger.ensure_pending(kind, ids.clone()).await.unwrap();
    let cap = 20_000;
    let items = vec![
        ("small".to_string(), json!({"externalId": "small"})),
        (
            "huge-html".to_string(),
            json!({"externalId": "huge-html", "meta": {"htmlBody": format!("<p>{}</p>", "ü".repeat(30_000))}}),
        ),
        (
            "huge-list".to_string(),
            json!({"externalId": "huge-list", "n": (0..10_000).collect::<Vec<u32>>()}),
        ),
        ("after".to_string(), json!({"externalId": "after"})),
    ];
    let requests = write::bulk_requests(ledger, kind, items, cap).unwrap();
    ledger.flush().await.unwrap();
    let sent: Vec<Vec<&str>> = requests
        .iter()
        .map(|r| r.iter().map(|(id, _)| id.as_str()).collect())
        .collect();
    // The cut item fills a request of its own; its neighbours go on either side.
    assert_eq!(sent, vec![vec!["small"], vec!["huge-html"], vec!["after"]]);
    for request in &requests {
        let bytes: usize = request
            .iter()
            .map(|(_, b)| {
                serde_json::to_vec(b).unwrap().len() + i2k::kustomer::bulk::ITEM_OVERHEAD_BYTES
            })
            .sum();
        assert!(bytes + 2 <= cap, "{bytes}");
    }
    let html = requests[1][0].1["meta"]["htmlBody"].as_str().unwrap();
    assert!(html.starts_with("<p>üü"));
    assert!(html.ends_with(i2k::mapping::clean::CUT_MARKER));
    let warnings = ledger.read(|r| r.warnings(0, 100)).unwrap();
    let on = |id: &str| -> Vec<String> {
        warnings
            .iter()
            .filter(|w| w.kind == kind && w.source_id.as_deref() == Some(id))
            .map(|w| w.message.clone())
            .collect()
    };
    let cut = on("huge-html");
    assert_eq!(cut.len(), 1, "{warnings:?}");
    assert!(
        cut[0].starts_with("meta.htmlBody of 60007 bytes cut to"),
        "{cut:?}"
    );
    assert!(cut[0].contains(i2k::mapping::clean::FULL_VALUE_NOTE));
    let f = failure(&s, kind, "huge-list");
    assert_eq!(f.failure.class, ErrorClass::Rejected);
    assert!(
        f.failure.message.contains("no text long enough to cut"),
        "{f:?}"
    );
    assert!(f.failure.message.contains("cap of 19723 bytes"), "{f:?}");
    let counts = ledger.counters().target(kind);
    assert_eq!(counts.failed, 1);
}
