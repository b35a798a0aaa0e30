//! Art. 9 system failures: the support desk declares and resolves them in their own stream
//! (one stream per failure); the list is what support "produces on request", and the case
//! decider receives it (as `&[SystemFailure]`) to grant late registrations.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::{Actor, ActorRole};
use crate::error::DomainError;
use crate::values::{FiscalCode, add_civil_days, civil_date};

/// Art. 9 "gli operatori devono aprire immediatamente un ticket": a failure may have begun at
/// most this many hours before the operator's ticket. A day covers a failure met in the evening
/// and reported first thing the next morning; a later ticket is not "immediate".
pub const TICKET_WITHIN_HOURS: i64 = 24;

/// Whose system failed (Art. 9: the regional system, or the ente's proven malfunction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailureScope {
    /// The regional information system: applies to every case.
    Regional,
    /// An ente's own system: applies to cases where that ente (ASST or provider code) registers.
    Ente {
        /// The ente's code.
        ente: String,
    },
}

/// A declared failure as the case decider sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemFailure {
    /// Id (the stream id).
    pub id: Uuid,
    /// Scope.
    pub scope: FailureScope,
    /// Support ticket reference.
    pub ticket: String,
    /// Description.
    pub description: String,
    /// When the failure began.
    pub began_at: DateTime<Utc>,
    /// When the operator's ticket was opened (none in declarations before it was asked).
    #[serde(default)]
    pub ticket_opened_at: Option<DateTime<Utc>>,
    /// When it was resolved, if it was.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Support operator who declared it.
    pub declared_by: FiscalCode,
}

impl SystemFailure {
    /// Whether the failure covers a case registered by the given ente code.
    pub fn covers_ente(&self, ente: &str) -> bool {
        match &self.scope {
            FailureScope::Regional => true,
            FailureScope::Ente { ente: e } => e == ente,
        }
    }

    /// Art. 9: whether a registration on `today` of an entry whose normal deadline was
    /// `deadline` may rely on this failure. The normal deadline must have fallen while the
    /// failure was in progress (from the day it began to the day it was resolved: a deadline
    /// after the resolution left time to record normally); the registration is then allowed
    /// while the failure lasts and until `grace_days` civil days after its resolution.
    pub fn relieves(
        &self,
        deadline: NaiveDate,
        today: NaiveDate,
        grace_days: u32,
    ) -> Result<(), DomainError> {
        let after_resolution = self.resolved_at.is_some_and(|r| deadline > civil_date(r));
        if deadline < civil_date(self.began_at) || after_resolution {
            return Err(DomainError::SystemFailureNotApplicable {
                failure: self.id,
                deadline,
            });
        }
        if let Some(resolved) = self.resolved_at {
            let until = add_civil_days(civil_date(resolved), grace_days);
            if today > until {
                return Err(DomainError::SystemFailureGraceExpired {
                    failure: self.id,
                    until,
                    days: grace_days,
                });
            }
        }
        Ok(())
    }
}

/// Commands of the failure stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FailureCommand {
    /// Declare a failure (support desk).
    DeclareSystemFailure {
        /// New failure id.
        failure_id: Uuid,
        /// Scope.
        scope: FailureScope,
        /// Ticket reference.
        ticket: String,
        /// Description.
        description: String,
        /// When it began.
        began_at: DateTime<Utc>,
        /// When the operator opened the ticket (Art. 9 "aprire immediatamente un ticket");
        /// the declaration's instant when not given (the desk declares as the ticket arrives).
        #[serde(default)]
        ticket_opened_at: Option<DateTime<Utc>>,
    },
    /// Record that it was resolved.
    ResolveSystemFailure {
        /// Failure.
        failure_id: Uuid,
        /// When it was resolved.
        resolved_at: DateTime<Utc>,
    },
}

/// Events of the failure stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FailureEvent {
    /// Support declared a failure.
    SystemFailureDeclared {
        /// Id.
        failure_id: Uuid,
        /// Scope.
        scope: FailureScope,
        /// Ticket.
        ticket: String,
        /// Description.
        description: String,
        /// When it began.
        began_at: DateTime<Utc>,
        /// When the operator's ticket was opened (absent in declarations recorded before it
        /// was asked).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket_opened_at: Option<DateTime<Utc>>,
        /// Support operator.
        by: FiscalCode,
        /// When declared.
        at: DateTime<Utc>,
    },
    /// Support recorded the resolution.
    SystemFailureResolved {
        /// Id.
        failure_id: Uuid,
        /// When resolved.
        resolved_at: DateTime<Utc>,
        /// Support operator.
        by: FiscalCode,
        /// When recorded.
        at: DateTime<Utc>,
    },
}

/// State of one failure stream.
pub type FailureState = Option<SystemFailure>;

fn support(actor: &Actor) -> Result<FiscalCode, DomainError> {
    match actor {
        Actor::Person {
            fiscal_code,
            role: ActorRole::Support,
        } => Ok(fiscal_code.clone()),
        _ => Err(DomainError::NotSupportDesk),
    }
}

/// Decides a failure command (Art. 9). Only the support desk acts; times must be in the past
/// and a resolution cannot precede the start.
pub fn decide_failure(
    state: &FailureState,
    command: &FailureCommand,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<FailureEvent>, DomainError> {
    let by = support(actor)?;
    match command {
        FailureCommand::DeclareSystemFailure {
            failure_id,
            scope,
            ticket,
            description,
            began_at,
            ticket_opened_at,
        } => {
            if state.is_some() {
                return Err(DomainError::FailureAlreadyDeclared);
            }
            let ticket_opened_at = ticket_opened_at.unwrap_or(now);
            if *began_at > ticket_opened_at || ticket_opened_at > now {
                return Err(DomainError::InvalidFailureTimes);
            }
            // "gli operatori devono aprire immediatamente un ticket": the failure began at most
            // TICKET_WITHIN_HOURS before its ticket.
            if ticket_opened_at - *began_at > chrono::Duration::hours(TICKET_WITHIN_HOURS) {
                return Err(DomainError::TicketNotImmediate {
                    began_at: *began_at,
                    ticket_opened_at,
                    hours: TICKET_WITHIN_HOURS,
                });
            }
            Ok(vec![FailureEvent::SystemFailureDeclared {
                failure_id: *failure_id,
                scope: scope.clone(),
                ticket: ticket.clone(),
                description: description.clone(),
                began_at: *began_at,
                ticket_opened_at: Some(ticket_opened_at),
                by,
                at: now,
            }])
        }
        FailureCommand::ResolveSystemFailure {
            failure_id,
            resolved_at,
        } => {
            let Some(f) = state else {
                return Err(DomainError::FailureNotDeclared);
            };
            if f.resolved_at.is_some() {
                return Err(DomainError::FailureAlreadyResolved);
            }
            if *resolved_at > now || *resolved_at < f.began_at {
                return Err(DomainError::InvalidFailureTimes);
            }
            Ok(vec![FailureEvent::SystemFailureResolved {
                failure_id: *failure_id,
                resolved_at: *resolved_at,
                by,
                at: now,
            }])
        }
    }
}

/// Applies a failure event.
pub fn evolve_failure(state: FailureState, event: &FailureEvent) -> FailureState {
    match event {
        FailureEvent::SystemFailureDeclared {
            failure_id,
            scope,
            ticket,
            description,
            began_at,
            ticket_opened_at,
            by,
            ..
        } => Some(SystemFailure {
            id: *failure_id,
            scope: scope.clone(),
            ticket: ticket.clone(),
            description: description.clone(),
            began_at: *began_at,
            ticket_opened_at: *ticket_opened_at,
            resolved_at: None,
            declared_by: by.clone(),
        }),
        FailureEvent::SystemFailureResolved { resolved_at, .. } => state.map(|mut f| {
            f.resolved_at = Some(*resolved_at);
            f
        }),
    }
}
