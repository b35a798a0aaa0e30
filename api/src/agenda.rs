//! One professional, one hour, for the history recorded before agendas existed
//! (`docs/event-store.md`): `diario agenda overlaps` reports the overlaps already in the log,
//! read-only; `diario agenda import` writes the claims of every live entry into its author's
//! agenda, once, so that later entries are checked against them too.

use std::collections::BTreeMap;

use diario_commands::{CommandHandler, CommandOptions, HandlerError};
use diario_domain::{CaseState, FiscalCode, TimeSlot};
use diario_log::StreamId;
use serde::Serialize;
use uuid::Uuid;

/// One entry of an overlapping pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverlapSide {
    pub case_id: Uuid,
    pub entry_id: Uuid,
    pub measure_id: String,
    pub date: chrono::NaiveDate,
    pub start: String,
    pub end: String,
}

/// Two live entries of one professional that share time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overlap {
    pub professional: FiscalCode,
    pub first: OverlapSide,
    pub second: OverlapSide,
    /// Whether the two entries are on different cases (billed twice) or on one.
    pub across_cases: bool,
}

/// Every case in the log, folded.
async fn all_cases(handler: &CommandHandler) -> Result<Vec<(Uuid, CaseState)>, HandlerError> {
    let mut cases = Vec::new();
    for (stream_id, _) in handler.store().stream_heads(StreamId::CASES).await? {
        if let Some(id) = StreamId::case_of(&stream_id) {
            cases.push((id, handler.load_case(id).await?.0));
        }
    }
    Ok(cases)
}

/// The live entries of every professional, each with its slot, in date and start order.
fn live_entries(cases: &[(Uuid, CaseState)]) -> BTreeMap<FiscalCode, Vec<(OverlapSide, TimeSlot)>> {
    let mut by_professional: BTreeMap<FiscalCode, Vec<(OverlapSide, TimeSlot)>> = BTreeMap::new();
    for (case_id, state) in cases {
        let Some(file) = state.file.as_ref() else {
            continue;
        };
        for e in file.entries.values().filter(|e| !e.withdrawn) {
            let side = OverlapSide {
                case_id: *case_id,
                entry_id: e.id,
                measure_id: file.measure_id.to_string(),
                date: e.slot.date,
                start: e.slot.start_hhmm(),
                end: e.slot.end_hhmm(),
            };
            by_professional
                .entry(e.professional.clone())
                .or_default()
                .push((side, e.slot));
        }
    }
    for list in by_professional.values_mut() {
        list.sort_by(|(a, _), (b, _)| {
            (a.date, &a.start, a.entry_id).cmp(&(b.date, &b.start, b.entry_id))
        });
    }
    by_professional
}

/// The overlaps among the live entries of the log, by professional and date (read-only).
pub async fn overlaps(handler: &CommandHandler) -> Result<Vec<Overlap>, HandlerError> {
    let cases = all_cases(handler).await?;
    let mut found = Vec::new();
    for (professional, entries) in live_entries(&cases) {
        for (i, (a, slot_a)) in entries.iter().enumerate() {
            // A slot ends at most at the next day's 00:00: later dates cannot overlap it.
            let next_day = a.date.succ_opt().unwrap_or(a.date);
            for (b, slot_b) in entries[i + 1..]
                .iter()
                .take_while(|(b, _)| b.date <= next_day)
            {
                if slot_a.overlaps(slot_b) {
                    found.push(Overlap {
                        professional: professional.clone(),
                        first: a.clone(),
                        second: b.clone(),
                        across_cases: a.case_id != b.case_id,
                    });
                }
            }
        }
    }
    Ok(found)
}

/// What the import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Professionals whose agenda received claims.
    pub professionals: usize,
    /// Claims written.
    pub claims: usize,
}

/// Writes the claims of every live entry not yet in its author's agenda (idempotent: a second
/// run writes nothing).
pub async fn import(handler: &CommandHandler) -> Result<ImportReport, HandlerError> {
    let cases = all_cases(handler).await?;
    let mut authors: BTreeMap<FiscalCode, Vec<(Uuid, &CaseState)>> = BTreeMap::new();
    for (case_id, state) in &cases {
        let Some(file) = state.file.as_ref() else {
            continue;
        };
        let mut seen = std::collections::BTreeSet::new();
        for e in file.entries.values().filter(|e| !e.withdrawn) {
            if seen.insert(e.professional.clone()) {
                authors
                    .entry(e.professional.clone())
                    .or_default()
                    .push((*case_id, state));
            }
        }
    }
    let mut report = ImportReport::default();
    for (professional, cases) in authors {
        let outcome = handler
            .import_agenda(&professional, &cases, &CommandOptions::new())
            .await?;
        if !outcome.events.is_empty() {
            report.professionals += 1;
            report.claims += outcome.events.len();
        }
    }
    Ok(report)
}
