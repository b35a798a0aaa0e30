//! Read endpoints (DESIGN §6, issue 5), served from the read models of `diario_projections`:
//! the audit trail and its chain verification, the history of a case as of an instant, stored
//! checklists, the ATS dashboard and case list, the cost report (JSON and CSV).
//!
//! Authorisation (docs/api.md): case reads need the case's scope (its ATS, enti, staff), taken
//! from the current-diaries read model with a fall-back to the stream when the projection has
//! not caught up yet, so a case is never "not found" just because the runner is behind.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use diario_domain::grants::GrantRole;
use diario_projections::{
    CaseDiary, CaseFilter, ChecklistFilter, CostFilter, FailureFilter, PageRequest,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::Problem;
use crate::extract::{ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/cases/{id}/audit-trail", get(audit_trail))
        .route(
            "/v1/cases/{id}/audit-trail/verification",
            get(audit_verification),
        )
        .route("/v1/cases/{id}/history", get(history))
        .route("/v1/cases/{id}/notifications", get(notifications))
        .route("/v1/cases/{id}/checklists", get(case_checklists))
        .route("/v1/ats/{ats}/dashboard", get(dashboard))
        .route("/v1/ats/{ats}/cases", get(ats_cases))
        .route("/v1/reports/costs", get(costs))
}

// ------------------------------------------------------------------------------------------
// Query parameters
// ------------------------------------------------------------------------------------------

/// Cursor pagination: pass back `next_cursor` as `cursor`; `limit` 1–500 (default 50).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `next_cursor` of the previous page (absent: the first page).
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
}

impl PageQuery {
    fn page(&self) -> Result<PageRequest, ApiError> {
        if let Some(l) = self.limit
            && !(1..=diario_projections::queries::MAX_PAGE_SIZE).contains(&l)
        {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {}",
                diario_projections::queries::MAX_PAGE_SIZE
            )));
        }
        Ok(PageRequest {
            cursor: self.cursor.clone().filter(|c| !c.is_empty()),
            limit: self.limit,
        })
    }
}

/// `?as_of=` of the history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// RFC 3339 instant (e.g. `2024-03-05T12:00:00Z`; encode `+` as `%2B`).
    pub as_of: DateTime<Utc>,
}

/// `?idle_days=` of the dashboard.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// The N of "open cases with no entry in the last N days", 1–365 (default 7).
    pub idle_days: Option<i64>,
}

/// Filters of the ATS case list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtsCasesQuery {
    /// `open`, `completed` or `interrupted`.
    pub status: Option<String>,
    /// Provider (ente erogatore) code.
    pub provider: Option<String>,
    /// Cases opened at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Cases opened before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Cases idle since before this instant (RFC 3339): no entry recorded after it (or, without
    /// entries, opened before it) — the full list behind the dashboard's idle cases.
    pub idle_before: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
}

/// Filters of the cost report.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostQuery {
    /// ATS code. An ATS operator (or auditor) scoped to one ATS gets that ATS when absent.
    pub ats: Option<String>,
    /// Provider (ente erogatore) code.
    pub provider: Option<String>,
    /// One case.
    pub case_id: Option<Uuid>,
    /// Service date on or after (`YYYY-MM-DD`).
    pub from: Option<NaiveDate>,
    /// Service date on or before (`YYYY-MM-DD`).
    pub to: Option<NaiveDate>,
    /// `json` (default) or `csv` (`text/csv`, RFC 4180).
    pub format: Option<String>,
}

/// Filters of the Art. 9 list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FailureQuery {
    /// Failures that began at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Failures that began before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// `true`: only unresolved failures; `false`: only resolved ones.
    pub unresolved: Option<bool>,
    /// Only the relying entries of this ATS (the failures are listed regardless).
    pub ats: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
}

// ------------------------------------------------------------------------------------------
// Authorisation helpers
// ------------------------------------------------------------------------------------------

/// The current diaries of a case (read model, or the stream when the projection is behind),
/// alerts brought to the service clock's now; 404 when there is no such case.
pub async fn current_diary(state: &AppState, id: Uuid) -> Result<CaseDiary, ApiError> {
    diario_projections::case_diary_consistent(
        &state.db,
        state.store.as_ref(),
        id,
        state.handler.now(),
    )
    .await?
    .ok_or_else(|| ApiError::NotFoundWhat(format!("no case {id}")))
}

fn ats_or_auditor(p: &Principal, ats: &str) -> bool {
    p.has(GrantRole::AtsOperator, ats) || p.has(GrantRole::Auditor, ats)
}

fn is_responsabile(p: &Principal, d: &CaseDiary) -> bool {
    d.responsabile_asst == p.cf.as_str() || d.responsabile_provider == p.cf.as_str()
}

/// Who may read the current diaries, as far as the read model tells: the responsabili, the
/// case manager, the authors of entries, the case's ATS operators and auditors, the enti's
/// administrators. (Enabled professionals without an entry are checked on the case stream by
/// the caller.)
pub fn can_read_diary(p: &Principal, d: &CaseDiary) -> bool {
    is_responsabile(p, d)
        || d.case_manager == p.cf.as_str()
        || d.diaries
            .iter()
            .flat_map(|ph| ph.entries.iter())
            .any(|e| e.professional == p.cf.as_str())
        || ats_or_auditor(p, &d.ats)
        || p.has(GrantRole::EnteAdmin, &d.asst)
        || p.has(GrantRole::EnteAdmin, &d.provider)
}

fn denied(code: &'static str, message: &str) -> ApiError {
    ApiError::Forbidden {
        code,
        message: message.to_owned(),
    }
}

async fn audit_scope(state: &AppState, p: &Principal, id: Uuid) -> Result<CaseDiary, ApiError> {
    let d = current_diary(state, id).await?;
    if ats_or_auditor(p, &d.ats) {
        Ok(d)
    } else {
        Err(denied(
            "audit-access-denied",
            "solo i revisori e l'ATS della pratica consultano la traccia di audit / only auditors and the case's ATS may read the audit trail and history",
        ))
    }
}

fn require_ats_reader(p: &Principal, ats: &str) -> Result<(), ApiError> {
    if ats_or_auditor(p, ats) {
        Ok(())
    } else {
        Err(denied(
            "ats-access-denied",
            "solo gli operatori e i revisori di questa ATS / only this ATS's operators and auditors",
        ))
    }
}

/// The ATS a cost report may cover for `p`: an unscoped ATS operator or auditor may ask for
/// any (or all); a scoped one gets its own ATS (forced when absent, 403 for another).
pub fn cost_scope(p: &Principal, requested: Option<String>) -> Result<Option<String>, ApiError> {
    let grants: Vec<_> = p
        .grants
        .iter()
        .filter(|g| matches!(g.role, GrantRole::AtsOperator | GrantRole::Auditor))
        .collect();
    if grants.is_empty() {
        return Err(denied(
            "ats-access-denied",
            "solo gli operatori ATS e i revisori consultano il rendiconto dei costi / only ATS operators and auditors may read the cost report",
        ));
    }
    if grants.iter().any(|g| g.scope.is_none()) {
        return Ok(requested);
    }
    let scopes: BTreeSet<&str> = grants.iter().filter_map(|g| g.scope.as_deref()).collect();
    match requested {
        Some(a) if scopes.contains(a.as_str()) => Ok(Some(a)),
        Some(_) => Err(denied(
            "ats-access-denied",
            "il rendiconto è limitato alla propria ATS / the cost report is limited to your own ATS",
        )),
        None if scopes.len() == 1 => Ok(scopes.first().map(|s| (*s).to_owned())),
        None => Err(ApiError::BadRequest(format!(
            "the `ats` filter is required: you may read the costs of {}",
            scopes.into_iter().collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn etag(mut response: Response, version: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

// ------------------------------------------------------------------------------------------
// Handlers
// ------------------------------------------------------------------------------------------

/// The current diaries of a case (read model "current diaries"; read-your-writes: falls back to
/// the stream when the projection has not caught up). Shared by `GET /v1/cases/{id}`.
pub async fn case_view(state: &AppState, p: &Principal, id: Uuid) -> Result<Response, ApiError> {
    let d = current_diary(state, id).await?;
    let allowed = can_read_diary(p, &d) || {
        // An enabled professional who has not recorded anything yet.
        let (case, _) = state.handler.load_case(id).await?;
        case.file
            .as_ref()
            .is_some_and(|f| crate::cases::can_read_case(p, f))
    };
    if !allowed {
        return Err(denied(
            "case-access-denied",
            "Art. 10: solo il personale della pratica, l'ATS e i revisori la consultano / only the case's staff, its ATS and auditors may read this case",
        ));
    }
    let version = d.version;
    Ok(etag(Json(d).into_response(), version))
}

/// Every event of the case in stream order, with actor fiscal code, role, instants, a readable
/// description (Italian) and the hash chain links (read model "audit trail"); auditors and the
/// case's ATS operators. Cursor: the last `stream_version` seen.
#[utoipa::path(get, path = "/v1/cases/{id}/audit-trail", tag = "reads",
    params(("id" = Uuid, Path, description = "case id"), PageQuery),
    responses(
        (status = 200, description = "every event of the case with its actor, in stream order (docs/projections.md)", body = diario_projections::Page<diario_projections::AuditRecord>),
        (status = "4XX", description = "400 (cursor, limit), 401, 403 audit-access-denied, 404", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn audit_trail(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let page = q.page()?;
    audit_scope(&state, &principal, id).await?;
    let trail = diario_projections::audit_trail(&state.db, id, &page).await?;
    Ok(Json(trail).into_response())
}

/// The hash-chain check of the case stream, computed now from the event store; `intact` is
/// false and `first_break` names the version and reason when the chain does not hold.
#[utoipa::path(get, path = "/v1/cases/{id}/audit-trail/verification", tag = "reads",
    params(("id" = Uuid, Path, description = "case id")),
    responses(
        (status = 200, description = "`{stream_id, events_checked, last_version, first_break: {version, reason} | null, intact}`", body = Object),
        (status = "4XX", description = "401, 403 audit-access-denied, 404", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn audit_verification(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Value>, ApiError> {
    audit_scope(&state, &principal, id).await?;
    let report = diario_projections::verify_case(state.store.as_ref(), id).await?;
    let intact = report.is_intact();
    let mut body = serde_json::to_value(&report).map_err(|e| ApiError::Internal(Box::new(e)))?;
    if let Some(o) = body.as_object_mut() {
        o.insert("intact".into(), Value::Bool(intact));
    }
    Ok(Json(body))
}

/// Every FirmaLOM delivery attempt for the case's confirmation requests, oldest first: when
/// the recipient was notified, or why not (Art. 6; `firmalom_delivery_attempts`).
#[utoipa::path(get, path = "/v1/cases/{id}/notifications", tag = "reads",
    params(("id" = Uuid, Path, description = "case id")),
    responses(
        (status = 200, description = "`{items: [{notification_id, attempt, attempted_at, http_status, outcome: delivered|failed|request_ended, error}]}`", body = Object),
        (status = "4XX", description = "401, 403 audit-access-denied, 404", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn notifications(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Value>, ApiError> {
    audit_scope(&state, &principal, id).await?;
    let items = diario_commands::firmalom::delivery_log(&state.db, id)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// The case as it stood at `as_of`: its stream replayed up to the events decided at or before
/// that instant (from the events, not from the read model). Same shape as `GET /v1/cases/{id}`
/// under `case`.
#[utoipa::path(get, path = "/v1/cases/{id}/history", tag = "reads",
    params(("id" = Uuid, Path, description = "case id"), HistoryQuery),
    responses(
        (status = 200, description = "`{case_id, as_of, version, case}`; `case` has the shape of GET /v1/cases/{id}", body = Object),
        (status = "4XX", description = "400 (as_of missing or not RFC 3339), 401, 403 audit-access-denied, 404 (no case, or not opened yet at as_of)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    audit_scope(&state, &principal, id).await?;
    let Some(then) = diario_projections::history_as_of(state.store.as_ref(), id, q.as_of).await?
    else {
        return Err(ApiError::NotFoundWhat(format!(
            "case {id} was not opened yet at {}",
            q.as_of.to_rfc3339()
        )));
    };
    Ok(Json(json!({
        "case_id": id,
        "as_of": q.as_of,
        "version": then.version,
        "case": then,
    })))
}

/// The Art. 8 checklists stored with the case's confirmation requests and paper diaries, each
/// check with its limit, value and outcome; auditors, the case's ATS, its responsabili.
#[utoipa::path(get, path = "/v1/cases/{id}/checklists", tag = "reads",
    params(("id" = Uuid, Path, description = "case id"), PageQuery),
    responses(
        (status = 200, description = "the stored Art. 8 checklists of the case (docs/projections.md, rm_checklists)", body = diario_projections::Page<diario_projections::ChecklistView>),
        (status = "4XX", description = "400, 401, 403 case-access-denied, 404", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn case_checklists(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let page = q.page()?;
    let d = current_diary(&state, id).await?;
    if !(ats_or_auditor(&principal, &d.ats) || is_responsabile(&principal, &d)) {
        return Err(denied(
            "case-access-denied",
            "solo i revisori, l'ATS e i responsabili della pratica consultano le checklist / only auditors, the case's ATS and its responsabili may read the checklists",
        ));
    }
    let filter = ChecklistFilter {
        case_id: Some(id),
        ..ChecklistFilter::default()
    };
    let list = diario_projections::checklists(&state.db, &filter, &page).await?;
    Ok(Json(list).into_response())
}

/// The ATS dashboard: cases by status, open/closed diaries per phase, minutes per phase and
/// figure, requests pending / expiring within 24 h / overdue / expired / rejected, the
/// confirmation rate, entries registered late under a system failure, idle cases.
#[utoipa::path(get, path = "/v1/ats/{ats}/dashboard", tag = "reads",
    params(("ats" = String, Path, description = "ATS code"), DashboardQuery),
    responses(
        (status = 200, description = "the ATS dashboard (docs/projections.md)", body = diario_projections::AtsDashboard),
        (status = "4XX", description = "400, 401, 403 ats-access-denied", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn dashboard(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(ats): ApiPath<String>,
    ApiQuery(q): ApiQuery<DashboardQuery>,
) -> Result<Json<diario_projections::AtsDashboard>, ApiError> {
    let idle_days = q.idle_days.unwrap_or(7);
    if !(1..=365).contains(&idle_days) {
        return Err(ApiError::BadRequest(
            "idle_days must be between 1 and 365".into(),
        ));
    }
    require_ats_reader(&principal, &ats)?;
    let board =
        diario_projections::ats_dashboard(&state.db, &ats, state.handler.now(), idle_days).await?;
    Ok(Json(board))
}

/// The cases of an ATS (by case id), filtered by status, provider and opening period.
#[utoipa::path(get, path = "/v1/ats/{ats}/cases", tag = "reads",
    params(("ats" = String, Path, description = "ATS code"), AtsCasesQuery),
    responses(
        (status = 200, description = "the cases of the ATS by case id", body = diario_projections::Page<diario_projections::CaseSummary>),
        (status = "4XX", description = "400, 401, 403 ats-access-denied", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn ats_cases(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(ats): ApiPath<String>,
    ApiQuery(q): ApiQuery<AtsCasesQuery>,
) -> Result<Response, ApiError> {
    if let Some(s) = &q.status
        && !matches!(s.as_str(), "open" | "completed" | "interrupted")
    {
        return Err(ApiError::BadRequest(format!(
            "status must be open, completed or interrupted, not {s:?}"
        )));
    }
    let page = PageQuery {
        cursor: q.cursor.clone(),
        limit: q.limit,
    }
    .page()?;
    require_ats_reader(&principal, &ats)?;
    let filter = CaseFilter {
        ats: Some(ats),
        provider: q.provider,
        status: q.status,
        from: q.from,
        to: q.to,
        idle_before: q.idle_before,
    };
    let list = diario_projections::list_cases(&state.db, &filter, &page).await?;
    Ok(Json(list).into_response())
}

/// Confirmed hours × unit cost per figure, by case, provider, ATS, month and figure (money in
/// integer cents). `format=csv` answers `text/csv` (one line per ATS, provider, case, month,
/// figure). A scoped ATS operator or auditor only reads its own ATS.
#[utoipa::path(get, path = "/v1/reports/costs", tag = "reads",
    params(CostQuery),
    responses(
        (status = 200, description = "the cost report, or text/csv with `format=csv`",
            content((diario_projections::CostReport = "application/json"), (String = "text/csv"))),
        (status = "4XX", description = "400 (format, dates, ats required), 401, 403 ats-access-denied", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn costs(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<CostQuery>,
) -> Result<Response, ApiError> {
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format must be json or csv, not {other:?}"
            )));
        }
    };
    let ats = cost_scope(&principal, q.ats)?;
    let filter = CostFilter {
        ats,
        provider: q.provider,
        case_id: q.case_id,
        from: q.from,
        to: q.to,
    };
    let report = diario_projections::cost_report(&state.db, &filter).await?;
    if csv {
        let body = diario_projections::cost_report_csv(&report);
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"diario-costs.csv\"",
                ),
            ],
            body,
        )
            .into_response())
    } else {
        Ok(Json(report).into_response())
    }
}

/// The Art. 9 list from the read model: failures by start, each with the entries that relied
/// on it (`GET /v1/system-failures`).
pub async fn failures(state: &AppState, q: FailureQuery) -> Result<Response, ApiError> {
    let page = PageQuery {
        cursor: q.cursor.clone(),
        limit: q.limit,
    }
    .page()?;
    let filter = FailureFilter {
        from: q.from,
        to: q.to,
        unresolved: q.unresolved,
        ats: q.ats,
    };
    let list = diario_projections::system_failures(&state.db, &filter, &page).await?;
    Ok(Json(list).into_response())
}
