//! The Kustomer ids a conversation refers to, resolved once per run and cached: its customer
//! (phase Customers), admins → users and teams (phase Users & teams, or the operator's
//! `admin:<id>` decision), tags (phase Customers; created here through the write path when
//! missing) and the decided conversation custom attributes.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::engine::context::Ctx;
use crate::engine::model::LogLevel;
use crate::engine::write::{self, Outcome};
use crate::ledger::LedgerError;
use crate::vocab::{FieldMapping, Kind};

pub struct Refs {
    users: Mutex<HashMap<String, Option<String>>>,
    tags: Mutex<HashMap<String, Option<String>>>,
    /// Kustomer's tags by name, listed once (only when a tag is missing from the ledger).
    listed: tokio::sync::OnceCell<HashMap<String, String>>,
    pub conversation_fields: Vec<FieldMapping>,
}

/// The user id an `admin:<id>` decision names, in either stored form (the whole `AdminMapping`
/// or its `AdminDecision`).
fn decided_user(decision: &Value) -> Option<String> {
    let d = decision
        .get("decision")
        .filter(|d| d.is_object())
        .unwrap_or(decision);
    (d.get("decision").and_then(Value::as_str) == Some("user"))
        .then(|| d.get("user_id").and_then(Value::as_str).map(str::to_string))
        .flatten()
}

impl Refs {
    pub fn load(ctx: &Ctx) -> Result<Refs, LedgerError> {
        let conversation_fields = ctx
            .ledger
            .read(|r| r.decisions("field:conversation:"))?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_value::<FieldMapping>(v).ok())
            .collect();
        Ok(Refs {
            users: Mutex::new(HashMap::new()),
            tags: Mutex::new(HashMap::new()),
            listed: tokio::sync::OnceCell::new(),
            conversation_fields,
        })
    }

    pub fn customer(&self, ctx: &Ctx, contact_id: &str) -> Result<Option<String>, LedgerError> {
        ctx.ledger.target_id(Kind::Contacts.as_str(), contact_id)
    }

    pub fn team(&self, ctx: &Ctx, team_id: &str) -> Result<Option<String>, LedgerError> {
        ctx.ledger.target_id(Kind::Teams.as_str(), team_id)
    }

    /// The Kustomer user an Intercom admin maps to: the admin's loaded record, else the
    /// operator's decision; `None` when neither says.
    pub fn user(&self, ctx: &Ctx, admin_id: &str) -> Result<Option<String>, LedgerError> {
        if let Some(hit) = self.lock_users().get(admin_id) {
            return Ok(hit.clone());
        }
        let user = match ctx.ledger.target_id(Kind::Admins.as_str(), admin_id)? {
            Some(u) => Some(u),
            None => ctx
                .ledger
                .read(|r| r.decision(&format!("admin:{admin_id}")))?
                .as_ref()
                .and_then(decided_user),
        };
        self.lock_users().insert(admin_id.to_string(), user.clone());
        Ok(user)
    }

    fn lock_users(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<String>>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_tags(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<String>>> {
        self.tags.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Kustomer tag id of an Intercom tag; a tag phase Customers has not made is created
    /// here (once, through the write path, found again by name). `None` when it cannot be made.
    pub async fn tag(
        &self,
        ctx: &Ctx,
        tag_id: &str,
        name: &str,
    ) -> Result<Option<String>, LedgerError> {
        if let Some(hit) = self.lock_tags().get(tag_id) {
            return Ok(hit.clone());
        }
        let id = match ctx.ledger.target_id(Kind::Tags.as_str(), tag_id)? {
            Some(id) => Some(id),
            // Without `POST /v1/tags` the tag is appended by name once the conversation exists.
            None if crate::engine::load::tag_fallback::route_absent(&ctx.ledger)? => None,
            None => self.create_tag(ctx, tag_id, name).await?,
        };
        self.lock_tags().insert(tag_id.to_string(), id.clone());
        Ok(id)
    }

    async fn create_tag(
        &self,
        ctx: &Ctx,
        tag_id: &str,
        name: &str,
    ) -> Result<Option<String>, LedgerError> {
        ctx.ledger
            .ensure_pending(Kind::Tags.as_str(), vec![tag_id.to_string()])
            .await?;
        let Some(item) = ctx.ledger.read(|r| r.record(Kind::Tags.as_str(), tag_id))? else {
            return Ok(None);
        };
        let find = || async {
            Ok(ctx
                .kustomer
                .list_tags()
                .await?
                .into_iter()
                .find(|t| t.name == name)
                .map(|t| t.id))
        };
        // Another run or phase may have made it under the same name.
        let listed = self
            .listed
            .get_or_init(|| async { ctx.kustomer.tag_ids_by_name().await.unwrap_or_default() })
            .await;
        let outcome = match listed.get(name).cloned() {
            Some(id) => {
                ctx.ledger.mark_found(&item, &id)?;
                Outcome::Done(id)
            }
            _ => {
                write::create_one(
                    &ctx.ledger,
                    &item,
                    || async { ctx.kustomer.create_tag(name).await.map(|t| t.id) },
                    find,
                )
                .await?
            }
        };
        Ok(match outcome {
            Outcome::Done(id) => Some(id),
            _ => {
                ctx.log(
                    LogLevel::Warn,
                    format!("tag `{name}` (Intercom {tag_id}) could not be created; conversations go without it"),
                );
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn admin_decisions_name_a_user_in_either_stored_form() {
        let whole = json!({"admin_id": "1", "name": "A", "email": "a@x", "suggestion": null,
                           "decision": {"decision": "user", "user_id": "u1", "email": "a@x"}});
        assert_eq!(decided_user(&whole).as_deref(), Some("u1"));
        let bare = json!({"decision": "user", "user_id": "u2", "email": "b@x"});
        assert_eq!(decided_user(&bare).as_deref(), Some("u2"));
        assert_eq!(decided_user(&json!({"decision": "invite"})), None);
        assert_eq!(
            decided_user(&json!({"decision": {"decision": "unresolved"}})),
            None
        );
    }
}
