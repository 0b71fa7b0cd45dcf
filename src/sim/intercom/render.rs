//! Renders generated records as Intercom 2.16 JSON objects, field names and envelopes as in the
//! OpenAPI file. Every function is pure in `(workspace, index)` apart from attachment URLs,
//! which carry an expiry computed from the current time.

use serde_json::{Value, json};

use super::SimState;
use super::generate::{self as g, ConversationState, Workspace};
use crate::rng::Rng;
use crate::timefmt::unix_to_iso;

pub const APP_ID: &str = "sim_app_2c8f0e4b7a";

pub fn admin_identity(seed: u64, i: usize) -> (String, String) {
    let mut rng = g::rng_for(seed, "admin", i as u64);
    let name = g::person_name(&mut rng);
    (name, format!("agent{i}@sim-support.example.com"))
}

pub fn admin_id(i: usize) -> String {
    (g::ADMIN_ID_BASE + i as u64).to_string()
}

fn admin_teams(ws: &Workspace, i: usize) -> Vec<u64> {
    (0..ws.sizes.teams)
        .filter(|t| i % ws.sizes.teams == *t || (i + t).is_multiple_of(5))
        .map(|t| g::TEAM_ID_BASE + t as u64)
        .collect()
}

pub fn admin(ws: &Workspace, i: usize) -> Value {
    let (name, email) = admin_identity(ws.seed, i);
    let mut rng = ws.rng("admin-extra", i as u64);
    json!({
        "type": "admin",
        "id": admin_id(i),
        "name": name,
        "email": email,
        "job_title": rng.pick(&["Support Agent", "Team Lead", "Support Engineer", "Manager"]),
        "away_mode_enabled": i % 7 == 3,
        "away_mode_reassign": false,
        "away_status_reason_id": null,
        "has_inbox_seat": i % 9 != 8,
        "team_ids": admin_teams(ws, i),
        "avatar": null,
        "team_priority_level": {"primary_team_ids": admin_teams(ws, i), "secondary_team_ids": []},
    })
}

/// The short admin form used as an author.
pub fn admin_author(ws: &Workspace, i: usize) -> Value {
    let (name, email) = admin_identity(ws.seed, i);
    json!({"type": "admin", "id": admin_id(i), "name": name, "email": email})
}

pub fn me(ws: &Workspace) -> Value {
    let (name, email) = admin_identity(ws.seed, 0);
    json!({
        "type": "admin",
        "id": admin_id(0),
        "email": email,
        "name": name,
        "email_verified": true,
        "job_title": "Workspace owner",
        "away_mode_enabled": false,
        "away_mode_reassign": false,
        "has_inbox_seat": true,
        "team_ids": admin_teams(ws, 0),
        "app": {
            "type": "app",
            "id_code": APP_ID,
            "name": "Simulated Workspace",
            "created_at": ws.anchor - 3 * 365 * g::DAY - 30 * g::DAY,
            "secure": false,
            "identity_verification": false,
            "timezone": "Etc/UTC",
            "region": "US",
        },
        "avatar": {"type": "avatar", "image_url": "https://static.intercomassets.com/assets/default-avatars/admins/128.png"},
    })
}

pub fn team(ws: &Workspace, t: usize) -> Value {
    let admins: Vec<u64> = (0..ws.sizes.admins)
        .filter(|i| admin_teams(ws, *i).contains(&(g::TEAM_ID_BASE + t as u64)))
        .map(|i| g::ADMIN_ID_BASE + i as u64)
        .collect();
    let names = [
        "Support",
        "Billing",
        "Escalations",
        "VIP",
        "Onboarding",
        "EMEA",
        "APAC",
    ];
    json!({
        "type": "team",
        "id": (g::TEAM_ID_BASE + t as u64).to_string(),
        "name": format!("{} {}", names[t % names.len()], t / names.len() + 1),
        "admin_ids": admins,
        "admin_priority_level": {"primary_admin_ids": admins, "secondary_admin_ids": []},
        "assignment_limit": null,
        "distribution_method": if t.is_multiple_of(2) { "round_robin" } else { "balanced" },
    })
}

pub fn tag_id(t: usize) -> String {
    (g::TAG_ID_BASE + t as u64).to_string()
}

pub fn tag_name(t: usize) -> String {
    let names = [
        "vip",
        "bug",
        "billing",
        "feature-request",
        "churn-risk",
        "تسويق",
        "優先",
        "refund",
        "onboarding",
        "enterprise",
        "spam",
        "partner",
        "beta",
        "légal",
    ];
    format!("{}-{}", names[t % names.len()], t)
}

pub fn tag(t: usize) -> Value {
    json!({"type": "tag", "id": tag_id(t), "name": tag_name(t)})
}

pub fn segment(ws: &Workspace, s: usize, include_count: bool) -> Value {
    let mut rng = ws.rng("segment", s as u64);
    let created = ws.anchor - rng.range(30, 900) as i64 * g::DAY;
    let names = [
        "Active users",
        "Trial leads",
        "Churned",
        "Power users",
        "EU customers",
        "Unengaged",
    ];
    let mut v = json!({
        "type": "segment",
        "id": g::segment_id(s),
        "name": format!("{} {}", names[s % names.len()], s),
        "created_at": created,
        "updated_at": created + rng.range(0, 30) as i64 * g::DAY,
        "person_type": if s % 4 == 3 { "contact" } else { "user" },
    });
    if include_count {
        v["count"] = json!(ws.segment_members.get(s).map_or(0, Vec::len));
    }
    v
}

const CONTACT_STANDARD_ATTRIBUTES: [(&str, &str, &str); 6] = [
    ("name", "Name", "string"),
    ("email", "Email", "string"),
    ("phone", "Phone", "string"),
    ("created_at", "Signed up", "date"),
    ("last_seen_at", "Last seen", "date"),
    ("role", "Role", "string"),
];
const COMPANY_STANDARD_ATTRIBUTES: [(&str, &str, &str); 5] = [
    ("name", "Company name", "string"),
    ("company_id", "Company ID", "string"),
    ("size", "Company size", "integer"),
    ("monthly_spend", "Monthly Spend", "float"),
    ("industry", "Industry", "string"),
];
const CUSTOM_ATTRIBUTE_KINDS: [(&str, &str); 5] = [
    ("plan_tier", "string"),
    ("seats", "integer"),
    ("mrr", "float"),
    ("is_beta", "boolean"),
    ("renewal_date", "date"),
];

/// Name and data type of custom attribute `k` of `model`.
pub fn custom_attribute(model: &str, k: usize) -> (String, &'static str) {
    let (base, ty) = CUSTOM_ATTRIBUTE_KINDS[k % CUSTOM_ATTRIBUTE_KINDS.len()];
    (format!("{model}_{base}_{k}"), ty)
}

pub fn data_attributes(ws: &Workspace, model: &str) -> Vec<Value> {
    let (standard, customs): (&[(&str, &str, &str)], usize) = if model == "company" {
        (&COMPANY_STANDARD_ATTRIBUTES, ws.sizes.company_attributes)
    } else {
        (&CONTACT_STANDARD_ATTRIBUTES, ws.sizes.contact_attributes)
    };
    let mut out: Vec<Value> = standard
        .iter()
        .map(|(name, label, ty)| {
            json!({
                "type": "data_attribute", "name": name, "full_name": name, "label": label,
                "description": format!("The {label} of the {model}"), "data_type": ty,
                "api_writable": true, "ui_writable": false, "messenger_writable": true,
                "custom": false, "archived": false, "model": model,
            })
        })
        .collect();
    let id_base = if model == "company" { 2_000 } else { 1_000 };
    for k in 0..customs {
        let (name, ty) = custom_attribute(model, k);
        let created = ws.anchor - (400 - k as i64 * 3) * g::DAY;
        let mut v = json!({
            "type": "data_attribute", "id": id_base + k, "name": name, "full_name": format!("custom_attributes.{name}"),
            "label": name.replace('_', " "), "description": format!("Custom {ty} attribute"),
            "data_type": ty, "api_writable": true, "ui_writable": true, "messenger_writable": false,
            "custom": true, "archived": k % 7 == 6, "model": model,
            "created_at": created, "updated_at": created, "admin_id": admin_id(0),
        });
        if ty == "string" {
            v["options"] = json!(["free", "pro", "enterprise"]);
        }
        out.push(v);
    }
    if model == "contact" && ws.hostile.is_some() {
        for (k, name) in super::hostile::COLLIDING_ATTRIBUTES.iter().enumerate() {
            out.push(json!({
                "type": "data_attribute", "id": super::hostile::COLLIDING_ATTRIBUTE_ID_BASE + k as u64,
                "name": name, "full_name": format!("custom_attributes.{name}"), "label": name,
                "description": "Two integrations' names for one thing", "data_type": "string",
                "api_writable": true, "ui_writable": true, "messenger_writable": false,
                "custom": true, "archived": false, "model": model,
                "created_at": ws.anchor - 30 * g::DAY, "updated_at": ws.anchor - 30 * g::DAY,
                "admin_id": admin_id(0),
            }));
        }
    }
    out
}

fn custom_value(ty: &str, rng: &mut Rng, anchor: i64) -> Value {
    match ty {
        "string" => json!(rng.pick(&["free", "pro", "enterprise"])),
        "integer" => json!(rng.range(1, 500)),
        "float" => json!(rng.range(100, 100_000) as f64 / 100.0),
        "boolean" => json!(rng.chance(0.5)),
        _ => json!(anchor - rng.range(0, 700) as i64 * g::DAY),
    }
}

pub fn conversation_attribute(ws: &Workspace, k: usize) -> Value {
    let kinds = [
        "string", "list", "integer", "boolean", "decimal", "datetime",
    ];
    let ty = kinds[k % kinds.len()];
    let created = ws.anchor - (300 - k as i64) * g::DAY;
    let mut v = json!({
        "type": "conversation_attribute", "id": 10 + k, "name": format!("conv_attr_{k}_{ty}"),
        "description": format!("A {ty} conversation attribute"), "data_type": ty,
        "required": false, "visible_to_team_ids": [], "archived": false,
        "created_at": created, "updated_at": created, "admin_id": admin_id(0),
    });
    match ty {
        "string" => v["multiline"] = json!(k.is_multiple_of(2)),
        "list" => {
            v["options"] = json!([
                {"id": format!("opt-{k}-a"), "label": "Hardware", "archived": false},
                {"id": format!("opt-{k}-b"), "label": "Software", "archived": false},
                {"id": format!("opt-{k}-c"), "label": "Légacy", "archived": true},
            ])
        }
        _ => {}
    }
    v
}

fn company_custom_attributes(ws: &Workspace, i: usize) -> Value {
    let mut rng = ws.rng("company-custom", i as u64);
    let mut map = serde_json::Map::new();
    for k in 0..ws.sizes.company_attributes {
        if rng.chance(0.7) {
            let (name, ty) = custom_attribute("company", k);
            map.insert(name, custom_value(ty, &mut rng, ws.anchor));
        }
    }
    Value::Object(map)
}

const PLANS: [&str; 3] = ["Starter", "Growth", "Enterprise"];

pub fn company(ws: &Workspace, i: usize) -> Value {
    let idx = &ws.companies[i];
    let mut rng = ws.rng("company", i as u64);
    let name = g::company_name(i, &mut rng);
    let tags: Vec<Value> = (0..rng.range(0, 3) as usize)
        .map(|k| tag((i * 3 + k) % ws.sizes.tags))
        .collect();
    let segments: Vec<Value> = (0..ws.used_segments())
        .filter(|s| (i + s).is_multiple_of(4))
        .map(|s| segment(ws, s, false))
        .collect();
    let industries = [
        "SaaS",
        "Retail",
        "Healthcare",
        "Finance",
        "Education",
        "Logistics",
    ];
    let mut v = json!({
        "type": "company",
        "id": g::company_id(i),
        "company_id": format!("ext-co-{i}"),
        "app_id": APP_ID,
        "name": name,
        "remote_created_at": idx.created_at - 86_400,
        "created_at": idx.created_at,
        "updated_at": idx.updated_at,
        "last_request_at": idx.updated_at,
        "size": rng.range(1, 5_000),
        "website": format!("https://company{i}.example.com"),
        "industry": rng.pick(&industries),
        "monthly_spend": rng.range(0, 20_000),
        "session_count": rng.range(0, 10_000),
        "user_count": ws.company_contacts[i].len(),
        "plan": {"type": "plan", "id": format!("{}", 10 + i % 3), "name": PLANS[i % 3]},
        "custom_attributes": company_custom_attributes(ws, i),
        "tags": {"type": "tag.list", "tags": tags},
        "segments": {"type": "segment.list", "segments": segments},
    });
    if idx.revision > 0 {
        // An edit changes what the company does and spends.
        let mut edit = Rng::derive(
            ws.seed,
            &["company-edit", &i.to_string(), &idx.revision.to_string()],
        );
        v["industry"] = json!(edit.pick(&industries));
        v["monthly_spend"] = json!(edit.range(20_000, 40_000));
        // …and, as a rebranding would, its name.
        if let Some(name) = v["name"].as_str() {
            let base = name.split(" (ed. ").next().unwrap_or(name).to_string();
            v["name"] = json!(format!("{base} (ed. {})", idx.revision));
        }
    }
    if let Some(plan) = &ws.hostile {
        plan.company(i, &mut v);
    }
    v
}

/// Up to 10 items of an addressable sub-list, with `has_more` and the list's URL.
fn addressable(items: Vec<Value>, url: String) -> Value {
    let total = items.len();
    let data: Vec<Value> = items.into_iter().take(10).collect();
    json!({"type": "list", "data": data, "url": url, "total_count": total, "has_more": total > 10})
}

pub fn contact_segments(ws: &Workspace, c: usize) -> Vec<usize> {
    (0..ws.used_segments())
        .filter(|s| g::segment_contains(c as u32, *s))
        .collect()
}

/// A contact's name and email, the same wherever the contact appears.
pub fn contact_identity(ws: &Workspace, i: usize) -> (String, String) {
    let mut rng = ws.rng("contact-identity", i as u64);
    let mut name = g::person_name(&mut rng);
    // An edit renames the contact; the e-mail address stays.
    let revision = ws.contacts.get(i).map_or(0, |c| c.revision);
    if revision > 0 {
        let mut edit = Rng::derive(
            ws.seed,
            &["contact-edit", &i.to_string(), &revision.to_string()],
        );
        name = format!("{} (ed. {revision})", g::person_name(&mut edit));
    }
    let email = format!(
        "customer{i}@{}",
        rng.pick(&["example.com", "example.org", "exemple.fr", "beispiel.de"])
    );
    (name, email)
}

pub fn contact(ws: &Workspace, i: usize) -> Value {
    let idx = &ws.contacts[i];
    let mut rng = ws.rng("contact-detail", i as u64);
    let (name, email) = contact_identity(ws, i);
    let id = g::contact_id(i);
    let domain = email.split('@').nth(1).unwrap_or("").to_string();
    let mut custom = serde_json::Map::new();
    for k in 0..ws.sizes.contact_attributes {
        if rng.chance(0.6) {
            let (n, ty) = custom_attribute("contact", k);
            custom.insert(n, custom_value(ty, &mut rng, ws.anchor));
        }
    }
    let tags = idx
        .tags
        .iter()
        .map(|t| json!({"type": "tag", "id": tag_id(*t as usize), "url": format!("/tags/{}", tag_id(*t as usize))}))
        .collect();
    let notes = (0..u64::from(idx.notes))
        .map(|k| {
            let nid = g::contact_note_id(i, k);
            json!({"type": "note", "id": nid.to_string(), "url": format!("/notes/{nid}")})
        })
        .collect();
    let companies = idx
        .companies
        .iter()
        .map(|co| {
            let cid = g::company_id(*co as usize);
            json!({"type": "company", "id": cid, "url": format!("/companies/{cid}")})
        })
        .collect();
    let seen = idx.updated_at - rng.range(0, 5 * g::DAY as u64) as i64;
    let countries = [
        ("France", "Île-de-France", "Paris"),
        ("Israel", "Tel Aviv", "Tel Aviv"),
        ("Japan", "Tokyo", "東京"),
        ("United States", "California", "San Francisco"),
        ("Egypt", "Cairo", "القاهرة"),
    ];
    let (country, region, city) = *rng.pick(&countries);
    let mut v = json!({
        "type": "contact",
        "id": id,
        "external_id": if idx.is_lead { Value::Null } else { json!(format!("user-{i}")) },
        "workspace_id": APP_ID,
        "role": if idx.is_lead { "lead" } else { "user" },
        "email": email,
        "email_domain": domain,
        "phone": if rng.chance(0.4) { json!(format!("+1555{:07}", rng.range(0, 9_999_999))) } else { Value::Null },
        "name": name,
        "owner_id": null,
        "has_hard_bounced": false,
        "marked_email_as_spam": false,
        "unsubscribed_from_emails": rng.chance(0.1),
        "created_at": idx.created_at,
        "updated_at": idx.updated_at,
        "signed_up_at": if idx.is_lead { Value::Null } else { json!(idx.created_at) },
        "last_seen_at": seen.max(idx.created_at),
        "last_replied_at": null,
        "last_contacted_at": null,
        "last_email_opened_at": null,
        "last_email_clicked_at": null,
        "language_override": null,
        "browser": "chrome",
        "browser_version": "120.0",
        "browser_language": "en",
        "os": "macOS",
        "custom_attributes": Value::Object(custom),
        "avatar": null,
        "tags": addressable(tags, format!("/contacts/{id}/tags")),
        "notes": addressable(notes, format!("/contacts/{id}/notes")),
        "companies": addressable(companies, format!("/contacts/{id}/companies")),
        "location": {"type": "location", "country": country, "region": region, "city": city},
        "social_profiles": {"type": "list", "data": []},
    });
    if let Some(plan) = &ws.hostile {
        plan.contact(i, &mut v, ws);
    }
    v
}

fn note_author(ws: &Workspace, rng: &mut Rng) -> Value {
    let a = rng.range(0, ws.sizes.admins as u64) as usize;
    let mut author = admin(ws, a);
    if let Some(obj) = author.as_object_mut() {
        obj.remove("team_priority_level");
    }
    author
}

/// Note `id` on `owner` (`contact` or `company`) `owner_id`, created at `created`
/// (at the latest just before the anchor); its author and body are drawn from the `{owner}-note`
/// stream.
fn note(ws: &Workspace, (owner, owner_id): (&str, String), id: u64, created: i64) -> Value {
    let mut rng = ws.rng(&format!("{owner}-note"), id);
    json!({
        "type": "note",
        "id": id.to_string(),
        "created_at": created.min(ws.anchor - 1),
        owner: {"type": owner, "id": owner_id},
        "author": note_author(ws, &mut rng),
        "body": g::html_paragraphs(&mut rng, 1),
    })
}

pub fn contact_note(ws: &Workspace, c: usize, k: u64) -> Value {
    let created = ws.contacts[c].created_at + (k as i64 + 1) * 3_600 * 7;
    let owner = ("contact", g::contact_id(c));
    note(ws, owner, g::contact_note_id(c, k), created)
}

pub fn company_note(ws: &Workspace, c: usize, k: u64) -> Value {
    let created = ws.companies[c].created_at + (k as i64 + 1) * 3_600 * 11;
    let owner = ("company", g::company_id(c));
    note(ws, owner, g::company_note_id(c, k), created)
}

fn collection_times(ws: &Workspace, i: usize) -> (i64, i64) {
    let created = ws.anchor - (800 - i as i64 * 5) * g::DAY;
    (created, created + (i as i64 % 7) * g::DAY)
}

pub fn collection(ws: &Workspace, i: usize) -> Value {
    let (created, updated) = collection_times(ws, i);
    let parent = ws.collection_parent(i);
    let names = [
        "Getting started",
        "Billing",
        "Integrations",
        "Troubleshooting",
        "Security",
        "API",
    ];
    let name = format!("{} {}", names[i % names.len()], i);
    let mut translated = json!({"type": "group_translated_content"});
    translated["en"] =
        json!({"type": "group_content", "name": name, "description": format!("All about {name}")});
    translated["fr"] = json!({"type": "group_content", "name": format!("{name} (fr)"), "description": "Tout savoir"});
    json!({
        "id": (g::COLLECTION_ID_BASE + i as u64).to_string(),
        "workspace_id": APP_ID,
        "name": name,
        "description": format!("All about {name}"),
        "created_at": created,
        "updated_at": updated,
        "url": format!("https://help.sim.example.com/en/collections/{}", g::COLLECTION_ID_BASE + i as u64),
        "icon": "book-bookmark",
        "order": i,
        "default_locale": "en",
        "translated_content": translated,
        "parent_id": parent.map(|p| (g::COLLECTION_ID_BASE + p as u64).to_string()),
        "help_center_id": if parent.is_none() { json!(1) } else { Value::Null },
    })
}

pub fn article_times(ws: &Workspace, a: usize) -> (i64, i64) {
    let (created, updated) = generated_article_times(ws, a);
    match ws.article_edits.get(a).copied().flatten() {
        Some((_, edited)) => (created, updated.max(edited)),
        None => (created, updated),
    }
}

/// An article's times as generated (before any edit of an advance).
fn generated_article_times(ws: &Workspace, a: usize) -> (i64, i64) {
    let mut rng = ws.rng("article-time", a as u64);
    let created = ws.anchor - rng.range(30, 900) as i64 * g::DAY;
    (
        created,
        (created + rng.range(0, 200) as i64 * g::DAY).min(ws.anchor - 1),
    )
}

fn article_body(ws: &Workspace, a: usize, locale: &str, version: u64) -> (String, String) {
    let mut rng = Rng::derive(
        ws.seed,
        &["article-body", &a.to_string(), locale, &version.to_string()],
    );
    let html = format!(
        "<h2>Step {version}</h2>{}<ul><li>One</li><li>Two</li></ul>",
        g::html_paragraphs(&mut rng, 2)
    );
    let md = format!(
        "## Step {version}\n\n{}\n\n- One\n- Two\n",
        g::sentence(&mut rng)
    );
    (html, md)
}

pub fn article_title(a: usize, locale: &str) -> String {
    let base = [
        "How to reset your password",
        "Understanding your invoice",
        "Connecting Slack",
        "Exporting data",
        "Two-factor authentication",
    ];
    let t = base[a % base.len()];
    match locale {
        "en" => format!("{t} ({a})"),
        other => format!("[{other}] {t} ({a})"),
    }
}

pub fn article(ws: &Workspace, a: usize) -> Value {
    let (created, updated) = article_times(ws, a);
    let id = g::ARTICLE_ID_BASE + a as u64;
    let versions = u64::from(ws.article_versions[a]);
    let (body, md) = article_body(ws, a, "en", versions - 1);
    let collection = ws.article_collection(a);
    let mut parents = vec![g::COLLECTION_ID_BASE + collection as u64];
    if let Some(p) = ws.collection_parent(collection) {
        parents.push(g::COLLECTION_ID_BASE + p as u64);
    }
    let url = format!("https://help.sim.example.com/en/articles/{id}");
    let state = if a % 5 == 4 { "draft" } else { "published" };
    let mut translated = json!({"type": "article_translated_content"});
    translated["en"] = json!({
        "type": "article_content", "title": article_title(a, "en"), "description": "", "body": body,
        "author_id": g::ADMIN_ID_BASE + (a % ws.sizes.admins) as u64, "state": state,
        "created_at": created, "updated_at": updated, "url": url,
    });
    for loc in &ws.article_locales[a] {
        let (b, _) = article_body(ws, a, loc, 0);
        translated[*loc] = json!({
            "type": "article_content", "title": article_title(a, loc), "description": "", "body": b,
            "author_id": g::ADMIN_ID_BASE + (a % ws.sizes.admins) as u64, "state": "published",
            "created_at": created, "updated_at": updated, "url": format!("https://help.sim.example.com/{loc}/articles/{id}"),
        });
    }
    let author = g::ADMIN_ID_BASE + (a % ws.sizes.admins) as u64;
    json!({
        "type": "article",
        "id": id.to_string(),
        "workspace_id": APP_ID,
        "title": article_title(a, "en"),
        "description": "",
        "body": body,
        "body_markdown": md,
        "author_id": author,
        "state": state,
        "created_at": created,
        "updated_at": updated,
        "has_unpublished_changes": false,
        "draft_updated_at": null,
        "url": if state == "published" { json!(url) } else { Value::Null },
        "parent_ids": parents,
        "ai_chatbot_availability": true,
        "ai_copilot_availability": true,
        "ai_sales_agent_availability": false,
        "created_by_id": author,
        "updated_by_id": author,
        "help_center_audience": "everyone",
        "default_locale": "en",
        "translated_content": translated,
        "tags": {"type": "tag.list", "tags": [tag(a % ws.sizes.tags)]},
    })
}

/// Version `v` (0 = oldest) of article `a`; `full` adds the bodies.
pub fn article_version(ws: &Workspace, a: usize, v: u64, full: bool) -> Value {
    let (created, updated) = generated_article_times(ws, a);
    // Versions an edit added stand at the edit; the generated ones keep their times.
    let (n, edited) = match ws.article_edits.get(a).copied().flatten() {
        Some((base, at)) => (u64::from(base), Some(at)),
        None => (u64::from(ws.article_versions[a]), None),
    };
    let at = match edited {
        Some(at) if v >= n => at,
        _ => created + ((updated - created) / n as i64) * v as i64,
    };
    let mut out = json!({
        "type": "article_version",
        "id": g::article_version_id(a, v).to_string(),
        "article_id": (g::ARTICLE_ID_BASE + a as u64).to_string(),
        "title": article_title(a, "en"),
        "description": "",
        "author_id": (g::ADMIN_ID_BASE + (a % ws.sizes.admins) as u64).to_string(),
        "created_by_id": (g::ADMIN_ID_BASE + ((a + v as usize) % ws.sizes.admins) as u64).to_string(),
        "created_via": if v.is_multiple_of(2) { "web" } else { "api" },
        "from_version_id": if v == 0 { Value::Null } else { json!(g::article_version_id(a, v - 1).to_string()) },
        "state": if v + 1 == n { "published" } else { "draft" },
        "created_at": at,
    });
    if full {
        let (body, md) = article_body(ws, a, "en", v);
        out["body"] = json!(body);
        out["body_markdown"] = json!(md);
        out["updated_at"] = json!(at);
    }
    out
}

fn attachment_json(state: &SimState, f: &g::FileRef) -> Value {
    let mut v = json!({
        "type": "upload",
        "name": f.name,
        "url": state.file_url(f),
        "content_type": f.content_type,
        "filesize": f.size,
    });
    if let (Some(w), Some(h)) = (f.width, f.height) {
        v["width"] = json!(w);
        v["height"] = json!(h);
    }
    v
}

fn contact_author(ws: &Workspace, c: usize) -> Value {
    let (name, email) = contact_identity(ws, c);
    json!({"type": if ws.contacts[c].is_lead { "lead" } else { "user" }, "id": g::contact_id(c), "name": name, "email": email})
}

/// Timestamp of generated part `k` (0-based, after the source) of a conversation.
fn part_time(created_at: i64, base: &g::ConversationBase, k: u32) -> i64 {
    let span = (base.updated_at - created_at).max(i64::from(base.parts) + 1);
    created_at + span * i64::from(k + 1) / i64::from(base.parts.max(1))
}

fn body_with_image(
    state: &SimState,
    ws: &Workspace,
    conv: usize,
    part: u32,
    rng: &mut Rng,
) -> String {
    let paragraphs = rng.range(1, 3) as usize;
    let mut body = g::html_paragraphs(rng, paragraphs);
    if rng.chance(0.1) {
        let img = ws.inline_image(conv, part);
        body.push_str(&format!(
            "<div class=\"intercom-container\"><img src=\"{}\" width=\"640\" height=\"480\"></div>",
            state.file_url(&img)
        ));
    }
    body
}

pub fn conversation_part(state: &SimState, ws: &Workspace, conv: usize, k: u32) -> Value {
    let idx = &ws.conversations[conv];
    let base = idx.base();
    if k >= base.parts {
        return later_part(ws, conv, k, idx.later[(k - base.parts) as usize]);
    }
    let mut rng = Rng::derive(ws.seed, &["part", &conv.to_string(), &k.to_string()]);
    let at = part_time(idx.created_at, &base, k);
    let last = k + 1 == base.parts;
    let admin = base.admin_assignee.map_or(0, usize::from);
    let (part_type, author, body): (&str, Value, Value) =
        if last && base.state != ConversationState::Open {
            let t = if base.state == ConversationState::Closed {
                "close"
            } else {
                "snoozed"
            };
            (t, admin_author(ws, admin), Value::Null)
        } else if k == 0 && base.admin_assignee.is_some() {
            ("assignment", admin_author(ws, admin), Value::Null)
        } else {
            match rng.range(0, 10) {
                0..=3 => (
                    "comment",
                    contact_author(ws, idx.contact as usize),
                    json!(body_with_image(state, ws, conv, k, &mut rng)),
                ),
                4..=7 => (
                    "comment",
                    admin_author(ws, admin),
                    json!(body_with_image(state, ws, conv, k, &mut rng)),
                ),
                8 => (
                    "note",
                    admin_author(ws, admin),
                    json!(g::html_paragraphs(&mut rng, 1)),
                ),
                _ => ("open", admin_author(ws, admin), Value::Null),
            }
        };
    let attachments: Vec<Value> = ws
        .attachments_on(conv, k)
        .iter()
        .map(|f| attachment_json(state, f))
        .collect();
    let part_state = if last { base.state.as_str() } else { "open" };
    let mut v = part_json(conv, k, part_type, at, author, admin);
    v["body"] = body;
    v["attachments"] = json!(attachments);
    v["state"] = json!(part_state);
    v
}

/// A part added by an advance: a reply, or a change of state or assignee.
fn later_part(ws: &Workspace, conv: usize, k: u32, part: g::LaterPart) -> Value {
    let idx = &ws.conversations[conv];
    let admin = idx.admin_assignee.map_or(0, usize::from);
    let mut rng = Rng::derive(ws.seed, &["later-part", &conv.to_string(), &k.to_string()]);
    let (part_type, author, body, admin, part_state) = match part.kind {
        g::LaterKind::ContactReply => {
            let body = json!(g::html_paragraphs(&mut rng, 1));
            (
                "comment",
                contact_author(ws, idx.contact as usize),
                body,
                admin,
                "open",
            )
        }
        g::LaterKind::AdminReply => {
            let body = json!(g::html_paragraphs(&mut rng, 1));
            ("comment", admin_author(ws, admin), body, admin, "open")
        }
        g::LaterKind::Close => (
            "close",
            admin_author(ws, admin),
            Value::Null,
            admin,
            "closed",
        ),
        g::LaterKind::Reopen => ("open", admin_author(ws, admin), Value::Null, admin, "open"),
        g::LaterKind::Snooze => (
            "snoozed",
            admin_author(ws, admin),
            Value::Null,
            admin,
            "snoozed",
        ),
        g::LaterKind::Assignment(a) => {
            let a = usize::from(a);
            ("assignment", admin_author(ws, a), Value::Null, a, "open")
        }
    };
    let mut v = part_json(conv, k, part_type, part.at, author, admin);
    v["body"] = body;
    v["state"] = json!(part_state);
    v
}

/// The JSON of part `k` of conversation `conv` without a body or files, its state open;
/// `admin` is the one an assignment names.
fn part_json(conv: usize, k: u32, part_type: &str, at: i64, author: Value, admin: usize) -> Value {
    json!({
        "type": "conversation_part",
        "id": (conv as u64 * 10_000 + u64::from(k) + 1).to_string(),
        "part_type": part_type,
        "body": null,
        "created_at": at,
        "updated_at": at,
        "notified_at": at,
        "assigned_to": if part_type == "assignment" { json!({"type": "admin", "id": admin_id(admin)}) } else { Value::Null },
        "author": author,
        "attachments": [],
        "external_id": null,
        "redacted": false,
        "state": "open",
        "tags": [],
        "event_details": null,
        "app_package_code": null,
    })
}

/// A conversation; `with_parts` adds the newest 500 parts (the retrieve form).
pub fn conversation(state: &SimState, ws: &Workspace, i: usize, with_parts: bool) -> Value {
    let idx = &ws.conversations[i];
    let mut rng = ws.rng("conversation-detail", i as u64);
    let contact = idx.contact as usize;
    let contact_initiated = rng.chance(0.8);
    let source_author = if contact_initiated {
        contact_author(ws, contact)
    } else {
        // Who opened it: the admin first assigned (a later reassignment does not change it).
        admin_author(ws, idx.base().admin_assignee.map_or(0, usize::from))
    };
    let subject = if rng.chance(0.3) {
        format!("Re: order #{}", rng.range(1000, 9999))
    } else {
        String::new()
    };
    let source_attachments: Vec<Value> = ws
        .attachments_on(i, u32::MAX)
        .iter()
        .map(|f| attachment_json(state, f))
        .collect();
    let mut tags: Vec<Value> = (0..rng.range(0, 3) as usize)
        .map(|k| {
            let mut t = tag((i + k * 5) % ws.sizes.tags);
            t["applied_at"] = json!(idx.created_at + 60);
            t["applied_by"] =
                json!({"type": "admin", "id": admin_id(idx.base().admin_assignee.map_or(0, usize::from))});
            t
        })
        .collect();
    // Tags an advance added: the next ones the conversation does not carry yet.
    let mut next = i + 1;
    for _ in 0..idx.retags {
        while tags
            .iter()
            .any(|t| t["id"] == tag(next % ws.sizes.tags)["id"])
        {
            next += 1;
        }
        let mut t = tag(next % ws.sizes.tags);
        t["applied_at"] = json!(idx.updated_at);
        t["applied_by"] = json!({"type": "admin", "id": admin_id(0)});
        tags.push(t);
    }
    let snoozed_until = (idx.state == ConversationState::Snoozed).then_some(ws.anchor + 3 * g::DAY);
    let custom = {
        let mut m = serde_json::Map::new();
        for k in 0..ws.sizes.conversation_attributes {
            if rng.chance(0.3) {
                let v = match k % 6 {
                    2 => json!(rng.range(1, 100)),
                    0 => json!(g::sentence(&mut rng)),
                    1 => json!(if k % 2 == 0 { "Hardware" } else { "Software" }),
                    _ => continue,
                };
                let name = conversation_attribute(ws, k)["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                m.insert(name, v);
            }
        }
        Value::Object(m)
    };
    let priority = if rng.chance(0.1) { "high" } else { "none" };
    let company = ws.contacts[contact].companies.first().copied();
    let mut v = json!({
        "type": "conversation",
        "id": (g::CONVERSATION_ID_BASE + i as u64).to_string(),
        "title": if subject.is_empty() { Value::Null } else { json!(subject) },
        "created_at": idx.created_at,
        "updated_at": idx.updated_at,
        "waiting_since": if idx.state == ConversationState::Open { json!(idx.updated_at) } else { Value::Null },
        "snoozed_until": snoozed_until,
        "open": idx.state != ConversationState::Closed,
        "state": idx.state.as_str(),
        "read": rng.chance(0.7),
        "priority": priority,
        // The 2.16 schema's integers: 0 when nobody is assigned (not null).
        "admin_assignee_id": idx.admin_assignee.map_or(0, |a| g::ADMIN_ID_BASE + u64::from(a)),
        "team_assignee_id": idx.team_assignee.map_or(0, |t| g::TEAM_ID_BASE + u64::from(t)),
        "tags": {"type": "tag.list", "tags": tags},
        "conversation_rating": null,
        "source": {
            "type": "conversation",
            "id": (400_000_000 + i as u64).to_string(),
            "delivered_as": if contact_initiated { "customer_initiated" } else { "admin_initiated" },
            "subject": subject,
            "body": body_with_image(state, ws, i, u32::MAX, &mut rng),
            "author": source_author,
            "attachments": source_attachments,
            "url": null,
            "redacted": false,
        },
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": g::contact_id(contact), "external_id": if ws.contacts[contact].is_lead { Value::Null } else { json!(format!("user-{contact}")) }}]},
        "teammates": {"type": "admin.list", "teammates": idx.admin_assignee.map(|a| vec![json!({"type": "admin", "id": admin_id(usize::from(a))})]).unwrap_or_default()},
        "custom_attributes": custom,
        "first_contact_reply": null,
        "sla_applied": null,
        "statistics": {
            "type": "conversation_statistics",
            "count_reopens": 0,
            "count_assignments": u32::from(idx.admin_assignee.is_some()),
            // Includes the source message, as Intercom counts it.
            "count_conversation_parts": idx.parts + 1,
        },
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": false},
        "ai_agent_participated": false,
        "ai_agent": null,
    });
    if let Some(c) = company {
        v["company"] = company_ref(ws, c as usize);
    }
    if with_parts {
        let first = idx.parts.saturating_sub(g::PART_CAP as u32);
        let parts: Vec<Value> = (first..idx.parts)
            .map(|k| conversation_part(state, ws, i, k))
            .collect();
        let n = parts.len();
        v["conversation_parts"] = json!({"type": "conversation_part.list", "conversation_parts": parts, "total_count": n});
    }
    if let Some(plan) = &ws.hostile {
        plan.conversation(i, &mut v, &|file: &str, expires: i64| {
            format!(
                "{}/__files/{file}?expires={expires}&sig={}",
                state.base(),
                state.sign(file.split('/').next().unwrap_or(file), expires)
            )
        });
    }
    v
}

fn company_ref(ws: &Workspace, c: usize) -> Value {
    company(ws, c)
}

const TICKET_STATES: [(&str, &str, &str); 4] = [
    ("submitted", "Submitted", "Submitted"),
    ("in_progress", "In progress", "In progress"),
    (
        "waiting_on_customer",
        "Waiting on customer",
        "Waiting on you",
    ),
    ("resolved", "Resolved", "Resolved"),
];

fn ticket_state(t: usize, s: usize) -> Value {
    let (category, internal, external) = TICKET_STATES[s];
    json!({"type": "ticket_state", "id": (8_300 + t * 4 + s).to_string(), "category": category, "internal_label": internal, "external_label": external})
}

pub fn ticket_type(ws: &Workspace, t: usize) -> Value {
    let created = ws.anchor - (500 - t as i64 * 10) * g::DAY;
    let names = [
        ("Bug Report", "Customer", "🐞"),
        ("Refund request", "Customer", "💸"),
        ("Engineering escalation", "Back-office", "🛠️"),
        ("Outage", "Tracker", "🚨"),
        ("Access request", "Back-office", "🔑"),
    ];
    let (name, category, icon) = names[t % names.len()];
    let id = g::TICKET_TYPE_ID_BASE + t as u64;
    let attr = |k: usize, name: &str, ty: &str, default: bool| {
        json!({
            "type": "ticket_type_attribute", "id": (id * 10 + k as u64).to_string(), "workspace_id": APP_ID,
            "name": name, "description": "", "data_type": ty, "input_options": null, "order": k,
            "required_to_create": false, "required_to_create_for_contacts": false, "visible_on_create": true,
            "visible_to_contacts": default, "default": default, "ticket_type_id": id, "archived": false,
            "created_at": created, "updated_at": created,
        })
    };
    json!({
        "type": "ticket_type",
        "id": id.to_string(),
        "category": category,
        "name": name,
        "description": format!("{name} template"),
        "icon": icon,
        "workspace_id": APP_ID,
        "archived": false,
        "created_at": created,
        "updated_at": created,
        "is_internal": category == "Back-office",
        "ticket_type_attributes": {"type": "list", "data": [
            attr(0, "_default_title_", "string", true),
            attr(1, "_default_description_", "string", true),
            attr(2, "severity", "list", false),
            attr(3, "affected_users", "integer", false),
        ]},
        "ticket_states": {"type": "list", "data": (0..4).map(|s| ticket_state(t, s)).collect::<Vec<_>>()},
    })
}

pub fn ticket_type_of(ws: &Workspace, t: usize) -> usize {
    t % ws.sizes.ticket_types
}

pub fn ticket_state_of(t: usize) -> usize {
    t % 4
}

pub fn ticket_contact(ws: &Workspace, t: usize) -> usize {
    (t * 7) % ws.sizes.contacts.max(1)
}

pub fn ticket(ws: &Workspace, t: usize) -> Value {
    let created = ws.ticket_created[t];
    let updated = ws.ticket_updated[t];
    let ty = ticket_type_of(ws, t);
    let st = ticket_state_of(t);
    let mut rng = ws.rng("ticket-detail", t as u64);
    let admin = (t % ws.sizes.admins) as u64;
    let c = ticket_contact(ws, t);
    let nparts = rng.range(1, 5);
    let parts: Vec<Value> = (0..nparts)
        .map(|k| {
            let at = created + (updated - created) * (k as i64 + 1) / nparts as i64;
            let to = if k + 1 == nparts { st } else { (k as usize).min(st) };
            let from = if k == 0 { 0 } else { ((k - 1) as usize).min(st) };
            json!({
                "type": "ticket_part", "id": (t as u64 * 100 + k).to_string(),
                "part_type": if k == 0 { "comment" } else { "ticket_state_updated_by_admin" },
                "body": if k == 0 { json!(g::html_paragraphs(&mut rng, 1)) } else { Value::Null },
                "previous_ticket_state": TICKET_STATES[from].0, "ticket_state": TICKET_STATES[to].0,
                "created_at": at, "updated_at": at,
                "author": {"type": "admin", "id": (g::ADMIN_ID_BASE + admin).to_string(), "name": admin_identity(ws.seed, admin as usize).0, "email": admin_identity(ws.seed, admin as usize).1},
                "attachments": [], "redacted": false,
            })
        })
        .collect();
    let ttype = ticket_type(ws, ty);
    let category = ttype["category"].clone();
    json!({
        "type": "ticket",
        "id": (g::TICKET_ID_BASE + t as u64).to_string(),
        "ticket_id": (t + 1).to_string(),
        "category": category,
        "ticket_attributes": {"_default_title_": format!("Ticket {t}: {}", g::sentence(&mut rng)), "_default_description_": g::sentence(&mut rng), "affected_users": rng.range(1, 50)},
        "ticket_state": ticket_state(ty, st),
        "ticket_type": ttype,
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": g::contact_id(c), "external_id": if ws.contacts[c].is_lead { Value::Null } else { json!(format!("user-{c}")) }}]},
        "admin_assignee_id": g::ADMIN_ID_BASE + admin,
        "team_assignee_id": g::TEAM_ID_BASE + (t % ws.sizes.teams) as u64,
        "created_at": created,
        "updated_at": updated,
        "open": st != 3,
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": false},
        "ticket_parts": {"type": "ticket_part.list", "ticket_parts": parts, "total_count": nparts},
        "is_shared": ty.is_multiple_of(2),
        "previous_ticket_state_id": null,
    })
}

pub fn brand(ws: &Workspace, b: usize) -> Value {
    let created = ws.anchor - (900 - b as i64 * 40) * g::DAY;
    let names = ["Default Brand", "Premium Brand", "Über Brand", "ブランド"];
    json!({
        "type": "brand",
        "id": if b == 0 { APP_ID.to_string() } else { (b + 1).to_string() },
        "name": names[b % names.len()],
        "is_default": b == 0,
        "created_at": created,
        "updated_at": created + 30 * g::DAY,
        "help_center_id": (10 + b).to_string(),
        "default_address_settings_id": (13 + b).to_string(),
    })
}

pub fn schedule(ws: &Workspace, s: usize) -> Value {
    let created = ws.anchor - (600 - s as i64 * 20) * g::DAY;
    let zones = ["America/New_York", "Europe/Paris", "Asia/Tokyo"];
    // Weekdays 9:00–17:00 (minutes from the start of the week, Monday = 0).
    let intervals: Vec<Value> = (0..5)
        .map(|d| json!({"start_minute": d * 1440 + 540, "end_minute": d * 1440 + 1020, "day_of_week": d}))
        .collect();
    json!({
        "type": "office_hours_schedule",
        "id": (g::SCHEDULE_ID_BASE + s as u64).to_string(),
        "name": format!("Support hours {}", zones[s % zones.len()]),
        "time_zone_name": zones[s % zones.len()],
        "time_intervals": intervals,
        "twenty_four_seven": false,
        "created_at": created,
        "updated_at": created,
    })
}

pub fn schedule_exception(ws: &Workspace, s: usize, e: usize) -> Value {
    let created = ws.anchor - 100 * g::DAY;
    let (y, _, _) = crate::timefmt::civil_from_days(ws.anchor / g::DAY);
    let schedule_id = (g::SCHEDULE_ID_BASE + s as u64).to_string();
    if e == 0 {
        json!({"type": "office_hours_exception", "id": (450 + s * 10).to_string(), "office_hours_schedule_id": schedule_id,
            "exception_date": format!("{y}-12-25"), "exception_type": "closed", "name": "Christmas Day",
            "time_intervals": null, "recurring_annually": true, "created_at": created, "updated_at": created})
    } else {
        json!({"type": "office_hours_exception", "id": (451 + s * 10).to_string(), "office_hours_schedule_id": schedule_id,
            "exception_date": format!("{y}-12-24"), "exception_type": "custom_hours", "name": "Christmas Eve",
            "time_intervals": [{"start_minute": 540, "end_minute": 780, "day_of_week": 3}], "recurring_annually": false,
            "created_at": created, "updated_at": created})
    }
}

pub fn macro_times(ws: &Workspace, m: usize) -> i64 {
    ws.anchor - (400 - m as i64 * 3) * g::DAY
}

pub fn macro_(ws: &Workspace, m: usize) -> Value {
    let t = macro_times(ws, m);
    let names = [
        "Order status",
        "Welcome",
        "Refund policy",
        "Password reset",
        "Escalate",
    ];
    let specific = m % 3 == 2;
    json!({
        "type": "macro",
        "id": (g::MACRO_ID_BASE + m as u64).to_string(),
        "name": format!("{} {m}", names[m % names.len()]),
        "body": "<p>Hi <attribute key=\"user.name\" default=\"there\"/>, thanks for reaching out!</p>",
        "body_text": "Hi {{user.name|fallback:\"there\"}}, thanks for reaching out!",
        "created_at": unix_to_iso(t),
        "updated_at": unix_to_iso(t + g::DAY),
        "visible_to": if specific { "specific_teams" } else { "everyone" },
        "visible_to_team_ids": if specific { vec![(g::TEAM_ID_BASE + (m % ws.sizes.teams) as u64).to_string()] } else { vec![] },
        "available_on": if m.is_multiple_of(2) { vec!["inbox", "messenger"] } else { vec!["inbox"] },
    })
}

pub fn workflow_export(ws: &Workspace, w: usize) -> Value {
    let t = ws.anchor - (200 - w as i64) * g::DAY;
    json!({
        "export_version": "1.0",
        "exported_at": unix_to_iso(crate::timefmt::now_unix()),
        "app_id": 12345,
        "workflow": {
            "id": (g::WORKFLOW_ID_BASE + w as u64).to_string(),
            "title": format!("Route inbound conversations {w}"),
            "description": "Assigns new conversations by language",
            "trigger_type": "inbound_conversation",
            "state": if w.is_multiple_of(2) { "live" } else { "draft" },
            "target_channels": ["chat", "email"],
            "preferred_devices": ["desktop", "mobile"],
            "created_at": unix_to_iso(t),
            "updated_at": unix_to_iso(t + g::DAY),
            "targeting": {"predicates": [{"attribute": "user.language", "comparison": "eq", "value": "fr"}]},
            "snapshot": {"steps": [{"type": "assign", "team_id": g::TEAM_ID_BASE.to_string()}]},
            "attributes": [],
            "embedded_rules": [],
        }
    })
}
