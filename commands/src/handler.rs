//! The command handler: the one executor of every [`Decider`] — load the stream's folded state
//! (through the [`StateCache`]), decide with `now` from the injectable clock, append with the
//! loaded version as the expected one. On a version conflict the decision is taken again on
//! the fresh state (bounded), unless the caller pinned the version (HTTP `If-Match`), in which
//! case the caller is told its precondition failed. A command id already in the store gets the
//! first attempt's events back (`replayed`).
//!
//! Domain refusals ([`HandlerError::Domain`], [`HandlerError::Grant`]) are kept apart from store
//! failures ([`HandlerError::Store`]). The same handler serves the HTTP API, the FirmaLOM
//! callback (with the recipient as actor) and the deadline scheduler (the system).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diario_domain::agenda::{AgendaEvent, AgendaState, decide_agenda};
use diario_domain::case::RefusedAnswer;
use diario_domain::grants::{GrantCommand, GrantError, GrantsState};
use diario_domain::{
    Actor, CaseCommand, CaseEvent, CaseState, Catalogue, DomainError, FailureCommand, FailureState,
    FiscalCode, MeasureId, SystemFailure,
};
use diario_log::{
    CodecError, EventMetadata, EventStore, ExpectedVersion, LogEvent, StoreError, StreamAppend,
    StreamId, decode_all,
};
use uuid::Uuid;

use crate::access::{Caller, Principal};
use crate::cache::StateCache;
use crate::clock::Clock;
use crate::decider::{
    AgendaImportDecider, CaseDecider, Decider, FailureDecider, GrantDecider, OrganisationDecider,
    SampleDecider, SealDecider, StaffDecider,
};
use crate::turns::StreamTurns;
use diario_domain::Organisations;
use diario_domain::organisations::{OrganisationCommand, OrganisationEvent};
use diario_domain::staff::{StaffCommand, StaffState};

/// How often a decision is taken after a version conflict before giving up. Within a process
/// writers of one stream take turns, so conflicts come only from other processes; each retry
/// waits a jittered backoff first ([`crate::turns::backoff`], at most ~0.3 s in all).
pub const MAX_ATTEMPTS: u32 = 8;

/// Per-command envelope data chosen by the caller.
#[derive(Debug, Clone)]
pub struct CommandOptions {
    /// Appending twice with one command id writes once (store-level idempotency).
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    /// The version the client saw (`If-Match`): a different current version fails with
    /// [`HandlerError::PreconditionFailed`] and a conflict is not retried.
    pub expected_version: Option<i64>,
}

impl CommandOptions {
    /// Fresh ids, no pinned version.
    pub fn new() -> Self {
        let id = Uuid::now_v7();
        CommandOptions {
            command_id: id,
            correlation_id: id,
            causation_id: None,
            expected_version: None,
        }
    }

    pub fn with_command_id(mut self, id: Uuid) -> Self {
        self.command_id = id;
        self.correlation_id = id;
        self
    }

    pub fn expecting(mut self, version: Option<i64>) -> Self {
        self.expected_version = version;
        self
    }
}

impl Default for CommandOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// A rule of the Regolamento refused the command; nothing was written.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A grant command was refused.
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// An organisation registration was refused.
    #[error(transparent)]
    Organisation(#[from] diario_domain::OrganisationError),
    /// A staff command was refused.
    #[error(transparent)]
    Staff(#[from] diario_domain::staff::StaffError),
    /// A sample draw was refused.
    #[error(transparent)]
    Sample(#[from] diario_domain::sampling::SampleError),
    /// A plan command was refused (seed 004).
    #[error(transparent)]
    Plan(#[from] diario_domain::plan::PlanError),
    /// A timesheet command was refused (seed 004).
    #[error(transparent)]
    Timesheet(#[from] diario_domain::timesheet::TimesheetError),
    /// A cost record was refused (seed 004).
    #[error(transparent)]
    StaffCost(#[from] diario_domain::staff_cost::StaffCostError),
    /// The measure named by the command or the case is not in the catalogue.
    #[error("measure {0} is not in the catalogue")]
    UnknownMeasure(MeasureId),
    /// `If-Match` named another version than the current one.
    #[error("the stream is at version {actual}, not {expected}")]
    PreconditionFailed { expected: i64, actual: i64 },
    /// Concurrent writers won every attempt.
    #[error("the stream changed concurrently {attempts} times; try again")]
    Contention { attempts: u32 },
    /// The command id (an `Idempotency-Key`) was already used for a command on another stream.
    #[error("the command id already recorded a command on another stream")]
    CommandIdReused,
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a command.
#[derive(Debug, Clone)]
pub struct Outcome<S, E> {
    /// Stream version after the command.
    pub version: i64,
    /// Events recorded by this command (empty: the command changed nothing). For a replayed
    /// command id, the events the first attempt recorded.
    pub events: Vec<E>,
    /// The stream's state after the command, shared with the handler's cache (no copy).
    pub state: Arc<S>,
    /// True when the store already had this command id (a retry).
    pub replayed: bool,
}

/// The result of a case command.
pub type CaseOutcome = Outcome<CaseState, CaseEvent>;
/// The result of a system-failure command.
pub type FailureOutcome = Outcome<FailureState, diario_domain::FailureEvent>;
/// The result of a grant command.
pub type GrantOutcome = Outcome<GrantsState, diario_domain::grants::GrantEvent>;
/// The result of an organisation registration.
pub type OrganisationOutcome = Outcome<Organisations, OrganisationEvent>;
/// The result of a staff command.
pub type StaffOutcome = Outcome<StaffState, diario_domain::staff::StaffEvent>;

impl CaseOutcome {
    /// A late answer (Art. 6): the decision recorded the request's expiry instead of the
    /// answer. The caller must report a refusal although events were written.
    pub fn refused_answer(&self) -> Option<&RefusedAnswer> {
        self.events.iter().find_map(CaseEvent::refused_answer)
    }
}

/// The command handler. Cheap to clone.
#[derive(Clone)]
pub struct CommandHandler {
    store: Arc<dyn EventStore>,
    catalogue: Arc<Catalogue>,
    clock: Arc<dyn Clock>,
    cache: StateCache,
    turns: StreamTurns,
}

impl CommandHandler {
    pub fn new(store: Arc<dyn EventStore>, catalogue: Catalogue, clock: Arc<dyn Clock>) -> Self {
        CommandHandler {
            store,
            catalogue: Arc::new(catalogue),
            clock,
            cache: StateCache::default(),
            turns: StreamTurns::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The measure catalogue the server runs.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// A stream's folded state and version (0: no such stream): the cached state, with the
    /// events recorded since folded on.
    pub async fn load<D: Decider>(
        &self,
        stream: &StreamId,
    ) -> Result<(D::State, i64), HandlerError> {
        let (state, version) = self.load_shared::<D>(stream).await?;
        Ok((Arc::unwrap_or_clone(state), version))
    }

    /// [`Self::load`], the state shared with the cache rather than copied.
    async fn load_shared<D: Decider>(
        &self,
        stream: &StreamId,
    ) -> Result<(Arc<D::State>, i64), HandlerError> {
        let (state, cached) = self
            .cache
            .get_shared::<D::State>(stream.as_str())
            .unwrap_or_default();
        let recorded = self.store.read_stream(stream.as_str(), cached + 1).await?;
        let Some(version) = recorded.last().map(|e| e.stream_version) else {
            return Ok((state, cached));
        };
        let state = decode_all::<D::Event>(&recorded)?
            .iter()
            .fold(self.cache.take(stream.as_str(), state), D::evolve);
        let state = Arc::new(state);
        self.cache
            .put_shared(stream.as_str(), version, Arc::clone(&state));
        Ok((state, version))
    }

    /// Decides and appends one command (see the module documentation).
    ///
    /// A command whose id the store already holds answers as its first attempt did, whatever
    /// the current state would decide: a retry after a lost answer (a crash between the commit
    /// and the HTTP answer, or concurrent copies of one request) is refused on the state its
    /// own first attempt produced (`entry-id-already-used`, a stale `If-Match`, a no-op), so
    /// every outcome that is not a fresh append is checked against the log before it is given.
    pub async fn execute<D: Decider>(
        &self,
        decider: &D,
        opts: &CommandOptions,
    ) -> Result<Outcome<D::State, D::Event>, HandlerError> {
        let stream = decider.stream();
        // The stream's turn for the whole decide–append window (see `turns`).
        let _turn = self.turns.take(stream.as_str()).await;
        let result = self.decide_and_append(decider, &stream, opts).await;
        match &result {
            Ok(outcome) if outcome.replayed || !outcome.events.is_empty() => return result,
            Err(HandlerError::Store(_) | HandlerError::Codec(_)) => return result,
            _ => {}
        }
        match self.recorded::<D>(&stream, opts.command_id).await? {
            Some(first) => Ok(first),
            None => result,
        }
    }

    /// A stream's state and version, and whether they were read from the store (`fresh`):
    /// with `trust_cache`, the cached state as it is (`fresh` false) unless the cache has none;
    /// else loaded.
    async fn state_of<D: Decider>(
        &self,
        stream: &StreamId,
        trust_cache: bool,
    ) -> Result<(Arc<D::State>, i64, bool), HandlerError> {
        if trust_cache
            && let Some((state, version)) = self.cache.get_shared::<D::State>(stream.as_str())
        {
            return Ok((state, version, false));
        }
        let (state, version) = self.load_shared::<D>(stream).await?;
        Ok((state, version, true))
    }

    /// Decides and appends, in attempts. The first attempt decides on the cached states as
    /// they are, without reading the store: a successful append proves them current (every
    /// stream it decided on is appended at the version it was decided at), and any other
    /// answer — a refusal, a no-op, a failed `If-Match`, an agenda left unchanged — is given
    /// only after the states are read again and decided on afresh. So a command on a warm
    /// cache costs the append alone, and no answer rests on a state the store has passed.
    async fn decide_and_append<D: Decider>(
        &self,
        decider: &D,
        stream: &StreamId,
        opts: &CommandOptions,
    ) -> Result<Outcome<D::State, D::Event>, HandlerError> {
        let mut trust_cache = true;
        let mut attempt = 0;
        while attempt < MAX_ATTEMPTS {
            let step = self.attempt(decider, stream, opts, trust_cache).await?;
            match step {
                Step::Done(outcome) => return outcome,
                Step::Unverified => trust_cache = false,
                Step::Conflict => {
                    trust_cache = false;
                    attempt += 1;
                    tokio::time::sleep(crate::turns::backoff(attempt)).await;
                }
            }
        }
        Err(HandlerError::Contention {
            attempts: MAX_ATTEMPTS,
        })
    }

    /// One decision and its append (see [`Self::decide_and_append`]); `trust_cache`: decide on
    /// the cached states without reading the store.
    async fn attempt<D: Decider>(
        &self,
        decider: &D,
        stream: &StreamId,
        opts: &CommandOptions,
        trust_cache: bool,
    ) -> Result<Step<D::State, D::Event>, HandlerError> {
        let (state, version, fresh) = self.state_of::<D>(stream, trust_cache).await?;
        // An answer that is not a fresh append stands only on states read from the store.
        let settle = |fresh: bool, answer: Result<Outcome<D::State, D::Event>, HandlerError>| {
            if fresh {
                Step::Done(answer)
            } else {
                Step::Unverified
            }
        };
        if let Err(e) = check_expected(opts, version) {
            return Ok(settle(fresh, Err(e)));
        }
        let now = self.clock.now();
        let decision = match decider.decide(&state, now) {
            Ok(decision) => decision,
            Err(e) => return Ok(settle(fresh, Err(e))),
        };
        if decision.events.is_empty() {
            return Ok(settle(
                fresh,
                Ok(Outcome {
                    version,
                    events: decision.events,
                    state,
                    replayed: false,
                }),
            ));
        }
        let encoded = decision
            .events
            .iter()
            .map(LogEvent::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let changes = decider.agenda_changes(&state, &decision.events);
        // The agendas' turns, always after the stream's and in fiscal-code order, so no
        // two commands wait for each other in a cycle: within a process, two cases writing
        // for one professional take turns on the agenda instead of conflicting on it.
        let mut _agenda_turns = Vec::with_capacity(changes.len());
        for change in &changes {
            let agenda = StreamId::agenda(&change.professional);
            _agenda_turns.push(self.turns.take(agenda.as_str()).await);
        }
        let agendas = match self.agendas(changes, now, trust_cache).await? {
            Agendas::Ready(agendas) => agendas,
            Agendas::Refused { error, fresh: read } => {
                return Ok(settle(fresh && read, Err(error)));
            }
            Agendas::Unverified => return Ok(Step::Unverified),
        };
        let linked = agendas
            .iter()
            .map(|a| {
                Ok(StreamAppend {
                    stream_id: a.stream.as_str().to_owned(),
                    expected: ExpectedVersion::Exact(a.version),
                    events: a
                        .events
                        .iter()
                        .map(LogEvent::encode)
                        .collect::<Result<Vec<_>, _>>()?,
                })
            })
            .collect::<Result<Vec<_>, HandlerError>>()?;
        let primary = StreamAppend {
            stream_id: stream.as_str().to_owned(),
            expected: ExpectedVersion::Exact(version),
            events: encoded,
        };
        let metadata = EventMetadata {
            actor_cf: decision.by.actor_cf,
            actor_role: decision.by.actor_role,
            occurred_at: now,
            command_id: opts.command_id,
            correlation_id: opts.correlation_id,
            causation_id: opts.causation_id,
        };
        match self.store.append_streams(primary, linked, metadata).await {
            Ok(mut outcomes) if outcomes[0].replayed => Ok(Step::Done(
                self.first_attempt::<D>(stream, outcomes.remove(0)).await,
            )),
            Ok(outcomes) => {
                // The states decided on become the states after the events, in place when
                // no reader holds them (`StateCache::take`).
                let appended = &outcomes[0];
                let state = decision
                    .events
                    .iter()
                    .fold(self.cache.take(stream.as_str(), state), D::evolve);
                let state = Arc::new(state);
                self.cache
                    .put_shared(stream.as_str(), appended.version, Arc::clone(&state));
                for (agenda, written) in agendas.into_iter().zip(&outcomes[1..]) {
                    let after = agenda.events.iter().fold(
                        self.cache.take(agenda.stream.as_str(), agenda.state),
                        diario_domain::agenda::evolve_agenda,
                    );
                    self.cache
                        .put(agenda.stream.as_str(), written.version, after);
                }
                Ok(Step::Done(Ok(Outcome {
                    version: appended.version,
                    events: decision.events,
                    state,
                    replayed: false,
                })))
            }
            Err(StoreError::VersionConflict {
                actual, stream_id, ..
            }) => {
                // `If-Match` pins the command's own stream; a linked agenda that moved is
                // decided again like any conflict.
                if let Some(expected) = opts.expected_version
                    && stream_id == stream.as_str()
                {
                    return Ok(Step::Done(Err(HandlerError::PreconditionFailed {
                        expected,
                        actual,
                    })));
                }
                tracing::debug!(stream = %stream, "version conflict; deciding again");
                Ok(Step::Conflict)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The agendas a decision moves, each checked and advanced ([`decide_agenda`]) (see
    /// [`Agendas`]). `trust_cache`: take cached agendas as they are.
    async fn agendas(
        &self,
        changes: Vec<diario_domain::agenda::AgendaChanges>,
        now: DateTime<Utc>,
        trust_cache: bool,
    ) -> Result<Agendas, HandlerError> {
        let mut out = Vec::with_capacity(changes.len());
        let mut all_fresh = true;
        for change in changes {
            let stream = StreamId::agenda(&change.professional);
            let (state, version, fresh) = self
                .state_of::<AgendaImportDecider<'_>>(&stream, trust_cache)
                .await?;
            all_fresh &= fresh;
            let events = match decide_agenda(&state, &change, now) {
                Ok(events) => events,
                Err(e) => {
                    return Ok(Agendas::Refused {
                        error: e.into(),
                        fresh: all_fresh,
                    });
                }
            };
            if events.is_empty() {
                if !fresh {
                    return Ok(Agendas::Unverified);
                }
                continue;
            }
            out.push(AgendaAppend {
                stream,
                version,
                events,
                state,
            });
        }
        Ok(Agendas::Ready(out))
    }

    /// Seals today's heads of every stream (`diario_domain::seal`), unless today is sealed
    /// already (then nothing is written): what the daily worker and `diario seal` run.
    pub async fn seal(
        &self,
        opts: &CommandOptions,
    ) -> Result<Outcome<diario_domain::seal::SealState, diario_domain::seal::SealEvent>, HandlerError>
    {
        // The pass runs every few minutes: once today is sealed, answer without reading the
        // head of every stream (the decider would find nothing to do anyway).
        let (state, version) = self
            .load_shared::<SealDecider<'_>>(&StreamId::seals())
            .await?;
        let today = diario_domain::values::civil_date(self.clock.now());
        if state.last.as_ref().is_some_and(|(day, _)| *day >= today) {
            return Ok(Outcome {
                version,
                events: Vec::new(),
                state,
                replayed: false,
            });
        }
        let heads: Vec<diario_domain::seal::SealedHead> = self
            .store
            .stream_heads("")
            .await?
            .into_iter()
            .map(|(stream_id, head)| diario_domain::seal::SealedHead {
                stream_id,
                version: head.version,
                hash: head.hash,
            })
            .collect();
        self.execute(&SealDecider { heads: &heads }, opts).await
    }

    /// The seals folded, and the `seals` stream's version.
    pub async fn seals(&self) -> Result<(diario_domain::seal::SealState, i64), HandlerError> {
        self.load::<SealDecider<'_>>(&StreamId::seals()).await
    }

    /// Draws a sample for controls (`role`: what `by` acted as).
    pub async fn execute_sample(
        &self,
        command: &diario_domain::sampling::DrawSample,
        by: &FiscalCode,
        role: &str,
        opts: &CommandOptions,
    ) -> Result<
        Outcome<diario_domain::sampling::SampleState, diario_domain::sampling::SampleEvent>,
        HandlerError,
    > {
        self.execute(&SampleDecider { command, by, role }, opts)
            .await
    }

    /// A sample folded (`None`: never drawn).
    pub async fn sample(
        &self,
        sample_id: Uuid,
    ) -> Result<diario_domain::sampling::SampleState, HandlerError> {
        Ok(self
            .load::<SampleDecider<'_>>(&StreamId::sample(sample_id))
            .await?
            .0)
    }

    /// A plan folded and its version (`None`, 0: no such plan).
    pub async fn plan(
        &self,
        plan_id: Uuid,
    ) -> Result<(diario_domain::plan::PlanState, i64), HandlerError> {
        self.load::<crate::decider::PlanDecider<'_>>(&StreamId::plan(plan_id))
            .await
    }

    /// Decides and appends a plan command.
    pub async fn execute_plan(
        &self,
        plan_id: Uuid,
        command: &diario_domain::plan::PlanCommand,
        actor: &Actor,
        opts: &CommandOptions,
    ) -> Result<Outcome<diario_domain::plan::PlanState, diario_domain::plan::PlanEvent>, HandlerError>
    {
        let decider = crate::decider::PlanDecider {
            plan_id,
            command,
            actor,
            catalogue: &self.catalogue,
        };
        self.execute(&decider, opts).await
    }

    /// A person's cost records.
    pub async fn cost_records(
        &self,
        person: &FiscalCode,
    ) -> Result<(diario_domain::cost_records::CostState, i64), HandlerError> {
        self.load::<crate::decider::CostDecider<'_>>(&StreamId::costs(person.as_str()))
            .await
    }

    /// Records a person's cost.
    pub async fn execute_cost(
        &self,
        person: &FiscalCode,
        command: &diario_domain::cost_records::RecordCost,
        actor: &Actor,
        opts: &CommandOptions,
    ) -> Result<
        Outcome<diario_domain::cost_records::CostState, diario_domain::cost_records::CostEvent>,
        HandlerError,
    > {
        self.execute(
            &crate::decider::CostDecider {
                person,
                command,
                actor,
            },
            opts,
        )
        .await
    }

    /// A person's timesheet for a month, folded, and its version.
    pub async fn timesheet(
        &self,
        person: &FiscalCode,
        month: diario_domain::timesheet::Month,
    ) -> Result<(diario_domain::timesheet::TimesheetState, i64), HandlerError> {
        self.load::<crate::decider::TimesheetDecider<'_>>(&StreamId::timesheet(
            person.as_str(),
            &month.key(),
        ))
        .await
    }

    /// Decides and appends a timesheet command. The plan it concerns is read first — the one it
    /// names (`RecordDay`, `Countersign`), the row's (`WithdrawRow`) or the month's first row's
    /// (`SignTimesheet`) — and, to countersign, the person's cost records.
    pub async fn execute_timesheet(
        &self,
        person: &FiscalCode,
        month: diario_domain::timesheet::Month,
        command: &diario_domain::timesheet::TimesheetCommand,
        actor: &Actor,
        opts: &CommandOptions,
    ) -> Result<
        Outcome<diario_domain::timesheet::TimesheetState, diario_domain::timesheet::TimesheetEvent>,
        HandlerError,
    > {
        use diario_domain::timesheet::{TimesheetCommand, TimesheetError};
        let plan_id = match command {
            TimesheetCommand::RecordDay { plan_id, .. }
            | TimesheetCommand::Countersign { plan_id } => *plan_id,
            TimesheetCommand::WithdrawRow { row_id } => {
                let (sheet, _) = self.timesheet(person, month).await?;
                sheet
                    .rows
                    .get(row_id)
                    .map(|r| r.plan_id)
                    .ok_or(TimesheetError::RowNotFound(*row_id))?
            }
            TimesheetCommand::SignTimesheet => {
                let (sheet, _) = self.timesheet(person, month).await?;
                sheet
                    .live()
                    .next()
                    .map(|r| r.plan_id)
                    .ok_or(TimesheetError::Empty)?
            }
        };
        let (plan, _) = self.plan(plan_id).await?;
        let costs = match command {
            TimesheetCommand::Countersign { .. } => self.cost_records(person).await?.0,
            _ => Vec::new(),
        };
        let decider = crate::decider::TimesheetDecider {
            person,
            month,
            command,
            actor,
            catalogue: &self.catalogue,
            plan: plan.as_ref(),
            cost_records: &costs,
        };
        self.execute(&decider, opts).await
    }

    /// A professional's agenda folded, and its version (0: nothing claimed yet).
    pub async fn agenda(
        &self,
        professional: &FiscalCode,
    ) -> Result<(AgendaState, i64), HandlerError> {
        self.load::<AgendaImportDecider<'_>>(&StreamId::agenda(professional))
            .await
    }

    /// Imports the claims of a professional's entries recorded before agendas existed
    /// (`cases`: every case with an entry by them, folded). Idempotent: claims already held
    /// are not written again.
    pub async fn import_agenda(
        &self,
        professional: &FiscalCode,
        cases: &[(Uuid, &CaseState)],
        opts: &CommandOptions,
    ) -> Result<Outcome<AgendaState, AgendaEvent>, HandlerError> {
        self.execute(
            &AgendaImportDecider {
                professional,
                cases,
            },
            opts,
        )
        .await
    }

    /// The first attempt of `command_id`, if the store has it, answered as it was: its events,
    /// the version after them and the state at that version (not the current one).
    async fn recorded<D: Decider>(
        &self,
        stream: &StreamId,
        command_id: Uuid,
    ) -> Result<Option<Outcome<D::State, D::Event>>, HandlerError> {
        match self.store.find_command(command_id).await? {
            Some(first) => Ok(Some(self.first_attempt::<D>(stream, first).await?)),
            None => Ok(None),
        }
    }

    async fn first_attempt<D: Decider>(
        &self,
        stream: &StreamId,
        first: diario_log::AppendOutcome,
    ) -> Result<Outcome<D::State, D::Event>, HandlerError> {
        if first.stream_id != stream.as_str() {
            return Err(HandlerError::CommandIdReused);
        }
        let events = decode_all::<D::Event>(&first.events)?;
        let state = match self.cache.get_shared::<D::State>(stream.as_str()) {
            Some((state, version)) if version == first.version => state,
            _ => {
                let recorded = self.store.read_stream(stream.as_str(), 1).await?;
                let upto: Vec<_> = recorded
                    .into_iter()
                    .take_while(|e| e.stream_version <= first.version)
                    .collect();
                Arc::new(
                    decode_all::<D::Event>(&upto)?
                        .iter()
                        .fold(D::State::default(), D::evolve),
                )
            }
        };
        Ok(Outcome {
            version: first.version,
            events,
            state,
            replayed: true,
        })
    }

    /// The case folded from its stream, and the stream version (0: no such case).
    pub async fn load_case(&self, case_id: Uuid) -> Result<(CaseState, i64), HandlerError> {
        self.load::<CaseDecider>(&StreamId::case(case_id)).await
    }

    /// Decides and appends a case command for `caller`.
    pub async fn execute_case(
        &self,
        case_id: Uuid,
        command: &CaseCommand,
        caller: &Caller<'_>,
        opts: &CommandOptions,
    ) -> Result<CaseOutcome, HandlerError> {
        // The failures read with the principal's grants (one read for both), else now.
        let failures = match caller {
            Caller::Person(Principal {
                failures: Some(failures),
                ..
            }) => Arc::clone(failures),
            _ => self.failures().await?,
        };
        let organisations = match command {
            CaseCommand::OpenCase(_) => Some(self.organisations().await?.0),
            _ => None,
        };
        let decider = CaseDecider {
            case_id,
            command,
            caller,
            catalogue: &self.catalogue,
            failures: &failures,
            organisations: organisations.as_ref(),
        };
        let result = self.execute(&decider, opts).await;
        // A refusal the decision recorded (a sending refused by its checklist, Art. 8) is
        // written, and reported as the refusal it is — on a replay of the command too.
        let result = match result {
            Ok(outcome) => match outcome.events.iter().find_map(CaseEvent::recorded_refusal) {
                Some(refusal) => Err(HandlerError::Domain(refusal)),
                None => Ok(outcome),
            },
            Err(e) => Err(e),
        };
        // A refusal to a person who may not read the case says nothing about it (its phase,
        // its entries' authors): it is the refusal for a case that does not exist.
        if let (Err(HandlerError::Domain(_)), Caller::Person(p)) = (&result, caller)
            && !matches!(command, CaseCommand::OpenCase(_))
        {
            let (state, _) = self.load_case(case_id).await?;
            let readable = state
                .file
                .as_ref()
                .is_some_and(|f| crate::access::read_case(p, f).is_ok());
            if !readable {
                return Err(HandlerError::Domain(DomainError::CaseNotOpened));
            }
        }
        result
    }

    /// Every declared system failure (Art. 9), by start: the heads of the `failure-` streams
    /// compared with the cached failures, and only the changed streams read.
    pub async fn failures(&self) -> Result<Arc<Vec<SystemFailure>>, HandlerError> {
        let heads = self.store.heads_of(&[], StreamId::FAILURES).await?;
        Ok(self.shared_states(heads).await?.1)
    }

    /// The grants in force and the declared failures as of `heads` (from
    /// [`EventStore::heads_of`]): cached states where their version is the head's, and only
    /// the streams that moved read again.
    async fn shared_states(
        &self,
        heads: Vec<(String, diario_log::StreamHead)>,
    ) -> Result<(Arc<GrantsState>, Arc<Vec<SystemFailure>>), HandlerError> {
        let mut grants = Arc::default();
        let mut failures = Vec::new();
        for (stream_id, head) in heads {
            if stream_id == StreamId::GRANTS {
                grants = self
                    .at_least::<GrantDecider>(&StreamId::grants(), head.version)
                    .await?;
            } else if let Some(id) = StreamId::failure_of(&stream_id) {
                let stream = StreamId::failure(id);
                let state = self
                    .at_least::<FailureDecider>(&stream, head.version)
                    .await?;
                failures.extend(state.as_ref().clone());
            }
        }
        failures.sort_by_key(|f| (f.began_at, f.id));
        Ok((grants, Arc::new(failures)))
    }

    /// A stream's state at `version` or later: the cached one, shared, if it is that recent;
    /// else the stream loaded.
    async fn at_least<D: Decider>(
        &self,
        stream: &StreamId,
        version: i64,
    ) -> Result<Arc<D::State>, HandlerError> {
        match self.cache.get_shared::<D::State>(stream.as_str()) {
            Some((state, cached)) if cached >= version => Ok(state),
            _ => Ok(self.load_shared::<D>(stream).await?.0),
        }
    }

    /// One failure stream folded, and its version.
    pub async fn load_failure(
        &self,
        failure_id: Uuid,
    ) -> Result<(FailureState, i64), HandlerError> {
        self.load::<FailureDecider>(&StreamId::failure(failure_id))
            .await
    }

    /// Decides and appends a system-failure command (Art. 9).
    pub async fn execute_failure(
        &self,
        command: &FailureCommand,
        actor: &Actor,
        opts: &CommandOptions,
    ) -> Result<FailureOutcome, HandlerError> {
        self.execute(&FailureDecider { command, actor }, opts).await
    }

    /// The grants in force and the grants stream version.
    pub async fn grants(&self) -> Result<(GrantsState, i64), HandlerError> {
        self.load::<GrantDecider>(&StreamId::grants()).await
    }

    /// Decides and appends a grant command. `by` is the platform administrator (`None`: an
    /// operator at the command line).
    pub async fn execute_grant(
        &self,
        command: &GrantCommand,
        by: Option<&FiscalCode>,
        opts: &CommandOptions,
    ) -> Result<GrantOutcome, HandlerError> {
        let (organisations, _) = self.organisations().await?;
        let decider = GrantDecider {
            command,
            by,
            organisations: &organisations,
        };
        self.execute(&decider, opts).await
    }

    /// The registry of organisations (the shipped ones and those registered) and the version
    /// of the `organisations` stream.
    pub async fn organisations(&self) -> Result<(Organisations, i64), HandlerError> {
        self.load::<OrganisationDecider>(&StreamId::organisations())
            .await
    }

    /// Decides and appends an organisation registration by `by` acting as `role` (`None`:
    /// an operator at the command line).
    pub async fn execute_organisation(
        &self,
        command: &OrganisationCommand,
        by: Option<&FiscalCode>,
        role: &str,
        opts: &CommandOptions,
    ) -> Result<OrganisationOutcome, HandlerError> {
        self.execute(&OrganisationDecider { command, by, role }, opts)
            .await
    }

    /// A staff member's stream folded (`None`: never recorded), and its version.
    pub async fn staff_member(
        &self,
        fiscal_code: &FiscalCode,
    ) -> Result<(StaffState, i64), HandlerError> {
        self.load::<StaffDecider>(&StreamId::person(fiscal_code))
            .await
    }

    /// Decides and appends a staff command by `by` acting as `role`.
    pub async fn execute_staff(
        &self,
        command: &StaffCommand,
        by: Option<&FiscalCode>,
        role: &str,
        opts: &CommandOptions,
    ) -> Result<StaffOutcome, HandlerError> {
        let (organisations, _) = self.organisations().await?;
        let decider = StaffDecider {
            command,
            by,
            role,
            organisations: &organisations,
            catalogue: &self.catalogue,
        };
        self.execute(&decider, opts).await
    }

    /// The person `cf` with the grants in force and the declared failures, both checked in
    /// one read of the store's heads; `bootstrap` are the administrators named in the
    /// configuration.
    pub async fn principal(
        &self,
        cf: FiscalCode,
        bootstrap: &BTreeSet<FiscalCode>,
    ) -> Result<Principal, HandlerError> {
        let heads = self
            .store
            .heads_of(&[StreamId::GRANTS], StreamId::FAILURES)
            .await?;
        let (grants, failures) = self.shared_states(heads).await?;
        let grants: Vec<_> = grants
            .iter()
            .filter(|g| g.fiscal_code == cf)
            .cloned()
            .collect();
        let platform_admin = bootstrap.contains(&cf)
            || grants
                .iter()
                .any(|g| g.role == diario_domain::grants::GrantRole::PlatformAdmin);
        Ok(Principal {
            cf,
            grants,
            platform_admin,
            failures: Some(failures),
        })
    }
}

/// What one attempt of a command came to.
enum Step<S, E> {
    /// The answer to give.
    Done(Result<Outcome<S, E>, HandlerError>),
    /// An answer that is not a fresh append was reached on cached states: read them and
    /// decide again.
    Unverified,
    /// Another writer moved a stream first: decide again after a backoff.
    Conflict,
}

/// The agendas of a decision.
enum Agendas {
    /// Each to append at the version it was decided at.
    Ready(Vec<AgendaAppend>),
    /// An agenda refused the decision (an overlap); `fresh`: every agenda decided on so far
    /// was read from the store.
    Refused { error: HandlerError, fresh: bool },
    /// An agenda the decision leaves unchanged was a cached one: nothing in the append would
    /// prove it current, so decide again on agendas read from the store.
    Unverified,
}

/// One agenda's part of a case command's append.
struct AgendaAppend {
    stream: StreamId,
    /// The version it was decided on (the expected version of the append).
    version: i64,
    events: Vec<AgendaEvent>,
    /// The agenda decided on (before the events).
    state: Arc<AgendaState>,
}

fn check_expected(opts: &CommandOptions, actual: i64) -> Result<(), HandlerError> {
    match opts.expected_version {
        Some(expected) if expected != actual => {
            Err(HandlerError::PreconditionFailed { expected, actual })
        }
        _ => Ok(()),
    }
}
