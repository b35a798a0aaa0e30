//! Read model 4: every stored Art. 8 checklist (one per confirmation request, re-send and paper
//! diary) with each check, the figures compared and the outcome.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use diario_domain::{CaseEvent, Checklist};
use diario_log::{Database, FollowError, Follower, Query, RecordedEvent, StreamId, Tx, Val};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ProjectionError;
use crate::queries::{Page, PageRequest, cursor_pair};

/// Projection name.
pub const NAME: &str = "checklists";

/// The tables of the projection (emptied by a rebuild, in this order).
pub const TABLES: [&str; 2] = ["rm_checklist_checks", "rm_checklists"];

/// One check of a checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckView {
    pub code: String,
    pub description: String,
    pub subject: Option<String>,
    /// Limit in minutes (caps) or count.
    #[serde(alias = "limit_value")]
    pub limit: Option<i64>,
    /// Value found.
    #[serde(alias = "actual_value")]
    pub actual: Option<i64>,
    pub passed: bool,
    pub blocking: bool,
    pub entry_ids: Vec<Uuid>,
}

/// A stored checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChecklistView {
    pub case_id: Uuid,
    /// Version of the event that stored it.
    pub stream_version: i64,
    /// Request or paper diary id.
    pub request_id: Uuid,
    /// `request`, `resend`, `paper`, or `refused` (a sending refused by this checklist: the
    /// request was not sent).
    pub kind: String,
    pub phase: u8,
    pub measure_id: String,
    pub computed_at: DateTime<Utc>,
    /// The responsabile who sent it.
    pub stored_by: String,
    pub entry_ids: Vec<Uuid>,
    pub request_minutes: i64,
    #[serde(alias = "minutes_by_figure")]
    pub request_minutes_by_figure: BTreeMap<String, i64>,
    pub request_cost_cents: i64,
    /// Minutes counted against the caps: confirmed + pending + this request.
    pub counted_minutes: i64,
    pub passed: bool,
    /// The version of the measure's catalogue whose caps were applied.
    #[serde(default)]
    pub catalogue_version: Option<String>,
    /// (Not a column of `rm_checklists`: read from `rm_checklist_checks`.)
    #[serde(default)]
    pub checks: Vec<CheckView>,
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The "checklists" projection: tables `rm_checklists`, `rm_checklist_checks`.
pub struct Checklists;

#[async_trait]
impl Follower for Checklists {
    diario_log::follower_spec!(NAME, &TABLES);

    async fn apply(&self, events: &[RecordedEvent], tx: &mut Tx) -> Result<(), FollowError> {
        // One multi-row statement per table and batch: a checklist has dozens of checks.
        let mut checklist_rows: Vec<Vec<Val>> = Vec::new();
        let mut check_rows: Vec<Vec<Val>> = Vec::new();
        for e in events {
            let Some(case_id) = StreamId::case_of(&e.stream_id) else {
                continue;
            };
            if !matches!(
                e.event_type.as_str(),
                "ConfirmationRequested"
                    | "ConfirmationResent"
                    | "PaperDiaryGenerated"
                    | "ChecklistRefused"
            ) {
                continue;
            }
            let (kind, request_id, by, checklist): (&str, Uuid, String, &Checklist) =
                match e.case_event()? {
                    CaseEvent::ConfirmationRequested {
                        request_id,
                        checklist,
                        by,
                        ..
                    } => ("request", *request_id, by.as_str().to_owned(), checklist),
                    CaseEvent::ConfirmationResent {
                        request_id,
                        checklist,
                        by,
                        ..
                    } => ("resend", *request_id, by.as_str().to_owned(), checklist),
                    CaseEvent::PaperDiaryGenerated {
                        paper_id,
                        checklist,
                        by,
                        ..
                    } => ("paper", *paper_id, by.as_str().to_owned(), checklist),
                    CaseEvent::ChecklistRefused {
                        request_id,
                        checklist,
                        by,
                        ..
                    } => ("refused", *request_id, by.as_str().to_owned(), checklist),
                    _ => continue,
                };
            let by_figure: BTreeMap<&str, u64> = checklist
                .request_minutes_by_figure
                .iter()
                .map(|(f, m)| (f.as_str(), *m))
                .collect();
            checklist_rows.push(vec![
                case_id.into(),
                e.stream_version.into(),
                request_id.into(),
                kind.into(),
                i64::from(checklist.phase.number()).into(),
                checklist.measure_id.as_str().into(),
                checklist.computed_at.trunc_subsecs(6).into(),
                by.into(),
                serde_json::json!(checklist.entry_ids).into(),
                i(checklist.request_minutes).into(),
                serde_json::json!(by_figure).into(),
                checklist.request_cost.0.into(),
                i(checklist.counted_minutes).into(),
                checklist.passed.into(),
                checklist.catalogue_version.clone().into(),
            ]);
            for (seq, c) in checklist.checks.iter().enumerate() {
                check_rows.push(vec![
                    case_id.into(),
                    e.stream_version.into(),
                    (seq as i64).into(),
                    (&c.code).into(),
                    (&c.description).into(),
                    c.subject.clone().into(),
                    c.limit.map(i).into(),
                    c.actual.map(i).into(),
                    c.passed.into(),
                    c.blocking.into(),
                    serde_json::json!(c.entry_ids).into(),
                ]);
            }
        }
        tx.insert_rows(
            "INSERT INTO rm_checklists (case_id, stream_version, request_id, kind, phase, \
             measure_id, computed_at, stored_by, entry_ids, request_minutes, \
             minutes_by_figure, request_cost_cents, counted_minutes, passed, catalogue_version)",
            &checklist_rows,
        )
        .await?;
        tx.insert_rows(
            "INSERT INTO rm_checklist_checks (case_id, stream_version, seq, code, description, \
             subject, limit_value, actual_value, passed, blocking, entry_ids)",
            &check_rows,
        )
        .await?;
        Ok(())
    }
}

/// Filters of [`checklists`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChecklistFilter {
    /// One case.
    pub case_id: Option<Uuid>,
    /// Cases of one ATS.
    pub ats: Option<String>,
    /// Cases of one provider.
    pub provider: Option<String>,
    /// Only passed (true) or failed (false) checklists.
    pub passed: Option<bool>,
    /// `computed_at` at or after.
    pub from: Option<DateTime<Utc>>,
    /// `computed_at` before.
    pub to: Option<DateTime<Utc>>,
}

/// Stored checklists, by case and version (cursor: `case_id:stream_version`).
pub async fn checklists(
    db: &Database,
    filter: &ChecklistFilter,
    page: &PageRequest,
) -> Result<Page<ChecklistView>, ProjectionError> {
    let mut q = Query::new(
        "SELECT k.* FROM rm_checklists k LEFT JOIN rm_cases c ON c.case_id = k.case_id WHERE 1=1",
    );
    q.and_some(" AND k.case_id = ", filter.case_id);
    q.and_some(" AND c.ats = ", filter.ats.as_ref());
    q.and_some(" AND c.provider = ", filter.provider.as_ref());
    q.and_some(" AND k.passed = ", filter.passed);
    q.and_some(" AND k.computed_at >= ", filter.from);
    q.and_some(" AND k.computed_at < ", filter.to);
    if let Some(c) = &page.cursor {
        let (case_id, version) = cursor_pair(c)?;
        q.and(" AND (k.case_id > ", case_id)
            .and(" OR (k.case_id = ", case_id)
            .and(" AND k.stream_version > ", version)
            .push("))");
    }
    let mut list = Page::fetch(
        db,
        q,
        "k.case_id, k.stream_version",
        page,
        |k: &ChecklistView| format!("{}:{}", k.case_id, k.stream_version),
    )
    .await?;
    for checklist in &mut list.items {
        checklist.checks = db
            .fetch_all(
                "SELECT * FROM rm_checklist_checks WHERE case_id = $1 AND stream_version = $2 \
                 ORDER BY seq",
                &[checklist.case_id.into(), checklist.stream_version.into()],
            )
            .await?
            .iter()
            .map(|c| c.decode())
            .collect::<Result<_, _>>()?;
    }
    Ok(list)
}
