//! The `Case` aggregate as a decider: [`decide`] turns a command into events (or refuses it
//! with a [`DomainError`]), [`evolve`] folds an event into the state. Both are pure: the
//! clock, the actor, the measure and the known system failures come in the [`Context`].

pub mod closure;
pub mod commands;
pub mod confirmation;
pub mod documents;
pub mod entries;
pub mod events;
mod evolve;
pub mod pathway;
pub mod setup;
pub mod state;

use chrono::{DateTime, Utc};

use crate::catalogue::{Measure, PhaseRules};
use crate::failures::SystemFailure;
use crate::values::{FiscalCode, Phase};

pub use crate::actor::{Actor, ActorRole};
pub use crate::error::DomainError;
pub use commands::*;
pub use events::{CaseEvent, RefusedAnswer, RequestScope, UpcastError, upcast};
pub use evolve::evolve;
pub use state::{
    CaseFile, CaseState, ConfirmationChannel, Diary, DiaryStatus, DocumentRef, DocumentShare,
    Entry, FormalCheck, Interruption, ObjectivesDeclaration, PathwayDocument, Pdi, PdiCap,
    PdiRaise, PhaseTotals, Recipient, Rejection, Request, RequestStatus, Scan, ScanCheck,
    Undelivered,
};

/// Everything the decider needs besides the state and the command. No hidden clock: `now`
/// is the instant the command is decided at.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// Who is acting.
    pub actor: Actor,
    /// The current instant.
    pub now: DateTime<Utc>,
    /// The measure the case runs under.
    pub measure: &'a Measure,
    /// Art. 9: failures declared by the support desk (the caller loads them).
    pub failures: &'a [SystemFailure],
    /// Every version of the measure, oldest first (empty: `measure` is the only one): an
    /// entry is priced by the version in force on its delivery date.
    pub versions: &'a [&'a Measure],
}

impl<'a> Context<'a> {
    /// A context with no declared failures.
    pub fn new(actor: Actor, now: DateTime<Utc>, measure: &'a Measure) -> Self {
        Context {
            actor,
            now,
            measure,
            failures: &[],
            versions: &[],
        }
    }

    /// The same context with every version of the measure (oldest first).
    pub fn with_versions(mut self, versions: &'a [&'a Measure]) -> Self {
        self.versions = versions;
        self
    }

    /// The rate of `figure` for a service delivered on `date`: from the version in force on
    /// that date (`measure` when no versions are given).
    pub fn rate_on(
        &self,
        figure: &crate::values::FigureId,
        date: chrono::NaiveDate,
    ) -> crate::Rate {
        crate::catalogue::version_on(self.versions, date)
            .unwrap_or(self.measure)
            .rate(figure)
    }

    /// The same context with the known system failures.
    pub fn with_failures(mut self, failures: &'a [SystemFailure]) -> Self {
        self.failures = failures;
        self
    }

    /// The acting person's CF, or `PersonRequired` (Art. 4).
    pub(crate) fn person(&self) -> Result<&FiscalCode, DomainError> {
        self.actor.fiscal_code().ok_or(DomainError::PersonRequired)
    }

    /// The measure's rules for a phase.
    pub(crate) fn phase_rules(&self, phase: Phase) -> Result<&'a PhaseRules, DomainError> {
        self.measure
            .phase(phase)
            .ok_or(DomainError::PhaseNotInMeasure(phase))
    }
}

/// Art. 4: the acting person must be the responsabile of the ente that keeps `phase`.
pub(crate) fn require_phase_responsabile(
    file: &CaseFile,
    ctx: &Context<'_>,
    phase: Phase,
) -> Result<FiscalCode, DomainError> {
    let rules = ctx.phase_rules(phase)?;
    let cf = ctx.person()?;
    if file.responsabile(rules.registered_by) == Some(cf) {
        Ok(cf.clone())
    } else {
        Err(DomainError::NotPhaseResponsabile {
            phase,
            ente: rules.registered_by,
        })
    }
}

/// A reason as kept: trimmed, and none when blank.
pub(crate) fn given_reason(reason: Option<&str>) -> Option<String> {
    reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}

/// The diary of `phase` must be open for recording (Art. 5: nothing after closure).
pub(crate) fn require_open_diary(file: &CaseFile, phase: Phase) -> Result<&Diary, DomainError> {
    let diary = file
        .diaries
        .get(&phase)
        .ok_or(DomainError::DiaryNotOpened(phase))?;
    if diary.status == DiaryStatus::Open {
        Ok(diary)
    } else {
        Err(DomainError::DiaryClosed(phase))
    }
}

/// Decides a command against the current state. Returns the events to append (possibly none
/// when the command changes nothing) or the rule that refuses it.
pub fn decide(
    state: &CaseState,
    command: &CaseCommand,
    ctx: &Context<'_>,
) -> Result<Vec<CaseEvent>, DomainError> {
    if let CaseCommand::OpenCase(c) = command {
        return setup::open_case(state, c, ctx);
    }
    let file = state.file()?;
    if file.measure_id != ctx.measure.id {
        return Err(DomainError::MeasureMismatch {
            case: file.measure_id.clone(),
            given: ctx.measure.id.clone(),
        });
    }
    // Checking a scan verifies what was recorded before; it stays possible after an
    // interruption (the hours it confirms are still claimed).
    if let CaseCommand::CheckPaperScan(c) = command {
        return documents::check_scan(file, c, ctx);
    }
    // Art. 6: the interruption closes the pathway; nothing else is recorded afterwards.
    if file.interrupted_at.is_some() {
        return Err(DomainError::PathwayClosed);
    }
    match command {
        CaseCommand::OpenCase(_) => Err(DomainError::CaseAlreadyOpened),
        CaseCommand::ChangeResponsabile(c) => setup::change_responsabile(file, c, ctx),
        CaseCommand::ChangeRecipientEnrolment(c) => setup::change_enrolment(file, c, ctx),
        CaseCommand::ChangeCaseManager(c) => setup::change_case_manager(file, c, ctx),
        CaseCommand::ChangeConfirmers(c) => setup::change_confirmers(file, c, ctx),
        CaseCommand::CosignLateEntry(c) => entries::cosign_late(file, c, ctx),
        CaseCommand::WithdrawValidation(c) => entries::withdraw_validation(file, c, ctx),
        CaseCommand::CancelPaperDiary(c) => confirmation::cancel_paper(file, c, ctx),
        CaseCommand::OpenPhaseDiary(c) => setup::open_phase_diary(file, c, ctx),
        CaseCommand::EnableProfessional(c) => setup::enable_professional(file, c, ctx),
        CaseCommand::DisableProfessional(c) => setup::disable_professional(file, c, ctx),
        CaseCommand::SetPdiCaps(c) => setup::set_pdi_caps(file, c, ctx),
        CaseCommand::RecordEntry(c) => entries::record(file, c, ctx),
        CaseCommand::AmendEntry(c) => entries::amend(file, c, ctx),
        CaseCommand::WithdrawEntry(c) => entries::withdraw(file, c, ctx),
        CaseCommand::ValidateEntries(c) => entries::validate(file, c, ctx),
        CaseCommand::ClosePhaseDiary(c) => closure::close_phase_diary(file, c, ctx),
        CaseCommand::InterruptPathway(c) => closure::interrupt(file, c, ctx),
        CaseCommand::RequestConfirmation(c) => confirmation::request(file, c, ctx),
        CaseCommand::ResendConfirmation(c) => confirmation::resend(file, c, ctx),
        CaseCommand::AnswerConfirmation(c) => confirmation::answer(file, c, ctx),
        CaseCommand::ExpireConfirmationRequest(c) => confirmation::expire(file, c, ctx),
        CaseCommand::RecordNotificationDelivery(c) => confirmation::record_delivery(file, c, ctx),
        CaseCommand::RecordNotificationUndelivered(c) => {
            confirmation::record_undelivered(file, c, ctx)
        }
        CaseCommand::CancelConfirmationRequest(c) => confirmation::cancel_request(file, c, ctx),
        CaseCommand::GeneratePaperDiary(c) => confirmation::generate_paper(file, c, ctx),
        CaseCommand::UploadPaperConfirmation(c) => confirmation::upload_paper(file, c, ctx),
        CaseCommand::AddDocument(c) => documents::add(file, c, ctx),
        CaseCommand::ShareDocument(c) => documents::share(file, c, ctx),
        CaseCommand::AnswerDocument(c) => documents::answer(file, c, ctx),
        CaseCommand::CheckPaperScan(c) => documents::check_scan(file, c, ctx),
        CaseCommand::SuspendPathway(c) => pathway::suspend(file, c, ctx),
        CaseCommand::ReactivatePathway(c) => pathway::reactivate(file, c, ctx),
        CaseCommand::AuthoriseSuspension(c) => pathway::authorise(file, c, ctx),
        CaseCommand::DeclareObjectives(c) => pathway::declare_objectives(file, c, ctx),
        CaseCommand::RecordFormalCheck(c) => pathway::formal_check(file, state.version, c, ctx),
    }
}

/// Folds a sequence of events from the empty state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a CaseEvent>) -> CaseState {
    events.into_iter().fold(CaseState::default(), evolve)
}
