//! Closing a phase diary (Art. 4-5), handing it to ATS (Art. 7) and interrupting the pathway
//! (Art. 6).

use uuid::Uuid;

use super::commands::{ClosePhaseDiary, InterruptPathway, InterruptionCause};
use super::confirmation::{cancellation, passing_checklist, whole_diary_request};
use super::events::CaseEvent;
use super::state::{CaseFile, DiaryStatus};
use super::{Context, DomainError, given_reason, require_open_diary, require_phase_responsabile};
use crate::catalogue::ConfirmationMode;
use crate::values::{Cents, Ente, FiscalCode, Phase};

fn hand_over(file: &CaseFile, ctx: &Context<'_>, phase: Phase, by: &FiscalCode) -> CaseEvent {
    let confirmed: Vec<_> = file.live_entries(phase).filter(|e| e.confirmed).collect();
    CaseEvent::DiaryHandedToAts {
        phase,
        ats: file.ats.clone(),
        confirmed_entry_ids: confirmed.iter().map(|e| e.id).collect(),
        confirmed_minutes: confirmed.iter().map(|e| u64::from(e.minutes())).sum(),
        confirmed_cost_cents: Some(
            confirmed
                .iter()
                .fold(Cents::default(), |sum, e| sum.plus(e.cost(ctx.measure))),
        ),
        by: Some(by.clone()),
        at: ctx.now,
    }
}

/// Art. 4-5: only the responsabile closes the diary; afterwards nothing is recorded or changed.
///
/// Whole-diary phases (I–II): every entry must be validated, the Art. 8 checklist must pass,
/// and the closure sends the whole-diary confirmation request (Art. 6) — unless the recipient
/// has no FirmaLOM, in which case the paper diary follows. The diary passes to ATS once
/// confirmed. Per-entry phases (III–IV): no request may be pending; the diary passes to ATS at
/// once and entries never confirmed are listed as such.
pub fn close_phase_diary(
    file: &CaseFile,
    c: &ClosePhaseDiary,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let rules = ctx.phase_rules(c.phase)?;
    let by = require_phase_responsabile(file, ctx, c.phase)?;
    require_open_diary(file, c.phase)?;
    // Art. 1: the phase's output ("output e risultati attesi") is a document of the case; where
    // the measure says so, the diary is not closed without it.
    if let Some(missing) = ctx
        .measure
        .documents
        .iter()
        .filter(|d| d.phase == c.phase && d.closes_phase)
        .find(|d| file.latest_document(&d.kind).is_none())
    {
        return Err(DomainError::ClosingDocumentMissing {
            phase: c.phase,
            kind: missing.kind.clone(),
            name: missing.name.clone(),
        });
    }
    let live: Vec<_> = file.live_entries(c.phase).collect();
    let entry_ids: Vec<Uuid> = live.iter().map(|e| e.id).collect();
    let total_minutes = live.iter().map(|e| u64::from(e.minutes())).sum();
    let unconfirmed: Vec<Uuid> = live.iter().filter(|e| !e.confirmed).map(|e| e.id).collect();
    match rules.confirmation {
        ConfirmationMode::WholeDiaryAtClosure => {
            if live.is_empty() {
                return Err(DomainError::EmptyDiary(c.phase));
            }
            let unvalidated: Vec<Uuid> =
                live.iter().filter(|e| !e.validated).map(|e| e.id).collect();
            if !unvalidated.is_empty() {
                return Err(DomainError::UnvalidatedEntriesAtClosure(unvalidated));
            }
            let checklist =
                match passing_checklist(file, ctx, c.phase, &entry_ids, c.request_id, &by) {
                    Ok(checklist) => checklist,
                    Err(refused) => return Ok(vec![*refused]),
                };
            let mut events = vec![CaseEvent::PhaseDiaryClosed {
                phase: c.phase,
                entry_ids: entry_ids.clone(),
                unconfirmed_entry_ids: unconfirmed,
                total_minutes,
                by: by.clone(),
                at: ctx.now,
            }];
            if file.recipient.firmalom_enrolled {
                events.push(whole_diary_request(
                    file,
                    ctx,
                    c.phase,
                    c.request_id,
                    entry_ids,
                    checklist,
                    by,
                )?);
            }
            Ok(events)
        }
        ConfirmationMode::PerEntry => {
            // A request whose notification never arrived does not block the closure: the
            // closure cancels it (Art. 6); one on its way or delivered waits for its answer.
            let (undelivered, waiting): (Vec<_>, Vec<_>) = file
                .pending_requests(c.phase)
                .partition(|r| r.undelivered.is_some());
            if let Some(p) = waiting.first() {
                return Err(DomainError::PendingRequestAtClosure(p.id));
            }
            let mut events: Vec<CaseEvent> = undelivered
                .into_iter()
                .map(|r| {
                    let reason = "Art. 6: notifica non consegnata; diario chiuso".to_owned();
                    cancellation(r, reason, by.clone(), ctx)
                })
                .collect();
            events.extend([
                CaseEvent::PhaseDiaryClosed {
                    phase: c.phase,
                    entry_ids,
                    unconfirmed_entry_ids: unconfirmed,
                    total_minutes,
                    by: by.clone(),
                    at: ctx.now,
                },
                hand_over(file, ctx, c.phase, &by),
            ]);
            Ok(events)
        }
    }
}

/// Art. 6: when the pathway is interrupted the responsabile (or the case manager) records its
/// closure; pending requests end with it, every diary not yet handed over is closed and passes
/// to ATS with its confirmed entries (Art. 7).
pub fn interrupt(
    file: &CaseFile,
    c: &InterruptPathway,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = ctx.person()?.clone();
    // "il responsabile e, ove pertinente, il case manager": the case manager, or the
    // responsabile of an ente that still keeps a phase not handed to ATS.
    let keeps_a_phase = |ente: Ente| {
        file.responsabile(ente) == Some(&by)
            && ctx.measure.phases.iter().any(|p| {
                p.registered_by == ente
                    && file
                        .diaries
                        .get(&p.phase)
                        .is_none_or(|d| d.status != DiaryStatus::HandedToAts)
            })
    };
    if file.case_manager != by && !Ente::ALL.into_iter().any(keeps_a_phase) {
        return Err(DomainError::InterruptionNotAllowed);
    }
    let reason = given_reason(c.reason.as_deref());
    if c.cause == InterruptionCause::Other && reason.is_none() {
        return Err(DomainError::ReasonRequired);
    }
    let ended: Vec<Uuid> = file
        .requests
        .values()
        .filter(|r| r.status == super::state::RequestStatus::Pending)
        .map(|r| r.id)
        .collect();
    let closing: Vec<Phase> = file
        .diaries
        .values()
        .filter(|d| d.status != DiaryStatus::HandedToAts)
        .map(|d| d.phase)
        .collect();
    let mut events = vec![CaseEvent::PathwayInterrupted {
        cause: Some(c.cause),
        reason: reason.unwrap_or_default(),
        ended_request_ids: ended,
        closed_phases: closing.clone(),
        by: by.clone(),
        at: ctx.now,
    }];
    for phase in closing {
        events.push(hand_over(file, ctx, phase, &by));
    }
    Ok(events)
}
