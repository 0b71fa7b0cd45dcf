//! The `i2k plan`, `i2k extract` and `i2k doctor` binaries against the Intercom simulator over
//! loopback: plan counts equal the simulator's ground truth for every type (extracting first when
//! nothing is staged), and a missing or wrong token is one clear line with exit code 2.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use i2k::sim::SizePreset;
use i2k::sim::intercom::{Config, spawn};
use serde_json::Value;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("i2k-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The bytes of the files directly in `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Runs the binary with a clean environment: no config file, no tokens unless given.
async fn i2k(args: &[&str], home: &Path, tokens: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_i2k"));
    cmd.args(args)
        .env_remove("INTERCOM_TOKEN")
        .env_remove("KUSTOMER_API_KEY")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("NO_COLOR", "1");
    for (k, v) in tokens {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn plan_json_counts_equal_the_ground_truth_for_every_type() {
    let sim = spawn(
        Config::new(42, SizePreset::Tiny),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let home = temp("plan");
    let state = home.join("acme");
    let state_arg = state.to_string_lossy().to_string();
    let out = i2k(
        &[
            "plan",
            "--json",
            "--state",
            &state_arg,
            "--intercom-url",
            &sim.url,
        ],
        &home,
        &[("INTERCOM_TOKEN", &sim.token)],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("extracting the workspace first"),
        "{stderr}"
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let truth: Value = reqwest::get(format!("{}/__sim/truth", sim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let types = plan["types"].as_array().unwrap();
    assert_eq!(types.len(), truth["counts"].as_object().unwrap().len());
    for row in types {
        let name = row["type"].as_str().unwrap();
        assert_eq!(row["count"], truth["counts"][name], "{name}");
        assert!(row["bucket"].is_string());
    }
    let parts = types
        .iter()
        .find(|r| r["type"] == "conversation_parts")
        .unwrap();
    assert!(
        parts["not_retrievable"].as_u64().unwrap() > 0,
        "parts beyond 500"
    );
    assert!(plan["estimate_seconds"].as_u64().unwrap() > 0);

    // The disk estimate: the ledger projected from the records staged, every attachment counted
    // (all downloaded by now, into the state directory's attachments), and the headroom.
    let disk = &plan["disk"];
    let staged: u64 = types
        .iter()
        .map(|r| r["count"].as_u64().unwrap() - r["not_retrievable"].as_u64().unwrap())
        .sum();
    assert!(disk["records"].as_u64().unwrap() >= staged, "{disk:#}");
    let ledger_file = std::fs::metadata(state.join(i2k::ledger::DB_FILE)).map_or(0, |m| m.len());
    assert!(
        disk["ledger_bytes"].as_u64().unwrap() >= ledger_file,
        "{disk:#} vs {ledger_file}"
    );
    let files = dir_bytes(&state.join("attachments"));
    assert!(files > 0);
    let attachments = disk["attachment_bytes"].as_u64().unwrap();
    // Identical files are stored once, so the directory holds at most what the records add up to.
    assert!(attachments >= files, "{disk:#} vs {files} on disk");
    assert_eq!(disk["attachment_bytes_on_disk"], disk["attachment_bytes"]);
    assert!(
        disk["needed_bytes"].as_u64().unwrap() >= i2k::engine::disk::HEADROOM_FLOOR,
        "{disk:#}"
    );

    // Planned again from the ledger: no Intercom token needed, and a faster budget halves nothing
    // but the estimate.
    let again = i2k(
        &[
            "plan",
            "--json",
            "--state",
            &state_arg,
            "--kustomer-rate",
            "4000",
        ],
        &home,
        &[],
    )
    .await;
    assert!(again.status.success());
    let faster: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(faster["types"], plan["types"]);
    assert!(faster["estimate_seconds"].as_u64() < plan["estimate_seconds"].as_u64());

    // The config file's budget and share apply when no flag names them; a flag still wins.
    std::fs::create_dir_all(home.join("config/i2k")).unwrap();
    std::fs::write(
        home.join("config/i2k/i2k.toml"),
        "[kustomer]\nrate_limit = 250\nrate_share = 0.5\n",
    )
    .unwrap();
    let filed = i2k(&["plan", "--json", "--state", &state_arg], &home, &[]).await;
    assert!(
        filed.status.success(),
        "{}",
        String::from_utf8_lossy(&filed.stderr)
    );
    let filed: Value = serde_json::from_slice(&filed.stdout).unwrap();
    assert_eq!(filed["kustomer_rate_per_minute"], 250);
    assert_eq!(filed["rate_share"], 0.5);
    assert!(filed["estimate_seconds"].as_u64() > plan["estimate_seconds"].as_u64());
    let flagged = i2k(
        &[
            "plan",
            "--json",
            "--state",
            &state_arg,
            "--kustomer-rate",
            "4000",
        ],
        &home,
        &[],
    )
    .await;
    let flagged: Value = serde_json::from_slice(&flagged.stdout).unwrap();
    assert_eq!(flagged["kustomer_rate_per_minute"], 4000);

    // The text plan says how much disk the migration needs and how much is free.
    let printed = i2k(
        &["plan", "--state", &state_arg],
        &home,
        &[("I2K_FREE_DISK_BYTES", "123456789")],
    )
    .await;
    let stdout = String::from_utf8_lossy(&printed.stdout);
    assert!(printed.status.success(), "{stdout}");
    let needed = i2k::engine::disk::human_bytes(flagged["disk"]["needed_bytes"].as_u64().unwrap());
    assert!(stdout.contains("disk: ledger "), "{stdout}");
    assert!(
        stdout.contains(&format!("needs {needed} more free in")),
        "{stdout}"
    );
    assert!(stdout.contains("(117.7 MiB free)"), "{stdout}");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test]
async fn extract_without_a_token_names_the_variable_and_exits_2() {
    let home = temp("notoken");
    let state = home.join("s").to_string_lossy().to_string();
    let out = i2k(
        &[
            "extract",
            "--state",
            &state,
            "--intercom-url",
            "http://127.0.0.1:9",
        ],
        &home,
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("INTERCOM_TOKEN"), "{stderr}");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test]
async fn doctor_reports_the_workspace_and_names_a_wrong_token() {
    let sim = spawn(
        Config::new(42, SizePreset::Tiny),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let home = temp("doctor");
    // Intercom side right, Kustomer key missing: the report says both, exit 2.
    let out = i2k(
        &["doctor", "--json", "--intercom-url", &sim.url],
        &home,
        &[("INTERCOM_TOKEN", &sim.token)],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let intercom = &report["connections"][0];
    assert_eq!(intercom["status"], "pass", "{report}");
    assert_eq!(intercom["api_version"], "2.16");
    assert!(intercom["name"].is_string());
    assert_eq!(intercom["rate_limit"], 1667, "the announced budget");
    assert_eq!(report["connections"][1]["status"], "fail");
    assert!(
        report["connections"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("KUSTOMER_API_KEY")
    );
    assert!(
        !out.stdout
            .windows(sim.token.len())
            .any(|w| w == sim.token.as_bytes())
    );

    // A wrong Intercom token: one line naming the problem, exit 2.
    let out = i2k(
        &["doctor", "--intercom-url", &sim.url],
        &home,
        &[("INTERCOM_TOKEN", "wrong"), ("KUSTOMER_API_KEY", "k")],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Intercom refused the token"), "{stderr}");
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test]
async fn doctor_passes_with_both_connections_and_exits_0() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let intercom = spawn(Config::new(42, SizePreset::Tiny), loopback)
        .await
        .unwrap();
    let agents = i2k::sim::intercom::admin_identities(42, SizePreset::Tiny);
    let kustomer = i2k::sim::kustomer::spawn(i2k::sim::kustomer::Config::new(42, agents), loopback)
        .await
        .unwrap();
    let home = temp("doctor-ok");
    let out = i2k(
        &[
            "doctor",
            "--intercom-url",
            &intercom.url,
            "--kustomer-url",
            &kustomer.url,
        ],
        &home,
        &[
            ("INTERCOM_TOKEN", &intercom.token),
            ("KUSTOMER_API_KEY", &kustomer.token),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("✓ intercom") && lines[0].contains("API 2.16"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("✓ kustomer") && lines[1].contains("roles"),
        "{stdout}"
    );
    assert!(!stdout.contains(&intercom.token) && !stdout.contains(&kustomer.token));
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test]
async fn extract_with_a_refused_token_exits_2_naming_the_problem() {
    let sim = spawn(
        Config::new(42, SizePreset::Tiny),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let home = temp("refused");
    let state = home.join("s").to_string_lossy().to_string();
    let out = i2k(
        &[
            "extract",
            "--plain",
            "--state",
            &state,
            "--intercom-url",
            &sim.url,
        ],
        &home,
        &[("INTERCOM_TOKEN", "not-the-token")],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Intercom refused the token"), "{stderr}");
    assert!(
        !stderr.contains("not-the-token"),
        "the token is never printed"
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test]
async fn extract_against_an_unreachable_host_exits_2_at_once() {
    let home = temp("unreachable");
    let state = home.join("s").to_string_lossy().to_string();
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let out = i2k(
        &[
            "extract",
            "--plain",
            "--state",
            &state,
            "--intercom-url",
            &url,
        ],
        &home,
        &[("INTERCOM_TOKEN", "some-token")],
    )
    .await;
    eprintln!("refused in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot reach Intercom"), "{stderr}");
    assert!(!stderr.contains("some-token"), "the token is never printed");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    use std::process::{Command, Stdio};
    // The reader is gone before the first line is written (as `i2k plan | head -1` is after
    // its first line): every write meets a closed pipe.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_i2k"))
        .args(["completions", "bash"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

#[tokio::test]
async fn plan_says_when_extraction_left_a_listing_unfinished() {
    let sim = spawn(
        Config::new(42, SizePreset::Tiny),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    // Intercom refuses the tickets search: extraction reads everything else, not the tickets.
    reqwest::Client::new()
        .post(format!("{}/__sim/fail", sim.url))
        .json(&serde_json::json!({"path": "/tickets/search", "status": 400}))
        .send()
        .await
        .unwrap();
    let home = temp("plan-unfinished");
    let state = home.join("acme").to_string_lossy().to_string();
    let args = |json: bool| {
        let mut args = vec!["plan", "--state", &state, "--intercom-url", &sim.url];
        if json {
            args.push("--json");
        }
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let tokens = [("INTERCOM_TOKEN", sim.token.as_str())];
    let run = |args: Vec<String>| {
        let home = home.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            i2k(&args, &home, &tokens).await
        }
    };
    // The first plan extracts (and says the listing failed); the next ones read the ledger.
    run(args(false)).await;
    let out = run(args(false)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("! extraction is unfinished: tickets (0 read so far)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("! partial: the estimate covers only"),
        "{stdout}"
    );
    assert!(!stdout.contains("conversations ("), "{stdout}");
    let out = run(args(true)).await;
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let unfinished = plan["unfinished"].as_array().unwrap();
    assert_eq!(unfinished.len(), 1, "{plan}");
    assert_eq!(unfinished[0]["listing"], "tickets:search");
    assert_eq!(unfinished[0]["types"], serde_json::json!(["tickets"]));

    // Once the listing is read, nothing is said.
    reqwest::Client::new()
        .delete(format!("{}/__sim/fail", sim.url))
        .send()
        .await
        .unwrap();
    let out = i2k(
        &["extract", "--state", &state, "--intercom-url", &sim.url],
        &home,
        &tokens,
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(args(false)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("extraction is unfinished"), "{stdout}");
}
