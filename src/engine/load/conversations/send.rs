//! How the Conversations phase talks to Kustomer: bulk creates and updates through the write
//! path (`engine::write`), the externalId lookups that settle lost or duplicate answers, and one
//! attachment upload.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::engine::context::Ctx;
use crate::engine::write::{self, ItemResult, Outcome};
use crate::kustomer::KustomerError;
use crate::kustomer::bulk::BulkResource;
use crate::ledger::{LedgerError, WorkItem};
use crate::mapping::conversations as map;
use crate::vocab::Kind;

async fn wait(ctx: &Ctx, job: String) -> Result<HashMap<String, ItemResult>, KustomerError> {
    write::job_results(&ctx.kustomer, &job).await
}

fn ledger_trouble(e: LedgerError) -> KustomerError {
    KustomerError::Unexpected {
        request: "a ledger read for a lookup".to_string(),
        missing: "the conversation's Kustomer id",
        response: e.to_string(),
    }
}

/// The Kustomer conversation id of an Intercom conversation, from the ledger.
fn kustomer_conversation(
    ctx: &Ctx,
    conversation_id: &str,
) -> Result<Option<String>, KustomerError> {
    ctx.ledger
        .target_id(Kind::Conversations.as_str(), conversation_id)
        .map_err(ledger_trouble)
}

async fn note_in(
    ctx: &Ctx,
    conversation_id: &str,
    external_id: &str,
) -> Result<Option<String>, KustomerError> {
    match kustomer_conversation(ctx, conversation_id)? {
        // Without the conversation the note cannot exist.
        None => Ok(None),
        Some(conversation) => Ok(ctx
            .kustomer
            .note_by_external_id(&conversation, external_id)
            .await?
            .map(|r| r.id)),
    }
}

/// Finds a record of `kind` (ledger source id `id`) in Kustomer by its externalId, through the
/// direct routes (never search). Final states have nothing to find: they are simply sent again
/// (a bulk PUT repeats harmlessly); uploads settle through the attachment they registered
/// ([`upload`]).
pub async fn lookup(ctx: &Ctx, kind: Kind, id: String) -> Result<Option<String>, KustomerError> {
    let found = match kind {
        Kind::Conversations => ctx.kustomer.conversation_by_external_id(&id).await?,
        Kind::ConversationSources => {
            ctx.kustomer
                .message_by_external_id(&map::source_message_external_id(&id))
                .await?
        }
        Kind::ConversationParts => {
            let source = ctx
                .ledger
                .read(|r| r.source(Kind::ConversationParts.as_str(), &id))
                .map_err(ledger_trouble)?;
            let part_type = source
                .as_ref()
                .and_then(|s| serde_json::from_str::<Value>(&s.raw).ok())
                .and_then(|v| {
                    v.get("part_type")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
            match map::part_role(part_type.as_deref()) {
                map::PartRole::Message => ctx.kustomer.message_by_external_id(&id).await?,
                map::PartRole::Note => {
                    let parent = source.and_then(|s| s.parent_id).unwrap_or_default();
                    return note_in(ctx, &parent, &id).await;
                }
                // Folded into the timeline note: found when that note is.
                map::PartRole::Timeline => {
                    let parent = source.and_then(|s| s.parent_id).unwrap_or_default();
                    return note_in(ctx, &parent, &map::timeline_note_external_id(&parent)).await;
                }
            }
        }
        Kind::TimelineNotes => {
            return note_in(ctx, &id, &map::timeline_note_external_id(&id)).await;
        }
        Kind::TruncationNotes => {
            return note_in(ctx, &id, &map::truncation_note_external_id(&id)).await;
        }
        _ => None,
    };
    Ok(found.map(|r| r.id))
}

/// Creates (or, with `update`, updates) up to 100 records of `kind` in one bulk request through
/// the write path.
pub async fn bulk(
    ctx: &Ctx,
    kind: Kind,
    resource: BulkResource,
    update: bool,
    items: Vec<(String, Value)>,
) -> Result<HashMap<String, Outcome>, LedgerError> {
    if items.is_empty() {
        return Ok(HashMap::new());
    }
    let _in_flight = ctx.in_flight(crate::engine::model::PhaseId::Conversations, 1);
    let bulk = write::BulkWrite::new(
        ctx,
        kind.as_str(),
        resource,
        update,
        |job| wait(ctx, job),
        |id| lookup(ctx, kind, id),
    );
    write::create_bulk(&ctx.ledger, &bulk, items).await
}

/// The bulk route a record of `kind` is sent through (for the ledger entry of a refused item).
fn route_of(ctx: &Ctx, kind: Kind, item: &WorkItem) -> write::BulkRoute {
    let (resource, update) = match kind {
        Kind::Conversations => (BulkResource::Conversations, false),
        Kind::ConversationStates => (BulkResource::Conversations, true),
        Kind::TimelineNotes | Kind::TruncationNotes => (BulkResource::Notes, false),
        Kind::ConversationParts => {
            let part_type = item
                .raw
                .as_deref()
                .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
                .and_then(|v| {
                    v.get("part_type")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
            match map::part_role(part_type.as_deref()) {
                map::PartRole::Message => (BulkResource::Messages, false),
                _ => (BulkResource::Notes, false),
            }
        }
        _ => (BulkResource::Messages, false),
    };
    write::BulkRoute::new(ctx, &resource, update)
}

/// Settles whatever a previous run left `sent` for `kind`.
pub async fn recover(ctx: &Ctx, kind: Kind) -> Result<u64, LedgerError> {
    write::recover_sent(
        &ctx.ledger,
        kind.as_str(),
        |item| route_of(ctx, kind, item),
        |job| wait(ctx, job),
        |id| lookup(ctx, kind, id),
    )
    .await
}

/// What an extracted attachment record says about its file.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    pub sha256: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

impl StoredFile {
    /// Reads the attachment record's metadata; `None` when the file was never stored.
    pub fn from_meta(meta: &Value) -> Option<StoredFile> {
        let sha256 = meta.get("sha256")?.as_str()?.to_string();
        Some(StoredFile {
            sha256,
            name: meta
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("attachment")
                .to_string(),
            content_type: meta
                .get("content_type")
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream")
                .to_string(),
            size: meta.get("size").and_then(Value::as_u64).unwrap_or(0),
        })
    }

    /// `{_id, name, contentType, contentLength}` once uploaded as `id`.
    pub fn reference(&self, id: &str) -> Value {
        serde_json::json!({
            "_id": id, "name": self.name, "contentType": self.content_type,
            "contentLength": self.size,
        })
    }
}

/// Uploads one stored file through the attachment flow (register, then the upload form) via the
/// write path. The attachment's id is committed to the ledger before its file goes up, so an
/// upload whose answer was lost, here or in a run that was killed, is settled by asking whether
/// that attachment's file arrived; it is uploaded again only when it did not (a registered
/// attachment without its file is invisible and harms nothing; a second stored file would be a
/// duplicate in the org).
pub async fn upload(
    ctx: &Ctx,
    item: &WorkItem,
    file: &StoredFile,
    dir: &Path,
) -> Result<Outcome, LedgerError> {
    let path = dir.join(&file.sha256);
    let _in_flight = ctx.in_flight(crate::engine::model::PhaseId::Conversations, 1);
    let registered = std::sync::Mutex::new(
        item.job_id
            .clone()
            .filter(|_| item.state == crate::ledger::RecordState::Sent),
    );
    let remember = |id: String| async {
        if let Err(e) = ctx
            .ledger
            .record_upload(item.kind.as_str(), &item.source_id, &id)
            .await
        {
            tracing::warn!(source_id = %item.source_id, "the registered attachment could not be kept: {e}");
        }
        *registered.lock().unwrap_or_else(|p| p.into_inner()) = Some(id);
    };
    write::create_one(
        &ctx.ledger,
        item,
        || async {
            ctx.kustomer
                .upload_attachment(&path, &file.name, &file.content_type, remember)
                .await
                .map(|r| r.id)
        },
        || async {
            let known = registered.lock().unwrap_or_else(|p| p.into_inner()).clone();
            match known {
                None => Ok(None),
                Some(id) => Ok(ctx
                    .kustomer
                    .attachment_uploaded(&id)
                    .await?
                    .filter(|uploaded| *uploaded)
                    .map(|_| id)),
            }
        },
    )
    .await
}
