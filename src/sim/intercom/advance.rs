//! `POST /__sim/advance`: the workspace moves forward in time, as a real one does between a full
//! migration and cutover day — new contacts and conversations, replies on old conversations,
//! edited contacts and companies, conversations closed, reopened, snoozed or reassigned, and
//! records deleted. Every change is stamped now (`updated_at`), so an incremental extraction
//! finds it; the answer lists the ids each change touched, and `/__sim/truth` counts follow.
//!
//! Each conversation takes at most one change of an advance, so what a delta run must carry is
//! exactly the answer. The choice is deterministic: the workspace's seed, the advance's `seed`
//! and how many advances came before.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Shared;
use super::generate::{self as g, ConversationState, LaterKind, Workspace};
use super::routes::{Refusal, ok, parse_body};
use crate::rng::Rng;

/// The amounts an advance takes, by the name it is given in the body and in the answer.
pub const AMOUNTS: [&str; 13] = [
    "new_contacts",
    "new_conversations",
    "replies",
    "edited_contacts",
    "edited_companies",
    "closed",
    "reopened",
    "snoozed",
    "reassigned",
    "deleted_contacts",
    "deleted_conversations",
    "edited_articles",
    "retagged",
];

/// How many of each change an advance makes (the body of `POST /__sim/advance`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Amounts {
    pub seed: u64,
    pub counts: [usize; AMOUNTS.len()],
}

impl Amounts {
    /// Reads the body: `seed` and any of [`AMOUNTS`] as whole numbers; anything else is refused,
    /// naming it, so a misspelt amount never advances nothing silently.
    pub fn parse(body: &Value) -> Result<Amounts, String> {
        let fields = body
            .as_object()
            .ok_or("the body must be a JSON object of amounts")?;
        let mut amounts = Amounts::default();
        for (key, value) in fields {
            let n = value
                .as_u64()
                .ok_or_else(|| format!("{key} must be a whole number, not {value}"))?;
            if key == "seed" {
                amounts.seed = n;
            } else if let Some(k) = AMOUNTS.iter().position(|a| a == key) {
                amounts.counts[k] = n as usize;
            } else {
                return Err(format!(
                    "unknown amount {key}: give seed and any of {}",
                    AMOUNTS.join(", ")
                ));
            }
        }
        Ok(amounts)
    }

    fn get(&self, name: &str) -> usize {
        AMOUNTS
            .iter()
            .position(|a| *a == name)
            .map_or(0, |k| self.counts[k])
    }
}

/// One advance made: its place among the workspace's touches and advances, when, and what it
/// asked for — enough to make it again on a saved workspace (`SavedWorkspace`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Advance {
    pub seq: usize,
    pub at: i64,
    pub amounts: Amounts,
}

/// `POST /__sim/advance {"seed": 7, "new_contacts": 5, "replies": 3, …}`.
pub(super) async fn advance(
    State(st): State<Shared>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let amounts = match parse_body(body)
        .and_then(|b| Amounts::parse(&b).map_err(|e| Refusal::new("parameter_invalid", e)))
    {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let now = crate::timefmt::now_unix();
    let mut ws = st.workspace_mut();
    let changes = apply(&mut ws, &amounts, now);
    ok(json!({"at": now, "changes": changes}))
}

/// Makes the changes `amounts` asks for at time `now`; returns the ids each touched, by amount.
pub fn apply(ws: &mut Workspace, amounts: &Amounts, now: i64) -> Map<String, Value> {
    ws.advances.push(Advance {
        seq: ws.changes(),
        at: now,
        amounts: *amounts,
    });
    let mut rng = Rng::derive(
        ws.seed,
        &[
            "advance",
            &amounts.seed.to_string(),
            &ws.advances.len().to_string(),
        ],
    );
    let mut changes = Map::new();
    // The records a change touched, by their Intercom ids.
    let mut put = |name: &str, chosen: &[usize], id: fn(usize) -> String| {
        let ids: Vec<String> = chosen.iter().map(|i| id(*i)).collect();
        changes.insert(name.to_string(), json!(ids));
    };
    // Conversations take one change each; contacts and companies likewise.
    let mut taken: HashSet<usize> = HashSet::new();
    let mut contacts_taken: HashSet<usize> = HashSet::new();

    let edited = pick(
        &mut rng,
        amounts.get("edited_contacts"),
        live_contacts(ws).collect(),
    );
    for &c in &edited {
        let contact = &mut ws.contacts[c];
        contact.revision += 1;
        contact.updated_at = now;
        contacts_taken.insert(c);
    }
    put("edited_contacts", &edited, g::contact_id);

    let companies = pick(
        &mut rng,
        amounts.get("edited_companies"),
        (0..ws.companies.len()).collect(),
    );
    for &c in &companies {
        ws.companies[c].revision += 1;
        ws.companies[c].updated_at = now;
    }
    put("edited_companies", &companies, g::company_id);

    // An edited article gains a version (its new content) stamped now.
    let articles = pick(
        &mut rng,
        amounts.get("edited_articles"),
        (0..ws.article_versions.len())
            .filter(|a| u64::from(ws.article_versions[*a]) + 1 < g::VERSIONS_STRIDE)
            .collect(),
    );
    for &a in &articles {
        let base = ws.article_edits[a].map_or(ws.article_versions[a], |(base, _)| base);
        ws.article_versions[a] += 1;
        ws.article_edits[a] = Some((base, now));
    }
    put("edited_articles", &articles, |a| {
        (g::ARTICLE_ID_BASE + a as u64).to_string()
    });

    let conversation_changes: [(&str, Fits); 5] = [
        ("replies", |_| true),
        ("closed", |c| c.state != ConversationState::Closed),
        ("reopened", |c| c.state == ConversationState::Closed),
        ("snoozed", |c| c.state == ConversationState::Open),
        ("reassigned", |_| true),
    ];
    for (name, fits) in conversation_changes {
        let candidates = untaken_conversations(ws, &taken)
            .filter(|i| fits(&ws.conversations[*i]))
            .collect();
        let chosen = pick(&mut rng, amounts.get(name), candidates);
        for &i in &chosen {
            taken.insert(i);
            let admins = ws.sizes.admins as u64;
            let conversation = &mut ws.conversations[i];
            match name {
                "replies" => {
                    conversation.append(now, LaterKind::ContactReply);
                    if rng.chance(0.5) {
                        conversation.append(now, LaterKind::AdminReply);
                    }
                }
                "closed" => conversation.append(now, LaterKind::Close),
                "reopened" => conversation.append(now, LaterKind::Reopen),
                "snoozed" => conversation.append(now, LaterKind::Snooze),
                _ => {
                    // Another admin than today's (the first when nobody was assigned).
                    let current = conversation.admin_assignee.map_or(u64::MAX, u64::from);
                    let shift = rng.range(1, admins.max(2));
                    let next = if current == u64::MAX {
                        0
                    } else {
                        (current + shift) % admins.max(1)
                    };
                    conversation.append(now, LaterKind::Assignment(next as u16));
                }
            }
        }
        put(name, &chosen, conversation_id);
    }

    // A tag added, stamped now (Intercom adds no part for it).
    let retagged = pick(
        &mut rng,
        amounts.get("retagged"),
        untaken_conversations(ws, &taken).collect(),
    );
    for &i in &retagged {
        taken.insert(i);
        let conversation = &mut ws.conversations[i];
        conversation.retags += 1;
        conversation.updated_at = conversation.updated_at.max(now);
    }
    put("retagged", &retagged, conversation_id);

    let gone = pick(
        &mut rng,
        amounts.get("deleted_conversations"),
        untaken_conversations(ws, &taken).collect(),
    );
    for &i in &gone {
        ws.conversations[i].deleted = true;
    }
    put("deleted_conversations", &gone, conversation_id);

    // A contact is deleted only where nothing else refers to it: no conversation (live or
    // not), no ticket, and no other change of this advance.
    let referred: HashSet<usize> = ws
        .conversations
        .iter()
        .map(|c| c.contact as usize)
        .chain((0..ws.sizes.tickets).map(|t| super::render::ticket_contact(ws, t)))
        .collect();
    let deletable = live_contacts(ws)
        .filter(|c| !referred.contains(c) && !contacts_taken.contains(c))
        .collect();
    let deleted = pick(&mut rng, amounts.get("deleted_contacts"), deletable);
    for &c in &deleted {
        ws.contacts[c].deleted = true;
        let companies = ws.contacts[c].companies.clone();
        for co in companies {
            ws.company_contacts[co as usize].retain(|m| *m as usize != c);
        }
        for members in &mut ws.segment_members {
            members.retain(|m| *m as usize != c);
        }
    }
    put("deleted_contacts", &deleted, g::contact_id);

    let mut new_contacts = Vec::new();
    for _ in 0..amounts.get("new_contacts") {
        let i = ws.contacts.len();
        let contact = g::contact_index(&ws.sizes, i, now, now, &mut rng);
        for &co in &contact.companies {
            ws.company_contacts[co as usize].push(i as u32);
        }
        for (s, members) in ws.segment_members.iter_mut().enumerate() {
            if g::segment_contains(i as u32, s) {
                members.push(i as u32);
            }
        }
        ws.contacts.push(contact);
        new_contacts.push(i);
    }
    put("new_contacts", &new_contacts, g::contact_id);

    let mut new_conversations = Vec::new();
    for _ in 0..amounts.get("new_conversations") {
        let i = ws.conversations.len();
        let mut conversation = g::conversation_index(&ws.sizes, i, now - 3_600, now, &mut rng);
        // With a contact that still exists.
        if ws.contacts[conversation.contact as usize].deleted {
            conversation.contact = live_contacts(ws).next().unwrap_or(0) as u32;
        }
        ws.conversations.push(conversation);
        new_conversations.push(i);
    }
    put("new_conversations", &new_conversations, conversation_id);
    changes
}

/// Whether a conversation is one a change can be made to (only closed ones reopen, …).
type Fits = fn(&g::ConversationIndex) -> bool;

fn conversation_id(i: usize) -> String {
    (g::CONVERSATION_ID_BASE + i as u64).to_string()
}

fn live_contacts(ws: &Workspace) -> impl Iterator<Item = usize> + '_ {
    (0..ws.contacts.len()).filter(|c| !ws.contacts[*c].deleted)
}

fn live_conversations(ws: &Workspace) -> impl Iterator<Item = usize> + '_ {
    (0..ws.conversations.len()).filter(|c| !ws.conversations[*c].deleted)
}

/// The live conversations no change of this advance has taken yet.
fn untaken_conversations<'a>(
    ws: &'a Workspace,
    taken: &'a HashSet<usize>,
) -> impl Iterator<Item = usize> + 'a {
    live_conversations(ws).filter(|i| !taken.contains(i))
}

/// `n` of `candidates` (all of them when fewer), in index order.
fn pick(rng: &mut Rng, n: usize, candidates: Vec<usize>) -> Vec<usize> {
    let mut chosen: Vec<usize> = super::truth::pick_distinct(rng, n, candidates.len())
        .into_iter()
        .map(|k| candidates[k])
        .collect();
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SizePreset;

    fn workspace() -> Workspace {
        Workspace::generate(42, SizePreset::Tiny, 1_700_000_000)
    }

    fn ids(changes: &Map<String, Value>, name: &str) -> Vec<String> {
        serde_json::from_value(changes[name].clone()).unwrap()
    }

    #[test]
    fn an_unknown_amount_is_refused_by_name() {
        let err = Amounts::parse(&json!({"new_contact": 1})).unwrap_err();
        assert!(err.contains("unknown amount new_contact"), "{err}");
        let err = Amounts::parse(&json!({"replies": -1})).unwrap_err();
        assert!(err.contains("replies must be a whole number"), "{err}");
        let a = Amounts::parse(&json!({"seed": 3, "replies": 2})).unwrap();
        assert_eq!((a.seed, a.get("replies")), (3, 2));
    }

    #[test]
    fn each_change_is_made_once_on_records_it_fits() {
        let mut ws = workspace();
        let before_contacts = ws.live_contacts().count();
        let before_conversations = ws.live_conversations().count();
        let before_parts = ws.total_parts();
        let amounts = Amounts::parse(&json!({
            "seed": 1, "new_contacts": 2, "new_conversations": 3, "replies": 4,
            "edited_contacts": 2, "edited_companies": 1, "closed": 2, "reopened": 1,
            "snoozed": 1, "reassigned": 2, "deleted_contacts": 1, "deleted_conversations": 1,
        }))
        .unwrap();
        let now = 1_800_000_000;
        let closed_before: Vec<bool> = ws
            .conversations
            .iter()
            .map(|c| c.state == ConversationState::Closed)
            .collect();
        let changes = apply(&mut ws, &amounts, now);
        for name in AMOUNTS {
            assert_eq!(ids(&changes, name).len(), amounts.get(name), "{name}");
        }
        // No conversation took two changes.
        let touched: Vec<String> = ["replies", "closed", "reopened", "snoozed", "reassigned"]
            .iter()
            .flat_map(|n| ids(&changes, n))
            .chain(ids(&changes, "deleted_conversations"))
            .collect();
        let distinct: HashSet<&String> = touched.iter().collect();
        assert_eq!(distinct.len(), touched.len());
        for id in ids(&changes, "closed") {
            let i = g::parse_numeric(&id, g::CONVERSATION_ID_BASE, ws.conversations.len()).unwrap();
            assert!(!closed_before[i]);
            let c = &ws.conversations[i];
            assert_eq!((c.state, c.updated_at), (ConversationState::Closed, now));
            assert_eq!(c.later.last().map(|p| p.kind), Some(LaterKind::Close));
        }
        for id in ids(&changes, "reopened") {
            let i = g::parse_numeric(&id, g::CONVERSATION_ID_BASE, ws.conversations.len()).unwrap();
            assert!(closed_before[i]);
            assert_eq!(ws.conversations[i].state, ConversationState::Open);
        }
        assert_eq!(ws.live_contacts().count(), before_contacts + 2 - 1);
        assert_eq!(
            ws.live_conversations().count(),
            before_conversations + 3 - 1
        );
        assert!(ws.total_parts() > before_parts);
        // The edited contact has another name, the same e-mail address.
        let edited = g::parse_contact_id(&ids(&changes, "edited_contacts")[0]).unwrap();
        let fresh = workspace();
        let (name, email) = super::super::render::contact_identity(&ws, edited);
        let (old_name, old_email) = super::super::render::contact_identity(&fresh, edited);
        assert_ne!(name, old_name);
        assert_eq!(email, old_email);
        // A second advance with the same seed makes other choices (it comes later).
        let again = apply(&mut ws, &amounts, now + 60);
        assert_ne!(ids(&again, "new_contacts"), ids(&changes, "new_contacts"));
    }
}
