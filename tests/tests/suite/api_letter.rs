//! The Regolamento to the letter over HTTP: clock times as written (Art. 5), corrections of a
//! material error and their limits after the recording window, and the responsabile acting on
//! the entries of a professional no longer enabled (Art. 5-6).

use diario_api::domain::testing::fixtures::rome;
use diario_tests::{ApiServer, Backend, cf};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api_scenario::{CaseApi, case_body, entry, grant_roles, item_where, open_case_as, t0};

/// The psicologo's phase I colloquio on `date` from `start` to `end`.
fn colloquio(date: &str, start: &str, end: &str) -> Value {
    entry(1, "psicologo", "colloquio_valutazione", date, start, end)
}

/// `PATCH` of an entry with `body` as `who`.
fn correct<'a>(case: &CaseApi<'a>, who: &str, e: Uuid, body: Value) -> diario_tests::Call<'a> {
    case.call("PATCH", &format!("/entries/{e}"), who, Some(body))
}

async fn letter(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    case.start_phase_one().await; // clock: 4 March 2024, 18:00

    // ---- Art. 5: clock times as written -----------------------------------------------------
    let quarter = case.record_entry(cf::PSICOLOGO, colloquio("2024-03-04", "09:15", "10:15"));
    let quarter = quarter.await;
    let midnight = colloquio("2024-03-03", "23:30", "24:00");
    let midnight = case.record_entry(cf::PSICOLOGO, midnight).await;
    server.catch_up().await;
    let view = case.view(cf::RESP_ASST).await;
    let entries = &item_where(&view["diaries"], "phase", 1)["entries"];
    let (q, m) = (quarter.to_string(), midnight.to_string());
    let q = item_where(entries, "entry_id", q.as_str());
    assert_eq!(
        [&q["start"], &q["end"], &q["minutes"]],
        [&json!("09:15"), &json!("10:15"), &json!(60)]
    );
    let m = item_where(entries, "entry_id", m.as_str());
    assert_eq!([&m["end"], &m["minutes"]], [&json!("24:00"), &json!(30)]);
    // an unreadable time names its field; one the change to summer time skips is a rule
    let problem = case
        .record_entry(cf::PSICOLOGO, colloquio("2024-03-04", "9.15", "10:15"))
        .refused(400, "malformed-request")
        .await;
    assert_eq!(problem["field"], "start");
    let problem = case
        .record_entry(cf::PSICOLOGO, colloquio("2024-03-04", "11:00", "12:60"))
        .refused(400, "malformed-request")
        .await;
    assert_eq!(problem["field"], "end");
    case.record_entry(cf::PSICOLOGO, colloquio("2024-03-31", "01:00", "02:30"))
        .refused(422, "nonexistent-local-time")
        .await;
    case.record_entry(cf::PSICOLOGO, colloquio("2024-03-04", "12:00", "12:45"))
        .refused(422, "duration-not-multiple-of-30-minutes")
        .await;

    // ---- Art. 5: a correction says which material error, and after the window cannot make
    // the entry worth more ---------------------------------------------------------------------
    let times = |start: &str, end: &str| json!({ "start": start, "end": end });
    correct(&case, cf::PSICOLOGO, quarter, times("09:00", "10:00"))
        .refused(422, "correction-reason-missing")
        .await;
    server.set_clock(rome(2024, 3, 30, 9, 0)).await; // the window of 4 March closed on the 19th
    let because = |mut body: Value| {
        body["reason"] = json!("orario trascritto male");
        body
    };
    correct(
        &case,
        cf::PSICOLOGO,
        quarter,
        because(times("09:15", "10:45")),
    )
    .refused(422, "late-amendment-adds-minutes")
    .await;
    correct(
        &case,
        cf::PSICOLOGO,
        quarter,
        because(json!({ "date": "2024-03-05" })),
    )
    .refused(422, "late-amendment-moves-date")
    .await;
    let shortened = correct(
        &case,
        cf::PSICOLOGO,
        quarter,
        because(times("09:15", "09:45")),
    );
    shortened.await;

    // ---- Art. 5-6: the responsabile withdraws the entry of a professional no longer enabled -
    let path = format!("/professionals/{}?ente=asst", cf::PSICOLOGO);
    case.call("DELETE", &path, cf::RESP_ASST, None).await;
    correct(
        &case,
        cf::RESP_ASST,
        quarter,
        because(times("09:15", "10:15")),
    )
    .refused(422, "responsabile-may-only-shorten")
    .await;
    let withdraw = |query: &str| {
        let path = format!("/entries/{midnight}{query}");
        case.call("DELETE", &path, cf::RESP_ASST, None)
    };
    withdraw("").refused(422, "correction-reason-missing").await;
    withdraw("?reason=professionista%20non%20pi%C3%B9%20in%20servizio").await;

    // the audit trail says who corrected and why
    server.catch_up().await;
    let trail = case
        .call("GET", "/audit-trail?limit=100", cf::AUDITOR, None)
        .await;
    let described = |t: &str| -> Vec<String> {
        let items = trail["items"].as_array().expect("items");
        items
            .iter()
            .filter(|r| r["event_type"] == t)
            .map(|r| format!("{} {}", r["actor_cf"], r["description"]))
            .collect()
    };
    let amended = described("EntryAmended");
    assert!(
        amended[0].contains(cf::PSICOLOGO) && amended[0].contains("motivo: orario trascritto male"),
        "{amended:?}"
    );
    let withdrawn = described("EntryWithdrawn");
    assert!(
        withdrawn[0].contains(&format!("ritirata da {}", cf::RESP_ASST))
            && withdrawn[0].contains("motivo: professionista non più in servizio"),
        "{withdrawn:?}"
    );
    server.stop().await;
}

/// No dead ends over HTTP: a validation withdrawn before closing, a paper diary the family
/// refuses to sign, the case manager replaced by the ATS.
async fn dead_ends(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let mut body = case_body();
    body["recipient"]["firmalom_enrolled"] = json!(false);
    let case = CaseApi::of(&server, open_case_as(&server, cf::ATS_OPERATOR, body).await);
    case.start_phase_one().await;
    let e1 = case
        .record_entry(cf::PSICOLOGO, colloquio("2024-03-04", "10:00", "11:30"))
        .await;
    case.validate(1, None).await;
    let withdrawal = |body: Value| {
        case.call(
            "POST",
            "/phases/1/validation/withdrawal",
            cf::RESP_ASST,
            Some(body),
        )
    };
    withdrawal(json!({})).refused(422, "reason-required").await;
    withdrawal(json!({ "reason": "orario da verificare" })).await;
    withdrawal(json!({ "reason": "ancora" }))
        .refused(409, "no-validation-to-withdraw")
        .await;
    let shorter = json!({ "end": "11:00", "reason": "orario trascritto male" });
    correct(&case, cf::PSICOLOGO, e1, shorter).await;
    case.validate(1, None).await;
    case.add_output(1).await;
    case.close_phase(1).await;

    // The paper diary the family will not sign is recorded as refused: the diary reopens.
    let pdf = case
        .call("POST", "/phases/1/paper-diary", cf::RESP_ASST, None)
        .send()
        .await;
    assert_eq!(pdf.status, 201);
    let paper: Uuid = pdf
        .header("x-diario-paper-id")
        .and_then(|s| s.parse().ok())
        .expect("paper id header");
    let cancel = |who: &str, body: Value| {
        case.call(
            "POST",
            &format!("/paper-diaries/{paper}/cancellation"),
            who,
            Some(body),
        )
    };
    cancel(cf::RESP_PROVIDER, json!({ "reason": "x" }))
        .refused(403, "not-phase-responsabile")
        .await;
    cancel(cf::RESP_ASST, json!({}))
        .refused(422, "reason-required")
        .await;
    cancel(cf::RESP_ASST, json!({ "refused_by_family": true })).await;
    cancel(cf::RESP_ASST, json!({ "refused_by_family": true }))
        .refused(409, "confirmation-request-not-pending")
        .await;
    server.catch_up().await;
    let view = case.view(cf::RESP_ASST).await;
    let phase1 = item_where(&view["diaries"], "phase", 1);
    assert_eq!(phase1["status"], "open", "{phase1}");
    let refused = item_where(
        &phase1["requests"],
        "request_id",
        paper.to_string().as_str(),
    );
    assert_eq!(refused["status"], "rejected", "{refused}");
    assert_eq!(refused["rejections"][0]["reason"], Value::Null);

    // The interruption names its verified cause; "other" must be described.
    let interrupt = |who: &str, body: Value| case.call("POST", "/interruption", who, Some(body));
    interrupt(cf::RESP_ASST, json!({ "cause": "other" }))
        .refused(422, "reason-required")
        .await;
    interrupt(cf::RESP_ASST, json!({ "cause": "trasloco" }))
        .refused(400, "malformed-request")
        .await;
    // Art. 6: the confirmers change through the API; never the case's staff; a responsabile
    // says why.
    let confirmers =
        |who: &str, body: Value| case.call("PUT", "/recipient/confirmers", who, Some(body));
    confirmers(
        cf::RESP_ASST,
        json!({ "confirmers": [cf::PARENT, cf::OUTSIDER] }),
    )
    .refused(422, "reason-required")
    .await;
    confirmers(
        cf::ATS_OPERATOR,
        json!({ "confirmers": [cf::PARENT, cf::PSICOLOGO] }),
    )
    .refused(422, "confirmer-is-staff")
    .await;
    confirmers(
        cf::PSICOLOGO,
        json!({ "confirmers": [cf::PARENT], "reason": "x" }),
    )
    .refused(403, "enrolment-change-not-allowed")
    .await;
    confirmers(
        cf::RESP_ASST,
        json!({ "confirmers": [cf::PARENT], "reason": "verificati con la famiglia" }),
    )
    .await;
    // The family installs FirmaLOM: the enrolment changes through the API.
    case.call(
        "PUT",
        "/recipient/enrolment",
        cf::ATS_OPERATOR,
        Some(json!({ "firmalom_enrolled": true })),
    )
    .await;
    server.catch_up().await;
    assert_eq!(case.view(cf::RESP_ASST).await["firmalom_enrolled"], true);

    // Art. 3: the case manager's figure is the designated case manager's, of the ASST.
    case.enable_professional("provider", cf::EDUCATORE, &["case_manager"])
        .refused(422, "case-manager-figure-reserved")
        .await;
    // The ATS replaces the case manager.
    let manager = |who: &str| {
        let body = json!({ "case_manager": cf::OUTSIDER });
        case.call("PUT", "/case-manager", who, Some(body))
    };
    manager(cf::RESP_ASST)
        .refused(403, "not-ats-operator")
        .await;
    manager(cf::ATS_OPERATOR).await;
    server.catch_up().await;
    let view = case.view(cf::ATS_OPERATOR).await;
    assert_eq!(view["case_manager"], cf::OUTSIDER);
    // The new case manager records the interruption; the ATS sees its cause on the case.
    interrupt(
        cf::OUTSIDER,
        json!({ "cause": "relocation", "reason": "la famiglia si trasferisce a Torino" }),
    )
    .await;
    server.catch_up().await;
    let view = case.view(cf::ATS_OPERATOR).await;
    let interruption = &view["interruption"];
    assert_eq!(interruption["cause"], "relocation", "{view}");
    assert_eq!(
        interruption["cause_label"],
        "trasferimento fuori dal territorio"
    );
    assert_eq!(interruption["by"], cf::OUTSIDER);
    assert_eq!(view["status"], "interrupted");
    // The responsabili and the ATS are told; not who recorded it.
    for (who, told) in [
        (cf::RESP_ASST, true),
        (cf::RESP_PROVIDER, true),
        (cf::ATS_OPERATOR, true),
        (cf::OTHER_ATS_OPERATOR, false),
        (cf::OUTSIDER, false),
    ] {
        let inbox = server.call("GET", "/v1/me/notifications", who, None).await;
        let interrupted = inbox["notifications"]
            .as_array()
            .expect("notifications")
            .iter()
            .find(|n| n["kind"] == "pathway-interrupted");
        assert_eq!(interrupted.is_some(), told, "{who}: {inbox}");
        if let Some(n) = interrupted {
            let message = n["message"].as_str().unwrap_or("");
            assert!(message.contains("Torino"), "{message}");
        }
    }
    // The confirmers' fiscal codes serve the signer check: never in the ATS's views, lists and
    // exports, next to the pseudonym.
    for path in [
        case.path(""),
        "/v1/ats/ATS-MILANO/cases".to_owned(),
        "/v1/reports/costs?ats=ATS-MILANO&format=csv".to_owned(),
        "/v1/ats/ATS-MILANO/dashboard".to_owned(),
    ] {
        let r = server
            .send("GET", &path, Some(cf::ATS_OPERATOR), None, &[])
            .await;
        assert_eq!(r.status, 200, "GET {path}");
        let text = String::from_utf8_lossy(&r.bytes);
        assert!(
            !text.contains(cf::PARENT),
            "a confirmer's CF in GET {path}: {text}"
        );
    }
    server.stop().await;
}

/// Art. 6: a notification FirmaLOM never received alerts the responsabile (case view, inbox)
/// and may be cancelled with a reason; then the paper diary, although the family is enrolled.
async fn undelivered(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    case.start_phase_one().await;
    case.record_entry(cf::PSICOLOGO, colloquio("2024-03-04", "10:00", "11:00"))
        .await;
    case.validate(1, None).await;
    case.add_output(1).await;
    let r = crate::api_scenario::request_id(&case.close_phase(1).await);
    let cancel = |who: &str, body: Value| {
        let path = format!("/confirmation-requests/{r}/cancellation");
        case.call("POST", &path, who, Some(body))
    };
    // On its way: answered or expired, not cancelled.
    cancel(cf::RESP_ASST, json!({ "reason": "nessuna risposta" }))
        .refused(409, "notification-not-undelivered")
        .await;
    crate::api_scenario::undelivered(&server, case.id, r).await;
    server.catch_up().await;
    let view = case.view(cf::RESP_ASST).await;
    let phase1 = item_where(&view["diaries"], "phase", 1);
    let request = item_where(&phase1["requests"], "request_id", r.to_string().as_str());
    assert_eq!(request["undelivered"]["attempts"], 3, "{request}");
    assert_eq!(
        request["deadline"],
        Value::Null,
        "no answer window without receipt"
    );
    let alerts: Vec<&str> = view["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["code"].as_str())
        .collect();
    assert!(alerts.contains(&"notification-undelivered"), "{alerts:?}");
    let inbox = server
        .call("GET", "/v1/me/notifications", cf::RESP_ASST, None)
        .await;
    assert_eq!(
        inbox["notifications"][0]["kind"], "notification-undelivered",
        "{inbox}"
    );
    cancel(cf::RESP_PROVIDER, json!({ "reason": "x" }))
        .refused(403, "not-phase-responsabile")
        .await;
    cancel(cf::RESP_ASST, json!({}))
        .refused(422, "reason-required")
        .await;
    cancel(
        cf::RESP_ASST,
        json!({ "reason": "la famiglia ha cambiato telefono" }),
    )
    .await;
    let pdf = case
        .call("POST", "/phases/1/paper-diary", cf::RESP_ASST, None)
        .send()
        .await;
    assert_eq!(pdf.status, 201, "then paper, although enrolled");
    server.catch_up().await;
    let trail = case
        .call("GET", "/audit-trail?limit=100", cf::AUDITOR, None)
        .await;
    assert!(
        trail
            .to_string()
            .contains("la famiglia ha cambiato telefono"),
        "{trail}"
    );
    server.stop().await;
}

diario_tests::scenario_on_each_backend!(undelivered =>
    an_undelivered_notification_is_cancelled_then_paper_over_http_on_postgres,
    an_undelivered_notification_is_cancelled_then_paper_over_http_on_sqlite);
diario_tests::scenario_on_each_backend!(letter =>
    the_regolamento_to_the_letter_over_http_on_postgres,
    the_regolamento_to_the_letter_over_http_on_sqlite);
diario_tests::scenario_on_each_backend!(dead_ends =>
    no_dead_ends_over_http_on_postgres,
    no_dead_ends_over_http_on_sqlite);
