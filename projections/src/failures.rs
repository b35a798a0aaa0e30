//! Read model 7: the Art. 9 list of system failures, with the entries that relied on each.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use diario_domain::{FailureEvent, FailureScope};
use diario_log::{Database, FollowError, Follower, LogEvent, Query, RecordedEvent, StreamId, Tx};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::queries::{Page, PageRequest};
use crate::status::FailureScopeView;
use crate::{EntryState, ProjectionError};

/// Projection name.
pub const NAME: &str = "system_failures";

/// The table of the projection.
pub const TABLES: [&str; 1] = ["rm_system_failures"];

/// An entry registered late relying on a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RelyingEntry {
    pub entry_id: Uuid,
    pub case_id: Uuid,
    pub ats: String,
    pub provider: String,
    pub phase: u8,
    pub professional: String,
    #[serde(alias = "service_date")]
    pub date: NaiveDate,
    pub minutes: i64,
    pub state: EntryState,
    pub recorded_at: DateTime<Utc>,
}

/// A declared failure, with the entries that relied on it (the Art. 9 list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SystemFailureView {
    pub failure_id: Uuid,
    pub scope: FailureScopeView,
    /// The ente's code for `ente` failures.
    pub ente: Option<String>,
    pub ticket: String,
    pub description: String,
    pub began_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub declared_by: String,
    pub declared_at: DateTime<Utc>,
    /// When the operator's ticket was opened (Art. 9 "immediatamente"); none for declarations
    /// recorded before it was asked.
    #[serde(default)]
    pub ticket_opened_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    /// Entries (withdrawn ones included, with their state) that cite this failure (not a
    /// column of `rm_system_failures`: read from `rm_entries`).
    #[serde(default)]
    pub entries: Vec<RelyingEntry>,
}

/// The "system_failures" projection: table `rm_system_failures`.
pub struct SystemFailures;

#[async_trait]
impl Follower for SystemFailures {
    diario_log::follower_spec!(NAME, &TABLES);

    async fn apply(&self, events: &[RecordedEvent], tx: &mut Tx) -> Result<(), FollowError> {
        for e in events {
            if StreamId::failure_of(&e.stream_id).is_none() {
                continue;
            }
            match FailureEvent::decode(e)? {
                FailureEvent::SystemFailureDeclared {
                    failure_id,
                    scope,
                    ticket,
                    description,
                    began_at,
                    ticket_opened_at,
                    by,
                    at,
                } => {
                    let (scope, ente) = match scope {
                        FailureScope::Regional => (FailureScopeView::Regional, None),
                        FailureScope::Ente { ente } => (FailureScopeView::Ente, Some(ente)),
                    };
                    tx.exec(
                        "INSERT INTO rm_system_failures (failure_id, scope, ente, ticket, \
                         description, began_at, declared_by, declared_at, ticket_opened_at) \
                         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                        &[
                            failure_id.into(),
                            scope.as_str().into(),
                            ente.into(),
                            ticket.into(),
                            description.into(),
                            began_at.trunc_subsecs(6).into(),
                            by.as_str().into(),
                            at.trunc_subsecs(6).into(),
                            ticket_opened_at.map(|t| t.trunc_subsecs(6)).into(),
                        ],
                    )
                    .await?;
                }
                FailureEvent::SystemFailureResolved {
                    failure_id,
                    resolved_at,
                    by,
                    at,
                } => {
                    tx.exec(
                        "UPDATE rm_system_failures SET resolved_at = $2, resolved_by = $3, \
                         resolution_recorded_at = $4 WHERE failure_id = $1",
                        &[
                            failure_id.into(),
                            resolved_at.trunc_subsecs(6).into(),
                            by.as_str().into(),
                            at.trunc_subsecs(6).into(),
                        ],
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

/// Filters of [`system_failures`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FailureFilter {
    /// Failures that began at or after.
    pub from: Option<DateTime<Utc>>,
    /// Failures that began before.
    pub to: Option<DateTime<Utc>>,
    /// Only unresolved (true) or resolved (false).
    pub unresolved: Option<bool>,
    /// Only the relying entries of this ATS (the failures are listed regardless).
    pub ats: Option<String>,
}

/// The Art. 9 list, by `began_at` then id (cursor: the failure id of the last item, resolved
/// to its position).
pub async fn system_failures(
    db: &Database,
    filter: &FailureFilter,
    page: &PageRequest,
) -> Result<Page<SystemFailureView>, ProjectionError> {
    let mut q = Query::new("SELECT * FROM rm_system_failures WHERE 1=1");
    q.and_some(" AND began_at >= ", filter.from);
    q.and_some(" AND began_at < ", filter.to);
    match filter.unresolved {
        Some(true) => q.push(" AND resolved_at IS NULL"),
        Some(false) => q.push(" AND resolved_at IS NOT NULL"),
        None => &mut q,
    };
    if let Some(c) = &page.cursor {
        let id = Uuid::parse_str(c).map_err(|_| ProjectionError::BadCursor(c.clone()))?;
        q.and(
            " AND (began_at, failure_id) > (SELECT began_at, failure_id FROM rm_system_failures \
             WHERE failure_id = ",
            id,
        )
        .push(")");
    }
    let mut list = Page::fetch(
        db,
        q,
        "began_at, failure_id",
        page,
        |f: &SystemFailureView| f.failure_id.to_string(),
    )
    .await?;
    for failure in &mut list.items {
        let mut eq = Query::new("SELECT * FROM rm_entries WHERE system_failure_id = ");
        eq.bind(failure.failure_id)
            .and_some(" AND ats = ", filter.ats.as_ref())
            .push(" ORDER BY case_id, entry_id");
        failure.entries = db
            .query(&eq)
            .await?
            .iter()
            .map(|e| e.decode())
            .collect::<Result<_, _>>()?;
    }
    Ok(list)
}
