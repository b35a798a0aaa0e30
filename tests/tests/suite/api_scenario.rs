//! A full #UP case through phases I–IV over real HTTP with real tokens, on PostgreSQL and
//! SQLite: recording, amending, withdrawing, validation, closure, whole-diary and per-entry
//! confirmation requests, rejection and re-request, expiry and re-send, interruption.
//!
//! The recipient's answers are given through the same command handler the FirmaLOM callback
//! calls, with the recipient as the actor (`answer` below; the signed callback itself is
//! `firmalom_e2e`) — the only step not driven over HTTP.

use chrono::{DateTime, Utc};
use diario_api::domain::case::{
    Answer, AnswerConfirmation, RecordNotificationDelivery, RecordNotificationUndelivered,
};
use diario_api::domain::testing::fixtures::rome;
use diario_api::domain::{CaseCommand, FiscalCode};
use diario_commands::{Caller, CaseOutcome, CommandOptions};
use diario_tests::{ApiServer, Backend, Call, cf, id_in};
use serde_json::{Value, json};
use uuid::Uuid;

pub const ATS: &str = "ATS-MILANO";
pub const PROVIDER: &str = "ENTE-ALFA";

pub fn t0() -> DateTime<Utc> {
    rome(2024, 3, 1, 9, 0)
}

pub fn case_body() -> Value {
    diario_tests::standard_case_body("UP-2024-0001")
}

/// Registers the tests' provider (ENTE-ALFA) and grants every organisation role of the tests
/// through the admin endpoints.
pub async fn grant_roles(server: &ApiServer) {
    let provider = diario_tests::standard_provider_body();
    server
        .call(
            "POST",
            "/v1/organisations",
            cf::PLATFORM_ADMIN,
            Some(provider),
        )
        .yielding(201, drop)
        .await;
    for (who, role, scope) in [
        (cf::ATS_OPERATOR, "ats_operator", Some(ATS)),
        (cf::OTHER_ATS_OPERATOR, "ats_operator", Some("ATS-BERGAMO")),
        (cf::ENTE_ADMIN, "ente_admin", Some(PROVIDER)),
        (cf::AUDITOR, "auditor", None),
        (cf::SUPPORT, "support", None),
    ] {
        grant(server, cf::PLATFORM_ADMIN, who, role, scope).await;
    }
}

/// `POST /v1/admin/grants` as `by`: `role` (in `scope`) to `who`.
pub fn grant<'a>(
    server: &'a ApiServer,
    by: &str,
    who: &str,
    role: &str,
    scope: Option<&str>,
) -> Call<'a> {
    let body = json!({ "fiscal_code": who, "role": role, "scope": scope });
    server.call("POST", "/v1/admin/grants", by, Some(body))
}

/// `POST /v1/cases` as `who`; yields the case id.
pub fn open_case_as<'a>(server: &'a ApiServer, who: &str, body: Value) -> Call<'a, Uuid> {
    let call = server.call("POST", "/v1/cases", who, Some(body));
    call.yielding(201, |body| id_in(&body, "case_id"))
}

/// Opens the standard case as the ATS operator; returns its id.
pub async fn open_case(server: &ApiServer) -> Uuid {
    open_case_as(server, cf::ATS_OPERATOR, case_body()).await
}

/// `POST /v1/system-failures` as `who`; yields the failure id.
pub fn declare_failure<'a>(server: &'a ApiServer, who: &str, body: Value) -> Call<'a, Uuid> {
    let call = server.call("POST", "/v1/system-failures", who, Some(body));
    call.yielding(201, |body| id_in(&body, "failure_id"))
}

/// A regional system failure (Art. 9) to declare, its ticket opened as it began.
pub fn regional_failure(ticket: &str, description: &str, began_at: &str) -> Value {
    json!({
        "scope": { "kind": "regional" }, "ticket": ticket, "description": description,
        "began_at": began_at, "ticket_opened_at": began_at
    })
}

/// `POST /v1/system-failures/{id}/resolution` as the support desk.
pub fn resolve_failure<'a>(server: &'a ApiServer, failure: Uuid, at: &str) -> Call<'a> {
    let path = format!("/v1/system-failures/{failure}/resolution");
    let body = json!({ "resolved_at": at });
    server.call("POST", path, cf::SUPPORT, Some(body))
}

/// The responsabile of phase `n`: the ASST's for phase I, the provider's for II–IV (Art. 4).
pub fn responsabile(n: u8) -> &'static str {
    if n == 1 {
        cf::RESP_ASST
    } else {
        cf::RESP_PROVIDER
    }
}

/// The endpoints of one case (`/v1/cases/{id}/…`), each step as the person who takes it.
#[derive(Clone, Copy)]
pub struct CaseApi<'a> {
    pub server: &'a ApiServer,
    pub id: Uuid,
}

impl<'a> CaseApi<'a> {
    /// Opens the standard case as the ATS operator.
    pub async fn open(server: &'a ApiServer) -> CaseApi<'a> {
        CaseApi::of(server, open_case(server).await)
    }

    /// The case `id` (opened or not).
    pub fn of(server: &'a ApiServer, id: Uuid) -> CaseApi<'a> {
        CaseApi { server, id }
    }

    /// `/v1/cases/{id}` followed by `rest`.
    pub fn path(&self, rest: &str) -> String {
        format!("/v1/cases/{}{rest}", self.id)
    }

    /// Any request on the case as `who`.
    pub fn call(
        &self,
        method: &'static str,
        rest: &str,
        who: &str,
        body: Option<Value>,
    ) -> Call<'a> {
        self.server.call(method, self.path(rest), who, body)
    }

    /// `GET` the case as `who`.
    pub fn view(&self, who: &str) -> Call<'a> {
        self.call("GET", "", who, None)
    }

    /// Opens phase `n` as its responsabile.
    pub fn open_phase(&self, n: u8) -> Call<'a> {
        self.open_phase_as(responsabile(n), n)
    }

    pub fn open_phase_as(&self, who: &str, n: u8) -> Call<'a> {
        self.call("POST", &format!("/phases/{n}/open"), who, None)
    }

    /// Enables `professional` for `figures` as the responsabile of `ente` ("asst", "provider").
    pub fn enable_professional(
        &self,
        ente: &str,
        professional: &str,
        figures: &[&str],
    ) -> Call<'a> {
        let by = if ente == "asst" {
            cf::RESP_ASST
        } else {
            cf::RESP_PROVIDER
        };
        self.enable_professional_as(by, ente, professional, figures)
    }

    pub fn enable_professional_as(
        &self,
        who: &str,
        ente: &str,
        professional: &str,
        figures: &[&str],
    ) -> Call<'a> {
        let body = json!({ "ente": ente, "professional": professional, "figures": figures });
        self.call("POST", "/professionals", who, Some(body))
    }

    /// Records `entry` (see [`entry`]) as `who`; yields the entry id.
    pub fn record_entry(&self, who: &str, entry: Value) -> Call<'a, Uuid> {
        let call = self.call("POST", "/entries", who, Some(entry));
        call.yielding(201, |body| id_in(&body, "entry_id"))
    }

    /// Moves an entry to `[date, start, end]` as `who`, correcting a material error.
    pub fn amend_entry(&self, who: &str, entry: Uuid, [date, start, end]: [&str; 3]) -> Call<'a> {
        let body = json!({
            "slot": { "date": date, "start": start, "end": end },
            "reason": "orario trascritto male",
        });
        self.call("PATCH", &format!("/entries/{entry}"), who, Some(body))
    }

    pub fn withdraw_entry(&self, who: &str, entry: Uuid) -> Call<'a> {
        self.call("DELETE", &format!("/entries/{entry}"), who, None)
    }

    /// Validates phase `n` (only `entries`, when given) as its responsabile.
    pub fn validate(&self, n: u8, entries: Option<&[Uuid]>) -> Call<'a> {
        let body = entries.map(|ids| json!({ "entry_ids": ids }));
        self.call(
            "POST",
            &format!("/phases/{n}/validation"),
            responsabile(n),
            body,
        )
    }

    /// Records the output that closes phase `n` (Art. 1) as its responsabile; yields its id.
    pub async fn add_output(&self, n: u8) -> Uuid {
        self.server.add_output(self.id, n).await
    }

    /// Closes phase `n` as its responsabile (the whole-diary request goes with it).
    pub fn close_phase(&self, n: u8) -> Call<'a> {
        self.call("POST", &format!("/phases/{n}/close"), responsabile(n), None)
    }

    /// A per-entry confirmation request as the phase's responsabile; yields its id.
    pub fn request_confirmation(&self, n: u8, entries: &[Uuid]) -> Call<'a, Uuid> {
        let body = json!({ "phase": n, "entry_ids": entries });
        let call = self.call(
            "POST",
            "/confirmation-requests",
            responsabile(n),
            Some(body),
        );
        call.yielding(201, |body| id_in(&body, "request_id"))
    }

    /// Re-sends a confirmation request as `who`.
    pub fn resend(&self, who: &str, request: Uuid) -> Call<'a> {
        let rest = format!("/confirmation-requests/{request}/resend");
        self.call("POST", &rest, who, None)
    }

    /// Sets the PDI caps as the provider's responsabile.
    pub fn set_pdi(&self, caps: Value) -> Call<'a> {
        self.call("PUT", "/pdi", cf::RESP_PROVIDER, Some(caps))
    }

    /// Interrupts the pathway as `who` for an `other` cause described by `reason`.
    pub fn interrupt(&self, who: &str, reason: &str) -> Call<'a> {
        let body = json!({ "cause": "other", "reason": reason });
        self.call("POST", "/interruption", who, Some(body))
    }

    /// Phase I opened with the psicologo enabled by the ASST; the clock at 4 March 2024 18:00.
    pub async fn start_phase_one(&self) {
        self.open_phase(1).await;
        self.enable_professional("asst", cf::PSICOLOGO, &["psicologo"])
            .await;
        self.server.set_clock(rome(2024, 3, 4, 18, 0)).await;
    }

    /// Phase II opened with the educatore enabled by the provider for `figures`.
    pub async fn start_phase_two(&self, figures: &[&str]) {
        self.open_phase(2).await;
        self.enable_professional("provider", cf::EDUCATORE, figures)
            .await;
    }
}

/// PDI caps of one service (and an overall cap, when given).
pub fn pdi(service: &str, max_minutes: u32, total: Option<u32>) -> Value {
    let caps = json!([{ "service": service, "max_minutes": max_minutes }]);
    match total {
        Some(total) => json!({ "caps": caps, "total_max_minutes": total }),
        None => json!({ "caps": caps }),
    }
}

/// The item of the JSON array `list` whose `key` is `value`.
pub fn item_where<'v, T>(list: &'v Value, key: &str, value: T) -> &'v Value
where
    Value: PartialEq<T>,
    T: Copy + std::fmt::Debug,
{
    let items = list
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"));
    items
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value:?} in {list}"))
}

/// The request id in a response body.
pub fn request_id(body: &Value) -> Uuid {
    id_in(body, "request_id")
}

/// The types of the events in a response body, in order.
pub fn response_event_types(body: &Value) -> Vec<&str> {
    let events = body["events"].as_array().expect("events");
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

/// The recipient's answer through the command handler (as the FirmaLOM callback does, with the
/// recipient as actor).
pub async fn answer(
    server: &ApiServer,
    case_id: Uuid,
    request_id: Uuid,
    answer: Answer,
) -> CaseOutcome {
    let parent = FiscalCode::parse(cf::PARENT).expect("CF");
    let command = CaseCommand::AnswerConfirmation(AnswerConfirmation { request_id, answer });
    server
        .state
        .handler
        .execute_case(
            case_id,
            &command,
            &Caller::Recipient(parent),
            &CommandOptions::new(),
        )
        .await
        .expect("the answer is decided")
}

/// The dispatcher's report that FirmaLOM received the current sending of `request_id` at the
/// server's clock: the answer window opens (Art. 6). The dispatcher's own run is
/// `firmalom_outbox`.
pub async fn delivered(server: &ApiServer, case_id: Uuid, request_id: Uuid) {
    let handler = &server.state.handler;
    let (state, _) = handler.load_case(case_id).await.expect("case");
    let sent_at = state.file.expect("case").requests[&request_id].sent_at;
    let command = CaseCommand::RecordNotificationDelivery(RecordNotificationDelivery {
        request_id,
        sent_at,
        received_at: handler.now(),
    });
    handler
        .execute_case(case_id, &command, &Caller::System, &CommandOptions::new())
        .await
        .expect("the delivery is recorded");
}

/// The dispatcher's report that the current sending of `request_id` could not be delivered.
pub async fn undelivered(server: &ApiServer, case_id: Uuid, request_id: Uuid) {
    let handler = &server.state.handler;
    let (state, _) = handler.load_case(case_id).await.expect("case");
    let sent_at = state.file.expect("case").requests[&request_id].sent_at;
    let command = CaseCommand::RecordNotificationUndelivered(RecordNotificationUndelivered {
        request_id,
        sent_at,
        attempts: 3,
        last_error: "FirmaLOM answered 404 Not Found".to_owned(),
    });
    handler
        .execute_case(case_id, &command, &Caller::System, &CommandOptions::new())
        .await
        .expect("the failed delivery is recorded");
}

/// Whether an outcome recorded an event of type `event_type`.
pub fn recorded(outcome: &CaseOutcome, event_type: &str) -> bool {
    outcome.events.iter().any(|e| e.event_type() == event_type)
}

/// An entry as it is written and read: `date`, `start` and `end` beside the other fields.
pub fn entry(phase: u8, figure: &str, service: &str, date: &str, start: &str, end: &str) -> Value {
    json!({
        "phase": phase,
        "figure": figure,
        "service": service,
        "date": date,
        "start": start,
        "end": end
    })
}

/// A psicologo's phase I entry on 4 March 2024.
pub fn psicologo_entry(service: &str, start: &str, end: &str) -> Value {
    entry(1, "psicologo", service, "2024-03-04", start, end)
}

/// An educatore professionale's entry in `phase`.
pub fn educatore_entry(phase: u8, service: &str, [date, start, end]: [&str; 3]) -> Value {
    entry(phase, "educatore_professionale", service, date, start, end)
}

async fn full_case(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    let psicologo = |service, start, end| {
        case.record_entry(cf::PSICOLOGO, psicologo_entry(service, start, end))
    };
    let educatore = |phase, service, slot| {
        case.record_entry(cf::EDUCATORE, educatore_entry(phase, service, slot))
    };

    // ---- Phase I (ASST): open, enable, record, amend, withdraw, validate, close ----------
    case.start_phase_one().await;
    let e1 = psicologo("colloquio_valutazione", "10:00", "11:00").await;
    let amended = case
        .amend_entry(cf::PSICOLOGO, e1, ["2024-03-04", "10:00", "11:30"])
        .await;
    assert_eq!(amended["events"][0]["type"], "EntryAmended");
    let e2 = psicologo("stesura_pi", "14:00", "15:00").await;
    let withdrawn = case.withdraw_entry(cf::PSICOLOGO, e2).await;
    assert_eq!(withdrawn["events"][0]["type"], "EntryWithdrawn");
    case.validate(1, None).await;
    case.add_output(1).await;
    let closed = case.close_phase(1).await;
    let r1 = request_id(&closed);
    let types = response_event_types(&closed);
    assert!(
        types.contains(&"PhaseDiaryClosed") && types.contains(&"ConfirmationRequested"),
        "{types:?}"
    );
    server.set_clock(rome(2024, 3, 4, 20, 0)).await;
    let confirmed = answer(&server, case.id, r1, Answer::Confirmed).await;
    assert!(recorded(&confirmed, "DiaryHandedToAts"));

    // ---- Phase II (provider): rejection and re-request -------------------------------------
    case.start_phase_two(&["educatore_professionale"]).await;
    let e3 = educatore(2, "osservazione", ["2024-03-04", "15:00", "17:00"]).await;
    case.validate(2, Some(&[e3])).await;
    case.add_output(2).await;
    let r2 = request_id(&case.close_phase(2).await);
    let reason = Some("l'osservazione è durata un'ora e mezza".into());
    let rejected = answer(&server, case.id, r2, Answer::Rejected { reason }).await;
    assert!(recorded(&rejected, "ConfirmationRejected"));
    // The correction gives only what changes (the end); the rest keeps its value. Both shapes
    // at once are refused, naming the field.
    let patch = |body: Value| {
        case.call(
            "PATCH",
            &format!("/entries/{e3}"),
            cf::EDUCATORE,
            Some(body),
        )
    };
    patch(json!({ "end": "16:30", "slot": { "date": "2024-03-04", "start": "15:00", "end": "16:30" } }))
        .refused(400, "malformed-request")
        .await;
    patch(json!({ "end": "16:30", "reason": "durata effettiva" })).await;
    let diary = case.call("GET", "", cf::RESP_PROVIDER, None).body().await;
    let amended = diary["diaries"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["entries"].as_array().cloned().unwrap_or_default())
        .find(|e| e["entry_id"] == e3.to_string())
        .expect("the amended entry");
    assert_eq!(
        (&amended["date"], &amended["start"], &amended["end"]),
        (&json!("2024-03-04"), &json!("15:00"), &json!("16:30")),
        "{amended}"
    );
    case.validate(2, None).await;
    let r3 = request_id(&case.close_phase(2).await);
    assert_ne!(r2, r3, "a new request after the rejection");
    answer(&server, case.id, r3, Answer::Confirmed).await;

    // ---- Phase III: PDI caps, per-entry request, late answer, expiry, re-send ------------
    case.set_pdi(pdi("contrasto_dispersione_scolastica", 600, Some(1200)))
        .await;
    case.open_phase(3).await;
    server.set_clock(rome(2024, 3, 5, 18, 0)).await;
    let mut phase3 = Vec::new();
    for (start, end) in [("09:00", "10:00"), ("10:00", "11:00")] {
        let slot = ["2024-03-05", start, end];
        phase3.push(educatore(3, "contrasto_dispersione_scolastica", slot).await);
    }
    let requested = case.request_confirmation(3, &phase3).body().await;
    let r4 = request_id(&requested);
    assert_eq!(requested["events"][0]["checklist"]["passed"], true);
    delivered(&server, case.id, r4).await;
    case.resend(cf::RESP_PROVIDER, r4)
        .refused(409, "resend-too-early")
        .await;
    // Two days later: the answer is late, refused, and the request expires.
    server.set_clock(rome(2024, 3, 7, 19, 0)).await;
    let late = answer(&server, case.id, r4, Answer::Confirmed).await;
    assert!(late.refused_answer().is_some(), "a late answer is refused");
    assert!(recorded(&late, "ConfirmationRequestExpired"));
    // Art. 5: the expired request keeps its entries as sent (only a rejection gives them back).
    case.call(
        "PATCH",
        &format!("/entries/{}", phase3[0]),
        cf::EDUCATORE,
        Some(json!({ "end": "09:30", "reason": "errore materiale" })),
    )
    .refused(409, "entry-sent-for-confirmation")
    .await;
    let resent = case.resend(cf::RESP_PROVIDER, r4).await;
    assert_eq!(resent["events"][0]["type"], "ConfirmationResent");
    server.set_clock(rome(2024, 3, 7, 20, 0)).await;
    let ok4 = answer(&server, case.id, r4, Answer::Confirmed).await;
    assert!(recorded(&ok4, "EntriesConfirmed"));

    // ---- Phase IV, then the interruption by the case manager ------------------------------
    case.open_phase(4).await;
    let follow_up = |start, end| educatore(4, "follow_up", ["2024-03-07", start, end]);
    let e6 = follow_up("16:00", "17:00").await;
    let r5 = case.request_confirmation(4, &[e6]).await;
    let reason = "trasferimento del destinatario fuori regione";
    let interrupted = case.interrupt(cf::CASE_MANAGER, reason).await;
    assert_eq!(interrupted["events"][0]["type"], "PathwayInterrupted");
    assert_eq!(interrupted["events"][0]["ended_request_ids"], json!([r5]));

    // ---- The case as the ATS sees it -------------------------------------------------------
    let view = case.view(cf::ATS_OPERATOR).send().await;
    assert_eq!(view.status, 200, "{}", view.json);
    let version = view.json["version"].as_i64().expect("version");
    assert_eq!(view.header("etag"), Some(format!("\"{version}\"")));
    assert!(view.json["interrupted_at"].is_string());
    let diaries = view.json["diaries"].as_array().expect("diaries");
    let statuses: Vec<&str> = diaries
        .iter()
        .filter_map(|d| d["status"].as_str())
        .collect();
    assert_eq!(statuses, vec!["handed_to_ats"; 4]);
    // The current-diaries read model: entries per phase with their state.
    let entries: Vec<Value> = diaries
        .iter()
        .flat_map(|d| d["entries"].as_array().cloned().unwrap_or_default())
        .collect();
    let find = |id: Uuid| {
        entries
            .iter()
            .find(|e| e["entry_id"] == json!(id))
            .unwrap_or_else(|| panic!("entry {id}"))
            .clone()
    };
    assert_eq!(find(e1)["state"], "confirmed");
    assert_eq!(find(e1)["minutes"], 90);
    assert_eq!(find(e2)["state"], "withdrawn");
    assert_eq!(find(e3)["state"], "confirmed");
    assert_eq!(find(e3)["revision"], 1);
    assert!(phase3.iter().all(|e| find(*e)["state"] == "confirmed"));
    assert_ne!(find(e6)["state"], "confirmed");
    let phase3_diary = item_where(&view.json["diaries"], "phase", 3);
    assert_eq!(phase3_diary["confirmed_minutes"], 120);

    // Nothing is recorded after the interruption.
    follow_up("17:00", "18:00")
        .refused(409, "pathway-closed")
        .await;
    server.stop().await;
}

diario_tests::scenario_on_each_backend!(full_case =>
    api_full_up_case_through_four_phases_on_postgres,
    api_full_up_case_through_four_phases_on_sqlite);
