//! Pure helpers for the org-level records loaded before any customer: Intercom office hours →
//! Kustomer schedule hours, ticket types → klasses (name, body, custom-attribute names), and the
//! klasses i2k invents for notes and events.

use serde_json::{Value, json};

use crate::intercom::models::{OfficeHoursSchedule, TicketType};
use crate::kustomer::models::DayHours;
use crate::mapping::attributes::{SourceModel, suffix_for};
use crate::mapping::names::{NameAllocator, display_name};

/// Minutes in a day and in a week (Intercom counts schedule minutes from Monday 00:00).
const DAY_MINUTES: u64 = 1440;
const WEEK_MINUTES: u64 = 7 * DAY_MINUTES;

/// The klass contact and company notes are loaded into (phase Extras).
pub const NOTE_KLASS: &str = "intercom_note";
/// The klass data events are loaded into when `events_as_kobjects` is chosen.
pub const EVENT_KLASS: &str = "intercom_event";

/// Kustomer `hours` (index 0 = Sunday, minutes from midnight, sorted, merged so no two intervals
/// overlap or touch) for an Intercom schedule (minutes from Monday 00:00 across the week).
/// Intervals that cross midnight are split at it; a day with no interval is closed (`None`).
pub fn schedule_hours(schedule: &OfficeHoursSchedule) -> [DayHours; 7] {
    let mut days: [Vec<[u32; 2]>; 7] = Default::default();
    if schedule.twenty_four_seven == Some(true) {
        for day in &mut days {
            day.push([0, DAY_MINUTES as u32]);
        }
    } else {
        for interval in &schedule.time_intervals {
            let (Some(start), Some(end)) = (interval.start_minute, interval.end_minute) else {
                continue;
            };
            let (mut start, end) = (start.min(WEEK_MINUTES), end.min(WEEK_MINUTES));
            while start < end {
                let intercom_day = start / DAY_MINUTES;
                let day_end = (intercom_day + 1) * DAY_MINUTES;
                let piece_end = end.min(day_end);
                // Intercom's day 0 is Monday; Kustomer's is Sunday.
                let kustomer_day = ((intercom_day + 1) % 7) as usize;
                days[kustomer_day].push([
                    (start - intercom_day * DAY_MINUTES) as u32,
                    (piece_end - intercom_day * DAY_MINUTES) as u32,
                ]);
                start = piece_end;
            }
        }
    }
    let mut hours: [DayHours; 7] = Default::default();
    for (slot, mut intervals) in hours.iter_mut().zip(days) {
        if intervals.is_empty() {
            continue;
        }
        intervals.sort_unstable();
        let mut merged: Vec<[u32; 2]> = Vec::with_capacity(intervals.len());
        for [start, end] in intervals {
            match merged.last_mut() {
                // Kustomer refuses touching intervals as well as overlapping ones.
                Some(last) if start <= last[1] => last[1] = last[1].max(end),
                _ => merged.push([start, end]),
            }
        }
        *slot = Some(merged);
    }
    hours
}

/// The IANA zone of a schedule, UTC when Intercom gives none (Kustomer requires one).
pub fn schedule_timezone(schedule: &OfficeHoursSchedule) -> String {
    schedule
        .time_zone_name
        .clone()
        .filter(|z| !z.trim().is_empty())
        .unwrap_or_else(|| "UTC".to_string())
}

/// The klass name for a ticket type. It depends on the ticket type's id only, so a renamed
/// ticket type keeps its klass and the tickets phase can compute it from a ticket alone.
pub fn ticket_klass_name(ticket_type_id: &str) -> String {
    let id: String = ticket_type_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("intercom_ticket_{id}")
}

/// One ticket-type attribute as a custom attribute of its klass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketField {
    /// The key under a ticket's `ticket_attributes`.
    pub source_name: String,
    pub data_type: String,
    /// The Kustomer attribute (with suffix), or `None` when the type has no Kustomer equivalent
    /// (files): such values stay in the archive.
    pub attribute: Option<String>,
}

/// The custom attributes of a ticket type's klass, in the ticket type's order (deterministic,
/// so the tickets phase computes the same names).
pub fn ticket_fields(ticket_type: &TicketType) -> Vec<TicketField> {
    let mut names = NameAllocator::new();
    let attributes = ticket_type
        .ticket_type_attributes
        .as_ref()
        .map(|list| list.data.as_slice())
        .unwrap_or_default();
    attributes
        .iter()
        .filter(|a| a.archived != Some(true))
        .filter_map(|a| {
            let name = a.name.clone()?;
            let data_type = a.data_type.clone().unwrap_or_default();
            // Ticket attribute types are the conversation attribute types.
            let attribute = suffix_for(SourceModel::Conversation, &data_type, false)
                .ok()
                .map(|suffix| names.allocate(&name, suffix));
            Some(TicketField {
                source_name: name,
                data_type,
                attribute,
            })
        })
        .collect()
}

/// `POST /v1/klasses` body for a ticket type. Kustomer's published `CreateKlass` type has no
/// `description` (name, displayName, icon, color, jsonSchema, klassSchema, mixins, status): the
/// ticket type's description is not sent; the prerequisites phase logs it instead.
pub fn ticket_klass_body(ticket_type_id: &str, ticket_type: &TicketType) -> Value {
    let label = ticket_type
        .name
        .as_deref()
        .map(display_name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("Intercom ticket type {ticket_type_id}"));
    json!({
        "name": ticket_klass_name(ticket_type_id),
        "displayName": label,
        "status": "enabled",
    })
}

/// `POST /v1/klasses` body for a klass i2k invents (notes, events).
pub fn invented_klass_body(name: &str) -> Value {
    let label = match name {
        NOTE_KLASS => "Intercom note",
        EVENT_KLASS => "Intercom event",
        other => other,
    };
    json!({ "name": name, "displayName": label, "status": "enabled" })
}

/// The lower-cased e-mail used to match people across the two systems.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intercom::models::{TicketTypeAttribute, TicketTypeAttributeList, TimeInterval};

    fn interval(start: u64, end: u64) -> TimeInterval {
        TimeInterval {
            start_minute: Some(start),
            end_minute: Some(end),
            day_of_week: None,
        }
    }

    #[test]
    fn monday_hours_land_on_kustomer_day_one() {
        let schedule = OfficeHoursSchedule {
            time_intervals: vec![interval(540, 1020)],
            ..Default::default()
        };
        let hours = schedule_hours(&schedule);
        assert_eq!(hours[1], Some(vec![[540, 1020]]));
        assert_eq!(hours[0], None);
        assert_eq!(hours[2], None);
    }

    #[test]
    fn sunday_is_intercom_day_six_and_kustomer_day_zero() {
        let sunday = 6 * DAY_MINUTES;
        let schedule = OfficeHoursSchedule {
            time_intervals: vec![interval(sunday + 600, sunday + 660)],
            ..Default::default()
        };
        assert_eq!(schedule_hours(&schedule)[0], Some(vec![[600, 660]]));
    }

    #[test]
    fn intervals_across_midnight_split_and_touching_ones_merge() {
        let schedule = OfficeHoursSchedule {
            time_intervals: vec![
                interval(1320, 1440 + 120),
                interval(1440 + 120, 1440 + 300),
                interval(600, 700),
            ],
            ..Default::default()
        };
        let hours = schedule_hours(&schedule);
        assert_eq!(hours[1], Some(vec![[600, 700], [1320, 1440]]));
        assert_eq!(hours[2], Some(vec![[0, 300]]));
    }

    #[test]
    fn twenty_four_seven_opens_every_day() {
        let schedule = OfficeHoursSchedule {
            twenty_four_seven: Some(true),
            ..Default::default()
        };
        assert!(
            schedule_hours(&schedule)
                .iter()
                .all(|d| d == &Some(vec![[0, 1440]]))
        );
    }

    #[test]
    fn ticket_fields_get_suffixes_and_files_stay_unmapped() {
        let attr = |name: &str, t: &str| TicketTypeAttribute {
            name: Some(name.into()),
            data_type: Some(t.into()),
            ..Default::default()
        };
        let tt = TicketType {
            ticket_type_attributes: Some(TicketTypeAttributeList {
                data: vec![
                    attr("_default_title_", "string"),
                    attr("Severity", "list"),
                    attr("Seats", "integer"),
                    attr("Screenshots", "files"),
                ],
            }),
            ..Default::default()
        };
        let fields = ticket_fields(&tt);
        let names: Vec<Option<&str>> = fields.iter().map(|f| f.attribute.as_deref()).collect();
        assert_eq!(
            names,
            vec![
                Some("defaultTitleStr"),
                Some("severityStr"),
                Some("seatsNum"),
                None
            ]
        );
    }

    #[test]
    fn klass_names_are_valid_and_stable() {
        assert_eq!(ticket_klass_name("1295"), "intercom_ticket_1295");
        assert_eq!(ticket_klass_name("a b"), "intercom_ticket_a_b");
    }
}
