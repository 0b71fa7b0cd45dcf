//! The console's decision on a Kustomer key without `org.admin`, through the real glue, session
//! and engine against the simulator over loopback: the Prerequisites screen's "Key roles" row
//! fails and a start is refused with what is lost and how to fix it; the operator's acceptance is
//! stored with the migration's decisions, holds after the console is reopened, and the run then
//! goes ahead and its report says times were re-stamped.

mod common;

use common::console::Console;
use i2k::engine::model::{CheckStatus, PrereqCheck};
use i2k::engine::session::KEY_ROLES_CHECK;
use i2k::sim::SizePreset;
use i2k::tui::{Request, Update};

/// The Prerequisites screen's Key roles row, as the console is next sent it.
async fn roles_row(console: &mut Console) -> PrereqCheck {
    console
        .next("the Key roles row", |u| match u {
            Update::Prerequisites(checks) => {
                checks.iter().find(|c| c.name == KEY_ROLES_CHECK).cloned()
            }
            _ => None,
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_stamped_times_accepted_on_prerequisites_hold_after_a_restart_and_reach_the_report() {
    let sims = common::sims_with(SizePreset::Tiny, |_, k| k.org_admin = false).await;
    let dir = common::temp_state("console-roles");

    let mut console = Console::open(&sims, &dir);
    let row = roles_row(&mut console).await;
    assert_eq!(row.status, CheckStatus::Fail, "{row:?}");
    assert!(row.detail.contains("org.admin"), "{row:?}");
    let before = common::truth(&sims.kustomer.url).await;
    console.request(Request::StartRun).await;
    let refusal = console
        .next("the refusal", |u| match u {
            Update::Notice(n) if n.contains("cannot start the run") => Some(n.clone()),
            Update::Snapshot(_) => panic!("the run started without org.admin"),
            _ => None,
        })
        .await;
    assert!(
        refusal.contains("original times and authors of messages and notes are lost")
            && refusal.contains(KEY_ROLES_CHECK),
        "{refusal}"
    );
    let after = common::truth(&sims.kustomer.url).await;
    assert_eq!(
        before["counts"], after["counts"],
        "the refused run created records"
    );

    console
        .request(Request::AcceptRestampedTimes { accept: true })
        .await;
    let row = roles_row(&mut console).await;
    assert_eq!(row.status, CheckStatus::Warn, "{row:?}");
    console.quit().await;

    // Reopened: the decision is the migration's, and the run goes ahead.
    let mut console = Console::open(&sims, &dir);
    let row = roles_row(&mut console).await;
    assert_eq!(row.status, CheckStatus::Warn, "{row:?}");
    console.request(Request::StartRun).await;
    console
        .next("the summary", |u| match u {
            Update::Summary { .. } => Some(()),
            Update::Notice(n) if n.contains("cannot start") || n.contains("run failed") => {
                panic!("{n}")
            }
            _ => None,
        })
        .await;
    console.quit().await;
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("Re-stamped times"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
