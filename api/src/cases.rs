//! Case writes: every one goes through the command handler for the authenticated person
//! (`Caller::Person`); case-level rights are the decider's (responsabile, enabled professional,
//! author, case manager), the organisation role it acts under is the access policy's
//! (`diario_commands::access`). `GET /v1/cases/{id}` is a read (`reads`).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, patch, post, put};
use diario_commands::{Caller, CaseOutcome, Principal, derived_id};
use diario_domain::case::{
    AmendEntry, CancelConfirmationRequest, CancelPaperDiary, ChangeCaseManager, ChangeConfirmers,
    ChangeRecipientEnrolment, ChangeResponsabile, CheckPaperScan, ClosePhaseDiary, CosignLateEntry,
    DisableProfessional, EnableProfessional, InterruptPathway, OpenCase, OpenPhaseDiary, Recipient,
    RecordEntry, RequestConfirmation, ResendConfirmation, SetPdiCaps, ShareDocument,
    ValidateEntries, WithdrawEntry, WithdrawValidation,
};
use diario_domain::case::{
    AssignVoucher, AuthoriseSuspension, DeclareObjectives, ReactivatePathway, RecordFormalCheck,
    SuspendPathway,
};
use diario_domain::{CaseCommand, CaseEvent, DomainError, Ente, MeasureId, Phase};
use uuid::Uuid;

use crate::auth::Auth;
use crate::dto::{
    AmendEntryBody, CaseManagerBody, CloseBody, CommandResult, ConfirmationRequestBody,
    ConfirmersBody, CreateCaseBody, EnableProfessionalBody, EnrolmentBody, EnteName, EnteQuery,
    InterruptionBody, PaperCancellationBody, PdiBody, RecordEntryBody, RequestCancellationBody,
    ResponsabileBody, ScanCheckBody, ValidationBody, ValidationWithdrawalBody,
};
use crate::dto::{FormalCheckBody, ObjectivesBody, ReactivationBody, SuspensionBody};
use crate::error::Problem;
use crate::extract::{ApiPath, ApiQuery, WriteRequest};
use crate::write::{Reply, WriteCtx, write};
use crate::{ApiError, AppState};
use axum::http::StatusCode;
use std::future::Future;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/cases", post(create_case))
        .route(
            "/v1/cases/{id}/responsabili/{ente}",
            put(change_responsabile),
        )
        .route("/v1/cases/{id}/phases/{n}/open", post(open_phase))
        .route("/v1/cases/{id}/professionals", post(enable_professional))
        .route(
            "/v1/cases/{id}/professionals/{cf}",
            delete(disable_professional),
        )
        .route("/v1/cases/{id}/entries", post(record_entry))
        .route(
            "/v1/cases/{id}/entries/{eid}",
            patch(amend_entry).delete(withdraw_entry),
        )
        .route(
            "/v1/cases/{id}/phases/{n}/validation",
            post(validate_entries),
        )
        .route(
            "/v1/cases/{id}/phases/{n}/validation/withdrawal",
            post(withdraw_validation),
        )
        .route("/v1/cases/{id}/case-manager", put(change_case_manager))
        .route(
            "/v1/cases/{id}/entries/{eid}/cosignature",
            post(cosign_late_entry),
        )
        .route(
            "/v1/cases/{id}/recipient/confirmers",
            put(change_confirmers),
        )
        .route("/v1/cases/{id}/recipient/enrolment", put(change_enrolment))
        .route(
            "/v1/cases/{id}/paper-diaries/{pid}/cancellation",
            post(cancel_paper_diary),
        )
        .route(
            "/v1/cases/{id}/confirmation-requests/{rid}/cancellation",
            post(cancel_confirmation_request),
        )
        .route("/v1/cases/{id}/phases/{n}/close", post(close_phase))
        .route(
            "/v1/cases/{id}/confirmation-requests",
            post(request_confirmation),
        )
        .route(
            "/v1/cases/{id}/confirmation-requests/{rid}/resend",
            post(resend_confirmation),
        )
        .route("/v1/cases/{id}/pdi", put(set_pdi))
        .route("/v1/cases/{id}/documents/{did}/share", post(share_document))
        .route(
            "/v1/cases/{id}/paper-diaries/{pid}/check",
            post(check_paper_scan),
        )
        .route("/v1/cases/{id}/interruption", post(interrupt))
        .route("/v1/cases/{id}/suspensions", post(suspend))
        .route(
            "/v1/cases/{id}/suspensions/{from}/reactivation",
            post(reactivate),
        )
        .route(
            "/v1/cases/{id}/suspensions/{from}/authorisation",
            post(authorise_suspension),
        )
        .route("/v1/cases/{id}/objectives", post(declare_objectives))
        .route("/v1/cases/{id}/formal-checks", post(record_formal_check))
}

fn phase(n: u8) -> Result<Phase, ApiError> {
    Phase::try_from(n).map_err(|e| ApiError::BadRequest(e.to_string()))
}

fn result_body(
    case_id: Uuid,
    outcome: &CaseOutcome,
    entry_id: Option<Uuid>,
    request_id: Option<Uuid>,
) -> Result<serde_json::Value, ApiError> {
    let body = CommandResult {
        case_id,
        version: outcome.version,
        events: crate::dto::events_json(&outcome.events)?,
        entry_id,
        request_id,
    };
    serde_json::to_value(body).map_err(|e| ApiError::Internal(Box::new(e)))
}

/// Runs a case command for the principal; a late answer becomes a 422 refusal although the
/// expiry it caused is recorded (Art. 6).
pub async fn run_case_command(
    state: &AppState,
    principal: &Principal,
    case_id: Uuid,
    command: CaseCommand,
    ctx: WriteCtx,
) -> Result<CaseOutcome, ApiError> {
    let opts = ctx.options();
    let outcome = state
        .handler
        .execute_case(case_id, &command, &Caller::Person(principal), &opts)
        .await?;
    if outcome.refused_answer().is_some() {
        return Err(ApiError::LateAnswer {
            version: outcome.version,
        });
    }
    Ok(outcome)
}

/// What a case write runs, and what its answer names besides the events.
struct Planned {
    case_id: Uuid,
    command: CaseCommand,
    status: StatusCode,
    entry_id: Option<Uuid>,
    /// The request a command may send: named in the answer when it was sent.
    request_id: Option<Uuid>,
    /// The FirmaLOM request of a document sharing: named in the answer when recorded.
    shared: Option<Uuid>,
}

impl Planned {
    fn ok(case_id: Uuid, command: CaseCommand) -> Planned {
        Planned {
            case_id,
            command,
            status: StatusCode::OK,
            entry_id: None,
            request_id: None,
            shared: None,
        }
    }

    fn created(case_id: Uuid, command: CaseCommand) -> Planned {
        Planned {
            status: StatusCode::CREATED,
            ..Planned::ok(case_id, command)
        }
    }

    fn entry(self, entry_id: Uuid) -> Planned {
        Planned {
            entry_id: Some(entry_id),
            ..self
        }
    }

    fn request(self, request_id: Uuid) -> Planned {
        Planned {
            request_id: Some(request_id),
            ..self
        }
    }
}

/// Every case write: `plan` reads the request into a command (with the `Idempotency-Key`'s
/// command id for the ids it derives), the command handler decides it for the principal, the
/// answer carries the version and the events.
async fn case_write<F, Fut>(
    state: &AppState,
    principal: &Principal,
    req: &WriteRequest,
    plan: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(WriteCtx) -> Fut,
    Fut: Future<Output = Result<Planned, ApiError>>,
{
    write(state, principal, req, |ctx| async move {
        let p = plan(ctx).await?;
        let outcome = run_case_command(state, principal, p.case_id, p.command, ctx).await?;
        let sent = |rid: &Uuid| {
            outcome.events.iter().any(
                |e| matches!(e, CaseEvent::ConfirmationRequested { request_id, .. } if request_id == rid),
            )
        };
        let shared = |rid: &Uuid| {
            outcome.events.iter().any(
                |e| matches!(e, CaseEvent::DocumentShared { request_id, .. } if request_id == rid),
            )
        };
        let request_id = p.request_id.filter(sent).or(p.shared.filter(shared));
        Ok(Reply {
            status: p.status,
            version: Some(outcome.version),
            body: result_body(p.case_id, &outcome, p.entry_id, request_id)?,
        })
    })
    .await
}

/// A case write whose command needs only the request body.
async fn simple_command(
    state: &AppState,
    principal: &Principal,
    req: &WriteRequest,
    case_id: Uuid,
    build: impl FnOnce(&WriteRequest) -> Result<CaseCommand, ApiError>,
) -> Result<Response, ApiError> {
    case_write(state, principal, req, |_| async move {
        Ok(Planned::ok(case_id, build(req)?))
    })
    .await
}

/// Open a case (ATS operator of the case's ATS).
#[utoipa::path(post, path = "/v1/cases", tag = "cases", request_body = CreateCaseBody,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key gets the first answer", pattern = "^[!-~]([ -~]{0,253}[!-~])?$"),
    ),
    responses(
        (status = 201, description = "case opened; ETag = version", body = CommandResult),
        (status = "4XX", description = "400, 401, 403 not-ats-operator, 409 case-already-opened, 413, 415, 422 (problem+json, `type` per rule)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_case(
    State(state): State<AppState>,
    Auth(principal): Auth,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let req = &req;
    case_write(&state, &principal, req, move |ctx| async move {
        let body: CreateCaseBody = req.json()?;
        let case_id = body
            .case_id
            .unwrap_or_else(|| derived_id(ctx.command_id, "case"));
        let command = CaseCommand::OpenCase(OpenCase {
            case_id,
            measure_id: MeasureId::new(body.measure_id),
            ats: body.ats,
            asst: body.asst,
            provider: body.provider,
            responsabile_asst: body.responsabile_asst,
            responsabile_provider: body.responsabile_provider,
            case_manager: body.case_manager,
            recipient: Recipient {
                pseudonym: body.recipient.pseudonym,
                minor: body.recipient.minor,
                firmalom_enrolled: body.recipient.firmalom_enrolled,
                confirmers: body.recipient.confirmers,
            },
            voucher: body.voucher.map(|v| AssignVoucher {
                intensity: v.intensity,
                start: v.start,
            }),
        });
        Ok(Planned::created(case_id, command))
    })
    .await
}

/// Change the responsabile of an ente (ente administrator, ATS operator, current responsabile).
#[utoipa::path(put, path = "/v1/cases/{id}/responsabili/{ente}", tag = "cases",
    request_body = ResponsabileBody,
    params(("id" = Uuid, Path), ("ente" = EnteName, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, description = "\"<case version>\"", pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn change_responsabile(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, ente)): ApiPath<(Uuid, EnteName)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: ResponsabileBody = req.json()?;
        Ok(CaseCommand::ChangeResponsabile(ChangeResponsabile {
            ente: ente.into(),
            responsabile: body.responsabile,
        }))
    })
    .await
}

/// Replace the case manager (an ATS operator of the case's ATS), like the responsabili.
#[utoipa::path(put, path = "/v1/cases/{id}/case-manager", tag = "cases",
    request_body = CaseManagerBody,
    params(("id" = Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, description = "\"<case version>\"", pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json, e.g. 403 not-ats-operator", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn change_case_manager(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: CaseManagerBody = req.json()?;
        Ok(CaseCommand::ChangeCaseManager(ChangeCaseManager {
            case_manager: body.case_manager,
        }))
    })
    .await
}

/// Change who confirms for the recipient (an ATS operator of the case's ATS, or a responsabile
/// with a reason): the adult recipient personally, a minor's family; never the case's staff.
#[utoipa::path(put, path = "/v1/cases/{id}/recipient/confirmers", tag = "cases",
    request_body = ConfirmersBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json, e.g. 403 enrolment-change-not-allowed; 422 reason-required, adult-confirms-personally, confirmer-is-staff, no-confirmers", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn change_confirmers(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: ConfirmersBody = req.json()?;
        Ok(CaseCommand::ChangeConfirmers(ChangeConfirmers {
            confirmers: body.confirmers,
            reason: crate::dto::reason(body.reason)?,
        }))
    })
    .await
}

/// Art. 9: the support desk co-signs a late entry recorded under a declared failure; it stays
/// its author's and counts (is sent for confirmation) only once co-signed.
#[utoipa::path(post, path = "/v1/cases/{id}/entries/{eid}/cosignature", tag = "entries",
    params(("id" = Uuid, Path), ("eid" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json, e.g. 403 not-support-desk; 404 (a refusal to someone who may not read the case); 422 not-a-late-entry", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cosign_late_entry(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, eid)): ApiPath<(Uuid, Uuid)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |_| {
        Ok(CaseCommand::CosignLateEntry(CosignLateEntry {
            entry_id: eid,
        }))
    })
    .await
}

/// Record whether the confirmers use FirmaLOM (an ATS operator or a responsabile): a family
/// that installs the app later switches from paper to digital.
#[utoipa::path(put, path = "/v1/cases/{id}/recipient/enrolment", tag = "cases",
    request_body = EnrolmentBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json, e.g. 403 enrolment-change-not-allowed", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn change_enrolment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: EnrolmentBody = req.json()?;
        Ok(CaseCommand::ChangeRecipientEnrolment(
            ChangeRecipientEnrolment {
                firmalom_enrolled: body.firmalom_enrolled,
            },
        ))
    })
    .await
}

/// Withdraw the validation of entries of a whole-diary phase before closing it (the phase's
/// responsabile, with a reason): the entries are editable again.
#[utoipa::path(post, path = "/v1/cases/{id}/phases/{n}/validation/withdrawal", tag = "phases",
    request_body = ValidationWithdrawalBody,
    params(("id" = Uuid, Path), ("n" = u8, Path, description = "phase 1-4", minimum = 1, maximum = 4), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json, e.g. 409 no-validation-to-withdraw, diary-closed; 422 reason-required, validation-not-applicable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn withdraw_validation(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, n)): ApiPath<(Uuid, u8)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let phase = phase(n)?;
    simple_command(&state, &principal, &req, id, |req| {
        let body: ValidationWithdrawalBody = req.json_or_default()?;
        Ok(CaseCommand::WithdrawValidation(WithdrawValidation {
            phase,
            entry_ids: body.entry_ids,
            reason: crate::dto::reason(body.reason)?,
        }))
    })
    .await
}

/// End a pending paper diary unsigned (the phase's responsabile): cancelled by the ente with a
/// reason, or refused by the family (recorded as a rejection). It no longer blocks the diary.
#[utoipa::path(post, path = "/v1/cases/{id}/paper-diaries/{pid}/cancellation", tag = "paper",
    request_body = PaperCancellationBody,
    params(("id" = Uuid, Path), ("pid" = Uuid, Path, description = "paper diary id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json, e.g. 404 confirmation-request-not-found, 409 confirmation-request-not-pending, wrong-confirmation-channel; 422 reason-required", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel_paper_diary(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, pid)): ApiPath<(Uuid, Uuid)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: PaperCancellationBody = req.json_or_default()?;
        Ok(CaseCommand::CancelPaperDiary(CancelPaperDiary {
            paper_id: pid,
            refused_by_family: body.refused_by_family,
            reason: crate::dto::reason(body.reason)?,
        }))
    })
    .await
}

/// Cancel, with a reason, a confirmation request whose FirmaLOM notification could not be
/// delivered (the phase's responsabile; Art. 6): its entries are free again and the paper
/// diary becomes available. A notification FirmaLOM received is answered or expires.
#[utoipa::path(post, path = "/v1/cases/{id}/confirmation-requests/{rid}/cancellation", tag = "confirmation",
    request_body = RequestCancellationBody,
    params(("id" = Uuid, Path), ("rid" = Uuid, Path, description = "request id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json, e.g. 404 confirmation-request-not-found, 409 notification-not-undelivered, confirmation-request-not-pending; 422 reason-required", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel_confirmation_request(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, rid)): ApiPath<(Uuid, Uuid)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: RequestCancellationBody = req.json_or_default()?;
        Ok(CaseCommand::CancelConfirmationRequest(
            CancelConfirmationRequest {
                request_id: rid,
                reason: crate::dto::reason(body.reason)?,
            },
        ))
    })
    .await
}

/// Open a phase diary (that phase's responsabile).
#[utoipa::path(post, path = "/v1/cases/{id}/phases/{n}/open", tag = "cases",
    params(("id" = Uuid, Path), ("n" = u8, Path, description = "phase 1-4", minimum = 1, maximum = 4),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn open_phase(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, n)): ApiPath<(Uuid, u8)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let phase = phase(n)?;
    simple_command(&state, &principal, &req, id, |_| {
        Ok(CaseCommand::OpenPhaseDiary(OpenPhaseDiary { phase }))
    })
    .await
}

/// Enable a professional (the ente's responsabile).
#[utoipa::path(post, path = "/v1/cases/{id}/professionals", tag = "cases",
    request_body = EnableProfessionalBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn enable_professional(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: EnableProfessionalBody = req.json()?;
        Ok(CaseCommand::EnableProfessional(EnableProfessional {
            ente: body.ente.into(),
            professional: body.professional,
            figures: body.figures,
        }))
    })
    .await
}

/// Disable a professional (the ente's responsabile).
#[utoipa::path(delete, path = "/v1/cases/{id}/professionals/{cf}", tag = "cases",
    params(("id" = Uuid, Path), ("cf" = String, Path, description = "the professional's fiscal code"),
        ("ente" = Option<EnteName>, Query, description = "default: the ente the professional is enabled for"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn disable_professional(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, cf)): ApiPath<(Uuid, String)>,
    ApiQuery(query): ApiQuery<EnteQuery>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let professional = diario_domain::FiscalCode::parse(&cf).map_err(|e| {
        ApiError::BadRequest(format!("codice fiscale non valido nel percorso: {e}"))
    })?;
    let ente = match query.ente {
        Some(e) => Ente::from(e),
        None => {
            let (case, _) = state.handler.load_case(id).await?;
            let file = case.file().map_err(ApiError::Domain)?;
            let enabled: Vec<Ente> = file
                .professionals
                .keys()
                .filter(|(_, c)| *c == professional)
                .map(|(e, _)| *e)
                .collect();
            enabled
                .iter()
                .copied()
                .find(|e| file.responsabile(*e) == Some(&principal.cf))
                .or_else(|| enabled.first().copied())
                .unwrap_or(Ente::Provider)
        }
    };
    simple_command(&state, &principal, &req, id, |_| {
        Ok(CaseCommand::DisableProfessional(DisableProfessional {
            ente,
            professional,
        }))
    })
    .await
}

/// Record an entry (an enabled professional, or the case manager).
#[utoipa::path(post, path = "/v1/cases/{id}/entries", tag = "entries",
    request_body = RecordEntryBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 201, description = "entry recorded; `entry_id` in the body", body = CommandResult),
        (status = "4XX", description = "problem+json, e.g. 422 entry-recorded-too-late, overlapping-entry; 400 malformed-request: date, start or end missing (without slot), or both shapes given", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn record_entry(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let req = &req;
    case_write(&state, &principal, req, move |ctx| async move {
        let body: RecordEntryBody = req.json()?;
        let entry_id = body
            .entry_id
            .unwrap_or_else(|| derived_id(ctx.command_id, "entry"));
        let command = CaseCommand::RecordEntry(RecordEntry {
            entry_id,
            phase: body.phase,
            figure: body.figure,
            service: body.service,
            slot: crate::dto::slot_of(body.date, body.start, body.end, body.slot.as_ref(), None)?,
            system_failure_id: body.system_failure_id,
        });
        Ok(Planned::created(id, command).entry(entry_id))
    })
    .await
}

/// Correct an entry while editable, saying which material error (`reason`, required): the
/// author, or the phase's responsabile shortening the entry of a professional no longer
/// enabled. Fields not given keep their value.
#[utoipa::path(patch, path = "/v1/cases/{id}/entries/{eid}", tag = "entries",
    request_body = AmendEntryBody,
    params(("id" = Uuid, Path), ("eid" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json, e.g. 403 not-entry-author, 409 entry-validated, 422 correction-reason-missing, late-amendment-adds-minutes, late-amendment-moves-date, late-amendment-raises-unit-cost, responsabile-may-only-shorten; 400 malformed-request: both date/start/end and slot given, or a time that is not HH:MM", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn amend_entry(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, eid)): ApiPath<(Uuid, Uuid)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let (state, req) = (&state, &req);
    case_write(state, &principal, req, move |_| async move {
        let body: AmendEntryBody = req.json()?;
        let (case, _) = state.handler.load_case(id).await?;
        let file = case.file().map_err(ApiError::Domain)?;
        let current = file
            .entries
            .get(&eid)
            .ok_or(ApiError::Domain(DomainError::EntryNotFound(eid)))?;
        let slot = crate::dto::slot_of(
            body.date,
            body.start,
            body.end,
            body.slot.as_ref(),
            Some(&current.slot),
        )?;
        let command = CaseCommand::AmendEntry(AmendEntry {
            entry_id: eid,
            figure: body.figure.unwrap_or_else(|| current.figure.clone()),
            service: body.service.unwrap_or_else(|| current.service.clone()),
            slot,
            system_failure_id: body.system_failure_id,
            reason: crate::dto::reason(body.reason)?,
        });
        Ok(Planned::ok(id, command).entry(eid))
    })
    .await
}

/// Withdraw an entry while editable: the author, or the phase's responsabile (with a
/// `reason`) for a professional no longer enabled.
#[utoipa::path(delete, path = "/v1/cases/{id}/entries/{eid}", tag = "entries",
    params(("id" = Uuid, Path), ("eid" = Uuid, Path), crate::dto::WithdrawQuery, ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn withdraw_entry(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, eid)): ApiPath<(Uuid, Uuid)>,
    ApiQuery(q): ApiQuery<crate::dto::WithdrawQuery>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let reason = crate::dto::reason(q.reason)?;
    simple_command(&state, &principal, &req, id, move |_| {
        Ok(CaseCommand::WithdrawEntry(WithdrawEntry {
            entry_id: eid,
            reason: reason.clone(),
        }))
    })
    .await
}

/// Validate entries of a whole-diary phase (I-II; the phase's responsabile).
#[utoipa::path(post, path = "/v1/cases/{id}/phases/{n}/validation", tag = "phases",
    request_body(content = Option<ValidationBody>, description = "absent or `{}`: every entry not yet validated"),
    params(("id" = Uuid, Path), ("n" = u8, Path, description = "phase 1-4", minimum = 1, maximum = 4), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn validate_entries(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, n)): ApiPath<(Uuid, u8)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let phase = phase(n)?;
    simple_command(&state, &principal, &req, id, |req| {
        let body: ValidationBody = req.json_or_default()?;
        Ok(CaseCommand::ValidateEntries(ValidateEntries {
            phase,
            entry_ids: body.entry_ids,
        }))
    })
    .await
}

/// Close a phase diary (the phase's responsabile); phases I-II send the whole-diary request.
#[utoipa::path(post, path = "/v1/cases/{id}/phases/{n}/close", tag = "phases",
    request_body(content = Option<CloseBody>, description = "optional request id"),
    params(("id" = Uuid, Path), ("n" = u8, Path, description = "phase 1-4", minimum = 1, maximum = 4), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "closed; `request_id` when a confirmation request was sent", body = CommandResult),
        (status = "4XX", description = "problem+json", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn close_phase(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, n)): ApiPath<(Uuid, u8)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let phase = phase(n)?;
    let req = &req;
    case_write(&state, &principal, req, move |ctx| async move {
        let body: CloseBody = req.json_or_default()?;
        let request_id = body
            .request_id
            .unwrap_or_else(|| derived_id(ctx.command_id, "request"));
        let command = CaseCommand::ClosePhaseDiary(ClosePhaseDiary { phase, request_id });
        Ok(Planned::ok(id, command).request(request_id))
    })
    .await
}

/// Request confirmation of listed entries (phases III-IV; the responsabile); runs the Art. 8
/// checklist.
#[utoipa::path(post, path = "/v1/cases/{id}/confirmation-requests", tag = "confirmation",
    request_body = ConfirmationRequestBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 201, description = "request sent; `request_id` in the body", body = CommandResult),
        (status = "4XX", description = "problem+json; 422 checklist-failed carries `checklist`", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn request_confirmation(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let req = &req;
    case_write(&state, &principal, req, move |ctx| async move {
        let body: ConfirmationRequestBody = req.json()?;
        let request_id = body
            .request_id
            .unwrap_or_else(|| derived_id(ctx.command_id, "request"));
        let command = CaseCommand::RequestConfirmation(RequestConfirmation {
            request_id,
            phase: body.phase,
            entry_ids: body.entry_ids,
        });
        Ok(Planned::created(id, command).request(request_id))
    })
    .await
}

/// Re-send an unanswered or expired request (the responsabile; after one day).
#[utoipa::path(post, path = "/v1/cases/{id}/confirmation-requests/{rid}/resend", tag = "confirmation",
    params(("id" = Uuid, Path), ("rid" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json, e.g. 409 resend-too-early", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn resend_confirmation(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, rid)): ApiPath<(Uuid, Uuid)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |_| {
        Ok(CaseCommand::ResendConfirmation(ResendConfirmation {
            request_id: rid,
        }))
    })
    .await
}

/// Set the PDI caps for phase III (the provider's responsabile).
#[utoipa::path(put, path = "/v1/cases/{id}/pdi", tag = "cases",
    request_body = PdiBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_pdi(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: PdiBody = req.json()?;
        Ok(CaseCommand::SetPdiCaps(SetPdiCaps {
            caps: body.caps(),
            total_max_minutes: body.total_max_minutes,
            pdi_document_id: body.pdi_document_id,
            reason: body.reason,
        }))
    })
    .await
}

/// Send a recorded document to the recipient's FirmaLOM app for confirmation (the phase's
/// responsabile or the case manager); the answer comes back on the FirmaLOM callback.
#[utoipa::path(post, path = "/v1/cases/{id}/documents/{did}/share", tag = "documents",
    params(("id" = Uuid, Path), ("did" = Uuid, Path, description = "document id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 201, description = "shared: `request_id` names the FirmaLOM request", body = CommandResult),
        (status = "4XX", description = "problem+json: 400 malformed-request, 403 document-not-allowed, 404 document-not-found, 409 document-share-pending / digital-confirmation-unavailable (recipient not enrolled) / pathway-closed, 412 version-mismatch, 422 rule refusals", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn share_document(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, did)): ApiPath<(Uuid, Uuid)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    let req = &req;
    case_write(&state, &principal, req, move |ctx| async move {
        let request_id = derived_id(ctx.command_id, "document-share");
        let command = CaseCommand::ShareDocument(ShareDocument {
            document_id: did,
            request_id,
        });
        let mut planned = Planned::created(id, command);
        planned.shared = Some(request_id);
        Ok(planned)
    })
    .await
}

/// The ATS's four-eyes check of a paper diary's signed scan: `accepted` true marks it checked,
/// false refuses it with a `reason` (a new scan is then uploaded). An ATS operator of the
/// case's ATS who neither uploaded it nor works on the case.
#[utoipa::path(post, path = "/v1/cases/{id}/paper-diaries/{pid}/check", tag = "paper",
    request_body = ScanCheckBody,
    params(("id" = Uuid, Path), ("pid" = Uuid, Path, description = "paper diary id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: `PaperScanChecked` in `events`", body = CommandResult),
        (status = "4XX", description = "problem+json: 400 malformed-request, 403 not-ats-operator / scan-check-same-person, 404 confirmation-request-not-found, 409 scan-not-awaiting-check, 412 version-mismatch, 422 rule refusals (reason-required, wrong-confirmation-channel)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn check_paper_scan(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, pid)): ApiPath<(Uuid, Uuid)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: ScanCheckBody = req.json()?;
        Ok(CaseCommand::CheckPaperScan(CheckPaperScan {
            paper_id: pid,
            accepted: body.accepted,
            reason: body.reason,
        }))
    })
    .await
}

/// Interrupt the pathway (the case manager, or the responsabile of an ente that still keeps a
/// phase not handed to ATS), with the verified cause; effective at once.
#[utoipa::path(post, path = "/v1/cases/{id}/interruption", tag = "cases",
    request_body = InterruptionBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: the resource as it now stands", body = CommandResult),
        (status = "4XX", description = "problem+json", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn interrupt(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: InterruptionBody = req.json()?;
        Ok(CaseCommand::InterruptPathway(InterruptPathway {
            cause: body.cause.into(),
            reason: crate::dto::reason(body.reason)?,
        }))
    })
    .await
}

/// Seed 003 §9 E: the case manager communicates that the PI/PEI is suspended from a day (at most
/// 90 days in total; nothing is recorded on a suspended day).
#[utoipa::path(post, path = "/v1/cases/{id}/suspensions", tag = "vouchers",
    request_body = SuspensionBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: `PathwaySuspended` in `events`", body = CommandResult),
        (status = "4XX", description = "problem+json: 403 not-the-case-manager, 409 suspension-overlaps / voucher-suspended, 422 suspension-over-limit / outside-voucher-validity / voucher-not-applicable / reason-required", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn suspend(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: SuspensionBody = req.json()?;
        Ok(CaseCommand::SuspendPathway(SuspendPathway {
            from: body.from,
            reason: body.reason,
        }))
    })
    .await
}

/// Seed 003 §9 E: the case manager communicates the reactivation of the open suspension that
/// began on `from`.
#[utoipa::path(post, path = "/v1/cases/{id}/suspensions/{from}/reactivation", tag = "vouchers",
    request_body = ReactivationBody,
    params(("id" = Uuid, Path), ("from" = String, Path, description = "the suspension's first day, YYYY-MM-DD"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: `PathwayReactivated` in `events`", body = CommandResult),
        (status = "4XX", description = "problem+json: 403 not-the-case-manager, 404 suspension-not-found, 409 no-open-suspension, 422 suspension-over-limit / suspension-empty", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reactivate(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, from)): ApiPath<(Uuid, chrono::NaiveDate)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: ReactivationBody = req.json()?;
        Ok(CaseCommand::ReactivatePathway(ReactivatePathway {
            suspended_from: from,
            on: body.on,
        }))
    })
    .await
}

/// Seed 003 §9 E: the Region (an ATS operator of the case's ATS) authorises the extension of
/// the terms for the suspension that began on `from`; from then its days extend the voucher.
#[utoipa::path(post, path = "/v1/cases/{id}/suspensions/{from}/authorisation", tag = "vouchers",
    params(("id" = Uuid, Path), ("from" = String, Path, description = "the suspension's first day, YYYY-MM-DD"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: `SuspensionAuthorised` in `events`", body = CommandResult),
        (status = "4XX", description = "problem+json: 403 not-ats-operator, 404 suspension-not-found, 409 suspension-already-authorised", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn authorise_suspension(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, from)): ApiPath<(Uuid, chrono::NaiveDate)>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |_| {
        Ok(CaseCommand::AuthoriseSuspension(AuthoriseSuspension {
            suspended_from: from,
        }))
    })
    .await
}

/// Seed 003 §9 D, §12: the case manager declares whether the objectives were achieved, with the
/// final individual report (a document of the case).
#[utoipa::path(post, path = "/v1/cases/{id}/objectives", tag = "vouchers",
    request_body = ObjectivesBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: `ObjectivesDeclared` in `events`", body = CommandResult),
        (status = "4XX", description = "problem+json: 403 not-the-case-manager, 422 final-report-required / voucher-not-applicable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn declare_objectives(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: ObjectivesBody = req.json()?;
        Ok(CaseCommand::DeclareObjectives(DeclareObjectives {
            achieved: body.achieved,
            document_id: body.document_id,
        }))
    })
    .await
}

/// Seed 003 §9 D: the case manager records the formal check of the calendars and diaries
/// before they are transmitted.
#[utoipa::path(post, path = "/v1/cases/{id}/formal-checks", tag = "vouchers",
    request_body = FormalCheckBody,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"?[0-9]{1,18}\"?)$")),
    responses((status = 200, description = "done: `FormalCheckRecorded` in `events`", body = CommandResult),
        (status = "4XX", description = "problem+json: 403 not-the-case-manager, 422 reason-required / voucher-not-applicable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn record_formal_check(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
    req: WriteRequest,
) -> Result<Response, ApiError> {
    simple_command(&state, &principal, &req, id, |req| {
        let body: FormalCheckBody = req.json()?;
        Ok(CaseCommand::RecordFormalCheck(RecordFormalCheck {
            passed: body.passed,
            note: body.note,
        }))
    })
    .await
}
