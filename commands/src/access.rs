//! Who may do what (Art. 4, Art. 10; docs/api.md): the one access policy, used by the writes
//! (which domain role a person acts under) and by the reads (who may read a case, its audit
//! trail, an ATS's dashboard, the cost report). Case-level rights (responsabile, enabled
//! professional, author, case manager) come from the case's own events; organisation roles
//! from the grants. The HTTP layer only authenticates and maps a [`Denied`] to 403.

use std::collections::BTreeSet;

use diario_domain::grants::{Grant, GrantRole};
use diario_domain::{
    Actor, ActorRole, CaseCommand, CaseFile, CaseState, Ente, FiscalCode, OrgKind, Organisation,
};

/// An authenticated person and their organisation roles.
#[derive(Debug, Clone)]
pub struct Principal {
    pub cf: FiscalCode,
    pub grants: Vec<Grant>,
    /// A bootstrap administrator (`DIARIO_PLATFORM_ADMINS`) or a `platform_admin` grant.
    pub platform_admin: bool,
    /// The declared system failures (Art. 9) read with the grants, in the same read, when
    /// this principal was made: what the case commands of its request decide with (`None`:
    /// read them when deciding).
    pub failures: Option<std::sync::Arc<Vec<diario_domain::SystemFailure>>>,
}

/// Why the policy refuses: a stable code and an Italian / English message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denied {
    pub code: &'static str,
    pub message: String,
}

fn denied(code: &'static str, message: &str) -> Denied {
    Denied {
        code,
        message: message.to_owned(),
    }
}

/// Who a command is decided for.
#[derive(Debug, Clone)]
pub enum Caller<'a> {
    /// A person through the API: the role comes from [`case_actor_role`].
    Person(&'a Principal),
    /// The recipient or a family member answering through FirmaLOM (Art. 6).
    Recipient(FiscalCode),
    /// The deadline scheduler.
    System,
}

impl Caller<'_> {
    /// The domain actor of a case command on `state`.
    pub fn case_actor(&self, command: &CaseCommand, state: &CaseState) -> Actor {
        match self {
            Caller::Person(p) => p.actor(case_actor_role(p, command, state)),
            Caller::Recipient(cf) => Actor::person(cf.clone(), ActorRole::Recipient),
            Caller::System => Actor::System,
        }
    }
}

impl Principal {
    /// Holds `role` over organisation `org` (an unscoped grant covers every organisation).
    pub fn has(&self, role: GrantRole, org: &str) -> bool {
        self.grants.iter().any(|g| g.covers(role, org))
    }

    /// Holds `role` over some organisation.
    pub fn has_any(&self, role: GrantRole) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    /// The domain actor with an organisation role.
    pub fn actor(&self, role: ActorRole) -> Actor {
        Actor::person(self.cf.clone(), role)
    }

    /// The actor of a system-failure command (Art. 9): the support desk, if a grant says so.
    pub fn support_actor(&self) -> Actor {
        if self.has_any(GrantRole::Support) {
            self.actor(ActorRole::Support)
        } else {
            self.actor(ActorRole::Staff)
        }
    }

    fn ats_or_auditor(&self, ats: &str) -> bool {
        self.has(GrantRole::AtsOperator, ats) || self.has(GrantRole::Auditor, ats)
    }
}

/// The domain role a person acts under for a case command, from their grants and the case
/// (the decider then checks the case-level rights).
pub fn case_actor_role(p: &Principal, command: &CaseCommand, state: &CaseState) -> ActorRole {
    match (command, &state.file) {
        (CaseCommand::OpenCase(c), _) if p.has(GrantRole::AtsOperator, &c.ats) => {
            ActorRole::AtsOperator
        }
        (CaseCommand::ChangeResponsabile(c), Some(f)) => {
            if p.has(GrantRole::AtsOperator, &f.ats) {
                ActorRole::AtsOperator
            } else if p.has(GrantRole::EnteAdmin, ente_code(f, c.ente)) {
                ActorRole::EnteAdmin
            } else {
                ActorRole::Staff
            }
        }
        (
            CaseCommand::ChangeRecipientEnrolment(_)
            | CaseCommand::ChangeCaseManager(_)
            | CaseCommand::ChangeConfirmers(_)
            | CaseCommand::CheckPaperScan(_)
            | CaseCommand::AuthoriseSuspension(_),
            Some(f),
        ) if p.has(GrantRole::AtsOperator, &f.ats) => ActorRole::AtsOperator,
        (CaseCommand::CosignLateEntry(_), Some(_)) if p.has_any(GrantRole::Support) => {
            ActorRole::Support
        }
        _ => ActorRole::Staff,
    }
}

fn ente_code(f: &CaseFile, ente: Ente) -> &str {
    match ente {
        Ente::Asst => &f.asst,
        Ente::Provider => &f.provider,
    }
}

/// Who may read a case (Art. 10): its staff (responsabili, case manager, enabled professionals,
/// authors), the ATS operators and auditors of its ATS, the administrators of its enti.
pub fn read_case(p: &Principal, f: &CaseFile) -> Result<(), Denied> {
    let staff = f.is_any_responsabile(&p.cf)
        || f.case_manager == p.cf
        || f.professionals.keys().any(|(_, cf)| *cf == p.cf)
        || f.entries.values().any(|e| e.professional == p.cf);
    if staff
        || p.ats_or_auditor(&f.ats)
        || p.has(GrantRole::EnteAdmin, &f.asst)
        || p.has(GrantRole::EnteAdmin, &f.provider)
    {
        Ok(())
    } else {
        Err(denied(
            "case-access-denied",
            "Art. 10: solo il personale della pratica, l'ATS e i revisori la consultano",
        ))
    }
}

/// The role a read of a case is made under, as the access log records it: the person's part
/// in the case, else the grant that lets them read it.
pub fn read_basis(p: &Principal, f: &CaseFile) -> &'static str {
    if f.is_any_responsabile(&p.cf) {
        "responsabile"
    } else if f.case_manager == p.cf {
        "case_manager"
    } else if f.professionals.keys().any(|(_, cf)| *cf == p.cf)
        || f.entries.values().any(|e| e.professional == p.cf)
    {
        "professional"
    } else if p.has(GrantRole::AtsOperator, &f.ats) {
        "ats_operator"
    } else if p.has(GrantRole::Auditor, &f.ats) {
        "auditor"
    } else if p.has(GrantRole::EnteAdmin, &f.asst) || p.has(GrantRole::EnteAdmin, &f.provider) {
        "ente_admin"
    } else {
        "other"
    }
}

/// Who may list the access log: the data-protection officer and unscoped auditors.
pub fn read_access_log(p: &Principal) -> Result<(), Denied> {
    let unscoped_auditor = p
        .grants
        .iter()
        .any(|g| g.role == GrantRole::Auditor && g.scope.is_none());
    if p.has_any(GrantRole::DataProtectionOfficer) || unscoped_auditor {
        Ok(())
    } else {
        Err(denied(
            "access-log-denied",
            "solo il responsabile della protezione dei dati e i revisori consultano il registro degli accessi",
        ))
    }
}

/// Who may read a case's audit trail, history and notifications: its ATS and auditors.
pub fn audit_case(p: &Principal, f: &CaseFile) -> Result<(), Denied> {
    if p.ats_or_auditor(&f.ats) {
        Ok(())
    } else {
        Err(denied(
            "audit-access-denied",
            "solo i revisori e l'ATS della pratica consultano la traccia di audit",
        ))
    }
}

/// Who may read a case's Art. 8 checklists: its ATS, auditors and responsabili.
pub fn read_checklists(p: &Principal, f: &CaseFile) -> Result<(), Denied> {
    if p.ats_or_auditor(&f.ats) || f.is_any_responsabile(&p.cf) {
        Ok(())
    } else {
        Err(denied(
            "case-access-denied",
            "solo i revisori, l'ATS e i responsabili della pratica consultano le checklist",
        ))
    }
}

/// Who may read an ATS's dashboard and case list: its operators and auditors.
pub fn read_ats(p: &Principal, ats: &str) -> Result<(), Denied> {
    if p.ats_or_auditor(ats) {
        Ok(())
    } else {
        Err(denied(
            "ats-access-denied",
            "solo gli operatori e i revisori di questa ATS",
        ))
    }
}

/// Who manages grants: a platform administrator.
pub fn manage_grants(p: &Principal) -> Result<(), Denied> {
    if p.platform_admin {
        Ok(())
    } else {
        Err(denied(
            "not-platform-admin",
            "solo l'amministratore della piattaforma gestisce i ruoli",
        ))
    }
}

/// Who registers an organisation: a platform administrator any; an ATS operator the enti of
/// the ATS's own territory (providers, Ambito lead bodies, plan partners — not an ATS or an
/// ASST, which regional law fixes).
pub fn register_organisation(p: &Principal, organisation: &Organisation) -> Result<(), Denied> {
    let by_its_ats = matches!(
        organisation.kind,
        OrgKind::Provider | OrgKind::AmbitoLead | OrgKind::PlanPartner
    ) && organisation
        .ats
        .as_deref()
        .is_some_and(|ats| p.has(GrantRole::AtsOperator, ats));
    if p.platform_admin || by_its_ats {
        Ok(())
    } else {
        Err(denied(
            "organisation-registration-denied",
            "registrano un ente l'amministratore della piattaforma o un operatore dell'ATS del suo territorio",
        ))
    }
}

/// Who records a staff member's name and figures in `organisation`: a platform administrator,
/// the organisation's administrators, and an ATS's operators for the ATS itself.
pub fn manage_staff(p: &Principal, organisation: &Organisation) -> Result<(), Denied> {
    let allowed = p.platform_admin
        || match organisation.kind {
            OrgKind::Ats => p.has(GrantRole::AtsOperator, &organisation.code),
            _ => p.has(GrantRole::EnteAdmin, &organisation.code),
        };
    if allowed {
        Ok(())
    } else {
        Err(denied(
            "staff-management-denied",
            "registrano il personale l'amministratore dell'ente (o l'operatore per la propria ATS) e l'amministratore della piattaforma",
        ))
    }
}

/// The ATS a cost report may cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CostScope {
    /// The ATS asked for, or every ATS when `None` (an unscoped grant).
    Granted(Option<String>),
    /// A person scoped to several ATS must name one of them.
    AtsRequired(Vec<String>),
}

/// The ATS a cost report may cover for `p`: an unscoped ATS operator or auditor may ask for
/// any (or all); a scoped one gets its own ATS (forced when absent, refused for another).
pub fn cost_scope(p: &Principal, requested: Option<String>) -> Result<CostScope, Denied> {
    let grants: Vec<_> = p
        .grants
        .iter()
        .filter(|g| matches!(g.role, GrantRole::AtsOperator | GrantRole::Auditor))
        .collect();
    if grants.is_empty() {
        return Err(denied(
            "ats-access-denied",
            "solo gli operatori ATS e i revisori consultano il rendiconto dei costi",
        ));
    }
    if grants.iter().any(|g| g.scope.is_none()) {
        return Ok(CostScope::Granted(requested));
    }
    let scopes: BTreeSet<&str> = grants.iter().filter_map(|g| g.scope.as_deref()).collect();
    match requested {
        Some(a) if scopes.contains(a.as_str()) => Ok(CostScope::Granted(Some(a))),
        Some(_) => Err(denied(
            "ats-access-denied",
            "il rendiconto è limitato alla propria ATS",
        )),
        None if scopes.len() == 1 => {
            Ok(CostScope::Granted(scopes.first().map(|s| (*s).to_owned())))
        }
        None => Ok(CostScope::AtsRequired(
            scopes.into_iter().map(str::to_owned).collect(),
        )),
    }
}

/// Something a person may do, by the grants they hold (what `GET /v1/me` lists): a stable
/// code, the organisation it is limited to (`None`: every one) and an Italian description.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Capability {
    pub code: &'static str,
    pub scope: Option<String>,
    pub description: &'static str,
}

/// What `p` may do beyond the work every person does on the cases that name them (record,
/// amend and withdraw their own entries where enabled; act as responsabile or case manager
/// where a case names them — the case decides those). Derived from the same grants the
/// policy above reads, in the same terms.
pub fn capabilities(p: &Principal) -> Vec<Capability> {
    let cap = |code, scope: Option<&String>, description| Capability {
        code,
        scope: scope.cloned(),
        description,
    };
    let mut out = vec![cap(
        "case-work",
        None,
        "registrare, correggere e ritirare le proprie prestazioni dove abilitato; agire come responsabile o case manager dove la pratica lo nomina",
    )];
    for g in &p.grants {
        let scope = g.scope.as_ref();
        match g.role {
            GrantRole::AtsOperator => {
                out.push(cap("open-cases", scope, "aprire pratiche dell'ATS"));
                out.push(cap(
                    "change-responsabile",
                    scope,
                    "cambiare i responsabili delle pratiche dell'ATS",
                ));
                out.push(cap(
                    "read-ats",
                    scope,
                    "consultare pratiche, cruscotto, tracce di audit, checklist e costi dell'ATS",
                ));
            }
            GrantRole::Auditor => out.push(cap(
                "read-ats",
                scope,
                "consultare pratiche, cruscotto, tracce di audit, checklist e costi (sola lettura)",
            )),
            GrantRole::EnteAdmin => {
                out.push(cap(
                    "change-responsabile",
                    scope,
                    "cambiare il responsabile dell'ente nelle sue pratiche",
                ));
                out.push(cap(
                    "read-ente-cases",
                    scope,
                    "consultare le pratiche dell'ente",
                ));
            }
            GrantRole::Support => out.push(cap(
                "declare-failures",
                None,
                "dichiarare e chiudere i malfunzionamenti di sistema (Art. 9)",
            )),
            GrantRole::PlatformAdmin => {}
            GrantRole::DataProtectionOfficer => out.push(cap(
                "read-access-log",
                None,
                "consultare il registro degli accessi ai dati personali (GDPR art. 32)",
            )),
        }
    }
    if p.platform_admin {
        out.push(cap(
            "manage-grants",
            None,
            "assegnare e revocare i ruoli (amministratore della piattaforma)",
        ));
    }
    out.dedup();
    out
}
