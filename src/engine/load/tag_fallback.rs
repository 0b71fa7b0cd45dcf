//! Tags on an org without `POST /v1/tags` (a route no published request type, doc page or public
//! code names: `assumptions::TAGS_CREATE_PATH`). The documented way to create a tag by name is
//! `POST /v1/conversations/{id}/tags` (`AppendTagsToConversation`, body: a list of tag names;
//! Kustomer creates the names it does not know and applies them to the conversation).
//!
//! When the first tag create is refused as an absent route (404/405, or words saying so, never a
//! body's validation error), the refusal is remembered in the ledger's decisions
//! ([`DECISION`]), so this run and every later one stop calling the route; the tags stay
//! pending, companies, customers and conversations are created without them, and once the
//! conversations are loaded [`run`]:
//! 1. appends each open tag, by name, to every migrated conversation that carries it (which
//!    creates it);
//! 2. lists Kustomer's tags and resolves each open tag's id by name;
//! 3. updates the companies and customers that carry a resolved tag with their whole tag list
//!    (`tags` replaces);
//! 4. marks the resolved tags done, and lists the rest in the manual checklist: Kustomer
//!    creates a tag only on a conversation, and tagging a conversation that never carried it
//!    would invent history.
//!
//! Every step repeats harmlessly, so a run that stops part-way does it all again next time.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::engine::context::Ctx;
use crate::engine::model::LogLevel;
use crate::kustomer::KustomerError;
use crate::ledger::{Ledger, LedgerError, Origin, WorkItem};
use crate::vocab::Kind;

/// The ledger decision that remembers `POST /v1/tags` is absent on this org.
pub const DECISION: &str = "fallback:tags_route";
/// Decisions under this prefix name a fallback the run took; the report lists their `line`.
pub const FALLBACK_PREFIX: &str = "fallback:";
/// The report's line for this fallback.
pub const REPORT_LINE: &str =
    "Tags created through the conversation tag route: POST /v1/tags is absent on this org";

/// Source records read per page.
const PAGE: usize = 500;
/// Appends and updates in flight at once (one request each).
const IN_FLIGHT: usize = 8;

/// Whether an earlier refusal showed `POST /v1/tags` absent on this org.
pub fn route_absent(ledger: &Ledger) -> Result<bool, LedgerError> {
    Ok(ledger.read(|r| r.decision(DECISION))?.is_some())
}

/// Remembers that `POST /v1/tags` is absent (`err` is the refusal) and says so.
pub async fn remember_absent(ctx: &Ctx, err: &str) -> Result<(), LedgerError> {
    let line = format!("{REPORT_LINE} ({err})");
    ctx.ledger
        .put_decision(DECISION, &json!({ "line": REPORT_LINE, "refusal": err }))
        .await?;
    ctx.log(
        LogLevel::Warn,
        format!(
            "{line}; tags are created by name on the conversations that carry them, then applied to their companies and customers"
        ),
    );
    Ok(())
}

/// The report lines of the fallbacks this migration took.
pub fn report_lines(ledger: &Ledger) -> Result<Vec<String>, LedgerError> {
    Ok(ledger
        .read(|r| r.decisions(FALLBACK_PREFIX))?
        .into_iter()
        .filter_map(|(_, v)| v.get("line").and_then(Value::as_str).map(str::to_string))
        .collect())
}

/// An Intercom id, as a string or a number.
fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Intercom tag ids of a conversation or a company (`tags.tags[]`).
fn listed_tag_ids(raw: &Value) -> Vec<String> {
    raw.get("tags")
        .and_then(|t| t.get("tags"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(id_of).collect())
        .unwrap_or_default()
}

/// Intercom tag ids of a contact: its `contact_tags` sub-list when staged, else the tags its
/// record lists (`tags.data[]`).
pub(super) fn contact_intercom_tags(
    ledger: &Ledger,
    contact_id: &str,
    contact_raw: &Value,
) -> Result<Vec<String>, LedgerError> {
    let sub = ledger.read(|r| r.source(Kind::ContactTags.as_str(), contact_id))?;
    let listed: Vec<Value> = match &sub {
        Some(s) => serde_json::from_str(&s.raw).unwrap_or_default(),
        None => contact_raw
            .get("tags")
            .and_then(|t| t.get("data"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    Ok(listed.iter().filter_map(id_of).collect())
}

/// Kustomer ids of `intercom` tags: this pass's `resolved`, else the ledger's.
fn kustomer_tags(
    ledger: &Ledger,
    intercom: &[String],
    resolved: &HashMap<String, String>,
) -> Result<Vec<String>, LedgerError> {
    let mut out: Vec<String> = Vec::new();
    for t in intercom {
        let k = match resolved.get(t) {
            Some(k) => Some(k.clone()),
            None => ledger.target_id(Kind::Tags.as_str(), t)?,
        };
        if let Some(k) = k
            && !out.contains(&k)
        {
            out.push(k);
        }
    }
    Ok(out)
}

/// The fallback pass (see the module): a no-op unless the route is absent and tags are open.
pub async fn run(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    if !route_absent(ledger)? {
        return Ok(());
    }
    ledger.flush().await?;
    let mut open: HashMap<String, (WorkItem, String)> = HashMap::new();
    for item in super::open_items(ledger, Kind::Tags.as_str())? {
        if let Some(name) = super::companies::named_tag(ledger, &item)? {
            open.insert(item.source_id.clone(), (item, name));
        }
    }
    if open.is_empty() {
        return Ok(());
    }
    ctx.set_activity(format!(
        "tags: {} to create through the conversations that carry them",
        open.len()
    ));
    let existed = ctx.kustomer.tag_ids_by_name().await?;
    let applied = apply_to_conversations(ctx, &open).await?;
    let listed = ctx.kustomer.tag_ids_by_name().await?;
    let resolved: HashMap<String, String> = open
        .iter()
        .filter_map(|(tid, (_, name))| listed.get(name).map(|k| (tid.clone(), k.clone())))
        .collect();
    if !resolved.is_empty() {
        update_owners(ctx, Kind::Companies, &resolved).await?;
        update_owners(ctx, Kind::Contacts, &resolved).await?;
    }
    let mut manual = 0usize;
    for (tid, (_, name)) in &open {
        match resolved.get(tid) {
            Some(k) => {
                let origin = if existed.contains_key(name) {
                    Origin::Matched
                } else {
                    Origin::Created
                };
                ledger.mark_done_as(Kind::Tags.as_str(), tid, k, origin)?;
            }
            None => {
                manual += 1;
                ledger.add_manual_item(
                    Some((Kind::Tags.as_str(), tid)),
                    &format!("Tag `{name}` (Intercom tag {tid})"),
                    "POST /v1/tags is absent on this org and no migrated conversation carries this tag, so it could not be created: Kustomer creates a tag by name only on a conversation (POST /v1/conversations/{id}/tags), and tagging one that never carried it would invent history. Create the tag in Kustomer's settings, then add it to the companies and customers that carry it in Intercom.",
                )?;
            }
        }
    }
    ledger.flush().await?;
    ctx.log(
        LogLevel::Info,
        format!(
            "tags: {} created or found through {} conversation tag request(s); {manual} carried by no migrated conversation, listed in MANUAL.md",
            resolved.len(),
            applied
        ),
    );
    Ok(())
}

/// Appends the open tags, by name, to every migrated conversation that carries them. Returns
/// how many conversations were tagged.
async fn apply_to_conversations(
    ctx: &Arc<Ctx>,
    open: &HashMap<String, (WorkItem, String)>,
) -> anyhow::Result<usize> {
    let names_of = |_: &str, raw: &Value| -> Result<_, LedgerError> {
        let mut names: Vec<String> = Vec::new();
        for tid in listed_tag_ids(raw) {
            if let Some((_, name)) = open.get(&tid)
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
        Ok((!names.is_empty()).then_some(names))
    };
    let append = |conversation: String, names: Vec<String>| async move {
        ctx.kustomer
            .add_conversation_tags(&conversation, &names)
            .await
    };
    each_loaded(ctx, Kind::Conversations, names_of, append).await
}

/// Updates every loaded company or customer (`kind`: companies or contacts) that carries a tag
/// of `resolved` with its whole tag list.
async fn update_owners(
    ctx: &Arc<Ctx>,
    kind: Kind,
    resolved: &HashMap<String, String>,
) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let tags_of = |source_id: &str, raw: &Value| -> Result<_, LedgerError> {
        let intercom = match kind {
            Kind::Contacts => contact_intercom_tags(ledger, source_id, raw)?,
            _ => listed_tag_ids(raw),
        };
        if !intercom.iter().any(|t| resolved.contains_key(t)) {
            return Ok(None);
        }
        kustomer_tags(ledger, &intercom, resolved).map(Some)
    };
    let update = |target: String, tags: Vec<String>| async move {
        let body = json!({ "tags": tags });
        let answer = match kind {
            Kind::Contacts => ctx.kustomer.update_customer(&target, body).await,
            _ => ctx.kustomer.update_company(&target, body).await,
        };
        answer.map(|_| ())
    };
    each_loaded(ctx, kind, tags_of, update).await?;
    Ok(())
}

/// Pages through `kind`'s source records; for each one that `pick` gives tags for (names or
/// Kustomer ids) and that is loaded in Kustomer, `send` applies them to its Kustomer id, several
/// in flight. A refusal is a warning on the record. Returns how many were applied.
async fn each_loaded<P, S, SF>(
    ctx: &Arc<Ctx>,
    kind: Kind,
    mut pick: P,
    send: S,
) -> anyhow::Result<usize>
where
    P: FnMut(&str, &Value) -> Result<Option<Vec<String>>, LedgerError>,
    S: Fn(String, Vec<String>) -> SF,
    SF: Future<Output = Result<(), KustomerError>>,
{
    let ledger = &ctx.ledger;
    let k = kind.as_str();
    let mut after: Option<String> = None;
    let mut applied = 0usize;
    loop {
        ctx.control.checkpoint().await?;
        let page = ledger.read(|r| r.sources_page(k, after.as_deref(), PAGE))?;
        let Some(last) = page.last() else { break };
        after = Some(last.source_id.clone());
        let mut calls = Vec::new();
        for s in &page {
            let raw: Value = serde_json::from_str(&s.raw).unwrap_or(Value::Null);
            let Some(tags) = pick(&s.source_id, &raw)? else {
                continue;
            };
            let Some(target) = ledger.target_id(k, &s.source_id)? else {
                continue;
            };
            calls.push((s.source_id.clone(), target, tags));
        }
        let send = &send;
        let mut sent = futures_util::stream::iter(calls.into_iter().map(
            |(source_id, target, tags)| async move {
                let _guard = ctx.in_flight(crate::vocab::PhaseId::Conversations, 1);
                let answer = send(target, tags.clone()).await;
                (source_id, tags, answer)
            },
        ))
        .buffer_unordered(IN_FLIGHT);
        while let Some((source_id, tags, answer)) = sent.next().await {
            match answer {
                Ok(()) => applied += 1,
                Err(e) => warn_unapplied(ledger, k, &source_id, &tags, &e)?,
            }
        }
    }
    Ok(applied)
}

fn warn_unapplied(
    ledger: &Ledger,
    kind: &str,
    source_id: &str,
    names: &[String],
    e: &KustomerError,
) -> Result<(), LedgerError> {
    ledger.add_warning(
        kind,
        Some(source_id),
        &format!("its tags {names:?} could not be applied: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_ids_are_read_as_strings_or_numbers() {
        let raw =
            json!({"tags": {"type": "tag.list", "tags": [{"id": "7", "name": "a"}, {"id": 8}]}});
        assert_eq!(listed_tag_ids(&raw), vec!["7", "8"]);
        assert!(listed_tag_ids(&json!({})).is_empty());
    }
}
