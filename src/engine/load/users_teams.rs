//! Phase 1, users & teams: each Intercom admin becomes the Kustomer user the operator decided
//! (matched by e-mail, the fallback user, or an invitation — which Kustomer e-mails, so only on
//! an explicit decision); each Intercom team is matched by name or created with its mapped members.
//! The id map (`admins` → user id, `teams` → team id) is what later phases assign work with.

use std::sync::Arc;

use crate::engine::context::Ctx;
use crate::engine::decisions::{self, Decisions};
use crate::engine::load::prerequisites::TEAMS;
use crate::engine::model::{AdminDecision, AdminMapping, LogLevel};
use crate::engine::write::{Outcome, create_one};
use crate::intercom::models::Team;
use crate::ledger::WorkItem;
use crate::vocab::{ErrorClass, Kind};

/// Runs phase 1.
pub async fn run(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    load_admins(ctx).await?;
    ctx.control.checkpoint().await?;
    load_teams(ctx).await
}

/// Settles every admin per its decision; an undecided admin fails with a mapping error (the
/// runner never gets here with undecided admins unless a decision was withdrawn meanwhile).
pub(crate) async fn load_admins(ctx: &Ctx) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let items = super::open_work(ctx, Kind::Admins, "mapping admins to users").await?;
    if items.is_empty() {
        return Ok(());
    }
    let fallback = decisions::fallback_user(ledger)?.map(|(id, _)| id);
    let mappings: std::collections::HashMap<String, AdminMapping> =
        decisions::stored_admins(ledger)?
            .into_iter()
            .map(|m| (m.admin_id.clone(), m))
            .collect();
    for item in items {
        let Some(mapping) = mappings.get(&item.source_id) else {
            ledger.mark_failed(
                Kind::Admins.as_str(),
                &item.source_id,
                ErrorClass::Mapping,
                "no decision for this admin: run again so proposals are computed",
                "",
                "",
            )?;
            continue;
        };
        match &mapping.decision {
            AdminDecision::User { user_id, .. } => {
                ledger.mark_matched(Kind::Admins.as_str(), &item.source_id, user_id)?;
            }
            AdminDecision::Fallback => match &fallback {
                Some(user) => ledger.mark_matched(Kind::Admins.as_str(), &item.source_id, user)?,
                None => ledger.mark_failed(
                    Kind::Admins.as_str(),
                    &item.source_id,
                    ErrorClass::Mapping,
                    "mapped to the fallback user, but no fallback user is known",
                    "",
                    "",
                )?,
            },
            AdminDecision::Invite => invite(ctx, &item, mapping).await?,
            AdminDecision::Unresolved => ledger.mark_failed(
                Kind::Admins.as_str(),
                &item.source_id,
                ErrorClass::Mapping,
                &format!(
                    "admin {} <{}> has no decision: map to a user, invite or use the fallback user",
                    mapping.name, mapping.email
                ),
                "",
                "",
            )?,
        }
    }
    Ok(())
}

/// Creates the user (Kustomer e-mails the invitation), found again by e-mail after a lost answer.
async fn invite(ctx: &Ctx, item: &WorkItem, mapping: &AdminMapping) -> anyhow::Result<()> {
    ctx.log(
        LogLevel::Warn,
        format!(
            "inviting {} <{}>: Kustomer e-mails them an invitation",
            mapping.name, mapping.email
        ),
    );
    let name = if mapping.name.trim().is_empty() {
        mapping.email.clone()
    } else {
        mapping.name.clone()
    };
    create_one(
        &ctx.ledger,
        item,
        || async { Ok(ctx.kustomer.invite_user(&name, &mapping.email).await?.id) },
        || async {
            Ok(ctx
                .kustomer
                .users_by_email(&mapping.email)
                .await?
                .into_iter()
                .next()
                .map(|u| u.id))
        },
    )
    .await?;
    Ok(())
}

/// Matches each Intercom team to a Kustomer team by name, or creates it (when allowed) with the
/// users its admins map to. Admins on the fallback user are left out: the key's own user is not
/// a member of anyone's team.
pub(crate) async fn load_teams(ctx: &Ctx) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let items = super::open_work(ctx, Kind::Teams, "matching teams").await?;
    if items.is_empty() {
        return Ok(());
    }
    let decided = Decisions::load(ledger)?;
    let personal: std::collections::HashSet<String> = decisions::stored_admins(ledger)?
        .into_iter()
        .filter(|m| {
            matches!(
                m.decision,
                AdminDecision::User { .. } | AdminDecision::Invite
            )
        })
        .map(|m| m.admin_id)
        .collect();
    let existing = ctx.kustomer.list_teams().await?;
    let allowed =
        decisions::prerequisite_allowed(ledger, TEAMS)?.unwrap_or(ctx.config.accept_defaults);
    for item in items {
        let team: Option<Team> = item
            .raw
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok());
        let Some(team) = team else {
            ledger.mark_failed(
                Kind::Teams.as_str(),
                &item.source_id,
                ErrorClass::Source,
                "the team record could not be read",
                "",
                "",
            )?;
            continue;
        };
        let name = team
            .name
            .clone()
            .unwrap_or_else(|| format!("Intercom team {}", item.source_id));
        let wanted = name.trim().to_lowercase();
        if let Some(found) = existing
            .iter()
            .find(|t| t.external_id.as_deref() == Some(item.source_id.as_str()))
            .or_else(|| {
                existing
                    .iter()
                    .find(|t| t.name.trim().to_lowercase() == wanted)
            })
        {
            ledger.mark_found(&item, &found.id)?;
            continue;
        }
        if !allowed {
            ledger.mark_skipped(
                Kind::Teams.as_str(),
                &item.source_id,
                "missing in Kustomer and the operator did not allow creating teams",
            )?;
            continue;
        }
        let mut members: Vec<String> = team
            .admin_ids
            .iter()
            .filter(|a| personal.contains(a.as_str()))
            .filter_map(|a| decided.user_for_admin(a.as_str()).map(str::to_string))
            .collect();
        members.sort();
        members.dedup();
        let source_id = item.source_id.clone();
        let outcome = create_one(
            ledger,
            &item,
            || async {
                Ok(ctx
                    .kustomer
                    .create_team(&name, &members, Some(&source_id))
                    .await?
                    .id)
            },
            || async {
                Ok(ctx
                    .kustomer
                    .list_teams()
                    .await?
                    .into_iter()
                    .find(|t| t.external_id.as_deref() == Some(source_id.as_str()))
                    .map(|t| t.id))
            },
        )
        .await?;
        if let Outcome::Done(id) = outcome {
            decisions::note_created(ledger, Kind::Teams.as_str(), &item.source_id).await?;
            ctx.log(
                LogLevel::Info,
                format!(
                    "created team `{name}` ({id}) with {} members",
                    members.len()
                ),
            );
        }
    }
    Ok(())
}
