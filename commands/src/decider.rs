//! The decider abstraction of the write side: a decider value carries one command and what the
//! rules need besides the state (the caller, the catalogue, the declared failures); `decide`
//! turns the current state into events and names who they are attributed to, `evolve` folds
//! an event into the state. The one executor ([`crate::CommandHandler::execute`]) runs every
//! decider the same way — load, decide, append with the expected version, retry on conflict,
//! `If-Match`, idempotency — for cases, system failures and grants alike.

use chrono::{DateTime, Utc};
use diario_domain::Organisations;
use diario_domain::agenda::{
    AgendaChanges, AgendaEvent, AgendaState, changes as agenda_changes, evolve_agenda,
    import_claims,
};
use diario_domain::grants::{GrantCommand, GrantEvent, GrantsState, decide_grant, evolve_grant};
use diario_domain::organisations::{
    OrganisationCommand, OrganisationEvent, decide_organisation, evolve_organisation,
};
use diario_domain::staff::{StaffCommand, StaffEvent, StaffState, decide_staff, evolve_staff};
use diario_domain::{
    Actor, CaseCommand, CaseEvent, CaseState, Catalogue, Context, DomainError, FailureCommand,
    FailureEvent, FailureState, FiscalCode, SystemFailure, decide, decide_failure, evolve,
    evolve_failure,
};
use diario_log::{LogEvent, StreamId};
use serde::Serialize;
use uuid::Uuid;

use crate::HandlerError;
use crate::access::Caller;

/// Who the events of a decision are attributed to (stored with every event; Art. 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub actor_cf: String,
    pub actor_role: String,
}

impl Attribution {
    /// A domain actor: the person's fiscal code and role, or the system.
    pub fn of(actor: &Actor) -> Attribution {
        match actor {
            Actor::Person { fiscal_code, role } => Attribution {
                actor_cf: fiscal_code.as_str().to_owned(),
                actor_role: role.as_str().to_owned(),
            },
            Actor::System => Attribution {
                actor_cf: "system".into(),
                actor_role: "system".into(),
            },
        }
    }
}

impl Attribution {
    /// An administrative command by `by` acting as `role`, or by an operator at the command
    /// line (`None`).
    pub fn admin(by: Option<&FiscalCode>, role: &str) -> Attribution {
        match by {
            Some(cf) => Attribution {
                actor_cf: cf.as_str().to_owned(),
                actor_role: role.to_owned(),
            },
            None => Attribution {
                actor_cf: "cli".into(),
                actor_role: "operator_cli".into(),
            },
        }
    }
}

/// The events a decider chose, and who they are attributed to.
#[derive(Debug, Clone)]
pub struct Decision<E> {
    pub by: Attribution,
    pub events: Vec<E>,
}

/// One command's decider.
pub trait Decider: Sync {
    /// The folded state of the stream (`Default` before its first event).
    type State: Default + Clone + Send + Sync + 'static;
    /// The events of the stream.
    type Event: LogEvent + Serialize + Clone + Send + Sync;

    /// The stream the command is decided on.
    fn stream(&self) -> StreamId;

    /// The decision on the current state at `now`, or the rule that refuses it.
    fn decide(
        &self,
        state: &Self::State,
        now: DateTime<Utc>,
    ) -> Result<Decision<Self::Event>, HandlerError>;

    /// Folds one event into the state.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// What the decision's events do to professionals' agendas (one professional, one hour):
    /// the executor checks each change on the agenda and appends it in the same transaction
    /// as the stream ([`crate::CommandHandler::execute`]). None by default.
    fn agenda_changes(&self, _state: &Self::State, _events: &[Self::Event]) -> Vec<AgendaChanges> {
        Vec::new()
    }
}

/// A case command (Art. 3–9), decided with the case's measure and the declared failures.
pub struct CaseDecider<'a> {
    pub case_id: Uuid,
    pub command: &'a CaseCommand,
    pub caller: &'a Caller<'a>,
    pub catalogue: &'a Catalogue,
    pub failures: &'a [SystemFailure],
    /// The registry, for a command that names organisations (`OpenCase`).
    pub organisations: Option<&'a Organisations>,
}

impl Decider for CaseDecider<'_> {
    type State = CaseState;
    type Event = CaseEvent;

    fn stream(&self) -> StreamId {
        StreamId::case(self.case_id)
    }

    fn decide(
        &self,
        state: &CaseState,
        now: DateTime<Utc>,
    ) -> Result<Decision<CaseEvent>, HandlerError> {
        let measure_id = match (self.command, &state.file) {
            (CaseCommand::OpenCase(c), _) => &c.measure_id,
            (_, Some(file)) => &file.measure_id,
            (_, None) => return Err(DomainError::CaseNotOpened.into()),
        };
        // The rules of the version in force today; each entry priced by the version in force
        // on its delivery date (`Context::rate_on`).
        let versions = self.catalogue.versions(measure_id);
        let measure =
            diario_domain::catalogue::version_on(&versions, diario_domain::values::civil_date(now))
                .ok_or_else(|| HandlerError::UnknownMeasure(measure_id.clone()))?;
        if let (CaseCommand::OpenCase(c), Some(registry)) = (self.command, self.organisations) {
            registry
                .check_case(&c.ats, &c.asst, &c.provider, measure.public_body())
                .map_err(DomainError::from)?;
        }
        let actor = self.caller.case_actor(self.command, state);
        let ctx = Context::new(actor, now, measure)
            .with_failures(self.failures)
            .with_versions(&versions);
        let events = decide(state, self.command, &ctx)?;
        Ok(Decision {
            by: Attribution::of(&ctx.actor),
            events,
        })
    }

    fn evolve(state: CaseState, event: &CaseEvent) -> CaseState {
        evolve(state, event)
    }

    fn agenda_changes(&self, state: &CaseState, events: &[CaseEvent]) -> Vec<AgendaChanges> {
        agenda_changes(state, self.case_id, events)
    }
}

/// The daily seal over the heads of every stream, read just before deciding.
pub struct SealDecider<'a> {
    pub heads: &'a [diario_domain::seal::SealedHead],
}

impl Decider for SealDecider<'_> {
    type State = diario_domain::seal::SealState;
    type Event = diario_domain::seal::SealEvent;

    fn stream(&self) -> StreamId {
        StreamId::seals()
    }

    fn decide(
        &self,
        state: &Self::State,
        now: DateTime<Utc>,
    ) -> Result<Decision<Self::Event>, HandlerError> {
        let day = diario_domain::values::civil_date(now);
        Ok(Decision {
            by: Attribution::of(&Actor::System),
            events: diario_domain::seal::decide_seal(state, self.heads, day, now),
        })
    }

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        diario_domain::seal::evolve_seal(state, event)
    }
}

/// A draw of a sample for controls by `by` (an ATS operator or auditor; the caller checks
/// the scope, [`crate::access::cost_scope`]).
pub struct SampleDecider<'a> {
    pub command: &'a diario_domain::sampling::DrawSample,
    pub by: &'a FiscalCode,
    pub role: &'a str,
}

impl Decider for SampleDecider<'_> {
    type State = diario_domain::sampling::SampleState;
    type Event = diario_domain::sampling::SampleEvent;

    fn stream(&self) -> StreamId {
        StreamId::sample(self.command.sample_id)
    }

    fn decide(
        &self,
        state: &Self::State,
        now: DateTime<Utc>,
    ) -> Result<Decision<Self::Event>, HandlerError> {
        Ok(Decision {
            by: Attribution::admin(Some(self.by), self.role),
            events: diario_domain::sampling::decide_sample(state, self.command, self.by, now)?,
        })
    }

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        diario_domain::sampling::evolve_sample(state, event)
    }
}

/// The one-off import of a professional's entries recorded before agendas existed
/// (`diario agenda import`): claims for every live entry of `cases` the agenda lacks.
pub struct AgendaImportDecider<'a> {
    pub professional: &'a FiscalCode,
    /// Every case with an entry by the professional, folded.
    pub cases: &'a [(Uuid, &'a CaseState)],
}

impl Decider for AgendaImportDecider<'_> {
    type State = AgendaState;
    type Event = AgendaEvent;

    fn stream(&self) -> StreamId {
        StreamId::agenda(self.professional)
    }

    fn decide(
        &self,
        state: &AgendaState,
        now: DateTime<Utc>,
    ) -> Result<Decision<AgendaEvent>, HandlerError> {
        Ok(Decision {
            by: Attribution::admin(None, "operator_cli"),
            events: import_claims(state, self.professional, self.cases, now),
        })
    }

    fn evolve(state: AgendaState, event: &AgendaEvent) -> AgendaState {
        evolve_agenda(state, event)
    }
}

/// A system-failure command (Art. 9).
pub struct FailureDecider<'a> {
    pub command: &'a FailureCommand,
    pub actor: &'a Actor,
}

impl FailureDecider<'_> {
    /// The failure the command is about.
    pub fn failure_id(&self) -> Uuid {
        match self.command {
            FailureCommand::DeclareSystemFailure { failure_id, .. }
            | FailureCommand::ResolveSystemFailure { failure_id, .. } => *failure_id,
        }
    }
}

impl Decider for FailureDecider<'_> {
    type State = FailureState;
    type Event = FailureEvent;

    fn stream(&self) -> StreamId {
        StreamId::failure(self.failure_id())
    }

    fn decide(
        &self,
        state: &FailureState,
        now: DateTime<Utc>,
    ) -> Result<Decision<FailureEvent>, HandlerError> {
        Ok(Decision {
            by: Attribution::of(self.actor),
            events: decide_failure(state, self.command, self.actor, now)?,
        })
    }

    fn evolve(state: FailureState, event: &FailureEvent) -> FailureState {
        evolve_failure(state, event)
    }
}

/// A grant command. `by` is the platform administrator (`None`: an operator at the command
/// line); who may do this is the caller's check ([`crate::access::manage_grants`]).
pub struct GrantDecider<'a> {
    pub command: &'a GrantCommand,
    pub by: Option<&'a FiscalCode>,
    pub organisations: &'a Organisations,
}

impl Decider for GrantDecider<'_> {
    type State = GrantsState;
    type Event = GrantEvent;

    fn stream(&self) -> StreamId {
        StreamId::grants()
    }

    fn decide(
        &self,
        state: &GrantsState,
        now: DateTime<Utc>,
    ) -> Result<Decision<GrantEvent>, HandlerError> {
        Ok(Decision {
            by: Attribution::admin(self.by, "platform_admin"),
            events: decide_grant(state, self.organisations, self.command, self.by, now)?,
        })
    }

    fn evolve(state: GrantsState, event: &GrantEvent) -> GrantsState {
        evolve_grant(state, event)
    }
}

/// An organisation command; who may do it is the caller's check
/// ([`crate::access::register_organisation`]). `role` is what the caller acted as.
pub struct OrganisationDecider<'a> {
    pub command: &'a OrganisationCommand,
    pub by: Option<&'a FiscalCode>,
    pub role: &'a str,
}

impl Decider for OrganisationDecider<'_> {
    type State = Organisations;
    type Event = OrganisationEvent;

    fn stream(&self) -> StreamId {
        StreamId::organisations()
    }

    fn decide(
        &self,
        state: &Organisations,
        now: DateTime<Utc>,
    ) -> Result<Decision<OrganisationEvent>, HandlerError> {
        Ok(Decision {
            by: Attribution::admin(self.by, self.role),
            events: decide_organisation(state, self.command, self.by, now)?,
        })
    }

    fn evolve(state: Organisations, event: &OrganisationEvent) -> Organisations {
        evolve_organisation(state, event)
    }
}

/// A staff command on the person's stream; who may do it is the caller's check
/// ([`crate::access::manage_staff`]).
pub struct StaffDecider<'a> {
    pub command: &'a StaffCommand,
    pub by: Option<&'a FiscalCode>,
    pub role: &'a str,
    pub organisations: &'a Organisations,
    pub catalogue: &'a Catalogue,
}

impl Decider for StaffDecider<'_> {
    type State = StaffState;
    type Event = StaffEvent;

    fn stream(&self) -> StreamId {
        StreamId::person(self.command.fiscal_code())
    }

    fn decide(
        &self,
        state: &StaffState,
        now: DateTime<Utc>,
    ) -> Result<Decision<StaffEvent>, HandlerError> {
        Ok(Decision {
            by: Attribution::admin(self.by, self.role),
            events: decide_staff(
                state,
                self.command,
                self.organisations,
                self.catalogue,
                self.by,
                now,
            )?,
        })
    }

    fn evolve(state: StaffState, event: &StaffEvent) -> StaffState {
        evolve_staff(state, event)
    }
}

/// A plan command (seed 004), decided with the plan's measure.
pub struct PlanDecider<'a> {
    pub plan_id: Uuid,
    pub command: &'a diario_domain::plan::PlanCommand,
    pub actor: &'a Actor,
    pub catalogue: &'a Catalogue,
}

impl Decider for PlanDecider<'_> {
    type State = diario_domain::plan::PlanState;
    type Event = diario_domain::plan::PlanEvent;

    fn stream(&self) -> StreamId {
        StreamId::plan(self.plan_id)
    }

    fn decide(
        &self,
        state: &Self::State,
        now: DateTime<Utc>,
    ) -> Result<Decision<Self::Event>, HandlerError> {
        use diario_domain::plan::{PlanCommand, PlanError};
        let measure_id = match (self.command, state) {
            (PlanCommand::OpenPlan { measure_id, .. }, _) => measure_id,
            (_, Some(plan)) => &plan.measure_id,
            (_, None) => return Err(PlanError::NotOpened.into()),
        };
        let measure = self
            .catalogue
            .get(measure_id)
            .ok_or_else(|| HandlerError::UnknownMeasure(measure_id.clone()))?;
        Ok(Decision {
            by: Attribution::of(self.actor),
            events: diario_domain::plan::decide_plan(
                state,
                self.command,
                measure,
                self.actor,
                now,
            )?,
        })
    }

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        diario_domain::plan::evolve_plan(state, event)
    }
}

/// A timesheet command (seed 004): the person's month, with the plan it names and the
/// person's cost records, read by the caller.
pub struct TimesheetDecider<'a> {
    pub person: &'a FiscalCode,
    pub month: diario_domain::timesheet::Month,
    pub command: &'a diario_domain::timesheet::TimesheetCommand,
    pub actor: &'a Actor,
    pub catalogue: &'a Catalogue,
    pub plan: Option<&'a diario_domain::plan::PlanFile>,
    pub cost_records: &'a [diario_domain::cost_records::CostRecord],
}

impl Decider for TimesheetDecider<'_> {
    type State = diario_domain::timesheet::TimesheetState;
    type Event = diario_domain::timesheet::TimesheetEvent;

    fn stream(&self) -> StreamId {
        StreamId::timesheet(self.person.as_str(), &self.month.key())
    }

    fn decide(
        &self,
        state: &Self::State,
        now: DateTime<Utc>,
    ) -> Result<Decision<Self::Event>, HandlerError> {
        use diario_domain::timesheet::TimesheetContext;
        let plan = self.plan.ok_or(diario_domain::plan::PlanError::NotOpened)?;
        let measure = self
            .catalogue
            .get(&plan.measure_id)
            .ok_or_else(|| HandlerError::UnknownMeasure(plan.measure_id.clone()))?;
        let ctx = TimesheetContext {
            person: self.person,
            month: self.month,
            measure,
            plan: Some(plan),
            cost_records: self.cost_records,
            actor: self.actor,
            now,
        };
        Ok(Decision {
            by: Attribution::of(self.actor),
            events: diario_domain::timesheet::decide_timesheet(state, self.command, &ctx)?,
        })
    }

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        diario_domain::timesheet::evolve_timesheet(state, event)
    }
}

/// A cost record of a person (seed 004).
pub struct CostDecider<'a> {
    pub person: &'a FiscalCode,
    pub command: &'a diario_domain::cost_records::RecordCost,
    pub actor: &'a Actor,
}

impl Decider for CostDecider<'_> {
    type State = diario_domain::cost_records::CostState;
    type Event = diario_domain::cost_records::CostEvent;

    fn stream(&self) -> StreamId {
        StreamId::costs(self.person.as_str())
    }

    fn decide(
        &self,
        state: &Self::State,
        now: DateTime<Utc>,
    ) -> Result<Decision<Self::Event>, HandlerError> {
        Ok(Decision {
            by: Attribution::of(self.actor),
            events: diario_domain::cost_records::decide_costs(
                state,
                self.person,
                self.command,
                self.actor,
                now,
            )?,
        })
    }

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        diario_domain::cost_records::evolve_costs(state, event)
    }
}
