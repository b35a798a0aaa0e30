//! The Regolamento to the letter over HTTP: clock times as written (Art. 5), corrections of a
//! material error and their limits after the recording window, and the responsabile acting on
//! the entries of a professional no longer enabled (Art. 5-6).

use diario_api::domain::testing::fixtures::rome;
use diario_tests::{ApiServer, Backend, cf};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api_scenario::{CaseApi, entry, grant_roles, item_where, t0};

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

diario_tests::scenario_on_each_backend!(letter =>
    the_regolamento_to_the_letter_over_http_on_postgres,
    the_regolamento_to_the_letter_over_http_on_sqlite);
