//! The phases' own test setup, shared by `load_people`, `verify` and `bulk_failures`: both
//! simulators on loopback, the Intercom workspace extracted into a fresh ledger, and a run
//! context over both, for tests that drive one phase rather than the whole engine.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use i2k::engine::context::{Ctx, EngineConfig, LoadOptions};
use i2k::engine::control::Control;
use i2k::engine::extract::{ExtractOptions, extract};
use i2k::engine::model::{FieldDecision, FieldMapping};
use i2k::http::{ApiClient, ApiSide, ClientConfig, GateConfig, RateGate, Secret};
use i2k::intercom::IntercomClient;
use i2k::kustomer::KustomerClient;
use i2k::ledger::Ledger;
use i2k::sim::faults::FaultSpec;
use i2k::sim::{SimHandle, SizePreset, intercom, kustomer};
use serde_json::Value;

pub struct Setup {
    pub intercom: SimHandle,
    pub kustomer: SimHandle,
    pub ctx: Arc<Ctx>,
    pub dir: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Kustomer client whose requests time out after 2 s (the simulator's injected hang is 3 s).
pub fn kustomer_client(url: &str, token: &str) -> KustomerClient {
    let mut config = ClientConfig::new(ApiSide::Kustomer, url, Secret::new(token));
    config.timeout = Duration::from_secs(2);
    config.backoff_base = Duration::from_millis(50);
    config.backoff_max = Duration::from_millis(500);
    let gate = RateGate::new(GateConfig::kustomer(1000, 0.9));
    KustomerClient::new(ApiClient::new(config, gate).unwrap())
}

pub async fn setup(size: SizePreset, kustomer_faults: &str, seed: u64) -> Setup {
    let loopback = "127.0.0.1:0".parse().unwrap();
    let intercom_sim = intercom::spawn(intercom::Config::new(seed, size), loopback)
        .await
        .unwrap();
    let mut kconfig = kustomer::Config::new(seed, intercom::admin_identities(seed, size));
    kconfig.bulk_delay_max = Duration::from_millis(200);
    kconfig.fault_hang = Duration::from_secs(3);
    kconfig.faults = FaultSpec::parse(kustomer_faults).unwrap();
    let kustomer_sim = kustomer::spawn(kconfig, loopback).await.unwrap();

    let dir = super::temp_state("people");
    let ledger = Ledger::open(&dir).unwrap();
    let intercom_client = IntercomClient::connect(
        &intercom_sim.url,
        Secret::new(intercom_sim.token.clone()),
        1667,
    )
    .unwrap();
    extract(
        &intercom_client,
        &ledger,
        &ExtractOptions::for_state_dir(&dir),
        &Control::new(),
        None,
    )
    .await
    .unwrap();
    let config = EngineConfig {
        state_dir: dir.clone(),
        intercom_url: intercom_sim.url.clone(),
        intercom_token: Secret::new(intercom_sim.token.clone()),
        kustomer_url: kustomer_sim.url.clone(),
        kustomer_token: Secret::new(kustomer_sim.token.clone()),
        kustomer_rate: 1000,
        rate_share: 0.9,
        only: Vec::new(),
        accept_defaults: true,
        workflow_ids: Vec::new(),
        options: LoadOptions::default(),
    };
    let (events, _) = tokio::sync::mpsc::unbounded_channel();
    let ctx = Ctx::new(
        config,
        ledger,
        intercom_client,
        kustomer_client(&kustomer_sim.url, &kustomer_sim.token),
        events,
    );
    ctx.mark_extracted(&i2k::engine::model::OBJECT_TYPES);
    Setup {
        intercom: intercom_sim,
        kustomer: kustomer_sim,
        ctx: Arc::new(ctx),
        dir,
    }
}

impl Setup {
    /// The extracted Intercom record of `kind` with `id`.
    pub fn source(&self, kind: &str, id: &str) -> Value {
        let record = self
            .ctx
            .ledger
            .read(|r| r.source(kind, id))
            .unwrap()
            .unwrap();
        serde_json::from_str(&record.raw).unwrap()
    }

    /// Decides (as the operator would) to carry the first custom string attribute of contacts
    /// as `<camelCase>Str`; returns `(intercom name, kustomer name)`.
    pub async fn first_contact_attribute(&self) -> Option<(String, String)> {
        let page = self
            .ctx
            .ledger
            .read(|r| r.sources_page("data_attributes", None, 500))
            .unwrap();
        let attr = page.iter().find_map(|rec| {
            let v: Value = serde_json::from_str(&rec.raw).ok()?;
            (v["model"] == "contact" && v["custom"] == true && v["data_type"] == "string")
                .then(|| v["name"].as_str().map(str::to_string))?
        })?;
        let kustomer_name = format!("{}Str", i2k::mapping::names::camel_case(&attr));
        let mapping = FieldMapping {
            model: "contact".into(),
            source_name: attr.clone(),
            source_type: "string".into(),
            proposed: Some(kustomer_name.clone()),
            decision: FieldDecision::Attribute {
                name: kustomer_name.clone(),
            },
            note: String::new(),
        };
        self.ctx
            .ledger
            .put_decision(
                &format!("field:contact:{attr}"),
                &serde_json::to_value(&mapping).unwrap(),
            )
            .await
            .unwrap();
        Some((attr, kustomer_name))
    }
}

pub async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Every POST the Kustomer simulator received, by its ground truth.
pub fn post_count(truth: &Value) -> u64 {
    truth["requests"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(route, _)| route.starts_with("POST "))
        .map(|(_, s)| s["count"].as_u64().unwrap_or(0))
        .sum()
}
