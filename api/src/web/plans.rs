//! Seed 004's pages: my monthly timesheet (`/fogli-ore`: the days I worked on each plan, the
//! form to add one, withdraw one, sign the month — on a phone as on a desk), the plans I may
//! open (`/piani`) and a plan's page (`/piani/{id}`: the report by Allegato B1 category, the
//! people's months with their signatures, the countersignature for the plan's representative,
//! the downloads for the ATS). The same commands, handler and read models as the API.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use diario_commands::{CommandOptions, HandlerError};
use diario_domain::grants::GrantRole;
use diario_domain::timesheet::{Month, TimesheetCommand};
use diario_domain::{ActorRole, FiscalCode};
use serde::Deserialize;
use uuid::Uuid;

use super::manage::{Fields, field};
use super::me::{MONTHS, duration, long_date};
use super::session::{self, MaybeSession, WebSession};
use super::{Chrome, italian, render, see_other};
use crate::{ApiError, AppState};

fn month_title(m: Month) -> String {
    format!("{} {}", MONTHS[(m.month - 1) as usize], m.year)
}

fn today(state: &AppState) -> NaiveDate {
    diario_domain::values::civil_date(state.handler.now())
}

/// The message of a refused command, in Italian.
fn refusal(e: &HandlerError) -> Option<String> {
    match e {
        HandlerError::Timesheet(t) => Some(t.to_string()),
        HandlerError::Plan(p) => Some(p.to_string()),
        HandlerError::StaffCost(c) => Some(c.to_string()),
        HandlerError::Domain(d) => Some(italian(&d.to_string())),
        _ => None,
    }
}

struct SheetRow {
    id: String,
    date: String,
    plan: String,
    action: String,
    activity: String,
    time: String,
}

struct SheetDay {
    title: String,
    total: String,
    rows: Vec<SheetRow>,
}

/// (plan id, plan title, countersigned?) of the month.
struct SheetPlan {
    title: String,
    countersigned: bool,
}

#[derive(Template)]
#[template(path = "timesheet.html")]
struct TimesheetPage {
    chrome: Chrome,
    month: String,
    title: String,
    previous: String,
    next: String,
    days: Vec<SheetDay>,
    total: String,
    /// (value `plan|action`, label) of the form's select.
    choices: Vec<(String, String)>,
    signed: bool,
    closed: bool,
    plans: Vec<SheetPlan>,
    first_day: String,
    last_day: String,
    error: Option<String>,
    done: Option<String>,
    form_date: String,
    form_minutes: String,
    form_activity: String,
}

#[derive(Debug, Deserialize)]
pub struct SheetQuery {
    mese: Option<String>,
    esito: Option<String>,
}

const OUTCOMES: [&str; 3] = [
    "Giornata registrata.",
    "Riga ritirata.",
    "Foglio ore firmato: il mese è chiuso per te, ora lo controfirma il piano.",
];

/// My timesheet of a month (this month by default).
pub async fn timesheet(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Query(q): Query<SheetQuery>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/?next=/fogli-ore", None));
    };
    let month = q
        .mese
        .as_deref()
        .and_then(Month::parse)
        .unwrap_or_else(|| Month::of(today(&state)));
    let done = q.esito.filter(|e| OUTCOMES.contains(&e.as_str()));
    sheet_page(
        &state,
        &session,
        month,
        StatusCode::OK,
        None,
        done,
        &Vec::new(),
    )
    .await
}

async fn sheet_page(
    state: &AppState,
    session: &WebSession,
    month: Month,
    status: StatusCode,
    error: Option<String>,
    done: Option<String>,
    form: &Fields,
) -> Result<Response, ApiError> {
    let me = &session.fiscal_code;
    let (sheet, _) = state.handler.timesheet(me, month).await?;
    let plans = diario_projections::plans_of_person(&state.db, me.as_str()).await?;
    let mut titles = std::collections::BTreeMap::new();
    for p in &plans {
        titles.insert(p.plan_id, p.title.clone());
    }
    for r in sheet.rows.values() {
        if let std::collections::btree_map::Entry::Vacant(v) = titles.entry(r.plan_id)
            && let (Some(p), _) = state.handler.plan(r.plan_id).await?
        {
            v.insert(p.title.clone());
        }
    }
    let action_name = |plan: Uuid, action: &str| {
        plans
            .iter()
            .find(|p| p.plan_id == plan)
            .and_then(|p| p.action(action))
            .map_or_else(|| action.to_owned(), |a| format!("{} – {}", a.id, a.name))
    };
    let mut by_day: std::collections::BTreeMap<NaiveDate, Vec<&diario_domain::timesheet::Row>> =
        std::collections::BTreeMap::new();
    for r in sheet.live() {
        by_day.entry(r.date).or_default().push(r);
    }
    let days = by_day
        .iter()
        .map(|(d, rows)| SheetDay {
            title: long_date(*d),
            total: duration(rows.iter().map(|r| i64::from(r.minutes)).sum()),
            rows: rows
                .iter()
                .map(|r| SheetRow {
                    id: r.row_id.to_string(),
                    date: d.to_string(),
                    plan: titles.get(&r.plan_id).cloned().unwrap_or_default(),
                    action: action_name(r.plan_id, &r.action),
                    activity: r.activity.clone(),
                    time: duration(i64::from(r.minutes)),
                })
                .collect(),
        })
        .collect();
    let plan_ids: std::collections::BTreeSet<Uuid> = sheet.live().map(|r| r.plan_id).collect();
    let first = month.first_day().unwrap_or(NaiveDate::MIN);
    let last = month.last_day().unwrap_or(NaiveDate::MAX);
    let choices = plans
        .iter()
        .filter(|p| p.start <= last && p.end >= first)
        .flat_map(|p| {
            p.actions.iter().map(move |a| {
                (
                    format!("{}|{}", p.plan_id, a.id),
                    format!("{} – {} {}", p.title, a.id, a.name),
                )
            })
        })
        .collect();
    Ok(render(
        status,
        &TimesheetPage {
            chrome: Chrome::of(state, session, "/fogli-ore").await?,
            month: month.key(),
            title: month_title(month),
            previous: month.shift(-1).key(),
            next: month.shift(1).key(),
            total: duration(sheet.live().map(|r| i64::from(r.minutes)).sum()),
            days,
            choices,
            signed: sheet.signed_at.is_some(),
            closed: sheet.closed(),
            plans: plan_ids
                .iter()
                .map(|id| SheetPlan {
                    title: titles.get(id).cloned().unwrap_or_default(),
                    countersigned: sheet.countersigned.contains_key(id),
                })
                .collect(),
            first_day: first.to_string(),
            last_day: last.min(today(state)).to_string(),
            error,
            done,
            form_date: field(form, "date").to_owned(),
            form_minutes: field(form, "minutes").to_owned(),
            form_activity: field(form, "activity").to_owned(),
        },
    ))
}

/// Runs a timesheet command from a form of my timesheet page.
async fn run_sheet(
    state: &AppState,
    headers: &HeaderMap,
    session: Option<WebSession>,
    month: &str,
    fields: &Fields,
    command: Result<TimesheetCommand, String>,
    done: usize,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    let Some(m) = Month::parse(month) else {
        return Ok(see_other("/fogli-ore", None));
    };
    if let Err(e) = session::check_form(state, headers, &session, field(fields, "_csrf")) {
        return Ok(super::message(
            StatusCode::FORBIDDEN,
            "Operazione non consentita",
            &e.to_string(),
            "/fogli-ore",
            "Torna al foglio ore",
        ));
    }
    let me = session.fiscal_code.clone();
    let refused = |message: String| async {
        sheet_page(
            state,
            &session,
            m,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(message),
            None,
            fields,
        )
        .await
    };
    let command = match command {
        Ok(c) => c,
        Err(message) => return refused(message).await,
    };
    let actor = diario_domain::Actor::person(me.clone(), ActorRole::Staff);
    match state
        .handler
        .execute_timesheet(&me, m, &command, &actor, &CommandOptions::new())
        .await
    {
        Ok(_) => {
            super::settle(state, diario_projections::plans::NAME).await?;
            Ok(see_other(
                &format!(
                    "/fogli-ore?mese={}&esito={}",
                    m.key(),
                    super::case::urlencode(OUTCOMES[done])
                ),
                None,
            ))
        }
        Err(e) => match refusal(&e) {
            Some(message) => refused(format!("Operazione non eseguita: {message}")).await,
            None => Err(e.into()),
        },
    }
}

/// Adds a day to my timesheet.
pub async fn record_day(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(month): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let choice = field(&fields, "voce");
    let parsed = choice
        .split_once('|')
        .and_then(|(p, a)| Uuid::parse_str(p).ok().map(|p| (p, a.to_owned())));
    let date = NaiveDate::parse_from_str(field(&fields, "date"), "%Y-%m-%d");
    let minutes = field(&fields, "minutes").parse::<u32>();
    let command = match (parsed, date, minutes) {
        (None, _, _) => Err("Scegliere il piano e l'azione.".to_owned()),
        (_, Err(_), _) => Err("Indicare il giorno (AAAA-MM-GG).".to_owned()),
        (_, _, Err(_)) => Err("Indicare la durata.".to_owned()),
        (Some((plan, action)), Ok(date), Ok(minutes)) => Ok(TimesheetCommand::RecordDay {
            row_id: Uuid::now_v7(),
            plan_id: plan,
            action,
            activity: field(&fields, "activity").to_owned(),
            date,
            minutes,
        }),
    };
    run_sheet(&state, &headers, session, &month, &fields, command, 0).await
}

/// Withdraws a row of my timesheet.
pub async fn withdraw_day(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((month, row)): Path<(String, Uuid)>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = Ok(TimesheetCommand::WithdrawRow { row_id: row });
    run_sheet(&state, &headers, session, &month, &fields, command, 1).await
}

/// Signs my timesheet of the month.
pub async fn sign(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(month): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let command = Ok(TimesheetCommand::SignTimesheet);
    run_sheet(&state, &headers, session, &month, &fields, command, 2).await
}

struct PlanRow {
    id: String,
    title: String,
    ats: String,
}

#[derive(Template)]
#[template(path = "plans.html")]
struct PlansPage {
    chrome: Chrome,
    plans: Vec<PlanRow>,
}

/// The ATS codes whose plans the person reads (operator or auditor of it).
fn ats_codes(
    principal: &diario_commands::Principal,
    registry: &diario_domain::Organisations,
) -> Vec<String> {
    registry
        .iter()
        .filter(|o| o.kind == diario_domain::OrgKind::Ats)
        .filter(|o| {
            principal.has(GrantRole::AtsOperator, &o.code)
                || principal.has(GrantRole::Auditor, &o.code)
        })
        .map(|o| o.code.clone())
        .collect()
}

/// The plans I may open.
pub async fn list(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/?next=/piani", None));
    };
    let principal = session.principal(&state).await?;
    let (registry, _) = state.handler.organisations().await?;
    let plans = diario_projections::plans_for(
        &state.db,
        session.fiscal_code.as_str(),
        &ats_codes(&principal, &registry),
    )
    .await?;
    Ok(render(
        StatusCode::OK,
        &PlansPage {
            chrome: Chrome::of(&state, &session, "/piani").await?,
            plans: plans
                .into_iter()
                .map(|p| PlanRow {
                    id: p.plan_id.to_string(),
                    title: p.title,
                    ats: registry
                        .get(&p.ats)
                        .map_or_else(|| p.ats.clone(), |o| o.name.clone()),
                })
                .collect(),
        },
    ))
}

struct MonthRow {
    person: String,
    cf: String,
    month: String,
    month_title: String,
    hours: String,
    state: &'static str,
    can_countersign: bool,
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    chrome: Chrome,
    id: String,
    title: String,
    ats: String,
    period: String,
    report_due: String,
    report_status: &'static str,
    /// (key, name, budget, actual)
    categories: Vec<(String, String, String, String)>,
    cofinancing: String,
    flags: Vec<String>,
    volunteers_over: Option<String>,
    months: Vec<MonthRow>,
    downloads: bool,
    controls: String,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PlanQuery {
    esito: Option<String>,
}

const COUNTERSIGNED: &str =
    "Foglio ore controfirmato: le ore sono valorizzate al costo orario in vigore.";

fn report_status_label(s: &str) -> &'static str {
    match s {
        "running" => "attività in corso",
        "due" => "da trasmettere",
        "due_soon" => "da trasmettere a breve (meno di 15 giorni)",
        "overdue" => "in ritardo: il termine di 60 giorni è passato",
        _ => "trasmessa",
    }
}

/// The plan's page, if the person may read it.
async fn plan_page(
    state: &AppState,
    session: &WebSession,
    id: Uuid,
    status: StatusCode,
    error: Option<String>,
    done: Option<String>,
) -> Result<Response, ApiError> {
    let Some(plan) = diario_projections::plans::plan(&state.db, id).await? else {
        return Err(ApiError::NotFoundWhat(format!("piano {id} inesistente")));
    };
    let principal = session.principal(state).await?;
    let is_ats = principal.has(GrantRole::AtsOperator, &plan.ats)
        || principal.has(GrantRole::Auditor, &plan.ats);
    let countersigner = plan.countersigners.contains(&principal.cf);
    if !is_ats && !countersigner && !plan.people.contains_key(&principal.cf) {
        return Err(ApiError::NotFoundWhat(format!("piano {id} inesistente")));
    }
    let report =
        diario_projections::plan_report(&state.db, state.handler.catalogue(), id, today(state))
            .await?
            .ok_or(ApiError::NotFound)?;
    let months = diario_projections::plan_months(&state.db, id).await?;
    let names =
        diario_projections::names(&state.db, months.iter().map(|m| m.person.as_str())).await?;
    let (registry, _) = state.handler.organisations().await?;
    let euro = super::audit::euro;
    Ok(render(
        status,
        &PlanPage {
            chrome: Chrome::of(state, session, "/piani").await?,
            id: id.to_string(),
            title: plan.title.clone(),
            ats: registry
                .get(&plan.ats)
                .map_or_else(|| plan.ats.clone(), |o| o.name.clone()),
            period: format!("dal {} al {}", long_date(plan.start), long_date(plan.end)),
            report_due: long_date(report.report_due),
            report_status: report_status_label(&report.report_status),
            categories: report
                .categories
                .iter()
                .map(|c| {
                    (
                        c.key.clone(),
                        c.name.clone(),
                        euro(c.budget_cents),
                        euro(c.actual_cents),
                    )
                })
                .collect(),
            cofinancing: format!(
                "{},{:02}%",
                report.cofinancing_bp / 100,
                report.cofinancing_bp % 100
            ),
            flags: report.flags.iter().map(|f| f.1.clone()).collect(),
            volunteers_over: (report.volunteers_over_limit_cents > 0)
                .then(|| euro(report.volunteers_over_limit_cents)),
            months: months
                .iter()
                .map(|m| {
                    let month = Month::parse(&m.month);
                    MonthRow {
                        person: names.label(&m.person),
                        cf: m.person.clone(),
                        month: m.month.clone(),
                        month_title: month.map_or_else(|| m.month.clone(), month_title),
                        hours: duration(m.minutes),
                        state: match (m.signed, m.countersigned) {
                            (_, true) => "controfirmato",
                            (true, false) => "firmato, da controfirmare",
                            _ => "in compilazione",
                        },
                        can_countersign: countersigner
                            && m.signed
                            && !m.countersigned
                            && m.person != principal.cf.as_str(),
                    }
                })
                .collect(),
            downloads: is_ats,
            controls: if report.controls.sample_required {
                format!(
                    "{} giustificativi (time-sheet controfirmati): oltre la soglia di {}, l'ATS ne controlla un campione che copra almeno il {}% della spesa.",
                    report.controls.documents,
                    report.controls.when_documents_over.unwrap_or(0),
                    report.controls.min_spending_percent.unwrap_or(0)
                )
            } else {
                format!(
                    "{} giustificativi (time-sheet controfirmati): entro la soglia di {}, l'ATS li controlla tutti.",
                    report.controls.documents,
                    report.controls.when_documents_over.unwrap_or(0)
                )
            },
            error,
            done,
        },
    ))
}

/// A plan's page.
pub async fn show(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Query(q): Query<PlanQuery>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other(&format!("/?next=/piani/{id}"), None));
    };
    let done = q.esito.filter(|e| e == COUNTERSIGNED);
    plan_page(&state, &session, id, StatusCode::OK, None, done).await
}

/// The plan's representative countersigns a person's month.
pub async fn countersign(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Form(fields): Form<Fields>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    if let Err(e) = session::check_form(&state, &headers, &session, field(&fields, "_csrf")) {
        return Ok(super::message(
            StatusCode::FORBIDDEN,
            "Operazione non consentita",
            &e.to_string(),
            &format!("/piani/{id}"),
            "Torna al piano",
        ));
    }
    let (Ok(person), Some(month)) = (
        FiscalCode::parse(field(&fields, "person")),
        Month::parse(field(&fields, "month")),
    ) else {
        return plan_page(
            &state,
            &session,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Il foglio ore scelto non esiste.".to_owned()),
            None,
        )
        .await;
    };
    let actor = diario_domain::Actor::person(session.fiscal_code.clone(), ActorRole::Staff);
    match state
        .handler
        .execute_timesheet(
            &person,
            month,
            &TimesheetCommand::Countersign { plan_id: id },
            &actor,
            &CommandOptions::new(),
        )
        .await
    {
        Ok(_) => {
            super::settle(&state, diario_projections::plans::NAME).await?;
            Ok(see_other(
                &format!(
                    "/piani/{id}?esito={}",
                    super::case::urlencode(COUNTERSIGNED)
                ),
                None,
            ))
        }
        Err(e) => match refusal(&e) {
            Some(message) => {
                plan_page(
                    &state,
                    &session,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(format!("Operazione non eseguita: {message}")),
                    None,
                )
                .await
            }
            None => Err(e.into()),
        },
    }
}

/// The plan's report for spreadsheets: `rendiconto.csv` (the per-person lines) or
/// `rendiconto.xlsx` (the categories and the lines), for the plan's ATS.
pub async fn download(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path((id, file)): Path<(Uuid, String)>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    let Some(plan) = diario_projections::plans::plan(&state.db, id).await? else {
        return Err(ApiError::NotFound);
    };
    let principal = session.principal(&state).await?;
    if !(principal.has(GrantRole::AtsOperator, &plan.ats)
        || principal.has(GrantRole::Auditor, &plan.ats))
    {
        return Err(ApiError::NotFound);
    }
    let report =
        diario_projections::plan_report(&state.db, state.handler.catalogue(), id, today(&state))
            .await?
            .ok_or(ApiError::NotFound)?;
    let (categories, people) = crate::plans::report_tables(&state, &report).await?;
    match file.as_str() {
        "rendiconto.csv" => {
            crate::exports::download(&people, crate::exports::Format::CsvIt, "piano-personale")
        }
        "rendiconto.xlsx" => {
            crate::exports::download_book(&[categories, people], "piano-rendiconto")
        }
        _ => Err(ApiError::NotFound),
    }
}
