//! `i2k doctor`: checks both connections — token valid, region, workspace or org name, API
//! version, the rate budget each server announces, the Kustomer key's roles — and names the first
//! problem in one line (exit 2). The checks themselves live in `engine::connect`, shared with the
//! console's Connect screen. `--probe` then probes the Kustomer org's assumptions
//! (`engine::probe`): it says what it will create, asks (`--yes` for scripts), probes, prints one
//! line per assumption and keeps the results in the ledger of `--state`.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::{DoctorArgs, EXIT_BAD_INPUT, EXIT_FAILED};
use crate::commands::Context;
use crate::engine::connect::{check_intercom, check_kustomer};
use crate::engine::model::{CheckStatus, ConnectionInfo};
use crate::engine::probe;
use crate::ledger::Ledger;

pub async fn run(ctx: &Context, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let endpoints = ctx.endpoints()?;
    let intercom = check_intercom(&endpoints.intercom_url, endpoints.intercom_token.clone()).await;
    let kustomer = check_kustomer(&endpoints.kustomer_url, endpoints.kustomer_token.clone()).await;
    let all = [intercom, kustomer];
    let ok = all.iter().all(|c| c.status != CheckStatus::Fail);
    // With a probe to run, the one JSON object comes after it and holds both.
    if args.json && !(args.probe && ok) {
        println!("{}", serde_json::json!({ "ok": ok, "connections": all }));
    } else if !args.json {
        for info in &all {
            println!("{}", describe(info));
        }
    }
    let failed: Vec<&ConnectionInfo> = all
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .collect();
    if let Some(first) = failed.first() {
        if !args.json {
            eprintln!(
                "error: {}",
                first.detail.as_deref().unwrap_or("a connection failed")
            );
        }
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    if args.probe {
        return run_probe(ctx, &args, &all).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--probe`: the plan, the question (or `--yes`), the probe, one line per assumption, and the
/// results stored. Exit 1 when an assumption was refused.
async fn run_probe(
    ctx: &Context,
    args: &DoctorArgs,
    all: &[ConnectionInfo],
) -> anyhow::Result<ExitCode> {
    let state_dir = ctx.state_dir()?;
    let kustomer = ctx.kustomer_client(&args.budget)?;
    eprintln!("The probe creates on the Kustomer org:");
    for line in probe::plan() {
        eprintln!("  - {line}");
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "not probing without confirmation: pass --yes when stdin is not a terminal"
            );
        }
        if !crate::commands::confirm(&format!("{} [y/N] ", probe::QUESTION))? {
            eprintln!("nothing created");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let ledger = Ledger::open(&state_dir)?;
    let findings = probe::probe(&kustomer).await;
    probe::record(&ledger, &state_dir, &findings).await?;
    let refused = findings
        .iter()
        .any(|f| f.outcome == probe::Outcome::Refused);
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "ok": !refused, "connections": all, "probe": findings })
        );
    } else {
        for f in &findings {
            println!("{}", f.line());
        }
        if findings.iter().any(|f| f.leftover.is_some()) {
            println!(
                "what the probe left on the org is listed in {}",
                state_dir.join(crate::engine::manual::MANUAL_FILE).display()
            );
        }
    }
    Ok(if refused {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// One line per side: status symbol, side, URL and what the server told.
pub fn describe(info: &ConnectionInfo) -> String {
    let mut line = format!("{} {:<9} {}", info.status.symbol(), info.side, info.url);
    if let Some(name) = &info.name {
        let noun = if info.side == "intercom" {
            "workspace"
        } else {
            "org"
        };
        line.push_str(&format!("  {noun} \"{name}\""));
    }
    if let Some(region) = &info.region {
        line.push_str(&format!("  region {region}"));
    }
    if let Some(version) = &info.api_version {
        line.push_str(&format!("  API {version}"));
    }
    if let (Some(limit), Some(window)) = (info.rate_limit, info.rate_window_secs) {
        line.push_str(&format!("  budget {limit} per {window} s"));
    }
    if !info.roles.is_empty() {
        line.push_str(&format!("  roles {}", info.roles.join(",")));
    }
    let refused = if info.token_refused { " (refused)" } else { "" };
    line.push_str(&format!("  token {}{refused}", info.token));
    if info.status != CheckStatus::Pass
        && let Some(detail) = &info.detail
    {
        line.push_str(&format!("\n    {}", detail.replace('\n', "\n    ")));
    }
    line
}
