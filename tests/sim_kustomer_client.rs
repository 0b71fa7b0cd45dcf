//! The real Kustomer client (`i2k::kustomer`) against the Kustomer simulator over loopback: the
//! two sides were written apart, so this is where their readings of the reference must agree.

use std::time::Duration;

use i2k::http::secret::Secret;
use i2k::kustomer::{BulkOutcome, BulkResource, KustomerClient, PollPolicy};
use i2k::sim::SimHandle;
use i2k::sim::kustomer::{self, Config};
use serde_json::{Value, json};

async fn start() -> (SimHandle, KustomerClient) {
    let mut config = Config::new(3, vec![("Ada".into(), "ada@acme.example".into())]);
    config.bulk_delay_max = Duration::from_millis(50);
    let sim = kustomer::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client =
        KustomerClient::connect(&sim.url, Secret::new(sim.token.clone()), 1000, 1.0).unwrap();
    (sim, client)
}

fn poll() -> PollPolicy {
    PollPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn the_client_reads_the_token_users_and_lists_of_the_fresh_org() {
    let (_sim, client) = start().await;
    let token = client.token_current().await.unwrap();
    assert!(token.roles.iter().any(|r| r == "org.admin"));
    assert_eq!(token.org_name.as_deref(), Some("i2k-sim"));
    let me = client.current_user().await.unwrap();
    assert_eq!(token.user_id.as_deref(), Some(me.id.as_str()));
    assert_eq!(
        client
            .users_by_email("ada@acme.example")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(client.list_users().await.unwrap().len(), 2);
    assert_eq!(client.list_brands().await.unwrap().len(), 1);
    assert_eq!(client.list_schedules().await.unwrap().len(), 1);
    assert!(client.list_klasses().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_client_creates_looks_up_and_recognises_duplicates() {
    let (_sim, client) = start().await;
    let company = client
        .create_company(json!({"name": "Acme", "externalId": "co/1"}))
        .await
        .unwrap();
    let found = client
        .company_by_external_id("co/1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, company.id);
    assert!(
        client
            .company_by_external_id("co/2")
            .await
            .unwrap()
            .is_none()
    );

    let customer = client
        .create_customer(json!({"name": "Jo", "externalId": "c 1=x", "company": company.id}))
        .await
        .unwrap();
    let again = client
        .create_customer(json!({"name": "Jo", "externalId": "c 1=x"}))
        .await
        .unwrap_err();
    assert!(again.is_duplicate(), "{again:?}");
    let found = client
        .customer_by_external_id("c 1=x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, customer.id);

    let conversation = client
        .create_conversation(json!({"customer": customer.id, "externalId": "ic-1", "status": "done", "importedAt": "2024-01-01T00:00:00.000Z"}))
        .await
        .unwrap();
    client
        .add_conversation_tags(&conversation.id, &["vip".to_string()])
        .await
        .unwrap();
    assert_eq!(client.list_tags().await.unwrap().len(), 1);
    let message = client
        .create_conversation_message(&conversation.id, json!({"channel": "email", "app": "i2k", "preview": "hi", "externalId": "p-1", "importedAt": "2024-01-01T00:00:00.000Z"}))
        .await
        .unwrap();
    assert_eq!(
        client
            .message_by_external_id("p-1")
            .await
            .unwrap()
            .unwrap()
            .id,
        message.id
    );
    assert_eq!(
        client
            .conversation_by_external_id("ic-1")
            .await
            .unwrap()
            .unwrap()
            .id,
        conversation.id
    );
    client
        .patch_conversation(
            &conversation.id,
            json!({"status": "done", "ended": true, "endedAt": "2024-01-02T00:00:00.000Z"}),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_client_runs_bulk_jobs_to_per_item_outcomes() {
    let (_sim, client) = start().await;
    client
        .create_customer(json!({"name": "Old", "externalId": "dup"}))
        .await
        .unwrap();
    let items = vec![
        ("r1".to_string(), json!({"name": "A", "externalId": "a"})),
        ("r2".to_string(), json!({"name": "B", "externalId": "dup"})),
    ];
    let job = client
        .bulk_create(BulkResource::Customers, items)
        .await
        .unwrap();
    let results = client.run_job(&job, &poll()).await.unwrap();
    assert!(
        matches!(results[0].outcome, BulkOutcome::Created { .. }),
        "{results:?}"
    );
    assert!(
        matches!(
            results[1].outcome,
            BulkOutcome::Error {
                duplicate: true,
                ..
            }
        ),
        "{results:?}"
    );
    let BulkOutcome::Created { id } = &results[0].outcome else {
        unreachable!()
    };
    let update = client
        .submit_bulk(
            BulkResource::Customers,
            vec![("u1".to_string(), json!({"id": id, "name": "A2"}))],
            true,
        )
        .await
        .unwrap();
    let results = client.run_job(&update, &poll()).await.unwrap();
    assert!(
        matches!(results[0].outcome, BulkOutcome::Updated { .. }),
        "{results:?}"
    );
}

#[tokio::test]
async fn the_client_uploads_an_attachment_a_note_can_reference() {
    let (sim, client) = start().await;
    let customer = client.create_customer(json!({"name": "Jo"})).await.unwrap();
    let conversation = client
        .create_conversation(json!({"customer": customer.id}))
        .await
        .unwrap();
    let path = std::env::temp_dir().join(format!("i2k-ksim-attachment-{}.txt", std::process::id()));
    std::fs::write(&path, b"attached bytes").unwrap();
    let attachment = client
        .upload_attachment(&path, "notes.txt", "text/plain", |_| async {})
        .await
        .unwrap();
    std::fs::remove_file(&path).ok();
    client
        .create_conversation_note(
            &conversation.id,
            json!({"body": "see file", "attachments": [attachment.to_value()]}),
        )
        .await
        .unwrap();
    let truth: Value = reqwest::get(format!("{}/__sim/truth", sim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(truth["counts"]["attachments"], 1);
    assert_eq!(truth["counts"]["notes"], 1);
}
