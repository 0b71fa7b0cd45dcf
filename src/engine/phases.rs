//! The phase plan as data (DESIGN.md "Phases"): each load phase with the phases it depends on and
//! the source types it reads. The runner schedules from this table, never from hand-written order.

use crate::vocab::PhaseId;

/// One load phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    pub id: PhaseId,
    /// Phases that must have loaded before this one starts.
    pub depends_on: &'static [PhaseId],
    /// Source object types (ground-truth names) this phase loads, whose extraction it waits for.
    pub sources: &'static [&'static str],
}

pub const PHASES: [Phase; 8] = [
    Phase {
        id: PhaseId::Prerequisites,
        depends_on: &[],
        sources: &["brands", "office_hours_schedules", "ticket_types"],
    },
    Phase {
        id: PhaseId::UsersTeams,
        depends_on: &[PhaseId::Prerequisites],
        sources: &["admins", "teams"],
    },
    Phase {
        id: PhaseId::Metadata,
        depends_on: &[PhaseId::Prerequisites],
        sources: &["data_attributes", "conversation_attributes"],
    },
    Phase {
        id: PhaseId::Companies,
        depends_on: &[PhaseId::Metadata],
        sources: &["companies"],
    },
    Phase {
        id: PhaseId::Customers,
        depends_on: &[PhaseId::Companies],
        sources: &["contacts", "tags"],
    },
    Phase {
        id: PhaseId::Kb,
        depends_on: &[PhaseId::UsersTeams],
        sources: &[
            "collections",
            "articles",
            "article_versions",
            "article_translations",
        ],
    },
    Phase {
        id: PhaseId::Conversations,
        depends_on: &[PhaseId::UsersTeams, PhaseId::Customers],
        sources: &["conversations", "conversation_parts", "attachments"],
    },
    Phase {
        id: PhaseId::Extras,
        // Nothing here hangs on a conversation (events, notes and tickets hang on customers and
        // companies, saved searches on tags), so the phase does not wait for the conversations:
        // its one-request-per-event writes fill the budget the conversations leave (it runs as
        // gate filler, see `load::run_phase`) instead of queueing behind them.
        depends_on: &[PhaseId::Customers],
        sources: &[
            "data_events",
            "segments",
            "tickets",
            "contact_notes",
            "company_notes",
            "macros",
        ],
    },
];

pub fn phase(id: PhaseId) -> &'static Phase {
    PHASES.iter().find(|p| p.id == id).unwrap_or(&PHASES[0])
}

/// The phase that loads a source type, if any.
pub fn phase_of(object: &str) -> Option<PhaseId> {
    PHASES
        .iter()
        .find(|p| p.sources.contains(&object))
        .map(|p| p.id)
}

/// Target kinds the engine invents beside the source types (records that have no Intercom
/// type of their own), and the phase that loads them.
pub const INVENTED_KINDS: [(&str, PhaseId); 11] = [
    ("klasses", PhaseId::Prerequisites),
    ("conversation_sources", PhaseId::Conversations),
    ("conversation_notes", PhaseId::Conversations),
    ("timeline_notes", PhaseId::Conversations),
    ("truncation_notes", PhaseId::Conversations),
    ("conversation_states", PhaseId::Conversations),
    ("attachment_uploads", PhaseId::Conversations),
    ("inline_image_uploads", PhaseId::Conversations),
    ("segment_tags", PhaseId::Extras),
    ("event_summaries", PhaseId::Extras),
    ("segment_members", PhaseId::Extras),
];

/// The ledger kind whose target records account for a source type. Most types load one to one
/// under their own name; a stored attachment is uploaded as an `attachment_uploads` record of the
/// same id.
pub fn target_kind(object: &str) -> &str {
    match object {
        "attachments" => "attachment_uploads",
        other => other,
    }
}

/// The phase whose progress a ledger kind counts toward.
pub fn phase_of_kind(kind: &str) -> Option<PhaseId> {
    phase_of(kind).or_else(|| {
        INVENTED_KINDS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, p)| *p)
    })
}

/// The phases a run limited to `only` (ground-truth type names) needs: the phases loading those
/// types plus, transitively, what they depend on. Empty `only` means every phase.
pub fn phases_for(only: &[String]) -> Result<Vec<PhaseId>, String> {
    if only.is_empty() {
        return Ok(PHASES.iter().map(|p| p.id).collect());
    }
    let mut wanted: Vec<PhaseId> = Vec::new();
    for name in only {
        let name = name.trim();
        let id = phase_of(name).ok_or_else(|| {
            format!(
                "unknown type `{name}` in --only (known: {})",
                crate::engine::model::OBJECT_TYPES.join(", ")
            )
        })?;
        add_with_dependencies(id, &mut wanted);
    }
    wanted.sort();
    Ok(wanted)
}

fn add_with_dependencies(id: PhaseId, into: &mut Vec<PhaseId>) {
    if into.contains(&id) {
        return;
    }
    into.push(id);
    for dep in phase(id).depends_on {
        add_with_dependencies(*dep, into);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::OBJECT_TYPES;

    #[test]
    fn dependencies_come_earlier_in_the_table() {
        for (i, p) in PHASES.iter().enumerate() {
            for dep in p.depends_on {
                let j = PHASES.iter().position(|q| q.id == *dep).unwrap();
                assert!(j < i, "{:?} depends on later {:?}", p.id, dep);
            }
        }
    }

    #[test]
    fn every_object_type_is_loaded_by_exactly_one_phase() {
        for t in OBJECT_TYPES {
            let n = PHASES.iter().filter(|p| p.sources.contains(&t)).count();
            assert_eq!(n, 1, "{t}");
        }
    }

    #[test]
    fn only_pulls_in_what_a_type_depends_on() {
        let p = phases_for(&["conversations".to_string()]).unwrap();
        assert_eq!(
            p,
            vec![
                PhaseId::Prerequisites,
                PhaseId::UsersTeams,
                PhaseId::Metadata,
                PhaseId::Companies,
                PhaseId::Customers,
                PhaseId::Conversations
            ]
        );
        assert!(!p.contains(&PhaseId::Kb));
        assert!(
            phases_for(&["widgets".to_string()])
                .unwrap_err()
                .contains("widgets")
        );
        assert_eq!(phases_for(&[]).unwrap().len(), 8);
    }
}
