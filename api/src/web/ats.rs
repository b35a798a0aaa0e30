//! The ATS dashboard page (`/ats/{code}`): the same read model as `GET /v1/ats/{ats}/dashboard`
//! (cases by status, confirmation requests, hours by phase and figure, idle cases), for the
//! ATS's operators and auditors.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use diario_commands::access;
use diario_domain::{FigureId, OrgKind};

use super::session::MaybeSession;
use super::{render, see_other};
use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "ats.html")]
struct AtsPage {
    dev: bool,
    who: Option<String>,
    csrf: String,
    ats_name: String,
    open: i64,
    completed: i64,
    interrupted: i64,
    pending: i64,
    expiring: i64,
    expired: i64,
    rejected: i64,
    confirmed: i64,
    rate: String,
    late: i64,
    hours: Vec<(u8, String, i64, i64)>,
    idle_days: i64,
    /// (case id, recipient's pseudonym, provider and last activity).
    idle: Vec<(String, String, String)>,
}

/// The dashboard of ATS `code`.
pub async fn dashboard(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    let principal = session.principal(&state).await?;
    let (registry, _) = state.handler.organisations().await?;
    let ats = match registry.require("ats", &code, &[OrgKind::Ats]) {
        Ok(o) if access::read_ats(&principal, &code).is_ok() => o.clone(),
        _ => {
            return Ok(super::message(
                StatusCode::NOT_FOUND,
                "Cruscotto non disponibile",
                "Il cruscotto di un'ATS è visibile ai suoi operatori e ai revisori.",
                "/",
                "Torna alla pagina iniziale",
            ));
        }
    };
    let board = diario_projections::ats_dashboard(&state.db, &code, state.handler.now(), 7).await?;
    let count = |s: &str| board.cases_by_status.get(s).copied().unwrap_or(0);
    let catalogue = state.handler.catalogue();
    let figure_name = |f: &str| {
        catalogue
            .iter()
            .find_map(|m| m.figure(&FigureId::new(f)).map(|x| x.name.clone()))
            .unwrap_or_else(|| f.to_owned())
    };
    let names = diario_projections::names(&state.db, [session.fiscal_code.as_str()]).await?;
    let mut idle_rows = Vec::new();
    for c in &board.idle_cases {
        let (case, _) = state.handler.load_case(c.case_id).await?;
        let pseudonym = case
            .file
            .map_or_else(|| c.case_id.to_string(), |f| f.recipient.pseudonym);
        let last = c
            .last_entry_at
            .unwrap_or(c.opened_at)
            .with_timezone(&chrono_tz::Europe::Rome)
            .format("%d/%m/%Y");
        let provider = registry
            .get(&c.provider)
            .map_or_else(|| c.provider.clone(), |o| o.name.clone());
        idle_rows.push((
            c.case_id.to_string(),
            pseudonym,
            format!("{provider}, ultima attività {last}"),
        ));
    }
    Ok(render(
        StatusCode::OK,
        &AtsPage {
            dev: state.web.dev_login,
            who: Some(names.label(session.fiscal_code.as_str())),
            csrf: session.csrf_token.clone(),
            ats_name: ats.name,
            open: count("open"),
            completed: count("completed"),
            interrupted: count("interrupted"),
            pending: board.requests.pending,
            expiring: board.requests.expiring_within_24h,
            expired: board.requests.expired,
            rejected: board.requests.rejected,
            confirmed: board.requests.confirmed,
            rate: board
                .confirmation_rate
                .map_or_else(|| "—".to_owned(), |r| format!("{:.0}%", r * 100.0)),
            late: board.entries_under_system_failure,
            hours: board
                .minutes_by_phase_and_figure
                .iter()
                .map(|h| {
                    (
                        h.phase,
                        figure_name(&h.figure),
                        h.minutes,
                        h.confirmed_minutes,
                    )
                })
                .collect(),
            idle_days: board.idle_days,
            idle: idle_rows,
        },
    ))
}
