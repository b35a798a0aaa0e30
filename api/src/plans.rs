//! Seed 004 (invecchiamento attivo 2024) over HTTP: the ATS opens a territorial plan and names
//! its people, records the people's cost records; each person fills their monthly overall
//! timesheet and signs it; the plan's legal representative (or delegate) countersigns it at
//! the hourly cost in force; the plan's report (JSON, CSV, XLSX) in the shape of the Allegato
//! B1/B2 tables. The rules are the domain's (`plan`, `timesheet`, `cost_records`,
//! `staff_cost`); see `docs/domain.md`, "Seed 004".

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use diario_commands::{Principal, derived_id};
use diario_domain::cost_records::RecordCost;
use diario_domain::grants::GrantRole;
use diario_domain::plan::{Action, Financing, PlanCommand, PlanFile, PlanPerson};
use diario_domain::staff_cost::{AnnualCost, CostBasis, PlanCosts};
use diario_domain::timesheet::{Month, TimesheetCommand, TimesheetState};
use diario_domain::values::Cents;
use diario_domain::{ActorRole, FigureId, FiscalCode, MeasureId};
use diario_domain::{OrgKind, ServiceId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::Problem;
use crate::exports::{Cell, Table};
use crate::extract::{ApiPath, ApiQuery, WriteRequest};
use crate::write::{Reply, write};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/plans", post(open_plan))
        .route("/v1/plans/{id}", get(get_plan))
        .route("/v1/plans/{id}/people", post(assign_person))
        .route("/v1/plans/{id}/final-report", post(file_final_report))
        .route("/v1/plans/{id}/report", get(plan_report))
        .route("/v1/plans/{id}/control-samples", post(draw_control_sample))
        .route(
            "/v1/people/{fiscal_code}/cost-records",
            get(list_cost_records).post(record_cost),
        )
        .route("/v1/timesheets/{fiscal_code}/{month}", get(get_timesheet))
        .route(
            "/v1/timesheets/{fiscal_code}/{month}/days",
            post(record_day),
        )
        .route(
            "/v1/timesheets/{fiscal_code}/{month}/days/{row}/withdrawal",
            post(withdraw_day),
        )
        .route("/v1/timesheets/{fiscal_code}/{month}/signature", post(sign))
        .route(
            "/v1/timesheets/{fiscal_code}/{month}/countersignatures",
            post(countersign),
        )
}

/// One action of a plan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// «codice identificativo azione».
    pub id: String,
    pub name: String,
    /// The area of intervention: a service of the measure (`socializzazione_inclusione`, …).
    pub area: String,
}

/// The Allegato B1 «piano dei costi», in cents (absent: 0).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetBody {
    /// A. Costi del personale interno ed esterno.
    #[schema(minimum = 0)]
    pub staff: i64,
    /// B. Altri costi.
    #[schema(minimum = 0)]
    pub other: i64,
    /// Of B, beni e attrezzature.
    #[schema(minimum = 0)]
    pub equipment: i64,
    /// D. Valorizzazione di personale della rete (co-financing).
    #[schema(minimum = 0)]
    pub network_staff: i64,
    /// E. Valorizzazione del lavoro volontario (co-financing).
    #[schema(minimum = 0)]
    pub volunteers: i64,
    /// F. Quota economica (co-financing).
    #[schema(minimum = 0)]
    pub cash: i64,
}

/// How a person's hours are financed.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinancingBody {
    /// A: the regional contribution.
    Contribution,
    /// D: network staff, co-financing.
    NetworkStaff,
    /// E: a volunteer, co-financing.
    Volunteer,
}

/// The Allegato B «prospetto di calcolo del costo orario», in cents (absent: 0).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AnnualCostBody {
    #[schema(minimum = 0)]
    pub a1_monthly_pay: i64,
    #[schema(minimum = 0)]
    pub a2_thirteenth: i64,
    #[schema(minimum = 0)]
    pub a3_fourteenth: i64,
    #[schema(minimum = 0)]
    pub a4_shifts: i64,
    #[schema(minimum = 0)]
    pub a5_arrears: i64,
    #[schema(minimum = 0)]
    pub a6_allowances: i64,
    #[schema(minimum = 0)]
    pub a7_severance: i64,
    #[schema(minimum = 0)]
    pub b1_inps: i64,
    #[schema(minimum = 0)]
    pub b2_inail: i64,
    #[schema(minimum = 0)]
    pub b3_ccnl_funds: i64,
    #[schema(minimum = 0)]
    pub b4_supplementary: i64,
    #[schema(minimum = 0)]
    pub b5_other: i64,
}

/// What prices a person's hours.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CostBasisBody {
    /// Personale dipendente: the annual cost and the part-time share.
    Employee {
        annual: AnnualCostBody,
        #[schema(minimum = 1, maximum = 100)]
        part_time_percent: u32,
    },
    /// Personale esterno: the contract's hourly rate.
    External {
        #[schema(minimum = 1)]
        hourly_cents: i64,
    },
}

impl From<FinancingBody> for Financing {
    fn from(f: FinancingBody) -> Financing {
        match f {
            FinancingBody::Contribution => Financing::Contribution,
            FinancingBody::NetworkStaff => Financing::NetworkStaff,
            FinancingBody::Volunteer => Financing::Volunteer,
        }
    }
}

impl From<BudgetBody> for PlanCosts {
    fn from(b: BudgetBody) -> PlanCosts {
        PlanCosts {
            staff: Cents(b.staff),
            other: Cents(b.other),
            equipment: Cents(b.equipment),
            network_staff: Cents(b.network_staff),
            volunteers: Cents(b.volunteers),
            cash: Cents(b.cash),
        }
    }
}

impl From<CostBasisBody> for CostBasis {
    fn from(b: CostBasisBody) -> CostBasis {
        match b {
            CostBasisBody::Employee {
                annual: a,
                part_time_percent,
            } => CostBasis::Employee {
                annual: AnnualCost {
                    a1_monthly_pay: Cents(a.a1_monthly_pay),
                    a2_thirteenth: Cents(a.a2_thirteenth),
                    a3_fourteenth: Cents(a.a3_fourteenth),
                    a4_shifts: Cents(a.a4_shifts),
                    a5_arrears: Cents(a.a5_arrears),
                    a6_allowances: Cents(a.a6_allowances),
                    a7_severance: Cents(a.a7_severance),
                    b1_inps: Cents(a.b1_inps),
                    b2_inail: Cents(a.b2_inail),
                    b3_ccnl_funds: Cents(a.b3_ccnl_funds),
                    b4_supplementary: Cents(a.b4_supplementary),
                    b5_other: Cents(a.b5_other),
                },
                part_time_percent,
            },
            CostBasisBody::External { hourly_cents } => CostBasis::External {
                hourly_cents: Cents(hourly_cents),
            },
        }
    }
}

/// The organisations a plan may name: any registered ente but an ATS.
const PLAN_ENTI: [OrgKind; 4] = [
    OrgKind::Provider,
    OrgKind::PlanPartner,
    OrgKind::AmbitoLead,
    OrgKind::Asst,
];

/// `POST /v1/plans`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenPlanBody {
    /// An `actual_staff_cost` measure (`invecchiamento_attivo_2024`).
    pub measure_id: String,
    /// «Titolo del Piano di azione territoriale».
    pub title: String,
    /// The ATS (the plan is «a regia ATS»).
    pub ats: String,
    /// The lead partner (ente capofila).
    pub lead: String,
    #[serde(default)]
    pub partners: Vec<String>,
    pub actions: Vec<ActionBody>,
    pub start: NaiveDate,
    /// At most 24 months after `start`.
    pub end: NaiveDate,
    /// The Allegato B1 budget.
    pub budget: BudgetBody,
    /// The legal representative and the delegates who countersign the timesheets.
    pub countersigners: Vec<String>,
}

/// `POST /v1/plans/{id}/people`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignPersonBody {
    pub person: String,
    /// The partner they work for on the plan.
    pub organisation: String,
    /// `personale_interno`, `personale_esterno` or `volontario`.
    pub figure: String,
    /// `contribution` (A), `network_staff` (D, co-financing) or `volunteer` (E).
    pub financing: FinancingBody,
}

/// `POST /v1/people/{fiscal_code}/cost-records`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordCostBody {
    pub organisation: String,
    pub valid_from: NaiveDate,
    pub basis: CostBasisBody,
    /// The supporting document (payslips, Certificazione Unica, contract): its reference.
    pub document: String,
}

/// `POST /v1/timesheets/{fiscal_code}/{month}/days`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordDayBody {
    pub plan_id: Uuid,
    pub action: String,
    /// «descrizione attività/mansione svolta».
    pub activity: String,
    pub date: NaiveDate,
    #[schema(minimum = 1, maximum = 1440)]
    pub minutes: u32,
}

/// `POST /v1/timesheets/{fiscal_code}/{month}/countersignatures`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountersignBody {
    pub plan_id: Uuid,
}

/// `GET /v1/plans/{id}/report`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanReportQuery {
    /// `json` (default), `csv` (the per-person lines for Italian spreadsheets) or `xlsx` (two
    /// sheets: the cost categories, the per-person lines).
    pub format: Option<String>,
    /// The day the final report's state is computed for (default: today).
    pub as_of: Option<NaiveDate>,
}

fn fiscal_code(field: &'static str, s: &str) -> Result<FiscalCode, ApiError> {
    FiscalCode::parse(s).map_err(|e| ApiError::Malformed {
        field: Some(field.to_owned()),
        message: format!("{field}: codice fiscale non valido: {e}"),
    })
}

fn month(s: &str) -> Result<Month, ApiError> {
    Month::parse(s).ok_or_else(|| ApiError::Malformed {
        field: Some("month".to_owned()),
        message: format!("month: il mese si scrive AAAA-MM, non «{s}»"),
    })
}

/// The actor of an ATS command: an ATS operator of `ats`, or a plain person (refused by the
/// rule with `not-ats-operator`).
fn ats_actor(p: &Principal, ats: &str) -> diario_domain::Actor {
    if p.has(GrantRole::AtsOperator, ats) {
        p.actor(ActorRole::AtsOperator)
    } else {
        p.actor(ActorRole::Staff)
    }
}

async fn plan_file(state: &AppState, id: Uuid) -> Result<PlanFile, ApiError> {
    state
        .handler
        .plan(id)
        .await?
        .0
        .ok_or_else(|| ApiError::NotFoundWhat(format!("piano {id} inesistente")))
}

/// Who reads a plan: its ATS's operators and auditors, its countersigners and its people.
fn read_plan(p: &Principal, plan: &PlanFile) -> Result<(), ApiError> {
    if p.has(GrantRole::AtsOperator, &plan.ats)
        || p.has(GrantRole::Auditor, &plan.ats)
        || plan.countersigners.contains(&p.cf)
        || plan.people.contains_key(&p.cf)
    {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            code: "plan-access-denied",
            message: "solo l'ATS, i revisori, i firmatari e le persone del piano".into(),
        })
    }
}

/// Open a territorial plan (seed 004) as the Region validated it: 24 months at most, actions
/// in the measure's areas, the budget within the Allegato B limits (co-financing ≥ 20%,
/// equipment ≤ 20% of the contribution). ATS operators of the plan's ATS.
#[utoipa::path(post, path = "/v1/plans", tag = "plans",
    request_body = OpenPlanBody,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 201, description = "the plan opened", body = Object),
        (status = "4XX", description = "problem+json: 403 not-ats-operator, 422 not-a-plan-measure, plan-too-long, field-required, unknown-area, duplicate-action, plan-budget-over-limits, measure-not-in-catalogue", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn open_plan(
    State(state): State<AppState>,
    Auth(principal): Auth,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let (state, principal, req) = (&state, &principal, &req);
    write(state, principal, req, move |ctx| async move {
        let body: OpenPlanBody = req.json()?;
        let countersigners = body
            .countersigners
            .iter()
            .map(|c| fiscal_code("countersigners", c))
            .collect::<Result<Vec<_>, _>>()?;
        crate::people::require_organisation(
            state,
            "ats",
            &body.ats,
            &[OrgKind::Ats],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await?;
        crate::people::require_organisation(
            state,
            "lead",
            &body.lead,
            &PLAN_ENTI,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await?;
        for partner in &body.partners {
            crate::people::require_organisation(
                state,
                "partners",
                partner,
                &PLAN_ENTI,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await?;
        }
        let plan_id = derived_id(ctx.command_id, "plan");
        let command = PlanCommand::OpenPlan {
            plan_id,
            measure_id: MeasureId::new(&body.measure_id),
            title: body.title,
            ats: body.ats.clone(),
            lead: body.lead,
            partners: body.partners,
            actions: body
                .actions
                .into_iter()
                .map(|a| Action {
                    id: a.id,
                    name: a.name,
                    area: ServiceId::new(a.area),
                })
                .collect(),
            start: body.start,
            end: body.end,
            budget: body.budget.into(),
            countersigners,
        };
        let actor = ats_actor(principal, &body.ats);
        let outcome = state
            .handler
            .execute_plan(plan_id, &command, &actor, &ctx.options())
            .await?;
        Ok(Reply::created(
            Some(outcome.version),
            json!({ "plan_id": plan_id, "plan": outcome.state }),
        ))
    })
    .await
}

/// A plan as it stands: actions, budget, people, countersigners, the final report's day.
#[utoipa::path(get, path = "/v1/plans/{id}", tag = "plans",
    params(("id" = Uuid, Path, description = "plan id")),
    responses((status = 200, description = "the plan", body = Object),
        (status = "4XX", description = "401, 403 plan-access-denied, 404", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_plan(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let plan = plan_file(&state, id).await?;
    read_plan(&principal, &plan)?;
    let due = plan.report_due();
    Ok(Json(json!({ "plan": plan, "report_due": due })).into_response())
}

/// Name a person who works on the plan, for a partner, with a figure and its financing (a
/// volunteer only as co-financing). ATS operators of the plan's ATS.
#[utoipa::path(post, path = "/v1/plans/{id}/people", tag = "plans",
    request_body = AssignPersonBody,
    params(("id" = Uuid, Path, description = "plan id"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 200, description = "the plan", body = Object),
        (status = "4XX", description = "problem+json: 400 malformed-request (fiscal code), 403 not-ats-operator, 404, 422 figure-not-in-catalogue, volunteer-only-cofinancing, field-required", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn assign_person(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let (state, principal, req) = (&state, &principal, &req);
    write(state, principal, req, move |ctx| async move {
        let body: AssignPersonBody = req.json()?;
        let plan = plan_file(state, id).await?;
        let command = PlanCommand::AssignPerson(PlanPerson {
            person: fiscal_code("person", &body.person)?,
            organisation: body.organisation,
            figure: FigureId::new(&body.figure),
            financing: body.financing.into(),
        });
        let actor = ats_actor(principal, &plan.ats);
        let outcome = state
            .handler
            .execute_plan(id, &command, &actor, &ctx.options())
            .await?;
        Ok(Reply::ok(
            Some(outcome.version),
            json!({ "plan": outcome.state }),
        ))
    })
    .await
}

/// File the final report (Allegati A.2 and B.2) after the end of the activities; a filing
/// past the 60 days is recorded as late.
#[utoipa::path(post, path = "/v1/plans/{id}/final-report", tag = "plans",
    params(("id" = Uuid, Path, description = "plan id"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 200, description = "the plan", body = Object),
        (status = "4XX", description = "problem+json: 403 not-ats-operator, 404, 409 final-report-too-early, final-report-already-filed", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn file_final_report(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let (state, principal, req) = (&state, &principal, &req);
    write(state, principal, req, move |ctx| async move {
        let plan = plan_file(state, id).await?;
        let actor = ats_actor(principal, &plan.ats);
        let outcome = state
            .handler
            .execute_plan(id, &PlanCommand::FileFinalReport, &actor, &ctx.options())
            .await?;
        Ok(Reply::ok(
            Some(outcome.version),
            json!({ "plan": outcome.state }),
        ))
    })
    .await
}

/// `POST /v1/plans/{id}/control-samples`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlSampleBody {
    /// The seed: printable ASCII without spaces, 1–128 characters; drawn by the server when
    /// absent (and recorded).
    pub seed: Option<String>,
}

/// The ATS draws the supporting documents it checks (Allegato B §3): every countersigned
/// person-month up to the measure's threshold (50), past it a sample covering at least the
/// measure's share of the spending (10%) per partner, ranked by `hex(SHA-256(seed ":"
/// document_id))` as the auditors' samples are (`docs/sampling.md`); recorded on the plan
/// with its population, so anyone draws it again. ATS operators of the plan's ATS.
#[utoipa::path(post, path = "/v1/plans/{id}/control-samples", tag = "plans",
    request_body = ControlSampleBody,
    params(("id" = Uuid, Path, description = "plan id"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 201, description = "the plan, with the sample under `samples`", body = Object),
        (status = "4XX", description = "problem+json: 403 not-ats-operator, 404, 422 invalid-sample-seed, empty-sample-population", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn draw_control_sample(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let (state, principal, req) = (&state, &principal, &req);
    write(state, principal, req, move |ctx| async move {
        let body: ControlSampleBody = req.json_or_default()?;
        let plan = plan_file(state, id).await?;
        let documents = diario_projections::plan_documents(&state.db, id).await?;
        let command = PlanCommand::DrawControlSample {
            seed: body
                .seed
                .unwrap_or_else(|| Uuid::now_v7().simple().to_string()),
            documents,
        };
        let actor = ats_actor(principal, &plan.ats);
        let outcome = state
            .handler
            .execute_plan(id, &command, &actor, &ctx.options())
            .await?;
        Ok(Reply::created(
            Some(outcome.version),
            json!({ "plan": outcome.state }),
        ))
    })
    .await
}

/// Record a person's cost: the latest documented annual gross cost by the Allegato B's
/// components with the part-time share, or an external contract's hourly rate, in force from
/// a day. A correction is a new record; countersigned months keep their rate. ATS operators.
#[utoipa::path(post, path = "/v1/people/{fiscal_code}/cost-records", tag = "plans",
    request_body = RecordCostBody,
    params(("fiscal_code" = String, Path, description = "the person's fiscal code"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 201, description = "the person's cost records", body = Object),
        (status = "4XX", description = "problem+json: 400 malformed-request (fiscal code), 403 not-ats-operator, 422 invalid-part-time, cost-not-positive, field-required", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn record_cost(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(cf): ApiPath<String>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let (state, principal, req) = (&state, &principal, &req);
    write(state, principal, req, move |ctx| async move {
        let person = fiscal_code("cf", &cf)?;
        let body: RecordCostBody = req.json()?;
        crate::people::require_organisation(
            state,
            "organisation",
            &body.organisation,
            &PLAN_ENTI,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await?;
        let command = RecordCost {
            record_id: derived_id(ctx.command_id, "cost-record"),
            organisation: body.organisation,
            valid_from: body.valid_from,
            basis: body.basis.into(),
            document: body.document,
        };
        let actor = if principal.has_any(GrantRole::AtsOperator) {
            principal.actor(ActorRole::AtsOperator)
        } else {
            principal.actor(ActorRole::Staff)
        };
        let outcome = state
            .handler
            .execute_cost(&person, &command, &actor, &ctx.options())
            .await?;
        Ok(Reply::created(
            Some(outcome.version),
            json!({ "record_id": command.record_id, "records": outcome.state }),
        ))
    })
    .await
}

/// A person's cost records: the person, ATS operators and auditors.
#[utoipa::path(get, path = "/v1/people/{fiscal_code}/cost-records", tag = "plans",
    params(("fiscal_code" = String, Path, description = "the person's fiscal code")),
    responses((status = 200, description = "the records in the order recorded", body = Object),
        (status = "4XX", description = "400 malformed-request (fiscal code), 401, 403 cost-records-access-denied", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_cost_records(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(cf): ApiPath<String>,
) -> Result<Response, ApiError> {
    let person = fiscal_code("cf", &cf)?;
    if principal.cf != person
        && !principal.has_any(GrantRole::AtsOperator)
        && !principal.has_any(GrantRole::Auditor)
    {
        return Err(ApiError::Forbidden {
            code: "cost-records-access-denied",
            message: "solo la persona, gli operatori ATS e i revisori".into(),
        });
    }
    let (records, version) = state.handler.cost_records(&person).await?;
    Ok(Json(json!({ "records": records, "version": version })).into_response())
}

/// A timesheet as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimesheetView {
    pub person: String,
    pub month: String,
    #[schema(value_type = Object)]
    pub timesheet: TimesheetState,
    /// Signed by the person and countersigned by every plan with rows.
    pub closed: bool,
    pub version: i64,
}

async fn timesheet_view(
    state: &AppState,
    person: &FiscalCode,
    m: Month,
) -> Result<TimesheetView, ApiError> {
    let (timesheet, version) = state.handler.timesheet(person, m).await?;
    Ok(TimesheetView {
        person: person.as_str().to_owned(),
        month: m.key(),
        closed: timesheet.closed(),
        timesheet,
        version,
    })
}

/// A person's overall timesheet for a month (every plan): the person, the countersigners of
/// its plans, ATS operators and auditors.
#[utoipa::path(get, path = "/v1/timesheets/{fiscal_code}/{month}", tag = "plans",
    params(("fiscal_code" = String, Path, description = "the person's fiscal code"),
        ("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, description = "the timesheet", body = TimesheetView),
        (status = "4XX", description = "400 malformed-request (fiscal code, month), 401, 403 timesheet-access-denied", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_timesheet(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((cf, m)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let person = fiscal_code("cf", &cf)?;
    let m = month(&m)?;
    let view = timesheet_view(&state, &person, m).await?;
    let mut allowed = principal.cf == person
        || principal.has_any(GrantRole::AtsOperator)
        || principal.has_any(GrantRole::Auditor);
    if !allowed {
        let plans: std::collections::BTreeSet<Uuid> =
            view.timesheet.rows.values().map(|r| r.plan_id).collect();
        for id in plans {
            if let (Some(plan), _) = state.handler.plan(id).await?
                && plan.countersigners.contains(&principal.cf)
            {
                allowed = true;
            }
        }
    }
    if !allowed {
        return Err(ApiError::Forbidden {
            code: "timesheet-access-denied",
            message: "solo la persona, i firmatari dei suoi piani, l'ATS e i revisori".into(),
        });
    }
    Ok(Json(view).into_response())
}

/// Runs one timesheet command (`command` gets a fresh row id) and answers with the timesheet.
async fn timesheet_command(
    state: &AppState,
    principal: &Principal,
    req: &WriteRequest,
    cf: &str,
    m: &str,
    command: impl FnOnce(Uuid) -> TimesheetCommand,
    created: bool,
) -> Result<Response, ApiError> {
    let person = fiscal_code("cf", cf)?;
    let m = month(m)?;
    write(state, principal, req, move |ctx| async move {
        let command = command(derived_id(ctx.command_id, "timesheet-row"));
        let actor = principal.actor(ActorRole::Staff);
        let outcome = state
            .handler
            .execute_timesheet(&person, m, &command, &actor, &ctx.options())
            .await?;
        let body = serde_json::to_value(TimesheetView {
            person: person.as_str().to_owned(),
            month: m.key(),
            closed: outcome.state.closed(),
            timesheet: std::sync::Arc::unwrap_or_clone(outcome.state),
            version: outcome.version,
        })
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
        Ok(if created {
            Reply::created(Some(outcome.version), body)
        } else {
            Reply::ok(Some(outcome.version), body)
        })
    })
    .await
}

/// The person records a day of work on one plan's action: in the month, in the plan's period,
/// never for days to come, in multiples of the measure's granularity, and the day's total
/// across every plan within the measure's daily maximum.
#[utoipa::path(post, path = "/v1/timesheets/{fiscal_code}/{month}/days", tag = "plans",
    request_body = RecordDayBody,
    params(("fiscal_code" = String, Path, description = "the person's fiscal code"),
        ("month" = String, Path, description = "YYYY-MM"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 201, description = "the timesheet", body = TimesheetView),
        (status = "4XX", description = "problem+json: 400 malformed-request (fiscal code, month), 403 not-the-person / not-on-the-plan, 409 timesheet-signed, 422 daily-maximum-exceeded (rule: date, total_minutes, max_minutes), unknown-action, day-outside-month, day-outside-plan, future-day, minutes-granularity, activity-required", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn record_day(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((cf, m)): ApiPath<(String, String)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let body: RecordDayBody = req.json()?;
    timesheet_command(
        &state,
        &principal,
        &req,
        &cf,
        &m,
        move |row_id| TimesheetCommand::RecordDay {
            row_id,
            plan_id: body.plan_id,
            action: body.action,
            activity: body.activity,
            date: body.date,
            minutes: body.minutes,
        },
        true,
    )
    .await
}

/// The person withdraws a row before signing.
#[utoipa::path(post, path = "/v1/timesheets/{fiscal_code}/{month}/days/{row}/withdrawal", tag = "plans",
    params(("fiscal_code" = String, Path, description = "the person's fiscal code"),
        ("month" = String, Path, description = "YYYY-MM"),
        ("row" = Uuid, Path, description = "the row"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 200, description = "the timesheet", body = TimesheetView),
        (status = "4XX", description = "problem+json: 403 not-the-person, 404 row-not-found, 409 timesheet-signed", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn withdraw_day(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((cf, m, row)): ApiPath<(String, String, Uuid)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    timesheet_command(
        &state,
        &principal,
        &req,
        &cf,
        &m,
        move |_| TimesheetCommand::WithdrawRow { row_id: row },
        false,
    )
    .await
}

/// The person signs the month (from its last day on): it is closed to them.
#[utoipa::path(post, path = "/v1/timesheets/{fiscal_code}/{month}/signature", tag = "plans",
    params(("fiscal_code" = String, Path, description = "the person's fiscal code"),
        ("month" = String, Path, description = "YYYY-MM"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 200, description = "the timesheet", body = TimesheetView),
        (status = "4XX", description = "problem+json: 403 not-the-person, 409 timesheet-signed / month-not-over, 422 timesheet-empty", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn sign(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((cf, m)): ApiPath<(String, String)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    timesheet_command(
        &state,
        &principal,
        &req,
        &cf,
        &m,
        move |_| TimesheetCommand::SignTimesheet,
        false,
    )
    .await
}

/// The plan's legal representative (or delegate) countersigns the plan's rows of a signed
/// month, at the hourly cost in force (recorded with them: a later cost record never reprices
/// them).
#[utoipa::path(post, path = "/v1/timesheets/{fiscal_code}/{month}/countersignatures", tag = "plans",
    request_body = CountersignBody,
    params(("fiscal_code" = String, Path, description = "the person's fiscal code"),
        ("month" = String, Path, description = "YYYY-MM"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses((status = 200, description = "the timesheet", body = TimesheetView),
        (status = "4XX", description = "problem+json: 403 not-a-countersigner / not-on-the-plan, 409 timesheet-not-signed / already-countersigned, 422 timesheet-empty, no-cost-record", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn countersign(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((cf, m)): ApiPath<(String, String)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let body: CountersignBody = req.json()?;
    timesheet_command(
        &state,
        &principal,
        &req,
        &cf,
        &m,
        move |_| TimesheetCommand::Countersign {
            plan_id: body.plan_id,
        },
        false,
    )
    .await
}

fn financing_label(f: &str) -> &'static str {
    match f {
        "contribution" => "A. Personale (contributo)",
        "network_staff" => "D. Personale della rete (cofinanziamento)",
        _ => "E. Volontari (cofinanziamento)",
    }
}

/// The report's two tables: the cost categories (budget, actual) and the per-person lines.
pub(crate) async fn report_tables(
    state: &AppState,
    report: &diario_projections::PlanReport,
) -> Result<(Table, Table), ApiError> {
    let names =
        diario_projections::names(&state.db, report.lines.iter().map(|l| l.person.as_str()))
            .await?;
    let categories = Table {
        title: "Voci di costo".into(),
        headers: [
            "Voce",
            "Descrizione",
            "Piano dei costi (€)",
            "Rendicontato (€)",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: report
            .categories
            .iter()
            .map(|c| {
                vec![
                    Cell::Text(c.key.clone()),
                    Cell::Text(c.name.clone()),
                    Cell::Euro(c.budget_cents),
                    Cell::Euro(c.actual_cents),
                ]
            })
            .collect(),
        totals: None,
    };
    let people = Table {
        title: "Personale".into(),
        headers: [
            "Persona",
            "Codice fiscale",
            "Ente",
            "Voce",
            "Mese",
            "Azione",
            "Ore",
            "Costo orario (€)",
            "Importo (€)",
            "Controfirmato da",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: report
            .lines
            .iter()
            .map(|l| {
                vec![
                    Cell::Text(names.get(&l.person).unwrap_or(&l.person).to_owned()),
                    Cell::Text(l.person.clone()),
                    Cell::Text(l.organisation.clone()),
                    Cell::Text(financing_label(&l.financing).to_owned()),
                    Cell::Text(l.month.clone()),
                    Cell::Text(l.action.clone()),
                    Cell::Hours(l.minutes),
                    Cell::Euro(l.rate_cents),
                    Cell::Euro(l.amount_cents),
                    Cell::Text(names.label(&l.countersigned_by)),
                ]
            })
            .collect(),
        totals: Some({
            let mut t = vec![Cell::Text("Totale".into())];
            t.extend(std::iter::repeat_n(Cell::Empty, 5));
            t.push(Cell::Hours(report.lines.iter().map(|l| l.minutes).sum()));
            t.push(Cell::Empty);
            t.push(Cell::Euro(
                report.lines.iter().map(|l| l.amount_cents).sum(),
            ));
            t.push(Cell::Empty);
            t
        }),
    };
    Ok((categories, people))
}

/// The plan's report in the shape of the Allegato B1/B2 tables: the cost categories A–H
/// (budget and actual: A, D, E from the countersigned timesheets at their recorded rates, the
/// volunteers counted only up to the co-financing; B and F as budgeted), the limits the
/// actuals break, the per-person and per-month lines, and the final report's state (due 60
/// days after the end; `due_soon` in the last 15, then `overdue`).
#[utoipa::path(get, path = "/v1/plans/{id}/report", tag = "plans",
    params(("id" = Uuid, Path, description = "plan id"), PlanReportQuery),
    responses((status = 200, description = "the report (JSON), or a download (`format=csv|xlsx`)",
            content((diario_projections::PlanReport = "application/json"), (String = "text/csv"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = "4XX", description = "400 invalid-format, 401, 403 plan-access-denied, 404", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn plan_report(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PlanReportQuery>,
) -> Result<Response, ApiError> {
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "csv", "xlsx"].contains(&format) {
        return Err(ApiError::Field {
            status: StatusCode::BAD_REQUEST,
            code: "invalid-format",
            field: "format",
            message: format!("format: deve essere json, csv o xlsx, non «{format}»"),
        });
    }
    let plan = plan_file(&state, id).await?;
    read_plan(&principal, &plan)?;
    let as_of = q
        .as_of
        .unwrap_or_else(|| diario_domain::values::civil_date(state.handler.now()));
    let report = diario_projections::plan_report(&state.db, state.handler.catalogue(), id, as_of)
        .await?
        .ok_or_else(|| ApiError::NotFoundWhat(format!("piano {id} non ancora nel rendiconto")))?;
    match format {
        "csv" => {
            let (_, people) = report_tables(&state, &report).await?;
            crate::exports::download(&people, crate::exports::Format::CsvIt, "piano-personale")
        }
        "xlsx" => {
            let (categories, people) = report_tables(&state, &report).await?;
            crate::exports::download_book(&[categories, people], "piano-rendiconto")
        }
        _ => Ok(Json(report).into_response()),
    }
}
