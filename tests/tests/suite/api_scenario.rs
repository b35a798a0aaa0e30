//! A full #UP case through phases I–IV over real HTTP with real tokens, on PostgreSQL and
//! SQLite: recording, amending, withdrawing, validation, closure, whole-diary and per-entry
//! confirmation requests, rejection and re-request, expiry and re-send, interruption.
//!
//! The recipient's answers are given through the same command handler the FirmaLOM callback
//! calls, with the recipient as the actor (`answer` below; the signed callback itself is
//! `firmalom_e2e`) — the only step not driven over HTTP.

use chrono::{DateTime, Utc};
use diario_api::domain::case::{Answer, AnswerConfirmation};
use diario_api::domain::testing::fixtures::rome;
use diario_api::domain::{CaseCommand, FiscalCode};
use diario_commands::{Caller, CaseOutcome, CommandOptions};
use diario_tests::{ApiServer, Backend, cf};
use serde_json::{Value, json};
use uuid::Uuid;

pub const ATS: &str = "ATS-MILANO";
pub const ASST: &str = "ASST-NORD";
pub const PROVIDER: &str = "ENTE-ALFA";

pub fn t0() -> DateTime<Utc> {
    rome(2024, 3, 1, 9, 0)
}

pub fn case_body() -> Value {
    json!({
        "measure_id": "up",
        "ats": ATS,
        "asst": ASST,
        "provider": PROVIDER,
        "responsabile_asst": cf::RESP_ASST,
        "responsabile_provider": cf::RESP_PROVIDER,
        "case_manager": cf::CASE_MANAGER,
        "recipient": {
            "pseudonym": "UP-2024-0001",
            "minor": true,
            "firmalom_enrolled": true,
            "confirmers": [cf::PARENT]
        }
    })
}

/// Grants every organisation role of the tests through the admin endpoint.
pub async fn grant_roles(server: &ApiServer) {
    for (who, role, scope) in [
        (cf::ATS_OPERATOR, "ats_operator", Some(ATS)),
        (cf::OTHER_ATS_OPERATOR, "ats_operator", Some("ATS-BERGAMO")),
        (cf::ENTE_ADMIN, "ente_admin", Some(PROVIDER)),
        (cf::AUDITOR, "auditor", None),
        (cf::SUPPORT, "support", None),
    ] {
        let r = server
            .send(
                "POST",
                "/v1/admin/grants",
                Some(cf::PLATFORM_ADMIN),
                Some(&json!({ "fiscal_code": who, "role": role, "scope": scope })),
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "grant {role}: {:?}", r.json);
    }
}

/// Opens the standard case as the ATS operator; returns its id.
pub async fn open_case(server: &ApiServer) -> Uuid {
    let r = server
        .send(
            "POST",
            "/v1/cases",
            Some(cf::ATS_OPERATOR),
            Some(&case_body()),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "open case: {:?}", r.json);
    r.json["case_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("case_id")
}

/// Opens phase `n` as its responsabile (the ASST's for phase I, the provider's for II–IV,
/// Art. 4); `case_path` is `/v1/cases/{id}`.
pub async fn open_phase(server: &ApiServer, case_path: &str, n: u8) {
    let who = if n == 1 {
        cf::RESP_ASST
    } else {
        cf::RESP_PROVIDER
    };
    ok(
        server,
        "POST",
        &format!("{case_path}/phases/{n}/open"),
        who,
        None,
        200,
    )
    .await;
}

/// Sends a write and asserts its status; returns the body.
pub async fn ok(
    server: &ApiServer,
    method: &str,
    path: &str,
    who: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    let r = server
        .send(method, path, Some(who), body.as_ref(), &[])
        .await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.json);
    r.json
}

pub fn id(v: &Value, field: &str) -> Uuid {
    v[field]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {v}"))
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

pub fn entry(phase: u8, figure: &str, service: &str, date: &str, start: &str, end: &str) -> Value {
    json!({
        "phase": phase,
        "figure": figure,
        "service": service,
        "slot": { "date": date, "start": start, "end": end }
    })
}

async fn full_case(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case_id = open_case(&server).await;
    let c = |p: &str| format!("/v1/cases/{case_id}{p}");

    // ---- Phase I (ASST): open, enable, record, amend, withdraw, validate, close ----------
    open_phase(&server, &c(""), 1).await;
    ok(
        &server,
        "POST",
        &c("/professionals"),
        cf::RESP_ASST,
        Some(json!({ "ente": "asst", "professional": cf::PSICOLOGO, "figures": ["psicologo"] })),
        200,
    )
    .await;
    server.set_clock(rome(2024, 3, 4, 18, 0)).await;
    let e1 = id(
        &ok(
            &server,
            "POST",
            &c("/entries"),
            cf::PSICOLOGO,
            Some(entry(
                1,
                "psicologo",
                "colloquio_valutazione",
                "2024-03-04",
                "10:00",
                "11:00",
            )),
            201,
        )
        .await,
        "entry_id",
    );
    let amended = ok(
        &server,
        "PATCH",
        &c(&format!("/entries/{e1}")),
        cf::PSICOLOGO,
        Some(json!({ "slot": { "date": "2024-03-04", "start": "10:00", "end": "11:30" } })),
        200,
    )
    .await;
    assert_eq!(amended["events"][0]["type"], "EntryAmended");
    let e2 = id(
        &ok(
            &server,
            "POST",
            &c("/entries"),
            cf::PSICOLOGO,
            Some(entry(
                1,
                "psicologo",
                "stesura_pi",
                "2024-03-04",
                "14:00",
                "15:00",
            )),
            201,
        )
        .await,
        "entry_id",
    );
    let withdrawn = ok(
        &server,
        "DELETE",
        &c(&format!("/entries/{e2}")),
        cf::PSICOLOGO,
        None,
        200,
    )
    .await;
    assert_eq!(withdrawn["events"][0]["type"], "EntryWithdrawn");
    ok(
        &server,
        "POST",
        &c("/phases/1/validation"),
        cf::RESP_ASST,
        None,
        200,
    )
    .await;
    let closed = ok(
        &server,
        "POST",
        &c("/phases/1/close"),
        cf::RESP_ASST,
        None,
        200,
    )
    .await;
    let r1 = id(&closed, "request_id");
    let types: Vec<&str> = closed["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(
        types.contains(&"PhaseDiaryClosed") && types.contains(&"ConfirmationRequested"),
        "{types:?}"
    );
    server.set_clock(rome(2024, 3, 4, 20, 0)).await;
    let confirmed = answer(&server, case_id, r1, Answer::Confirmed).await;
    assert!(
        confirmed
            .events
            .iter()
            .any(|e| e.event_type() == "DiaryHandedToAts")
    );

    // ---- Phase II (provider): rejection and re-request -------------------------------------
    open_phase(&server, &c(""), 2).await;
    ok(
        &server,
        "POST",
        &c("/professionals"),
        cf::RESP_PROVIDER,
        Some(json!({ "ente": "provider", "professional": cf::EDUCATORE, "figures": ["educatore_professionale"] })),
        200,
    )
    .await;
    let e3 = id(
        &ok(
            &server,
            "POST",
            &c("/entries"),
            cf::EDUCATORE,
            Some(entry(
                2,
                "educatore_professionale",
                "osservazione",
                "2024-03-04",
                "15:00",
                "17:00",
            )),
            201,
        )
        .await,
        "entry_id",
    );
    ok(
        &server,
        "POST",
        &c("/phases/2/validation"),
        cf::RESP_PROVIDER,
        Some(json!({ "entry_ids": [e3] })),
        200,
    )
    .await;
    let r2 = id(
        &ok(
            &server,
            "POST",
            &c("/phases/2/close"),
            cf::RESP_PROVIDER,
            None,
            200,
        )
        .await,
        "request_id",
    );
    let rejected = answer(
        &server,
        case_id,
        r2,
        Answer::Rejected {
            reason: "l'osservazione è durata un'ora e mezza".into(),
        },
    )
    .await;
    assert!(
        rejected
            .events
            .iter()
            .any(|e| e.event_type() == "ConfirmationRejected")
    );
    ok(
        &server,
        "PATCH",
        &c(&format!("/entries/{e3}")),
        cf::EDUCATORE,
        Some(json!({ "slot": { "date": "2024-03-04", "start": "15:00", "end": "16:30" } })),
        200,
    )
    .await;
    ok(
        &server,
        "POST",
        &c("/phases/2/validation"),
        cf::RESP_PROVIDER,
        None,
        200,
    )
    .await;
    let r3 = id(
        &ok(
            &server,
            "POST",
            &c("/phases/2/close"),
            cf::RESP_PROVIDER,
            None,
            200,
        )
        .await,
        "request_id",
    );
    assert_ne!(r2, r3, "a new request after the rejection");
    answer(&server, case_id, r3, Answer::Confirmed).await;

    // ---- Phase III: PDI caps, per-entry request, late answer, expiry, re-send ------------
    ok(
        &server,
        "PUT",
        &c("/pdi"),
        cf::RESP_PROVIDER,
        Some(json!({ "caps": [{ "service": "contrasto_dispersione_scolastica", "max_minutes": 600 }], "total_max_minutes": 1200 })),
        200,
    )
    .await;
    open_phase(&server, &c(""), 3).await;
    server.set_clock(rome(2024, 3, 5, 18, 0)).await;
    let mut phase3 = Vec::new();
    for (start, end) in [("09:00", "10:00"), ("10:00", "11:00")] {
        phase3.push(id(
            &ok(
                &server,
                "POST",
                &c("/entries"),
                cf::EDUCATORE,
                Some(entry(
                    3,
                    "educatore_professionale",
                    "contrasto_dispersione_scolastica",
                    "2024-03-05",
                    start,
                    end,
                )),
                201,
            )
            .await,
            "entry_id",
        ));
    }
    let requested = ok(
        &server,
        "POST",
        &c("/confirmation-requests"),
        cf::RESP_PROVIDER,
        Some(json!({ "phase": 3, "entry_ids": phase3 })),
        201,
    )
    .await;
    let r4 = id(&requested, "request_id");
    assert_eq!(requested["events"][0]["checklist"]["passed"], true);
    let early = server
        .send(
            "POST",
            &c(&format!("/confirmation-requests/{r4}/resend")),
            Some(cf::RESP_PROVIDER),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (early.status, early.problem_code().as_str()),
        (409, "resend-too-early")
    );
    // Two days later: the answer is late, refused, and the request expires.
    server.set_clock(rome(2024, 3, 7, 19, 0)).await;
    let late = answer(&server, case_id, r4, Answer::Confirmed).await;
    assert!(late.refused_answer().is_some(), "a late answer is refused");
    assert!(
        late.events
            .iter()
            .any(|e| e.event_type() == "ConfirmationRequestExpired")
    );
    let resent = ok(
        &server,
        "POST",
        &c(&format!("/confirmation-requests/{r4}/resend")),
        cf::RESP_PROVIDER,
        None,
        200,
    )
    .await;
    assert_eq!(resent["events"][0]["type"], "ConfirmationResent");
    server.set_clock(rome(2024, 3, 7, 20, 0)).await;
    let ok4 = answer(&server, case_id, r4, Answer::Confirmed).await;
    assert!(
        ok4.events
            .iter()
            .any(|e| e.event_type() == "EntriesConfirmed")
    );

    // ---- Phase IV, then the interruption by the case manager ------------------------------
    open_phase(&server, &c(""), 4).await;
    let e6 = id(
        &ok(
            &server,
            "POST",
            &c("/entries"),
            cf::EDUCATORE,
            Some(entry(
                4,
                "educatore_professionale",
                "follow_up",
                "2024-03-07",
                "16:00",
                "17:00",
            )),
            201,
        )
        .await,
        "entry_id",
    );
    let r5 = id(
        &ok(
            &server,
            "POST",
            &c("/confirmation-requests"),
            cf::RESP_PROVIDER,
            Some(json!({ "phase": 4, "entry_ids": [e6] })),
            201,
        )
        .await,
        "request_id",
    );
    let interrupted = ok(
        &server,
        "POST",
        &c("/interruption"),
        cf::CASE_MANAGER,
        Some(json!({ "reason": "trasferimento del destinatario fuori regione" })),
        200,
    )
    .await;
    assert_eq!(interrupted["events"][0]["type"], "PathwayInterrupted");
    assert_eq!(interrupted["events"][0]["ended_request_ids"], json!([r5]));

    // ---- The case as the ATS sees it -------------------------------------------------------
    let view = server
        .send("GET", &c(""), Some(cf::ATS_OPERATOR), None, &[])
        .await;
    assert_eq!(view.status, 200, "{}", view.json);
    let version = view.json["version"].as_i64().expect("version");
    assert_eq!(view.header("etag"), Some(format!("\"{version}\"")));
    assert!(view.json["interrupted_at"].is_string());
    let statuses: Vec<&str> = view.json["diaries"]
        .as_array()
        .expect("diaries")
        .iter()
        .filter_map(|d| d["status"].as_str())
        .collect();
    assert_eq!(statuses, vec!["handed_to_ats"; 4]);
    // The current-diaries read model: entries per phase with their state.
    let entries: Vec<Value> = view.json["diaries"]
        .as_array()
        .expect("diaries")
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
    let phase3_diary = view.json["diaries"]
        .as_array()
        .expect("diaries")
        .iter()
        .find(|d| d["phase"] == 3)
        .expect("phase 3 diary")
        .clone();
    assert_eq!(phase3_diary["confirmed_minutes"], 120);

    // Nothing is recorded after the interruption.
    let after = server
        .send(
            "POST",
            &c("/entries"),
            Some(cf::EDUCATORE),
            Some(&entry(
                4,
                "educatore_professionale",
                "follow_up",
                "2024-03-07",
                "17:00",
                "18:00",
            )),
            &[],
        )
        .await;
    assert_eq!(
        (after.status, after.problem_code().as_str()),
        (409, "pathway-closed")
    );
    server.stop().await;
}

#[tokio::test]
async fn api_full_up_case_through_four_phases_on_postgres() {
    full_case(Backend::Postgres).await;
}

#[tokio::test]
async fn api_full_up_case_through_four_phases_on_sqlite() {
    full_case(Backend::Sqlite).await;
}
