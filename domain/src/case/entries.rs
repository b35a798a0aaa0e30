//! Recording, amending, withdrawing and validating entries (Art. 5, with the Art. 9
//! exception for late registrations).

use std::collections::BTreeSet;

use uuid::Uuid;

use super::commands::{
    AmendEntry, CosignLateEntry, RecordEntry, ValidateEntries, WithdrawEntry, WithdrawValidation,
};
use super::events::CaseEvent;
use super::state::{CaseFile, DiaryStatus, Entry, RequestStatus};
use super::{Context, DomainError, given_reason, require_open_diary, require_phase_responsabile};
use crate::catalogue::ConfirmationMode;
use crate::values::{FigureId, FiscalCode, Phase, ServiceId, TimeSlot, add_civil_days, civil_date};

/// The figures a person may record under in a phase: those enabled by the responsabile of the
/// ente that keeps the phase (Art. 3-4), plus the case manager's figure for the case manager
/// designated at opening (Art. 3: the case manager's hours are registered in the diary).
pub fn enabled_figures(
    file: &CaseFile,
    ctx: &Context<'_>,
    phase: Phase,
    cf: &FiscalCode,
) -> Result<BTreeSet<FigureId>, DomainError> {
    let rules = ctx.phase_rules(phase)?;
    let mut figures = file
        .professionals
        .get(&(rules.registered_by, cf.clone()))
        .cloned()
        .unwrap_or_default();
    if cf == &file.case_manager
        && let Some(f) = &ctx.measure.case_manager_figure
    {
        figures.insert(f.clone());
    }
    if figures.is_empty() {
        return Err(DomainError::ProfessionalNotEnabled {
            professional: cf.clone(),
            phase,
        });
    }
    Ok(figures)
}

/// Art. 5 (ii-iii): figure and service from the catalogue, the service in the phase, the
/// figure among the professional's enabled figures and among those that deliver the service.
fn check_catalogue(
    ctx: &Context<'_>,
    phase: Phase,
    enabled: &BTreeSet<FigureId>,
    figure: &FigureId,
    service: &ServiceId,
) -> Result<(), DomainError> {
    if ctx.measure.figure(figure).is_none() {
        return Err(DomainError::FigureNotInCatalogue(figure.clone()));
    }
    let s = ctx
        .measure
        .service(service)
        .ok_or_else(|| DomainError::ServiceNotInCatalogue(service.clone()))?;
    if !s.phases.contains(&phase) {
        return Err(DomainError::ServiceNotInPhase {
            service: service.clone(),
            phase,
        });
    }
    if !enabled.contains(figure) {
        return Err(DomainError::FigureNotEnabledForProfessional(figure.clone()));
    }
    if !s.figures.contains(figure) {
        return Err(DomainError::FigureCannotDeliverService {
            figure: figure.clone(),
            service: service.clone(),
        });
    }
    Ok(())
}

/// Art. 5 (iv) and common sense: granularity of the measure, nothing in the future, no
/// overlap with another live entry of the same professional on this case.
fn check_slot(
    file: &CaseFile,
    ctx: &Context<'_>,
    cf: &FiscalCode,
    slot: &TimeSlot,
    except: Option<Uuid>,
) -> Result<(), DomainError> {
    super::pathway::check_activity(file, ctx, slot.date)?;
    let granularity = ctx.measure.slot_granularity_minutes;
    if !slot.minutes().is_multiple_of(granularity) {
        return Err(DomainError::DurationNotMultiple {
            minutes: slot.minutes(),
            granularity,
        });
    }
    if slot.end_instant() > ctx.now {
        return Err(DomainError::EntryInTheFuture);
    }
    let clash = file.entries.values().find(|e| {
        Some(e.id) != except && !e.withdrawn && &e.professional == cf && e.slot.overlaps(slot)
    });
    if let Some(other) = clash {
        return Err(DomainError::OverlappingEntry { other: other.id });
    }
    Ok(())
}

/// Art. 5: the entry must be recorded within `record_within_days` civil days of delivery;
/// Art. 9: later only by relying on a declared failure that covers the case's ente, whose start
/// came no later than the normal deadline, within the grace days after its resolution.
/// Returns the failure actually relied on (`None` when on time).
fn check_window(
    file: &CaseFile,
    ctx: &Context<'_>,
    phase: Phase,
    slot: &TimeSlot,
    failure: Option<Uuid>,
    amending: bool,
) -> Result<Option<Uuid>, DomainError> {
    let days = ctx.measure.deadlines.record_within_days;
    let deadline = add_civil_days(slot.date, days);
    let today = civil_date(ctx.now);
    if today <= deadline {
        return Ok(None);
    }
    let Some(failure_id) = failure else {
        return Err(if amending {
            DomainError::AmendedDateTooLate {
                delivered: slot.date,
                deadline,
                days,
            }
        } else {
            DomainError::EntryRecordedTooLate {
                delivered: slot.date,
                deadline,
                days,
            }
        });
    };
    let f = ctx
        .failures
        .iter()
        .find(|f| f.id == failure_id)
        .ok_or(DomainError::SystemFailureUnknown(failure_id))?;
    let ente = match ctx.phase_rules(phase)?.registered_by {
        crate::values::Ente::Asst => &file.asst,
        crate::values::Ente::Provider => &file.provider,
    };
    if !f.covers_ente(ente) {
        return Err(DomainError::SystemFailureNotApplicable {
            failure: failure_id,
            deadline,
        });
    }
    f.relieves(deadline, today, ctx.measure.deadlines.failure_grace_days)?;
    Ok(Some(failure_id))
}

/// Art. 5-6: may the author still change this entry?
/// Confirmed entries never change; nothing changes once the diary is closed; in whole-diary
/// phases (I–II) an entry is editable until validated, in per-entry phases (III–IV) until it is
/// sent for confirmation: pending, or expired (Art. 5, "all'invio della richiesta di
/// conferma": only a rejection gives entries back, "l'ente responsabile ha nuovamente accesso
/// alla pratica per modificare"; after an expiry the ente sends the request again).
pub fn check_editable(
    file: &CaseFile,
    ctx: &Context<'_>,
    entry: &Entry,
) -> Result<(), DomainError> {
    if entry.confirmed {
        return Err(DomainError::EntryConfirmed(entry.id));
    }
    match file.diaries.get(&entry.phase).map(|d| d.status) {
        Some(DiaryStatus::Open) => {}
        Some(_) => return Err(DomainError::DiaryClosed(entry.phase)),
        None => return Err(DomainError::DiaryNotOpened(entry.phase)),
    }
    if entry.pending_request.is_some() {
        return Err(DomainError::EntryInPendingRequest(entry.id));
    }
    // The last request the entry was sent in decides: expired, it stays as sent.
    let last = file
        .requests
        .values()
        .filter(|r| r.entries.contains_key(&entry.id))
        .max_by_key(|r| r.sent_at);
    if last.is_some_and(|r| r.status == RequestStatus::Expired) {
        return Err(DomainError::EntrySentForConfirmation(entry.id));
    }
    let mode = ctx.phase_rules(entry.phase)?.confirmation;
    if mode == ConfirmationMode::WholeDiaryAtClosure && entry.validated {
        return Err(DomainError::EntryValidated(entry.id));
    }
    Ok(())
}

fn live_entry(file: &CaseFile, id: Uuid) -> Result<&Entry, DomainError> {
    file.entries
        .get(&id)
        .filter(|e| !e.withdrawn)
        .ok_or(DomainError::EntryNotFound(id))
}

/// Who changes an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Changer {
    /// Its author, enabled for the phase.
    Author,
    /// The phase's responsabile, on an entry whose author is no longer enabled.
    Responsabile,
}

/// Art. 5: the entry "non è pertanto modificabile dagli altri professionisti" — its author
/// changes it while editable. Art. 6 ("né dal singolo professionista né dal responsabile") and
/// "l'ente responsabile ha nuovamente accesso alla pratica": when the author is no longer
/// enabled, the phase's responsabile may withdraw or shorten it, so it is not stuck.
/// Returns who acts, as whom, and the entry.
fn editable_entry<'f>(
    file: &'f CaseFile,
    ctx: &Context<'_>,
    id: Uuid,
) -> Result<(FiscalCode, Changer, &'f Entry), DomainError> {
    let cf = ctx.person()?.clone();
    let entry = live_entry(file, id)?;
    let changer = if entry.professional == cf {
        enabled_figures(file, ctx, entry.phase, &cf)?;
        Changer::Author
    } else if enabled_figures(file, ctx, entry.phase, &entry.professional).is_err()
        && require_phase_responsabile(file, ctx, entry.phase).is_ok()
    {
        Changer::Responsabile
    } else {
        return Err(DomainError::NotEntryAuthor {
            author: entry.professional.clone(),
        });
    };
    check_editable(file, ctx, entry)?;
    Ok((cf, changer, entry))
}

/// Art. 5: once the recording window of the delivery date has closed (Art. 9 relief
/// included), a correction may not add minutes, move the date, or pass to a figure with a
/// higher unit cost; it may still correct the service or shorten the entry.
fn check_late_amendment(
    file: &CaseFile,
    ctx: &Context<'_>,
    entry: &Entry,
    c: &AmendEntry,
) -> Result<(), DomainError> {
    let closed = check_window(
        file,
        ctx,
        entry.phase,
        &entry.slot,
        entry.system_failure_id,
        true,
    )
    .is_err();
    if !closed {
        return Ok(());
    }
    let deadline = add_civil_days(entry.slot.date, ctx.measure.deadlines.record_within_days);
    if c.slot.date != entry.slot.date {
        return Err(DomainError::LateAmendmentMovesDate { deadline });
    }
    if c.slot.minutes() > entry.slot.minutes() {
        return Err(DomainError::LateAmendmentAddsMinutes {
            deadline,
            before: entry.slot.minutes(),
            after: c.slot.minutes(),
        });
    }
    let cost = |f: &FigureId| {
        ctx.measure
            .figure(f)
            .and_then(|f| f.hourly_cost_cents)
            .unwrap_or_default()
    };
    if cost(&c.figure) > cost(&entry.figure) {
        return Err(DomainError::LateAmendmentRaisesUnitCost {
            deadline,
            figure: c.figure.clone(),
        });
    }
    Ok(())
}

/// Whether `inner` lies within `outer` on the same date.
fn within(inner: &TimeSlot, outer: &TimeSlot) -> bool {
    match (inner.interval(), outer.interval()) {
        (Some((s1, e1)), Some((s2, e2))) => inner.date == outer.date && s1 >= s2 && e1 <= e2,
        _ => false,
    }
}

/// Art. 5: an enabled professional records a service they delivered.
pub fn record(
    file: &CaseFile,
    c: &RecordEntry,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let cf = ctx.person()?.clone();
    ctx.phase_rules(c.phase)?;
    require_open_diary(file, c.phase)?;
    if file.entries.contains_key(&c.entry_id) {
        return Err(DomainError::EntryIdAlreadyUsed(c.entry_id));
    }
    let enabled = enabled_figures(file, ctx, c.phase, &cf)?;
    check_catalogue(ctx, c.phase, &enabled, &c.figure, &c.service)?;
    check_slot(file, ctx, &cf, &c.slot, None)?;
    let failure = check_window(file, ctx, c.phase, &c.slot, c.system_failure_id, false)?;
    Ok(vec![CaseEvent::EntryRecorded {
        entry_id: c.entry_id,
        phase: c.phase,
        professional: cf,
        figure: c.figure.clone(),
        service: c.service.clone(),
        slot: c.slot,
        minutes: c.slot.minutes(),
        system_failure_id: failure,
        rate: Some(ctx.rate_on(&c.figure, c.slot.date)),
        at: ctx.now,
    }])
}

/// Art. 5: the author corrects a material error ("errore materiale"), saying which, while the
/// entry is editable; a new date must still respect the 15-day window (Art. 9 exception
/// included), and after the window the correction cannot make the entry worth more. The
/// responsabile may only shorten the entry of a professional no longer enabled.
pub fn amend(
    file: &CaseFile,
    c: &AmendEntry,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let (cf, changer, entry) = editable_entry(file, ctx, c.entry_id)?;
    let reason = given_reason(c.reason.as_deref()).ok_or(DomainError::CorrectionReasonMissing)?;
    match changer {
        Changer::Author => {
            let enabled = enabled_figures(file, ctx, entry.phase, &cf)?;
            check_catalogue(ctx, entry.phase, &enabled, &c.figure, &c.service)?;
        }
        Changer::Responsabile => {
            if c.figure != entry.figure
                || c.service != entry.service
                || !within(&c.slot, &entry.slot)
            {
                return Err(DomainError::ResponsabileMayOnlyShorten);
            }
        }
    }
    check_slot(file, ctx, &entry.professional, &c.slot, Some(entry.id))?;
    check_late_amendment(file, ctx, entry, c)?;
    let failure = if c.slot.date == entry.slot.date {
        entry.system_failure_id
    } else {
        check_window(file, ctx, entry.phase, &c.slot, c.system_failure_id, true)?
    };
    if entry.figure == c.figure
        && entry.service == c.service
        && entry.slot == c.slot
        && entry.system_failure_id == failure
    {
        return Ok(Vec::new());
    }
    Ok(vec![CaseEvent::EntryAmended {
        entry_id: entry.id,
        figure: c.figure.clone(),
        service: c.service.clone(),
        slot: c.slot,
        minutes: c.slot.minutes(),
        system_failure_id: failure,
        rate: Some(ctx.rate_on(&c.figure, c.slot.date)),
        reason: Some(reason),
        by: cf,
        at: ctx.now,
    }])
}

/// Art. 5: the author withdraws an entry while it is editable; the responsabile withdraws
/// the entry of a professional no longer enabled, saying why.
pub fn withdraw(
    file: &CaseFile,
    c: &WithdrawEntry,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let (cf, changer, entry) = editable_entry(file, ctx, c.entry_id)?;
    let reason = given_reason(c.reason.as_deref());
    if changer == Changer::Responsabile && reason.is_none() {
        return Err(DomainError::CorrectionReasonMissing);
    }
    Ok(vec![CaseEvent::EntryWithdrawn {
        entry_id: entry.id,
        reason,
        by: cf,
        at: ctx.now,
    }])
}

/// Art. 5-6: in whole-diary phases the responsabile validates entries; validated entries are
/// no longer editable by their authors.
pub fn validate(
    file: &CaseFile,
    c: &ValidateEntries,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let rules = ctx.phase_rules(c.phase)?;
    let by = require_phase_responsabile(file, ctx, c.phase)?;
    if rules.confirmation != ConfirmationMode::WholeDiaryAtClosure {
        return Err(DomainError::ValidationNotApplicable(c.phase));
    }
    require_open_diary(file, c.phase)?;
    let ids: Vec<Uuid> = match &c.entry_ids {
        None => file
            .live_entries(c.phase)
            .filter(|e| !e.validated)
            .map(|e| e.id)
            .collect(),
        Some(list) => {
            let mut out = Vec::new();
            for id in list {
                let e = live_entry(file, *id)?;
                if e.phase != c.phase {
                    return Err(DomainError::EntryNotInPhase {
                        entry: *id,
                        phase: c.phase,
                    });
                }
                if !e.validated && !out.contains(id) {
                    out.push(*id);
                }
            }
            out
        }
    };
    if ids.is_empty() {
        return Err(DomainError::NothingToValidate(c.phase));
    }
    Ok(vec![CaseEvent::EntriesValidated {
        phase: c.phase,
        entry_ids: ids,
        by,
        at: ctx.now,
    }])
}

/// Art. 5-6: before closing, the responsabile withdraws a validation (with a reason), so that
/// the entries can be corrected and a phase whose closure checklist fails is not stuck.
pub fn withdraw_validation(
    file: &CaseFile,
    c: &WithdrawValidation,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let rules = ctx.phase_rules(c.phase)?;
    let by = require_phase_responsabile(file, ctx, c.phase)?;
    if rules.confirmation != ConfirmationMode::WholeDiaryAtClosure {
        return Err(DomainError::ValidationNotApplicable(c.phase));
    }
    require_open_diary(file, c.phase)?;
    let reason = given_reason(c.reason.as_deref()).ok_or(DomainError::ReasonRequired)?;
    let mut ids = Vec::new();
    match &c.entry_ids {
        None => ids.extend(
            file.live_entries(c.phase)
                .filter(|e| e.validated && !e.confirmed)
                .map(|e| e.id),
        ),
        Some(list) => {
            for id in list {
                let e = live_entry(file, *id)?;
                if e.phase != c.phase {
                    return Err(DomainError::EntryNotInPhase {
                        entry: *id,
                        phase: c.phase,
                    });
                }
                if e.confirmed {
                    return Err(DomainError::EntryConfirmed(*id));
                }
                if e.validated && !ids.contains(id) {
                    ids.push(*id);
                }
            }
        }
    }
    if ids.is_empty() {
        return Err(DomainError::NoValidationToWithdraw(c.phase));
    }
    Ok(vec![CaseEvent::ValidationWithdrawn {
        phase: c.phase,
        entry_ids: ids,
        reason,
        by,
        at: ctx.now,
    }])
}

/// Art. 9: a late registration is made "con il supporto dell'assistenza": the support desk
/// co-signs the entry recorded under a declared failure; it stays its author's (Art. 5:
/// "associata al CF del professionista") and counts only once co-signed (Art. 8 checklist).
pub fn cosign_late(
    file: &CaseFile,
    c: &CosignLateEntry,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = match &ctx.actor {
        crate::actor::Actor::Person {
            fiscal_code,
            role: crate::actor::ActorRole::Support,
        } => fiscal_code.clone(),
        _ => return Err(DomainError::NotSupportDesk),
    };
    let entry = live_entry(file, c.entry_id)?;
    let Some(failure) = entry.system_failure_id else {
        return Err(DomainError::NotALateEntry(entry.id));
    };
    if entry.confirmed {
        return Err(DomainError::EntryConfirmed(entry.id));
    }
    if entry.cosigned_by.is_some() {
        return Ok(Vec::new());
    }
    Ok(vec![CaseEvent::LateEntryCosigned {
        entry_id: entry.id,
        system_failure_id: failure,
        by,
        at: ctx.now,
    }])
}
