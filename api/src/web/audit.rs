//! The auditor's pages of a case: the timeline (`/pratiche/{id}/storico`: every event with
//! who did it, as what, when, what changed, its place in the hash chain, and the chain checked
//! now against the event store; the case as of a chosen instant next to how it is now) and
//! the Art. 8 checklists stored when each request was sent (`/pratiche/{id}/checklist`). The
//! same read models and access policy as `GET /v1/cases/{id}/audit-trail`, `…/history` and
//! `…/checklists`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use diario_commands::access;
use diario_projections::{CaseDiary, ChecklistFilter, PageRequest};
use serde::Deserialize;
use uuid::Uuid;

use super::me::{duration, figure_name};
use super::session::{MaybeSession, WebSession};
use super::{Chrome, render, see_other};
use crate::{ApiError, AppState};

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Rome)
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

fn role_label(role: &str) -> &str {
    match role {
        "staff" => "personale dell'ente",
        "ats_operator" => "operatore ATS",
        "ente_admin" => "amministratore dell'ente",
        "recipient" => "destinatario o famiglia",
        "support" => "assistenza",
        "auditor" => "revisore",
        "system" => "sistema",
        other => other,
    }
}

struct EventRow {
    version: i64,
    occurred: String,
    /// The store's clock, when it differs from the decision's.
    recorded: Option<String>,
    actor: String,
    description: String,
    hash: String,
    prev_hash: String,
}

/// One line of the comparison "then / now".
struct Compared {
    what: String,
    then: String,
    now: String,
    changed: bool,
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelinePage {
    chrome: Chrome,
    id: String,
    pseudonym: String,
    intact: bool,
    checked: usize,
    broken: String,
    events: Vec<EventRow>,
    as_of: String,
    as_of_error: Option<String>,
    /// `None`: no instant chosen; `Some(empty)`: the case did not exist yet.
    compared: Option<Vec<Compared>>,
    as_of_label: String,
}

#[derive(Debug, Deserialize)]
pub struct TimelineQuery {
    /// `AAAA-MM-GGTHH:MM`, Europe/Rome.
    al: Option<String>,
}

/// The case if `session` may audit it, or the page that says it is not there for them.
async fn auditable(
    state: &AppState,
    session: &WebSession,
    id: Uuid,
    check: fn(&diario_commands::Principal, &diario_domain::CaseFile) -> Result<(), access::Denied>,
) -> Result<Result<diario_domain::CaseState, Response>, ApiError> {
    let principal = session.principal(state).await?;
    let not_here = || {
        super::message(
            StatusCode::NOT_FOUND,
            "Pagina non disponibile",
            "Lo storico e le checklist di una pratica sono consultabili dall'ATS della pratica e dai revisori (le checklist anche dai responsabili).",
            &format!("/pratiche/{id}"),
            "Torna alla pratica",
        )
    };
    let Ok((case, _)) = crate::reads::readable_case(state, &principal, id).await else {
        return Ok(Err(not_here()));
    };
    let file = crate::reads::file_of(&case)?;
    if check(&principal, file).is_err() {
        return Ok(Err(not_here()));
    }
    crate::access_log::record(state, &principal, file, "audit-page", None).await?;
    Ok(Ok(case))
}

/// Per phase: status, live entries, minutes, confirmed minutes.
fn summary(d: &CaseDiary) -> Vec<(String, String)> {
    let mut out = vec![
        (
            "Stato della pratica".to_owned(),
            super::case::case_status_label(d.status).to_owned(),
        ),
        ("Minuti registrati".to_owned(), duration(d.minutes)),
        (
            "Minuti confermati".to_owned(),
            duration(d.confirmed_minutes),
        ),
    ];
    for p in &d.diaries {
        out.push((
            format!("Fase {}", p.phase),
            format!(
                "diario {}, {} prestazioni, {} registrate, {} confermate",
                super::case::diary_label(p.status),
                p.entries_count,
                duration(p.minutes),
                duration(p.confirmed_minutes)
            ),
        ));
    }
    out
}

/// The timeline of a case.
pub async fn timeline(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Query(q): Query<TimelineQuery>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other(&format!("/?next=/pratiche/{id}/storico"), None));
    };
    let case = match auditable(&state, &session, id, access::audit_case).await? {
        Ok(c) => c,
        Err(page) => return Ok(page),
    };
    let mut records = Vec::new();
    let mut cursor = None;
    loop {
        let page =
            diario_projections::audit_trail(&state.db, id, &PageRequest::after(cursor.take(), 500))
                .await?;
        records.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let report = diario_projections::verify_case(state.store.as_ref(), id).await?;
    let mut codes: Vec<String> = records.iter().map(|r| r.actor_cf.clone()).collect();
    for r in &records {
        codes.extend(crate::names::codes_in(&r.description).map(str::to_owned));
    }
    codes.push(session.fiscal_code.as_str().to_owned());
    let names = diario_projections::names(&state.db, codes.iter().map(String::as_str)).await?;
    let events = records
        .iter()
        .map(|r| EventRow {
            version: r.stream_version,
            occurred: local(r.occurred_at),
            recorded: (r.recorded_at.timestamp() != r.occurred_at.timestamp())
                .then(|| local(r.recorded_at)),
            actor: if r.actor_cf == "system" {
                "Sistema (scadenze automatiche)".to_owned()
            } else {
                format!(
                    "{}, {}",
                    names.label(&r.actor_cf),
                    role_label(&r.actor_role)
                )
            },
            description: crate::names::name_codes(&r.description, &names),
            hash: r.hash.chars().take(16).collect(),
            prev_hash: r.prev_hash.chars().take(16).collect(),
        })
        .collect();
    let now_diary = diario_projections::case_diary_consistent(
        &state.db,
        &case,
        state.handler.catalogue(),
        state.handler.now(),
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    let (mut as_of_error, mut compared, mut as_of_label) = (None, None, String::new());
    if let Some(al) = q.al.as_deref().filter(|a| !a.is_empty()) {
        let instant = NaiveDateTime::parse_from_str(al, "%Y-%m-%dT%H:%M")
            .ok()
            .and_then(|n| Rome.from_local_datetime(&n).earliest())
            .map(|t| t.with_timezone(&Utc));
        match instant {
            None => {
                as_of_error = Some(format!(
                    "«{al}» non è un istante valido: indicare data e ora (ora di Roma)."
                ));
            }
            Some(t) => {
                as_of_label = local(t);
                let then = diario_projections::history_as_of(
                    state.store.as_ref(),
                    state.handler.catalogue(),
                    id,
                    t,
                )
                .await?;
                let now_lines = summary(&now_diary);
                compared = Some(match then {
                    None => Vec::new(),
                    Some(then) => {
                        let then_lines = summary(&then);
                        now_lines
                            .iter()
                            .map(|(what, now)| {
                                let then = then_lines
                                    .iter()
                                    .find(|(w, _)| w == what)
                                    .map_or_else(|| "—".to_owned(), |(_, v)| v.clone());
                                Compared {
                                    what: what.clone(),
                                    changed: &then != now,
                                    then,
                                    now: now.clone(),
                                }
                            })
                            .collect()
                    }
                });
            }
        }
    }
    let status = if as_of_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &TimelinePage {
            chrome: Chrome::of(&state, &session, "").await?,
            id: id.to_string(),
            pseudonym: now_diary.recipient_pseudonym.clone(),
            intact: report.is_intact(),
            checked: report.events_checked,
            broken: report
                .first_break
                .as_ref()
                .map(|b| format!("versione {}: {}", b.version, b.reason))
                .unwrap_or_default(),
            events,
            as_of: q.al.unwrap_or_default(),
            as_of_error,
            compared,
            as_of_label,
        },
    ))
}

struct CheckRow {
    description: String,
    subject: String,
    limit: String,
    actual: String,
    passed: bool,
    blocking: bool,
}

struct ChecklistBlock {
    title: String,
    computed: String,
    stored_by: String,
    entries: usize,
    minutes: String,
    by_figure: String,
    cost: String,
    counted: String,
    passed: bool,
    checks: Vec<CheckRow>,
}

#[derive(Template)]
#[template(path = "checklists.html")]
struct ChecklistsPage {
    chrome: Chrome,
    id: String,
    pseudonym: String,
    lists: Vec<ChecklistBlock>,
}

/// "€ 1.234,56".
pub(super) fn euro(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let a = cents.unsigned_abs();
    let units = (a / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    format!("{sign}€ {grouped},{:02}", a % 100)
}

/// The stored checklists of a case.
pub async fn checklists(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other(&format!("/?next=/pratiche/{id}/checklist"), None));
    };
    let case = match auditable(&state, &session, id, access::read_checklists).await? {
        Ok(c) => c,
        Err(page) => return Ok(page),
    };
    let pseudonym = crate::reads::file_of(&case)?.recipient.pseudonym.clone();
    let stored = diario_projections::checklists(
        &state.db,
        &ChecklistFilter {
            case_id: Some(id),
            ..ChecklistFilter::default()
        },
        &PageRequest::first(500),
    )
    .await?;
    let people: Vec<&str> = stored.items.iter().map(|c| c.stored_by.as_str()).collect();
    let names = diario_projections::names(&state.db, people).await?;
    let catalogue = state.handler.catalogue();
    let lists = stored
        .items
        .iter()
        .map(|c| ChecklistBlock {
            title: format!(
                "Fase {} – {}",
                c.phase,
                match c.kind.as_str() {
                    "paper" => "diario cartaceo",
                    "resend" => "nuovo invio della richiesta di conferma",
                    _ => "richiesta di conferma",
                }
            ),
            computed: local(c.computed_at),
            stored_by: names.label(&c.stored_by),
            entries: c.entry_ids.len(),
            minutes: duration(c.request_minutes),
            by_figure: c
                .request_minutes_by_figure
                .iter()
                .map(|(f, m)| format!("{}: {}", figure_name(catalogue, f), duration(*m)))
                .collect::<Vec<_>>()
                .join("; "),
            cost: euro(c.request_cost_cents),
            counted: duration(c.counted_minutes),
            passed: c.passed,
            checks: c
                .checks
                .iter()
                .map(|k| {
                    // Caps compare minutes; formal checks count the entries that fail them.
                    let minutes = k.limit.is_some();
                    let show = |v: Option<i64>| {
                        v.map_or_else(
                            || "—".to_owned(),
                            |v| {
                                if minutes {
                                    duration(v)
                                } else {
                                    format!("{v} non conformi")
                                }
                            },
                        )
                    };
                    CheckRow {
                        description: super::italian(&k.description),
                        subject: k
                            .subject
                            .as_deref()
                            .map(|s| {
                                let figure = figure_name(catalogue, s);
                                if figure == s {
                                    super::me::service_name(catalogue, s)
                                } else {
                                    figure
                                }
                            })
                            .unwrap_or_default(),
                        limit: show(k.limit),
                        actual: show(k.actual),
                        passed: k.passed,
                        blocking: k.blocking,
                    }
                })
                .collect(),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ChecklistsPage {
            chrome: Chrome::of(&state, &session, "").await?,
            id: id.to_string(),
            pseudonym,
            lists,
        },
    ))
}
