//! Phase Kb: Intercom help-center collections → KB categories (parents first, so nesting is
//! kept), articles → KB articles, all bound to the knowledge base chosen at prerequisites (the
//! org has one per brand: `--knowledge-base`, the saved decision, or the org's only one), each with its Intercom versions recreated in order in its
//! default language (historical ones published at their own time, the current one published
//! only when Intercom has the article published) and every translation as a language version.
//!
//! Ledger kinds are the source kinds (`collections`, `articles`, `article_versions`,
//! `article_translations`); target ids are the category, article and version ids. KB records
//! have no externalId route: categories are found again by title and parent in the listing,
//! articles by the `externalId` they carry. Versions have neither a listing nor an externalId: a
//! version's create whose answer was lost is found on the article itself, whose
//! `langVersions.{lang}` names the language's current and draft version with their content. It
//! landed when that version holds what was sent and is none of the versions already recorded,
//! so a lost answer never adds a second copy of a revision.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::engine::context::Ctx;
use crate::engine::load::{NO_ANSWER, read_source};
use crate::engine::model::LogLevel;
use crate::engine::write::{self, Outcome};
use crate::kustomer::{KustomerError, assumptions};
use crate::ledger::{Ledger, LedgerError, Listed, RecordState, WorkItem};
use crate::mapping::kb::{self, ArticleHead, VersionHead};
use crate::vocab::{ErrorClass, Kind, PhaseId};

const OPEN: [RecordState; 2] = [RecordState::Pending, RecordState::Sent];
/// Articles loading at once (each its create, then its versions in order).
const ARTICLES_IN_FLIGHT: usize = 8;

/// Every record of `kind` in `states`, paged from the ledger on the blocking pool (a whole kind
/// is more than an async worker should wait on). For the small kinds only (KB, segments,
/// macros…): the result is held in memory.
pub(crate) async fn all_items(
    ledger: &Ledger,
    kind: &str,
    states: &[RecordState],
) -> anyhow::Result<Vec<WorkItem>> {
    let mut out = Vec::new();
    let mut pages = ledger.pages(kind, states, 500);
    while let Some(page) = pages.next_page().await? {
        out.extend(page);
    }
    Ok(out)
}

pub async fn run(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    for kind in [
        Kind::Collections.as_str(),
        Kind::Articles.as_str(),
        Kind::ArticleVersions.as_str(),
        Kind::ArticleTranslations.as_str(),
    ] {
        ledger.ensure_pending_from_sources(kind, kind).await?;
    }
    ledger.flush().await?;
    let knowledge_base = bound_knowledge_base(ctx).await?;
    load_categories(ctx, knowledge_base.as_deref()).await?;
    ledger.flush().await?;
    load_articles(ctx, knowledge_base.as_deref()).await?;
    ledger.flush().await?;
    Ok(())
}

/// The knowledge base KB records are bound to (`None`: the org lists none, so they are created
/// without one). A run never gets here with the choice open (the decisions refuse it first);
/// should the org have changed since, the phase stops rather than guess.
async fn bound_knowledge_base(ctx: &Ctx) -> anyhow::Result<Option<String>> {
    use crate::engine::load::prerequisites::{KnowledgeBaseTarget, knowledge_base_target};
    Ok(match knowledge_base_target(ctx).await? {
        KnowledgeBaseTarget::Chosen { id, label, by, .. } => {
            ctx.log(
                LogLevel::Info,
                format!("KB categories and articles go to knowledge base {label} ({by})"),
            );
            Some(id)
        }
        KnowledgeBaseTarget::Unlisted(why) => {
            ctx.log(
                LogLevel::Warn,
                format!("no knowledge base listed ({why}): KB records are created without one"),
            );
            None
        }
        KnowledgeBaseTarget::Open { why, .. } => anyhow::bail!(
            "the knowledge base for KB categories and articles is not chosen: {why}; choose one on the Prerequisites screen, with --knowledge-base ID, or as knowledge_base_id in mapping.toml"
        ),
    })
}

async fn load_categories(ctx: &Arc<Ctx>, knowledge_base: Option<&str>) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let items: HashMap<String, WorkItem> = all_items(ledger, Kind::Collections.as_str(), &OPEN)
        .await?
        .into_iter()
        .map(|i| (i.source_id.clone(), i))
        .collect();
    if items.is_empty() {
        return Ok(());
    }
    let tree: Vec<(String, Option<String>)> = items
        .values()
        .map(|i| {
            let parent = i.raw.as_deref().and_then(kb::collection_parent);
            (i.source_id.clone(), parent)
        })
        .collect();
    let parents: HashMap<String, Option<String>> = tree.iter().cloned().collect();
    for id in kb::parents_first(&tree) {
        ctx.control.checkpoint().await?;
        let Some(item) = items.get(&id) else { continue };
        ctx.set_activity(format!("KB: category for collection {id}"));
        let parent_target = match parents.get(&id).cloned().flatten() {
            Some(p) => match ledger.target_id(Kind::Collections.as_str(), &p)? {
                Some(t) => Some(t),
                None => {
                    ledger.mark_failed(
                        Kind::Collections.as_str(),
                        &id,
                        ErrorClass::Mapping,
                        &format!("its parent collection {p} was not loaded"),
                        "",
                        "",
                    )?;
                    continue;
                }
            },
            None => None,
        };
        let body = match item
            .raw
            .as_deref()
            .ok_or(kb::KbMappingError::Untitled("collection"))
            .and_then(|raw| kb::category_body(raw, parent_target.as_deref(), knowledge_base))
        {
            Ok(b) => b,
            Err(e) => {
                unmappable(ledger, item, &e)?;
                continue;
            }
        };
        let title = kb::category_title(&body).unwrap_or_default();
        let kustomer = &ctx.kustomer;
        let _guard = ctx.in_flight(PhaseId::Kb, 1);
        let send = || {
            let body = body.clone();
            async move { kustomer.create_kb_category(body).await.map(|r| r.id) }
        };
        let lookup = || async {
            Ok(kustomer
                .list_kb_categories()
                .await?
                .into_iter()
                .find(|c| {
                    kb::category_has_title(&c.attributes, &title)
                        && c.related_id("parent") == parent_target
                        && (knowledge_base.is_none()
                            || assumptions::kb_category_knowledge_base(c).as_deref()
                                == knowledge_base)
                })
                .map(|c| c.id))
        };
        write::create_one(ledger, item, send, lookup).await?;
    }
    Ok(())
}

/// The versions staged for an article, oldest first, with their ledger items.
fn article_versions(
    ledger: &Ledger,
    article_id: &str,
) -> anyhow::Result<Vec<(VersionHead, WorkItem)>> {
    let sources = ledger.read(|r| r.children(Kind::ArticleVersions.as_str(), article_id))?;
    let mut by_id: HashMap<String, VersionHead> = HashMap::new();
    for s in &sources {
        by_id.insert(s.source_id.clone(), kb::version_head(&s.source_id, &s.raw));
    }
    let ordered = kb::versions_in_order(by_id.values().cloned().collect());
    let mut out = Vec::with_capacity(ordered.len());
    for head in ordered {
        if let Some(item) = ledger.read(|r| r.record(Kind::ArticleVersions.as_str(), &head.id))? {
            out.push((head, item));
        }
    }
    Ok(out)
}

async fn load_articles(ctx: &Arc<Ctx>, knowledge_base: Option<&str>) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    // Articles still to create, and done articles whose versions or translations are open.
    // An article whose versions Intercom could not return is not loaded (no article without its
    // history) until a later extraction reads it whole.
    let mut articles: Vec<WorkItem> = all_items(ledger, Kind::Articles.as_str(), &OPEN)
        .await?
        .into_iter()
        .filter(|a| !a.incomplete)
        .collect();
    let mut open_children: Vec<String> = Vec::new();
    for kind in [
        Kind::ArticleVersions.as_str(),
        Kind::ArticleTranslations.as_str(),
    ] {
        for child in all_items(ledger, kind, &OPEN).await? {
            if let Some(parent) = ledger
                .read(|r| r.source(kind, &child.source_id))?
                .and_then(|s| s.parent_id)
            {
                open_children.push(parent);
            }
        }
    }
    // Done articles whose Intercom record changed since (their content is brought up to date
    // as a new version in `load_article`).
    let mut changed = ledger.listed_pages(Listed::ChangedSinceDone, Kind::Articles.as_str(), 500);
    while let Some(page) = changed.next_page().await? {
        open_children.extend(page.into_iter().map(|i| i.source_id));
    }
    open_children.sort();
    open_children.dedup();
    for parent in open_children {
        if articles.iter().all(|a| a.source_id != parent)
            && let Some(item) = ledger.read(|r| r.record(Kind::Articles.as_str(), &parent))?
            && !item.incomplete
        {
            articles.push(item);
        }
    }
    // Articles are independent of each other (each carries its own chain of versions, which
    // stays in order inside `load_article`), so several load at once: one create per request
    // and no bulk route, so one at a time would leave the budget idle on every round trip.
    let mut loads = futures_util::stream::iter(articles.into_iter().map(|item| async move {
        ctx.control.checkpoint().await?;
        ctx.set_activity(format!(
            "KB: article {} — one request per article and version (no bulk route)",
            item.source_id
        ));
        let _guard = ctx.in_flight(PhaseId::Kb, 1);
        load_article(ctx, &item, knowledge_base).await
    }))
    .buffer_unordered(ARTICLES_IN_FLIGHT);
    while let Some(done) = loads.next().await {
        done?;
    }
    Ok(())
}

fn fail_children(ledger: &Ledger, article_id: &str, why: &str) -> anyhow::Result<()> {
    for kind in [
        Kind::ArticleVersions.as_str(),
        Kind::ArticleTranslations.as_str(),
    ] {
        for child in ledger.read(|r| r.children(kind, article_id))? {
            if let Some(w) = ledger.read(|r| r.record(kind, &child.source_id))?
                && OPEN.contains(&w.state)
            {
                ledger.mark_failed(kind, &child.source_id, ErrorClass::Mapping, why, "", "")?;
            }
        }
    }
    Ok(())
}

/// Fails a record whose stored source cannot be mapped, with the mapping's reason.
fn unmappable(ledger: &Ledger, item: &WorkItem, e: &kb::KbMappingError) -> Result<(), LedgerError> {
    ledger.mark_failed(
        &item.kind,
        &item.source_id,
        ErrorClass::Source,
        &e.to_string(),
        "",
        "",
    )
}

async fn load_article(
    ctx: &Arc<Ctx>,
    item: &WorkItem,
    knowledge_base: Option<&str>,
) -> anyhow::Result<()> {
    let ledger = &ctx.ledger;
    let kustomer = &ctx.kustomer;
    let id = item.source_id.clone();
    let head: ArticleHead = match item
        .raw
        .as_deref()
        .ok_or(kb::KbMappingError::Untitled("article"))
        .and_then(kb::article_head)
    {
        Ok(h) => h,
        Err(e) => {
            unmappable(ledger, item, &e)?;
            fail_children(
                ledger,
                &id,
                &format!("its article {id} could not be mapped"),
            )?;
            return Ok(());
        }
    };
    let mut categories = Vec::new();
    let Some((raw, record)) = read_source(ledger, item)? else {
        return Ok(());
    };
    for c in kb::article_collections(raw) {
        if let Some(t) = ledger.target_id(Kind::Collections.as_str(), &c)?
            && !categories.contains(&t)
        {
            categories.push(t);
        }
    }
    let body = kb::article_body(&head, &id, &categories, knowledge_base);
    let was_done = item.state == RecordState::Done;
    if !was_done {
        // Times Kustomer cannot read are left out: the warning keeps the original value.
        for note in crate::mapping::clean::out_of_range_times(&record, &[]) {
            ledger.add_warning(Kind::Articles.as_str(), Some(&id), &note)?;
        }
    }
    // Found by lookup before this ledger ever sent it: the article existed before (a fresh
    // ledger adopting an earlier migration's records), and so may its versions. A lookup after
    // this run's own create (a lost answer) finds what this run made.
    let sent_now = std::sync::atomic::AtomicBool::new(false);
    let found_existing = std::sync::atomic::AtomicBool::new(false);
    let send = || {
        let body = body.clone();
        sent_now.store(true, std::sync::atomic::Ordering::Relaxed);
        async move { kustomer.create_kb_article(body).await.map(|r| r.id) }
    };
    let lookup = || async {
        let found = kustomer
            .list_kb_articles()
            .await?
            .into_iter()
            .find(|a| a.external_id() == Some(id.as_str()))
            .map(|a| a.id);
        if found.is_some()
            && item.state == RecordState::Pending
            && !sent_now.load(std::sync::atomic::Ordering::Relaxed)
        {
            found_existing.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(found)
    };
    let article_id = match write::create_one(ledger, item, send, lookup).await? {
        Outcome::Done(t) => t,
        _ => {
            fail_children(ledger, &id, &format!("its article {id} failed to load"))?;
            return Ok(());
        }
    };

    // Content: the Intercom versions in order (the last is the current content); the first step
    // fills the draft the article create opened, each later one is a new version.
    let versions = article_versions(ledger, &id)?;
    let n = versions.len();
    if found_existing.load(std::sync::atomic::Ordering::Relaxed) {
        return adopt_versions(ctx, &id, &article_id, &head).await;
    }
    // An article loaded earlier whose Intercom record changed since, with no new version of
    // Intercom's to carry the change: its current content becomes the language's new version.
    let changed = was_done && item.source_changed;
    let new_version = versions.iter().any(|(_, v)| OPEN.contains(&v.state));
    if changed && (n == 0 || !new_version) {
        let published = head.published.then(|| head.updated_at.unwrap_or(0));
        let body = kb::version_body(&head.title, &head.html, published);
        let sent = if head.published {
            kustomer
                .create_kb_version(&article_id, &head.lang, body)
                .await
        } else {
            kustomer
                .update_kb_version(&article_id, &head.lang, body)
                .await
        };
        match sent {
            Ok(_) => {}
            Err(e) => {
                ledger.add_warning(
                    Kind::Articles.as_str(),
                    Some(&id),
                    &format!("changed in Intercom but not updated in Kustomer (the next run tries again): {e}"),
                )?;
                return Ok(());
            }
        }
    }
    if changed {
        ledger
            .record_changes(vec![crate::ledger::Change {
                kind: Kind::Articles.as_str().to_string(),
                source_id: id.clone(),
                change: crate::ledger::ChangeKind::Updated,
                detail: "content, as a new version in its language".to_string(),
            }])
            .await?;
        ledger.mark_updated(Kind::Articles.as_str(), &id).await?;
    }
    if n == 0 {
        if !was_done {
            let published = head.published.then(|| head.updated_at.unwrap_or(0));
            let body = kb::version_body(&head.title, &head.html, published);
            if let Err(e) = kustomer
                .update_kb_version(&article_id, &head.lang, body)
                .await
            {
                let (req, resp) = e.exchange();
                ledger.mark_failed(
                    Kind::Articles.as_str(),
                    &id,
                    e.class(),
                    &format!("the article was created but its content could not be filled: {e}"),
                    &req,
                    &resp,
                )?;
            }
        }
    } else {
        for (step, (version, vitem)) in versions.iter().enumerate() {
            if !OPEN.contains(&vitem.state) {
                continue;
            }
            let last = step + 1 == n;
            if !head.published && !last {
                ledger.mark_skipped(
                    Kind::ArticleVersions.as_str(),
                    &version.id,
                    "the article is a draft in Intercom: only its current content is carried, as the Kustomer draft",
                )?;
                continue;
            }
            let (title, html, published_at) = if last {
                let at = head
                    .published
                    .then(|| head.updated_at.unwrap_or(version.created_at));
                (head.title.clone(), head.html.clone(), at)
            } else {
                match fetch_version(ctx, &id, &version.id).await {
                    Ok(Some((t, h))) => (t, h, Some(version.created_at)),
                    Ok(None) => {
                        ledger.mark_failed(
                            Kind::ArticleVersions.as_str(),
                            &version.id,
                            ErrorClass::Source,
                            "Intercom returned the version without a title or body",
                            "",
                            "",
                        )?;
                        continue;
                    }
                    Err(e) => {
                        // A refused token is the run's to stop on, not the version's failure
                        // (the ledger keeps the record's state for an `Unauthorized` class).
                        let class = match e.class() {
                            ErrorClass::Unauthorized => ErrorClass::Unauthorized,
                            _ => ErrorClass::Source,
                        };
                        ledger.mark_failed(
                            Kind::ArticleVersions.as_str(),
                            &version.id,
                            class,
                            &format!("the version could not be read from Intercom: {e}"),
                            "",
                            "",
                        )?;
                        // The steps build on each other (the first fills the draft the article
                        // create opened; a later one sent first would publish it unfilled):
                        // the rest wait for a run that can read this one.
                        break;
                    }
                }
            };
            let body = kb::version_body(&title, &html, published_at);
            let known = recorded_versions(ledger, &id)?;
            let sent = body.clone();
            let lookup = || {
                let (body, known) = (sent.clone(), known.clone());
                let (lang, article) = (head.lang.clone(), article_id.clone());
                // Also for the first step's PUT: once it published the draft, the language has
                // no draft left to fill, and sending it again would be refused.
                async move { landed_version(kustomer, &article, &lang, &body, &known).await }
            };
            let lang = head.lang.clone();
            let article = article_id.clone();
            let send = move || -> BoxFuture<'_, Result<String, KustomerError>> {
                let (body, lang, article) = (body.clone(), lang.clone(), article.clone());
                Box::pin(async move {
                    let r = if step == 0 {
                        kustomer.update_kb_version(&article, &lang, body).await?
                    } else {
                        kustomer.create_kb_version(&article, &lang, body).await?
                    };
                    Ok(r.id)
                })
            };
            write::create_one(ledger, vitem, send, lookup).await?;
        }
    }

    // Translations: each locale as a language version, published when Intercom has it published
    // (never on a draft article, which publishing would make live).
    for child in ledger.read(|r| r.children(Kind::ArticleTranslations.as_str(), &id))? {
        let Some(titem) =
            ledger.read(|r| r.record(Kind::ArticleTranslations.as_str(), &child.source_id))?
        else {
            continue;
        };
        if !OPEN.contains(&titem.state) {
            continue;
        }
        let (lang, mut body) = match kb::translation(&child.raw) {
            Ok(t) => t,
            Err(e) => {
                ledger.mark_failed(
                    Kind::ArticleTranslations.as_str(),
                    &child.source_id,
                    ErrorClass::Source,
                    &e.to_string(),
                    "",
                    "",
                )?;
                continue;
            }
        };
        if !head.published
            && let Some(obj) = body.as_object_mut()
        {
            obj.remove("publishedAt");
        }
        let article = article_id.clone();
        let send = || {
            let (body, lang, article) = (body.clone(), lang.clone(), article.clone());
            async move {
                kustomer
                    .create_kb_version(&article, &lang, body)
                    .await
                    .map(|r| r.id)
            }
        };
        let known = recorded_versions(ledger, &id)?;
        let lookup = || {
            let (body, lang, article, known) =
                (body.clone(), lang.clone(), article.clone(), known.clone());
            async move { landed_version(kustomer, &article, &lang, &body, &known).await }
        };
        write::create_one(ledger, &titem, send, lookup).await?;
    }
    Ok(())
}

/// The versions and translations of an article that already existed in Kustomer when a fresh
/// ledger adopted it. Kustomer lists no article versions: one that is the language's current
/// content is found (done); any other may or may not be there, and sending it again could
/// duplicate the history, so it is marked `unknown` with the reason, never sent.
async fn adopt_versions(
    ctx: &Arc<Ctx>,
    id: &str,
    article_id: &str,
    head: &ArticleHead,
) -> anyhow::Result<()> {
    const WHY: &str = "the article already existed in Kustomer (adopted by externalId from an earlier migration of these records) and Kustomer lists no article versions, so whether this one is there cannot be checked; it was not sent again";
    let ledger = &ctx.ledger;
    let known = recorded_versions(ledger, id)?;
    for kind in [
        Kind::ArticleVersions.as_str(),
        Kind::ArticleTranslations.as_str(),
    ] {
        for child in ledger.read(|r| r.children(kind, id))? {
            let Some(w) = ledger.read(|r| r.record(kind, &child.source_id))? else {
                continue;
            };
            if !OPEN.contains(&w.state) {
                continue;
            }
            let current = if kind == Kind::ArticleTranslations.as_str() {
                kb::translation(&child.raw).ok().map(|(lang, mut body)| {
                    // As `load_article` sent it: a draft article's translations are drafts too.
                    if !head.published
                        && let Some(obj) = body.as_object_mut()
                    {
                        obj.remove("publishedAt");
                    }
                    (lang, body)
                })
            } else {
                Some((
                    head.lang.clone(),
                    kb::version_body(
                        &head.title,
                        &head.html,
                        head.published.then(|| head.updated_at.unwrap_or(0)),
                    ),
                ))
            };
            let found = match &current {
                Some((lang, body)) => landed_version(&ctx.kustomer, article_id, lang, body, &known)
                    .await
                    .ok()
                    .flatten(),
                None => None,
            };
            match found {
                Some(version) => ledger.mark_done(kind, &child.source_id, &version)?,
                None => {
                    // What was sent is known from the source; its answer never came.
                    let request = match &current {
                        Some((lang, body)) => format!(
                            "a {lang} version of Kustomer article {article_id}, sent by an earlier run:\n{}",
                            serde_json::to_string_pretty(body).unwrap_or_default()
                        ),
                        None => format!(
                            "a version of Kustomer article {article_id}, sent by an earlier run"
                        ),
                    };
                    ledger.mark_unknown(kind, &child.source_id, WHY, &request, NO_ANSWER)?
                }
            }
        }
    }
    Ok(())
}

/// The Kustomer version ids already recorded for an article's versions and translations.
fn recorded_versions(ledger: &Ledger, article_id: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for kind in [
        Kind::ArticleVersions.as_str(),
        Kind::ArticleTranslations.as_str(),
    ] {
        for child in ledger.read(|r| r.children(kind, article_id))? {
            if let Some(target) = ledger.target_id(kind, &child.source_id)? {
                out.push(target);
            }
        }
    }
    Ok(out)
}

/// The version a create whose answer was lost made, if it landed: the article's language
/// pointer (current when `body` publishes, draft otherwise) names a version holding `body`'s
/// title and HTML that is none of the `known` ones.
async fn landed_version(
    kustomer: &crate::kustomer::KustomerClient,
    article_id: &str,
    lang: &str,
    body: &Value,
    known: &[String],
) -> Result<Option<String>, KustomerError> {
    let article = kustomer.get_kb_article(article_id).await?;
    let publishes = body.get("publishedAt").is_some_and(|p| !p.is_null());
    let key = if publishes {
        "currentVersion"
    } else {
        "draftVersion"
    };
    let Some(pointer) = article
        .attributes
        .get("langVersions")
        .and_then(|l| l.get(lang))
        .and_then(|entry| entry.get(key))
    else {
        return Ok(None);
    };
    let Some(vid) = crate::engine::verify::version_id(pointer) else {
        return Ok(None);
    };
    let same = ["title", "htmlBody"]
        .iter()
        .all(|f| pointer.get(*f) == body.get(*f));
    Ok((same && !known.iter().any(|k| k == vid)).then(|| vid.to_string()))
}

/// The full text of one historical Intercom version (the listing carries no bodies).
async fn fetch_version(
    ctx: &Ctx,
    article_id: &str,
    version_id: &str,
) -> Result<Option<(String, String)>, crate::http::ApiError> {
    let full = ctx.intercom.article_version(article_id, version_id).await?;
    if full.is_null() {
        ctx.log(
            LogLevel::Warn,
            format!("article {article_id} version {version_id}: empty answer"),
        );
    }
    Ok(kb::full_version(&full))
}
