//! Measure "autonomia 2016" (seed 003) end to end over real HTTP with real tokens, on both
//! backends: an ATS operator opens two cases under the Ambito's lead body choosing the higher
//! intensity; one pathway documents 70 accesses confirmed by the family, the case manager
//! declares the objectives with the final report and checks the diaries — realised, the whole
//! €4,800 due; the other is suspended (nothing recorded meanwhile), reactivated, its extension
//! authorised by the Region, then interrupted after its PI — €480 due. The voucher report per
//! Ambito, in JSON and CSV, gives each line's status, the 40% advance and the balance.

use chrono::{Duration, NaiveDate};
use diario_api::domain::case::Answer;
use diario_api::domain::testing::fixtures::rome;
use diario_tests::{ApiServer, Backend, cf, sample_pdf};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api_scenario::{CaseApi, grant_roles, open_case_as, pdi};

diario_tests::scenario_on_each_backend! {
    vouchers =>
        a_realised_and_an_interrupted_pathway_are_claimed_per_ambito_on_postgres,
        a_realised_and_an_interrupted_pathway_are_claimed_per_ambito_on_sqlite;
}

const AMBITO: &str = "AMBITO-MILANO-CAPOFILA";

fn case_body(pseudonym: &str) -> Value {
    let mut body = diario_tests::standard_case_body(pseudonym);
    body["measure_id"] = "autonomia_2016".into();
    body["asst"] = AMBITO.into();
    body["voucher"] = json!({ "intensity": "maggiore_intensita", "start": "2017-02-01" });
    body
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

/// The evening of `d` in Rome.
fn evening(d: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    use chrono::Datelike;
    rome(d.year(), d.month(), d.day(), 18, 0)
}

fn access_entry(d: NaiveDate) -> Value {
    json!({
        "phase": 3, "figure": "educatore_professionale", "service": "autonomia_personale",
        "date": d.to_string(), "start": "09:00", "end": "11:00"
    })
}

/// Uploads a document of `kind` as `who`; yields its id.
async fn document(server: &ApiServer, case: Uuid, who: &str, kind: &str) -> Uuid {
    let r = server
        .upload_document(case, who, kind, &sample_pdf(&format!("{kind} {case}")))
        .await;
    assert_eq!(r.status, 201, "upload of {kind}: {}", r.json);
    diario_tests::id_in(&r.json["events"][0], "document_id")
}

/// A case opened by the ATS operator with the PI recorded and phases II–III open.
async fn pathway<'a>(server: &'a ApiServer, pseudonym: &str) -> CaseApi<'a> {
    let case = CaseApi::of(
        server,
        open_case_as(server, cf::ATS_OPERATOR, case_body(pseudonym)).await,
    );
    case.open_phase(1).await;
    document(server, case.id, cf::RESP_ASST, "progetto_individuale").await;
    case.open_phase(2).await;
    case.open_phase(3).await;
    case.enable_professional("provider", cf::EDUCATORE, &["educatore_professionale"])
        .await;
    case
}

async fn vouchers(backend: Backend) {
    let server = ApiServer::start(backend, rome(2017, 1, 20, 9, 0)).await;
    grant_roles(&server).await;
    let lead = json!({
        "code": AMBITO, "name": "Comune di Milano, ente capofila dell'Ambito",
        "kind": "ambito_lead", "ats": "ATS-MILANO"
    });
    server
        .call("POST", "/v1/organisations", cf::PLATFORM_ADMIN, Some(lead))
        .yielding(201, drop)
        .await;

    // Under autonomia 2016 the public body is the Ambito's lead body, never an ASST (§9 C).
    let mut with_asst = case_body("AUT-MI-0000");
    with_asst["asst"] = "ASST-NORD-MILANO".into();
    let refused = server
        .call("POST", "/v1/cases", cf::ATS_OPERATOR, Some(with_asst))
        .send()
        .await;
    assert_eq!(refused.status, 422, "{}", refused.json);
    assert_eq!(refused.json["code"], "organisation-kind-mismatch");

    // The realised pathway: 70 days of service from 14 April 2017, confirmed by the family.
    let realised = pathway(&server, "AUT-MI-0001").await;
    realised
        .set_pdi(pdi("autonomia_personale", 70 * 120, None))
        .await;
    let mut entries = Vec::new();
    for n in 0..70 {
        let d = day(2017, 4, 14) + Duration::days(n);
        server.set_clock(evening(d)).await;
        entries.push(realised.record_entry(cf::EDUCATORE, access_entry(d)).await);
    }
    let request = realised.request_confirmation(3, &entries).await;
    crate::api_scenario::delivered(&server, realised.id, request).await;
    crate::api_scenario::answer(&server, realised.id, request, Answer::Confirmed).await;
    server.set_clock(rome(2018, 1, 20, 10, 0)).await;
    let report = document(
        &server,
        realised.id,
        cf::CASE_MANAGER,
        "relazione_finale_individuale",
    )
    .await;
    // Only the case manager declares, and with the final report (not the PI).
    let body = json!({ "achieved": true, "document_id": report });
    let r = realised
        .call("POST", "/objectives", cf::RESP_PROVIDER, Some(body.clone()))
        .send()
        .await;
    assert_eq!(
        (r.status, r.json["code"].as_str()),
        (403, Some("not-the-case-manager"))
    );
    realised
        .call("POST", "/objectives", cf::CASE_MANAGER, Some(body))
        .await;
    // Before the formal check, the realised amounts wait for it.
    server.catch_up().await;
    let view = realised.view(cf::CASE_MANAGER).await;
    let status = &view["voucher"]["status"];
    assert_eq!(status["accesses"]["counted"], 70, "{view}");
    assert_eq!(status["accesses"]["required"], 70);
    assert_eq!(status["claim"]["realised"], true);
    assert_eq!(
        status["claim"]["lines"][1]["status"]["status"],
        "not_yet_due"
    );
    assert_eq!(
        status["claim"]["lines"][1]["status"]["why"][0]["code"],
        "formal-check-missing"
    );
    let r = realised
        .call(
            "POST",
            "/formal-checks",
            cf::CASE_MANAGER,
            Some(json!({ "passed": false })),
        )
        .send()
        .await;
    assert_eq!(
        (r.status, r.json["code"].as_str()),
        (422, Some("reason-required"))
    );
    realised
        .call(
            "POST",
            "/formal-checks",
            cf::CASE_MANAGER,
            Some(json!({ "passed": true, "note": "calendari e diari completi" })),
        )
        .await;

    // The interrupted pathway: suspended from 1 March 2017, nothing recorded meanwhile.
    let interrupted = pathway(&server, "AUT-MI-0002").await;
    server.set_clock(rome(2017, 3, 2, 9, 0)).await;
    interrupted
        .call(
            "POST",
            "/suspensions",
            cf::CASE_MANAGER,
            Some(json!({ "from": "2017-03-01", "reason": "ricovero ospedaliero" })),
        )
        .await;
    server.set_clock(evening(day(2017, 3, 10))).await;
    let r = interrupted
        .record_entry(cf::EDUCATORE, access_entry(day(2017, 3, 10)))
        .send()
        .await;
    assert_eq!(
        (r.status, r.json["code"].as_str()),
        (409, Some("voucher-suspended")),
        "{}",
        r.json
    );
    interrupted
        .call(
            "POST",
            "/suspensions/2017-03-01/reactivation",
            cf::CASE_MANAGER,
            Some(json!({ "on": "2017-03-31" })),
        )
        .await;
    // The Region authorises the extension: 30 days more, valid to 2 March 2018.
    let r = interrupted
        .call(
            "POST",
            "/suspensions/2017-03-01/authorisation",
            cf::CASE_MANAGER,
            None,
        )
        .send()
        .await;
    assert_eq!(
        (r.status, r.json["code"].as_str()),
        (403, Some("not-ats-operator"))
    );
    interrupted
        .call(
            "POST",
            "/suspensions/2017-03-01/authorisation",
            cf::ATS_OPERATOR,
            None,
        )
        .await;
    server.set_clock(rome(2017, 5, 2, 9, 0)).await;
    interrupted
        .interrupt(cf::CASE_MANAGER, "trasferimento fuori regione")
        .await;

    // The report per Ambito on 31 January 2018, as the auditor reads it.
    server.catch_up().await;
    let report = server
        .call(
            "GET",
            "/v1/reports/vouchers?ats=ATS-MILANO&measure_id=autonomia_2016&as_of=2018-01-31",
            cf::AUDITOR,
            None,
        )
        .await;
    let ambiti = report["ambiti"].as_array().expect("ambiti");
    assert_eq!(ambiti.len(), 1, "{report}");
    assert_eq!(ambiti[0]["ambito"], AMBITO);
    let case_of = |id: Uuid| {
        ambiti[0]["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["case_id"] == id.to_string())
            .cloned()
            .unwrap_or_else(|| panic!("case {id} not in {report}"))
    };
    let r = case_of(realised.id);
    assert_eq!(
        (r["accesses"].as_u64(), r["realised"].as_bool()),
        (Some(70), Some(true))
    );
    let statuses: Vec<&str> = r["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["due", "due", "due"], "{r}");
    assert_eq!(
        (
            r["due_cents"].as_i64(),
            r["advance_cents"].as_i64(),
            r["balance_cents"].as_i64()
        ),
        (Some(480_000), Some(192_000), Some(288_000))
    );
    let i = case_of(interrupted.id);
    assert_eq!(i["interrupted"], true);
    assert_eq!(i["suspended_days"], 30);
    assert_eq!(i["authorised_days"], 30);
    assert_eq!(i["validity_end"], "2018-03-02");
    let lines = i["lines"].as_array().expect("lines");
    assert_eq!(
        lines
            .iter()
            .map(|l| l["status"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["due", "not_due", "not_due"]
    );
    assert_eq!(lines[2]["reasons"][0]["code"], "interrupted");
    assert_eq!(
        (
            i["due_cents"].as_i64(),
            i["advance_cents"].as_i64(),
            i["balance_cents"].as_i64()
        ),
        (Some(48_000), Some(192_000), Some(-144_000))
    );
    assert_eq!(
        (
            ambiti[0]["due_cents"].as_i64(),
            ambiti[0]["advance_cents"].as_i64(),
            ambiti[0]["balance_cents"].as_i64()
        ),
        (Some(528_000), Some(384_000), Some(144_000))
    );

    // The CSV the Ambito files: one row per flat amount, read back by the csv crate.
    let csv = server
        .send(
            "GET",
            "/v1/reports/vouchers?ats=ATS-MILANO&as_of=2018-01-31&format=csv",
            Some(cf::AUDITOR),
            None,
            &[],
        )
        .await;
    assert_eq!(csv.status, 200);
    let mut reader = csv::Reader::from_reader(csv.bytes.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 6);
    let interrupted_id = interrupted.id.to_string();
    let assessment = rows
        .iter()
        .find(|r| &r[1] == interrupted_id.as_str() && &r[9] == "due")
        .expect("the interrupted case's due line");
    assert_eq!((&assessment[8], &assessment[13]), ("480.00", "-1440.00"));

    // The cost report prices this measure per output, not per hour: no hour line for its 70
    // confirmed accesses, the same flat amounts as the voucher report, in its JSON and CSV.
    let costs = server
        .call(
            "GET",
            "/v1/reports/costs?ats=ATS-MILANO&to=2018-01-31",
            cf::AUDITOR,
            None,
        )
        .await;
    let hour_lines_of_the_pathways = costs["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .chain(costs["open_lines"].as_array().expect("open lines"))
        .filter(|l| l["case_id"] == realised.id.to_string() || l["case_id"] == interrupted_id)
        .count();
    assert_eq!(hour_lines_of_the_pathways, 0, "{costs}");
    let outputs = costs["outputs"].as_array().expect("outputs");
    assert_eq!(outputs.len(), 6, "{costs}");
    assert_eq!(
        (
            costs["outputs_due_cents"].as_i64(),
            costs["outputs_not_yet_due_cents"].as_i64()
        ),
        (Some(528_000), Some(0)),
        "{costs}"
    );
    assert!(
        outputs
            .iter()
            .all(|o| o["ente"] == AMBITO && o["measure_id"] == "autonomia_2016"),
        "{costs}"
    );
    let stopped: Vec<&Value> = outputs
        .iter()
        .filter(|o| o["case_id"] == interrupted_id && o["status"] == "not_due")
        .collect();
    assert_eq!(stopped.len(), 2);
    assert_eq!(stopped[1]["reasons"][0]["code"], "interrupted");
    let csv = server
        .send(
            "GET",
            "/v1/reports/costs?ats=ATS-MILANO&to=2018-01-31&format=csv",
            Some(cf::AUDITOR),
            None,
            &[],
        )
        .await;
    let mut reader = csv::Reader::from_reader(csv.bytes.as_slice());
    let output_rows: Vec<csv::StringRecord> = reader
        .records()
        .map(|r| r.expect("row"))
        .filter(|r| !r[12].is_empty())
        .collect();
    assert_eq!(output_rows.len(), 6);
    let euros: Vec<&str> = output_rows
        .iter()
        .filter(|r| &r[2] == realised.id.to_string().as_str())
        .map(|r| &r[9])
        .collect();
    assert_eq!(euros, ["480.00", "480.00", "3840.00"]);

    // The ATS dashboard counts the pathways, the running ones first.
    let board = server
        .call(
            "GET",
            "/v1/ats/ATS-MILANO/dashboard",
            cf::ATS_OPERATOR,
            None,
        )
        .await;
    let v = &board["vouchers"];
    assert_eq!(
        (
            v["pathways"].as_u64(),
            v["realised"].as_u64(),
            v["interrupted"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{board}"
    );
    assert_eq!(v["shown"][0]["accesses_required"], 70);
    // The catalogue is still served, with what makes each amount due.
    let measure = server
        .call("GET", "/v1/measures/autonomia_2016", cf::ATS_OPERATOR, None)
        .await;
    assert_eq!(measure["flat_amounts"][0]["due_when"]["kind"], "document");
    assert_eq!(measure["voucher"]["advance"]["percent"], 40);

    server.stop().await;
}
