//! The roles i2k's Kustomer API key needs, per feature, and what is lost without each: one table
//! that `i2k doctor`, the run's start check, the Prerequisites screen and the README read.
//!
//! Sources: Kustomer's "API keys and roles" and quickstart pages (developer.kustomer.com/docs/
//! get-started/api-keys-and-roles, …/quickstart: roles are chosen when the key is created and
//! cannot be edited), and the operation tables of Kustomer's published OpenAPI export
//! (`/work/shared/api/kustomer.md` §1: each operation lists roles and a key needs **any one**;
//! legacy `org.user.*` / `org.admin.*` roles still work). `org.admin` for historic
//! `createdAt`/`createdBy` on messages and notes: "otherwise these attributes are automatically
//! set by the token" (CreateMessageByCustomer). UNCONFIRMED: a legacy alternative for notes and
//! for shortcuts; whether `org.admin` alone implies the `org.permission.*` roles (i2k does not
//! assume so).

/// The role that lets a key set historic times and authors on messages and notes.
pub const ORG_ADMIN: &str = "org.admin";

/// What a key without `org.admin` costs, in the operator's terms.
pub const RESTAMP_COST: &str = "original times and authors of messages and notes are lost: \
     Kustomer silently stamps each with the time of loading and the key's own user";

/// One need of i2k's key: the feature, the roles that grant it (any one; the first is the one to
/// pick), and what is lost without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleNeed {
    pub feature: &'static str,
    pub roles: &'static [&'static str],
    pub lost_without: &'static str,
}

/// A row of [`ROLE_NEEDS`].
const fn need(
    feature: &'static str,
    roles: &'static [&'static str],
    lost_without: &'static str,
) -> RoleNeed {
    RoleNeed {
        feature,
        roles,
        lost_without,
    }
}

impl RoleNeed {
    /// The role to ask for when creating a key.
    pub fn role(&self) -> &'static str {
        self.roles[0]
    }

    /// Whether a key holding `held` has this need covered.
    pub fn met_by(&self, held: &[String]) -> bool {
        self.roles.iter().any(|r| held.iter().any(|h| h == r))
    }

    /// "org.admin (message and note times and authors): original times … lost".
    pub fn describe(&self) -> String {
        let alternatives = if self.roles.len() > 1 {
            format!(" (or {})", self.roles[1..].join(", "))
        } else {
            String::new()
        };
        format!(
            "missing {}{alternatives} for {}: {}",
            self.role(),
            self.feature,
            self.lost_without
        )
    }
}

/// Every role i2k's key needs, per feature.
pub const ROLE_NEEDS: &[RoleNeed] = &[
    need(
        "message and note times and authors",
        &[ORG_ADMIN],
        RESTAMP_COST,
    ),
    need(
        "customers",
        &["org.permission.customer.create", "org.user.customer.write"],
        "no customer is created, so neither are their conversations, messages and events",
    ),
    need(
        "companies",
        &["org.permission.company.create", "org.user.company.write"],
        "no company is created; customers lose their company link",
    ),
    need(
        "conversations",
        &[
            "org.permission.conversation.create",
            "org.user.conversation.write",
        ],
        "no conversation is created, so neither are their messages and notes",
    ),
    need(
        "messages",
        &["org.permission.message.create", "org.user.message.write"],
        "conversations are created empty: no message is carried",
    ),
    need(
        "notes",
        &["org.permission.note.create"],
        "internal notes and the timeline notes of conversations are not carried",
    ),
    need(
        "tickets, contact and company notes, events as kobjects",
        &["org.permission.kobject.create", "org.user.kobject.write"],
        "tickets and the other records carried as kobjects are not created",
    ),
    need(
        "klasses (ticket types)",
        &["org.permission.klass.create", "org.admin.klass.write"],
        "the klasses kobjects need are not created, so neither are their kobjects",
    ),
    need(
        "custom attributes",
        &["org.permission.metadata.update", "org.admin.metadata.write"],
        "custom attributes are not defined, so their values are refused",
    ),
    need(
        "bulk loading",
        &["org.permission.bulk.read", "org.user.bulk.read"],
        "bulk jobs cannot be followed, so bulk-loaded records stay unconfirmed",
    ),
    need(
        "saved searches (segments)",
        &["org.permission.search.create", "org.user.search.read"],
        "Intercom segments in use are not recreated as saved searches",
    ),
    need(
        "knowledge base",
        &["org.permission.kb.create", "org.admin.kb.write"],
        "help-center collections and articles are not carried",
    ),
    need(
        "shortcuts (macros)",
        &["org.admin.shortcut.write"],
        "Intercom macros are not recreated as shortcuts",
    ),
    need(
        "tracking events",
        &["org.tracking"],
        "Intercom data events are not carried as tracking events (carry them as kobjects instead: --events-as kobjects)",
    ),
    need(
        "inviting Intercom admins as users",
        &["org.admin.user"],
        "admins with no Kustomer user cannot be invited; map them to existing users or the fallback user",
    ),
];

/// The needs a key holding `held` does not cover, in the table's order.
pub fn missing(held: &[String]) -> Vec<&'static RoleNeed> {
    ROLE_NEEDS.iter().filter(|n| !n.met_by(held)).collect()
}

/// Whether the key may set historic message and note times and authors.
pub fn keeps_times(held: &[String]) -> bool {
    held.iter().any(|r| r == ORG_ADMIN)
}

/// The README's table of roles, from [`ROLE_NEEDS`] (a test keeps the README in step).
pub fn markdown_table() -> String {
    let mut md = String::from("| feature | role (any one) | without it |\n|---|---|---|\n");
    for need in ROLE_NEEDS {
        let roles: Vec<String> = need.roles.iter().map(|r| format!("`{r}`")).collect();
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            need.feature,
            roles.join(" or "),
            need.lost_without
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_without_org_admin_misses_times_and_authors_first() {
        let held = vec!["org.user".to_string(), "org.tracking".to_string()];
        let missing = missing(&held);
        assert_eq!(missing[0].role(), ORG_ADMIN);
        assert!(missing[0].describe().contains("times and authors"));
        assert!(!keeps_times(&held));
    }

    #[test]
    fn a_legacy_role_covers_its_need() {
        let held = vec!["org.user.customer.write".to_string()];
        assert!(!missing(&held).iter().any(|n| n.feature == "customers"));
    }
}
