//! The idempotent write path (DESIGN.md): every record created in Kustomer goes through here.
//!
//! One record: `done` → nothing to do; `sent` (a crash or a lost answer came between the request
//! and its answer) → look it up by externalId through a direct route, never search; otherwise the
//! `sent` mark is committed before the request leaves, then the id is recorded and the record is
//! `done`. A create refused as a duplicate, or whose answer was lost, is resolved by the lookup,
//! never retried blindly. Permanent refusals mark the record `failed` with the redacted request
//! and response; the run goes on.
//!
//! Bulk: items are marked `sent` with a batch id that also goes into each `_clientRef`; the job id
//! is recorded when the answer arrives; results are matched by `_clientRef`. An item `sent`
//! without a job id (the answer was lost) is looked up only after the ledger's bulk patience
//! (three times the longest bulk-job latency seen, never under 10 s), since bulk jobs complete
//! asynchronously and an early "not found" would resend and duplicate.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use crate::engine::model::ErrorClass;
use crate::http::ApiError;
use crate::kustomer::KustomerError;
use crate::ledger::{Ledger, LedgerError, RecordState, WorkItem};
use crate::rng::Rng;

/// How many times a single create is sent again after a lookup proved it absent.
const MAX_RESENDS: u32 = 3;

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It exists in Kustomer with this id (created now, found by lookup, or done before).
    Done(String),
    /// Marked failed in the ledger with its reason.
    Failed,
    /// Still `sent`: its outcome is not known yet (a bulk answer was lost; recovery will look it up).
    Unsettled,
}

/// A bulk item's result as the job reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemResult {
    Created(String),
    Updated(String),
    Error { message: String, duplicate: bool },
}

fn fail(
    ledger: &Ledger,
    kind: &str,
    id: &str,
    err: &KustomerError,
) -> Result<Outcome, LedgerError> {
    let (request, response) = err.exchange();
    ledger.mark_failed(kind, id, err.class(), &err.to_string(), &request, &response)?;
    Ok(Outcome::Failed)
}

fn is_ambiguous(err: &KustomerError) -> bool {
    matches!(
        err,
        KustomerError::Api(ApiError::Ambiguous { .. }) | KustomerError::JobTimeout { .. }
    )
}

/// Creates one record through `send` (which returns the new Kustomer id), resolving lost answers
/// and duplicates through `lookup` (which finds the record by externalId, `None` when absent).
pub async fn create_one<S, SF, L, LF>(
    ledger: &Ledger,
    item: &WorkItem,
    send: S,
    lookup: L,
) -> Result<Outcome, LedgerError>
where
    S: Fn() -> SF,
    SF: Future<Output = Result<String, KustomerError>>,
    L: Fn() -> LF,
    LF: Future<Output = Result<Option<String>, KustomerError>>,
{
    let (kind, id) = (item.kind.as_str(), item.source_id.as_str());
    if let (RecordState::Done, false, Some(target)) =
        (item.state, item.source_changed, &item.target_id)
    {
        return Ok(Outcome::Done(target.clone()));
    }
    if item.state == RecordState::Sent {
        match lookup().await {
            Ok(Some(target)) => {
                ledger.mark_done(kind, id, &target)?;
                return Ok(Outcome::Done(target));
            }
            Ok(None) => {}
            Err(e) => return fail(ledger, kind, id, &e),
        }
    }
    let mut resends = 0;
    loop {
        ledger.mark_sent(kind, vec![id.to_string()], None).await?;
        match send().await {
            Ok(target) => {
                ledger.mark_done(kind, id, &target)?;
                return Ok(Outcome::Done(target));
            }
            Err(e) if is_ambiguous(&e) || e.is_duplicate() => match lookup().await {
                Ok(Some(target)) => {
                    ledger.mark_done(kind, id, &target)?;
                    return Ok(Outcome::Done(target));
                }
                Ok(None) if resends < MAX_RESENDS && !e.is_duplicate() => resends += 1,
                Ok(None) => return fail(ledger, kind, id, &e),
                Err(lookup_err) => return fail(ledger, kind, id, &lookup_err),
            },
            Err(e) => return fail(ledger, kind, id, &e),
        }
    }
}

/// A fresh batch id (also the prefix of each item's `_clientRef`).
pub fn new_batch_id() -> String {
    Rng::from_entropy().hex(8)
}

pub fn client_ref(batch_id: &str, source_id: &str) -> String {
    let r = format!("{batch_id}:{source_id}");
    if r.len() <= 255 {
        r
    } else {
        r[..255].to_string()
    }
}

/// Sends one bulk batch of `items` (source id, body) through `submit` (returns the job id) and
/// `wait` (polls the job, returns results by `_clientRef`), resolving duplicates through `lookup`.
/// Records the job id and the job's latency in the ledger.
pub async fn create_bulk<Sub, SubF, W, WF, L, LF>(
    ledger: &Ledger,
    kind: &str,
    items: Vec<(String, Value)>,
    submit: Sub,
    wait: W,
    lookup: L,
) -> Result<HashMap<String, Outcome>, LedgerError>
where
    Sub: FnOnce(Vec<(String, Value)>) -> SubF,
    SubF: Future<Output = Result<String, KustomerError>>,
    W: FnOnce(String) -> WF,
    WF: Future<Output = Result<HashMap<String, ItemResult>, KustomerError>>,
    L: Fn(String) -> LF,
    LF: Future<Output = Result<Option<String>, KustomerError>>,
{
    let mut outcomes = HashMap::new();
    if items.is_empty() {
        return Ok(outcomes);
    }
    let batch = new_batch_id();
    let ids: Vec<String> = items.iter().map(|(id, _)| id.clone()).collect();
    ledger.mark_sent(kind, ids.clone(), Some(&batch)).await?;
    let refs: Vec<(String, Value)> = items
        .into_iter()
        .map(|(id, mut body)| {
            if let Value::Object(map) = &mut body {
                map.insert("_clientRef".into(), Value::String(client_ref(&batch, &id)));
            }
            (client_ref(&batch, &id), body)
        })
        .collect();
    let started = std::time::Instant::now();
    let job = match submit(refs).await {
        Ok(job) => job,
        Err(e) if is_ambiguous(&e) => {
            // The batch may be running: recovery looks its items up after the bulk patience.
            for id in ids {
                outcomes.insert(id, Outcome::Unsettled);
            }
            return Ok(outcomes);
        }
        Err(e) => {
            for id in ids {
                let o = fail(ledger, kind, &id, &e)?;
                outcomes.insert(id, o);
            }
            return Ok(outcomes);
        }
    };
    ledger.record_job(&batch, &job)?;
    let results = match wait(job).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("bulk job of batch {batch} could not be read: {e}");
            for id in ids {
                outcomes.insert(id, Outcome::Unsettled);
            }
            return Ok(outcomes);
        }
    };
    ledger.record_bulk_latency(started.elapsed())?;
    for id in ids {
        let outcome = match results.get(&client_ref(&batch, &id)) {
            Some(ItemResult::Created(t) | ItemResult::Updated(t)) => {
                ledger.mark_done(kind, &id, t)?;
                Outcome::Done(t.clone())
            }
            Some(ItemResult::Error { message, duplicate }) => {
                if *duplicate {
                    match lookup(id.clone()).await {
                        Ok(Some(t)) => {
                            ledger.mark_done(kind, &id, &t)?;
                            Outcome::Done(t)
                        }
                        Ok(None) => {
                            ledger.mark_failed(kind, &id, ErrorClass::Rejected, message, "", "")?;
                            Outcome::Failed
                        }
                        Err(e) => fail(ledger, kind, &id, &e)?,
                    }
                } else {
                    ledger.mark_failed(kind, &id, ErrorClass::Rejected, message, "", "")?;
                    Outcome::Failed
                }
            }
            None => Outcome::Unsettled,
        };
        outcomes.insert(id, outcome);
    }
    Ok(outcomes)
}

/// Settles `sent` items of `kind` left by a lost answer or a crash: a known job is read again;
/// an item without a job is looked up once the bulk patience has passed since it was sent
/// (found → done, absent → back to pending so the load sends it again).
pub async fn recover_sent<W, WF, L, LF>(
    ledger: &Ledger,
    kind: &str,
    wait: W,
    lookup: L,
) -> Result<u64, LedgerError>
where
    W: Fn(String) -> WF,
    WF: Future<Output = Result<HashMap<String, ItemResult>, KustomerError>>,
    L: Fn(String) -> LF,
    LF: Future<Output = Result<Option<String>, KustomerError>>,
{
    let mut settled = 0;
    let mut after: Option<String> = None;
    let mut jobs: HashMap<String, HashMap<String, ItemResult>> = HashMap::new();
    loop {
        let page = ledger.next_batch(kind, &[RecordState::Sent], after.as_deref(), 500)?;
        let Some(last) = page.last() else { break };
        after = Some(last.source_id.clone());
        for item in page {
            if let (Some(job), Some(batch)) = (&item.job_id, &item.batch_id) {
                if !jobs.contains_key(job) {
                    let results = wait(job.clone()).await.unwrap_or_default();
                    jobs.insert(job.clone(), results);
                }
                if let Some(result) = jobs
                    .get(job)
                    .and_then(|r| r.get(&client_ref(batch, &item.source_id)))
                {
                    match result {
                        ItemResult::Created(t) | ItemResult::Updated(t) => {
                            ledger.mark_done(kind, &item.source_id, t)?
                        }
                        ItemResult::Error {
                            message,
                            duplicate: false,
                        } => ledger.mark_failed(
                            kind,
                            &item.source_id,
                            ErrorClass::Rejected,
                            message,
                            "",
                            "",
                        )?,
                        ItemResult::Error {
                            duplicate: true, ..
                        } => {
                            settle_by_lookup(ledger, &item, &lookup).await?;
                        }
                    }
                    settled += 1;
                    continue;
                }
            }
            let patience = ledger.bulk_patience();
            let age = item
                .sent_ms
                .map(|ms| crate::timefmt::now_unix() * 1000 - ms)
                .map(|ms| Duration::from_millis(ms.max(0) as u64))
                .unwrap_or(patience);
            if age < patience {
                tokio::time::sleep(patience - age).await;
            }
            settle_by_lookup(ledger, &item, &lookup).await?;
            settled += 1;
        }
    }
    Ok(settled)
}

async fn settle_by_lookup<L, LF>(
    ledger: &Ledger,
    item: &WorkItem,
    lookup: &L,
) -> Result<(), LedgerError>
where
    L: Fn(String) -> LF,
    LF: Future<Output = Result<Option<String>, KustomerError>>,
{
    match lookup(item.source_id.clone()).await {
        Ok(Some(t)) => ledger.mark_done(&item.kind, &item.source_id, &t),
        Ok(None) => ledger.reset_to_pending(vec![(item.kind.clone(), item.source_id.clone())]),
        Err(e) => fail(ledger, &item.kind, &item.source_id, &e).map(drop),
    }
}
