//! Conversations loaded earlier whose Intercom record changed since (closed, reopened, snoozed,
//! reassigned, retagged, renamed): after the phase appended their new parts, each is brought up
//! to date with one `PATCH /v1/conversations/{id}` of the fields that changed, by the rule of
//! [`crate::engine::delta`]: the create body and final state mapped from the record i2k wrote
//! and from the record now, against Kustomer's current values (read by externalId).

use serde_json::{Map, Value, json};

use super::{PageLoader, parse};
use crate::engine::delta::{changes_of, owned_changed, plan_update};
use crate::engine::model::LogLevel;
use crate::intercom::models::{Conversation, ConversationPart};
use crate::ledger::{ChangeKind, Listed, WorkItem};
use crate::mapping::conversations as map;
use crate::vocab::Kind;

const PAGE: usize = 200;

impl PageLoader<'_> {
    /// Brings every changed conversation up to date; returns how many were updated.
    pub(super) async fn update_changed(&self) -> anyhow::Result<u64> {
        let ctx = self.ctx;
        let mut updated = 0u64;
        let mut conflicts = 0u64;
        let mut pages =
            ctx.ledger
                .listed_pages(Listed::ChangedSinceDone, Kind::Conversations.as_str(), PAGE);
        while let Some(page) = pages.next_page().await? {
            ctx.control.checkpoint().await?;
            ctx.set_activity("conversations: bringing changed conversations up to date");
            for item in &page {
                if let Some(n) = self.update_one(item).await? {
                    updated += 1;
                    conflicts += n;
                }
            }
        }
        if updated > 0 {
            ctx.log(
                LogLevel::Info,
                format!(
                    "conversations: {updated} changed conversation(s) brought up to date in Kustomer ({conflicts} conflict(s) kept the agent's value)"
                ),
            );
        }
        Ok(updated)
    }

    /// The owned fields of a conversation as i2k writes them: its create body's (name,
    /// assignees, tags, priority, custom attributes) and its state (`status`, a snooze's time).
    async fn desired(&self, id: &str, c: &Conversation) -> anyhow::Result<Option<Value>> {
        let Some(mut body) = self.conversation_body(id, c).await? else {
            return Ok(None);
        };
        let state = self.state_fields(id, c)?;
        if let Some(fields) = body.as_object_mut() {
            fields.extend(state);
        }
        Ok(Some(body))
    }

    /// `status` (and `snooze`, and how a close ended) as the final state sets it; `open` for a
    /// conversation that is neither closed nor snoozed.
    fn state_fields(&self, id: &str, c: &Conversation) -> anyhow::Result<Map<String, Value>> {
        let (close, ended_by) = self.close_of(id)?;
        let state = map::final_state("", c, close.as_ref(), ended_by.as_deref())
            .unwrap_or_else(|| json!({ "status": "open" }));
        let mut fields = state.as_object().cloned().unwrap_or_default();
        fields.remove("id");
        // How a close ended is stamped by the close; compared, it would flag every re-read.
        for stamp in ["ended", "endedAt", "endedBy", "endedByType"] {
            fields.remove(stamp);
        }
        Ok(fields)
    }

    /// Returns the conflicts of an updated conversation; `None` when nothing i2k owns changed.
    async fn update_one(&self, item: &WorkItem) -> anyhow::Result<Option<u64>> {
        let ctx = self.ctx;
        let ledger = &ctx.ledger;
        let id = item.source_id.as_str();
        let kind = Kind::Conversations;
        let (Some(now), Some(target)) = (
            parse::<Conversation>(item.raw.as_deref()),
            item.target_id.as_deref(),
        ) else {
            return Ok(None);
        };
        let Some(desired) = self.desired(id, &now).await? else {
            return Ok(None);
        };
        let old_raw = ledger.read(|r| r.loaded_raw(kind.as_str(), id))?;
        let wrote = match parse::<Conversation>(old_raw.as_deref()) {
            Some(old) => self.desired(id, &old).await?,
            None => None,
        };
        if wrote.as_ref().is_some_and(|w| !owned_changed(w, &desired)) {
            ledger.mark_updated(kind.as_str(), id).await?;
            return Ok(None);
        }
        let warn = |m: String| ledger.add_warning(kind.as_str(), Some(id), &m);
        let current = match ctx.kustomer.conversation_by_external_id(id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                warn(format!("not updated: Kustomer no longer has it ({target})"))?;
                return Ok(None);
            }
            Err(e) => {
                warn(format!("not updated (the next run tries again): {e}"))?;
                return Ok(None);
            }
        };
        let plan = plan_update(
            wrote.as_ref(),
            &desired,
            &current.attributes,
            ctx.config.options.overwrite_conflicts,
        );
        let mut plan = plan;
        // Leaving a snooze is said by the status; Kustomer refuses a `snooze` that is not an
        // object, and keeps the ended snooze as history.
        if plan.patch.get("snooze") == Some(&Value::Null) {
            plan.patch.remove("snooze");
        }
        if plan.writes() {
            let mut body = Value::Object(plan.patch.clone());
            // Closing states how the conversation ended, as the final state does.
            if plan.patch.get("status") == Some(&json!("done")) {
                let parts_close = self.close_of(id)?;
                if let Some(full) = map::final_state(
                    target,
                    &now,
                    parts_close.0.as_ref(),
                    parts_close.1.as_deref(),
                ) && let (Some(b), Some(f)) = (body.as_object_mut(), full.as_object())
                {
                    for stamp in ["ended", "endedAt", "endedBy", "endedByType"] {
                        if let Some(v) = f.get(stamp) {
                            b.insert(stamp.to_string(), v.clone());
                        }
                    }
                }
            }
            if let Err(e) = ctx.kustomer.patch_conversation(target, body).await {
                warn(format!("not updated (the next run tries again): {e}"))?;
                return Ok(None);
            }
        }
        let kinds = change_kinds(wrote.as_ref(), &desired, &plan.changed);
        ledger
            .record_changes(changes_of(kind, id, &plan, &kinds))
            .await?;
        ledger.mark_updated(kind.as_str(), id).await?;
        Ok((!plan.changed.is_empty()).then_some(plan.conflicts.len() as u64))
    }

    /// The conversation's close part and the Kustomer user who closed it.
    fn close_of(&self, id: &str) -> anyhow::Result<(Option<ConversationPart>, Option<String>)> {
        let parts: Vec<ConversationPart> = self.ctx.ledger.read(|r| {
            Ok(r.children(Kind::ConversationParts.as_str(), id)?
                .into_iter()
                .filter_map(|s| serde_json::from_str(&s.raw).ok())
                .collect())
        })?;
        let refs: Vec<&ConversationPart> = parts.iter().collect();
        let close = map::close_part(&refs).cloned();
        let by = self.author_user(close.as_ref().and_then(|p| p.author.as_ref()))?;
        Ok((close, by))
    }
}

/// How a conversation changed, by the fields that changed: its state (closed, reopened,
/// snoozed), its assignees, its tags; anything else is an update.
fn change_kinds(wrote: Option<&Value>, desired: &Value, changed: &[String]) -> Vec<ChangeKind> {
    let mut kinds = Vec::new();
    let was = wrote.and_then(|w| w.get("status")).and_then(Value::as_str);
    if changed.iter().any(|f| f == "status" || f == "snooze") {
        match desired.get("status").and_then(Value::as_str) {
            Some("done") => kinds.push(ChangeKind::Closed),
            Some("snoozed") => kinds.push(ChangeKind::Snoozed),
            Some("open") if matches!(was, Some("done") | Some("snoozed") | None) => {
                kinds.push(ChangeKind::Reopened)
            }
            _ => kinds.push(ChangeKind::Updated),
        }
    }
    if changed
        .iter()
        .any(|f| f == "assignedUsers" || f == "assignedTeams")
    {
        kinds.push(ChangeKind::Reassigned);
    }
    if changed.iter().any(|f| f == "tags") {
        kinds.push(ChangeKind::Retagged);
    }
    let other = changed.iter().any(|f| {
        !matches!(
            f.as_str(),
            "status" | "snooze" | "assignedUsers" | "assignedTeams" | "tags"
        )
    });
    if other && !kinds.contains(&ChangeKind::Updated) {
        kinds.push(ChangeKind::Updated);
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversations_change_is_named_by_what_changed() {
        let open = json!({"status": "open"});
        let done = json!({"status": "done"});
        let s = |v: &[&str]| v.iter().map(|f| f.to_string()).collect::<Vec<_>>();
        assert_eq!(
            change_kinds(Some(&open), &done, &s(&["status"])),
            [ChangeKind::Closed]
        );
        assert_eq!(
            change_kinds(Some(&done), &open, &s(&["status"])),
            [ChangeKind::Reopened]
        );
        assert_eq!(
            change_kinds(Some(&open), &open, &s(&["assignedUsers", "name"])),
            [ChangeKind::Reassigned, ChangeKind::Updated]
        );
        assert!(change_kinds(Some(&open), &open, &[]).is_empty());
    }
}
