//! Phase Conversations against both simulators over loopback: a tiny workspace is extracted from
//! the Intercom simulator, its customers and users are put in place the way phases Customers and
//! Users & teams record them, then the phase loads the history into the Kustomer simulator.
//! Checked: counts equal to what the Intercom API can return, no duplicates, a second run that
//! creates nothing, single-record requests per conversation, and field by field a conversation
//! over 500 parts, a message with attachments, one with an inline image, a snoozed and a closed
//! conversation, and an admin note.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use i2k::engine::context::{Ctx, EngineConfig, LoadOptions};
use i2k::engine::extract::{ExtractOptions, extract};
use i2k::engine::load::conversations;
use i2k::http::Secret;
use i2k::intercom::IntercomClient;
use i2k::intercom::models::{Conversation, ConversationPart};
use i2k::kustomer::KustomerClient;
use i2k::ledger::Ledger;
use i2k::sim::SizePreset;
use i2k::sim::{intercom, kustomer};
use i2k::timefmt::unix_to_iso;
use serde_json::{Value, json};

struct World {
    _isim: i2k::sim::SimHandle,
    ksim: i2k::sim::SimHandle,
    ctx: Arc<Ctx>,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let p = std::env::temp_dir().join(format!(
                "i2k-test-{tag}-{}-{}",
                std::process::id(),
                i2k::rng::Rng::from_entropy().hex(4)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn get(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn world(seed: u64) -> World {
    let loopback = "127.0.0.1:0".parse().unwrap();
    let isim = intercom::spawn(intercom::Config::new(seed, SizePreset::Tiny), loopback)
        .await
        .unwrap();
    let agents = intercom::admin_identities(seed, SizePreset::Tiny);
    let mut kconfig = kustomer::Config::new(seed, agents);
    kconfig.bulk_delay_max = Duration::from_millis(30);
    let ksim = kustomer::spawn(kconfig, loopback).await.unwrap();
    let dir = tempdir::Dir::new("conversations");
    let ledger = Ledger::open(&dir.0).unwrap();
    let ic = IntercomClient::connect(&isim.url, Secret::new(isim.token.clone()), 1667).unwrap();
    let kc =
        KustomerClient::connect(&ksim.url, Secret::new(ksim.token.clone()), 1000, 1.0).unwrap();
    let control = i2k::engine::control::Control::new();
    extract(
        &ic,
        &ledger,
        &ExtractOptions::for_state_dir(&dir.0),
        &control,
        None,
    )
    .await
    .unwrap();
    ledger.flush().await.unwrap();

    // What phases Customers and Users & teams leave behind: contacts → customers, tags, admins → users.
    let contacts = ledger
        .read(|r| r.sources_page("contacts", None, 10_000))
        .unwrap();
    let ids: Vec<String> = contacts.iter().map(|c| c.source_id.clone()).collect();
    ledger.ensure_pending("contacts", ids).await.unwrap();
    for c in &contacts {
        let customer = kc
            .create_customer(
                json!({"name": format!("Contact {}", c.source_id), "externalId": c.source_id}),
            )
            .await
            .unwrap();
        ledger
            .mark_done("contacts", &c.source_id, &customer.id)
            .unwrap();
    }
    let tags = ledger
        .read(|r| r.sources_page("tags", None, 10_000))
        .unwrap();
    ledger
        .ensure_pending("tags", tags.iter().map(|t| t.source_id.clone()).collect())
        .await
        .unwrap();
    for t in &tags {
        let raw: Value = serde_json::from_str(&t.raw).unwrap();
        let made = kc.create_tag(raw["name"].as_str().unwrap()).await.unwrap();
        ledger.mark_done("tags", &t.source_id, &made.id).unwrap();
    }
    let users = kc.list_users().await.unwrap();
    let admins = ledger
        .read(|r| r.sources_page("admins", None, 10_000))
        .unwrap();
    ledger
        .ensure_pending(
            "admins",
            admins.iter().map(|a| a.source_id.clone()).collect(),
        )
        .await
        .unwrap();
    for a in &admins {
        let raw: Value = serde_json::from_str(&a.raw).unwrap();
        if let Some(u) = users
            .iter()
            .find(|u| u.email.as_deref() == raw["email"].as_str())
        {
            ledger.mark_done("admins", &a.source_id, &u.id).unwrap();
        }
    }
    ledger.flush().await.unwrap();

    let config = EngineConfig {
        state_dir: dir.0.clone(),
        intercom_url: isim.url.clone(),
        intercom_token: Secret::new(isim.token.clone()),
        kustomer_url: ksim.url.clone(),
        kustomer_token: Secret::new(ksim.token.clone()),
        kustomer_rate: 1000,
        rate_share: 1.0,
        only: vec![],
        accept_defaults: true,
        workflow_ids: vec![],
        options: LoadOptions::default(),
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = Arc::new(Ctx::new(config, ledger, ic, kc, tx));
    World {
        _isim: isim,
        ksim,
        ctx,
        _dir: dir,
    }
}

fn requests(truth: &Value) -> HashMap<String, u64> {
    truth["requests"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["count"].as_u64().or(v.as_u64()).unwrap_or(0)))
        .collect()
}

async fn records(w: &World, kind: &str) -> Vec<Value> {
    get(&format!("{}/__sim/records/{kind}", w.ksim.url)).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

fn by_external<'a>(records: &'a [Value], external: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["attributes"]["externalId"] == external)
        .unwrap_or_else(|| panic!("no record with externalId {external}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_history_lands_complete_once_and_in_bulk() {
    let w = world(21).await;
    let ledger = &w.ctx.ledger;
    let before = get(&format!("{}/__sim/truth", w.ksim.url)).await;
    conversations::run(&w.ctx).await.unwrap();
    ledger.flush().await.unwrap();
    let truth = get(&format!("{}/__sim/truth", w.ksim.url)).await;

    // Expected from what the Intercom API returned (the ledger's sources).
    let convs = ledger
        .read(|r| r.sources_page("conversations", None, 10_000))
        .unwrap();
    let parts = ledger
        .read(|r| r.sources_page("conversation_parts", None, 100_000))
        .unwrap();
    // Files uploaded: Intercom's attachment arrays and the images inline in HTML bodies.
    let mut files = ledger
        .read(|r| r.sources_page("attachments", None, 100_000))
        .unwrap();
    files.extend(
        ledger
            .read(|r| r.sources_page("inline_images", None, 100_000))
            .unwrap(),
    );
    let parsed: Vec<ConversationPart> = parts
        .iter()
        .map(|p| serde_json::from_str(&p.raw).unwrap())
        .collect();
    let comments = parsed
        .iter()
        .filter(|p| p.part_type.as_deref() == Some("comment"))
        .count() as u64;
    let notes = parsed
        .iter()
        .filter(|p| p.part_type.as_deref() == Some("note"))
        .count() as u64;
    let with_events = convs
        .iter()
        .filter(|c| {
            parts.iter().zip(&parsed).any(|(s, p)| {
                s.parent_id.as_deref() == Some(&c.source_id)
                    && !matches!(p.part_type.as_deref(), Some("comment" | "note"))
            })
        })
        .count() as u64;
    let n = convs.len() as u64;
    let counts = &truth["counts"];
    println!("counts: {counts}");
    assert_eq!(counts["conversations"], n);
    assert_eq!(
        counts["messages"],
        n + comments,
        "one per source and per comment part"
    );
    assert_eq!(
        counts["notes"],
        notes + with_events + 1,
        "note parts, timeline notes, one truncation note"
    );
    assert_eq!(counts["attachments"], files.len() as u64);
    assert!(files.iter().all(|f| f.problem.is_none()));
    assert_eq!(truth["duplicates"], json!({}), "no externalId stored twice");
    let failures = ledger.read(|r| r.counts_by_kind()).unwrap();
    let mine = [
        "conversations",
        "conversation_sources",
        "conversation_parts",
        "timeline_notes",
        "truncation_notes",
        "conversation_states",
        "attachment_uploads",
        "inline_image_uploads",
    ];
    for (kind, c) in failures.iter().filter(|(k, _)| mine.contains(&k.as_str())) {
        assert_eq!(c.failed, 0, "{kind}: {c:?}");
        assert_eq!(c.pending + c.sent, 0, "{kind} left unsettled: {c:?}");
    }

    // Requests by route, this phase only.
    let (b, a) = (requests(&before), requests(&truth));
    let mut single = 0;
    println!("requests by route (phase Conversations):");
    let mut routes: Vec<_> = a.iter().collect();
    routes.sort();
    for (route, count) in routes {
        let delta = count - b.get(route).copied().unwrap_or(0);
        if delta == 0 {
            continue;
        }
        println!("  {delta:>5}  {route}");
        let bulk = route.contains("/bulk");
        let upload =
            route.contains("attachments") || route.contains("storage") || route.contains("upload");
        if !bulk && !upload {
            single += delta;
        }
    }
    let per_conversation = single as f64 / n as f64;
    println!("single-record requests per conversation: {per_conversation:.3} ({single} / {n})");
    assert!(per_conversation < 0.2);

    // A second run creates nothing.
    conversations::run(&w.ctx).await.unwrap();
    let again = get(&format!("{}/__sim/truth", w.ksim.url)).await;
    assert_eq!(again["counts"], truth["counts"]);
    let writes = |t: &Value| -> u64 {
        requests(t)
            .iter()
            .filter(|(r, _)| {
                r.starts_with("POST") || r.starts_with("PUT") || r.starts_with("PATCH")
            })
            .map(|(_, c)| c)
            .sum()
    };
    assert_eq!(
        writes(&again),
        writes(&truth),
        "the second run sent no write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_land_field_by_field() {
    let w = world(22).await;
    let ledger = &w.ctx.ledger;
    conversations::run(&w.ctx).await.unwrap();
    ledger.flush().await.unwrap();
    let k_convs = records(&w, "conversations").await;
    let k_msgs = records(&w, "messages").await;
    let k_notes = records(&w, "notes").await;
    let convs: Vec<(String, Conversation)> = ledger
        .read(|r| r.sources_page("conversations", None, 10_000))
        .unwrap()
        .into_iter()
        .map(|s| (s.source_id, serde_json::from_str(&s.raw).unwrap()))
        .collect();
    let parts_of = |id: &str| -> Vec<ConversationPart> {
        ledger
            .read(|r| r.children("conversation_parts", id))
            .unwrap()
            .iter()
            .map(|s| serde_json::from_str(&s.raw).unwrap())
            .collect()
    };
    let user_of = |admin: &str| ledger.target_id("admins", admin).unwrap();

    // Over 500 parts: 500 parts returned, the note says how many older ones are missing.
    let (long_id, long) = convs.iter().find(|(id, _)| id == "1000").unwrap();
    let long_parts = parts_of(long_id);
    assert_eq!(long_parts.len(), 500);
    let missing = long
        .statistics
        .as_ref()
        .unwrap()
        .count_conversation_parts
        .unwrap()
        - 1
        - 500;
    assert!(missing > 0);
    let k_long = by_external(&k_convs, long_id);
    let note = by_external(&k_notes, &format!("{long_id}-truncated"));
    assert!(
        note["attributes"]["body"]
            .as_str()
            .unwrap()
            .contains(&format!("{missing} older parts"))
    );
    assert_eq!(note["relationships"]["conversation"], k_long["id"]);
    let long_msgs = k_msgs
        .iter()
        .filter(|m| m["relationships"]["conversation"] == k_long["id"])
        .count();
    let long_comments = long_parts
        .iter()
        .filter(|p| p.part_type.as_deref() == Some("comment"))
        .count();
    assert_eq!(long_msgs, long_comments + 1);

    // Every conversation: times, status and the source message.
    for (id, c) in &convs {
        let k = by_external(&k_convs, id);
        let at = &k["attributes"];
        assert_eq!(at["createdAt"], unix_to_iso(c.created_at.unwrap()), "{id}");
        assert!(at["importedAt"].is_string());
        let src = by_external(&k_msgs, &format!("{id}-source"));
        let source = c.source.as_ref().unwrap();
        assert_eq!(
            src["attributes"]["meta"]["htmlBody"],
            source.body.clone().unwrap()
        );
        assert_eq!(
            src["attributes"]["createdAt"],
            unix_to_iso(c.created_at.unwrap())
        );
        assert_eq!(src["attributes"]["app"], "intercom-import");
        assert_eq!(src["attributes"]["channel"], "chat");
        let author = source.author.as_ref().unwrap().kind.as_deref();
        assert_eq!(
            src["attributes"]["direction"],
            if author == Some("admin") { "out" } else { "in" }
        );
        match c.state.as_ref().map(|s| s.as_str()) {
            Some("snoozed") => {
                assert_eq!(at["status"], "snoozed", "{id}");
                assert_eq!(at["snooze"]["time"], unix_to_iso(c.snoozed_until.unwrap()));
            }
            Some("closed") => {
                let close = parts_of(id)
                    .into_iter()
                    .filter(|p| p.part_type.as_deref() == Some("close"))
                    .max_by_key(|p| p.created_at)
                    .unwrap();
                assert_eq!(at["status"], "done", "{id}");
                assert_eq!(at["ended"], true);
                assert_eq!(at["endedAt"], unix_to_iso(close.created_at.unwrap()));
                let admin = close.author.unwrap().id.unwrap();
                match user_of(admin.as_str()) {
                    Some(u) => assert_eq!(at["endedBy"], u),
                    None => assert!(at.get("endedBy").is_none()),
                }
            }
            _ => assert_eq!(at["status"], "open", "{id}"),
        }
    }
    assert!(
        convs
            .iter()
            .any(|(_, c)| c.state.as_ref().map(|s| s.as_str()) == Some("snoozed")),
        "a snoozed one"
    );
    assert!(
        convs
            .iter()
            .any(|(_, c)| c.state.as_ref().map(|s| s.as_str()) == Some("closed")),
        "a closed one"
    );

    // Attachments: conversation 1002's source carries a file, uploaded and referenced.
    let src = by_external(&k_msgs, "1002-source");
    let atts = src["attributes"]["attachments"].as_array().unwrap();
    assert!(!atts.is_empty());
    let stored = ledger.read(|r| r.children("attachments", "1002")).unwrap();
    let meta: Value = stored
        .iter()
        .map(|s| serde_json::from_str::<Value>(&s.raw).unwrap())
        .find(|m| m["inline"] != true)
        .unwrap();
    assert_eq!(atts[0]["name"], meta["name"]);
    assert_eq!(atts[0]["contentLength"], meta["size"]);
    let uploaded = records(&w, "attachments").await;
    assert!(
        uploaded
            .iter()
            .any(|a| a["id"] == atts[0]["_id"] && a["attributes"]["uploaded"] == true)
    );

    // An inline image: uploaded, referenced, and tied to its `src`.
    let inline = k_msgs
        .iter()
        .find(|m| m["attributes"]["meta"]["inlineImages"].is_array())
        .expect("a message with an inline image");
    let img = &inline["attributes"]["meta"]["inlineImages"][0];
    let html = inline["attributes"]["meta"]["htmlBody"].as_str().unwrap();
    assert!(
        html.contains(&img["src"].as_str().unwrap().replace('&', "&amp;"))
            || html.contains(img["src"].as_str().unwrap())
    );
    assert!(
        inline["attributes"]["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["_id"] == img["attachmentId"])
    );

    // An admin note: text, time, author.
    let (note_part, note_conv) = convs
        .iter()
        .find_map(|(id, _)| {
            parts_of(id)
                .into_iter()
                .find(|p| p.part_type.as_deref() == Some("note"))
                .map(|p| (p, id.clone()))
        })
        .expect("a note part");
    let k_note = by_external(&k_notes, note_part.id.as_ref().unwrap().as_str());
    assert_eq!(
        k_note["attributes"]["createdAt"],
        unix_to_iso(note_part.created_at.unwrap())
    );
    assert_eq!(
        k_note["attributes"]["body"],
        i2k::mapping::conversations::html_to_text(note_part.body.as_deref().unwrap())
    );
    assert_eq!(
        k_note["relationships"]["conversation"],
        by_external(&k_convs, &note_conv)["id"]
    );
    let admin = note_part.author.unwrap().id.unwrap();
    if let Some(u) = user_of(admin.as_str()) {
        assert_eq!(k_note["attributes"]["createdBy"], u);
    }
}

/// What a run killed in the middle of two uploads leaves: both `sent`, each with the attachment it
/// had registered. One file had arrived, the other had not. The next run adopts the first without
/// uploading it again and uploads the second, so the org ends with each file stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_short_is_settled_through_the_attachment_it_registered() {
    let w = world(23).await;
    let ledger = &w.ctx.ledger;
    let kc = &w.ctx.kustomer;
    let files = ledger
        .read(|r| r.sources_page("attachments", None, 100_000))
        .unwrap();
    assert!(files.len() >= 2, "the tiny workspace has attachments");
    let (arrived, cut) = (&files[0], &files[1]);
    let stored = |s: &i2k::ledger::SourceRecord| {
        let meta: Value = serde_json::from_str(&s.raw).unwrap();
        let path = w
            ._dir
            .0
            .join("attachments")
            .join(meta["sha256"].as_str().unwrap());
        (path, meta["name"].as_str().unwrap_or("file").to_string())
    };
    let (path, name) = stored(arrived);
    let uploaded = kc
        .upload_attachment(&path, &name, "application/octet-stream", |_| async {})
        .await
        .unwrap();
    let (path, name) = stored(cut);
    let length = std::fs::metadata(&path).unwrap().len();
    let registered = kc
        .create_attachment(&name, "application/octet-stream", length)
        .await
        .unwrap();
    let kind = "attachment_uploads";
    for (source, attachment) in [(arrived, &uploaded.id), (cut, &registered.id)] {
        ledger
            .ensure_pending(kind, vec![source.source_id.clone()])
            .await
            .unwrap();
        ledger
            .mark_sent(kind, vec![source.source_id.clone()], None)
            .await
            .unwrap();
        ledger
            .record_upload(kind, &source.source_id, attachment)
            .await
            .unwrap();
    }
    let before = get(&format!("{}/__sim/truth", w.ksim.url)).await;
    assert_eq!(before["counts"]["attachments"], 1, "{}", before["counts"]);

    conversations::run(&w.ctx).await.unwrap();
    ledger.flush().await.unwrap();

    let record = |id: &str| ledger.read(|r| r.record(kind, id)).unwrap().unwrap();
    let adopted = record(&arrived.source_id);
    assert_eq!(adopted.state, i2k::ledger::RecordState::Done);
    assert_eq!(adopted.target_id.as_deref(), Some(uploaded.id.as_str()));
    let redone = record(&cut.source_id);
    assert_eq!(redone.state, i2k::ledger::RecordState::Done);
    assert_ne!(
        redone.target_id.as_deref(),
        Some(registered.id.as_str()),
        "the attachment without its file is not referenced"
    );
    let truth = get(&format!("{}/__sim/truth", w.ksim.url)).await;
    assert_eq!(
        truth["counts"]["attachments"],
        files.len() as u64
            + ledger
                .read(|r| r.sources_page("inline_images", None, 100_000))
                .unwrap()
                .len() as u64,
        "every file stored once"
    );
    // The message that carries the adopted file references it.
    let messages = records(&w, "messages").await;
    assert!(
        messages.iter().any(|m| m["attributes"]["attachments"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["_id"] == uploaded.id.as_str()))),
        "a message references the adopted attachment"
    );
}
