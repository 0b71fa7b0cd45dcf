//! Delta: carrying into Kustomer what changed in Intercom after a record was loaded.
//!
//! Extraction stages a changed record over its old one and the ledger keeps the old one beside
//! it (`source.loaded_raw`: what Kustomer was last written from). An update compares, field by
//! field over the fields i2k owns (everything of the mapped body but identifiers and stamps),
//! three values: what i2k last wrote (the old record mapped), what Intercom says now (the new
//! record mapped) and what Kustomer holds now (read by the record's id route, never search):
//!
//! - Intercom unchanged → nothing to write (a delta of an unchanged workspace writes nothing);
//! - Kustomer already holds Intercom's value → nothing (a repeated or resumed delta);
//! - Kustomer still holds what i2k wrote → the field is updated;
//! - otherwise an agent edited it in Kustomer since: a conflict, listed in the report, and the
//!   agent's value is kept unless the operator asked to overwrite (`--overwrite-conflicts`).
//!
//! Records deleted from Intercom are found by a census of the live ids after the delta's
//! extraction, each confirmed gone by its own route (a 404), recorded as `removed`, and deleted
//! from Kustomer only when the operator asks (`--delete-removed`).

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use crate::engine::context::Ctx;
use crate::engine::model::LogLevel;
use crate::intercom::client::{IntercomClient, Listing};
use crate::intercom::endpoints::Searchable;
use crate::intercom::lenient::id_from_value;
use crate::kustomer::delete::Deletable;
use crate::ledger::{Change, ChangeKind, Ledger, LedgerError};
use crate::vocab::Kind;

/// Body fields that identify or stamp a record rather than describe it: never compared, never
/// updated in place.
const NOT_OWNED: [&str; 7] = [
    "id",
    "externalId",
    "importedAt",
    "createdAt",
    "customer",
    "direction",
    "sharing",
];

/// The fields i2k owns of a mapped body, `custom` attributes one by one (`custom.nameStr`).
pub fn owned(body: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let Some(fields) = body.as_object() else {
        return out;
    };
    for (key, value) in fields {
        if NOT_OWNED.contains(&key.as_str()) {
            continue;
        }
        match (key.as_str(), value) {
            ("custom", Value::Object(custom)) => {
                for (name, v) in custom {
                    out.insert(format!("custom.{name}"), v.clone());
                }
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

/// Kustomer's current value of an owned field (`None`: Kustomer does not show the field).
fn current_value<'a>(current: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    match field.strip_prefix("custom.") {
        Some(name) => current.get("custom")?.get(name),
        None => current.get(field),
    }
}

/// Whether Kustomer's value `current` holds `expected` (Kustomer may add keys to objects it
/// stores, such as an e-mail's `verified`; numbers compare by value).
pub fn holds(current: Option<&Value>, expected: &Value) -> bool {
    match (current, expected) {
        (None | Some(Value::Null), Value::Null) => true,
        (None, _) => false,
        (Some(Value::Object(c)), Value::Object(e)) => e.iter().all(|(k, v)| holds(c.get(k), v)),
        (Some(Value::Array(c)), Value::Array(e)) => {
            c.len() == e.len() && c.iter().zip(e).all(|(c, e)| holds(Some(c), e))
        }
        (Some(Value::Number(c)), Value::Number(e)) => c.as_f64() == e.as_f64(),
        (Some(Value::Array(c)), Value::Null) => c.is_empty(),
        (Some(c), e) => c == e,
    }
}

/// One field an agent changed in Kustomer since i2k wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub field: String,
    /// What i2k last wrote.
    pub wrote: Value,
    /// What Kustomer holds now (the agent's value).
    pub kustomer: Value,
    /// What Intercom says now.
    pub intercom: Value,
    /// Whether the update overwrote the agent's value (the operator asked to).
    pub overwritten: bool,
}

impl Conflict {
    pub fn describe(&self) -> String {
        format!(
            "{}: i2k wrote {}, Kustomer has {} ({}), Intercom now {}",
            self.field,
            self.wrote,
            self.kustomer,
            if self.overwritten {
                "overwritten as asked"
            } else {
                "kept"
            },
            self.intercom
        )
    }
}

/// What to write to bring one record up to date.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// The update body: only the fields to write (`custom` nested again).
    pub patch: Map<String, Value>,
    /// The owned fields Intercom changed since i2k wrote them (whether written now or not).
    pub changed: Vec<String>,
    pub conflicts: Vec<Conflict>,
}

impl Plan {
    pub fn writes(&self) -> bool {
        !self.patch.is_empty()
    }
}

/// Whether anything i2k owns changed between the body i2k wrote and the body Intercom maps to
/// now: when not, no request at all is needed.
pub fn owned_changed(wrote: &Value, now: &Value) -> bool {
    owned(wrote) != owned(now)
}

/// The update bringing Kustomer's `current` attributes up to `desired`, given the body i2k
/// last wrote (`wrote`; `None` when the ledger kept none: Kustomer's value stands in, so no
/// conflict can be told and every changed field is written).
pub fn plan_update(
    wrote: Option<&Value>,
    desired: &Value,
    current: &Map<String, Value>,
    overwrite: bool,
) -> Plan {
    let new = owned(desired);
    let old = wrote.map(owned);
    let mut plan = Plan::default();
    let mut fields: Vec<&String> = new.keys().collect();
    if let Some(old) = &old {
        fields.extend(old.keys().filter(|k| !new.contains_key(*k)));
    }
    for field in fields {
        let target = new.get(field).cloned().unwrap_or(Value::Null);
        let now = current_value(current, field);
        let was = match &old {
            Some(old) => old.get(field).cloned().unwrap_or(Value::Null),
            None => now.cloned().unwrap_or(Value::Null),
        };
        if holds(Some(&was), &target) && holds(Some(&target), &was) {
            continue;
        }
        plan.changed.push(field.clone());
        if holds(now, &target) {
            continue;
        }
        // A field Kustomer does not show is taken to hold what i2k wrote.
        if now.is_none() || holds(now, &was) {
            put(&mut plan.patch, field, target);
            continue;
        }
        plan.conflicts.push(Conflict {
            field: field.clone(),
            wrote: was,
            kustomer: now.cloned().unwrap_or(Value::Null),
            intercom: target.clone(),
            overwritten: overwrite,
        });
        if overwrite {
            put(&mut plan.patch, field, target);
        }
    }
    plan
}

fn put(patch: &mut Map<String, Value>, field: &str, value: Value) {
    match field.strip_prefix("custom.") {
        Some(name) => {
            let custom = patch
                .entry("custom")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(custom) = custom.as_object_mut() {
                custom.insert(name.to_string(), value);
            }
        }
        None => {
            patch.insert(field.to_string(), value);
        }
    }
}

/// The change rows of one record's plan: `updated` naming the fields written, one `conflict`
/// per field an agent changed, and `kinds` (a conversation's closed, reassigned…) as given.
pub fn changes_of(kind: Kind, source_id: &str, plan: &Plan, kinds: &[ChangeKind]) -> Vec<Change> {
    let mut out = Vec::new();
    let change = |change: ChangeKind, detail: String| Change {
        kind: kind.as_str().to_string(),
        source_id: source_id.to_string(),
        change,
        detail,
    };
    let written: Vec<&str> = plan
        .changed
        .iter()
        .map(String::as_str)
        .filter(|f| {
            !plan
                .conflicts
                .iter()
                .any(|c| c.field == *f && !c.overwritten)
        })
        .collect();
    if !written.is_empty() {
        if kinds.is_empty() {
            out.push(change(ChangeKind::Updated, written.join(", ")));
        }
        for k in kinds {
            out.push(change(*k, written.join(", ")));
        }
    }
    for c in &plan.conflicts {
        out.push(change(ChangeKind::Conflict, c.describe()));
    }
    out
}

/// Why a delta run cannot start.
#[derive(Debug, thiserror::Error)]
#[error(
    "--delta carries what changed since a completed run, and this state directory holds none: run `i2k run` to the end first (a sample or a scoped run does not count)"
)]
pub struct DeltaRefused;

/// The kinds an update in place reads changed records of.
pub const UPDATED_KINDS: [Kind; 4] = [
    Kind::Companies,
    Kind::Contacts,
    Kind::Conversations,
    Kind::Tickets,
];

/// Whether any loaded record of an updated kind changed in Intercom since it was loaded.
pub fn has_changed(ledger: &Ledger) -> Result<bool, LedgerError> {
    ledger.read(|r| {
        for kind in UPDATED_KINDS {
            if !r
                .listed(
                    crate::ledger::Listed::ChangedSinceDone,
                    kind.as_str(),
                    None,
                    1,
                )?
                .is_empty()
            {
                return Ok(true);
            }
        }
        Ok(false)
    })
}

// ---- records removed from Intercom ----------------------------------------------------------

/// The kinds a census looks for removed records of: Intercom deletes contacts and
/// conversations; Kustomer can delete customers and conversations.
const CENSUS: [(Kind, Searchable, Deletable); 2] = [
    (Kind::Contacts, Searchable::Contacts, Deletable::Customer),
    (
        Kind::Conversations,
        Searchable::Conversations,
        Deletable::Conversation,
    ),
];

/// Finds the loaded records no longer in Intercom: lists every live id (a full search pass),
/// confirms each missing one gone by its own route, and records it `removed` (once). With
/// `delete`, deletes each from Kustomer (customers, conversations) and settles it skipped with
/// its dependants. Returns how many were found removed and how many deleted.
pub async fn census(ctx: &Ctx, delete: bool) -> anyhow::Result<(u64, u64)> {
    let ledger = &ctx.ledger;
    let known: HashSet<(String, String)> = ledger
        .read_blocking(|r| r.removed_kept())
        .await?
        .into_iter()
        .collect();
    let mut found = 0u64;
    for (kind, object, _) in CENSUS {
        ctx.set_activity(format!(
            "delta: looking for {} removed from Intercom",
            kind.as_str()
        ));
        let live = live_ids(&ctx.intercom, object, ctx).await?;
        let missing = loaded_missing(ledger, kind, &live).await?;
        let mut removed = Vec::new();
        for id in missing {
            if known.contains(&(kind.as_str().to_string(), id.clone())) {
                continue;
            }
            if gone_from_intercom(&ctx.intercom, object, &id).await? {
                removed.push(Change {
                    kind: kind.as_str().to_string(),
                    source_id: id,
                    change: ChangeKind::Removed,
                    detail: "deleted in Intercom after it was loaded; kept in Kustomer".into(),
                });
            }
        }
        found += removed.len() as u64;
        ledger.record_changes(removed).await?;
    }
    if found > 0 {
        ctx.log(
            LogLevel::Warn,
            format!(
                "delta: {found} record(s) deleted in Intercom since they were loaded{}",
                if delete {
                    ""
                } else {
                    "; kept in Kustomer (run --delta --delete-removed to delete them there)"
                }
            ),
        );
    }
    let deleted = if delete {
        delete_removed(ctx).await?
    } else {
        0
    };
    Ok((found, deleted))
}

/// Every live id of a searchable type (one full search pass, ids only kept).
async fn live_ids(
    intercom: &IntercomClient,
    object: Searchable,
    ctx: &Ctx,
) -> anyhow::Result<HashSet<String>> {
    let mut pager = intercom.pager(Listing::search(object, None), None);
    let mut ids = HashSet::new();
    while let Some(page) = pager.next_page().await? {
        ctx.control.checkpoint().await?;
        ids.extend(
            page.records
                .iter()
                .filter_map(|r| r.get("id").and_then(id_from_value).map(|i| i.0)),
        );
    }
    Ok(ids)
}

/// The loaded (done) records of `kind` whose id Intercom no longer lists.
async fn loaded_missing(
    ledger: &Ledger,
    kind: Kind,
    live: &HashSet<String>,
) -> Result<Vec<String>, LedgerError> {
    let mut missing = Vec::new();
    let mut pages = ledger.pages(kind.as_str(), &[crate::ledger::RecordState::Done], 2_000);
    while let Some(page) = pages.next_page().await? {
        missing.extend(
            page.into_iter()
                .map(|item| item.source_id)
                .filter(|id| !live.contains(id)),
        );
    }
    Ok(missing)
}

/// Whether Intercom answers 404 for the record (a listing may lag; its own route does not).
async fn gone_from_intercom(
    intercom: &IntercomClient,
    object: Searchable,
    id: &str,
) -> anyhow::Result<bool> {
    let result = match object {
        Searchable::Contacts => intercom.contact(id).await,
        Searchable::Conversations => intercom.conversation(id).await,
        Searchable::Tickets => intercom.ticket(id).await,
    };
    match result {
        Ok(_) => Ok(false),
        Err(e) if e.is_not_found() => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// Deletes from Kustomer every record found removed and not yet deleted, settling each (and a
/// conversation's messages, notes and files) skipped with the reason. Returns how many.
pub async fn delete_removed(ctx: &Ctx) -> anyhow::Result<u64> {
    let ledger = &ctx.ledger;
    let removed = ledger.read_blocking(|r| r.removed_kept()).await?;
    let mut deleted = 0u64;
    for (kind_name, id) in removed {
        ctx.control.checkpoint().await?;
        let Some((kind, _, what)) = CENSUS.iter().find(|(k, _, _)| k.as_str() == kind_name) else {
            continue;
        };
        let Some(target) = ledger.target_id(kind.as_str(), &id)? else {
            continue;
        };
        ctx.set_activity(format!("delta: deleting {kind_name} {id} from Kustomer"));
        if let Err(e) = ctx.kustomer.delete_one(what, &target).await {
            ctx.log(
                LogLevel::Error,
                format!("delta: could not delete {kind_name} {id} (Kustomer {target}): {e}"),
            );
            continue;
        }
        let reason = format!(
            "deleted in Intercom after it was loaded; deleted in Kustomer ({target}) as the operator asked"
        );
        ledger.mark_skipped(kind.as_str(), &id, &reason)?;
        if *kind == Kind::Conversations {
            let conversation = id.clone();
            let dependants = ledger
                .read_blocking(move |r| {
                    crate::engine::load::conversations::dependants(r, &conversation)
                })
                .await?;
            for (dependant, child) in dependants {
                if ledger.target_id(dependant, &child)?.is_some()
                    || ledger.read(|r| r.record(dependant, &child))?.is_some()
                {
                    ledger.mark_skipped(dependant, &child, &reason)?;
                }
            }
        }
        ledger
            .record_changes(vec![Change {
                kind: kind_name.clone(),
                source_id: id.clone(),
                change: ChangeKind::Deleted,
                detail: reason,
            }])
            .await?;
        deleted += 1;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn an_unchanged_record_plans_nothing_and_identifiers_never_count() {
        let wrote = json!({"externalId": "1", "importedAt": "a", "name": "Ann"});
        let now = json!({"externalId": "1", "importedAt": "b", "name": "Ann"});
        assert!(!owned_changed(&wrote, &now));
        let plan = plan_update(Some(&wrote), &now, &attrs(json!({"name": "Ann"})), false);
        assert_eq!(plan, Plan::default());
    }

    #[test]
    fn a_field_kustomer_still_holds_as_written_is_updated() {
        let wrote = json!({"name": "Ann", "custom": {"planStr": "free", "seatsNum": 2}});
        let now = json!({"name": "Ann B", "custom": {"planStr": "pro", "seatsNum": 2}});
        let current = attrs(json!({"name": "Ann", "custom": {"planStr": "free", "seatsNum": 2.0}}));
        let plan = plan_update(Some(&wrote), &now, &current, false);
        assert_eq!(
            Value::Object(plan.patch.clone()),
            json!({"name": "Ann B", "custom": {"planStr": "pro"}})
        );
        assert!(plan.conflicts.is_empty());
        let changes = changes_of(Kind::Contacts, "c1", &plan, &[]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].change, ChangeKind::Updated);
        assert_eq!(changes[0].detail, "custom.planStr, name");
    }

    #[test]
    fn an_agents_edit_is_a_conflict_kept_unless_overwritten() {
        let wrote = json!({"name": "Ann"});
        let now = json!({"name": "Ann B"});
        let current = attrs(json!({"name": "Ann (VIP)"}));
        let kept = plan_update(Some(&wrote), &now, &current, false);
        assert!(!kept.writes());
        assert_eq!(kept.conflicts.len(), 1);
        assert_eq!(kept.conflicts[0].kustomer, json!("Ann (VIP)"));
        let changes = changes_of(Kind::Contacts, "c1", &kept, &[]);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].change, ChangeKind::Conflict);
        assert!(changes[0].detail.contains("kept"), "{}", changes[0].detail);
        let over = plan_update(Some(&wrote), &now, &current, true);
        assert_eq!(Value::Object(over.patch), json!({"name": "Ann B"}));
    }

    #[test]
    fn a_repeated_update_finds_kustomer_up_to_date() {
        let wrote = json!({"name": "Ann"});
        let now = json!({"name": "Ann B"});
        let plan = plan_update(Some(&wrote), &now, &attrs(json!({"name": "Ann B"})), false);
        assert!(!plan.writes());
        assert!(plan.conflicts.is_empty());
        assert_eq!(plan.changed, vec!["name".to_string()]);
    }

    #[test]
    fn kustomer_may_add_keys_to_what_it_stores() {
        let sent = json!([{"email": "a@x.test", "type": "home"}]);
        let stored = json!([{"email": "a@x.test", "type": "home", "verified": false}]);
        assert!(holds(Some(&stored), &sent));
        assert!(!holds(Some(&sent), &json!([{"email": "b@x.test"}])));
        assert!(holds(None, &Value::Null));
        assert!(!holds(None, &json!("x")));
    }

    #[test]
    fn without_what_i2k_wrote_kustomers_value_stands_in() {
        let now = json!({"name": "Ann B", "phone": "1"});
        let plan = plan_update(
            None,
            &now,
            &attrs(json!({"name": "Ann", "phone": "1"})),
            false,
        );
        assert_eq!(Value::Object(plan.patch), json!({"name": "Ann B"}));
        assert!(plan.conflicts.is_empty());
    }
}
