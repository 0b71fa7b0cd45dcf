//! The simulator's own `/__sim/` routes: the ground truth of what exists, and touching records
//! so a delta run has changes to find.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::generate as g;
use super::routes::{ok, parse_body};

/// `GET /__sim/truth`: what exists, including what the API cannot return.
pub async fn truth(State(st): State<Shared>) -> Response {
    let ws = st.workspace();
    let s = ws.sizes;
    let versions: u64 = ws.article_versions.iter().map(|v| u64::from(*v)).sum();
    let translations: usize = ws.article_locales.iter().map(Vec::len).sum();
    ok(json!({"counts": {
        "admins": s.admins,
        "teams": s.teams,
        "tags": s.tags,
        "segments": s.segments,
        "data_attributes": s.contact_attributes + s.company_attributes
            + if ws.hostile.is_some() { super::hostile::COLLIDING_ATTRIBUTES.len() } else { 0 },
        "conversation_attributes": s.conversation_attributes,
        "companies": s.companies,
        "contacts": ws.live_contacts().count(),
        "contact_notes": ws.total_contact_notes(),
        "company_notes": ws.total_company_notes(),
        "collections": s.collections,
        "articles": s.articles,
        "article_versions": versions,
        "article_translations": translations,
        "conversations": ws.live_conversations().count(),
        "conversation_parts": ws.total_parts(),
        "attachments": ws.total_attachments(),
        "data_events": ws.total_events(),
        "tickets": s.tickets,
        "ticket_types": s.ticket_types,
        "brands": s.brands,
        "office_hours_schedules": s.schedules,
        "macros": s.macros,
        "activity_logs": super::activity_logs::count(&ws),
    },
    "hostile": ws.hostile.as_ref().map(|plan| plan.truth().iter().map(|p| p.to_json()).collect::<Vec<_>>()),
    }))
}

/// Picks `n` distinct indices below `total`, deterministically from `rng`.
pub(super) fn pick_distinct(rng: &mut crate::rng::Rng, n: usize, total: usize) -> Vec<usize> {
    let n = n.min(total);
    let mut out: Vec<usize> = Vec::with_capacity(n);
    while out.len() < n {
        let i = rng.range(0, total as u64) as usize;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// One `POST /__sim/touch`: when, and how many records of each type it bumped.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Touch {
    /// Its place among the workspace's touches and advances (set when it is made).
    #[serde(default)]
    pub seq: usize,
    pub at: i64,
    pub contacts: usize,
    pub conversations: usize,
    pub companies: usize,
}

impl Touch {
    /// Bumps `updated_at` of the records this touch picks (deterministically from the seed and
    /// the touches before it) and records it; the picked indices of contacts, conversations and
    /// companies.
    pub fn apply(self, ws: &mut g::Workspace) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let number = ws.touches.len() + 1;
        let mut rng = crate::rng::Rng::derive(ws.seed, &["touch", &number.to_string()]);
        let contacts = pick_distinct(&mut rng, self.contacts, ws.sizes.contacts);
        let conversations = pick_distinct(&mut rng, self.conversations, ws.sizes.conversations);
        let companies = pick_distinct(&mut rng, self.companies, ws.sizes.companies);
        for &i in &contacts {
            ws.contacts[i].updated_at = self.at;
        }
        for &i in &conversations {
            ws.conversations[i].updated_at = self.at;
        }
        for &i in &companies {
            ws.companies[i].updated_at = self.at;
        }
        ws.touches.push(Touch {
            seq: ws.changes(),
            ..self
        });
        (contacts, conversations, companies)
    }
}

/// `POST /__sim/touch {"contacts": N, "conversations": N, "companies": N}`: bumps `updated_at`
/// of N deterministically chosen records of each type to now and returns their ids.
pub async fn touch(State(st): State<Shared>, body: Result<Json<Value>, JsonRejection>) -> Response {
    let body = match parse_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let count = |k: &str| body.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
    let touch = Touch {
        seq: 0,
        at: crate::timefmt::now_unix(),
        contacts: count("contacts"),
        conversations: count("conversations"),
        companies: count("companies"),
    };
    let now = touch.at;
    let (contacts, conversations, companies) = touch.apply(&mut st.workspace_mut());
    ok(json!({
        "updated_at": now,
        "contacts": contacts.iter().map(|i| g::contact_id(*i)).collect::<Vec<_>>(),
        "conversations": conversations.iter().map(|i| (g::CONVERSATION_ID_BASE + *i as u64).to_string()).collect::<Vec<_>>(),
        "companies": companies.iter().map(|i| g::company_id(*i)).collect::<Vec<_>>(),
    }))
}
