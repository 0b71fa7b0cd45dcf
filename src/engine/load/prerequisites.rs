//! Phase 0, prerequisites: what must exist in Kustomer before records arrive — brands, business
//! schedules, klasses (one per Intercom ticket type, plus `intercom_note` and, when events are
//! kept as kobjects, `intercom_event`), teams and users — and the knowledge base the help center
//! goes to (a choice on an org with several: one per brand). Each check reports pass / fail /
//! created; what i2k can create from Intercom's data is created once the operator (or
//! `--accept-defaults`) allows it. Holidays and SLAs have no confirmed Kustomer route and go to
//! the manual checklist; the operator is warned that Kustomer workflows fire on created records.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use crate::engine::context::Ctx;
use crate::engine::decisions;
use crate::engine::model::{AdminDecision, CheckChoice, LogLevel, PrereqCheck};
use crate::engine::write::{Outcome, create_one};
use crate::intercom::models::{Brand, OfficeHoursSchedule, TicketType};
use crate::kustomer::KustomerError;
use crate::ledger::{Ledger, WorkItem};
use crate::mapping::attributes::{AttributeSpec, metadata_body};
use crate::mapping::names::{assigned_suffix, display_name};
use crate::mapping::people::{
    EVENT_KLASS, NOTE_KLASS, invented_klass_body, schedule_hours, schedule_timezone, ticket_fields,
    ticket_klass_body, ticket_klass_name,
};
use crate::vocab::{CheckStatus, ErrorClass, Kind};

/// Check names (also the keys of `[prerequisites.<name>]` in mapping.toml).
pub const BRANDS: &str = "brands";
pub const SCHEDULES: &str = "schedules";
pub const KLASSES: &str = "klasses";
pub const TEAMS: &str = "teams";
pub const USERS: &str = "users";
pub const WORKFLOWS: &str = "workflows";
pub const HOLIDAYS: &str = "holidays";
pub const SLAS: &str = "slas";
pub const KNOWLEDGE_BASE: &str = "knowledge_base";

const WORKFLOW_WARNING: &str = "Kustomer workflows and business rules fire on records i2k creates \
     (customers, conversations, messages): pause them in Kustomer for the import and resume them after";

/// One Intercom item a check wants in Kustomer: the ledger kind and id, and the name it is
/// matched on.
#[derive(Debug, Clone)]
struct Wanted {
    kind: &'static str,
    source_id: String,
    name: String,
}

fn lower(s: &str) -> String {
    s.trim().to_lowercase()
}

fn brands_wanted(ledger: &Ledger) -> anyhow::Result<Vec<(Wanted, Brand)>> {
    Ok(decisions::all_sources(ledger, Kind::Brands.as_str())?
        .into_iter()
        .filter_map(|r| {
            let brand: Brand = serde_json::from_str(&r.raw).ok()?;
            let name = brand.name.clone().unwrap_or_else(|| r.source_id.clone());
            Some((
                Wanted {
                    kind: Kind::Brands.as_str(),
                    source_id: r.source_id,
                    name,
                },
                brand,
            ))
        })
        .collect())
}

fn schedules_wanted(ledger: &Ledger) -> anyhow::Result<Vec<(Wanted, OfficeHoursSchedule)>> {
    Ok(
        decisions::all_sources(ledger, Kind::OfficeHoursSchedules.as_str())?
            .into_iter()
            .filter_map(|r| {
                let s: OfficeHoursSchedule = serde_json::from_str(&r.raw).ok()?;
                let name = s
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("Intercom schedule {}", r.source_id));
                Some((
                    Wanted {
                        kind: Kind::OfficeHoursSchedules.as_str(),
                        source_id: r.source_id,
                        name,
                    },
                    s,
                ))
            })
            .collect(),
    )
}

/// Klass name → (ledger kind, source id, body) for every klass the run needs.
fn klasses_wanted(ctx: &Ctx) -> anyhow::Result<Vec<(Wanted, Value, Option<TicketType>)>> {
    let mut wanted = Vec::new();
    for r in decisions::all_sources(&ctx.ledger, Kind::TicketTypes.as_str())? {
        let Ok(tt) = serde_json::from_str::<TicketType>(&r.raw) else {
            continue;
        };
        wanted.push((
            Wanted {
                kind: Kind::TicketTypes.as_str(),
                name: ticket_klass_name(&r.source_id),
                source_id: r.source_id.clone(),
            },
            ticket_klass_body(&r.source_id, &tt),
            Some(tt),
        ));
    }
    for name in invented_klasses(ctx) {
        wanted.push((
            Wanted {
                kind: Kind::Klasses.as_str(),
                source_id: name.to_string(),
                name: name.to_string(),
            },
            invented_klass_body(name),
            None,
        ));
    }
    Ok(wanted)
}

fn invented_klasses(ctx: &Ctx) -> Vec<&'static str> {
    let mut names = vec![NOTE_KLASS];
    if ctx.config.options.events_as_kobjects {
        names.push(EVENT_KLASS);
    }
    names
}

fn teams_wanted(ledger: &Ledger) -> anyhow::Result<Vec<Wanted>> {
    Ok(decisions::all_sources(ledger, Kind::Teams.as_str())?
        .into_iter()
        .filter_map(|r| {
            let team: crate::intercom::models::Team = serde_json::from_str(&r.raw).ok()?;
            Some(Wanted {
                kind: Kind::Teams.as_str(),
                name: team.name.unwrap_or_else(|| r.source_id.clone()),
                source_id: r.source_id,
            })
        })
        .collect())
}

/// Builds the check of one category from what is wanted and what Kustomer has (by name).
fn presence_check(
    ledger: &Ledger,
    name: &str,
    noun: &str,
    wanted: &[Wanted],
    existing: &[String],
) -> anyhow::Result<PrereqCheck> {
    let missing: Vec<&Wanted> = wanted
        .iter()
        .filter(|w| !existing.iter().any(|e| lower(e) == lower(&w.name)))
        .collect();
    let created: usize = {
        let mut kinds: Vec<&str> = wanted.iter().map(|w| w.kind).collect();
        kinds.dedup();
        kinds
            .iter()
            .map(|k| decisions::created_count(ledger, k))
            .sum::<Result<usize, _>>()?
    };
    Ok(if missing.is_empty() {
        PrereqCheck {
            name: name.to_string(),
            status: if created > 0 {
                CheckStatus::Created
            } else {
                CheckStatus::Pass
            },
            detail: if created > 0 {
                format!("{} {noun} present, {created} created by i2k", wanted.len())
            } else {
                format!("all {} {noun} present", wanted.len())
            },
            choices: Vec::new(),
            can_create: None,
        }
    } else {
        let names: Vec<&str> = missing.iter().map(|w| w.name.as_str()).collect();
        // Allowed (c, or the defaults): the run creates them, so the check no longer blocks it.
        let allowed = decisions::prerequisite_allowed(ledger, name)? == Some(true);
        PrereqCheck {
            name: name.to_string(),
            status: if allowed {
                CheckStatus::Warn
            } else {
                CheckStatus::Fail
            },
            detail: format!(
                "{} of {} {noun} missing in Kustomer{}",
                missing.len(),
                wanted.len(),
                if allowed {
                    ": the run creates them (allowed)"
                } else {
                    ""
                }
            ),
            choices: Vec::new(),
            can_create: Some(format!("create {}: {}", noun, names.join(", "))),
        }
    })
}

fn failed_check(name: &str, what: &str, e: &dyn std::fmt::Display) -> PrereqCheck {
    PrereqCheck {
        name: name.to_string(),
        status: CheckStatus::Fail,
        detail: format!("cannot check {what}: {e}"),
        choices: Vec::new(),
        can_create: None,
    }
}

/// Every prerequisite check, against the ledger's extracted records and the live Kustomer org.
pub async fn prerequisite_checks(ctx: &Ctx) -> Vec<PrereqCheck> {
    // A check that cannot be made fails with the reason, naming what it could not check.
    let or_failed = |check: anyhow::Result<PrereqCheck>, name: &str, what: &str| {
        check.unwrap_or_else(|e| failed_check(name, what, &e))
    };
    let mut checks = vec![
        or_failed(brand_check(ctx).await, BRANDS, "brands"),
        or_failed(schedule_check(ctx).await, SCHEDULES, "business schedules"),
        or_failed(klass_check(ctx).await, KLASSES, "klasses"),
        or_failed(team_check(ctx).await, TEAMS, "teams"),
        or_failed(user_check(ctx), USERS, "users"),
        or_failed(
            knowledge_base_check(ctx).await,
            KNOWLEDGE_BASE,
            "knowledge bases",
        ),
    ];
    checks.push(PrereqCheck {
        name: WORKFLOWS.into(),
        status: CheckStatus::Warn,
        detail: WORKFLOW_WARNING.into(),
        choices: Vec::new(),
        can_create: None,
    });
    checks.push(PrereqCheck {
        name: HOLIDAYS.into(),
        status: CheckStatus::Warn,
        detail:
            "Intercom office-hours exceptions: Kustomer's reference confirms no holiday route; \
                 they are listed in the manual checklist"
                .into(),
        choices: Vec::new(),
        can_create: None,
    });
    checks.push(PrereqCheck {
        name: SLAS.into(),
        status: CheckStatus::Warn,
        detail: "Kustomer documents no SLA create route; SLAs are listed in the manual checklist"
            .into(),
        choices: Vec::new(),
        can_create: None,
    });
    checks
}

async fn brand_check(ctx: &Ctx) -> anyhow::Result<PrereqCheck> {
    let wanted = brands_wanted(&ctx.ledger)?;
    let existing = ctx.kustomer.list_brands().await?;
    let has_default = existing.iter().any(|b| b.is_default);
    // Intercom's default brand is the org's default brand in Kustomer, whatever its name.
    let wanted: Vec<Wanted> = wanted
        .into_iter()
        .filter(|(_, b)| !(has_default && b.is_default == Some(true)))
        .map(|(w, _)| w)
        .collect();
    let names: Vec<String> = existing.into_iter().map(|b| b.name).collect();
    presence_check(&ctx.ledger, BRANDS, "brands", &wanted, &names)
}

async fn schedule_check(ctx: &Ctx) -> anyhow::Result<PrereqCheck> {
    let wanted: Vec<Wanted> = schedules_wanted(&ctx.ledger)?
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    let names = names_of(ctx.kustomer.list_schedules().await?, |s| s.name);
    presence_check(
        &ctx.ledger,
        SCHEDULES,
        "business schedules",
        &wanted,
        &names,
    )
}

async fn klass_check(ctx: &Ctx) -> anyhow::Result<PrereqCheck> {
    let wanted: Vec<Wanted> = klasses_wanted(ctx)?.into_iter().map(|(w, ..)| w).collect();
    let names = names_of(ctx.kustomer.list_klasses().await?, |k| k.name);
    presence_check(&ctx.ledger, KLASSES, "klasses", &wanted, &names)
}

async fn team_check(ctx: &Ctx) -> anyhow::Result<PrereqCheck> {
    let wanted = teams_wanted(&ctx.ledger)?;
    let names = names_of(ctx.kustomer.list_teams().await?, |t| t.name);
    presence_check(&ctx.ledger, TEAMS, "teams", &wanted, &names)
}

/// The names of what a Kustomer listing returned.
fn names_of<T>(listed: Vec<T>, name: impl Fn(T) -> String) -> Vec<String> {
    listed.into_iter().map(name).collect()
}

fn user_check(ctx: &Ctx) -> anyhow::Result<PrereqCheck> {
    let admins = decisions::stored_admins(&ctx.ledger)?;
    let count = |f: fn(&AdminDecision) -> bool| admins.iter().filter(|m| f(&m.decision)).count();
    let unresolved = count(|d| matches!(d, AdminDecision::Unresolved));
    let matched = count(|d| matches!(d, AdminDecision::User { .. }));
    let fallback = count(|d| matches!(d, AdminDecision::Fallback));
    let invite = count(|d| matches!(d, AdminDecision::Invite));
    Ok(PrereqCheck {
        name: USERS.into(),
        status: if unresolved > 0 {
            CheckStatus::Fail
        } else {
            CheckStatus::Pass
        },
        detail: format!(
            "{} admins: {matched} mapped to users, {fallback} to the fallback user, {invite} to invite, {unresolved} undecided",
            admins.len()
        ),
        choices: Vec::new(),
        can_create: None,
    })
}

/// Where KB categories and articles go, as decided so far.
pub enum KnowledgeBaseTarget {
    /// The org lists no knowledge base (the listing route absent, or an empty list): KB records
    /// are created without one, and Kustomer puts them in its default knowledge base.
    Unlisted(String),
    /// `by` says who chose: `--knowledge-base`, the saved decision, or the org's only one.
    Chosen {
        id: String,
        label: String,
        by: &'static str,
        choices: Vec<CheckChoice>,
    },
    /// Several and nobody chose, or the choice names a knowledge base the org does not have.
    Open {
        why: String,
        choices: Vec<CheckChoice>,
    },
}

/// How a knowledge base reads on screen and in reports.
fn knowledge_base_label(kb: &crate::kustomer::models::Named) -> String {
    let name = if kb.name.is_empty() { &kb.id } else { &kb.name };
    format!(
        "{name} ({}{})",
        kb.id,
        if kb.is_default { ", the default" } else { "" }
    )
}

/// The knowledge base the help center goes to: the one `--knowledge-base` names, else the
/// operator's saved choice, else the org's only one. On an org with several and no choice it is
/// open; the org's default one is marked as the one `--accept-defaults` takes (unless the flag
/// named another, which no default overrides).
pub async fn knowledge_base_target(ctx: &Ctx) -> anyhow::Result<KnowledgeBaseTarget> {
    let listed = match ctx.kustomer.list_knowledge_bases().await {
        Ok(listed) => listed,
        // No listing on this org, or none for this key (a key without the KB roles does not
        // carry the help center at all): nothing to choose between.
        Err(e) if e.is_absent_route() || matches!(e, KustomerError::Forbidden { .. }) => {
            return Ok(KnowledgeBaseTarget::Unlisted(e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let choices = |chosen: &dyn Fn(&crate::kustomer::models::Named) -> bool| -> Vec<CheckChoice> {
        listed
            .iter()
            .map(|k| CheckChoice {
                id: k.id.clone(),
                label: knowledge_base_label(k),
                chosen: chosen(k),
            })
            .collect()
    };
    let pick = |id: &str, by: &'static str| {
        listed
            .iter()
            .find(|k| k.id == id)
            .map(|k| KnowledgeBaseTarget::Chosen {
                id: k.id.clone(),
                label: knowledge_base_label(k),
                by,
                choices: choices(&|o| o.id == k.id),
            })
    };
    let all = listed
        .iter()
        .map(knowledge_base_label)
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(id) = ctx.config.options.knowledge_base.as_deref() {
        return Ok(
            pick(id, "--knowledge-base").unwrap_or_else(|| KnowledgeBaseTarget::Open {
                why: format!(
                    "--knowledge-base {id} names no knowledge base of this org (it has: {all})"
                ),
                choices: choices(&|_| false),
            }),
        );
    }
    if let Some((id, _)) = decisions::knowledge_base(&ctx.ledger)? {
        return Ok(
            pick(&id, "the saved decision").unwrap_or_else(|| KnowledgeBaseTarget::Open {
                why: format!("the chosen knowledge base {id} is not in this org (it has: {all})"),
                choices: choices(&|k| k.is_default),
            }),
        );
    }
    Ok(match listed.as_slice() {
        [] => KnowledgeBaseTarget::Unlisted("the org lists no knowledge base".into()),
        [only] => pick(&only.id, "the org's only knowledge base")
            .unwrap_or_else(|| KnowledgeBaseTarget::Unlisted(String::new())),
        _ => KnowledgeBaseTarget::Open {
            why: format!(
                "the org has {} knowledge bases, one per brand: {all}",
                listed.len()
            ),
            choices: choices(&|k| k.is_default),
        },
    })
}

async fn knowledge_base_check(ctx: &Ctx) -> anyhow::Result<PrereqCheck> {
    let in_scope = crate::engine::phases::phases_for(&ctx.config.only)
        .map(|p| p.contains(&crate::vocab::PhaseId::Kb))
        .unwrap_or(true);
    let check = |status, detail: String, choices| PrereqCheck {
        name: KNOWLEDGE_BASE.into(),
        status,
        detail,
        can_create: None,
        choices,
    };
    if !in_scope {
        return Ok(check(
            CheckStatus::Pass,
            "the knowledge base is not in this run's scope".into(),
            Vec::new(),
        ));
    }
    Ok(match knowledge_base_target(ctx).await? {
        KnowledgeBaseTarget::Unlisted(why) => check(
            CheckStatus::Warn,
            format!(
                "no knowledge base listed ({why}): KB categories and articles are created without one, so Kustomer puts them in its default knowledge base"
            ),
            Vec::new(),
        ),
        KnowledgeBaseTarget::Chosen {
            label, by, choices, ..
        } => check(
            CheckStatus::Pass,
            format!("KB categories and articles go to knowledge base {label} ({by})"),
            choices,
        ),
        KnowledgeBaseTarget::Open { why, choices } => check(
            CheckStatus::Fail,
            format!(
                "{why}; choose the one the help center goes to: c on this check, --knowledge-base ID, or knowledge_base_id in mapping.toml"
            ),
            choices,
        ),
    })
}

/// The knowledge base `--accept-defaults` takes for an open knowledge-base check: the org's
/// default one, unless `--knowledge-base` named one the org does not have (an explicit choice no
/// default overrides).
pub fn default_knowledge_base(ctx: &Ctx, check: &PrereqCheck) -> Option<CheckChoice> {
    if ctx.config.options.knowledge_base.is_some() {
        return None;
    }
    check.choices.iter().find(|c| c.chosen).cloned()
}

/// The operator confirms creating what check `name` misses: allowed from now on, and created
/// now where it can be (teams are created by the users & teams phase, once users are mapped).
pub async fn create_prerequisite(ctx: &Arc<Ctx>, name: &str) -> PrereqCheck {
    if let Err(e) = decisions::allow_prerequisite(&ctx.ledger, name, true).await {
        return failed_check(name, name, &e);
    }
    let result = match name {
        BRANDS => load_brands(ctx).await,
        SCHEDULES => load_schedules(ctx).await,
        KLASSES => load_klasses(ctx).await,
        TEAMS => crate::engine::load::users_teams::load_teams(ctx).await,
        _ => Ok(()),
    };
    if let Err(e) = result {
        return failed_check(name, name, &e);
    }
    prerequisite_checks(ctx)
        .await
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| failed_check(name, name, &"no such prerequisite check"))
}

// ---- the phase ------------------------------------------------------------------------------

/// Runs phase 0.
pub async fn run(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    ctx.log(LogLevel::Warn, WORKFLOW_WARNING);
    load_brands(ctx).await?;
    ctx.control.checkpoint().await?;
    load_schedules(ctx).await?;
    ctx.control.checkpoint().await?;
    load_klasses(ctx).await?;
    add_manual_once(
        ctx,
        "SLAs",
        "Kustomer documents no SLA create route: rebuild Intercom's SLA rules (first response, next reply targets per priority) in Kustomer's SLA settings.",
    )?;
    Ok(())
}

/// Whether i2k may create the missing items of check `name`.
fn may_create(ctx: &Ctx, name: &str) -> anyhow::Result<bool> {
    Ok(decisions::prerequisite_allowed(&ctx.ledger, name)?.unwrap_or(ctx.config.accept_defaults))
}

/// Adds a manual-checklist item unless one with the same title is listed already.
fn add_manual_once(ctx: &Ctx, title: &str, detail: &str) -> anyhow::Result<()> {
    let listed = ctx
        .ledger
        .read(|r| r.manual_items())?
        .iter()
        .any(|m| m.title == title);
    if !listed {
        ctx.ledger.add_manual_item(None, title, detail)?;
    }
    Ok(())
}

/// Settles one wanted item: an existing Kustomer record with its name is adopted; otherwise it
/// is created through the write path when allowed (found again by listing on name), or skipped
/// with the reason.
async fn settle<C, CF, L, LF>(
    ctx: &Ctx,
    check: &str,
    item: &WorkItem,
    name: &str,
    existing: Option<String>,
    create: C,
    list: L,
) -> anyhow::Result<Option<String>>
where
    C: Fn() -> CF,
    CF: Future<Output = Result<String, KustomerError>>,
    L: Fn() -> LF,
    LF: Future<Output = Result<Vec<(String, String)>, KustomerError>>,
{
    let ledger = &ctx.ledger;
    if let Some(id) = existing {
        ledger.mark_found(item, &id)?;
        return Ok(Some(id));
    }
    if !may_create(ctx, check)? {
        ledger.mark_skipped(
            &item.kind,
            &item.source_id,
            &format!("missing in Kustomer and the operator did not allow creating {check}"),
        )?;
        return Ok(None);
    }
    let wanted = lower(name);
    let lookup = || {
        let listing = list();
        let wanted = wanted.clone();
        async move {
            Ok(listing
                .await?
                .into_iter()
                .find(|(n, _)| lower(n) == wanted)
                .map(|(_, id)| id))
        }
    };
    match create_one(ledger, item, &create, lookup).await? {
        Outcome::Done(id) => {
            decisions::note_created(ledger, &item.kind, &item.source_id).await?;
            ctx.log(LogLevel::Info, format!("created {check} `{name}` ({id})"));
            Ok(Some(id))
        }
        Outcome::Failed | Outcome::Unsettled => Ok(None),
    }
}

fn find_by_name(existing: &[(String, String)], name: &str) -> Option<String> {
    existing
        .iter()
        .find(|(n, _)| lower(n) == lower(name))
        .map(|(_, id)| id.clone())
}

/// `(name, id)` of each record a Kustomer listing returns, to match wanted records on name.
async fn names_and_ids<T>(
    listing: impl Future<Output = Result<Vec<T>, KustomerError>>,
    name_id: fn(T) -> (String, String),
) -> Result<Vec<(String, String)>, KustomerError> {
    Ok(listing.await?.into_iter().map(name_id).collect())
}

pub(crate) async fn load_brands(ctx: &Ctx) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let items = super::open_work(ctx, Kind::Brands, "checking brands").await?;
    if items.is_empty() {
        return Ok(());
    }
    let brands = ctx.kustomer.list_brands().await?;
    let default = brands.iter().find(|b| b.is_default).cloned();
    let existing: Vec<(String, String)> = brands
        .iter()
        .map(|b| (b.name.clone(), b.id.clone()))
        .collect();
    // Kustomer requires an icon; Intercom's API exposes none, so the org's default brand icon
    // is reused (the operator can change it in Kustomer).
    let icon = default
        .as_ref()
        .and_then(|b| b.resource.str("iconUrl"))
        .unwrap_or_default()
        .to_string();
    let wanted = brands_wanted(ledger)?;
    // A brand refused here was never sent: no exchange to keep.
    let refuse = |item: &WorkItem, class, why: &str| {
        ledger.mark_failed(&item.kind, &item.source_id, class, why, "", "")
    };
    for item in items {
        let Some((w, brand)) = wanted.iter().find(|(w, _)| w.source_id == item.source_id) else {
            refuse(
                &item,
                ErrorClass::Source,
                "the brand record could not be read",
            )?;
            continue;
        };
        let found = if brand.is_default == Some(true) {
            default.as_ref().map(|b| b.id.clone())
        } else {
            None
        }
        .or_else(|| find_by_name(&existing, &w.name));
        if found.is_none() && icon.is_empty() {
            refuse(
                &item,
                ErrorClass::Mapping,
                "Kustomer requires an icon URL for a brand and the org's default brand has none to reuse; create the brand in Kustomer",
            )?;
            continue;
        }
        let name = w.name.clone();
        settle(
            ctx,
            BRANDS,
            &item,
            &w.name,
            found,
            || {
                let name = name.clone();
                let icon = icon.clone();
                async move { Ok(ctx.kustomer.create_brand(&name, &icon).await?.id) }
            },
            || names_and_ids(ctx.kustomer.list_brands(), |b| (b.name, b.id)),
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn load_schedules(ctx: &Ctx) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let items = super::open_work(
        ctx,
        Kind::OfficeHoursSchedules,
        "checking business schedules",
    )
    .await?;
    let wanted = schedules_wanted(ledger)?;
    for (w, _) in &wanted {
        add_manual_once(
            ctx,
            &format!("Holidays of business schedule `{}`", w.name),
            &format!(
                "Intercom office-hours exceptions of schedule {} ({}): Kustomer's reference confirms no holiday route, so re-enter its holidays and special hours in Kustomer's business schedule settings.",
                w.name, w.source_id
            ),
        )?;
    }
    if items.is_empty() {
        return Ok(());
    }
    let existing = names_and_ids(ctx.kustomer.list_schedules(), |s| (s.name, s.id)).await?;
    for item in items {
        let Some((w, schedule)) = wanted.iter().find(|(w, _)| w.source_id == item.source_id) else {
            continue;
        };
        let hours = schedule_hours(schedule);
        let timezone = schedule_timezone(schedule);
        let name = w.name.clone();
        settle(
            ctx,
            SCHEDULES,
            &item,
            &w.name,
            find_by_name(&existing, &w.name),
            || {
                let (name, hours, timezone) = (name.clone(), hours.clone(), timezone.clone());
                async move {
                    Ok(ctx
                        .kustomer
                        .create_schedule(&name, &hours, &timezone, false)
                        .await?
                        .id)
                }
            },
            || names_and_ids(ctx.kustomer.list_schedules(), |s| (s.name, s.id)),
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn load_klasses(ctx: &Ctx) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    ledger
        .ensure_pending_from_sources(Kind::TicketTypes.as_str(), Kind::TicketTypes.as_str())
        .await?;
    let invented: Vec<String> = invented_klasses(ctx)
        .iter()
        .map(|s| s.to_string())
        .collect();
    ledger
        .ensure_pending(Kind::Klasses.as_str(), invented)
        .await?;
    let mut items = super::open_items(ledger, Kind::TicketTypes.as_str())?;
    items.extend(super::open_items(ledger, Kind::Klasses.as_str())?);
    if items.is_empty() {
        return Ok(());
    }
    ctx.set_activity("checking klasses");
    let existing = names_and_ids(ctx.kustomer.list_klasses(), |k| (k.name, k.id)).await?;
    let wanted = klasses_wanted(ctx)?;
    for item in items {
        let Some((w, body, ticket_type)) = wanted
            .iter()
            .find(|(w, ..)| w.kind == item.kind && w.source_id == item.source_id)
        else {
            continue;
        };
        let settled = settle(
            ctx,
            KLASSES,
            &item,
            &w.name,
            find_by_name(&existing, &w.name),
            || {
                let body = body.clone();
                async move { Ok(ctx.kustomer.create_klass(body).await?.id) }
            },
            || names_and_ids(ctx.kustomer.list_klasses(), |k| (k.name, k.id)),
        )
        .await?;
        if let (Some(_), Some(tt)) = (settled, ticket_type) {
            if let Some(d) = tt.description.as_deref().filter(|d| !d.trim().is_empty()) {
                // CreateKlass (Kustomer's published request type) has no description field.
                ctx.log(
                    LogLevel::Warn,
                    format!(
                        "klass {}: the ticket type's description is not migrated (Kustomer's klass create takes none): {d}",
                        w.name
                    ),
                );
            }
            put_ticket_metadata(ctx, &w.name, tt).await?;
        }
    }
    Ok(())
}

/// The ticket type's attributes as custom attributes of its klass (idempotent PUT).
async fn put_ticket_metadata(ctx: &Ctx, klass: &str, tt: &TicketType) -> anyhow::Result<()> {
    let specs: Vec<AttributeSpec> = ticket_fields(tt)
        .into_iter()
        .filter_map(|f| {
            let name = f.attribute?;
            let suffix = assigned_suffix(&name)?;
            Some(AttributeSpec {
                display_name: display_name(&f.source_name),
                kustomer_type: crate::kustomer::assumptions::metadata_type(suffix),
                enumeration: Vec::new(),
                name,
            })
        })
        .collect();
    if specs.is_empty() {
        return Ok(());
    }
    if let Err(e) = ctx
        .kustomer
        .put_metadata(&format!("kobject.{klass}"), metadata_body(&specs))
        .await
    {
        ctx.log(
            LogLevel::Warn,
            format!("attributes of klass {klass} could not be declared: {e}"),
        );
    }
    Ok(())
}
