//! The paper diary (Art. 6) over HTTP, for recipients not enrolled in FirmaLOM:
//!
//! - `POST /v1/cases/{id}/phases/{n}/paper-diary` — the phase's responsabile generates the PDF
//!   to have signed: `PaperDiaryGenerated` (201). While one is pending for the same entries, a
//!   POST returns that same diary (200, same bytes: the print time is the generation instant),
//!   so repeating it is harmless.
//! - `GET /v1/cases/{id}/phases/{n}/paper-diary` — the pending diary again; writes nothing
//!   (404 when none is pending).
//! - `POST /v1/cases/{id}/phases/{n}/paper-confirmation` — multipart upload of the signed scan
//!   (PDF, JPEG or PNG, recognised by content), stored content-addressed (SHA-256) in the
//!   database, then `UploadPaperConfirmation` confirms the printed entries.
//! - `GET /v1/documents/{sha256}` — the stored scan again, for the case's staff, its ATS and
//!   auditors.
//!
//! The PDF itself is drawn by [`pdf`].

pub mod pdf;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use diario_commands::{Caller, CommandOptions, Principal, derived_id};
use diario_domain::case::{GeneratePaperDiary, UploadPaperConfirmation};
use diario_domain::{
    CaseCommand, CaseEvent, CaseFile, ConfirmationChannel, DomainError, FiscalCode, Measure, Phase,
    RequestStatus, Sha256Hex,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::Problem;
use crate::extract::{ApiPath, ApiQuery, WriteRequest, request_path};
use crate::reads::{file_of, measure_of, readable_case};
use crate::write::{Reply, WriteCtx, write};
use crate::{ApiError, AppState};
use diario_log::{Database, Val};
use pdf::PaperDiary;

/// Largest accepted scan.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/cases/{id}/phases/{n}/paper-diary",
            get(pending_paper_diary).post(paper_diary),
        )
        .route(
            "/v1/cases/{id}/phases/{n}/paper-confirmation",
            post(paper_confirmation).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 64 * 1024)),
        )
        .route("/v1/documents/{sha256}", get(get_document))
}

fn phase(n: u8) -> Result<Phase, ApiError> {
    Phase::try_from(n).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `?entry_ids=<uuid>,<uuid>` for the per-entry phases (III–IV).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaperQuery {
    /// Comma-separated entry ids (phases III–IV); ignored for whole-diary phases.
    pub entry_ids: Option<String>,
}

pub(crate) fn parse_ids(list: Option<&str>) -> Result<Option<Vec<Uuid>>, ApiError> {
    let Some(list) = list.filter(|l| !l.trim().is_empty()) else {
        return Ok(None);
    };
    list.split(',')
        .map(|s| {
            Uuid::parse_str(s.trim())
                .map_err(|_| ApiError::BadRequest(format!("entry_ids: {s:?} non è un UUID")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub(crate) fn require_phase_responsabile(
    file: &CaseFile,
    measure: &Measure,
    phase: Phase,
    who: &FiscalCode,
) -> Result<(), ApiError> {
    let rules = measure
        .phase(phase)
        .ok_or(ApiError::Domain(DomainError::PhaseNotInMeasure(phase)))?;
    if file.responsabile(rules.registered_by) == Some(who) {
        Ok(())
    } else {
        Err(ApiError::Domain(DomainError::NotPhaseResponsabile {
            phase,
            ente: rules.registered_by,
        }))
    }
}

/// The pending paper diary of a phase covering exactly `ids` (any, when `ids` is `None`).
pub(crate) fn pending_paper(file: &CaseFile, phase: Phase, ids: Option<&[Uuid]>) -> Option<Uuid> {
    file.requests
        .values()
        .filter(|r| {
            r.phase == phase
                && r.channel == ConfirmationChannel::Paper
                && r.status == RequestStatus::Pending
        })
        .find(|r| {
            ids.is_none_or(|ids| {
                let mut want: Vec<Uuid> = ids.to_vec();
                want.sort();
                want.dedup();
                r.entries.keys().copied().collect::<Vec<_>>() == want
            })
        })
        .map(|r| r.id)
}

pub(crate) async fn pdf_response(
    state: &AppState,
    file: &CaseFile,
    measure: &Measure,
    paper_id: Uuid,
) -> Result<Response, ApiError> {
    let request = file
        .requests
        .get(&paper_id)
        .ok_or(ApiError::Domain(DomainError::RequestNotFound(paper_id)))?;
    let ids: Vec<Uuid> = request.entries.keys().copied().collect();
    // The professionals' names are printed next to their fiscal codes.
    let professionals = ids
        .iter()
        .filter_map(|id| file.entries.get(id))
        .map(|e| e.professional.as_str());
    let names = diario_projections::names(&state.db, professionals).await?;
    let mut diary =
        PaperDiary::from_case(file, measure, request.phase, &ids, &names, request.sent_at);
    diary.paper_id = Some(paper_id);
    let pdf = diary.render_pdf();
    let mut response = (StatusCode::OK, pdf).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    let name = format!(
        "attachment; filename=\"diario-{}-fase-{}.pdf\"",
        file.case_id,
        u8::from(request.phase)
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&paper_id.to_string()) {
        h.insert("x-diario-paper-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&diary.content_hash()) {
        h.insert("x-diario-content-hash", v);
    }
    Ok(response)
}

/// What both paper-diary routes read first: the phase, the chosen entries (phases III–IV) and
/// the case, if the caller may read it.
async fn paper_request(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    n: u8,
    query: &PaperQuery,
) -> Result<(Phase, Option<Vec<Uuid>>, diario_domain::CaseState), ApiError> {
    let phase = phase(n)?;
    let ids = parse_ids(query.entry_ids.as_deref())?;
    let (case, _) = readable_case(state, principal, id).await?;
    Ok((phase, ids, case))
}

/// The pending paper diary of the phase (the phase's responsabile), as generated: writes
/// nothing.
#[utoipa::path(get, path = "/v1/cases/{id}/phases/{n}/paper-diary", tag = "paper",
    params(("id" = Uuid, Path), ("n" = u8, Path, description = "phase 1-4", minimum = 1, maximum = 4), PaperQuery),
    responses(
        (status = 200, description = "the PDF (A4, Italian); headers `X-Diario-Paper-Id` and `X-Diario-Content-Hash` (its short form is printed)", content_type = "application/pdf", body = Vec<u8>),
        (status = "4XX", description = "400 entry_ids, 401, 403 not-phase-responsabile, 404 (no case, or no paper diary pending: generate it with POST)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn pending_paper_diary(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, n)): ApiPath<(Uuid, u8)>,
    ApiQuery(query): ApiQuery<PaperQuery>,
) -> Result<Response, ApiError> {
    let (phase, ids, case) = paper_request(&state, &principal, id, n, &query).await?;
    let file = file_of(&case)?;
    let measure = measure_of(&state, file)?;
    require_phase_responsabile(file, measure, phase, &principal.cf)?;
    match pending_paper(file, phase, ids.as_deref()) {
        Some(paper_id) => pdf_response(&state, file, measure, paper_id).await,
        None => Err(ApiError::NotFoundWhat(format!(
            "nessun diario cartaceo della fase {} in attesa di firma: generarlo con POST /v1/cases/{id}/phases/{n}/paper-diary",
            u8::from(phase)
        ))),
    }
}

/// Generates the paper diary to sign (the phase's responsabile; recipients not enrolled in
/// FirmaLOM): records `PaperDiaryGenerated` (201) unless a paper diary of the phase for these
/// entries is pending, which is returned again byte for byte (200, while the professionals'
/// names printed on it are unchanged).
#[utoipa::path(post, path = "/v1/cases/{id}/phases/{n}/paper-diary", tag = "paper",
    params(("id" = Uuid, Path), ("n" = u8, Path, description = "phase 1-4", minimum = 1, maximum = 4), PaperQuery),
    responses(
        (status = 201, description = "generated: the PDF (A4, Italian); headers `X-Diario-Paper-Id` and `X-Diario-Content-Hash` (its short form is printed), `Location` (the GET of the pending diary)", content_type = "application/pdf", body = Vec<u8>),
        (status = 200, description = "already pending: the same PDF again", content_type = "application/pdf", body = Vec<u8>),
        (status = "4XX", description = "400 entry_ids, 401, 403 not-phase-responsabile, 404, 409/422 e.g. paper-diary-not-allowed (recipient enrolled in FirmaLOM), checklist-failed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn paper_diary(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, n)): ApiPath<(Uuid, u8)>,
    ApiQuery(query): ApiQuery<PaperQuery>,
) -> Result<Response, ApiError> {
    let (phase, ids, case) = paper_request(&state, &principal, id, n, &query).await?;
    let file = file_of(&case)?;
    crate::access_log::record(&state, &principal, file, "paper-diary", None).await?;
    let measure = measure_of(&state, file)?;
    if !file.recipient.firmalom_enrolled
        && let Some(paper_id) = pending_paper(file, phase, ids.as_deref())
    {
        require_phase_responsabile(file, measure, phase, &principal.cf)?;
        return pdf_response(&state, file, measure, paper_id).await;
    }
    let command_id = Uuid::now_v7();
    let paper_id = derived_id(command_id, "paper");
    let command = CaseCommand::GeneratePaperDiary(GeneratePaperDiary {
        paper_id,
        phase,
        entry_ids: ids.clone(),
    });
    let opts = CommandOptions::new().with_command_id(command_id);
    let result = state
        .handler
        .execute_case(id, &command, &Caller::Person(&principal), &opts)
        .await;
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            // A concurrent GET may have generated it first: serve that one.
            let (case, _) = state.handler.load_case(id).await?;
            if let Some(file) = case.file.as_ref()
                && !file.recipient.firmalom_enrolled
                && let Some(existing) = pending_paper(file, phase, ids.as_deref())
                && require_phase_responsabile(file, measure, phase, &principal.cf).is_ok()
            {
                return pdf_response(&state, file, measure, existing).await;
            }
            return Err(e.into());
        }
    };
    let generated = outcome.events.iter().find_map(|e| match e {
        CaseEvent::PaperDiaryGenerated { paper_id, .. } => Some(*paper_id),
        _ => None,
    });
    let file = outcome
        .state
        .file
        .as_ref()
        .ok_or_else(|| ApiError::NotFoundWhat(format!("nessuna pratica {id}")))?;
    let mut response = pdf_response(&state, file, measure, generated.unwrap_or(paper_id)).await?;
    if generated.is_some() {
        *response.status_mut() = StatusCode::CREATED;
        let location = match &ids {
            Some(list) => {
                let list: Vec<String> = list.iter().map(Uuid::to_string).collect();
                format!(
                    "/v1/cases/{id}/phases/{n}/paper-diary?entry_ids={}",
                    list.join(",")
                )
            }
            None => format!("/v1/cases/{id}/phases/{n}/paper-diary"),
        };
        if let Ok(v) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, v);
        }
    }
    Ok(response)
}

/// What the media type of a scan is, by its first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// The multipart form of a paper confirmation (documentation only).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PaperConfirmationForm {
    /// The signed scan: PDF, JPEG or PNG (recognised by content), at most 10 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Fiscal code of who signed (the recipient or a family member on file).
    signed_by: String,
    /// The paper diary signed; default: the one pending for the phase.
    paper_id: Option<Uuid>,
}

/// The answer to an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaperConfirmationResult {
    pub case_id: Uuid,
    pub version: i64,
    pub paper_id: Uuid,
    /// SHA-256 of the stored scan: `GET /v1/documents/{document_sha256}`.
    pub document_sha256: String,
    pub media_type: String,
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
}

pub(crate) fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(MAX_DOCUMENT_BYTES)
    } else {
        ApiError::BadRequest(format!(
            "il corpo multipart non è leggibile ({})",
            e.status()
        ))
    }
}

/// Upload the signed paper diary (the phase's responsabile): stores the scan, confirms the
/// printed entries.
#[utoipa::path(post, path = "/v1/cases/{id}/phases/{n}/paper-confirmation", tag = "paper",
    request_body(content = PaperConfirmationForm, content_type = "multipart/form-data"),
    params(("id" = Uuid, Path), ("n" = u8, Path, description = "phase 1-4", minimum = 1, maximum = 4),
        ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key and scan gets the first answer byte for byte; another scan under the same key: 422 idempotency-key-reused", pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses(
        (status = 200, description = "entries confirmed; ETag = version", body = PaperConfirmationResult),
        (status = "4XX", description = "400 (form), 401, 403 not-phase-responsabile / not-a-confirmer, 404, 409 confirmation-request-not-pending, 413 (over 10 MiB), 415 unsupported-document-type (not PDF/JPEG/PNG by content, or not multipart), 422 no-pending-paper-diary", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn paper_confirmation(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath((id, n)): ApiPath<(Uuid, u8)>,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let phase = phase(n)?;
    let method = req.method().clone();
    let path = request_path(&req);
    let multipart = Multipart::from_request(req, &state).await.map_err(|_| {
        ApiError::UnsupportedDocument(
            "il caricamento deve essere multipart/form-data con una parte `file`".into(),
        )
    })?;
    let upload = read_form(multipart, id, phase).await?;
    // The same idempotency and If-Match handling as every JSON write: the fingerprint of the
    // request is the scan's hash and the form fields, so a retry with the same key and the
    // same scan gets the first answer byte for byte, and another scan under that key a 422.
    let fingerprint = serde_json::json!({
        "document_sha256": upload.sha,
        "signed_by": upload.signed_by.as_str(),
        "paper_id": upload.paper_id,
    });
    let request = WriteRequest {
        method,
        path,
        headers,
        body: serde_json::to_vec(&fingerprint)
            .map_err(|e| ApiError::Internal(Box::new(e)))?
            .into(),
    };
    write(&state, &principal, &request, |ctx| {
        upload_paper_confirmation(&state, &principal, upload, ctx)
    })
    .await
}

/// Reads the upload form (`file`, `signed_by`, `paper_id`) of a paper confirmation for
/// `case_id`'s `phase`: the scan within its size limit and recognised by its content, the
/// signer's fiscal code, the paper diary's id when given. What the fuzz target drives too.
pub(crate) async fn read_form(
    mut multipart: Multipart,
    case_id: Uuid,
    phase: Phase,
) -> Result<Upload, ApiError> {
    let mut file_bytes: Option<Vec<u8>> = None;
    let mut signed_by: Option<String> = None;
    let mut paper_id: Option<String> = None;
    let mut csrf: Option<String> = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        match field.name().unwrap_or_default() {
            "file" => {
                let mut buf = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
                    if buf.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                        return Err(ApiError::PayloadTooLarge(MAX_DOCUMENT_BYTES));
                    }
                    buf.extend_from_slice(&chunk);
                }
                file_bytes = Some(buf);
            }
            "signed_by" => signed_by = Some(field.text().await.map_err(|e| multipart_error(&e))?),
            "paper_id" => paper_id = Some(field.text().await.map_err(|e| multipart_error(&e))?),
            "_csrf" => csrf = Some(field.text().await.map_err(|e| multipart_error(&e))?),
            _ => {}
        }
    }
    let bytes = file_bytes.filter(|b| !b.is_empty()).ok_or_else(|| {
        ApiError::BadRequest("il modulo non ha la parte `file` (la scansione firmata)".into())
    })?;
    let media_type = sniff(&bytes).ok_or_else(|| {
        ApiError::UnsupportedDocument(
            "la scansione non è un file PDF, JPEG o PNG (riconosciuto dal contenuto, non dal nome)"
                .into(),
        )
    })?;
    let signed_by = FiscalCode::parse(signed_by.as_deref().unwrap_or_default().trim())
        .map_err(|e| ApiError::BadRequest(format!("signed_by non è un codice fiscale: {e}")))?;
    let paper_id = match paper_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(
            Uuid::parse_str(s)
                .map_err(|_| ApiError::BadRequest("paper_id non è un UUID".into()))?,
        ),
        None => None,
    };
    let sha = hex::encode(Sha256::digest(&bytes));
    Ok(Upload {
        case_id,
        phase,
        paper_id,
        signed_by,
        bytes,
        media_type,
        sha,
        csrf,
    })
}

/// A parsed, checked upload form.
pub(crate) struct Upload {
    pub(crate) case_id: Uuid,
    pub(crate) phase: Phase,
    pub(crate) paper_id: Option<Uuid>,
    pub(crate) signed_by: FiscalCode,
    pub(crate) bytes: Vec<u8>,
    pub(crate) media_type: &'static str,
    pub(crate) sha: String,
    /// The web form's CSRF token (`_csrf`; the API's bearer requests send none).
    pub(crate) csrf: Option<String>,
}

/// The upload proper: resolve the paper diary, keep the scan, record the confirmation.
pub(crate) async fn upload_paper_confirmation(
    state: &AppState,
    principal: &Principal,
    upload: Upload,
    ctx: WriteCtx,
) -> Result<Reply, ApiError> {
    let Upload {
        case_id: id,
        phase,
        paper_id,
        signed_by,
        bytes,
        media_type,
        sha,
        csrf: _,
    } = upload;
    let (case, _) = readable_case(state, principal, id).await?;
    let file = file_of(&case)?;
    let paper_id = match paper_id {
        Some(p) => {
            if file.requests.get(&p).is_none_or(|r| r.phase != phase) {
                return Err(ApiError::Domain(DomainError::RequestNotFound(p)));
            }
            p
        }
        None => pending_paper(file, phase, None).ok_or(ApiError::Unprocessable {
            code: "no-pending-paper-diary",
            message: "nessun diario cartaceo in attesa di firma per questa fase: generarlo prima con POST …/paper-diary".into(),
        })?,
    };
    let inserted = store_document(&state.db, &sha, media_type, &bytes, id, &principal.cf).await?;
    let document_sha256 = Sha256Hex::parse(&sha).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let command = CaseCommand::UploadPaperConfirmation(UploadPaperConfirmation {
        paper_id,
        document_sha256,
        signed_by,
    });
    let opts = ctx.options();
    let outcome = match state
        .handler
        .execute_case(id, &command, &Caller::Person(principal), &opts)
        .await
    {
        Ok(o) => o,
        Err(e) => {
            if inserted {
                // Nothing refers to the scan: the refusal leaves nothing behind.
                let _ = delete_document(&state.db, &sha).await;
            }
            return Err(e.into());
        }
    };
    let body = PaperConfirmationResult {
        case_id: id,
        version: outcome.version,
        paper_id,
        document_sha256: sha,
        media_type: media_type.to_owned(),
        events: crate::dto::events_json(&outcome.events)?,
    };
    let body = serde_json::to_value(body).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Reply::ok(Some(outcome.version), body))
}

/// Stores a scan under its SHA-256; true when this call inserted it.
pub(crate) async fn store_document(
    db: &Database,
    sha: &str,
    media_type: &str,
    bytes: &[u8],
    case_id: Uuid,
    by: &FiscalCode,
) -> Result<bool, ApiError> {
    let size = i64::try_from(bytes.len()).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let n = db
        .exec(
            "INSERT INTO documents (sha256, media_type, bytes, size, case_id, uploaded_by, \
             uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sha256) DO NOTHING",
            &[
                sha.into(),
                media_type.into(),
                bytes.to_vec().into(),
                size.into(),
                Val::uuid_text(case_id),
                by.as_str().into(),
                Val::instant_text(Utc::now()),
            ],
        )
        .await?;
    Ok(n == 1)
}

pub(crate) async fn delete_document(db: &Database, sha: &str) -> Result<(), ApiError> {
    db.exec("DELETE FROM documents WHERE sha256 = $1", &[sha.into()])
        .await?;
    Ok(())
}

/// Download a stored scan (the case's staff, the ATS operators and auditors of its ATS).
#[utoipa::path(get, path = "/v1/documents/{sha256}", tag = "paper",
    params(("sha256" = String, Path, description = "lower-case hex SHA-256 of the document")),
    responses(
        (status = 200, description = "the document with its media type (by content); ETag = the SHA-256", content_type = "application/octet-stream", body = Vec<u8>),
        (status = "4XX", description = "400, 401, 404 (no document, or not one the caller may read)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_document(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(sha): ApiPath<String>,
) -> Result<Response, ApiError> {
    let sha = Sha256Hex::parse(&sha).map_err(|e| {
        ApiError::BadRequest(format!("identificativo di documento non valido: {e}"))
    })?;
    let row = state
        .db
        .fetch_optional(
            "SELECT media_type, bytes, case_id FROM documents WHERE sha256 = $1",
            &[sha.as_str().into()],
        )
        .await?;
    // A document that does not exist and one of a case the caller may not read get the same
    // 404: nobody learns from the answer that a scan exists.
    let not_found =
        || ApiError::NotFoundWhat(format!("nessun documento {0} consultabile", sha.as_str()));
    let Some(row) = row else {
        return Err(not_found());
    };
    let (media_type, bytes) = (row.text("media_type")?, row.bytes("bytes")?);
    let case_id = row.uuid_text("case_id")?;
    let (case, _) = match readable_case(&state, &principal, case_id).await {
        Err(ApiError::NotFoundWhat(_)) => return Err(not_found()),
        other => other?,
    };
    crate::access_log::record(
        &state,
        &principal,
        file_of(&case)?,
        "document",
        Some(sha.as_str().to_owned()),
    )
    .await?;
    let mut response = (StatusCode::OK, bytes).into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", sha.as_str())) {
        h.insert(header::ETAG, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn scans_are_recognised_by_content_only() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(
            sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Some("image/png")
        );
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"<html>%PDF-"), None);
        assert_eq!(sniff(b""), None);
    }
}
