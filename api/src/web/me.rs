//! The signed-in person's own pages: my week (`/settimana`: my entries day by day across every
//! case, with totals, states and overlaps — the read model of `GET /v1/me/entries`) and my
//! profile (`/profilo`: who I am, my grants and what they let me do — `GET /v1/me`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate};
use diario_domain::{Catalogue, FigureId, ServiceId};
use serde::Deserialize;

use super::session::MaybeSession;
use super::{Chrome, render, see_other};
use crate::{ApiError, AppState};

const WEEKDAYS: [&str; 7] = [
    "lunedì",
    "martedì",
    "mercoledì",
    "giovedì",
    "venerdì",
    "sabato",
    "domenica",
];
pub(super) const MONTHS: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];

/// "lunedì 30 novembre 2026".
pub(super) fn long_date(d: NaiveDate) -> String {
    format!(
        "{} {} {} {}",
        WEEKDAYS[d.weekday().num_days_from_monday() as usize],
        d.day(),
        MONTHS[d.month0() as usize],
        d.year()
    )
}

/// "2 h 30 min", "45 min", "0 min".
pub(super) fn duration(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The catalogue's name of a figure or service, whichever measure defines it.
pub(super) fn figure_name(catalogue: &Catalogue, id: &str) -> String {
    catalogue
        .iter()
        .find_map(|m| m.figure(&FigureId::new(id)).map(|f| f.name.clone()))
        .unwrap_or_else(|| id.to_owned())
}

pub(super) fn service_name(catalogue: &Catalogue, id: &str) -> String {
    catalogue
        .iter()
        .find_map(|m| m.service(&ServiceId::new(id)).map(|s| s.name.clone()))
        .unwrap_or_else(|| id.to_owned())
}

struct WeekEntry {
    case_id: String,
    pseudonym: String,
    time: String,
    what: String,
    minutes: String,
    state: &'static str,
    withdrawn: bool,
    overlaps: bool,
}

struct WeekDay {
    title: String,
    total: String,
    confirmed: String,
    overlaps: bool,
    /// The day's maximum (`13 h 00 min`) when the day is past it.
    over_max: Option<String>,
    entries: Vec<WeekEntry>,
}

#[derive(Template)]
#[template(path = "week.html")]
struct WeekPage {
    chrome: Chrome,
    title: String,
    previous: String,
    next: String,
    total: String,
    confirmed: String,
    days: Vec<WeekDay>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WeekQuery {
    /// Any day of the week to show (`AAAA-MM-GG`); this week when absent.
    dal: Option<String>,
}

/// My week: Monday to Sunday, my entries on every case, by day.
pub async fn week(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Query(q): Query<WeekQuery>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/?next=/settimana", None));
    };
    let today = state
        .handler
        .now()
        .with_timezone(&chrono_tz::Europe::Rome)
        .date_naive();
    let (day, error) = match q.dal.as_deref().filter(|d| !d.is_empty()) {
        None => (today, None),
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => (d, None),
            Err(_) => (
                today,
                Some(format!(
                    "La data «{d}» non è valida (AAAA-MM-GG): è mostrata la settimana corrente."
                )),
            ),
        },
    };
    let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
    let sunday = monday + Duration::days(6);
    let mine = diario_projections::my_entries(
        &state.db,
        state.handler.catalogue(),
        session.fiscal_code.as_str(),
        monday,
        sunday,
    )
    .await?;
    let catalogue = state.handler.catalogue();
    let pseudonyms =
        super::pseudonyms(&state, mine.entries.iter().map(|e| e.case_id).collect()).await?;
    let days = mine
        .days
        .iter()
        .map(|d| WeekDay {
            title: long_date(d.date),
            total: duration(d.minutes),
            confirmed: duration(d.confirmed_minutes),
            overlaps: d.overlaps,
            over_max: d.over_daily_max_minutes.map(duration),
            entries: mine
                .entries
                .iter()
                .filter(|e| e.entry.date == d.date)
                .map(|e| WeekEntry {
                    case_id: e.case_id.to_string(),
                    pseudonym: pseudonyms[&e.case_id].clone(),
                    time: format!("{}–{}", e.entry.start, e.entry.end),
                    what: format!(
                        "{} ({}), fase {}",
                        service_name(catalogue, &e.entry.service),
                        figure_name(catalogue, &e.entry.figure),
                        e.entry.phase
                    ),
                    minutes: duration(e.entry.minutes),
                    state: super::case::state_label(e.entry.state),
                    withdrawn: e.entry.state == diario_projections::EntryState::Withdrawn,
                    overlaps: !e.overlaps_with.is_empty(),
                })
                .collect(),
        })
        .collect();
    let format = |d: NaiveDate| format!("{} {}", d.day(), MONTHS[d.month0() as usize]);
    Ok(render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &WeekPage {
            chrome: Chrome::of(&state, &session, "/settimana").await?,
            title: format!("{} – {} {}", format(monday), format(sunday), sunday.year()),
            previous: (monday - Duration::days(7)).to_string(),
            next: (monday + Duration::days(7)).to_string(),
            total: duration(mine.minutes),
            confirmed: duration(mine.confirmed_minutes),
            days,
            error,
        },
    ))
}

struct GrantRow {
    role: &'static str,
    scope: String,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    name: String,
    fiscal_code: String,
    platform_admin: bool,
    grants: Vec<GrantRow>,
    capabilities: Vec<(String, String)>,
    /// (organisation, figures) where I am recorded as staff.
    staff: Vec<(String, String)>,
}

fn grant_label(role: diario_domain::grants::GrantRole) -> &'static str {
    use diario_domain::grants::GrantRole::*;
    match role {
        AtsOperator => "Operatore ATS",
        EnteAdmin => "Amministratore dell'ente",
        Auditor => "Revisore (sola lettura)",
        Support => "Assistenza (malfunzionamenti, Art. 9)",
        PlatformAdmin => "Amministratore della piattaforma",
        DataProtectionOfficer => "Responsabile della protezione dei dati (registro degli accessi)",
    }
}

/// Who I am: name and fiscal code, my grants and what they let me do, where I am staff.
pub async fn profile(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/?next=/profilo", None));
    };
    let principal = session.principal(&state).await?;
    let (registry, _) = state.handler.organisations().await?;
    let org = |code: &Option<String>| match code {
        None => "tutte le organizzazioni".to_owned(),
        Some(c) => registry
            .get(c)
            .map_or_else(|| c.clone(), |o| format!("{} ({c})", o.name)),
    };
    let cf = session.fiscal_code.as_str();
    let names = diario_projections::names(&state.db, [cf]).await?;
    let staff = diario_projections::memberships(&state.db, cf)
        .await?
        .into_iter()
        .map(|m| {
            let figures = m
                .figures
                .iter()
                .map(|f| figure_name(state.handler.catalogue(), f))
                .collect::<Vec<_>>()
                .join(", ");
            (org(&Some(m.organisation)), figures)
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ProfilePage {
            chrome: Chrome::of(&state, &session, "/profilo").await?,
            name: names.label(cf),
            fiscal_code: cf.to_owned(),
            platform_admin: principal.platform_admin,
            grants: principal
                .grants
                .iter()
                .map(|g| GrantRow {
                    role: grant_label(g.role),
                    scope: org(&g.scope),
                })
                .collect(),
            capabilities: diario_commands::access::capabilities(&principal)
                .into_iter()
                .map(|c| (c.description.to_owned(), org(&c.scope)))
                .collect(),
            staff,
        },
    ))
}
