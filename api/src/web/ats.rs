//! The ATS dashboard page (`/ats/{code}`): the same read model as `GET /v1/ats/{ats}/dashboard`
//! (cases by status, confirmation requests, hours by phase and figure, idle cases), for the
//! ATS's operators and auditors.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use diario_commands::access;
use diario_domain::OrgKind;

use super::session::MaybeSession;
use super::{render, see_other};
use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "ats.html")]
struct AtsPage {
    chrome: super::Chrome,
    code: String,
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
    /// (phase, figure, registered, confirmed, registered %, confirmed %) — % of the largest.
    hours: Vec<HourRow>,
    /// Confirmed hours by month of delivery: (month, hours, amount, % of the largest).
    months: Vec<(String, String, String, i64)>,
    idle_days: i64,
    /// (case id, recipient's pseudonym, provider and last activity).
    idle: Vec<(String, String, String)>,
    /// Voucher pathways (seed 003): a summary line, then (case id, pseudonym, accesses,
    /// state).
    vouchers: Option<(String, Vec<PathwayCells>)>,
    /// An operator of this ATS (opens cases), not only a reader.
    operator: bool,
}

/// One voucher pathway on the page: case id, pseudonym, accesses, state.
type PathwayCells = (String, String, String, String);

/// One bar of the hours by phase and figure.
struct HourRow {
    phase: u8,
    figure: String,
    registered: String,
    confirmed: String,
    registered_pct: i64,
    confirmed_pct: i64,
}

/// `part` as a percentage of `whole` (0 when `whole` is 0).
fn pct(part: i64, whole: i64) -> i64 {
    if whole <= 0 { 0 } else { part * 100 / whole }
}

/// "novembre 2026" from "2026-11".
fn month_label(period: &str) -> String {
    period
        .split_once('-')
        .and_then(|(y, m)| {
            let m: usize = m.parse().ok()?;
            Some(format!("{} {y}", super::me::MONTHS.get(m.checked_sub(1)?)?))
        })
        .unwrap_or_else(|| period.to_owned())
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
    let ats = match ats_of(&state, &session, &code).await? {
        Ok(o) => o,
        Err(page) => return Ok(page),
    };
    let (registry, _) = state.handler.organisations().await?;
    let board = diario_projections::queries::ats_dashboard_with_vouchers(
        &state.db,
        state.handler.catalogue(),
        &code,
        state.handler.now(),
        7,
    )
    .await?;
    let count = |s: &str| board.cases_by_status.get(s).copied().unwrap_or(0);
    let figure_name = |f: &str| super::me::figure_name(state.handler.catalogue(), f);
    let most = board
        .minutes_by_phase_and_figure
        .iter()
        .map(|h| h.minutes)
        .max()
        .unwrap_or(0);
    let costs = diario_projections::cost_report(
        &state.db,
        state.handler.catalogue(),
        &diario_projections::CostFilter {
            ats: Some(code.clone()),
            ..diario_projections::CostFilter::default()
        },
        diario_domain::values::civil_date(state.handler.now()),
    )
    .await?;
    let most_month = costs
        .by_period
        .iter()
        .map(|m| m.confirmed_minutes)
        .max()
        .unwrap_or(0);
    let pseudonyms =
        super::pseudonyms(&state, board.idle_cases.iter().map(|c| c.case_id).collect()).await?;
    let mut idle_rows = Vec::new();
    for c in &board.idle_cases {
        let pseudonym = pseudonyms[&c.case_id].clone();
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
            operator: session
                .principal(&state)
                .await?
                .has(diario_domain::grants::GrantRole::AtsOperator, &code),
            vouchers: match &board.vouchers {
                Some(v) => {
                    let names =
                        super::pseudonyms(&state, v.shown.iter().map(|p| p.case_id).collect())
                            .await?;
                    let euros = |c: i64| format!("€ {},{:02}", c / 100, (c % 100).abs());
                    Some((
                        format!(
                            "{} percorsi, {} realizzati, {} interrotti · dovuto {} · anticipo {} · saldo {}",
                            v.pathways,
                            v.realised,
                            v.interrupted,
                            euros(v.due_cents),
                            euros(v.advance_cents),
                            euros(v.balance_cents)
                        ),
                        v.shown
                            .iter()
                            .map(|p| {
                                (
                                    p.case_id.to_string(),
                                    names.get(&p.case_id).cloned().unwrap_or_default(),
                                    format!("{} su {}", p.accesses, p.accesses_required),
                                    if p.realised {
                                        "realizzato".to_owned()
                                    } else if p.interrupted {
                                        "interrotto".to_owned()
                                    } else {
                                        format!(
                                            "in corso, valido fino al {}",
                                            p.validity_end.format("%d/%m/%Y")
                                        )
                                    },
                                )
                            })
                            .collect(),
                    ))
                }
                None => None,
            },
            chrome: super::Chrome::of(&state, &session, &format!("/ats/{code}")).await?,
            code: code.clone(),
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
                .map(|h| HourRow {
                    phase: h.phase,
                    figure: figure_name(&h.figure),
                    registered: super::me::duration(h.minutes),
                    confirmed: super::me::duration(h.confirmed_minutes),
                    registered_pct: pct(h.minutes, most),
                    confirmed_pct: pct(h.confirmed_minutes, most),
                })
                .collect(),
            months: costs
                .by_period
                .iter()
                .map(|m| {
                    (
                        month_label(&m.key),
                        super::me::duration(m.confirmed_minutes),
                        super::audit::euro(m.cost_cents),
                        pct(m.confirmed_minutes, most_month),
                    )
                })
                .collect(),
            idle_days: board.idle_days,
            idle: idle_rows,
        },
    ))
}

struct CaseLine {
    id: String,
    pseudonym: String,
    provider: String,
    status: &'static str,
    opened: String,
    last: String,
    minutes: String,
    confirmed: String,
    cost: String,
}

#[derive(Template)]
#[template(path = "ats_cases.html")]
struct AtsCasesPage {
    chrome: super::Chrome,
    code: String,
    ats_name: String,
    /// (value, label, selected)
    statuses: Vec<(String, String, bool)>,
    providers: Vec<(String, String, bool)>,
    idle: bool,
    idle_days: i64,
    cases: Vec<CaseLine>,
    /// The query string of the next page, when there is one.
    next: Option<String>,
    /// The filters as a query string, for the downloads.
    query: String,
    error: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct CasesQuery {
    #[serde(default)]
    stato: String,
    #[serde(default)]
    ente: String,
    #[serde(default)]
    inattive: String,
    cursore: Option<String>,
}

/// The case list's filter from the page's query, and what was refused in it (ignored).
async fn case_filter(
    state: &AppState,
    code: &str,
    q: &CasesQuery,
) -> Result<(diario_projections::CaseFilter, Option<String>), ApiError> {
    let (registry, _) = state.handler.organisations().await?;
    let mut error = None;
    let status = match q.stato.as_str() {
        "" => None,
        s => match diario_projections::CaseStatus::parse(s) {
            Ok(s) => Some(s),
            Err(_) => {
                error = Some(format!(
                    "Lo stato «{s}» non esiste: mostrate tutte le pratiche."
                ));
                None
            }
        },
    };
    let provider = match q.ente.as_str() {
        "" => None,
        p if registry.require("ente", p, &[OrgKind::Provider]).is_ok() => Some(p.to_owned()),
        p => {
            error = Some(format!(
                "L'ente «{p}» non è registrato: mostrati tutti gli enti."
            ));
            None
        }
    };
    let idle = q.inattive == "1";
    let now = state.handler.now();
    let filter = diario_projections::CaseFilter {
        ats: Some(code.to_owned()),
        provider: provider.clone(),
        status,
        idle_before: idle.then(|| now - chrono::Duration::days(IDLE_DAYS)),
        ..diario_projections::CaseFilter::default()
    };
    Ok((filter, error))
}

/// Days without activity that make a case idle in the list's filter (the dashboard's).
const IDLE_DAYS: i64 = 7;

/// The cases of ATS `code`, filtered by status, provider and idleness, 50 a page.
pub async fn cases(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(code): Path<String>,
    axum::extract::Query(q): axum::extract::Query<CasesQuery>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    let ats = match ats_of(&state, &session, &code).await? {
        Ok(o) => o,
        Err(page) => return Ok(page),
    };
    let (registry, _) = state.handler.organisations().await?;
    let (filter, mut error) = case_filter(&state, &code, &q).await?;
    let (status, provider, idle) = (
        filter.status,
        filter.provider.clone(),
        filter.idle_before.is_some(),
    );
    let page = match diario_projections::list_cases(
        &state.db,
        &filter,
        &diario_projections::PageRequest::after(q.cursore.clone(), 50),
    )
    .await
    {
        Ok(p) => p,
        Err(diario_projections::ProjectionError::BadCursor(_)) => {
            error = Some("Il segno di pagina non è valido: mostrata la prima pagina.".into());
            diario_projections::list_cases(
                &state.db,
                &filter,
                &diario_projections::PageRequest::first(50),
            )
            .await?
        }
        Err(e) => return Err(e.into()),
    };
    let org = |c: &str| {
        registry
            .get(c)
            .map_or_else(|| c.to_owned(), |o| o.name.clone())
    };
    let day = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&chrono_tz::Europe::Rome)
            .format("%d/%m/%Y")
            .to_string()
    };
    let cases = page
        .items
        .iter()
        .map(|c| CaseLine {
            id: c.case_id.to_string(),
            pseudonym: c.recipient_pseudonym.clone(),
            provider: org(&c.provider),
            status: super::case::case_status_label(c.status),
            opened: day(c.opened_at),
            last: c.last_entry_at.map_or_else(|| "—".to_owned(), day),
            minutes: super::me::duration(c.minutes),
            confirmed: super::me::duration(c.confirmed_minutes),
            cost: super::audit::euro(c.confirmed_cost_cents),
        })
        .collect();
    let query = format!(
        "stato={}&ente={}&inattive={}",
        status.map(|s| s.as_str()).unwrap_or(""),
        super::case::urlencode(provider.as_deref().unwrap_or("")),
        if idle { "1" } else { "" },
    );
    let next = page
        .next_cursor
        .map(|c| format!("{query}&cursore={}", super::case::urlencode(&c)));
    let mut providers: Vec<_> = registry
        .iter()
        .filter(|o| o.kind == OrgKind::Provider)
        .map(|o| {
            (
                o.code.clone(),
                o.name.clone(),
                provider.as_deref() == Some(&o.code),
            )
        })
        .collect();
    providers.sort_by(|a, b| a.1.cmp(&b.1));
    let statuses = [
        ("open", "aperte"),
        ("completed", "completate"),
        ("interrupted", "interrotte"),
    ]
    .iter()
    .map(|(v, l)| {
        (
            (*v).to_owned(),
            (*l).to_owned(),
            status.is_some_and(|s| s.as_str() == *v),
        )
    })
    .collect();
    Ok(render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &AtsCasesPage {
            chrome: super::Chrome::of(&state, &session, "").await?,
            code,
            ats_name: ats.name,
            statuses,
            providers,
            idle,
            idle_days: IDLE_DAYS,
            cases,
            next,
            query,
            error,
        },
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct CostsQuery {
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    #[serde(default)]
    ente: String,
}

/// (label, hours, amount)
type TotalRow = (String, String, String);

#[derive(Template)]
#[template(path = "ats_costs.html")]
struct AtsCostsPage {
    chrome: super::Chrome,
    code: String,
    ats_name: String,
    dal: String,
    al: String,
    providers: Vec<(String, String, bool)>,
    /// The filters as a query string, for the downloads.
    query: String,
    error_field: String,
    error: String,
    hours: String,
    amount: String,
    /// Confirmed, diary handed to ATS: what may be claimed now.
    claimable: String,
    /// Confirmed, diary not handed over yet.
    confirmed_open: String,
    /// Confirmed on paper, the scan not yet checked (or refused) by the ATS.
    awaiting_check: String,
    /// Recorded, not confirmed.
    open: String,
    /// Measures whose catalogue carries example values.
    example_values: String,
    lines: usize,
    /// By figure, month, provider.
    groups: Vec<(&'static str, Vec<TotalRow>)>,
    /// The flat amounts per output of the measures that pay outputs: (Ambito, case link,
    /// pseudonym or id, output, amount, status label, reason codes).
    outputs: Vec<OutputRow>,
    outputs_due: String,
    outputs_not_yet_due: String,
}

/// One flat amount on the cost page.
struct OutputRow {
    ambito: String,
    case_id: String,
    pseudonym: String,
    output: String,
    amount: String,
    status: &'static str,
    reasons: String,
}

/// The ATS page or the 404 that says whose it is.
async fn ats_of(
    state: &AppState,
    session: &super::session::WebSession,
    code: &str,
) -> Result<Result<diario_domain::Organisation, Response>, ApiError> {
    let principal = session.principal(state).await?;
    let (registry, _) = state.handler.organisations().await?;
    Ok(match registry.require("ats", code, &[OrgKind::Ats]) {
        Ok(o) if access::read_ats(&principal, code).is_ok() => Ok(o.clone()),
        _ => Err(super::message(
            StatusCode::NOT_FOUND,
            "Pagina non disponibile",
            "Pratiche, cruscotto e costi di un'ATS sono visibili ai suoi operatori e ai revisori.",
            "/",
            "Torna alla pagina iniziale",
        )),
    })
}

/// The cost report's filter from the page's query: (filter, refused field, message).
async fn cost_filter(
    state: &AppState,
    code: &str,
    q: &CostsQuery,
) -> Result<(diario_projections::CostFilter, &'static str, String), ApiError> {
    let (registry, _) = state.handler.organisations().await?;
    let mut refused = ("", String::new());
    let mut date = |field: &'static str, v: &str| match v {
        "" => None,
        v => match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                refused = (field, format!("La data «{v}» non è valida (AAAA-MM-GG)."));
                None
            }
        },
    };
    let from = date("dal", &q.dal);
    let to = date("al", &q.al);
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        refused = ("al", "La data finale precede quella iniziale.".to_owned());
    }
    let provider = match q.ente.as_str() {
        "" => None,
        p if registry.require("ente", p, &[OrgKind::Provider]).is_ok() => Some(p.to_owned()),
        p => {
            refused = ("ente", format!("L'ente «{p}» non è registrato."));
            None
        }
    };
    Ok((
        diario_projections::CostFilter {
            ats: Some(code.to_owned()),
            provider,
            case_id: None,
            from,
            to,
        },
        refused.0,
        refused.1,
    ))
}

/// The ATS's cost report: confirmed hours × unit cost, by figure, month and provider, with the
/// downloads for spreadsheets.
pub async fn costs(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(code): Path<String>,
    axum::extract::Query(q): axum::extract::Query<CostsQuery>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    let ats = match ats_of(&state, &session, &code).await? {
        Ok(o) => o,
        Err(page) => return Ok(page),
    };
    let (filter, error_field, error) = cost_filter(&state, &code, &q).await?;
    let report = diario_projections::cost_report(
        &state.db,
        state.handler.catalogue(),
        &filter,
        diario_domain::values::civil_date(state.handler.now()),
    )
    .await?;
    let (registry, _) = state.handler.organisations().await?;
    let catalogue = state.handler.catalogue();
    let totals = |list: &[diario_projections::CostTotal], label: &dyn Fn(&str) -> String| {
        list.iter()
            .map(|t| {
                (
                    label(&t.key),
                    super::me::duration(t.confirmed_minutes),
                    super::audit::euro(t.cost_cents),
                )
            })
            .collect::<Vec<_>>()
    };
    let org = |c: &str| {
        registry
            .get(c)
            .map_or_else(|| c.to_owned(), |o| o.name.clone())
    };
    let mut providers: Vec<_> = registry
        .iter()
        .filter(|o| o.kind == OrgKind::Provider)
        .map(|o| {
            (
                o.code.clone(),
                o.name.clone(),
                filter.provider.as_deref() == Some(&o.code),
            )
        })
        .collect();
    providers.sort_by(|a, b| a.1.cmp(&b.1));
    let query = format!(
        "dal={}&al={}&ente={}",
        filter.from.map(|d| d.to_string()).unwrap_or_default(),
        filter.to.map(|d| d.to_string()).unwrap_or_default(),
        super::case::urlencode(filter.provider.as_deref().unwrap_or(""))
    );
    Ok(render(
        if error.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        },
        &AtsCostsPage {
            chrome: super::Chrome::of(&state, &session, "").await?,
            code: code.clone(),
            ats_name: ats.name,
            dal: q.dal.clone(),
            al: q.al.clone(),
            providers,
            query,
            error_field: error_field.to_owned(),
            error,
            hours: super::me::duration(report.total_confirmed_minutes),
            amount: super::audit::euro(report.total_cost_cents),
            claimable: super::audit::euro(report.claimable_cost_cents),
            confirmed_open: super::audit::euro(report.confirmed_open_cost_cents),
            awaiting_check: super::audit::euro(report.awaiting_check_cost_cents),
            open: super::audit::euro(report.open_cost_cents),
            example_values: report.example_values.join(", "),
            lines: report.lines.len() + report.outputs.len(),
            outputs: report
                .outputs
                .iter()
                .map(|o| OutputRow {
                    ambito: org(&o.ente),
                    case_id: o.case_id.to_string(),
                    pseudonym: o.recipient_pseudonym.clone(),
                    output: o.output.clone(),
                    amount: super::audit::euro(o.amount_cents),
                    status: crate::exports::output_status_label(&o.status),
                    reasons: o
                        .reasons
                        .iter()
                        .map(|r| r.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                })
                .collect(),
            outputs_due: super::audit::euro(report.outputs_due_cents),
            outputs_not_yet_due: super::audit::euro(report.outputs_not_yet_due_cents),
            groups: vec![
                (
                    "Per figura professionale",
                    totals(&report.by_figure, &|f| super::me::figure_name(catalogue, f)),
                ),
                ("Per mese", totals(&report.by_period, &|p| p.to_owned())),
                (
                    "Per ente che rendiconta (ASST o ente erogatore)",
                    totals(&report.by_ente, &org),
                ),
            ],
        },
    ))
}

/// The downloads of the ATS pages: `costi.csv|xlsx` (the cost report's lines) and
/// `pratiche.csv|xlsx` (the whole filtered case list), with the pages' filters.
pub async fn download(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path((code, file)): Path<(String, String)>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    if let Err(page) = ats_of(&state, &session, &code).await? {
        return Ok(page);
    }
    let raw = raw.unwrap_or_default();
    let bad_query = || {
        super::message(
            StatusCode::BAD_REQUEST,
            "Filtro non valido",
            "I filtri del download non sono validi.",
            &format!("/ats/{code}"),
            "Torna al cruscotto",
        )
    };
    if let Some(format) = download_format(&file, "costi") {
        let Ok(axum::extract::Query(q)) = axum::extract::Query::try_from_uri(
            &format!("/?{raw}").parse().map_err(|_| ApiError::NotFound)?,
        ) else {
            return Ok(bad_query());
        };
        return costs_download(&state, &code, &q, format).await;
    }
    if let Some(format) = download_format(&file, "pratiche") {
        let Ok(axum::extract::Query(q)) = axum::extract::Query::<CasesQuery>::try_from_uri(
            &format!("/?{raw}").parse().map_err(|_| ApiError::NotFound)?,
        ) else {
            return Ok(bad_query());
        };
        return cases_download(&state, &code, &q, format).await;
    }
    Ok(axum::response::IntoResponse::into_response(
        ApiError::NotFound,
    ))
}

/// The whole filtered case list as a download.
async fn cases_download(
    state: &AppState,
    code: &str,
    q: &CasesQuery,
    format: crate::exports::Format,
) -> Result<Response, ApiError> {
    let (filter, error) = case_filter(state, code, q).await?;
    if let Some(error) = error {
        return Ok(super::message(
            StatusCode::BAD_REQUEST,
            "Filtro non valido",
            &error,
            &format!("/ats/{code}/pratiche"),
            "Torna alle pratiche",
        ));
    }
    let mut cases = Vec::new();
    let mut cursor = None;
    loop {
        let page = diario_projections::list_cases(
            &state.db,
            &filter,
            &diario_projections::PageRequest::after(cursor.take(), 500),
        )
        .await?;
        cases.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let table = crate::exports::case_table(state, &cases).await?;
    crate::exports::download(&table, format, &format!("pratiche-{code}"))
}

/// The cost report as a download.
async fn costs_download(
    state: &AppState,
    code: &str,
    q: &CostsQuery,
    format: crate::exports::Format,
) -> Result<Response, ApiError> {
    let (filter, error_field, error) = cost_filter(state, code, q).await?;
    if !error_field.is_empty() {
        return Ok(super::message(
            StatusCode::BAD_REQUEST,
            "Filtro non valido",
            &error,
            &format!("/ats/{code}/costi"),
            "Torna ai costi",
        ));
    }
    let report = diario_projections::cost_report(
        &state.db,
        state.handler.catalogue(),
        &filter,
        diario_domain::values::civil_date(state.handler.now()),
    )
    .await?;
    let table = crate::exports::cost_table(state, &report).await?;
    crate::exports::download(&table, format, &format!("costi-{code}"))
}

/// `{stem}.csv` or `{stem}.xlsx`.
fn download_format(file: &str, stem: &str) -> Option<crate::exports::Format> {
    match file.strip_prefix(stem)? {
        ".csv" => Some(crate::exports::Format::CsvIt),
        ".xlsx" => Some(crate::exports::Format::Xlsx),
        _ => None,
    }
}
