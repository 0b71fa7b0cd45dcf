//! Admin activity logs (`GET /admins/activity_logs`, API 2.16): Intercom's audit trail of what
//! admins did. Kustomer has no audit log a migration can write to, so each log goes to the
//! archive whole; this says why, in the words the archive line carries.

use serde_json::Value;

use crate::mapping::raw::first_text;

/// The archive reason of one activity log: what it records, by whom, so a person reading
/// `archive/activity_logs.jsonl` sees the event without opening the record.
pub fn archive_reason(raw: &Value) -> String {
    let activity = first_text(raw, &["/activity_type"]).unwrap_or("unknown activity");
    let by =
        first_text(raw, &["/performed_by/email", "/performed_by/id"]).unwrap_or("an unknown admin");
    format!("admin activity log ({activity} by {by}): Kustomer has no audit log to import into")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_reason_names_the_activity_and_its_admin() {
        let raw = json!({
            "id": "fca05814",
            "performed_by": {"type": "admin", "id": "991267464", "email": "admin5@email.com"},
            "activity_type": "app_name_change",
            "created_at": 1734537253,
        });
        let reason = archive_reason(&raw);
        assert!(
            reason.contains("app_name_change by admin5@email.com"),
            "{reason}"
        );
        assert!(archive_reason(&json!({})).contains("unknown activity by an unknown admin"));
    }
}
