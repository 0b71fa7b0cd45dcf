//! One policy for a stored source record that cannot be read: the load marks it failed
//! (`ErrorClass::Source`) with the reason, so the Errors screen shows it, and loads the rest;
//! it is never read as an empty record. The real engine against both simulators over loopback,
//! on a ledger whose oldest ticket was damaged after extraction.

mod common;

use i2k::engine::control::Control;
use i2k::engine::extract::{ExtractOptions, extract};
use i2k::engine::handle::RunOutcome;
use i2k::http::Secret;
use i2k::intercom::IntercomClient;
use i2k::ledger::Ledger;
use i2k::sim::SizePreset;

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
}
