//! What stands before every Kustomer API route: request counting per route, the bearer token,
//! the org-wide 60-second budget with `x-ratelimit-*` headers, latency, and injected faults.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::envelope::ApiError;
use super::state::{Budget, Sim};
use crate::sim::failing::{GARBLED_BODY, Strike};
use crate::sim::faults::{self, Side};

/// Whether the gate applies: every `/v1/` path, routed or not; never `/__sim/` or storage.
fn is_api_path(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// The answer for a path no route serves (after the gate, so a `/v1/` one had a valid bearer).
pub async fn no_route(uri: axum::http::Uri) -> Response {
    ApiError::not_found(format!("no route for {}", uri.path())).into_response()
}

/// The middleware on every `/v1/` path, known or unknown (the router layers it around every
/// route and the fallback); other paths (`/__sim/`, the storage upload route) pass untouched:
/// no auth, no counting, no budget, no faults.
pub async fn api_gate(State(sim): State<Sim>, req: Request, next: Next) -> Response {
    if !is_api_path(req.uri().path()) {
        return next.run(req).await;
    }
    let route = format!("{} {}", req.method(), route_label(req.uri().path()));
    let authorized = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| sim.accepts(token));

    let (budget, fault) = {
        let mut store = sim.lock();
        store.requests.entry(route.clone()).or_default().count += 1;
        if !authorized {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid `Authorization: Bearer <api key>` header is required",
            )
            .simple()
            .into_response();
        }
        let budget = store.org_window.take(sim.config().rate_per_minute);
        if !budget.allowed {
            store.requests.entry(route.clone()).or_default().throttled += 1;
        }
        let fault = if budget.allowed {
            let spec = sim.config().faults.clone();
            spec.draw(Side::Kustomer, &mut store.fault_rng)
        } else {
            None
        };
        (budget, fault)
    };

    let strike = if budget.allowed {
        sim.0
            .failing
            .strikes(req.method().as_str(), req.uri().path())
    } else {
        None
    };
    match strike {
        Some(Strike::Refuse(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return ApiError::new(status, "server_error", "a /__sim/fail rule").into_response();
        }
        Some(Strike::Garble) => {
            let status = next.run(req).await.status();
            let mut response = axum::response::Response::new(axum::body::Body::from(GARBLED_BODY));
            *response.status_mut() = status;
            return response;
        }
        None => {}
    }
    if !budget.allowed {
        let mut response = ApiError::too_many(
            "the org's API rate limit is exhausted; wait until x-ratelimit-reset",
        )
        .simple()
        .into_response();
        rate_headers(response.headers_mut(), &budget);
        return response;
    }

    let latency = sim.config().latency;
    if latency > Duration::ZERO {
        tokio::time::sleep(latency).await;
    }
    let hang = sim.config().fault_hang;
    let mut response = faults::apply(
        fault,
        hang,
        |status, code, message| {
            ApiError::new(status, code, message)
                .simple()
                .into_response()
        },
        next.run(req),
    )
    .await;
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        sim.lock().requests.entry(route).or_default().throttled += 1;
    }
    if !faults::set_throttle_headers(fault, budget.limit, response.headers_mut()) {
        rate_headers(response.headers_mut(), &budget);
    }
    response
}

/// No `Retry-After`: the reference cannot confirm Kustomer sends one, so clients must not need it.
fn rate_headers(headers: &mut HeaderMap, budget: &Budget) {
    faults::set_rate_headers(
        headers,
        budget.limit,
        budget.remaining,
        budget.reset_epoch_secs,
    );
}

/// The route a path belongs to, for the per-route request counts: record ids become `{id}` and
/// lookups (`externalId=…`, `email=…`) become `{lookup}`; klass names and languages stay.
pub fn route_label(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.len() == 24 && segment.bytes().all(|b| b.is_ascii_hexdigit()) {
                "{id}"
            } else if segment.contains('=') {
                "{lookup}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
