//! The voucher of a case under a voucher measure (seed 003): assigned when the case opens
//! (§10), suspended and reactivated by the case manager and the extension authorised by the
//! Region (§9 E), the objectives declared with the final report and the formal check of the
//! diaries (§9 D, §12). The rules themselves are `crate::voucher`'s.

use chrono::NaiveDate;

use super::commands::{
    AssignVoucher, AuthoriseSuspension, DeclareObjectives, OpenCase, ReactivatePathway,
    RecordFormalCheck, SuspendPathway,
};
use super::events::CaseEvent;
use super::state::CaseFile;
use super::{ActorRole, Context, DomainError, given_reason};
use crate::values::{FiscalCode, civil_date};
use crate::voucher::{CaseVoucher, Suspension, terms};

/// §10: the voucher a new case holds: required under a voucher measure, refused otherwise.
pub(crate) fn assign(
    c: &OpenCase,
    ctx: &Context<'_>,
    by: &FiscalCode,
) -> Result<Option<CaseEvent>, DomainError> {
    let Some(terms) = &ctx.measure.voucher else {
        return match c.voucher {
            Some(_) => Err(DomainError::VoucherNotApplicable),
            None => Ok(None),
        };
    };
    let AssignVoucher { intensity, start } =
        c.voucher.as_ref().ok_or(DomainError::VoucherRequired)?;
    if !ctx.measure.intensities.iter().any(|i| &i.id == intensity) {
        return Err(crate::voucher::VoucherError::UnknownIntensity(intensity.clone()).into());
    }
    let start = start.unwrap_or_else(|| civil_date(ctx.now));
    if let Some(last) = terms.activities_end
        && start > last
    {
        return Err(crate::voucher::VoucherError::OutsideValidity {
            date: start,
            start,
            end: last,
        }
        .into());
    }
    Ok(Some(CaseEvent::VoucherAssigned {
        intensity: intensity.clone(),
        start,
        by: by.clone(),
        at: ctx.now,
    }))
}

/// §9 E, §10: a service is delivered within the voucher's validity and not while suspended
/// (nothing to check for a case without a voucher).
pub(crate) fn check_activity(
    file: &CaseFile,
    ctx: &Context<'_>,
    date: NaiveDate,
) -> Result<(), DomainError> {
    let (Some(voucher), Some(terms)) = (&file.voucher, &ctx.measure.voucher) else {
        return Ok(());
    };
    voucher.check_activity_on(terms, date, civil_date(ctx.now))?;
    Ok(())
}

fn voucher_of<'f>(file: &'f CaseFile, ctx: &Context<'_>) -> Result<&'f CaseVoucher, DomainError> {
    ctx.measure
        .voucher
        .as_ref()
        .and(file.voucher.as_ref())
        .ok_or(DomainError::VoucherNotApplicable)
}

/// §9 D: the case's case manager.
fn require_case_manager(file: &CaseFile, ctx: &Context<'_>) -> Result<FiscalCode, DomainError> {
    let cf = ctx.person()?;
    if &file.case_manager == cf {
        Ok(cf.clone())
    } else {
        Err(DomainError::NotTheCaseManager)
    }
}

/// §9 E: the case manager communicates a suspension from a day: it keeps every suspension
/// apart and the total within the limit, and no service is recorded on its days.
pub fn suspend(
    file: &CaseFile,
    c: &SuspendPathway,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = require_case_manager(file, ctx)?;
    let voucher = voucher_of(file, ctx)?;
    let reason = given_reason(Some(&c.reason)).ok_or(DomainError::ReasonRequired)?;
    let terms = terms(ctx.measure)?;
    let today = civil_date(ctx.now);
    let suspension = Suspension {
        from: c.from,
        reactivated_on: None,
        authorised: false,
    };
    voucher.check_activity_on(terms, c.from, today)?;
    if voucher.suspensions.iter().any(|s| s.from == c.from) {
        return Err(crate::voucher::VoucherError::SuspensionOverlaps(c.from).into());
    }
    voucher.check_suspension(terms, &suspension, today.max(c.from))?;
    if let Some(e) = file
        .entries
        .values()
        .find(|e| !e.withdrawn && suspension.covers(e.slot.date))
    {
        return Err(crate::voucher::VoucherError::Suspended {
            date: e.slot.date,
            since: c.from,
        }
        .into());
    }
    Ok(vec![CaseEvent::PathwaySuspended {
        from: c.from,
        reason,
        by,
        at: ctx.now,
    }])
}

/// §9 E: the case manager communicates the reactivation of the open suspension; the days in
/// between count against the limit.
pub fn reactivate(
    file: &CaseFile,
    c: &ReactivatePathway,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = require_case_manager(file, ctx)?;
    let voucher = voucher_of(file, ctx)?;
    let open = voucher
        .suspensions
        .iter()
        .find(|s| s.from == c.suspended_from)
        .ok_or(DomainError::SuspensionNotFound(c.suspended_from))?;
    if open.reactivated_on.is_some() {
        return Err(DomainError::NoOpenSuspension);
    }
    let closed = Suspension {
        reactivated_on: Some(c.on),
        ..open.clone()
    };
    voucher.check_suspension(terms(ctx.measure)?, &closed, civil_date(ctx.now))?;
    Ok(vec![CaseEvent::PathwayReactivated {
        suspended_from: open.from,
        on: c.on,
        by,
        at: ctx.now,
    }])
}

/// §9 E: the Region (an ATS operator) authorises the extension of the terms for a suspension.
pub fn authorise(
    file: &CaseFile,
    c: &AuthoriseSuspension,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = ctx.person()?.clone();
    if ctx.actor.role() != Some(ActorRole::AtsOperator) {
        return Err(DomainError::NotAtsOperator);
    }
    let voucher = voucher_of(file, ctx)?;
    let s = voucher
        .suspensions
        .iter()
        .find(|s| s.from == c.suspended_from)
        .ok_or(DomainError::SuspensionNotFound(c.suspended_from))?;
    if s.authorised {
        return Err(DomainError::SuspensionAlreadyAuthorised(s.from));
    }
    Ok(vec![CaseEvent::SuspensionAuthorised {
        suspended_from: s.from,
        by,
        at: ctx.now,
    }])
}

/// §9 D, §12: the case manager declares the objectives achieved or not, with a recorded final
/// individual report; a later declaration replaces it.
pub fn declare_objectives(
    file: &CaseFile,
    c: &DeclareObjectives,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = require_case_manager(file, ctx)?;
    voucher_of(file, ctx)?;
    let kind = terms(ctx.measure)?
        .final_report_document
        .clone()
        .unwrap_or_default();
    let document = file
        .documents
        .get(&c.document_id)
        .filter(|d| d.kind == kind)
        .ok_or_else(|| DomainError::FinalReportRequired(kind.clone()))?;
    Ok(vec![CaseEvent::ObjectivesDeclared {
        achieved: c.achieved,
        document: document.reference(),
        by,
        at: ctx.now,
    }])
}

/// §9 D: the case manager records the formal check of the calendars and diaries; a failed
/// check says what was found.
pub fn formal_check(
    file: &CaseFile,
    version: u64,
    c: &RecordFormalCheck,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    let by = require_case_manager(file, ctx)?;
    voucher_of(file, ctx)?;
    let note = given_reason(c.note.as_deref());
    if !c.passed && note.is_none() {
        return Err(DomainError::ReasonRequired);
    }
    Ok(vec![CaseEvent::FormalCheckRecorded {
        passed: c.passed,
        note,
        checked_version: version,
        by,
        at: ctx.now,
    }])
}
