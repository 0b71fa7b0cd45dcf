//! The kind catalog: one row per record kind the ledger holds, saying which phase loads it, what
//! Intercom source it comes from, how it is written to Kustomer, how a write whose answer was
//! lost is found again, how verify counts it, and how it could be updated in place or deleted
//! (rollback and delta read those two). The phase table, verify, the report, the plan and
//! recovery read this table instead of spelling kinds themselves; adding an object type is a row
//! here and a mapping function.
//!
//! Routes are named in `kustomer::endpoints` (and `intercom::endpoints`); update and delete say
//! which of Kustomer's published routes exist (`api/kustomer.md` §2–3), not what i2k calls today.
//! The delete column follows Kustomer's generated client (`DeleteCustomer`, `BulkDeleteCustomers`,
//! `DeleteConversation`, `DeleteKObject`, `BulkDeleteKObjects`, `DeleteKlass`, `DeleteNoteById`,
//! `DeleteScheduleById`): routes the developer docs mention without a published operation
//! (teams, shortcuts, KB language versions) count as none; KB articles keep the documented soft
//! delete by `PUT deleted: true`.

use serde_json::Value;

use crate::intercom::endpoints as intercom;
use crate::kustomer::bulk::BulkResource;
use crate::kustomer::endpoints;
use crate::mapping::activity_logs;
use crate::mapping::conversations::{PartRole, part_role_of};
use crate::mapping::extras::ticket_links;
use crate::mapping::people::{EVENT_KLASS, NOTE_KLASS, ticket_klass_name};
use crate::vocab::{Kind, PhaseId};

use CountRoute::*;
use Delete::*;
use Found::*;
use PhaseId as P;
use Source::{Invented, Route, Within};
use Update::*;
use Write::*;

/// Where a kind's records come from in Intercom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Read from this Intercom route (a listing, or a record's detail).
    Route(&'static str),
    /// Read alongside another kind's records (parts of a conversation, notes of a contact…).
    Within(Kind),
    /// No Intercom record of its own: the engine invents it beside a source kind (a
    /// conversation's final state, a segment's membership tag), or lists it from Kustomer.
    Invented,
}

/// Where a bulk kind's batches go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkTo {
    Customers,
    Companies,
    Conversations,
    Messages,
    Notes,
    /// A conversation part by its role: a comment is a message, anything else a note.
    MessageOrNote,
    /// KObjects of this klass.
    KObjects(&'static str),
    /// KObjects of the klass made for the ticket's type (its stored record names the type).
    TicketKlass,
}

impl BulkTo {
    /// The bulk resource one record goes to (`raw`: its stored source record, read only by the
    /// routes that depend on it); `None` when the record does not say (a ticket without a type).
    pub fn resource(self, raw: Option<&str>) -> Option<BulkResource> {
        Some(match self {
            BulkTo::Customers => BulkResource::Customers,
            BulkTo::Companies => BulkResource::Companies,
            BulkTo::Conversations => BulkResource::Conversations,
            BulkTo::Messages => BulkResource::Messages,
            BulkTo::Notes => BulkResource::Notes,
            BulkTo::MessageOrNote => {
                return self.by_role(raw.map_or(PartRole::Timeline, part_role_of));
            }
            BulkTo::KObjects(klass) => BulkResource::KObjects(klass.to_string()),
            BulkTo::TicketKlass => {
                let (ticket_type, _) = ticket_links(raw?).ok()?;
                BulkResource::KObjects(ticket_klass_name(&ticket_type))
            }
        })
    }

    /// The bulk resource of a conversation part of `role` (any other route as it is).
    pub fn by_role(self, role: PartRole) -> Option<BulkResource> {
        match (self, role) {
            (BulkTo::MessageOrNote, PartRole::Message) => Some(BulkResource::Messages),
            (BulkTo::MessageOrNote, _) => Some(BulkResource::Notes),
            (to, _) => to.resource(None),
        }
    }
}

/// Intercom data events loaded as kobjects (`--events-as kobjects`) instead of the catalog's
/// tracking events: bulk creates into this klass.
pub const EVENTS_AS_KOBJECTS: BulkTo = BulkTo::KObjects(EVENT_KLASS);

/// How a kind is written to Kustomer.
#[derive(Debug, Clone, Copy)]
pub enum Write {
    /// Bulk create jobs (100 a request) to this route, per-item `_clientRef`.
    Bulk(BulkTo),
    /// One create request per record.
    Single,
    /// Bulk updates (PUT) of records created by another kind, on this route.
    BulkUpdate(BulkTo),
    /// An idempotent PUT (metadata): a lost answer is simply repeated.
    IdempotentPut,
    /// Matched to what already exists in Kustomer (users by email), created only on request.
    Match,
    /// Fire-and-forget (tracking events): the answer carries no id and nothing lists them.
    FireAndForget,
    /// Never written to Kustomer: kept in the archive (`<state>/archive/<kind>.jsonl`). With a
    /// reason, every record of the kind is archived with it after its phase (the mapping of a
    /// kind Kustomer has no counterpart for); without one, the phase decides record by record.
    Archived {
        reason: Option<fn(&Value) -> String>,
    },
    /// Not written: a source helper the load reads while writing another kind.
    NotWritten,
}

/// How a write whose answer was lost (`sent` in the ledger) is found again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The direct externalId lookup route (never search: its index lags).
    ExternalIdRoute,
    /// A listing, matched on this field.
    ListingMatch(&'static str),
    /// Nothing to find: the write is repeated (idempotent PUTs, bulk updates).
    Repeat,
    /// The attachment the upload registered, kept in the ledger before its file went up: found
    /// when Kustomer says its file arrived, uploaded again otherwise.
    RegisteredAttachment,
    /// Not at all: the record is marked unknown and not resent unless the operator asks.
    NotFound,
}

/// How a kind could be updated in place in Kustomer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    BulkPut,
    SinglePut,
    NoUpdate,
}

/// How a kind could be deleted from Kustomer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delete {
    BulkDelete,
    SingleDelete,
    /// No DELETE route: a PUT with `deleted: true` (KB articles).
    SoftDeletePut,
    NoDelete,
}

/// How Kustomer's side of a type is counted by verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountRoute {
    /// Walk this list route; count records whose `externalId` is a source id of the type.
    ListByExternalId(&'static str),
    /// Walk the kobjects of this klass; count those whose `externalId` is a source id of the type.
    KobjectsByExternalId(&'static str),
    /// Walk this list route; count the ledger's done records whose Kustomer id it lists.
    ListByTargetId(&'static str),
    /// Read these metadata resources; count done records whose property name is declared.
    MetadataProperties(&'static [&'static str]),
    /// Walk the KB articles; count done records whose version id an article of this migration
    /// lists among its language versions.
    KbLanguageVersions,
    /// Kustomer lists no revisions: count done records whose parent (a source id of `parent`)
    /// is listed by externalId at `path`.
    ChildrenOfListed { parent: Kind, path: &'static str },
    /// Walk the messages and notes of every migrated conversation; count those whose externalId
    /// is a part of that conversation, plus event parts folded into a listed timeline note.
    ConversationTimelines,
    /// The files the messages and notes of every migrated conversation reference; count done
    /// uploads among them.
    ConversationFiles,
    /// Walk the kobjects of each loaded ticket type's klass; count those whose externalId is a
    /// ticket of this migration.
    TicketKlasses,
    /// Tracking events cannot be listed (the ledger's done count stands in); events loaded as
    /// `intercom_event` kobjects instead are counted in that klass by externalId.
    TrackingEvents,
    /// Archived, never written: Kustomer holds none of them, so it counts zero.
    NothingInKustomer,
}

/// One record kind.
#[derive(Debug, Clone, Copy)]
pub struct KindRow {
    pub kind: Kind,
    /// The phase whose progress the kind counts toward (`None`: source helpers, which count
    /// toward no phase).
    pub phase: Option<PhaseId>,
    /// An object type of the Intercom workspace, named as the simulator's ground truth names it
    /// (`i2k plan --json`, `--only`, verify and the report list these).
    pub object: bool,
    pub source: Source,
    /// The ledger kind whose target records account for this one's source records (most load
    /// one to one under their own name).
    pub target: Kind,
    pub write: Write,
    pub found: Found,
    /// The kind whose records these hang under in Kustomer (a message under its conversation):
    /// when none of the parents existed before this run, none of these can, and a fresh ledger
    /// does not look for them.
    pub parent: Option<Kind>,
    /// How verify counts it in Kustomer (object types only).
    pub count: Option<CountRoute>,
    pub update: Update,
    pub delete: Delete,
}

const fn row(kind: Kind, phase: PhaseId, source: Source, write: Write, found: Found) -> KindRow {
    KindRow {
        kind,
        phase: Some(phase),
        object: false,
        source,
        target: kind,
        write,
        found,
        parent: None,
        count: None,
        update: Update::NoUpdate,
        delete: Delete::NoDelete,
    }
}

const fn helper(kind: Kind, source: Source) -> KindRow {
    KindRow {
        phase: None,
        ..row(
            kind,
            PhaseId::Extras,
            source,
            Write::NotWritten,
            Found::Repeat,
        )
    }
}

impl KindRow {
    const fn counted(mut self, count: CountRoute) -> KindRow {
        self.object = true;
        self.count = Some(count);
        self
    }

    const fn changed(mut self, update: Update, delete: Delete) -> KindRow {
        self.update = update;
        self.delete = delete;
        self
    }

    const fn loaded_as(mut self, target: Kind) -> KindRow {
        self.target = target;
        self
    }

    const fn under(mut self, parent: Kind) -> KindRow {
        self.parent = Some(parent);
        self
    }
}

/// Every kind. The object types come first, in the order the plan, verify and the report list
/// them. One row a kind: kind, phase, source, write, found again by; then what verify counts,
/// how it could be changed, the kind it hangs under, the kind it is loaded as.
#[rustfmt::skip]
pub const CATALOG: [KindRow; 40] = [
    // Admins are mapped onto users (several may share one): their recorded user must exist.
    row(Kind::Admins, P::UsersTeams, Route("/admins"), Match, ListingMatch("email"))
        .counted(ListByTargetId(endpoints::USERS)).changed(SinglePut, NoDelete),
    row(Kind::Teams, P::UsersTeams, Route("/teams"), Single, ListingMatch("name"))
        .counted(ListByTargetId(endpoints::TEAMS)).changed(SinglePut, NoDelete),
    row(Kind::Tags, P::Customers, Route("/tags"), Single, ListingMatch("name"))
        .counted(ListByTargetId(endpoints::TAGS)),
    row(Kind::Segments, P::Extras, Route("/segments"), Single, ListingMatch("name"))
        .counted(ListByTargetId(endpoints::SAVED_SEARCHES)).changed(SinglePut, NoDelete),
    row(Kind::DataAttributes, P::Metadata, Route("/data_attributes"), IdempotentPut, Repeat)
        .counted(MetadataProperties(&["customer", "company"])).changed(SinglePut, NoDelete),
    row(Kind::ConversationAttributes, P::Metadata, Route("/conversations/attributes"),
        IdempotentPut, Repeat)
        .counted(MetadataProperties(&["conversation"])).changed(SinglePut, NoDelete),
    row(Kind::Companies, P::Companies, Route(intercom::COMPANIES_SCROLL),
        Bulk(BulkTo::Companies), ExternalIdRoute)
        .counted(ListByExternalId(endpoints::COMPANIES)).changed(BulkPut, NoDelete),
    row(Kind::Contacts, P::Customers, Route("/contacts/search"),
        Bulk(BulkTo::Customers), ExternalIdRoute)
        .counted(ListByExternalId(endpoints::CUSTOMERS)).changed(BulkPut, BulkDelete),
    row(Kind::ContactNotes, P::Extras, Within(Kind::Contacts),
        Bulk(BulkTo::KObjects(NOTE_KLASS)), ExternalIdRoute)
        .counted(KobjectsByExternalId(NOTE_KLASS)).changed(BulkPut, BulkDelete),
    row(Kind::CompanyNotes, P::Extras, Within(Kind::Companies),
        Bulk(BulkTo::KObjects(NOTE_KLASS)), ExternalIdRoute)
        .counted(KobjectsByExternalId(NOTE_KLASS)).changed(BulkPut, BulkDelete),
    row(Kind::Collections, P::Kb, Route("/help_center/collections"), Single, ListingMatch("name"))
        .counted(ListByTargetId(endpoints::KB_CATEGORIES)),
    row(Kind::Articles, P::Kb, Route("/articles"), Single, ListingMatch("externalId"))
        .counted(ListByExternalId(endpoints::KB_ARTICLES)).changed(SinglePut, SoftDeletePut),
    row(Kind::ArticleVersions, P::Kb, Within(Kind::Articles), Single, ListingMatch("externalId"))
        .counted(ChildrenOfListed { parent: Kind::Articles, path: endpoints::KB_ARTICLES })
        .changed(SinglePut, NoDelete).under(Kind::Articles),
    row(Kind::ArticleTranslations, P::Kb, Within(Kind::Articles), Single, ListingMatch("lang"))
        .counted(KbLanguageVersions).changed(SinglePut, NoDelete).under(Kind::Articles),
    row(Kind::Conversations, P::Conversations, Route("/conversations/search"),
        Bulk(BulkTo::Conversations), ExternalIdRoute)
        .counted(ListByExternalId(endpoints::CONVERSATIONS)).changed(BulkPut, SingleDelete),
    row(Kind::ConversationParts, P::Conversations, Within(Kind::Conversations),
        Bulk(BulkTo::MessageOrNote), ExternalIdRoute)
        .counted(ConversationTimelines).changed(BulkPut, NoDelete).under(Kind::Conversations),
    // A stored attachment is uploaded as an `attachment_uploads` record of the same id; a lost
    // answer is settled through the attachment the upload registered.
    row(Kind::Attachments, P::Conversations, Within(Kind::Conversations),
        Single, RegisteredAttachment)
        .counted(ConversationFiles).loaded_as(Kind::AttachmentUploads),
    row(Kind::DataEvents, P::Extras, Route(intercom::EVENTS), FireAndForget, NotFound)
        .counted(TrackingEvents),
    row(Kind::Tickets, P::Extras, Route("/tickets/search"),
        Bulk(BulkTo::TicketKlass), ExternalIdRoute)
        .counted(TicketKlasses).changed(BulkPut, BulkDelete),
    row(Kind::TicketTypes, P::Prerequisites, Route("/ticket_types"), Single, ListingMatch("name"))
        .counted(ListByTargetId(endpoints::KLASSES)).changed(SinglePut, SingleDelete),
    row(Kind::Brands, P::Prerequisites, Route("/brands"), Single, ListingMatch("name"))
        .counted(ListByTargetId(endpoints::BRANDS)).changed(SinglePut, NoDelete),
    row(Kind::OfficeHoursSchedules, P::Prerequisites, Route("/office_hours_schedules"),
        Single, ListingMatch("name"))
        .counted(ListByTargetId(endpoints::SCHEDULES)).changed(SinglePut, SingleDelete),
    row(Kind::Macros, P::Extras, Route("/macros"), Single, ListingMatch("name"))
        .counted(ListByTargetId(endpoints::SHORTCUTS)).changed(SinglePut, NoDelete),
    // Intercom's audit trail: Kustomer has none to import into, so every log is archived.
    row(Kind::ActivityLogs, P::Extras, Route(intercom::ACTIVITY_LOGS),
        Archived { reason: Some(activity_logs::archive_reason) }, NotFound)
        .counted(NothingInKustomer),
    // ---- kinds the engine invents beside the source types ----
    row(Kind::Klasses, P::Prerequisites, Invented, Single, ListingMatch("name"))
        .changed(SinglePut, SingleDelete),
    row(Kind::ConversationSources, P::Conversations, Invented,
        Bulk(BulkTo::Messages), ExternalIdRoute)
        .changed(BulkPut, NoDelete).under(Kind::Conversations),
    row(Kind::TimelineNotes, P::Conversations, Invented, Bulk(BulkTo::Notes), ExternalIdRoute)
        .changed(SinglePut, SingleDelete).under(Kind::Conversations),
    row(Kind::TruncationNotes, P::Conversations, Invented, Bulk(BulkTo::Notes), ExternalIdRoute)
        .changed(SinglePut, SingleDelete).under(Kind::Conversations),
    row(Kind::ConversationStates, P::Conversations, Invented,
        BulkUpdate(BulkTo::Conversations), Repeat).under(Kind::Conversations),
    row(Kind::AttachmentUploads, P::Conversations, Invented, Single, RegisteredAttachment),
    row(Kind::InlineImageUploads, P::Conversations, Invented, Single, RegisteredAttachment),
    row(Kind::SegmentTags, P::Extras, Invented, Single, ListingMatch("name")),
    row(Kind::EventSummaries, P::Extras, Within(Kind::Contacts),
        Archived { reason: None }, NotFound),
    row(Kind::SegmentMembers, P::Extras, Invented, BulkUpdate(BulkTo::Customers), Repeat)
        .under(Kind::Segments),
    // ---- source helpers the load reads while writing another kind ----
    helper(Kind::DataAttributesStandard, Route("/data_attributes")),
    helper(Kind::ContactSegments, Within(Kind::Contacts)),
    helper(Kind::ContactTags, Within(Kind::Contacts)),
    helper(Kind::ContactCompanies, Within(Kind::Contacts)),
    helper(Kind::InlineImages, Within(Kind::Conversations)),
    helper(Kind::OfficeHoursExceptions, Within(Kind::OfficeHoursSchedules)),
];

/// The row of `kind`.
pub fn row_of(kind: Kind) -> &'static KindRow {
    CATALOG
        .iter()
        .find(|r| r.kind == kind)
        .unwrap_or(&CATALOG[0])
}

/// The row of a ledger kind name, if the catalog knows it.
pub fn row_named(name: &str) -> Option<&'static KindRow> {
    let kind: Kind = name.parse().ok()?;
    CATALOG.iter().find(|r| r.kind == kind)
}

const fn object_count() -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < CATALOG.len() {
        if CATALOG[i].object {
            n += 1;
        }
        i += 1;
    }
    n
}

const OBJECTS: usize = object_count();

const fn object_names() -> [&'static str; OBJECTS] {
    let mut out = [""; OBJECTS];
    let mut n = 0;
    let mut i = 0;
    while i < CATALOG.len() {
        if CATALOG[i].object {
            out[n] = CATALOG[i].kind.as_str();
            n += 1;
        }
        i += 1;
    }
    out
}

/// The object types of the Intercom workspace, named as the simulator's ground truth names them,
/// in catalog order. These names are used by `i2k plan --json`, `--only`, `verify` and the report.
pub const OBJECT_TYPES: [&str; OBJECTS] = object_names();

/// The object-type rows, in catalog order.
pub fn objects() -> impl Iterator<Item = &'static KindRow> {
    CATALOG.iter().filter(|r| r.object)
}

/// The phase that loads a source object type (a ground-truth name), if any.
pub fn phase_of(object: &str) -> Option<PhaseId> {
    row_named(object).filter(|r| r.object).and_then(|r| r.phase)
}

/// The phase whose progress a ledger kind counts toward.
pub fn phase_of_kind(kind: &str) -> Option<PhaseId> {
    row_named(kind).and_then(|r| r.phase)
}

/// The ledger kind whose target records account for a source object type.
pub fn target_kind(object: &str) -> &str {
    row_named(object).map_or(object, |r| r.target.as_str())
}

/// The parent kind of `kind` in Kustomer, if its records hang under another kind's.
pub fn parent_of(kind: &str) -> Option<&'static str> {
    row_named(kind).and_then(|r| r.parent).map(Kind::as_str)
}

/// The kinds created in Kustomer that cannot be found again by externalId (no lookup route,
/// or a lost create is simply made again): on a fresh ledger they cannot be checked for an
/// earlier copy, so a state directory lost with every file would send them a second time.
pub fn not_looked_up() -> Vec<&'static str> {
    CATALOG
        .iter()
        .filter(|r| r.kind == r.target)
        .filter(|r| {
            matches!(
                r.write,
                Write::Single | Write::Bulk(_) | Write::FireAndForget
            )
        })
        .filter(|r| {
            matches!(
                r.found,
                Found::NotFound | Found::Repeat | Found::RegisteredAttachment
            )
        })
        .map(|r| r.kind.as_str())
        .collect()
}

/// Where `kind`'s records go in bulk, and whether as updates (PUT); `None` for a kind not
/// written in bulk.
pub fn bulk_of(kind: Kind) -> Option<(BulkTo, bool)> {
    match row_of(kind).write {
        Write::Bulk(to) => Some((to, false)),
        Write::BulkUpdate(to) => Some((to, true)),
        _ => None,
    }
}

/// The bulk resource a record of `kind` goes to (`raw`: its stored source record), and whether
/// as an update; `None` for a kind not written in bulk, or a record that does not say.
pub fn bulk_resource(kind: Kind, raw: Option<&str>) -> Option<(BulkResource, bool)> {
    let (to, update) = bulk_of(kind)?;
    Some((to.resource(raw)?, update))
}

/// The object types a phase loads, whose extraction it waits for.
pub fn sources_of(phase: PhaseId) -> Vec<&'static str> {
    objects()
        .filter(|r| r.phase == Some(phase))
        .map(|r| r.kind.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_row() {
        for k in Kind::ALL {
            let n = CATALOG.iter().filter(|r| r.kind == k).count();
            assert_eq!(n, 1, "{k}");
        }
        assert_eq!(CATALOG.len(), Kind::ALL.len());
    }

    #[test]
    fn bulk_kinds_say_where_each_record_goes_and_are_found_again_by_external_id() {
        assert_eq!(
            bulk_of(Kind::ConversationStates),
            Some((BulkTo::Conversations, true))
        );
        assert_eq!(
            bulk_of(Kind::SegmentMembers),
            Some((BulkTo::Customers, true))
        );
        assert_eq!(bulk_of(Kind::Contacts), Some((BulkTo::Customers, false)));
        assert_eq!(bulk_of(Kind::Teams), None);
        let parts = BulkTo::MessageOrNote;
        assert_eq!(
            parts.resource(Some(r#"{"part_type":"comment"}"#)),
            Some(BulkResource::Messages)
        );
        assert_eq!(
            parts.resource(Some(r#"{"part_type":"note"}"#)),
            Some(BulkResource::Notes)
        );
        assert_eq!(
            parts.resource(Some(r#"{"part_type":"assignment"}"#)),
            Some(BulkResource::Notes)
        );
        assert_eq!(
            BulkTo::TicketKlass.resource(Some(r#"{"ticket_type":{"id":"7"}}"#)),
            Some(BulkResource::KObjects(ticket_klass_name("7")))
        );
        assert_eq!(BulkTo::TicketKlass.resource(Some("{}")), None);
        assert_eq!(BulkTo::TicketKlass.resource(None), None);
        // A bulk create whose answer is lost can only be settled by looking the item up.
        for r in CATALOG.iter().filter(|r| matches!(r.write, Write::Bulk(_))) {
            assert_eq!(r.found, Found::ExternalIdRoute, "{}", r.kind);
        }
    }

    #[test]
    fn object_types_are_counted_and_loaded_by_a_phase() {
        for r in objects() {
            assert!(r.count.is_some(), "{}", r.kind);
            assert!(r.phase.is_some(), "{}", r.kind);
        }
        assert_eq!(OBJECT_TYPES.len(), objects().count());
        assert_eq!(OBJECT_TYPES[0], "admins");
        assert_eq!(target_kind("attachments"), "attachment_uploads");
        assert_eq!(
            phase_of_kind("timeline_notes"),
            Some(PhaseId::Conversations)
        );
        assert_eq!(phase_of_kind("contact_tags"), None);
        assert_eq!(phase_of("timeline_notes"), None);
        assert_eq!(
            not_looked_up(),
            ["data_events", "attachment_uploads", "inline_image_uploads"]
        );
        assert_eq!(parent_of("conversation_states"), Some("conversations"));
        assert_eq!(parent_of("segment_members"), Some("segments"));
        assert_eq!(parent_of("conversations"), None);
    }
}
