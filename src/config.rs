//! Where i2k connects and keeps its state: base URLs (flags, then `i2k.toml`, then the real hosts),
//! tokens (only from `INTERCOM_TOKEN` / `KUSTOMER_API_KEY`, never from files or flags), and the XDG
//! config and state directories.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::http::Secret;

pub const INTERCOM_TOKEN_ENV: &str = "INTERCOM_TOKEN";
pub const KUSTOMER_TOKEN_ENV: &str = "KUSTOMER_API_KEY";
/// The Intercom API version i2k is written against and pins on every request.
pub const INTERCOM_VERSION: &str = "2.16";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IntercomRegion {
    Us,
    Eu,
    Au,
}

impl IntercomRegion {
    pub fn base_url(self) -> &'static str {
        match self {
            IntercomRegion::Us => "https://api.intercom.io",
            IntercomRegion::Eu => "https://api.eu.intercom.io",
            IntercomRegion::Au => "https://api.au.intercom.io",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KustomerRegion {
    /// Prod1: api.kustomerapp.com
    Us,
    /// Prod2: api.prod2.kustomerapp.com
    Eu,
    /// Prod4: api.prod4.kustomerapp.com
    In,
}

impl KustomerRegion {
    pub fn base_url(self) -> &'static str {
        match self {
            KustomerRegion::Us => "https://api.kustomerapp.com",
            KustomerRegion::Eu => "https://api.prod2.kustomerapp.com",
            KustomerRegion::In => "https://api.prod4.kustomerapp.com",
        }
    }
}

/// Connection flags shared by every command that talks to an API.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// Intercom API base URL (overrides --intercom-region and the config file).
    #[arg(long, global = true, value_name = "URL")]
    pub intercom_url: Option<String>,
    /// Intercom data-hosting region, a shortcut for its regional host.
    #[arg(long, global = true, value_enum, value_name = "REGION")]
    pub intercom_region: Option<IntercomRegion>,
    /// Kustomer API base URL (overrides --kustomer-org, --kustomer-region and the config file).
    #[arg(long, global = true, value_name = "URL")]
    pub kustomer_url: Option<String>,
    /// Kustomer org name: uses the org host https://ORG.api.kustomerapp.com, which routes to the right region.
    #[arg(long, global = true, value_name = "ORG")]
    pub kustomer_org: Option<String>,
    /// Kustomer region, a shortcut for its regional host when the org name is not given.
    #[arg(long, global = true, value_enum, value_name = "REGION")]
    pub kustomer_region: Option<KustomerRegion>,
    /// Allow plain http:// to a host other than this machine (the tokens cross the network in
    /// clear text). Without it http:// is for loopback only (a local simulator).
    #[arg(long, global = true)]
    pub allow_insecure_http: bool,
}

/// `i2k.toml`: everything optional. Tokens are deliberately not read from it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub intercom: IntercomFile,
    #[serde(default)]
    pub kustomer: KustomerFile,
    #[serde(default)]
    pub run: RunFile,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntercomFile {
    pub url: Option<String>,
    pub region: Option<IntercomRegion>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KustomerFile {
    pub url: Option<String>,
    pub org: Option<String>,
    pub region: Option<KustomerRegion>,
    /// The org's plan budget in requests per minute (Enterprise 1,000).
    pub rate_limit: Option<u32>,
    /// The share of that budget the migration may take (0 < share ≤ 1).
    pub rate_share: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFile {
    pub state_dir: Option<PathBuf>,
    pub workflow_ids: Option<Vec<String>>,
}

impl FileConfig {
    /// Loads `path` if given (it must exist), else `i2k.toml` in the config directory if present.
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => match config_dir() {
                Some(dir) => (dir.join("i2k.toml"), false),
                None => return Ok(FileConfig::default()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(FileConfig::default());
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read config file {}", path.display()));
            }
        };
        toml::from_str(&text).map_err(|e| config_error(&path, &text, &e))
    }
}

/// Keys that would hold a secret: a config file never does (tokens come from the environment).
const SECRET_KEYS: [&str; 6] = ["token", "api_key", "apikey", "key", "password", "secret"];

/// The file's error, saying where without quoting the line: a line the parser refuses may hold
/// a token, which must not reach a terminal or a CI log.
fn config_error(path: &Path, text: &str, e: &toml::de::Error) -> anyhow::Error {
    let at = |line: usize| format!("config file {} line {line}", path.display());
    let secret_key = text.lines().enumerate().find_map(|(i, l)| {
        let key = l
            .split_once('=')?
            .0
            .trim()
            .trim_matches('"')
            .to_ascii_lowercase();
        SECRET_KEYS
            .iter()
            .any(|s| key == *s || key.ends_with(&format!("_{s}")))
            .then_some((i + 1, key))
    });
    if let Some((line, key)) = secret_key {
        return anyhow::anyhow!(
            "{}: `{key}` is not read from a config file: tokens come from the environment only \
             ({INTERCOM_TOKEN_ENV}, {KUSTOMER_TOKEN_ENV}); remove it from the file",
            at(line)
        );
    }
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            anyhow::anyhow!("{}: {}", at(line), e.message())
        }
        None => anyhow::anyhow!("config file {}: {}", path.display(), e.message()),
    }
}

/// Resolved endpoints and tokens for both APIs.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub intercom_url: String,
    pub intercom_token: Option<Secret>,
    pub kustomer_url: String,
    pub kustomer_token: Option<Secret>,
}

impl Endpoints {
    /// Flags win over the config file, which wins over the real US hosts. Tokens come from the
    /// environment only.
    pub fn resolve(args: &ConnectArgs, file: &FileConfig) -> anyhow::Result<Endpoints> {
        let intercom_url = if let Some(u) = &args.intercom_url {
            u.clone()
        } else if let Some(r) = args.intercom_region {
            r.base_url().to_string()
        } else if let Some(u) = &file.intercom.url {
            u.clone()
        } else {
            file.intercom
                .region
                .unwrap_or(IntercomRegion::Us)
                .base_url()
                .to_string()
        };
        let kustomer_url = if let Some(u) = &args.kustomer_url {
            u.clone()
        } else if let Some(org) = &args.kustomer_org {
            org_url(org)?
        } else if let Some(r) = args.kustomer_region {
            r.base_url().to_string()
        } else if let Some(u) = &file.kustomer.url {
            u.clone()
        } else if let Some(org) = &file.kustomer.org {
            org_url(org)?
        } else {
            file.kustomer
                .region
                .unwrap_or(KustomerRegion::Us)
                .base_url()
                .to_string()
        };
        let insecure = args.allow_insecure_http;
        Ok(Endpoints {
            intercom_url: check_url("Intercom", &intercom_url, insecure)?,
            intercom_token: token_from_env(INTERCOM_TOKEN_ENV),
            kustomer_url: check_url("Kustomer", &kustomer_url, insecure)?,
            kustomer_token: token_from_env(KUSTOMER_TOKEN_ENV),
        })
    }

    /// The Intercom token, for a command that cannot go on without it.
    pub fn required_intercom_token(&self) -> anyhow::Result<Secret> {
        self.intercom_token.clone().with_context(|| {
            format!("{INTERCOM_TOKEN_ENV} is not set: export the Intercom access token")
        })
    }

    /// The Kustomer key, for a command that cannot go on without it.
    pub fn required_kustomer_token(&self) -> anyhow::Result<Secret> {
        self.kustomer_token.clone().with_context(|| {
            format!("{KUSTOMER_TOKEN_ENV} is not set: export the Kustomer API key")
        })
    }
}

fn org_url(org: &str) -> anyhow::Result<String> {
    let valid = !org.is_empty() && org.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        bail!("Kustomer org name `{org}` is not a subdomain (letters, digits and dashes only)");
    }
    Ok(format!("https://{org}.api.kustomerapp.com"))
}

/// The base URL, refused when it could leak a token: plain http:// to another machine (unless
/// `allow_insecure_http`), or credentials in the URL. Errors never quote a URL's credentials.
fn check_url(side: &str, url: &str, allow_insecure_http: bool) -> anyhow::Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let shown = crate::http::secret::redact_url_passwords(trimmed);
    let (plain, rest) = match trimmed.strip_prefix("https://") {
        Some(rest) => (false, rest),
        None => match trimmed.strip_prefix("http://") {
            Some(rest) => (true, rest),
            None => bail!(
                "{side} URL `{shown}` must start with https:// (or http:// for a local simulator)"
            ),
        },
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        bail!(
            "{side} URL `{shown}` holds a user name or password: leave them out, tokens come from \
             the environment ({INTERCOM_TOKEN_ENV}, {KUSTOMER_TOKEN_ENV})"
        );
    }
    if authority.is_empty() || rest.contains(char::is_whitespace) {
        bail!("{side} URL `{shown}` has no host");
    }
    if plain && !allow_insecure_http && !is_loopback(authority) {
        bail!(
            "{side} URL `{shown}` is plain http:// to another machine: the token would cross the \
             network in clear text. Use https://, or pass --allow-insecure-http if you mean it"
        );
    }
    Ok(trimmed.to_string())
}

/// Whether `authority` (`host[:port]`) names this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn token_from_env(name: &str) -> Option<Secret> {
    std::env::var(name)
        .ok()
        .map(Secret::new)
        .filter(|s| !s.is_empty())
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// `$XDG_CONFIG_HOME/i2k` or `~/.config/i2k`.
pub fn config_dir() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config")
}

/// `$XDG_STATE_HOME/i2k` or `~/.local/state/i2k`.
pub fn state_root() -> Option<PathBuf> {
    xdg_dir("XDG_STATE_HOME", ".local/state")
}

/// i2k's directory under the XDG base directory `$var`, or under `~/home_default` when it is
/// unset or empty.
fn xdg_dir(var: &str, home_default: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(home_default)))
        .map(|d| d.join("i2k"))
}

/// The run-state directory: `--state`, else the config file's, else `<state root>/default`.
pub fn state_dir(flag: Option<&Path>, file: &FileConfig) -> anyhow::Result<PathBuf> {
    if let Some(p) = flag.or(file.run.state_dir.as_deref()) {
        return Ok(p.to_path_buf());
    }
    state_root()
        .map(|r| r.join("default"))
        .ok_or_else(|| anyhow::anyhow!("no state directory: pass --state DIR (HOME is not set)"))
}

/// Creates `dir` (and parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))
}

/// Replaces `path` with `bytes` whole: written 0600 to a temporary file beside it, synced, then
/// renamed over it, so a reader (or a crash) sees the old file or the new one, never a part.
pub fn replace_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut file = create_private_file(&tmp, true)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

/// Opens `path` for appending, creating it 0600 (state files, logs, reports).
pub fn create_private_file(path: &Path, truncate: bool) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.create(true).write(true).mode(0o600);
    if truncate {
        o.truncate(true);
    } else {
        o.append(true);
    }
    o.open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_regions_map_to_hosts() {
        let file: FileConfig =
            toml::from_str("[intercom]\nregion = \"eu\"\n[kustomer]\norg = \"acme\"\n").unwrap();
        let e = Endpoints::resolve(&ConnectArgs::default(), &file).unwrap();
        assert_eq!(e.intercom_url, "https://api.eu.intercom.io");
        assert_eq!(e.kustomer_url, "https://acme.api.kustomerapp.com");
        let args = ConnectArgs {
            intercom_url: Some("http://127.0.0.1:9/".into()),
            kustomer_region: Some(KustomerRegion::Eu),
            ..Default::default()
        };
        let e = Endpoints::resolve(&args, &file).unwrap();
        assert_eq!(e.intercom_url, "http://127.0.0.1:9");
        assert_eq!(e.kustomer_url, "https://api.prod2.kustomerapp.com");
    }

    #[test]
    fn bad_urls_and_unknown_keys_are_named() {
        let args = ConnectArgs {
            intercom_url: Some("ftp://x".into()),
            ..Default::default()
        };
        let err = Endpoints::resolve(&args, &FileConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("ftp://x"), "{err}");
        let err = toml::from_str::<FileConfig>("[intercom]\ntoken = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("token"), "{err}");
    }

    fn resolve_intercom(url: &str, allow_insecure_http: bool) -> anyhow::Result<Endpoints> {
        let args = ConnectArgs {
            intercom_url: Some(url.into()),
            allow_insecure_http,
            ..Default::default()
        };
        Endpoints::resolve(&args, &FileConfig::default())
    }

    #[test]
    fn plain_http_goes_only_to_this_machine_unless_allowed() {
        for local in [
            "http://127.0.0.1:4000",
            "http://localhost:8080/",
            "http://[::1]:9",
        ] {
            assert!(resolve_intercom(local, false).is_ok(), "{local}");
        }
        let err = resolve_intercom("http://example.invalid", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--allow-insecure-http"), "{err}");
        assert!(err.contains("clear text"), "{err}");
        // A host that merely starts like a loopback name is not one.
        assert!(resolve_intercom("http://localhost.example.com", false).is_err());
        assert!(resolve_intercom("http://127.0.0.1.example.com", false).is_err());
        let e = resolve_intercom("http://example.invalid", true).unwrap();
        assert_eq!(e.intercom_url, "http://example.invalid");
    }

    #[test]
    fn a_url_password_is_refused_without_being_echoed() {
        for url in [
            "https://ann:hunter22@api.intercom.io",
            "http://hunter22@127.0.0.1:9",
            "ftp://ann:hunter22@x",
        ] {
            let err = format!("{:#}", resolve_intercom(url, false).unwrap_err());
            assert!(!err.contains("hunter22"), "{err}");
            assert!(err.contains("[redacted]"), "{err}");
        }
    }

    #[test]
    fn a_config_file_holding_a_token_is_refused_without_echoing_it() {
        let dir = std::env::temp_dir().join(format!(
            "i2k-config-token-{}-{}",
            std::process::id(),
            crate::rng::Rng::from_entropy().hex(4)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("i2k.toml");
        for (text, key) in [
            (
                "[kustomer]\nrate_limit = 1000\napi_key = \"kst_secret_0123456789\"\n",
                "api_key",
            ),
            ("[intercom]\ntoken = \"kst_secret_0123456789\"\n", "token"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = format!("{:#}", FileConfig::load(Some(&path)).unwrap_err());
            assert!(!err.contains("kst_secret"), "the token is echoed: {err}");
            assert!(err.contains(&format!("`{key}`")), "{err}");
            assert!(err.contains("KUSTOMER_API_KEY"), "{err}");
            assert!(err.contains(" line "), "{err}");
        }
        // Other mistakes say where and what, without quoting the line either.
        std::fs::write(&path, "[kustomer]\nrate_limit = \"lots\"\n").unwrap();
        let err = format!("{:#}", FileConfig::load(Some(&path)).unwrap_err());
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("rate_limit = "), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
