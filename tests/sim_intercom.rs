//! The Intercom simulator over real HTTP on loopback: auth, versions, rate limits, every
//! pagination style, search semantics, the 500-part cap, the companies scroll lifecycle,
//! injected faults, expiring attachments, the events window, truth counts and determinism.

use std::time::Duration;

use i2k::sim::faults::FaultSpec;
use i2k::sim::intercom::{Config, admin_identities, spawn};
use i2k::sim::{SimHandle, SizePreset};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start(config: Config) -> SimHandle {
    spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn tiny() -> SimHandle {
    start(Config::new(11, SizePreset::Tiny)).await
}

struct Api<'a> {
    sim: &'a SimHandle,
    client: reqwest::Client,
}

impl<'a> Api<'a> {
    fn new(sim: &'a SimHandle) -> Self {
        Api {
            sim,
            client: reqwest::Client::new(),
        }
    }

    async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.sim.url))
            .bearer_auth(&self.sim.token)
            .header("Intercom-Version", "2.16")
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.get_raw(path).await;
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.sim.url))
            .bearer_auth(&self.sim.token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post_ok(&self, path: &str, body: &Value) -> Value {
        let (status, v) = self.post(path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {v}");
        v
    }

    async fn sim_get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.sim.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// All records of a search, following the body cursor.
    async fn search_all(&self, path: &str, key: &str, query: Value) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut body = json!({"query": query, "pagination": {"per_page": 7}});
            if let Some(c) = &cursor {
                body["pagination"]["starting_after"] = json!(c);
            }
            let page = self.post_ok(path, &body).await;
            out.extend(page[key].as_array().unwrap().iter().cloned());
            match page["pages"]["next"]["starting_after"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }
}

fn error_code(body: &Value) -> &str {
    body["errors"][0]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused_without_rate_headers() {
    let sim = tiny().await;
    let client = reqwest::Client::new();
    for request in [
        client.get(format!("{}/admins", sim.url)),
        client
            .get(format!("{}/admins", sim.url))
            .bearer_auth("not-the-token"),
    ] {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get("x-ratelimit-limit").is_none());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["type"], "error.list");
        assert_eq!(error_code(&body), "unauthorized");
        assert_eq!(body["errors"][0]["message"], "Access Token Invalid");
    }
}

#[tokio::test]
async fn missing_version_is_answered_as_2_16_and_unknown_versions_are_refused() {
    let sim = tiny().await;
    let client = reqwest::Client::new();
    // Without the header the 2.16-only route answers: the default version is 2.16.
    let r = client
        .get(format!("{}/conversations/attributes", sim.url))
        .bearer_auth(&sim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .get(format!("{}/admins", sim.url))
        .bearer_auth(&sim.token)
        .header("Intercom-Version", "3.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "intercom_version_invalid");
}

#[tokio::test]
async fn data_attributes_refuse_the_conversation_model_with_422() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let (status, body) = api.get("/data_attributes?model=conversation").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "parameter_invalid");
    let contact = api.ok("/data_attributes?model=contact").await;
    assert!(
        contact["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["model"] == "contact")
    );
}

#[tokio::test]
async fn rate_headers_count_down_and_429_once_the_window_budget_is_spent() {
    let mut config = Config::new(11, SizePreset::Tiny);
    config.rate_per_window = 3;
    let sim = start(config).await;
    let api = Api::new(&sim);
    // Start early in a window so all four requests fall into the same one.
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        if now % 10_000 < 7_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = api.get_raw("/tags").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-ratelimit-limit"], "3");
        let reset: i64 = r.headers()["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(reset % 10, 0, "windows are aligned to multiples of 10 s");
        remaining.push(
            r.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let r = api.get_raw("/tags").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "rate_limit_exceeded");
    assert_eq!(
        body["errors"][0]["message"],
        "Exceeded rate limit of 3 in 10_seconds"
    );
    let counted = api.sim_get("/__sim/requests").await;
    assert_eq!(counted["count"], 4);
    assert_eq!(counted["throttled"], 1);
    assert_eq!(counted["by_route"]["GET /tags"], 4);
}

#[tokio::test]
async fn sim_routes_bypass_auth_and_are_not_counted() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    api.ok("/me").await;
    for _ in 0..3 {
        let truth = api.sim_get("/__sim/truth").await;
        assert!(truth["counts"]["contacts"].as_u64().unwrap() > 0);
    }
    let counted = api.sim_get("/__sim/requests").await;
    assert_eq!(counted["count"], 1);
}

#[tokio::test]
async fn contacts_list_pages_with_a_cursor_until_next_is_absent() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let mut seen = Vec::new();
    let mut path = "/contacts?per_page=6".to_string();
    loop {
        let page = api.ok(&path).await;
        assert_eq!(page["pages"]["per_page"], 6);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].clone()),
        );
        match page["pages"]["next"]["starting_after"].as_str() {
            Some(c) => path = format!("/contacts?per_page=6&starting_after={c}"),
            None => break,
        }
    }
    let truth = api.sim_get("/__sim/truth").await;
    assert_eq!(
        seen.len() as u64,
        truth["counts"]["contacts"].as_u64().unwrap()
    );
    let mut dedup = seen.clone();
    dedup.sort_by_key(|v| v.to_string());
    dedup.dedup();
    assert_eq!(dedup.len(), seen.len());
}

#[tokio::test]
async fn contacts_search_takes_its_cursor_from_the_body_not_the_query() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let query = json!({"query": {"field": "created_at", "operator": ">", "value": 0}, "pagination": {"per_page": 5}});
    let first = api.post_ok("/contacts/search", &query).await;
    let cursor = first["pages"]["next"]["starting_after"]
        .as_str()
        .unwrap()
        .to_string();
    let mut with_body_cursor = query.clone();
    with_body_cursor["pagination"]["starting_after"] = json!(cursor);
    let second = api.post_ok("/contacts/search", &with_body_cursor).await;
    assert_ne!(first["data"][0]["id"], second["data"][0]["id"]);
    assert_eq!(second["pages"]["page"], 2);
    let in_query = api
        .post_ok(&format!("/contacts/search?starting_after={cursor}"), &query)
        .await;
    assert_eq!(
        in_query["data"], first["data"],
        "a query-string cursor is ignored"
    );
    let (status, body) = api
        .post("/contacts/search", &json!({"query": {"field": "created_at", "operator": ">", "value": 0}, "pagination": {"per_page": 151}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn date_filters_match_by_calendar_day_and_refuse_unsupported_operators() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let all = api
        .search_all(
            "/contacts/search",
            "data",
            json!({"field": "created_at", "operator": ">", "value": 0}),
        )
        .await;
    let created: Vec<i64> = all
        .iter()
        .map(|c| c["created_at"].as_i64().unwrap())
        .collect();
    let pivot = created[created.len() / 2];
    let day = pivot - pivot.rem_euclid(86_400);
    let noon = day + 43_200;
    let after = api
        .search_all(
            "/contacts/search",
            "data",
            json!({"field": "created_at", "operator": ">", "value": noon}),
        )
        .await;
    let expected_after = created.iter().filter(|t| **t >= day + 86_400).count();
    assert_eq!(after.len(), expected_after, "> starts at the next day");
    assert!(
        after
            .iter()
            .all(|c| c["created_at"].as_i64().unwrap() >= day + 86_400)
    );
    let before = api
        .search_all(
            "/contacts/search",
            "data",
            json!({"field": "created_at", "operator": "<", "value": noon}),
        )
        .await;
    assert_eq!(
        before.len(),
        created.iter().filter(|t| **t < day).count(),
        "< ends before the day"
    );
    let same_day = api
        .search_all(
            "/contacts/search",
            "data",
            json!({"field": "created_at", "operator": "=", "value": noon}),
        )
        .await;
    assert!(
        same_day.iter().any(|c| c["created_at"] == pivot),
        "= matches the whole day"
    );
    for op in ["!=", ">=", "<=", "IN", "NIN"] {
        let value = if op.ends_with("IN") {
            json!([noon])
        } else {
            json!(noon)
        };
        let (status, body) = api
            .post(
                "/contacts/search",
                &json!({"query": {"field": "updated_at", "operator": op, "value": value}}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{op}: {body}");
        assert_eq!(body["type"], "error.list");
    }
    // Conversations compare timestamps to the second and accept >=.
    let (status, _) = api
        .post(
            "/conversations/search",
            &json!({"query": {"field": "updated_at", "operator": ">=", "value": noon}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn search_sort_is_honoured_and_and_groups_combine_filters() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let body = json!({
        "query": {"operator": "AND", "value": [
            {"field": "updated_at", "operator": ">", "value": 0},
            {"field": "role", "operator": "=", "value": "user"},
        ]},
        "sort": {"field": "updated_at", "order": "ascending"},
        "pagination": {"per_page": 150},
    });
    let page = api.post_ok("/contacts/search", &body).await;
    let data = page["data"].as_array().unwrap();
    assert!(!data.is_empty());
    assert!(data.iter().all(|c| c["role"] == "user"));
    let times: Vec<i64> = data
        .iter()
        .map(|c| c["updated_at"].as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "ascending updated_at"
    );
    let mut desc = body.clone();
    desc["sort"]["order"] = json!("descending");
    let page = api.post_ok("/contacts/search", &desc).await;
    let times: Vec<i64> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["updated_at"].as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "descending updated_at"
    );
}

#[tokio::test]
async fn conversation_retrieve_caps_parts_at_500_with_truthful_statistics() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let conversations = api
        .search_all(
            "/conversations/search",
            "conversations",
            json!({"field": "id", "operator": ">", "value": 0}),
        )
        .await;
    let truth = api.sim_get("/__sim/truth").await;
    assert_eq!(
        conversations.len() as u64,
        truth["counts"]["conversations"].as_u64().unwrap()
    );
    assert!(
        conversations
            .iter()
            .all(|c| c.get("conversation_parts").is_none()),
        "search items carry no parts"
    );
    let mut capped = 0;
    let mut total_parts = 0;
    for c in &conversations {
        let full = api
            .ok(&format!("/conversations/{}", c["id"].as_str().unwrap()))
            .await;
        let returned = full["conversation_parts"]["conversation_parts"]
            .as_array()
            .unwrap();
        let counted = full["statistics"]["count_conversation_parts"]
            .as_u64()
            .unwrap();
        assert_eq!(
            full["conversation_parts"]["total_count"].as_u64().unwrap(),
            returned.len() as u64
        );
        assert!(returned.len() <= 500);
        if counted - 1 > 500 {
            capped += 1;
            assert_eq!(returned.len(), 500);
            // The 500 most recent parts: the last part is the newest of the thread.
            let times: Vec<i64> = returned
                .iter()
                .map(|p| p["created_at"].as_i64().unwrap())
                .collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]));
            assert!(*times.last().unwrap() <= full["updated_at"].as_i64().unwrap());
        } else {
            assert_eq!(
                returned.len() as u64,
                counted - 1,
                "count includes the source message"
            );
        }
        total_parts += counted - 1;
    }
    assert_eq!(capped, 1);
    assert_eq!(
        total_parts,
        truth["counts"]["conversation_parts"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn companies_scroll_ends_with_a_partial_page_then_an_empty_page_then_404() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let first = api.ok("/companies/scroll").await;
    let param = first["scroll_param"].as_str().unwrap().to_string();
    assert_eq!(
        first["data"].as_array().unwrap().len(),
        10,
        "partial page: all ten companies"
    );
    assert_eq!(first["pages"], Value::Null);
    let (status, body) = api.get("/companies/scroll").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a second scroll while one is open"
    );
    assert_eq!(error_code(&body), "scroll_exists");
    let end = api
        .ok(&format!("/companies/scroll?scroll_param={param}"))
        .await;
    assert_eq!(end["data"], json!([]));
    let (status, body) = api
        .get(&format!("/companies/scroll?scroll_param={param}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["type"], "error.list");
    // The finished scroll no longer blocks a new one.
    api.ok("/companies/scroll").await;
}

#[tokio::test]
async fn an_idle_scroll_expires() {
    let mut config = Config::new(11, SizePreset::Tiny);
    config.scroll_idle = Duration::from_millis(300);
    let sim = start(config).await;
    let api = Api::new(&sim);
    let first = api.ok("/companies/scroll").await;
    let param = first["scroll_param"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, _) = api
        .get(&format!("/companies/scroll?scroll_param={param}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let again = api.ok("/companies/scroll").await;
    assert_ne!(again["scroll_param"], first["scroll_param"]);
}

#[tokio::test]
async fn an_injected_server_error_mid_scroll_kills_the_scroll() {
    let mut config = Config::new(11, SizePreset::Tiny);
    config.faults = FaultSpec::parse("intercom.5xx=0.5").unwrap();
    let sim = start(config).await;
    let api = Api::new(&sim);
    let mut checked = false;
    for _ in 0..200 {
        let (status, first) = api.get("/companies/scroll").await;
        if status != StatusCode::OK {
            continue;
        }
        let param = first["scroll_param"].as_str().unwrap().to_string();
        let (status, body) = api
            .get(&format!("/companies/scroll?scroll_param={param}"))
            .await;
        if status == StatusCode::OK {
            assert_eq!(body["data"], json!([]));
            continue;
        }
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["type"], "error.list");
        // Without the fault this call would have answered the empty end page; now the scroll
        // is gone and the client has to restart.
        loop {
            let (status, _) = api
                .get(&format!("/companies/scroll?scroll_param={param}"))
                .await;
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                continue;
            }
            assert_eq!(status, StatusCode::NOT_FOUND);
            break;
        }
        checked = true;
        break;
    }
    assert!(checked, "no continuation drew the injected fault");
}

#[tokio::test]
async fn attachment_urls_download_until_they_expire() {
    let mut config = Config::new(11, SizePreset::Tiny);
    config.attachment_ttl = Duration::from_secs(1);
    let sim = start(config).await;
    let api = Api::new(&sim);
    let conversation = api.ok("/conversations/1002").await;
    let attachment = &conversation["source"]["attachments"][0];
    let url = attachment["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&sim.url));
    let client = reqwest::Client::new();
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "no bearer needed");
    assert_eq!(
        r.headers()["content-type"],
        attachment["content_type"].as_str().unwrap()
    );
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, attachment["filesize"].as_u64().unwrap());
    let tampered = url.replace("sig=", "sig=0");
    assert_eq!(
        client.get(&tampered).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("expired"));
    // A fresh retrieve signs a fresh URL for the same bytes.
    let again = api.ok("/conversations/1002").await;
    let fresh = again["source"]["attachments"][0]["url"].as_str().unwrap();
    let r = client.get(fresh).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn events_list_only_the_last_90_days_and_summaries_count_them_all() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let contacts = api.ok("/contacts?per_page=1").await;
    let id = contacts["data"][0]["id"].as_str().unwrap().to_string();
    let horizon = i2k::timefmt::now_unix() - 90 * 86_400;
    let mut listed = Vec::new();
    let mut path = format!("/events?type=user&intercom_user_id={id}&per_page=20");
    loop {
        let page = api.ok(&path).await;
        assert_eq!(page["type"], "event.list");
        listed.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["pages"]["next"].as_str() {
            Some(next) => path = next.trim_start_matches(&sim.url).to_string(),
            None => break,
        }
    }
    assert!(listed.len() > 20, "paged through a full URL");
    assert!(
        listed
            .iter()
            .all(|e| e["created_at"].as_i64().unwrap() >= horizon)
    );
    let summary = api
        .ok(&format!(
            "/events?type=user&intercom_user_id={id}&summary=true"
        ))
        .await;
    assert_eq!(summary["type"], "event.summary");
    let summed: u64 = summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert!(
        summed > listed.len() as u64,
        "summaries include events older than 90 days"
    );
    let (status, _) = api.get("/events?type=user").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn contact_sub_lists_show_has_more_and_their_urls_list_everything() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let contacts = api.ok("/contacts?per_page=2").await;
    let contact = &contacts["data"][1];
    let id = contact["id"].as_str().unwrap();
    for list in ["tags", "notes"] {
        let sub = &contact[list];
        assert_eq!(sub["has_more"], true, "{list}");
        assert_eq!(sub["data"].as_array().unwrap().len(), 10);
        assert_eq!(sub["url"], format!("/contacts/{id}/{list}"));
        let full = api.ok(sub["url"].as_str().unwrap()).await;
        assert_eq!(
            full["data"].as_array().unwrap().len() as u64,
            sub["total_count"].as_u64().unwrap()
        );
    }
}

#[tokio::test]
async fn truth_counts_equal_what_the_api_lists_plus_what_it_cannot() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let truth = api.sim_get("/__sim/truth").await["counts"].clone();
    let n = |k: &str| truth[k].as_u64().unwrap();
    assert_eq!(truth.as_object().unwrap().len(), 24);
    // Admin activity logs (2.16): every page of the cursor, from the start of time.
    let (mut logs, mut url) = (0, "/admins/activity_logs?created_at_after=0".to_string());
    loop {
        let page = api.ok(&url).await;
        logs += page["activity_logs"].as_array().unwrap().len() as u64;
        match page["pages"]["next"]["starting_after"].as_str() {
            Some(c) => url = format!("/admins/activity_logs?created_at_after=0&starting_after={c}"),
            None => break,
        }
    }
    assert!(logs > 20, "the logs take more than one page");
    assert_eq!(logs, n("activity_logs"));
    assert_eq!(
        api.ok("/admins").await["admins"].as_array().unwrap().len() as u64,
        n("admins")
    );
    assert_eq!(
        api.ok("/teams").await["teams"].as_array().unwrap().len() as u64,
        n("teams")
    );
    assert_eq!(
        api.ok("/tags").await["data"].as_array().unwrap().len() as u64,
        n("tags")
    );
    let segments = api.ok("/segments?include_count=true").await;
    assert_eq!(
        segments["segments"].as_array().unwrap().len() as u64,
        n("segments")
    );
    assert!(
        segments["segments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["count"] == 0),
        "unused segments exist"
    );
    let mut custom = 0;
    for model in ["contact", "company"] {
        let attrs = api
            .ok(&format!(
                "/data_attributes?model={model}&include_archived=true"
            ))
            .await;
        custom += attrs["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["custom"] == true)
            .count() as u64;
    }
    assert_eq!(custom, n("data_attributes"));
    let conv_attrs = api
        .ok("/conversations/attributes?include_archived=true")
        .await;
    assert_eq!(
        conv_attrs["data"].as_array().unwrap().len() as u64,
        n("conversation_attributes")
    );
    let scroll = api.ok("/companies/scroll").await;
    let companies = scroll["data"].as_array().unwrap().clone();
    assert_eq!(companies.len() as u64, n("companies"));
    assert!(
        companies.iter().any(|c| c["user_count"] == 0),
        "companies without users"
    );
    let mut company_notes = 0;
    for c in &companies {
        let notes = api
            .ok(&format!("/companies/{}/notes", c["id"].as_str().unwrap()))
            .await;
        company_notes += notes["total_count"].as_u64().unwrap();
    }
    assert_eq!(company_notes, n("company_notes"));
    let contacts = api.ok("/contacts?per_page=150").await;
    let contacts = contacts["data"].as_array().unwrap();
    assert_eq!(contacts.len() as u64, n("contacts"));
    assert!(
        contacts.iter().any(|c| c["role"] == "lead")
            && contacts.iter().any(|c| c["role"] == "user")
    );
    let mut contact_notes = 0;
    let mut events = 0;
    for c in contacts {
        let id = c["id"].as_str().unwrap();
        contact_notes += api.ok(&format!("/contacts/{id}/notes")).await["total_count"]
            .as_u64()
            .unwrap();
        let summary = api
            .ok(&format!(
                "/events?type=user&intercom_user_id={id}&summary=true"
            ))
            .await;
        events += summary["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["count"].as_u64().unwrap())
            .sum::<u64>();
    }
    assert_eq!(contact_notes, n("contact_notes"));
    assert_eq!(events, n("data_events"));
    let collections = api.ok("/help_center/collections?per_page=150").await;
    let collections = collections["data"].as_array().unwrap();
    assert_eq!(collections.len() as u64, n("collections"));
    assert!(
        collections.iter().any(|c| !c["parent_id"].is_null()),
        "nested collections"
    );
    let articles = api.ok("/articles?per_page=150").await;
    let articles = articles["data"].as_array().unwrap();
    assert_eq!(articles.len() as u64, n("articles"));
    let mut versions = 0;
    let mut translations = 0;
    for a in articles {
        let id = a["id"].as_str().unwrap();
        let list = api.ok(&format!("/articles/{id}/versions")).await;
        versions += list["total_count"].as_u64().unwrap();
        let newest = list["data"][0]["id"].as_str().unwrap();
        let full = api.ok(&format!("/articles/{id}/versions/{newest}")).await;
        assert!(full["body"].as_str().unwrap().starts_with('<'));
        translations += a["translated_content"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "type" && *k != "en")
            .count() as u64;
    }
    assert_eq!(versions, n("article_versions"));
    assert_eq!(translations, n("article_translations"));
    assert!(translations > 0);
    let conversations = api
        .search_all(
            "/conversations/search",
            "conversations",
            json!({"field": "id", "operator": ">", "value": 0}),
        )
        .await;
    let mut visible_attachments = 0;
    let mut hidden_parts = 0;
    let mut states = std::collections::BTreeSet::new();
    for c in &conversations {
        let full = api
            .ok(&format!("/conversations/{}", c["id"].as_str().unwrap()))
            .await;
        states.insert(full["state"].as_str().unwrap().to_string());
        visible_attachments += full["source"]["attachments"].as_array().unwrap().len() as u64;
        for p in full["conversation_parts"]["conversation_parts"]
            .as_array()
            .unwrap()
        {
            visible_attachments += p["attachments"].as_array().unwrap().len() as u64;
        }
        hidden_parts += full["statistics"]["count_conversation_parts"]
            .as_u64()
            .unwrap()
            - 1
            - full["conversation_parts"]["total_count"].as_u64().unwrap();
    }
    assert_eq!(
        hidden_parts, 20,
        "the API cannot return 20 parts of the 520-part thread"
    );
    assert!(visible_attachments > 0 && visible_attachments <= n("attachments"));
    assert_eq!(
        states.len(),
        3,
        "open, closed and snoozed conversations: {states:?}"
    );
    let tickets = api
        .search_all(
            "/tickets/search",
            "tickets",
            json!({"field": "created_at", "operator": ">", "value": 0}),
        )
        .await;
    assert_eq!(tickets.len() as u64, n("tickets"));
    assert_eq!(
        api.ok("/ticket_types").await["data"]
            .as_array()
            .unwrap()
            .len() as u64,
        n("ticket_types")
    );
    assert_eq!(
        api.ok("/brands").await["data"].as_array().unwrap().len() as u64,
        n("brands")
    );
    let schedules = api.ok("/office_hours_schedules").await;
    assert_eq!(
        schedules["data"].as_array().unwrap().len() as u64,
        n("office_hours_schedules")
    );
    let exceptions = api
        .ok(&format!(
            "/office_hours_schedules/{}/office_hours_exceptions",
            schedules["data"][0]["id"].as_str().unwrap()
        ))
        .await;
    assert!(!exceptions["data"].as_array().unwrap().is_empty());
    let mut macros = 0;
    let mut path = "/macros?per_page=3".to_string();
    loop {
        let page = api.ok(&path).await;
        macros += page["data"].as_array().unwrap().len() as u64;
        match page["pages"]["next"]["starting_after"].as_str() {
            Some(c) => path = format!("/macros?per_page=3&starting_after={c}"),
            None => break,
        }
    }
    assert_eq!(macros, n("macros"));
}

#[tokio::test]
async fn the_same_seed_gives_the_same_workspace_and_another_seed_a_different_one() {
    let a = tiny().await;
    let b = tiny().await;
    let c = start(Config::new(12, SizePreset::Tiny)).await;
    let (api_a, api_b, api_c) = (Api::new(&a), Api::new(&b), Api::new(&c));
    for path in [
        "/contacts?per_page=20",
        "/admins",
        "/articles",
        "/tickets/900003",
    ] {
        assert_eq!(api_a.ok(path).await, api_b.ok(path).await, "{path}");
    }
    assert_ne!(
        api_a.ok("/contacts?per_page=20").await,
        api_c.ok("/contacts?per_page=20").await
    );
    let strip = |mut v: Value| {
        v["source"]["attachments"] = json!(null);
        v["source"]["body"] = json!(null);
        v["conversation_parts"] = json!(null);
        v
    };
    assert_eq!(
        strip(api_a.ok("/conversations/1005").await),
        strip(api_b.ok("/conversations/1005").await)
    );
    let admins: Vec<Value> = api_a.ok("/admins").await["admins"]
        .as_array()
        .unwrap()
        .clone();
    let identities = admin_identities(11, SizePreset::Tiny);
    assert_eq!(identities.len(), admins.len());
    for ((name, email), admin) in identities.iter().zip(&admins) {
        assert_eq!(admin["name"], name.as_str());
        assert_eq!(admin["email"], email.as_str());
    }
}

#[tokio::test]
async fn touch_bumps_updated_at_so_incremental_searches_find_the_records() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let client = reqwest::Client::new();
    let touched: Value = client
        .post(format!("{}/__sim/touch", sim.url))
        .json(&json!({"contacts": 3, "conversations": 2, "companies": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(touched["contacts"].as_array().unwrap().len(), 3);
    let yesterday = i2k::timefmt::now_unix() - 86_400;
    let found = api
        .search_all(
            "/contacts/search",
            "data",
            json!({"field": "updated_at", "operator": ">", "value": yesterday}),
        )
        .await;
    let found_ids: Vec<&Value> = found.iter().map(|c| &c["id"]).collect();
    for id in touched["contacts"].as_array().unwrap() {
        assert!(found_ids.contains(&id), "{id} touched but not found");
    }
    let since = touched["updated_at"].as_i64().unwrap() - 1;
    let conversations = api
        .search_all(
            "/conversations/search",
            "conversations",
            json!({"field": "updated_at", "operator": ">", "value": since}),
        )
        .await;
    assert_eq!(conversations.len(), 2);
}

#[tokio::test]
async fn advance_moves_the_workspace_forward_and_keeps_what_came_before() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let client = reqwest::Client::new();
    let before_counts = api.sim_get("/__sim/truth").await["counts"].clone();
    let n = before_counts["conversations"].as_u64().unwrap();
    let mut before = Vec::new();
    for i in 0..n {
        before.push(api.ok(&format!("/conversations/{}", 1_000 + i)).await);
    }
    let advance = |body: Value| {
        let client = client.clone();
        let url = format!("{}/__sim/advance", sim.url);
        async move { client.post(url).json(&body).send().await.unwrap() }
    };
    // A misspelt amount is refused by name; nothing moves.
    let refused = advance(json!({"new_contact": 1})).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let text = refused.text().await.unwrap();
    assert!(text.contains("unknown amount new_contact"), "{text}");

    let answer: Value = advance(json!({
        "seed": 5, "new_contacts": 2, "new_conversations": 2, "replies": 3, "edited_contacts": 2,
        "edited_companies": 1, "closed": 2, "reopened": 1, "snoozed": 1, "reassigned": 1,
        "deleted_contacts": 1, "deleted_conversations": 1,
    }))
    .await
    .json()
    .await
    .unwrap();
    let changes = &answer["changes"];
    let ids = |name: &str| -> Vec<String> {
        changes[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let index = |id: &str| (id.parse::<u64>().unwrap() - 1_000) as usize;

    // Earlier parts are what they were; the new ones come after, stamped with the advance.
    let at = answer["at"].as_i64().unwrap();
    let changed: Vec<(String, &str)> = [
        ("replies", "comment"),
        ("closed", "close"),
        ("reopened", "open"),
        ("snoozed", "snoozed"),
        ("reassigned", "assignment"),
    ]
    .iter()
    .flat_map(|(name, part)| ids(name).into_iter().map(move |id| (id, *part)))
    .collect();
    assert_eq!(changed.len(), 8);
    for (id, part_type) in &changed {
        let old = &before[index(id)];
        let new = api.ok(&format!("/conversations/{id}")).await;
        let old_parts = old["conversation_parts"]["conversation_parts"]
            .as_array()
            .unwrap();
        let new_parts = new["conversation_parts"]["conversation_parts"]
            .as_array()
            .unwrap();
        let added = new["statistics"]["count_conversation_parts"]
            .as_u64()
            .unwrap()
            - old["statistics"]["count_conversation_parts"]
                .as_u64()
                .unwrap();
        assert!(added >= 1, "{id}");
        // The answer keeps the newest 500: compare what both still show (attachment links are
        // signed with an expiry counted from each answer, so they are compared without it).
        let kept = old_parts.len() + added as usize - new_parts.len();
        assert_eq!(
            unsigned(&new_parts[..new_parts.len() - added as usize]),
            unsigned(&old_parts[kept..]),
            "{id}"
        );
        let first_new = &new_parts[new_parts.len() - added as usize];
        assert_eq!(first_new["part_type"], *part_type, "{id}");
        assert_eq!(first_new["created_at"], at);
        assert_eq!(new["updated_at"], at);
        assert_eq!(new["source"], old["source"], "{id}");
    }
    for id in ids("closed") {
        assert_eq!(
            api.ok(&format!("/conversations/{id}")).await["state"],
            "closed"
        );
    }
    for id in ids("reassigned") {
        let new = api.ok(&format!("/conversations/{id}")).await;
        assert_ne!(
            new["admin_assignee_id"],
            before[index(&id)]["admin_assignee_id"]
        );
    }
    // Deleted records are gone from lookups; new and edited ones are there.
    let gone = &ids("deleted_conversations")[0];
    assert_eq!(
        api.get(&format!("/conversations/{gone}")).await.0,
        StatusCode::NOT_FOUND
    );
    let gone_contact = &ids("deleted_contacts")[0];
    assert_eq!(
        api.get(&format!("/contacts/{gone_contact}")).await.0,
        StatusCode::NOT_FOUND
    );
    for id in ids("new_contacts") {
        assert_eq!(api.ok(&format!("/contacts/{id}")).await["created_at"], at);
    }
    let edited = &ids("edited_contacts")[0];
    let contact = api.ok(&format!("/contacts/{edited}")).await;
    assert!(
        contact["name"].as_str().unwrap().contains("(ed. 1)"),
        "{contact}"
    );
    assert_eq!(contact["updated_at"], at);
    // An incremental search finds exactly what changed, without the deleted one.
    let found = api
        .search_all(
            "/conversations/search",
            "conversations",
            json!({"field": "updated_at", "operator": ">", "value": at - 1}),
        )
        .await;
    let mut found: Vec<String> = found
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let mut expected: Vec<String> = changed
        .iter()
        .map(|(id, _)| id.clone())
        .chain(ids("new_conversations"))
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
    // The truth counts follow.
    let after_counts = api.sim_get("/__sim/truth").await["counts"].clone();
    assert_eq!(after_counts["conversations"].as_u64(), Some(n + 2 - 1));
    assert_eq!(
        after_counts["contacts"].as_u64(),
        Some(before_counts["contacts"].as_u64().unwrap() + 2 - 1)
    );
    assert!(
        after_counts["conversation_parts"].as_u64() > before_counts["conversation_parts"].as_u64()
    );
}

#[tokio::test]
async fn collections_nest_and_articles_carry_translations_and_versions() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let collections = api.ok("/help_center/collections").await;
    let ids: Vec<&Value> = collections["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    for c in collections["data"].as_array().unwrap() {
        if let Some(parent) = c["parent_id"].as_str() {
            assert!(ids.contains(&&json!(parent)), "parent {parent} is listed");
        }
    }
    let article = api.ok("/articles/3000").await;
    assert!(
        article["translated_content"]["en"]["body"]
            .as_str()
            .unwrap()
            .contains("<p")
    );
    assert!(
        article["translated_content"].as_object().unwrap().len() > 2,
        "translated"
    );
    let versions = api.ok("/articles/3000/versions").await;
    let created: Vec<i64> = versions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["created_at"].as_i64().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let (status, _) = api.get("/articles/3000/versions/1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sim_command_prints_one_json_line_then_stops_on_ctrl_c() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_i2k"))
        .args([
            "sim",
            "--size",
            "tiny",
            "--seed",
            "5",
            "--intercom-addr",
            "127.0.0.1:0",
            "--intercom-rate",
            "50",
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
    let url = info["intercom_url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"));
    let r = reqwest::Client::new()
        .get(format!("{url}/me"))
        .bearer_auth(info["intercom_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-ratelimit-limit"], "50");
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

#[tokio::test]
async fn latency_delays_api_routes_but_not_sim_routes() {
    let mut config = Config::new(11, SizePreset::Tiny);
    config.latency = Duration::from_millis(300);
    let sim = start(config).await;
    let api = Api::new(&sim);
    let t = std::time::Instant::now();
    api.ok("/me").await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = std::time::Instant::now();
    api.sim_get("/__sim/truth").await;
    assert!(t.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn conversation_parts_name_the_contact_as_the_contact_record_does() {
    let sim = tiny().await;
    let api = Api::new(&sim);
    let conversation = api.ok("/conversations/1000").await;
    let contact_id = conversation["contacts"]["contacts"][0]["id"]
        .as_str()
        .unwrap();
    let contact = api.ok(&format!("/contacts/{contact_id}")).await;
    let by_contact: Vec<&Value> = conversation["conversation_parts"]["conversation_parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["author"]["id"] == contact_id)
        .collect();
    assert!(!by_contact.is_empty());
    for p in by_contact {
        assert_eq!(p["author"]["email"], contact["email"]);
        assert_eq!(p["author"]["name"], contact["name"]);
    }
}

#[tokio::test]
async fn a_saved_workspace_makes_its_touches_and_advances_again_in_order() {
    use i2k::sim::intercom::spawn_kept;
    let addr = "127.0.0.1:0".parse().unwrap();
    let (sim, keeper) = spawn_kept(Config::new(11, SizePreset::Tiny), addr, None)
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let request = client.post(format!("{}{path}", sim.url)).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    post("/__sim/touch", json!({"contacts": 2, "conversations": 2})).await;
    let advanced = post(
        "/__sim/advance",
        json!({"seed": 3, "replies": 2, "closed": 1, "new_contacts": 1, "edited_contacts": 1,
               "deleted_conversations": 1}),
    )
    .await;
    post("/__sim/touch", json!({"conversations": 3})).await;
    let saved = serde_json::to_string(&keeper.save()).unwrap();

    let (again, _) = spawn_kept(
        Config::new(99, SizePreset::Small),
        addr,
        Some(serde_json::from_str(&saved).unwrap()),
    )
    .await
    .unwrap();
    let (a, b) = (Api::new(&sim), Api::new(&again));
    assert_eq!(
        a.sim_get("/__sim/truth").await["counts"],
        b.sim_get("/__sim/truth").await["counts"]
    );
    let changes = &advanced["changes"];
    for id in changes["replies"]
        .as_array()
        .unwrap()
        .iter()
        .chain(changes["closed"].as_array().unwrap())
    {
        let path = format!("/conversations/{}", id.as_str().unwrap());
        let (mut left, mut right) = (a.ok(&path).await, b.ok(&path).await);
        // File URLs carry each server's own address.
        for v in [&mut left, &mut right] {
            v["conversation_parts"]["conversation_parts"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .for_each(|p| p["attachments"] = json!([]));
            v["source"]["attachments"] = json!([]);
            v["source"]["body"] = json!("");
        }
        assert_eq!(left, right, "{path}");
    }
    let gone = changes["deleted_conversations"][0].as_str().unwrap();
    assert_eq!(
        b.get(&format!("/conversations/{gone}")).await.0,
        StatusCode::NOT_FOUND
    );
    let edited = changes["edited_contacts"][0].as_str().unwrap();
    let path = format!("/contacts/{edited}");
    assert_eq!(a.ok(&path).await["name"], b.ok(&path).await["name"]);
}

/// `parts` with each attachment's link cut at its query (the signature and its expiry).
fn unsigned(parts: &[Value]) -> Vec<Value> {
    let mut parts = parts.to_vec();
    for part in &mut parts {
        if let Some(attachments) = part["attachments"].as_array_mut() {
            for attachment in attachments {
                if let Some(url) = attachment["url"].as_str() {
                    attachment["url"] = Value::from(url.split('?').next().unwrap_or(url));
                }
            }
        }
    }
    parts
}
