//! How a record whose write answer was lost is found again in Kustomer, as the kind catalog's
//! [`Found`] column says: the direct externalId routes (never search), one place for every
//! phase's write path and for the recovery of what a run left `sent`.

use crate::engine::context::Ctx;
use crate::engine::kinds::{self, BulkTo, Found};
use crate::kustomer::KustomerError;
use crate::kustomer::bulk::BulkResource;
use crate::ledger::LedgerError;
use crate::mapping::conversations as map;
use crate::vocab::Kind;

fn ledger_trouble(e: LedgerError) -> KustomerError {
    KustomerError::Unexpected {
        request: "a ledger read for a lookup".to_string(),
        missing: "what the lookup reads from the ledger",
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

/// Finds a record of `kind` (ledger source id `id`) in Kustomer as the kind catalog says it is
/// found again ([`Found`]): by its externalId, through the direct routes (never search, whose
/// index lags). A kind found otherwise (listings matched on a name, an upload's registered
/// attachment) or not at all has nothing to find here: `None`.
pub async fn lookup(ctx: &Ctx, kind: Kind, id: String) -> Result<Option<String>, KustomerError> {
    if kinds::row_of(kind).found != Found::ExternalIdRoute {
        return Ok(None);
    }
    let found = match kind {
        Kind::Companies => ctx.kustomer.company_by_external_id(&id).await?,
        Kind::Contacts => ctx.kustomer.customer_by_external_id(&id).await?,
        Kind::ContactNotes | Kind::CompanyNotes | Kind::Tickets => {
            let to = kinds::bulk_of(kind).map(|(to, _)| to);
            return match to {
                Some(to) => kobject(ctx, kind, to, &id).await,
                None => Ok(None),
            };
        }
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
            let role = source
                .as_ref()
                .map_or(map::PartRole::Timeline, |s| map::part_role_of(&s.raw));
            match role {
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

/// Finds a kobject of `kind` (written where `to` sends it: the klass comes from the stored
/// source record) by its externalId.
pub async fn kobject(
    ctx: &Ctx,
    kind: Kind,
    to: BulkTo,
    id: &str,
) -> Result<Option<String>, KustomerError> {
    let raw = ctx
        .ledger
        .read(|r| r.source(kind.as_str(), id))
        .map_err(ledger_trouble)?
        .map(|s| s.raw);
    let Some(BulkResource::KObjects(klass)) = to.resource(raw.as_deref()) else {
        return Ok(None);
    };
    Ok(ctx
        .kustomer
        .kobject_by_external_id(&klass, id)
        .await?
        .map(|r| r.id))
}

/// Finds a record of `kind` written where `to` sends it: a kobject by its externalId in its
/// klass ([`kobject`]), anything else as the kind catalog says ([`lookup`]).
pub async fn sent_to(
    ctx: &Ctx,
    kind: Kind,
    to: BulkTo,
    id: String,
) -> Result<Option<String>, KustomerError> {
    match to {
        BulkTo::KObjects(_) | BulkTo::TicketKlass => kobject(ctx, kind, to, &id).await,
        _ => lookup(ctx, kind, id).await,
    }
}
