//! The deterministic workspace generator: every record of every type is a pure function of
//! `(seed, type, index)`, so only small per-record indexes (timestamps, counts, links) live in
//! memory and the `large` preset starts in seconds. The truth counts are sums over the same
//! indexes the routes render from, so they agree by construction.

use crate::rng::Rng;
use crate::sim::SizePreset;

/// One day in seconds.
pub const DAY: i64 = 86_400;
/// How far back the workspace's history reaches.
const HISTORY_DAYS: i64 = 3 * 365;
/// Events younger than this are listable; older ones only show in summaries.
pub const EVENT_WINDOW_DAYS: i64 = 90;
/// Conversation threads keep at most this many parts in API answers.
pub const PART_CAP: usize = 500;

const CONTACT_ID_PREFIX: u32 = 0x6762_f0a1;
const COMPANY_ID_PREFIX: u32 = 0x6762_f0c1;
const SEGMENT_ID_PREFIX: u32 = 0x6762_f0e1;
pub const ADMIN_ID_BASE: u64 = 991_267_400;
pub const TEAM_ID_BASE: u64 = 5_017_600;
pub const TAG_ID_BASE: u64 = 100;
pub const CONVERSATION_ID_BASE: u64 = 1_000;
pub const TICKET_ID_BASE: u64 = 900_000;
pub const CONTACT_NOTE_ID_BASE: u64 = 1_000_000;
pub const COMPANY_NOTE_ID_BASE: u64 = 500_000_000;
pub const COLLECTION_ID_BASE: u64 = 150;
pub const ARTICLE_ID_BASE: u64 = 3_000;
pub const ARTICLE_VERSION_ID_BASE: u64 = 90_000;
pub const TICKET_TYPE_ID_BASE: u64 = 60;
pub const SCHEDULE_ID_BASE: u64 = 120;
pub const MACRO_ID_BASE: u64 = 700;
pub const WORKFLOW_ID_BASE: u64 = 67_890;
/// Notes per record are capped so a note id can encode its owner.
const NOTES_STRIDE: u64 = 16;
/// Versions per article are capped so a version id can encode its article.
pub const VERSIONS_STRIDE: u64 = 8;

/// How many records of each flat type a preset has.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub admins: usize,
    pub teams: usize,
    pub tags: usize,
    pub segments: usize,
    pub unused_segments: usize,
    pub contact_attributes: usize,
    pub company_attributes: usize,
    pub conversation_attributes: usize,
    pub companies: usize,
    pub contacts: usize,
    pub conversations: usize,
    /// Mean parts per ordinary conversation.
    pub mean_parts: u64,
    pub collections: usize,
    pub articles: usize,
    pub tickets: usize,
    pub ticket_types: usize,
    pub brands: usize,
    pub schedules: usize,
    pub macros: usize,
    pub workflows: usize,
}

impl Sizes {
    pub fn of(size: SizePreset) -> Sizes {
        let base = Sizes {
            admins: 5,
            teams: 2,
            tags: 14,
            segments: 5,
            unused_segments: 2,
            contact_attributes: 4,
            company_attributes: 3,
            conversation_attributes: 3,
            companies: 10,
            contacts: 20,
            conversations: 30,
            mean_parts: 8,
            collections: 4,
            articles: 8,
            tickets: 6,
            ticket_types: 2,
            brands: 2,
            schedules: 1,
            macros: 4,
            workflows: 2,
        };
        match size {
            SizePreset::Tiny => base,
            SizePreset::Small => Sizes {
                admins: 15,
                teams: 4,
                tags: 20,
                segments: 8,
                contact_attributes: 8,
                company_attributes: 5,
                conversation_attributes: 5,
                companies: 100,
                contacts: 500,
                conversations: 1_000,
                mean_parts: 10,
                collections: 10,
                articles: 40,
                tickets: 50,
                ticket_types: 3,
                schedules: 2,
                macros: 10,
                workflows: 3,
                ..base
            },
            SizePreset::Medium => Sizes {
                admins: 40,
                teams: 8,
                tags: 50,
                segments: 15,
                unused_segments: 3,
                contact_attributes: 15,
                company_attributes: 10,
                conversation_attributes: 8,
                companies: 2_000,
                contacts: 10_000,
                conversations: 20_000,
                mean_parts: 12,
                collections: 30,
                articles: 200,
                tickets: 1_000,
                ticket_types: 4,
                brands: 3,
                schedules: 3,
                macros: 30,
                workflows: 5,
            },
            SizePreset::Large => Sizes {
                admins: 120,
                teams: 15,
                tags: 100,
                segments: 25,
                unused_segments: 5,
                contact_attributes: 25,
                company_attributes: 15,
                conversation_attributes: 10,
                companies: 20_000,
                contacts: 100_000,
                conversations: 250_000,
                mean_parts: 12,
                collections: 60,
                articles: 500,
                tickets: 5_000,
                ticket_types: 5,
                brands: 4,
                schedules: 3,
                macros: 60,
                workflows: 8,
            },
        }
    }
}

/// What the generator keeps in memory about one contact.
#[derive(Debug, Clone)]
pub struct ContactIndex {
    pub created_at: i64,
    pub updated_at: i64,
    pub is_lead: bool,
    pub companies: Vec<u32>,
    pub tags: Vec<u16>,
    pub notes: u8,
    pub events: u16,
    /// Edits since generation (`POST /__sim/advance`): each gives the contact another name.
    pub revision: u16,
    /// Deleted by an advance: gone from every listing, search and lookup.
    pub deleted: bool,
}

/// What the generator keeps in memory about one company.
#[derive(Debug, Clone)]
pub struct CompanyIndex {
    pub created_at: i64,
    pub updated_at: i64,
    pub notes: u8,
    /// Edits since generation: each gives the company another industry and monthly spend.
    pub revision: u16,
}

/// What the generator keeps in memory about one conversation.
#[derive(Debug, Clone)]
pub struct ConversationIndex {
    pub created_at: i64,
    pub updated_at: i64,
    pub contact: u32,
    /// Parts after the source message.
    pub parts: u32,
    /// Part positions carrying one attachment each; `u32::MAX` stands for the source.
    pub attachments_at: Vec<u32>,
    pub state: ConversationState,
    pub admin_assignee: Option<u16>,
    pub team_assignee: Option<u16>,
    /// What the conversation was when generated, kept from its first change on, so its earlier
    /// parts render as they always did.
    pub base: Option<Box<ConversationBase>>,
    /// Parts added since (`POST /__sim/advance`), oldest first, after the base's parts.
    pub later: Vec<LaterPart>,
    /// Deleted by an advance: gone from the search and lookups.
    pub deleted: bool,
    /// Tags an advance added (`retagged`), each one more tag and no part (Intercom's tagging
    /// adds none).
    pub retags: u8,
}

/// The generated figures of a conversation that its generated parts are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationBase {
    pub updated_at: i64,
    pub parts: u32,
    pub state: ConversationState,
    pub admin_assignee: Option<u16>,
}

/// A part added to a conversation after generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaterPart {
    pub at: i64,
    pub kind: LaterKind,
}

/// What a later part is: a reply, or a change of state or assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaterKind {
    ContactReply,
    AdminReply,
    Close,
    Reopen,
    Snooze,
    Assignment(u16),
}

impl ConversationIndex {
    /// The generated figures (today's while nothing has changed).
    pub fn base(&self) -> ConversationBase {
        self.base.as_deref().copied().unwrap_or(ConversationBase {
            updated_at: self.updated_at,
            parts: self.parts,
            state: self.state,
            admin_assignee: self.admin_assignee,
        })
    }

    /// Adds a part at `at`, with what it changes (state, assignee) and the update time.
    pub fn append(&mut self, at: i64, kind: LaterKind) {
        if self.base.is_none() {
            self.base = Some(Box::new(self.base()));
        }
        self.later.push(LaterPart { at, kind });
        self.parts += 1;
        self.updated_at = self.updated_at.max(at);
        match kind {
            LaterKind::Close => self.state = ConversationState::Closed,
            LaterKind::Reopen => self.state = ConversationState::Open,
            LaterKind::Snooze => self.state = ConversationState::Snoozed,
            LaterKind::Assignment(a) => self.admin_assignee = Some(a),
            LaterKind::ContactReply | LaterKind::AdminReply => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationState {
    Open,
    Closed,
    Snoozed,
}

impl ConversationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Open => "open",
            ConversationState::Closed => "closed",
            ConversationState::Snoozed => "snoozed",
        }
    }
}

/// One generated data event.
#[derive(Debug, Clone)]
pub struct DataEvent {
    pub name: &'static str,
    pub created_at: i64,
    pub metadata: Vec<(&'static str, String)>,
}

/// An attachment file: where it hangs and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// Opaque id used in the file URL, e.g. `12-s-0` (conversation 12, source, first file).
    pub id: String,
    pub name: String,
    pub content_type: &'static str,
    pub size: usize,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// The generated workspace: sizes, the seed and the in-memory indexes.
#[derive(Debug)]
pub struct Workspace {
    pub seed: u64,
    pub sizes: Sizes,
    /// Midnight UTC of the day the simulator started: history ends here.
    pub anchor: i64,
    pub contacts: Vec<ContactIndex>,
    pub companies: Vec<CompanyIndex>,
    pub company_contacts: Vec<Vec<u32>>,
    pub conversations: Vec<ConversationIndex>,
    /// Members of each used segment (contacts), sorted.
    pub segment_members: Vec<Vec<u32>>,
    pub article_versions: Vec<u8>,
    /// Articles edited by an advance: how many versions they had before the first edit, and
    /// when the last edit was made (each edit adds a version at that time).
    pub article_edits: Vec<Option<(u8, i64)>>,
    pub article_locales: Vec<Vec<&'static str>>,
    pub ticket_created: Vec<i64>,
    pub ticket_updated: Vec<i64>,
    /// Touch requests served so far, in order (keeps touches deterministic and distinct, and
    /// lets a saved workspace replay them).
    pub touches: Vec<super::truth::Touch>,
    /// Advances made so far (`POST /__sim/advance`), in order, likewise.
    pub advances: Vec<super::advance::Advance>,
    /// The pathological records planted among the normal ones (`--hostile`), if any.
    pub hostile: Option<super::hostile::Plan>,
}

pub const LOCALES: [&str; 6] = ["fr", "de", "es", "ar", "he", "ja"];
pub const EVENT_NAMES: [&str; 6] = [
    "placed-order",
    "viewed-pricing",
    "invited-teammate",
    "exported-report",
    "upgraded-plan",
    "opened-app",
];

/// A stream for record `i` of `kind`.
pub fn rng_for(seed: u64, kind: &str, i: u64) -> Rng {
    Rng::derive(seed, &[kind, &i.to_string()])
}

/// Spreads `n` records over the history, monotone in `i`, with jitter inside each slot.
fn created_at(anchor: i64, i: usize, n: usize, rng: &mut Rng) -> i64 {
    let span = HISTORY_DAYS * DAY;
    let slot = (span / n.max(1) as i64).max(1);
    anchor - span + i as i64 * slot + rng.range(0, slot as u64) as i64
}

/// Contact `i` created at `created`, updated no later than `until`.
pub fn contact_index(
    sizes: &Sizes,
    i: usize,
    created: i64,
    until: i64,
    rng: &mut Rng,
) -> ContactIndex {
    let companies_with_users = (sizes.companies * 4).div_ceil(5).max(1);
    let updated = (created + rng.range(0, 40 * DAY as u64) as i64).min(until);
    let is_lead = rng.chance(0.3);
    let mut companies = Vec::new();
    if !is_lead && rng.chance(0.8) {
        companies.push(rng.range(0, companies_with_users as u64) as u32);
        if rng.chance(0.1) && sizes.companies > 1 {
            let second = rng.range(0, companies_with_users as u64) as u32;
            if second != companies[0] {
                companies.push(second);
            }
        }
    }
    // Contact 1 carries long sub-lists so `has_more` shows on every preset.
    let (tags, notes) = if i == 1 {
        ((0..12.min(sizes.tags) as u16).collect(), 12)
    } else {
        let n = rng.range(0, 4) as usize;
        let mut tags: Vec<u16> = (0..n)
            .map(|_| rng.range(0, sizes.tags as u64) as u16)
            .collect();
        tags.sort_unstable();
        tags.dedup();
        (tags, rng.range(0, 4) as u8)
    };
    let events = if i == 0 { 75 } else { rng.range(0, 9) as u16 };
    ContactIndex {
        created_at: created,
        updated_at: updated,
        is_lead,
        companies,
        tags,
        notes,
        events,
        revision: 0,
        deleted: false,
    }
}

/// Conversation `i` created at `created`, updated no later than `until`.
pub fn conversation_index(
    sizes: &Sizes,
    i: usize,
    created: i64,
    until: i64,
    rng: &mut Rng,
) -> ConversationIndex {
    let parts = if i == 0 {
        // One thread well over the 500-part cap, on every preset.
        520
    } else {
        rng.range(1, sizes.mean_parts * 2) as u32
    };
    let updated =
        (created + rng.range(600, 14 * DAY as u64) as i64 + i64::from(parts) * 60).min(until);
    let mut attachments_at = Vec::new();
    // Conversation 2 always carries a file on its source, so every preset shows one.
    if i == 2 || rng.chance(0.15) {
        attachments_at.push(u32::MAX);
    }
    for _ in 0..rng.range(0, 3) {
        if rng.chance(0.4) {
            attachments_at.push(rng.range(0, u64::from(parts)) as u32);
        }
    }
    attachments_at.sort_unstable();
    let state = match rng.range(0, 10) {
        0..=2 => ConversationState::Open,
        3 => ConversationState::Snoozed,
        _ => ConversationState::Closed,
    };
    let admin_assignee = rng
        .chance(0.8)
        .then(|| rng.range(0, sizes.admins as u64) as u16);
    let team_assignee = rng
        .chance(0.5)
        .then(|| rng.range(0, sizes.teams as u64) as u16);
    ConversationIndex {
        created_at: created,
        updated_at: updated,
        contact: rng.range(0, sizes.contacts as u64) as u32,
        parts,
        attachments_at,
        state,
        admin_assignee,
        team_assignee,
        base: None,
        later: Vec::new(),
        deleted: false,
        retags: 0,
    }
}

impl Workspace {
    pub fn generate(seed: u64, size: SizePreset, anchor: i64) -> Workspace {
        let sizes = Sizes::of(size);
        let contacts: Vec<ContactIndex> = (0..sizes.contacts)
            .map(|i| {
                let mut rng = rng_for(seed, "contact", i as u64);
                let created = created_at(anchor, i, sizes.contacts, &mut rng);
                contact_index(&sizes, i, created, anchor - 1, &mut rng)
            })
            .collect();
        let mut company_contacts = vec![Vec::new(); sizes.companies];
        for (i, c) in contacts.iter().enumerate() {
            for &co in &c.companies {
                company_contacts[co as usize].push(i as u32);
            }
        }
        let companies = (0..sizes.companies)
            .map(|i| {
                let mut rng = rng_for(seed, "company", i as u64);
                let created = created_at(anchor, i, sizes.companies, &mut rng);
                CompanyIndex {
                    created_at: created,
                    updated_at: (created + rng.range(0, 60 * DAY as u64) as i64).min(anchor - 1),
                    notes: rng.range(0, 3) as u8,
                    revision: 0,
                }
            })
            .collect();
        let conversations = (0..sizes.conversations)
            .map(|i| {
                let mut rng = rng_for(seed, "conversation", i as u64);
                let created = created_at(anchor, i, sizes.conversations, &mut rng);
                conversation_index(&sizes, i, created, anchor - 1, &mut rng)
            })
            .collect();
        let used_segments = sizes.segments - sizes.unused_segments;
        let segment_members = (0..used_segments)
            .map(|s| {
                (0..sizes.contacts as u32)
                    .filter(|&i| segment_contains(i, s))
                    .collect()
            })
            .collect();
        let mut article_versions = Vec::with_capacity(sizes.articles);
        let mut article_locales = Vec::with_capacity(sizes.articles);
        for a in 0..sizes.articles {
            let mut rng = rng_for(seed, "article", a as u64);
            article_versions.push(rng.range(1, 5) as u8);
            let locales: Vec<&'static str> = if a % 2 == 0 {
                let n = rng.range(1, 4) as usize;
                LOCALES.iter().copied().skip(a % 3).take(n).collect()
            } else {
                Vec::new()
            };
            article_locales.push(locales);
        }
        let mut ticket_created = Vec::with_capacity(sizes.tickets);
        let mut ticket_updated = Vec::with_capacity(sizes.tickets);
        for t in 0..sizes.tickets {
            let mut rng = rng_for(seed, "ticket", t as u64);
            let c = created_at(anchor, t, sizes.tickets, &mut rng);
            ticket_created.push(c);
            ticket_updated.push((c + rng.range(60, 10 * DAY as u64) as i64).min(anchor - 1));
        }
        Workspace {
            seed,
            sizes,
            anchor,
            contacts,
            companies,
            company_contacts,
            conversations,
            segment_members,
            article_edits: vec![None; sizes.articles],
            article_versions,
            article_locales,
            ticket_created,
            ticket_updated,
            touches: Vec::new(),
            advances: Vec::new(),
            hostile: None,
        }
    }

    /// Touches and advances so far: the place of the next one in the workspace's history.
    pub fn changes(&self) -> usize {
        self.touches.len() + self.advances.len()
    }

    pub fn rng(&self, kind: &str, i: u64) -> Rng {
        rng_for(self.seed, kind, i)
    }

    pub fn used_segments(&self) -> usize {
        self.sizes.segments - self.sizes.unused_segments
    }

    /// The contacts no advance has deleted.
    pub fn live_contacts(&self) -> impl Iterator<Item = &ContactIndex> {
        self.contacts.iter().filter(|c| !c.deleted)
    }

    /// The conversations no advance has deleted.
    pub fn live_conversations(&self) -> impl Iterator<Item = &ConversationIndex> {
        self.conversations.iter().filter(|c| !c.deleted)
    }

    /// Parts of all conversations (excluding each source message).
    pub fn total_parts(&self) -> u64 {
        self.live_conversations().map(|c| u64::from(c.parts)).sum()
    }

    pub fn total_attachments(&self) -> u64 {
        self.live_conversations()
            .map(|c| c.attachments_at.len() as u64)
            .sum()
    }

    /// The events of one contact, newest first.
    pub fn events_of(&self, contact: usize) -> Vec<DataEvent> {
        let Some(c) = self.contacts.get(contact) else {
            return Vec::new();
        };
        let mut rng = self.rng("events", contact as u64);
        let mut events: Vec<DataEvent> = (0..c.events)
            .map(|k| {
                // A gap around the 90-day border keeps "listable" stable however long the
                // simulator has been running today.
                let days_ago = if k % 3 == 2 {
                    rng.range(EVENT_WINDOW_DAYS as u64 + 5, 700) as i64
                } else {
                    rng.range(1, EVENT_WINDOW_DAYS as u64 - 5) as i64
                };
                let created = (self.anchor - days_ago * DAY + rng.range(0, DAY as u64) as i64)
                    .max(c.created_at);
                let name = *rng.pick(&EVENT_NAMES);
                let metadata = vec![
                    ("order_ref", format!("ORD-{}", rng.range(1000, 99_999))),
                    (
                        "source",
                        (*rng.pick(&["web", "ios", "android"])).to_string(),
                    ),
                ];
                DataEvent {
                    name,
                    created_at: created,
                    metadata,
                }
            })
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.created_at));
        events
    }

    pub fn total_events(&self) -> u64 {
        self.live_contacts().map(|c| u64::from(c.events)).sum()
    }

    pub fn total_contact_notes(&self) -> u64 {
        self.live_contacts().map(|c| u64::from(c.notes)).sum()
    }

    pub fn total_company_notes(&self) -> u64 {
        self.companies.iter().map(|c| u64::from(c.notes)).sum()
    }

    /// Collections: the first third are top level, the rest nest under an earlier one.
    pub fn collection_parent(&self, i: usize) -> Option<usize> {
        let top = self.sizes.collections.div_ceil(3).max(1);
        (i >= top).then_some(i % top)
    }

    /// The collection an article lives in.
    pub fn article_collection(&self, a: usize) -> usize {
        a % self.sizes.collections.max(1)
    }

    /// Exceptions of one office hours schedule.
    pub fn schedule_exceptions(&self, _schedule: usize) -> usize {
        2
    }

    /// Files attached to one part (`part == u32::MAX` for the source).
    pub fn attachments_on(&self, conversation: usize, part: u32) -> Vec<FileRef> {
        let Some(c) = self.conversations.get(conversation) else {
            return Vec::new();
        };
        c.attachments_at
            .iter()
            .enumerate()
            .filter(|(_, at)| **at == part)
            .map(|(k, _)| self.file_ref(conversation, part, &format!("{k}")))
            .collect()
    }

    /// The inline image of a body (not an attachment: it is referenced only from HTML).
    pub fn inline_image(&self, conversation: usize, part: u32) -> FileRef {
        self.file_ref(conversation, part, "i")
    }

    fn file_ref(&self, conversation: usize, part: u32, slot: &str) -> FileRef {
        let part_code = if part == u32::MAX {
            "s".to_string()
        } else {
            part.to_string()
        };
        let id = format!("{conversation}-{part_code}-{slot}");
        let mut rng = Rng::derive(self.seed, &["file", &id]);
        let (name, content_type, w, h) = if slot == "i" {
            ("inline.png".to_string(), "image/png", Some(640), Some(480))
        } else {
            match rng.range(0, 3) {
                0 => (
                    format!("screenshot-{conversation}.png"),
                    "image/png",
                    Some(1280),
                    Some(720),
                ),
                1 => (
                    format!("invoice-{conversation}.pdf"),
                    "application/pdf",
                    None,
                    None,
                ),
                _ => (
                    format!("app-log-{conversation}.txt"),
                    "text/plain",
                    None,
                    None,
                ),
            }
        };
        let size = rng.range(512, 64 * 1024) as usize;
        FileRef {
            id,
            name,
            content_type,
            size,
            width: w,
            height: h,
        }
    }

    /// Resolves a file id from a URL back to its description (None when it does not exist).
    pub fn file_by_id(&self, id: &str) -> Option<FileRef> {
        let mut it = id.splitn(3, '-');
        let conversation: usize = it.next()?.parse().ok()?;
        let part_code = it.next()?;
        let slot = it.next()?;
        let part = if part_code == "s" {
            u32::MAX
        } else {
            part_code.parse().ok()?
        };
        let c = self.conversations.get(conversation)?;
        if part != u32::MAX && part >= c.parts {
            return None;
        }
        if slot == "i" {
            return Some(self.inline_image(conversation, part));
        }
        let k: usize = slot.parse().ok()?;
        let at = *c.attachments_at.get(k)?;
        (at == part).then(|| self.file_ref(conversation, part, slot))
    }

    /// Deterministic bytes of a file.
    pub fn file_bytes(&self, file: &FileRef) -> Vec<u8> {
        let mut rng = Rng::derive(self.seed, &["file-bytes", &file.id]);
        let mut out = Vec::with_capacity(file.size);
        let header: &[u8] = match file.content_type {
            "image/png" => b"\x89PNG\r\n\x1a\n",
            "application/pdf" => b"%PDF-1.4\n",
            _ => b"",
        };
        out.extend_from_slice(header);
        while out.len() < file.size {
            if file.content_type == "text/plain" {
                out.extend_from_slice(
                    format!(
                        "{} INFO request ok id={}\n",
                        rng.range(0, 1 << 30),
                        rng.hex(4)
                    )
                    .as_bytes(),
                );
            } else {
                out.extend_from_slice(&rng.next_u64().to_le_bytes());
            }
        }
        out.truncate(file.size);
        out
    }
}

/// Whether contact `i` belongs to used segment `s` (cheap and deterministic).
pub fn segment_contains(i: u32, s: usize) -> bool {
    let h =
        (u64::from(i) ^ (s as u64).wrapping_mul(0x9E37_79B9)).wrapping_mul(0x2545_F491_4F6C_DD1D);
    (h >> 33).is_multiple_of(s as u64 + 3)
}

pub fn contact_id(i: usize) -> String {
    format!("{CONTACT_ID_PREFIX:08x}{i:016x}")
}

pub fn company_id(i: usize) -> String {
    format!("{COMPANY_ID_PREFIX:08x}{i:016x}")
}

pub fn segment_id(i: usize) -> String {
    format!("{SEGMENT_ID_PREFIX:08x}{i:016x}")
}

fn parse_prefixed(id: &str, prefix: u32) -> Option<usize> {
    if id.len() != 24 || u32::from_str_radix(id.get(..8)?, 16).ok()? != prefix {
        return None;
    }
    usize::from_str_radix(id.get(8..)?, 16).ok()
}

pub fn parse_contact_id(id: &str) -> Option<usize> {
    parse_prefixed(id, CONTACT_ID_PREFIX)
}

pub fn parse_company_id(id: &str) -> Option<usize> {
    parse_prefixed(id, COMPANY_ID_PREFIX)
}

/// Parses a numeric id `base + i` into `i`, when below `count`.
pub fn parse_numeric(id: &str, base: u64, count: usize) -> Option<usize> {
    let n: u64 = id.parse().ok()?;
    let i = n.checked_sub(base)? as usize;
    (i < count).then_some(i)
}

/// Contact note `k` of contact `c` and back.
pub fn contact_note_id(c: usize, k: u64) -> u64 {
    CONTACT_NOTE_ID_BASE + c as u64 * NOTES_STRIDE + k
}

pub fn company_note_id(c: usize, k: u64) -> u64 {
    COMPANY_NOTE_ID_BASE + c as u64 * NOTES_STRIDE + k
}

pub fn article_version_id(article: usize, v: u64) -> u64 {
    ARTICLE_VERSION_ID_BASE + article as u64 * VERSIONS_STRIDE + v
}

pub fn parse_article_version_id(id: &str) -> Option<(usize, u64)> {
    let n: u64 = id.parse().ok()?;
    let rel = n.checked_sub(ARTICLE_VERSION_ID_BASE)?;
    Some(((rel / VERSIONS_STRIDE) as usize, rel % VERSIONS_STRIDE))
}

const FIRST_NAMES: [&str; 16] = [
    "Ana", "Zoë", "José", "Søren", "محمد", "שרה", "李", "Ngọc", "Amélie", "Jürgen", "Priya",
    "Kwame", "Olga", "Hiroshi", "Fatima", "Liam",
];
const LAST_NAMES: [&str; 14] = [
    "García",
    "Müller",
    "Nakamura",
    "Okafor",
    "Øberg",
    "العلي",
    "כהן",
    "王",
    "Nguyễn",
    "Smith",
    "Kowalski",
    "Dubois",
    "Silva",
    "O'Brien",
];
const COMPANY_WORDS: [&str; 12] = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Wonka",
];
const SENTENCES: [&str; 12] = [
    "I can't log in since this morning.",
    "Could you resend the invoice for last month?",
    "The export keeps failing at 99% 😕",
    "مرحبا، لدي مشكلة في تسجيل الدخول إلى حسابي",
    "שלום, החשבונית לא הגיעה אליי",
    "请问如何更改我的订阅计划？",
    "Thanks, that fixed it! 🎉",
    "We're seeing timeouts on the dashboard in the EU region.",
    "Ist es möglich, die Rechnung auf Deutsch zu bekommen?",
    "Pouvez-vous m'aider à configurer l'intégration ?",
    "Please escalate: customers can't check out.",
    "Following up on the ticket from last week.",
];

pub fn person_name(rng: &mut Rng) -> String {
    format!("{} {}", rng.pick(&FIRST_NAMES), rng.pick(&LAST_NAMES))
}

pub fn company_name(i: usize, rng: &mut Rng) -> String {
    let suffix = rng.pick(&["Inc", "GmbH", "Ltd", "SAS", "株式会社", "LLC"]);
    format!("{} {} {}", rng.pick(&COMPANY_WORDS), i, suffix)
}

pub fn sentence(rng: &mut Rng) -> &'static str {
    SENTENCES[rng.range(0, SENTENCES.len() as u64) as usize]
}

/// Escapes text for an HTML body.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

/// An HTML paragraph body; RTL sentences carry `dir="rtl"` as Intercom's composer writes them.
pub fn html_paragraphs(rng: &mut Rng, n: usize) -> String {
    let mut out = String::new();
    for _ in 0..n.max(1) {
        let s = sentence(rng);
        let rtl = s.chars().any(|c| ('\u{0590}'..='\u{06FF}').contains(&c));
        if rtl {
            out.push_str(&format!("<p dir=\"rtl\">{}</p>", html_escape(s)));
        } else if rng.chance(0.2) {
            out.push_str(&format!(
                "<p><b>Note:</b> {} <a href=\"https://example.com/help\">help</a></p>",
                html_escape(s)
            ));
        } else {
            out.push_str(&format!("<p>{}</p>", html_escape(s)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        assert_eq!(parse_contact_id(&contact_id(42)), Some(42));
        assert_eq!(parse_company_id(&company_id(7)), Some(7));
        assert_eq!(parse_company_id(&contact_id(7)), None);
        assert_eq!(
            parse_article_version_id(&article_version_id(3, 2).to_string()),
            Some((3, 2))
        );
    }

    #[test]
    fn tiny_workspace_has_a_thread_over_the_cap() {
        let w = Workspace::generate(1, SizePreset::Tiny, 1_700_000_000 / DAY * DAY);
        assert!(w.conversations.iter().any(|c| c.parts as usize > PART_CAP));
        assert_eq!(w.contacts.len(), 20);
    }
}
