//! Measure "invecchiamento attivo 2024" (seed 004) end to end over real HTTP with real tokens,
//! on both backends: an ATS operator opens a territorial plan (its budget within the Allegato
//! B limits) and names two staff and one volunteer, records the staff's cost records; each
//! person fills and signs two monthly timesheets, the plan's legal representative countersigns
//! them at the hourly cost in force; a later correction of a cost record does not reprice the
//! closed months; the report in JSON, CSV and XLSX (read back cell by cell with calamine).

use diario_api::domain::testing::fixtures::rome;
use diario_tests::{ApiServer, Backend, cf};
use serde_json::{Value, json};

use crate::api_scenario::grant_roles;

diario_tests::scenario_on_each_backend! {
    plans =>
        a_plan_with_two_staff_and_a_volunteer_is_reported_by_category_person_and_month_on_postgres,
        a_plan_with_two_staff_and_a_volunteer_is_reported_by_category_person_and_month_on_sqlite;
}

/// The legal representative of the plan (countersigns).
const REPRESENTATIVE: &str = cf::RESP_PROVIDER;
/// A full-time employee of the lead partner: €34,400 a year, €20.00/h.
const EMPLOYEE: &str = cf::EDUCATORE;
/// A 50% part-time employee of the partner: €17,200 a year over 860 hours, €20.00/h.
const PART_TIME: &str = cf::PSICOLOGO;
/// A volunteer: €16.37/h as co-financing.
const VOLUNTEER: &str = cf::PARENT;

fn plan_body() -> Value {
    json!({
        "measure_id": "invecchiamento_attivo_2024",
        "title": "Insieme si cresce – Milano",
        "ats": "ATS-MILANO",
        "lead": crate::api_scenario::PROVIDER,
        "partners": ["COOP-B"],
        "actions": [
            { "id": "A1", "name": "Laboratori intergenerazionali", "area": "socializzazione_inclusione" },
            { "id": "B1", "name": "Ginnastica dolce", "area": "autonomia_benessere" }
        ],
        "start": "2025-01-01",
        "end": "2026-12-31",
        "budget": {
            "staff": 6_000_000, "other": 2_000_000, "equipment": 500_000,
            "volunteers": 1_000_000, "cash": 1_000_000
        },
        "countersigners": [REPRESENTATIVE]
    })
}

fn employee_cost(annual_cents: i64, part_time: u32) -> Value {
    json!({
        "kind": "employee",
        "annual": { "a1_monthly_pay": annual_cents * 3 / 4, "b1_inps": annual_cents / 4 },
        "part_time_percent": part_time
    })
}

/// Records a day as the person.
async fn day(server: &ApiServer, who: &str, plan: &str, date: &str, action: &str, minutes: u32) {
    let month = &date[..7];
    server
        .call(
            "POST",
            format!("/v1/timesheets/{who}/{month}/days"),
            who,
            Some(json!({
                "plan_id": plan, "action": action, "activity": "Laboratorio di memoria",
                "date": date, "minutes": minutes
            })),
        )
        .yielding(201, drop)
        .await;
}

async fn sign_and_countersign(server: &ApiServer, who: &str, plan: &str, month: &str) {
    server
        .call(
            "POST",
            format!("/v1/timesheets/{who}/{month}/signature"),
            who,
            None,
        )
        .yielding(200, drop)
        .await;
    let closed = server
        .call(
            "POST",
            format!("/v1/timesheets/{who}/{month}/countersignatures"),
            REPRESENTATIVE,
            Some(json!({ "plan_id": plan })),
        )
        .await;
    assert_eq!(closed["closed"], true, "{closed}");
}

async fn plans(backend: Backend) {
    let server = ApiServer::start(backend, rome(2025, 1, 2, 9, 0)).await;
    grant_roles(&server).await;
    let partner = json!({
        "code": "COOP-B", "name": "Associazione Argento Vivo", "kind": "plan_partner",
        "ats": "ATS-MILANO"
    });
    server
        .call(
            "POST",
            "/v1/organisations",
            cf::PLATFORM_ADMIN,
            Some(partner),
        )
        .yielding(201, drop)
        .await;
    // The measure's unit is the plan: no recipient's case opens under it.
    let mut case = diario_tests::standard_case_body("INV-0001");
    case["measure_id"] = "invecchiamento_attivo_2024".into();
    server
        .call("POST", "/v1/cases", cf::ATS_OPERATOR, Some(case))
        .refused(422, "measure-uses-plans")
        .await;
    // A partner the registry does not hold is refused.
    let mut unknown = plan_body();
    unknown["partners"] = json!(["COOP-ZETA"]);
    server
        .call("POST", "/v1/plans", cf::ATS_OPERATOR, Some(unknown))
        .refused(422, "unknown-organisation")
        .await;

    // A budget whose co-financing is under 20% is not a validated plan.
    let mut short = plan_body();
    short["budget"]["cash"] = 0.into();
    short["budget"]["volunteers"] = 0.into();
    let refused = server
        .call("POST", "/v1/plans", cf::ATS_OPERATOR, Some(short))
        .refused(422, "plan-budget-over-limits")
        .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap_or("")
            .contains("cofinanziamento")
    );
    server
        .call("POST", "/v1/plans", cf::RESP_PROVIDER, Some(plan_body()))
        .refused(403, "not-ats-operator")
        .await;
    let opened = server
        .call("POST", "/v1/plans", cf::ATS_OPERATOR, Some(plan_body()))
        .yielding(201, |b| b)
        .await;
    let plan = opened["plan_id"].as_str().expect("plan id").to_owned();
    for (person, org, figure, financing) in [
        (
            EMPLOYEE,
            crate::api_scenario::PROVIDER,
            "personale_interno",
            "contribution",
        ),
        (PART_TIME, "COOP-B", "personale_interno", "contribution"),
        (VOLUNTEER, "COOP-B", "volontario", "volunteer"),
    ] {
        server
            .call(
                "POST",
                format!("/v1/plans/{plan}/people"),
                cf::ATS_OPERATOR,
                Some(json!({
                    "person": person, "organisation": org, "figure": figure,
                    "financing": financing
                })),
            )
            .yielding(200, drop)
            .await;
    }
    // A volunteer is never paid by the regional contribution.
    server
        .call(
            "POST",
            format!("/v1/plans/{plan}/people"),
            cf::ATS_OPERATOR,
            Some(json!({
                "person": cf::OUTSIDER, "organisation": "COOP-B", "figure": "volontario",
                "financing": "contribution"
            })),
        )
        .refused(422, "volunteer-only-cofinancing")
        .await;
    for (person, org, annual, part_time) in [
        (EMPLOYEE, crate::api_scenario::PROVIDER, 3_440_000, 100),
        (PART_TIME, "COOP-B", 1_720_000, 50),
    ] {
        server
            .call(
                "POST",
                format!("/v1/people/{person}/cost-records"),
                cf::ATS_OPERATOR,
                Some(json!({
                    "organisation": org, "valid_from": "2025-01-01",
                    "basis": employee_cost(annual, part_time),
                    "document": "Cedolini 2024 e Certificazione Unica"
                })),
            )
            .yielding(201, drop)
            .await;
    }

    // February and March 2025.
    server.set_clock(rome(2025, 3, 31, 19, 0)).await;
    day(&server, EMPLOYEE, &plan, "2025-02-03", "A1", 9 * 60).await;
    day(&server, EMPLOYEE, &plan, "2025-02-04", "B1", 3 * 60).await;
    day(&server, PART_TIME, &plan, "2025-02-03", "A1", 4 * 60).await;
    day(&server, VOLUNTEER, &plan, "2025-02-05", "A1", 6 * 60).await;
    day(&server, VOLUNTEER, &plan, "2025-02-06", "A1", 4 * 60).await;
    // The daily maximum of 12 hours, across the person's overall timesheet: 9 + 6 is refused.
    let over = server
        .call(
            "POST",
            format!("/v1/timesheets/{EMPLOYEE}/2025-02/days"),
            EMPLOYEE,
            Some(json!({
                "plan_id": plan, "action": "B1", "activity": "Ginnastica",
                "date": "2025-02-03", "minutes": 360
            })),
        )
        .refused(422, "daily-maximum-exceeded")
        .await;
    assert_eq!(over["rule"]["total_minutes"], 900, "{over}");
    // Only the person fills their timesheet.
    server
        .call(
            "POST",
            format!("/v1/timesheets/{EMPLOYEE}/2025-02/days"),
            PART_TIME,
            Some(json!({
                "plan_id": plan, "action": "A1", "activity": "x", "date": "2025-02-07",
                "minutes": 60
            })),
        )
        .refused(403, "not-the-person")
        .await;
    day(&server, EMPLOYEE, &plan, "2025-03-10", "A1", 6 * 60).await;
    day(&server, PART_TIME, &plan, "2025-03-10", "B1", 2 * 60).await;
    for who in [EMPLOYEE, PART_TIME, VOLUNTEER] {
        sign_and_countersign(&server, who, &plan, "2025-02").await;
    }
    for who in [EMPLOYEE, PART_TIME] {
        sign_and_countersign(&server, who, &plan, "2025-03").await;
    }
    // A signed month is closed; a countersignature is not given twice.
    server
        .call(
            "POST",
            format!("/v1/timesheets/{EMPLOYEE}/2025-03/days"),
            EMPLOYEE,
            Some(json!({
                "plan_id": plan, "action": "A1", "activity": "x", "date": "2025-03-11",
                "minutes": 60
            })),
        )
        .refused(409, "timesheet-signed")
        .await;
    // A corrected cost record arrives later: the closed months keep their rate.
    server
        .call(
            "POST",
            format!("/v1/people/{EMPLOYEE}/cost-records"),
            cf::ATS_OPERATOR,
            Some(json!({
                "organisation": crate::api_scenario::PROVIDER, "valid_from": "2025-01-01",
                "basis": employee_cost(4_300_000, 100), "document": "Rettifica"
            })),
        )
        .yielding(201, drop)
        .await;

    server.catch_up().await;
    let report = server
        .call(
            "GET",
            format!("/v1/plans/{plan}/report?as_of=2025-04-01"),
            cf::AUDITOR,
            None,
        )
        .await;
    let lines = report["lines"].as_array().expect("lines");
    // Employee: Feb A1 9h + B1 3h, Mar A1 6h at €20.00; part-time: Feb A1 4h, Mar B1 2h at
    // €20.00; volunteer: Feb A1 10h at €16.37.
    let amounts: Vec<(String, String, String, i64, i64)> = lines
        .iter()
        .map(|l| {
            (
                l["person"].as_str().unwrap_or("").to_owned(),
                l["month"].as_str().unwrap_or("").to_owned(),
                l["action"].as_str().unwrap_or("").to_owned(),
                l["rate_cents"].as_i64().unwrap_or(0),
                l["amount_cents"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let line = |p: &str, m: &str, a: &str, rate: i64, amount: i64| {
        (p.to_owned(), m.to_owned(), a.to_owned(), rate, amount)
    };
    let mut expected = vec![
        line(EMPLOYEE, "2025-02", "A1", 2000, 18_000),
        line(EMPLOYEE, "2025-02", "B1", 2000, 6_000),
        line(EMPLOYEE, "2025-03", "A1", 2000, 12_000),
        line(PART_TIME, "2025-02", "A1", 2000, 8_000),
        line(PART_TIME, "2025-03", "B1", 2000, 4_000),
        line(VOLUNTEER, "2025-02", "A1", 1637, 16_370),
    ];
    expected.sort();
    let mut got = amounts.clone();
    got.sort();
    assert_eq!(got, expected, "{report}");
    let category = |key: &str| {
        report["categories"]
            .as_array()
            .expect("categories")
            .iter()
            .find(|c| c["key"] == key)
            .map(|c| (c["budget_cents"].as_i64(), c["actual_cents"].as_i64()))
            .unwrap_or_else(|| panic!("category {key} in {report}"))
    };
    assert_eq!(category("A"), (Some(6_000_000), Some(48_000)));
    assert_eq!(category("E"), (Some(1_000_000), Some(16_370)));
    assert_eq!(category("C"), (Some(8_000_000), Some(2_048_000)));
    assert_eq!(category("G"), (Some(2_000_000), Some(1_016_370)));
    assert_eq!(report["report_status"], "running");
    assert_eq!(report["report_due"], "2027-03-01");

    // The same report as XLSX: two sheets, read back cell by cell.
    let xlsx = server
        .send(
            "GET",
            &format!("/v1/plans/{plan}/report?format=xlsx&as_of=2025-04-01"),
            Some(cf::AUDITOR),
            None,
            &[],
        )
        .await;
    assert_eq!(xlsx.status, 200);
    {
        use calamine::{Data, Reader};
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(xlsx.bytes.clone()))
            .expect("an XLSX workbook");
        assert_eq!(book.sheet_names(), ["Voci di costo", "Personale"]);
        let categories = book.worksheet_range("Voci di costo").expect("categories");
        let rows: Vec<&[Data]> = categories.rows().collect();
        assert_eq!(rows.len(), 9, "headers and A–H");
        assert_eq!(rows[1][0], Data::String("A".into()));
        assert_eq!(rows[1][2], Data::Float(60_000.0));
        assert_eq!(rows[1][3], Data::Float(480.0));
        assert_eq!(rows[5][0], Data::String("E".into()));
        assert_eq!(rows[5][3], Data::Float(163.7));
        let people = book.worksheet_range("Personale").expect("people");
        let rows: Vec<&[Data]> = people.rows().collect();
        assert_eq!(rows.len(), 8, "headers, six lines, totals");
        let volunteer = rows
            .iter()
            .find(|r| r[1] == Data::String(VOLUNTEER.into()))
            .expect("the volunteer's line");
        assert_eq!(
            (&volunteer[6], &volunteer[7], &volunteer[8]),
            (&Data::Float(10.0), &Data::Float(16.37), &Data::Float(163.7))
        );
        assert_eq!(rows[7][0], Data::String("Totale".into()));
        assert_eq!(rows[7][6], Data::Float(34.0));
        assert_eq!(rows[7][8], Data::Float(643.7));
    }
    // And as CSV for Italian spreadsheets.
    let csv = server
        .send(
            "GET",
            &format!("/v1/plans/{plan}/report?format=csv"),
            Some(cf::ATS_OPERATOR),
            None,
            &[],
        )
        .await;
    assert_eq!(csv.status, 200);
    let text = String::from_utf8(csv.bytes[3..].to_vec()).expect("utf-8");
    assert!(
        text.starts_with("Persona;Codice fiscale;Ente;Voce;Mese;Azione;Ore"),
        "{text}"
    );
    assert!(text.contains(";2025-02;A1;10,00;16,37;163,70;"), "{text}");

    // The ATS's check: 5 countersigned person-months, under the measure's 50, so every one is
    // drawn, and the sample is recorded on the plan with its seed and population.
    assert_eq!(report["controls"]["documents"], 5, "{report}");
    assert_eq!(report["controls"]["sample_required"], false);
    server
        .call(
            "POST",
            format!("/v1/plans/{plan}/control-samples"),
            cf::AUDITOR,
            Some(json!({ "seed": "estrazione-2025-04-01" })),
        )
        .refused(403, "not-ats-operator")
        .await;
    server
        .call(
            "POST",
            format!("/v1/plans/{plan}/control-samples"),
            cf::ATS_OPERATOR,
            Some(json!({ "seed": "estrazione-2025-04-01" })),
        )
        .yielding(201, drop)
        .await;
    server.catch_up().await;
    let checked = server
        .call(
            "GET",
            format!("/v1/plans/{plan}/report?as_of=2025-04-01"),
            cf::AUDITOR,
            None,
        )
        .await;
    let sample = &checked["controls"]["samples"][0];
    assert_eq!(sample["seed"], "estrazione-2025-04-01", "{checked}");
    assert_eq!(sample["population"], 5);
    assert_eq!(sample["selected"].as_array().map(Vec::len), Some(5));
    assert_eq!(sample["selected_cents"], 64_370);

    // The Region's sample over plans (5% of the operations, 10% of the spending): the
    // auditors' draw with plans as operations, each linked to its report.
    let region = server
        .call(
            "POST",
            "/v1/samples",
            cf::AUDITOR,
            Some(json!({ "ats": "ATS-MILANO", "of": "plans", "seed": "regione-2025" })),
        )
        .yielding(201, |b| b)
        .await;
    assert_eq!(region["of"], "plans", "{region}");
    assert_eq!(region["population_size"], 1);
    assert_eq!(region["population_expenditure_cents"], 64_370);
    assert_eq!(region["selected"][0]["case_id"], plan.as_str());
    assert_eq!(
        region["selected"][0]["dossier"],
        format!("/v1/plans/{plan}/report")
    );

    // Outsiders do not read the plan; the final report is filed after the end, late past 60
    // days, and the state says so.
    server
        .call(
            "GET",
            format!("/v1/plans/{plan}/report"),
            cf::OUTSIDER,
            None,
        )
        .refused(403, "plan-access-denied")
        .await;
    server
        .call(
            "POST",
            format!("/v1/plans/{plan}/final-report"),
            cf::ATS_OPERATOR,
            None,
        )
        .refused(409, "final-report-too-early")
        .await;
    let overdue = server
        .call(
            "GET",
            format!("/v1/plans/{plan}/report?as_of=2027-03-02"),
            cf::ATS_OPERATOR,
            None,
        )
        .await;
    assert_eq!(overdue["report_status"], "overdue");
    server.set_clock(rome(2027, 2, 20, 9, 0)).await;
    server
        .call(
            "POST",
            format!("/v1/plans/{plan}/final-report"),
            cf::ATS_OPERATOR,
            None,
        )
        .yielding(200, drop)
        .await;
    server.catch_up().await;
    let filed = server
        .call(
            "GET",
            format!("/v1/plans/{plan}/report"),
            cf::ATS_OPERATOR,
            None,
        )
        .await;
    assert_eq!(filed["report_status"], "filed");

    // The plans read model rebuilt from zero gives the same rows.
    let before = diario_projections::dump_read_models(&server.db.db)
        .await
        .expect("dump");
    let plans = diario_projections::select(&diario_tests::catalogue(), &["plans".to_owned()])
        .expect("the plans read model");
    diario_log::follower::rebuild(&server.db.db, server.db.db.event_store().as_ref(), &plans)
        .await
        .expect("rebuild");
    let after = diario_projections::dump_read_models(&server.db.db)
        .await
        .expect("dump");
    for table in diario_projections::plans::TABLES {
        assert!(
            before.get(table).is_some_and(|rows| !rows.is_empty()),
            "{table} is filled"
        );
        assert_eq!(
            before.get(table),
            after.get(table),
            "{table} after a rebuild"
        );
    }

    server.stop().await;
}
