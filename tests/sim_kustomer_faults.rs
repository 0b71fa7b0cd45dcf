//! Injected faults on the Kustomer simulator, over real HTTP: lost answers to writes that took
//! effect, malformed bodies, injected 429s and 5xx, and the `/__sim/` routes untouched by them.

use std::time::Duration;

use futures_util::future::join_all;
use i2k::sim::SimHandle;
use i2k::sim::faults::FaultSpec;
use i2k::sim::kustomer::{self, Config};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start(faults: &str, hang: Duration) -> SimHandle {
    let mut config = Config::new(11, vec![("Ada".into(), "ada@acme.example".into())]);
    config.faults = FaultSpec::parse(faults).unwrap();
    config.fault_hang = hang;
    kustomer::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn stored_external_ids(sim: &SimHandle, kind: &str) -> Vec<String> {
    let body: Value = reqwest::get(format!("{}/__sim/records/{kind}", sim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["attributes"]["externalId"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_reset_after_the_write_loses_the_answer_but_the_customer_exists() {
    let sim = start("kustomer.reset=1.0", Duration::from_secs(1)).await;
    let http = reqwest::Client::new();
    let sends = (0..12).map(|i| {
        http.post(format!("{}/v1/customers", sim.url))
            .bearer_auth(&sim.token)
            .json(&json!({"name": "Lost", "externalId": format!("r{i}")}))
            .send()
    });
    let mut answered = 0;
    for outcome in join_all(sends).await {
        if let Ok(resp) = outcome
            && resp.text().await.is_ok()
        {
            answered += 1;
        }
    }
    assert_eq!(answered, 0, "every answer was cut off");
    let stored = stored_external_ids(&sim, "customers").await;
    assert!(
        !stored.is_empty(),
        "some writes took effect although no answer came back"
    );
    assert!(stored.len() < 12, "and some resets struck before the write");
    let truth: Value = reqwest::get(format!("{}/__sim/truth", sim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(truth["counts"]["customers"], stored.len());
}

#[tokio::test]
async fn a_timeout_after_the_write_leaves_a_record_the_client_never_heard_about() {
    let sim = start("kustomer.timeout=1.0", Duration::from_secs(3)).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let sends = (0..8).map(|i| {
        http.post(format!("{}/v1/companies", sim.url))
            .bearer_auth(&sim.token)
            .json(&json!({"name": "Slow Co", "externalId": format!("t{i}")}))
            .send()
    });
    let outcomes = join_all(sends).await;
    assert!(
        outcomes
            .iter()
            .all(|o| o.as_ref().is_err_and(reqwest::Error::is_timeout))
    );
    let stored = stored_external_ids(&sim, "companies").await;
    assert!(!stored.is_empty() && stored.len() < 8, "{stored:?}");
}

#[tokio::test]
async fn a_malformed_answer_keeps_its_status_but_its_body_is_not_json() {
    let sim = start("kustomer.malformed=1.0", Duration::from_secs(1)).await;
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/users/current", sim.url))
        .bearer_auth(&sim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(!text.is_empty());
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn injected_429s_and_5xx_refuse_without_writing() {
    for (spec, status) in [
        ("kustomer.429=1.0", StatusCode::TOO_MANY_REQUESTS),
        ("5xx=1.0", StatusCode::INTERNAL_SERVER_ERROR),
    ] {
        let sim = start(spec, Duration::from_secs(1)).await;
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/customers", sim.url))
            .bearer_auth(&sim.token)
            .json(&json!({"name": "Never", "externalId": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{spec}");
        assert!(resp.headers().contains_key("x-ratelimit-remaining"));
        let body: Value = resp.json().await.unwrap();
        assert!(body["errors"][0]["code"].is_string());
        assert!(
            stored_external_ids(&sim, "customers").await.is_empty(),
            "{spec}"
        );
        let truth: Value = reqwest::get(format!("{}/__sim/truth", sim.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let throttled = truth["requests"]["POST /v1/customers"]["throttled"]
            .as_u64()
            .unwrap();
        assert_eq!(
            throttled,
            u64::from(status == StatusCode::TOO_MANY_REQUESTS)
        );
    }
}

#[tokio::test]
async fn intercom_only_faults_leave_the_kustomer_side_alone() {
    let sim = start("intercom.5xx=1.0", Duration::from_secs(1)).await;
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/customers", sim.url))
        .bearer_auth(&sim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn latency_delays_api_answers_but_not_the_ground_truth() {
    let mut config = Config::new(11, vec![]);
    config.latency = Duration::from_millis(250);
    let sim = kustomer::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let resp = http
        .get(format!("{}/v1/customers", sim.url))
        .bearer_auth(&sim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let started = std::time::Instant::now();
    let truth: Value = http
        .get(format!("{}/__sim/truth", sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(250));
    assert!(
        truth["requests"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains("__sim"))
    );
    assert_eq!(truth["requests"]["GET /v1/customers"]["count"], 1);
}
