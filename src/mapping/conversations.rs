//! Pure Intercom → Kustomer mapping of conversation history: the conversation create body, its
//! messages (the `source` first, then every comment part), its notes (note parts, one compact
//! timeline note, one truncation note) and its final state as a bulk update item.
//!
//! ExternalIds are unique per Kustomer type: a conversation carries its Intercom id; a message
//! from a part or a note from a note part carries the part id; the source message carries
//! `<conversation id>-source`; the timeline note `<conversation id>-timeline`; the truncation
//! note `<conversation id>-truncated`.

use serde_json::{Map, Value, json};

use crate::intercom::models::{Author, Conversation, ConversationPart};
use crate::mapping::clean::iso_time;

/// Kustomer shows `preview` as the message text; chat replies top out at 1,024 characters in its
/// UI, so longer text is cut there (the whole HTML stays in `meta.htmlBody`).
pub const PREVIEW_MAX_CHARS: usize = 1024;

pub fn source_message_external_id(conversation_id: &str) -> String {
    format!("{conversation_id}-source")
}

pub fn timeline_note_external_id(conversation_id: &str) -> String {
    format!("{conversation_id}-timeline")
}

pub fn truncation_note_external_id(conversation_id: &str) -> String {
    format!("{conversation_id}-truncated")
}

/// What a conversation part becomes in Kustomer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartRole {
    /// A message on the conversation's timeline.
    Message,
    /// A note (internal, by an admin).
    Note,
    /// An event (assignment, state or attribute change…): a line of the timeline note.
    Timeline,
}

/// The role of a stored conversation part (`raw`: its JSON as extracted), from its `part_type`;
/// unreadable JSON reads as a part without a type.
pub fn part_role_of(raw: &str) -> PartRole {
    let part: Option<Value> = serde_json::from_str(raw).ok();
    part_role(
        part.as_ref()
            .and_then(|v| v.get("part_type"))
            .and_then(Value::as_str),
    )
}

pub fn part_role(part_type: Option<&str>) -> PartRole {
    match part_type.unwrap_or("") {
        "comment" => PartRole::Message,
        "note" | "note_and_reopen" => PartRole::Note,
        _ => PartRole::Timeline,
    }
}

/// `in` for what a customer wrote (user, lead, contact); `out` for admins, bots and teams.
pub fn direction(author_type: Option<&str>) -> &'static str {
    match author_type.unwrap_or("") {
        "user" | "lead" | "contact" => "in",
        _ => "out",
    }
}

/// Bot (Fin, Operator) messages are automatic: Kustomer keeps them out of reporting metrics.
pub fn is_auto(author_type: Option<&str>) -> bool {
    matches!(author_type.unwrap_or(""), "bot" | "operator")
}

/// The Kustomer channel of a conversation, from its source's `type` and `delivered_as`.
/// In-app conversations and chats become `chat`; anything unknown falls back to `chat`, the
/// channel Intercom conversations live in.
pub fn channel(source_type: Option<&str>, delivered_as: Option<&str>) -> &'static str {
    let by_type = match source_type.unwrap_or("") {
        "email" => Some("email"),
        "twitter" => Some("twitter-dm"),
        "facebook" => Some("facebook"),
        "whatsapp" => Some("whatsapp"),
        "instagram" => Some("instagram"),
        "sms" => Some("sms"),
        "phone_call" | "call" => Some("voice"),
        _ => None,
    };
    by_type.unwrap_or(match delivered_as.unwrap_or("") {
        "customer_initiated_email" | "admin_initiated_email" | "email" => "email",
        _ => "chat",
    })
}

/// Decodes the HTML entities Intercom bodies carry (named basics and numeric forms).
fn decode_entity(entity: &str) -> Option<char> {
    match entity {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" | "#39" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let number = entity.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// The visible text of an HTML body: tags removed (block ends become spaces), entities decoded,
/// whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    let mut raw = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            match rest.find('>') {
                Some(end) => {
                    raw.push(' ');
                    rest = &rest[end + 1..];
                }
                None => {
                    // A lone `<` is text.
                    raw.push(c);
                    rest = &rest[1..];
                }
            }
        } else if c == '&' {
            let decoded = rest[1..]
                .find(';')
                .filter(|&end| end <= 10)
                .and_then(|end| decode_entity(&rest[1..end + 1]).map(|ch| (ch, end + 2)));
            match decoded {
                Some((ch, len)) => {
                    raw.push(ch);
                    rest = &rest[len..];
                }
                None => {
                    raw.push('&');
                    rest = &rest[1..];
                }
            }
        } else {
            raw.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text for `preview`: the visible text, cut to [`PREVIEW_MAX_CHARS`] characters.
pub fn preview(html: &str) -> String {
    let text = html_to_text(html);
    match text.char_indices().nth(PREVIEW_MAX_CHARS) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text,
    }
}

/// The `src` of every `<img>` in an HTML body, in order, entities decoded (`&amp;` in a URL).
pub fn inline_image_urls(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(start) = lower[from..].find("<img") {
        let tag_start = from + start;
        let tag_end = lower[tag_start..]
            .find('>')
            .map_or(html.len(), |e| tag_start + e);
        let tag = &html[tag_start..tag_end];
        let tag_lower = &lower[tag_start..tag_end];
        if let Some(at) = tag_lower.find("src=") {
            let value = &tag[at + 4..];
            let url = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
                _ => value.split([' ', '>', '/']).next().unwrap_or(""),
            };
            if !url.is_empty() {
                out.push(url.replace("&amp;", "&"));
            }
        }
        from = tag_end.max(tag_start + 4);
    }
    out
}

/// The Kustomer ids a conversation create body refers to, resolved by the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationRefs {
    pub customer: String,
    pub assigned_user: Option<String>,
    pub assigned_team: Option<String>,
    pub tags: Vec<String>,
    /// Converted conversation custom attributes (`custom`).
    pub custom: Map<String, Value>,
}

/// `POST /v1/conversations` (bulk item) body. Created `open` always: the final state comes last,
/// after the messages, because a customer message would reopen a done conversation.
pub fn conversation_body(
    conversation_id: &str,
    conversation: &Conversation,
    refs: &ConversationRefs,
    imported_at: &str,
) -> Value {
    let mut body = json!({
        "customer": refs.customer,
        "externalId": conversation_id,
        "status": "open",
        "importedAt": imported_at,
    });
    if let Some(created) = conversation.created_at.and_then(iso_time) {
        body["createdAt"] = json!(created);
    }
    let name = conversation
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(html_to_text)
        .or_else(|| {
            conversation
                .source
                .as_ref()
                .and_then(|s| s.subject.as_deref())
                .map(html_to_text)
                .filter(|s| !s.is_empty())
        });
    // Control characters out of the title (the loader warns, [`clean::strip_controls`]).
    if let Some(name) = name.map(|n| crate::mapping::clean::strip_controls(&n).unwrap_or(n)) {
        body["name"] = json!(name);
    }
    if let Some(source) = &conversation.source {
        let author = source.author.as_ref().and_then(|a| a.kind.as_deref());
        body["direction"] = json!(direction(author));
    }
    if let Some(user) = &refs.assigned_user {
        body["assignedUsers"] = json!([user]);
    }
    if let Some(team) = &refs.assigned_team {
        body["assignedTeams"] = json!([team]);
    }
    if !refs.tags.is_empty() {
        body["tags"] = json!(refs.tags);
    }
    if let Some(priority) = conversation
        .priority
        .as_ref()
        .and_then(|p| priority(p.as_str()))
    {
        body["priority"] = json!(priority);
    }
    if !refs.custom.is_empty() {
        body["custom"] = Value::Object(refs.custom.clone());
    }
    body
}

/// Intercom priority → Kustomer's 1–5 (3 is Kustomer's default, so `none` sends nothing).
fn priority(p: &str) -> Option<u8> {
    match p {
        "urgent" => Some(5),
        "high" => Some(4),
        "medium" => Some(3),
        "low" => Some(2),
        _ => None,
    }
}

/// One message to create: what the Intercom source or comment part says.
#[derive(Debug, Clone, Copy)]
pub struct MessageSource<'a> {
    pub external_id: &'a str,
    pub author: Option<&'a Author>,
    pub html: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub created_at: Option<i64>,
    /// The Intercom part type (`comment`), or `None` for the conversation's source.
    pub part_type: Option<&'a str>,
}

/// Where the message goes and what it references, resolved by the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageRefs {
    pub conversation: String,
    pub customer: String,
    pub channel: String,
    pub app: String,
    /// The mapped user of an admin author.
    pub created_by: Option<String>,
    /// Uploaded files (`{_id, name, contentType, contentLength}`), attachments then inline images.
    pub attachments: Vec<Value>,
    /// Inline image URL → uploaded attachment id, so the HTML can be relinked.
    pub inline_images: Vec<(String, String)>,
}

/// `POST /v1/messages/bulk` item. Kustomer messages have no body field: the visible text goes in
/// `preview`, the original HTML in `meta.htmlBody`.
pub fn message_body(source: &MessageSource, refs: &MessageRefs, imported_at: &str) -> Value {
    let author_type = source.author.and_then(|a| a.kind.as_deref());
    let html = source.html.unwrap_or("");
    let dir = direction(author_type);
    let mut meta = json!({ "htmlBody": html });
    if let Some(author) = source.author {
        meta["intercomAuthor"] = json!({
            "type": author.kind, "id": author.id.as_ref().map(|i| i.as_str()),
            "name": author.name, "email": author.email,
        });
    }
    if let Some(t) = source.part_type {
        meta["intercomPartType"] = json!(t);
    }
    if !refs.inline_images.is_empty() {
        meta["inlineImages"] = Value::Array(
            refs.inline_images
                .iter()
                .map(|(src, id)| json!({"src": src, "attachmentId": id}))
                .collect(),
        );
    }
    let mut body = json!({
        "conversation": refs.conversation,
        "customer": refs.customer,
        "externalId": source.external_id,
        "channel": refs.channel,
        "app": refs.app,
        "direction": dir,
        "status": if dir == "in" { "received" } else { "sent" },
        "preview": preview(html),
        "meta": meta,
        "importedAt": imported_at,
    });
    if let Some(at) = source.created_at.and_then(iso_time) {
        body["createdAt"] = json!(at);
        body["sentAt"] = json!(at);
    }
    if let Some(subject) = source.subject.filter(|s| !s.trim().is_empty()) {
        body["subject"] = json!(html_to_text(subject));
    }
    if is_auto(author_type) {
        body["auto"] = json!(true);
    }
    if dir == "out"
        && let Some(user) = &refs.created_by
    {
        body["createdBy"] = json!(user);
    }
    if !refs.attachments.is_empty() {
        body["attachments"] = Value::Array(refs.attachments.clone());
    }
    body
}

/// `POST /v1/notes/bulk` item for an Intercom note part.
pub fn note_body(
    part_id: &str,
    part: &ConversationPart,
    conversation: &str,
    created_by: Option<&str>,
    attachments: &[Value],
    imported_at: &str,
) -> Value {
    let html = part.body.as_deref().unwrap_or("");
    let mut text = html_to_text(html);
    if text.is_empty() {
        text = "(empty note)".to_string();
    }
    let mut body = json!({
        "conversation": conversation,
        "externalId": part_id,
        "body": text,
        "importedAt": imported_at,
    });
    if let Some(at) = part.created_at.and_then(iso_time) {
        body["createdAt"] = json!(at);
    }
    if let Some(user) = created_by {
        body["createdBy"] = json!(user);
    }
    if !attachments.is_empty() {
        body["attachments"] = Value::Array(attachments.to_vec());
    }
    body
}

fn author_label(author: Option<&Author>) -> String {
    match author {
        Some(a) => {
            let who = a
                .name
                .clone()
                .or_else(|| a.email.clone())
                .or_else(|| a.id.as_ref().map(|i| i.as_str().to_string()))
                .unwrap_or_else(|| "someone".to_string());
            match a.kind.as_deref() {
                Some(kind) => format!("{who} ({kind})"),
                None => who,
            }
        }
        None => "someone".to_string(),
    }
}

/// One line of the timeline note for an event part: when, what, by whom, and to whom.
pub fn timeline_line(part: &ConversationPart) -> String {
    let when = part.created_at.map_or_else(
        || "unknown time".to_string(),
        |t| iso_time(t).unwrap_or_else(|| format!("unix time {t}")),
    );
    let what = part
        .part_type
        .as_deref()
        .unwrap_or("event")
        .replace('_', " ");
    let mut line = format!("{when} — {what} by {}", author_label(part.author.as_ref()));
    if let Some(to) = &part.assigned_to
        && let Some(id) = &to.id
    {
        let kind = to.kind.as_deref().unwrap_or("assignee");
        line.push_str(&format!(" → {kind} {}", id.as_str()));
    }
    let text = part.body.as_deref().map(html_to_text).unwrap_or_default();
    if !text.is_empty() {
        line.push_str(&format!(": {text}"));
    }
    line
}

/// The one timeline note of a conversation: its event parts, oldest first, one line each.
/// `created_at` is the last event's time, so the note sits at the end of what it summarises.
pub fn timeline_note_body(
    conversation_id: &str,
    conversation: &str,
    events: &[&ConversationPart],
    imported_at: &str,
) -> Value {
    let mut sorted: Vec<&&ConversationPart> = events.iter().collect();
    sorted.sort_by_key(|p| p.created_at.unwrap_or(0));
    let mut text = format!(
        "Intercom conversation timeline ({} event{}):",
        events.len(),
        if events.len() == 1 { "" } else { "s" }
    );
    for p in &sorted {
        text.push('\n');
        text.push_str(&timeline_line(p));
    }
    let mut body = json!({
        "conversation": conversation,
        "externalId": timeline_note_external_id(conversation_id),
        "body": text,
        "importedAt": imported_at,
    });
    if let Some(last) = sorted.last().and_then(|p| p.created_at).and_then(iso_time) {
        body["createdAt"] = json!(last);
    }
    body
}

/// The note on a conversation Intercom's 500-part cap truncated: how many older parts the API
/// could not return. Dated at the conversation's start, where the missing parts belong.
pub fn truncation_note_body(
    conversation_id: &str,
    conversation: &str,
    missing: u64,
    created_at: Option<i64>,
    imported_at: &str,
) -> Value {
    let mut body = json!({
        "conversation": conversation,
        "externalId": truncation_note_external_id(conversation_id),
        "body": format!(
            "Migrated from Intercom: this conversation had {missing} older part{} that the Intercom API could not return (it returns only the 500 most recent parts). They are not in Kustomer; see the Intercom workspace for the full history.",
            if missing == 1 { "" } else { "s" }
        ),
        "importedAt": imported_at,
    });
    if let Some(at) = created_at.and_then(iso_time) {
        body["createdAt"] = json!(at);
    }
    body
}

/// Older parts the API could not return: what the conversation says exists (its statistics count
/// the source message too; `total_count` of its parts list) minus the parts staged.
pub fn missing_parts(conversation: &Conversation, staged_parts: u64) -> u64 {
    let total_count = conversation
        .conversation_parts
        .as_ref()
        .and_then(|l| l.total_count)
        .unwrap_or(0);
    let from_stats = conversation
        .statistics
        .as_ref()
        .and_then(|s| s.count_conversation_parts)
        .map_or(0, |n| n.saturating_sub(1));
    total_count.max(from_stats).saturating_sub(staged_parts)
}

/// The final state of a conversation, as a bulk update item (`id` = the Kustomer conversation),
/// or `None` for an open one (it was created open). Closed → `done` with `ended*` from the close
/// part (its admin mapped to `ended_by`); snoozed → `snoozed` until `snoozed_until`.
pub fn final_state(
    kustomer_id: &str,
    conversation: &Conversation,
    close: Option<&ConversationPart>,
    ended_by: Option<&str>,
) -> Option<Value> {
    let state = conversation.state.as_ref().map(|s| s.as_str().to_string());
    let closed =
        state.as_deref() == Some("closed") || (state.is_none() && conversation.open == Some(false));
    if closed {
        let ended_at = close
            .and_then(|p| p.created_at)
            .or_else(|| {
                conversation
                    .statistics
                    .as_ref()
                    .and_then(|s| s.last_close_at)
            })
            .or(conversation.updated_at);
        let mut body = json!({ "id": kustomer_id, "status": "done", "ended": true });
        if let Some(at) = ended_at.and_then(iso_time) {
            body["endedAt"] = json!(at);
        }
        if let Some(user) = ended_by {
            body["endedBy"] = json!(user);
            body["endedByType"] = json!("user");
        }
        return Some(body);
    }
    if state.as_deref() == Some("snoozed") {
        let mut body = json!({ "id": kustomer_id, "status": "snoozed" });
        if let Some(until) = conversation.snoozed_until.and_then(iso_time) {
            body["snooze"] = json!({ "time": until, "status": "scheduled" });
        } else {
            // Kustomer refuses a snooze without a time; Intercom did not say until when.
            body["status"] = json!("open");
        }
        return Some(body);
    }
    None
}

/// The part that closed the conversation: the last `close` part.
pub fn close_part<'a>(parts: &[&'a ConversationPart]) -> Option<&'a ConversationPart> {
    parts
        .iter()
        .filter(|p| p.part_type.as_deref() == Some("close"))
        .max_by_key(|p| p.created_at.unwrap_or(0))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(v: Value) -> ConversationPart {
        serde_json::from_value(v).unwrap()
    }

    fn conversation(v: Value) -> Conversation {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn part_types_map_to_messages_notes_or_the_timeline() {
        let table = [
            (Some("comment"), PartRole::Message),
            (Some("note"), PartRole::Note),
            (Some("note_and_reopen"), PartRole::Note),
            (Some("assignment"), PartRole::Timeline),
            (Some("close"), PartRole::Timeline),
            (Some("open"), PartRole::Timeline),
            (Some("snoozed"), PartRole::Timeline),
            (
                Some("conversation_attribute_updated_by_admin"),
                PartRole::Timeline,
            ),
            (None, PartRole::Timeline),
        ];
        for (t, role) in table {
            assert_eq!(part_role(t), role, "{t:?}");
        }
    }

    #[test]
    fn direction_follows_the_author_type() {
        let table = [
            (Some("user"), "in"),
            (Some("lead"), "in"),
            (Some("contact"), "in"),
            (Some("admin"), "out"),
            (Some("bot"), "out"),
            (Some("team"), "out"),
            (None, "out"),
        ];
        for (t, d) in table {
            assert_eq!(direction(t), d, "{t:?}");
        }
        assert!(is_auto(Some("bot")));
        assert!(!is_auto(Some("admin")));
    }

    #[test]
    fn channel_follows_the_source_type() {
        let table = [
            (Some("conversation"), Some("customer_initiated"), "chat"),
            (Some("conversation"), Some("admin_initiated"), "chat"),
            (Some("email"), Some("customer_initiated"), "email"),
            (
                Some("conversation"),
                Some("customer_initiated_email"),
                "email",
            ),
            (Some("twitter"), None, "twitter-dm"),
            (Some("facebook"), None, "facebook"),
            (Some("whatsapp"), None, "whatsapp"),
            (Some("phone_call"), None, "voice"),
            (None, None, "chat"),
        ];
        for (t, d, c) in table {
            assert_eq!(channel(t, d), c, "{t:?} {d:?}");
        }
    }

    #[test]
    fn html_becomes_visible_text() {
        let table = [
            ("<p>Hello <b>there</b></p><p>Bye</p>", "Hello there Bye"),
            (
                "Fish &amp; chips &lt;3 &#233;t&#xE9; &nbsp;x",
                "Fish & chips <3 été x",
            ),
            ("a &unknown; b & c", "a &unknown; b & c"),
            ("1 < 2", "1 < 2"),
            ("  spaced\n\n out  ", "spaced out"),
            ("<img src=\"x.png\">", ""),
            ("日本語 <i>テキスト</i>", "日本語 テキスト"),
        ];
        for (html, text) in table {
            assert_eq!(html_to_text(html), text, "{html}");
        }
    }

    #[test]
    fn preview_is_cut_at_1024_characters() {
        let long = format!("<p>{}</p>", "é".repeat(2000));
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_MAX_CHARS);
        assert_eq!(preview("<p>short</p>"), "short");
    }

    #[test]
    fn inline_images_are_found_in_order() {
        let html = r#"<p>see</p><div><IMG width="1" SRC="https://f/a.png?x=1&amp;y=2"></div><img src='b.png'/><img alt="no src">"#;
        assert_eq!(
            inline_image_urls(html),
            vec!["https://f/a.png?x=1&y=2".to_string(), "b.png".to_string()]
        );
        assert!(inline_image_urls("<p>none</p>").is_empty());
    }

    #[test]
    fn conversation_body_carries_ids_times_and_links() {
        let c = conversation(json!({
            "id": "42", "created_at": 1_700_000_000, "title": "Re: <b>order</b>",
            "priority": "high", "state": "closed",
            "source": {"type": "conversation", "author": {"type": "user", "id": "u1"}},
        }));
        let refs = ConversationRefs {
            customer: "cust".into(),
            assigned_user: Some("user1".into()),
            assigned_team: Some("team1".into()),
            tags: vec!["tagA".into()],
            custom: json!({"planStr": "pro"}).as_object().unwrap().clone(),
        };
        let body = conversation_body("42", &c, &refs, "2026-01-01T00:00:00.000Z");
        assert_eq!(
            body,
            json!({
                "customer": "cust", "externalId": "42", "status": "open",
                "importedAt": "2026-01-01T00:00:00.000Z",
                "createdAt": "2023-11-14T22:13:20.000Z", "name": "Re: order",
                "direction": "in", "assignedUsers": ["user1"], "assignedTeams": ["team1"],
                "tags": ["tagA"], "priority": 4, "custom": {"planStr": "pro"},
            })
        );
    }

    #[test]
    fn message_body_keeps_text_html_time_and_author() {
        let author: Author =
            serde_json::from_value(json!({"type": "admin", "id": "7", "name": "Ann"})).unwrap();
        let src = MessageSource {
            external_id: "p1",
            author: Some(&author),
            html: Some("<p>Hi &amp; welcome</p>"),
            subject: None,
            created_at: Some(1_700_000_000),
            part_type: Some("comment"),
        };
        let refs = MessageRefs {
            conversation: "c".into(),
            customer: "k".into(),
            channel: "chat".into(),
            app: "intercom-import".into(),
            created_by: Some("u7".into()),
            attachments: vec![
                json!({"_id": "a1", "name": "x.png", "contentType": "image/png", "contentLength": 3}),
            ],
            inline_images: vec![("https://img".into(), "a1".into())],
        };
        let b = message_body(&src, &refs, "2026-01-01T00:00:00.000Z");
        assert_eq!(b["preview"], "Hi & welcome");
        assert_eq!(b["meta"]["htmlBody"], "<p>Hi &amp; welcome</p>");
        assert_eq!(b["meta"]["inlineImages"][0]["attachmentId"], "a1");
        assert_eq!(b["direction"], "out");
        assert_eq!(b["status"], "sent");
        assert_eq!(b["createdBy"], "u7");
        assert_eq!(b["createdAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(b["sentAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(b["importedAt"], "2026-01-01T00:00:00.000Z");
        assert_eq!(b["externalId"], "p1");
        assert_eq!(b["attachments"][0]["_id"], "a1");
        assert!(b.get("auto").is_none());

        // The same message by another author.
        let by = |author: Value| {
            let author: Author = serde_json::from_value(author).unwrap();
            let src = MessageSource {
                author: Some(&author),
                ..src
            };
            message_body(&src, &refs, "t")
        };
        let b = by(json!({"type": "bot", "id": "9"}));
        assert_eq!(b["auto"], true);

        let b = by(json!({"type": "user", "id": "u"}));
        assert_eq!(b["direction"], "in");
        assert_eq!(b["status"], "received");
        assert!(
            b.get("createdBy").is_none(),
            "a customer's message is not by a user"
        );
    }

    #[test]
    fn notes_carry_author_time_and_text() {
        let p = part(
            json!({"id": "5", "part_type": "note", "body": "<p>Call <b>back</b></p>",
                            "created_at": 1_700_000_100, "author": {"type": "admin", "id": "7"}}),
        );
        let b = note_body("5", &p, "conv", Some("u7"), &[], "now");
        assert_eq!(
            b,
            json!({"conversation": "conv", "externalId": "5", "body": "Call back",
                   "importedAt": "now", "createdAt": "2023-11-14T22:15:00.000Z", "createdBy": "u7"})
        );
    }

    #[test]
    fn timeline_note_lists_events_oldest_first() {
        let a = part(
            json!({"id": "1", "part_type": "assignment", "created_at": 200,
                            "author": {"type": "admin", "id": "7", "name": "Ann"},
                            "assigned_to": {"type": "admin", "id": "8"}}),
        );
        let c = part(json!({"id": "2", "part_type": "close", "created_at": 300,
                            "author": {"type": "admin", "id": "7", "name": "Ann"}}));
        let b = timeline_note_body("42", "conv", &[&c, &a], "now");
        let text = b["body"].as_str().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            "1970-01-01T00:03:20.000Z — assignment by Ann (admin) → admin 8"
        );
        assert_eq!(lines[2], "1970-01-01T00:05:00.000Z — close by Ann (admin)");
        assert_eq!(b["externalId"], "42-timeline");
        assert_eq!(b["createdAt"], "1970-01-01T00:05:00.000Z");
    }

    #[test]
    fn truncated_conversations_count_their_missing_parts() {
        let c = conversation(json!({"statistics": {"count_conversation_parts": 521},
                                    "conversation_parts": {"total_count": 500}}));
        assert_eq!(missing_parts(&c, 500), 20);
        let whole = conversation(json!({"statistics": {"count_conversation_parts": 4}}));
        assert_eq!(missing_parts(&whole, 3), 0);
        let b = truncation_note_body("42", "conv", 20, Some(100), "now");
        assert!(b["body"].as_str().unwrap().contains("20 older parts"));
        assert_eq!(b["externalId"], "42-truncated");
    }

    #[test]
    fn final_states_close_and_snooze() {
        let closed = conversation(json!({"state": "closed", "updated_at": 900}));
        let close = part(json!({"id": "9", "part_type": "close", "created_at": 800,
                                "author": {"type": "admin", "id": "7"}}));
        assert_eq!(
            final_state("k1", &closed, Some(&close), Some("u7")),
            Some(json!({"id": "k1", "status": "done", "ended": true,
                        "endedAt": "1970-01-01T00:13:20.000Z", "endedBy": "u7", "endedByType": "user"}))
        );
        assert_eq!(
            final_state("k1", &closed, None, None),
            Some(json!({"id": "k1", "status": "done", "ended": true,
                        "endedAt": "1970-01-01T00:15:00.000Z"}))
        );
        let snoozed = conversation(json!({"state": "snoozed", "snoozed_until": 1_800_000_000}));
        assert_eq!(
            final_state("k2", &snoozed, None, None),
            Some(json!({"id": "k2", "status": "snoozed",
                        "snooze": {"time": "2027-01-15T08:00:00.000Z", "status": "scheduled"}}))
        );
        let open = conversation(json!({"state": "open"}));
        assert_eq!(final_state("k3", &open, None, None), None);
        let parts = [&close];
        assert_eq!(
            close_part(&parts).and_then(|p| p.id.clone()).unwrap().0,
            "9"
        );
    }
}
