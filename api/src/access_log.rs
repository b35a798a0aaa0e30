//! Who read what (Art. 10; GDPR art. 32; `docs/api.md`, "Access log"): every read of a case's
//! personal data — the case view and page, audit trail, history, notifications, checklists,
//! documents, paper diary, dossier — is recorded before it is answered: who, when, what, as
//! which role. A read that cannot be recorded is not served. The log is append-only (database
//! triggers refuse UPDATE and DELETE) and never holds the data read: a kind of read, the case
//! id, and at most a non-personal detail (a document's hash, an `as_of` instant).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use diario_commands::{Principal, access};
use diario_domain::CaseFile;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::Problem;
use crate::extract::ApiQuery;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/access-log", get(list))
}

/// Records that `principal` read `what` of the case `file` (with an optional non-personal
/// `detail`).
pub async fn record(
    state: &AppState,
    principal: &Principal,
    file: &CaseFile,
    what: &'static str,
    detail: Option<String>,
) -> Result<(), ApiError> {
    let role = access::read_basis(principal, file);
    record_as(
        state,
        principal.cf.as_str(),
        role,
        what,
        Some(file.case_id),
        detail,
    )
    .await
}

/// Records a read by `person` acting as `role`.
pub async fn record_as(
    state: &AppState,
    person: &str,
    role: &str,
    what: &'static str,
    case_id: Option<Uuid>,
    detail: Option<String>,
) -> Result<(), ApiError> {
    state
        .db
        .exec(
            "INSERT INTO access_log (at, person, role, what, case_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                state.handler.now().into(),
                person.into(),
                role.into(),
                what.into(),
                case_id.into(),
                detail.into(),
            ],
        )
        .await?;
    Ok(())
}

/// `?case_id=&person=&before=&limit=` of `GET /v1/access-log`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccessLogQuery {
    /// Reads of one case.
    pub case_id: Option<Uuid>,
    /// Reads by one person (fiscal code).
    pub person: Option<String>,
    /// Only records older than this id (the cursor: the last `id` of the previous page).
    pub before: Option<i64>,
    /// How many, newest first (1–500, default 100).
    pub limit: Option<i64>,
}

/// One recorded read.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who (fiscal code).
    pub person: String,
    /// As what: `responsabile`, `case_manager`, `professional`, `ats_operator`, `auditor`,
    /// `ente_admin`.
    pub role: String,
    /// Which read: `case`, `case-page`, `audit-trail`, `audit-verification`, `audit-page`,
    /// `history`, `notifications`, `checklists`, `document`, `paper-diary`, `dossier`.
    pub what: String,
    pub case_id: Option<Uuid>,
    /// A non-personal detail: a document's hash, an `as_of` instant.
    pub detail: Option<String>,
}

/// A page of the access log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogPage {
    pub records: Vec<AccessRecord>,
    /// `before` for the next page (absent on the last).
    pub next_before: Option<i64>,
}

/// Who read which case's personal data, when and as what (the data-protection officer and
/// unscoped auditors). Newest first.
#[utoipa::path(get, path = "/v1/access-log", tag = "audit",
    params(AccessLogQuery),
    responses((status = 200, description = "the recorded reads, newest first", body = AccessLogPage),
        (status = "4XX", description = "400 invalid-limit (field `limit`), 401, 403 access-log-denied", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiQuery(q): ApiQuery<AccessLogQuery>,
) -> Result<Json<AccessLogPage>, ApiError> {
    access::read_access_log(&principal)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Field {
            status: axum::http::StatusCode::BAD_REQUEST,
            code: "invalid-limit",
            field: "limit",
            message: "limit: tra 1 e 500".into(),
        });
    }
    let mut query = diario_log::Query::new(
        "SELECT id, at, person, role, what, case_id, detail FROM access_log WHERE 1 = 1",
    );
    query.and_some(" AND case_id = ", q.case_id);
    query.and_some(" AND person = ", q.person);
    query.and_some(" AND id < ", q.before);
    query.push(" ORDER BY id DESC LIMIT ");
    query.bind(limit + 1);
    let rows = state.db.query(&query).await?;
    let mut records = Vec::with_capacity(rows.len());
    for r in &rows {
        records.push(AccessRecord {
            id: r.i64("id")?,
            at: r.instant("at")?,
            person: r.text("person")?,
            role: r.text("role")?,
            what: r.text("what")?,
            case_id: r.opt_uuid("case_id")?,
            detail: r.opt_text("detail")?,
        });
    }
    let next_before = if records.len() as i64 > limit {
        records.truncate(limit as usize);
        records.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(AccessLogPage {
        records,
        next_before,
    }))
}
