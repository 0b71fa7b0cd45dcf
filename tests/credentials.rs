//! Credentials as a new user meets them through the real binary: a config file holding a token,
//! a URL holding a password and plain http:// to another machine are each refused with exit 2,
//! naming what to fix once, and never echoing the secret.

use std::path::Path;
use std::process::{Command, Output};

const SECRET: &str = "kst_live_do_not_echo_0123456789";

fn i2k(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_i2k"))
        .args(args)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("INTERCOM_TOKEN", "ic_test_token_0123456789")
        .env("KUSTOMER_API_KEY", SECRET)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn temp_home(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "i2k-test-{name}-{}-{}",
        std::process::id(),
        i2k::rng::Rng::from_entropy().hex(4)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Exit 2 and one error line on stderr, with no secret in any output.
fn assert_refused(out: &Output, secret: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "the secret was echoed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn a_config_file_holding_a_token_is_refused_without_echoing_it() {
    let home = temp_home("config-token");
    let file = home.join("i2k.toml");
    std::fs::write(
        &file,
        format!("[kustomer]\norg = \"acme\"\ntoken = \"{SECRET}\"\n"),
    )
    .unwrap();
    let out = i2k(&home, &["doctor", "--config", file.to_str().unwrap()]);
    let stderr = assert_refused(&out, SECRET);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("`token`"), "{stderr}");
    assert!(stderr.contains("KUSTOMER_API_KEY"), "{stderr}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_url_password_is_refused_without_echoing_it() {
    let home = temp_home("url-password");
    let out = i2k(
        &home,
        &[
            "doctor",
            "--kustomer-url",
            "https://admin:hunter2hunter2@acme.api.kustomerapp.com",
        ],
    );
    let stderr = assert_refused(&out, "hunter2hunter2");
    assert!(stderr.contains("user name or password"), "{stderr}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn plain_http_to_another_machine_is_refused_unless_allowed() {
    let home = temp_home("insecure-http");
    let out = i2k(
        &home,
        &["doctor", "--intercom-url", "http://example.invalid"],
    );
    let stderr = assert_refused(&out, SECRET);
    assert!(stderr.contains("--allow-insecure-http"), "{stderr}");
    // Allowed, it gets as far as trying the host (which does not resolve): a different refusal.
    let out = i2k(
        &home,
        &[
            "doctor",
            "--intercom-url",
            "http://example.invalid",
            "--allow-insecure-http",
        ],
    );
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("--allow-insecure-http"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    let _ = std::fs::remove_dir_all(&home);
}
