//! A person's cost records (seed 004, Allegato B): dated records of «i più recenti costi lordi
//! per l'impiego documentati» with the part-time share, or an external contract's hourly rate,
//! per organisation. One stream per person (`costs-{fiscal code}`). A record is never edited:
//! a correction is a new record, and a countersigned timesheet keeps the rate it was priced at
//! (`crate::timesheet`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::{Actor, ActorRole};
use crate::staff_cost::{CostBasis, StaffCostError};
use crate::timesheet::Month;
use crate::values::FiscalCode;

/// A cost record of a person (`costs-{fiscal code}`), as the countersignature reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostRecord {
    /// Id.
    pub record_id: Uuid,
    /// The employer or client.
    pub organisation: String,
    /// In force from this day.
    pub valid_from: NaiveDate,
    /// What prices the hours.
    pub basis: CostBasis,
    /// When recorded (the latest recorded wins among records of one day).
    pub at: DateTime<Utc>,
}

/// The record that prices `organisation`'s hours of `month`: the latest in force on the
/// month's last day («i più recenti costi lordi per l'impiego documentati»), the later
/// recorded among records of the same day.
pub fn record_in_force<'a>(
    records: &'a [CostRecord],
    organisation: &str,
    month: Month,
) -> Option<&'a CostRecord> {
    let last = month.last_day()?;
    records
        .iter()
        .filter(|r| r.organisation == organisation && r.valid_from <= last)
        .max_by_key(|r| (r.valid_from, r.at))
}

/// Records a person's cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordCost {
    /// Id of the record.
    pub record_id: Uuid,
    /// The employer (or the client of an external contract).
    pub organisation: String,
    /// In force from this day.
    pub valid_from: NaiveDate,
    /// What prices the hours.
    pub basis: CostBasis,
    /// The supporting document (payslips, Certificazione Unica, the contract): its reference.
    pub document: String,
}

/// Events of a cost stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum CostEvent {
    /// A cost record was recorded.
    CostRecorded {
        /// The person.
        person: FiscalCode,
        /// The record.
        #[serde(flatten)]
        record: RecordCost,
        /// By.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
}

/// The records of a person, in the order recorded.
pub type CostState = Vec<CostRecord>;

/// Decides a cost record: an ATS operator records it (the ATS «verifica e valida la spesa dei
/// propri partner» and keeps the personnel documentation); its basis must price an hour.
pub fn decide_costs(
    state: &CostState,
    person: &FiscalCode,
    command: &RecordCost,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<CostEvent>, StaffCostError> {
    let by = match (actor.role(), actor.fiscal_code()) {
        (Some(ActorRole::AtsOperator), Some(cf)) => cf.clone(),
        _ => return Err(StaffCostError::NotAtsOperator),
    };
    if state.iter().any(|r| r.record_id == command.record_id) {
        return Err(StaffCostError::RecordIdUsed(command.record_id));
    }
    if command.organisation.trim().is_empty() {
        return Err(StaffCostError::Missing("organisation"));
    }
    if command.document.trim().is_empty() {
        return Err(StaffCostError::Missing("document"));
    }
    crate::staff_cost::check_basis(&command.basis)?;
    Ok(vec![CostEvent::CostRecorded {
        person: person.clone(),
        record: command.clone(),
        by,
        at: now,
    }])
}

/// Folds one event.
pub fn evolve_costs(mut state: CostState, event: &CostEvent) -> CostState {
    let CostEvent::CostRecorded { record, at, .. } = event;
    state.push(CostRecord {
        record_id: record.record_id,
        organisation: record.organisation.clone(),
        valid_from: record.valid_from,
        basis: record.basis.clone(),
        at: *at,
    });
    state
}
