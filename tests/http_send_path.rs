//! The shared send path against a real HTTP server on loopback whose answers each test scripts:
//! retries on transient failures, no blind resend of creates, typed errors, redaction, 429 holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use i2k::http::{
    ApiClient, ApiError, ApiSide, ClientConfig, GateConfig, RateGate, Request, Secret,
};
use serde_json::json;

const TOKEN: &str = "secret-token-0123456789";

/// Serves `script(n)` for the n-th request (0-based) on every path.
async fn serve(script: fn(u32, &HeaderMap) -> Response) -> (String, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(any(move |headers: HeaderMap| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move { script(n, &headers) }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

fn client(base: &str) -> ApiClient {
    let mut cfg = ClientConfig::new(ApiSide::Kustomer, base, Secret::new(TOKEN));
    cfg.timeout = Duration::from_millis(500);
    cfg.backoff_base = Duration::from_millis(5);
    cfg.backoff_max = Duration::from_millis(20);
    cfg.max_attempts = 4;
    ApiClient::new(cfg, RateGate::new(GateConfig::kustomer(10_000, 1.0))).unwrap()
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

#[tokio::test]
async fn idempotent_requests_are_retried_through_server_errors() {
    let (base, hits) = serve(|n, _| {
        if n < 2 {
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"errors":[{"code":"server_error"}]}),
            )
        } else {
            json_response(StatusCode::OK, json!({"data": {"id": "x"}}))
        }
    })
    .await;
    let reply = client(&base).get("/v1/things/x").await.unwrap();
    assert_eq!(reply.body["data"]["id"], "x");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_not_resent() {
    let (base, hits) =
        serve(|_, _| json_response(StatusCode::BAD_GATEWAY, json!({"errors":[]}))).await;
    let err = client(&base)
        .send(Request::post("/v1/customers", json!({"name": "A"})))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Ambiguous { .. }), "{err:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_create_refused_with_429_is_retried_because_it_had_no_effect() {
    let (base, hits) = serve(|n, _| {
        if n == 0 {
            let mut r = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"errors":[{"code":"rate_limit_exceeded","message":"slow down"}]}),
            );
            r.headers_mut()
                .insert("x-ratelimit-reset", "0".parse().unwrap());
            r
        } else {
            json_response(StatusCode::CREATED, json!({"data": {"id": "c1"}}))
        }
    })
    .await;
    let c = client(&base);
    let reply = c
        .send(Request::post("/v1/customers", json!({})))
        .await
        .unwrap();
    assert_eq!(reply.status, 201);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(c.gate().budget().throttled, 1);
}

#[tokio::test]
async fn permanent_errors_carry_the_apis_code_and_message_without_the_token() {
    let (base, _) = serve(|_, headers| {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"errors":[{"status":400,"code":"invalid","title":"Bad attribute","detail": format!("echo {auth}")}]}),
        )
    })
    .await;
    let err = client(&base)
        .send(Request::put(
            "/v1/customers/1",
            json!({"custom": {"aNum": "x"}}),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("invalid"));
    let shown = format!("{err} {} {}", err.request(), err.response());
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(err.request().contains("aNum"));
}

#[tokio::test]
async fn malformed_bodies_are_retried_on_reads_and_ambiguous_on_creates() {
    let (base, hits) = serve(|n, _| {
        if n % 2 == 0 {
            (StatusCode::OK, "{\"data\": {\"id\"").into_response()
        } else {
            json_response(StatusCode::OK, json!({"ok": true}))
        }
    })
    .await;
    let c = client(&base);
    assert_eq!(c.get("/x").await.unwrap().body["ok"], true);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    let err = c.send(Request::post("/x", json!({}))).await.unwrap_err();
    assert!(matches!(err, ApiError::Ambiguous { .. }), "{err:?}");
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(any(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            json_response(StatusCode::OK, json!({}))
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let err = client(&base).get("/slow").await.unwrap_err();
    assert!(matches!(err, ApiError::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn an_unreachable_host_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = client(&format!("http://{addr}"))
        .get("/v1/users/current")
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

/// A client whose gate holds for at most one second after a 429 without a reset, and that gives
/// up after two failures of any other kind.
fn client_with_short_window(base: &str) -> ApiClient {
    let mut cfg = ClientConfig::new(ApiSide::Kustomer, base, Secret::new(TOKEN));
    cfg.timeout = Duration::from_millis(500);
    cfg.backoff_base = Duration::from_millis(5);
    cfg.backoff_max = Duration::from_millis(20);
    cfg.max_attempts = 2;
    let gate = RateGate::new(GateConfig {
        window: Duration::from_secs(1),
        limit: 10_000,
        share: 1.0,
    });
    ApiClient::new(cfg, gate).unwrap()
}

fn throttled(reset: Option<i64>) -> Response {
    let mut r = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"errors":[{"code":"rate_limit_exceeded","message":"slow down"}]}),
    );
    if let Some(reset) = reset {
        r.headers_mut()
            .insert("x-ratelimit-remaining", "0".parse().unwrap());
        r.headers_mut()
            .insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
    }
    r
}

#[tokio::test]
async fn a_run_of_429s_without_a_reset_is_waited_out_and_never_uses_up_the_attempts() {
    // Four 429s in a row, twice the attempts the client allows for other failures.
    let (base, hits) = serve(|n, _| {
        if n < 4 {
            throttled(None)
        } else {
            json_response(StatusCode::CREATED, json!({"data": {"id": "c1"}}))
        }
    })
    .await;
    let c = client_with_short_window(&base);
    let reply = c
        .send(Request::post("/v1/customers", json!({})))
        .await
        .expect("throttling does not end the request");
    assert_eq!(reply.status, 201);
    assert_eq!(hits.load(Ordering::SeqCst), 5);
    assert_eq!(c.gate().budget().throttled, 4);
}

#[tokio::test]
async fn a_run_of_429s_with_an_announced_reset_is_waited_out() {
    let (base, hits) = serve(|n, _| {
        if n < 3 {
            throttled(Some(i2k::timefmt::now_unix() + 1))
        } else {
            json_response(StatusCode::OK, json!({"data": {"id": "x"}}))
        }
    })
    .await;
    let c = client_with_short_window(&base);
    let reply = c
        .get("/v1/things/x")
        .await
        .expect("answered after the throttle");
    assert_eq!(reply.body["data"]["id"], "x");
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    assert_eq!(c.gate().budget().throttled, 3);
}

#[tokio::test]
async fn the_token_is_never_sent_to_an_absolute_url_on_another_host() {
    let (base, own_hits) = serve(|_, _| json_response(StatusCode::OK, json!({}))).await;
    let (elsewhere, foreign_hits) = serve(|_, headers| {
        // Were it ever reached, it would answer as if all were well.
        let auth = headers.get("authorization").is_some();
        json_response(StatusCode::OK, json!({"saw_token": auth}))
    })
    .await;
    let c = client(&base);
    for url in [
        format!("{elsewhere}/contacts?page=2"),
        // Same host, another port or scheme: another origin.
        base.replace("http://", "https://") + "/contacts",
        format!(
            "http://user:hunter22@{}/contacts",
            base.trim_start_matches("http://")
        ),
    ] {
        let err = c.get(&url).await.unwrap_err();
        let text = format!("{err} {}", err.request());
        assert!(
            text.contains("refused to send the Kustomer token"),
            "{text}"
        );
        assert!(!text.contains("hunter22"), "a URL password leaked: {text}");
        assert!(!text.contains(TOKEN), "{text}");
    }
    assert_eq!(foreign_hits.load(Ordering::SeqCst), 0);
    assert_eq!(own_hits.load(Ordering::SeqCst), 0);
    // Its own absolute URLs still go.
    c.get(&format!("{base}/v1/next-page")).await.unwrap();
    assert_eq!(own_hits.load(Ordering::SeqCst), 1);
}

/// Serves `/hang` after `hang` and anything else at once.
async fn serve_hanging(hang: Duration) -> String {
    let app = Router::new().fallback(any(move |uri: axum::http::Uri| async move {
        if uri.path() == "/hang" {
            tokio::time::sleep(hang).await;
        }
        json_response(StatusCode::OK, json!({}))
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A client whose configured timeout is far longer than any learnt one, trying each request once.
fn patient_client(base: &str) -> ApiClient {
    let mut cfg = ClientConfig::new(ApiSide::Kustomer, base, Secret::new(TOKEN));
    cfg.timeout = Duration::from_secs(600);
    cfg.max_attempts = 1;
    ApiClient::new(cfg, RateGate::new(GateConfig::kustomer(10_000, 1.0))).unwrap()
}

/// A read that left before any answer had taught a timeout (the first requests of a process)
/// is abandoned at the timeout learnt while it hangs, not held for the configured one.
#[tokio::test]
async fn a_read_sent_before_a_timeout_was_learnt_is_abandoned_at_the_learnt_one() {
    let base = serve_hanging(Duration::from_secs(600)).await;
    let c = patient_client(&base);
    let hung = tokio::spawn({
        let c = c.clone();
        async move { c.get("/hang").await }
    });
    for _ in 0..20 {
        c.get("/fast").await.unwrap();
    }
    let learnt = c
        .learnt_timeouts()
        .read
        .expect("twenty answers teach a read timeout");
    assert!(learnt < Duration::from_secs(1), "{learnt:?}");
    assert_eq!(
        c.read_timeout(),
        Some(i2k::http::client::READ_TIMEOUT_FLOOR)
    );
    // Far sooner than the configured 600 s: the floor, 3 s, and a recheck.
    let err = tokio::time::timeout(Duration::from_secs(60), hung)
        .await
        .expect("abandoned at the learnt timeout")
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
}

/// A client started from the timeouts an earlier one learnt abandons its very first hung read
/// at them; what it learns itself can be kept again.
#[tokio::test]
async fn a_client_started_from_kept_timeouts_abandons_its_first_hung_read() {
    let base = serve_hanging(Duration::from_secs(600)).await;
    let earlier = patient_client(&base);
    for _ in 0..20 {
        earlier.get("/fast").await.unwrap();
    }
    let kept = earlier.learnt_timeouts();
    assert!(kept.read.is_some() && kept.write.is_none(), "{kept:?}");
    // Kept as the ledger keeps it: JSON, in whole milliseconds.
    let text = serde_json::to_string(&kept).unwrap();
    let kept: i2k::http::LearntTimeouts = serde_json::from_str(&text).unwrap();

    let later = patient_client(&base);
    assert_eq!(
        later.read_timeout(),
        None,
        "nothing learnt: the configured timeout"
    );
    later.start_from(kept);
    assert_eq!(
        later.read_timeout(),
        Some(i2k::http::client::READ_TIMEOUT_FLOOR)
    );
    let err = tokio::time::timeout(Duration::from_secs(60), later.get("/hang"))
        .await
        .expect("abandoned at the kept timeout")
        .unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
}
