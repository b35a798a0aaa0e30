//! Samples for controls (seed 004, § controlli: at least 5% of the operations and at least 10%
//! of the expenditure), drawn so that anyone can draw them again.
//!
//! An **operation** is a case: the pathway of one recipient is what an ente is reimbursed
//! for, and its expenditure is the case's confirmed cost (hours confirmed by the recipient ×
//! the unit cost of the figure). The population is every case of the scope with a confirmed
//! cost above zero, as of a position of the log; it is recorded in the event with its
//! SHA-256, the seed and the thresholds.
//!
//! **The ranking** (`docs/sampling.md`): the population is split into strata by (ATS,
//! provider). In each stratum, operations are ranked by `hex(SHA-256(seed ":" case_id))`
//! ascending (the case id in lowercase hyphenated form; ties, which SHA-256 makes
//! impractical, by case id), and taken from the top until the stratum's taken operations are
//! at least `ceil(n × operations_pct / 100)` and their expenditure at least
//! `ceil(total × expenditure_pct / 100)` cents. Strata in (ATS, provider) order; the
//! selection lists them in that order, each in rank order. Each stratum meets both
//! thresholds, so the whole sample does too.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::values::FiscalCode;

/// The default thresholds (seed 004, § controlli).
pub const DEFAULT_OPERATIONS_PCT: u32 = 5;
/// At least 10% of the expenditure.
pub const DEFAULT_EXPENDITURE_PCT: u32 = 10;

/// One operation of the population.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The case.
    pub case_id: Uuid,
    /// Its ATS.
    pub ats: String,
    /// Its provider.
    pub provider: String,
    /// Its confirmed cost, in cents.
    pub expenditure_cents: i64,
}

/// Thresholds of a draw, in percent (1–100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Share of the operations, at least.
    pub operations_pct: u32,
    /// Share of the expenditure, at least.
    pub expenditure_pct: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            operations_pct: DEFAULT_OPERATIONS_PCT,
            expenditure_pct: DEFAULT_EXPENDITURE_PCT,
        }
    }
}

/// Why a draw was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    /// A threshold outside 1–100.
    #[error("soglia non valida: {field} deve essere tra 1 e 100 (ricevuto {value})")]
    InvalidThreshold {
        /// The field.
        field: &'static str,
        /// The value given.
        value: u32,
    },
    /// The seed is empty, too long or not printable ASCII.
    #[error("seme non valido: da 1 a 128 caratteri ASCII stampabili, senza spazi")]
    InvalidSeed,
    /// Nothing to sample.
    #[error("nessuna operazione con spesa confermata nel perimetro scelto")]
    EmptyPopulation,
    /// The sample exists already.
    #[error("il campione è già stato estratto")]
    AlreadyDrawn,
}

impl SampleError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            SampleError::InvalidThreshold { .. } => "invalid-sample-threshold",
            SampleError::InvalidSeed => "invalid-sample-seed",
            SampleError::EmptyPopulation => "empty-sample-population",
            SampleError::AlreadyDrawn => "sample-already-drawn",
        }
    }

    /// The request field it names.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            SampleError::InvalidThreshold { field, .. } => Some(field),
            SampleError::InvalidSeed => Some("seed"),
            _ => None,
        }
    }
}

/// The rank of an operation under `seed`: `hex(SHA-256(seed ":" case_id))`.
pub fn rank_key(seed: &str, case_id: &Uuid) -> String {
    let mut h = Sha256::new();
    h.update(seed.as_bytes());
    h.update(b":");
    h.update(case_id.hyphenated().to_string().as_bytes());
    hex::encode(h.finalize())
}

/// `ceil(value × pct / 100)` for non-negative values.
fn share_up(value: i64, pct: u32) -> i64 {
    let scaled = i128::from(value.max(0)) * i128::from(pct);
    i64::try_from((scaled + 99) / 100).unwrap_or(i64::MAX)
}

/// The selection of `population` under `seed` and `thresholds` (see the module docs).
pub fn draw(population: &[Operation], seed: &str, thresholds: Thresholds) -> Vec<Uuid> {
    let mut strata: BTreeMap<(&str, &str), Vec<&Operation>> = BTreeMap::new();
    for o in population {
        strata
            .entry((o.ats.as_str(), o.provider.as_str()))
            .or_default()
            .push(o);
    }
    let mut selected = Vec::new();
    for ops in strata.values_mut() {
        ops.sort_by_cached_key(|o| (rank_key(seed, &o.case_id), o.case_id));
        let n = i64::try_from(ops.len()).unwrap_or(i64::MAX);
        let total: i64 = ops.iter().map(|o| o.expenditure_cents.max(0)).sum();
        let need_ops = share_up(n, thresholds.operations_pct);
        let need_amount = share_up(total, thresholds.expenditure_pct);
        let (mut taken, mut amount) = (0i64, 0i64);
        for o in ops.iter() {
            if taken >= need_ops && amount >= need_amount {
                break;
            }
            selected.push(o.case_id);
            taken += 1;
            amount += o.expenditure_cents.max(0);
        }
    }
    selected
}

/// SHA-256 of the population as canonical JSON (an array of objects with the keys
/// `ats`, `case_id`, `expenditure_cents`, `provider`, in the population's order, no
/// whitespace): what a copy of the population is checked against.
pub fn population_sha256(population: &[Operation]) -> String {
    let mut text = String::from("[");
    for (i, o) in population.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            "{{\"ats\":{},\"case_id\":\"{}\",\"expenditure_cents\":{},\"provider\":{}}}",
            serde_json::Value::from(o.ats.as_str()),
            o.case_id.hyphenated(),
            o.expenditure_cents,
            serde_json::Value::from(o.provider.as_str()),
        ));
    }
    text.push(']');
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Where in the log the population was read: every event up to it, none after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosition {
    /// Transaction id (PostgreSQL; 0 on SQLite).
    pub transaction: u64,
    /// Global position.
    pub position: i64,
}

/// What the operations of a sample are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Population {
    /// Cases (a recipient's pathway), with their confirmed cost.
    #[default]
    Cases,
    /// Territorial plans (seed 004: the Region's «almeno il 5% delle operazioni e almeno il 10%
    /// delle spese»), with their countersigned staff cost; `provider` is the lead partner.
    Plans,
}

impl Population {
    /// Whether it is the default (cases): events of case samples say nothing of it.
    pub fn is_cases(&self) -> bool {
        *self == Population::Cases
    }
}

/// Draw a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawSample {
    /// What the operations are.
    pub of: Population,
    /// The sample id.
    pub sample_id: Uuid,
    /// The ATS it covers (`None`: every ATS).
    pub ats: Option<String>,
    /// The seed (printable ASCII, no spaces, 1–128 characters).
    pub seed: String,
    /// The thresholds.
    pub thresholds: Thresholds,
    /// The population, sorted by case id.
    pub population: Vec<Operation>,
    /// Where it was read.
    pub position: LogPosition,
}

/// Events of a sample stream (`sample-{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SampleEvent {
    /// A sample was drawn: everything needed to draw it again.
    SampleDrawn {
        /// The sample.
        sample_id: Uuid,
        /// What the operations are (absent: cases).
        #[serde(default, skip_serializing_if = "Population::is_cases")]
        of: Population,
        /// The ATS covered (`None`: every ATS).
        ats: Option<String>,
        /// The seed.
        seed: String,
        /// The thresholds.
        thresholds: Thresholds,
        /// Where the population was read.
        position: LogPosition,
        /// The population, sorted by case id.
        population: Vec<Operation>,
        /// [`population_sha256`] of it.
        population_sha256: String,
        /// The cases drawn, strata in (ATS, provider) order, each in rank order.
        selected: Vec<Uuid>,
        /// Who drew it.
        by: FiscalCode,
        /// When.
        at: DateTime<Utc>,
    },
}

/// A sample as drawn.
pub type SampleState = Option<SampleEvent>;

/// Checks and records a draw.
pub fn decide_sample(
    state: &SampleState,
    command: &DrawSample,
    by: &FiscalCode,
    now: DateTime<Utc>,
) -> Result<Vec<SampleEvent>, SampleError> {
    if state.is_some() {
        return Err(SampleError::AlreadyDrawn);
    }
    for (field, value) in [
        ("operations_pct", command.thresholds.operations_pct),
        ("expenditure_pct", command.thresholds.expenditure_pct),
    ] {
        if !(1..=100).contains(&value) {
            return Err(SampleError::InvalidThreshold { field, value });
        }
    }
    let seed = &command.seed;
    if seed.is_empty() || seed.len() > 128 || !seed.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SampleError::InvalidSeed);
    }
    if command.population.is_empty() {
        return Err(SampleError::EmptyPopulation);
    }
    let mut population = command.population.clone();
    population.sort_by_key(|o| o.case_id);
    let selected = draw(&population, seed, command.thresholds);
    Ok(vec![SampleEvent::SampleDrawn {
        sample_id: command.sample_id,
        of: command.of,
        ats: command.ats.clone(),
        seed: seed.clone(),
        thresholds: command.thresholds,
        position: command.position,
        population_sha256: population_sha256(&population),
        population,
        selected,
        by: by.clone(),
        at: now,
    }])
}

/// Folds a sample event.
pub fn evolve_sample(_state: SampleState, event: &SampleEvent) -> SampleState {
    Some(event.clone())
}
