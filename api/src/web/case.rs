//! The case page (`/pratiche/{id}`): the diaries of the phases with their entries, the case's
//! alerts at the top (Art. 5: "un alert in testa al form"), and for an enabled professional
//! the form that records an hour — the most frequent task, on a phone, in the field. The form
//! posts the same `RecordEntry` command the API does, through the same handler; a refusal is
//! shown with the rule's message tied to the field it is about.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use diario_commands::{Caller, CommandOptions, HandlerError};
use diario_domain::case::RecordEntry;
use diario_domain::{
    CaseCommand, CaseFile, DiaryStatus, Ente, FigureId, Measure, Phase, ServiceId, TimeSlot,
};
use serde::Deserialize;
use uuid::Uuid;

use super::session::{self, MaybeSession, WebSession};
use super::{render, see_other};
use crate::{ApiError, AppState};

/// One confirmation request (or paper diary) of a phase.
struct RequestRow {
    id: String,
    sent: String,
    channel: &'static str,
    status: &'static str,
    deadline: String,
    times: i64,
    entries: usize,
    /// Expired, or its notification undelivered, and I am the phase's responsabile: I may
    /// send it again.
    resend: bool,
    /// Its notification could not be delivered and I am the phase's responsabile: I may
    /// cancel it (then paper).
    cancel: bool,
    /// The recipient's reason, for a rejected request.
    reason: String,
}

/// A professional enabled on the case.
struct ProfessionalRow {
    name: String,
    cf: String,
    ente: String,
    ente_label: &'static str,
    figures: String,
    /// I am the responsabile of that ente: I may disable them.
    removable: bool,
}

/// The enable form of the responsabile of one ente.
struct EnableForm {
    ente: String,
    ente_label: &'static str,
    /// (fiscal code, "Nome Cognome (CF)")
    people: Vec<(String, String)>,
    /// (figure id, name)
    figures: Vec<(String, String)>,
}

/// One entry row.
struct EntryRow {
    id: String,
    /// The phase's responsabile may put it in a confirmation request now (per-entry phases).
    selectable: bool,
    /// My own live entry: the link to correct or withdraw it.
    mine: Option<String>,
    date: String,
    time: String,
    figure: String,
    service: String,
    minutes: i64,
    state: &'static str,
    professional: String,
}

/// One phase diary.
struct PhaseBlock {
    number: u8,
    title: String,
    status: &'static str,
    entries: Vec<EntryRow>,
    minutes: i64,
    /// I am the responsabile of this open diary: validation and closure are mine.
    responsabile: bool,
    /// (name, time, confirmed time) per figure and per service.
    by_figure: Vec<(String, String, String)>,
    by_service: Vec<(String, String, String)>,
    /// Entries not validated yet (what the validation button would validate).
    drafts: usize,
    /// Whole-diary phases are closed by the responsabile, which sends the request.
    closable: bool,
    /// A paper diary of the phase waits for the signatures, and I am its responsabile.
    paper: bool,
    /// Per-entry confirmation (phases III–IV): the responsabile chooses the entries to send.
    per_entry: bool,
    /// A closed whole-diary phase of a recipient without FirmaLOM, no paper diary pending,
    /// and I am its responsabile: I may generate the paper diary.
    paper_generate: bool,
    requests: Vec<RequestRow>,
}

/// A choice of a select.
pub(super) struct Choice {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
}

/// The record form (only for a professional enabled on an open diary).
struct RecordForm {
    phases: Vec<Choice>,
    figures: Vec<Choice>,
    services: Vec<Choice>,
    date: String,
    start: String,
    end: String,
    /// The refused field (`phase`, `figure`, `service`, `date`, `start`, `end`) or `""`.
    error_field: String,
    error: String,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    chrome: super::Chrome,
    id: String,
    pseudonym: String,
    organisations: String,
    status: String,
    /// The causes an interruption may give (value, label).
    causes: Vec<(String, &'static str)>,
    alerts: Vec<String>,
    notice: String,
    phases: Vec<PhaseBlock>,
    form: Option<RecordForm>,
    /// A refusal not about a field of the record form (a phase action's).
    error: Option<String>,
    /// I may read the timeline (the case's ATS, auditors).
    audit: bool,
    /// I may read the stored checklists (also the responsabili).
    checklists: bool,
    professionals: Vec<ProfessionalRow>,
    enable: Vec<EnableForm>,
    /// I am the case manager of this open case: I may interrupt the pathway.
    interrupt: bool,
    /// The recipient confirms with FirmaLOM (otherwise on paper, Art. 6).
    enrolled: bool,
    /// Who may sign the paper diary: (fiscal code, label).
    confirmers: Vec<(String, String)>,
    /// The documents of the pathway (Art. 1) and the checks of paper scans.
    docs: super::documents::DocumentsBlock,
    /// Under a voucher measure (seed 003): the voucher and the flat amounts.
    voucher: Option<VoucherBlock>,
}

/// The voucher of the case as the page shows it (seed 003 §9 E, §10–13).
struct VoucherBlock {
    /// The case manager of an open case: communicates suspensions and reactivations,
    /// declares the objectives, records the formal check (§9 D–E).
    manager: bool,
    /// An ATS operator of the case's ATS: authorises the extensions (§9 E).
    authoriser: bool,
    /// The first day of the open suspension (`AAAA-MM-GG`).
    open_suspension: Option<String>,
    /// (first day, label) of the suspensions not authorised yet.
    to_authorise: Vec<(String, String)>,
    /// (document id, label) of the final individual reports recorded.
    final_reports: Vec<(String, String)>,
    intensity: String,
    validity: String,
    suspensions: Vec<String>,
    accesses: String,
    realised: &'static str,
    lines: Vec<(String, String, String)>,
    due: String,
    advance: String,
    balance: String,
}

fn euros(c: diario_domain::values::Cents) -> String {
    let sign = if c.0 < 0 { "-" } else { "" };
    let abs = c.0.unsigned_abs();
    format!("{sign}€ {},{:02}", abs / 100, abs % 100)
}

fn voucher_block(
    view: &diario_projections::VoucherView,
    measure: &diario_domain::Measure,
    file: &diario_domain::CaseFile,
    manager: bool,
    authoriser: bool,
) -> Option<VoucherBlock> {
    use diario_domain::flat_amounts::LineStatus;
    let status = view.status.as_ref()?;
    let facts = &view.facts;
    let intensity = measure
        .intensities
        .iter()
        .find(|i| i.id == facts.voucher.intensity)
        .map_or_else(|| facts.voucher.intensity.clone(), |i| i.name.clone());
    let date = |d: chrono::NaiveDate| d.format("%d/%m/%Y").to_string();
    let report_kind = measure
        .voucher
        .as_ref()
        .and_then(|v| v.final_report_document.as_deref());
    Some(VoucherBlock {
        manager,
        authoriser,
        open_suspension: facts
            .voucher
            .suspensions
            .iter()
            .find(|s| s.reactivated_on.is_none())
            .map(|s| s.from.to_string()),
        to_authorise: facts
            .voucher
            .suspensions
            .iter()
            .filter(|s| !s.authorised)
            .map(|s| (s.from.to_string(), date(s.from)))
            .collect(),
        final_reports: file
            .documents
            .values()
            .filter(|d| Some(d.kind.as_str()) == report_kind)
            .map(|d| {
                (
                    d.id.to_string(),
                    format!("{} (versione {})", d.title, d.version),
                )
            })
            .collect(),
        intensity,
        validity: format!(
            "dal {} al {} (12 mesi fino al {}; sospesi {} giorni su {}, di cui autorizzati {})",
            date(facts.voucher.start),
            date(status.validity.end),
            date(status.validity.base_end),
            status.suspended_days,
            status.max_suspension_days.unwrap_or(0),
            status.authorised_days
        ),
        suspensions: facts
            .voucher
            .suspensions
            .iter()
            .map(|s| {
                format!(
                    "dal {}{}{}",
                    date(s.from),
                    s.reactivated_on.map_or_else(
                        || ", in corso".to_owned(),
                        |r| format!(", riattivato il {}", date(r))
                    ),
                    if s.authorised {
                        ", proroga autorizzata"
                    } else {
                        ", proroga non ancora autorizzata"
                    }
                )
            })
            .collect(),
        accesses: format!(
            "{} su {} richiesti",
            status.accesses.counted, status.accesses.required
        ),
        realised: if status.claim.realised { "sì" } else { "no" },
        lines: status
            .claim
            .lines
            .iter()
            .map(|l| {
                let (label, why) = match &l.status {
                    LineStatus::Due => ("dovuto", &[][..]),
                    LineStatus::NotYetDue { why } => ("non ancora dovuto", &why[..]),
                    LineStatus::NotDue { why } => ("non dovuto", &why[..]),
                };
                let reasons: Vec<String> = why.iter().map(|w| w.message()).collect();
                let status = if reasons.is_empty() {
                    label.to_owned()
                } else {
                    format!("{label}: {}", reasons.join("; "))
                };
                (l.output.clone(), euros(l.amount), status)
            })
            .collect(),
        due: euros(status.payment.due),
        advance: euros(status.payment.advance),
        balance: euros(status.payment.balance),
    })
}

pub(super) fn state_label(s: diario_projections::EntryState) -> &'static str {
    use diario_projections::EntryState::*;
    match s {
        Draft => "in bozza",
        Validated => "validata",
        Pending => "in attesa di conferma",
        Confirmed => "confermata",
        Rejected => "rifiutata",
        Expired => "richiesta scaduta",
        Withdrawn => "ritirata",
    }
}

fn request_label(s: diario_projections::RequestStatusView) -> &'static str {
    match s.as_str() {
        "pending" => "in attesa di risposta",
        "confirmed" => "confermata",
        "rejected" => "rifiutata",
        "expired" => "scaduta senza risposta",
        _ => "chiusa senza risposta (annullata, o percorso interrotto)",
    }
}

/// A pending digital request whose notification FirmaLOM could not be delivered.
fn undelivered(r: &diario_projections::RequestView) -> bool {
    r.status.as_str() == "pending" && r.undelivered.is_some()
}

pub(super) fn diary_label(s: diario_projections::DiaryStatusView) -> &'static str {
    match s.as_str() {
        "open" => "aperto",
        "closed" => "chiuso",
        _ => "consegnato all'ATS",
    }
}

pub(super) fn case_status_label(s: diario_projections::CaseStatus) -> &'static str {
    match s {
        diario_projections::CaseStatus::Open => "aperta",
        diario_projections::CaseStatus::Completed => "completata",
        diario_projections::CaseStatus::Interrupted => "interrotta",
    }
}

/// The phases where `cf` may record now: an open diary of an ente that enabled them.
fn recordable(
    file: &CaseFile,
    measure: &Measure,
    cf: &diario_domain::FiscalCode,
) -> Vec<(Phase, Vec<FigureId>)> {
    let mut out = Vec::new();
    for (phase, diary) in &file.diaries {
        if diary.status != DiaryStatus::Open {
            continue;
        }
        let Some(rules) = measure.phase(*phase) else {
            continue;
        };
        let ente: Ente = rules.registered_by;
        if let Some(figures) = file.professionals.get(&(ente, cf.clone())) {
            out.push((*phase, figures.iter().cloned().collect()));
        }
    }
    out
}

/// Values the person typed, to show again after a refusal.
#[derive(Debug, Default, Deserialize)]
pub struct EntryForm {
    #[serde(rename = "_csrf", default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) phase: String,
    #[serde(default)]
    pub(super) figure: String,
    #[serde(default)]
    pub(super) service: String,
    #[serde(default)]
    pub(super) date: String,
    #[serde(default)]
    pub(super) start: String,
    #[serde(default)]
    pub(super) end: String,
    /// The entry page's correction: the material error corrected.
    #[serde(default)]
    pub(super) reason: String,
}

#[derive(Debug, Deserialize)]
pub struct CaseQuery {
    registrata: Option<String>,
    /// The outcome of a phase action, shown once.
    esito: Option<String>,
}

/// Why an action on the case page was not done (`None`: nothing refused outside the form).
pub(super) type ActionError = Option<String>;

/// The answer to a form of the case whose token or origin is refused.
pub(super) fn forbidden(id: Uuid, e: impl std::fmt::Display) -> Response {
    super::message(
        StatusCode::FORBIDDEN,
        "Operazione non consentita",
        &e.to_string(),
        &format!("/pratiche/{id}"),
        "Torna alla pratica",
    )
}

/// The case page answered 422 with `message` above it (an upload or action refused).
pub(super) async fn refused(
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

#[allow(clippy::too_many_arguments)]
pub(super) async fn page(
    state: &AppState,
    session: &WebSession,
    id: Uuid,
    status: StatusCode,
    notice: String,
    typed: &EntryForm,
    error: Option<(&str, String)>,
    action_error: ActionError,
) -> Result<Response, ApiError> {
    let principal = session.principal(state).await?;
    let (case, _) = match crate::reads::readable_case(state, &principal, id).await {
        Ok(found) => found,
        Err(_) => {
            return Ok(super::message(
                StatusCode::NOT_FOUND,
                "Pratica non trovata",
                "Nessuna pratica con questo identificativo che tu possa consultare.",
                "/",
                "Torna alle mie pratiche",
            ));
        }
    };
    let file = crate::reads::file_of(&case)?;
    crate::access_log::record(state, &principal, file, "case-page", None).await?;
    let measure = crate::reads::measure_of(state, file)?;
    let diary = diario_projections::case_diary_consistent(
        &state.db,
        &case,
        state.handler.catalogue(),
        state.handler.now(),
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    let people: Vec<&str> = diary
        .diaries
        .iter()
        .flat_map(|d| d.entries.iter().map(|e| e.professional.as_str()))
        .chain([session.fiscal_code.as_str()])
        .chain(file.professionals.keys().map(|(_, cf)| cf.as_str()))
        .chain(file.recipient.confirmers.iter().map(|c| c.as_str()))
        .chain(file.responsabili.values().map(|c| c.as_str()))
        .chain([file.case_manager.as_str()])
        .collect();
    let names = diario_projections::names(&state.db, people).await?;
    let (registry, _) = state.handler.organisations().await?;
    let org = |code: &str| {
        registry
            .get(code)
            .map_or_else(|| code.to_owned(), |o| o.name.clone())
    };
    let phases = diary
        .diaries
        .iter()
        .map(|d| {
            let title = Phase::try_from(d.phase)
                .ok()
                .and_then(|p| measure.phase(p))
                .map_or_else(
                    || format!("Fase {}", d.phase),
                    |r| format!("Fase {} – {}", d.phase, r.name),
                );
            let rules = Phase::try_from(d.phase).ok().and_then(|p| measure.phase(p));
            let mine = rules
                .is_some_and(|r| file.responsabile(r.registered_by) == Some(&session.fiscal_code))
                && d.status.as_str() == "open"
                && file.interrupted_at.is_none();
            // A closed diary's expired request is still the responsabile's to send again.
            let phase_responsabile = rules
                .is_some_and(|r| file.responsabile(r.registered_by) == Some(&session.fiscal_code))
                && file.interrupted_at.is_none();
            let per_entry =
                rules.is_some_and(|r| r.confirmation == diario_domain::ConfirmationMode::PerEntry);
            let paper = Phase::try_from(d.phase).is_ok_and(|p| {
                crate::paper::require_phase_responsabile(file, measure, p, &session.fiscal_code)
                    .is_ok()
                    && crate::paper::pending_paper(file, p, None).is_some()
            });
            let rome = |t: chrono::DateTime<chrono::Utc>| {
                t.with_timezone(&chrono_tz::Europe::Rome)
                    .format("%d/%m/%Y %H:%M")
                    .to_string()
            };
            let requests = d
                .requests
                .iter()
                .map(|r| RequestRow {
                    id: r.request_id.to_string(),
                    sent: rome(r.sent_at),
                    channel: match r.channel.as_str() {
                        "paper" => "diario cartaceo",
                        _ => "FirmaLOM",
                    },
                    status: if undelivered(r) {
                        "notifica non consegnata a FirmaLOM"
                    } else {
                        request_label(r.status)
                    },
                    deadline: r.deadline.map(rome).unwrap_or_default(),
                    times: r.times_sent,
                    entries: r.entry_ids.len(),
                    resend: phase_responsabile
                        && (r.status.as_str() == "expired" || undelivered(r)),
                    cancel: phase_responsabile && undelivered(r),
                    reason: rejections_text(r),
                })
                .collect();
            // Paper for a family without the app, or after a notification that could not
            // reach it was cancelled (Art. 6).
            let unreachable = d
                .requests
                .iter()
                .any(|r| r.status.as_str() == "ended" && r.undelivered.is_some());
            let paper_generate = !per_entry
                && phase_responsabile
                && (!file.recipient.firmalom_enrolled || unreachable)
                && d.status.as_str() == "closed"
                && !paper
                && d.pending_requests.is_empty();
            let total = |t: &diario_projections::Total, name: String| {
                (
                    name,
                    super::me::duration(t.minutes),
                    super::me::duration(t.confirmed_minutes),
                )
            };
            PhaseBlock {
                number: d.phase,
                paper,
                paper_generate,
                by_figure: d
                    .totals_by_figure
                    .iter()
                    .map(|t| {
                        let name = measure
                            .figure(&FigureId::new(t.key.as_str()))
                            .map_or_else(|| t.key.clone(), |f| f.name.clone());
                        total(t, name)
                    })
                    .collect(),
                by_service: d
                    .totals_by_service
                    .iter()
                    .map(|t| {
                        let name = measure
                            .service(&ServiceId::new(t.key.as_str()))
                            .map_or_else(|| t.key.clone(), |x| x.name.clone());
                        total(t, name)
                    })
                    .collect(),
                per_entry,
                requests,
                responsabile: mine,
                // Validation is for the whole-diary phases only (Art. 5).
                drafts: if per_entry {
                    0
                } else {
                    d.entries
                        .iter()
                        .filter(|e| e.state == diario_projections::EntryState::Draft)
                        .count()
                },
                closable: !per_entry,
                title,
                status: diary_label(d.status),
                minutes: d.minutes,
                entries: d
                    .entries
                    .iter()
                    .map(|e| EntryRow {
                        id: e.entry_id.to_string(),
                        // Phases III–IV are not validated: the entries not sent (or rejected)
                        // go straight into a request (Art. 5–6).
                        selectable: mine
                            && per_entry
                            && matches!(
                                e.state,
                                diario_projections::EntryState::Draft
                                    | diario_projections::EntryState::Validated
                                    | diario_projections::EntryState::Rejected
                            ),
                        mine: (e.professional == session.fiscal_code.as_str()
                            && e.state != diario_projections::EntryState::Withdrawn)
                            .then(|| e.entry_id.to_string()),
                        date: e.date.format("%d/%m/%Y").to_string(),
                        time: format!("{}–{}", e.start, e.end),
                        figure: measure
                            .figure(&FigureId::new(e.figure.as_str()))
                            .map_or_else(|| e.figure.clone(), |f| f.name.clone()),
                        service: measure
                            .service(&ServiceId::new(e.service.as_str()))
                            .map_or_else(|| e.service.clone(), |s| s.name.clone()),
                        minutes: e.minutes,
                        state: state_label(e.state),
                        professional: names.label(&e.professional),
                    })
                    .collect(),
            }
        })
        .collect();
    let can = recordable(file, measure, &session.fiscal_code);
    let general_error = action_error.or_else(|| {
        error
            .as_ref()
            .filter(|(field, _)| field.is_empty() && can.is_empty())
            .map(|(_, m)| m.clone())
    });
    let form = (!can.is_empty() && file.interrupted_at.is_none()).then(|| {
        let my_figures: Vec<&FigureId> = can.iter().flat_map(|(_, f)| f.iter()).collect();
        let today = state
            .handler
            .now()
            .with_timezone(&chrono_tz::Europe::Rome)
            .date_naive();
        let (error_field, error) = error.map(|(f, m)| (f.to_owned(), m)).unwrap_or_default();
        RecordForm {
            phases: can
                .iter()
                .map(|(p, _)| Choice {
                    value: p.number().to_string(),
                    label: measure.phase(*p).map_or_else(
                        || format!("Fase {}", p.number()),
                        |r| format!("Fase {} – {}", p.number(), r.name),
                    ),
                    selected: typed.phase == p.number().to_string(),
                })
                .collect(),
            figures: my_figures
                .iter()
                .map(|f| Choice {
                    value: f.as_str().to_owned(),
                    label: measure
                        .figure(f)
                        .map_or_else(|| f.to_string(), |x| x.name.clone()),
                    selected: typed.figure == f.as_str(),
                })
                .collect(),
            services: measure
                .services
                .iter()
                .filter(|s| {
                    s.figures.iter().any(|f| my_figures.contains(&f))
                        && s.phases.iter().any(|p| can.iter().any(|(q, _)| q == p))
                })
                .map(|s| Choice {
                    value: s.id.as_str().to_owned(),
                    label: s.name.clone(),
                    selected: typed.service == s.id.as_str(),
                })
                .collect(),
            date: if typed.date.is_empty() {
                today.to_string()
            } else {
                typed.date.clone()
            },
            start: typed.start.clone(),
            end: typed.end.clone(),
            error_field,
            error,
        }
    });
    let status_label = match &diary.interruption {
        Some(i) => {
            let cause = i.cause_label.as_deref().unwrap_or("causa non indicata");
            if i.reason.is_empty() {
                format!("{}: {cause}", case_status_label(diary.status))
            } else {
                format!(
                    "{}: {cause} ({})",
                    case_status_label(diary.status),
                    i.reason
                )
            }
        }
        None => case_status_label(diary.status).to_owned(),
    };
    let open =
        file.interrupted_at.is_none() && diary.status == diario_projections::CaseStatus::Open;
    let ente_label = |e: &str| {
        if e == "asst" {
            "ASST"
        } else {
            "ente erogatore"
        }
    };
    let figure_label = |f: &str| {
        measure
            .figure(&FigureId::new(f))
            .map_or_else(|| f.to_owned(), |x| x.name.clone())
    };
    let responsabile_of = |ente: Ente| file.responsabile(ente) == Some(&session.fiscal_code);
    let professionals = file
        .professionals
        .iter()
        .map(|((ente, cf), figures)| ProfessionalRow {
            name: names.label(cf.as_str()),
            cf: cf.as_str().to_owned(),
            ente: ente.to_string(),
            ente_label: ente_label(&ente.to_string()),
            figures: figures
                .iter()
                .map(|f| figure_label(f.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
            removable: open && responsabile_of(*ente),
        })
        .collect();
    let mut enable = Vec::new();
    for ente in [Ente::Asst, Ente::Provider] {
        if !open || !responsabile_of(ente) {
            continue;
        }
        let organisation = if ente == Ente::Asst {
            &file.asst
        } else {
            &file.provider
        };
        let staff = diario_projections::staff_of(&state.db, organisation).await?;
        enable.push(EnableForm {
            ente: ente.to_string(),
            ente_label: ente_label(&ente.to_string()),
            people: staff
                .iter()
                .map(|m| {
                    (
                        m.fiscal_code.clone(),
                        format!("{} ({})", m.name, m.fiscal_code),
                    )
                })
                .collect(),
            figures: measure
                .figures
                .iter()
                .map(|f| (f.id.as_str().to_owned(), f.name.clone()))
                .collect(),
        });
    }
    Ok(render(
        status,
        &CasePage {
            chrome: super::Chrome::of(state, session, "").await?,
            id: id.to_string(),
            pseudonym: diary.recipient_pseudonym.clone(),
            organisations: format!(
                "{} · {} · {}",
                org(&diary.ats),
                org(&diary.asst),
                org(&diary.provider)
            ),
            status: status_label,
            alerts: diary.alerts.iter().map(|a| a.message.clone()).collect(),
            notice,
            phases,
            form,
            error: general_error,
            audit: diario_commands::access::audit_case(&principal, file).is_ok(),
            professionals,
            enable,
            interrupt: open && file.case_manager == session.fiscal_code,
            causes: diario_domain::case::InterruptionCause::ALL
                .iter()
                .map(|c| {
                    let value = serde_json::to_value(c)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    (value, c.label())
                })
                .collect(),
            enrolled: file.recipient.firmalom_enrolled,
            confirmers: file
                .recipient
                .confirmers
                .iter()
                .map(|c| (c.as_str().to_owned(), names.label(c.as_str())))
                .collect(),
            checklists: diario_commands::access::read_checklists(&principal, file).is_ok(),
            docs: super::documents::block(file, measure, &principal, &names),
            voucher: diary.voucher.as_ref().and_then(|v| {
                voucher_block(
                    v,
                    measure,
                    file,
                    open && file.case_manager == session.fiscal_code,
                    principal.has(diario_domain::grants::GrantRole::AtsOperator, &file.ats),
                )
            }),
        },
    ))
}

/// The case page.
pub async fn show(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Query(q): Query<CaseQuery>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other(&format!("/?next=/pratiche/{id}"), None));
    };
    let notice = if q.registrata.is_some() {
        "Prestazione registrata.".to_owned()
    } else {
        // Only the outcomes this page itself sends back.
        q.esito
            .filter(|e| {
                [
                    "Prestazioni validate.",
                    "Diario chiuso: richiesta di conferma inviata.",
                    AMENDED,
                    WITHDRAWN,
                ]
                .contains(&e.as_str())
                    || super::manage::OUTCOMES.contains(&e.as_str())
                    || super::documents::OUTCOMES.contains(&e.as_str())
            })
            .unwrap_or_default()
    };
    page(
        &state,
        &session,
        id,
        StatusCode::OK,
        notice,
        &EntryForm::default(),
        None,
        None,
    )
    .await
}

/// The outcomes of the entry page.
pub(super) const AMENDED: &str = "Prestazione corretta.";
pub(super) const WITHDRAWN: &str = "Prestazione ritirata.";

/// The field a refusal is about, for the form (`""`: the whole form).
pub(super) fn field_of(code: &str) -> &'static str {
    match code {
        "figure-not-in-catalogue"
        | "figure-not-enabled-for-professional"
        | "figure-cannot-deliver-service" => "figure",
        "service-not-in-catalogue" | "service-not-in-phase" => "service",
        "duration-not-multiple-of-30-minutes" => "end",
        "overlapping-entry" => "start",
        "entry-in-the-future" | "entry-recorded-too-late" | "amended-date-too-late" => "date",
        "professional-not-enabled"
        | "diary-not-opened"
        | "diary-closed"
        | "phase-not-in-measure" => "phase",
        _ => "",
    }
}

/// What an entry form says: phase, figure, service and slot, or the field to correct and why.
#[allow(clippy::type_complexity)]
pub(super) fn parse_entry(
    form: &EntryForm,
) -> Result<(Phase, FigureId, ServiceId, TimeSlot), (&'static str, String)> {
    let refuse = |field: &'static str, message: &str| (field, message.to_owned());
    let phase = form
        .phase
        .parse::<u8>()
        .ok()
        .and_then(|n| Phase::try_from(n).ok())
        .ok_or_else(|| refuse("phase", "Scegliere la fase."))?;
    if form.figure.is_empty() {
        return Err(refuse("figure", "Scegliere la figura professionale."));
    }
    if form.service.is_empty() {
        return Err(refuse("service", "Scegliere la prestazione."));
    }
    let date = NaiveDate::parse_from_str(&form.date, "%Y-%m-%d")
        .map_err(|_| refuse("date", "Indicare la data come gg/mm/aaaa."))?;
    if form.start.is_empty() {
        return Err(refuse("start", "Indicare l'ora di inizio."));
    }
    if form.end.is_empty() {
        return Err(refuse("end", "Indicare l'ora di fine."));
    }
    let slot = TimeSlot::parse(date, &form.start, &form.end)
        .map_err(|e| (e.field(), super::italian(&e.to_string())))?;
    Ok((
        phase,
        FigureId::new(form.figure.as_str()),
        ServiceId::new(form.service.as_str()),
        slot,
    ))
}

/// Records an hour from the form.
pub async fn record(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path(id): Path<Uuid>,
    Form(form): Form<EntryForm>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    if let Err(e) = session::check_form(&state, &headers, &session, &form.csrf) {
        return Ok(forbidden(id, e));
    }
    let parsed = parse_entry(&form).map(|(phase, figure, service, slot)| {
        CaseCommand::RecordEntry(RecordEntry {
            entry_id: Uuid::now_v7(),
            phase,
            figure,
            service,
            slot,
            system_failure_id: None,
        })
    });
    let command = match parsed {
        Ok(c) => c,
        Err((field, message)) => {
            return page(
                &state,
                &session,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                String::new(),
                &form,
                Some((field, message)),
                None,
            )
            .await;
        }
    };
    let principal = session.principal(&state).await?;
    let result = state
        .handler
        .execute_case(
            id,
            &command,
            &Caller::Person(&principal),
            &CommandOptions::new(),
        )
        .await;
    match result {
        Ok(_) => {
            super::settle(&state, diario_projections::diaries::NAME).await?;
            Ok(see_other(&format!("/pratiche/{id}?registrata=1"), None))
        }
        Err(HandlerError::Domain(d)) => {
            let field = field_of(d.code());
            page(
                &state,
                &session,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                String::new(),
                &form,
                Some((field, super::italian(&d.to_string()))),
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(rename = "_csrf", default)]
    pub(super) csrf: String,
}

/// The responsabile validates the phase's entries (`validazione`) or closes its diary and sends
/// the confirmation request (`chiusura`), through the same commands the API sends.
pub async fn phase_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    Path((id, n, action)): Path<(Uuid, u8, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    let back = format!("/pratiche/{id}");
    let Ok(phase) = Phase::try_from(n) else {
        return Ok(super::message(
            StatusCode::NOT_FOUND,
            "Fase inesistente",
            "Questa fase non esiste.",
            &back,
            "Torna alla pratica",
        ));
    };
    let (command, done) = match action.as_str() {
        "validazione" => (
            CaseCommand::ValidateEntries(diario_domain::case::ValidateEntries {
                phase,
                entry_ids: None,
            }),
            "Prestazioni validate.",
        ),
        "chiusura" => (
            CaseCommand::ClosePhaseDiary(diario_domain::case::ClosePhaseDiary {
                phase,
                request_id: Uuid::now_v7(),
            }),
            "Diario chiuso: richiesta di conferma inviata.",
        ),
        _ => {
            return Ok(super::message(
                StatusCode::NOT_FOUND,
                "Operazione inesistente",
                "Questa operazione non esiste.",
                &back,
                "Torna alla pratica",
            ));
        }
    };
    super::manage::run(
        &state,
        &headers,
        Some(session),
        id,
        &form.csrf,
        Ok(command),
        done,
    )
    .await
}

pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The pending paper diary of a phase, as a PDF, for its responsabile (the recipient has no
/// FirmaLOM: the family signs it). Only a diary already generated is served here: a link must
/// not record anything.
pub async fn paper_diary(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path((id, n)): Path<(Uuid, u8)>,
) -> Result<Response, ApiError> {
    let Some(session) = session else {
        return Ok(see_other("/", None));
    };
    let back = format!("/pratiche/{id}");
    let missing = || {
        super::message(
            StatusCode::NOT_FOUND,
            "Diario cartaceo non disponibile",
            "Per questa fase non c'è un diario cartaceo in attesa di firma che tu possa scaricare.",
            &back,
            "Torna alla pratica",
        )
    };
    let principal = session.principal(&state).await?;
    let Ok((case, _)) = crate::reads::readable_case(&state, &principal, id).await else {
        return Ok(missing());
    };
    let file = crate::reads::file_of(&case)?;
    let (Ok(phase), Some(measure)) = (
        Phase::try_from(n),
        state.handler.catalogue().get(&file.measure_id),
    ) else {
        return Ok(missing());
    };
    if crate::paper::require_phase_responsabile(file, measure, phase, &session.fiscal_code).is_err()
    {
        return Ok(missing());
    }
    match crate::paper::pending_paper(file, phase, None) {
        Some(paper_id) => {
            crate::access_log::record(&state, &principal, file, "paper-diary", None).await?;
            crate::paper::pdf_response(&state, file, measure, paper_id).await
        }
        None => Ok(missing()),
    }
}

/// The recipient's rejections of a request in words: «reason» or "senza motivo", with how
/// many entries when the request was answered entry by entry.
fn rejections_text(r: &diario_projections::RequestView) -> String {
    r.rejections
        .iter()
        .map(|x| {
            let why = x
                .reason
                .as_deref()
                .map_or_else(|| "senza motivo indicato".to_owned(), |w| format!("«{w}»"));
            if x.entry_ids.len() == r.entry_ids.len() {
                why
            } else {
                let n = x.entry_ids.len();
                let what = if n == 1 { "prestazione" } else { "prestazioni" };
                format!("{n} {what} {why}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
