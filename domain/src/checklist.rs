//! Art. 8 automatic checks. Whenever entries are sent to the recipient (digital request, paper
//! diary, or re-send) the system checks them against the caps of the service catalogue, the
//! PDI caps of phase III and the formal rules of Art. 5; the result is stored as a checklist
//! attesting the outcome. Blocking failures refuse the request with the whole list.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::case::state::{CaseFile, Entry, RequestStatus};
use crate::catalogue::Measure;
use crate::values::{Cents, FigureId, MeasureId, Phase, ServiceId, add_civil_days, civil_date};

/// One automatic check with its outcome and the figures it compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable code, e.g. `cap.service`, `pdi.total`, `formal.no-overlap`.
    pub code: String,
    /// What was checked (Italian/English).
    pub description: String,
    /// The service, figure or phase concerned.
    pub subject: Option<String>,
    /// The limit, in minutes, when the check is a cap.
    pub limit: Option<u64>,
    /// The value found, in minutes (or count of entries for formal checks).
    pub actual: Option<u64>,
    /// Outcome.
    pub passed: bool,
    /// Whether a failure refuses the request.
    pub blocking: bool,
    /// Entries that fail the check.
    pub entry_ids: Vec<Uuid>,
}

/// The Art. 8 checklist of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checklist {
    /// Phase.
    pub phase: Phase,
    /// Measure whose caps were applied.
    pub measure_id: MeasureId,
    /// The version of the measure's catalogue the caps came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue_version: Option<String>,
    /// The PDI document version whose caps were applied (phases with PDI caps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdi_document: Option<crate::case::state::DocumentRef>,
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
    /// Entries sent in this request.
    pub entry_ids: Vec<Uuid>,
    /// Minutes in this request.
    pub request_minutes: u64,
    /// Minutes of this request per figure.
    pub request_minutes_by_figure: BTreeMap<FigureId, u64>,
    /// Value of this request at the unit costs (figures without a unit cost count 0).
    pub request_cost: Cents,
    /// Minutes counted against the phase caps: confirmed + pending + this request.
    pub counted_minutes: u64,
    /// Every check performed.
    pub checks: Vec<Check>,
    /// True when no blocking check failed.
    pub passed: bool,
}

impl Checklist {
    /// The failed blocking checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed && c.blocking)
    }

    /// The failed non-blocking checks (warnings).
    pub fn warnings(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed && !c.blocking)
    }
}

fn cap_check(
    code: &str,
    description: String,
    subject: String,
    limit: u32,
    actual: u64,
    entries: &[&Entry],
) -> Check {
    let passed = actual <= u64::from(limit);
    Check {
        code: code.to_owned(),
        description,
        subject: Some(subject),
        limit: Some(u64::from(limit)),
        actual: Some(actual),
        passed,
        blocking: true,
        entry_ids: if passed {
            Vec::new()
        } else {
            entries.iter().map(|e| e.id).collect()
        },
    }
}

fn formal_check(code: &str, description: &str, failing: Vec<Uuid>, blocking: bool) -> Check {
    Check {
        code: code.to_owned(),
        description: description.to_owned(),
        subject: None,
        limit: None,
        actual: Some(failing.len() as u64),
        passed: failing.is_empty(),
        blocking,
        entry_ids: failing,
    }
}

/// Computes the checklist for sending `request_entries` of `phase` to the recipient.
///
/// Caps are per case: the minutes counted are those already confirmed, those in other pending
/// requests and those of this request, so splitting a diary into many requests cannot
/// exceed a cap.
pub fn compute_checklist(
    file: &CaseFile,
    measure: &Measure,
    phase: Phase,
    request_entries: &[Uuid],
    now: DateTime<Utc>,
) -> Checklist {
    let in_request: BTreeSet<Uuid> = request_entries.iter().copied().collect();
    let request: Vec<&Entry> = file
        .entries
        .values()
        .filter(|e| in_request.contains(&e.id) && !e.withdrawn)
        .collect();
    let counted: Vec<&Entry> = file
        .live_entries(phase)
        .filter(|e| {
            in_request.contains(&e.id)
                || e.confirmed
                || e.pending_request.is_some_and(|r| {
                    file.requests
                        .get(&r)
                        .is_some_and(|r| r.status == RequestStatus::Pending)
                })
        })
        .collect();
    let sum = |entries: &[&Entry]| -> u64 { entries.iter().map(|e| u64::from(e.minutes())).sum() };

    let mut checks = Vec::new();
    checks.push(formal_check(
        "formal.entries-present",
        "la richiesta contiene almeno una prestazione / the request has entries",
        Vec::new(),
        true,
    ));
    if request.is_empty()
        && let Some(c) = checks.last_mut()
    {
        c.passed = false;
    }

    // Formal checks (Art. 5) re-run at sending time: the catalogue may have changed since the
    // entries were recorded.
    let mut not_in_phase = Vec::new();
    let mut figure_cannot = Vec::new();
    let mut granularity = Vec::new();
    let mut late = Vec::new();
    let mut disabled = Vec::new();
    let mut overlaps = Vec::new();
    for e in &request {
        match measure.service(&e.service) {
            Some(s) if s.phases.contains(&phase) => {
                if !s.figures.contains(&e.figure) {
                    figure_cannot.push(e.id);
                }
            }
            _ => not_in_phase.push(e.id),
        }
        if e.minutes() % measure.slot_granularity_minutes != 0 {
            granularity.push(e.id);
        }
        let deadline = add_civil_days(e.slot.date, measure.deadlines.record_within_days);
        if civil_date(e.recorded_at) > deadline && e.system_failure_id.is_none() {
            late.push(e.id);
        }
        let enabled = file
            .professionals
            .iter()
            .any(|((_, cf), figs)| cf == &e.professional && figs.contains(&e.figure))
            || (Some(&e.figure) == measure.case_manager_figure.as_ref()
                && e.professional == file.case_manager);
        if !enabled {
            disabled.push(e.id);
        }
        let clash = file.entries.values().any(|o| {
            o.id != e.id
                && !o.withdrawn
                && o.professional == e.professional
                && o.slot.overlaps(&e.slot)
        });
        if clash {
            overlaps.push(e.id);
        }
    }
    checks.push(formal_check(
        "formal.service-in-phase",
        "Art. 5: prestazioni del quadro della fase / services belong to the phase catalogue",
        not_in_phase,
        true,
    ));
    checks.push(formal_check(
        "formal.figure-delivers-service",
        "Art. 5: figura abilitata alla prestazione / the figure may deliver the service",
        figure_cannot,
        true,
    ));
    checks.push(formal_check(
        "formal.duration-granularity",
        "Art. 5: durata di mezz'ora o multipli / duration in half-hour multiples",
        granularity,
        true,
    ));
    checks.push(formal_check(
        "formal.recorded-on-time",
        "Art. 5/9: registrate entro il termine o con failure dichiarato / recorded in time or under a declared failure",
        late,
        true,
    ));
    checks.push(formal_check(
        "formal.no-overlap",
        "Art. 5: nessuna sovrapposizione per professionista / no overlapping entries per professional",
        overlaps,
        true,
    ));
    checks.push(formal_check(
        "formal.late-entry-cosigned",
        "Art. 9: registrazione tardiva controfirmata dall'assistenza / late entry co-signed by the support desk",
        request
            .iter()
            .filter(|e| e.system_failure_id.is_some() && e.cosigned_by.is_none())
            .map(|e| e.id)
            .collect(),
        true,
    ));
    checks.push(formal_check(
        "formal.professional-still-enabled",
        "Art. 4: professionista ancora abilitato / author still enabled (avviso)",
        disabled,
        false,
    ));

    // Catalogue caps (quadro delle prestazioni).
    if let Some(rules) = measure.phase(phase) {
        if let Some(max) = rules.max_minutes_per_case {
            checks.push(cap_check(
                "cap.phase",
                format!("Art. 8: massimale della fase {phase} / phase cap"),
                phase.to_string(),
                max,
                sum(&counted),
                &request,
            ));
        }
        for cap in &rules.figure_caps {
            let of_figure: Vec<&Entry> = counted
                .iter()
                .copied()
                .filter(|e| e.figure == cap.figure)
                .collect();
            let req: Vec<&Entry> = request
                .iter()
                .copied()
                .filter(|e| e.figure == cap.figure)
                .collect();
            checks.push(cap_check(
                "cap.figure",
                format!("Art. 8: massimale per figura {} / figure cap", cap.figure),
                cap.figure.to_string(),
                cap.max_minutes,
                sum(&of_figure),
                &req,
            ));
        }
    }
    for service in measure.services_in(phase) {
        if let Some(max) = service.max_minutes_per_phase {
            let of_service: Vec<&Entry> = counted
                .iter()
                .copied()
                .filter(|e| e.service == service.id)
                .collect();
            let req: Vec<&Entry> = request
                .iter()
                .copied()
                .filter(|e| e.service == service.id)
                .collect();
            checks.push(cap_check(
                "cap.service",
                format!(
                    "Art. 8: massimale della prestazione {} / service cap",
                    service.id
                ),
                service.id.to_string(),
                max,
                sum(&of_service),
                &req,
            ));
        }
    }

    // PDI caps for the single voucher (Art. 8, phase III).
    if measure.phase(phase).is_some_and(|r| r.pdi_caps) {
        match &file.pdi {
            None => checks.push(Check {
                code: "pdi.present".to_owned(),
                description: "Art. 8: massimali del PDI definiti / PDI caps set".to_owned(),
                subject: None,
                limit: None,
                actual: None,
                passed: false,
                blocking: true,
                entry_ids: request.iter().map(|e| e.id).collect(),
            }),
            Some(pdi) => {
                let planned: BTreeSet<&ServiceId> = pdi.caps.iter().map(|c| &c.service).collect();
                let unplanned: Vec<Uuid> = request
                    .iter()
                    .filter(|e| !planned.contains(&e.service))
                    .map(|e| e.id)
                    .collect();
                checks.push(formal_check(
                    "pdi.service-planned",
                    "Art. 8: prestazione prevista dal PDI / service planned in the PDI",
                    unplanned,
                    true,
                ));
                for cap in &pdi.caps {
                    let of_service: Vec<&Entry> = counted
                        .iter()
                        .copied()
                        .filter(|e| e.service == cap.service)
                        .collect();
                    let req: Vec<&Entry> = request
                        .iter()
                        .copied()
                        .filter(|e| e.service == cap.service)
                        .collect();
                    checks.push(cap_check(
                        "pdi.service",
                        format!(
                            "Art. 8: massimale PDI per {} / PDI service cap",
                            cap.service
                        ),
                        cap.service.to_string(),
                        cap.max_minutes,
                        sum(&of_service),
                        &req,
                    ));
                }
                if let Some(total) = pdi.total_max_minutes {
                    checks.push(cap_check(
                        "pdi.total",
                        "Art. 8: massimale complessivo del PDI / PDI total cap".to_owned(),
                        phase.to_string(),
                        total,
                        sum(&counted),
                        &request,
                    ));
                }
            }
        }
    }

    let mut by_figure: BTreeMap<FigureId, u64> = BTreeMap::new();
    let mut cost = Cents::default();
    for e in &request {
        let m = u64::from(e.minutes());
        *by_figure.entry(e.figure.clone()).or_default() += m;
        cost = cost.plus(e.cost(measure));
    }
    let passed = !checks.iter().any(|c| !c.passed && c.blocking);
    Checklist {
        phase,
        measure_id: measure.id.clone(),
        catalogue_version: measure.version.clone(),
        pdi_document: file
            .pdi
            .as_ref()
            .filter(|_| measure.phase(phase).is_some_and(|r| r.pdi_caps))
            .and_then(|p| p.document.clone()),
        computed_at: now,
        entry_ids: request.iter().map(|e| e.id).collect(),
        request_minutes: sum(&request),
        request_minutes_by_figure: by_figure,
        request_cost: cost,
        counted_minutes: sum(&counted),
        checks,
        passed,
    }
}
