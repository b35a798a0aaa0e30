//! Read models (projections) of Diario Online, built from the global event log (DESIGN §5):
//! a runner with per-projection checkpoints moved in the same transaction as the read-model
//! writes, leadership on PostgreSQL, rebuild from zero, lag, and the query functions the HTTP
//! layer serves. Tables are documented in `docs/projections.md`.

#![forbid(unsafe_code)]

pub mod audit;
pub mod checklists;
pub mod diaries;
mod diary_rows;
pub mod failures;
pub mod queries;
pub mod runner;
mod sql;

use std::sync::{Arc, OnceLock};

use diario_domain::Measure;

/// The domain crate, re-exported for callers (and tests) that only depend on this one.
pub use diario_domain as domain;

pub use audit::{
    AuditRecord, AuditTrail, audit_trail, describe, history_as_of, history_as_of_with,
    history_as_recorded, verify_case,
};
pub use checklists::{CheckView, ChecklistFilter, ChecklistView, Checklists, checklists};
pub use diaries::{
    AlertView, CaseDiaries, CaseDiary, EntryState, EntryView, PhaseDiary, RequestView, Total,
    case_diary, case_diary_at, case_diary_consistent,
};
pub use failures::{FailureFilter, FailureView, RelyingEntry, SystemFailures, system_failures};
pub use queries::{
    AtsDashboard, CaseFilter, CaseSummary, CostFilter, CostLine, CostReport, CostTotal,
    EntryFilter, IDLE_CASES_SHOWN, IdleCase, Page, PageRequest, PhaseDiaryCounts,
    PhaseFigureMinutes, RequestCounts, ats_dashboard, cost_report, cost_report_csv, list_cases,
    list_entries,
};
pub use runner::{
    Checkpoint, LeaderInfo, Projection, ProjectionLag, RunnerOptions, catch_up_all, checkpoint,
    dump_read_models, lag, lag_at, lag_metrics, leaders, leadership_key, rebuild, rebuild_all,
    rebuild_projection, reset, run_batch, run_catch_up, run_catch_up_to_end, spawn_runner,
    spawn_runner_with,
};
pub use sql::Tx;

/// Why a projection or a query failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("event store: {0}")]
    Store(#[from] diario_commands::StoreError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Codec(#[from] diario_commands::codec::CodecError),
    #[error("read model is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "unknown projection {0:?} (known: case_diaries, audit_trail, checklists, system_failures)"
    )]
    UnknownProjection(String),
    #[error("invalid cursor {0:?}")]
    BadCursor(String),
}

/// The measure catalogues shipped with the domain (unit costs, caps, alerts).
pub fn catalogue() -> &'static [Measure] {
    static MEASURES: OnceLock<Vec<Measure>> = OnceLock::new();
    MEASURES.get_or_init(|| Measure::shipped().unwrap_or_default())
}

/// Every projection, in the order the runner applies them.
pub fn all_projections() -> Vec<Arc<dyn Projection>> {
    all_projections_with(catalogue().to_vec())
}

/// Every projection, with an explicit measure catalogue.
pub fn all_projections_with(measures: Vec<Measure>) -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(CaseDiaries::new(measures)),
        Arc::new(AuditTrail),
        Arc::new(Checklists),
        Arc::new(SystemFailures),
    ]
}

/// Names of every projection.
pub const PROJECTIONS: [&str; 4] = [diaries::NAME, audit::NAME, checklists::NAME, failures::NAME];
