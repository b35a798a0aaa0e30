//! Read endpoints, served from the read models of `diario_projections`: the current diaries of
//! a case, the audit trail and its chain verification, the history of a case as of an instant,
//! stored checklists, the ATS dashboard and case list, the cost report (JSON and CSV).
//!
//! Authorisation (docs/api.md) is the access policy's (`diario_commands::access`), on the case's
//! folded state from the command handler's cache — so a case is never "not found" just because
//! the projection runner is behind, and the same predicate guards reads and writes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use diario_commands::Principal;
use diario_commands::access::{self, CostScope};
use diario_domain::values::{add_civil_days, resolve_local};
use diario_domain::{CaseFile, CaseState, OrgKind};
use diario_projections::{
    CaseDiary, CaseFilter, CaseStatus, ChecklistFilter, CostFilter, FailureFilter, PageRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::Problem;
use crate::extract::{ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/cases/{id}", get(get_case))
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
        .route("/v1/reports/vouchers", get(vouchers))
        .route("/v1/reports/costs", get(costs))
        .route("/v1/me", get(me))
}

/// What `GET /v1/me` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    /// The caller's fiscal code (from the token).
    pub fiscal_code: String,
    /// A bootstrap administrator (`DIARIO_PLATFORM_ADMINS`) or a `platform_admin` grant.
    pub platform_admin: bool,
    /// The organisation roles granted to the caller.
    pub grants: Vec<crate::dto::GrantBody>,
    /// What the grants let the caller do (`diario_commands::access::capabilities`).
    pub capabilities: Vec<CapabilityView>,
}

/// One thing the caller may do.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapabilityView {
    /// Stable code: `case-work`, `open-cases`, `change-responsabile`, `read-ats`,
    /// `read-ente-cases`, `declare-failures`, `manage-grants`.
    pub code: String,
    /// The organisation it is limited to (absent: every one).
    pub scope: Option<String>,
    /// In Italian.
    pub description: String,
}

/// Who I am: my fiscal code, my organisation roles with their scopes, and what they let me do.
#[utoipa::path(get, path = "/v1/me", tag = "reads",
    responses(
        (status = 200, description = "the caller, their grants and capabilities", body = MeView),
        (status = "4XX", description = "401", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn me(Auth(principal): Auth) -> Json<MeView> {
    Json(MeView {
        fiscal_code: principal.cf.as_str().to_owned(),
        platform_admin: principal.platform_admin,
        grants: principal
            .grants
            .iter()
            .map(crate::dto::GrantBody::from_grant)
            .collect(),
        capabilities: access::capabilities(&principal)
            .into_iter()
            .map(|c| CapabilityView {
                code: c.code.to_owned(),
                scope: c.scope,
                description: c.description.to_owned(),
            })
            .collect(),
    })
}

/// A filter or path naming an organisation must name a registered one of the right kind
/// (`ats` an ATS, `provider` a provider): a typo is refused, not answered with nothing.
async fn known(
    state: &AppState,
    field: &'static str,
    code: &str,
    status: StatusCode,
) -> Result<(), ApiError> {
    let kinds: &[OrgKind] = match field {
        "ats" => &[OrgKind::Ats],
        "ambito" => &[OrgKind::AmbitoLead],
        _ => &[OrgKind::Provider],
    };
    crate::people::require_organisation(state, field, code, kinds, status)
        .await
        .map(drop)
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
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

impl PageQuery {
    fn page(&self) -> Result<PageRequest, ApiError> {
        if let Some(l) = self.limit
            && !(1..=diario_projections::queries::MAX_PAGE_SIZE).contains(&l)
        {
            return Err(ApiError::BadRequest(format!(
                "limit deve essere compreso tra 1 e {}",
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
    #[param(minimum = 1, maximum = 365)]
    pub idle_days: Option<i64>,
}

/// `from` / `to` of a list whose items are instants (cases opened, failures begun): a day
/// (`YYYY-MM-DD`, Europe/Rome, as on every other list; `to` includes its day) or an instant
/// (RFC 3339; `to` excludes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Day(NaiveDate),
    Instant(DateTime<Utc>),
}

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Bound, D::Error> {
        let text = String::deserialize(d)?;
        if let Ok(day) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            return Ok(Bound::Day(day));
        }
        DateTime::parse_from_rfc3339(&text)
            .map(|t| Bound::Instant(t.with_timezone(&Utc)))
            .map_err(|_| {
                serde::de::Error::custom("non è una data (AAAA-MM-GG) né un istante RFC 3339")
            })
    }
}

impl Bound {
    /// The first instant of a `from`.
    pub fn start(self) -> DateTime<Utc> {
        match self {
            Bound::Day(d) => resolve_local(d.and_time(chrono::NaiveTime::MIN)),
            Bound::Instant(t) => t,
        }
    }

    /// The excluded end of a `to` (the day after a day).
    pub fn end(self) -> DateTime<Utc> {
        match self {
            Bound::Day(d) => resolve_local(add_civil_days(d, 1).and_time(chrono::NaiveTime::MIN)),
            Bound::Instant(t) => t,
        }
    }
}

/// Filters of the ATS case list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtsCasesQuery {
    /// `open`, `completed` or `interrupted`.
    #[param(value_type = Option<String>, pattern = "^(open|completed|interrupted)$")]
    pub status: Option<String>,
    /// Provider (ente erogatore) code.
    pub provider: Option<String>,
    /// Cases opened on or after this day (`YYYY-MM-DD`, Europe/Rome), or at or after this
    /// instant (RFC 3339).
    #[param(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$", example = "2026-11-01")]
    pub from: Option<Bound>,
    /// Cases opened on or before this day, or before this instant.
    #[param(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$", example = "2026-11-30")]
    pub to: Option<Bound>,
    /// Cases idle since before this instant (RFC 3339): no entry recorded after it (or, without
    /// entries, opened before it) — the full list behind the dashboard's idle cases.
    pub idle_before: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
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
    /// `json` (default); `csv-it` (for Italian spreadsheets: `;`, decimal comma, UTF-8 BOM,
    /// Italian headers, names next to the codes, a totals line); `xlsx`; `csv` (for programs:
    /// RFC 4180, comma, English headers, amounts in cents).
    #[param(value_type = Option<String>, pattern = "^(json|csv|csv-it|xlsx)$")]
    pub format: Option<String>,
}

/// Filters of the voucher report.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VoucherQuery {
    /// ATS code. An ATS operator (or auditor) scoped to one ATS gets that ATS when absent.
    pub ats: Option<String>,
    /// The Ambito's lead body (the case's public-body party).
    pub ambito: Option<String>,
    /// Only this measure (e.g. `autonomia_2016`).
    pub measure_id: Option<String>,
    /// The day the amounts are computed for (`YYYY-MM-DD`); default today (Europe/Rome).
    pub as_of: Option<NaiveDate>,
    /// `json` (default) or `csv` (one row per flat amount of each case, amounts in euros).
    #[param(value_type = Option<String>, pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// Filters of the Art. 9 list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FailureQuery {
    /// Failures that began on or after this day (`YYYY-MM-DD`, Europe/Rome), or at or after
    /// this instant (RFC 3339).
    #[param(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$", example = "2026-11-01")]
    pub from: Option<Bound>,
    /// Failures that began on or before this day, or before this instant.
    #[param(value_type = Option<String>, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$", example = "2026-11-30")]
    pub to: Option<Bound>,
    /// `true`: only unresolved failures; `false`: only resolved ones.
    pub unresolved: Option<bool>,
    /// Only the relying entries of this ATS (the failures are listed regardless; the
    /// entries are only ever those of cases the caller may read).
    pub ats: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

// ------------------------------------------------------------------------------------------
// Authorisation helpers
// ------------------------------------------------------------------------------------------

/// The case `id` with its file, if `principal` may read it (Art. 10). A case that does not
/// exist and a case the person may not read get the same 404, so that nobody learns from a
/// refusal whether a case exists, let alone its state or its people.
pub(crate) async fn readable_case(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<(CaseState, i64), ApiError> {
    let (case, version) = state.handler.load_case(id).await?;
    match &case.file {
        Some(f) if access::read_case(principal, f).is_ok() => Ok((case, version)),
        _ => Err(case_not_found(id)),
    }
}

/// The one answer for a case that does not exist or may not be read.
pub(crate) fn case_not_found(id: Uuid) -> ApiError {
    ApiError::NotFoundWhat(format!("nessuna pratica {id} consultabile"))
}

/// The file of a case [`readable_case`] returned.
pub(crate) fn file_of(case: &CaseState) -> Result<&CaseFile, ApiError> {
    case.file.as_ref().ok_or(ApiError::NotFound)
}

/// The measure a case was opened under, from the server's catalogue.
pub(crate) fn measure_of<'a>(
    state: &'a AppState,
    file: &CaseFile,
) -> Result<&'a diario_domain::Measure, ApiError> {
    state
        .handler
        .catalogue()
        .get(&file.measure_id)
        .ok_or_else(|| ApiError::Internal("the case's measure is not in the catalogue".into()))
}

/// The current diaries of a case, reading its own writes: the read model when it already
/// reflects the case's version, otherwise the view of the folded state (same structure, same
/// values as the projection will write). Alerts brought to the service clock's now.
pub(crate) async fn current_diary(
    state: &AppState,
    case: &CaseState,
) -> Result<CaseDiary, ApiError> {
    diario_projections::case_diary_consistent(
        &state.db,
        case,
        state.handler.catalogue(),
        state.handler.now(),
    )
    .await?
    .ok_or(ApiError::NotFound)
}

/// The ATS a cost report covers for `p` (the access policy; 400 when it must be named).
fn cost_ats(p: &Principal, requested: Option<String>) -> Result<Option<String>, ApiError> {
    match access::cost_scope(p, requested)? {
        CostScope::Granted(ats) => Ok(ats),
        CostScope::AtsRequired(scopes) => Err(ApiError::BadRequest(format!(
            "serve il filtro `ats`: si possono consultare i costi di {}",
            scopes.join(", ")
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

/// The current diaries of the case (read model "current diaries", docs/projections.md): per
/// phase the status, entries with their state, totals per figure and service, requests with
/// deadlines; alerts as of now. Reads its own writes: when the projection is behind the
/// stream, the view is built from the case's folded state.
#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases",
    params(("id" = Uuid, Path, description = "case id")),
    responses(
        (status = 200, description = "the current diaries of the case; ETag = version", body = diario_projections::CaseDiary),
        (status = "4XX", description = "400, 401, 404 (no case, or not one the caller may read)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_case(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let (case, _) = readable_case(&state, &principal, id).await?;
    crate::access_log::record(&state, &principal, file_of(&case)?, "case", None).await?;
    let d = current_diary(&state, &case).await?;
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
        (status = "4XX", description = "400 (cursor, limit), 401, 403 audit-access-denied (may read the case, not its audit trail), 404 (no case, or not one the caller may read)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn audit_trail(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let page = q.page()?;
    let (case, _) = readable_case(&state, &principal, id).await?;
    access::audit_case(&principal, file_of(&case)?)?;
    crate::access_log::record(&state, &principal, file_of(&case)?, "audit-trail", None).await?;
    let trail = diario_projections::audit_trail(&state.db, id, &page).await?;
    Ok(Json(trail).into_response())
}

/// The hash-chain check of the case stream, computed now from the event store; `intact` is
/// false and `first_break` names the version and reason when the chain does not hold.
#[utoipa::path(get, path = "/v1/cases/{id}/audit-trail/verification", tag = "reads",
    params(("id" = Uuid, Path, description = "case id")),
    responses(
        (status = 200, description = "`{stream_id, events_checked, last_version, first_break: {version, reason} | null, intact}`", body = Object),
        (status = "4XX", description = "401, 403 audit-access-denied (may read the case, not its audit trail), 404 (no case, or not one the caller may read)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn audit_verification(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let (case, _) = readable_case(&state, &principal, id).await?;
    access::audit_case(&principal, file_of(&case)?)?;
    crate::access_log::record(
        &state,
        &principal,
        file_of(&case)?,
        "audit-verification",
        None,
    )
    .await?;
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
        (status = "4XX", description = "401, 403 audit-access-denied (may read the case, not its audit trail), 404 (no case, or not one the caller may read)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn notifications(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let (case, _) = readable_case(&state, &principal, id).await?;
    access::audit_case(&principal, file_of(&case)?)?;
    crate::access_log::record(&state, &principal, file_of(&case)?, "notifications", None).await?;
    let items = crate::firmalom::outbox::delivery_log(&state.db, id).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// The case as it stood at `as_of`: its stream replayed up to the events decided at or before
/// that instant (from the events, not from the read model). Same shape as `GET /v1/cases/{id}`
/// under `case`.
#[utoipa::path(get, path = "/v1/cases/{id}/history", tag = "reads",
    params(("id" = Uuid, Path, description = "case id"), HistoryQuery),
    responses(
        (status = 200, description = "`{case_id, as_of, version, case}`; `case` has the shape of GET /v1/cases/{id}", body = Object),
        (status = "4XX", description = "400 (as_of missing or not RFC 3339), 401, 403 audit-access-denied (may read the case, not its history), 404 (no case, not one the caller may read, or not opened yet at as_of)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let (case, _) = readable_case(&state, &principal, id).await?;
    access::audit_case(&principal, file_of(&case)?)?;
    crate::access_log::record(
        &state,
        &principal,
        file_of(&case)?,
        "history",
        Some(q.as_of.to_rfc3339()),
    )
    .await?;
    let Some(then) = diario_projections::history_as_of(
        state.store.as_ref(),
        state.handler.catalogue(),
        id,
        q.as_of,
    )
    .await?
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
        (status = "4XX", description = "400, 401, 404 (no case, or not one the caller may read)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn case_checklists(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let page = q.page()?;
    let (case, _) = readable_case(&state, &principal, id).await?;
    access::read_checklists(&principal, file_of(&case)?)?;
    crate::access_log::record(&state, &principal, file_of(&case)?, "checklists", None).await?;
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
    Auth(principal): Auth,
    ApiPath(ats): ApiPath<String>,
    ApiQuery(q): ApiQuery<DashboardQuery>,
) -> Result<Json<diario_projections::AtsDashboard>, ApiError> {
    let idle_days = q.idle_days.unwrap_or(7);
    if !(1..=365).contains(&idle_days) {
        return Err(ApiError::BadRequest(
            "idle_days deve essere compreso tra 1 e 365".into(),
        ));
    }
    known(&state, "ats", &ats, StatusCode::NOT_FOUND).await?;
    access::read_ats(&principal, &ats)?;
    let board = diario_projections::queries::ats_dashboard_with_vouchers(
        &state.db,
        state.handler.catalogue(),
        &ats,
        state.handler.now(),
        idle_days,
    )
    .await?;
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
    Auth(principal): Auth,
    ApiPath(ats): ApiPath<String>,
    ApiQuery(q): ApiQuery<AtsCasesQuery>,
) -> Result<Response, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            CaseStatus::parse(s).map_err(|_| {
                ApiError::BadRequest(format!(
                    "status deve essere open, completed o interrupted, non {s:?}"
                ))
            })
        })
        .transpose()?;
    let page = PageQuery {
        cursor: q.cursor.clone(),
        limit: q.limit,
    }
    .page()?;
    known(&state, "ats", &ats, StatusCode::NOT_FOUND).await?;
    if let Some(provider) = &q.provider {
        known(&state, "provider", provider, StatusCode::BAD_REQUEST).await?;
    }
    access::read_ats(&principal, &ats)?;
    let filter = CaseFilter {
        ats: Some(ats),
        provider: q.provider,
        status,
        from: q.from.map(Bound::start),
        to: q.to.map(Bound::end),
        idle_before: q.idle_before,
    };
    let list = diario_projections::list_cases(&state.db, &filter, &page).await?;
    Ok(Json(list).into_response())
}

/// Confirmed hours × unit cost per figure, by case, provider, ATS, month and figure (money in
/// integer cents). `format=csv-it` and `format=xlsx` answer a download for spreadsheets (names,
/// Italian headers, totals); `format=csv` answers `text/csv` (one line per ATS, provider, case, month,
/// figure). A scoped ATS operator or auditor only reads its own ATS.
#[utoipa::path(get, path = "/v1/reports/costs", tag = "reads",
    params(CostQuery),
    responses(
        (status = 200, description = "the cost report, or a download with `format=csv`, `csv-it` or `xlsx`",
            content((diario_projections::CostReport = "application/json"), (String = "text/csv"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = "4XX", description = "400 (format, dates, ats required), 401, 403 ats-access-denied", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn costs(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiQuery(q): ApiQuery<CostQuery>,
) -> Result<Response, ApiError> {
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "csv", "csv-it", "xlsx"].contains(&format) {
        return Err(ApiError::Field {
            status: StatusCode::BAD_REQUEST,
            code: "invalid-format",
            field: "format",
            message: format!("format: deve essere json, csv, csv-it o xlsx, non «{format}»"),
        });
    }
    if let Some(ats) = &q.ats {
        known(&state, "ats", ats, StatusCode::BAD_REQUEST).await?;
    }
    if let Some(provider) = &q.provider {
        known(&state, "provider", provider, StatusCode::BAD_REQUEST).await?;
    }
    let ats = cost_ats(&principal, q.ats)?;
    let filter = CostFilter {
        ats,
        provider: q.provider,
        case_id: q.case_id,
        from: q.from,
        to: q.to,
    };
    let report = diario_projections::cost_report(
        &state.db,
        state.handler.catalogue(),
        &filter,
        diario_domain::values::civil_date(state.handler.now()),
    )
    .await?;
    if let Some(download) = match format {
        "csv-it" => Some(crate::exports::Format::CsvIt),
        "xlsx" => Some(crate::exports::Format::Xlsx),
        _ => None,
    } {
        let table = crate::exports::cost_table(&state, &report).await?;
        return crate::exports::download(&table, download, "diario-costi");
    }
    if format == "csv" {
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

/// Seed 003 §12–13: per Ambito and case, the flat amounts due, not yet due and not due with
/// the reasons, the 40% advance and the balance net of it, as of a day — what the Ambito's lead
/// body files with the Region. Euros per output, not hours × rate. Who reads the cost report
/// reads this.
#[utoipa::path(get, path = "/v1/reports/vouchers", tag = "reads",
    params(VoucherQuery),
    responses(
        (status = 200, description = "the voucher report, or `text/csv` with `format=csv`",
            content((diario_projections::VoucherReport = "application/json"), (String = "text/csv"))),
        (status = "4XX", description = "400 invalid-format, ats required, unknown-organisation / organisation-kind-mismatch (ats, ambito), unknown-measure (measure_id), 401, 403 ats-access-denied", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn vouchers(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiQuery(q): ApiQuery<VoucherQuery>,
) -> Result<Response, ApiError> {
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "csv"].contains(&format) {
        return Err(ApiError::Field {
            status: StatusCode::BAD_REQUEST,
            code: "invalid-format",
            field: "format",
            message: format!("format: deve essere json o csv, non «{format}»"),
        });
    }
    if let Some(ats) = &q.ats {
        known(&state, "ats", ats, StatusCode::BAD_REQUEST).await?;
    }
    if let Some(ambito) = &q.ambito {
        known(&state, "ambito", ambito, StatusCode::BAD_REQUEST).await?;
    }
    if let Some(m) = &q.measure_id
        && state
            .handler
            .catalogue()
            .get(&diario_domain::MeasureId::new(m))
            .is_none()
    {
        return Err(ApiError::Field {
            status: StatusCode::BAD_REQUEST,
            code: "unknown-measure",
            field: "measure_id",
            message: format!("measure_id: la misura «{m}» non è nel catalogo"),
        });
    }
    let filter = diario_projections::VoucherFilter {
        ats: cost_ats(&principal, q.ats)?,
        ambito: q.ambito,
        measure_id: q.measure_id,
        ..Default::default()
    };
    let as_of = q
        .as_of
        .unwrap_or_else(|| diario_domain::values::civil_date(state.handler.now()));
    let report =
        diario_projections::voucher_report(&state.db, state.handler.catalogue(), &filter, as_of)
            .await?;
    if format == "csv" {
        let mut w = csv::Writer::from_writer(Vec::new());
        for row in report.csv_rows() {
            w.write_record(&row)
                .map_err(|e| ApiError::Internal(Box::new(e)))?;
        }
        let body = w
            .into_inner()
            .map_err(|e| ApiError::Internal(Box::new(e.into_error())))?;
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"diario-voucher.csv\"",
                ),
            ],
            body,
        )
            .into_response());
    }
    Ok(Json(report).into_response())
}

/// The Art. 9 list from the read model: failures by start, each with the entries that relied
/// on it (`GET /v1/system-failures`).
pub async fn failures(
    state: &AppState,
    principal: &Principal,
    q: FailureQuery,
) -> Result<Response, ApiError> {
    let page = PageQuery {
        cursor: q.cursor.clone(),
        limit: q.limit,
    }
    .page()?;
    if let Some(ats) = &q.ats {
        known(state, "ats", ats, StatusCode::BAD_REQUEST).await?;
    }
    let filter = FailureFilter {
        from: q.from.map(Bound::start),
        to: q.to.map(Bound::end),
        unresolved: q.unresolved,
        ats: q.ats,
    };
    let list = readable_failures(state, principal, &filter, &page).await?;
    Ok(Json(list).into_response())
}

/// The Art. 9 list as `principal` may see it: everybody may see that a failure happened (a
/// late entry cites it); the entries that relied on it only where the caller may read their
/// case (Art. 10), whatever the filter's `ats` asks.
pub async fn readable_failures(
    state: &AppState,
    principal: &Principal,
    filter: &FailureFilter,
    page: &PageRequest,
) -> Result<diario_projections::Page<diario_projections::SystemFailureView>, ApiError> {
    let mut list = diario_projections::system_failures(&state.db, filter, page).await?;
    let mut readable = std::collections::HashMap::new();
    for failure in &mut list.items {
        let mut kept = Vec::with_capacity(failure.entries.len());
        for entry in std::mem::take(&mut failure.entries) {
            let may = match readable.get(&entry.case_id) {
                Some(may) => *may,
                None => {
                    let (case, _) = state.handler.load_case(entry.case_id).await?;
                    let may = case
                        .file
                        .as_ref()
                        .is_some_and(|f| access::read_case(principal, f).is_ok());
                    readable.insert(entry.case_id, may);
                    may
                }
            };
            if may {
                kept.push(entry);
            }
        }
        failure.entries = kept;
    }
    Ok(list)
}
