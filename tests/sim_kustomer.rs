//! The Kustomer simulator over real HTTP on loopback: envelopes, auth, validation, limits, bulk
//! jobs, attachments, search, ground truth.

use std::time::Duration;

use i2k::sim::SimHandle;
use i2k::sim::kustomer::{self, Config};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn agents() -> Vec<(String, String)> {
    vec![
        ("Ada Admin".into(), "ada@acme.example".into()),
        ("Bob Missing".into(), "bob@acme.example".into()),
        ("Cy Alias".into(), "cy@acme.example".into()),
        ("Dee Same".into(), "dee@acme.example".into()),
    ]
}

fn config() -> Config {
    let mut c = Config::new(7, agents());
    c.bulk_delay_max = Duration::from_millis(80);
    c.indexing_delay = Duration::from_millis(500);
    c
}

struct Org {
    sim: SimHandle,
    http: reqwest::Client,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Org {
    async fn start(config: Config) -> Org {
        let sim = kustomer::spawn(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Org {
            sim,
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sim.url))
            .bearer_auth(&self.sim.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    async fn sim_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.sim.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn truth(&self) -> Value {
        self.sim_get("/__sim/truth").await
    }

    async fn customer(&self, external_id: &str) -> String {
        let a = self
            .post(
                "/v1/customers",
                json!({"name": "Jo", "externalId": external_id, "emails": [{"type": "work", "email": format!("{external_id}@x.example")}]}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body["data"]["id"].as_str().unwrap().to_string()
    }

    async fn conversation(&self, customer: &str) -> String {
        let a = self
            .post(
                "/v1/conversations",
                json!({"customer": customer, "importedAt": "2024-01-01T00:00:00.000Z"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body["data"]["id"].as_str().unwrap().to_string()
    }

    /// Creates an attachment and uploads its file through the issued form; returns its id.
    async fn uploaded_attachment(&self, name: &str, file: &[u8]) -> String {
        let created = self
            .post(
                "/v1/attachments",
                json!({"name": name, "contentType": "text/plain", "contentLength": file.len()}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let upload = &created.body["meta"]["upload"];
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in upload["fields"].as_object().unwrap() {
            form = form.text(k.clone(), v.as_str().unwrap().to_string());
        }
        form = form.part("file", reqwest::multipart::Part::bytes(file.to_vec()));
        let stored = self
            .http
            .post(upload["url"].as_str().unwrap())
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(stored.status(), StatusCode::NO_CONTENT);
        created.body["data"]["id"].as_str().unwrap().to_string()
    }

    /// Polls a bulk job until it completes, then returns its batch results.
    async fn bulk_results(&self, job: &str) -> Vec<Value> {
        for _ in 0..100 {
            let a = self.get(&format!("/v1/bulk/{job}")).await;
            if a.body["data"]["attributes"]["status"] == "complete" {
                assert_eq!(
                    a.body["data"]["attributes"]["batches"],
                    json!({"complete": 1, "total": 1})
                );
                let b = self.get(&format!("/v1/bulk/{job}/batches")).await;
                return b.body["data"][0]["attributes"]["results"]
                    .as_array()
                    .unwrap()
                    .clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("bulk job {job} never completed");
    }
}

fn error_detail(body: &Value) -> String {
    let e = &body["errors"][0];
    e["detail"]
        .as_str()
        .or(e["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn requests_without_or_with_a_wrong_bearer_get_401() {
    let org = Org::start(config()).await;
    let url = format!("{}/v1/customers", org.sim.url);
    let none = org.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let wrong = org.http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "unauthorized");
    assert!(
        body["errors"][0]["message"].is_string(),
        "the simple error shape"
    );
    assert_eq!(org.get("/v1/customers").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_v1_path_needs_the_bearer_before_it_is_a_404() {
    let org = Org::start(config()).await;
    for (method, path) in [
        (reqwest::Method::GET, "/v1/no/such/route"),
        (
            reqwest::Method::POST,
            "/v1/customers/5f0000000000000000000009/nothing",
        ),
        (reqwest::Method::DELETE, "/v1/customers"),
    ] {
        let none = org
            .http
            .request(method.clone(), format!("{}{path}", org.sim.url))
            .send()
            .await
            .unwrap();
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let body: Value = none.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "unauthorized", "{method} {path}");
        let wrong = org
            .http
            .request(method.clone(), format!("{}{path}", org.sim.url))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let unknown = org.get("/v1/no/such/route").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["errors"][0]["code"], "not_found");
    assert!(unknown.headers.contains_key("x-ratelimit-remaining"));

    // `/__sim/` stays open, uncounted and fault-free, known path or not.
    let mut faulty = config();
    faulty.faults = i2k::sim::faults::FaultSpec::parse("kustomer.5xx=1.0").unwrap();
    let org = Org::start(faulty).await;
    let truth = org.http.get(format!("{}/__sim/truth", org.sim.url));
    assert_eq!(truth.send().await.unwrap().status(), StatusCode::OK);
    let missing = org.http.get(format!("{}/__sim/nothing", org.sim.url));
    assert_eq!(
        missing.send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let requests = org.truth().await["requests"].clone();
    assert!(
        requests
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains("__sim")),
        "{requests}"
    );
}

#[tokio::test]
async fn the_token_lists_its_roles_and_current_user_is_the_machine_user() {
    let org = Org::start(config()).await;
    let token = org.get("/v1/auth/tokens/current").await;
    let roles = token.body["data"]["attributes"]["roles"]
        .as_array()
        .unwrap();
    assert!(roles.contains(&json!("org.admin")) && roles.contains(&json!("org.tracking")));
    let me = org.get("/v1/users/current").await;
    assert_eq!(me.body["data"]["attributes"]["userType"], "machine");
    assert_eq!(
        me.body["data"]["id"],
        token.body["data"]["relationships"]["user"]["data"]["id"]
    );
    let id = me.body["data"]["id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
}

#[tokio::test]
async fn a_fresh_org_has_most_agents_as_users_a_default_brand_and_schedule_and_no_klasses() {
    let org = Org::start(config()).await;
    let email = |e: &str| format!("/v1/users?email={e}");
    assert_eq!(
        org.get(&email("ada@acme.example")).await.body["meta"]["total"],
        1
    );
    assert_eq!(
        org.get(&email("dee@acme.example")).await.body["meta"]["total"],
        1
    );
    assert_eq!(
        org.get(&email("bob@acme.example")).await.body["meta"]["total"],
        0,
        "one agent is missing"
    );
    assert_eq!(
        org.get(&email("cy@acme.example")).await.body["meta"]["total"],
        0,
        "one agent is under another e-mail"
    );
    let users = org.get("/v1/users?userType=user").await;
    assert_eq!(users.body["meta"]["total"], 3);
    let combined = org.get("/v1/users?email=a@b.c&userType=user").await;
    assert_eq!(
        combined.status,
        StatusCode::BAD_REQUEST,
        "user filters cannot be combined"
    );

    let brand = org.get("/v1/brands/default").await;
    assert_eq!(brand.body["data"]["attributes"]["default"], true);
    let schedule = org.get("/v1/schedules/default?include=holidays").await;
    assert_eq!(schedule.body["data"]["attributes"]["default"], true);
    assert_eq!(schedule.body["included"][0]["type"], "holiday");
    assert!(
        org.get("/v1/schedules/default")
            .await
            .body
            .get("included")
            .is_none()
    );
    assert_eq!(org.get("/v1/klasses").await.body["meta"]["total"], 0);
    let metadata = org.get("/v1/metadata/customer").await;
    assert_eq!(metadata.body["data"]["attributes"]["properties"], json!({}));
    assert!(metadata.body["data"]["attributes"]["standardProperties"]["name"].is_object());
    let truth = org.truth().await;
    assert_eq!(truth["counts"]["users"], 0);
    assert_eq!(
        truth["seeded"]["users"], 4,
        "three agents and the machine user"
    );
    assert_eq!(truth["seeded"]["brands"], 1);
}

#[tokio::test]
async fn lists_are_paged_with_links_and_next_is_null_at_the_end() {
    let org = Org::start(config()).await;
    for i in 0..5 {
        let a = org
            .post("/v1/companies", json!({"name": format!("Company {i}")}))
            .await;
        assert_eq!(a.status, StatusCode::CREATED);
        assert_eq!(a.body["data"]["type"], "company");
        assert!(
            a.body["data"]["links"]["self"]
                .as_str()
                .unwrap()
                .starts_with("/v1/companies/")
        );
        assert!(
            a.body["data"]["attributes"]["createdAt"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
    }
    let first = org.get("/v1/companies?pageSize=2").await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        first.body["meta"],
        json!({"page": 1, "pageSize": 2, "total": 5})
    );
    assert_eq!(first.body["links"]["prev"], Value::Null);
    let mut next = first.body["links"]["next"].as_str().unwrap().to_string();
    let mut names = vec![];
    names.extend(
        first.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["attributes"]["name"].clone()),
    );
    loop {
        let page = org.get(&next).await;
        names.extend(
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["attributes"]["name"].clone()),
        );
        match page.body["links"]["next"].as_str() {
            Some(n) => next = n.to_string(),
            None => break,
        }
    }
    assert_eq!(names.len(), 5);
    assert_eq!(names[4], "Company 4");
}

#[tokio::test]
async fn customer_writes_are_validated_field_by_field() {
    let org = Org::start(config()).await;
    let emails: Vec<Value> = (0..11)
        .map(|i| json!({"type": "work", "email": format!("e{i}@x.example")}))
        .collect();
    let cases = [
        (json!({"name": "A", "emails": emails}), "/emails"),
        (
            json!({"name": "A", "phones": [{"type": "mobile"}]}),
            "/phones/0",
        ),
        (json!({"name": "A", "createdAt": "yesterday"}), "/createdAt"),
        (json!({"name": "A", "tags": ["nosuchtag"]}), "/tags/0"),
        (
            json!({"name": "A", "company": "000000000000000000000000"}),
            "/company",
        ),
    ];
    for (body, pointer) in cases {
        let a = org.post("/v1/customers", body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            a.body["errors"][0]["source"]["pointer"], pointer,
            "{}",
            a.body
        );
        assert_eq!(a.body["errors"][0]["status"], 400, "JSON:API error shape");
    }
    let wrapped = org
        .post(
            "/v1/customers",
            json!({"data": {"attributes": {"name": "A"}}}),
        )
        .await;
    assert_eq!(
        wrapped.status,
        StatusCode::BAD_REQUEST,
        "bodies are flat JSON"
    );
    let invalid = org
        .http
        .post(format!("{}/v1/customers", org.sim.url))
        .bearer_auth(&org.sim.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let historical = org
        .post("/v1/customers", json!({"name": "Old", "createdAt": "2019-05-01T10:00:00.000Z", "importedAt": "2024-01-01T00:00:00.000Z"}))
        .await;
    assert_eq!(
        historical.body["data"]["attributes"]["createdAt"],
        "2019-05-01T10:00:00.000Z"
    );
    assert_eq!(
        historical.body["data"]["attributes"]["importedAt"],
        "2024-01-01T00:00:00.000Z"
    );
    assert_eq!(org.truth().await["counts"]["customers"], 1);
}

#[tokio::test]
async fn company_names_must_be_3_to_255_characters() {
    let org = Org::start(config()).await;
    assert_eq!(
        org.post("/v1/companies", json!({})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        org.post("/v1/companies", json!({"name": "AB"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let long = "x".repeat(256);
    let a = org.post("/v1/companies", json!({"name": long})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(error_detail(&a.body).contains("3–255"));
    assert_eq!(
        org.post("/v1/companies", json!({"name": "ABC"}))
            .await
            .status,
        StatusCode::CREATED
    );
    let filtered = org.get("/v1/companies?externalId=none").await;
    assert_eq!(filtered.body["meta"]["total"], 0);
}

#[tokio::test]
async fn custom_attributes_are_typed_by_their_suffix_and_id_needs_metadata() {
    let org = Org::start(config()).await;
    let refused = [
        json!({"planStr": 5}),
        json!({"seatsNum": "five"}),
        json!({"renewalAt": "next tuesday"}),
        json!({"vipBool": "yes"}),
        json!({"siteUrl": "not a url"}),
        json!({"bioTxt": "x".repeat(1025)}),
        json!({"mystery": "x"}),
        json!({"accountManagerId": "abc"}),
    ];
    for custom in refused {
        let name = custom.as_object().unwrap().keys().next().unwrap().clone();
        let a = org
            .post("/v1/customers", json!({"name": "A", "custom": custom}))
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(
            error_detail(&a.body).contains(&name),
            "the refusal names {name}: {}",
            a.body
        );
        assert_eq!(
            a.body["errors"][0]["source"]["pointer"],
            format!("/custom/{name}")
        );
    }
    let accepted = json!({"planStr": "gold", "seatsNum": 5, "renewalAt": "2025-01-01T00:00:00.000Z", "vipBool": true, "siteUrl": "https://a.example", "bioTxt": "x".repeat(1024), "noteStr": null});
    let a = org
        .post("/v1/customers", json!({"name": "A", "custom": accepted}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["data"]["attributes"]["custom"]["seatsNum"], 5);

    let bad_meta = org
        .put(
            "/v1/metadata/customer",
            json!({"properties": {"oddThing": {}}}),
        )
        .await;
    assert_eq!(bad_meta.status, StatusCode::BAD_REQUEST);
    let meta = org
        .put(
            "/v1/metadata/customer",
            json!({"properties": {"accountManagerId": {"target": "user"}, "tierStr": {}}}),
        )
        .await;
    assert_eq!(meta.status, StatusCode::OK, "{}", meta.body);
    assert_eq!(
        meta.body["data"]["attributes"]["properties"]["tierStr"]["displayName"],
        "Tier"
    );
    assert_eq!(
        meta.body["data"]["attributes"]["properties"]["accountManagerId"]["type"],
        "id"
    );
    let me = org.get("/v1/users/current").await.body["data"]["id"].clone();
    let ok = org
        .post(
            "/v1/customers",
            json!({"name": "B", "custom": {"accountManagerId": me}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    let dangling = org
        .post(
            "/v1/customers",
            json!({"name": "C", "custom": {"accountManagerId": "000000000000000000000000"}}),
        )
        .await;
    assert_eq!(dangling.status, StatusCode::BAD_REQUEST);
    // Repeating the metadata PUT is idempotent.
    org.put(
        "/v1/metadata/customer",
        json!({"properties": {"tierStr": {}}}),
    )
    .await;
    assert_eq!(org.truth().await["counts"]["metadata_properties"], 2);
}

#[tokio::test]
async fn a_second_customer_with_the_same_external_id_gets_409_and_lookups_find_the_first() {
    let org = Org::start(config()).await;
    let id = org.customer("crm-1").await;
    let again = org
        .post(
            "/v1/customers",
            json!({"name": "Twin", "externalId": "crm-1"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(error_detail(&again.body).contains("duplicate"));
    let by_ext = org.get("/v1/customers/externalId=crm-1").await;
    assert_eq!(by_ext.body["data"]["id"], id.as_str());
    let by_email = org.get("/v1/customers/email=crm-1@x.example").await;
    assert_eq!(by_email.body["data"]["id"], id.as_str());
    assert_eq!(
        org.get("/v1/customers/externalId=nobody").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        org.get("/v1/customers/000000000000000000000000")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let truth = org.truth().await;
    assert_eq!(truth["counts"]["customers"], 1);
    assert!(truth["duplicates"].get("customers").is_none());
}

#[tokio::test]
async fn a_repeated_conversation_external_id_is_accepted_and_reported_as_a_duplicate() {
    let org = Org::start(config()).await;
    let customer = org.customer("c1").await;
    for _ in 0..2 {
        let a = org
            .post(
                "/v1/conversations",
                json!({"customer": customer, "externalId": "ic-77", "status": "done"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED);
    }
    let truth = org.truth().await;
    assert_eq!(truth["counts"]["conversations"], 2);
    assert_eq!(truth["duplicates"]["conversations"], json!(["ic-77"]));
    let found = org.get("/v1/conversations/externalId=ic-77").await;
    assert_eq!(found.status, StatusCode::OK);
}

#[tokio::test]
async fn conversations_are_created_open_or_done_and_updated_with_snooze_and_ended() {
    let org = Org::start(config()).await;
    let customer = org.customer("c1").await;
    let snoozed = org
        .post(
            "/v1/conversations",
            json!({"customer": customer, "status": "snoozed"}),
        )
        .await;
    assert_eq!(
        snoozed.status,
        StatusCode::BAD_REQUEST,
        "create takes only open|done"
    );
    assert_eq!(
        org.post("/v1/conversations", json!({"status": "open"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let c = org.conversation(&customer).await;
    let path = format!("/v1/conversations/{c}");
    let no_time = org
        .patch(
            &path,
            json!({"status": "snoozed", "snooze": {"status": "scheduled"}}),
        )
        .await;
    assert_eq!(no_time.status, StatusCode::BAD_REQUEST);
    let bad_status = org.patch(&path, json!({"status": "snoozed", "snooze": {"time": "2026-01-05T09:00:00Z", "status": "later"}})).await;
    assert_eq!(bad_status.status, StatusCode::BAD_REQUEST);
    let ok = org.patch(&path, json!({"status": "snoozed", "snooze": {"time": "2026-01-05T09:00:00Z", "status": "scheduled"}})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["data"]["attributes"]["status"], "snoozed");
    let me = org.get("/v1/users/current").await.body["data"]["id"].clone();
    let bad_end = org
        .put(
            &path,
            json!({"status": "done", "ended": true, "endedByType": "robot"}),
        )
        .await;
    assert_eq!(bad_end.status, StatusCode::BAD_REQUEST);
    let ended = org
        .put(&path, json!({"status": "done", "ended": true, "endedAt": "2023-03-03T03:03:03.000Z", "endedByType": "user", "endedBy": me}))
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(
        ended.body["data"]["attributes"]["endedAt"],
        "2023-03-03T03:03:03.000Z"
    );
    assert_eq!(
        ended.body["data"]["relationships"]["customer"]["data"]["id"],
        customer.as_str()
    );
}

#[tokio::test]
async fn messages_need_channel_and_app_and_notes_need_a_body() {
    let org = Org::start(config()).await;
    let customer = org.customer("c1").await;
    let c = org.conversation(&customer).await;
    let path = format!("/v1/conversations/{c}/messages");
    let no_channel = org
        .post(&path, json!({"app": "i2k", "preview": "hi"}))
        .await;
    assert_eq!(no_channel.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_channel.body["errors"][0]["source"]["pointer"],
        "/channel"
    );
    let no_app = org
        .post(&path, json!({"channel": "email", "preview": "hi"}))
        .await;
    assert_eq!(no_app.body["errors"][0]["source"]["pointer"], "/app");
    let bad_channel = org
        .post(&path, json!({"channel": "pigeon", "app": "i2k"}))
        .await;
    assert_eq!(bad_channel.status, StatusCode::BAD_REQUEST);
    let no_conversation = org
        .post(
            "/v1/messages",
            json!({"channel": "chat", "app": "i2k", "direction": "in"}),
        )
        .await;
    assert_eq!(no_conversation.status, StatusCode::BAD_REQUEST);
    let m = org
        .post(&path, json!({"channel": "email", "app": "i2k", "direction": "out", "preview": "hello", "externalId": "part-1", "meta": {"htmlBody": "<p>hello</p>"}}))
        .await;
    assert_eq!(m.status, StatusCode::CREATED, "{}", m.body);
    let found = org.get("/v1/messages/externalid=part-1").await;
    assert_eq!(found.body["data"]["id"], m.body["data"]["id"]);
    assert_eq!(
        found.body["data"]["relationships"]["conversation"]["data"]["id"],
        c.as_str()
    );
    let listed = org.get(&path).await;
    assert_eq!(listed.body["meta"]["total"], 1);
    assert_eq!(
        org.get(&format!("/v1/conversations/{c}")).await.body["data"]["attributes"]["channels"],
        json!(["email"])
    );

    let notes = format!("/v1/conversations/{c}/notes");
    assert_eq!(
        org.post(&notes, json!({"externalId": "n"})).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        org.post(&notes, json!({"body": "internal"})).await.status,
        StatusCode::CREATED
    );
    assert_eq!(org.get(&notes).await.body["meta"]["total"], 1);
    let truth = org.truth().await;
    assert_eq!(truth["counts"]["messages"], 1);
    assert_eq!(truth["counts"]["notes"], 1);
}

#[tokio::test]
async fn a_customer_gets_120_tracking_events_a_minute_and_nothing_lifts_it() {
    let org = Org::start(config()).await;
    let event = |who: &str, n: u32| json!({"identity": {"externalId": who}, "event": {"name": format!("e{n}"), "meta": {"importedAt": "2024-02-02T00:00:00.000Z"}}});
    for i in 0..120 {
        let a = org
            .post("/v1/tracking/identityEvent", event("busy", i))
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "event {i}");
    }
    let over = org
        .post("/v1/tracking/identityEvent", event("busy", 120))
        .await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS);
    let other = org
        .post("/v1/tracking/identityEvent", event("calm", 0))
        .await;
    assert_eq!(other.status, StatusCode::NO_CONTENT);
    assert_eq!(org.truth().await["counts"]["tracking_events"], 121);
}

#[tokio::test]
async fn a_customer_gets_120_creates_a_minute_unless_they_carry_imported_at() {
    let org = Org::start(config()).await;
    let customer = org.customer("busy").await;
    let c = org.conversation(&customer).await;
    let path = format!("/v1/conversations/{c}/notes");
    for i in 0..120 {
        let a = org.post(&path, json!({"body": format!("n{i}")})).await;
        assert_eq!(a.status, StatusCode::CREATED, "note {i}");
    }
    let over = org.post(&path, json!({"body": "one too many"})).await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS);
    let over_message = org
        .post(
            &format!("/v1/conversations/{c}/messages"),
            json!({"channel": "chat", "app": "i2k"}),
        )
        .await;
    assert_eq!(over_message.status, StatusCode::TOO_MANY_REQUESTS);
    let imported = org
        .post(
            &path,
            json!({"body": "history", "importedAt": "2024-02-02T00:00:00.000Z"}),
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED);
    let bulk = org
        .post("/v1/notes/bulk", json!([{"conversation": c, "body": "live"}, {"conversation": c, "body": "old", "importedAt": "2024-02-02T00:00:00.000Z"}]))
        .await;
    let results = org
        .bulk_results(bulk.body["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(results[0]["status"], "error");
    assert!(results[0]["error"].as_str().unwrap().contains("120"));
    assert_eq!(results[1]["status"], "created");
    let other = org.customer("calm").await;
    assert_eq!(
        org.post("/v1/conversations", json!({"customer": other}))
            .await
            .status,
        StatusCode::CREATED
    );
    let truth = org.truth().await;
    assert!(
        truth["requests"]["POST /v1/conversations/{id}/notes"]["throttled"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn the_org_budget_is_announced_in_headers_and_refused_with_429_when_spent() {
    let mut c = config();
    c.rate_per_minute = 5;
    let org = Org::start(c).await;
    let first = org.get("/v1/customers").await;
    assert_eq!(first.headers["x-ratelimit-limit"], "5");
    assert_eq!(first.headers["x-ratelimit-remaining"], "4");
    let reset: i64 = first.headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = i2k::timefmt::now_unix();
    assert!(
        reset > now && reset <= now + 61,
        "epoch seconds: {reset} vs {now}"
    );
    for _ in 0..4 {
        assert_eq!(org.get("/v1/customers").await.status, StatusCode::OK);
    }
    let refused = org.get("/v1/customers").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers["x-ratelimit-remaining"], "0");
    // The ground truth is outside the budget and counts what was refused.
    let truth = org.truth().await;
    assert_eq!(
        truth["requests"]["GET /v1/customers"],
        json!({"count": 6, "throttled": 1})
    );
}

#[tokio::test]
async fn bulk_jobs_complete_later_with_client_refs_and_report_duplicates_per_item() {
    let org = Org::start(config()).await;
    org.customer("dup").await;
    let items = json!([
        {"_clientRef": "a", "name": "A", "externalId": "new-1"},
        {"_clientRef": "b", "name": "B", "externalId": "dup"},
        {"_clientRef": "c", "name": "C", "emails": [{"type": "work"}]},
    ]);
    let submitted = org.post("/v1/customers/bulk", items).await;
    assert_eq!(submitted.status, StatusCode::CREATED);
    assert_eq!(submitted.body["data"]["type"], "bulk");
    assert_eq!(submitted.body["data"]["attributes"]["status"], "queued");
    assert_eq!(
        org.truth().await["counts"]["customers"],
        1,
        "items take effect when the job runs"
    );
    let results = org
        .bulk_results(submitted.body["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(results[0]["_clientRef"], "a");
    assert_eq!(results[0]["status"], "created");
    let new_id = results[0]["objectId"].as_str().unwrap().to_string();
    assert_eq!(
        results[1],
        json!({"_clientRef": "b", "objectId": null, "status": "error", "error": "duplicate detected"})
    );
    assert_eq!(results[2]["status"], "error");
    assert_eq!(
        org.get("/v1/customers/externalId=new-1").await.body["data"]["id"],
        new_id.as_str()
    );

    let update = org
        .put("/v1/customers/bulk", json!([{"id": new_id, "name": "A2"}]))
        .await;
    let results = org
        .bulk_results(update.body["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(results[0]["status"], "updated");
    assert_eq!(
        org.get(&format!("/v1/customers/{new_id}")).await.body["data"]["attributes"]["name"],
        "A2"
    );
    assert_eq!(org.truth().await["counts"]["customers"], 2);
}

#[tokio::test]
async fn bulk_envelopes_are_refused_whole_when_malformed() {
    let org = Org::start(config()).await;
    let many: Vec<Value> = (0..101).map(|i| json!({"name": format!("C{i}")})).collect();
    let cases = [
        (json!(many), "at most 100"),
        (json!([]), "at least one"),
        (json!({"name": "not an array"}), "bare JSON array"),
        (
            json!([{"_clientRef": "a", "name": "A"}, {"name": "B"}]),
            "every item or on none",
        ),
        (
            json!([{"_clientRef": "a", "name": "A"}, {"_clientRef": "a", "name": "B"}]),
            "twice",
        ),
    ];
    for (body, why) in cases {
        let a = org.post("/v1/companies/bulk", body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{why}");
        assert!(error_detail(&a.body).contains(why), "{why}: {}", a.body);
    }
    let no_id = org
        .put("/v1/companies/bulk", json!([{"name": "Nameless"}]))
        .await;
    assert_eq!(no_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        org.post("/v1/klasses/ghost/bulk", json!([{"title": "t"}]))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let counted = org.truth().await["requests"]["POST /v1/companies/bulk"]["count"].clone();
    assert_eq!(counted, 5, "one bulk request counts once");
}

#[tokio::test]
async fn attachments_are_uploaded_to_storage_then_referenced_by_messages_and_notes() {
    let org = Org::start(config()).await;
    let customer = org.customer("c1").await;
    let c = org.conversation(&customer).await;
    let file = b"hello, attachment".to_vec();
    assert_eq!(
        org.post("/v1/attachments", json!({"name": "a.txt"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let created = org
        .post(
            "/v1/attachments",
            json!({"name": "a.txt", "contentType": "text/plain", "contentLength": file.len()}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let upload = created.body["meta"]["upload"].clone();
    let url = upload["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&org.sim.url));
    let fields = upload["fields"].as_object().unwrap().clone();
    for key in [
        "key",
        "acl",
        "Content-Type",
        "X-Amz-Meta-Attachment-Id",
        "bucket",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "Policy",
        "X-Amz-Signature",
    ] {
        assert!(fields.contains_key(key), "{key}");
    }

    let message = json!({"channel": "email", "app": "i2k", "attachments": [{"_id": id, "name": "a.txt", "contentType": "text/plain", "contentLength": file.len()}]});
    let early = org
        .post(&format!("/v1/conversations/{c}/messages"), message.clone())
        .await;
    assert_eq!(early.status, StatusCode::BAD_REQUEST, "not uploaded yet");

    let form = |with_file_first: bool, bytes: Vec<u8>| {
        let mut form = reqwest::multipart::Form::new();
        if with_file_first {
            form = form.part("file", reqwest::multipart::Part::bytes(bytes.clone()));
        }
        for (k, v) in &fields {
            form = form.text(k.clone(), v.as_str().unwrap().to_string());
        }
        if !with_file_first {
            form = form.part("file", reqwest::multipart::Part::bytes(bytes));
        }
        form
    };
    let wrong_order = org
        .http
        .post(&url)
        .multipart(form(true, file.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_order.status(), StatusCode::BAD_REQUEST);
    let wrong_size = org
        .http
        .post(&url)
        .multipart(form(false, b"short".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_size.status(), StatusCode::BAD_REQUEST);
    assert_eq!(org.truth().await["counts"]["attachments"], 0);
    let ok = org
        .http
        .post(&url)
        .multipart(form(false, file.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        org.post(&format!("/v1/conversations/{c}/messages"), message)
            .await
            .status,
        StatusCode::CREATED
    );
    let note = org
        .post(
            &format!("/v1/conversations/{c}/notes"),
            json!({"body": "see file", "attachments": [id]}),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED);
    let truth = org.truth().await;
    assert_eq!(truth["counts"]["attachments"], 1);
    assert!(
        truth["requests"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains("__storage")),
        "uploads are not counted"
    );
}

#[tokio::test]
async fn search_sees_a_record_only_after_the_indexing_delay() {
    let org = Org::start(config()).await;
    org.customer("late").await;
    let query =
        json!({"queryContext": "customer", "and": [{"customer_external_id": {"equals": "late"}}]});
    let now = org.post("/v1/customers/search", query.clone()).await;
    assert_eq!(now.status, StatusCode::OK);
    assert_eq!(now.body["meta"]["total"], 0);
    assert_eq!(
        org.get("/v1/customers/externalId=late").await.status,
        StatusCode::OK,
        "lookups see it at once"
    );
    tokio::time::sleep(Duration::from_millis(550)).await;
    let later = org.post("/v1/customers/search", query).await;
    assert_eq!(later.body["meta"]["total"], 1);
    let unknown = org
        .post(
            "/v1/customers/search",
            json!({"queryContext": "customer", "and": [{"customer_shoe_size": {"equals": "9"}}]}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_machine_user_may_search_100_times_a_minute() {
    let org = Org::start(config()).await;
    let query = json!({"queryContext": "conversation"});
    for _ in 0..100 {
        assert_eq!(
            org.post("/v1/customers/search", query.clone()).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        org.post("/v1/customers/search", query).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn conversation_tag_append_creates_unknown_tags_and_customers_take_tag_ids() {
    let org = Org::start(config()).await;
    let customer = org.customer("c1").await;
    let c = org.conversation(&customer).await;
    let tagged = org
        .post(
            &format!("/v1/conversations/{c}/tags"),
            json!(["vip", "billing"]),
        )
        .await;
    assert_eq!(tagged.status, StatusCode::OK);
    let tags = org.get("/v1/tags").await;
    assert_eq!(tags.body["meta"]["total"], 2);
    let vip = tags.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["attributes"]["name"] == "vip")
        .unwrap()["id"]
        .clone();
    assert_eq!(
        tagged.body["data"]["attributes"]["tags"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    org.post(&format!("/v1/conversations/{c}/tags"), json!(["vip"]))
        .await;
    assert_eq!(
        org.get("/v1/tags").await.body["meta"]["total"],
        2,
        "names are looked up, not repeated"
    );
    let by_name = org
        .post("/v1/customers", json!({"name": "T", "tags": ["vip"]}))
        .await;
    assert_eq!(
        by_name.status,
        StatusCode::BAD_REQUEST,
        "customer tags take ids"
    );
    let by_id = org
        .post("/v1/customers", json!({"name": "T", "tags": [vip]}))
        .await;
    assert_eq!(by_id.status, StatusCode::CREATED);
    let made = org.post("/v1/tags", json!({"name": "churn-risk"})).await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(
        org.post("/v1/tags", json!({"name": "churn-risk"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(org.truth().await["counts"]["tags"], 3);
}

#[tokio::test]
async fn klasses_hold_kobjects_found_by_external_id_and_created_in_bulk() {
    let org = Org::start(config()).await;
    assert_eq!(
        org.post("/v1/klasses/order", json!({"title": "o"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        org.get("/v1/metadata/kobject.order").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        org.post("/v1/klasses", json!({"name": "order", "icon": "cart"}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        org.post("/v1/klasses", json!({"name": "order"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        org.post("/v1/klasses/order", json!({"externalId": "o1"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let customer = org.customer("c1").await;
    let k = org
        .post("/v1/klasses/order", json!({"title": "Order 1", "externalId": "o1", "customer": customer, "data": {"total": 3}, "custom": {"totalNum": 3}}))
        .await;
    assert_eq!(k.status, StatusCode::CREATED, "{}", k.body);
    let found = org.get("/v1/klasses/order/externalId=o1").await;
    assert_eq!(found.body["data"]["id"], k.body["data"]["id"]);
    let bulk = org
        .post(
            "/v1/klasses/order/bulk",
            json!([{"title": "Order 2", "externalId": "o2"}, {"externalId": "no-title"}]),
        )
        .await;
    let results = org
        .bulk_results(bulk.body["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(results[0]["status"], "created");
    assert_eq!(results[1]["status"], "error");
    assert_eq!(org.get("/v1/klasses/order").await.body["meta"]["total"], 2);
    let truth = org.truth().await;
    assert_eq!(truth["counts"]["klasses"], 1);
    assert_eq!(truth["counts"]["kobjects"], 2);
}

#[tokio::test]
async fn users_created_through_the_api_are_invited() {
    let org = Org::start(config()).await;
    assert_eq!(
        org.post("/v1/users", json!({"name": "No Mail"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let a = org
        .post(
            "/v1/users",
            json!({"name": "Bob", "email": "bob@acme.example"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["data"]["attributes"]["pending"], true);
    assert_eq!(
        org.post(
            "/v1/users",
            json!({"name": "Bob", "email": "BOB@acme.example"})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let team = org
        .post(
            "/v1/teams",
            json!({"name": "Support", "members": [a.body["data"]["id"]]}),
        )
        .await;
    assert_eq!(team.status, StatusCode::CREATED);
    assert_eq!(
        org.post(
            "/v1/teams",
            json!({"name": "Ghosts", "members": ["nobody"]})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let truth = org.truth().await;
    assert_eq!(truth["invitations"], 1);
    assert_eq!(truth["counts"]["users"], 1);
    assert_eq!(truth["counts"]["teams"], 1);
}

#[tokio::test]
async fn tracking_events_answer_204_and_need_a_name_starting_with_a_letter() {
    let org = Org::start(config()).await;
    assert_eq!(
        org.post("/v1/tracking/identity", json!({"email": "a@b.example"}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        org.post(
            "/v1/tracking/event",
            json!({"name": "signed_up", "meta": {"plan": "x"}})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let bad = org
        .post("/v1/tracking/event", json!({"name": "1st-login"}))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("letter")
    );
    assert_eq!(
        org.post(
            "/v1/tracking/identityEvent",
            json!({"identity": {"email": "a@b.example"}, "event": {"name": "paid"}})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(org.truth().await["counts"]["tracking_events"], 2);
}

#[tokio::test]
async fn kb_articles_are_published_per_language_version() {
    let org = Org::start(config()).await;
    let untitled = org
        .post(
            "/v1/kb/categories",
            json!({"langs": {"en_us": {"slug": "billing"}}}),
        )
        .await;
    assert_eq!(untitled.status, StatusCode::BAD_REQUEST);
    let root = org
        .post(
            "/v1/kb/categories",
            json!({"langs": {"en_us": {"title": "Billing", "description": "Paying us"}}}),
        )
        .await;
    assert_eq!(root.status, StatusCode::CREATED);
    let root_id = root.body["data"]["id"].clone();
    assert_eq!(
        org.post(
            "/v1/kb/categories",
            json!({"title": "Sub", "parent": "nope"})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let sub = org
        .post(
            "/v1/kb/categories",
            json!({"title": "Refunds", "parent": root_id}),
        )
        .await;
    assert_eq!(
        sub.body["data"]["relationships"]["parent"]["data"]["id"],
        root_id
    );
    assert_eq!(
        org.post("/v1/kb/articles", json!({"categories": ["nope"]}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let article = org
        .post("/v1/kb/articles", json!({"categories": [root_id]}))
        .await;
    assert_eq!(article.status, StatusCode::CREATED, "{}", article.body);
    let aid = article.body["data"]["id"].as_str().unwrap().to_string();
    let draft = format!("/v1/kb/articles/{aid}/versions/en_us");
    let empty_publish = org
        .put(&draft, json!({"publishedAt": "2024-01-01T00:00:00.000Z"}))
        .await;
    assert_eq!(
        empty_publish.status,
        StatusCode::BAD_REQUEST,
        "a version needs a body to publish"
    );
    let published = org
        .put(&draft, json!({"title": "How to pay", "htmlBody": "<p>Card</p>", "slug": "how-to-pay", "publishedAt": "2024-01-01T00:00:00.000Z"}))
        .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    assert_eq!(published.body["data"]["attributes"]["status"], "published");
    let french = org
        .post(&format!("/v1/kb/articles/{aid}/versions/fr"), json!({"title": "Payer", "htmlBody": "<p>Carte</p>", "publishedAt": "2024-01-02T00:00:00.000Z"}))
        .await;
    assert_eq!(french.status, StatusCode::CREATED);
    let got = org.get(&format!("/v1/kb/articles/{aid}")).await;
    assert_eq!(got.body["data"]["attributes"]["status"], "published");
    let current = &got.body["data"]["attributes"]["langVersions"]["fr"]["currentVersion"];
    assert!(current["_id"].is_string(), "{current}");
    assert_eq!(current["title"], "Payer");
    assert_eq!(current["status"], "published");
    let truth = org.truth().await;
    assert_eq!(truth["counts"]["kb_categories"], 2);
    assert_eq!(truth["counts"]["kb_articles"], 1);
    assert_eq!(truth["counts"]["kb_versions"], 2);
}

#[tokio::test]
async fn saved_searches_folders_positions_and_shortcuts_are_stored() {
    let org = Org::start(config()).await;
    assert_eq!(
        org.post("/v1/customers/searches", json!({"name": "No data"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let search = org
        .post(
            "/v1/customers/searches",
            json!({"name": "Open VIP", "data": {"queryContext": "conversation", "and": []}}),
        )
        .await;
    assert_eq!(search.status, StatusCode::CREATED);
    let folder = org
        .post("/v1/customers/searches/folders", json!({"name": "Team"}))
        .await;
    let (sid, fid) = (
        search.body["data"]["id"].clone(),
        folder.body["data"]["id"].clone(),
    );
    let nested = org
        .put("/v1/customers/searches/positions", json!({"positions": [{"type": "folder", "id": fid, "children": [{"type": "folder", "id": fid}]}]}))
        .await;
    assert_eq!(
        nested.status,
        StatusCode::BAD_REQUEST,
        "folders cannot nest"
    );
    let placed = org
        .put("/v1/customers/searches/positions", json!({"positions": [{"type": "folder", "id": fid, "children": [{"type": "search", "id": sid}]}]}))
        .await;
    assert_eq!(placed.status, StatusCode::OK);
    assert_eq!(
        org.get("/v1/customers/searches/positions").await.body["data"]["attributes"]["rev"],
        1
    );

    let category = org
        .post("/v1/shortcuts/categories", json!({"name": "Billing"}))
        .await;
    let long = "x".repeat(10_241);
    assert_eq!(
        org.post(
            "/v1/shortcuts",
            json!({"name": "Long", "draft": {"text": long}})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let shortcut = org
        .post("/v1/shortcuts", json!({"name": "Refund", "draft": {"text": "Hi {{customer.firstName}}"}, "parent": category.body["data"]["id"]}))
        .await;
    assert_eq!(shortcut.status, StatusCode::CREATED);
    assert_eq!(org.get("/v1/shortcuts").await.body["meta"]["total"], 1);
    let truth = org.truth().await;
    assert_eq!(truth["counts"]["saved_searches"], 1);
    assert_eq!(truth["counts"]["shortcuts"], 1);
}

#[tokio::test]
async fn conversations_and_messages_are_created_and_updated_in_bulk() {
    let org = Org::start(config()).await;
    let customer = org.customer("c1").await;
    let created = org
        .post(
            "/v1/conversations/bulk",
            json!([
                {"_clientRef": "x1", "customer": customer, "externalId": "ic-1", "status": "done", "importedAt": "2024-01-01T00:00:00.000Z"},
                {"_clientRef": "x2", "customer": customer, "externalId": "ic-1"},
                {"_clientRef": "x3", "customer": customer, "status": "snoozed"},
            ]),
        )
        .await;
    let results = org
        .bulk_results(created.body["data"]["id"].as_str().unwrap())
        .await;
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["created", "created", "error"]);
    assert_eq!(
        org.truth().await["duplicates"]["conversations"],
        json!(["ic-1"])
    );
    let first = results[0]["objectId"].as_str().unwrap().to_string();

    let messages = org
        .post(
            "/v1/messages/bulk",
            json!([
                {"conversation": first, "channel": "chat", "app": "i2k", "direction": "in", "preview": "hi"},
                {"conversation": first, "app": "i2k", "direction": "in"},
            ]),
        )
        .await;
    let results = org
        .bulk_results(messages.body["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(results[0]["status"], "created");
    assert_eq!(results[0]["_clientRef"], Value::Null);
    assert_eq!(results[1]["status"], "error");
    assert!(results[1]["error"].as_str().unwrap().contains("channel"));

    let closed = org
        .put("/v1/conversations/bulk", json!([{"id": first, "status": "done", "ended": true, "endedAt": "2023-01-01T00:00:00.000Z"}]))
        .await;
    let results = org
        .bulk_results(closed.body["data"]["id"].as_str().unwrap())
        .await;
    assert_eq!(results[0]["status"], "updated");
    let got = org.get(&format!("/v1/conversations/{first}")).await;
    assert_eq!(got.body["data"]["attributes"]["ended"], true);
    assert_eq!(got.body["data"]["attributes"]["messageCount"], 1);
}

#[tokio::test]
async fn the_shared_simulator_options_configure_the_kustomer_side() {
    use clap::Parser;
    let cli = i2k::cli::Cli::try_parse_from([
        "i2k",
        "sim",
        "--size",
        "tiny",
        "--kustomer-rate",
        "7",
        "--bulk-delay-ms",
        "10",
        "--faults",
        "intercom.5xx=1.0",
    ])
    .unwrap();
    let Some(i2k::cli::Command::Sim(args)) = cli.command else {
        panic!("not the sim command")
    };
    let config = Config::from_options(&args.sim, agents()).unwrap();
    assert_eq!(config.bulk_delay_max, Duration::from_millis(10));
    let org = Org::start(config).await;
    let a = org.get("/v1/customers").await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "intercom-only faults stay on the Intercom side"
    );
    assert_eq!(a.headers["x-ratelimit-limit"], "7");

    let bad =
        i2k::cli::Cli::try_parse_from(["i2k", "sim", "--faults", "kustomer.boom=0.1"]).unwrap();
    let Some(i2k::cli::Command::Sim(args)) = bad.command else {
        panic!("not the sim command")
    };
    assert!(
        Config::from_options(&args.sim, vec![])
            .unwrap_err()
            .contains("boom")
    );
}

#[tokio::test]
async fn the_schedule_list_side_loads_holidays_like_the_single_form() {
    let org = Org::start(config()).await;
    let hours = json!({"0": null, "1": [[480, 1020]], "2": null, "3": null, "4": null, "5": null, "6": null});
    let extra = org
        .post(
            "/v1/schedules",
            json!({"name": "Weekend desk", "timezone": "Europe/Paris", "hours": hours}),
        )
        .await;
    assert_eq!(extra.status, StatusCode::CREATED, "{}", extra.body);

    let plain = org.get("/v1/schedules").await;
    assert!(plain.body.get("included").is_none());
    let list = org.get("/v1/schedules?include=holidays").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["meta"]["total"], 2);
    let included = list.body["included"].as_array().expect("included[]");
    assert_eq!(included.len(), 1, "{}", list.body);
    let holiday = &included[0];
    assert_eq!(holiday["type"], "holiday");
    assert!(holiday["attributes"]["startDate"].is_string());
    let default = &list.body["data"][0];
    assert_eq!(default["attributes"]["default"], true);
    assert_eq!(
        holiday["relationships"]["schedule"]["data"]["id"],
        default["id"]
    );
    assert_eq!(
        default["relationships"]["holidays"]["data"],
        json!([{"type": "holiday", "id": holiday["id"]}])
    );
    assert_eq!(
        list.body["data"][1]["relationships"]["holidays"]["data"],
        json!([])
    );
    let single = org.get("/v1/schedules/default?include=holidays").await;
    assert_eq!(single.body["included"], list.body["included"]);
    assert_eq!(single.body["data"], *default);

    // Paged: a page's included[] holds only its own schedules' holidays, and links keep include.
    let second = org
        .get("/v1/schedules?include=holidays&pageSize=1&page=2")
        .await;
    assert_eq!(second.body["data"][0]["id"], extra.body["data"]["id"]);
    assert_eq!(second.body["included"], json!([]));
    let prev = second.body["links"]["prev"].as_str().unwrap().to_string();
    assert!(prev.contains("include=holidays"), "{prev}");
    assert_eq!(org.get(&prev).await.body["included"], list.body["included"]);
}

#[tokio::test]
async fn customers_list_their_conversations_and_notes_and_conversations_their_attachments() {
    let org = Org::start(config()).await;
    let jo = org.customer("c1").await;
    let other = org.customer("c2").await;
    let first = org.conversation(&jo).await;
    let second = org.conversation(&jo).await;
    let theirs = org.conversation(&other).await;
    for (c, body) in [(&first, "one"), (&second, "two"), (&theirs, "not Jo's")] {
        let note = org
            .post(
                &format!("/v1/conversations/{c}/notes"),
                json!({"body": body}),
            )
            .await;
        assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
    }

    let page = org
        .get(&format!("/v1/customers/{jo}/conversations?pageSize=1"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.body["meta"],
        json!({"page": 1, "pageSize": 1, "total": 2})
    );
    assert_eq!(page.body["data"][0]["id"], first.as_str());
    assert_eq!(page.body["links"]["prev"], Value::Null);
    assert!(page.headers.contains_key("x-ratelimit-remaining"));
    let next = page.body["links"]["next"].as_str().unwrap().to_string();
    assert!(next.starts_with(&format!("/v1/customers/{jo}/conversations?")));
    let last = org.get(&next).await;
    assert_eq!(last.body["data"][0]["id"], second.as_str());
    assert_eq!(last.body["links"]["next"], Value::Null);

    let notes = org.get(&format!("/v1/customers/{jo}/notes")).await;
    assert_eq!(notes.status, StatusCode::OK, "{}", notes.body);
    let bodies: Vec<&Value> = notes.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["attributes"]["body"])
        .collect();
    assert_eq!(bodies, [&json!("one"), &json!("two")]);

    let file = b"a file".to_vec();
    let a = org.uploaded_attachment("a.txt", &file).await;
    let b = org.uploaded_attachment("b.txt", &file).await;
    let message = json!({"channel": "email", "app": "i2k", "attachments": [{"_id": a, "name": "a.txt", "contentType": "text/plain", "contentLength": file.len()}]});
    let sent = org
        .post(&format!("/v1/conversations/{first}/messages"), message)
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let noted = org
        .post(
            &format!("/v1/conversations/{first}/notes"),
            json!({"body": "files", "attachments": [a, b]}),
        )
        .await;
    assert_eq!(noted.status, StatusCode::CREATED, "{}", noted.body);
    let files = org
        .get(&format!("/v1/conversations/{first}/attachments"))
        .await;
    assert_eq!(files.status, StatusCode::OK, "{}", files.body);
    assert_eq!(files.body["meta"]["total"], 2, "each attachment once");
    let ids: Vec<&Value> = files.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["id"])
        .collect();
    assert_eq!(ids, [&json!(a), &json!(b)]);
    assert_eq!(files.body["data"][0]["type"], "attachment");
    assert!(
        files.body["data"][0]["attributes"]
            .get("uploadFields")
            .is_none()
    );
    assert_eq!(files.body["links"]["next"], Value::Null);
    let none = org
        .get(&format!("/v1/conversations/{second}/attachments"))
        .await;
    assert_eq!(none.body["meta"]["total"], 0);

    let unknown = "5f00000000000000000000ff";
    for path in [
        format!("/v1/customers/{unknown}/conversations"),
        format!("/v1/customers/{unknown}/notes"),
        format!("/v1/conversations/{unknown}/attachments"),
    ] {
        assert_eq!(org.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        let anonymous = org.http.get(format!("{}{path}", org.sim.url));
        assert_eq!(
            anonymous.send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
}
