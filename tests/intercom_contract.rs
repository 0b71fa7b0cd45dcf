//! Contract test: every route of the Intercom simulator answers with a body that validates
//! against its operation's `200` schema in the committed OpenAPI 2.16 file, and its refusals
//! against the `error` schema.
//!
//! Documented exceptions, where the schema is wrong about reality (see `intercom.md`):
//! - `ai_agent`, a part's `assigned_to` and `event_details` are `null` as in the operation's own
//!   example. (`admin_assignee_id` / `team_assignee_id` follow the schema: `0` when unassigned.)
//! - A company's `custom_attributes` hold typed values (numbers, booleans) as the schema's own
//!   example shows, though its `additionalProperties` says `string`.
//! - The companies scroll answers `pages: null, total_count: null` (the operation's own example).
//! - `GET /events` without `summary=true` answers an `event.list`, which the operation's single
//!   200 schema (`data_event_summary`) does not describe: it is checked against `data_event_list`.
//! - `GET /contacts/{id}/companies` answers with `data` (the operation's example, and what peer
//!   extractors read); the schema names the array `companies`.

#[path = "support/openapi.rs"]
mod openapi;

use i2k::sim::SizePreset;
use i2k::sim::intercom::{Config, spawn};
use openapi::{Exceptions, Spec};
use serde_json::{Value, json};

struct Case {
    template: &'static str,
    method: &'static str,
    url: String,
    body: Option<Value>,
    schema_override: Option<&'static str>,
    nullable: Vec<&'static str>,
}

fn case(template: &'static str, url: impl Into<String>) -> Case {
    Case {
        template,
        method: "get",
        url: url.into(),
        body: None,
        schema_override: None,
        nullable: Vec::new(),
    }
}

#[tokio::test]
async fn every_route_answers_with_its_operations_200_schema() {
    every_route_validates(Config::new(7, SizePreset::Tiny)).await;
}

/// The hostile workspace's pathological records are ones the schema permits: hostile data that
/// still validates is what a real workspace can send.
#[tokio::test]
async fn a_hostile_workspace_still_answers_with_its_operations_200_schema() {
    let mut config = Config::new(7, SizePreset::Tiny);
    config.hostile = true;
    every_route_validates(config).await;
}

async fn every_route_validates(config: Config) {
    let spec = Spec::load();
    let sim = spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        let token = sim.token.clone();
        let base = sim.url.clone();
        async move {
            client
                .get(format!("{base}{url}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    // Real ids to address sub-resources, taken from the API itself.
    let contacts = get("/contacts?per_page=5".into()).await;
    let contact = contacts["data"][1]["id"].as_str().unwrap().to_string();
    let scroll = get("/companies/scroll".into()).await;
    let company = scroll["data"][0]["id"].as_str().unwrap().to_string();
    let articles = get("/articles".into()).await;
    let article = articles["data"][0]["id"].as_str().unwrap().to_string();
    let versions = get(format!("/articles/{article}/versions")).await;
    let version = versions["data"][0]["id"].as_str().unwrap().to_string();
    let schedules = get("/office_hours_schedules".into()).await;
    let schedule = schedules["data"][0]["id"].as_str().unwrap().to_string();
    let tickets_search = json!({"query": {"field": "created_at", "operator": ">", "value": 0}});

    let conversation_nullable = vec!["ai_agent", "assigned_to", "event_details"];
    let mut cases = vec![
        case("/me", "/me"),
        case("/admins", "/admins"),
        case("/admins/{admin_id}", "/admins/991267401"),
        case(
            "/admins/activity_logs",
            "/admins/activity_logs?created_at_after=0",
        ),
        case("/teams", "/teams"),
        case("/tags", "/tags"),
        case("/segments", "/segments?include_count=true"),
        case("/data_attributes", "/data_attributes?model=contact"),
        case(
            "/data_attributes",
            "/data_attributes?model=company&include_archived=true",
        ),
        case(
            "/conversations/attributes",
            "/conversations/attributes?include_archived=true",
        ),
        case("/companies/{company_id}", format!("/companies/{company}")),
        case(
            "/companies/{company_id}/contacts",
            format!("/companies/{company}/contacts"),
        ),
        case(
            "/companies/{company_id}/segments",
            format!("/companies/{company}/segments"),
        ),
        case(
            "/companies/{company_id}/notes",
            format!("/companies/{company}/notes"),
        ),
        case("/contacts", "/contacts?per_page=3"),
        case("/contacts/{contact_id}", format!("/contacts/{contact}")),
        case(
            "/contacts/{contact_id}/tags",
            format!("/contacts/{contact}/tags"),
        ),
        case(
            "/contacts/{contact_id}/companies",
            format!("/contacts/{contact}/companies"),
        ),
        case(
            "/contacts/{contact_id}/notes",
            format!("/contacts/{contact}/notes"),
        ),
        case(
            "/contacts/{contact_id}/segments",
            format!("/contacts/{contact}/segments"),
        ),
        case("/help_center/collections", "/help_center/collections"),
        case("/articles", "/articles"),
        case("/articles/{article_id}", format!("/articles/{article}")),
        case(
            "/articles/{article_id}/versions",
            format!("/articles/{article}/versions"),
        ),
        case(
            "/articles/{article_id}/versions/{id}",
            format!("/articles/{article}/versions/{version}"),
        ),
        case(
            "/events",
            format!(
                "/events?type=user&intercom_user_id={}&summary=true",
                contacts["data"][0]["id"].as_str().unwrap()
            ),
        ),
        Case {
            schema_override: Some("data_event_list"),
            ..case(
                "/events",
                format!(
                    "/events?type=user&intercom_user_id={}&per_page=5",
                    contacts["data"][0]["id"].as_str().unwrap()
                ),
            )
        },
        case("/ticket_types", "/ticket_types"),
        case("/tickets/{ticket_id}", "/tickets/900001"),
        case("/brands", "/brands"),
        case("/office_hours_schedules", "/office_hours_schedules"),
        case(
            "/office_hours_schedules/{office_hours_schedule_id}/office_hours_exceptions",
            format!("/office_hours_schedules/{schedule}/office_hours_exceptions"),
        ),
        case("/macros", "/macros?per_page=2"),
        case("/export/workflows/{id}", "/export/workflows/67890"),
        Case {
            nullable: vec!["pages", "total_count"],
            ..case(
                "/companies/scroll",
                format!(
                    "/companies/scroll?scroll_param={}",
                    scroll["scroll_param"].as_str().unwrap()
                ),
            )
        },
        Case {
            method: "post",
            body: Some(
                json!({"query": {"field": "updated_at", "operator": ">", "value": 0}, "pagination": {"per_page": 5}}),
            ),
            ..case("/contacts/search", "/contacts/search")
        },
        Case {
            method: "post",
            body: Some(
                json!({"query": {"field": "updated_at", "operator": ">", "value": 0}, "pagination": {"per_page": 30}}),
            ),
            nullable: conversation_nullable.clone(),
            ..case("/conversations/search", "/conversations/search")
        },
        Case {
            method: "post",
            body: Some(tickets_search),
            ..case("/tickets/search", "/tickets/search")
        },
    ];
    for conv in 1000..1030 {
        cases.push(Case {
            nullable: conversation_nullable.clone(),
            ..case(
                "/conversations/{conversation_id}",
                format!("/conversations/{conv}"),
            )
        });
    }
    let mut failures = Vec::new();
    for c in &cases {
        let request = match c.method {
            "post" => client
                .post(format!("{}{}", sim.url, c.url))
                .json(c.body.as_ref().unwrap()),
            _ => client.get(format!("{}{}", sim.url, c.url)),
        };
        let response = request.bearer_auth(&sim.token).send().await.unwrap();
        assert_eq!(response.status(), 200, "{} {}", c.method, c.url);
        let body: Value = response.json().await.unwrap();
        let schema = match c.schema_override {
            Some(name) => spec.component(name),
            None => spec.response_schema(c.template, c.method),
        };
        assert!(
            !schema.is_null(),
            "no 200 schema for {} {}",
            c.method,
            c.template
        );
        let ex = Exceptions {
            nullable: c.nullable.clone(),
            unchecked: if c.template.starts_with("/companies") || c.template.ends_with("/companies")
            {
                vec!["$.custom_attributes", "].custom_attributes"]
            } else {
                vec![".company.custom_attributes"]
            },
        };
        for e in spec.validate(&schema, &body, &ex) {
            failures.push(format!("{} {}: {e}", c.method, c.url));
        }
    }
    assert!(
        failures.is_empty(),
        "{} violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn refusals_answer_with_the_error_schema() {
    let spec = Spec::load();
    let mut config = Config::new(7, SizePreset::Tiny);
    config.rate_per_window = 1_000;
    let sim = spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = reqwest::Client::new();
    let refusals = [
        client
            .get(format!("{}/admins", sim.url))
            .bearer_auth("wrong"),
        client
            .get(format!("{}/admins", sim.url))
            .bearer_auth(&sim.token)
            .header("Intercom-Version", "9.9"),
        client
            .get(format!("{}/data_attributes?model=conversation", sim.url))
            .bearer_auth(&sim.token),
        client
            .get(format!("{}/conversations/999999999", sim.url))
            .bearer_auth(&sim.token),
        client
            .post(format!("{}/contacts/search", sim.url))
            .bearer_auth(&sim.token)
            .json(&json!({"query": {"field": "updated_at", "operator": ">=", "value": 0}})),
    ];
    for request in refusals {
        let response = request.send().await.unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
        let body: Value = response.json().await.unwrap();
        check_error_body(&spec, &body);
    }
    sim.shutdown().await;
}

/// A refusal body against the `error` schema, plus what the validator leaves out: `type` is
/// `error.list` and `request_id` has the schema's `format: uuid` (or is null).
fn check_error_body(spec: &Spec, body: &Value) {
    let errors = spec.validate(&spec.component("error"), body, &Exceptions::default());
    assert!(errors.is_empty(), "{body}: {errors:?}");
    assert_eq!(body["type"], "error.list", "{body}");
    let id = &body["request_id"];
    let uuid = id.as_str().is_some_and(|s| {
        let groups: Vec<&str> = s.split('-').collect();
        groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    assert!(id.is_null() || uuid, "request_id is not a uuid: {body}");
}

#[tokio::test]
async fn rate_and_scroll_refusals_answer_with_the_error_schema() {
    let spec = Spec::load();
    let client = reqwest::Client::new();

    // 429 rate_limit_exceeded: one request per 10-second window.
    let mut config = Config::new(7, SizePreset::Tiny);
    config.rate_per_window = 1;
    let sim = spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut throttled = None;
    for _ in 0..5 {
        let response = client
            .get(format!("{}/admins", sim.url))
            .bearer_auth(&sim.token)
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            throttled = Some(response.json::<Value>().await.unwrap());
            break;
        }
    }
    let body = throttled.expect("a 429 within five requests");
    check_error_body(&spec, &body);
    assert_eq!(body["errors"][0]["code"], "rate_limit_exceeded");
    sim.shutdown().await;

    // 400 scroll_exists, then the 404 of a scroll that expired while idle.
    let mut config = Config::new(7, SizePreset::Tiny);
    config.scroll_idle = std::time::Duration::from_millis(200);
    let sim = spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let scroll = |query: String| {
        client
            .get(format!("{}/companies/scroll{query}", sim.url))
            .bearer_auth(&sim.token)
            .send()
    };
    let opened = scroll(String::new()).await.unwrap();
    assert_eq!(opened.status(), 200);
    let param = opened.json::<Value>().await.unwrap()["scroll_param"]
        .as_str()
        .unwrap()
        .to_string();
    let exists = scroll(String::new()).await.unwrap();
    assert_eq!(exists.status(), 400);
    let body: Value = exists.json().await.unwrap();
    check_error_body(&spec, &body);
    assert_eq!(body["errors"][0]["code"], "scroll_exists");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let expired = scroll(format!("?scroll_param={param}")).await.unwrap();
    assert_eq!(expired.status(), 404);
    check_error_body(&spec, &expired.json().await.unwrap());
    sim.shutdown().await;
}
