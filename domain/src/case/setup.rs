//! Case set-up: opening the case, responsabili, phase diaries, professionals and PDI caps
//! (Art. 4, Art. 8 for the PDI).

use std::collections::BTreeSet;

use super::commands::{
    ChangeCaseManager, ChangeConfirmers, ChangeRecipientEnrolment, ChangeResponsabile,
    DisableProfessional, EnableProfessional, OpenCase, OpenPhaseDiary, SetPdiCaps,
};
use super::events::CaseEvent;
use super::state::{CaseFile, CaseState, DiaryStatus, PdiCap};
use super::{ActorRole, Context, DomainError, given_reason, require_phase_responsabile};
use crate::values::FiscalCode;

/// ATS registers the case and its responsabili (Art. 4: "comunicato all'ATS ... per
/// l'inserimento in BeS al momento dell'assegnazione della pratica").
pub fn open_case(
    state: &CaseState,
    c: &OpenCase,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    if state.file.is_some() {
        return Err(DomainError::CaseAlreadyOpened);
    }
    let by = ctx.person()?.clone();
    if ctx.actor.role() != Some(ActorRole::AtsOperator) {
        return Err(DomainError::NotAtsOperator);
    }
    if c.measure_id != ctx.measure.id {
        return Err(DomainError::MeasureMismatch {
            case: c.measure_id.clone(),
            given: ctx.measure.id.clone(),
        });
    }
    if ctx.measure.cost_model == crate::catalogue::CostModel::ActualStaffCost {
        return Err(DomainError::PlanMeasure(c.measure_id.clone()));
    }
    let staff = [
        &c.responsabile_asst,
        &c.responsabile_provider,
        &c.case_manager,
    ];
    check_confirmers(&c.recipient.confirmers, c.recipient.minor, staff)?;
    check_pseudonym(&c.recipient.pseudonym)?;
    let voucher = super::pathway::assign(c, ctx, &by)?;
    let mut events = vec![CaseEvent::CaseOpened {
        case_id: c.case_id,
        measure_id: c.measure_id.clone(),
        ats: c.ats.clone(),
        asst: c.asst.clone(),
        provider: c.provider.clone(),
        responsabile_asst: c.responsabile_asst.clone(),
        responsabile_provider: c.responsabile_provider.clone(),
        case_manager: c.case_manager.clone(),
        recipient: c.recipient.clone(),
        by,
        at: ctx.now,
    }];
    events.extend(voucher);
    Ok(events)
}

/// Art. 6: someone confirms: the adult recipient personally (one confirmer), or a minor's
/// family; never someone who works on the case ("nobody confirms their own hours").
fn check_confirmers<'a>(
    confirmers: &[FiscalCode],
    minor: bool,
    staff: impl IntoIterator<Item = &'a FiscalCode>,
) -> Result<(), DomainError> {
    if confirmers.is_empty() {
        return Err(DomainError::NoConfirmers);
    }
    if !minor && confirmers.len() > 1 {
        return Err(DomainError::AdultConfirmsPersonally);
    }
    for s in staff {
        if confirmers.contains(s) {
            return Err(DomainError::ConfirmerIsStaff(s.clone()));
        }
    }
    Ok(())
}

/// Everyone who works on the case: responsabili, case manager, enabled professionals.
fn staff_of(file: &CaseFile) -> impl Iterator<Item = &FiscalCode> {
    file.responsabili
        .values()
        .chain(std::iter::once(&file.case_manager))
        .chain(file.professionals.keys().map(|(_, cf)| cf))
}

/// Art. 6 (the other order): a confirmer cannot join the case's staff.
fn not_a_confirmer(file: &CaseFile, cf: &FiscalCode) -> Result<(), DomainError> {
    if file.recipient.confirmers.contains(cf) {
        return Err(DomainError::ConfirmerIsStaff(cf.clone()));
    }
    Ok(())
}

/// Art. 6: the ATS, or a responsabile saying why, changes who confirms; the same rules as at
/// opening.
pub fn change_confirmers(
    file: &CaseFile,
    c: &ChangeConfirmers,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = ctx.person()?.clone();
    let ats = ctx.actor.role() == Some(ActorRole::AtsOperator);
    if !ats && !file.is_any_responsabile(&by) {
        return Err(DomainError::EnrolmentChangeNotAllowed);
    }
    let reason = given_reason(c.reason.as_deref());
    if !ats && reason.is_none() {
        return Err(DomainError::ReasonRequired);
    }
    check_confirmers(&c.confirmers, file.recipient.minor, staff_of(file))?;
    if c.confirmers == file.recipient.confirmers {
        return Ok(Vec::new());
    }
    Ok(vec![CaseEvent::ConfirmersChanged {
        previous: file.recipient.confirmers.clone(),
        confirmers: c.confirmers.clone(),
        reason,
        by,
        at: ctx.now,
    }])
}

/// The longest pseudonym accepted (a reference, not a description).
pub const MAX_PSEUDONYM_CHARS: usize = 64;

/// Art. 10 (GDPR minimisation): the recipient is known to the service by a pseudonym only. An
/// empty one identifies nobody; one that is, or contains, a fiscal code is not a pseudonym.
fn check_pseudonym(pseudonym: &str) -> Result<(), DomainError> {
    let p = pseudonym.trim();
    let refuse = |why: &str| Err(DomainError::InvalidPseudonym(why.to_owned()));
    if p.is_empty() {
        return refuse("è vuoto");
    }
    if p.chars().count() > MAX_PSEUDONYM_CHARS {
        return refuse("supera 64 caratteri");
    }
    if p.chars().any(char::is_control) {
        return refuse("contiene caratteri di controllo");
    }
    let compact: String = p.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let contains_cf = p
        .split(|c: char| !c.is_ascii_alphanumeric())
        .chain(std::iter::once(compact.as_str()))
        .any(|token| {
            token.len() >= 16
                && (0..=token.len() - 16).any(|i| {
                    token.is_char_boundary(i) && crate::FiscalCode::parse(&token[i..i + 16]).is_ok()
                })
        });
    if contains_cf {
        return refuse("contiene un codice fiscale");
    }
    Ok(())
}

/// Art. 4: the ente may change its responsabile (its administrator or the current
/// responsabile), and ATS, which registered it, may too.
pub fn change_responsabile(
    file: &CaseFile,
    c: &ChangeResponsabile,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = ctx.person()?.clone();
    let current = file.responsabile(c.ente).cloned();
    let allowed = matches!(
        ctx.actor.role(),
        Some(ActorRole::AtsOperator | ActorRole::EnteAdmin)
    ) || current.as_ref() == Some(&by);
    if !allowed {
        return Err(DomainError::ResponsabileChangeNotAllowed(c.ente));
    }
    let Some(previous) = current else {
        return Err(DomainError::ResponsabileChangeNotAllowed(c.ente));
    };
    not_a_confirmer(file, &c.responsabile)?;
    if previous == c.responsabile {
        return Ok(Vec::new());
    }
    Ok(vec![CaseEvent::ResponsabileChanged {
        ente: c.ente,
        previous,
        responsabile: c.responsabile.clone(),
        by,
        at: ctx.now,
    }])
}

/// Art. 3-4: the ATS that registered the case replaces its case manager, like the responsabili.
pub fn change_case_manager(
    file: &CaseFile,
    c: &ChangeCaseManager,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = ctx.person()?.clone();
    if ctx.actor.role() != Some(ActorRole::AtsOperator) {
        return Err(DomainError::NotAtsOperator);
    }
    if file.case_manager == c.case_manager {
        return Ok(Vec::new());
    }
    not_a_confirmer(file, &c.case_manager)?;
    Ok(vec![CaseEvent::CaseManagerChanged {
        previous: file.case_manager.clone(),
        case_manager: c.case_manager.clone(),
        by,
        at: ctx.now,
    }])
}

/// Records whether the confirmers use FirmaLOM (ATS or a responsabile).
pub fn change_enrolment(
    file: &CaseFile,
    c: &ChangeRecipientEnrolment,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = ctx.person()?.clone();
    if ctx.actor.role() != Some(ActorRole::AtsOperator) && !file.is_any_responsabile(&by) {
        return Err(DomainError::EnrolmentChangeNotAllowed);
    }
    if file.recipient.firmalom_enrolled == c.firmalom_enrolled {
        return Ok(Vec::new());
    }
    Ok(vec![CaseEvent::RecipientEnrolmentChanged {
        firmalom_enrolled: c.firmalom_enrolled,
        by,
        at: ctx.now,
    }])
}

/// Art. 4: only the phase's responsabile opens its diary; phases follow the order of Art. 1.
pub fn open_phase_diary(
    file: &CaseFile,
    c: &OpenPhaseDiary,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = require_phase_responsabile(file, ctx, c.phase)?;
    if file.diaries.contains_key(&c.phase) {
        return Err(DomainError::DiaryAlreadyOpened(c.phase));
    }
    // The previous phase the measure defines must have been opened first.
    let previous = ctx
        .measure
        .phases
        .iter()
        .map(|p| p.phase)
        .filter(|p| *p < c.phase)
        .max();
    if let Some(previous) = previous
        && !file.diaries.contains_key(&previous)
    {
        return Err(DomainError::PreviousPhaseNotOpened {
            phase: c.phase,
            previous,
        });
    }
    Ok(vec![CaseEvent::PhaseDiaryOpened {
        phase: c.phase,
        by,
        at: ctx.now,
    }])
}

fn require_ente_responsabile(
    file: &CaseFile,
    ctx: &Context<'_>,
    ente: crate::values::Ente,
) -> Result<crate::values::FiscalCode, DomainError> {
    let cf = ctx.person()?;
    if file.responsabile(ente) == Some(cf) {
        Ok(cf.clone())
    } else {
        Err(DomainError::NotEnteResponsabile(ente))
    }
}

/// Art. 4: the ente's responsabile enables the professionals who record hours, with the
/// figures they may record under (figures from the measure's list, Art. 5 ii).
pub fn enable_professional(
    file: &CaseFile,
    c: &EnableProfessional,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = require_ente_responsabile(file, ctx, c.ente)?;
    if c.figures.is_empty() {
        return Err(DomainError::NoFiguresGiven);
    }
    not_a_confirmer(file, &c.professional)?;
    for f in &c.figures {
        if ctx.measure.figure(f).is_none() {
            return Err(DomainError::FigureNotInCatalogue(f.clone()));
        }
    }
    // Art. 3: the case manager's hours are the case manager's: the figure is the designated
    // case manager's, of the ente the measure names.
    if let Some(cm) = &ctx.measure.case_manager_figure
        && c.figures.contains(cm)
        && (c.professional != file.case_manager
            || ctx.measure.case_manager_ente.is_some_and(|e| e != c.ente))
    {
        return Err(DomainError::CaseManagerFigureReserved(cm.clone()));
    }
    let figures: BTreeSet<_> = c.figures.iter().cloned().collect();
    if file.professionals.get(&(c.ente, c.professional.clone())) == Some(&figures) {
        return Ok(Vec::new());
    }
    Ok(vec![CaseEvent::ProfessionalEnabled {
        ente: c.ente,
        professional: c.professional.clone(),
        figures: figures.into_iter().collect(),
        by,
        at: ctx.now,
    }])
}

/// Art. 4: the ente's responsabile disables a professional; their entries stay.
pub fn disable_professional(
    file: &CaseFile,
    c: &DisableProfessional,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = require_ente_responsabile(file, ctx, c.ente)?;
    if !file
        .professionals
        .contains_key(&(c.ente, c.professional.clone()))
    {
        return Ok(Vec::new());
    }
    Ok(vec![CaseEvent::ProfessionalDisabled {
        ente: c.ente,
        professional: c.professional.clone(),
        by,
        at: ctx.now,
    }])
}

/// Art. 8: the PDI sets per-voucher caps for the phase where they apply (phase III in #UP).
/// Set by that phase's responsabile while its diary is not yet handed to ATS.
pub fn set_pdi_caps(
    file: &CaseFile,
    c: &SetPdiCaps,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let rules = ctx
        .measure
        .phases
        .iter()
        .find(|p| p.pdi_caps)
        .ok_or(DomainError::PdiNotApplicable)?;
    let phase = rules.phase;
    let by = require_phase_responsabile(file, ctx, phase)?;
    if let Some(d) = file.diaries.get(&phase)
        && d.status != DiaryStatus::Open
    {
        return Err(DomainError::DiaryClosed(phase));
    }
    let mut seen = BTreeSet::new();
    for cap in &c.caps {
        let in_phase = ctx
            .measure
            .service(&cap.service)
            .is_some_and(|s| s.phases.contains(&phase));
        if !in_phase || cap.max_minutes == 0 || !seen.insert(cap.service.clone()) {
            return Err(DomainError::InvalidPdiCap(cap.service.clone()));
        }
    }
    if c.total_max_minutes == Some(0) {
        return Err(DomainError::InvalidPdiCap(crate::values::ServiceId::new(
            "*",
        )));
    }
    // Art. 8: the caps are the PDI's; where the measure names the PDI document, they name the
    // version they come from (the latest recorded one unless another is named).
    let document = match (&ctx.measure.pdi_document, c.pdi_document_id) {
        (Some(kind), None) => Some(
            file.latest_document(kind)
                .ok_or_else(|| DomainError::PdiDocumentRequired(kind.clone()))?
                .reference(),
        ),
        (Some(kind), Some(id)) => {
            let doc = file
                .documents
                .get(&id)
                .ok_or(DomainError::DocumentNotFound(id))?;
            if &doc.kind != kind {
                return Err(DomainError::PdiDocumentRequired(kind.clone()));
            }
            Some(doc.reference())
        }
        (None, Some(id)) => Some(
            file.documents
                .get(&id)
                .ok_or(DomainError::DocumentNotFound(id))?
                .reference(),
        ),
        (None, None) => None,
    };
    let raised_after_hours = file.live_entries(phase).next().is_some()
        && file
            .pdi
            .as_ref()
            .is_some_and(|old| raises(old, &c.caps, c.total_max_minutes));
    let reason = given_reason(c.reason.as_deref());
    if raised_after_hours && reason.is_none() {
        return Err(DomainError::PdiRaiseReasonMissing);
    }
    Ok(vec![CaseEvent::PdiCapsSet {
        caps: c.caps.clone(),
        total_max_minutes: c.total_max_minutes,
        document,
        reason,
        raised_after_hours,
        by,
        at: ctx.now,
    }])
}

/// Whether new caps allow more than `old`: a service newly planned, a service cap higher, or
/// the overall cap higher or removed. (Dropping a service plans it out: that is a lowering.)
fn raises(old: &super::state::Pdi, caps: &[PdiCap], total: Option<u32>) -> bool {
    let total_up = match (old.total_max_minutes, total) {
        (Some(_), None) => true,
        (Some(before), Some(now)) => now > before,
        (None, _) => false,
    };
    total_up
        || caps.iter().any(|cap| {
            old.caps
                .iter()
                .find(|o| o.service == cap.service)
                .is_none_or(|o| cap.max_minutes > o.max_minutes)
        })
}
