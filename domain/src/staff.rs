//! Staff members (Art. 4): the people who act in the service — responsabili, case managers,
//! professionals, ATS operators — with their names, the organisations they work for and their
//! professional figures there. One stream per person (`person-{fiscal code}`) with this pure
//! decider.
//!
//! Only what the service needs is kept (GDPR art. 5(1)(c)): the fiscal code every action is
//! attributed to, given and family name so that views and documents name the person next to
//! it, and per organisation the figures. The recipient and the family are not staff: they stay
//! pseudonymous (Art. 10).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;
use crate::organisations::{OrgKind, OrganisationError, Organisations};
use crate::values::{FigureId, FiscalCode};

/// A staff member as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    /// The person.
    pub fiscal_code: FiscalCode,
    /// Given name (nome).
    pub given_name: String,
    /// Family name (cognome).
    pub family_name: String,
    /// Work e-mail address for the notifications (optional).
    pub email: Option<String>,
    /// Organisation code → the figures the person works under there.
    pub memberships: BTreeMap<String, Vec<FigureId>>,
}

impl StaffMember {
    /// "Nome Cognome".
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// A person's stream folded: `None` before the first record.
pub type StaffState = Option<StaffMember>;

/// Commands on a person's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum StaffCommand {
    /// Record (or correct) the person's name and their figures in one organisation.
    RecordStaffMember {
        /// The person.
        fiscal_code: FiscalCode,
        /// Given name.
        given_name: String,
        /// Family name.
        family_name: String,
        /// Work e-mail address for the notifications (optional).
        #[serde(default)]
        email: Option<String>,
        /// Organisation code (registered).
        organisation: String,
        /// Figures in that organisation (each in the catalogue of some measure; may be empty
        /// for staff who record no hours, such as an ATS operator).
        #[serde(default)]
        figures: Vec<FigureId>,
    },
    /// The person no longer works for an organisation.
    EndStaffMembership {
        /// The person.
        fiscal_code: FiscalCode,
        /// Organisation code.
        organisation: String,
    },
}

impl StaffCommand {
    /// The person the command is about.
    pub fn fiscal_code(&self) -> &FiscalCode {
        match self {
            StaffCommand::RecordStaffMember { fiscal_code, .. }
            | StaffCommand::EndStaffMembership { fiscal_code, .. } => fiscal_code,
        }
    }

    /// The organisation the command is about.
    pub fn organisation(&self) -> &str {
        match self {
            StaffCommand::RecordStaffMember { organisation, .. }
            | StaffCommand::EndStaffMembership { organisation, .. } => organisation,
        }
    }
}

/// Events of a person's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StaffEvent {
    /// The person's name and figures in one organisation were recorded.
    StaffMemberRecorded {
        /// The person.
        fiscal_code: FiscalCode,
        /// Given name.
        given_name: String,
        /// Family name.
        family_name: String,
        /// Work e-mail address for the notifications.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
        /// Organisation code.
        organisation: String,
        /// Figures there.
        figures: Vec<FigureId>,
        /// Who recorded it (`None`: an operator at the command line).
        by: Option<FiscalCode>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The person no longer works for the organisation.
    StaffMembershipEnded {
        /// The person.
        fiscal_code: FiscalCode,
        /// Organisation code.
        organisation: String,
        /// Who recorded it.
        by: Option<FiscalCode>,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Why a staff command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffError {
    /// A name is 1–100 letters, spaces, apostrophes, hyphens or dots.
    #[error(
        "{0}: il nome non è valido (1–100 caratteri: lettere, spazi, apostrofi, trattini, punti)"
    )]
    InvalidName(&'static str),
    /// A figure that no measure of the catalogue has.
    #[error("figures: la figura {0} non è nel catalogo")]
    UnknownFigure(FigureId),
    /// An ATS records no hours: its staff have no figures.
    #[error("figures: il personale dell'ATS non registra ore e non ha figure professionali")]
    FiguresAtAnAts,
    /// An e-mail address is `local@domain`, at most 254 characters, without spaces.
    #[error("email: l'indirizzo e-mail non è valido")]
    InvalidEmail,
    /// Ending a membership that is not recorded.
    #[error("la persona non risulta presso {0}")]
    NotAMember(String),
    /// The organisation is not in the registry.
    #[error(transparent)]
    Organisation(#[from] OrganisationError),
}

impl StaffError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            StaffError::InvalidName(_) => "invalid-staff-name",
            StaffError::UnknownFigure(_) => "figure-not-in-catalogue",
            StaffError::FiguresAtAnAts => "figures-at-an-ats",
            StaffError::InvalidEmail => "invalid-staff-email",
            StaffError::NotAMember(_) => "staff-membership-not-found",
            StaffError::Organisation(e) => e.code(),
        }
    }

    /// The request field the refusal is about.
    pub fn field(&self) -> &'static str {
        match self {
            StaffError::InvalidName(field) => field,
            StaffError::UnknownFigure(_) | StaffError::FiguresAtAnAts => "figures",
            StaffError::NotAMember(_) => "organisation",
            StaffError::InvalidEmail => "email",
            StaffError::Organisation(e) => e.field(),
        }
    }
}

fn check_name(field: &'static str, name: &str) -> Result<(), StaffError> {
    let ok = !name.trim().is_empty()
        && name.trim() == name
        && name.chars().count() <= 100
        && name
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | '\'' | '’' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StaffError::InvalidName(field))
    }
}

/// `local@domain.tld`: one `@`, non-empty parts, a dot in the domain, no spaces or control
/// characters, at most 254 characters (RFC 5321's path limit).
fn check_email(email: &str) -> Result<(), StaffError> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        Err(StaffError::InvalidEmail)
    }
}

/// Decides a staff command on the person's stream. Recording again exactly what is recorded
/// changes nothing.
pub fn decide_staff(
    state: &StaffState,
    command: &StaffCommand,
    registry: &Organisations,
    catalogue: &Catalogue,
    by: Option<&FiscalCode>,
    now: DateTime<Utc>,
) -> Result<Vec<StaffEvent>, StaffError> {
    match command {
        StaffCommand::RecordStaffMember {
            fiscal_code,
            given_name,
            family_name,
            email,
            organisation,
            figures,
        } => {
            check_name("given_name", given_name)?;
            check_name("family_name", family_name)?;
            if let Some(email) = email {
                check_email(email)?;
            }
            let org = registry.require("organisation", organisation, &OrgKind::ALL)?;
            if org.kind == OrgKind::Ats && !figures.is_empty() {
                return Err(StaffError::FiguresAtAnAts);
            }
            if let Some(unknown) = figures.iter().find(|f| {
                !catalogue
                    .iter()
                    .any(|m| m.figures.iter().any(|g| &g.id == *f))
            }) {
                return Err(StaffError::UnknownFigure(unknown.clone()));
            }
            let mut figures = figures.clone();
            figures.sort();
            figures.dedup();
            let unchanged = state.as_ref().is_some_and(|s| {
                &s.given_name == given_name
                    && &s.family_name == family_name
                    && &s.email == email
                    && s.memberships.get(organisation) == Some(&figures)
            });
            if unchanged {
                return Ok(Vec::new());
            }
            Ok(vec![StaffEvent::StaffMemberRecorded {
                fiscal_code: fiscal_code.clone(),
                given_name: given_name.clone(),
                family_name: family_name.clone(),
                email: email.clone(),
                organisation: organisation.clone(),
                figures,
                by: by.cloned(),
                at: now,
            }])
        }
        StaffCommand::EndStaffMembership {
            fiscal_code,
            organisation,
        } => {
            let member = state
                .as_ref()
                .is_some_and(|s| s.memberships.contains_key(organisation));
            if !member {
                return Err(StaffError::NotAMember(organisation.clone()));
            }
            Ok(vec![StaffEvent::StaffMembershipEnded {
                fiscal_code: fiscal_code.clone(),
                organisation: organisation.clone(),
                by: by.cloned(),
                at: now,
            }])
        }
    }
}

/// Applies a staff event.
pub fn evolve_staff(state: StaffState, event: &StaffEvent) -> StaffState {
    match event {
        StaffEvent::StaffMemberRecorded {
            fiscal_code,
            given_name,
            family_name,
            email,
            organisation,
            figures,
            ..
        } => {
            let mut member = state.unwrap_or_else(|| StaffMember {
                fiscal_code: fiscal_code.clone(),
                given_name: String::new(),
                family_name: String::new(),
                email: None,
                memberships: BTreeMap::new(),
            });
            member.given_name.clone_from(given_name);
            member.family_name.clone_from(family_name);
            member.email.clone_from(email);
            member
                .memberships
                .insert(organisation.clone(), figures.clone());
            Some(member)
        }
        StaffEvent::StaffMembershipEnded { organisation, .. } => state.map(|mut member| {
            member.memberships.remove(organisation);
            member
        }),
    }
}
