//! Read models (projections) of Diario Online, built from the global event log: each one a
//! [`Follower`] of `diario-log` (checkpoint moved in the same transaction as its writes,
//! leadership on PostgreSQL, rebuild from zero, lag), and the query functions the HTTP layer
//! serves. Tables are documented in `docs/projections.md`. Depends on the log and the domain
//! only.

#![forbid(unsafe_code)]

pub mod audit;
mod case_diaries;
pub mod checklists;
pub mod diaries;
pub mod failures;
pub mod mine;
pub mod notifications;
pub mod people;
pub mod plans;
pub mod queries;
pub mod samples;
mod status;
pub mod vouchers;

use std::collections::BTreeMap;
use std::sync::Arc;

use diario_domain::Catalogue;
use diario_log::{Database, Follower, Row, StoreError};

/// The domain crate, re-exported for callers (and tests) that only depend on this one.
pub use diario_domain as domain;

pub use audit::{
    AuditRecord, AuditTrail, audit_trail, describe, history_as_of, history_as_recorded, verify_case,
};
pub use case_diaries::CaseDiaries;
pub use checklists::{CheckView, ChecklistFilter, ChecklistView, Checklists, checklists};
pub use diaries::{
    AlertView, CaseDiary, CasePerson, EntryState, EntryView, InterruptionView, PhaseDiary,
    RejectionView, RequestView, Total, UndeliveredView, VoucherView, case_diary, case_diary_at,
    case_diary_consistent,
};
pub use failures::{
    FailureFilter, RelyingEntry, SystemFailureView, SystemFailures, system_failures,
};
pub use mine::{
    MyCase, MyDay, MyEntries, MyEntry, MyRole, Waiting, my_cases, my_entries, person_entries,
};
pub use notifications::{Notification, inbox};
pub use people::{Names, StaffView, emails, memberships, names, staff_of};
pub use plans::{
    CategoryLine, PlanControls, PlanCostLine, PlanListed, PlanMonth, PlanReport, SampleSummary,
    plan_documents, plan_months, plan_report, plans_for, plans_of_person,
};
pub use queries::{
    AtsDashboard, CaseFilter, CaseSummary, CostFilter, CostLine, CostReport, CostTotal,
    EntryFilter, IDLE_CASES_SHOWN, IdleCase, OutputLine, Page, PageRequest, PhaseDiaryCounts,
    PhaseFigureMinutes, RequestCounts, ats_dashboard, cost_report, cost_report_csv, list_cases,
    list_entries,
};
pub use samples::{plan_sample_population, sample_population};
pub use status::{CaseStatus, ChannelView, DiaryStatusView, FailureScopeView, RequestStatusView};
pub use vouchers::{VoucherFilter, VoucherReport, voucher_report};

/// Why a query or a read model failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Follow(#[from] diario_log::FollowError),
    #[error("{0}")]
    Codec(#[from] diario_log::CodecError),
    #[error("read model is corrupt: {0}")]
    Corrupt(String),
    #[error("unknown projection {0:?} (known: {known})", known = PROJECTIONS.join(", "))]
    UnknownProjection(String),
    #[error("invalid cursor {0:?}")]
    BadCursor(String),
}

/// Names of every read model, in the order they are listed.
pub const PROJECTIONS: [&str; 7] = [
    diaries::NAME,
    audit::NAME,
    checklists::NAME,
    failures::NAME,
    people::NAME,
    notifications::NAME,
    plans::NAME,
];

/// Every read model, over the measure catalogue the server runs (unit costs, caps, alerts).
pub fn read_models(catalogue: &Catalogue) -> Vec<Arc<dyn Follower>> {
    vec![
        Arc::new(CaseDiaries::new(catalogue.clone())),
        Arc::new(AuditTrail),
        Arc::new(Checklists),
        Arc::new(SystemFailures),
        Arc::new(people::People),
        Arc::new(notifications::StaffNotifications::new(catalogue.clone())),
        Arc::new(plans::Plans),
    ]
}

/// The read models called `names` (all of them when `names` is empty).
pub fn select(
    catalogue: &Catalogue,
    names: &[String],
) -> Result<Vec<Arc<dyn Follower>>, ProjectionError> {
    if let Some(unknown) = names.iter().find(|n| !PROJECTIONS.contains(&n.as_str())) {
        return Err(ProjectionError::UnknownProjection(unknown.clone()));
    }
    Ok(read_models(catalogue)
        .into_iter()
        .filter(|p| names.is_empty() || names.iter().any(|n| n == p.name()))
        .collect())
}

/// Every table of the read models, in the order a rebuild empties them.
pub fn tables() -> impl Iterator<Item = &'static str> {
    [
        diaries::TABLES.as_slice(),
        audit::TABLES.as_slice(),
        checklists::TABLES.as_slice(),
        failures::TABLES.as_slice(),
        people::TABLES.as_slice(),
        notifications::TABLES.as_slice(),
        plans::TABLES.as_slice(),
    ]
    .into_iter()
    .flatten()
    .copied()
}

/// The contents of every read-model table, one text line per row, sorted: what a rebuild must
/// reproduce exactly (used by tests and by rebuild checks).
pub async fn dump_read_models(
    db: &Database,
) -> Result<BTreeMap<String, Vec<String>>, ProjectionError> {
    let mut out = BTreeMap::new();
    for table in tables() {
        let sql = if db.is_postgres() {
            format!("SELECT t::text AS r FROM {table} AS t ORDER BY 1")
        } else {
            let cols = db
                .fetch_all(
                    &format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
                    &[],
                )
                .await?
                .iter()
                .map(|r| r.text("name").map(|c| format!("quote({c})")))
                .collect::<Result<Vec<_>, _>>()?;
            format!(
                "SELECT {} AS r FROM {table} ORDER BY 1",
                cols.join(" || '|' || ")
            )
        };
        let rows = db
            .fetch_all(&sql, &[])
            .await?
            .iter()
            .map(|r: &Row| r.text("r"))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(table.to_owned(), rows);
    }
    Ok(out)
}
