//! `i2k sim` serves the Kustomer side too: its URL and token on the first stdout line, its
//! users derived from the Intercom workspace's admins.

use std::io::BufRead;
use std::time::Duration;

use i2k::sim::SizePreset;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn sim_command_serves_a_kustomer_org_whose_users_are_the_intercom_admins() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_i2k"))
        .args([
            "sim",
            "--size",
            "tiny",
            "--seed",
            "9",
            "--kustomer-addr",
            "127.0.0.1:0",
            "--kustomer-rate",
            "70",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let url = info["kustomer_url"].as_str().unwrap().to_string();
    let token = info["kustomer_token"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"));
    assert!(info["intercom_url"].is_string());

    let http = reqwest::Client::new();
    let admins = i2k::sim::intercom::admin_identities(9, SizePreset::Tiny);
    let mut found = 0;
    for (_, email) in &admins {
        let r = http
            .get(format!("{url}/v1/users"))
            .query(&[("email", email)])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-ratelimit-limit"], "70");
        let body: Value = r.json().await.unwrap();
        found += body["meta"]["total"].as_u64().unwrap();
    }
    assert!(admins.len() >= 3, "{admins:?}");
    assert!(
        found > admins.len() as u64 / 2,
        "most admins exist by the same e-mail"
    );
    assert!(
        found < admins.len() as u64,
        "some are missing or under another e-mail"
    );

    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut waited = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(waited < 100, "i2k sim did not stop on Ctrl-C");
        waited += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}
