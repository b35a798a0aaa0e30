//! One professional, one hour: a professional's agenda across every case and measure.
//!
//! Reimbursement is hours × unit cost (Reg. UE 2021/1060 art. 53(1)(b)); an hour billed on two
//! cases is billed twice. A case checks overlaps among its own entries (Art. 5), but it cannot
//! see the other cases, so each professional has one more stream, `agenda-{fiscal code}`, that
//! holds the time their live entries claim on any case. A case command that records, amends or
//! withdraws an entry moves the author's agenda in the same transaction as the case
//! (`docs/event-store.md`, "One professional, one hour"): two cases claiming the same slot for
//! the same person at the same instant race for the agenda's version, and the loser is decided
//! again on the agenda the winner left — and refused, naming the other case.
//!
//! Pure: [`changes`] reads what a case decision does to entries, [`decide_agenda`] checks and
//! records it on one agenda, [`evolve_agenda`] folds.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::case::{CaseEvent, CaseState};
use crate::error::DomainError;
use crate::values::{FiscalCode, MeasureId, TimeSlot};

/// Time one live entry claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The case the entry is on.
    pub case_id: Uuid,
    /// The case's measure.
    pub measure_id: MeasureId,
    /// The slot.
    pub slot: TimeSlot,
}

/// A professional's agenda: the claims of their live entries, by entry id.
pub type AgendaState = BTreeMap<Uuid, Claim>;

/// Events of an agenda stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AgendaEvent {
    /// A live entry holds this slot (recorded, or amended to a new slot: the claim replaces
    /// the entry's earlier one).
    SlotClaimed {
        /// The entry.
        entry_id: Uuid,
        /// Its case.
        case_id: Uuid,
        /// The case's measure.
        measure_id: MeasureId,
        /// The slot claimed.
        slot: TimeSlot,
        /// True for a claim written by the one-off import of entries recorded before agendas
        /// existed (`diario agenda import`), false for one written with its entry.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        imported: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// The entry was withdrawn: its time is free again.
    SlotReleased {
        /// The entry.
        entry_id: Uuid,
        /// Its case.
        case_id: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
}

/// What a case decision does to one entry's claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgendaChange {
    /// The entry now holds `slot` (recorded or amended).
    Claim {
        /// The entry.
        entry_id: Uuid,
        /// The slot.
        slot: TimeSlot,
    },
    /// The entry was withdrawn.
    Release {
        /// The entry.
        entry_id: Uuid,
    },
}

/// The changes one case decision makes to one professional's agenda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaChanges {
    /// The professional (the entries' author).
    pub professional: FiscalCode,
    /// The case.
    pub case_id: Uuid,
    /// Its measure.
    pub measure_id: MeasureId,
    /// In the order of the case events.
    pub changes: Vec<AgendaChange>,
}

/// What the case events of one decision do to their authors' agendas, grouped by author
/// (in fiscal-code order). `state` is the case before the decision: an amendment or a
/// withdrawal names its entry, whose author is read there (or from an earlier event of the
/// same decision).
pub fn changes(state: &CaseState, case_id: Uuid, events: &[CaseEvent]) -> Vec<AgendaChanges> {
    let Some(file) = state.file.as_ref() else {
        return Vec::new();
    };
    let mut authors: BTreeMap<Uuid, FiscalCode> = BTreeMap::new();
    let mut by_author: BTreeMap<FiscalCode, Vec<AgendaChange>> = BTreeMap::new();
    let author_of = |authors: &BTreeMap<Uuid, FiscalCode>, id: &Uuid| {
        authors
            .get(id)
            .or_else(|| file.entries.get(id).map(|e| &e.professional))
            .cloned()
    };
    for event in events {
        match event {
            CaseEvent::EntryRecorded {
                entry_id,
                professional,
                slot,
                ..
            } => {
                authors.insert(*entry_id, professional.clone());
                by_author
                    .entry(professional.clone())
                    .or_default()
                    .push(AgendaChange::Claim {
                        entry_id: *entry_id,
                        slot: *slot,
                    });
            }
            CaseEvent::EntryAmended { entry_id, slot, .. } => {
                if let Some(author) = author_of(&authors, entry_id) {
                    by_author
                        .entry(author)
                        .or_default()
                        .push(AgendaChange::Claim {
                            entry_id: *entry_id,
                            slot: *slot,
                        });
                }
            }
            CaseEvent::EntryWithdrawn { entry_id, .. } => {
                if let Some(author) = author_of(&authors, entry_id) {
                    by_author
                        .entry(author)
                        .or_default()
                        .push(AgendaChange::Release {
                            entry_id: *entry_id,
                        });
                }
            }
            _ => {}
        }
    }
    by_author
        .into_iter()
        .map(|(professional, changes)| AgendaChanges {
            professional,
            case_id,
            measure_id: file.measure_id.clone(),
            changes,
        })
        .collect()
}

/// Checks and records `changes` on the professional's agenda at `now`.
///
/// A claim that overlaps another entry's claim — on any case, under any measure — is refused:
/// [`DomainError::OverlappingEntryOnOtherCase`] names the other case and entry
/// ([`DomainError::OverlappingEntry`] when it is on the same case, which the case itself
/// normally refuses first). Touching slots (9–10, 10–11) do not overlap. A release of an
/// entry the agenda does not hold (recorded before agendas existed) writes nothing.
pub fn decide_agenda(
    state: &AgendaState,
    changes: &AgendaChanges,
    now: DateTime<Utc>,
) -> Result<Vec<AgendaEvent>, DomainError> {
    // Later changes of the same command are checked against the earlier ones: the agenda is
    // copied only when a change follows another.
    let mut agenda = std::borrow::Cow::Borrowed(state);
    let mut events = Vec::new();
    for (i, change) in changes.changes.iter().enumerate() {
        let event = match change {
            AgendaChange::Claim { entry_id, slot } => {
                let clash = agenda
                    .iter()
                    .find(|(id, claim)| *id != entry_id && claim.slot.overlaps(slot));
                if let Some((other, claim)) = clash {
                    return Err(if claim.case_id == changes.case_id {
                        DomainError::OverlappingEntry { other: *other }
                    } else {
                        DomainError::OverlappingEntryOnOtherCase {
                            case_id: claim.case_id,
                            entry_id: *other,
                        }
                    });
                }
                AgendaEvent::SlotClaimed {
                    entry_id: *entry_id,
                    case_id: changes.case_id,
                    measure_id: changes.measure_id.clone(),
                    slot: *slot,
                    imported: false,
                    at: now,
                }
            }
            AgendaChange::Release { entry_id } => {
                if !agenda.contains_key(entry_id) {
                    continue;
                }
                AgendaEvent::SlotReleased {
                    entry_id: *entry_id,
                    case_id: changes.case_id,
                    at: now,
                }
            }
        };
        if i + 1 < changes.changes.len() {
            agenda = std::borrow::Cow::Owned(evolve_agenda(agenda.into_owned(), &event));
        }
        events.push(event);
    }
    Ok(events)
}

/// The claims to import for entries recorded before agendas existed: every live entry of
/// `cases` by `professional` that the agenda does not hold yet, kept even where two overlap
/// (the overlaps report lists those; history is not refused after the fact).
pub fn import_claims(
    state: &AgendaState,
    professional: &FiscalCode,
    cases: &[(Uuid, &CaseState)],
    now: DateTime<Utc>,
) -> Vec<AgendaEvent> {
    let mut events = Vec::new();
    for (case_id, case) in cases {
        let Some(file) = case.file.as_ref() else {
            continue;
        };
        for e in file.entries.values() {
            if e.withdrawn || &e.professional != professional || state.contains_key(&e.id) {
                continue;
            }
            events.push(AgendaEvent::SlotClaimed {
                entry_id: e.id,
                case_id: *case_id,
                measure_id: file.measure_id.clone(),
                slot: e.slot,
                imported: true,
                at: now,
            });
        }
    }
    events
}

/// Folds one agenda event.
pub fn evolve_agenda(mut state: AgendaState, event: &AgendaEvent) -> AgendaState {
    match event {
        AgendaEvent::SlotClaimed {
            entry_id,
            case_id,
            measure_id,
            slot,
            ..
        } => {
            state.insert(
                *entry_id,
                Claim {
                    case_id: *case_id,
                    measure_id: measure_id.clone(),
                    slot: *slot,
                },
            );
        }
        AgendaEvent::SlotReleased { entry_id, .. } => {
            state.remove(entry_id);
        }
    }
    state
}

/// Pairs of claims of one agenda that overlap (entry ids, the smaller first): what the import
/// of history may have kept, for the one-off overlaps report.
pub fn overlaps(state: &AgendaState) -> Vec<(Uuid, Uuid)> {
    let claims: Vec<_> = state.iter().collect();
    let mut pairs = Vec::new();
    for (i, (a, ca)) in claims.iter().enumerate() {
        for (b, cb) in &claims[i + 1..] {
            if ca.slot.overlaps(&cb.slot) {
                pairs.push((**a, **b));
            }
        }
    }
    pairs
}
