//! `i2k doctor --probe` and the Prerequisites screen's probe: one real request per Kustomer
//! assumption (`kustomer::assumptions`) and per route the run writes to, each on a clearly marked
//! throwaway record, read back, then deleted where Kustomer has a delete route (else listed in
//! `MANUAL.md`). Each assumption ends confirmed, refused or not probed; the results are kept in the
//! ledger (`probes`), and a run reads them: a refused assumption with a fallback runs with the
//! fallback (the report names it), one without a fallback that records depend on stops the run
//! before it starts.

use std::path::Path;

use serde_json::{Value, json};

use crate::engine::load::tag_fallback;
use crate::http::ApiError;
use crate::kustomer::bulk::{BulkResource, PollPolicy};
use crate::kustomer::delete::Deletable;
use crate::kustomer::models::{Named, Resource};
use crate::kustomer::{KustomerClient, KustomerError, assumptions};
use crate::ledger::{Ledger, LedgerError, LedgerReader, StoredProbe};

/// How a probed assumption ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Confirmed,
    Refused,
    NotProbed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Confirmed => "confirmed",
            Outcome::Refused => "refused",
            Outcome::NotProbed => "not_probed",
        }
    }

    fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Confirmed, Outcome::Refused, Outcome::NotProbed]
            .into_iter()
            .find(|o| o.as_str() == s)
    }

    /// The symbol the console and `doctor` show beside it.
    pub fn symbol(self) -> &'static str {
        match self {
            Outcome::Confirmed => "✓",
            Outcome::Refused => "✗",
            Outcome::NotProbed => "–",
        }
    }
}

/// One thing i2k assumes about the operator's org.
pub struct Assumption {
    pub id: &'static str,
    /// What is assumed, in the operator's words.
    pub what: &'static str,
    /// What the run does instead when the org refuses it; `None`: nothing can stand in.
    pub fallback: Option<&'static str>,
    /// The Intercom record types (ledger source kinds) whose records need it.
    pub needed_by: &'static [&'static str],
}

pub const CUSTOMER_CREATE: &str = "customer_create";
pub const CONVERSATION_CREATE: &str = "conversation_create";
pub const MESSAGE_NOTE_TIMES: &str = "message_note_times";
pub const DUPLICATE_STATUS: &str = "duplicate_status";
pub const DUPLICATE_RECOGNISED: &str = "duplicate_recognised";
pub const BULK_BATCHES: &str = "bulk_batches_envelope";
pub const TAGS_ROUTE: &str = "tags_route";
pub const SAVED_SEARCH_CREATE: &str = "saved_search_create";
pub const SHORTCUT_CREATE: &str = "shortcut_create";
pub const KB_CATEGORY_CREATE: &str = "kb_category_create";
pub const KB_CATEGORY_PARENT: &str = "kb_category_parent";
pub const KB_VERSION: &str = "kb_version_body";
pub const METADATA_ENUMERATION: &str = "metadata_enumeration";

/// Every assumption the probe answers, in the order it reports them.
pub const ASSUMPTIONS: &[Assumption] = &[
    Assumption {
        id: CUSTOMER_CREATE,
        what: "POST /v1/customers keeps externalId, name, e-mail and createdAt",
        fallback: None,
        needed_by: &["contacts"],
    },
    Assumption {
        id: CONVERSATION_CREATE,
        what: "POST /v1/conversations keeps externalId and createdAt",
        fallback: None,
        needed_by: &["conversations"],
    },
    Assumption {
        id: MESSAGE_NOTE_TIMES,
        what: "messages and notes keep the createdAt i2k sends (a key with org.admin)",
        fallback: Some(
            "only with --accept-restamped-times (or c on \"Key roles\"): messages and notes carry the time of loading",
        ),
        needed_by: &["conversations"],
    },
    Assumption {
        id: DUPLICATE_STATUS,
        what: "a create whose externalId exists is refused with 409",
        fallback: Some(
            "duplicates told by the words of the refusal and resolved by the externalId lookup",
        ),
        needed_by: &[],
    },
    Assumption {
        id: DUPLICATE_RECOGNISED,
        what: "a create whose externalId exists is refused in words i2k recognises as a duplicate",
        fallback: None,
        needed_by: &["contacts", "companies", "conversations"],
    },
    Assumption {
        id: BULK_BATCHES,
        what: "GET /v1/bulk/{id}/batches answers in a JSON:API data envelope",
        fallback: Some("bulk job batches read as a bare JSON array (the bulk guide's drawing)"),
        needed_by: &[],
    },
    Assumption {
        id: TAGS_ROUTE,
        what: "POST /v1/tags {name} creates a tag",
        fallback: Some(tag_fallback::REPORT_LINE),
        needed_by: &[],
    },
    Assumption {
        id: SAVED_SEARCH_CREATE,
        what: "POST /v1/customers/searches {name, data, defaultVisibility} creates a saved search",
        fallback: None,
        needed_by: &["segments"],
    },
    Assumption {
        id: SHORTCUT_CREATE,
        what: "POST /v1/shortcuts {name, draft.text, …} creates a shortcut",
        fallback: None,
        needed_by: &["macros"],
    },
    Assumption {
        id: KB_CATEGORY_CREATE,
        what: "POST /v1/kb/categories creates a category with its title",
        fallback: None,
        needed_by: &["collections"],
    },
    Assumption {
        id: KB_CATEGORY_PARENT,
        what: "a KB category nests under the category its `parent` names",
        fallback: None,
        needed_by: &["collections"],
    },
    Assumption {
        id: KB_VERSION,
        what: "POST|PUT /v1/kb/articles/{id}/versions/{lang} takes {title, htmlBody, slug, publishedAt}",
        fallback: None,
        needed_by: &["articles"],
    },
    Assumption {
        id: METADATA_ENUMERATION,
        what: "PUT /v1/metadata/{resource} keeps an attribute's enumeration as plain strings",
        fallback: None,
        needed_by: &["data_attributes", "conversation_attributes"],
    },
];

/// The catalog row of `id`.
pub fn assumption(id: &str) -> Option<&'static Assumption> {
    ASSUMPTIONS.iter().find(|a| a.id == id)
}

/// One assumption's answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub assumption: String,
    pub outcome: Outcome,
    /// The server's answer or what was dropped (refused), what was checked (confirmed), or why
    /// it was not probed.
    pub detail: String,
    /// What the probe left on the org (no delete route, or a delete refused).
    pub leftover: Option<String>,
}

impl Finding {
    fn new(id: &str, outcome: Outcome, detail: impl Into<String>) -> Finding {
        Finding {
            assumption: id.to_string(),
            outcome,
            detail: detail.into(),
            leftover: None,
        }
    }

    /// `step` of the probe failed with `e` (`the read-back answered 404 …`).
    fn failed(id: &str, outcome: Outcome, step: &str, e: &KustomerError) -> Finding {
        Finding::new(id, outcome, format!("{step} {}", refusal(e)))
    }

    fn leaving(mut self, leftover: impl Into<String>) -> Finding {
        self.leftover = Some(leftover.into());
        self
    }

    /// One line: symbol, assumption, outcome and detail (and what is left on the org).
    pub fn line(&self) -> String {
        let what = assumption(&self.assumption).map_or("", |a| a.what);
        let mut line = format!(
            "{} {} ({what}): {} — {}",
            self.outcome.symbol(),
            self.assumption,
            self.outcome.as_str().replace('_', " "),
            self.detail
        );
        if let Some(left) = &self.leftover {
            line.push_str(&format!(" [left on the org: {left}]"));
        }
        line
    }
}

/// The question asked before anything is created (the console asks the same).
pub const QUESTION: &str = "Create these throwaway records on the Kustomer org?";

/// What the probe creates, said before it does: every record is named "i2k probe", its
/// externalId starts `i2k-probe-`, e-mail addresses are on `example.invalid`, and messages are
/// inbound with `importedAt`, so nothing is sent to anyone.
pub fn plan() -> Vec<String> {
    vec![
        "2 customers \"i2k probe\" (one single, one bulk; e-mail probe-…@example.invalid), then deleted".into(),
        "1 conversation \"i2k probe\" with 1 inbound message and 1 note, all with importedAt, then deleted (the message with its conversation: Kustomer has no message delete route)".into(),
        "1 repeat of the customer create (the same externalId), to see how a duplicate is refused".into(),
        "1 tag \"i2k probe …\" (left on the org: Kustomer has no tag delete route; listed in MANUAL.md)".into(),
        "1 saved search \"i2k probe …\" (left: no delete route; listed in MANUAL.md)".into(),
        "1 shortcut \"i2k probe …\" (left: no delete route; listed in MANUAL.md)".into(),
        "2 KB categories \"i2k probe …\", one nested in the other (left: no delete route; listed in MANUAL.md)".into(),
        "1 customer attribute i2kProbeStr (display name \"i2k probe\") with two options (left: no delete route; listed in MANUAL.md; a later probe reuses it)".into(),
    ]
}

/// The time the throwaway records claim to have been created: far from now, so a re-stamp shows.
const PROBE_CREATED_AT: &str = "2020-01-02T03:04:05.000Z";
/// The attribute the metadata probe declares (one name, so probes never add a second).
const PROBE_ATTRIBUTE: &str = "i2kProbeStr";
const PROBE_OPTIONS: [&str; 2] = ["i2k probe a", "i2k probe b"];

/// The names and ids one probe run gives its records.
struct Marks {
    name: String,
    nonce: String,
    imported_at: String,
}

impl Marks {
    fn new() -> Marks {
        let nonce = crate::rng::Rng::from_entropy().hex(8);
        Marks {
            name: format!("i2k probe {nonce}"),
            imported_at: crate::timefmt::unix_ms_to_iso(crate::timefmt::now_unix_ms()),
            nonce,
        }
    }

    fn external_id(&self, what: &str) -> String {
        format!("i2k-probe-{}-{what}", self.nonce)
    }

    fn customer(&self, what: &str) -> Value {
        json!({
            "name": "i2k probe",
            "externalId": self.external_id(what),
            "emails": [{"type": "other", "email": format!("probe-{}-{what}@example.invalid", self.nonce)}],
            "createdAt": PROBE_CREATED_AT,
            "importedAt": self.imported_at,
        })
    }
}

/// What a refusal said, for a finding: status, code and message, never the request's secrets
/// (the transport redacts them).
fn refusal(e: &KustomerError) -> String {
    match e {
        KustomerError::Api(ApiError::Http {
            status,
            code,
            message,
            ..
        }) => format!("answered {status} {code}: {message}"),
        other => other.to_string(),
    }
}

/// The stored `createdAt` against what was sent: `None` when it was kept.
fn restamped(record: &Resource) -> Option<String> {
    let stored = record.str("createdAt").unwrap_or("nothing");
    let same =
        crate::timefmt::iso_to_unix_ms(stored) == crate::timefmt::iso_to_unix_ms(PROBE_CREATED_AT);
    (!same).then(|| format!("createdAt sent {PROBE_CREATED_AT}, stored {stored}"))
}

/// What of `sent` (top-level strings) the read-back `record` dropped or changed.
fn dropped(record: &Resource, sent: &Value, fields: &[&str]) -> Vec<String> {
    let mut lost: Vec<String> = fields
        .iter()
        .filter(|f| record.str(f) != sent.get(**f).and_then(Value::as_str))
        .map(|f| format!("{f} dropped or changed (stored {:?})", record.str(f)))
        .collect();
    lost.extend(restamped(record));
    lost
}

fn judged(id: &str, lost: Vec<String>, checked: &str) -> Finding {
    if lost.is_empty() {
        Finding::new(id, Outcome::Confirmed, checked)
    } else {
        Finding::new(id, Outcome::Refused, lost.join("; "))
    }
}

/// A created record `found` again by its externalId, against the `sent` body: its name,
/// externalId and createdAt must read back as sent.
fn read_back(id: &str, found: Result<Option<Resource>, KustomerError>, sent: &Value) -> Finding {
    match found {
        Ok(Some(stored)) => judged(
            id,
            dropped(&stored, sent, &["name", "externalId"]),
            "externalId, name and createdAt read back as sent",
        ),
        Ok(None) => Finding::new(
            id,
            Outcome::Refused,
            "created, but not found again by its externalId",
        ),
        Err(e) => Finding::new(id, Outcome::Refused, refusal(&e)),
    }
}

/// Deletes one probe record; a refused delete becomes a leftover of `finding`.
async fn remove(
    kustomer: &KustomerClient,
    what: Deletable,
    id: &str,
    label: &str,
    leftovers: &mut Vec<String>,
) {
    if let Err(e) = kustomer.delete_one(&what, id).await {
        leftovers.push(format!("{label} {id} (delete refused: {})", refusal(&e)));
    }
}

/// Runs every probe against the org and returns one finding per assumption, in catalog order.
/// Everything it creates is named "i2k probe"; what it cannot delete is each finding's
/// `leftover`.
pub async fn probe(kustomer: &KustomerClient) -> Vec<Finding> {
    let marks = Marks::new();
    let mut findings = Vec::new();
    let mut leftovers = Vec::new();

    // The customer, then its duplicate, its conversation, message and note.
    let body = marks.customer("customer");
    let customer = match kustomer.create_customer(body.clone()).await {
        Ok(created) => Some(created.id),
        Err(e) => {
            findings.push(Finding::new(CUSTOMER_CREATE, Outcome::Refused, refusal(&e)));
            None
        }
    };
    if let Some(customer) = &customer {
        findings.push(read_back(
            CUSTOMER_CREATE,
            kustomer
                .customer_by_external_id(&marks.external_id("customer"))
                .await,
            &body,
        ));
        findings.extend(duplicate(kustomer, body, &mut leftovers).await);
        findings.extend(conversation(kustomer, &marks, customer, &mut leftovers).await);
        remove(
            kustomer,
            Deletable::Customer,
            customer,
            "customer",
            &mut leftovers,
        )
        .await;
    } else {
        for id in [
            DUPLICATE_STATUS,
            DUPLICATE_RECOGNISED,
            CONVERSATION_CREATE,
            MESSAGE_NOTE_TIMES,
            TAGS_ROUTE,
            SAVED_SEARCH_CREATE,
        ] {
            findings.push(Finding::new(
                id,
                Outcome::NotProbed,
                "it needs the probe customer, which was refused",
            ));
        }
    }
    findings.push(bulk(kustomer, &marks, &mut leftovers).await);
    findings.push(shortcut(kustomer, &marks).await);
    findings.extend(kb_categories(kustomer, &marks).await);
    findings.push(kb_version(kustomer, &marks).await);
    findings.push(metadata(kustomer).await);
    if !leftovers.is_empty()
        && let Some(first) = findings.first_mut()
    {
        let joined = leftovers.join("; ");
        first.leftover = Some(match first.leftover.take() {
            Some(l) => format!("{l}; {joined}"),
            None => joined,
        });
    }
    findings.sort_by_key(|f| {
        ASSUMPTIONS
            .iter()
            .position(|a| a.id == f.assumption)
            .unwrap_or(usize::MAX)
    });
    findings
}

/// Sends the customer again with the same externalId: 409 is the assumption, a refusal in
/// words that say "duplicate" the fallback.
async fn duplicate(
    kustomer: &KustomerClient,
    body: Value,
    leftovers: &mut Vec<String>,
) -> Vec<Finding> {
    match kustomer.create_customer(body).await {
        Ok(second) => {
            remove(
                kustomer,
                Deletable::Customer,
                &second.id,
                "second customer",
                leftovers,
            )
            .await;
            let said = "a second customer with the same externalId was accepted";
            vec![
                Finding::new(DUPLICATE_STATUS, Outcome::Refused, said),
                Finding::new(DUPLICATE_RECOGNISED, Outcome::Refused, said),
            ]
        }
        Err(e) => {
            let said = refusal(&e);
            let status = matches!(&e, KustomerError::Api(ApiError::Http { status: 409, .. }));
            vec![
                Finding::new(
                    DUPLICATE_STATUS,
                    if status {
                        Outcome::Confirmed
                    } else {
                        Outcome::Refused
                    },
                    said.clone(),
                ),
                Finding::new(
                    DUPLICATE_RECOGNISED,
                    if e.is_duplicate() {
                        Outcome::Confirmed
                    } else {
                        Outcome::Refused
                    },
                    said,
                ),
            ]
        }
    }
}

/// The conversation, its message and note (times), and the tag and saved search (which needs a
/// tag: from `POST /v1/tags`, else appended to the conversation as a run's fallback does).
async fn conversation(
    kustomer: &KustomerClient,
    marks: &Marks,
    customer: &str,
    leftovers: &mut Vec<String>,
) -> Vec<Finding> {
    let body = json!({
        "customer": customer,
        "externalId": marks.external_id("conversation"),
        "name": "i2k probe",
        "direction": "in",
        "createdAt": PROBE_CREATED_AT,
        "importedAt": marks.imported_at,
    });
    let conversation = match kustomer.create_conversation(body.clone()).await {
        Ok(c) => c.id,
        Err(e) => {
            let mut out = vec![Finding::new(
                CONVERSATION_CREATE,
                Outcome::Refused,
                refusal(&e),
            )];
            for id in [MESSAGE_NOTE_TIMES, TAGS_ROUTE, SAVED_SEARCH_CREATE] {
                out.push(Finding::new(
                    id,
                    Outcome::NotProbed,
                    "it needs the probe conversation, which was refused",
                ));
            }
            return out;
        }
    };
    let mut out = vec![read_back(
        CONVERSATION_CREATE,
        kustomer
            .conversation_by_external_id(&marks.external_id("conversation"))
            .await,
        &body,
    )];
    out.push(times(kustomer, marks, &conversation, leftovers).await);
    out.extend(tags(kustomer, marks, &conversation).await);
    remove(
        kustomer,
        Deletable::Conversation,
        &conversation,
        "conversation",
        leftovers,
    )
    .await;
    out
}

/// An inbound message and a note with `createdAt` in the past, read back.
async fn times(
    kustomer: &KustomerClient,
    marks: &Marks,
    conversation: &str,
    leftovers: &mut Vec<String>,
) -> Finding {
    let message = json!({
        "externalId": marks.external_id("message"),
        "channel": "email",
        "app": "i2k-probe",
        "direction": "in",
        "status": "received",
        "preview": "i2k probe: a throwaway inbound message",
        "createdAt": PROBE_CREATED_AT,
        "sentAt": PROBE_CREATED_AT,
        "importedAt": marks.imported_at,
    });
    let note = json!({
        "externalId": marks.external_id("note"),
        "body": "i2k probe: a throwaway note",
        "createdAt": PROBE_CREATED_AT,
        "importedAt": marks.imported_at,
    });
    let mut lost = Vec::new();
    match kustomer
        .create_conversation_message(conversation, message)
        .await
    {
        Err(e) => lost.push(format!("the message create {}", refusal(&e))),
        Ok(_) => match kustomer
            .message_by_external_id(&marks.external_id("message"))
            .await
        {
            Ok(Some(stored)) => lost.extend(restamped(&stored).map(|r| format!("message {r}"))),
            Ok(None) => lost.push("the message was not found again by its externalId".into()),
            Err(e) => lost.push(format!("the message read-back {}", refusal(&e))),
        },
    }
    match kustomer.create_conversation_note(conversation, note).await {
        Err(e) => lost.push(format!("the note create {}", refusal(&e))),
        Ok(created) => {
            match kustomer
                .note_by_external_id(conversation, &marks.external_id("note"))
                .await
            {
                Ok(Some(stored)) => lost.extend(restamped(&stored).map(|r| format!("note {r}"))),
                Ok(None) => lost.push("the note was not found again by its externalId".into()),
                Err(e) => lost.push(format!("the note read-back {}", refusal(&e))),
            }
            remove(kustomer, Deletable::Note, &created.id, "note", leftovers).await;
        }
    }
    judged(
        MESSAGE_NOTE_TIMES,
        lost,
        "the message's and the note's createdAt read back as sent",
    )
}

/// `POST /v1/tags`, then a saved search on the tag (from the route, or appended by name to the
/// probe conversation when the route is refused).
async fn tags(kustomer: &KustomerClient, marks: &Marks, conversation: &str) -> Vec<Finding> {
    let left = format!("tag \"{}\" (Kustomer has no tag delete route)", marks.name);
    let (tag_finding, tag_id) = match kustomer.create_tag(&marks.name).await {
        Ok(tag) => {
            let listed = kustomer
                .tag_ids_by_name()
                .await
                .ok()
                .and_then(|t| t.get(&marks.name).cloned());
            match listed {
                Some(id) => (
                    Finding::new(
                        TAGS_ROUTE,
                        Outcome::Confirmed,
                        "created, and listed by its name",
                    )
                    .leaving(left.clone()),
                    Some(id),
                ),
                None => (
                    Finding::new(
                        TAGS_ROUTE,
                        Outcome::Refused,
                        format!("created (id {}), but not listed by its name", tag.id),
                    )
                    .leaving(left.clone()),
                    None,
                ),
            }
        }
        Err(e) => {
            let appended = kustomer
                .add_conversation_tags(conversation, std::slice::from_ref(&marks.name))
                .await;
            let id = match appended {
                Ok(()) => kustomer
                    .tag_ids_by_name()
                    .await
                    .ok()
                    .and_then(|t| t.get(&marks.name).cloned()),
                Err(_) => None,
            };
            let finding = Finding::new(TAGS_ROUTE, Outcome::Refused, refusal(&e));
            let finding = match id {
                Some(_) => finding.leaving(format!(
                    "tag \"{}\" (created through the conversation tag route; no tag delete route)",
                    marks.name
                )),
                None => finding,
            };
            (finding, id)
        }
    };
    let search = match tag_id {
        None => Finding::new(
            SAVED_SEARCH_CREATE,
            Outcome::NotProbed,
            "a saved search needs a tag, and no probe tag could be created",
        ),
        Some(tag) => {
            let body = crate::mapping::extras::saved_search_body(&marks.name, &tag);
            created_and_listed(
                SAVED_SEARCH_CREATE,
                "saved search",
                kustomer.create_saved_search(body),
                kustomer.list_saved_searches(),
                &marks.name,
            )
            .await
        }
    };
    vec![tag_finding, search]
}

/// `create` of a `what` Kustomer has no delete route for, named `name`: confirmed when `listing`
/// (read only once the create went through) shows it by its name; left on the org either way.
async fn created_and_listed(
    id: &str,
    what: &str,
    create: impl Future<Output = Result<Named, KustomerError>>,
    listing: impl Future<Output = Result<Vec<Named>, KustomerError>>,
    name: &str,
) -> Finding {
    let created = match create.await {
        Ok(created) => created,
        Err(e) => return Finding::new(id, Outcome::Refused, refusal(&e)),
    };
    let finding = match listing.await {
        Ok(all) if all.iter().any(|n| n.name == name) => {
            Finding::new(id, Outcome::Confirmed, "created, and listed by its name")
        }
        Ok(_) => Finding::new(
            id,
            Outcome::Refused,
            "created, but its listing does not show it by its name",
        ),
        Err(e) => Finding::failed(id, Outcome::Refused, "its listing", &e),
    };
    finding.leaving(format!(
        "{what} \"{name}\" {} (Kustomer has no {what} delete route)",
        created.id
    ))
}

/// One customer through the bulk route, its job followed, and the shape of the batches.
async fn bulk(kustomer: &KustomerClient, marks: &Marks, leftovers: &mut Vec<String>) -> Finding {
    let item = marks.customer("bulk");
    let job = match kustomer
        .bulk_create(
            BulkResource::Customers,
            vec![(marks.external_id("bulk"), item)],
        )
        .await
    {
        Ok(job) => job,
        Err(e) => return Finding::failed(BULK_BATCHES, Outcome::NotProbed, "the bulk create", &e),
    };
    let poll = PollPolicy::default();
    let waited = kustomer.wait_job(&job.id, &poll).await;
    let shape = kustomer.batches_enveloped(&job.id).await;
    if let Ok(Some(created)) = kustomer
        .customer_by_external_id(&marks.external_id("bulk"))
        .await
    {
        remove(
            kustomer,
            Deletable::Customer,
            &created.id,
            "bulk customer",
            leftovers,
        )
        .await;
    }
    match (waited, shape) {
        (Err(e), _) | (_, Err(e)) => Finding::new(
            BULK_BATCHES,
            Outcome::NotProbed,
            format!("the bulk job could not be followed: {}", refusal(&e)),
        ),
        (Ok(_), Ok(true)) => Finding::new(
            BULK_BATCHES,
            Outcome::Confirmed,
            "the job's batches came in a data envelope",
        ),
        (Ok(_), Ok(false)) => Finding::new(
            BULK_BATCHES,
            Outcome::Refused,
            "the job's batches came as a bare JSON array",
        ),
    }
}

async fn shortcut(kustomer: &KustomerClient, marks: &Marks) -> Finding {
    let raw =
        json!({"name": marks.name, "body_text": "i2k probe: a throwaway shortcut, safe to delete"});
    let body = match crate::mapping::extras::shortcut_body(&raw.to_string()) {
        Ok((body, _)) => body,
        Err(e) => return Finding::new(SHORTCUT_CREATE, Outcome::NotProbed, e.to_string()),
    };
    created_and_listed(
        SHORTCUT_CREATE,
        "shortcut",
        kustomer.create_shortcut(body),
        kustomer.list_shortcuts(),
        &marks.name,
    )
    .await
}

/// An article (Kustomer cannot delete one: it is left, and listed), its draft filled with the
/// version body the KB phase sends, read back from the article's `langVersions`.
async fn kb_version(kustomer: &KustomerClient, marks: &Marks) -> Finding {
    const LANG: &str = "en_us";
    let article = json!({
        assumptions::KB_ARTICLE_LANG_FIELD: LANG,
        "externalId": marks.external_id("article"),
    });
    let article = match kustomer.create_kb_article(article).await {
        Ok(created) => created.id,
        Err(e) => {
            return Finding::new(
                KB_VERSION,
                Outcome::NotProbed,
                format!("the probe article was refused: {}", refusal(&e)),
            );
        }
    };
    let left = format!(
        "KB article {} \"{}\" (Kustomer has no KB article delete route)",
        article, marks.name
    );
    let html = "<p>i2k probe: a throwaway article, safe to unpublish</p>";
    let body = crate::mapping::kb::version_body(&marks.name, html, None);
    if let Err(e) = kustomer
        .update_kb_version(&article, LANG, body.clone())
        .await
    {
        return Finding::new(KB_VERSION, Outcome::Refused, refusal(&e)).leaving(left);
    }
    let draft = kustomer.get_kb_article(&article).await.map(|a| {
        a.attributes
            .get("langVersions")
            .and_then(|l| l.get(LANG))
            .and_then(|entry| entry.get("draftVersion"))
            .cloned()
    });
    let finding = match draft {
        Err(e) => Finding::new(
            KB_VERSION,
            Outcome::NotProbed,
            format!("the article could not be read back: {}", refusal(&e)),
        ),
        Ok(draft) => {
            let dropped: Vec<&str> = ["title", "htmlBody"]
                .into_iter()
                .filter(|f| draft.as_ref().and_then(|d| d.get(*f)) != body.get(*f))
                .collect();
            if dropped.is_empty() {
                Finding::new(
                    KB_VERSION,
                    Outcome::Confirmed,
                    "the draft holds the title and HTML body sent",
                )
            } else {
                Finding::new(
                    KB_VERSION,
                    Outcome::Refused,
                    format!(
                        "the draft did not keep {} (read back from the article's langVersions)",
                        dropped.join(", ")
                    ),
                )
            }
        }
    };
    finding.leaving(left)
}

/// A category's title as the listing shows it (top-level, or under `langs.en_us`).
fn category_title(c: &Resource) -> Option<String> {
    c.str("title").map(str::to_string).or_else(|| {
        c.attributes
            .get("langs")?
            .get("en_us")?
            .get("title")?
            .as_str()
            .map(str::to_string)
    })
}

/// A category, and one nested in it.
async fn kb_categories(kustomer: &KustomerClient, marks: &Marks) -> Vec<Finding> {
    let child_name = format!("{} (nested)", marks.name);
    let top = match kustomer
        .create_kb_category(assumptions::kb_category_body(
            &marks.name,
            None,
            "en_us",
            None,
            None,
        ))
        .await
    {
        Ok(top) => top.id,
        Err(e) => {
            return vec![
                Finding::new(KB_CATEGORY_CREATE, Outcome::Refused, refusal(&e)),
                Finding::new(
                    KB_CATEGORY_PARENT,
                    Outcome::NotProbed,
                    "it needs the probe category, which was refused",
                ),
            ];
        }
    };
    let left = |name: &str, id: &str| {
        format!("KB category \"{name}\" {id} (Kustomer has no KB category delete route)")
    };
    let child = kustomer
        .create_kb_category(assumptions::kb_category_body(
            &child_name,
            None,
            "en_us",
            Some(&top),
            None,
        ))
        .await;
    let listed = kustomer.list_kb_categories().await;
    let find = |id: &str| {
        listed
            .as_ref()
            .ok()
            .and_then(|all| all.iter().find(|c| c.id == id).cloned())
    };
    let created = match find(&top) {
        Some(c) if category_title(&c).as_deref() == Some(marks.name.as_str()) => Finding::new(
            KB_CATEGORY_CREATE,
            Outcome::Confirmed,
            "created, and listed with its title",
        ),
        Some(c) => Finding::new(
            KB_CATEGORY_CREATE,
            Outcome::Refused,
            format!(
                "listed with the title {:?}, not the one sent",
                category_title(&c)
            ),
        ),
        None => Finding::new(
            KB_CATEGORY_CREATE,
            Outcome::Refused,
            "created, but not in the category listing",
        ),
    }
    .leaving(left(&marks.name, &top));
    let nested = match child {
        Err(e) => Finding::new(KB_CATEGORY_PARENT, Outcome::Refused, refusal(&e)),
        Ok(child) => {
            let parent = find(&child.id).and_then(|c| {
                c.str(assumptions::KB_CATEGORY_PARENT_FIELD)
                    .map(str::to_string)
                    .or_else(|| c.related_id(assumptions::KB_CATEGORY_PARENT_FIELD))
            });
            let finding = if parent.as_deref() == Some(top.as_str()) {
                Finding::new(
                    KB_CATEGORY_PARENT,
                    Outcome::Confirmed,
                    "the nested category reads back under its parent",
                )
            } else {
                Finding::new(
                    KB_CATEGORY_PARENT,
                    Outcome::Refused,
                    format!("the nested category's parent reads back as {parent:?}, not {top}"),
                )
            };
            finding.leaving(left(&child_name, &child.id))
        }
    };
    vec![created, nested]
}

/// An attribute with two options, read back.
async fn metadata(kustomer: &KustomerClient) -> Finding {
    let options: Vec<String> = PROBE_OPTIONS.iter().map(|o| o.to_string()).collect();
    let body = json!({"properties": {PROBE_ATTRIBUTE: {
        "displayName": "i2k probe",
        "enumeration": assumptions::enumeration(&options),
    }}});
    if let Err(e) = kustomer.put_metadata("customer", body).await {
        return Finding::new(METADATA_ENUMERATION, Outcome::Refused, refusal(&e));
    }
    let left = format!(
        "customer attribute {PROBE_ATTRIBUTE} (Kustomer has no route to remove an attribute)"
    );
    let stored = match kustomer.get_metadata("customer").await {
        Ok(body) => body,
        Err(e) => {
            return Finding::failed(METADATA_ENUMERATION, Outcome::Refused, "the read-back", &e)
                .leaving(left);
        }
    };
    let enumeration = stored
        .pointer(&format!(
            "/data/attributes/properties/{PROBE_ATTRIBUTE}/enumeration"
        ))
        .cloned();
    if enumeration == Some(assumptions::enumeration(&options)) {
        Finding::new(
            METADATA_ENUMERATION,
            Outcome::Confirmed,
            "the options read back as the strings sent",
        )
    } else {
        Finding::new(
            METADATA_ENUMERATION,
            Outcome::Refused,
            format!("the options read back as {enumeration:?}"),
        )
    }
    .leaving(left)
}

/// Keeps the findings in the ledger (replacing an earlier probe's), adds what was left on the
/// org to the manual checklist and rewrites `MANUAL.md` in `state_dir`.
pub async fn record(ledger: &Ledger, state_dir: &Path, findings: &[Finding]) -> anyhow::Result<()> {
    ledger
        .record_probes(
            findings
                .iter()
                .map(|f| StoredProbe {
                    assumption: f.assumption.clone(),
                    outcome: f.outcome.as_str().to_string(),
                    detail: f.detail.clone(),
                    leftover: f.leftover.clone(),
                    at_ms: 0,
                })
                .collect(),
        )
        .await?;
    for f in findings {
        if let Some(left) = &f.leftover {
            ledger.add_manual_item(
                None,
                &format!("Delete what `i2k doctor --probe` left in Kustomer: {left}"),
                &format!(
                    "made by the {} probe; every probe record is named \"i2k probe\"",
                    f.assumption
                ),
            )?;
        }
    }
    ledger.flush().await?;
    crate::engine::manual::write_manual(ledger, state_dir, &[])?;
    Ok(())
}

/// The findings the ledger keeps (an unknown outcome is read as not probed).
pub fn stored(reader: &LedgerReader) -> Result<Vec<Finding>, LedgerError> {
    Ok(reader
        .probes()?
        .into_iter()
        .map(|p| Finding {
            assumption: p.assumption,
            outcome: Outcome::parse(&p.outcome).unwrap_or(Outcome::NotProbed),
            detail: p.detail,
            leftover: p.leftover,
        })
        .collect())
}

/// Why a run was not started: the probe found an assumption refused that has no fallback and
/// that records of this migration need.
#[derive(Debug, thiserror::Error)]
#[error(
    "the Kustomer org refused what i2k assumes for {needed}: {assumption} ({what}): {detail}. \
     Nothing was created. No fallback exists, so these records would fail: leave them out \
     (--only, or their bucket on the Scope screen), or tell i2k's maintainers what the org \
     answered and run `i2k doctor --probe` again once i2k is changed"
)]
pub struct ProbeRefused {
    pub assumption: String,
    pub what: String,
    pub detail: String,
    pub needed: String,
}

/// The findings the probe refused, each with its assumption (a finding of an assumption this
/// i2k no longer knows is passed over).
fn refused(findings: &[Finding]) -> impl Iterator<Item = (&Finding, &'static Assumption)> {
    findings
        .iter()
        .filter(|f| f.outcome == Outcome::Refused)
        .filter_map(|f| Some((f, assumption(&f.assumption)?)))
}

/// The start check on the stored probe: the fallbacks this run takes (report lines), or a
/// refusal. `sources` are the ledger's source counts by kind (empty before any extraction:
/// then every record type may depend on an assumption). `accept_restamped` stands in for the
/// re-stamped times fallback, which the operator must accept.
pub fn start_check(
    findings: &[Finding],
    sources: &std::collections::BTreeMap<String, u64>,
    accept_restamped: bool,
) -> Result<Vec<String>, ProbeRefused> {
    let mut fallbacks = Vec::new();
    for (f, a) in refused(findings) {
        let needed: Vec<&str> = a
            .needed_by
            .iter()
            .copied()
            .filter(|k| sources.is_empty() || sources.get(*k).is_some_and(|n| *n > 0))
            .collect();
        let usable = match a.id {
            MESSAGE_NOTE_TIMES => accept_restamped,
            _ => a.fallback.is_some(),
        };
        if usable {
            if let Some(fallback) = a.fallback {
                fallbacks.push(format!(
                    "{}: refused by the probe ({}); {fallback}",
                    a.id, f.detail
                ));
            }
        } else if !needed.is_empty() {
            return Err(ProbeRefused {
                assumption: a.id.to_string(),
                what: a.what.to_string(),
                detail: f.detail.clone(),
                needed: needed.join(", "),
            });
        }
    }
    Ok(fallbacks)
}

/// The staged record counts of the types a run limited to `only` loads (every type when
/// `only` is empty): a refusal matters only where the run would write what depends on it.
/// Before anything is staged, every type in scope counts as present.
fn in_scope(
    sources: std::collections::BTreeMap<String, u64>,
    only: &[String],
) -> std::collections::BTreeMap<String, u64> {
    let Ok(phases) = crate::engine::phases::phases_for(only) else {
        return sources;
    };
    if only.is_empty() {
        return sources;
    }
    let loaded: Vec<&str> = phases
        .into_iter()
        .flat_map(crate::engine::kinds::sources_of)
        .collect();
    if sources.is_empty() {
        // Nothing staged yet: every type the scope loads may depend.
        return loaded.into_iter().map(|k| (k.to_string(), 1)).collect();
    }
    let mut scoped: std::collections::BTreeMap<String, u64> = sources
        .into_iter()
        .filter(|(kind, _)| loaded.contains(&kind.as_str()))
        .collect();
    // Something staged, none of it in scope: nothing depends (not the empty-ledger caution).
    if scoped.is_empty() {
        scoped.insert(String::new(), 0);
    }
    scoped
}

/// [`start_check`] on the ledger in `state_dir`, read-only (a ledger without probes, or none
/// yet, takes no fallback and refuses nothing).
pub fn start_check_in(
    state_dir: &Path,
    only: &[String],
    accept_restamped: bool,
) -> Result<Vec<String>, ProbeRefused> {
    let Ok(reader) = LedgerReader::open(state_dir) else {
        return Ok(Vec::new());
    };
    let findings = stored(&reader).unwrap_or_default();
    let sources = in_scope(reader.source_counts().unwrap_or_default(), only);
    let decided = crate::engine::decisions::restamped_times_accepted_in(&reader)
        .ok()
        .flatten()
        == Some(true);
    start_check(&findings, &sources, accept_restamped || decided)
}

/// Stores, as the run's fallback decisions (listed by the report), the fallbacks the stored
/// probe calls for; a refused `POST /v1/tags` also sets the tag fallback's own decision, so the
/// run never calls the route.
pub async fn take_fallbacks(
    ledger: &Ledger,
    only: &[String],
    accept_restamped: bool,
) -> anyhow::Result<Vec<String>> {
    let findings = ledger.read(stored)?;
    let sources = in_scope(ledger.read(|r| r.source_counts())?, only);
    let decided = crate::engine::decisions::restamped_times_accepted(ledger)? == Some(true);
    let lines = start_check(&findings, &sources, accept_restamped || decided)?;
    for (f, a) in refused(&findings) {
        let Some(line) = lines.iter().find(|l| l.starts_with(&format!("{}:", a.id))) else {
            continue;
        };
        if a.id == TAGS_ROUTE {
            ledger
                .put_decision(
                    tag_fallback::DECISION,
                    &json!({ "line": tag_fallback::REPORT_LINE, "refusal": f.detail }),
                )
                .await?;
        } else if a.id != MESSAGE_NOTE_TIMES {
            ledger
                .put_decision(
                    &format!("{}probe:{}", tag_fallback::FALLBACK_PREFIX, a.id),
                    &json!({ "line": line }),
                )
                .await?;
        }
    }
    Ok(lines)
}
