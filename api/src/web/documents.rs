//! The documents of the pathway on the case page (Art. 1): the list with versions, FirmaLOM
//! answers and downloads, the upload form for the phase's responsabile or the case manager (the
//! same `AddDocument` as `POST /v1/cases/{id}/documents`), sharing with the family, and the
//! ATS's four-eyes check of paper scans (`CheckPaperScan`).

use axum::Form;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use diario_commands::Principal;
use diario_domain::case::{CheckPaperScan, ShareDocument};
use diario_domain::grants::GrantRole;
use diario_domain::{CaseCommand, CaseFile, Measure, RequestStatus, ScanCheck, Sha256Hex};
use uuid::Uuid;

use super::case::{forbidden, urlencode};
use super::manage::{Fields, field, run};
use super::session::{self, MaybeSession};
use super::{italian, see_other};
use crate::write::WriteCtx;
use crate::{ApiError, AppState};

pub(super) const ADDED: &str = "Documento registrato.";
pub(super) const SHARED: &str = "Documento inviato alla famiglia su FirmaLOM per conferma.";
pub(super) const CHECKED: &str = "Scansione verificata: le ore sono rendicontabili.";
pub(super) const REFUSED: &str = "Scansione respinta: il responsabile deve caricarne una nuova.";
/// The outcomes the case page shows after these forms.
pub(super) const OUTCOMES: [&str; 4] = [ADDED, SHARED, CHECKED, REFUSED];

/// One document on the page.
pub(super) struct DocRow {
    pub id: String,
    pub name: String,
    pub phase: u8,
    pub version: u32,
    pub title: String,
    pub by: String,
    pub at: String,
    pub sha: String,
    pub sha_short: String,
    pub firmalom: String,
    pub shareable: bool,
}

/// One paper scan and its check.
pub(super) struct ScanRow {
    pub paper_id: String,
    pub phase: u8,
    pub entries: usize,
    pub sha: String,
    pub sha_short: String,
    pub by: String,
    pub check: &'static str,
    pub reason: String,
    pub checkable: bool,
}

/// What the case page shows of the documents.
pub(super) struct DocumentsBlock {
    pub rows: Vec<DocRow>,
    /// "Fase I: Progetto individualizzato (PI)" for each output still missing.
    pub missing: Vec<String>,
    /// The kinds I may upload: (kind, "Fase N – name").
    pub kinds: Vec<(String, String)>,
    pub scans: Vec<ScanRow>,
    /// PDI raises after phase III hours, as the ATS reads them.
    pub raises: Vec<String>,
    /// The PDI version the caps come from.
    pub pdi_version: Option<String>,
}

fn rome(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::Rome)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// May `cf` record or share the documents of `phase` (its responsabile, the case manager)?
fn author(file: &CaseFile, measure: &Measure, phase: diario_domain::Phase, cf: &str) -> bool {
    file.interrupted_at.is_none()
        && (file.case_manager.as_str() == cf
            || measure
                .phase(phase)
                .and_then(|r| file.responsabile(r.registered_by))
                .is_some_and(|r| r.as_str() == cf))
}

pub(super) fn block(
    file: &CaseFile,
    measure: &Measure,
    principal: &Principal,
    names: &diario_projections::Names,
) -> DocumentsBlock {
    let me = principal.cf.as_str();
    let mut rows: Vec<DocRow> = file
        .documents
        .values()
        .map(|d| {
            let pending = d.shares.iter().any(|s| s.status == RequestStatus::Pending);
            let firmalom = match d.shares.last() {
                None => String::new(),
                Some(s) => match s.status {
                    RequestStatus::Pending => "inviato, in attesa di conferma".to_owned(),
                    RequestStatus::Confirmed => format!(
                        "confermato da {}",
                        s.answered_by
                            .as_ref()
                            .map_or_else(String::new, |c| names.label(c.as_str()))
                    ),
                    RequestStatus::Rejected => format!(
                        "respinto{}",
                        s.reason
                            .as_ref()
                            .map_or_else(String::new, |r| format!(": {r}"))
                    ),
                    _ => "non più in attesa".to_owned(),
                },
            };
            DocRow {
                id: d.id.to_string(),
                name: measure
                    .document(&d.kind)
                    .map_or_else(|| d.kind.clone(), |r| r.name.clone()),
                phase: u8::from(d.phase),
                version: d.version,
                title: d.title.clone(),
                by: names.label(d.by.as_str()),
                at: rome(d.at),
                sha: d.sha256.as_str().to_owned(),
                sha_short: short(d.sha256.as_str()),
                firmalom,
                shareable: !pending
                    && file.recipient.firmalom_enrolled
                    && author(file, measure, d.phase, me),
            }
        })
        .collect();
    rows.sort_by(|a, b| (a.phase, &a.name, a.version).cmp(&(b.phase, &b.name, b.version)));
    let missing = measure
        .documents
        .iter()
        .filter(|r| r.closes_phase && file.latest_document(&r.kind).is_none())
        .map(|r| format!("Fase {}: {}", r.phase, r.name))
        .collect();
    let kinds = measure
        .documents
        .iter()
        .filter(|r| author(file, measure, r.phase, me))
        .map(|r| (r.kind.clone(), format!("Fase {} – {}", r.phase, r.name)))
        .collect();
    let ats_checker = principal.has(GrantRole::AtsOperator, &file.ats);
    let scans = file
        .requests
        .values()
        .filter_map(|r| r.scan.as_ref().map(|s| (r, s)))
        .map(|(r, s)| ScanRow {
            paper_id: r.id.to_string(),
            phase: u8::from(r.phase),
            entries: r.entries.len(),
            sha: s.sha256.as_str().to_owned(),
            sha_short: short(s.sha256.as_str()),
            by: names.label(s.uploaded_by.as_str()),
            check: match s.check {
                ScanCheck::AwaitingCheck => "in attesa di verifica dell'ATS",
                ScanCheck::Checked => "verificata dall'ATS",
                ScanCheck::Refused => "respinta dall'ATS",
            },
            reason: s.reason.clone().unwrap_or_default(),
            checkable: ats_checker
                && s.check == ScanCheck::AwaitingCheck
                && s.uploaded_by.as_str() != me
                && !file.is_any_responsabile(&principal.cf)
                && file.case_manager != principal.cf,
        })
        .collect();
    let (raises, pdi_version) = match &file.pdi {
        Some(p) => (
            p.raises
                .iter()
                .map(|r| {
                    format!(
                        "{}: massimali aumentati da {} dopo ore già registrate – {}",
                        rome(r.at),
                        names.label(r.by.as_str()),
                        r.reason
                    )
                })
                .collect(),
            p.document.as_ref().map(|d| {
                format!(
                    "versione {} (SHA-256 {})",
                    d.version,
                    short(d.document_sha256.as_str())
                )
            }),
        ),
        None => (Vec::new(), None),
    };
    DocumentsBlock {
        rows,
        missing,
        kinds,
        scans,
        raises,
        pdi_version,
    }
}

/// What a refused upload says on the page.
fn upload_refusal(e: &ApiError) -> String {
    match e {
        ApiError::Domain(d) => italian(&d.to_string()),
        ApiError::PayloadTooLarge(max) => format!("Il file supera {} MB.", max / (1024 * 1024)),
        ApiError::UnsupportedDocument(_) => {
            "Il file non è un PDF (riconosciuto dal contenuto, non dal nome).".to_owned()
        }
        ApiError::Malformed { message, .. } => italian(message),
        ApiError::BadRequest(_) => "Scegliere il file PDF del documento.".to_owned(),
        other => italian(&other.to_string()),
    }
}

/// Uploads a document of the pathway.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    req: Request,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    let refused = |message: String| {
        let (state, session) = (&state, &session);
        async move {
            super::case::refused(
                state,
                session,
                id,
                format!("Documento non registrato: {message}"),
            )
            .await
        }
    };
    let Ok(multipart) = Multipart::from_request(req, &state).await else {
        return refused("il modulo non contiene il file.".into()).await;
    };
    let upload = match crate::documents::read_document_form(multipart).await {
        Ok(u) => u,
        Err(e) => return refused(upload_refusal(&e)).await,
    };
    let csrf = upload.csrf.clone().unwrap_or_default();
    if let Err(e) = session::check_form(&state, &headers, &session, &csrf) {
        return Ok(forbidden(id, e));
    }
    let principal = session.principal(&state).await?;
    let ctx = WriteCtx {
        command_id: Uuid::now_v7(),
        expected: None,
    };
    match crate::documents::add_document(&state, &principal, id, upload, ctx).await {
        Ok(_) => {
            super::settle(&state, diario_projections::diaries::NAME).await?;
            Ok(see_other(
                &format!("/pratiche/{id}?esito={}#documenti", urlencode(ADDED)),
                None,
            ))
        }
        Err(e @ (ApiError::Domain(_) | ApiError::Unprocessable { .. })) => {
            refused(upload_refusal(&e)).await
        }
        Err(e) => Err(e),
    }
}

/// Downloads a document or a paper scan of the case (whoever may read it; logged).
pub async fn download(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path((id, sha)): Path<(Uuid, String)>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    let missing = || {
        super::message(
            StatusCode::NOT_FOUND,
            "Documento non disponibile",
            "Questa pratica non ha un documento con questo identificativo che tu possa scaricare.",
            &format!("/pratiche/{id}"),
            "Torna alla pratica",
        )
    };
    let principal = session.principal(&state).await?;
    let (Ok((case, _)), Ok(sha)) = (
        crate::reads::readable_case(&state, &principal, id).await,
        Sha256Hex::parse(&sha),
    ) else {
        return Ok(missing());
    };
    let file = crate::reads::file_of(&case)?;
    let of_case = file.documents.values().any(|d| d.sha256 == sha)
        || file
            .requests
            .values()
            .any(|r| r.scan.as_ref().is_some_and(|s| s.sha256 == sha));
    let row = state
        .db
        .fetch_optional(
            "SELECT media_type, bytes FROM documents WHERE sha256 = $1",
            &[sha.as_str().into()],
        )
        .await?;
    let Some(row) = row.filter(|_| of_case) else {
        return Ok(missing());
    };
    crate::access_log::record(
        &state,
        &principal,
        file,
        "document",
        Some(sha.as_str().to_owned()),
    )
    .await?;
    let mut response = (StatusCode::OK, row.bytes("bytes")?).into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&row.text("media_type")?) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let extension = match row.text("media_type")?.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        _ => "bin",
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"documento-{}.{extension}\"",
        short(sha.as_str())
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// Sends a document to the family's FirmaLOM app.
pub async fn share(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, did)): Path<(Uuid, Uuid)>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = Ok(CaseCommand::ShareDocument(ShareDocument {
        document_id: did,
        request_id: Uuid::now_v7(),
    }));
    run(
        &state,
        &headers,
        session,
        id,
        field(&fields, "_csrf"),
        command,
        SHARED,
    )
    .await
}

/// The ATS's check of a paper scan: `esito` = `verificata` or `respinta` (with `motivo`).
pub async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, pid)): Path<(Uuid, Uuid)>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let accepted = field(&fields, "esito") == "verificata";
    let reason = Some(field(&fields, "motivo").to_owned()).filter(|r| !r.trim().is_empty());
    let command = Ok(CaseCommand::CheckPaperScan(CheckPaperScan {
        paper_id: pid,
        accepted,
        reason,
    }));
    run(
        &state,
        &headers,
        session,
        id,
        field(&fields, "_csrf"),
        command,
        if accepted { CHECKED } else { REFUSED },
    )
    .await
}
