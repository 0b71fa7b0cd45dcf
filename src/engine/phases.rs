//! The phase plan as data (DESIGN.md "Phases"): each load phase with the phases it depends on.
//! The source types a phase reads are the catalog's (`engine::kinds`). The runner schedules from
//! these tables, never from hand-written order.

use crate::engine::kinds::{OBJECT_TYPES, phase_of};
use crate::vocab::PhaseId;

/// One load phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    pub id: PhaseId,
    /// Phases that must have loaded before this one starts.
    pub depends_on: &'static [PhaseId],
}

/// A phase that starts once `depends_on` have loaded.
const fn after(id: PhaseId, depends_on: &'static [PhaseId]) -> Phase {
    Phase { id, depends_on }
}

pub const PHASES: [Phase; 8] = [
    after(PhaseId::Prerequisites, &[]),
    after(PhaseId::UsersTeams, &[PhaseId::Prerequisites]),
    after(PhaseId::Metadata, &[PhaseId::Prerequisites]),
    after(PhaseId::Companies, &[PhaseId::Metadata]),
    after(PhaseId::Customers, &[PhaseId::Companies]),
    after(PhaseId::Kb, &[PhaseId::UsersTeams]),
    after(
        PhaseId::Conversations,
        &[PhaseId::UsersTeams, PhaseId::Customers],
    ),
    // Nothing in Extras hangs on a conversation (events, notes and tickets hang on customers and
    // companies, saved searches on tags), so the phase does not wait for the conversations: its
    // one-request-per-event writes fill the budget the conversations leave (it runs as gate
    // filler, see `load::run_phase`) instead of queueing behind them.
    after(PhaseId::Extras, &[PhaseId::Customers]),
];

pub fn phase(id: PhaseId) -> &'static Phase {
    PHASES.iter().find(|p| p.id == id).unwrap_or(&PHASES[0])
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
                OBJECT_TYPES.join(", ")
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
    fn every_object_type_is_loaded_by_a_phase_of_the_table() {
        for t in OBJECT_TYPES {
            let p = phase_of(t).unwrap_or_else(|| panic!("{t} has no phase"));
            assert!(PHASES.iter().any(|q| q.id == p), "{t}");
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
