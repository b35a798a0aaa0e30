//! Who read what (Art. 10; GDPR art. 32) over real HTTP on both backends: each read of a
//! case's personal data is recorded with who, when, what and as which role; the
//! data-protection officer lists it; it never holds the data read and refuses changes.

use diario_tests::{ApiServer, Backend, cf};
use serde_json::Value;

use crate::api_scenario::{CaseApi, grant, grant_roles, psicologo_entry, t0};

diario_tests::scenario_on_each_backend! {
    access_log =>
        every_read_of_a_case_is_recorded_and_listed_for_the_dpo_on_postgres,
        every_read_of_a_case_is_recorded_and_listed_for_the_dpo_on_sqlite;
}

/// A data-protection officer of the tests.
const DPO: &str = "DPTPRT70A01F205P";

async fn access_log(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let dpo = diario_api::domain::FiscalCode::parse(DPO);
    assert!(dpo.is_ok(), "a valid fiscal code: {dpo:?}");
    grant(&server, cf::PLATFORM_ADMIN, DPO, "dpo", None).await;
    let case = CaseApi::open(&server).await;
    case.start_phase_one().await;
    case.record_entry(
        cf::PSICOLOGO,
        psicologo_entry("colloquio_valutazione", "09:00", "10:00"),
    )
    .await;
    server.catch_up().await;

    // Three people read the case: its psicologo, the ATS (view and audit trail), an auditor
    // (its dossier). A refused read is not a read of personal data: nothing is recorded.
    case.view(cf::PSICOLOGO).await;
    case.view(cf::ATS_OPERATOR).await;
    case.call("GET", "/audit-trail", cf::ATS_OPERATOR, None)
        .await;
    case.call("GET", "/dossier", cf::AUDITOR, None).await;
    case.view(cf::OUTSIDER).refused(404, "not-found").await;

    // The DPO reads the log, not the case.
    case.view(DPO).refused(404, "not-found").await;
    server
        .call("GET", "/v1/access-log", cf::ATS_OPERATOR, None)
        .refused(403, "access-log-denied")
        .await;
    let page = server
        .call(
            "GET",
            format!("/v1/access-log?case_id={}", case.id),
            DPO,
            None,
        )
        .send()
        .await;
    assert_eq!(page.status, 200, "{}", page.json);
    let records = page.json["records"].as_array().expect("records");
    let seen: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["person"].as_str().unwrap_or_default(),
                r["role"].as_str().unwrap_or_default(),
                r["what"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (cf::AUDITOR, "auditor", "dossier"),
            (cf::ATS_OPERATOR, "ats_operator", "audit-trail"),
            (cf::ATS_OPERATOR, "ats_operator", "case"),
            (cf::PSICOLOGO, "professional", "case"),
        ],
        "newest first, who and as what: {records:?}"
    );
    assert!(records.iter().all(|r| r["at"].as_str().is_some()));
    let text = String::from_utf8_lossy(&page.bytes);
    assert!(
        !text.contains("UP-2024-0001") && !text.contains("colloquio_valutazione"),
        "the log never holds the data read: {text}"
    );

    // By person, paged.
    let mine = server
        .call(
            "GET",
            format!("/v1/access-log?person={}&limit=1", cf::ATS_OPERATOR),
            cf::AUDITOR,
            None,
        )
        .await;
    assert_eq!(mine["records"].as_array().map(Vec::len), Some(1));
    let before = mine["next_before"].as_i64().expect("a next page");
    let next = server
        .call(
            "GET",
            format!("/v1/access-log?person={}&before={before}", cf::ATS_OPERATOR),
            cf::AUDITOR,
            None,
        )
        .await;
    assert_eq!(next["records"][0]["what"], Value::from("case"));

    // Append-only, as the event log.
    assert!(
        server
            .db
            .try_raw("UPDATE access_log SET person = 'X'")
            .await
            .is_err()
    );
    assert!(server.db.try_raw("DELETE FROM access_log").await.is_err());
    server.stop().await;
}
