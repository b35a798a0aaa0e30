//! Organisations and people: the registry of organisations (`/v1/organisations`), their staff
//! with names and figures (`/v1/organisations/{code}/staff`), and the caller's own cases
//! (`GET /v1/me/cases`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use diario_commands::access;
use diario_domain::organisations::OrganisationCommand;
use diario_domain::staff::StaffCommand;
use diario_domain::{FigureId, FiscalCode, OrgKind, Organisation, Organisations};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::error::Problem;
use crate::extract::{ApiPath, ApiQuery, WriteRequest};
use crate::write::{Reply, write};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/organisations",
            get(list_organisations).post(register_organisation),
        )
        .route("/v1/organisations/{code}", get(get_organisation))
        .route("/v1/organisations/{code}/staff", get(list_staff))
        .route(
            "/v1/organisations/{code}/staff/{fiscal_code}",
            put(record_staff).delete(end_staff),
        )
        .route("/v1/me/cases", get(my_cases))
        .route("/v1/me/entries", get(my_entries))
        .route("/v1/people/{fiscal_code}/entries", get(person_entries))
        .route("/v1/me/notifications", get(my_notifications))
}

/// What an organisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKindName {
    Ats,
    Asst,
    Provider,
    AmbitoLead,
    PlanPartner,
}

impl From<OrgKindName> for OrgKind {
    fn from(k: OrgKindName) -> OrgKind {
        match k {
            OrgKindName::Ats => OrgKind::Ats,
            OrgKindName::Asst => OrgKind::Asst,
            OrgKindName::Provider => OrgKind::Provider,
            OrgKindName::AmbitoLead => OrgKind::AmbitoLead,
            OrgKindName::PlanPartner => OrgKind::PlanPartner,
        }
    }
}

impl From<OrgKind> for OrgKindName {
    fn from(k: OrgKind) -> OrgKindName {
        match k {
            OrgKind::Ats => OrgKindName::Ats,
            OrgKind::Asst => OrgKindName::Asst,
            OrgKind::Provider => OrgKindName::Provider,
            OrgKind::AmbitoLead => OrgKindName::AmbitoLead,
            OrgKind::PlanPartner => OrgKindName::PlanPartner,
        }
    }
}

/// An organisation: the body of `POST /v1/organisations` and one item of the registry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationBody {
    /// 3–40 of `A–Z`, `0–9` and inner hyphens (`COOP-ALFA`).
    #[schema(pattern = "^[A-Z0-9](?:-?[A-Z0-9])+$", min_length = 3, max_length = 40)]
    pub code: String,
    /// The official name (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub kind: OrgKindName,
    /// The ATS whose territory it belongs to (every kind but `ats`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ats: Option<String>,
}

impl OrganisationBody {
    fn organisation(&self) -> Organisation {
        Organisation {
            code: self.code.clone(),
            name: self.name.clone(),
            kind: self.kind.into(),
            ats: self.ats.clone(),
        }
    }

    fn of(o: &Organisation) -> OrganisationBody {
        OrganisationBody {
            code: o.code.clone(),
            name: o.name.clone(),
            kind: o.kind.into(),
            ats: o.ats.clone(),
        }
    }
}

/// Filters of `GET /v1/organisations`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrganisationQuery {
    /// Only this kind.
    pub kind: Option<OrgKindName>,
    /// Only the organisations of this ATS's territory (and the ATS itself).
    pub ats: Option<String>,
}

/// The registry.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationsView {
    /// Version of the `organisations` stream (0: only the shipped ones).
    pub version: i64,
    pub organisations: Vec<OrganisationBody>,
}

/// The organisation `code` of the registry, or 404 naming the code. Read filters and path
/// segments use it: an unknown code is refused, not answered with an empty list.
pub async fn require_organisation(
    state: &AppState,
    field: &'static str,
    code: &str,
    kinds: &[OrgKind],
    status: StatusCode,
) -> Result<Organisation, ApiError> {
    let (registry, _) = state.handler.organisations().await?;
    registry
        .require(field, code, kinds)
        .cloned()
        .map_err(|e| ApiError::Field {
            status,
            code: e.code(),
            field: e.field(),
            message: e.to_string(),
        })
}

fn organisations_view(
    registry: &Organisations,
    version: i64,
    q: &OrganisationQuery,
) -> OrganisationsView {
    let kind = q.kind.map(OrgKind::from);
    OrganisationsView {
        version,
        organisations: registry
            .iter()
            .filter(|o| kind.is_none_or(|k| o.kind == k))
            .filter(|o| {
                q.ats
                    .as_deref()
                    .is_none_or(|a| o.code == a || o.ats.as_deref() == Some(a))
            })
            .map(OrganisationBody::of)
            .collect(),
    }
}

/// The registry of organisations: the 8 ATS and 27 ASST of Lombardy shipped with the service,
/// and the enti registered since (any authenticated person: codes and names are public).
#[utoipa::path(get, path = "/v1/organisations", tag = "organisations",
    params(OrganisationQuery),
    responses((status = 200, description = "done: the resource as it now stands", body = OrganisationsView),
        (status = "4XX", description = "400 unknown-organisation (the `ats` filter), 401", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_organisations(
    State(state): State<AppState>,
    Auth(_principal): Auth,
    ApiQuery(query): ApiQuery<OrganisationQuery>,
) -> Result<Json<OrganisationsView>, ApiError> {
    if let Some(ats) = &query.ats {
        require_organisation(&state, "ats", ats, &[OrgKind::Ats], StatusCode::BAD_REQUEST).await?;
    }
    let (registry, version) = state.handler.organisations().await?;
    Ok(Json(organisations_view(&registry, version, &query)))
}

/// One organisation.
#[utoipa::path(get, path = "/v1/organisations/{code}", tag = "organisations",
    params(("code" = String, Path)),
    responses((status = 200, description = "done: the resource as it now stands", body = OrganisationBody),
        (status = "4XX", description = "401, 404 unknown-organisation", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_organisation(
    State(state): State<AppState>,
    Auth(_principal): Auth,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<OrganisationBody>, ApiError> {
    let o =
        require_organisation(&state, "code", &code, &OrgKind::ALL, StatusCode::NOT_FOUND).await?;
    Ok(Json(OrganisationBody::of(&o)))
}

/// Register an organisation: a platform administrator any kind; an ATS operator a provider,
/// an Ambito lead body or a plan partner of the ATS's territory. The same registration again
/// changes nothing; another organisation under a taken code is 409.
#[utoipa::path(post, path = "/v1/organisations", tag = "organisations",
    request_body = OrganisationBody,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 201, description = "registered", body = OrganisationBody),
        (status = 200, description = "it already was, unchanged (a repeated registration)", body = OrganisationBody),
        (status = "4XX", description = "403 organisation-registration-denied, 409 organisation-code-taken, 422 invalid-organisation-code / invalid-organisation-name / invalid-organisation-ats / unknown-organisation (field `ats`)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn register_organisation(
    State(state): State<AppState>,
    Auth(principal): Auth,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let (state, principal, req) = (&state, &principal, &req);
    write(state, principal, req, move |ctx| async move {
        let body: OrganisationBody = req.json()?;
        let organisation = body.organisation();
        access::register_organisation(principal, &organisation)?;
        let role = if principal.platform_admin {
            "platform_admin"
        } else {
            "ats_operator"
        };
        let command = OrganisationCommand::RegisterOrganisation(organisation.clone());
        let outcome = state
            .handler
            .execute_organisation(&command, Some(&principal.cf), role, &ctx.options())
            .await?;
        let status = if outcome.events.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        Ok(Reply {
            status,
            version: Some(outcome.version),
            body: json!(OrganisationBody::of(&organisation)),
        })
    })
    .await
}

/// The staff of an organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffListView {
    pub organisation: OrganisationBody,
    pub staff: Vec<diario_projections::StaffView>,
}

/// Who may see an organisation's staff: whoever may manage it, and the operators and
/// auditors of its ATS.
fn read_staff(p: &diario_commands::Principal, o: &Organisation) -> Result<(), ApiError> {
    let ats = o.ats.as_deref().unwrap_or(&o.code);
    if access::manage_staff(p, o).is_ok() || access::read_ats(p, ats).is_ok() {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            code: "staff-access-denied",
            message:
                "il personale di un ente è visibile ai suoi amministratori e all'ATS del territorio"
                    .into(),
        })
    }
}

/// The staff of an organisation with their names and figures (its administrators, a
/// platform administrator, the operators and auditors of its ATS).
#[utoipa::path(get, path = "/v1/organisations/{code}/staff", tag = "organisations",
    params(("code" = String, Path)),
    responses((status = 200, description = "done: the resource as it now stands", body = StaffListView),
        (status = "4XX", description = "401, 403 staff-access-denied, 404 unknown-organisation", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_staff(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<StaffListView>, ApiError> {
    let o =
        require_organisation(&state, "code", &code, &OrgKind::ALL, StatusCode::NOT_FOUND).await?;
    read_staff(&principal, &o)?;
    let staff = diario_projections::staff_of(&state.db, &o.code).await?;
    Ok(Json(StaffListView {
        organisation: OrganisationBody::of(&o),
        staff,
    }))
}

/// `PUT /v1/organisations/{code}/staff/{fiscal_code}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffBody {
    /// Nome (1–100 letters, spaces, apostrophes, hyphens, dots).
    #[schema(min_length = 1, max_length = 100)]
    pub given_name: String,
    /// Cognome (as the given name).
    #[schema(min_length = 1, max_length = 100)]
    pub family_name: String,
    /// Figure ids (of any measure in `GET /v1/measures`); none for ATS staff.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub figures: Vec<FigureId>,
    /// Work e-mail address for the notifications (optional).
    #[serde(default)]
    #[schema(max_length = 254)]
    pub email: Option<String>,
}

/// A staff member as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffMemberView {
    pub fiscal_code: String,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    /// Organisation code → figure ids.
    #[schema(value_type = Object)]
    pub memberships: std::collections::BTreeMap<String, Vec<String>>,
}

async fn staff_write(
    state: &AppState,
    principal: &diario_commands::Principal,
    req: &WriteRequest,
    code: &str,
    fiscal_code: FiscalCode,
    end: bool,
) -> Result<Response, ApiError> {
    let o = require_organisation(state, "code", code, &OrgKind::ALL, StatusCode::NOT_FOUND).await?;
    access::manage_staff(principal, &o)?;
    let role = if principal.platform_admin {
        "platform_admin"
    } else if o.kind == OrgKind::Ats {
        "ats_operator"
    } else {
        "ente_admin"
    };
    write(state, principal, req, move |ctx| async move {
        let command = if end {
            StaffCommand::EndStaffMembership {
                fiscal_code,
                organisation: o.code.clone(),
            }
        } else {
            let body: StaffBody = req.json()?;
            StaffCommand::RecordStaffMember {
                fiscal_code,
                given_name: body.given_name,
                family_name: body.family_name,
                email: body.email,
                organisation: o.code.clone(),
                figures: body.figures,
            }
        };
        let outcome = state
            .handler
            .execute_staff(&command, Some(&principal.cf), role, &ctx.options())
            .await?;
        let body = Option::as_ref(&outcome.state).map(|m| StaffMemberView {
            fiscal_code: m.fiscal_code.as_str().to_owned(),
            given_name: m.given_name.clone(),
            family_name: m.family_name.clone(),
            email: m.email.clone(),
            memberships: m
                .memberships
                .iter()
                .map(|(org, figures)| {
                    (
                        org.clone(),
                        figures.iter().map(|f| f.as_str().to_owned()).collect(),
                    )
                })
                .collect(),
        });
        Ok(Reply::ok(Some(outcome.version), json!(body)))
    })
    .await
}

/// Record a staff member's name and figures in the organisation (its administrators — for an
/// ATS its operators — or a platform administrator). Recording again what is recorded changes
/// nothing.
#[utoipa::path(put, path = "/v1/organisations/{code}/staff/{fiscal_code}", tag = "organisations",
    request_body = StaffBody,
    params(("code" = String, Path), ("fiscal_code" = String, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, description = "\"<person stream version>\"", pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = StaffMemberView),
        (status = "4XX", description = "400 (path, body), 403 staff-management-denied, 404 unknown-organisation, 422 invalid-staff-name / figure-not-in-catalogue / figures-at-an-ats (with `field`)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn record_staff(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((code, fiscal_code)): ApiPath<(String, FiscalCode)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    staff_write(&state, &principal, &req, &code, fiscal_code, false).await
}

/// The person no longer works for the organisation (their name stays on what they did).
#[utoipa::path(delete, path = "/v1/organisations/{code}/staff/{fiscal_code}", tag = "organisations",
    params(("code" = String, Path), ("fiscal_code" = String, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, description = "\"<person stream version>\"", pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = StaffMemberView),
        (status = "4XX", description = "403 staff-management-denied, 404 unknown-organisation / staff-membership-not-found", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn end_staff(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((code, fiscal_code)): ApiPath<(String, FiscalCode)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    staff_write(&state, &principal, &req, &code, fiscal_code, true).await
}

/// My cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyCasesView {
    pub cases: Vec<diario_projections::MyCase>,
}

/// The cases where I am responsabile, case manager or enabled professional, most recently
/// active first, each with my roles and what waits for me (entries to validate or to send,
/// rejected entries, expired or pending requests, my drafts, idleness).
#[utoipa::path(get, path = "/v1/me/cases", tag = "reads",
    responses((status = 200, description = "done: the resource as it now stands", body = MyCasesView),
        (status = "4XX", description = "401", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn my_cases(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Response, ApiError> {
    let cases = diario_projections::my_cases(
        &state.db,
        state.handler.catalogue(),
        principal.cf.as_str(),
        state.handler.now(),
    )
    .await?;
    Ok(Json(MyCasesView { cases }).into_response())
}

/// `?from=&to=` of `GET /v1/me/entries`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// First delivery date (default: Monday of the current week, Europe/Rome).
    pub from: Option<chrono::NaiveDate>,
    /// Last delivery date, included (default: `from` + 6 days); at most 62 days after `from`.
    pub to: Option<chrono::NaiveDate>,
}

/// The longest period `GET /v1/me/entries` answers (two months).
pub const MAX_PERIOD_DAYS: i64 = 62;

/// My entries delivered in a week or a month, on every case and measure: each with its state
/// and case, totals per day, and the entries whose times overlap another of mine flagged
/// (`overlaps_with`; the day's `overlaps`).
#[utoipa::path(get, path = "/v1/me/entries", tag = "reads",
    params(PeriodQuery),
    responses((status = 200, description = "done: the resource as it now stands", body = diario_projections::MyEntries),
        (status = "4XX", description = "400 invalid-period (field `from` or `to`), 401", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn my_entries(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Response, ApiError> {
    let (from, to) = period(&state, q.from, q.to)?;
    let entries = diario_projections::my_entries(
        &state.db,
        state.handler.catalogue(),
        principal.cf.as_str(),
        from,
        to,
    )
    .await?;
    Ok(Json(entries).into_response())
}

/// `?from=&to=&ats=` of `GET /v1/people/{fiscal_code}/entries`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PersonPeriodQuery {
    /// First delivery date (default: Monday of the current week, Europe/Rome).
    pub from: Option<chrono::NaiveDate>,
    /// Last delivery date, included (default: `from` + 6 days); at most 62 days after `from`.
    pub to: Option<chrono::NaiveDate>,
    /// The ATS whose entries are listed (forced to their own for a scoped reader).
    pub ats: Option<String>,
}

/// One professional's hours per day across cases and measures, for the ATS and auditors:
/// the same read model as `GET /v1/me/entries`, with the overlaps and the days over the
/// measure's daily maximum flagged. A reader limited to one ATS sees that ATS's entries;
/// each day still counts every entry (`minutes_elsewhere`).
#[utoipa::path(get, path = "/v1/people/{fiscal_code}/entries", tag = "reads",
    params(("fiscal_code" = String, Path, description = "the professional's fiscal code"), PersonPeriodQuery),
    responses((status = 200, description = "the person's entries and days", body = diario_projections::MyEntries),
        (status = "4XX", description = "400 invalid-fiscal-code (field `fiscal_code`), invalid-period (field `from` or `to`), ats-required (field `ats`); 401; 403 ats-access-denied", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn person_entries(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(fiscal_code): ApiPath<String>,
    ApiQuery(q): ApiQuery<PersonPeriodQuery>,
) -> Result<Response, ApiError> {
    let person = FiscalCode::parse(&fiscal_code).map_err(|e| ApiError::Field {
        status: StatusCode::BAD_REQUEST,
        code: "invalid-fiscal-code",
        field: "fiscal_code",
        message: format!("fiscal_code: {e}"),
    })?;
    let ats = crate::samples::ats_scope(&principal, q.ats)?;
    let (from, to) = period(&state, q.from, q.to)?;
    let entries = diario_projections::person_entries(
        &state.db,
        state.handler.catalogue(),
        person.as_str(),
        from,
        to,
        ats.as_deref(),
    )
    .await?;
    Ok(Json(entries).into_response())
}

/// The period of `?from=&to=`: a week from Monday by default, at most [`MAX_PERIOD_DAYS`].
fn period(
    state: &AppState,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), ApiError> {
    use chrono::Datelike;
    let today = state
        .handler
        .now()
        .with_timezone(&chrono_tz::Europe::Rome)
        .date_naive();
    let monday = today - chrono::Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let from = from.unwrap_or(monday);
    let to = to.unwrap_or(from + chrono::Duration::days(6));
    let invalid = |field: &'static str, message: String| ApiError::Field {
        status: StatusCode::BAD_REQUEST,
        code: "invalid-period",
        field,
        message,
    };
    if to < from {
        return Err(invalid("to", format!("to: {to} precede from {from}")));
    }
    if (to - from).num_days() > MAX_PERIOD_DAYS {
        return Err(invalid(
            "to",
            format!(
                "to: il periodo supera {MAX_PERIOD_DAYS} giorni / the period is longer than {MAX_PERIOD_DAYS} days"
            ),
        ));
    }
    Ok((from, to))
}

/// My inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxView {
    /// Most recent first.
    pub notifications: Vec<diario_projections::Notification>,
}

/// My notifications, most recent first: rejections, expired requests and notifications
/// FirmaLOM could not deliver, of the phases I am responsabile of; interruptions of my cases
/// (and, for an ATS operator, of the ATS's cases) recorded by someone else (the latest 100);
/// requests about to expire (within 6 hours) and FirmaLOM notifications still being retried
/// after 3 attempts.
#[utoipa::path(get, path = "/v1/me/notifications", tag = "reads",
    responses((status = 200, description = "done: the resource as it now stands", body = InboxView),
        (status = "4XX", description = "401", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn my_notifications(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Response, ApiError> {
    // An ATS operator also reads what is addressed to their ATS (an interruption, Art. 6).
    let ats: Vec<String> = principal
        .grants
        .iter()
        .filter(|g| g.role == diario_domain::grants::GrantRole::AtsOperator)
        .filter_map(|g| g.scope.clone())
        .collect();
    let notifications = diario_projections::inbox(
        &state.db,
        state.handler.catalogue(),
        principal.cf.as_str(),
        &ats,
        state.handler.now(),
        100,
    )
    .await?;
    Ok(Json(InboxView { notifications }).into_response())
}
