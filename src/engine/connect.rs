//! The connection checks `i2k doctor`, `extract`, `run` and the console's Connect screen share:
//! token valid, region, workspace or org name, API version, the rate budget each server announces,
//! the Kustomer key's roles, and what to do about the first problem. Below the commands and the
//! console, so neither imports the other.

use crate::config::{INTERCOM_TOKEN_ENV, INTERCOM_VERSION, KUSTOMER_TOKEN_ENV};
use crate::http::{ApiClient, ApiError, ApiSide, ClientConfig, GateConfig, RateGate, Secret};
use crate::intercom::IntercomClient;
use crate::intercom::client::DEFAULT_RATE_PER_WINDOW;
use crate::kustomer::KustomerClient;
use crate::kustomer::roles;
use crate::vocab::{CheckStatus, ConnectionInfo};

fn blank(side: &str, url: &str, token: &Option<Secret>) -> ConnectionInfo {
    ConnectionInfo {
        side: side.into(),
        url: url.into(),
        status: CheckStatus::Fail,
        name: None,
        region: None,
        api_version: None,
        rate_limit: None,
        rate_window_secs: None,
        token: token.as_ref().map_or("missing".into(), |t| t.hint()),
        token_refused: false,
        roles: Vec::new(),
        detail: None,
    }
}

/// The check's failing answer for `side` and the token to check with; without a token, the
/// answer says how to set one.
fn with_token(
    side: ApiSide,
    url: &str,
    token: Option<Secret>,
) -> Result<(ConnectionInfo, Secret), Box<ConnectionInfo>> {
    let mut info = blank(&side.to_string().to_lowercase(), url, &token);
    match token {
        Some(token) => Ok((info, token)),
        None => {
            info.detail = Some(match side {
                ApiSide::Intercom => format!(
                    "{INTERCOM_TOKEN_ENV} is not set: export an Intercom access token (Developer Hub → your app → Authentication)"
                ),
                ApiSide::Kustomer => format!(
                    "{KUSTOMER_TOKEN_ENV} is not set: export a Kustomer API key (Settings → Security → API Keys)"
                ),
            });
            Err(Box::new(info))
        }
    }
}

/// A client configuration that fails fast: a doctor that retries for a minute is no help.
fn fail_fast(side: ApiSide, url: &str, token: Secret) -> ClientConfig {
    let mut config = ClientConfig::new(side, url, token);
    config.max_attempts = 2;
    config.timeout = std::time::Duration::from_secs(15);
    config
}

/// The region a regional Intercom host serves, when the URL is one of them.
fn intercom_host_region(url: &str) -> Option<&'static str> {
    if url.contains("api.eu.intercom.io") {
        Some("EU")
    } else if url.contains("api.au.intercom.io") {
        Some("AU")
    } else if url.contains("api.intercom.io") {
        Some("US")
    } else {
        None
    }
}

/// Why a request failed, in the operator's terms, for one side.
fn explain(side: &str, env: &str, url: &str, err: &ApiError) -> String {
    match err {
        ApiError::Http {
            status: 401 | 403,
            code,
            message,
            ..
        } => format!(
            "{side} refused the token ({code}: {message}); set {env} to a valid token for {url} \
             (a token of another region's workspace is refused too)"
        ),
        ApiError::Http { status: 404, .. } => format!(
            "{side} answered 404 at {url}: this host does not serve the {side} API; check the URL or region flag"
        ),
        ApiError::Transport { message, .. } => {
            format!(
                "cannot reach {side} at {url}: {message}; check the URL, region flag and network"
            )
        }
        other => format!("{side} check failed at {url}: {other}"),
    }
}

/// Marks the token refused when the server answered 401 or 403.
fn refused(info: &mut ConnectionInfo, err: &ApiError) {
    info.token_refused = matches!(
        err,
        ApiError::Http {
            status: 401 | 403,
            ..
        }
    );
}

/// Checks the Intercom side with `GET /me`.
pub async fn check_intercom(url: &str, token: Option<Secret>) -> ConnectionInfo {
    let (mut info, token) = match with_token(ApiSide::Intercom, url, token) {
        Ok(checked) => checked,
        Err(info) => return *info,
    };
    let config = fail_fast(ApiSide::Intercom, url, token);
    let client = match IntercomClient::connect_with(config, DEFAULT_RATE_PER_WINDOW) {
        Ok(c) => c,
        Err(e) => {
            refused(&mut info, &e);
            info.detail = Some(explain("Intercom", INTERCOM_TOKEN_ENV, url, &e));
            return info;
        }
    };
    match client.me().await {
        Ok((me, _raw)) => {
            let app = me.app.unwrap_or_default();
            info.status = CheckStatus::Pass;
            info.name = app.name.or(app.id_code);
            info.region = app.region.clone();
            info.api_version = Some(INTERCOM_VERSION.into());
            let budget = client.gate().budget();
            info.rate_limit = Some(budget.limit);
            info.rate_window_secs = Some(budget.window_secs);
            if let (Some(workspace), Some(host)) =
                (app.region.as_deref(), intercom_host_region(url))
                && !workspace.eq_ignore_ascii_case(host)
            {
                info.status = CheckStatus::Warn;
                info.detail = Some(format!(
                    "the workspace is hosted in {workspace} but {url} is the {host} host; use --intercom-region {}",
                    workspace.to_ascii_lowercase()
                ));
            }
        }
        Err(e) => {
            refused(&mut info, &e);
            info.detail = Some(explain("Intercom", INTERCOM_TOKEN_ENV, url, &e));
        }
    }
    info
}

/// Checks the Kustomer side: the key's roles and its user.
pub async fn check_kustomer(url: &str, token: Option<Secret>) -> ConnectionInfo {
    let (mut info, token) = match with_token(ApiSide::Kustomer, url, token) {
        Ok(checked) => checked,
        Err(info) => return *info,
    };
    let hint = token.hint();
    let config = fail_fast(ApiSide::Kustomer, url, token);
    let gate = RateGate::new(GateConfig::kustomer(
        crate::kustomer::client::DEFAULT_RATE_LIMIT_PER_MINUTE,
        crate::kustomer::client::DEFAULT_RATE_SHARE,
    ));
    let client = match ApiClient::new(config, gate) {
        Ok(api) => KustomerClient::new(api),
        Err(e) => {
            info.detail = Some(explain("Kustomer", KUSTOMER_TOKEN_ENV, url, &e));
            return info;
        }
    };
    let mut checked = client.check_connection().await;
    checked.token = hint;
    if checked.status == CheckStatus::Fail {
        let reason = checked.detail.take().unwrap_or_default();
        checked.detail = Some(format!(
            "Kustomer check failed at {url}: {reason}; check {KUSTOMER_TOKEN_ENV}, --kustomer-org or --kustomer-url"
        ));
    } else {
        note_missing_roles(&mut checked);
    }
    checked
}

/// Names each role the key lacks with what it costs (a warning: the run says what it does about
/// each), or that the roles could not be read.
fn note_missing_roles(info: &mut ConnectionInfo) {
    let mut lines: Vec<String> = info.detail.take().into_iter().collect();
    if info.roles.is_empty() {
        lines.push(
            "the key's roles could not be read: check them against the README (Roles the API key needs)"
                .to_string(),
        );
    } else {
        let missing = roles::missing(&info.roles);
        lines.extend(missing.iter().map(|need| need.describe()));
        if !missing.is_empty() {
            lines.push(
                "roles cannot be edited: create a key with the roles the README lists (Roles the API key needs)"
                    .to_string(),
            );
        }
    }
    if !lines.is_empty() {
        info.status = CheckStatus::Warn;
        info.detail = Some(lines.join("\n"));
    }
}
