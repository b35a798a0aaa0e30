//! The paper diary from the case page (Art. 6, a family without FirmaLOM): the phase's
//! responsabile generates it (`GeneratePaperDiary`: the closed diary of phases I–II, or the
//! chosen entries of phases III–IV), downloads the PDF to sign (`case::paper_diary`) and
//! uploads the signed scan — the same checks and the same `UploadPaperConfirmation` as
//! `POST /v1/cases/{id}/phases/{n}/paper-confirmation`.

use axum::Form;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use diario_domain::case::GeneratePaperDiary;
use diario_domain::{CaseCommand, Phase};
use uuid::Uuid;

use super::case::{forbidden, urlencode};
use super::manage::{Fields, chosen_entries, field, run};
use super::session::{self, MaybeSession};
use super::{italian, see_other};
use crate::write::WriteCtx;
use crate::{ApiError, AppState};

pub(super) const GENERATED: &str = "Diario cartaceo generato: scaricalo e fallo firmare.";
pub(super) const UPLOADED: &str = "Scansione firmata caricata: prestazioni confermate.";

/// Generates the phase's paper diary.
pub async fn generate(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, n)): Path<(Uuid, u8)>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = (|| {
        let phase = Phase::try_from(n).map_err(|_| "Questa fase non esiste.".to_owned())?;
        let chosen = chosen_entries(&fields)?;
        Ok(CaseCommand::GeneratePaperDiary(GeneratePaperDiary {
            paper_id: Uuid::now_v7(),
            phase,
            entry_ids: (!chosen.is_empty()).then_some(chosen),
        }))
    })();
    run(
        &state,
        &headers,
        session,
        id,
        field(&fields, "_csrf"),
        command,
        GENERATED,
    )
    .await
}

/// What an upload's refusal says on the page.
fn upload_refusal(e: &ApiError) -> String {
    match e {
        ApiError::Domain(d) => italian(&d.to_string()),
        ApiError::PayloadTooLarge(max) => {
            format!("Il file supera {} MB.", max / (1024 * 1024))
        }
        ApiError::UnsupportedDocument(_) => {
            "Il file non è un PDF, un JPEG o un PNG (riconosciuto dal contenuto, non dal nome)."
                .to_owned()
        }
        ApiError::BadRequest(m) if m.contains("signed_by") => {
            "Scegliere chi ha firmato il diario.".to_owned()
        }
        ApiError::BadRequest(_) => "Scegliere il file della scansione firmata.".to_owned(),
        other => italian(&other.to_string()),
    }
}

/// Uploads the signed scan of the pending paper diary of phase `n`.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, n)): Path<(Uuid, u8)>,
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
                format!("Scansione non caricata: {message}"),
            )
            .await
        }
    };
    let Ok(phase) = Phase::try_from(n) else {
        return refused("questa fase non esiste.".into()).await;
    };
    let Ok(multipart) = Multipart::from_request(req, &state).await else {
        return refused("il modulo non contiene il file.".into()).await;
    };
    let upload = match crate::paper::read_form(multipart, id, phase).await {
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
    match crate::paper::upload_paper_confirmation(&state, &principal, upload, ctx).await {
        Ok(_) => {
            super::settle(&state, diario_projections::diaries::NAME).await?;
            Ok(see_other(
                &format!("/pratiche/{id}?esito={}", urlencode(UPLOADED)),
                None,
            ))
        }
        Err(e @ (ApiError::Domain(_) | ApiError::Unprocessable { .. })) => {
            refused(upload_refusal(&e)).await
        }
        Err(e) => Err(e),
    }
}
