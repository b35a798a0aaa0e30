//! Each family of domain refusals over HTTP, with its status and stable problem `type`: roles
//! (403), missing things (404), state conflicts (409), rule violations (422), plus the Art. 9
//! relief path and the Art. 8 checklist carried in the problem.

use diario_tests::{ApiServer, Backend, cf};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api_scenario::{case_body, entry, grant_roles, id, ok, open_case, open_phase, t0};
use diario_api::domain::testing::fixtures::rome;

async fn expect(
    server: &ApiServer,
    method: &str,
    path: &str,
    who: &str,
    body: Option<Value>,
    status: u16,
    code: &str,
) -> Value {
    let r = server
        .send(method, path, Some(who), body.as_ref(), &[])
        .await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (status, code),
        "{method} {path}: {}",
        r.json
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(
        r.json["type"],
        format!("https://diario.example/problems/{code}")
    );
    assert!(r.json["detail"].as_str().is_some_and(|d| !d.is_empty()));
    r.json
}

async fn refusals(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case_id = open_case(&server).await;
    let c = |p: &str| format!("/v1/cases/{case_id}{p}");
    let nil = Uuid::nil();

    // ---- 403: roles (Art. 4, 5, 6, 9) -------------------------------------------------------
    expect(
        &server,
        "POST",
        "/v1/cases",
        cf::RESP_ASST,
        Some(case_body()),
        403,
        "not-ats-operator",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/phases/1/open"),
        cf::RESP_PROVIDER,
        None,
        403,
        "not-phase-responsabile",
    )
    .await;
    expect(
        &server,
        "PUT",
        &c("/responsabili/asst"),
        cf::OUTSIDER,
        Some(json!({ "responsabile": cf::OUTSIDER })),
        403,
        "responsabile-change-not-allowed",
    )
    .await;
    expect(&server, "POST", &c("/professionals"), cf::RESP_ASST,
        Some(json!({ "ente": "provider", "professional": cf::EDUCATORE, "figures": ["educatore_professionale"] })),
        403, "not-ente-responsabile").await;
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
    let rec = |figure: &str, service: &str, start: &str, end: &str| {
        entry(1, figure, service, "2024-03-04", start, end)
    };
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::OUTSIDER,
        Some(rec("psicologo", "colloquio_valutazione", "09:00", "10:00")),
        403,
        "professional-not-enabled",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::PSICOLOGO,
        Some(rec(
            "assistente_sociale",
            "colloquio_valutazione",
            "09:00",
            "10:00",
        )),
        403,
        "figure-not-enabled-for-professional",
    )
    .await;
    let e1 = id(
        &ok(
            &server,
            "POST",
            &c("/entries"),
            cf::PSICOLOGO,
            Some(rec("psicologo", "colloquio_valutazione", "09:00", "10:00")),
            201,
        )
        .await,
        "entry_id",
    );
    expect(
        &server,
        "PATCH",
        &c(&format!("/entries/{e1}")),
        cf::RESP_ASST,
        Some(json!({ "slot": { "date": "2024-03-04", "start": "09:00", "end": "09:30" } })),
        403,
        "not-entry-author",
    )
    .await;
    expect(
        &server,
        "DELETE",
        &c(&format!("/entries/{e1}")),
        cf::CASE_MANAGER,
        None,
        403,
        "not-entry-author",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/interruption"),
        cf::PSICOLOGO,
        Some(json!({ "reason": "x" })),
        403,
        "interruption-not-allowed",
    )
    .await;
    expect(&server, "POST", "/v1/system-failures", cf::RESP_ASST, Some(json!({
        "scope": { "kind": "regional" }, "ticket": "T", "description": "d", "began_at": "2024-03-01T08:00:00Z" })),
        403, "not-support-desk").await;
    expect(
        &server,
        "GET",
        &c(""),
        cf::OUTSIDER,
        None,
        403,
        "case-access-denied",
    )
    .await;
    expect(
        &server,
        "POST",
        "/v1/admin/grants",
        cf::ATS_OPERATOR,
        Some(json!({ "fiscal_code": cf::OUTSIDER, "role": "auditor" })),
        403,
        "not-platform-admin",
    )
    .await;

    // ---- 404: missing things ---------------------------------------------------------------
    expect(
        &server,
        "POST",
        &format!("/v1/cases/{nil}/entries"),
        cf::PSICOLOGO,
        Some(rec("psicologo", "colloquio_valutazione", "11:00", "12:00")),
        404,
        "case-not-opened",
    )
    .await;
    expect(
        &server,
        "DELETE",
        &c(&format!("/entries/{nil}")),
        cf::PSICOLOGO,
        None,
        404,
        "entry-not-found",
    )
    .await;
    expect(
        &server,
        "POST",
        &c(&format!("/confirmation-requests/{nil}/resend")),
        cf::RESP_PROVIDER,
        None,
        404,
        "confirmation-request-not-found",
    )
    .await;
    expect(
        &server,
        "POST",
        &format!("/v1/system-failures/{nil}/resolution"),
        cf::SUPPORT,
        Some(json!({ "resolved_at": "2024-03-02T08:00:00Z" })),
        404,
        "failure-not-declared",
    )
    .await;
    expect(&server, "POST", &c("/entries"), cf::PSICOLOGO, Some(json!({
        "phase": 1, "figure": "psicologo", "service": "colloquio_valutazione",
        "slot": { "date": "2024-02-01", "start": "09:00", "end": "10:00" }, "system_failure_id": nil })),
        404, "system-failure-unknown").await;
    expect(
        &server,
        "DELETE",
        "/v1/admin/grants",
        cf::PLATFORM_ADMIN,
        Some(json!({ "fiscal_code": cf::OUTSIDER, "role": "auditor" })),
        404,
        "not-found",
    )
    .await;

    // ---- 409: state conflicts --------------------------------------------------------------
    let mut same = case_body();
    same["case_id"] = json!(case_id);
    expect(
        &server,
        "POST",
        "/v1/cases",
        cf::ATS_OPERATOR,
        Some(same),
        409,
        "case-already-opened",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/phases/1/open"),
        cf::RESP_ASST,
        None,
        409,
        "diary-already-opened",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/phases/3/open"),
        cf::RESP_PROVIDER,
        None,
        409,
        "previous-phase-not-opened",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::PSICOLOGO,
        Some(entry(
            2,
            "psicologo",
            "osservazione",
            "2024-03-04",
            "09:00",
            "10:00",
        )),
        409,
        "diary-not-opened",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/phases/1/close"),
        cf::RESP_ASST,
        None,
        409,
        "unvalidated-entries-at-closure",
    )
    .await;
    ok(
        &server,
        "POST",
        &c("/phases/1/validation"),
        cf::RESP_ASST,
        None,
        200,
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/phases/1/validation"),
        cf::RESP_ASST,
        None,
        409,
        "nothing-to-validate",
    )
    .await;
    expect(
        &server,
        "PATCH",
        &c(&format!("/entries/{e1}")),
        cf::PSICOLOGO,
        Some(json!({ "slot": { "date": "2024-03-04", "start": "09:00", "end": "09:30" } })),
        409,
        "entry-validated",
    )
    .await;
    ok(
        &server,
        "POST",
        &c("/phases/1/close"),
        cf::RESP_ASST,
        None,
        200,
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::PSICOLOGO,
        Some(rec("psicologo", "colloquio_valutazione", "15:00", "16:00")),
        409,
        "diary-closed",
    )
    .await;

    // ---- 422: rule violations (Art. 5, 8, 9) -----------------------------------------------
    open_phase(&server, &c(""), 2).await;
    ok(&server, "POST", &c("/professionals"), cf::RESP_PROVIDER,
        Some(json!({ "ente": "provider", "professional": cf::EDUCATORE, "figures": ["educatore_professionale", "mediatore"] })), 200).await;
    let rec2 = |service: &str, date: &str, start: &str, end: &str| {
        entry(2, "educatore_professionale", service, date, start, end)
    };
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(rec2("osservazione", "2024-02-17", "09:00", "10:00")),
        422,
        "entry-recorded-too-late",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(rec2("osservazione", "2024-03-04", "19:00", "20:00")),
        422,
        "entry-in-the-future",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(rec2("osservazione", "2024-03-04", "09:00", "09:45")),
        422,
        "duration-not-multiple-of-30-minutes",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(rec2("osservazione", "2024-03-04", "10:00", "09:00")),
        422,
        "end-not-after-start",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(rec2("counselling", "2024-03-04", "09:00", "10:00")),
        422,
        "service-not-in-phase",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(rec2("giardinaggio", "2024-03-04", "09:00", "10:00")),
        422,
        "service-not-in-catalogue",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(entry(
            2,
            "astronauta",
            "osservazione",
            "2024-03-04",
            "09:00",
            "10:00",
        )),
        422,
        "figure-not-in-catalogue",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(entry(
            2,
            "mediatore",
            "osservazione",
            "2024-03-04",
            "09:00",
            "10:00",
        )),
        422,
        "figure-cannot-deliver-service",
    )
    .await;
    ok(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(rec2("osservazione", "2024-03-04", "09:00", "10:00")),
        201,
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(rec2("osservazione", "2024-03-04", "09:30", "10:30")),
        422,
        "overlapping-entry",
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/confirmation-requests"),
        cf::RESP_PROVIDER,
        Some(json!({ "phase": 2, "entry_ids": [nil] })),
        422,
        "per-entry-confirmation-not-applicable",
    )
    .await;
    expect(
        &server,
        "POST",
        "/v1/cases",
        cf::ATS_OPERATOR,
        Some({
            let mut b = case_body();
            b["measure_id"] = json!("nessuna");
            b
        }),
        422,
        "measure-not-in-catalogue",
    )
    .await;
    expect(
        &server,
        "POST",
        "/v1/cases",
        cf::ATS_OPERATOR,
        Some({
            let mut b = case_body();
            b["recipient"]["confirmers"] = json!([]);
            b
        }),
        422,
        "no-confirmers",
    )
    .await;
    expect(
        &server,
        "POST",
        "/v1/admin/grants",
        cf::PLATFORM_ADMIN,
        Some(json!({ "fiscal_code": cf::OUTSIDER, "role": "ats_operator" })),
        422,
        "grant-scope-required",
    )
    .await;
    expect(&server, "POST", "/v1/system-failures", cf::SUPPORT, Some(json!({
        "scope": { "kind": "regional" }, "ticket": "T", "description": "d", "began_at": "2030-01-01T00:00:00Z" })),
        422, "invalid-failure-times").await;

    // Art. 8: a phase III request over the PDI cap is refused with the whole checklist.
    ok(
        &server,
        "POST",
        &c("/phases/2/validation"),
        cf::RESP_PROVIDER,
        None,
        200,
    )
    .await;
    ok(
        &server,
        "POST",
        &c("/phases/2/close"),
        cf::RESP_PROVIDER,
        None,
        200,
    )
    .await;
    ok(&server, "PUT", &c("/pdi"), cf::RESP_PROVIDER,
        Some(json!({ "caps": [{ "service": "contrasto_dispersione_scolastica", "max_minutes": 60 }] })), 200).await;
    open_phase(&server, &c(""), 3).await;
    expect(
        &server,
        "POST",
        &c("/phases/3/validation"),
        cf::RESP_PROVIDER,
        None,
        422,
        "validation-not-applicable",
    )
    .await;
    let e3 = id(
        &ok(
            &server,
            "POST",
            &c("/entries"),
            cf::EDUCATORE,
            Some(entry(
                3,
                "educatore_professionale",
                "contrasto_dispersione_scolastica",
                "2024-03-04",
                "14:00",
                "16:00",
            )),
            201,
        )
        .await,
        "entry_id",
    );
    let problem = expect(
        &server,
        "POST",
        &c("/confirmation-requests"),
        cf::RESP_PROVIDER,
        Some(json!({ "phase": 3, "entry_ids": [e3] })),
        422,
        "checklist-failed",
    )
    .await;
    assert_eq!(problem["checklist"]["passed"], false, "{problem}");
    assert!(
        problem["checklist"]["checks"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );

    // Art. 9: a late entry citing a declared failure is accepted within 5 days of its resolution.
    let failure = ok(
        &server,
        "POST",
        "/v1/system-failures",
        cf::SUPPORT,
        Some(json!({
        "scope": { "kind": "regional" }, "ticket": "INC-9", "description": "BeS non raggiungibile",
        "began_at": "2024-02-20T08:00:00Z" })),
        201,
    )
    .await;
    let failure_id = id(&failure, "failure_id");
    ok(
        &server,
        "POST",
        &format!("/v1/system-failures/{failure_id}/resolution"),
        cf::SUPPORT,
        Some(json!({ "resolved_at": "2024-03-01T08:00:00Z" })),
        200,
    )
    .await;
    expect(
        &server,
        "POST",
        &format!("/v1/system-failures/{failure_id}/resolution"),
        cf::SUPPORT,
        Some(json!({ "resolved_at": "2024-03-01T09:00:00Z" })),
        409,
        "failure-already-resolved",
    )
    .await;
    let late = json!({
        "phase": 3, "figure": "educatore_professionale", "service": "accompagnamento_inclusione",
        "slot": { "date": "2024-02-19", "start": "09:00", "end": "10:00" }, "system_failure_id": failure_id });
    ok(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(late.clone()),
        201,
    )
    .await;
    server.catch_up().await;
    let list = server
        .send("GET", "/v1/system-failures", Some(cf::EDUCATORE), None, &[])
        .await;
    assert_eq!(list.json["items"][0]["failure_id"], json!(failure_id));
    server.set_clock(rome(2024, 3, 8, 9, 0)).await;
    let mut later = late;
    later["slot"]["start"] = json!("11:00");
    later["slot"]["end"] = json!("12:00");
    expect(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(later),
        422,
        "system-failure-grace-expired",
    )
    .await;

    // 409 after the interruption.
    ok(
        &server,
        "POST",
        &c("/interruption"),
        cf::RESP_PROVIDER,
        Some(json!({ "reason": "rinuncia" })),
        200,
    )
    .await;
    expect(
        &server,
        "POST",
        &c("/phases/4/open"),
        cf::RESP_PROVIDER,
        None,
        409,
        "pathway-closed",
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn api_domain_refusals_carry_their_problem_type_on_postgres() {
    refusals(Backend::Postgres).await;
}

#[tokio::test]
async fn api_domain_refusals_carry_their_problem_type_on_sqlite() {
    refusals(Backend::Sqlite).await;
}
