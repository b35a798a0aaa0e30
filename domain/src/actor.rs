//! Who acts: a person with an organisation role, or the system (Art. 4: every action is
//! attributable to a person's fiscal code, except the scheduler's expiries).

use serde::{Deserialize, Serialize};

use crate::values::FiscalCode;

/// Organisation-level role of the acting person. Case-level rights (responsabile, enabled
/// professional, case manager, confirmer) come from the case's own events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorRole {
    /// ASST / provider staff: responsabili, professionals, case managers.
    Staff,
    /// ATS operator: registers cases and their responsabili (Art. 4).
    AtsOperator,
    /// Administrator of an ente: may change its responsabile (Art. 4).
    EnteAdmin,
    /// The recipient or a family member answering through FirmaLOM (Art. 6).
    Recipient,
    /// Support desk: system failures (Art. 9).
    Support,
    /// Auditor / inspector: read only.
    Auditor,
}

impl ActorRole {
    /// The snake_case name (stored as the events' `actor_role`).
    pub fn as_str(self) -> &'static str {
        match self {
            ActorRole::Staff => "staff",
            ActorRole::AtsOperator => "ats_operator",
            ActorRole::EnteAdmin => "ente_admin",
            ActorRole::Recipient => "recipient",
            ActorRole::Support => "support",
            ActorRole::Auditor => "auditor",
        }
    }
}

/// Who is acting. Every change is attributable to a person's CF (Art. 4) except the
/// scheduler's expiries, which are the system's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// An identified person (SPID).
    Person {
        /// Fiscal code from the identity token.
        fiscal_code: FiscalCode,
        /// Organisation role.
        role: ActorRole,
    },
    /// The deadline scheduler.
    System,
}

impl Actor {
    /// A person acting with a role.
    pub fn person(fiscal_code: FiscalCode, role: ActorRole) -> Actor {
        Actor::Person { fiscal_code, role }
    }

    /// The system scheduler.
    pub fn system() -> Actor {
        Actor::System
    }

    /// The person's CF, if a person.
    pub fn fiscal_code(&self) -> Option<&FiscalCode> {
        match self {
            Actor::Person { fiscal_code, .. } => Some(fiscal_code),
            Actor::System => None,
        }
    }

    /// The person's role, if a person.
    pub fn role(&self) -> Option<ActorRole> {
        match self {
            Actor::Person { role, .. } => Some(*role),
            Actor::System => None,
        }
    }
}
