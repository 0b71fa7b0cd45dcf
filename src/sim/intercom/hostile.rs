//! A hostile workspace (`i2k sim --hostile`): pathological records planted among the normal ones
//! of any preset, the way years of people and integrations leave them — control characters and
//! bidi overrides in names, times before 1970 and after 9999, duplicate emails, conversations
//! without a contact or without parts, blank and deleted authors, unknown part types, huge and
//! malformed HTML, attachments that 404 or have expired, long non-ASCII ids, attribute names
//! that collide once camelCased. Each plant is listed in the ground truth
//! (`GET /__sim/truth` → `hostile`) with what it should become in Kustomer.
//!
//! Plants change rendered records in place (and, for a conversation without parts, its index
//! before anything counts it), so the truth counts stay sums over the same indexes.

use serde_json::{Value, json};

use crate::sim::intercom::generate::{self as g, Workspace};

/// What a planted record should become: `migrated`, `migrated_with_warning` (with a warning
/// whose text contains `warning`), or `failed` (with a reason containing `reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plant {
    /// The ledger's kind for the record (`contacts`, `companies`, `conversations`,
    /// `conversation_sources`, `conversation_parts`).
    pub kind: &'static str,
    pub id: String,
    pub what: &'static str,
    pub expect: Expect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Migrated,
    MigratedWithWarning { warning: &'static str },
    Failed { reason: &'static str },
}

impl Plant {
    pub fn to_json(&self) -> Value {
        let (expect, detail) = match &self.expect {
            Expect::Migrated => ("migrated", Value::Null),
            Expect::MigratedWithWarning { warning } => ("migrated_with_warning", json!(warning)),
            Expect::Failed { reason } => ("failed", json!(reason)),
        };
        json!({"kind": self.kind, "id": self.id, "what": self.what, "expect": expect, "detail": detail})
    }
}

/// A body of about 3 MB: over any bulk request cap alone, so it must be cut to fit.
pub const HUGE_HTML_BYTES: usize = 3 * 1024 * 1024;
/// Before 1970 (1950-01-01): Kustomer reads it; it is kept.
pub const BEFORE_1970: i64 = -631_152_000;
/// After 9999 (year ~14645): Kustomer cannot read it; left out with a warning.
pub const AFTER_9999: i64 = 400_000_000_000;
/// An admin id no admin of the workspace has (deleted since).
pub const DELETED_ADMIN_ID: &str = "991267999";
/// The custom attributes whose names collide once camelCased (`planType` both).
pub const COLLIDING_ATTRIBUTES: [&str; 2] = ["Plan Type", "plan_type"];
/// The data attribute ids of [`COLLIDING_ATTRIBUTES`].
pub const COLLIDING_ATTRIBUTE_ID_BASE: u64 = 1_900;

/// Where the plants are, chosen once from the workspace (same seed, same plan).
#[derive(Debug, Clone)]
pub struct Plan {
    pub controls_contact: usize,
    pub old_contact: usize,
    pub future_contact: usize,
    /// `(copy, original)`: the first carries the second's email.
    pub duplicate_email: (usize, usize),
    pub controls_company: usize,
    pub future_company: usize,
    pub no_contact: usize,
    pub no_parts: usize,
    pub null_author: usize,
    pub controls_title: usize,
    pub huge_html: usize,
    pub malformed_html: usize,
    /// Conversation whose attachments 404 (the first) or have expired (the rest).
    pub broken_files: Option<usize>,
    /// `(conversation, part)` of the part plants.
    pub unknown_part: Option<(usize, u32)>,
    pub deleted_admin_part: Option<(usize, u32)>,
    pub future_part: Option<(usize, u32)>,
    pub long_id_part: Option<(usize, u32)>,
}

impl Plan {
    /// Picks the records to poison and makes the index changes (a conversation without parts).
    pub fn plant(ws: &mut Workspace) -> Plan {
        let n = ws.sizes.conversations;
        // Parts with neither attachments nor a special role (not the first, not the last).
        let mut part_hosts = (14..n).filter_map(|c| {
            let idx = &ws.conversations[c];
            (idx.parts >= 3 && !idx.attachments_at.contains(&1)).then_some((c, 1u32))
        });
        let unknown_part = part_hosts.next();
        let deleted_admin_part = part_hosts.next();
        let future_part = part_hosts.next();
        let long_id_part = part_hosts.next();
        let broken_files = (0..n).find(|&c| {
            !ws.conversations[c].attachments_at.is_empty()
                && ![3, 4, 5, 6, 7, 8, 9].contains(&c)
                && [unknown_part, deleted_admin_part, future_part, long_id_part]
                    .iter()
                    .all(|p| p.map(|(pc, _)| pc) != Some(c))
        });
        let plan = Plan {
            controls_contact: 2,
            old_contact: 3,
            future_contact: 4,
            duplicate_email: (5, 6),
            controls_company: 2,
            future_company: 3,
            no_contact: 3,
            no_parts: 4,
            null_author: 5,
            controls_title: 6,
            huge_html: 7,
            malformed_html: 8,
            broken_files,
            unknown_part,
            deleted_admin_part,
            future_part,
            long_id_part,
        };
        for c in [plan.no_contact, plan.no_parts] {
            let idx = &mut ws.conversations[c];
            idx.parts = 0;
            idx.attachments_at.clear();
            idx.admin_assignee = None;
            idx.state = g::ConversationState::Open;
        }
        plan
    }

    fn part_at(&self, conv: usize, k: u32) -> Option<PartPlant> {
        let at = Some((conv, k));
        if at == self.unknown_part {
            Some(PartPlant::Unknown)
        } else if at == self.deleted_admin_part {
            Some(PartPlant::DeletedAdmin)
        } else if at == self.future_part {
            Some(PartPlant::Future)
        } else if at == self.long_id_part {
            Some(PartPlant::LongId)
        } else {
            None
        }
    }

    /// Every plant with what it should become.
    pub fn truth(&self) -> Vec<Plant> {
        let contact = |i: usize| g::contact_id(i);
        let company = |i: usize| g::company_id(i);
        let conv = |i: usize| (g::CONVERSATION_ID_BASE + i as u64).to_string();
        let mut out = vec![
            Plant {
                kind: "contacts",
                id: contact(self.controls_contact),
                what: "NUL, an ANSI escape sequence and U+202E in the name; BEL in the phone",
                expect: Expect::MigratedWithWarning {
                    warning: "control characters removed",
                },
            },
            Plant {
                kind: "contacts",
                id: contact(self.old_contact),
                what: "created and signed up in 1950",
                expect: Expect::Migrated,
            },
            Plant {
                kind: "contacts",
                id: contact(self.future_contact),
                what: "last seen in the year 14645",
                expect: Expect::MigratedWithWarning {
                    warning: "outside the years 1–9999",
                },
            },
            Plant {
                kind: "contacts",
                id: contact(self.duplicate_email.0),
                what: "the same email as another contact",
                expect: Expect::Migrated,
            },
            Plant {
                kind: "contacts",
                id: contact(self.duplicate_email.1),
                what: "its email is also another contact's; values for both colliding attributes",
                expect: Expect::Migrated,
            },
            Plant {
                kind: "companies",
                id: company(self.controls_company),
                what: "U+202E and NUL in the name",
                expect: Expect::MigratedWithWarning {
                    warning: "control characters removed",
                },
            },
            Plant {
                kind: "companies",
                id: company(self.future_company),
                what: "created in the year 14645",
                expect: Expect::MigratedWithWarning {
                    warning: "outside the years 1–9999",
                },
            },
            Plant {
                kind: "conversations",
                id: conv(self.no_contact),
                what: "no contact and no parts",
                expect: Expect::Failed { reason: "contact" },
            },
            Plant {
                kind: "conversations",
                id: conv(self.no_parts),
                what: "no parts after its opening message",
                expect: Expect::Migrated,
            },
            Plant {
                kind: "conversation_sources",
                id: conv(self.null_author),
                what: "an opening message whose author is blank (no type, id, name or email)",
                expect: Expect::Migrated,
            },
            Plant {
                kind: "conversations",
                id: conv(self.controls_title),
                what: "ESC, NUL and U+202E in the title",
                expect: Expect::MigratedWithWarning {
                    warning: "title: control characters removed",
                },
            },
            Plant {
                kind: "conversation_sources",
                id: conv(self.huge_html),
                what: "an opening message of 3 MB of HTML",
                expect: Expect::MigratedWithWarning {
                    warning: "to fit the bulk request cap",
                },
            },
            Plant {
                kind: "conversation_sources",
                id: conv(self.malformed_html),
                what: "malformed HTML (unclosed tags, stray brackets and entities)",
                expect: Expect::Migrated,
            },
        ];
        for k in 0..COLLIDING_ATTRIBUTES.len() {
            out.push(Plant {
                kind: "data_attributes",
                id: (COLLIDING_ATTRIBUTE_ID_BASE + k as u64).to_string(),
                what: if k == 0 {
                    "a contact attribute whose camelCased name collides with the next"
                } else {
                    "a contact attribute whose camelCased name collides with the previous"
                },
                expect: Expect::Migrated,
            });
        }
        let part = |(c, k): (usize, u32)| part_id(c, k);
        if let Some(p) = self.unknown_part {
            out.push(Plant {
                kind: "conversation_parts",
                id: part(p),
                what: "a part type Intercom has not documented",
                expect: Expect::Migrated,
            });
        }
        if let Some(p) = self.deleted_admin_part {
            out.push(Plant {
                kind: "conversation_parts",
                id: part(p),
                what: "a reply by an admin who no longer exists",
                expect: Expect::Migrated,
            });
        }
        if let Some(p) = self.future_part {
            out.push(Plant {
                kind: "conversation_parts",
                id: part(p),
                what: "a reply dated in the year 14645",
                expect: Expect::MigratedWithWarning {
                    warning: "outside the years 1–9999",
                },
            });
        }
        if let Some(p) = self.long_id_part {
            out.push(Plant {
                kind: "conversation_parts",
                id: long_part_id(p.0, p.1),
                what: "a 200-character non-ASCII id (over 255 bytes in a _clientRef)",
                expect: Expect::Migrated,
            });
        }
        if let Some(c) = self.broken_files {
            out.push(Plant {
                kind: "conversations",
                id: conv(c),
                what: "attachments whose URLs 404 or have expired",
                expect: Expect::Migrated,
            });
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartPlant {
    Unknown,
    DeletedAdmin,
    Future,
    LongId,
}

/// A part's ordinary id (as the renderer gives it).
pub fn part_id(conv: usize, k: u32) -> String {
    (conv as u64 * 10_000 + u64::from(k) + 1).to_string()
}

/// The long non-ASCII id of the `long_id_part` plant: 200 characters, 399 bytes.
pub fn long_part_id(conv: usize, k: u32) -> String {
    let tail = part_id(conv, k);
    let mut id = "ü".repeat(200 - tail.len() - 1);
    id.push('-');
    id.push_str(&tail);
    id
}

/// Text with the control characters a hostile integration leaves behind.
fn with_controls(clean: &str) -> String {
    format!("\u{0}\u{1b}[31m{clean}\u{1b}[0m\u{202E}")
}

impl Plan {
    pub fn contact(&self, i: usize, v: &mut Value, ws: &Workspace) {
        if i == self.controls_contact {
            v["name"] = json!(format!("Mallory\u{0}\u{1b}[2J Red\u{202E}txt.exe"));
            v["phone"] = json!("+1 555\u{7}0102");
        } else if i == self.old_contact {
            v["created_at"] = json!(BEFORE_1970);
            v["signed_up_at"] = json!(BEFORE_1970);
        } else if i == self.future_contact {
            v["last_seen_at"] = json!(AFTER_9999);
        } else if i == self.duplicate_email.1 {
            let [a, b] = COLLIDING_ATTRIBUTES;
            v["custom_attributes"][a] = json!("pro");
            v["custom_attributes"][b] = json!("free");
        } else if i == self.duplicate_email.0 {
            let (_, email) = super::render::contact_identity(ws, self.duplicate_email.1);
            v["email_domain"] = json!(email.split('@').nth(1).unwrap_or(""));
            v["email"] = json!(email);
        }
    }

    pub fn company(&self, i: usize, v: &mut Value) {
        if i == self.controls_company {
            let name = v["name"].as_str().unwrap_or("Company").to_string();
            v["name"] = json!(format!("\u{202E}{name}\u{0} Corp"));
        } else if i == self.future_company {
            v["created_at"] = json!(AFTER_9999);
            v["remote_created_at"] = json!(AFTER_9999);
        }
    }

    /// `signed_url(path, expires)` makes a signed attachment URL for `<file id>/<name>`.
    pub fn conversation(&self, i: usize, v: &mut Value, signed_url: &dyn Fn(&str, i64) -> String) {
        if i == self.no_contact {
            v["contacts"] = json!({"type": "contact.list", "contacts": []});
        } else if i == self.null_author {
            // The schema does not let the author be null; "blank" is what Intercom documents.
            v["source"]["author"] = json!({});
        } else if i == self.controls_title {
            v["title"] = json!(with_controls("Refund request"));
        } else if i == self.huge_html {
            let para = "<p>Log excerpt: ERROR 0x1F4A9 — retrying … ünïcödé 日本語</p>\n";
            let mut html = String::with_capacity(HUGE_HTML_BYTES + para.len());
            while html.len() < HUGE_HTML_BYTES {
                html.push_str(para);
            }
            v["source"]["body"] = json!(html);
        } else if i == self.malformed_html {
            v["source"]["body"] = json!(
                "<p>Hello <b>there<i>friend</p></b> <<>> &amp &bogus; &#xZZ; <img src=\"\" <a href='x"
            );
        } else if Some(i) == self.broken_files {
            let mut n = 0;
            break_files(&mut v["source"]["attachments"], &mut n, signed_url);
            if let Some(parts) = v["conversation_parts"]["conversation_parts"].as_array_mut() {
                for p in parts {
                    break_files(&mut p["attachments"], &mut n, signed_url);
                }
            }
        }
        if let Some(parts) = v["conversation_parts"]["conversation_parts"].as_array_mut() {
            for p in parts {
                let k = p["id"]
                    .as_str()
                    .and_then(|id| id.parse::<u64>().ok())
                    .map(|id| (id % 10_000).saturating_sub(1) as u32);
                if let Some(k) = k {
                    self.part(i, k, p);
                }
            }
        }
    }

    fn part(&self, conv: usize, k: u32, v: &mut Value) {
        match self.part_at(conv, k) {
            Some(PartPlant::Unknown) => v["part_type"] = json!("quantum_entanglement"),
            Some(PartPlant::DeletedAdmin) => {
                v["part_type"] = json!("comment");
                v["author"] = json!({"type": "admin", "id": DELETED_ADMIN_ID, "name": "Former Teammate", "email": "gone@example.invalid"});
                v["body"] = json!("<p>Sent before I left the company.</p>");
            }
            Some(PartPlant::Future) => {
                v["part_type"] = json!("comment");
                v["created_at"] = json!(AFTER_9999);
                v["body"] = json!("<p>From the far future.</p>");
            }
            Some(PartPlant::LongId) => {
                v["part_type"] = json!("comment");
                v["id"] = json!(long_part_id(conv, k));
                v["body"] = json!("<p>A part with a long id.</p>");
            }
            None => {}
        }
    }
}

/// The first attachment's URL is signed but names no file (404); the rest have expired (403).
fn break_files(list: &mut Value, n: &mut usize, signed_url: &dyn Fn(&str, i64) -> String) {
    let Some(items) = list.as_array_mut() else {
        return;
    };
    for a in items {
        let name = a["name"].as_str().unwrap_or("file").to_string();
        a["url"] = if *n == 0 {
            json!(signed_url(&format!("no-such-file/{name}"), AFTER_9999))
        } else {
            let id = a["url"]
                .as_str()
                .and_then(|u| u.split("/__files/").nth(1))
                .and_then(|rest| rest.split('/').next())
                .unwrap_or("expired")
                .to_string();
            json!(signed_url(&format!("{id}/{name}"), 1))
        };
        *n += 1;
    }
}
