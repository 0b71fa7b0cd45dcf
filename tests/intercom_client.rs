//! The Intercom client against the Intercom simulator over loopback HTTP: each pagination style,
//! the companies scroll restarting when lost (idle expiry, injected 5xx) and waiting on
//! `scroll_exists`, truncation at 500 parts, attachments downloaded before their URL expires, and
//! a listing whose cursor repeats ending with a warning instead of looping.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use i2k::http::Secret;
use i2k::intercom::models::{Contact, Conversation};
use i2k::intercom::{IntercomClient, Listing, Page, Pager, ScrollTiming, Searchable, WholeList};
use i2k::sim::SizePreset;
use i2k::sim::faults::FaultSpec;
use i2k::sim::intercom::{Config, spawn};
use serde_json::{Value, json};

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn sim(config: Config) -> (i2k::sim::SimHandle, IntercomClient) {
    let handle = spawn(config, loopback()).await.unwrap();
    let client = IntercomClient::connect(&handle.url, Secret::new(handle.token.clone()), 1667)
        .unwrap()
        .with_scroll_timing(ScrollTiming {
            busy_poll: Duration::from_millis(200),
            busy_max: Duration::from_secs(10),
        });
    (handle, client)
}

async fn get_json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn truth(handle: &i2k::sim::SimHandle, object: &str) -> u64 {
    get_json(format!("{}/__sim/truth", handle.url)).await["counts"][object]
        .as_u64()
        .unwrap()
}

async fn route_count(handle: &i2k::sim::SimHandle, route: &str) -> u64 {
    get_json(format!("{}/__sim/requests", handle.url)).await["by_route"][route]
        .as_u64()
        .unwrap_or(0)
}

async fn drain(pager: &mut Pager) -> Vec<Page> {
    let mut pages = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        pages.push(page);
    }
    pages
}

fn ids(pages: &[Page]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| &p.records)
        .map(|r| match &r["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[tokio::test]
async fn search_pages_with_the_cursor_in_the_body_in_updated_at_order() {
    let (handle, client) = sim(Config::new(7, SizePreset::Small)).await;
    let mut pager = client.pager(Listing::search(Searchable::Contacts, None), None);
    let pages = drain(&mut pager).await;
    let all = ids(&pages);
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "no contact twice");
    assert_eq!(all.len() as u64, truth(&handle, "contacts").await);
    assert!(pages.len() > 1, "small has more than one page of 150");
    let updated: Vec<i64> = pages
        .iter()
        .flat_map(|p| &p.records)
        .map(|r| {
            serde_json::from_value::<Contact>(r.clone())
                .unwrap()
                .updated_at
                .unwrap()
        })
        .collect();
    assert!(updated.windows(2).all(|w| w[0] <= w[1]), "sorted ascending");
    assert_eq!(
        route_count(&handle, "POST /contacts/search").await,
        pages.len() as u64
    );
}

#[tokio::test]
async fn a_saved_search_position_resumes_after_the_pages_already_read() {
    let (handle, client) = sim(Config::new(7, SizePreset::Small)).await;
    let mut first = client.pager(Listing::search(Searchable::Contacts, None), None);
    let page_one = first.next_page().await.unwrap().unwrap();
    let position = page_one.position.clone().expect("more pages follow");
    let mut resumed = client.pager(Listing::search(Searchable::Contacts, None), Some(position));
    let rest = drain(&mut resumed).await;
    let mut all = ids(std::slice::from_ref(&page_one));
    all.extend(ids(&rest));
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len() as u64, truth(&handle, "contacts").await);
    assert_eq!(distinct.len(), all.len());
}

#[tokio::test]
async fn page_numbered_lists_and_whole_lists_return_everything() {
    let (handle, client) = sim(Config::new(3, SizePreset::Tiny)).await;
    let collections = ids(&drain(&mut client.pager(Listing::collections(), None)).await);
    assert_eq!(
        collections.len() as u64,
        truth(&handle, "collections").await
    );
    let articles = ids(&drain(&mut client.pager(Listing::articles(), None)).await);
    assert_eq!(articles.len() as u64, truth(&handle, "articles").await);
    let mut versions = 0;
    for id in &articles {
        versions += ids(&drain(&mut client.pager(Listing::article_versions(id), None)).await).len();
    }
    assert_eq!(versions as u64, truth(&handle, "article_versions").await);
    let macros = ids(&drain(&mut client.pager(Listing::macros(), None)).await);
    assert_eq!(macros.len() as u64, truth(&handle, "macros").await);
    let admins = client.whole_list(WholeList::Admins).await.unwrap();
    assert_eq!(admins.len() as u64, truth(&handle, "admins").await);
}

#[tokio::test]
async fn the_scroll_restarts_from_the_start_when_it_expires_mid_listing() {
    // `small` fills a whole first page (100): a 404 after a full page means the scroll was lost.
    let mut config = Config::new(5, SizePreset::Small);
    config.scroll_idle = Duration::from_millis(300);
    let (handle, client) = sim(config).await;
    let mut pager = client.pager(Listing::CompaniesScroll, None);
    let first = pager.next_page().await.unwrap().unwrap();
    assert!(!first.restarted);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = pager.next_page().await.unwrap().unwrap();
    assert!(second.restarted, "the expired scroll was read again");
    assert!(second.warnings[0].contains("from the start"));
    let rest = drain(&mut pager).await;
    let all: HashSet<String> = ids(&[first, second])
        .into_iter()
        .chain(ids(&rest))
        .collect();
    assert_eq!(all.len() as u64, truth(&handle, "companies").await);
}

#[tokio::test]
async fn the_scroll_survives_injected_server_errors() {
    let mut config = Config::new(2, SizePreset::Small);
    config.faults = FaultSpec::parse("intercom.5xx=0.3").unwrap();
    let (handle, client) = sim(config).await;
    let mut pager = client.pager(Listing::CompaniesScroll, None);
    let pages = drain(&mut pager).await;
    // The fault sequence is seeded: with this seed a continuation fails and kills the scroll.
    assert!(pages.iter().any(|p| p.restarted), "a restart happened");
    let all: HashSet<String> = ids(&pages).into_iter().collect();
    assert_eq!(all.len() as u64, truth(&handle, "companies").await);
}

#[tokio::test]
async fn a_second_scroll_waits_for_the_open_one_to_expire() {
    let mut config = Config::new(5, SizePreset::Tiny);
    config.scroll_idle = Duration::from_millis(800);
    let (handle, client) = sim(config).await;
    // Another exporter opens a scroll and leaves it open.
    let other = reqwest::Client::new()
        .get(format!("{}/companies/scroll", handle.url))
        .bearer_auth(&handle.token)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    let started = std::time::Instant::now();
    let mut pager = client.pager(Listing::CompaniesScroll, None);
    let pages = drain(&mut pager).await;
    assert!(started.elapsed() >= Duration::from_millis(500), "it waited");
    assert_eq!(ids(&pages).len() as u64, truth(&handle, "companies").await);
}

#[tokio::test]
async fn truncated_conversations_report_the_parts_the_api_cannot_return() {
    let (handle, client) = sim(Config::new(11, SizePreset::Tiny)).await;
    let listed = ids(&drain(
        &mut client.pager(Listing::search(Searchable::Conversations, None), None),
    )
    .await);
    let mut returned = 0;
    let mut missing = 0;
    let mut truncated = 0;
    for id in &listed {
        let conv: Conversation =
            serde_json::from_value(client.conversation(id).await.unwrap()).unwrap();
        let coverage = conv.part_coverage();
        if coverage.missing() > 0 {
            truncated += 1;
            assert_eq!(coverage.returned, 500, "the newest 500 are returned");
        }
        returned += coverage.returned;
        missing += coverage.missing();
    }
    assert!(truncated >= 1, "tiny has a thread over 500 parts");
    assert_eq!(
        returned + missing,
        truth(&handle, "conversation_parts").await
    );
}

#[tokio::test]
async fn attachments_download_while_their_url_is_fresh_and_not_after() {
    let mut config = Config::new(11, SizePreset::Tiny);
    config.attachment_ttl = Duration::from_secs(2);
    let (handle, client) = sim(config).await;
    let listed = ids(&drain(
        &mut client.pager(Listing::search(Searchable::Conversations, None), None),
    )
    .await);
    let dir = std::env::temp_dir().join(format!("i2k-iclient-att-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut url = None;
    for id in &listed {
        let conv: Conversation =
            serde_json::from_value(client.conversation(id).await.unwrap()).unwrap();
        if let Some((_, a)) = conv.attachments().first() {
            url = a.url.clone();
            break;
        }
    }
    let url = url.expect("tiny has attachments");
    let dest = dir.join("fresh");
    let got = client.download(&url, &dest).await.unwrap();
    let bytes = std::fs::read(&dest).unwrap();
    assert_eq!(got.bytes, bytes.len() as u64);
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(got.sha256, hex);
    // Expiry is checked in whole seconds: wait the lifetime plus more than a second.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let late = client.download(&url, &dir.join("late")).await;
    assert!(late.is_err(), "an expired URL is refused");
    drop(handle);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_listing_whose_cursor_repeats_ends_with_a_warning() {
    // A server that always answers with the same cursor: a real API bug the pager must survive.
    let router = axum::Router::new().route(
        "/contacts/search",
        axum::routing::post(|| async {
            axum::Json(json!({
                "type": "list",
                "data": [{"type": "contact", "id": "c1", "updated_at": 1}],
                "total_count": 1,
                "pages": {"type": "pages", "next": {"starting_after": "same-cursor"}}
            }))
        }),
    );
    let handle = i2k::sim::SimHandle::serve(router, loopback(), "t".into())
        .await
        .unwrap();
    let client = IntercomClient::connect(&handle.url, Secret::new("t"), 1667).unwrap();
    let mut pager = client.pager(Listing::search(Searchable::Contacts, None), None);
    let pages = drain(&mut pager).await;
    assert_eq!(pages.len(), 2, "the repeat is seen on the second page");
    assert!(pages[1].warnings[0].contains("second time"));
    assert!(pages[1].position.is_none());
}

/// A scroll server as the real API behaves at the end: a short page, then 404 for its param.
async fn scroll_server(first_page: usize) -> i2k::sim::SimHandle {
    use axum::extract::Query;
    use std::collections::HashMap;
    let router = axum::Router::new().route(
        "/companies/scroll",
        axum::routing::get(move |Query(q): Query<HashMap<String, String>>| async move {
            if first_page == 0 || q.contains_key("scroll_param") {
                let body = json!({"type": "error.list", "errors": [{"code": "not_found", "message": "scroll expired"}]});
                return (axum::http::StatusCode::NOT_FOUND, axum::Json(body));
            }
            let data: Vec<Value> = (0..first_page)
                .map(|i| json!({"type": "company", "id": format!("co{i}")}))
                .collect();
            let body = json!({"type": "list", "data": data, "pages": null, "total_count": null, "scroll_param": "p1"});
            (axum::http::StatusCode::OK, axum::Json(body))
        }),
    );
    i2k::sim::SimHandle::serve(router, loopback(), "t".into())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_404_after_a_short_scroll_page_or_on_an_empty_workspace_ends_the_listing() {
    let handle = scroll_server(37).await;
    let client = IntercomClient::connect(&handle.url, Secret::new("t"), 1667).unwrap();
    let pages = drain(&mut client.pager(Listing::CompaniesScroll, None)).await;
    assert_eq!(ids(&pages).len(), 37);
    assert!(
        pages.iter().all(|p| !p.restarted),
        "a short page then 404 is the end"
    );

    let empty = scroll_server(0).await;
    let client = IntercomClient::connect(&empty.url, Secret::new("t"), 1667).unwrap();
    let pages = drain(&mut client.pager(Listing::CompaniesScroll, None)).await;
    assert!(ids(&pages).is_empty());
}

#[tokio::test]
async fn a_hostile_pages_next_never_receives_the_token() {
    use std::sync::{Arc, Mutex};
    const TOKEN: &str = "ic_token_0123456789abcdef";
    // Another host (here another port: another origin) that records every Authorization it sees.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorder = seen.clone();
    let hostile = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let recorder = recorder.clone();
        async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(none)")
                .to_string();
            recorder.lock().unwrap().push(auth);
            axum::Json(json!({"type": "event.list", "events": [], "pages": {}}))
        }
    });
    let hostile = i2k::sim::SimHandle::serve(hostile, loopback(), "t".into())
        .await
        .unwrap();
    // The API's first page of events names that host as its next page.
    let next = format!("{}/events?steal=1", hostile.url);
    let api = axum::Router::new().route(
        "/events",
        axum::routing::get(move || {
            let next = next.clone();
            async move {
                axum::Json(json!({
                    "type": "event.list",
                    "events": [{"type": "event", "id": "e1", "event_name": "x", "created_at": 1}],
                    "pages": {"next": next}
                }))
            }
        }),
    );
    let api = i2k::sim::SimHandle::serve(api, loopback(), TOKEN.into())
        .await
        .unwrap();
    let client = IntercomClient::connect(&api.url, Secret::new(TOKEN), 1667).unwrap();
    let mut pager = client.pager(
        Listing::Events {
            contact_id: "c1".into(),
        },
        None,
    );
    let first = pager.next_page().await.unwrap().expect("the first page");
    assert_eq!(first.records.len(), 1);
    let err = pager.next_page().await.unwrap_err().to_string();
    assert!(err.contains("refused to send the Intercom token"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "the other host was asked: {:?}",
        seen.lock().unwrap()
    );
}
