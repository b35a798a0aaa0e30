//! Each family of domain refusals over HTTP, with its status and stable problem `type`: roles
//! (403), missing things (404), state conflicts (409), rule violations (422), plus the Art. 9
//! relief path and the Art. 8 checklist carried in the problem.

use diario_tests::{ApiServer, Backend, cf};
use serde_json::json;
use uuid::Uuid;

use crate::api_scenario::{
    CaseApi, case_body, declare_failure, educatore_entry, entry, grant, grant_roles, item_where,
    open_case_as, pdi, psicologo_entry, regional_failure, resolve_failure, t0,
};
use diario_api::domain::testing::fixtures::rome;

async fn refusals(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    let nil = Uuid::nil();
    let psicologo = |service, start, end| {
        case.record_entry(cf::PSICOLOGO, psicologo_entry(service, start, end))
    };
    let colloquio =
        |figure, date| entry(1, figure, "colloquio_valutazione", date, "09:00", "10:00");
    let osservazione = |figure| entry(2, figure, "osservazione", "2024-03-04", "09:00", "10:00");

    // ---- 403: roles (Art. 4, 5, 6, 9) -------------------------------------------------------
    open_case_as(&server, cf::RESP_ASST, case_body())
        .refused(403, "not-ats-operator")
        .await;
    case.open_phase_as(cf::RESP_PROVIDER, 1)
        .refused(403, "not-phase-responsabile")
        .await;
    let outsider = json!({ "responsabile": cf::OUTSIDER });
    case.call(
        "PUT",
        "/responsabili/asst",
        cf::CASE_MANAGER,
        Some(outsider.clone()),
    )
    .refused(403, "responsabile-change-not-allowed")
    .await;
    // Someone who may not read the case is told what a case that does not exist tells.
    case.call("PUT", "/responsabili/asst", cf::OUTSIDER, Some(outsider))
        .refused(404, "case-not-opened")
        .await;
    let figures = ["educatore_professionale"];
    case.enable_professional_as(cf::RESP_ASST, "provider", cf::EDUCATORE, &figures)
        .refused(403, "not-ente-responsabile")
        .await;
    case.start_phase_one().await;
    case.record_entry(cf::RESP_PROVIDER, colloquio("psicologo", "2024-03-04"))
        .refused(403, "professional-not-enabled")
        .await;
    case.record_entry(cf::OUTSIDER, colloquio("psicologo", "2024-03-04"))
        .refused(404, "case-not-opened")
        .await;
    case.record_entry(cf::PSICOLOGO, colloquio("assistente_sociale", "2024-03-04"))
        .refused(403, "figure-not-enabled-for-professional")
        .await;
    let e1 = psicologo("colloquio_valutazione", "09:00", "10:00").await;
    let half_hour = ["2024-03-04", "09:00", "09:30"];
    case.amend_entry(cf::RESP_ASST, e1, half_hour)
        .refused(403, "not-entry-author")
        .await;
    case.withdraw_entry(cf::CASE_MANAGER, e1)
        .refused(403, "not-entry-author")
        .await;
    case.interrupt(cf::PSICOLOGO, "x")
        .refused(403, "interruption-not-allowed")
        .await;
    case.view(cf::OUTSIDER).refused(404, "not-found").await;
    grant(&server, cf::ATS_OPERATOR, cf::OUTSIDER, "auditor", None)
        .refused(403, "not-platform-admin")
        .await;

    // ---- 404: missing things ---------------------------------------------------------------
    let never_opened = CaseApi::of(&server, nil);
    let colloquio_at_11 = psicologo_entry("colloquio_valutazione", "11:00", "12:00");
    never_opened
        .record_entry(cf::PSICOLOGO, colloquio_at_11)
        .refused(404, "case-not-opened")
        .await;
    case.withdraw_entry(cf::PSICOLOGO, nil)
        .refused(404, "entry-not-found")
        .await;
    case.resend(cf::RESP_PROVIDER, nil)
        .refused(404, "confirmation-request-not-found")
        .await;
    resolve_failure(&server, nil, "2024-03-02T08:00:00Z")
        .refused(404, "failure-not-declared")
        .await;
    let mut unknown_failure = colloquio("psicologo", "2024-02-01");
    unknown_failure["system_failure_id"] = json!(nil);
    case.record_entry(cf::PSICOLOGO, unknown_failure)
        .refused(404, "system-failure-unknown")
        .await;
    let body = json!({ "fiscal_code": cf::OUTSIDER, "role": "auditor" });
    server
        .call("DELETE", "/v1/admin/grants", cf::PLATFORM_ADMIN, Some(body))
        .refused(404, "not-found")
        .await;

    // ---- 409: state conflicts --------------------------------------------------------------
    let mut same = case_body();
    same["case_id"] = json!(case.id);
    open_case_as(&server, cf::ATS_OPERATOR, same)
        .refused(409, "case-already-opened")
        .await;
    case.open_phase(1)
        .refused(409, "diary-already-opened")
        .await;
    case.open_phase(3)
        .refused(409, "previous-phase-not-opened")
        .await;
    let phase_two = osservazione("psicologo");
    case.record_entry(cf::PSICOLOGO, phase_two)
        .refused(409, "diary-not-opened")
        .await;
    case.add_output(1).await;
    case.close_phase(1)
        .refused(409, "unvalidated-entries-at-closure")
        .await;
    case.validate(1, None).await;
    case.validate(1, None)
        .refused(409, "nothing-to-validate")
        .await;
    case.amend_entry(cf::PSICOLOGO, e1, half_hour)
        .refused(409, "entry-validated")
        .await;
    case.close_phase(1).await;
    psicologo("colloquio_valutazione", "15:00", "16:00")
        .refused(409, "diary-closed")
        .await;

    // ---- 422: rule violations (Art. 5, 8, 9) -----------------------------------------------
    case.start_phase_two(&["educatore_professionale", "mediatore"])
        .await;
    let educatore = |service, date, start, end| {
        let body = educatore_entry(2, service, [date, start, end]);
        case.record_entry(cf::EDUCATORE, body)
    };
    for (date, start, end, code) in [
        ("2024-02-17", "09:00", "10:00", "entry-recorded-too-late"),
        ("2024-03-04", "19:00", "20:00", "entry-in-the-future"),
        (
            "2024-03-04",
            "09:00",
            "09:45",
            "duration-not-multiple-of-30-minutes",
        ),
        ("2024-03-04", "10:00", "09:00", "end-not-after-start"),
    ] {
        let slot = educatore("osservazione", date, start, end);
        slot.refused(422, code).await;
    }
    for (service, code) in [
        ("counselling", "service-not-in-phase"),
        ("giardinaggio", "service-not-in-catalogue"),
    ] {
        let service = educatore(service, "2024-03-04", "09:00", "10:00");
        service.refused(422, code).await;
    }
    for (figure, code) in [
        ("astronauta", "figure-not-in-catalogue"),
        ("mediatore", "figure-cannot-deliver-service"),
    ] {
        let figure = case.record_entry(cf::EDUCATORE, osservazione(figure));
        figure.refused(422, code).await;
    }
    educatore("osservazione", "2024-03-04", "09:00", "10:00").await;
    educatore("osservazione", "2024-03-04", "09:30", "10:30")
        .refused(422, "overlapping-entry")
        .await;
    case.request_confirmation(2, &[nil])
        .refused(422, "per-entry-confirmation-not-applicable")
        .await;
    let mut no_measure = case_body();
    no_measure["measure_id"] = json!("nessuna");
    open_case_as(&server, cf::ATS_OPERATOR, no_measure)
        .refused(422, "measure-not-in-catalogue")
        .await;
    let mut no_confirmers = case_body();
    no_confirmers["recipient"]["confirmers"] = json!([]);
    open_case_as(&server, cf::ATS_OPERATOR, no_confirmers)
        .refused(422, "no-confirmers")
        .await;
    // Art. 10: the recipient is a pseudonym, never a fiscal code.
    let mut named = case_body();
    named["recipient"]["pseudonym"] = json!(format!("UP {}", cf::PSICOLOGO));
    open_case_as(&server, cf::ATS_OPERATOR, named)
        .refused(422, "invalid-pseudonym")
        .await;
    let admin = cf::PLATFORM_ADMIN;
    grant(&server, admin, cf::OUTSIDER, "ats_operator", None)
        .refused(422, "grant-scope-required")
        .await;
    // Art. 9: only the support desk declares failures (403), and only past ones (422).
    for (who, began_at, status, code) in [
        (
            cf::RESP_ASST,
            "2024-03-01T08:00:00Z",
            403,
            "not-support-desk",
        ),
        (
            cf::SUPPORT,
            "2030-01-01T00:00:00Z",
            422,
            "invalid-failure-times",
        ),
    ] {
        let failure = regional_failure("T", "d", began_at);
        declare_failure(&server, who, failure)
            .refused(status, code)
            .await;
    }
    // Art. 9 "aprire immediatamente un ticket": at most a day between the failure and its
    // ticket; the list shows ticket, declaration and beginning side by side.
    let mut late_ticket = regional_failure("T-2", "d", "2024-02-27T08:00:00Z");
    late_ticket["ticket_opened_at"] = json!("2024-02-29T08:00:00Z");
    declare_failure(&server, cf::SUPPORT, late_ticket)
        .refused(422, "ticket-not-immediate")
        .await;
    let mut next_morning = regional_failure("T-3", "d", "2024-02-28T17:00:00Z");
    next_morning["ticket_opened_at"] = json!("2024-02-29T07:30:00Z");
    let t3 = declare_failure(&server, cf::SUPPORT, next_morning).await;
    server.catch_up().await;
    let list = server
        .call("GET", "/v1/system-failures", cf::SUPPORT, None)
        .await;
    let listed = item_where(&list["items"], "failure_id", t3.to_string().as_str());
    assert_eq!(listed["began_at"], "2024-02-28T17:00:00Z", "{listed}");
    assert_eq!(
        listed["ticket_opened_at"], "2024-02-29T07:30:00Z",
        "{listed}"
    );
    assert!(listed["declared_at"].is_string(), "{listed}");

    // Art. 8: a phase III request over the PDI cap is refused with the whole checklist.
    case.validate(2, None).await;
    case.add_output(2).await;
    case.close_phase(2).await;
    case.set_pdi(pdi("contrasto_dispersione_scolastica", 60, None))
        .await;
    case.open_phase(3).await;
    case.validate(3, None)
        .refused(422, "validation-not-applicable")
        .await;
    let slot = ["2024-03-04", "14:00", "16:00"];
    let e3_body = educatore_entry(3, "contrasto_dispersione_scolastica", slot);
    let e3 = case.record_entry(cf::EDUCATORE, e3_body).await;
    let problem = case
        .request_confirmation(3, &[e3])
        .refused(422, "checklist-failed")
        .await;
    assert_eq!(problem["checklist"]["passed"], false, "{problem}");
    assert!(
        problem["checklist"]["checks"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    assert_eq!(problem["checklist"]["catalogue_version"], "1", "{problem}");
    // The refused attempt is stored: an inspector sees it among the checklists.
    server.catch_up().await;
    let stored = case.call("GET", "/checklists", cf::AUDITOR, None).await;
    let refused = stored["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["kind"] == "refused")
        .unwrap_or_else(|| panic!("no refused checklist in {stored}"));
    assert_eq!(refused["passed"], false);
    assert_eq!(refused["catalogue_version"], "1");
    assert_eq!(refused["stored_by"], cf::RESP_PROVIDER);
    assert!(
        refused["checks"].as_array().is_some_and(|c| !c.is_empty()),
        "{refused}"
    );

    // Art. 9: a late entry citing a declared failure is accepted within 5 days of its resolution.
    let failure = regional_failure("INC-9", "BeS non raggiungibile", "2024-02-20T08:00:00Z");
    let failure_id = declare_failure(&server, cf::SUPPORT, failure).await;
    resolve_failure(&server, failure_id, "2024-03-01T08:00:00Z").await;
    resolve_failure(&server, failure_id, "2024-03-01T09:00:00Z")
        .refused(409, "failure-already-resolved")
        .await;
    // Delivered on 10 February: its 15 days ended during the failure, so it relies on it.
    let slot = ["2024-02-10", "09:00", "10:00"];
    let mut late = educatore_entry(3, "accompagnamento_inclusione", slot);
    late["system_failure_id"] = json!(failure_id);
    let late_id = case.record_entry(cf::EDUCATORE, late.clone()).await;
    // It counts only once the support desk co-signs it: until then the checklist refuses it.
    let problem = case
        .request_confirmation(3, &[late_id])
        .refused(422, "checklist-failed")
        .await;
    let failing: Vec<&str> = problem["checklist"]["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["passed"] == false && c["blocking"] == true)
        .filter_map(|c| c["code"].as_str())
        .collect();
    assert!(
        failing.contains(&"formal.late-entry-cosigned"),
        "{failing:?}"
    );
    let cosign = |who: &str| {
        case.call(
            "POST",
            &format!("/entries/{late_id}/cosignature"),
            who,
            None,
        )
    };
    cosign(cf::RESP_PROVIDER)
        .refused(403, "not-support-desk")
        .await;
    cosign(cf::SUPPORT).await;
    server.catch_up().await;
    let view = case.view(cf::RESP_PROVIDER).await;
    let cosigned = view["diaries"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["entries"].as_array().cloned().unwrap_or_default())
        .find(|e| e["entry_id"] == late_id.to_string())
        .expect("the late entry");
    assert_eq!(cosigned["cosigned_by"], cf::SUPPORT, "{cosigned}");
    assert_eq!(cosigned["professional"], cf::EDUCATORE);
    // Delivered on 16 February: its 15 days ended on 2 March, after the resolution (1 March),
    // so there was time to record normally and the failure does not excuse it.
    let mut after = educatore_entry(
        3,
        "accompagnamento_inclusione",
        ["2024-02-16", "09:00", "10:00"],
    );
    after["system_failure_id"] = json!(failure_id);
    case.record_entry(cf::EDUCATORE, after)
        .refused(422, "system-failure-not-applicable")
        .await;
    server.catch_up().await;
    let list = server
        .send("GET", "/v1/system-failures", Some(cf::EDUCATORE), None, &[])
        .await;
    assert_eq!(list.json["items"][0]["failure_id"], json!(failure_id));
    let relying = |who: &'static str, query: &'static str| {
        let server = &server;
        async move {
            let path = format!("/v1/system-failures{query}");
            let list = server.send("GET", &path, Some(who), None, &[]).await;
            assert_eq!(list.status, 200, "{who}{query}: {}", list.json);
            let item = item_where(
                &list.json["items"],
                "failure_id",
                failure_id.to_string().as_str(),
            );
            item["entries"].as_array().map_or(0, Vec::len)
        }
    };
    // The failure is listed for everybody; the entries relying on it only where the caller may
    // read the case — another ATS's operator and an outsider see none, also asking for the ATS.
    assert_eq!(relying(cf::EDUCATORE, "").await, 1);
    assert_eq!(relying(cf::ATS_OPERATOR, "").await, 1);
    assert_eq!(relying(cf::OTHER_ATS_OPERATOR, "").await, 0);
    assert_eq!(relying(cf::OTHER_ATS_OPERATOR, "?ats=ATS-MILANO").await, 0);
    assert_eq!(relying(cf::OUTSIDER, "?ats=ATS-MILANO").await, 0);
    server.set_clock(rome(2024, 3, 8, 9, 0)).await;
    let mut later = late;
    later["start"] = json!("11:00");
    later["end"] = json!("12:00");
    case.record_entry(cf::EDUCATORE, later)
        .refused(422, "system-failure-grace-expired")
        .await;

    // 409 after the interruption.
    case.interrupt(cf::RESP_PROVIDER, "rinuncia").await;
    case.open_phase(4).refused(409, "pathway-closed").await;
    server.stop().await;
}

diario_tests::scenario_on_each_backend!(refusals =>
    api_domain_refusals_carry_their_problem_type_on_postgres,
    api_domain_refusals_carry_their_problem_type_on_sqlite);
