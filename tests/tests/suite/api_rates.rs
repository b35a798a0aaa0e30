//! Money that can be recomputed, over real HTTP on both backends: a claim made under the
//! shipped catalogue keeps its amount after an operator adds a catalogue version with a new
//! unit cost (loaded from a catalogue directory, as `diario serve --catalogue-dir` does);
//! entries delivered after the change take the new rate, an entry delivered before it and
//! recorded after it keeps the old one, and each entry's event names the version.

use diario_api::domain::case::Answer;
use diario_api::domain::testing::fixtures::rome;
use diario_tests::{ApiServer, Backend, Served, cf};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api_scenario::{CaseApi, grant_roles, psicologo_entry, request_id, t0};

diario_tests::scenario_on_each_backend! {
    rates =>
        a_new_catalogue_version_prices_new_entries_and_leaves_old_claims_alone_on_postgres,
        a_new_catalogue_version_prices_new_entries_and_leaves_old_claims_alone_on_sqlite;
}

/// The shipped #UP catalogue as version "2" from 10 March 2024, the psicologo at €60/h.
fn version_two() -> String {
    let mut v: Value =
        serde_json::from_str(diario_api::domain::catalogue::SHIPPED_MEASURES[0].1).expect("up");
    v["version"] = "2".into();
    v["effective_from"] = "2024-03-10".into();
    for f in v["figures"].as_array_mut().expect("figures") {
        if f["id"] == "psicologo" {
            f["hourly_cost_cents"] = 6000.into();
        }
    }
    v.to_string()
}

async fn costs_of(server: &ApiServer, case: Uuid) -> (i64, Vec<Value>) {
    server.catch_up().await;
    let report = server
        .call(
            "GET",
            format!("/v1/reports/costs?ats=ATS-MILANO&case_id={case}"),
            cf::AUDITOR,
            None,
        )
        .await;
    let total = report["total_cost_cents"].as_i64().expect("total");
    (
        total,
        report["lines"].as_array().cloned().unwrap_or_default(),
    )
}

fn rate_in_log(events: &[diario_log::RecordedEvent], entry: Uuid) -> Value {
    events
        .iter()
        .rev()
        .find(|e| e.event_type == "EntryRecorded" && e.payload["entry_id"] == entry.to_string())
        .map(|e| e.payload["rate"].clone())
        .expect("the entry's event")
}

async fn rates(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;

    // A claim under the shipped catalogue: one hour of the psicologo on 4 March, confirmed.
    let first = CaseApi::open(&server).await;
    first.start_phase_one().await;
    first
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "09:00", "10:00"),
        )
        .await;
    first.validate(1, None).await;
    first.add_output(1).await;
    let closed = first.close_phase(1).send().await;
    assert_eq!(closed.status, 200, "{}", closed.json);
    let request = request_id(&closed.json);
    crate::api_scenario::delivered(&server, first.id, request).await;
    crate::api_scenario::answer(&server, first.id, request, Answer::Confirmed).await;
    let (claim, lines) = costs_of(&server, first.id).await;
    assert_eq!(claim, 4500, "one hour at the shipped €45/h: {lines:?}");

    // The operator adds version "2" (from 10 March, €60/h) in a catalogue directory; a
    // server starts with it on the same database, its clock on 11 March.
    let dir = std::env::temp_dir().join(format!("diario-catalogue-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("up-2.json"), version_two()).expect("write");
    let catalogue = diario_api::cli::CatalogueArgs {
        catalogue_dir: Some(dir.clone()),
    }
    .load()
    .expect("the directory's catalogue loads");
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        catalogue
            .versions(&diario_api::domain::MeasureId::new("up"))
            .len(),
        2
    );
    let mut settings = diario_tests::quiet_settings();
    settings.catalogue = catalogue;
    settings.auth = diario_tests::test_auth();
    settings.test_clock = Some(server.clock.clone());
    server.set_clock(rome(2024, 3, 11, 18, 0)).await;
    let mut updated = Served::start(server.db.db.clone(), &settings).await;
    let client = reqwest::Client::new();
    let post = |path: String, who: &str, body: Value| {
        let request = client
            .post(format!("{}{path}", updated.base_url))
            .bearer_auth(server.token(who))
            .json(&body);
        async move {
            let r = request.send().await.expect("send");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // The old claim does not move.
    assert_eq!(costs_of(&server, first.id).await.0, claim);

    // A new case on the updated server: one hour delivered on the 11th (after the change) and
    // one on the 5th (before it), both recorded on the 11th.
    let (status, opened) = post(
        "/v1/cases".into(),
        cf::ATS_OPERATOR,
        diario_tests::standard_case_body("UP-2024-0002"),
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    let second: Uuid = opened["case_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    let path = |rest: &str| format!("/v1/cases/{second}{rest}");
    let (status, body) = post(path("/phases/1/open"), cf::RESP_ASST, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let enable = json!({ "ente": "asst", "professional": cf::PSICOLOGO, "figures": ["psicologo"] });
    let (status, body) = post(path("/professionals"), cf::RESP_ASST, enable).await;
    assert_eq!(status, 200, "{body}");
    let mut ids = Vec::new();
    for date in ["2024-03-11", "2024-03-05"] {
        let entry = crate::api_scenario::entry(
            1,
            "psicologo",
            "colloquio_valutazione",
            date,
            "09:00",
            "10:00",
        );
        let (status, body) = post(path("/entries"), cf::PSICOLOGO, entry).await;
        assert_eq!(status, 201, "{body}");
        ids.push(
            body["entry_id"]
                .as_str()
                .and_then(|s| s.parse::<Uuid>().ok())
                .expect("id"),
        );
    }
    let events = server
        .db
        .db
        .event_store()
        .read_stream(&diario_tests::case_stream(second), 1)
        .await
        .expect("read");
    assert_eq!(
        rate_in_log(&events, ids[0]),
        json!({ "unit_cost_cents": 6000, "catalogue_version": "2", "effective_from": "2024-03-10" }),
        "delivered after the change: the new rate, and the version named"
    );
    assert_eq!(
        rate_in_log(&events, ids[1]),
        json!({ "unit_cost_cents": 4500, "catalogue_version": "1" }),
        "delivered before the change, recorded after it: the rate of the delivery date"
    );
    server.catch_up().await;
    let view = server
        .call("GET", format!("/v1/cases/{second}"), cf::ATS_OPERATOR, None)
        .await;
    let units: Vec<(String, i64)> = view["diaries"][0]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["date"].as_str().unwrap_or_default().to_owned(),
                e["unit_cost_cents"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert!(units.contains(&("2024-03-11".into(), 6000)), "{units:?}");
    assert!(units.contains(&("2024-03-05".into(), 4500)), "{units:?}");
    // And still the first claim after every read model is rebuilt from the log under the new
    // catalogue (`diario rebuild --catalogue-dir`).
    let followers = diario_projections::select(&settings.catalogue, &[]).expect("projections");
    diario_log::follower::rebuild(
        &server.db.db,
        server.db.db.event_store().as_ref(),
        &followers,
    )
    .await
    .expect("rebuild");
    assert_eq!(costs_of(&server, first.id).await.0, claim);
    updated.stop().await;
    server.stop().await;
}
