//! One of my entries (`/pratiche/{id}/prestazioni/{eid}`): its author corrects it (the same
//! `AmendEntry` command as `PATCH /v1/cases/{id}/entries/{eid}`) or withdraws it
//! (`WithdrawEntry`, as `DELETE …`) while the Regolamento allows it — the command handler
//! decides when; the page shows its refusal next to the field.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use diario_commands::{Caller, CommandOptions, HandlerError};
use diario_domain::case::{AmendEntry, WithdrawEntry};
use diario_domain::{CaseCommand, Ente, FigureId};
use uuid::Uuid;

use super::case::{Choice, EntryForm, field_of, forbidden, parse_entry};
use super::session::{self, MaybeSession, WebSession};
use super::{Chrome, italian, render, see_other};
use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "entry.html")]
struct EntryPage {
    chrome: Chrome,
    id: String,
    entry_id: String,
    pseudonym: String,
    phase: String,
    phase_number: u8,
    state: &'static str,
    figures: Vec<Choice>,
    services: Vec<Choice>,
    date: String,
    start: String,
    end: String,
    reason: String,
    error_field: String,
    error: String,
}

fn not_mine(id: Uuid) -> Response {
    super::message(
        StatusCode::NOT_FOUND,
        "Prestazione non trovata",
        "Nessuna tua prestazione con questo identificativo in questa pratica: si correggono e si ritirano solo le proprie.",
        &format!("/pratiche/{id}"),
        "Torna alla pratica",
    )
}

/// The page of entry `eid`, with `typed` values (after a refusal) or the entry's own.
async fn show(
    state: &AppState,
    session: &WebSession,
    (id, eid): (Uuid, Uuid),
    status: StatusCode,
    typed: Option<&EntryForm>,
    error: Option<(&str, String)>,
) -> Result<Response, ApiError> {
    let principal = session.principal(state).await?;
    let Ok((case, _)) = crate::reads::readable_case(state, &principal, id).await else {
        return Ok(not_mine(id));
    };
    let file = crate::reads::file_of(&case)?;
    let Some(entry) = file
        .entries
        .get(&eid)
        .filter(|e| e.professional == session.fiscal_code && !e.withdrawn)
    else {
        return Ok(not_mine(id));
    };
    let measure = crate::reads::measure_of(state, file)?;
    let rules = measure.phase(entry.phase);
    let ente: Option<Ente> = rules.map(|r| r.registered_by);
    // The figures I am enabled for in the phase's ente now, and the entry's own.
    let mut figures: Vec<FigureId> = ente
        .and_then(|e| file.professionals.get(&(e, session.fiscal_code.clone())))
        .map(|f| f.iter().cloned().collect())
        .unwrap_or_default();
    if !figures.contains(&entry.figure) {
        figures.push(entry.figure.clone());
    }
    let chosen_figure =
        typed.map_or_else(|| entry.figure.as_str().to_owned(), |t| t.figure.clone());
    let chosen_service =
        typed.map_or_else(|| entry.service.as_str().to_owned(), |t| t.service.clone());
    let state_label = if entry.confirmed {
        "confermata"
    } else if entry.pending_request.is_some() {
        "in attesa di conferma"
    } else if entry.rejected {
        "rifiutata"
    } else if entry.validated {
        "validata"
    } else {
        "in bozza"
    };
    let (error_field, error) = error.map(|(f, m)| (f.to_owned(), m)).unwrap_or_default();
    Ok(render(
        status,
        &EntryPage {
            chrome: Chrome::of(state, session, "").await?,
            id: id.to_string(),
            entry_id: eid.to_string(),
            pseudonym: file.recipient.pseudonym.clone(),
            phase: rules.map_or_else(
                || format!("Fase {}", entry.phase.number()),
                |r| format!("Fase {} – {}", entry.phase.number(), r.name),
            ),
            phase_number: entry.phase.number(),
            state: state_label,
            figures: figures
                .iter()
                .map(|f| Choice {
                    value: f.as_str().to_owned(),
                    label: measure
                        .figure(f)
                        .map_or_else(|| f.to_string(), |x| x.name.clone()),
                    selected: chosen_figure == f.as_str(),
                })
                .collect(),
            services: measure
                .services
                .iter()
                .filter(|s| s.phases.contains(&entry.phase))
                .filter(|s| s.figures.iter().any(|f| figures.contains(f)))
                .map(|s| Choice {
                    value: s.id.as_str().to_owned(),
                    label: s.name.clone(),
                    selected: chosen_service == s.id.as_str(),
                })
                .collect(),
            date: typed.map_or_else(|| entry.slot.date.to_string(), |t| t.date.clone()),
            reason: typed.map(|t| t.reason.clone()).unwrap_or_default(),
            start: typed.map_or_else(|| entry.slot.start_hhmm(), |t| t.start.clone()),
            end: typed.map_or_else(|| entry.slot.end_hhmm(), |t| t.end.clone()),
            error_field,
            error,
        },
    ))
}

/// Waits until the read models show the change.
async fn settled(state: &AppState) -> Result<(), ApiError> {
    super::settle(state, diario_projections::diaries::NAME).await
}

/// The page.
pub async fn page(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(ids): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other(&format!("/?next=/pratiche/{}", ids.0), None));
    };
    show(&state, &session, ids, StatusCode::OK, None, None).await
}

/// Corrects the entry.
pub async fn amend(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, eid)): Path<(Uuid, Uuid)>,
    Form(form): Form<EntryForm>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    if let Err(e) = session::check_form(&state, &headers, &session, &form.csrf) {
        return Ok(forbidden(id, e));
    }
    let refused = |field: &str, message: String| {
        let (state, session, form) = (&state, &session, &form);
        let field = field.to_owned();
        async move {
            show(
                state,
                session,
                (id, eid),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(form),
                Some((&field, message)),
            )
            .await
        }
    };
    let (_, figure, service, slot) = match parse_entry(&form) {
        Ok(parsed) => parsed,
        Err((field, message)) => return refused(field, message).await,
    };
    let reason = form.reason.trim();
    if reason.is_empty() {
        return refused(
            "reason",
            "Indicare l'errore materiale che si corregge.".into(),
        )
        .await;
    }
    let command = CaseCommand::AmendEntry(AmendEntry {
        entry_id: eid,
        figure,
        service,
        slot,
        system_failure_id: None,
        reason: Some(reason.to_owned()),
    });
    let principal = session.principal(&state).await?;
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
        Ok(_) => settled(&state).await.map(|()| {
            see_other(
                &format!(
                    "/pratiche/{id}?esito={}",
                    super::case::urlencode(super::case::AMENDED)
                ),
                None,
            )
        }),
        Err(HandlerError::Domain(d)) => refused(field_of(d.code()), italian(&d.to_string())).await,
        Err(e) => Err(e.into()),
    }
}

/// The withdrawal form: its CSRF token and the reason.
#[derive(Debug, serde::Deserialize)]
pub struct WithdrawForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// Withdraws the entry.
pub async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, eid)): Path<(Uuid, Uuid)>,
    Form(form): Form<WithdrawForm>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    if let Err(e) = session::check_form(&state, &headers, &session, &form.csrf) {
        return Ok(forbidden(id, e));
    }
    let reason = form.reason.trim();
    if reason.is_empty() {
        return show(
            &state,
            &session,
            (id, eid),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some((
                "withdraw_reason",
                "Indicare perché si ritira la prestazione.".into(),
            )),
        )
        .await;
    }
    let command = CaseCommand::WithdrawEntry(WithdrawEntry {
        entry_id: eid,
        reason: Some(reason.to_owned()),
    });
    let principal = session.principal(&state).await?;
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
        Ok(_) => settled(&state).await.map(|()| {
            see_other(
                &format!(
                    "/pratiche/{id}?esito={}",
                    super::case::urlencode(super::case::WITHDRAWN)
                ),
                None,
            )
        }),
        Err(HandlerError::Domain(d)) => {
            show(
                &state,
                &session,
                (id, eid),
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some((
                    "",
                    format!(
                        "La prestazione non è stata ritirata: {}",
                        italian(&d.to_string())
                    ),
                )),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
