//! Documents of the pathway over HTTP (Art. 1, docs/domain.md "Documents of the pathway"):
//!
//! - `POST /v1/cases/{id}/documents` — multipart upload (`file`: a PDF, `kind`, `title`) by
//!   the phase's responsabile or the case manager: the bytes are kept content-addressed in
//!   `documents` (like the paper scans), then `DocumentAdded` records kind, version, hash, who
//!   and when (201).
//! - `GET /v1/cases/{id}/documents` — the documents with their versions and sharings, the
//!   outputs still missing to close a phase, the PDI version the caps come from with every raise
//!   after phase III hours, and the four-eyes check of each paper scan: what the ATS reads.
//! - `POST /v1/cases/{id}/documents/{did}/share` and
//!   `POST /v1/cases/{id}/paper-diaries/{pid}/check` are JSON commands in [`crate::cases`].

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use diario_commands::{Principal, derived_id};
use diario_domain::case::AddDocument;
use diario_domain::{CaseCommand, CaseFile, ConfirmationChannel, Measure, Sha256Hex};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cases::run_case_command;
use crate::error::Problem;
use crate::extract::{ApiPath, WriteRequest, request_path};
use crate::paper::{MAX_DOCUMENT_BYTES, delete_document, multipart_error, sniff, store_document};
use crate::reads::{file_of, measure_of, readable_case};
use crate::write::{Reply, WriteCtx, write};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/cases/{id}/documents",
        get(list_documents)
            .post(upload_document)
            .layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 64 * 1024)),
    )
}

/// The multipart form of a document upload (documentation only).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct DocumentForm {
    /// The document: a PDF (recognised by content), at most 10 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The measure's document kind, e.g. `progetto_individualizzato`, `piano_di_intervento`.
    kind: String,
    /// A title; default: the kind's name.
    title: Option<String>,
}

/// One sharing of a document with the recipient.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentShareView {
    pub request_id: Uuid,
    /// `pending`, `confirmed` or `rejected`.
    pub status: String,
    pub shared_at: DateTime<Utc>,
    pub answered_by: Option<String>,
    pub reason: Option<String>,
}

/// A document of the case.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub document_id: Uuid,
    pub kind: String,
    /// The kind's name in the measure.
    pub kind_name: String,
    pub phase: u8,
    /// 1, 2… within its kind; the highest is in force.
    pub version: u32,
    pub latest: bool,
    /// Whether this kind closes its phase.
    pub closes_phase: bool,
    pub title: String,
    pub document_sha256: String,
    pub media_type: String,
    /// `GET` this to download it.
    pub href: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub shares: Vec<DocumentShareView>,
}

/// An output the measure requires before a phase diary is closed, not yet recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct MissingOutput {
    pub phase: u8,
    pub kind: String,
    pub name: String,
}

/// A raise of the PDI caps after phase III hours existed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PdiRaiseView {
    pub reason: String,
    pub pdi_document_id: Option<Uuid>,
    pub pdi_version: Option<u32>,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The PDI caps in force and where they come from.
#[derive(Debug, Serialize, ToSchema)]
pub struct PdiSource {
    pub pdi_document_id: Option<Uuid>,
    pub pdi_version: Option<u32>,
    pub pdi_document_sha256: Option<String>,
    pub raises: Vec<PdiRaiseView>,
}

/// The four-eyes check of a paper diary's scan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaperScanView {
    pub paper_id: Uuid,
    pub phase: u8,
    pub entry_ids: Vec<Uuid>,
    pub document_sha256: String,
    /// `awaiting_check`, `checked` or `refused`.
    pub check: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
    pub checked_by: Option<String>,
    pub reason: Option<String>,
}

/// `GET /v1/cases/{id}/documents`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDocuments {
    pub case_id: Uuid,
    pub documents: Vec<DocumentView>,
    /// Outputs still to be recorded before their phase diary can be closed.
    pub missing_outputs: Vec<MissingOutput>,
    pub pdi: Option<PdiSource>,
    pub paper_scans: Vec<PaperScanView>,
}

fn snake<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What the documents endpoint (and the case page) show of a case.
pub fn case_documents(file: &CaseFile, measure: &Measure) -> CaseDocuments {
    let mut documents: Vec<DocumentView> = file
        .documents
        .values()
        .map(|d| {
            let rule = measure.document(&d.kind);
            DocumentView {
                document_id: d.id,
                kind: d.kind.clone(),
                kind_name: rule.map_or_else(|| d.kind.clone(), |r| r.name.clone()),
                phase: u8::from(d.phase),
                version: d.version,
                latest: file.latest_document(&d.kind).map(|l| l.id) == Some(d.id),
                closes_phase: rule.is_some_and(|r| r.closes_phase),
                title: d.title.clone(),
                document_sha256: d.sha256.as_str().to_owned(),
                media_type: d.media_type.clone(),
                href: format!("/v1/documents/{}", d.sha256.as_str()),
                recorded_by: d.by.to_string(),
                recorded_at: d.at,
                shares: d
                    .shares
                    .iter()
                    .map(|s| DocumentShareView {
                        request_id: s.request_id,
                        status: snake(&s.status),
                        shared_at: s.shared_at,
                        answered_by: s.answered_by.as_ref().map(ToString::to_string),
                        reason: s.reason.clone(),
                    })
                    .collect(),
            }
        })
        .collect();
    documents.sort_by(|a, b| (a.phase, &a.kind, a.version).cmp(&(b.phase, &b.kind, b.version)));
    let missing_outputs = measure
        .documents
        .iter()
        .filter(|r| r.closes_phase && file.latest_document(&r.kind).is_none())
        .map(|r| MissingOutput {
            phase: u8::from(r.phase),
            kind: r.kind.clone(),
            name: r.name.clone(),
        })
        .collect();
    let pdi = file.pdi.as_ref().map(|p| PdiSource {
        pdi_document_id: p.document.as_ref().map(|d| d.document_id),
        pdi_version: p.document.as_ref().map(|d| d.version),
        pdi_document_sha256: p
            .document
            .as_ref()
            .map(|d| d.document_sha256.as_str().to_owned()),
        raises: p
            .raises
            .iter()
            .map(|r| PdiRaiseView {
                reason: r.reason.clone(),
                pdi_document_id: r.document.as_ref().map(|d| d.document_id),
                pdi_version: r.document.as_ref().map(|d| d.version),
                by: r.by.to_string(),
                at: r.at,
            })
            .collect(),
    });
    let paper_scans = file
        .requests
        .values()
        .filter(|r| r.channel == ConfirmationChannel::Paper)
        .filter_map(|r| {
            r.scan.as_ref().map(|s| PaperScanView {
                paper_id: r.id,
                phase: u8::from(r.phase),
                entry_ids: r.entries.keys().copied().collect(),
                document_sha256: s.sha256.as_str().to_owned(),
                check: snake(&s.check),
                uploaded_by: s.uploaded_by.to_string(),
                uploaded_at: s.uploaded_at,
                checked_by: s.checked_by.as_ref().map(ToString::to_string),
                reason: s.reason.clone(),
            })
        })
        .collect();
    CaseDocuments {
        case_id: file.case_id,
        documents,
        missing_outputs,
        pdi,
        paper_scans,
    }
}

/// The documents of a case, the outputs still missing, the PDI's source and raises, and the
/// checks of paper scans (whoever may read the case; the read is logged).
#[utoipa::path(get, path = "/v1/cases/{id}/documents", tag = "documents",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "documents by phase and version, with their sharings", body = CaseDocuments),
        (status = "4XX", description = "400, 401, 404 (no case, or not one the caller may read)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_documents(
    State(state): State<AppState>,
    crate::auth::Auth(principal): crate::auth::Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let (case, _) = readable_case(&state, &principal, id).await?;
    let file = file_of(&case)?;
    crate::access_log::record(&state, &principal, file, "documents", None).await?;
    let measure = measure_of(&state, file)?;
    Ok(Json(case_documents(file, measure)).into_response())
}

/// A parsed upload.
pub(crate) struct DocumentUpload {
    pub(crate) kind: String,
    pub(crate) title: Option<String>,
    pub(crate) bytes: Vec<u8>,
    pub(crate) sha: String,
    /// The web form's CSRF token.
    pub(crate) csrf: Option<String>,
}

/// Reads the form (`file`, `kind`, `title`): a PDF within the size limit.
pub(crate) async fn read_document_form(
    mut multipart: Multipart,
) -> Result<DocumentUpload, ApiError> {
    let (mut bytes, mut kind, mut title, mut csrf) = (None, None, None, None);
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
                bytes = Some(buf);
            }
            "kind" => kind = Some(field.text().await.map_err(|e| multipart_error(&e))?),
            "title" => title = Some(field.text().await.map_err(|e| multipart_error(&e))?),
            "_csrf" => csrf = Some(field.text().await.map_err(|e| multipart_error(&e))?),
            _ => {}
        }
    }
    let bytes = bytes.filter(|b| !b.is_empty()).ok_or_else(|| {
        ApiError::BadRequest("il modulo non ha la parte `file` (il documento PDF)".into())
    })?;
    if sniff(&bytes) != Some("application/pdf") {
        return Err(ApiError::UnsupportedDocument(
            "il documento del percorso è un file PDF (riconosciuto dal contenuto, non dal nome)"
                .into(),
        ));
    }
    let kind = kind
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::Malformed {
            field: Some("kind".into()),
            message: "kind: indicare il tipo di documento (es. progetto_individualizzato)".into(),
        })?;
    if let Some(t) = &title
        && t.chars().count() > 200
    {
        return Err(ApiError::Malformed {
            field: Some("title".into()),
            message: "title: al massimo 200 caratteri".into(),
        });
    }
    let sha = hex::encode(Sha256::digest(&bytes));
    Ok(DocumentUpload {
        kind,
        title,
        bytes,
        sha,
        csrf,
    })
}

/// Upload a document of the pathway (the phase's responsabile or the case manager).
#[utoipa::path(post, path = "/v1/cases/{id}/documents", tag = "documents",
    request_body(content = DocumentForm, content_type = "multipart/form-data"),
    params(("id" = Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key and file gets the first answer", pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    responses(
        (status = 201, description = "recorded: `DocumentAdded` in `events`", body = crate::dto::CommandResult),
        (status = "4XX", description = "400 malformed-request (an unreadable form, no `file`, no `kind`, a title over 200 characters), 401, 403 document-not-allowed, 404 not-found, 409 pathway-closed, 413 payload-too-large (over 10 MiB), 415 unsupported-document-type (not a PDF by content, or not multipart), 422 rule refusals (document-kind-unknown, idempotency-key-reused)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn upload_document(
    State(state): State<AppState>,
    crate::auth::Auth(principal): crate::auth::Auth,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let method = req.method().clone();
    let path = request_path(&req);
    let multipart = Multipart::from_request(req, &state).await.map_err(|_| {
        ApiError::UnsupportedDocument(
            "il caricamento deve essere multipart/form-data con una parte `file`".into(),
        )
    })?;
    let upload = read_document_form(multipart).await?;
    let fingerprint = serde_json::json!({
        "document_sha256": upload.sha,
        "kind": upload.kind,
        "title": upload.title,
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
        add_document(&state, &principal, id, upload, ctx)
    })
    .await
}

/// Keeps the bytes, records the document; a refusal leaves no bytes behind.
pub(crate) async fn add_document(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    upload: DocumentUpload,
    ctx: WriteCtx,
) -> Result<Reply, ApiError> {
    readable_case(state, principal, id).await?;
    let inserted = store_document(
        &state.db,
        &upload.sha,
        "application/pdf",
        &upload.bytes,
        id,
        &principal.cf,
    )
    .await?;
    let command = CaseCommand::AddDocument(AddDocument {
        document_id: derived_id(ctx.command_id, "document"),
        kind: upload.kind,
        title: upload.title,
        document_sha256: Sha256Hex::parse(&upload.sha)
            .map_err(|e| ApiError::Internal(Box::new(e)))?,
        media_type: "application/pdf".into(),
    });
    let outcome = match run_case_command(state, principal, id, command, ctx).await {
        Ok(o) => o,
        Err(e) => {
            if inserted {
                let _ = delete_document(&state.db, &upload.sha).await;
            }
            return Err(e);
        }
    };
    let body = crate::dto::CommandResult {
        case_id: id,
        version: outcome.version,
        events: crate::dto::events_json(&outcome.events)?,
        entry_id: None,
        request_id: None,
    };
    let body = serde_json::to_value(body).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Reply::created(Some(outcome.version), body))
}

/// A one-page PDF with a title and a few lines (Helvetica, A4): the demo's documents of the
/// pathway. Characters outside Latin-1 are dropped.
pub fn simple_pdf(title: &str, lines: &[String]) -> Vec<u8> {
    use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
    let latin1 = |s: &str| -> Vec<u8> {
        s.chars()
            .filter_map(|c| u8::try_from(u32::from(c)).ok())
            .collect()
    };
    let (catalog, tree, page_id, font, contents) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    let font_name = Name(b"F1");
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
    page.parent(tree);
    page.contents(contents);
    page.resources().fonts().pair(font_name, font);
    page.finish();
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let mut content = Content::new();
    content.begin_text();
    content.set_font(font_name, 16.0);
    content.next_line(56.0, 780.0);
    content.show(Str(&latin1(title)));
    content.set_font(font_name, 11.0);
    for line in lines {
        content.next_line(0.0, -18.0);
        content.show(Str(&latin1(line)));
    }
    content.end_text();
    pdf.stream(contents, &content.finish());
    pdf.finish()
}
