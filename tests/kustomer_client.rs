//! The Kustomer client against the Kustomer simulator over loopback HTTP: every route the phases
//! use, bulk jobs matched by `_clientRef`, externalId lookups, the attachment flow, the rate gate
//! and authentication errors.

use std::time::{Duration, Instant};

use i2k::engine::model::CheckStatus;
use i2k::http::Secret;
use i2k::kustomer::assumptions;
use i2k::kustomer::models::DayHours;
use i2k::kustomer::{BulkOutcome, BulkResource, KustomerClient, KustomerError, PollPolicy};
use i2k::mapping::attributes::{SourceAttribute, SourceModel, metadata_body, spec_for};
use i2k::sim::SimHandle;
use i2k::sim::kustomer::{Config, spawn};
use serde_json::{Value, json};

const FAST_POLL: PollPolicy = PollPolicy {
    initial: Duration::from_millis(20),
    max: Duration::from_millis(200),
    timeout: Duration::from_secs(20),
};

async fn sim_with(config: Config) -> SimHandle {
    spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn sim() -> SimHandle {
    sim_with(fast_config()).await
}

fn fast_config() -> Config {
    let agents = vec![
        ("Ada Admin".to_string(), "ada@acme.example".to_string()),
        ("Bo Agent".to_string(), "bo@acme.example".to_string()),
    ];
    Config {
        bulk_delay_max: Duration::from_millis(150),
        ..Config::new(7, agents)
    }
}

/// `GET /__sim/truth` (outside the API: not counted, not limited).
async fn truth(sim: &SimHandle) -> Value {
    reqwest::get(format!("{}/__sim/truth", sim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn throttled_total(truth: &Value) -> u64 {
    truth["requests"]
        .as_object()
        .map(|routes| {
            routes
                .values()
                .filter_map(|r| r["throttled"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

fn client(sim: &SimHandle) -> KustomerClient {
    KustomerClient::connect(&sim.url, Secret::new(sim.token.clone()), 100_000, 0.8).unwrap()
}

#[tokio::test]
async fn the_key_its_user_and_the_announced_budget_are_checked() {
    let sim = sim().await;
    let k = client(&sim);
    let token = k.token_current().await.unwrap();
    assert!(!token.roles.is_empty(), "roles of the key: {token:?}");
    let me = k.current_user().await.unwrap();
    assert!(!me.id.is_empty());
    assert_eq!(
        token.user_id.as_deref(),
        Some(me.id.as_str()),
        "the key's machine user"
    );
    let info = k.check_connection().await;
    assert_eq!(info.status, CheckStatus::Pass, "{info:?}");
    assert_eq!(info.roles, token.roles);
    assert_eq!(
        info.name, token.org_name,
        "the org name, when the token route gives one"
    );
    assert!(
        info.rate_limit.is_some(),
        "x-ratelimit-limit read: {info:?}"
    );
    assert!(!info.token.contains(&sim.token));
}

#[tokio::test]
async fn a_wrong_key_gives_a_clear_unauthorized_error() {
    let sim = sim().await;
    let k =
        KustomerClient::connect(&sim.url, Secret::new("not-the-key-at-all"), 1000, 0.8).unwrap();
    let err = k.token_current().await.unwrap_err();
    assert!(matches!(err, KustomerError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("KUSTOMER_API_KEY"), "{err}");
    let info = k.check_connection().await;
    assert_eq!(info.status, CheckStatus::Fail);
    assert!(info.detail.unwrap().contains("401"));
}

#[tokio::test]
async fn prerequisites_are_created_then_found_in_their_listings() {
    let sim = sim().await;
    let k = client(&sim);
    let me = k.current_user().await.unwrap();

    let brand = k
        .create_brand("Acme Support", "https://example.com/icon.png")
        .await
        .unwrap();
    assert!(
        k.list_brands()
            .await
            .unwrap()
            .iter()
            .any(|b| b.id == brand.id && b.name == "Acme Support")
    );

    let mut hours: [DayHours; 7] = Default::default();
    hours[1] = Some(vec![[480, 1020]]);
    hours[2] = Some(vec![[480, 720], [780, 1020]]);
    let schedule = k
        .create_schedule("Office hours", &hours, "Europe/Paris", false)
        .await
        .unwrap();
    let listed = k.list_schedules().await.unwrap();
    let found = listed.iter().find(|s| s.id == schedule.id).unwrap();
    assert_eq!(found.hours, hours);
    assert_eq!(found.timezone.as_deref(), Some("Europe/Paris"));

    let klass = k
        .create_klass(json!({"name": "intercom_ticket", "displayName": "Intercom ticket", "icon": "ticket", "color": "#5a5a5a"}))
        .await
        .unwrap();
    assert!(
        k.list_klasses()
            .await
            .unwrap()
            .iter()
            .any(|c| c.id == klass.id)
    );

    let team = k
        .create_team("Tier 2", std::slice::from_ref(&me.id), Some("team-7"))
        .await
        .unwrap();
    let teams = k.list_teams().await.unwrap();
    let listed_team = teams.iter().find(|t| t.id == team.id).unwrap();
    assert_eq!(listed_team.members, vec![me.id.clone()]);

    if let Some(email) = &me.email {
        let by_email = k.users_by_email(email).await.unwrap();
        assert_eq!(by_email.len(), 1);
        assert_eq!(by_email[0].id, me.id);
    }
    assert!(
        k.users_by_email("nobody@nowhere.invalid")
            .await
            .unwrap()
            .is_empty()
    );
    let invited = k.invite_user("Ada Agent", "ada@example.com").await.unwrap();
    assert!(
        k.list_users()
            .await
            .unwrap()
            .iter()
            .any(|u| u.id == invited.id)
    );
}

#[tokio::test]
async fn attribute_metadata_is_put_and_read_back() {
    let sim = sim().await;
    let k = client(&sim);
    let tier = SourceAttribute {
        model: SourceModel::Contact,
        name: "tier".into(),
        label: Some("Customer tier".into()),
        data_type: "string".into(),
        options: vec!["gold".into(), "silver".into()],
        multiline: false,
    };
    let seats = SourceAttribute {
        name: "seats".into(),
        data_type: "integer".into(),
        label: None,
        options: Vec::new(),
        ..tier.clone()
    };
    let body = metadata_body(&[
        spec_for(&tier, "tierStr").unwrap(),
        spec_for(&seats, "seatsNum").unwrap(),
    ]);
    k.put_metadata("customer", body.clone()).await.unwrap();
    // Idempotent: repeating it is harmless.
    k.put_metadata("customer", body).await.unwrap();
    let read = k.get_metadata("customer").await.unwrap().to_string();
    assert!(
        read.contains("tierStr") && read.contains("seatsNum"),
        "{read}"
    );

    let created = k
        .create_customer(json!({"name": "Grace", "externalId": "c-meta", "custom": {"tierStr": "gold", "seatsNum": 3}}))
        .await
        .unwrap();
    assert!(!created.id.is_empty());
}

#[tokio::test]
async fn companies_and_customers_are_found_by_external_id() {
    let sim = sim().await;
    let k = client(&sim);
    let company = k
        .create_company(json!({"name": "Initech", "externalId": "co-1"}))
        .await
        .unwrap();
    let found = k.company_by_external_id("co-1").await.unwrap().unwrap();
    assert_eq!(found.id, company.id);
    assert_eq!(k.company_by_external_id("co-404").await.unwrap(), None);

    let customer = k
        .create_customer(json!({
            "name": "Peter Gibbons", "externalId": "ct-1", "company": company.id,
            "emails": [{"type": "work", "email": "peter@initech.example"}],
            "createdAt": "2021-03-04T05:06:07.000Z", "importedAt": "2026-01-01T00:00:00.000Z"
        }))
        .await
        .unwrap();
    let found = k.customer_by_external_id("ct-1").await.unwrap().unwrap();
    assert_eq!(found.id, customer.id);
    assert_eq!(
        found
            .related_id("company")
            .or(found.str("company").map(str::to_string)),
        Some(company.id.clone())
    );
    assert_eq!(k.customer_by_external_id("ct-404").await.unwrap(), None);

    let again = k
        .create_customer(json!({"name": "Peter again", "externalId": "ct-1"}))
        .await
        .unwrap_err();
    assert!(
        again.is_duplicate(),
        "a second create with the same externalId: {again:?}"
    );
}

#[tokio::test]
async fn bulk_creates_are_matched_by_client_ref_with_errors_and_duplicates() {
    let sim = sim().await;
    let k = client(&sim);
    k.create_customer(json!({"name": "Existing", "externalId": "dup-1"}))
        .await
        .unwrap();
    let job = k
        .bulk_create(
            BulkResource::Customers,
            vec![
                (
                    "batch1:a".into(),
                    json!({"name": "Alice", "externalId": "b-a"}),
                ),
                (
                    "batch1:dup".into(),
                    json!({"name": "Dupe", "externalId": "dup-1"}),
                ),
                (
                    "batch1:bad".into(),
                    json!({"name": "Bad", "externalId": "b-bad", "custom": {"nosuffix": 1}}),
                ),
                (
                    "batch1:b".into(),
                    json!({"name": "Bob", "externalId": "b-b"}),
                ),
            ],
        )
        .await
        .unwrap();
    let results = k.run_job(&job, &FAST_POLL).await.unwrap();
    let refs: Vec<&str> = results.iter().map(|r| r.client_ref.as_str()).collect();
    assert_eq!(refs, ["batch1:a", "batch1:dup", "batch1:bad", "batch1:b"]);
    let BulkOutcome::Created { id: alice } = &results[0].outcome else {
        panic!("{:?}", results[0]);
    };
    assert!(
        matches!(
            &results[1].outcome,
            BulkOutcome::Error {
                duplicate: true,
                ..
            }
        ),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(
            &results[2].outcome,
            BulkOutcome::Error {
                duplicate: false,
                ..
            }
        ),
        "{:?}",
        results[2]
    );
    assert!(matches!(&results[3].outcome, BulkOutcome::Created { .. }));
    let found = k.customer_by_external_id("b-a").await.unwrap().unwrap();
    assert_eq!(&found.id, alice);
    assert_eq!(k.customer_by_external_id("b-bad").await.unwrap(), None);
    let latency = k.job_latency(&job.id).unwrap();
    assert!(latency > Duration::ZERO && latency <= k.max_job_latency());

    let update = k
        .submit_bulk(
            BulkResource::Customers,
            vec![(
                "batch2:a".into(),
                json!({"id": alice, "name": "Alice Updated"}),
            )],
            true,
        )
        .await
        .unwrap();
    let updated = k.run_job(&update, &FAST_POLL).await.unwrap();
    assert_eq!(
        updated[0].outcome,
        BulkOutcome::Updated { id: alice.clone() }
    );
}

#[tokio::test]
async fn bulk_requests_are_validated_before_they_leave() {
    let sim = sim().await;
    let k = client(&sim);
    let too_many: Vec<(String, Value)> = (0..101)
        .map(|i| (format!("r{i}"), json!({"name": "x"})))
        .collect();
    assert!(matches!(
        k.bulk_create(BulkResource::Customers, too_many).await,
        Err(KustomerError::BulkSize(101))
    ));
    let twins = vec![("r".to_string(), json!({})), ("r".to_string(), json!({}))];
    assert!(matches!(
        k.bulk_create(BulkResource::Customers, twins).await,
        Err(KustomerError::BulkItem { .. })
    ));
    let no_id = vec![("r".to_string(), json!({"name": "x"}))];
    assert!(matches!(
        k.submit_bulk(BulkResource::Customers, no_id, true).await,
        Err(KustomerError::BulkItem { .. })
    ));
    assert_eq!(k.gate().budget().requests, 0, "nothing was sent");
}

#[tokio::test]
async fn conversations_messages_and_notes_round_trip() {
    let sim = sim().await;
    let k = client(&sim);
    let customer = k
        .create_customer(json!({"name": "Milton", "externalId": "ct-m"}))
        .await
        .unwrap();
    let conversation = k
        .create_conversation(json!({
            "customer": customer.id, "externalId": "cv-1", "name": "Stapler",
            "status": "open", "createdAt": "2020-01-02T03:04:05.000Z",
            "importedAt": "2026-01-01T00:00:00.000Z"
        }))
        .await
        .unwrap();
    let found = k
        .conversation_by_external_id("cv-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, conversation.id);
    assert_eq!(k.conversation_by_external_id("cv-404").await.unwrap(), None);

    k.add_conversation_tags(&conversation.id, &["vip".into(), "stapler".into()])
        .await
        .unwrap();
    let tags = k.list_tags().await.unwrap();
    assert!(tags.iter().any(|t| t.name == "vip"), "{tags:?}");

    let message = k
        .create_conversation_message(
            &conversation.id,
            json!({
                "channel": "email", "app": "i2k", "direction": "in", "externalId": "msg-1",
                "preview": "Have you seen my stapler?", "meta": {"htmlBody": "<p>Have you seen my stapler?</p>"},
                "createdAt": "2020-01-02T03:04:05.000Z", "importedAt": "2026-01-01T00:00:00.000Z"
            }),
        )
        .await
        .unwrap();
    let found = k.message_by_external_id("msg-1").await.unwrap().unwrap();
    assert_eq!(found.id, message.id);
    assert_eq!(k.message_by_external_id("msg-404").await.unwrap(), None);

    let bulk = k
        .bulk_create(
            BulkResource::Messages,
            (2..5)
                .map(|i| {
                    (
                        format!("m:{i}"),
                        json!({"conversation": conversation.id, "customer": customer.id,
                               "channel": "email", "app": "i2k", "direction": "out",
                               "externalId": format!("msg-{i}"), "preview": format!("reply {i}"),
                               "importedAt": "2026-01-01T00:00:00.000Z"}),
                    )
                })
                .collect(),
        )
        .await
        .unwrap();
    let results = k.run_job(&bulk, &FAST_POLL).await.unwrap();
    assert!(
        results
            .iter()
            .all(|r| matches!(r.outcome, BulkOutcome::Created { .. })),
        "{results:?}"
    );
    assert_eq!(
        k.conversation_messages(&conversation.id)
            .await
            .unwrap()
            .len(),
        4
    );

    let note = k
        .create_conversation_note(
            &conversation.id,
            json!({"body": "Customer is calm", "externalId": "note-1", "importedAt": "2026-01-01T00:00:00.000Z"}),
        )
        .await
        .unwrap();
    let found = k
        .note_by_external_id(&conversation.id, "note-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, note.id);
    assert_eq!(
        k.note_by_external_id(&conversation.id, "note-404")
            .await
            .unwrap(),
        None
    );

    let done = k
        .patch_conversation(&conversation.id, json!({"status": "done"}))
        .await
        .unwrap();
    assert_eq!(done.str("status"), Some("done"));
}

#[tokio::test]
async fn attachments_upload_and_attach_to_a_message() {
    let sim = sim().await;
    let k = client(&sim);
    let dir = std::env::temp_dir().join(format!("i2k-kclient-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("receipt.txt");
    std::fs::write(&file, b"paid in full\n").unwrap();
    let heard = std::sync::Mutex::new(None);
    let attachment = k
        .upload_attachment(&file, "receipt.txt", "text/plain", |id| async {
            // Told before the file goes up: Kustomer holds the record, not yet its file.
            let before = k.attachment_uploaded(&id).await.unwrap();
            *heard.lock().unwrap() = Some((id, before));
        })
        .await
        .unwrap();
    assert_eq!(attachment.content_length, 13);
    assert!(!attachment.id.is_empty());
    assert_eq!(
        heard.into_inner().unwrap(),
        Some((attachment.id.clone(), Some(false))),
        "the registered id is heard before the upload"
    );
    assert_eq!(
        k.attachment_uploaded(&attachment.id).await.unwrap(),
        Some(true)
    );
    assert_eq!(
        k.attachment_uploaded("no-such-attachment").await.unwrap(),
        None
    );
    let truth = truth(&sim).await;
    assert_eq!(
        truth["counts"]["attachments"], 1,
        "uploaded: {}",
        truth["counts"]
    );

    let customer = k
        .create_customer(json!({"name": "Bob", "externalId": "ct-att"}))
        .await
        .unwrap();
    let conversation = k
        .create_conversation(json!({"customer": customer.id, "externalId": "cv-att"}))
        .await
        .unwrap();
    let message = k
        .create_conversation_message(
            &conversation.id,
            json!({"channel": "email", "app": "i2k", "direction": "in", "externalId": "msg-att",
                   "preview": "see attached", "attachments": [attachment.to_value()]}),
        )
        .await
        .unwrap();
    assert!(!message.id.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn kobjects_events_and_counts() {
    let sim = sim().await;
    let k = client(&sim);
    k.create_klass(json!({"name": "intercom_ticket", "displayName": "Intercom ticket"}))
        .await
        .unwrap();
    let customer = k
        .create_customer(json!({"name": "Kim", "externalId": "ct-k"}))
        .await
        .unwrap();
    let kobject = k
        .create_kobject(
            "intercom_ticket",
            json!({"title": "Refund", "customer": customer.id, "externalId": "tk-1",
                   "importedAt": "2026-01-01T00:00:00.000Z"}),
        )
        .await
        .unwrap();
    let found = k
        .kobject_by_external_id("intercom_ticket", "tk-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, kobject.id);
    assert_eq!(
        k.kobject_by_external_id("intercom_ticket", "tk-404")
            .await
            .unwrap(),
        None
    );

    k.identity_event(
        json!({"externalId": "ct-k"}),
        json!({"name": "placed_order", "meta": {"order": "A-1"}}),
    )
    .await
    .unwrap();

    for i in 0..3 {
        k.create_company(json!({"name": format!("Company {i}"), "externalId": format!("cc-{i}")}))
            .await
            .unwrap();
    }
    assert_eq!(k.count("/v1/companies", &[]).await.unwrap(), 3);
    assert_eq!(k.count("/v1/customers", &[]).await.unwrap(), 1);
}

#[tokio::test]
async fn the_gate_paces_at_its_share_without_429s() {
    // An org budget of 600 a minute, of which the migration takes 80%: 8 requests a second.
    let sim = sim_with(Config {
        rate_per_minute: 600,
        ..fast_config()
    })
    .await;
    let k = KustomerClient::connect(&sim.url, Secret::new(sim.token.clone()), 600, 0.8).unwrap();
    let started = Instant::now();
    let run_for = Duration::from_secs(5);
    // The gate allows a small burst first; measure the steady pace after it.
    let steady_from = Duration::from_millis(1500);
    let mut steady = 0u64;
    while started.elapsed() < run_for {
        k.list_tags().await.unwrap();
        if started.elapsed() > steady_from {
            steady += 1;
        }
    }
    let steady_secs = (started.elapsed() - steady_from).as_secs_f64();
    let allowed_per_sec = 600.0 * 0.8 / 60.0;
    let utilisation = steady as f64 / (allowed_per_sec * steady_secs);
    let budget = k.gate().budget();
    let truth = truth(&sim).await;
    eprintln!(
        "rate gate: {} requests in {:.2} s; steady {steady} in {steady_secs:.2} s = {:.1}% of the {allowed_per_sec}/s share; 429s: client {}, simulator {}",
        budget.requests,
        started.elapsed().as_secs_f64(),
        utilisation * 100.0,
        budget.throttled,
        throttled_total(&truth)
    );
    assert_eq!(
        throttled_total(&truth),
        0,
        "the simulator throttled nothing"
    );
    assert_eq!(budget.throttled, 0);
    assert!(
        utilisation >= 0.9,
        "used {:.0}% of the share",
        utilisation * 100.0
    );
    assert!(
        utilisation <= 1.15,
        "no faster than the share: {:.0}%",
        utilisation * 100.0
    );
}

#[tokio::test]
async fn the_gate_adopts_a_smaller_announced_budget_before_it_is_throttled() {
    // The client believes in a big budget; the org announces 60 a minute in its headers.
    let sim = sim_with(Config {
        rate_per_minute: 60,
        ..fast_config()
    })
    .await;
    let k =
        KustomerClient::connect(&sim.url, Secret::new(sim.token.clone()), 100_000, 0.8).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        k.list_tags().await.unwrap();
    }
    let truth = truth(&sim).await;
    let budget = k.gate().budget();
    assert_eq!(budget.limit, 60, "announced limit adopted");
    assert_eq!(throttled_total(&truth), 0, "{}", truth["requests"]);
    assert!(
        budget.requests <= 48,
        "stayed inside 80% of 60: {}",
        budget.requests
    );
}

#[tokio::test]
async fn tags_saved_searches_shortcuts_and_the_knowledge_base_are_created_and_listed() {
    let sim = sim().await;
    let k = client(&sim);
    let tag = k.create_tag("migrated").await.unwrap();
    assert!(
        k.list_tags()
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == tag.id && t.name == "migrated")
    );

    let search = k
        .create_saved_search(json!({
            "name": "VIP customers",
            "data": {"queryContext": "customer", "and": [{"customer_tags": {"equals": tag.id}}]},
            "defaultVisibility": "all"
        }))
        .await
        .unwrap();
    assert!(
        k.list_saved_searches()
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == search.id && s.name == "VIP customers")
    );

    let shortcut = k
        .create_shortcut(
            json!({"name": "Greeting", "draft": {"text": "Hi {{customer.firstName}}"}}),
        )
        .await
        .unwrap();
    assert!(
        k.list_shortcuts()
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == shortcut.id && s.name == "Greeting")
    );

    let knowledge_bases = k.list_knowledge_bases().await.unwrap();
    assert_eq!(knowledge_bases.len(), 1, "{knowledge_bases:?}");
    let kb = &knowledge_bases[0];
    assert!(kb.is_default);
    assert!(assumptions::knowledge_base_brand(&kb.resource).is_some());
    let category = k
        .create_kb_category(assumptions::kb_category_body(
            "Billing",
            Some("Money matters"),
            "en_us",
            None,
            Some(&kb.id),
        ))
        .await
        .unwrap();
    let listed = k.list_kb_categories().await.unwrap();
    let listed = listed.iter().find(|c| c.id == category.id).unwrap();
    assert_eq!(
        assumptions::kb_category_knowledge_base(listed).as_deref(),
        Some(kb.id.as_str())
    );
    let article = k
        .create_kb_article(json!({
            "categories": [category.id],
            "knowledgeBases": assumptions::kb_article_knowledge_bases(&kb.id),
            assumptions::KB_ARTICLE_LANG_FIELD: "en_us",
        }))
        .await
        .unwrap();
    assert_eq!(
        assumptions::kb_article_knowledge_bases_of(&article),
        vec![kb.id.clone()]
    );
    k.update_kb_version(
        &article.id,
        "en_us",
        assumptions::kb_version_body(
            "Refunds",
            "<p>Within 30 days.</p>",
            Some("refunds"),
            Some("2024-05-01T00:00:00.000Z"),
        ),
    )
    .await
    .unwrap();
    k.create_kb_version(
        &article.id,
        "fr",
        assumptions::kb_version_body("Remboursements", "<p>Sous 30 jours.</p>", None, None),
    )
    .await
    .unwrap();
    assert!(
        k.list_kb_articles()
            .await
            .unwrap()
            .iter()
            .any(|a| a.id == article.id)
    );
    let truth = truth(&sim).await;
    assert_eq!(
        truth["counts"]["kb_versions"].as_u64(),
        Some(2),
        "{}",
        truth["counts"]
    );
}

#[tokio::test]
async fn doctor_checks_the_kustomer_connection_through_the_client() {
    use i2k::engine::connect::check_kustomer;
    let sim = sim().await;
    let ok = check_kustomer(&sim.url, Some(Secret::new(sim.token.clone()))).await;
    assert_eq!(ok.status, CheckStatus::Pass, "{ok:?}");
    assert!(!ok.roles.is_empty());
    let missing = check_kustomer(&sim.url, None).await;
    assert_eq!(missing.status, CheckStatus::Fail);
    assert!(missing.detail.unwrap().contains("KUSTOMER_API_KEY"));
    let wrong = check_kustomer(&sim.url, Some(Secret::new("wrong-key-0123456789"))).await;
    assert_eq!(wrong.status, CheckStatus::Fail);
}

#[tokio::test]
async fn bulk_jobs_and_lookups_survive_server_errors() {
    use i2k::http::{ApiError, ApiSide, ClientConfig, GateConfig};
    use i2k::sim::faults::FaultSpec;
    let sim = sim_with(Config {
        faults: FaultSpec::parse("kustomer.5xx=0.2").unwrap(),
        ..fast_config()
    })
    .await;
    let mut config = ClientConfig::new(ApiSide::Kustomer, &sim.url, Secret::new(sim.token.clone()));
    config.backoff_base = Duration::from_millis(5);
    config.backoff_max = Duration::from_millis(50);
    let k = KustomerClient::from_config(config, GateConfig::kustomer(100_000, 0.8)).unwrap();
    // A create that meets a 500 may or may not have happened: it comes back ambiguous, never
    // resent blindly. Submit until one answer arrives.
    let mut job = None;
    for attempt in 0..20 {
        let items = vec![(
            format!("try{attempt}:a"),
            json!({"name": "Faulty", "externalId": format!("f-{attempt}")}),
        )];
        match k.bulk_create(BulkResource::Customers, items).await {
            Ok(j) => {
                job = Some((attempt, j));
                break;
            }
            Err(KustomerError::Api(ApiError::Ambiguous { .. })) => continue,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    let (attempt, job) = job.expect("a submit got through");
    let results = k.run_job(&job, &FAST_POLL).await.unwrap();
    let BulkOutcome::Created { id } = &results[0].outcome else {
        panic!("{results:?}");
    };
    let found = k
        .customer_by_external_id(&format!("f-{attempt}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&found.id, id);
    assert_eq!(k.customer_by_external_id("f-none").await.unwrap(), None);
}

#[tokio::test]
async fn the_client_counts_the_bulk_jobs_it_is_waiting_on() {
    let sim = sim().await;
    let k = std::sync::Arc::new(client(&sim));
    assert_eq!(k.bulk_jobs_waiting(), 0);
    let job = k
        .submit_bulk(
            BulkResource::Customers,
            vec![(
                "wait:a".into(),
                json!({"name": "Ann Wait", "externalId": "w-a"}),
            )],
            false,
        )
        .await
        .unwrap();
    // A first poll far off: the wait is under way, and counted, until it is dropped.
    let patient = PollPolicy {
        initial: Duration::from_secs(3600),
        ..FAST_POLL
    };
    let waiting = tokio::spawn({
        let (k, id) = (k.clone(), job.id.clone());
        async move { k.wait_job(&id, &patient).await }
    });
    while k.bulk_jobs_waiting() == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(k.bulk_jobs_waiting(), 1);
    waiting.abort();
    let _ = waiting.await;
    assert_eq!(k.bulk_jobs_waiting(), 0);
    // A wait that ends with the job's results is no longer counted either.
    let results = k.wait_job(&job.id, &FAST_POLL).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(k.bulk_jobs_waiting(), 0);
}
