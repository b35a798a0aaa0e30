//! The system failures page (`/malfunzionamenti`, Art. 9): the list the support desk "produce
//! su richiesta", each failure with the entries registered late relying on it (only those of
//! cases the reader may read); for the support desk, the forms that declare a failure and
//! record its resolution — the same `FailureCommand`s as `POST /v1/system-failures`.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use diario_commands::{CommandOptions, HandlerError};
use diario_domain::grants::GrantRole;
use diario_domain::{FailureCommand, FailureScope, OrgKind};
use diario_projections::{FailureFilter, PageRequest, SystemFailureView};
use serde::Deserialize;
use uuid::Uuid;

use super::session::{self, MaybeSession, WebSession};
use super::{Chrome, italian, render, see_other};
use crate::{ApiError, AppState};

/// Resolved failures are listed for this many days.
const RESOLVED_DAYS: i64 = 180;

struct Relying {
    case_id: String,
    case: String,
    date: String,
    professional: String,
    minutes: i64,
    state: &'static str,
}

struct FailureRow {
    id: String,
    ticket: String,
    scope: String,
    description: String,
    began: String,
    /// When the operator's ticket was opened (none for declarations before it was asked).
    ticket_opened: Option<String>,
    declared: String,
    resolved: Option<String>,
    declared_by: String,
    entries: Vec<Relying>,
}

/// The values typed in one of the forms, to show again after a refusal.
#[derive(Debug, Default, Deserialize)]
pub struct FailureForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    began_at: String,
    #[serde(default)]
    ticket_opened_at: String,
    #[serde(default)]
    resolved_at: String,
}

#[derive(Template)]
#[template(path = "failures.html")]
struct FailuresPage {
    chrome: Chrome,
    support: bool,
    notice: String,
    /// (value, label, selected)
    scopes: Vec<(String, String, bool)>,
    typed: FailureForm,
    now: String,
    /// The refused field of the declaration form (`scope`, `ticket`, `description`,
    /// `began_at`) or `""`, and its message.
    error_field: String,
    error: String,
    /// The failure whose resolution was refused, and why.
    resolve_error: Option<(String, String)>,
    open: Vec<FailureRow>,
    resolved: Vec<FailureRow>,
    resolved_days: i64,
}

#[derive(Debug, Deserialize)]
pub struct FailuresQuery {
    esito: Option<String>,
}

const DECLARED: &str = "Malfunzionamento dichiarato.";
const RESOLVED: &str = "Risoluzione registrata.";

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Rome).format("%d/%m/%Y %H:%M").to_string()
}

/// A `datetime-local` value read in Europe/Rome; a time that does not exist (the spring DST
/// night) is refused, an ambiguous one (the autumn night) is the earlier instant.
fn parse_local(value: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M").ok()?;
    Rome.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn is_support(p: &diario_commands::Principal) -> bool {
    p.has_any(GrantRole::Support)
}

#[allow(clippy::too_many_arguments)]
async fn page(
    state: &AppState,
    session: &WebSession,
    status: StatusCode,
    notice: String,
    typed: FailureForm,
    error: Option<(&str, String)>,
    resolve_error: Option<(String, String)>,
) -> Result<Response, ApiError> {
    let principal = session.principal(state).await?;
    let now = state.handler.now();
    let open = super::super::reads::readable_failures(
        state,
        &principal,
        &FailureFilter {
            unresolved: Some(true),
            ..FailureFilter::default()
        },
        &PageRequest::first(500),
    )
    .await?;
    let resolved = super::super::reads::readable_failures(
        state,
        &principal,
        &FailureFilter {
            unresolved: Some(false),
            from: Some(now - Duration::days(RESOLVED_DAYS)),
            ..FailureFilter::default()
        },
        &PageRequest::first(500),
    )
    .await?;
    let (registry, _) = state.handler.organisations().await?;
    let org = |code: &str| {
        registry
            .get(code)
            .map_or_else(|| code.to_owned(), |o| o.name.clone())
    };
    let people: Vec<String> = open
        .items
        .iter()
        .chain(&resolved.items)
        .flat_map(|f| {
            f.entries
                .iter()
                .map(|e| e.professional.clone())
                .chain([f.declared_by.clone()])
        })
        .collect();
    let names = diario_projections::names(&state.db, people.iter().map(String::as_str)).await?;
    let pseudonyms = super::pseudonyms(
        state,
        open.items
            .iter()
            .chain(&resolved.items)
            .flat_map(|f| f.entries.iter().map(|e| e.case_id))
            .collect(),
    )
    .await?;
    let row = |f: &SystemFailureView| FailureRow {
        id: f.failure_id.to_string(),
        ticket: f.ticket.clone(),
        scope: match &f.ente {
            Some(ente) => format!("Sistema dell'ente {}", org(ente)),
            None => "Sistema informativo regionale".to_owned(),
        },
        description: f.description.clone(),
        began: local(f.began_at),
        ticket_opened: f.ticket_opened_at.map(local),
        declared: local(f.declared_at),
        resolved: f.resolved_at.map(local),
        declared_by: names.label(&f.declared_by),
        entries: f
            .entries
            .iter()
            .map(|e| Relying {
                case_id: e.case_id.to_string(),
                case: pseudonyms[&e.case_id].clone(),
                date: e.date.format("%d/%m/%Y").to_string(),
                professional: names.label(&e.professional),
                minutes: e.minutes,
                state: super::case::state_label(e.state),
            })
            .collect(),
    };
    let mut scopes = vec![(
        "regional".to_owned(),
        "Sistema informativo regionale (tutte le pratiche)".to_owned(),
        typed.scope.is_empty() || typed.scope == "regional",
    )];
    let mut entes: Vec<_> = registry
        .iter()
        .filter(|o| matches!(o.kind, OrgKind::Asst | OrgKind::Provider))
        .collect();
    entes.sort_by(|a, b| a.name.cmp(&b.name));
    scopes.extend(entes.into_iter().map(|o| {
        (
            o.code.clone(),
            format!("Sistema dell'ente: {}", o.name),
            typed.scope == o.code,
        )
    }));
    let (error_field, error) = error.map(|(f, m)| (f.to_owned(), m)).unwrap_or_default();
    Ok(render(
        status,
        &FailuresPage {
            chrome: Chrome::of(state, session, "/malfunzionamenti").await?,
            support: is_support(&principal),
            notice,
            scopes,
            typed,
            now: now
                .with_timezone(&Rome)
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
            error_field,
            error,
            resolve_error,
            open: open.items.iter().map(row).collect(),
            resolved: resolved.items.iter().rev().map(row).collect(),
            resolved_days: RESOLVED_DAYS,
        },
    ))
}

/// The list, and the support desk's forms.
pub async fn show(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Query(q): Query<FailuresQuery>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/?next=/malfunzionamenti", None));
    };
    let notice = q
        .esito
        .filter(|e| [DECLARED, RESOLVED].contains(&e.as_str()))
        .unwrap_or_default();
    page(
        &state,
        &session,
        StatusCode::OK,
        notice,
        FailureForm::default(),
        None,
        None,
    )
    .await
}

fn forbidden(e: impl std::fmt::Display) -> Response {
    super::message(
        StatusCode::FORBIDDEN,
        "Operazione non consentita",
        &e.to_string(),
        "/malfunzionamenti",
        "Torna ai malfunzionamenti",
    )
}

/// Declares a failure.
pub async fn declare(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Form(form): Form<FailureForm>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    if let Err(e) = session::check_form(&state, &headers, &session, &form.csrf) {
        return Ok(forbidden(e));
    }
    let refused = |form, field, message: String| {
        let state = &state;
        let session = &session;
        async move {
            page(
                state,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                String::new(),
                form,
                Some((field, message)),
                None,
            )
            .await
        }
    };
    let scope = match form.scope.as_str() {
        "" | "regional" => FailureScope::Regional,
        ente => FailureScope::Ente {
            ente: ente.to_owned(),
        },
    };
    if form.ticket.trim().is_empty() {
        return refused(form, "ticket", "Indicare il numero del ticket.".into()).await;
    }
    if form.description.trim().is_empty() {
        return refused(
            form,
            "description",
            "Descrivere il malfunzionamento.".into(),
        )
        .await;
    }
    let Some(began_at) = parse_local(&form.began_at) else {
        return refused(
            form,
            "began_at",
            "Indicare data e ora di inizio (ora di Roma).".into(),
        )
        .await;
    };
    let ticket_opened_at = match form.ticket_opened_at.trim() {
        "" => None,
        typed => match parse_local(typed) {
            Some(t) => Some(t),
            None => {
                return refused(
                    form,
                    "ticket_opened_at",
                    "Indicare data e ora di apertura del ticket (ora di Roma).".into(),
                )
                .await;
            }
        },
    };
    let command = FailureCommand::DeclareSystemFailure {
        failure_id: Uuid::now_v7(),
        scope,
        ticket: form.ticket.trim().to_owned(),
        description: form.description.trim().to_owned(),
        began_at,
        ticket_opened_at,
    };
    let principal = session.principal(&state).await?;
    match state
        .handler
        .execute_failure(&command, &principal.support_actor(), &CommandOptions::new())
        .await
    {
        Ok(_) => {
            super::settle(&state, diario_projections::failures::NAME).await?;
            Ok(see_other(
                &format!(
                    "/malfunzionamenti?esito={}",
                    super::case::urlencode(DECLARED)
                ),
                None,
            ))
        }
        Err(HandlerError::Domain(d)) => {
            let field = match d.code() {
                "invalid-failure-times" | "ticket-not-immediate" => "began_at",
                _ => "",
            };
            refused(form, field, italian(&d.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Records the resolution of failure `id`.
pub async fn resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Form(form): Form<FailureForm>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    if let Err(e) = session::check_form(&state, &headers, &session, &form.csrf) {
        return Ok(forbidden(e));
    }
    let outcome = match parse_local(&form.resolved_at) {
        None => Err("Indicare data e ora della risoluzione (ora di Roma).".to_owned()),
        Some(resolved_at) => {
            let principal = session.principal(&state).await?;
            let command = FailureCommand::ResolveSystemFailure {
                failure_id: id,
                resolved_at,
            };
            match state
                .handler
                .execute_failure(&command, &principal.support_actor(), &CommandOptions::new())
                .await
            {
                Ok(_) => Ok(()),
                Err(HandlerError::Domain(d)) => Err(italian(&d.to_string())),
                Err(e) => return Err(e.into()),
            }
        }
    };
    match outcome {
        Ok(()) => {
            super::settle(&state, diario_projections::failures::NAME).await?;
            Ok(see_other(
                &format!(
                    "/malfunzionamenti?esito={}",
                    super::case::urlencode(RESOLVED)
                ),
                None,
            ))
        }
        Err(message) => {
            page(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                String::new(),
                FailureForm::default(),
                None,
                Some((id.to_string(), message)),
            )
            .await
        }
    }
}
