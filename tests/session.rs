//! The session API without any front-end: a whole `tiny` migration driven through
//! `engine::session::Session` alone — prepare (extraction, proposals), decide, run, retry and
//! verify — against both simulators over loopback, with the Kustomer simulator refusing one
//! kind's creates on the first run. The console and the headless runner drive this same code.

mod common;

use std::time::Duration;

use i2k::engine::session::{
    AdminDecision, CheckStatus, Command, FailureFilter, FieldDecision, Session, SessionCommand,
    SessionUpdate, TypeVerification,
};
use i2k::sim::SizePreset;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The updates the session sent, read as they come.
struct Updates(mpsc::UnboundedReceiver<SessionUpdate>);

impl Updates {
    /// Waits for the first update `pick` takes, passing over the others (failing on a notice
    /// that says something went wrong).
    async fn next<T>(&mut self, what: &str, pick: impl Fn(SessionUpdate) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let update = tokio::time::timeout_at(deadline, self.0.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap_or_else(|| panic!("the session stopped before {what}"));
            if let SessionUpdate::Notice(text) = &update {
                assert!(
                    !text.contains("failed") && !text.contains("cannot"),
                    "waiting for {what}: {text}"
                );
            }
            if let Some(found) = pick(update) {
                return found;
            }
        }
    }

    async fn admins(&mut self, what: &str) -> Vec<i2k::engine::session::AdminMapping> {
        self.next(what, |u| match u {
            SessionUpdate::Admins(a) => Some(a),
            _ => None,
        })
        .await
    }

    async fn fields(&mut self, what: &str) -> Vec<i2k::engine::session::FieldMapping> {
        self.next(what, |u| match u {
            SessionUpdate::Fields(f) => Some(f),
            _ => None,
        })
        .await
    }

    async fn checks(&mut self, what: &str) -> Vec<i2k::engine::session::PrereqCheck> {
        self.next(what, |u| match u {
            SessionUpdate::Prerequisites(p) => Some(p),
            _ => None,
        })
        .await
    }

    async fn connections(&mut self, what: &str) -> Vec<i2k::engine::session::ConnectionInfo> {
        self.next(what, |u| match u {
            SessionUpdate::Connections(c) => Some(c),
            _ => None,
        })
        .await
    }

    /// The next verification the session sends (after a run, or when asked).
    async fn summary(&mut self) -> Vec<TypeVerification> {
        self.next("the summary", |u| match u {
            SessionUpdate::Summary { verification, .. } => Some(verification),
            _ => None,
        })
        .await
    }
}

/// A session on `config` and the updates it sends, read as they come (a task forwards them, so
/// the session never waits on its channel).
fn session_with_updates(config: i2k::engine::context::EngineConfig) -> (Session, Updates) {
    let (tx, rx) = mpsc::channel(64);
    let (forward_tx, forward_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut rx = rx;
        while let Some(update) = rx.recv().await {
            if forward_tx.send(update).is_err() {
                break;
            }
        }
    });
    (Session::new(config, tx), Updates(forward_rx))
}

fn row<'a>(rows: &'a [TypeVerification], object: &str) -> &'a TypeVerification {
    rows.iter()
        .find(|r| r.object == object)
        .unwrap_or_else(|| panic!("no {object} row in {rows:?}"))
}

async fn sim_fail(base: &str, rule: Option<Value>) {
    let client = reqwest::Client::new();
    let url = format!("{base}/__sim/fail");
    let sent = match rule {
        Some(rule) => client.post(url).json(&rule).send().await,
        None => client.delete(url).send().await,
    };
    assert!(sent.unwrap().status().is_success());
}

fn count(truth: &Value, kind: &str) -> u64 {
    truth["counts"][kind].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_alone_prepares_decides_runs_retries_and_verifies_a_tiny_migration() {
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("session");
    let mut config = common::engine_config(&sims, dir.clone());
    // The decisions are the session's to take, not the run's defaults.
    config.accept_defaults = false;
    // Kustomer refuses every shortcut (Intercom's macros) on the first run, as a permanent 400.
    sim_fail(
        &sims.kustomer.url,
        Some(json!({"path": "/v1/shortcuts", "method": "POST", "status": 400})),
    )
    .await;
    let intercom = common::truth(&sims.intercom.url).await;
    let macros = count(&intercom, "macros");
    assert!(macros > 0, "the tiny workspace has macros");

    let (mut session, mut updates) = session_with_updates(config);

    // Prepare: both connections, the workspace extracted, the proposals.
    session.open().await;
    let connections = updates.connections("the connections").await;
    assert_eq!(connections.len(), 2);
    session.prepared().await;
    let admins = updates.admins("the admins").await;
    let fields = updates.fields("the fields").await;
    let checks = updates.checks("the prerequisite checks").await;
    let missing: Vec<_> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail && c.can_create.is_some())
        .collect();
    let open_admins: Vec<_> = admins
        .iter()
        .filter(|a| a.decision == AdminDecision::Unresolved)
        .collect();
    let open_fields: Vec<_> = fields
        .iter()
        .filter(|f| f.decision == FieldDecision::Unresolved)
        .collect();
    assert!(
        !missing.is_empty() || !open_admins.is_empty() || !open_fields.is_empty(),
        "the tiny workspace leaves decisions open"
    );

    // Decide every open item: create the missing prerequisites, map the admins, place the fields.
    for check in &missing {
        session
            .handle(SessionCommand::CreatePrerequisite {
                name: check.name.clone(),
            })
            .await;
    }
    for admin in &open_admins {
        session
            .handle(SessionCommand::DecideAdmin {
                admin_id: admin.admin_id.clone(),
                decision: AdminDecision::Fallback,
            })
            .await;
    }
    for field in &open_fields {
        session
            .handle(SessionCommand::DecideField {
                model: field.model.clone(),
                source_name: field.source_name.clone(),
                decision: FieldDecision::Archive,
            })
            .await;
    }
    updates
        .next("every prerequisite in place", |u| match u {
            SessionUpdate::Prerequisites(p) => p
                .iter()
                .all(|c| c.status != CheckStatus::Fail || c.can_create.is_none())
                .then_some(()),
            _ => None,
        })
        .await;
    // The session answers each decision with the mappings as the ledger now holds them.
    updates
        .next("every admin decided", |u| match u {
            SessionUpdate::Admins(a) => a
                .iter()
                .all(|a| a.decision != AdminDecision::Unresolved)
                .then_some(()),
            _ => None,
        })
        .await;
    updates
        .next("every field decided", |u| match u {
            SessionUpdate::Fields(f) => f
                .iter()
                .all(|f| f.decision != FieldDecision::Unresolved)
                .then_some(()),
            _ => None,
        })
        .await;

    // Run: everything loads but the shortcuts, which Kustomer refused.
    session.handle(SessionCommand::StartRun).await;
    session
        .finish_run()
        .await
        .expect("a run was active")
        .expect("the run ends without an error");
    let first = updates.summary().await;
    let shortcuts = row(&first, "macros");
    assert_eq!(shortcuts.failed, macros, "{shortcuts:?}");
    assert!(!shortcuts.agrees);
    let kustomer = common::truth(&sims.kustomer.url).await;
    assert_eq!(count(&kustomer, "shortcuts"), 0);
    assert_eq!(count(&kustomer, "customers"), count(&intercom, "contacts"));
    assert_eq!(count(&kustomer, "companies"), count(&intercom, "companies"));

    // Retry: the failed records, read through the session, go back to pending once Kustomer
    // takes shortcuts again, and the next run loads them.
    session
        .handle(SessionCommand::LoadFailures {
            filter: FailureFilter::default(),
        })
        .await;
    let failures = updates
        .next("the failed records", |u| match u {
            SessionUpdate::Failures(f) => Some(f),
            _ => None,
        })
        .await;
    assert_eq!(failures.len() as u64, macros, "{failures:?}");
    sim_fail(&sims.kustomer.url, None).await;
    let records = failures.into_iter().map(|f| f.record).collect();
    session
        .handle(SessionCommand::Engine(Command::Retry { records }))
        .await;
    let queued = updates
        .next("the retry", |u| match u {
            SessionUpdate::Notice(text) if text.contains("queued") => Some(text),
            _ => None,
        })
        .await;
    assert!(
        queued.contains(&format!("{macros} records queued")),
        "{queued}"
    );
    session.handle(SessionCommand::StartRun).await;
    session
        .finish_run()
        .await
        .expect("a run was active")
        .expect("the retry run ends without an error");
    let second = updates.summary().await;
    assert_eq!(row(&second, "macros").failed, 0);

    // Verify, asked of the session: every type agrees, and Kustomer holds the ground truth.
    session.handle(SessionCommand::Verify).await;
    let verified = updates.summary().await;
    let disagreeing: Vec<_> = verified.iter().filter(|v| !v.agrees).collect();
    assert!(disagreeing.is_empty(), "{disagreeing:?}");
    let kustomer = common::truth(&sims.kustomer.url).await;
    assert_eq!(count(&kustomer, "shortcuts"), macros);
    assert_eq!(row(&verified, "macros").target, Some(macros));
    assert_eq!(count(&kustomer, "customers"), count(&intercom, "contacts"));
    let duplicates = &kustomer["duplicates"];
    assert!(
        duplicates.as_object().is_none_or(|d| d.is_empty()),
        "{duplicates}"
    );

    session.shut_down().await;

    // Reopened on the same state directory (a console started again): before anything runs, the
    // session says where the migration stands, from the ledger — finished, every phase settled.
    let (mut reopened, mut updates) =
        session_with_updates(common::engine_config(&sims, dir.clone()));
    reopened.open().await;
    let snapshot = updates
        .next("the ledger's snapshot", |u| match u {
            SessionUpdate::Snapshot(s) => Some(s),
            _ => None,
        })
        .await;
    assert_eq!(snapshot.state, i2k::engine::session::RunState::Finished);
    let customers = snapshot
        .phases
        .iter()
        .find(|p| p.phase.label() == "Customers")
        .unwrap();
    // The phase carries the contacts and what hangs on them (their company links…).
    assert!(
        customers.total >= count(&intercom, "contacts"),
        "{customers:?}"
    );
    assert_eq!(customers.done, customers.total, "{customers:?}");
    for phase in &snapshot.phases {
        assert!(
            phase.done + phase.failed + phase.skipped + phase.unknown <= phase.total,
            "{phase:?}"
        );
    }
    assert!(
        snapshot.activity.starts_with("Finished: "),
        "{}",
        snapshot.activity
    );
    // And the Summary at once: the last verification the ledger kept, and the checklist.
    let (kept, manual) = updates
        .next("the stored summary", |u| match u {
            SessionUpdate::Summary {
                verification,
                manual,
                report_path,
                ..
            } => {
                assert!(report_path.is_some());
                Some((verification, manual))
            }
            _ => None,
        })
        .await;
    assert_eq!(
        kept, verified,
        "the verification made before the console closed"
    );
    assert!(!manual.is_empty(), "the checklist");

    // Rollback through the session: the plan first (for the front-end to ask), then the deletes.
    reopened
        .handle(SessionCommand::Rollback { confirmed: false })
        .await;
    let plan = updates
        .next("the rollback plan", |u| match u {
            SessionUpdate::RollbackPlan(plan) => Some(plan),
            _ => None,
        })
        .await;
    assert!(plan.contains("Will delete from Kustomer"), "{plan}");
    assert!(plan.contains("contacts"), "{plan}");
    assert!(
        common::truth(&sims.kustomer.url).await["counts"]["customers"].as_u64() > Some(0),
        "nothing is deleted before the operator confirms"
    );
    reopened
        .handle(SessionCommand::Rollback { confirmed: true })
        .await;
    let said = updates
        .next("the rollback's result", |u| match u {
            SessionUpdate::Notice(text) if text.starts_with("Rolled back") => Some(text),
            _ => None,
        })
        .await;
    assert!(
        said.contains("record(s) deleted from Kustomer, 0 left"),
        "{said}"
    );
    let kustomer = common::truth(&sims.kustomer.url).await;
    assert_eq!(
        count(&kustomer, "customers"),
        0,
        "every customer i2k created is gone"
    );
    reopened.shut_down().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_the_defaults_decides_every_open_item_at_once_and_the_checks_agree() {
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("session-defaults");
    let mut config = common::engine_config(&sims, dir.clone());
    config.accept_defaults = false;
    let (mut session, mut updates) = session_with_updates(config);
    session.open().await;
    session.prepared().await;
    let admins = updates.admins("the admins").await;
    let open = admins
        .iter()
        .filter(|a| a.decision == AdminDecision::Unresolved)
        .count();
    assert!(open > 0, "the tiny workspace has admins without a user");
    let users = updates
        .next("the prerequisite checks", |u| match u {
            SessionUpdate::Prerequisites(p) => p.into_iter().find(|c| c.name == "users"),
            _ => None,
        })
        .await;
    assert_eq!(users.status, CheckStatus::Fail, "{users:?}");

    session.handle(SessionCommand::AcceptDefaults).await;
    // Mapping, the users check and the notice all say the same: nothing is left open.
    let admins = updates.admins("the admins after D").await;
    assert!(
        admins
            .iter()
            .all(|a| a.decision != AdminDecision::Unresolved),
        "{admins:?}"
    );
    assert_eq!(
        admins
            .iter()
            .filter(|a| a.decision == AdminDecision::Fallback)
            .count(),
        open,
        "each open admin goes to the fallback user"
    );
    let fields = updates.fields("the fields after D").await;
    assert!(
        fields
            .iter()
            .all(|f| f.decision != FieldDecision::Unresolved)
    );
    let users = updates
        .next("the users check after D", |u| match u {
            SessionUpdate::Prerequisites(p) => p.into_iter().find(|c| c.name == "users"),
            _ => None,
        })
        .await;
    assert_eq!(users.status, CheckStatus::Pass, "{users:?}");
    assert!(users.detail.contains("0 undecided"), "{users:?}");
    session.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opens_without_tokens_asks_for_them_and_shows_a_refused_one_as_refused() {
    use i2k::engine::session::Secret;
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("session-tokens");
    let mut config = common::engine_config(&sims, dir.clone());
    let intercom_token = config.intercom_token.clone();
    config.intercom_token = Secret::new("");
    config.kustomer_token = Secret::new("");
    let (mut session, mut updates) = session_with_updates(config);
    session.open().await;
    let connections = updates.connections("the connections").await;
    assert!(
        connections.iter().all(|c| c.token == "missing"),
        "{connections:?}"
    );
    let SessionUpdate::Notice(asked) = updates.0.recv().await.unwrap() else {
        panic!("the session asks for the tokens first");
    };
    assert!(
        asked.contains("INTERCOM_TOKEN and KUSTOMER_API_KEY not set")
            && asked.contains("1 Connect"),
        "{asked}"
    );
    // A wrong key is refused by Kustomer, and said so.
    session
        .handle(SessionCommand::SaveToken {
            side: "kustomer".into(),
            token: Secret::new("not-a-kustomer-key"),
        })
        .await;
    let kustomer = updates
        .next("the refused key", |u| match u {
            SessionUpdate::Connections(c) => c.into_iter().find(|c| c.side == "kustomer"),
            _ => None,
        })
        .await;
    assert!(kustomer.token_refused, "{kustomer:?}");
    assert_eq!(kustomer.status, CheckStatus::Fail);
    // The right ones: the preparation starts.
    session
        .handle(SessionCommand::SaveToken {
            side: "kustomer".into(),
            token: Secret::new(sims.kustomer.token.clone()),
        })
        .await;
    session
        .handle(SessionCommand::SaveToken {
            side: "intercom".into(),
            token: intercom_token,
        })
        .await;
    session.prepared().await;
    updates
        .next("the admins", |u| match u {
            SessionUpdate::Admins(a) if !a.is_empty() => Some(()),
            _ => None,
        })
        .await;
    session.shut_down().await;
}

/// Sends `command`, which starts a run, and waits for that run to end without an error.
async fn run_to_end(session: &mut Session, command: SessionCommand, what: &str) {
    session.handle(command).await;
    session
        .finish_run()
        .await
        .unwrap_or_else(|| panic!("{what} did not start"))
        .unwrap_or_else(|e| panic!("{what} ended with an error: {e}"));
}

/// The records of `kind` the Kustomer simulator holds (not deleted) with this externalId.
async fn live_in_kustomer(sims: &common::Sims, kind: &str, external_id: &str) -> bool {
    common::records(&sims.kustomer.url, kind).await["data"]
        .as_array()
        .expect("records listed")
        .iter()
        .filter(|r| r["attributes"]["deleted"] != true)
        .any(|r| r["attributes"]["externalId"] == external_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_waits_for_a_completed_run_and_asks_before_deleting_what_intercom_deleted() {
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("session-delta");
    let (mut session, mut updates) =
        session_with_updates(common::engine_config(&sims, dir.clone()));
    session.open().await;
    session.prepared().await;
    let delta = |delete_removed| SessionCommand::StartDelta { delete_removed };

    // Before any run has completed: refused, saying what to do, and nothing starts.
    session.handle(delta(None)).await;
    let said = updates
        .next("the refusal", |u| match u {
            SessionUpdate::Notice(text) if text.contains("delta") => Some(text),
            _ => None,
        })
        .await;
    assert!(said.contains("none has completed yet"), "{said}");
    assert!(session.finish_run().await.is_none(), "a run started");

    run_to_end(&mut session, SessionCommand::StartRun, "the run").await;
    updates.summary().await;

    // Intercom moves on: contacts edited, a conversation closed, a contact deleted.
    let answer = common::advance(
        &sims,
        json!({"seed": 5, "edited_contacts": 2, "closed": 1, "deleted_contacts": 1}),
    )
    .await;
    let deleted = answer["changes"]["deleted_contacts"][0]
        .as_str()
        .expect("a contact deleted")
        .to_string();

    // The first delta: nothing deleted in Intercom is known yet, so it starts at once; it
    // carries the edits and finds the deletion, and its screen says so.
    run_to_end(&mut session, delta(None), "the first delta").await;
    let changes = updates
        .next("the delta's changes", |u| match u {
            SessionUpdate::Snapshot(s) if s.changes.iter().any(|c| c.change == "removed") => {
                Some(s.changes)
            }
            _ => None,
        })
        .await;
    let count = |change: &str| {
        changes
            .iter()
            .find(|c| c.change == change)
            .map_or(0, |c| c.count)
    };
    // Both edited customers (a closed conversation may count an update of its own too).
    assert!(count("updated") >= 2, "{changes:?}");
    assert_eq!(count("closed"), 1, "{changes:?}");
    assert_eq!(count("removed"), 1, "{changes:?}");
    updates.summary().await;
    assert!(live_in_kustomer(&sims, "customers", &deleted).await);

    // The next delta asks first: one record deleted in Intercom is still in Kustomer.
    session.handle(delta(None)).await;
    let records = updates
        .next("the question", |u| match u {
            SessionUpdate::RemovedKept { records } => Some(records),
            _ => None,
        })
        .await;
    assert_eq!(records, 1);
    assert!(session.finish_run().await.is_none(), "started before asked");
    // Answered yes: deleted there too, and no longer asked about.
    run_to_end(&mut session, delta(Some(true)), "the delta deleting").await;
    updates.summary().await;
    assert!(!live_in_kustomer(&sims, "customers", &deleted).await);
    let reader = i2k::ledger::LedgerReader::open(&dir).unwrap();
    assert!(reader.removed_kept().unwrap().is_empty());
    session.shut_down().await;
    let _ = std::fs::remove_dir_all(&dir);
}
