//! Kustomer's published delete routes (`api/kustomer.md` §2–3; its generated client's
//! `DeleteCustomer`, `BulkDeleteCustomers`, `DeleteConversation`, `DeleteKObject`,
//! `BulkDeleteKObjects`, `DeleteKlass`, `DeleteNoteById`, `DeleteScheduleById`), and the reads a
//! rollback makes before deleting (a record is deleted only once its own `externalId` says it is
//! the ledger's). A delete of a record that is already gone (404) is success: the record is gone.

use std::collections::HashSet;

use serde_json::Value;

use crate::http::Request;
use crate::kustomer::bulk::{BulkResource, MAX_BULK_ITEMS, PollPolicy, batches_of, job_id_of};
use crate::kustomer::client::{KustomerClient, KustomerError, MAX_PAGES, Result};
use crate::kustomer::endpoints;
use crate::kustomer::models::{Page, Resource};

/// A record that can be deleted on its own, by its Kustomer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletable {
    Customer,
    Conversation,
    /// A kobject of the klass of this name.
    KObject(String),
    /// A klass (refused while it has kobjects).
    Klass,
    Note,
    /// Kustomer deletes schedules softly (`deleted: true`).
    Schedule,
}

impl Deletable {
    fn path(&self, id: &str) -> String {
        match self {
            Deletable::Customer => endpoints::customer(id),
            Deletable::Conversation => endpoints::conversation(id),
            Deletable::KObject(klass) => endpoints::kobject(klass, id),
            Deletable::Klass => endpoints::klass(id),
            Deletable::Note => endpoints::note(id),
            Deletable::Schedule => endpoints::schedule(id),
        }
    }
}

impl KustomerClient {
    /// The record by its Kustomer id; `None` when it is gone (404). Klasses are read from their
    /// listing (their id path lists a klass's kobjects by name).
    pub async fn fetch(&self, what: &Deletable, id: &str) -> Result<Option<Resource>> {
        if *what == Deletable::Klass {
            let klasses = self.list_all(endpoints::KLASSES, &[], 100).await?;
            return Ok(klasses.into_iter().find(|k| k.id == id));
        }
        match self.send(Request::get(what.path(id))).await {
            Ok(reply) => Ok(Resource::from_body(&reply.body)),
            Err(KustomerError::Api(e)) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes one record; one that is already gone counts as deleted.
    pub async fn delete_one(&self, what: &Deletable, id: &str) -> Result<()> {
        match self.send(Request::delete(what.path(id))).await {
            Ok(_) => Ok(()),
            Err(KustomerError::Api(e)) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Submits a bulk delete (`DELETE …/bulk?ids=`, customers or one klass's kobjects) of up to
    /// 100 records, waits for its job, and returns the ids the job reports deleted. An id the
    /// job does not report is not counted: the caller reads it again before trusting it gone.
    pub async fn bulk_delete(
        &self,
        resource: &BulkResource,
        ids: &[String],
        poll: &PollPolicy,
    ) -> Result<HashSet<String>> {
        if ids.is_empty() || ids.len() > MAX_BULK_ITEMS {
            return Err(KustomerError::BulkSize(ids.len()));
        }
        let req = Request::delete(resource.path()).query("ids", ids.join(","));
        let reply = self.send(req).await?;
        let job = job_id_of(&reply)?;
        self.wait_job(&job, poll).await?;
        let asked: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut deleted = HashSet::new();
        for page_no in 1..=MAX_PAGES {
            let req = Request::get(endpoints::bulk_job_batches(&job)).query("page", page_no);
            let reply = self.send(req).await?;
            deleted.extend(deleted_in(&reply.body).filter(|id| asked.contains(id.as_str())));
            let page = Page::from_body(&reply.body);
            if page.next.is_none() || page.items.is_empty() {
                break;
            }
        }
        Ok(deleted)
    }
}

/// The object ids a page of a delete job's batches reports deleted (any status but `error`).
fn deleted_in(body: &Value) -> impl Iterator<Item = String> + '_ {
    batches_of(body)
        .into_iter()
        .filter_map(|batch| {
            batch
                .get("attributes")
                .and_then(|a| a.get("results"))
                .or_else(|| batch.get("results"))
                .and_then(Value::as_array)
        })
        .flatten()
        .filter(|r| r.get("status").and_then(Value::as_str) != Some("error"))
        .filter_map(|r| {
            r.get("objectId")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_delete_job_reports_the_ids_it_deleted_and_not_those_it_refused() {
        let body = json!({"data": [{"attributes": {"results": [
            {"objectId": "a", "status": "deleted"},
            {"objectId": "b", "status": "error", "error": "not found"},
        ]}}]});
        assert_eq!(deleted_in(&body).collect::<Vec<_>>(), ["a"]);
    }
}
