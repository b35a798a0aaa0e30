//! The ATS operator opens a case from the web (`/ats/{code}/pratiche/nuova`): the measure, the
//! ASST or the Ambito's lead body the measure names, the provider, the responsabili and the
//! case manager chosen among the staff recorded for the ATS's organisations, the recipient's
//! pseudonym and confirmers, and for a voucher measure (seed 003) the intensity and the start.
//! The same `OpenCase` command the API sends (`POST /v1/cases`), through the same handler.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use diario_commands::{Caller, CommandOptions, HandlerError};
use diario_domain::case::{AssignVoucher, OpenCase};
use diario_domain::grants::GrantRole;
use diario_domain::{CaseCommand, CostModel, FiscalCode, MeasureId, OrgKind, Recipient};
use uuid::Uuid;

use super::manage::{Fields, field};
use super::session::{self, MaybeSession, WebSession};
use super::{Chrome, italian, render, see_other};
use crate::{ApiError, AppState};

/// (value, label, selected) of a select.
type Choice = (String, String, bool);

#[derive(Template)]
#[template(path = "open_case.html")]
struct OpenCasePage {
    chrome: Chrome,
    code: String,
    ats_name: String,
    measures: Vec<Choice>,
    public_bodies: Vec<Choice>,
    providers: Vec<Choice>,
    staff_asst: Vec<Choice>,
    staff_provider: Vec<Choice>,
    case_managers: Vec<Choice>,
    intensities: Vec<Choice>,
    pseudonym: String,
    confirmers: String,
    minor: bool,
    firmalom: bool,
    start: String,
    error: Option<String>,
}

fn choice(value: &str, label: String, chosen: &str) -> Choice {
    (value.to_owned(), label, value == chosen)
}

/// The form, with `fields` as typed and `error` above it.
async fn form(
    state: &AppState,
    session: &WebSession,
    code: &str,
    fields: &Fields,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let (registry, _) = state.handler.organisations().await?;
    let ats_name = registry
        .get(code)
        .map_or_else(|| code.to_owned(), |o| o.name.clone());
    let of_ats = |kinds: &[OrgKind]| {
        let mut v: Vec<_> = registry
            .iter()
            .filter(|o| kinds.contains(&o.kind) && o.ats.as_deref() == Some(code))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    };
    let bodies = of_ats(&[OrgKind::Asst, OrgKind::AmbitoLead]);
    let providers = of_ats(&[OrgKind::Provider]);
    let mut staff = Vec::new();
    for o in bodies.iter().chain(&providers) {
        for s in diario_projections::staff_of(&state.db, &o.code).await? {
            staff.push((o.kind, o.name.clone(), s));
        }
    }
    let people = |kinds: &[OrgKind], name: &str| -> Vec<Choice> {
        let chosen = field(fields, name);
        staff
            .iter()
            .filter(|(k, ..)| kinds.contains(k))
            .map(|(_, org, s)| {
                choice(
                    &s.fiscal_code,
                    format!("{} – {org} ({})", s.name, s.fiscal_code),
                    chosen,
                )
            })
            .collect()
    };
    let catalogue = state.handler.catalogue();
    let measure = field(fields, "measure_id");
    let intensity = field(fields, "intensity");
    Ok(render(
        status,
        &OpenCasePage {
            chrome: Chrome::of(state, session, "").await?,
            code: code.to_owned(),
            ats_name,
            measures: catalogue
                .iter()
                .filter(|m| m.cost_model != CostModel::ActualStaffCost)
                .map(|m| choice(m.id.as_str(), m.name.clone(), measure))
                .collect(),
            public_bodies: bodies
                .iter()
                .map(|o| choice(&o.code, o.name.clone(), field(fields, "asst")))
                .collect(),
            providers: providers
                .iter()
                .map(|o| choice(&o.code, o.name.clone(), field(fields, "provider")))
                .collect(),
            staff_asst: people(&[OrgKind::Asst, OrgKind::AmbitoLead], "responsabile_asst"),
            staff_provider: people(&[OrgKind::Provider], "responsabile_provider"),
            case_managers: people(
                &[OrgKind::Asst, OrgKind::AmbitoLead, OrgKind::Provider],
                "case_manager",
            ),
            intensities: catalogue
                .iter()
                .flat_map(|m| {
                    m.intensities.iter().map(move |i| {
                        choice(
                            &i.id,
                            format!("{}: {}", m.id.as_str(), i.id.replace('_', " ")),
                            intensity,
                        )
                    })
                })
                .collect(),
            pseudonym: field(fields, "pseudonym").to_owned(),
            confirmers: field(fields, "confirmers").to_owned(),
            minor: field(fields, "minor") == "1",
            firmalom: fields.is_empty() || field(fields, "firmalom") == "1",
            start: field(fields, "start").to_owned(),
            error,
        },
    ))
}

/// Whether the signed-in person may open cases for ATS `code`: an operator of it.
async fn operator_of(state: &AppState, session: &WebSession, code: &str) -> Result<bool, ApiError> {
    Ok(session
        .principal(state)
        .await?
        .has(GrantRole::AtsOperator, code))
}

fn not_operator() -> Response {
    super::message(
        StatusCode::NOT_FOUND,
        "Pagina non disponibile",
        "Le pratiche si aprono dagli operatori dell'ATS.",
        "/",
        "Torna alla pagina iniziale",
    )
}

/// The form to open a case.
pub async fn show(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other(
            &format!("/?next=/ats/{code}/pratiche/nuova"),
            None,
        ));
    };
    if !operator_of(&state, &session, &code).await? {
        return Ok(not_operator());
    }
    form(&state, &session, &code, &Vec::new(), StatusCode::OK, None).await
}

/// The command the form describes, or what is missing.
fn command(code: &str, fields: &Fields) -> Result<OpenCase, String> {
    let cf = |name: &str, label: &str| {
        FiscalCode::parse(field(fields, name))
            .map_err(|_| format!("{label}: scegliere una persona (codice fiscale valido)."))
    };
    let confirmers = field(fields, "confirmers")
        .split([',', ' ', '\n', '\r', ';'])
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            FiscalCode::parse(s).map_err(|e| format!("Chi conferma: «{s}» non è valido: {e}."))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let start = match field(fields, "start") {
        "" => None,
        s => Some(
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| "Inizio delle attività: una data (AAAA-MM-GG).".to_owned())?,
        ),
    };
    let voucher = match field(fields, "intensity") {
        "" => None,
        intensity => Some(AssignVoucher {
            intensity: intensity.to_owned(),
            start,
        }),
    };
    Ok(OpenCase {
        case_id: Uuid::now_v7(),
        measure_id: MeasureId::new(field(fields, "measure_id")),
        ats: code.to_owned(),
        asst: field(fields, "asst").to_owned(),
        provider: field(fields, "provider").to_owned(),
        responsabile_asst: cf("responsabile_asst", "Responsabile dell'ente pubblico")?,
        responsabile_provider: cf("responsabile_provider", "Responsabile dell'ente erogatore")?,
        case_manager: cf("case_manager", "Case manager")?,
        recipient: Recipient {
            pseudonym: field(fields, "pseudonym").trim().to_owned(),
            minor: field(fields, "minor") == "1",
            firmalom_enrolled: field(fields, "firmalom") == "1",
            confirmers,
        },
        voucher,
    })
}

/// Opens the case, or shows the form again with the rule that refused it.
pub async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(code): Path<String>,
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
            &format!("/ats/{code}"),
            "Torna al cruscotto",
        ));
    }
    if !operator_of(&state, &session, &code).await? {
        return Ok(not_operator());
    }
    let refused = |message: String| {
        form(
            &state,
            &session,
            &code,
            &fields,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(message),
        )
    };
    let c = match command(&code, &fields) {
        Ok(c) => c,
        Err(message) => return refused(message).await,
    };
    let case_id = c.case_id;
    let principal = session.principal(&state).await?;
    match state
        .handler
        .execute_case(
            case_id,
            &CaseCommand::OpenCase(c),
            &Caller::Person(&principal),
            &CommandOptions::new(),
        )
        .await
    {
        Ok(_) => {
            super::settle(&state, diario_projections::diaries::NAME).await?;
            Ok(see_other(&format!("/pratiche/{case_id}"), None))
        }
        Err(HandlerError::Domain(d)) => {
            refused(format!("Pratica non aperta: {}", italian(&d.to_string()))).await
        }
        Err(HandlerError::UnknownMeasure(m)) => {
            refused(format!(
                "Pratica non aperta: la misura {m} non è nel catalogo."
            ))
            .await
        }
        Err(e) => Err(e.into()),
    }
}
