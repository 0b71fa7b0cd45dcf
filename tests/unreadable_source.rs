//! One policy for a stored source record that cannot be read: the load marks it failed
//! (`ErrorClass::Source`) with the reason, so the Errors screen shows it, and loads the rest;
//! it is never read as an empty record. `verify` counts it as `unreadable`, apart from ordinary
//! failures, and says it is the type's whole difference; `plan` counts it per type. The real
//! engine against both simulators over loopback, on a ledger whose oldest ticket was damaged
//! after extraction.

mod common;

use std::process::Command;

use i2k::engine::control::Control;
use i2k::engine::extract::{ExtractOptions, extract};
use i2k::engine::handle::RunOutcome;
use i2k::http::Secret;
use i2k::intercom::IntercomClient;
use i2k::kustomer::KustomerClient;
use i2k::ledger::Ledger;
use i2k::sim::SizePreset;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_raw_record_fails_with_its_reason_and_the_rest_load() {
    let sims = common::sims(SizePreset::Tiny).await;
    let state = common::temp_state("unreadable-source");
    {
        let ledger = Ledger::open(&state).expect("ledger opens");
        let client = IntercomClient::connect(
            &sims.intercom.url,
            Secret::new(sims.intercom.token.clone()),
            1667,
        )
        .expect("client");
        let options = ExtractOptions::for_state_dir(&state);
        extract(&client, &ledger, &options, &Control::new(), None)
            .await
            .expect("extraction");
    }
    // The oldest ticket: a later run's search (from the day before its newest record) does not
    // read it again.
    let damaged: String = {
        let db = rusqlite::Connection::open(state.join("ledger.db")).expect("ledger.db");
        let id: String = db
            .query_row(
                "SELECT source_id FROM source WHERE kind = 'tickets' ORDER BY updated_at LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("a ticket");
        db.execute(
            "UPDATE source SET raw = '{\"id\": \"' || source_id || '\", trunc' \
             WHERE kind = 'tickets' AND source_id = ?1",
            [&id],
        )
        .expect("damage");
        id
    };

    let outcome = common::run_engine(common::engine_config(&sims, state.clone())).await;
    assert!(matches!(outcome, RunOutcome::Completed(_)), "{outcome:?}");

    let db = rusqlite::Connection::open(state.join("ledger.db")).expect("ledger.db");
    let rows: Vec<(String, String, Option<String>, Option<String>)> = db
        .prepare("SELECT source_id, state, error_class, error_message FROM target WHERE kind = 'tickets'")
        .expect("query")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows read");
    assert!(rows.len() > 1, "{rows:?}");
    for (id, state, class, message) in &rows {
        if *id == damaged {
            assert_eq!(state, "failed", "{id}");
            assert_eq!(class.as_deref(), Some("source"), "{id}");
            let message = message.as_deref().unwrap_or_default();
            assert!(message.contains("cannot be read"), "{message}");
        } else {
            assert_eq!(state, "done", "ticket {id}: {class:?} {message:?}");
        }
    }
    drop(db);
    drop(open_when_released(&state).await);

    // `i2k plan` (the binary, as the operator runs it) counts the damaged ticket per type.
    let home = common::temp_state("unreadable-source-home");
    let plan = i2k_plan(&state, &home, true);
    let plan: Value = serde_json::from_str(&plan).expect("plan --json");
    for row in plan["types"].as_array().expect("plan rows") {
        let want = u64::from(row["type"] == "tickets");
        assert_eq!(row["unreadable"].as_u64(), Some(want), "{row}");
    }
    let text = i2k_plan(&state, &home, false);
    assert!(
        text.contains("unreadable: 1 tickets stored record(s) cannot be read from the ledger"),
        "{text}"
    );

    // `verify`: the damaged ticket is unreadable, not an ordinary failure, and it is the whole
    // difference of the tickets: Kustomer holds every other one.
    let ledger = open_when_released(&state).await;
    let (plan_counts, _) = ledger
        .read(i2k::engine::plan::counts_from_ledger)
        .expect("plan counts");
    assert_eq!(plan_counts["tickets"].unreadable, 1);
    let kustomer = KustomerClient::connect(
        &sims.kustomer.url,
        Secret::new(sims.kustomer.token.clone()),
        sims.kustomer_rate,
        0.8,
    )
    .expect("Kustomer client");
    let v = i2k::engine::verify::verify(&ledger, &kustomer)
        .await
        .expect("verify");
    let tickets = v.type_row("tickets").expect("tickets verified");
    assert_eq!(tickets.unreadable, 1, "{tickets:?}");
    assert_eq!(tickets.failed, 0, "{tickets:?}");
    assert!(!tickets.agrees, "{tickets:?}");
    assert_eq!(tickets.target, Some(tickets.expected() - 1), "{tickets:?}");
    assert!(tickets.short_only_by_unreadable(), "{tickets:?}");
    for t in v.types.iter().filter(|t| t.object != "tickets") {
        assert_eq!(t.unreadable, 0, "{t:?}");
        assert!(t.agrees, "{t:?}");
    }
    let text = i2k::commands::verify::render(&v);
    assert!(
        text.contains("tickets: 1 record(s) could not be read from the ledger"),
        "{text}"
    );
    assert!(text.contains("they are the whole difference"), "{text}");
    let _ = std::fs::remove_dir_all(&state);
    let _ = std::fs::remove_dir_all(&home);
}

/// `i2k plan [--json] --state DIR` with a clean environment (no config file, no tokens): the
/// ledger is staged, so it needs neither side. Returns its standard output.
fn i2k_plan(state: &std::path::Path, home: &std::path::Path, json: bool) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_i2k"));
    cmd.arg("plan");
    if json {
        cmd.arg("--json");
    }
    let out = cmd
        .arg("--state")
        .arg(state)
        .env_remove("INTERCOM_TOKEN")
        .env_remove("KUSTOMER_API_KEY")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("NO_COLOR", "1")
        .output()
        .expect("i2k plan runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The ledger once the engine (or a command) let go of its lock.
async fn open_when_released(state: &std::path::Path) -> Ledger {
    for _ in 0..100 {
        if let Ok(ledger) = Ledger::open(state) {
            return ledger;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ledger::open(state).expect("ledger opens")
}
