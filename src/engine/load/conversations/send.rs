//! How the Conversations phase talks to Kustomer: bulk creates and updates through the write
//! path (`engine::write`), settled by the catalog's lookups (`engine::found`), and one attachment
//! upload.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::engine::context::Ctx;
use crate::engine::write::{self, Outcome};
use crate::engine::{found, kinds};
use crate::ledger::{LedgerError, WorkItem};
use crate::mapping::conversations::PartRole;
use crate::vocab::Kind;

/// Creates (or, as the kind catalog says, updates) records of `kind` through the write path, in
/// bulk requests to the catalog's route for `kind` (`role`: the role of the parts sent, for the
/// route that depends on it).
pub async fn bulk(
    ctx: &Ctx,
    kind: Kind,
    role: Option<PartRole>,
    items: Vec<(String, Value)>,
) -> anyhow::Result<HashMap<String, Outcome>> {
    if items.is_empty() {
        return Ok(HashMap::new());
    }
    let _in_flight = ctx.in_flight(crate::engine::model::PhaseId::Conversations, 1);
    let route = kinds::bulk_of(kind).and_then(|(to, update)| {
        let resource = match role {
            Some(role) => to.by_role(role),
            None => to.resource(None),
        };
        Some((resource?, update))
    });
    let Some((resource, update)) = route else {
        anyhow::bail!("the kind catalog gives no bulk route for {kind}");
    };
    let bulk = write::BulkWrite::new(ctx, kind.as_str(), resource, update, |id| {
        found::lookup(ctx, kind, id)
    });
    Ok(write::create_bulk(&ctx.ledger, &bulk, items).await?)
}

/// Settles whatever a previous run left `sent` for `kind`.
pub async fn recover(ctx: &Ctx, kind: Kind) -> Result<u64, LedgerError> {
    write::recover_sent(ctx, kind, |id| found::lookup(ctx, kind, id)).await
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
