//! System failures (Art. 9), organisation grants, the measure catalogue and the test clock.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use diario_commands::{access, derived_id};
use diario_domain::grants::GrantCommand;
use diario_domain::{FailureCommand, MeasureId};
use serde_json::json;
use uuid::Uuid;

use crate::auth::Auth;
use crate::dto::{
    DeclareFailureBody, DeclaredFailure, GrantBody, GrantsView, MeasureSummary, ResolveFailureBody,
    TestClockBody,
};
use crate::error::Problem;
use crate::extract::{ApiPath, ApiQuery, WriteRequest};
use crate::write::{Reply, WriteCtx, write};
use crate::{ApiError, AppState};
use axum::http::StatusCode;
use diario_commands::Principal;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/system-failures",
            post(declare_failure).get(list_failures),
        )
        .route("/v1/system-failures/{id}/resolution", post(resolve_failure))
        .route(
            "/v1/admin/grants",
            get(list_grants).post(add_grant).delete(revoke_grant),
        )
        .route("/v1/measures", get(list_measures))
        .route("/v1/measures/{id}", get(get_measure))
}

/// Only with `diario serve --test-clock`.
pub fn test_clock_routes() -> Router<AppState> {
    Router::new().route("/v1/test-clock", put(set_test_clock))
}

/// Declare a system failure (support desk).
#[utoipa::path(post, path = "/v1/system-failures", tag = "system-failures",
    request_body = DeclareFailureBody,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 201, description = "created", body = DeclaredFailure),
        (status = "4XX", description = "problem+json, e.g. 403 not-support-desk, 422 invalid-failure-times", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn declare_failure(
    State(state): State<AppState>,
    Auth(principal): Auth,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let (state, principal, req) = (&state, &principal, &req);
    write(state, principal, req, move |ctx| async move {
        let body: DeclareFailureBody = req.json()?;
        let failure_id = body
            .failure_id
            .unwrap_or_else(|| derived_id(ctx.command_id, "failure"));
        let command = FailureCommand::DeclareSystemFailure {
            failure_id,
            scope: body.scope.into(),
            ticket: body.ticket,
            description: body.description,
            began_at: body.began_at,
            ticket_opened_at: body.ticket_opened_at,
        };
        failure_write(state, principal, &command, ctx, StatusCode::CREATED).await
    })
    .await
}

/// A system-failure command for the support desk, answered with the failure as it now stands.
async fn failure_write(
    state: &AppState,
    principal: &Principal,
    command: &FailureCommand,
    ctx: WriteCtx,
    status: StatusCode,
) -> Result<Reply, ApiError> {
    let outcome = state
        .handler
        .execute_failure(command, &principal.support_actor(), &ctx.options())
        .await?;
    let view = Option::as_ref(&outcome.state)
        .map(|f| DeclaredFailure::from_domain(f, Some(outcome.version)));
    Ok(Reply {
        status,
        version: Some(outcome.version),
        body: json!(view),
    })
}

/// Record the resolution of a failure (support desk).
#[utoipa::path(post, path = "/v1/system-failures/{id}/resolution", tag = "system-failures",
    request_body = ResolveFailureBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = DeclaredFailure),
        (status = "4XX", description = "problem+json, e.g. 404 failure-not-declared, 409 failure-already-resolved", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn resolve_failure(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let (state, principal, req) = (&state, &principal, &req);
    write(state, principal, req, move |ctx| async move {
        let body: ResolveFailureBody = req.json()?;
        let command = FailureCommand::ResolveSystemFailure {
            failure_id: id,
            resolved_at: body.resolved_at,
        };
        failure_write(state, principal, &command, ctx, StatusCode::OK).await
    })
    .await
}

/// The list of declared failures (Art. 9: "support produces the list on request") from the
/// read model, each with the entries that relied on it; filters and cursor pagination. Any
/// authenticated user sees the failures, since a late entry must cite a failure's id; the
/// relying entries only of the cases they may read.
#[utoipa::path(get, path = "/v1/system-failures", tag = "system-failures",
    params(crate::reads::FailureQuery),
    responses((status = 200, description = "the Art. 9 system failures, each with the entries that relied on it among the cases the caller may read", body = diario_projections::Page<diario_projections::SystemFailureView>),
        (status = "4XX", description = "400 (filters, cursor), 401", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_failures(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiQuery(query): ApiQuery<crate::reads::FailureQuery>,
) -> Result<Response, ApiError> {
    crate::reads::failures(&state, &principal, query).await
}

fn grants_view(state: &diario_domain::grants::GrantsState, version: i64) -> GrantsView {
    GrantsView {
        version,
        grants: state.iter().map(GrantBody::from_grant).collect(),
    }
}

/// The grants in force (platform administrator).
#[utoipa::path(get, path = "/v1/admin/grants", tag = "admin",
    responses((status = 200, description = "done: the resource as it now stands", body = GrantsView),
        (status = "4XX", description = "401, 403 not-platform-admin", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_grants(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<GrantsView>, ApiError> {
    access::manage_grants(&principal)?;
    let (grants, version) = state.handler.grants().await?;
    Ok(Json(grants_view(&grants, version)))
}

async fn grant_write(
    state: &AppState,
    principal: &Principal,
    req: &WriteRequest,
    revoke: bool,
) -> Result<Response, ApiError> {
    access::manage_grants(principal)?;
    write(state, principal, req, |ctx| async move {
        let body: GrantBody = req.json()?;
        let command = if revoke {
            GrantCommand::RevokeGrant(body.grant())
        } else {
            GrantCommand::AddGrant(body.grant())
        };
        let opts = ctx.options();
        let outcome = state
            .handler
            .execute_grant(&command, Some(&principal.cf), &opts)
            .await?;
        Ok(Reply::ok(
            Some(outcome.version),
            json!(grants_view(&outcome.state, outcome.version)),
        ))
    })
    .await
}

/// Give a role (platform administrator).
#[utoipa::path(post, path = "/v1/admin/grants", tag = "admin", request_body = GrantBody,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, description = "\"<grants version>\"", pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = GrantsView),
        (status = "4XX", description = "problem+json: 403 not-platform-admin, 422 grant-scope-required", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn add_grant(
    State(state): State<AppState>,
    Auth(principal): Auth,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    grant_write(&state, &principal, &req, false).await
}

/// Take a role away (platform administrator); the body names the grant.
#[utoipa::path(delete, path = "/v1/admin/grants", tag = "admin", request_body = GrantBody,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, description = "\"<grants version>\"", pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = GrantsView),
        (status = "4XX", description = "problem+json: 403 not-platform-admin, 404 grant not in force", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn revoke_grant(
    State(state): State<AppState>,
    Auth(principal): Auth,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    grant_write(&state, &principal, &req, true).await
}

/// The measures of the catalogue.
#[utoipa::path(get, path = "/v1/measures", tag = "measures",
    responses((status = 200, description = "done: the resource as it now stands", body = Vec<MeasureSummary>),
        (status = 401, description = "no or invalid bearer token", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_measures(
    State(state): State<AppState>,
    _auth: Auth,
) -> Json<Vec<MeasureSummary>> {
    Json(
        state
            .handler
            .catalogue()
            .iter()
            .map(MeasureSummary::from_measure)
            .collect(),
    )
}

/// One measure's full catalogue: phases, figures, services, caps, deadlines, unit costs
/// (the schema of `domain/measures/*.json`, documented in docs/domain.md).
#[utoipa::path(get, path = "/v1/measures/{id}", tag = "measures",
    params(("id" = String, Path, description = "measure id, e.g. `up`")),
    responses((status = 200, description = "the measure catalogue", body = Object),
        (status = "4XX", description = "401, 404", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_measure(
    State(state): State<AppState>,
    _auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    state
        .handler
        .catalogue()
        .get(&MeasureId::new(id.clone()))
        .map(|m| Json(m).into_response())
        .ok_or_else(|| ApiError::NotFoundWhat(format!("nessuna misura {id}")))
}

/// Move the service clock (only with `diario serve --test-clock`; no token needed).
#[utoipa::path(put, path = "/v1/test-clock", tag = "testing", request_body = TestClockBody,
    responses((status = 200, description = "done: the resource as it now stands", body = TestClockBody),
        (status = "4XX", description = "400; 404 when the server runs without --test-clock", body = Problem, content_type = "application/problem+json")))]
pub async fn set_test_clock(
    State(state): State<AppState>,
    req: WriteRequest,
) -> Result<Json<TestClockBody>, ApiError> {
    let body: TestClockBody = req.json()?;
    let Some(clock) = &state.test_clock else {
        return Err(ApiError::NotFound);
    };
    clock.set(body.now);
    tracing::warn!(now = %body.now, "test clock moved");
    Ok(Json(body))
}
