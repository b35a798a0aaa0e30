//! Samples for controls (`docs/sampling.md`): an auditor or an ATS operator draws a sample
//! of the operations (cases) with confirmed expenditure — at least 5% of the operations and
//! 10% of the expenditure per stratum (ATS, provider) by default — recorded as an event with
//! the seed, the log position and the population, so that anyone can draw it again; and
//! exports it as a list with a link to each case's dossier.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use diario_commands::access::{self, CostScope};
use diario_commands::{Principal, derived_id};
use diario_domain::grants::GrantRole;
use diario_domain::sampling::{DrawSample, Population, SampleEvent, Thresholds, rank_key};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::Problem;
use crate::extract::{ApiPath, WriteRequest};
use crate::write::{Reply, write};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/samples", post(draw_sample))
        .route("/v1/samples/{id}", get(get_sample))
        .route("/v1/samples/{id}/selection.csv", get(selection_csv))
}

/// The body of `POST /v1/samples`; every field optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawSampleBody {
    /// The ATS to sample (required for an operator scoped to several ATS; every ATS when
    /// absent for an unscoped auditor).
    pub ats: Option<String>,
    /// The seed: printable ASCII without spaces, 1–128 characters (e.g. the numbers of a
    /// public draw). When absent the server draws one (122 bits from a UUIDv7's random part
    /// and its instant) and records it.
    pub seed: Option<String>,
    /// Share of the operations, at least (1–100; default 5).
    pub operations_pct: Option<u32>,
    /// Share of the expenditure, at least (1–100; default 10).
    pub expenditure_pct: Option<u32>,
    /// What the operations are: `cases` (default) or `plans` (seed 004: the Region's sample
    /// of the territorial plans, each with its countersigned staff cost).
    pub of: Option<PopulationBody>,
}

/// What a sample's operations are.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PopulationBody {
    Cases,
    Plans,
}

/// One case of the sample.
#[derive(Debug, Serialize, ToSchema)]
pub struct SampledCase {
    pub case_id: Uuid,
    pub ats: String,
    pub provider: String,
    pub expenditure_cents: i64,
    /// `hex(SHA-256(seed ":" case_id))`: its rank in its stratum (lowest first).
    pub rank_key: String,
    /// The case's dossier (a plan's report, for a sample of plans).
    pub dossier: String,
}

/// A sample as drawn.
#[derive(Debug, Serialize, ToSchema)]
pub struct SampleView {
    pub sample_id: Uuid,
    /// `cases` or `plans`: what the operations (`case_id`) are.
    pub of: String,
    /// The ATS covered (`null`: every ATS).
    pub ats: Option<String>,
    pub seed: String,
    pub operations_pct: u32,
    pub expenditure_pct: u32,
    /// The log position the population was read at (`transaction:position`).
    pub position: String,
    pub population_size: usize,
    pub population_expenditure_cents: i64,
    /// SHA-256 of the population as canonical JSON (`docs/sampling.md`).
    pub population_sha256: String,
    /// The cases drawn: strata in (ATS, provider) order, each in rank order.
    pub selected: Vec<SampledCase>,
    pub selected_expenditure_cents: i64,
    /// The population, by case id: `{case_id, ats, provider, expenditure_cents}`.
    #[schema(value_type = Vec<Object>)]
    pub population: Vec<diario_domain::sampling::Operation>,
    /// How the sample was drawn, to draw it again.
    pub ranking: String,
    pub drawn_by: String,
    pub drawn_at: DateTime<Utc>,
}

const RANKING: &str = "Strati per (ATS, ente erogatore); in ogni strato le operazioni in ordine \
    crescente di hex(SHA-256(seme \":\" case_id)), prese dall'alto finché sono almeno \
    ceil(n × operations_pct / 100) e la loro spesa almeno ceil(totale × expenditure_pct / 100) \
    centesimi. / Strata by (ATS, provider); in each, operations by ascending \
    hex(SHA-256(seed \":\" case_id)), taken from the top until they are at least \
    ceil(n × operations_pct / 100) and their expenditure at least ceil(total × expenditure_pct \
    / 100) cents (docs/sampling.md).";

fn view(event: &SampleEvent) -> SampleView {
    let SampleEvent::SampleDrawn {
        sample_id,
        of,
        ats,
        seed,
        thresholds,
        position,
        population,
        population_sha256,
        selected,
        by,
        at,
    } = event;
    let by_id: std::collections::BTreeMap<Uuid, &diario_domain::sampling::Operation> =
        population.iter().map(|o| (o.case_id, o)).collect();
    let selected: Vec<SampledCase> = selected
        .iter()
        .filter_map(|id| by_id.get(id))
        .map(|o| SampledCase {
            case_id: o.case_id,
            ats: o.ats.clone(),
            provider: o.provider.clone(),
            expenditure_cents: o.expenditure_cents,
            rank_key: rank_key(seed, &o.case_id),
            dossier: match of {
                Population::Cases => format!("/v1/cases/{}/dossier", o.case_id),
                Population::Plans => format!("/v1/plans/{}/report", o.case_id),
            },
        })
        .collect();
    SampleView {
        sample_id: *sample_id,
        of: match of {
            Population::Cases => "cases",
            Population::Plans => "plans",
        }
        .to_owned(),
        ats: ats.clone(),
        seed: seed.clone(),
        operations_pct: thresholds.operations_pct,
        expenditure_pct: thresholds.expenditure_pct,
        position: format!("{}:{}", position.transaction, position.position),
        population_size: population.len(),
        population_expenditure_cents: population.iter().map(|o| o.expenditure_cents).sum(),
        population_sha256: population_sha256.clone(),
        selected_expenditure_cents: selected.iter().map(|s| s.expenditure_cents).sum(),
        selected,
        population: population.clone(),
        ranking: RANKING.into(),
        drawn_by: by.as_str().to_owned(),
        drawn_at: *at,
    }
}

/// The ATS `p` may read, as ATS operator or auditor: the one asked for, their own when they
/// hold one ATS, every ATS for an unscoped grant (`None`); 400 `ats-required` (field `ats`)
/// when they hold several and named none. Samples and the per-person view.
pub(crate) fn ats_scope(
    p: &Principal,
    requested: Option<String>,
) -> Result<Option<String>, ApiError> {
    match access::cost_scope(p, requested)? {
        CostScope::Granted(ats) => Ok(ats),
        CostScope::AtsRequired(scopes) => Err(ApiError::Field {
            status: StatusCode::BAD_REQUEST,
            code: "ats-required",
            field: "ats",
            message: format!("ats: serve l'ATS, una di {}", scopes.join(", ")),
        }),
    }
}

/// Draw a sample for controls (auditors; ATS operators for their ATS). The population is
/// every case of the scope with a confirmed cost, as the `case_diaries` read model holds it
/// at its checkpoint (recorded as the log position).
#[utoipa::path(post, path = "/v1/samples", tag = "audit",
    request_body = DrawSampleBody,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 201, description = "the sample drawn (docs/sampling.md)", body = SampleView),
        (status = "4XX", description = "problem+json: 400 ats-required (field `ats`), 403 ats-access-denied, 422 invalid-sample-threshold / invalid-sample-seed (with `field`), empty-sample-population", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn draw_sample(
    State(state): State<AppState>,
    Auth(principal): Auth,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let (state, principal, req) = (&state, &principal, &req);
    write(state, principal, req, move |ctx| async move {
        let body: DrawSampleBody = req.json_or_default()?;
        let ats = ats_scope(principal, body.ats)?;
        let of = match body.of {
            Some(PopulationBody::Plans) => Population::Plans,
            _ => Population::Cases,
        };
        let (population, position) = match of {
            Population::Cases => {
                diario_projections::sample_population(&state.db, ats.as_deref()).await?
            }
            Population::Plans => {
                diario_projections::plan_sample_population(&state.db, ats.as_deref()).await?
            }
        };
        let defaults = Thresholds::default();
        let command = DrawSample {
            of,
            sample_id: derived_id(ctx.command_id, "sample"),
            ats,
            seed: body
                .seed
                .unwrap_or_else(|| Uuid::now_v7().simple().to_string()),
            thresholds: Thresholds {
                operations_pct: body.operations_pct.unwrap_or(defaults.operations_pct),
                expenditure_pct: body.expenditure_pct.unwrap_or(defaults.expenditure_pct),
            },
            population,
            position,
        };
        let role = if principal.has_any(GrantRole::Auditor) {
            "auditor"
        } else {
            "ats_operator"
        };
        let outcome = state
            .handler
            .execute_sample(&command, &principal.cf, role, &ctx.options())
            .await?;
        let event = Option::as_ref(&outcome.state).ok_or(ApiError::NotFound)?;
        Ok(Reply::created(Some(outcome.version), json!(view(event))))
    })
    .await
}

/// A sample `p` may read: one of its scope.
async fn readable_sample(
    state: &AppState,
    p: &Principal,
    id: Uuid,
) -> Result<SampleEvent, ApiError> {
    let not_found = || ApiError::NotFoundWhat(format!("campione {id} inesistente"));
    let sample = state.handler.sample(id).await?.ok_or_else(not_found)?;
    let SampleEvent::SampleDrawn { ats, .. } = &sample;
    match access::cost_scope(p, ats.clone()) {
        Ok(CostScope::Granted(granted)) if &granted == ats => Ok(sample),
        Ok(_) => Err(not_found()),
        Err(denied) => Err(denied.into()),
    }
}

/// A sample as drawn: seed, position, thresholds, population and the cases drawn with a link
/// to each dossier.
#[utoipa::path(get, path = "/v1/samples/{id}", tag = "audit",
    params(("id" = Uuid, Path, description = "sample id")),
    responses((status = 200, description = "the sample", body = SampleView),
        (status = "4XX", description = "401, 403 ats-access-denied, 404", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_sample(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SampleView>, ApiError> {
    Ok(Json(view(&readable_sample(&state, &principal, id).await?)))
}

/// The cases drawn as CSV (`case_id,ats,provider,expenditure_cents,rank_key,dossier`).
#[utoipa::path(get, path = "/v1/samples/{id}/selection.csv", tag = "audit",
    params(("id" = Uuid, Path, description = "sample id")),
    responses((status = 200, description = "text/csv, one row per case drawn", content_type = "text/csv", body = String),
        (status = "4XX", description = "401, 403 ats-access-denied, 404", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn selection_csv(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let sample = view(&readable_sample(&state, &principal, id).await?);
    let mut out = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| ApiError::Internal(Box::new(e));
    out.write_record([
        "case_id",
        "ats",
        "provider",
        "expenditure_cents",
        "rank_key",
        "dossier",
    ])
    .map_err(internal)?;
    for s in &sample.selected {
        out.write_record([
            s.case_id.to_string(),
            s.ats.clone(),
            s.provider.clone(),
            s.expenditure_cents.to_string(),
            s.rank_key.clone(),
            s.dossier.clone(),
        ])
        .map_err(internal)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| ApiError::Internal(Box::new(e.into_error())))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"campione-{id}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
