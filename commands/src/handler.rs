//! The command handler (DESIGN §5): load a stream, fold it, `decide` with a context (actor,
//! `now` from the injectable clock, the case's measure, the declared system failures), append
//! with the loaded version as the expected one. On a version conflict the decision is taken
//! again on the fresh state (bounded), unless the caller pinned the version (HTTP `If-Match`),
//! in which case the caller is told its precondition failed.
//!
//! Domain refusals ([`HandlerError::Domain`]) are kept apart from store failures
//! ([`HandlerError::Store`]). The same handler serves the HTTP API, the FirmaLOM callback (with
//! the recipient as actor) and the deadline scheduler (with [`Actor::System`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use diario_domain::case::RefusedAnswer;
use diario_domain::grants::{
    GrantCommand, GrantError, GrantEvent, GrantsState, decide_grant, evolve_grant,
};
use diario_domain::{
    Actor, CaseCommand, CaseEvent, CaseState, Context, DomainError, FailureCommand, FailureEvent,
    FailureState, FiscalCode, Measure, MeasureId, SystemFailure, decide, decide_failure, evolve,
    evolve_failure,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clock::Clock;
use crate::codec::{
    CodecError, case_stream, decode_case_event, decode_failure_event, encode_case_event,
    encode_failure_event, failure_stream,
};
use crate::store::{
    EventMetadata, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError,
};

/// The stream of organisation grants.
pub const GRANTS_STREAM: &str = "grants";

/// How often a decision is retried after a version conflict before giving up.
pub const MAX_ATTEMPTS: u32 = 3;

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

/// The stable command id of a client's retry: derived from the actor and the
/// `Idempotency-Key`, so a request retried after a lost answer is a no-op in the store too.
pub fn command_id_for(actor: &str, idempotency_key: &str) -> Uuid {
    derive_uuid(&["diario-command", actor, idempotency_key])
}

/// A deterministic id for a new thing (case, entry, request, failure) created by a command.
pub fn derived_id(command_id: Uuid, what: &str) -> Uuid {
    derive_uuid(&["diario-id", &command_id.to_string(), what])
}

fn derive_uuid(parts: &[&str]) -> Uuid {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
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
    /// The caller's authorisation check refused the actor.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The measure named by the command or the case is not in the catalogue.
    #[error("measure {0} is not in the catalogue")]
    UnknownMeasure(MeasureId),
    /// `If-Match` named another version than the current one.
    #[error("the case is at version {actual}, not {expected}")]
    PreconditionFailed { expected: i64, actual: i64 },
    /// Concurrent writers won every attempt.
    #[error("the stream changed concurrently {attempts} times; try again")]
    Contention { attempts: u32 },
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("cannot encode an event: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a case command.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    pub case_id: Uuid,
    /// Stream version after the command.
    pub version: i64,
    /// Events recorded by this command (empty: the command changed nothing).
    pub events: Vec<CaseEvent>,
    /// The case after the command.
    pub state: CaseState,
    /// True when the store already had this command id (a retry).
    pub replayed: bool,
}

impl CaseOutcome {
    /// A late answer (Art. 6): the decision recorded the request's expiry instead of the
    /// answer. The caller must report a refusal although events were written.
    pub fn refused_answer(&self) -> Option<&RefusedAnswer> {
        self.events.iter().find_map(CaseEvent::refused_answer)
    }
}

/// The result of a system-failure command.
#[derive(Debug, Clone)]
pub struct FailureOutcome {
    pub failure_id: Uuid,
    pub version: i64,
    pub events: Vec<FailureEvent>,
    pub state: FailureState,
}

/// The result of a grant command.
#[derive(Debug, Clone)]
pub struct GrantOutcome {
    pub version: i64,
    pub events: Vec<GrantEvent>,
    pub state: GrantsState,
}

/// The command handler. Cheap to clone.
#[derive(Clone)]
pub struct CommandHandler {
    store: Arc<dyn EventStore>,
    measures: Arc<BTreeMap<MeasureId, Measure>>,
    clock: Arc<dyn Clock>,
}

impl CommandHandler {
    pub fn new(store: Arc<dyn EventStore>, measures: Vec<Measure>, clock: Arc<dyn Clock>) -> Self {
        let measures = measures.into_iter().map(|m| (m.id.clone(), m)).collect();
        CommandHandler {
            store,
            measures: Arc::new(measures),
            clock,
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Every measure of the catalogue, by id.
    pub fn measures(&self) -> impl Iterator<Item = &Measure> {
        self.measures.values()
    }

    pub fn measure(&self, id: &MeasureId) -> Option<&Measure> {
        self.measures.get(id)
    }

    /// The case folded from its stream, and the stream version (0: no such case).
    pub async fn load_case(&self, case_id: Uuid) -> Result<(CaseState, i64), HandlerError> {
        let recorded = self.store.read_stream(&case_stream(case_id), 1).await?;
        let version = recorded.last().map_or(0, |e| e.stream_version);
        let events = recorded
            .iter()
            .map(decode_case_event)
            .collect::<Result<Vec<_>, _>>()?;
        let state = events.iter().fold(CaseState::default(), evolve);
        Ok((state, version))
    }

    /// Every declared system failure (Art. 9), folded from the `failure-` streams.
    pub async fn failures(&self) -> Result<Vec<SystemFailure>, HandlerError> {
        let recorded = self.store.read_category("failure-").await?;
        let mut by_stream: BTreeMap<String, FailureState> = BTreeMap::new();
        for r in &recorded {
            let event = decode_failure_event(r)?;
            let slot = by_stream.entry(r.stream_id.clone()).or_default();
            *slot = evolve_failure(slot.take(), &event);
        }
        let mut list: Vec<SystemFailure> = by_stream.into_values().flatten().collect();
        list.sort_by_key(|f| (f.began_at, f.id));
        Ok(list)
    }

    /// Decides and appends a case command. `actor_for` sees the current state and chooses the
    /// actor (and may refuse with [`HandlerError::Forbidden`]); it runs on every attempt.
    pub async fn execute_case<A>(
        &self,
        case_id: Uuid,
        command: &CaseCommand,
        opts: &CommandOptions,
        actor_for: A,
    ) -> Result<CaseOutcome, HandlerError>
    where
        A: Fn(&CaseState) -> Result<Actor, HandlerError>,
    {
        let stream = case_stream(case_id);
        for _ in 0..MAX_ATTEMPTS {
            let (state, version) = self.load_case(case_id).await?;
            check_expected(opts, version)?;
            let actor = actor_for(&state)?;
            let measure_id = match (command, &state.file) {
                (CaseCommand::OpenCase(c), _) => c.measure_id.clone(),
                (_, Some(file)) => file.measure_id.clone(),
                (_, None) => return Err(DomainError::CaseNotOpened.into()),
            };
            let measure = self
                .measures
                .get(&measure_id)
                .ok_or_else(|| HandlerError::UnknownMeasure(measure_id.clone()))?;
            let failures = self.failures().await?;
            let now = self.clock.now();
            let ctx = Context::new(actor.clone(), now, measure).with_failures(&failures);
            let events = decide(&state, command, &ctx)?;
            if events.is_empty() {
                return Ok(CaseOutcome {
                    case_id,
                    version,
                    events,
                    state,
                    replayed: false,
                });
            }
            let encoded = events
                .iter()
                .map(encode_case_event)
                .collect::<Result<Vec<_>, _>>()?;
            let metadata = metadata(&actor, now, opts);
            match self
                .store
                .append(&stream, ExpectedVersion::Exact(version), encoded, metadata)
                .await
            {
                Ok(outcome) if outcome.replayed => {
                    let events = decode_all(&outcome.events, decode_case_event)?;
                    let (state, version) = self.load_case(case_id).await?;
                    return Ok(CaseOutcome {
                        case_id,
                        version,
                        events,
                        state,
                        replayed: true,
                    });
                }
                Ok(outcome) => {
                    let state = events.iter().fold(state, evolve);
                    return Ok(CaseOutcome {
                        case_id,
                        version: outcome.version,
                        events,
                        state,
                        replayed: false,
                    });
                }
                Err(StoreError::VersionConflict { actual, .. }) => {
                    if let Some(expected) = opts.expected_version {
                        return Err(HandlerError::PreconditionFailed { expected, actual });
                    }
                    tracing::debug!(%case_id, "version conflict; deciding again");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(HandlerError::Contention {
            attempts: MAX_ATTEMPTS,
        })
    }

    /// One failure stream folded, and its version.
    pub async fn load_failure(
        &self,
        failure_id: Uuid,
    ) -> Result<(FailureState, i64), HandlerError> {
        let recorded = self
            .store
            .read_stream(&failure_stream(failure_id), 1)
            .await?;
        let version = recorded.last().map_or(0, |e| e.stream_version);
        let state = decode_all(&recorded, decode_failure_event)?
            .iter()
            .fold(None, evolve_failure);
        Ok((state, version))
    }

    /// Decides and appends a system-failure command (Art. 9).
    pub async fn execute_failure(
        &self,
        command: &FailureCommand,
        actor: &Actor,
        opts: &CommandOptions,
    ) -> Result<FailureOutcome, HandlerError> {
        let failure_id = match command {
            FailureCommand::DeclareSystemFailure { failure_id, .. }
            | FailureCommand::ResolveSystemFailure { failure_id, .. } => *failure_id,
        };
        let stream = failure_stream(failure_id);
        for _ in 0..MAX_ATTEMPTS {
            let (state, version) = self.load_failure(failure_id).await?;
            check_expected(opts, version)?;
            let now = self.clock.now();
            let events = decide_failure(&state, command, actor, now)?;
            if events.is_empty() {
                return Ok(FailureOutcome {
                    failure_id,
                    version,
                    events,
                    state,
                });
            }
            let encoded = events
                .iter()
                .map(encode_failure_event)
                .collect::<Result<Vec<_>, _>>()?;
            match self
                .store
                .append(
                    &stream,
                    ExpectedVersion::Exact(version),
                    encoded,
                    metadata(actor, now, opts),
                )
                .await
            {
                Ok(outcome) => {
                    let (state, version) = self.load_failure(failure_id).await?;
                    let events = decode_all(&outcome.events, decode_failure_event)?;
                    return Ok(FailureOutcome {
                        failure_id,
                        version,
                        events,
                        state,
                    });
                }
                Err(StoreError::VersionConflict { actual, .. }) => {
                    if let Some(expected) = opts.expected_version {
                        return Err(HandlerError::PreconditionFailed { expected, actual });
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(HandlerError::Contention {
            attempts: MAX_ATTEMPTS,
        })
    }

    /// The grants in force and the grants stream version.
    pub async fn grants(&self) -> Result<(GrantsState, i64), HandlerError> {
        let recorded = self.store.read_stream(GRANTS_STREAM, 1).await?;
        let version = recorded.last().map_or(0, |e| e.stream_version);
        let state = decode_all(&recorded, decode_grant_event)?
            .iter()
            .fold(GrantsState::new(), evolve_grant);
        Ok((state, version))
    }

    /// Decides and appends a grant command. `by` is the platform administrator (`None`: an
    /// operator at the command line); who may do this is the caller's check.
    pub async fn execute_grant(
        &self,
        command: &GrantCommand,
        by: Option<&FiscalCode>,
        opts: &CommandOptions,
    ) -> Result<GrantOutcome, HandlerError> {
        for _ in 0..MAX_ATTEMPTS {
            let (state, version) = self.grants().await?;
            let now = self.clock.now();
            let events = decide_grant(&state, command, by, now)?;
            if events.is_empty() {
                return Ok(GrantOutcome {
                    version,
                    events,
                    state,
                });
            }
            let encoded = events
                .iter()
                .map(encode_grant_event)
                .collect::<Result<Vec<_>, _>>()?;
            let actor_cf = by.map_or_else(|| "cli".to_owned(), |cf| cf.as_str().to_owned());
            let meta = EventMetadata {
                actor_cf,
                actor_role: if by.is_some() {
                    "platform_admin".into()
                } else {
                    "operator_cli".into()
                },
                occurred_at: now,
                command_id: opts.command_id,
                correlation_id: opts.correlation_id,
                causation_id: opts.causation_id,
            };
            match self
                .store
                .append(
                    GRANTS_STREAM,
                    ExpectedVersion::Exact(version),
                    encoded,
                    meta,
                )
                .await
            {
                Ok(outcome) => {
                    let events = decode_all(&outcome.events, decode_grant_event)?;
                    let (state, version) = self.grants().await?;
                    return Ok(GrantOutcome {
                        version,
                        events,
                        state,
                    });
                }
                Err(StoreError::VersionConflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(HandlerError::Contention {
            attempts: MAX_ATTEMPTS,
        })
    }
}

fn check_expected(opts: &CommandOptions, actual: i64) -> Result<(), HandlerError> {
    match opts.expected_version {
        Some(expected) if expected != actual => {
            Err(HandlerError::PreconditionFailed { expected, actual })
        }
        _ => Ok(()),
    }
}

fn metadata(
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
    opts: &CommandOptions,
) -> EventMetadata {
    let (actor_cf, actor_role) = match actor {
        Actor::Person { fiscal_code, role } => (
            fiscal_code.as_str().to_owned(),
            serde_json::to_value(role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "unknown".into()),
        ),
        Actor::System => ("system".to_owned(), "system".to_owned()),
    };
    EventMetadata {
        actor_cf,
        actor_role,
        occurred_at: now,
        command_id: opts.command_id,
        correlation_id: opts.correlation_id,
        causation_id: opts.causation_id,
    }
}

fn decode_all<T>(
    recorded: &[RecordedEvent],
    decode: fn(&RecordedEvent) -> Result<T, CodecError>,
) -> Result<Vec<T>, CodecError> {
    recorded.iter().map(decode).collect()
}

fn encode_grant_event(event: &GrantEvent) -> Result<NewEvent, serde_json::Error> {
    let mut payload = serde_json::to_value(event)?;
    if let Value::Object(map) = &mut payload {
        map.remove("type");
    }
    Ok(NewEvent {
        event_type: event.event_type().to_owned(),
        schema_version: 1,
        payload,
    })
}

fn decode_grant_event(recorded: &RecordedEvent) -> Result<GrantEvent, CodecError> {
    let mut payload = recorded.payload.clone();
    if let Value::Object(map) = &mut payload {
        map.insert("type".into(), Value::String(recorded.event_type.clone()));
    }
    serde_json::from_value(payload).map_err(|e| CodecError::Unreadable {
        event_type: recorded.event_type.clone(),
        schema_version: recorded.schema_version,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_are_stable_per_actor_and_key() {
        let a = command_id_for("RSSMRA85T10A562S", "k1");
        assert_eq!(a, command_id_for("RSSMRA85T10A562S", "k1"));
        assert_ne!(a, command_id_for("RSSMRA85T10A562S", "k2"));
        assert_ne!(a, command_id_for("BNCLRA80A41F205G", "k1"));
        assert_ne!(derived_id(a, "entry"), derived_id(a, "request"));
    }
}
