//! The registry of organisations (Art. 3–4): the ATS that register the cases, the ASST and the
//! providers (enti erogatori) that keep the diaries, and, for the sibling measures, the lead
//! bodies of the Ambiti (enti capofila) and the plan partners.
//!
//! The 8 ATS and the 27 ASST of Lombardy are fixed by regional law and ship with the crate
//! (`organisations/lombardia.json`); the others are registered as events of one
//! `organisations` stream with the pure decider below. Cases, grants and read filters name
//! organisations by code, and a code the registry does not hold is refused: a typo such as
//! `ATS-MILAN0` must not become a scope nobody can see, nor a case no ATS dashboard counts.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::values::FiscalCode;

/// What an organisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// Agenzia di Tutela della Salute: registers cases, validates checklists, reimburses.
    Ats,
    /// Azienda Socio Sanitaria Territoriale: keeps the diary of phase I.
    Asst,
    /// Ente erogatore: keeps the diaries of phases II–IV.
    Provider,
    /// Ente capofila dell'Ambito (sibling measures).
    AmbitoLead,
    /// Partner of an Ambito's plan (sibling measures).
    PlanPartner,
}

impl OrgKind {
    /// Every kind.
    pub const ALL: [OrgKind; 5] = [
        OrgKind::Ats,
        OrgKind::Asst,
        OrgKind::Provider,
        OrgKind::AmbitoLead,
        OrgKind::PlanPartner,
    ];

    /// The snake_case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Ats => "ats",
            OrgKind::Asst => "asst",
            OrgKind::Provider => "provider",
            OrgKind::AmbitoLead => "ambito_lead",
            OrgKind::PlanPartner => "plan_partner",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The Italian name, for messages and pages.
    pub fn label(self) -> &'static str {
        match self {
            OrgKind::Ats => "ATS",
            OrgKind::Asst => "ASST",
            OrgKind::Provider => "ente erogatore",
            OrgKind::AmbitoLead => "ente capofila di Ambito",
            OrgKind::PlanPartner => "partner di piano",
        }
    }

    /// Every kind but the ATS belongs to one ATS's territory.
    pub fn belongs_to_an_ats(self) -> bool {
        self != OrgKind::Ats
    }
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// The code cases, grants and filters use (`ATS-MILANO`, `ASST-LODI`, `COOP-ALFA`).
    pub code: String,
    /// The official name.
    pub name: String,
    /// What it is.
    pub kind: OrgKind,
    /// The ATS whose territory it belongs to (every kind but `ats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ats: Option<String>,
}

/// Why an organisation is refused, or a code that names none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrganisationError {
    /// The code names no organisation in the registry.
    #[error("{field}: l'organizzazione {code} non è registrata")]
    Unknown {
        /// The field of the request that holds the code.
        field: &'static str,
        /// The code.
        code: String,
    },
    /// The code names an organisation of another kind.
    #[error("{field}: {code} è un {actual}, non un {expected}")]
    WrongKind {
        /// The field of the request that holds the code.
        field: &'static str,
        /// The code.
        code: String,
        /// The kind the field needs (Italian label).
        expected: &'static str,
        /// The organisation's kind (Italian label).
        actual: &'static str,
    },
    /// An ASST serves the territory of one ATS (L.R. 23/2015).
    #[error("asst: {asst} appartiene a {its_ats}, non a {ats}")]
    AsstOutsideAts {
        /// The ASST.
        asst: String,
        /// The ATS the case names.
        ats: String,
        /// The ATS the ASST belongs to.
        its_ats: String,
    },
    /// A code is 3–40 capital letters, digits and inner hyphens.
    #[error(
        "code: il codice {0:?} non è valido (3–40 caratteri: lettere maiuscole, cifre, trattini interni)"
    )]
    InvalidCode(String),
    /// A name is 1–200 printable characters.
    #[error(
        "name: il nome è vuoto, troppo lungo (oltre 200 caratteri) o contiene caratteri di controllo"
    )]
    InvalidName,
    /// Every kind but the ATS names its ATS.
    #[error("ats: indicare l'ATS di appartenenza di un {0}")]
    AtsRequired(&'static str),
    /// An ATS belongs to no other ATS.
    #[error("ats: un'ATS non appartiene a un'altra ATS")]
    AtsNotExpected,
    /// The code is taken by another organisation.
    #[error("code: il codice {0} è già di un'altra organizzazione")]
    CodeTaken(String),
}

impl OrganisationError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            OrganisationError::Unknown { .. } => "unknown-organisation",
            OrganisationError::WrongKind { .. } => "organisation-kind-mismatch",
            OrganisationError::AsstOutsideAts { .. } => "asst-outside-ats",
            OrganisationError::InvalidCode(_) => "invalid-organisation-code",
            OrganisationError::InvalidName => "invalid-organisation-name",
            OrganisationError::AtsRequired(_) | OrganisationError::AtsNotExpected => {
                "invalid-organisation-ats"
            }
            OrganisationError::CodeTaken(_) => "organisation-code-taken",
        }
    }

    /// The request field the refusal is about.
    pub fn field(&self) -> &'static str {
        match self {
            OrganisationError::Unknown { field, .. }
            | OrganisationError::WrongKind { field, .. } => field,
            OrganisationError::AsstOutsideAts { .. } => "asst",
            OrganisationError::InvalidCode(_) | OrganisationError::CodeTaken(_) => "code",
            OrganisationError::InvalidName => "name",
            OrganisationError::AtsRequired(_) | OrganisationError::AtsNotExpected => "ats",
        }
    }

    /// Whether the refusal is a conflict with what is registered (409) rather than a bad
    /// request (422).
    pub fn is_conflict(&self) -> bool {
        matches!(self, OrganisationError::CodeTaken(_))
    }
}

/// The registry: organisations by code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisations(BTreeMap<String, Organisation>);

#[derive(Deserialize)]
struct ShippedFile {
    organisations: Vec<Organisation>,
}

/// The shipped registry (the ATS and ASST of Lombardy).
pub const SHIPPED_ORGANISATIONS: &str = include_str!("../organisations/lombardia.json");

static SHIPPED: LazyLock<Organisations> = LazyLock::new(|| {
    // The file is part of the crate and checked by a test; it cannot fail at run time.
    Organisations::from_json(SHIPPED_ORGANISATIONS).expect("the shipped registry is valid")
});

impl Default for Organisations {
    /// The shipped registry: a fresh `organisations` stream starts from it.
    fn default() -> Self {
        SHIPPED.clone()
    }
}

impl Organisations {
    /// An empty registry.
    pub fn empty() -> Self {
        Organisations(BTreeMap::new())
    }

    /// Parses and validates a registry file (`{"organisations": [...]}`): every entry as a
    /// registration would check it, in file order.
    pub fn from_json(text: &str) -> Result<Organisations, RegistryFileError> {
        let file: ShippedFile = serde_json::from_str(text)?;
        let mut registry = Organisations::empty();
        for organisation in file.organisations {
            registry.check_new(&organisation)?;
            if registry.0.contains_key(&organisation.code) {
                return Err(OrganisationError::CodeTaken(organisation.code).into());
            }
            registry.0.insert(organisation.code.clone(), organisation);
        }
        Ok(registry)
    }

    /// The organisation with `code`.
    pub fn get(&self, code: &str) -> Option<&Organisation> {
        self.0.get(code)
    }

    /// Every organisation, by code.
    pub fn iter(&self) -> impl Iterator<Item = &Organisation> {
        self.0.values()
    }

    /// Number of organisations.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the registry is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The organisation `code` given in `field`, which must be of one of `kinds`.
    pub fn require(
        &self,
        field: &'static str,
        code: &str,
        kinds: &[OrgKind],
    ) -> Result<&Organisation, OrganisationError> {
        let organisation = self.get(code).ok_or_else(|| OrganisationError::Unknown {
            field,
            code: code.to_owned(),
        })?;
        if !kinds.contains(&organisation.kind) {
            return Err(OrganisationError::WrongKind {
                field,
                code: code.to_owned(),
                expected: kinds.first().map_or("?", |k| k.label()),
                actual: organisation.kind.label(),
            });
        }
        Ok(organisation)
    }

    /// Art. 3: the organisations of a new case — `ats` an ATS, `asst` the public body of that
    /// ATS's territory that takes the case in charge (of `public_body` kind: an ASST for #UP,
    /// the lead body of an Ambito for autonomia 2016, `Measure::public_body`), `provider` a
    /// registered ente erogatore.
    pub fn check_case(
        &self,
        ats: &str,
        asst: &str,
        provider: &str,
        public_body: OrgKind,
    ) -> Result<(), OrganisationError> {
        self.require("ats", ats, &[OrgKind::Ats])?;
        let the_asst = self.require("asst", asst, &[public_body])?;
        if the_asst.ats.as_deref() != Some(ats) {
            return Err(OrganisationError::AsstOutsideAts {
                asst: asst.to_owned(),
                ats: ats.to_owned(),
                its_ats: the_asst.ats.clone().unwrap_or_default(),
            });
        }
        self.require("provider", provider, &[OrgKind::Provider])?;
        Ok(())
    }

    /// A new organisation's own data: its code, name and ATS (not whether the code is free).
    fn check_new(&self, organisation: &Organisation) -> Result<(), OrganisationError> {
        if !valid_code(&organisation.code) {
            return Err(OrganisationError::InvalidCode(organisation.code.clone()));
        }
        let name = organisation.name.trim();
        if name.is_empty()
            || name != organisation.name
            || organisation.name.chars().count() > 200
            || organisation.name.chars().any(char::is_control)
        {
            return Err(OrganisationError::InvalidName);
        }
        match (&organisation.ats, organisation.kind.belongs_to_an_ats()) {
            (Some(_), false) => Err(OrganisationError::AtsNotExpected),
            (None, true) => Err(OrganisationError::AtsRequired(organisation.kind.label())),
            (Some(ats), true) => self.require("ats", ats, &[OrgKind::Ats]).map(drop),
            (None, false) => Ok(()),
        }
    }
}

/// Why a registry file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistryFileError {
    /// Not the expected JSON.
    #[error("the registry file is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// An entry breaks a rule.
    #[error(transparent)]
    Organisation(#[from] OrganisationError),
}

/// 3–40 characters of `A–Z`, `0–9` and hyphens, starting and ending with a letter or digit.
fn valid_code(code: &str) -> bool {
    let alnum = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit();
    (3..=40).contains(&code.len())
        && code.chars().all(|c| alnum(c) || c == '-')
        && code.starts_with(alnum)
        && code.ends_with(alnum)
        && !code.contains("--")
}

/// Commands on the `organisations` stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum OrganisationCommand {
    /// Register an organisation.
    RegisterOrganisation(Organisation),
}

/// Events of the `organisations` stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum OrganisationEvent {
    /// An organisation was registered.
    OrganisationRegistered {
        /// The organisation.
        organisation: Organisation,
        /// Who registered it (`None`: an operator at the command line).
        by: Option<FiscalCode>,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Decides an organisation command on the registry. Registering again exactly what is
/// registered changes nothing (no event); another organisation under a taken code is refused.
pub fn decide_organisation(
    registry: &Organisations,
    command: &OrganisationCommand,
    by: Option<&FiscalCode>,
    now: DateTime<Utc>,
) -> Result<Vec<OrganisationEvent>, OrganisationError> {
    match command {
        OrganisationCommand::RegisterOrganisation(organisation) => {
            registry.check_new(organisation)?;
            match registry.get(&organisation.code) {
                Some(existing) if existing == organisation => Ok(Vec::new()),
                Some(_) => Err(OrganisationError::CodeTaken(organisation.code.clone())),
                None => Ok(vec![OrganisationEvent::OrganisationRegistered {
                    organisation: organisation.clone(),
                    by: by.cloned(),
                    at: now,
                }]),
            }
        }
    }
}

/// Applies an organisation event.
pub fn evolve_organisation(
    mut registry: Organisations,
    event: &OrganisationEvent,
) -> Organisations {
    match event {
        OrganisationEvent::OrganisationRegistered { organisation, .. } => {
            registry
                .0
                .insert(organisation.code.clone(), organisation.clone());
        }
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_registry_holds_the_8_ats_and_27_asst_of_lombardy() {
        let registry = Organisations::default();
        let count = |kind| registry.iter().filter(|o| o.kind == kind).count();
        assert_eq!(count(OrgKind::Ats), 8);
        assert_eq!(count(OrgKind::Asst), 27);
        assert_eq!(registry.len(), 35);
    }

    #[test]
    fn codes_are_capitals_digits_and_inner_hyphens() {
        for good in ["ATS-MILANO", "ASST-PINI-CTO", "COOP2", "E01"] {
            assert!(valid_code(good), "{good}");
        }
        for bad in [
            "",
            "AB",
            "ats-milano",
            "-ATS",
            "ATS-",
            "ATS--MI",
            "ATS MI",
            "ÀTS-MI",
        ] {
            assert!(!valid_code(bad), "{bad}");
        }
    }
}
