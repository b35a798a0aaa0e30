//! The measure catalogue ("quadro delle prestazioni", Art. 8; `docs/domain.md`): phases, professional figures,
//! services per phase, caps, deadlines, confirmation mode and unit costs are DATA loaded from a
//! JSON file, so an operator can replace example values without touching code.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::values::{Cents, Ente, FigureId, MeasureId, Phase, ServiceId};

/// Why a catalogue file was refused at load time.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The file is not valid JSON for the schema.
    #[error("measure catalogue is not valid JSON for the schema: {0}")]
    Json(#[from] serde_json::Error),
    /// An id is empty.
    #[error("measure catalogue: empty identifier in {0}")]
    EmptyId(&'static str),
    /// A list that must have at least one element is empty.
    #[error("measure catalogue: {0} must not be empty")]
    Empty(&'static str),
    /// Two figures share an id.
    #[error("measure catalogue: duplicate figure id {0}")]
    DuplicateFigure(FigureId),
    /// Two services share an id.
    #[error("measure catalogue: duplicate service id {0}")]
    DuplicateService(ServiceId),
    /// A phase is described twice.
    #[error("measure catalogue: phase {0} described twice")]
    DuplicatePhase(Phase),
    /// A reference to a figure that the measure does not define.
    #[error("measure catalogue: {context} refers to unknown figure {figure}")]
    UnknownFigure {
        /// Where the reference was found.
        context: String,
        /// The unknown figure.
        figure: FigureId,
    },
    /// A service refers to a phase the measure does not define.
    #[error(
        "measure catalogue: service {service} refers to phase {phase} not defined by the measure"
    )]
    UnknownPhase {
        /// The service.
        service: ServiceId,
        /// The missing phase.
        phase: Phase,
    },
    /// A cap, deadline, cost or amount that must be positive is zero or negative.
    #[error("measure catalogue: {0} must be positive")]
    NotPositive(String),
    /// The slot granularity does not divide a day.
    #[error("measure catalogue: slot granularity {0} minutes must be a positive divisor of 1440")]
    Granularity(u32),
    /// A reference to a service that the measure does not define.
    #[error("measure catalogue: {context} refers to unknown service {service}")]
    UnknownService {
        /// Where the reference was found.
        context: String,
        /// The unknown service.
        service: ServiceId,
    },
    /// Two document rules share a kind.
    #[error("measure catalogue: document kind {0} described twice")]
    DuplicateDocument(String),
    /// A document rule names a phase the measure does not define.
    #[error(
        "measure catalogue: document {kind} refers to phase {phase} not defined by the measure"
    )]
    UnknownDocumentPhase {
        /// The document kind.
        kind: String,
        /// The missing phase.
        phase: Phase,
    },
    /// `pdi_document` names a kind the measure does not list in `documents`.
    #[error("measure catalogue: {context} refers to unknown document kind {kind}")]
    UnknownDocument {
        /// Where.
        context: &'static str,
        /// The kind named.
        kind: String,
    },
    /// The flat amounts of an intensity add up to more than the voucher.
    #[error(
        "measure catalogue: the flat amounts of intensity {intensity} add up to {total}, more than the voucher's {voucher}"
    )]
    FlatAmountsOverVoucher {
        /// The intensity (`-` for none).
        intensity: String,
        /// Their sum.
        total: Cents,
        /// The voucher's amount.
        voucher: Cents,
    },
    /// The cost model and the measure's data disagree.
    #[error("measure catalogue: cost_model {model:?}: {why}")]
    CostModel {
        /// The model the measure selects.
        model: CostModel,
        /// What does not fit.
        why: String,
    },
    /// Two measures of one catalogue share an id.
    #[error("measure catalogue: two measures have the id {0}")]
    DuplicateMeasure(MeasureId),
    /// A reference to an unknown intensity.
    #[error("measure catalogue: flat amount {0} refers to an unknown intensity")]
    UnknownIntensity(String),
    /// Two versions of one measure take effect on the same date (or both have none).
    #[error(
        "measure catalogue: two versions of {measure} take effect on the same date ({date}); give each version its own effective_from"
    )]
    SameEffectiveDate {
        /// The measure.
        measure: MeasureId,
        /// The date (`-` for none).
        date: String,
    },
    /// A measure with several versions must name each.
    #[error("measure catalogue: every version of {0} needs a `version` when there are several")]
    VersionMissing(MeasureId),
    /// A file of the catalogue directory was refused.
    #[error("measure catalogue file {file}: {error}")]
    File {
        /// The file.
        file: String,
        /// Why.
        error: Box<CatalogueError>,
    },
    /// The catalogue directory could not be read.
    #[error("measure catalogue directory {dir}: {error}")]
    Directory {
        /// The directory.
        dir: String,
        /// The I/O error, as text (the domain does no I/O; the caller reports it).
        error: String,
    },
}

/// The unit cost an entry is priced at, as recorded with it: the figure's hourly cost in the
/// catalogue version in force on the **delivery date**, and which version that was, so a
/// report of years later recomputes the claim exactly, whatever the catalogue says by then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// Cents per hour (`None`: the figure has no hourly cost in that version).
    pub unit_cost_cents: Option<Cents>,
    /// The catalogue version (`Measure::version`).
    pub catalogue_version: Option<String>,
    /// When that version took effect (`None`: the first version, from the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_from: Option<NaiveDate>,
}

/// How the recipient confirms the hours of a phase (Art. 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationMode {
    /// Phases I–II: the whole diary once, when the responsabile closes it.
    WholeDiaryAtClosure,
    /// Phases III–IV: one or more entries per request, at any time.
    PerEntry,
}

/// Deadlines of the measure, in civil days (Europe/Rome).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    /// Art. 5: an entry must be recorded within this many days of delivery (15).
    pub record_within_days: u32,
    /// Art. 6: the recipient answers within this many days of the notification (1).
    pub answer_within_days: u32,
    /// Art. 6: an unanswered request may be sent again after this many days (1).
    #[serde(default)]
    pub resend_after_days: Option<u32>,
    /// Art. 9: late registration allowed within this many days after a failure is resolved (5).
    pub failure_grace_days: u32,
}

impl Deadlines {
    /// Days after which a re-send is allowed (defaults to the answer deadline).
    pub fn resend_after(&self) -> u32 {
        self.resend_after_days.unwrap_or(self.answer_within_days)
    }
}

/// A professional figure and its unit cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// Stable id.
    pub id: FigureId,
    /// Human name (Italian).
    pub name: String,
    /// Unit cost in euro cents per hour; absent when the cost is per person (seed 004) or the
    /// measure pays flat amounts (seed 003).
    #[serde(default)]
    pub hourly_cost_cents: Option<Cents>,
    /// How the cost is determined when it is not a fixed unit cost (free text for reports).
    #[serde(default)]
    pub cost_basis: Option<String>,
    /// Whether the figure is a volunteer (seed 004: valued, not paid).
    #[serde(default)]
    pub volunteer: bool,
}

/// A cap on the minutes of one figure within a phase, per case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureCap {
    /// The figure.
    pub figure: FigureId,
    /// Maximum minutes per case in the phase.
    pub max_minutes: u32,
}

/// The rules of one phase of the measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseRules {
    /// The phase.
    pub phase: Phase,
    /// Human name.
    pub name: String,
    /// The phase's output (Art. 1), e.g. "Progetto individualizzato (PI)".
    #[serde(default)]
    pub output: Option<String>,
    /// Which ente registers the hours and whose responsabile opens/closes the diary (Art. 3).
    pub registered_by: Ente,
    /// How the recipient confirms (Art. 6).
    pub confirmation: ConfirmationMode,
    /// Maximum minutes per case in the phase, all figures together.
    #[serde(default)]
    pub max_minutes_per_case: Option<u32>,
    /// Maximum minutes per figure per case in the phase.
    #[serde(default)]
    pub figure_caps: Vec<FigureCap>,
    /// Whether the PDI's per-voucher caps apply in this phase (Art. 8: phase III).
    #[serde(default)]
    pub pdi_caps: bool,
}

/// A service (prestazione) of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Stable id.
    pub id: ServiceId,
    /// Human name (Italian).
    pub name: String,
    /// Phases in which it may be delivered.
    pub phases: Vec<Phase>,
    /// Figures that may deliver it.
    pub figures: Vec<FigureId>,
    /// Maximum minutes per case in each phase where it is delivered.
    #[serde(default)]
    pub max_minutes_per_phase: Option<u32>,
}

/// Voucher terms (seed 003: €4,800, 12 months, up to 15 with suspension of ≤ 90 days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voucher {
    /// Voucher amount in cents.
    pub amount_cents: Cents,
    /// Normal validity in months.
    pub validity_months: u32,
    /// Maximum validity with suspensions, in months.
    #[serde(default)]
    pub max_validity_months: Option<u32>,
    /// Maximum total suspension in days.
    #[serde(default)]
    pub max_suspension_days: Option<u32>,
    /// The last day of activities the measure allows, whatever the voucher's start (seed 003
    /// §11: «non oltre il 15 giugno 2018»).
    #[serde(default)]
    pub activities_end: Option<chrono::NaiveDate>,
    /// The services whose confirmed entries make an access (`crate::voucher`: a day with at
    /// least one of them); empty: the measure counts no accesses.
    #[serde(default)]
    pub access_services: Vec<ServiceId>,
    /// The document kind the case manager records with the declaration that the objectives
    /// were (or were not) achieved (§9 D, §12: the «relazione finale individuale»).
    #[serde(default)]
    pub final_report_document: Option<String>,
    /// The last day of the closure procedures (§11: «entro il 30 luglio 2018»): a pathway
    /// whose objectives are not declared by then is not realised.
    #[serde(default)]
    pub final_report_by: Option<NaiveDate>,
    /// Whether the case manager's formal check of the diaries (§9 D) must pass before the
    /// amounts of a realised pathway are claimed.
    #[serde(default)]
    pub formal_check: bool,
    /// The advance paid on a voucher (§13).
    #[serde(default)]
    pub advance: Option<Advance>,
}

/// The advance on a voucher (seed 003 §13: «una quota, a titolo di anticipazione, pari al 40%
/// del valore dei voucher assegnati ai destinatari per i quali è stato definito e trasmesso
/// […] il Progetto Individuale»).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    /// Percent of the voucher's amount.
    pub percent: u32,
    /// The document kind whose recording makes the advance claimable.
    pub document: String,
}

/// An intensity level of a flat-amount pathway (seed 003).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intensity {
    /// Stable id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Minimum number of documented accesses for the pathway to count as "realised".
    pub min_accesses_for_realised: u32,
}

/// A flat amount paid for an output (seed 003).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlatAmount {
    /// Which intensity it belongs to, if the measure has intensities.
    #[serde(default)]
    pub intensity: Option<String>,
    /// The services it pays for (the seed's "servizi socio-educativi" are several services of
    /// the catalogue, paid by one amount).
    pub services: Vec<ServiceId>,
    /// The output that triggers it.
    pub output: String,
    /// Amount in cents.
    pub amount_cents: Cents,
    /// What makes it due (§12).
    pub due_when: DueWhen,
}

/// What makes a flat amount due (seed 003 §12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DueWhen {
    /// A document of this kind is recorded, and stays due if the pathway stops later (§12:
    /// «a seguito della definizione del PI (output), anche qualora l'intervento
    /// multidimensionale non venisse poi completato»).
    Document {
        /// The document kind (one of `Measure::documents`).
        document: String,
    },
    /// The pathway is realised (§12: «a fronte della realizzazione del PI/PEI»): see
    /// `crate::voucher::realised`.
    Realised,
}

/// Sampling rule for controls (seed 004).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// Minimum share of spending covered by the sample, in percent.
    pub min_spending_percent: u32,
    /// The sample applies when the number of documents exceeds this.
    pub when_documents_over: u32,
}

/// Cost-reporting rules beyond fixed unit costs (seed 004).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostRules {
    /// Staff hourly cost = latest documented annual gross cost / this many hours (1,720),
    /// pro rata for part-time.
    #[serde(default)]
    pub annual_standard_hours: Option<u32>,
    /// Volunteer work valued at this many cents per hour (€16.37).
    #[serde(default)]
    pub volunteer_hourly_cents: Option<Cents>,
    /// Volunteer work valued at this many cents per day (€131).
    #[serde(default)]
    pub volunteer_daily_cents: Option<Cents>,
    /// Minimum co-financing share of the total eligible cost, in percent (20%).
    #[serde(default)]
    pub min_cofinancing_percent: Option<u32>,
    /// Maximum share of the regional contribution for equipment, in percent.
    #[serde(default)]
    pub max_equipment_percent: Option<u32>,
    /// Sampling of supporting documents in controls.
    #[serde(default)]
    pub sampling: Option<Sampling>,
}

/// Timesheet layout (seed 004: monthly timesheet per person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timesheet {
    /// Reporting period, e.g. "monthly".
    pub period: String,
    /// Fields a timesheet row must carry.
    pub fields: Vec<String>,
}

fn default_granularity() -> u32 {
    30
}

/// How a measure prices what is recorded: the cost rule a measure selects (`docs/domain.md`,
/// "Rule kinds a measure selects").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostModel {
    /// Confirmed hours × the figure's unit cost (#UP, Art. 9: «costi standard»): every figure
    /// carries its hourly cost.
    HourlyUnitCost,
    /// Flat amounts per output within a voucher (seed 003 §12: «importi forfettari»): the
    /// hours are the evidence of the accesses, not a cost; no figure carries an hourly cost.
    FlatPerOutput,
    /// Actual staff cost from timesheets (seed 004, Allegato B: «costo orario = costi lordi
    /// annui / 1.720 ore»): the hourly cost is the person's, not the figure's; only a
    /// volunteer figure may carry a standard unit cost (co-financing).
    ActualStaffCost,
}

/// A measure: the whole rule set the decider applies to a case (`docs/domain.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// Stable id, recorded on the case at opening.
    pub id: MeasureId,
    /// Human name.
    pub name: String,
    /// The act that established the measure.
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// The catalogue's version, named by every checklist computed with it (Art. 8) and
    /// recorded with every entry it prices; the operator changes it with the values.
    #[serde(default)]
    pub version: Option<String>,
    /// The first delivery date this version applies to (`None`: from the start). A measure
    /// may have several versions, each with its own date: an entry is priced by the version
    /// in force on its delivery date, and the rules of today are those of the version in
    /// force today.
    #[serde(default)]
    pub effective_from: Option<NaiveDate>,
    /// True when figures, caps or costs are placeholders, not official values.
    #[serde(default)]
    pub example_values: bool,
    /// Free-text note for operators (e.g. which values are examples).
    #[serde(default)]
    pub note: Option<String>,
    /// Deadlines (Art. 5, 6, 9).
    pub deadlines: Deadlines,
    /// How the measure prices what is recorded.
    pub cost_model: CostModel,
    /// Duration granularity in minutes (Art. 5: 30).
    #[serde(default = "default_granularity")]
    pub slot_granularity_minutes: u32,
    /// The most minutes one professional may bill in a day, over every case and measure: a
    /// day past it is flagged in the per-person view (ATS, auditors, "my week"). #UP: 780,
    /// the 13 hours that the 11 consecutive hours of daily rest leave (D.Lgs. 66/2003 art. 7;
    /// `docs/domain.md`).
    #[serde(default)]
    pub max_minutes_per_day: Option<u32>,
    /// The figure under which the ASST case manager records hours (Art. 3), if any.
    #[serde(default)]
    pub case_manager_figure: Option<FigureId>,
    /// Which ente the case manager belongs to, when the measure says so (#UP: the ASST).
    /// Only the case's designated case manager, of that ente, holds the case manager's figure.
    #[serde(default)]
    pub case_manager_ente: Option<Ente>,
    /// Professional figures.
    pub figures: Vec<Figure>,
    /// Phases and their rules.
    pub phases: Vec<PhaseRules>,
    /// Services (prestazioni).
    pub services: Vec<Service>,
    /// Voucher terms, if the measure is voucher based.
    #[serde(default)]
    pub voucher: Option<Voucher>,
    /// Intensity levels and their "realised" thresholds.
    #[serde(default)]
    pub intensities: Vec<Intensity>,
    /// Flat amounts per output.
    #[serde(default)]
    pub flat_amounts: Vec<FlatAmount>,
    /// Cost rules beyond unit costs.
    #[serde(default)]
    pub cost_rules: Option<CostRules>,
    /// Timesheet layout.
    #[serde(default)]
    pub timesheet: Option<Timesheet>,
    /// The documents of the pathway (Art. 1) the measure expects, and which of them closes
    /// its phase.
    #[serde(default)]
    pub documents: Vec<DocumentRule>,
    /// The kind of organisation that takes the case in charge and keeps the phase-I diary (the
    /// case's `asst` party): #UP the ASST (the default); autonomia 2016 the lead body of the
    /// Ambito (seed 003 §9 C, §13: the «Ente capofila dell'Ambito», the voucher's beneficiary).
    #[serde(default)]
    pub public_body_kind: Option<crate::organisations::OrgKind>,
    /// The kind of document the PDI caps come from (Art. 8: the Piano di intervento), when
    /// the measure requires caps to name the document version they were set from.
    #[serde(default)]
    pub pdi_document: Option<String>,
}

/// A document of the pathway (Art. 1: "documentazione di progetto che comprova gli output e
/// risultati attesi del percorso"): its kind, the phase it belongs to, and whether the phase
/// diary may be closed without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRule {
    /// Stable id of the kind, e.g. `progetto_individualizzato`.
    pub kind: String,
    /// Human name (Italian), e.g. "Progetto individualizzato (PI)".
    pub name: String,
    /// The phase whose output it is.
    pub phase: Phase,
    /// The phase diary cannot be closed until a document of this kind is recorded.
    #[serde(default)]
    pub closes_phase: bool,
}

/// The shipped catalogue files: (file name, contents).
pub const SHIPPED_MEASURES: [(&str, &str); 3] = [
    ("up.json", include_str!("../measures/up.json")),
    (
        "autonomia_2016.json",
        include_str!("../measures/autonomia_2016.json"),
    ),
    (
        "invecchiamento_attivo_2024.json",
        include_str!("../measures/invecchiamento_attivo_2024.json"),
    ),
];

impl Measure {
    /// The organisation kind of the case's `asst` party (`public_body_kind`, default ASST).
    pub fn public_body(&self) -> crate::organisations::OrgKind {
        self.public_body_kind
            .unwrap_or(crate::organisations::OrgKind::Asst)
    }

    /// Parses and validates a catalogue from JSON text (the caller reads the file).
    pub fn from_json(text: &str) -> Result<Measure, CatalogueError> {
        let measure: Measure = serde_json::from_str(text)?;
        measure.validate()?;
        Ok(measure)
    }

    /// The default #UP measure shipped with the crate (with example values).
    pub fn up_default() -> Result<Measure, CatalogueError> {
        Measure::from_json(SHIPPED_MEASURES[0].1)
    }

    /// All measures shipped with the crate.
    pub fn shipped() -> Result<Vec<Measure>, CatalogueError> {
        Ok(Catalogue::shipped()?.measures)
    }

    /// Checks internal consistency: unique ids, references, positive caps and deadlines.
    pub fn validate(&self) -> Result<(), CatalogueError> {
        if self.id.0.trim().is_empty() {
            return Err(CatalogueError::EmptyId("measure"));
        }
        for (what, list_empty) in [
            ("figures", self.figures.is_empty()),
            ("phases", self.phases.is_empty()),
            ("services", self.services.is_empty()),
        ] {
            if list_empty {
                return Err(CatalogueError::Empty(what));
            }
        }
        let d = &self.deadlines;
        for (what, v) in [
            ("deadlines.record_within_days", d.record_within_days),
            ("deadlines.answer_within_days", d.answer_within_days),
            ("deadlines.resend_after_days", d.resend_after()),
            ("deadlines.failure_grace_days", d.failure_grace_days),
        ] {
            if v == 0 {
                return Err(CatalogueError::NotPositive(what.to_owned()));
            }
        }
        let g = self.slot_granularity_minutes;
        if g == 0 || 1440 % g != 0 {
            return Err(CatalogueError::Granularity(g));
        }
        if let Some(max) = self.max_minutes_per_day
            && (max == 0 || max > 1440)
        {
            return Err(CatalogueError::NotPositive(
                "max_minutes_per_day (1-1440)".to_owned(),
            ));
        }
        let mut figures = BTreeSet::new();
        for f in &self.figures {
            if f.id.0.trim().is_empty() {
                return Err(CatalogueError::EmptyId("figures"));
            }
            if !figures.insert(f.id.clone()) {
                return Err(CatalogueError::DuplicateFigure(f.id.clone()));
            }
            if let Some(c) = f.hourly_cost_cents
                && c.0 <= 0
            {
                return Err(CatalogueError::NotPositive(format!(
                    "hourly cost of {}",
                    f.id
                )));
            }
        }
        self.check_cost_model()?;
        let known_figure = |context: String, figure: &FigureId| {
            if figures.contains(figure) {
                Ok(())
            } else {
                Err(CatalogueError::UnknownFigure {
                    context,
                    figure: figure.clone(),
                })
            }
        };
        if let Some(cm) = &self.case_manager_figure {
            known_figure("case_manager_figure".to_owned(), cm)?;
        }
        let mut phases = BTreeSet::new();
        for p in &self.phases {
            if !phases.insert(p.phase) {
                return Err(CatalogueError::DuplicatePhase(p.phase));
            }
            if p.max_minutes_per_case == Some(0) {
                return Err(CatalogueError::NotPositive(format!(
                    "max_minutes_per_case of phase {}",
                    p.phase
                )));
            }
            for cap in &p.figure_caps {
                known_figure(format!("figure cap of phase {}", p.phase), &cap.figure)?;
                if cap.max_minutes == 0 {
                    return Err(CatalogueError::NotPositive(format!(
                        "cap of {} in phase {}",
                        cap.figure, p.phase
                    )));
                }
            }
        }
        let mut services = BTreeSet::new();
        for s in &self.services {
            if s.id.0.trim().is_empty() {
                return Err(CatalogueError::EmptyId("services"));
            }
            if !services.insert(s.id.clone()) {
                return Err(CatalogueError::DuplicateService(s.id.clone()));
            }
            if s.phases.is_empty() {
                return Err(CatalogueError::Empty("service phases"));
            }
            if s.figures.is_empty() {
                return Err(CatalogueError::Empty("service figures"));
            }
            for p in &s.phases {
                if !phases.contains(p) {
                    return Err(CatalogueError::UnknownPhase {
                        service: s.id.clone(),
                        phase: *p,
                    });
                }
            }
            for f in &s.figures {
                known_figure(format!("service {}", s.id), f)?;
            }
            if s.max_minutes_per_phase == Some(0) {
                return Err(CatalogueError::NotPositive(format!(
                    "cap of service {}",
                    s.id
                )));
            }
        }
        if let Some(v) = &self.voucher
            && (v.amount_cents.0 <= 0 || v.validity_months == 0)
        {
            return Err(CatalogueError::NotPositive("voucher".to_owned()));
        }
        if let Some(v) = &self.voucher {
            if v.max_validity_months
                .is_some_and(|max| max < v.validity_months)
            {
                return Err(CatalogueError::NotPositive(
                    "voucher max_validity_months - validity_months".to_owned(),
                ));
            }
            if v.max_suspension_days == Some(0) {
                return Err(CatalogueError::NotPositive(
                    "voucher max_suspension_days".to_owned(),
                ));
            }
            for service in &v.access_services {
                if !services.contains(service) {
                    return Err(CatalogueError::UnknownService {
                        context: "voucher access_services".to_owned(),
                        service: service.clone(),
                    });
                }
            }
        }
        let intensities: BTreeSet<&str> = self.intensities.iter().map(|i| i.id.as_str()).collect();
        for i in &self.intensities {
            if i.min_accesses_for_realised == 0 {
                return Err(CatalogueError::NotPositive(format!(
                    "min accesses of {}",
                    i.id
                )));
            }
        }
        for a in &self.flat_amounts {
            let what = format!("flat amount {:?}", a.output);
            if a.amount_cents.0 <= 0 {
                return Err(CatalogueError::NotPositive(what));
            }
            if a.services.is_empty() {
                return Err(CatalogueError::Empty("flat amount services"));
            }
            for service in &a.services {
                if !services.contains(service) {
                    return Err(CatalogueError::UnknownService {
                        context: what.clone(),
                        service: service.clone(),
                    });
                }
            }
            if let Some(i) = &a.intensity
                && !intensities.contains(i.as_str())
            {
                return Err(CatalogueError::UnknownIntensity(what));
            }
        }
        let mut kinds = BTreeSet::new();
        for d in &self.documents {
            if d.kind.trim().is_empty() {
                return Err(CatalogueError::EmptyId("documents"));
            }
            if !kinds.insert(d.kind.as_str()) {
                return Err(CatalogueError::DuplicateDocument(d.kind.clone()));
            }
            if !phases.contains(&d.phase) {
                return Err(CatalogueError::UnknownDocumentPhase {
                    kind: d.kind.clone(),
                    phase: d.phase,
                });
            }
        }
        let known_document = |context: &'static str, kind: &str| {
            if kinds.contains(kind) {
                Ok(())
            } else {
                Err(CatalogueError::UnknownDocument {
                    context,
                    kind: kind.to_owned(),
                })
            }
        };
        if let Some(kind) = &self.pdi_document {
            known_document("pdi_document", kind)?;
        }
        for a in &self.flat_amounts {
            if let DueWhen::Document { document } = &a.due_when {
                known_document("flat amount due_when", document)?;
            }
        }
        if let Some(v) = &self.voucher {
            if let Some(kind) = &v.final_report_document {
                known_document("voucher final_report_document", kind)?;
            }
            if let Some(advance) = &v.advance {
                known_document("voucher advance", &advance.document)?;
                if advance.percent == 0 || advance.percent > 100 {
                    return Err(CatalogueError::NotPositive(
                        "voucher advance percent (1-100)".to_owned(),
                    ));
                }
            }
            let mut per_intensity: std::collections::BTreeMap<&str, Cents> =
                std::collections::BTreeMap::new();
            for a in &self.flat_amounts {
                let key = a.intensity.as_deref().unwrap_or("-");
                let total = per_intensity.entry(key).or_default();
                *total = total.plus(a.amount_cents);
            }
            for (intensity, total) in per_intensity {
                if total.0 > v.amount_cents.0 {
                    return Err(CatalogueError::FlatAmountsOverVoucher {
                        intensity: intensity.to_owned(),
                        total,
                        voucher: v.amount_cents,
                    });
                }
            }
        }
        Ok(())
    }

    /// The cost model and the data it needs agree: hourly unit costs price every figure; a
    /// flat-per-output measure has a voucher with its flat amounts and prices no hour; an
    /// actual-staff-cost measure prices no figure but its volunteers.
    fn check_cost_model(&self) -> Result<(), CatalogueError> {
        let mismatch = |why: String| {
            Err(CatalogueError::CostModel {
                model: self.cost_model,
                why,
            })
        };
        match self.cost_model {
            CostModel::HourlyUnitCost => {
                if let Some(f) = self.figures.iter().find(|f| f.hourly_cost_cents.is_none()) {
                    return mismatch(format!("figure {} has no hourly_cost_cents", f.id));
                }
                if self.voucher.is_some() || !self.flat_amounts.is_empty() {
                    return mismatch("a voucher and flat amounts need flat_per_output".to_owned());
                }
            }
            CostModel::FlatPerOutput => {
                if self.voucher.is_none() || self.flat_amounts.is_empty() {
                    return mismatch("it needs a voucher and its flat_amounts".to_owned());
                }
                if let Some(f) = self.figures.iter().find(|f| f.hourly_cost_cents.is_some()) {
                    return mismatch(format!(
                        "figure {} carries an hourly cost: the outputs are paid, not the hours",
                        f.id
                    ));
                }
            }
            CostModel::ActualStaffCost => {
                if self.voucher.is_some() || !self.flat_amounts.is_empty() {
                    return mismatch("a voucher and flat amounts need flat_per_output".to_owned());
                }
                if let Some(f) = self
                    .figures
                    .iter()
                    .find(|f| f.hourly_cost_cents.is_some() && !f.volunteer)
                {
                    return mismatch(format!(
                        "figure {} carries an hourly cost: staff are priced by their own cost records",
                        f.id
                    ));
                }
            }
        }
        Ok(())
    }

    /// The rule of a document kind, if the measure has it.
    pub fn document(&self, kind: &str) -> Option<&DocumentRule> {
        self.documents.iter().find(|d| d.kind == kind)
    }

    /// The figure with this id.
    pub fn figure(&self, id: &FigureId) -> Option<&Figure> {
        self.figures.iter().find(|f| &f.id == id)
    }

    /// The service with this id.
    pub fn service(&self, id: &ServiceId) -> Option<&Service> {
        self.services.iter().find(|s| &s.id == id)
    }

    /// The rules of a phase, if the measure has it.
    pub fn phase(&self, phase: Phase) -> Option<&PhaseRules> {
        self.phases.iter().find(|p| p.phase == phase)
    }

    /// Services that may be delivered in a phase.
    pub fn services_in(&self, phase: Phase) -> impl Iterator<Item = &Service> {
        self.services
            .iter()
            .filter(move |s| s.phases.contains(&phase))
    }

    /// Unit cost of a figure, if it has a fixed one.
    pub fn hourly_cost(&self, figure: &FigureId) -> Option<Cents> {
        self.figure(figure).and_then(|f| f.hourly_cost_cents)
    }

    /// The rate this version sets for a figure, as recorded with an entry.
    pub fn rate(&self, figure: &FigureId) -> Rate {
        Rate {
            unit_cost_cents: self.hourly_cost(figure),
            catalogue_version: self.version.clone(),
            effective_from: self.effective_from,
        }
    }

    /// Whether this version is in force for `date`.
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.effective_from.is_none_or(|from| from <= date)
    }
}

/// The version of `versions` (oldest first) in force on `date`: the latest that took effect
/// by then; the oldest when none did yet.
pub fn version_on<'m>(versions: &[&'m Measure], date: NaiveDate) -> Option<&'m Measure> {
    versions
        .iter()
        .rev()
        .find(|m| m.in_force_on(date))
        .or_else(|| versions.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_shipped_measures_load() {
        let all = Measure::shipped().unwrap();
        assert_eq!(all.len(), 3);
        let up = Measure::up_default().unwrap();
        assert_eq!(up.id.as_str(), "up");
        assert!(
            up.example_values,
            "#UP figures are placeholders and must say so"
        );
        assert_eq!(up.deadlines.record_within_days, 15);
        assert_eq!(up.deadlines.answer_within_days, 1);
        assert_eq!(up.deadlines.failure_grace_days, 5);
        assert_eq!(
            up.max_minutes_per_day,
            Some(780),
            "13 hours: 11 of rest in 24"
        );
        assert_eq!(up.phases.len(), 4);
        assert_eq!(
            up.phase(Phase::I).map(|p| p.confirmation),
            Some(ConfirmationMode::WholeDiaryAtClosure)
        );
        assert_eq!(
            up.phase(Phase::III).map(|p| p.confirmation),
            Some(ConfirmationMode::PerEntry)
        );
        assert_eq!(
            up.phase(Phase::I).map(|p| p.registered_by),
            Some(Ente::Asst)
        );
        assert_eq!(
            up.phase(Phase::II).map(|p| p.registered_by),
            Some(Ente::Provider)
        );
        for p in Phase::ALL {
            assert!(up.services_in(p).count() > 0, "phase {p} has services");
        }
        let autonomia = all
            .iter()
            .find(|m| m.id.as_str() == "autonomia_2016")
            .unwrap();
        assert_eq!(
            autonomia.voucher.as_ref().map(|v| v.amount_cents),
            Some(Cents(480_000))
        );
        let mins: Vec<u32> = autonomia
            .intensities
            .iter()
            .map(|i| i.min_accesses_for_realised)
            .collect();
        assert_eq!(mins, vec![70, 118]);
        let ageing = all
            .iter()
            .find(|m| m.id.as_str() == "invecchiamento_attivo_2024")
            .unwrap();
        let rules = ageing.cost_rules.as_ref().unwrap();
        assert_eq!(rules.annual_standard_hours, Some(1720));
        assert_eq!(rules.volunteer_hourly_cents, Some(Cents(1637)));
        assert_eq!(rules.min_cofinancing_percent, Some(20));
    }

    fn up_json() -> serde_json::Value {
        serde_json::from_str(SHIPPED_MEASURES[0].1).unwrap()
    }

    #[test]
    fn catalogue_with_unknown_figure_in_service_is_refused() {
        let mut v = up_json();
        v["services"][0]["figures"] = serde_json::json!(["astronauta"]);
        let err = Measure::from_json(&v.to_string()).unwrap_err();
        assert!(matches!(err, CatalogueError::UnknownFigure { .. }), "{err}");
    }

    #[test]
    fn catalogue_with_duplicate_ids_is_refused() {
        let mut v = up_json();
        let first = v["figures"][0].clone();
        v["figures"].as_array_mut().unwrap().push(first);
        assert!(matches!(
            Measure::from_json(&v.to_string()),
            Err(CatalogueError::DuplicateFigure(_))
        ));
        let mut v = up_json();
        let first = v["services"][0].clone();
        v["services"].as_array_mut().unwrap().push(first);
        assert!(matches!(
            Measure::from_json(&v.to_string()),
            Err(CatalogueError::DuplicateService(_))
        ));
    }

    #[test]
    fn catalogue_with_zero_cap_or_deadline_is_refused() {
        let mut v = up_json();
        v["services"][0]["max_minutes_per_phase"] = serde_json::json!(0);
        assert!(matches!(
            Measure::from_json(&v.to_string()),
            Err(CatalogueError::NotPositive(_))
        ));
        let mut v = up_json();
        v["deadlines"]["record_within_days"] = serde_json::json!(0);
        assert!(matches!(
            Measure::from_json(&v.to_string()),
            Err(CatalogueError::NotPositive(_))
        ));
    }

    #[test]
    fn catalogue_with_service_in_undefined_phase_is_refused() {
        let mut v = up_json();
        v["phases"].as_array_mut().unwrap().pop(); // drop phase IV
        assert!(matches!(
            Measure::from_json(&v.to_string()),
            Err(CatalogueError::UnknownPhase { .. })
        ));
    }

    #[test]
    fn catalogue_with_unknown_field_is_refused() {
        let mut v = up_json();
        v["deadlines"]["record_within_dayz"] = serde_json::json!(15);
        assert!(matches!(
            Measure::from_json(&v.to_string()),
            Err(CatalogueError::Json(_))
        ));
    }
}

/// The measures a server runs, each validated and their ids unique: built once at start-up, so
/// an invalid catalogue stops the server with the reason instead of becoming an empty one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalogue {
    measures: Vec<Measure>,
}

impl Catalogue {
    /// Validates every measure; versions of one measure must each have a `version` and their
    /// own `effective_from` (at most one without). Kept oldest first per measure.
    pub fn new(mut measures: Vec<Measure>) -> Result<Catalogue, CatalogueError> {
        for m in &measures {
            m.validate()?;
        }
        // Measures in the order they first appear, each measure's versions oldest first.
        let mut order: Vec<MeasureId> = Vec::new();
        for m in &measures {
            if !order.contains(&m.id) {
                order.push(m.id.clone());
            }
        }
        measures.sort_by_key(|m| (order.iter().position(|id| id == &m.id), m.effective_from));
        for pair in measures.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.id != b.id {
                continue;
            }
            if a.version.is_none() || b.version.is_none() {
                return Err(CatalogueError::VersionMissing(a.id.clone()));
            }
            if a.effective_from == b.effective_from {
                return Err(if a.version == b.version {
                    CatalogueError::DuplicateMeasure(a.id.clone())
                } else {
                    CatalogueError::SameEffectiveDate {
                        measure: a.id.clone(),
                        date: a
                            .effective_from
                            .map_or_else(|| "-".to_owned(), |d| d.to_string()),
                    }
                });
            }
        }
        Ok(Catalogue { measures })
    }

    /// The shipped measures with the operator's files (`(file name, contents)`, e.g. the
    /// `*.json` of the catalogue directory): a file with the id and version of a shipped
    /// measure replaces it, any other adds a measure or a version. Every file is validated;
    /// the error names the file.
    pub fn with_files(files: &[(String, String)]) -> Result<Catalogue, CatalogueError> {
        let mut measures: Vec<Measure> = Catalogue::shipped()?.measures;
        for (file, text) in files {
            let m = Measure::from_json(text).map_err(|error| CatalogueError::File {
                file: file.clone(),
                error: Box::new(error),
            })?;
            measures.retain(|s| !(s.id == m.id && s.version == m.version));
            measures.push(m);
        }
        Catalogue::new(measures)
    }

    /// Every version of a measure, oldest first.
    pub fn versions(&self, id: &MeasureId) -> Vec<&Measure> {
        self.measures.iter().filter(|m| &m.id == id).collect()
    }

    /// The version of a measure in force on `date` (the oldest when none took effect yet).
    pub fn in_force(&self, id: &MeasureId, date: NaiveDate) -> Option<&Measure> {
        version_on(&self.versions(id), date)
    }

    /// The measures shipped with the crate (`domain/measures/*.json`).
    pub fn shipped() -> Result<Catalogue, CatalogueError> {
        let measures = SHIPPED_MEASURES
            .iter()
            .map(|(_, text)| Ok(serde_json::from_str::<Measure>(text)?))
            .collect::<Result<Vec<_>, CatalogueError>>()?;
        Catalogue::new(measures)
    }

    /// The newest version of the measure with this id (names, services and figures for
    /// reading; the decider takes the version in force, [`Catalogue::in_force`]).
    pub fn get(&self, id: &MeasureId) -> Option<&Measure> {
        self.measures.iter().rev().find(|m| &m.id == id)
    }

    /// Every measure (its newest version), by id.
    pub fn iter(&self) -> impl Iterator<Item = &Measure> {
        self.measures
            .iter()
            .enumerate()
            .filter(|(i, m)| self.measures.get(i + 1).is_none_or(|next| next.id != m.id))
            .map(|(_, m)| m)
    }
}
