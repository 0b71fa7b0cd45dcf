//! The sample run (`i2k run --sample N`, the Scope screen's `n`): N conversations chosen from
//! the staged ones to cover every channel, state and part type present, greedily and
//! deterministically, then filled to N by recency; with the records they touch (their
//! customers and those customers' companies and tags, the admins and teams they name, their
//! tags, messages, notes, files and final state) and the workspace set-up every load needs
//! (brands, schedules, attribute metadata). The run limits its ledger to that
//! [`Selection`]; everything else stays pending for a later full run, which carries the rest by
//! the same write path (externalId), never twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::engine::kinds::CATALOG;
use crate::intercom::models::{Contact, Conversation, ConversationPart};
use crate::ledger::{Ledger, LedgerError, LedgerReader, Selection};
use crate::vocab::{Kind, PhaseId};

/// The key of a run's recorded figures that holds its sample (the conversations it took).
pub const SAMPLE_FIGURE: &str = "sample";
/// Why a conversation that covers nothing new was taken.
pub const BY_RECENCY: &str = "recent (fills the sample)";
/// Staged conversations read at a time while choosing.
const PAGE: usize = 500;

/// One conversation a sample took, and why: the channel, state and part types it was the
/// first to cover (or [`BY_RECENCY`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampledConversation {
    /// The Intercom conversation id.
    pub id: String,
    pub covers: Vec<String>,
}

/// A chosen sample: the conversations, the records the run may take up, and what no
/// conversation of the sample covers (N too small for every channel, state and part type).
#[derive(Debug, Clone)]
pub struct Sample {
    pub conversations: Vec<SampledConversation>,
    pub selection: Selection,
    pub uncovered: Vec<String>,
}

/// Why a sample cannot be chosen.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("--sample must be at least 1 (the number of conversations the sample carries)")]
    Zero,
    #[error(
        "nothing to sample: the ledger holds no extracted conversations. Run `i2k extract --state DIR` (or a full `i2k run`) first, then `i2k run --sample N`"
    )]
    NothingExtracted,
    #[error("cannot read the staged conversations from the ledger: {0}")]
    Ledger(#[from] LedgerError),
}

/// What one staged conversation shows: its channel, its state and its part types.
#[derive(Debug, Clone)]
struct Staged {
    id: String,
    updated_at: i64,
    features: BTreeSet<String>,
}

impl Staged {
    /// Most recent first, then by id: the order every tie is broken in.
    fn rank(&self) -> (i64, &str) {
        (self.updated_at, self.id.as_str())
    }
}

/// Chooses a sample of `n` conversations from those staged in `ledger` (see the module head).
/// Reads the staged conversations once, keeping in memory only, per channel, state and part
/// type, the most recent conversation showing it and the `n` most recent overall.
pub fn choose(ledger: &Ledger, n: usize) -> Result<Sample, SampleError> {
    if n == 0 {
        return Err(SampleError::Zero);
    }
    let conversations = Kind::Conversations.as_str();
    let mut best: BTreeMap<String, Staged> = BTreeMap::new();
    let mut recent: Vec<Staged> = Vec::new();
    let mut after: Option<String> = None;
    let mut any = false;
    loop {
        let page = ledger.read(|r| {
            r.sources_page(conversations, after.as_deref(), PAGE)?
                .into_iter()
                .map(|record| staged(r, &record.source_id, &record.raw, record.updated_at))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        any = true;
        for s in page {
            for feature in &s.features {
                let better = best.get(feature).is_none_or(|b| s.rank() > b.rank());
                if better {
                    best.insert(feature.clone(), s.clone());
                }
            }
            recent.push(s);
            if recent.len() > n {
                recent.sort_by(|a, b| b.rank().cmp(&a.rank()));
                recent.truncate(n);
            }
        }
    }
    if !any {
        return Err(SampleError::NothingExtracted);
    }
    let (chosen, uncovered) = cover(best, recent, n);
    let selection = ledger.read(|r| selection_of(r, &chosen))?;
    Ok(Sample {
        conversations: chosen,
        selection,
        uncovered,
    })
}

/// The greedy cover: from `best` (per feature, the most recent conversation showing it) and
/// `recent` (the `n` most recent), each next pick the conversation showing most features not
/// yet covered (the most recent on a tie), until all are covered or `n` are picked; then the
/// most recent fill to `n`. Returns the picks and the features left uncovered.
fn cover(
    best: BTreeMap<String, Staged>,
    mut recent: Vec<Staged>,
    n: usize,
) -> (Vec<SampledConversation>, Vec<String>) {
    recent.sort_by(|a, b| b.rank().cmp(&a.rank()));
    let mut candidates: HashMap<String, Staged> = HashMap::new();
    for s in best.values().chain(&recent) {
        candidates.insert(s.id.clone(), s.clone());
    }
    let mut uncovered: BTreeSet<String> = best.keys().cloned().collect();
    let mut chosen: Vec<SampledConversation> = Vec::new();
    while chosen.len() < n && !uncovered.is_empty() {
        let Some(pick) = candidates
            .values()
            .max_by(|a, b| {
                let gain = |s: &Staged| s.features.intersection(&uncovered).count();
                gain(a).cmp(&gain(b)).then_with(|| a.rank().cmp(&b.rank()))
            })
            .cloned()
        else {
            break;
        };
        let covers: Vec<String> = pick.features.intersection(&uncovered).cloned().collect();
        if covers.is_empty() {
            break;
        }
        for c in &covers {
            uncovered.remove(c);
        }
        candidates.remove(&pick.id);
        chosen.push(SampledConversation {
            id: pick.id,
            covers,
        });
    }
    for s in &recent {
        if chosen.len() >= n {
            break;
        }
        if !chosen.iter().any(|c| c.id == s.id) {
            chosen.push(SampledConversation {
                id: s.id.clone(),
                covers: vec![BY_RECENCY.to_string()],
            });
        }
    }
    (chosen, uncovered.into_iter().collect())
}

/// A staged conversation's channel, state and part types, as the report names them.
fn staged(
    r: &LedgerReader,
    id: &str,
    raw: &str,
    updated_at: Option<i64>,
) -> Result<Staged, LedgerError> {
    let conversation: Conversation = serde_json::from_str(raw).unwrap_or_default();
    let mut features = BTreeSet::new();
    if let Some(channel) = conversation.source.as_ref().and_then(|s| s.kind.as_deref()) {
        features.insert(format!("channel {channel}"));
    }
    let state = match (&conversation.state, conversation.open) {
        (Some(state), _) => Some(state.as_str().to_string()),
        (None, Some(true)) => Some("open".to_string()),
        (None, Some(false)) => Some("closed".to_string()),
        (None, None) => None,
    };
    if let Some(state) = state {
        features.insert(format!("state {state}"));
    }
    for part in r.children(Kind::ConversationParts.as_str(), id)? {
        let part: ConversationPart = serde_json::from_str(&part.raw).unwrap_or_default();
        if let Some(part_type) = part.part_type {
            features.insert(format!("part {part_type}"));
        }
    }
    Ok(Staged {
        id: id.to_string(),
        updated_at: updated_at.or(conversation.updated_at).unwrap_or(0),
        features,
    })
}

/// The records a sample of `chosen` takes up: the set-up every load needs, the conversations,
/// what hangs on them, and the people, companies, teams and tags they name.
fn selection_of(
    r: &LedgerReader,
    chosen: &[SampledConversation],
) -> Result<Selection, LedgerError> {
    let mut selection = Selection::default();
    // The org's set-up, whole: brands, schedules, attribute metadata. Ticket types and the
    // klasses made for tickets, notes and events serve records a sample does not carry.
    for row in CATALOG.iter().filter(|row| {
        matches!(row.phase, Some(PhaseId::Prerequisites | PhaseId::Metadata))
            && !matches!(row.kind, Kind::TicketTypes | Kind::Klasses)
    }) {
        selection.take_whole(row.kind.as_str());
    }
    for c in chosen {
        let id = c.id.as_str();
        selection.take(Kind::Conversations.as_str(), id);
        for kind in [Kind::TimelineNotes, Kind::TruncationNotes] {
            selection.take(kind.as_str(), id);
        }
        for (kind, child) in crate::engine::load::conversations::dependants(r, id)? {
            selection.take(kind, &child);
        }
        let Some(record) = r.source(Kind::Conversations.as_str(), id)? else {
            continue;
        };
        let conversation: Conversation = serde_json::from_str(&record.raw).unwrap_or_default();
        let mut people: Vec<(Kind, String)> = Vec::new();
        let mut named = |kind: &str, id: Option<&crate::intercom::lenient::Id>| {
            let owner = match kind {
                "admin" => Kind::Admins,
                "team" => Kind::Teams,
                _ => return,
            };
            if let Some(id) = id {
                people.push((owner, id.as_str().to_string()));
            }
        };
        named("admin", conversation.admin_assignee_id.as_ref());
        named("team", conversation.team_assignee_id.as_ref());
        if let Some(author) = conversation.source.as_ref().and_then(|s| s.author.as_ref()) {
            named(author.kind.as_deref().unwrap_or(""), author.id.as_ref());
        }
        for part in r.children(Kind::ConversationParts.as_str(), id)? {
            let part: ConversationPart = serde_json::from_str(&part.raw).unwrap_or_default();
            if let Some(author) = &part.author {
                named(author.kind.as_deref().unwrap_or(""), author.id.as_ref());
            }
            if let Some(to) = &part.assigned_to {
                named(to.kind.as_deref().unwrap_or(""), to.id.as_ref());
            }
        }
        for (kind, person) in people {
            selection.take(kind.as_str(), &person);
        }
        for tag in conversation.tags.iter().flat_map(|l| &l.tags) {
            if let Some(tag) = &tag.id {
                selection.take(Kind::Tags.as_str(), tag.as_str());
            }
        }
        for contact in conversation.contacts.iter().flat_map(|l| &l.contacts) {
            if let Some(contact) = &contact.id {
                take_contact(r, contact.as_str(), &mut selection)?;
            }
        }
    }
    Ok(selection)
}

/// A conversation's contact, with the companies and tags its customer record links to.
fn take_contact(r: &LedgerReader, id: &str, selection: &mut Selection) -> Result<(), LedgerError> {
    selection.take(Kind::Contacts.as_str(), id);
    let Some(record) = r.source(Kind::Contacts.as_str(), id)? else {
        return Ok(());
    };
    let contact: Contact = serde_json::from_str(&record.raw).unwrap_or_default();
    let sub_list = |kind: Kind| -> Result<Option<Vec<serde_json::Value>>, LedgerError> {
        Ok(r.source(kind.as_str(), id)?
            .and_then(|s| serde_json::from_str::<Vec<serde_json::Value>>(&s.raw).ok()))
    };
    let companies = sub_list(Kind::ContactCompanies)?;
    for company in
        crate::mapping::customers::ids_of(contact.companies.as_ref(), companies.as_deref())
    {
        selection.take(Kind::Companies.as_str(), &company);
    }
    let tags = sub_list(Kind::ContactTags)?;
    for tag in crate::mapping::customers::ids_of(contact.tags.as_ref(), tags.as_deref()) {
        selection.take(Kind::Tags.as_str(), &tag);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(id: &str, updated_at: i64, features: &[&str]) -> Staged {
        Staged {
            id: id.to_string(),
            updated_at,
            features: features.iter().map(|f| f.to_string()).collect(),
        }
    }

    /// `cover` as `choose` feeds it: per feature the most recent showing it, the n most recent.
    fn choose_from(all: &[Staged], n: usize) -> (Vec<SampledConversation>, Vec<String>) {
        let mut best: BTreeMap<String, Staged> = BTreeMap::new();
        for s in all {
            for f in &s.features {
                if best.get(f).is_none_or(|b| s.rank() > b.rank()) {
                    best.insert(f.clone(), s.clone());
                }
            }
        }
        let mut recent = all.to_vec();
        recent.sort_by(|a, b| b.rank().cmp(&a.rank()));
        recent.truncate(n);
        cover(best, recent, n)
    }

    fn ids(chosen: &[SampledConversation]) -> Vec<&str> {
        chosen.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn the_fewest_conversations_cover_every_channel_state_and_part_type_then_recency_fills() {
        let all = [
            staged("1", 10, &["channel email", "state closed", "part note"]),
            staged("2", 50, &["channel chat", "state open"]),
            staged("3", 40, &["channel chat", "state snoozed", "part note"]),
            staged("4", 90, &["channel chat", "state open"]),
            staged("5", 80, &["channel email", "state closed"]),
        ];
        let (chosen, uncovered) = choose_from(&all, 4);
        assert!(uncovered.is_empty(), "{uncovered:?}");
        // 3 brings three new features; then 5, the most recent email and closed one (1 shows
        // as much but is older); then 4, the most recent open one; 2 fills the sample as the
        // most recent left.
        assert_eq!(ids(&chosen), ["3", "5", "4", "2"]);
        assert_eq!(
            chosen[0].covers,
            ["channel chat", "part note", "state snoozed"]
        );
        assert_eq!(chosen[1].covers, ["channel email", "state closed"]);
        assert_eq!(chosen[3].covers, [BY_RECENCY]);
        // The same staged conversations give the same sample.
        assert_eq!(choose_from(&all, 4).0, chosen);
    }

    #[test]
    fn too_small_a_sample_says_what_it_left_uncovered() {
        let all = [
            staged("1", 10, &["state closed"]),
            staged("2", 20, &["state open"]),
            staged("3", 30, &["state snoozed"]),
        ];
        let (chosen, uncovered) = choose_from(&all, 2);
        assert_eq!(ids(&chosen), ["3", "2"]);
        assert_eq!(uncovered, ["state closed"]);
    }
}
