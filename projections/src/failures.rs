//! Read model 7: the Art. 9 list of system failures, with the entries that relied on each.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use diario_commands::codec::decode_failure_event;
use diario_commands::{Database, EventStore, RecordedEvent};
use diario_domain::{FailureEvent, FailureScope};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ProjectionError;
use crate::queries::{Page, PageRequest};
use crate::runner::Projection;
use crate::sql::{Tx, Val, fetch_all};

/// Projection name.
pub const NAME: &str = "system_failures";

/// An entry registered late relying on a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RelyingEntry {
    pub entry_id: Uuid,
    pub case_id: Uuid,
    pub ats: String,
    pub provider: String,
    pub phase: u8,
    pub professional: String,
    pub date: NaiveDate,
    pub minutes: i64,
    pub state: String,
    pub recorded_at: DateTime<Utc>,
}

/// A declared failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FailureView {
    pub failure_id: Uuid,
    /// `regional` or `ente`.
    pub scope: String,
    /// The ente's code for `ente` failures.
    pub ente: Option<String>,
    pub ticket: String,
    pub description: String,
    pub began_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub declared_by: String,
    pub declared_at: DateTime<Utc>,
    pub resolved_by: Option<String>,
    /// Entries (withdrawn ones included, with their state) that cite this failure.
    pub entries: Vec<RelyingEntry>,
}

/// The "system_failures" projection: table `rm_system_failures`.
pub struct SystemFailures;

fn failure_id_of(stream_id: &str) -> Option<Uuid> {
    stream_id
        .strip_prefix("failure-")
        .and_then(|s| Uuid::parse_str(s).ok())
}

#[async_trait]
impl Projection for SystemFailures {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_system_failures"]
    }

    async fn apply(
        &self,
        events: &[RecordedEvent],
        _store: &dyn EventStore,
        tx: &mut Tx,
    ) -> Result<(), ProjectionError> {
        for e in events {
            if failure_id_of(&e.stream_id).is_none() {
                continue;
            }
            match decode_failure_event(e)? {
                FailureEvent::SystemFailureDeclared {
                    failure_id,
                    scope,
                    ticket,
                    description,
                    began_at,
                    by,
                    at,
                } => {
                    let (scope, ente) = match scope {
                        FailureScope::Regional => ("regional", None),
                        FailureScope::Ente { ente } => ("ente", Some(ente)),
                    };
                    tx.exec(
                        "INSERT INTO rm_system_failures (failure_id, scope, ente, ticket, \
                         description, began_at, declared_by, declared_at) \
                         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                        &[
                            failure_id.into(),
                            scope.into(),
                            ente.into(),
                            ticket.into(),
                            description.into(),
                            began_at.trunc_subsecs(6).into(),
                            by.as_str().into(),
                            at.trunc_subsecs(6).into(),
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
) -> Result<Page<FailureView>, ProjectionError> {
    let mut sql = String::from("SELECT * FROM rm_system_failures WHERE 1=1");
    let mut args: Vec<Val> = Vec::new();
    let mut push = |sql: &mut String, cond: &str, v: Val| {
        args.push(v);
        sql.push_str(&cond.replace('?', &format!("${}", args.len())));
    };
    if let Some(t) = filter.from {
        push(&mut sql, " AND began_at >= ?", t.into());
    }
    if let Some(t) = filter.to {
        push(&mut sql, " AND began_at < ?", t.into());
    }
    match filter.unresolved {
        Some(true) => sql.push_str(" AND resolved_at IS NULL"),
        Some(false) => sql.push_str(" AND resolved_at IS NOT NULL"),
        None => {}
    }
    if let Some(c) = &page.cursor {
        let id = Uuid::parse_str(c).map_err(|_| ProjectionError::BadCursor(c.clone()))?;
        push(
            &mut sql,
            " AND (began_at, failure_id) > (SELECT began_at, failure_id FROM rm_system_failures \
             WHERE failure_id = ?)",
            id.into(),
        );
    }
    let limit = page.limit();
    push(
        &mut sql,
        " ORDER BY began_at, failure_id LIMIT ?",
        (limit + 1).into(),
    );
    let rows = fetch_all(db, &sql, &args).await?;
    let mut items = Vec::new();
    for r in rows {
        let failure_id = r.uuid("failure_id")?;
        let (esql, eargs): (&str, Vec<Val>) = match &filter.ats {
            Some(ats) => (
                "SELECT * FROM rm_entries WHERE system_failure_id = $1 AND ats = $2 \
                 ORDER BY case_id, entry_id",
                vec![failure_id.into(), ats.into()],
            ),
            None => (
                "SELECT * FROM rm_entries WHERE system_failure_id = $1 ORDER BY case_id, entry_id",
                vec![failure_id.into()],
            ),
        };
        let entries = fetch_all(db, esql, &eargs)
            .await?
            .iter()
            .map(|e| {
                Ok(RelyingEntry {
                    entry_id: e.uuid("entry_id")?,
                    case_id: e.uuid("case_id")?,
                    ats: e.text("ats")?,
                    provider: e.text("provider")?,
                    phase: u8::try_from(e.i64("phase")?).unwrap_or(0),
                    professional: e.text("professional")?,
                    date: e.date("service_date")?,
                    minutes: e.i64("minutes")?,
                    state: e.text("state")?,
                    recorded_at: e.instant("recorded_at")?,
                })
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        items.push(FailureView {
            failure_id,
            scope: r.text("scope")?,
            ente: r.opt_text("ente")?,
            ticket: r.text("ticket")?,
            description: r.text("description")?,
            began_at: r.instant("began_at")?,
            resolved_at: r.opt_instant("resolved_at")?,
            declared_by: r.text("declared_by")?,
            declared_at: r.instant("declared_at")?,
            resolved_by: r.opt_text("resolved_by")?,
            entries,
        });
    }
    Ok(Page::from_overfetch(items, limit, |f| {
        f.failure_id.to_string()
    }))
}
