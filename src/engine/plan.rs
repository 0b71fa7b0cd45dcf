//! The scope of a migration: every object type with its count in Intercom, its bucket (migrate by
//! API, rebuild by hand, archive), what Intercom's API cannot return (parts beyond 500, events
//! older than 90 days), and an estimate of the Kustomer load time at the plan's budget, counting
//! bulk batching (100 records per request where a bulk route exists).
//!
//! Buckets (the defaults; the operator may change them in the console):
//! - everything with a Kustomer API route migrates — segments become saved searches;
//! - segments nobody is in (count 0) are archived, reported in the segments row's note;
//! - help-center themes and workflows have no API on either side: they are manual items, listed
//!   beside the types (they are not object types of the ground truth).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::kinds::{OBJECT_TYPES, Write, row_named};
use crate::engine::model::{Bucket, ScopeItem};
use crate::ledger::{LedgerError, LedgerReader, for_each_page};
use crate::vocab::Kind;

/// Records per Kustomer bulk request.
pub const BULK_BATCH: u64 = 100;

/// What extraction counted for one type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCount {
    /// What exists in Intercom, including what its API cannot return.
    pub count: u64,
    /// The part of `count` the API cannot return.
    pub not_retrievable: u64,
    /// Records of this type whose payload could not be fully read (kept raw, listed).
    pub problems: u64,
    /// Stored records of this type the ledger cannot read back (their raw JSON is damaged):
    /// the load fails each with its reason instead of loading an empty record.
    #[serde(default)]
    pub unreadable: u64,
}

/// The plan as `i2k plan --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub types: Vec<PlanRow>,
    /// Kustomer requests the load is expected to take.
    pub kustomer_requests: u64,
    pub kustomer_rate_per_minute: u32,
    pub rate_share: f64,
    pub estimate_seconds: u64,
    /// Things to rebuild by hand, with what was found.
    pub manual: Vec<String>,
    /// Listings extraction has not read to their end (interrupted, or failed): the counts of
    /// their types are partial. Set from the ledger ([`unfinished_listings`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfinished: Vec<UnfinishedListing>,
    /// The disk the migration needs in the state directory (set by `plan` from the ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<crate::engine::disk::DiskEstimate>,
}

/// One type's row: `{"type", "count", "bucket", "not_retrievable", "problems", "unreadable",
/// "kustomer_requests", "note"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    #[serde(rename = "type")]
    pub object: String,
    pub count: u64,
    pub bucket: Bucket,
    pub not_retrievable: u64,
    pub problems: u64,
    /// Stored records the ledger cannot read back: they will not load (each fails with its
    /// reason, shown on the Errors screen).
    #[serde(default)]
    pub unreadable: u64,
    pub kustomer_requests: u64,
    pub note: String,
}

impl PlanRow {
    pub fn scope_item(&self) -> ScopeItem {
        ScopeItem {
            object: self.object.clone(),
            count: self.count,
            bucket: self.bucket,
            not_retrievable: self.not_retrievable,
            note: self.note.clone(),
        }
    }
}

/// Where a type goes by default: the catalog's archived kinds to the archive; every other type of
/// the ground truth has a Kustomer route (possibly an assumed one, named in
/// `kustomer::assumptions`); the manual items are not object types.
pub fn default_bucket(object: &str) -> Bucket {
    match row_named(object) {
        Some(row) if matches!(row.write, Write::Archived { .. }) => Bucket::Archive,
        Some(row) if row.object => Bucket::Migrate,
        _ => Bucket::Archive,
    }
}

/// Kustomer requests needed to load `migrated` records of `object`.
pub fn kustomer_requests(object: &str, migrated: u64) -> u64 {
    let batches = migrated.div_ceil(BULK_BATCH);
    let Some(row) = row_named(object) else {
        return migrated;
    };
    match row.kind {
        // Bulk create, then a bulk PUT of final states (closed, snoozed, assignment).
        Kind::Conversations => batches * 2,
        // Bulk create routes: one request per 100.
        _ if matches!(row.write, Write::Bulk(_)) => batches,
        // Metadata: one PUT per model.
        Kind::DataAttributes => migrated.min(2),
        Kind::ConversationAttributes => migrated.min(1),
        // An attachment is created, then uploaded to storage (outside the API budget).
        Kind::Attachments => migrated,
        // Admins are matched against one listing of users, plus invitations where chosen.
        Kind::Admins => batches,
        // One request each: tracking events, KB records, teams, tags, saved searches, shortcuts,
        // brands, schedules, klasses.
        _ => migrated,
    }
}

/// Builds the plan from the counts per type (missing types count 0).
pub fn build_plan(
    counts: &BTreeMap<String, TypeCount>,
    unused_segments: u64,
    kustomer_rate_per_minute: u32,
    rate_share: f64,
) -> Plan {
    let mut rows = Vec::new();
    let mut total_requests = 0;
    for object in OBJECT_TYPES {
        let c = counts.get(object).cloned().unwrap_or_default();
        let bucket = default_bucket(object);
        let retrievable = c.count.saturating_sub(c.not_retrievable);
        let mut migrated = if bucket == Bucket::Migrate {
            // A record the ledger cannot read back fails before it is sent.
            retrievable.saturating_sub(c.unreadable)
        } else {
            0
        };
        let mut note = String::new();
        match row_named(object).map(|r| r.kind) {
            Some(Kind::Segments) if unused_segments > 0 => {
                migrated = migrated.saturating_sub(unused_segments);
                note = format!("{unused_segments} unused (no members) archived");
            }
            Some(Kind::ConversationParts) if c.not_retrievable > 0 => {
                note = format!(
                    "{} older parts beyond the API's 500-part limit cannot be carried",
                    c.not_retrievable
                );
            }
            Some(Kind::DataEvents) if c.not_retrievable > 0 => {
                note = format!(
                    "{} events older than 90 days: only their summaries are archived",
                    c.not_retrievable
                );
            }
            Some(Kind::Attachments) if c.not_retrievable > 0 => {
                note = format!("{} on parts the API cannot return", c.not_retrievable);
            }
            _ => {}
        }
        if c.problems > 0 {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(&format!("{} could not be fully read", c.problems));
        }
        if c.unreadable > 0 {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(&format!(
                "{} cannot be read from the ledger (stored record damaged): will fail, not load",
                c.unreadable
            ));
        }
        let requests = kustomer_requests(object, migrated);
        total_requests += requests;
        rows.push(PlanRow {
            object: object.to_string(),
            count: c.count,
            bucket,
            not_retrievable: c.not_retrievable,
            problems: c.problems,
            unreadable: c.unreadable,
            kustomer_requests: requests,
            note,
        });
    }
    let share = if rate_share.is_finite() {
        rate_share.clamp(0.01, 1.0)
    } else {
        crate::kustomer::client::DEFAULT_RATE_SHARE
    };
    let per_minute = (f64::from(kustomer_rate_per_minute.max(1)) * share).max(1.0);
    let estimate_seconds = (total_requests as f64 / per_minute * 60.0).ceil() as u64;
    Plan {
        types: rows,
        kustomer_requests: total_requests,
        kustomer_rate_per_minute,
        rate_share: share,
        estimate_seconds,
        manual: vec![
            "Help-center themes and branding (no API): rebuild in Kustomer's KB settings".into(),
            "Workflows and series: export with --workflow-ids, rebuild as Kustomer workflows"
                .into(),
            "SLAs and office-hours exceptions that Kustomer schedules cannot express".into(),
        ],
        unfinished: Vec::new(),
        disk: None,
    }
}

/// Counts per type from what extraction staged: records in the ledger plus what the API cannot
/// return (recorded per conversation and per contact), the stored records the ledger cannot read
/// back, and the segments nobody is in.
/// A listing extraction has not read to its end, and the types whose counts it leaves partial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnfinishedListing {
    pub listing: String,
    pub types: Vec<String>,
    /// Records read so far, and the listing's total where Intercom said it.
    pub fetched: u64,
    pub total: Option<u64>,
}

impl UnfinishedListing {
    /// How far it was read: `6 of 40 read`, or `6 read so far` where Intercom gave no total.
    pub fn read_text(&self) -> String {
        match self.total {
            Some(total) => format!("{} of {total} read", self.fetched),
            None => format!("{} read so far", self.fetched),
        }
    }
}

/// The resumable listings not read to their end: never started, interrupted, or failed
/// (a failure leaves its cursor open; the next extraction resumes it).
pub fn unfinished_listings(reader: &LedgerReader) -> Result<Vec<UnfinishedListing>, LedgerError> {
    let mut unfinished = Vec::new();
    for (listing, types) in crate::engine::extract::listing_key::RESUMABLE {
        let cursor = reader.cursor(listing)?;
        if cursor.as_ref().is_some_and(|c| c.complete) {
            continue;
        }
        unfinished.push(UnfinishedListing {
            listing: listing.to_string(),
            types: types.iter().map(|t| t.to_string()).collect(),
            fetched: cursor.as_ref().map_or(0, |c| c.fetched),
            total: cursor.and_then(|c| c.total),
        });
    }
    Ok(unfinished)
}

/// The operator's line for unfinished listings: what is partial and how to finish it.
pub fn describe_unfinished(unfinished: &[UnfinishedListing]) -> Option<String> {
    if unfinished.is_empty() {
        return None;
    }
    let each: Vec<String> = unfinished
        .iter()
        .map(|u| format!("{} ({})", u.types.join(", "), u.read_text()))
        .collect();
    Some(format!(
        "extraction is unfinished: {} — these counts and the estimate are partial; \
         `i2k extract` or a run reads the rest",
        each.join("; ")
    ))
}

pub fn counts_from_ledger(
    reader: &LedgerReader,
) -> Result<(BTreeMap<String, TypeCount>, u64), LedgerError> {
    let staged = reader.source_counts()?;
    let hidden = reader.not_retrievable()?;
    let unreadable = reader.unreadable_counts(
        OBJECT_TYPES
            .iter()
            .copied()
            .filter(|o| staged.contains_key(*o)),
    )?;
    let mut counts: BTreeMap<String, TypeCount> = BTreeMap::new();
    for object in OBJECT_TYPES {
        let not_retrievable = hidden.get(object).copied().unwrap_or(0);
        counts.insert(
            object.to_string(),
            TypeCount {
                count: staged.get(object).copied().unwrap_or(0) + not_retrievable,
                not_retrievable,
                problems: 0,
                unreadable: unreadable.get(object).copied().unwrap_or(0),
            },
        );
    }
    for_each_page(
        |offset| reader.source_problems(offset, 500),
        |page| {
            for record in page {
                if let Some(c) = counts.get_mut(&record.kind) {
                    c.problems += 1;
                }
            }
        },
    )?;
    let mut unused_segments = 0;
    let mut after: Option<String> = None;
    loop {
        let page = reader.sources_page(Kind::Segments.as_str(), after.as_deref(), 500)?;
        let Some(last) = page.last() else { break };
        after = Some(last.source_id.clone());
        for record in &page {
            let raw: serde_json::Value = serde_json::from_str(&record.raw).unwrap_or_default();
            if raw.get("count").and_then(serde_json::Value::as_u64) == Some(0) {
                unused_segments += 1;
            }
        }
    }
    Ok((counts, unused_segments))
}

/// `3725` → `1 h 2 min 5 s`.
pub fn human_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts of one type, all of it readable.
    fn counts_of(object: &str, count: u64) -> BTreeMap<String, TypeCount> {
        BTreeMap::from([(
            object.to_string(),
            TypeCount {
                count,
                ..Default::default()
            },
        )])
    }

    #[test]
    fn bulk_types_cost_one_request_per_hundred_and_uncarried_records_cost_nothing() {
        let mut counts = counts_of("contacts", 250);
        counts.insert(
            "conversation_parts".to_string(),
            TypeCount {
                count: 720,
                not_retrievable: 20,
                ..Default::default()
            },
        );
        let plan = build_plan(&counts, 0, 1000, 1.0);
        let row = |t: &str| plan.types.iter().find(|r| r.object == t).unwrap().clone();
        assert_eq!(row("contacts").kustomer_requests, 3);
        assert_eq!(row("conversation_parts").kustomer_requests, 7);
        assert_eq!(row("conversation_parts").count, 720);
        assert!(row("conversation_parts").note.contains("500-part"));
        assert_eq!(plan.kustomer_requests, 10);
        // 10 requests at 1,000 per minute: under a second, rounded up.
        assert_eq!(plan.estimate_seconds, 1);
        assert_eq!(plan.types.len(), OBJECT_TYPES.len());
    }

    #[test]
    fn unreadable_records_are_counted_apart_and_cost_no_requests() {
        let mut counts = counts_of("tickets", 250);
        if let Some(c) = counts.get_mut("tickets") {
            c.unreadable = 50;
        }
        let plan = build_plan(&counts, 0, 1000, 1.0);
        let row = plan.types.iter().find(|r| r.object == "tickets").unwrap();
        assert_eq!(row.count, 250);
        assert_eq!(row.unreadable, 50);
        assert_eq!(row.kustomer_requests, kustomer_requests("tickets", 200));
        assert!(
            row.note.contains("50 cannot be read from the ledger"),
            "{}",
            row.note
        );
        let clean = build_plan(&counts_of("tickets", 250), 0, 1000, 1.0);
        let clean = clean.types.iter().find(|r| r.object == "tickets").unwrap();
        assert_eq!(clean.unreadable, 0);
        assert!(!clean.note.contains("cannot be read"), "{}", clean.note);
    }

    #[test]
    fn the_estimate_scales_with_the_share_of_the_budget() {
        let counts = counts_of("data_events", 1000);
        let full = build_plan(&counts, 0, 1000, 1.0).estimate_seconds;
        let half = build_plan(&counts, 0, 1000, 0.5).estimate_seconds;
        assert_eq!(full, 60);
        assert_eq!(half, 120);
        assert_eq!(human_duration(3725), "1 h 2 min");
    }
}
