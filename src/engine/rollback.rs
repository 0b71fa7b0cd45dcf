//! Rollback: deletes from Kustomer exactly what this migration created, read from the ledger —
//! kind by kind in reverse dependency order (the phase table read backwards), in bulk where
//! Kustomer publishes a bulk delete — and leaves the ledger ready for a fresh run.
//!
//! Safety: only records the ledger marks `created` are candidates (a matched user, tag or adopted
//! record never is), and each is read from Kustomer first: it is deleted only when its own
//! `externalId` (for klasses, which carry none, its unique name) is the one the ledger gave it;
//! otherwise it is left, and said so.
//!
//! Resumable: each deletion is written to the ledger as it happens — the record goes back to
//! `pending` with its Kustomer id and origin forgotten, together with the records that hang under
//! it in Kustomer and went with it (a conversation's messages, notes and final state). A rollback
//! killed between a delete and its ledger mark finds the record gone (404) when it runs again and
//! marks it then. So a resumed rollback, and the next run, see only what is really still there.
//!
//! externalIds: i2k assumes Kustomer frees a deleted record's externalId (the record is gone; the
//! simulator models that). The next run works either way: its rows are `pending` with no Kustomer
//! id, so it creates the records; were an externalId still reserved, the create would be refused
//! as a duplicate and resolved by lookup, which finds no live record, so the record fails with
//! the refusal as its reason instead of being duplicated or adopting a deleted record.
//!
//! What Kustomer's API cannot delete (companies, tags, teams, brands, metadata, KB content,
//! saved searches, shortcuts, attachments, tracking events; schedules, which carry no externalId
//! to prove them ours) stays, stays `done` in the ledger so the next run reuses it instead of
//! making a second copy, and is listed in `MANUAL.md`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::config::create_private_file;
use crate::engine::kinds::{
    BulkTo, CATALOG, Delete, KindRow, Source, Write, bulk_resource, row_of,
};
use crate::engine::manual::MANUAL_FILE;
use crate::kustomer::bulk::{BulkResource, MAX_BULK_ITEMS, PollPolicy};
use crate::kustomer::delete::Deletable;
use crate::kustomer::{KustomerClient, KustomerError};
use crate::ledger::{Ledger, LedgerError, Listed, RecordState, WorkItem};
use crate::mapping::people::ticket_klass_name;
use crate::vocab::{Kind, PhaseId};

/// Records read from the ledger per page.
const PAGE: usize = MAX_BULK_ITEMS;

/// How a kind's created records leave Kustomer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "how", content = "detail")]
pub enum How {
    /// Bulk deletes of up to 100 records.
    Bulk,
    /// One delete per record.
    Single,
    /// Kustomer deletes them with the record they hang under (this kind).
    WithParent(Kind),
    /// Kustomer's API cannot delete them: they stay, and the reason says what to do.
    Stays(String),
}

/// One kind in the plan: how many records i2k created, and how they go.
#[derive(Debug, Clone, Serialize)]
pub struct KindPlan {
    pub kind: Kind,
    pub created: u64,
    pub how: How,
}

/// What a rollback will do, by kind, in the order it does it.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackPlan {
    pub kinds: Vec<KindPlan>,
    /// Records sent without an answer (an interrupted run): whether Kustomer holds them is not
    /// known, so the rollback refuses until a run has settled them.
    pub unsettled: u64,
}

impl RollbackPlan {
    /// Records the rollback will delete (itself or with their parent).
    pub fn to_delete(&self) -> u64 {
        self.kinds
            .iter()
            .filter(|k| !matches!(k.how, How::Stays(_)))
            .map(|k| k.created)
            .sum()
    }

    /// Created records that stay in Kustomer.
    pub fn staying(&self) -> impl Iterator<Item = (&KindPlan, &str)> {
        self.kinds.iter().filter_map(|k| match &k.how {
            How::Stays(why) if k.created > 0 => Some((k, why.as_str())),
            _ => None,
        })
    }

    /// The plan in short, for a question on a screen: what goes, by type, and how many records
    /// stay (their kinds are in MANUAL.md and `i2k rollback`'s listing).
    pub fn render_short(&self) -> String {
        let full = self.render();
        let goes = full
            .split("Cannot delete through")
            .next()
            .unwrap_or_default()
            .trim_end()
            .to_string();
        let stays: u64 = self.staying().map(|(k, _)| k.created).sum();
        if stays == 0 {
            goes
        } else {
            format!(
                "{goes}\n{stays} created records of kinds Kustomer cannot delete stay (MANUAL.md lists them)."
            )
        }
    }

    /// The plan as text: what goes, by type, and what stays.
    pub fn render(&self) -> String {
        let mut out = String::from("Will delete from Kustomer (created by this migration):\n");
        let going = self.kinds.iter().filter(|k| k.created > 0).filter_map(|k| {
            let how = match &k.how {
                How::Bulk => "bulk delete".to_string(),
                How::Single => "one delete each".to_string(),
                How::WithParent(p) => format!("deleted with their {p}"),
                How::Stays(_) => return None,
            };
            Some(format!(
                "  {:<24} {:>8}  {how}\n",
                k.kind.as_str(),
                k.created
            ))
        });
        out.push_str(&lines_or(going, "  (nothing)\n"));
        let staying: Vec<_> = self.staying().collect();
        if !staying.is_empty() {
            out.push_str("Cannot delete through Kustomer's API (stays; listed in MANUAL.md):\n");
            for (k, why) in staying {
                out.push_str(&format!(
                    "  {:<24} {:>8}  {why}\n",
                    k.kind.as_str(),
                    k.created
                ));
            }
        }
        out.push_str(
            "Matched records (users by e-mail, existing tags, adopted records) are never touched.\n",
        );
        out
    }
}

/// A record the rollback left in Kustomer although the ledger says i2k created it.
#[derive(Debug, Clone, Serialize)]
pub struct LeftRecord {
    pub kind: String,
    pub source_id: String,
    pub target_id: String,
    pub why: String,
}

/// What a rollback did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RollbackOutcome {
    /// Records deleted (or found already gone), by kind, children included.
    pub deleted: BTreeMap<String, u64>,
    /// Records left because Kustomer's copy is not the ledger's (externalId differs) or a
    /// delete was refused.
    pub left: Vec<LeftRecord>,
    /// Created records Kustomer's API cannot delete, by kind.
    pub staying: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("Kustomer refused a rollback request for {kind} {source_id}: {source}")]
    Kustomer {
        kind: String,
        source_id: String,
        #[source]
        source: Box<KustomerError>,
    },
    #[error(
        "{0} record(s) were sent to Kustomer without an answer (a run was interrupted): run `i2k run` to settle them, then roll back"
    )]
    Unsettled(u64),
    #[error("cannot write {path}: {message}")]
    Manual { path: String, message: String },
}

/// The phases backwards: what depends on others goes first.
fn reverse_order() -> impl Iterator<Item = &'static KindRow> {
    PhaseId::ALL.into_iter().rev().flat_map(|phase| {
        CATALOG
            .iter()
            .rev()
            .filter(move |r| r.phase == Some(phase) && r.kind == r.target)
    })
}

/// Whether i2k creates records of the kind in Kustomer.
fn creates(row: &KindRow) -> bool {
    matches!(
        row.write,
        Write::Single | Write::Bulk(_) | Write::FireAndForget | Write::IdempotentPut
    )
}

/// How a kind's created records leave Kustomer, by the catalog's delete column.
pub fn how(row: &KindRow) -> How {
    if let Some(parent) = row.parent
        && matches!(
            row_of(parent).delete,
            Delete::SingleDelete | Delete::BulkDelete
        )
        && deletable(row_of(parent)).is_some()
    {
        return How::WithParent(parent);
    }
    if deletable(row).is_none() {
        return How::Stays(stays_because(row));
    }
    match row.delete {
        Delete::BulkDelete => How::Bulk,
        _ => How::Single,
    }
}

/// The delete route of a kind's records and how its identity is checked, when rollback deletes
/// them: by externalId (customers, conversations, kobjects) or unique name (klasses).
fn deletable(row: &KindRow) -> Option<Identity> {
    match (row.kind, row.delete) {
        (Kind::Contacts | Kind::Conversations, Delete::BulkDelete | Delete::SingleDelete) => {
            Some(Identity::ExternalId)
        }
        (_, Delete::BulkDelete)
            if matches!(
                row.write,
                Write::Bulk(BulkTo::KObjects(_) | BulkTo::TicketKlass)
            ) =>
        {
            Some(Identity::ExternalId)
        }
        (Kind::Klasses | Kind::TicketTypes, Delete::SingleDelete) => Some(Identity::KlassName),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identity {
    ExternalId,
    KlassName,
}

fn stays_because(row: &KindRow) -> String {
    match (row.kind, row.delete) {
        (Kind::OfficeHoursSchedules, _) => {
            "Kustomer deletes schedules softly and they carry no externalId to prove them this migration's: delete in Settings › Business Schedules if unwanted".into()
        }
        (_, Delete::SoftDeletePut) => {
            "no delete route (only a soft delete by update): archive them in the KB editor".into()
        }
        (Kind::DataEvents, _) => "tracking events cannot be listed or deleted".into(),
        (Kind::AttachmentUploads | Kind::InlineImageUploads, _) => {
            "Kustomer has no route to delete an uploaded file; unreferenced, it harms nothing".into()
        }
        _ => "Kustomer publishes no delete route for them: delete by hand if unwanted".into(),
    }
}

/// The plan: per kind i2k creates, how many records it created and how they go.
pub fn plan(ledger: &Ledger) -> Result<RollbackPlan, LedgerError> {
    let counts = ledger.read(|r| r.counts_by_kind())?;
    let unsettled = counts.values().map(|c| c.get(RecordState::Sent)).sum();
    let mut kinds = Vec::new();
    for row in reverse_order().filter(|r| creates(r)) {
        let created = ledger.read(|r| r.created_count(row.kind.as_str()))?;
        kinds.push(KindPlan {
            kind: row.kind,
            created,
            how: how(row),
        });
    }
    Ok(RollbackPlan { kinds, unsettled })
}

/// Runs the rollback. `progress` hears one line per kind done.
pub async fn rollback(
    ledger: &Ledger,
    kustomer: &KustomerClient,
    mut progress: impl FnMut(&str),
) -> Result<RollbackOutcome, RollbackError> {
    let plan = plan(ledger)?;
    if plan.unsettled > 0 {
        return Err(RollbackError::Unsettled(plan.unsettled));
    }
    let run_id = ledger.start_run("rollback").await?;
    let mut out = RollbackOutcome::default();
    let poll = PollPolicy::default();
    for k in &plan.kinds {
        let row = row_of(k.kind);
        match &k.how {
            How::Stays(_) => {
                if k.created > 0 {
                    out.staying.insert(k.kind.as_str().to_string(), k.created);
                }
                continue;
            }
            How::WithParent(_) => continue,
            How::Bulk | How::Single => {}
        }
        let mut after: Option<String> = None;
        loop {
            let page = ledger
                .read(|r| r.listed(Listed::Created, k.kind.as_str(), after.as_deref(), PAGE))?;
            let Some(last) = page.last() else { break };
            after = Some(last.source_id.clone());
            let mut doomed: HashMap<Option<BulkResource>, Vec<(WorkItem, String)>> = HashMap::new();
            for item in page {
                let Some(target_id) = item.target_id.clone() else {
                    continue;
                };
                let Some(what) = deletable_of(row, &item) else {
                    out.left
                        .push(left(&item, &target_id, "its klass is not known"));
                    continue;
                };
                let found = kustomer
                    .fetch(&what, &target_id)
                    .await
                    .map_err(|e| refused(&item, e))?;
                let Some(record) = found else {
                    // Gone already: a rollback killed after its delete, or deleted by hand.
                    forget(ledger, &item, &mut out)?;
                    continue;
                };
                let expected = expected_identity(row, &item);
                let seen = match deletable(row) {
                    Some(Identity::KlassName) => record.str("name"),
                    _ => record.external_id(),
                };
                if seen != Some(expected.as_str()) {
                    out.left.push(left(
                        &item,
                        &target_id,
                        &format!(
                            "its {} in Kustomer is {} where the ledger expects {expected}: not this migration's record",
                            if deletable(row) == Some(Identity::KlassName) { "name" } else { "externalId" },
                            seen.unwrap_or("(none)")
                        ),
                    ));
                    continue;
                }
                if k.how == How::Single {
                    match kustomer.delete_one(&what, &target_id).await {
                        Ok(()) => forget(ledger, &item, &mut out)?,
                        Err(KustomerError::Api(e)) if e.status() == Some(400) => out
                            .left
                            .push(left(&item, &target_id, &format!("Kustomer refused: {e}"))),
                        Err(e) => return Err(refused(&item, e)),
                    }
                } else {
                    let resource = bulk_resource(k.kind, item.raw.as_deref()).map(|(r, _)| r);
                    doomed.entry(resource).or_default().push((item, target_id));
                }
            }
            for (resource, items) in doomed {
                let Some(resource) = resource else { continue };
                let ids: Vec<String> = items.iter().map(|(_, id)| id.clone()).collect();
                let deleted = kustomer
                    .bulk_delete(&resource, &ids, &poll)
                    .await
                    .map_err(|e| refused(&items[0].0, e))?;
                for (item, target_id) in items {
                    let what = deletable_of(row, &item).unwrap_or(Deletable::Customer);
                    let gone = deleted.contains(&target_id)
                        || kustomer
                            .fetch(&what, &target_id)
                            .await
                            .map_err(|e| refused(&item, e))?
                            .is_none();
                    if gone {
                        forget(ledger, &item, &mut out)?;
                    } else {
                        out.left
                            .push(left(&item, &target_id, "the bulk delete did not delete it"));
                    }
                }
            }
        }
        progress(&format!(
            "{}: {} deleted",
            k.kind.as_str(),
            out.deleted.get(k.kind.as_str()).copied().unwrap_or(0)
        ));
    }
    reapply_updates(ledger, &out).await?;
    ledger.flush().await?;
    append_manual(ledger.dir(), &plan, &out)?;
    let figures = serde_json::to_value(&out).unwrap_or_default();
    ledger.finish_run(run_id, "rolled_back", &figures).await?;
    Ok(out)
}

/// The delete route of one record of `row`'s kind.
fn deletable_of(row: &KindRow, item: &WorkItem) -> Option<Deletable> {
    Some(match row.kind {
        Kind::Contacts => Deletable::Customer,
        Kind::Conversations => Deletable::Conversation,
        Kind::Klasses | Kind::TicketTypes => Deletable::Klass,
        kind => match bulk_resource(kind, item.raw.as_deref())? {
            (BulkResource::KObjects(klass), _) => Deletable::KObject(klass),
            _ => return None,
        },
    })
}

/// What the record's Kustomer copy must say to be this migration's: its externalId (the
/// Intercom id), or for a klass its name.
fn expected_identity(row: &KindRow, item: &WorkItem) -> String {
    match row.kind {
        Kind::TicketTypes => ticket_klass_name(&item.source_id),
        _ => item.source_id.clone(),
    }
}

fn left(item: &WorkItem, target_id: &str, why: &str) -> LeftRecord {
    LeftRecord {
        kind: item.kind.clone(),
        source_id: item.source_id.clone(),
        target_id: target_id.to_string(),
        why: why.to_string(),
    }
}

fn refused(item: &WorkItem, source: KustomerError) -> RollbackError {
    RollbackError::Kustomer {
        kind: item.kind.clone(),
        source_id: item.source_id.clone(),
        source: Box::new(source),
    }
}

/// Marks a deleted record, and the records that hang under it and went with it, back to
/// `pending` in one ledger write.
fn forget(ledger: &Ledger, item: &WorkItem, out: &mut RollbackOutcome) -> Result<(), LedgerError> {
    let mut records = vec![(item.kind.clone(), item.source_id.clone())];
    let parent = row_of(item.kind.parse().unwrap_or(Kind::Admins)).kind;
    for child in CATALOG.iter().filter(|r| r.parent == Some(parent)) {
        let ids: Vec<String> = match child.source {
            Source::Within(_) => ledger
                .read(|r| r.children(child.kind.as_str(), &item.source_id))?
                .into_iter()
                .map(|s| s.source_id)
                .collect(),
            _ => vec![item.source_id.clone()],
        };
        for id in ids {
            let done = ledger
                .read(|r| r.record(child.kind.as_str(), &id))?
                .is_some_and(|w| w.state == RecordState::Done);
            if done {
                records.push((child.kind.as_str().to_string(), id));
            }
        }
    }
    for (kind, _) in &records {
        *out.deleted.entry(kind.clone()).or_default() += 1;
    }
    ledger.mark_rolled_back(records)
}

/// Bulk updates applied to records a rollback deleted (segment membership tags on customers)
/// must be applied again to the records the next run creates: their done rows go back to
/// `pending` too (re-applying one to a record that stayed is harmless).
async fn reapply_updates(ledger: &Ledger, out: &RollbackOutcome) -> Result<(), LedgerError> {
    for row in CATALOG.iter() {
        let Write::BulkUpdate(to) = row.write else {
            continue;
        };
        let updated_kind = CATALOG
            .iter()
            .find(|r| matches!(r.write, Write::Bulk(b) if b == to))
            .map(|r| r.kind.as_str());
        // Updates that hang under a deleted record went with it (`forget`).
        if updated_kind.is_none_or(|k| !out.deleted.contains_key(k))
            || matches!(how(row), How::WithParent(_))
        {
            continue;
        }
        let mut after: Option<String> = None;
        loop {
            let page = ledger.read(|r| {
                r.next_batch(
                    row.kind.as_str(),
                    &[RecordState::Done],
                    after.as_deref(),
                    PAGE,
                )
            })?;
            let Some(last) = page.last() else { break };
            after = Some(last.source_id.clone());
            ledger.reset_to_pending(page.into_iter().map(|w| (w.kind, w.source_id)).collect())?;
        }
    }
    Ok(())
}

/// The `lines` one after another, or `none` when there are none.
fn lines_or(lines: impl Iterator<Item = String>, none: &str) -> String {
    let text: String = lines.collect();
    if text.is_empty() {
        none.to_string()
    } else {
        text
    }
}

/// Appends what stayed in Kustomer (and what was left) to `MANUAL.md`.
fn append_manual(
    dir: &Path,
    plan: &RollbackPlan,
    out: &RollbackOutcome,
) -> Result<(), RollbackError> {
    let mut md = format!("{}\n", crate::engine::manual::ROLLBACK_HEADING);
    md.push_str("Created by this migration, but Kustomer's API cannot delete them:\n\n");
    let staying = plan
        .staying()
        .map(|(k, why)| format!("- [ ] **{}** ({}): {why}\n", k.kind.as_str(), k.created));
    md.push_str(&lines_or(staying, "- nothing\n"));
    if !out.left.is_empty() {
        md.push_str(
            "\nLeft because Kustomer's record is not the ledger's, or the delete was refused:\n\n",
        );
        for l in &out.left {
            md.push_str(&format!(
                "- [ ] {} {} (Kustomer id {}): {}\n",
                l.kind, l.source_id, l.target_id, l.why
            ));
        }
    }
    let path = dir.join(MANUAL_FILE);
    let manual = |e: String| RollbackError::Manual {
        path: path.display().to_string(),
        message: e,
    };
    let mut f = create_private_file(&path, false).map_err(|e| manual(e.to_string()))?;
    f.write_all(md.as_bytes())
        .map_err(|e| manual(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependents_go_before_what_they_depend_on() {
        let order: Vec<Kind> = reverse_order().map(|r| r.kind).collect();
        let at = |k: Kind| order.iter().position(|o| *o == k).unwrap();
        assert!(at(Kind::Tickets) < at(Kind::TicketTypes));
        assert!(at(Kind::ContactNotes) < at(Kind::Klasses));
        assert!(at(Kind::Conversations) < at(Kind::Contacts));
    }

    #[test]
    fn only_published_deletes_are_planned_and_children_go_with_their_conversation() {
        assert_eq!(how(row_of(Kind::Contacts)), How::Bulk);
        assert_eq!(how(row_of(Kind::Tickets)), How::Bulk);
        assert_eq!(how(row_of(Kind::Conversations)), How::Single);
        assert_eq!(how(row_of(Kind::Klasses)), How::Single);
        assert_eq!(
            how(row_of(Kind::ConversationParts)),
            How::WithParent(Kind::Conversations)
        );
        assert_eq!(
            how(row_of(Kind::TimelineNotes)),
            How::WithParent(Kind::Conversations)
        );
        for kind in [
            Kind::Companies,
            Kind::Tags,
            Kind::Teams,
            Kind::Brands,
            Kind::Articles,
            Kind::DataAttributes,
            Kind::Macros,
            Kind::OfficeHoursSchedules,
        ] {
            assert!(matches!(how(row_of(kind)), How::Stays(_)), "{kind}");
        }
    }
}
