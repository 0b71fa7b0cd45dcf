//! The knowledge base the help center goes to, on a Kustomer org with several (one per brand):
//! the real engine against both simulators over loopback HTTP (`tiny` workspace), checked
//! against the Kustomer simulator's stored categories and articles. Without a choice the run
//! refuses before loading anything; with the operator's saved decision, `--knowledge-base` or
//! the defaults, every category and article lands in that knowledge base.

mod common;

use std::path::Path;
use std::time::Duration;

use i2k::engine::context::EngineConfig;
use i2k::engine::decisions;
use i2k::engine::handle::RunOutcome;
use i2k::engine::report::{REPORT_JSON, Report};
use i2k::ledger::Ledger;
use i2k::sim::SizePreset;
use serde_json::{Value, json};

const OTHER_BRAND: &str = "Outdoors";

/// Both simulators, the Kustomer org with a second brand and its own knowledge base.
async fn two_brand_sims() -> common::Sims {
    common::sims_with(SizePreset::Tiny, |_, k| {
        k.extra_brands = vec![OTHER_BRAND.to_string()];
    })
    .await
}

/// The two-brand org, a fresh state directory and an engine configuration taking defaults.
async fn two_brand_run(name: &str) -> (common::Sims, std::path::PathBuf, EngineConfig) {
    let sims = two_brand_sims().await;
    let state = common::temp_state(name);
    let config = common::engine_config(&sims, state.clone());
    (sims, state, config)
}

/// The org's knowledge bases as the simulator stores them: `(id, name, default)`.
async fn knowledge_bases(sims: &common::Sims) -> Vec<(String, String, bool)> {
    common::records(&sims.kustomer.url, "knowledge_bases").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().to_string(),
                k["attributes"]["name"].as_str().unwrap().to_string(),
                k["attributes"]["default"] == json!(true),
            )
        })
        .collect()
}

async fn kb_id(sims: &common::Sims, default: bool) -> String {
    let all = knowledge_bases(sims).await;
    assert_eq!(all.len(), 2, "{all:?}");
    all.into_iter()
        .find(|(_, _, d)| *d == default)
        .map(|(id, ..)| id)
        .unwrap()
}

/// The categories and articles i2k created, each with the knowledge base(s) it is in.
async fn created_kb(sims: &common::Sims) -> (Vec<Value>, Vec<Value>) {
    let mine = |kind: &'static str| async move {
        common::records(&sims.kustomer.url, kind).await["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["seeded"] != json!(true))
            .cloned()
            .collect::<Vec<Value>>()
    };
    (mine("kb_categories").await, mine("kb_articles").await)
}

/// Asserts that the report's KB rows are complete and every created category and article is
/// in knowledge base `kb` (and only there).
async fn all_in(sims: &common::Sims, state: &Path, kb: &str) {
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(state.join(REPORT_JSON)).unwrap()).unwrap();
    let (categories, articles) = created_kb(sims).await;
    for (object, created) in [("collections", &categories), ("articles", &articles)] {
        let row = report.row(object).expect("a report row");
        assert!(row.source > 0, "{row:?}");
        assert_eq!(row.migrated, row.source, "{row:?}");
        assert_eq!(created.len() as u64, row.source, "{object}");
    }
    for c in &categories {
        assert_eq!(c["attributes"]["knowledgeBase"], json!(kb), "{c}");
    }
    for a in &articles {
        assert_eq!(
            a["attributes"]["knowledgeBases"],
            json!([{"id": kb, "featured": false}]),
            "{a}"
        );
        // The container as Kustomer's KB guide describes it: the title on its versions.
        assert!(a["attributes"].get("title").is_none(), "{a}");
        assert!(a["attributes"]["source"].is_string(), "{a}");
    }
    let truth = common::truth(&sims.kustomer.url).await;
    assert_eq!(truth["refused_fields"], json!([]));
}

/// The run's helpers drop their ledger handle just after it reports; wait for the lock.
async fn open_when_released(dir: &Path) -> Ledger {
    for _ in 0..100 {
        if let Ok(l) = Ledger::open(dir) {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ledger::open(dir).unwrap()
}

fn needs(outcome: &RunOutcome) -> Vec<String> {
    match outcome {
        RunOutcome::NeedsDecisions(lines) => lines.clone(),
        other => panic!("the run went ahead: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_choice_the_run_refuses_then_loads_into_the_saved_decision() {
    let (sims, state, mut config) = two_brand_run("kb-choice").await;
    let other = kb_id(&sims, false).await;
    config.accept_defaults = false;
    let lines = needs(&common::run_engine(config.clone()).await);
    let line = lines
        .iter()
        .find(|l| l.starts_with("prerequisite knowledge_base"))
        .unwrap_or_else(|| panic!("no knowledge-base line in {lines:#?}"));
    assert!(
        line.contains("2 knowledge bases") && line.contains(OTHER_BRAND),
        "{line}"
    );
    assert!(line.contains("--knowledge-base"), "{line}");
    let (categories, articles) = created_kb(&sims).await;
    assert!(
        categories.is_empty() && articles.is_empty(),
        "loaded before the choice"
    );

    // The operator chooses the other brand's knowledge base (as c on Prerequisites does).
    let ledger = open_when_released(&state).await;
    decisions::choose_knowledge_base(&ledger, &other, OTHER_BRAND)
        .await
        .unwrap();
    drop(ledger);
    let mapping = std::fs::read_to_string(state.join(decisions::MAPPING_FILE)).unwrap();
    assert!(
        mapping.contains(&format!("knowledge_base_id = \"{other}\"")),
        "{mapping}"
    );
    config.accept_defaults = true;
    let outcome = common::run_engine(config).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");
    all_in(&sims, &state, &other).await;
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(state.join(REPORT_JSON)).unwrap()).unwrap();
    assert!(
        report
            .decisions
            .iter()
            .any(|d| d.area == "knowledge base" && d.decision.contains(&other)),
        "{:?}",
        report.decisions
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_knowledge_base_flag_the_org_lacks_is_refused_even_with_the_defaults() {
    let (sims, _, mut config) = two_brand_run("kb-flag-bad").await;
    config.options.knowledge_base = Some("kb-nope".into());
    let lines = needs(&common::run_engine(config).await);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("--knowledge-base kb-nope names no knowledge base of this org"),
        "{}",
        lines[0]
    );
    let (categories, articles) = created_kb(&sims).await;
    assert!(categories.is_empty() && articles.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flag_binds_to_its_knowledge_base_and_the_defaults_take_the_default_one() {
    let (sims, state, mut config) = two_brand_run("kb-flag").await;
    let other = kb_id(&sims, false).await;
    config.options.knowledge_base = Some(other.clone());
    let outcome = common::run_engine(config).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");
    all_in(&sims, &state, &other).await;

    let (sims, state, config) = two_brand_run("kb-defaults").await;
    let default = kb_id(&sims, true).await;
    let outcome = common::run_engine(config).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");
    all_in(&sims, &state, &default).await;
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(state.join(REPORT_JSON)).unwrap()).unwrap();
    let taken: Vec<&String> = report
        .runs
        .iter()
        .flat_map(|r| r.defaults_taken.iter())
        .collect();
    assert!(
        taken.iter().any(|d| d.contains("default knowledge base")),
        "{taken:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_keeps_categories_and_articles_inside_one_knowledge_base() {
    let sims = two_brand_sims().await;
    let (default, other) = (kb_id(&sims, true).await, kb_id(&sims, false).await);
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", sims.kustomer.url))
            .bearer_auth(&sims.kustomer.token)
            .json(&body)
            .send()
    };
    let category: Value = post(
        "/v1/kb/categories",
        json!({"title": "Tents", "knowledgeBase": other}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let category_id = category["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        category["data"]["attributes"]["knowledgeBase"],
        json!(other)
    );
    // Unbound: the default knowledge base; a parent elsewhere is refused.
    let unbound: Value = post("/v1/kb/categories", json!({"title": "Billing"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        unbound["data"]["attributes"]["knowledgeBase"],
        json!(default)
    );
    let nested = post(
        "/v1/kb/categories",
        json!({"title": "Poles", "parent": category_id, "knowledgeBase": default}),
    )
    .await
    .unwrap();
    assert_eq!(nested.status().as_u16(), 400);
    // An article in the default knowledge base cannot sit in the other one's category.
    let stray = post(
        "/v1/kb/articles",
        json!({"categories": [category_id], "source": "en_us"}),
    )
    .await
    .unwrap();
    assert_eq!(stray.status().as_u16(), 400);
    let placed = post(
        "/v1/kb/articles",
        json!({"categories": [category_id], "knowledgeBases": [{"id": other, "featured": false}], "source": "en_us"}),
    )
    .await
    .unwrap();
    assert_eq!(placed.status().as_u16(), 201);
    // The strict simulator refuses the article fields Kustomer's KB guide puts elsewhere.
    for field in ["title", "lang"] {
        let refused = post("/v1/kb/articles", json!({ field: "x" }))
            .await
            .unwrap();
        assert_eq!(refused.status().as_u16(), 400, "{field}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["source"]["pointer"],
            format!("/{field}"),
            "{body}"
        );
    }
}
