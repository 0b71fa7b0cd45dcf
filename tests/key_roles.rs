//! The Kustomer key's roles, through the real binary against the simulator over loopback: with
//! a key without `org.admin` (`--no-org-admin`), `doctor` names the missing role and what it
//! costs; `run` refuses to start (exit 2, nothing created in Kustomer) until the operator accepts
//! re-stamped times with `--accept-restamped-times`, and the report then says so. With the
//! default key nothing is said and the report says nothing of re-stamps. The README lists the
//! roles from the same table the checks read.

mod common;

use common::{i2k, run_args, state_dir, text};

use i2k::sim::SizePreset;

async fn sims_without_org_admin() -> common::Sims {
    common::sims_with(SizePreset::Tiny, |_, k| k.org_admin = false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_the_missing_org_admin_role_and_what_it_costs() {
    let sims = sims_without_org_admin().await;
    let home = common::temp_state("roles-doctor");
    let out = i2k(&sims, &home, &["doctor"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout.contains("missing org.admin")
            && stdout.contains("original times and authors of messages and notes are lost"),
        "{}",
        text(&out)
    );
    // Only org.admin is missing: the other roles are named nowhere as missing.
    assert_eq!(stdout.matches("missing ").count(), 1, "{}", text(&out));

    let full = common::sims(SizePreset::Tiny).await;
    let out = i2k(&full, &home, &["doctor"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("missing "), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_without_org_admin_refuses_to_start_until_re_stamped_times_are_accepted() {
    let sims = sims_without_org_admin().await;
    let home = common::temp_state("roles-run");
    let before = common::truth(&sims.kustomer.url).await;

    let refused = i2k(&sims, &home, &run_args(&[])).await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    for said in [
        "lacks org.admin",
        "original times and authors of messages and notes are lost",
        "--accept-restamped-times",
        "Nothing was created",
    ] {
        assert!(stderr.contains(said), "{said:?} not in {}", text(&refused));
    }
    let after = common::truth(&sims.kustomer.url).await;
    assert_eq!(
        before["counts"], after["counts"],
        "the refused run created records"
    );
    assert!(!state_dir(&home).join("report.md").exists());

    let accepted = i2k(&sims, &home, &run_args(&["--accept-restamped-times"])).await;
    assert_eq!(accepted.status.code(), Some(0), "{}", text(&accepted));
    let report = std::fs::read_to_string(state_dir(&home).join("report.md")).unwrap();
    assert!(
        report.contains("Re-stamped times") && report.contains("org.admin"),
        "{report}"
    );
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(
        truth["counts"]["messages"].as_u64().unwrap_or(0) > 0,
        "{truth:#}"
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_org_admin_starts_without_the_flag_and_reports_no_re_stamps() {
    let sims = common::sims(SizePreset::Tiny).await;
    let home = common::temp_state("roles-full");
    let out = i2k(&sims, &home, &run_args(&[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = std::fs::read_to_string(state_dir(&home).join("report.md")).unwrap();
    assert!(!report.contains("Re-stamped"), "{report}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn the_readme_lists_the_roles_the_key_needs_from_the_same_table() {
    let section = common::readme_section("### Roles the API key needs");
    assert!(
        section.contains(&i2k::kustomer::roles::markdown_table()),
        "the README's table differs from src/kustomer/roles.rs"
    );
    common::readme_section("## Before a real migration");
    // The 403 message points there.
    let forbidden = i2k::kustomer::KustomerError::Forbidden {
        message: "forbidden".into(),
        request: "POST /v1/customers".into(),
    }
    .to_string();
    assert!(forbidden.contains("Roles the API key needs"), "{forbidden}");
}
