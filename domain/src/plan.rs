//! The territorial plan of seed 004 (DGR 2168/2024): «Il Piano di azione avrà una durata di 24
//! mesi», led by the ATS with its partners, split into actions, with a budget by the categories
//! of the Allegato B1 (regional contribution A + B, co-financing D + E + F). It is this
//! measure's "case": its people record their hours against one of its actions in their
//! monthly timesheets (`crate::timesheet`), which the plan's legal representative (or the
//! delegate) countersigns. One stream per plan (`plan-{id}`), this pure decider.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::{Actor, ActorRole};
use crate::catalogue::{CostModel, Measure};
use crate::staff_cost::{PlanCosts, PlanTotals, StaffCostError, plan_totals, rules_of};
use crate::values::{FigureId, FiscalCode, MeasureId, ServiceId, civil_date};

/// The plan's length (seed 004, Allegato A §1).
pub const PLAN_MONTHS: u32 = 24;

/// Why a plan command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum PlanError {
    /// The plan stream is empty.
    #[error("il piano non esiste")]
    NotOpened,
    /// A plan is opened once.
    #[error("il piano è già stato aperto")]
    AlreadyOpened,
    /// Only an ATS operator opens a plan and names its people (the plan is «a regia ATS»).
    #[error("solo un operatore ATS può aprire il piano e indicarne le persone")]
    NotAtsOperator,
    /// The measure does not price actual staff cost.
    #[error("la misura {0} non prevede piani con il costo effettivo del personale")]
    NotAPlanMeasure(MeasureId),
    /// The plan runs longer than the measure allows.
    #[error("il piano dura dal {start} al {end}: al massimo 24 mesi («durata di 24 mesi»)")]
    TooLong {
        /// First day.
        start: NaiveDate,
        /// Last day.
        end: NaiveDate,
    },
    /// A plan needs a title, actions, a legal representative.
    #[error("{0}: campo obbligatorio")]
    Missing(&'static str),
    /// An action names an area the measure does not define.
    #[error("l'azione {action} indica l'area {area}, che la misura non prevede")]
    UnknownArea {
        /// The action.
        action: String,
        /// The area (a service of the measure).
        area: ServiceId,
    },
    /// Two actions share an id.
    #[error("l'azione {0} è indicata due volte")]
    DuplicateAction(String),
    /// A figure the measure does not define.
    #[error("la figura {0} non è prevista dalla misura")]
    UnknownFigure(FigureId),
    /// «solo a copertura del cofinanziamento»: a volunteer is never paid by the contribution.
    #[error("il lavoro volontario si valorizza solo come cofinanziamento")]
    VolunteerAsContribution,
    /// The budget's categories break a limit of the Allegato B.
    #[error("il piano dei costi non rispetta l'Allegato B: {0}")]
    Budget(String),
    /// An unknown action.
    #[error("il piano non prevede l'azione {0}")]
    UnknownAction(String),
    /// The final report is filed once.
    #[error("la rendicontazione finale è già stata trasmessa")]
    ReportAlreadyFiled,
    /// The final report after the end of the activities.
    #[error("la rendicontazione finale si trasmette dopo il termine delle attività ({0})")]
    ReportTooEarly(NaiveDate),
    /// A sample's seed: 1–128 printable ASCII characters, no spaces.
    #[error("seme non valido: da 1 a 128 caratteri ASCII stampabili, senza spazi")]
    InvalidSeed,
    /// No countersigned timesheet to check yet.
    #[error("nessun time-sheet controfirmato da controllare nel piano")]
    NothingToSample,
    /// A staff-cost rule.
    #[error(transparent)]
    StaffCost(#[from] StaffCostError),
}

impl PlanError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::NotOpened => "plan-not-found",
            PlanError::AlreadyOpened => "plan-already-opened",
            PlanError::NotAtsOperator => "not-ats-operator",
            PlanError::NotAPlanMeasure(_) => "not-a-plan-measure",
            PlanError::TooLong { .. } => "plan-too-long",
            PlanError::Missing(_) => "field-required",
            PlanError::UnknownArea { .. } => "unknown-area",
            PlanError::DuplicateAction(_) => "duplicate-action",
            PlanError::UnknownFigure(_) => "figure-not-in-catalogue",
            PlanError::VolunteerAsContribution => "volunteer-only-cofinancing",
            PlanError::Budget(_) => "plan-budget-over-limits",
            PlanError::UnknownAction(_) => "unknown-action",
            PlanError::ReportAlreadyFiled => "final-report-already-filed",
            PlanError::ReportTooEarly(_) => "final-report-too-early",
            PlanError::InvalidSeed => "invalid-sample-seed",
            PlanError::NothingToSample => "empty-sample-population",
            PlanError::StaffCost(e) => e.code(),
        }
    }

    /// The broad class (403, 404, 409 or 422).
    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind;
        match self {
            PlanError::NotAtsOperator => ErrorKind::Forbidden,
            PlanError::NotOpened => ErrorKind::NotFound,
            PlanError::AlreadyOpened
            | PlanError::ReportAlreadyFiled
            | PlanError::ReportTooEarly(_) => ErrorKind::Conflict,
            PlanError::StaffCost(e) if e.forbidden() => ErrorKind::Forbidden,
            _ => ErrorKind::Unprocessable,
        }
    }
}

/// One action of the plan (a line of the Allegato A's «struttura del piano»).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Stable id («codice identificativo azione»).
    pub id: String,
    /// Name.
    pub name: String,
    /// The area of intervention (a service of the measure, §4).
    pub area: ServiceId,
}

/// How a person's hours on the plan are financed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Financing {
    /// A. «Costi del personale interno ed esterno»: paid by the regional contribution.
    Contribution,
    /// D. «Valorizzazione di personale già dipendente degli enti appartenenti alla rete»:
    /// co-financing.
    NetworkStaff,
    /// E. «Valorizzazione del lavoro volontario»: co-financing.
    Volunteer,
}

/// A person who works on the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPerson {
    /// The person.
    pub person: FiscalCode,
    /// The partner they work for.
    pub organisation: String,
    /// Their figure.
    pub figure: FigureId,
    /// How their hours are financed.
    pub financing: Financing,
}

/// Commands of a plan stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum PlanCommand {
    /// The ATS opens the plan as validated by the Region.
    OpenPlan {
        /// The plan's id.
        plan_id: Uuid,
        /// Its measure (an `actual_staff_cost` one).
        measure_id: MeasureId,
        /// «Titolo del Piano di azione territoriale».
        title: String,
        /// The ATS (the «regia»).
        ats: String,
        /// The lead partner (ente capofila).
        lead: String,
        /// The other partners.
        #[serde(default)]
        partners: Vec<String>,
        /// The actions.
        actions: Vec<Action>,
        /// First day of the activities.
        start: NaiveDate,
        /// Last day of the activities.
        end: NaiveDate,
        /// The «piano dei costi» (Allegato B1).
        budget: PlanCosts,
        /// Who countersigns the timesheets: the legal representative and the delegates
        /// («controfirmato dal legale rappresentante o dal responsabile del Piano»).
        countersigners: Vec<FiscalCode>,
    },
    /// A person works on the plan, for a partner, with a figure and a financing.
    AssignPerson(PlanPerson),
    /// The ATS files the final report (Allegati A.2 and B.2).
    FileFinalReport,
    /// The ATS draws the sample of supporting documents it checks (Allegato B §3), over the
    /// plan's countersigned timesheets as read (the population is recorded).
    DrawControlSample {
        /// The seed (printable ASCII, no spaces, 1–128 characters).
        seed: String,
        /// The supporting documents: one per person and month countersigned.
        documents: Vec<PlanDocument>,
    },
}

/// A supporting document of the plan's report: one person's countersigned month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDocument {
    /// [`document_id`] of it.
    pub document_id: Uuid,
    /// The person.
    pub person: FiscalCode,
    /// `YYYY-MM`.
    pub month: String,
    /// The partner.
    pub organisation: String,
    /// The amount it supports.
    pub amount: crate::values::Cents,
}

/// The id of a person's month on a plan: the first 16 bytes of
/// `SHA-256("diario-plan-document:" plan ":" person ":" month)`, so anyone can recompute it.
pub fn document_id(plan_id: Uuid, person: &FiscalCode, month: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(
        format!(
            "diario-plan-document:{}:{}:{month}",
            plan_id.hyphenated(),
            person.as_str()
        )
        .as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// The thresholds of the ATS's check of a plan's report (Allegato B §3: «un sub-campionamento
/// individuando una percentuale di giustificativi che coprano almeno il 10% della spesa del
/// singolo Piano, nel caso in cui il numero degli stessi sia superiore a 50»): past the
/// measure's `when_documents_over`, at least `min_spending_percent` of the spending (and at
/// least one document per partner); otherwise every document is checked.
pub fn control_thresholds(measure: &Measure, documents: usize) -> crate::sampling::Thresholds {
    let rule = measure
        .cost_rules
        .as_ref()
        .and_then(|r| r.sampling.as_ref());
    match rule {
        Some(r) if documents > r.when_documents_over as usize => crate::sampling::Thresholds {
            operations_pct: 1,
            expenditure_pct: r.min_spending_percent,
        },
        _ => crate::sampling::Thresholds {
            operations_pct: 100,
            expenditure_pct: 100,
        },
    }
}

/// A control sample as drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlSample {
    /// The seed.
    pub seed: String,
    /// The thresholds used.
    pub thresholds: crate::sampling::Thresholds,
    /// The population: every document, by id.
    pub documents: Vec<PlanDocument>,
    /// The documents drawn (strata by partner, each in rank order).
    pub selected: Vec<Uuid>,
    /// Who drew it.
    pub by: FiscalCode,
    /// When.
    pub at: DateTime<Utc>,
}

/// Events of a plan stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PlanEvent {
    /// The plan was opened.
    PlanOpened {
        /// What was opened.
        #[serde(flatten)]
        plan: Box<OpenedPlan>,
        /// By.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// A person was assigned.
    PersonAssigned {
        /// The assignment.
        #[serde(flatten)]
        person: PlanPerson,
        /// By.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
    /// The ATS drew the sample of documents it checks.
    ControlSampleDrawn(ControlSample),
    /// The final report was filed.
    FinalReportFiled {
        /// By.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
        /// Whether it was late (more than the measure's days after the end).
        late: bool,
    },
}

/// The plan as opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedPlan {
    /// Id.
    pub plan_id: Uuid,
    /// Measure.
    pub measure_id: MeasureId,
    /// Title.
    pub title: String,
    /// ATS.
    pub ats: String,
    /// Lead partner.
    pub lead: String,
    /// Other partners.
    pub partners: Vec<String>,
    /// Actions.
    pub actions: Vec<Action>,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// Budget.
    pub budget: PlanCosts,
    /// Its totals and flags when opened.
    pub totals: PlanTotals,
    /// Countersigners.
    pub countersigners: Vec<FiscalCode>,
}

/// A plan as its stream leaves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Id.
    pub plan_id: Uuid,
    /// Measure.
    pub measure_id: MeasureId,
    /// Title.
    pub title: String,
    /// ATS.
    pub ats: String,
    /// Lead partner.
    pub lead: String,
    /// Other partners.
    pub partners: Vec<String>,
    /// Actions.
    pub actions: Vec<Action>,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// Budget.
    pub budget: PlanCosts,
    /// Countersigners.
    pub countersigners: Vec<FiscalCode>,
    /// People by fiscal code.
    pub people: BTreeMap<FiscalCode, PlanPerson>,
    /// When the final report was filed.
    pub final_report_at: Option<DateTime<Utc>>,
    /// The control samples drawn, in order.
    #[serde(default)]
    pub samples: Vec<ControlSample>,
}

/// The plan stream's state.
pub type PlanState = Option<PlanFile>;

/// Days after the end within which the final report is due («entro 60 giorni dopo il termine
/// delle attività»).
pub const REPORT_WITHIN_DAYS: u64 = 60;

impl PlanFile {
    /// The action with this id.
    pub fn action(&self, id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.id == id)
    }

    /// The last day of the final report.
    pub fn report_due(&self) -> NaiveDate {
        self.end + chrono::Days::new(REPORT_WITHIN_DAYS)
    }
}

/// The state of a plan's final report on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// The activities are running.
    Running,
    /// The activities ended: the report is due by `due`.
    Due,
    /// Due within the alert window (the last 15 days).
    DueSoon,
    /// Past its day and not filed.
    Overdue,
    /// Filed.
    Filed,
}

/// Days before the report's last day when it is flagged as due soon.
pub const REPORT_ALERT_DAYS: i64 = 15;

/// The final report's state on `today`.
pub fn report_status(plan: &PlanFile, today: NaiveDate) -> ReportStatus {
    if plan.final_report_at.is_some() {
        ReportStatus::Filed
    } else if today <= plan.end {
        ReportStatus::Running
    } else if today > plan.report_due() {
        ReportStatus::Overdue
    } else if (plan.report_due() - today).num_days() < REPORT_ALERT_DAYS {
        ReportStatus::DueSoon
    } else {
        ReportStatus::Due
    }
}

fn ats_operator(actor: &Actor) -> Result<FiscalCode, PlanError> {
    match (actor.role(), actor.fiscal_code()) {
        (Some(ActorRole::AtsOperator), Some(cf)) => Ok(cf.clone()),
        _ => Err(PlanError::NotAtsOperator),
    }
}

/// Decides a plan command.
pub fn decide_plan(
    state: &PlanState,
    command: &PlanCommand,
    measure: &Measure,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<PlanEvent>, PlanError> {
    let by = ats_operator(actor)?;
    match command {
        PlanCommand::OpenPlan {
            plan_id,
            measure_id,
            title,
            ats,
            lead,
            partners,
            actions,
            start,
            end,
            budget,
            countersigners,
        } => {
            if state.is_some() {
                return Err(PlanError::AlreadyOpened);
            }
            if measure.cost_model != CostModel::ActualStaffCost || &measure.id != measure_id {
                return Err(PlanError::NotAPlanMeasure(measure_id.clone()));
            }
            let rules = rules_of(measure)?;
            if title.trim().is_empty() {
                return Err(PlanError::Missing("title"));
            }
            if actions.is_empty() {
                return Err(PlanError::Missing("actions"));
            }
            if countersigners.is_empty() {
                return Err(PlanError::Missing("countersigners"));
            }
            let longest = start
                .checked_add_months(Months::new(PLAN_MONTHS))
                .and_then(|d| d.pred_opt());
            if end < start || longest.is_none_or(|last| *end > last) {
                return Err(PlanError::TooLong {
                    start: *start,
                    end: *end,
                });
            }
            let mut ids = std::collections::BTreeSet::new();
            for a in actions {
                if a.id.trim().is_empty() || a.name.trim().is_empty() {
                    return Err(PlanError::Missing("actions id, name"));
                }
                if !ids.insert(a.id.as_str()) {
                    return Err(PlanError::DuplicateAction(a.id.clone()));
                }
                if measure.service(&a.area).is_none() {
                    return Err(PlanError::UnknownArea {
                        action: a.id.clone(),
                        area: a.area.clone(),
                    });
                }
            }
            let b = budget;
            if [
                b.staff,
                b.other,
                b.equipment,
                b.network_staff,
                b.volunteers,
                b.cash,
            ]
            .iter()
            .any(|c| c.0 < 0)
            {
                return Err(PlanError::Budget(
                    "gli importi del piano dei costi non possono essere negativi".to_owned(),
                ));
            }
            let totals = plan_totals(rules, budget);
            if let Some(flag) = totals.flags.first() {
                // A plan is opened as the Region validated it: its budget keeps the limits.
                return Err(PlanError::Budget(flag.message()));
            }
            Ok(vec![PlanEvent::PlanOpened {
                plan: Box::new(OpenedPlan {
                    plan_id: *plan_id,
                    measure_id: measure_id.clone(),
                    title: title.trim().to_owned(),
                    ats: ats.clone(),
                    lead: lead.clone(),
                    partners: partners.clone(),
                    actions: actions.clone(),
                    start: *start,
                    end: *end,
                    budget: *budget,
                    totals,
                    countersigners: countersigners.clone(),
                }),
                by,
                at: now,
            }])
        }
        PlanCommand::AssignPerson(person) => {
            let plan = state.as_ref().ok_or(PlanError::NotOpened)?;
            let figure = measure
                .figure(&person.figure)
                .ok_or_else(|| PlanError::UnknownFigure(person.figure.clone()))?;
            if figure.volunteer != (person.financing == Financing::Volunteer) {
                return Err(PlanError::VolunteerAsContribution);
            }
            if person.organisation != plan.lead && !plan.partners.contains(&person.organisation) {
                return Err(PlanError::Missing("organisation (a partner of the plan)"));
            }
            Ok(vec![PlanEvent::PersonAssigned {
                person: person.clone(),
                by,
                at: now,
            }])
        }
        PlanCommand::DrawControlSample { seed, documents } => {
            let plan = state.as_ref().ok_or(PlanError::NotOpened)?;
            if seed.is_empty() || seed.len() > 128 || !seed.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(PlanError::InvalidSeed);
            }
            if documents.is_empty() {
                return Err(PlanError::NothingToSample);
            }
            let mut documents = documents.clone();
            documents.sort_by_key(|d| d.document_id);
            let population: Vec<crate::sampling::Operation> = documents
                .iter()
                .map(|d| crate::sampling::Operation {
                    case_id: d.document_id,
                    ats: plan.ats.clone(),
                    provider: d.organisation.clone(),
                    expenditure_cents: d.amount.0,
                })
                .collect();
            let thresholds = control_thresholds(measure, documents.len());
            let selected = crate::sampling::draw(&population, seed, thresholds);
            Ok(vec![PlanEvent::ControlSampleDrawn(ControlSample {
                seed: seed.clone(),
                thresholds,
                documents,
                selected,
                by,
                at: now,
            })])
        }
        PlanCommand::FileFinalReport => {
            let plan = state.as_ref().ok_or(PlanError::NotOpened)?;
            if plan.final_report_at.is_some() {
                return Err(PlanError::ReportAlreadyFiled);
            }
            let today = civil_date(now);
            if today <= plan.end {
                return Err(PlanError::ReportTooEarly(plan.end));
            }
            Ok(vec![PlanEvent::FinalReportFiled {
                by,
                at: now,
                late: today > plan.report_due(),
            }])
        }
    }
}

/// Folds one event.
pub fn evolve_plan(state: PlanState, event: &PlanEvent) -> PlanState {
    match event {
        PlanEvent::PlanOpened { plan, .. } => Some(PlanFile {
            plan_id: plan.plan_id,
            measure_id: plan.measure_id.clone(),
            title: plan.title.clone(),
            ats: plan.ats.clone(),
            lead: plan.lead.clone(),
            partners: plan.partners.clone(),
            actions: plan.actions.clone(),
            start: plan.start,
            end: plan.end,
            budget: plan.budget,
            countersigners: plan.countersigners.clone(),
            people: BTreeMap::new(),
            final_report_at: None,
            samples: Vec::new(),
        }),
        PlanEvent::PersonAssigned { person, .. } => state.map(|mut p| {
            p.people.insert(person.person.clone(), person.clone());
            p
        }),
        PlanEvent::ControlSampleDrawn(sample) => state.map(|mut p| {
            p.samples.push(sample.clone());
            p
        }),
        PlanEvent::FinalReportFiled { at, .. } => state.map(|mut p| {
            p.final_report_at = Some(*at);
            p
        }),
    }
}
