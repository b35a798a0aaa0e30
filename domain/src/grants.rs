//! Organisation roles (Art. 4): who is an ATS operator (for which ATS), an ente
//! administrator (for which ente), an auditor, the support desk or a platform administrator.
//! Case-level rights (responsabile, enabled professional, case manager) come from the case's
//! own events; organisation roles come from grants, which are events too, in one `grants`
//! stream with this pure decider. Who may change grants (a platform administrator, or an
//! operator at the command line) is checked by the caller.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::organisations::{OrgKind, OrganisationError, Organisations};
use crate::values::FiscalCode;

/// An organisation role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantRole {
    /// ATS operator; the scope is the ATS code (required).
    AtsOperator,
    /// Administrator of an ente (ASST or provider); the scope is the ente code (required).
    EnteAdmin,
    /// Auditor / inspector (read only); optional scope = ATS code.
    Auditor,
    /// Support desk (Art. 9 system failures).
    Support,
    /// Platform administrator: manages grants.
    PlatformAdmin,
    /// Data-protection officer (GDPR art. 37–39): reads the access log, never a case.
    DataProtectionOfficer,
}

impl GrantRole {
    /// Every role.
    pub const ALL: [GrantRole; 6] = [
        GrantRole::AtsOperator,
        GrantRole::EnteAdmin,
        GrantRole::Auditor,
        GrantRole::Support,
        GrantRole::PlatformAdmin,
        GrantRole::DataProtectionOfficer,
    ];

    /// The snake_case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantRole::AtsOperator => "ats_operator",
            GrantRole::EnteAdmin => "ente_admin",
            GrantRole::Auditor => "auditor",
            GrantRole::Support => "support",
            GrantRole::PlatformAdmin => "platform_admin",
            GrantRole::DataProtectionOfficer => "dpo",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<GrantRole> {
        GrantRole::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The kinds of organisation a scope of this role may name: an ATS for its operators and
    /// auditors, an ente for its administrators, any organisation otherwise.
    pub fn scope_kinds(self) -> &'static [OrgKind] {
        match self {
            GrantRole::AtsOperator | GrantRole::Auditor => &[OrgKind::Ats],
            GrantRole::EnteAdmin => &[
                OrgKind::Provider,
                OrgKind::Asst,
                OrgKind::AmbitoLead,
                OrgKind::PlanPartner,
            ],
            GrantRole::Support | GrantRole::PlatformAdmin | GrantRole::DataProtectionOfficer => {
                &OrgKind::ALL
            }
        }
    }

    /// Whether the role only makes sense for one organisation (then a scope is required).
    pub fn requires_scope(self) -> bool {
        matches!(self, GrantRole::AtsOperator | GrantRole::EnteAdmin)
    }
}

/// One grant: a person holds a role, possibly limited to one organisation code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// The person.
    pub fiscal_code: FiscalCode,
    /// The role.
    pub role: GrantRole,
    /// ATS or ente code the role is limited to; `None` = every organisation.
    #[serde(default)]
    pub scope: Option<String>,
}

impl Grant {
    /// Whether this grant gives `role` over organisation `org` (an unscoped grant covers all).
    pub fn covers(&self, role: GrantRole, org: &str) -> bool {
        self.role == role && self.scope.as_deref().is_none_or(|s| s == org)
    }
}

/// Commands on the grants stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum GrantCommand {
    /// Give a role.
    AddGrant(Grant),
    /// Take a role away.
    RevokeGrant(Grant),
}

/// Events of the grants stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum GrantEvent {
    /// A role was given.
    GrantAdded {
        /// The grant.
        grant: Grant,
        /// Who gave it (`None`: an operator at the command line).
        by: Option<FiscalCode>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A role was taken away.
    GrantRevoked {
        /// The grant.
        grant: Grant,
        /// Who revoked it (`None`: an operator at the command line).
        by: Option<FiscalCode>,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Why a grant command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// ATS operators and ente administrators act for one organisation.
    #[error("il ruolo {0} richiede l'indicazione dell'organizzazione (scope)")]
    ScopeRequired(&'static str),
    /// A scope must not be blank.
    #[error("lo scope non può essere vuoto")]
    BlankScope,
    /// Revoking a grant that is not in force.
    #[error("il ruolo non è assegnato")]
    GrantNotFound,
    /// The scope names no registered organisation, or one of the wrong kind.
    #[error(transparent)]
    Organisation(#[from] OrganisationError),
}

impl GrantError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            GrantError::ScopeRequired(_) => "grant-scope-required",
            GrantError::BlankScope => "grant-scope-blank",
            GrantError::GrantNotFound => "grant-not-found",
            GrantError::Organisation(e) => e.code(),
        }
    }
}

/// Grants in force.
pub type GrantsState = BTreeSet<Grant>;

/// Decides a grant command. Adding a grant already in force changes nothing (no event); a
/// new grant's scope must name a registered organisation of a kind the role acts for. A grant
/// in force can always be revoked, even if its scope names nothing (grants of before the
/// registry).
pub fn decide_grant(
    state: &GrantsState,
    registry: &Organisations,
    command: &GrantCommand,
    by: Option<&FiscalCode>,
    now: DateTime<Utc>,
) -> Result<Vec<GrantEvent>, GrantError> {
    match command {
        GrantCommand::AddGrant(grant) => {
            if grant.scope.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(GrantError::BlankScope);
            }
            if grant.role.requires_scope() && grant.scope.is_none() {
                return Err(GrantError::ScopeRequired(grant.role.as_str()));
            }
            if let Some(scope) = &grant.scope {
                registry.require("scope", scope, grant.role.scope_kinds())?;
            }
            if state.contains(grant) {
                return Ok(Vec::new());
            }
            Ok(vec![GrantEvent::GrantAdded {
                grant: grant.clone(),
                by: by.cloned(),
                at: now,
            }])
        }
        GrantCommand::RevokeGrant(grant) => {
            if !state.contains(grant) {
                return Err(GrantError::GrantNotFound);
            }
            Ok(vec![GrantEvent::GrantRevoked {
                grant: grant.clone(),
                by: by.cloned(),
                at: now,
            }])
        }
    }
}

/// Applies a grant event.
pub fn evolve_grant(mut state: GrantsState, event: &GrantEvent) -> GrantsState {
    match event {
        GrantEvent::GrantAdded { grant, .. } => {
            state.insert(grant.clone());
        }
        GrantEvent::GrantRevoked { grant, .. } => {
            state.remove(grant);
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cf() -> FiscalCode {
        FiscalCode::parse("RSSMRA85T10A562S").expect("valid CF")
    }

    #[test]
    fn grants_are_added_once_and_revoked() {
        let g = Grant {
            fiscal_code: cf(),
            role: GrantRole::AtsOperator,
            scope: Some("ATS-MILANO".into()),
        };
        let now = Utc::now();
        let events = decide_grant(
            &GrantsState::new(),
            &Organisations::default(),
            &GrantCommand::AddGrant(g.clone()),
            None,
            now,
        )
        .expect("added");
        let state = events.iter().fold(GrantsState::new(), evolve_grant);
        assert!(
            state
                .iter()
                .any(|x| x.covers(GrantRole::AtsOperator, "ATS-MILANO"))
        );
        assert!(
            !state
                .iter()
                .any(|x| x.covers(GrantRole::AtsOperator, "ATS-BERGAMO"))
        );
        assert_eq!(
            decide_grant(
                &state,
                &Organisations::default(),
                &GrantCommand::AddGrant(g.clone()),
                None,
                now
            ),
            Ok(vec![])
        );
        let revoked = decide_grant(
            &state,
            &Organisations::default(),
            &GrantCommand::RevokeGrant(g.clone()),
            None,
            now,
        )
        .expect("revoked");
        let state = revoked.iter().fold(state, evolve_grant);
        assert!(state.is_empty());
        assert_eq!(
            decide_grant(
                &state,
                &Organisations::default(),
                &GrantCommand::RevokeGrant(g),
                None,
                now
            ),
            Err(GrantError::GrantNotFound)
        );
    }

    #[test]
    fn organisation_roles_need_a_scope() {
        let g = Grant {
            fiscal_code: cf(),
            role: GrantRole::EnteAdmin,
            scope: None,
        };
        assert_eq!(
            decide_grant(
                &GrantsState::new(),
                &Organisations::default(),
                &GrantCommand::AddGrant(g),
                None,
                Utc::now()
            )
            .map_err(|e| e.code()),
            Err("grant-scope-required")
        );
    }
}
