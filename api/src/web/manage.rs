//! The case's management from its page: the responsabile sends chosen entries for confirmation
//! (phases III–IV) and re-sends an expired request, enables and disables professionals; the
//! case manager interrupts the pathway. Each is the same `CaseCommand` the API sends, through
//! the same handler; a refusal comes back on the case page with the rule's message.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use diario_commands::{Caller, CommandOptions, HandlerError};
use diario_domain::case::{
    DisableProfessional, EnableProfessional, InterruptPathway, RequestConfirmation,
    ResendConfirmation,
};
use diario_domain::{CaseCommand, Ente, FigureId, FiscalCode, Phase};
use uuid::Uuid;

use super::case::{EntryForm, page, urlencode};
use super::session::{self, MaybeSession, WebSession};
use super::{italian, see_other};
use crate::{ApiError, AppState};

/// The outcomes these actions send back to the case page (the page shows only known ones).
pub(super) const OUTCOMES: [&str; 13] = [
    SUSPENDED,
    REACTIVATED,
    AUTHORISED,
    OBJECTIVES,
    CHECKED,
    SENT,
    RESENT,
    CANCELLED,
    ENABLED,
    DISABLED,
    INTERRUPTED,
    super::paper::GENERATED,
    super::paper::UPLOADED,
];
const SENT: &str = "Richiesta di conferma inviata per le prestazioni scelte.";
const RESENT: &str = "Richiesta di conferma inviata di nuovo.";
const ENABLED: &str = "Professionista abilitato.";
const DISABLED: &str = "Professionista disabilitato.";
const INTERRUPTED: &str = "Percorso interrotto.";
const CANCELLED: &str = "Richiesta annullata: ora si può generare il diario cartaceo.";
const SUSPENDED: &str = "Sospensione comunicata: serve l'autorizzazione della Regione.";
const REACTIVATED: &str = "Riattivazione comunicata.";
const AUTHORISED: &str =
    "Proroga autorizzata: la validità del voucher si estende dei giorni sospesi.";
const OBJECTIVES: &str = "Obiettivi dichiarati con la relazione finale.";
const CHECKED: &str = "Verifica formale registrata.";

/// A form's fields, repeated ones included (`voce`, `figure`).
pub(super) type Fields = Vec<(String, String)>;

pub(super) fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

pub(super) fn all<'a>(fields: &'a Fields, name: &'a str) -> impl Iterator<Item = &'a str> {
    fields
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The entries ticked in a form (`voce`).
pub(super) fn chosen_entries(fields: &Fields) -> Result<Vec<Uuid>, String> {
    all(fields, "voce")
        .map(Uuid::parse_str)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "Una delle prestazioni scelte non esiste.".to_owned())
}

/// The case page again with `message` as the refusal.
async fn refused(
    state: &AppState,
    session: &WebSession,
    id: Uuid,
    message: String,
) -> Result<Response, ApiError> {
    page(
        state,
        session,
        id,
        StatusCode::UNPROCESSABLE_ENTITY,
        String::new(),
        &EntryForm::default(),
        None,
        Some(message),
    )
    .await
}

/// Checks the form's CSRF token, runs `command` (built from the form, or refused with a
/// message) on case `id` as the signed-in person, and sends them back to the case page with
/// `done`, once the read model shows it.
pub(super) async fn run(
    state: &AppState,
    headers: &HeaderMap,
    session: Option<WebSession>,
    id: Uuid,
    csrf: &str,
    command: Result<CaseCommand, String>,
    done: &str,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    if let Err(e) = session::check_form(state, headers, &session, csrf) {
        return Ok(super::message(
            StatusCode::FORBIDDEN,
            "Operazione non consentita",
            &e.to_string(),
            &format!("/pratiche/{id}"),
            "Torna alla pratica",
        ));
    }
    let command = match command {
        Ok(c) => c,
        Err(message) => return refused(state, &session, id, message).await,
    };
    let principal = session.principal(state).await?;
    match state
        .handler
        .execute_case(
            id,
            &command,
            &Caller::Person(&principal),
            &CommandOptions::new(),
        )
        .await
    {
        Ok(_) => {
            super::settle(state, diario_projections::diaries::NAME).await?;
            Ok(see_other(
                &format!("/pratiche/{id}?esito={}", urlencode(done)),
                None,
            ))
        }
        Err(HandlerError::Domain(d)) => {
            refused(
                state,
                &session,
                id,
                format!("Operazione non eseguita: {}", italian(&d.to_string())),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Sends the chosen entries of phase `n` for confirmation.
pub async fn request(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, n)): Path<(Uuid, u8)>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = (|| {
        let phase = Phase::try_from(n).map_err(|_| "Questa fase non esiste.".to_owned())?;
        let entry_ids = chosen_entries(&fields)?;
        if entry_ids.is_empty() {
            return Err("Scegliere almeno una prestazione da inviare in conferma.".to_owned());
        }
        Ok(CaseCommand::RequestConfirmation(RequestConfirmation {
            request_id: Uuid::now_v7(),
            phase,
            entry_ids,
        }))
    })();
    let csrf = field(&fields, "_csrf");
    run(&state, &headers, session, id, csrf, command, SENT).await
}

/// Sends an expired request again.
pub async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, request_id)): Path<(Uuid, Uuid)>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = Ok(CaseCommand::ResendConfirmation(ResendConfirmation {
        request_id,
    }));
    run(
        &state,
        &headers,
        session,
        id,
        field(&fields, "_csrf"),
        command,
        RESENT,
    )
    .await
}

/// Cancels, with a reason, a request whose FirmaLOM notification could not be delivered
/// (Art. 6); the paper diary becomes available.
pub async fn cancel_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, request_id)): Path<(Uuid, Uuid)>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let reason = field(&fields, "reason").trim();
    let command = if reason.is_empty() {
        Err("Indicare il motivo dell'annullamento della richiesta.".to_owned())
    } else {
        Ok(CaseCommand::CancelConfirmationRequest(
            diario_domain::case::CancelConfirmationRequest {
                request_id,
                reason: Some(reason.to_owned()),
            },
        ))
    };
    run(
        &state,
        &headers,
        session,
        id,
        field(&fields, "_csrf"),
        command,
        CANCELLED,
    )
    .await
}

fn ente(value: &str) -> Result<Ente, String> {
    match value {
        "asst" => Ok(Ente::Asst),
        "provider" => Ok(Ente::Provider),
        _ => Err("Ente non valido.".to_owned()),
    }
}

/// Enables a staff member of the ente for the chosen figures.
pub async fn enable(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = (|| {
        let ente = ente(field(&fields, "ente"))?;
        let professional = FiscalCode::parse(field(&fields, "professional"))
            .map_err(|_| "Scegliere la persona da abilitare.".to_owned())?;
        let figures: Vec<FigureId> = all(&fields, "figure").map(FigureId::new).collect();
        if figures.is_empty() {
            return Err("Scegliere almeno una figura professionale.".to_owned());
        }
        Ok(CaseCommand::EnableProfessional(EnableProfessional {
            ente,
            professional,
            figures,
        }))
    })();
    run(
        &state,
        &headers,
        session,
        id,
        field(&fields, "_csrf"),
        command,
        ENABLED,
    )
    .await
}

/// Disables a professional.
pub async fn disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, which, cf)): Path<(Uuid, String, String)>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = (|| {
        Ok(CaseCommand::DisableProfessional(DisableProfessional {
            ente: ente(&which)?,
            professional: FiscalCode::parse(&cf)
                .map_err(|_| "Codice fiscale non valido.".to_owned())?,
        }))
    })();
    run(
        &state,
        &headers,
        session,
        id,
        field(&fields, "_csrf"),
        command,
        DISABLED,
    )
    .await
}

/// The case manager interrupts the pathway, with the reason.
pub async fn interrupt(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let reason = field(&fields, "reason").trim();
    let cause = serde_json::from_value::<diario_domain::case::InterruptionCause>(
        serde_json::Value::from(field(&fields, "cause")),
    );
    let command = match cause {
        Err(_) => Err("Indicare il motivo dell'interruzione: la causa verificata.".to_owned()),
        Ok(cause) => Ok(CaseCommand::InterruptPathway(InterruptPathway {
            cause,
            reason: (!reason.is_empty()).then(|| reason.to_owned()),
        })),
    };
    run(
        &state,
        &headers,
        session,
        id,
        field(&fields, "_csrf"),
        command,
        INTERRUPTED,
    )
    .await
}

fn day(fields: &Fields, name: &str, label: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(field(fields, name), "%Y-%m-%d")
        .map_err(|_| format!("{label}: una data (AAAA-MM-GG)."))
}

/// Seed 003 §9 E: the case manager communicates a suspension from a day, with the reason.
pub async fn suspend(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = day(&fields, "from", "Sospeso dal").map(|from| {
        CaseCommand::SuspendPathway(diario_domain::case::SuspendPathway {
            from,
            reason: field(&fields, "reason").trim().to_owned(),
        })
    });
    let csrf = field(&fields, "_csrf");
    run(&state, &headers, session, id, csrf, command, SUSPENDED).await
}

/// Seed 003 §9 E: the case manager communicates the reactivation of the open suspension.
pub async fn reactivate(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = day(&fields, "suspended_from", "Sospensione").and_then(|suspended_from| {
        day(&fields, "on", "Riattivato dal").map(|on| {
            CaseCommand::ReactivatePathway(diario_domain::case::ReactivatePathway {
                suspended_from,
                on,
            })
        })
    });
    let csrf = field(&fields, "_csrf");
    run(&state, &headers, session, id, csrf, command, REACTIVATED).await
}

/// Seed 003 §9 E: the Region's operator authorises a suspension's extension.
pub async fn authorise(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = day(&fields, "suspended_from", "Sospensione").map(|suspended_from| {
        CaseCommand::AuthoriseSuspension(diario_domain::case::AuthoriseSuspension {
            suspended_from,
        })
    });
    let csrf = field(&fields, "_csrf");
    run(&state, &headers, session, id, csrf, command, AUTHORISED).await
}

/// Seed 003 §9 D, §12: the case manager declares the objectives with the final report.
pub async fn objectives(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = match (
        Uuid::parse_str(field(&fields, "document_id")),
        field(&fields, "achieved"),
    ) {
        (Err(_), _) => Err("Scegliere la relazione finale individuale.".to_owned()),
        (Ok(document_id), a @ ("si" | "no")) => Ok(CaseCommand::DeclareObjectives(
            diario_domain::case::DeclareObjectives {
                achieved: a == "si",
                document_id,
            },
        )),
        _ => Err("Indicare se gli obiettivi sono stati raggiunti.".to_owned()),
    };
    let csrf = field(&fields, "_csrf");
    run(&state, &headers, session, id, csrf, command, OBJECTIVES).await
}

/// Seed 003 §9 D: the case manager's formal check of the calendars and diaries.
pub async fn formal_check(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let note = field(&fields, "note").trim();
    let command = match field(&fields, "passed") {
        p @ ("si" | "no") => Ok(CaseCommand::RecordFormalCheck(
            diario_domain::case::RecordFormalCheck {
                passed: p == "si",
                note: (!note.is_empty()).then(|| note.to_owned()),
            },
        )),
        _ => Err("Indicare l'esito della verifica formale.".to_owned()),
    };
    let csrf = field(&fields, "_csrf");
    run(&state, &headers, session, id, csrf, command, CHECKED).await
}
