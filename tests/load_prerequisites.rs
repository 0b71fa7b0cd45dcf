//! Phases 0–2 (prerequisites, users & teams, attribute metadata) and the decisions before them,
//! driven through the real engine against both simulators over loopback HTTP (tiny preset):
//! admins matched by e-mail, the undecided ones stopping a run, `--accept-defaults` mapping them
//! to the key's own user without inviting anyone, teams with members, klasses per ticket type,
//! metadata with suffixed names and enumerations, and a second run that creates nothing.

use std::path::PathBuf;

use i2k::engine::context::{EngineConfig, LoadOptions};
use i2k::engine::decisions::{MAPPING_FILE, admin_mappings};
use i2k::engine::handle::RunOutcome;
use i2k::engine::model::{AdminDecision, CheckStatus};
use i2k::http::Secret;
use i2k::intercom::IntercomClient;
use i2k::intercom::endpoints::WholeList;
use i2k::ledger::{Ledger, SourceRecord};
use i2k::sim::{SimHandle, SizePreset};
use serde_json::Value;

const SEED: u64 = 7;
const PHASE_TYPES: [&str; 7] = [
    "admins",
    "teams",
    "data_attributes",
    "conversation_attributes",
    "brands",
    "office_hours_schedules",
    "ticket_types",
];

struct Sims {
    intercom: SimHandle,
    kustomer: SimHandle,
}

async fn sims() -> Sims {
    let addr = "127.0.0.1:0".parse().unwrap();
    let intercom = i2k::sim::intercom::spawn(
        i2k::sim::intercom::Config::new(SEED, SizePreset::Tiny),
        addr,
    )
    .await
    .unwrap();
    let agents = i2k::sim::intercom::admin_identities(SEED, SizePreset::Tiny);
    let mut kconfig = i2k::sim::kustomer::Config::new(SEED, agents);
    kconfig.bulk_delay_max = std::time::Duration::from_millis(50);
    let kustomer = i2k::sim::kustomer::spawn(kconfig, addr).await.unwrap();
    Sims { intercom, kustomer }
}

fn temp_state(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("i2k-p1-{name}-{}-{nanos}", std::process::id()))
}

fn config(s: &Sims, state_dir: &std::path::Path, accept_defaults: bool) -> EngineConfig {
    EngineConfig {
        state_dir: state_dir.to_path_buf(),
        intercom_url: s.intercom.url.clone(),
        intercom_token: Secret::new(s.intercom.token.clone()),
        kustomer_url: s.kustomer.url.clone(),
        kustomer_token: Secret::new(s.kustomer.token.clone()),
        kustomer_rate: 1000,
        rate_share: 1.0,
        only: PHASE_TYPES.iter().map(|t| t.to_string()).collect(),
        accept_defaults,
        workflow_ids: Vec::new(),
        options: LoadOptions::default(),
    }
}

/// Stages what the phases read, as extraction would (until extraction is wired to the runner).
async fn stage(s: &Sims, state_dir: &std::path::Path, with_unmappable: bool) {
    let client =
        IntercomClient::connect(&s.intercom.url, Secret::new(s.intercom.token.clone()), 166)
            .unwrap();
    let ledger = Ledger::open(state_dir).unwrap();
    let lists = [
        (WholeList::Admins, "admins"),
        (WholeList::Teams, "teams"),
        (WholeList::Segments, "segments"),
        (WholeList::ContactAttributes, "data_attributes"),
        (WholeList::CompanyAttributes, "data_attributes"),
        (WholeList::ConversationAttributes, "conversation_attributes"),
        (WholeList::TicketTypes, "ticket_types"),
        (WholeList::Brands, "brands"),
        (WholeList::OfficeHoursSchedules, "office_hours_schedules"),
    ];
    for (list, kind) in lists {
        let records = client
            .whole_list(list)
            .await
            .unwrap()
            .into_iter()
            .map(|v| {
                let id = match v.get("id").filter(|i| !i.is_null()) {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => format!(
                        "{}:{}",
                        v["model"].as_str().unwrap_or(""),
                        v["name"].as_str().unwrap()
                    ),
                };
                SourceRecord {
                    kind: kind.to_string(),
                    source_id: id,
                    parent_id: None,
                    updated_at: None,
                    raw: v.to_string(),
                    problem: None,
                }
            })
            .collect();
        ledger.put_sources(records).await.unwrap();
    }
    if with_unmappable {
        // A relationship attribute (the tiny workspace has none): no Kustomer type fits it.
        let raw = serde_json::json!({"type": "conversation_attribute", "id": 999,
            "name": "linked_order", "data_type": "relationship", "archived": false});
        let record = SourceRecord {
            kind: "conversation_attributes".into(),
            source_id: "999".into(),
            parent_id: None,
            updated_at: None,
            raw: raw.to_string(),
            problem: None,
        };
        ledger.put_sources(vec![record]).await.unwrap();
    }
    ledger.flush().await.unwrap();
}

async fn get(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn truth(s: &Sims) -> Value {
    get(format!("{}/__sim/truth", s.kustomer.url)).await
}

async fn records(s: &Sims, kind: &str) -> Vec<Value> {
    get(format!("{}/__sim/records/{kind}", s.kustomer.url)).await["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn run(s: &Sims, dir: &std::path::Path, accept_defaults: bool) -> RunOutcome {
    let handle = i2k::engine::runner::start(config(s, dir, accept_defaults))
        .await
        .unwrap();
    handle.wait().await.unwrap()
}

#[tokio::test]
async fn undecided_admins_stop_the_run_and_defaults_load_prerequisites_users_and_metadata() {
    let s = sims().await;
    let dir = temp_state("defaults");
    stage(&s, &dir, true).await;

    // Without --accept-defaults: nothing is loaded, the undecided admins are listed.
    let RunOutcome::NeedsDecisions(lines) = run(&s, &dir, false).await else {
        panic!("a run with undecided admins must stop before loading");
    };
    let admin_lines = lines.iter().filter(|l| l.starts_with("admin ")).count();
    // The Kustomer sim seeds admin 1 missing and admin 2 under another e-mail.
    assert!(admin_lines >= 2, "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with("prerequisite klasses")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("\"linked_order\"")),
        "{lines:#?}"
    );
    let mapping = std::fs::read_to_string(dir.join(MAPPING_FILE)).unwrap();
    assert!(mapping.contains("# UNRESOLVED"), "{mapping}");
    let before = truth(&s).await;
    assert_eq!(before["counts"]["teams"], 0);
    assert_eq!(before["counts"]["klasses"], 0);

    // With it: defaults taken, everything of phases 0–2 loaded, nobody invited.
    let RunOutcome::Completed(summary) = run(&s, &dir, true).await else {
        panic!("a run with --accept-defaults must load");
    };
    assert!(summary.defaults_taken.len() >= admin_lines, "{summary:#?}");
    let after = truth(&s).await;
    assert_eq!(after["invitations"], 0);

    let ledger = Ledger::open(&dir).unwrap();
    let users = records(&s, "users").await;
    let machine = users
        .iter()
        .find(|u| u["attributes"]["userType"] == "machine")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let admins = admin_mappings(&ledger).await.unwrap();
    let mut fallbacks = 0;
    for a in &admins {
        let target = ledger.target_id("admins", &a.admin_id).unwrap().unwrap();
        match &a.decision {
            AdminDecision::User { user_id, email } => {
                assert_eq!(&target, user_id);
                assert!(email.eq_ignore_ascii_case(&a.email), "matched by e-mail");
            }
            AdminDecision::Fallback => {
                fallbacks += 1;
                assert_eq!(target, machine, "fallback is the key's own user");
            }
            other => panic!("unexpected decision {other:?}"),
        }
    }
    assert_eq!(fallbacks, admin_lines);

    // Teams created with their mapped members.
    let intercom_teams = ledger.read(|r| r.sources_page("teams", None, 100)).unwrap();
    assert_eq!(after["counts"]["teams"], intercom_teams.len() as u64);
    let teams = records(&s, "teams").await;
    assert!(
        teams.iter().any(|t| t["attributes"]["members"]
            .as_array()
            .is_some_and(|m| !m.is_empty())),
        "{teams:#?}"
    );
    for t in &teams {
        for m in t["attributes"]["members"].as_array().unwrap() {
            assert_ne!(m.as_str(), Some(machine.as_str()));
        }
    }

    // One klass per ticket type plus intercom_note.
    let ticket_types = ledger
        .read(|r| r.sources_page("ticket_types", None, 100))
        .unwrap();
    assert_eq!(after["counts"]["klasses"], ticket_types.len() as u64 + 1);
    let klasses = records(&s, "klasses").await;
    assert!(
        klasses
            .iter()
            .any(|k| k["attributes"]["name"] == "intercom_note")
    );
    for tt in &ticket_types {
        let name = format!("intercom_ticket_{}", tt.source_id);
        assert!(
            klasses
                .iter()
                .any(|k| k["attributes"]["name"] == name.as_str()),
            "{name}"
        );
    }

    // Metadata: suffixed camelCase names, options as enumerations, the unmappable archived.
    let metadata = get(format!(
        "{}/__sim/records/metadata_properties",
        s.kustomer.url
    ))
    .await;
    let mut declared = 0;
    for resource in ["customer", "company", "conversation"] {
        let props = metadata["data"][resource]["properties"]
            .as_object()
            .unwrap();
        assert!(!props.is_empty(), "no {resource} attributes declared");
        for name in props.keys() {
            declared += 1;
            assert!(
                ["Str", "Txt", "Num", "At", "Bool", "Url"]
                    .iter()
                    .any(|s| name.ends_with(s)),
                "{name}"
            );
            assert!(name.chars().next().unwrap().is_ascii_lowercase(), "{name}");
        }
    }
    assert!(
        ["customer", "company", "conversation"]
            .iter()
            .any(|r| metadata["data"][r]["properties"]
                .as_object()
                .unwrap()
                .values()
                .any(|p| p["enumeration"].as_array().is_some_and(|e| !e.is_empty()))),
        "options become enumerations"
    );
    let conversation = metadata["data"]["conversation"]["properties"]
        .as_object()
        .unwrap();
    assert!(
        conversation.keys().any(|k| k.ends_with("Txt")),
        "multi-line string attributes become …Txt: {conversation:#?}"
    );
    let archived = ledger.read(|r| r.archive_entries(0, 1000)).unwrap();
    assert!(
        archived
            .iter()
            .any(|a| a.kind == "conversation_attributes" && a.source_id == "999"),
        "relationship/files attributes go to the archive: {archived:#?}"
    );
    let counts = ledger.counters();
    for kind in [
        "data_attributes",
        "conversation_attributes",
        "admins",
        "teams",
    ] {
        let c = counts.target(kind);
        assert_eq!(c.pending + c.sent + c.failed, 0, "{kind}: {c:?}");
    }
    assert_eq!(
        counts.target("data_attributes").done + counts.target("conversation_attributes").done,
        declared
    );

    // The checks now say what i2k created.
    drop(ledger);
    let checks = prerequisite_checks_of(&s, &dir).await;
    for name in ["klasses", "teams"] {
        let c = checks.iter().find(|c| c.name == name).unwrap();
        assert_eq!(c.status, CheckStatus::Created, "{c:?}");
    }
    let users_check = checks.iter().find(|c| c.name == "users").unwrap();
    assert_eq!(users_check.status, CheckStatus::Pass, "{users_check:?}");
    assert!(
        checks
            .iter()
            .any(|c| c.name == "workflows" && c.status == CheckStatus::Warn)
    );

    // A second run creates nothing.
    let RunOutcome::Completed(_) = run(&s, &dir, true).await else {
        panic!("second run");
    };
    let again = truth(&s).await;
    assert_eq!(again["counts"], after["counts"]);
    assert_eq!(again["invitations"], 0);
}

/// Prerequisite checks through a context of their own (as the console computes them).
async fn prerequisite_checks_of(
    s: &Sims,
    dir: &std::path::Path,
) -> Vec<i2k::engine::model::PrereqCheck> {
    let cfg = config(s, dir, true);
    let ledger = Ledger::open(dir).unwrap();
    let intercom =
        IntercomClient::connect(&cfg.intercom_url, cfg.intercom_token.clone(), 166).unwrap();
    let kustomer = i2k::kustomer::KustomerClient::connect(
        &cfg.kustomer_url,
        cfg.kustomer_token.clone(),
        1000,
        1.0,
    )
    .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = i2k::engine::context::Ctx::new(cfg, ledger, intercom, kustomer, tx);
    i2k::engine::decisions::prerequisite_checks(&ctx).await
}

#[tokio::test]
async fn an_edited_mapping_toml_is_honoured_by_the_next_run() {
    let s = sims().await;
    let dir = temp_state("edited");
    stage(&s, &dir, false).await;
    let RunOutcome::NeedsDecisions(_) = run(&s, &dir, false).await else {
        panic!("must stop for decisions");
    };
    // Map every undecided admin to the first real user, allow creating prerequisites.
    let users = records(&s, "users").await;
    let agent = users
        .iter()
        .find(|u| u["attributes"]["userType"] == "user")
        .unwrap();
    let agent_id = agent["id"].as_str().unwrap();
    let path = dir.join(MAPPING_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut edited = text.replace(
        "decision = \"unresolved\"",
        &format!("decision = \"user\"\nuser_id = \"{agent_id}\""),
    );
    for name in ["brands", "schedules", "klasses", "teams"] {
        edited.push_str(&format!("\n[prerequisites.{name}]\ncreate = true\n"));
    }
    std::fs::write(&path, edited).unwrap();

    let outcome = run(&s, &dir, false).await;
    let RunOutcome::Completed(summary) = outcome else {
        panic!("edited decisions resolve everything: {outcome:?}");
    };
    assert!(summary.defaults_taken.is_empty(), "{summary:#?}");
    let ledger = Ledger::open(&dir).unwrap();
    let edited_admins: Vec<_> = admin_mappings(&ledger)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.suggestion.is_none())
        .collect();
    assert!(!edited_admins.is_empty());
    for a in edited_admins {
        assert_eq!(
            ledger.target_id("admins", &a.admin_id).unwrap().as_deref(),
            Some(agent_id)
        );
    }
    assert_eq!(truth(&s).await["invitations"], 0);
}
