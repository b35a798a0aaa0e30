//! Organisations, staff names and "my cases" over real HTTP on both backends (issue 13): the
//! registry refuses unknown codes in cases, grants and filters; staff are recorded with names
//! and figures; `GET /v1/me/cases` lists exactly the cases that name the caller.

use diario_tests::{ApiServer, Backend, cf};
use serde_json::{Value, json};

use crate::api_scenario::{ATS, CaseApi, case_body, grant, grant_roles, psicologo_entry, t0};

/// Cases, grants and filters refuse organisation codes the registry does not hold.
async fn unknown_organisations_are_refused(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    // The typo of the issue, as a grant scope.
    let problem = grant(
        &server,
        cf::PLATFORM_ADMIN,
        cf::OUTSIDER,
        "ats_operator",
        Some("ATS-MILAN0"),
    )
    .refused(422, "unknown-organisation")
    .await;
    assert_eq!(problem["field"], "scope", "{problem}");
    grant(
        &server,
        cf::PLATFORM_ADMIN,
        cf::OUTSIDER,
        "ente_admin",
        Some(ATS),
    )
    .refused(422, "organisation-kind-mismatch")
    .await;
    // A case: unknown ATS, an ASST of another territory, an unregistered provider.
    for (field, value, code) in [
        ("ats", "ATS-MILAN0", "unknown-organisation"),
        ("asst", "ASST-PAPA-GIOVANNI", "asst-outside-ats"),
        ("provider", "COOP-IGNOTA", "unknown-organisation"),
        ("provider", "ASST-LODI", "organisation-kind-mismatch"),
    ] {
        let mut body = case_body();
        body[field] = json!(value);
        let problem = server
            .call("POST", "/v1/cases", cf::ATS_OPERATOR, Some(body))
            .refused(422, code)
            .await;
        assert_eq!(problem["field"], field, "{problem}");
        assert_eq!(problem["article"], "Art. 3", "{problem}");
    }
    // Filters and paths.
    server
        .call(
            "GET",
            "/v1/organisations?ats=ATS-MILAN0",
            cf::OUTSIDER,
            None,
        )
        .refused(400, "unknown-organisation")
        .await;
    server
        .call("GET", "/v1/organisations/ATS-MILAN0", cf::OUTSIDER, None)
        .refused(404, "unknown-organisation")
        .await;
    server
        .call("GET", "/v1/ats/ATS-MILAN0/dashboard", cf::AUDITOR, None)
        .refused(404, "unknown-organisation")
        .await;
    server
        .call("GET", "/v1/ats/ATS-MILAN0/cases", cf::AUDITOR, None)
        .refused(404, "unknown-organisation")
        .await;
    server
        .call("GET", "/v1/reports/costs?ats=ATS-MILAN0", cf::AUDITOR, None)
        .refused(400, "unknown-organisation")
        .await;
    server
        .call(
            "GET",
            "/v1/reports/costs?provider=COOP-IGNOTA",
            cf::AUDITOR,
            None,
        )
        .refused(400, "unknown-organisation")
        .await;
    // Nothing was written by the refusals; the server is healthy.
    let ready = server.send("GET", "/readyz", None, None, &[]).await;
    assert_eq!(ready.status, 200);
    server.stop().await;
}

/// The registry: the shipped ATS and ASST, providers registered by the platform administrator
/// or the operators of their ATS, with codes validated.
async fn organisations_are_registered(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let all = server
        .call("GET", "/v1/organisations", cf::OUTSIDER, None)
        .await;
    let kinds = |v: &Value, kind: &str| {
        v["organisations"]
            .as_array()
            .expect("organisations")
            .iter()
            .filter(|o| o["kind"] == kind)
            .count()
    };
    assert_eq!(kinds(&all, "ats"), 8);
    assert_eq!(kinds(&all, "asst"), 27);
    assert_eq!(kinds(&all, "provider"), 1, "ENTE-ALFA of the fixture");
    let milano = server
        .call(
            "GET",
            "/v1/organisations?ats=ATS-MILANO&kind=asst",
            cf::OUTSIDER,
            None,
        )
        .await;
    assert_eq!(kinds(&milano, "asst"), 9, "{milano}");
    // An ATS operator registers a provider of its own territory, not of another's.
    let coop = |code: &str, ats: &str| json!({ "code": code, "name": "Cooperativa Beta", "kind": "provider", "ats": ats });
    server
        .call(
            "POST",
            "/v1/organisations",
            cf::ATS_OPERATOR,
            Some(coop("COOP-BETA", ATS)),
        )
        .yielding(201, drop)
        .await;
    server
        .call(
            "POST",
            "/v1/organisations",
            cf::ATS_OPERATOR,
            Some(coop("COOP-BETA", ATS)),
        )
        .await;
    server
        .call(
            "POST",
            "/v1/organisations",
            cf::ATS_OPERATOR,
            Some(coop("COOP-GAMMA", "ATS-BERGAMO")),
        )
        .refused(403, "organisation-registration-denied")
        .await;
    server
        .call(
            "POST",
            "/v1/organisations",
            cf::PLATFORM_ADMIN,
            Some(coop("COOP-BETA", "ATS-BERGAMO")),
        )
        .refused(409, "organisation-code-taken")
        .await;
    let problem = server
        .call(
            "POST",
            "/v1/organisations",
            cf::PLATFORM_ADMIN,
            Some(coop("coop beta", ATS)),
        )
        .refused(422, "invalid-organisation-code")
        .await;
    assert_eq!(problem["field"], "code");
    let beta = server
        .call("GET", "/v1/organisations/COOP-BETA", cf::OUTSIDER, None)
        .await;
    assert_eq!(beta["name"], "Cooperativa Beta");
    assert_eq!(beta["ats"], ATS);
    server.stop().await;
}

/// Staff are recorded with names and figures by their organisation's administrator; the
/// organisation lists them; refusals name the field.
async fn staff_have_names(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let path = |cf: &str| format!("/v1/organisations/ENTE-ALFA/staff/{cf}");
    let educatore = json!({ "given_name": "Stefano", "family_name": "Ferri", "figures": ["educatore_professionale"] });
    let recorded = server
        .call("PUT", path(cf::EDUCATORE), cf::ENTE_ADMIN, Some(educatore))
        .await;
    assert_eq!(
        recorded["memberships"]["ENTE-ALFA"],
        json!(["educatore_professionale"])
    );
    // Only the organisation's administrators (or a platform administrator).
    let other = json!({ "given_name": "Giuseppe", "family_name": "Verdi" });
    server
        .call(
            "PUT",
            path(cf::RESP_PROVIDER),
            cf::OUTSIDER,
            Some(other.clone()),
        )
        .refused(403, "staff-management-denied")
        .await;
    server
        .call(
            "PUT",
            path(cf::RESP_PROVIDER),
            cf::PLATFORM_ADMIN,
            Some(other),
        )
        .await;
    let bad = json!({ "given_name": "Anna", "family_name": "Rossi", "figures": ["astronauta"] });
    let problem = server
        .call("PUT", path(cf::PSICOLOGO), cf::ENTE_ADMIN, Some(bad))
        .refused(422, "figure-not-in-catalogue")
        .await;
    assert_eq!(problem["field"], "figures");
    let bad = json!({ "given_name": "", "family_name": "Rossi" });
    let problem = server
        .call("PUT", path(cf::PSICOLOGO), cf::ENTE_ADMIN, Some(bad))
        .refused(422, "invalid-staff-name")
        .await;
    assert_eq!(problem["field"], "given_name");
    server.catch_up().await;
    let staff = server
        .call(
            "GET",
            "/v1/organisations/ENTE-ALFA/staff",
            cf::AUDITOR,
            None,
        )
        .await;
    let names: Vec<(&str, &str)> = staff["staff"]
        .as_array()
        .expect("staff")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or(""),
                s["fiscal_code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("Stefano Ferri", cf::EDUCATORE),
            ("Giuseppe Verdi", cf::RESP_PROVIDER)
        ]
    );
    server
        .call(
            "GET",
            "/v1/organisations/ENTE-ALFA/staff",
            cf::OUTSIDER,
            None,
        )
        .refused(403, "staff-access-denied")
        .await;
    server
        .call("DELETE", path(cf::EDUCATORE), cf::ENTE_ADMIN, None)
        .await;
    server
        .call("DELETE", path(cf::EDUCATORE), cf::ENTE_ADMIN, None)
        .refused(404, "staff-membership-not-found")
        .await;
    server.stop().await;
}

/// `GET /v1/me/cases` lists exactly the cases where the caller is enabled (or responsabile,
/// or case manager), with what waits for them.
async fn my_cases_are_the_cases_that_name_me(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let first = CaseApi::open(&server).await;
    let second = CaseApi::open(&server).await;
    let _third = CaseApi::open(&server).await;
    // The psicologo is enabled on the first two cases only, and records on the first.
    first.start_phase_one().await;
    second.open_phase(1).await;
    second
        .enable_professional("asst", cf::PSICOLOGO, &["psicologo"])
        .await;
    first
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "09:00", "10:00"),
        )
        .await;
    server.catch_up().await;
    let mine = |who: &'static str| server.call("GET", "/v1/me/cases", who, None);
    let ids = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .map(|c| c["case_id"].as_str().expect("case_id").to_owned())
            .collect();
        ids.sort();
        ids
    };
    let psicologo = mine(cf::PSICOLOGO).await;
    let mut expected = vec![first.id.to_string(), second.id.to_string()];
    expected.sort();
    assert_eq!(ids(&psicologo), expected, "{psicologo}");
    let on_first = psicologo["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["case_id"] == first.id.to_string())
        .expect("the first case");
    assert_eq!(
        on_first["roles"],
        json!([{ "role": "professional", "ente": "asst", "figures": ["psicologo"] }])
    );
    assert_eq!(
        on_first["waiting"],
        json!([{ "code": "my-drafts", "phase": 1, "count": 1 }])
    );
    // The ASST's responsabile has the entry to validate; the outsider has no cases.
    let responsabile = mine(cf::RESP_ASST).await;
    assert_eq!(ids(&responsabile).len(), 3);
    let waiting = responsabile["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["case_id"] == first.id.to_string())
        .expect("the first case")["waiting"]
        .clone();
    assert_eq!(
        waiting,
        json!([{ "code": "to-validate", "phase": 1, "count": 1 }])
    );
    assert_eq!(mine(cf::OUTSIDER).await["cases"], json!([]));
    server.stop().await;
}

/// Every JSON view names the staff whose fiscal codes it shows (`names`): the case, its audit
/// trail, the grants; people without a recorded name (the family) stay codes.
async fn names_are_shown_next_to_fiscal_codes(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let record = |org: &str, who: &str, given: &str, family: &str, figures: Value| {
        let body = json!({ "given_name": given, "family_name": family, "figures": figures });
        server.call(
            "PUT",
            format!("/v1/organisations/{org}/staff/{who}"),
            cf::PLATFORM_ADMIN,
            Some(body),
        )
    };
    record(
        "ASST-NORD-MILANO",
        cf::RESP_ASST,
        "Chiara",
        "Bianchi",
        json!([]),
    )
    .await;
    record(
        "ASST-NORD-MILANO",
        cf::PSICOLOGO,
        "Luca",
        "Galli",
        json!(["psicologo"]),
    )
    .await;
    record(ATS, cf::ATS_OPERATOR, "Mario", "Rossi", json!([])).await;
    let case = CaseApi::open(&server).await;
    case.start_phase_one().await;
    case.record_entry(
        cf::PSICOLOGO,
        psicologo_entry("colloquio_valutazione", "09:00", "10:00"),
    )
    .await;
    server.catch_up().await;
    let view = case.view(cf::RESP_ASST).await;
    assert_eq!(view["names"][cf::RESP_ASST], "Chiara Bianchi", "{view}");
    assert_eq!(view["names"][cf::PSICOLOGO], "Luca Galli", "{view}");
    // The case manager's name is not recorded: no name, and never a wrong one.
    assert!(view["names"].get(cf::CASE_MANAGER).is_none(), "{view}");
    let trail = case
        .call("GET", "/audit-trail", cf::ATS_OPERATOR, None)
        .await;
    assert_eq!(trail["names"][cf::ATS_OPERATOR], "Mario Rossi", "{trail}");
    assert_eq!(trail["names"][cf::PSICOLOGO], "Luca Galli", "{trail}");
    // In the descriptions the name is written next to the code; the fields keep the code.
    let text = trail.to_string();
    assert!(
        text.contains(&format!("Professionista Luca Galli ({})", cf::PSICOLOGO)),
        "{trail}"
    );
    assert!(
        trail["names"].get(cf::PARENT).is_none(),
        "the family is not staff"
    );
    let grants = server
        .call("GET", "/v1/admin/grants", cf::PLATFORM_ADMIN, None)
        .await;
    assert_eq!(grants["names"][cf::ATS_OPERATOR], "Mario Rossi", "{grants}");
    server.stop().await;
}

/// An entry appended to a case's stream as the service before agendas let it be: history may
/// bill one professional's time on two cases.
async fn historical_entry(
    server: &ApiServer,
    case_id: uuid::Uuid,
    start: &str,
    end: &str,
) -> uuid::Uuid {
    use diario_api::domain::{CaseEvent, FiscalCode, TimeSlot};
    let entry_id = uuid::Uuid::now_v7();
    let date = chrono::NaiveDate::from_ymd_opt(2024, 3, 4).expect("date");
    let slot = TimeSlot::parse(date, start, end).expect("slot");
    let event = CaseEvent::EntryRecorded {
        entry_id,
        phase: diario_api::domain::Phase::I,
        professional: FiscalCode::parse(cf::PSICOLOGO).expect("cf"),
        figure: diario_api::domain::FigureId::new("psicologo"),
        service: diario_api::domain::ServiceId::new("colloquio_valutazione"),
        slot,
        minutes: slot.minutes(),
        system_failure_id: None,
        rate: None,
        at: slot.end_instant(),
    };
    let encoded = diario_log::LogEvent::encode(&event).expect("encode");
    let meta = diario_tests::command_metadata(cf::PSICOLOGO, "staff", slot.end_instant());
    server
        .db
        .db
        .event_store()
        .append(
            &diario_tests::case_stream(case_id),
            diario_log::ExpectedVersion::Any,
            vec![encoded],
            meta,
        )
        .await
        .expect("append history");
    entry_id
}

/// `GET /v1/me/entries`: my entries of a week across cases, totals per day, and the overlap of
/// two cases' entries at the same time flagged — refused since agendas exist, still in the
/// history of a database that predates them.
async fn my_entries_across_cases(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let first = CaseApi::open(&server).await;
    let second = CaseApi::open(&server).await;
    first.start_phase_one().await;
    second.open_phase(1).await;
    second
        .enable_professional("asst", cf::PSICOLOGO, &["psicologo"])
        .await;
    let a = first
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "09:00", "10:00"),
        )
        .await;
    second
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "09:30", "10:30"),
        )
        .refused(422, "overlapping-entry-other-case")
        .await;
    let b = historical_entry(&server, second.id, "09:30", "10:30").await;
    let c = first
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "11:00", "12:00"),
        )
        .await;
    server.catch_up().await;
    let week = server
        .call(
            "GET",
            "/v1/me/entries?from=2024-03-04&to=2024-03-10",
            cf::PSICOLOGO,
            None,
        )
        .await;
    let entries = week["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 3, "{week}");
    let overlaps = |id: uuid::Uuid| {
        entries
            .iter()
            .find(|e| e["entry_id"] == id.to_string())
            .map(|e| e["overlaps_with"].clone())
            .expect("the entry")
    };
    assert_eq!(overlaps(a), json!([b.to_string()]));
    assert_eq!(overlaps(b), json!([a.to_string()]));
    assert_eq!(overlaps(c), json!([]));
    assert_eq!(
        week["days"],
        json!([{ "date": "2024-03-04", "entries": 3, "minutes": 180, "confirmed_minutes": 0, "overlaps": true }])
    );
    assert_eq!(week["minutes"], 180);
    // Someone else's week is their own: empty.
    let other = server
        .call(
            "GET",
            "/v1/me/entries?from=2024-03-04&to=2024-03-10",
            cf::EDUCATORE,
            None,
        )
        .await;
    assert_eq!(other["entries"], json!([]));
    // A period backwards or longer than 62 days is refused naming the field.
    for query in [
        "from=2024-03-10&to=2024-03-04",
        "from=2024-01-01&to=2024-06-30",
    ] {
        let problem = server
            .call(
                "GET",
                format!("/v1/me/entries?{query}"),
                cf::PSICOLOGO,
                None,
            )
            .refused(400, "invalid-period")
            .await;
        assert_eq!(problem["field"], "to");
    }
    server.stop().await;
}

/// The responsabile's inbox: a request about to expire, a rejection with its reason, an expiry;
/// each reaches the responsabile of the phase's ente, and nobody else.
async fn notifications_reach_the_responsabile(backend: Backend) {
    use diario_api::domain::case::Answer;
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    case.start_phase_one().await;
    case.record_entry(
        cf::PSICOLOGO,
        psicologo_entry("colloquio_valutazione", "09:00", "10:00"),
    )
    .await;
    case.validate(1, None).await;
    case.add_output(1).await;
    let r1 = crate::api_scenario::request_id(&case.close_phase(1).await);
    crate::api_scenario::delivered(&server, case.id, r1).await;
    let inbox = |who: &'static str| server.call("GET", "/v1/me/notifications", who, None);
    let kinds = |v: &Value| -> Vec<String> {
        v["notifications"]
            .as_array()
            .expect("notifications")
            .iter()
            .map(|n| n["kind"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    server.catch_up().await;
    assert_eq!(kinds(&inbox(cf::RESP_ASST).await), Vec::<String>::new());
    // Five hours before the deadline (the request was sent at 18:00 on 4 March).
    server
        .set_clock(diario_api::domain::testing::fixtures::rome(
            2024, 3, 5, 13, 0,
        ))
        .await;
    assert_eq!(kinds(&inbox(cf::RESP_ASST).await), ["request-expiring"]);
    let reason = "la durata non corrisponde".to_owned();
    crate::api_scenario::answer(
        &server,
        case.id,
        r1,
        Answer::Rejected {
            reason: Some(reason),
        },
    )
    .await;
    server.catch_up().await;
    let mine = inbox(cf::RESP_ASST).await;
    assert_eq!(kinds(&mine), ["confirmation-rejected"], "{mine}");
    let message = mine["notifications"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("la durata non corrisponde"), "{message}");
    assert_eq!(mine["notifications"][0]["case_id"], case.id.to_string());
    for other in [cf::RESP_PROVIDER, cf::PSICOLOGO, cf::OUTSIDER] {
        assert_eq!(kinds(&inbox(other).await), Vec::<String>::new(), "{other}");
    }
    // Sent again; two days later a late answer records the expiry.
    case.validate(1, None).await;
    case.add_output(1).await;
    let r2 = crate::api_scenario::request_id(&case.close_phase(1).await);
    crate::api_scenario::delivered(&server, case.id, r2).await;
    server
        .set_clock(diario_api::domain::testing::fixtures::rome(
            2024, 3, 8, 13, 0,
        ))
        .await;
    crate::api_scenario::answer(&server, case.id, r2, Answer::Confirmed).await;
    server.catch_up().await;
    assert_eq!(
        kinds(&inbox(cf::RESP_ASST).await),
        ["request-expired", "confirmation-rejected"]
    );
    server.stop().await;
}

/// With an SMTP relay configured, the responsabile whose address is recorded gets the
/// rejection by e-mail, once (a real SMTP server: aiosmtpd).
#[tokio::test]
async fn a_rejection_is_e_mailed_to_the_responsabile_once() {
    use diario_api::domain::case::Answer;
    let sink = diario_tests::smtp::SmtpSink::start();
    let relay = sink.url.clone();
    let server = ApiServer::start_with(Backend::Sqlite, t0(), move |s| {
        s.mail = Some(diario_api::mail::MailSettings {
            relay,
            from: "Diario Online <noreply@diario.test>".into(),
            interval: std::time::Duration::from_millis(100),
        });
    })
    .await;
    grant_roles(&server).await;
    let body = json!({ "given_name": "Chiara", "family_name": "Bianchi", "email": "chiara.bianchi@asst.test" });
    server
        .call(
            "PUT",
            format!("/v1/organisations/ASST-NORD-MILANO/staff/{}", cf::RESP_ASST),
            cf::PLATFORM_ADMIN,
            Some(body),
        )
        .await;
    let case = CaseApi::open(&server).await;
    case.start_phase_one().await;
    case.record_entry(
        cf::PSICOLOGO,
        psicologo_entry("colloquio_valutazione", "09:00", "10:00"),
    )
    .await;
    case.validate(1, None).await;
    case.add_output(1).await;
    let r1 = crate::api_scenario::request_id(&case.close_phase(1).await);
    let reason = "manca un incontro".to_owned();
    crate::api_scenario::answer(
        &server,
        case.id,
        r1,
        Answer::Rejected {
            reason: Some(reason),
        },
    )
    .await;
    server.catch_up().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while sink.messages().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(
        mail.header("to"),
        Some("chiara.bianchi@asst.test"),
        "{mail:?}"
    );
    assert!(
        mail.header("subject")
            .is_some_and(|s| s.contains("Diario Online")),
        "{mail:?}"
    );
    assert!(mail.body.contains(&case.id.to_string()), "{}", mail.body);
    // Several passes later it has not been sent again.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(sink.messages().len(), 1);
    server.stop().await;
}

diario_tests::scenario_on_each_backend!(
    notifications_reach_the_responsabile =>
        notifications_of_rejections_expiries_and_deadlines_reach_the_responsabile_on_postgres,
        notifications_of_rejections_expiries_and_deadlines_reach_the_responsabile_on_sqlite;
    my_entries_across_cases =>
        me_entries_lists_my_week_across_cases_with_overlaps_on_postgres,
        me_entries_lists_my_week_across_cases_with_overlaps_on_sqlite;
    names_are_shown_next_to_fiscal_codes =>
        names_are_shown_next_to_fiscal_codes_in_every_view_on_postgres,
        names_are_shown_next_to_fiscal_codes_in_every_view_on_sqlite;
    unknown_organisations_are_refused =>
        unknown_organisation_codes_are_refused_in_cases_grants_and_filters_on_postgres,
        unknown_organisation_codes_are_refused_in_cases_grants_and_filters_on_sqlite;
    organisations_are_registered =>
        organisations_are_registered_with_validated_codes_on_postgres,
        organisations_are_registered_with_validated_codes_on_sqlite;
    staff_have_names =>
        staff_are_recorded_with_names_and_figures_on_postgres,
        staff_are_recorded_with_names_and_figures_on_sqlite;
    my_cases_are_the_cases_that_name_me =>
        me_cases_lists_exactly_the_cases_where_i_am_enabled_on_postgres,
        me_cases_lists_exactly_the_cases_where_i_am_enabled_on_sqlite;
    a_persons_days_for_the_ats_and_auditors =>
        a_professionals_days_across_cases_flag_the_daily_maximum_for_ats_and_auditors_on_postgres,
        a_professionals_days_across_cases_flag_the_daily_maximum_for_ats_and_auditors_on_sqlite;
);

/// `GET /v1/people/{cf}/entries`: 14 hours of one psicologo on 4 March over two cases is past
/// the 13 hours of #UP's daily maximum; the auditor and the case's ATS see the day flagged
/// with both entries; an operator of another ATS sees the day, flagged, with no entry of it
/// (`minutes_elsewhere`); the professional's own week says the same.
async fn a_persons_days_for_the_ats_and_auditors(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let first = CaseApi::open(&server).await;
    let second = CaseApi::open(&server).await;
    first.start_phase_one().await;
    second.open_phase(1).await;
    second
        .enable_professional("asst", cf::PSICOLOGO, &["psicologo"])
        .await;
    server
        .set_clock(diario_api::domain::testing::fixtures::rome(
            2024, 3, 5, 9, 0,
        ))
        .await;
    first
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "08:00", "15:00"),
        )
        .await;
    second
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "15:00", "22:00"),
        )
        .await;
    server.catch_up().await;
    let path = format!(
        "/v1/people/{}/entries?from=2024-03-04&to=2024-03-10",
        cf::PSICOLOGO
    );
    let audited = server.call("GET", &path, cf::AUDITOR, None).await;
    assert_eq!(
        audited["entries"].as_array().map(Vec::len),
        Some(2),
        "{audited}"
    );
    let day = &audited["days"][0];
    assert_eq!(
        (
            day["minutes"].as_i64(),
            day["over_daily_max_minutes"].as_i64()
        ),
        (Some(840), Some(780)),
        "{day}"
    );
    assert_eq!(day["overlaps"], false);
    assert!(
        day.get("minutes_elsewhere").is_none(),
        "an unscoped reader sees everything"
    );
    let milano = server.call("GET", &path, cf::ATS_OPERATOR, None).await;
    assert_eq!(milano["entries"].as_array().map(Vec::len), Some(2));
    assert_eq!(milano["days"][0]["minutes_elsewhere"], 0);
    let bergamo = server
        .call("GET", &path, cf::OTHER_ATS_OPERATOR, None)
        .await;
    assert_eq!(
        bergamo["entries"],
        json!([]),
        "no entry of another ATS is listed"
    );
    assert_eq!(bergamo["days"][0]["minutes_elsewhere"], 840);
    assert_eq!(bergamo["days"][0]["over_daily_max_minutes"], 780);
    server
        .call(
            "GET",
            format!("{path}&ats=ATS-MILANO"),
            cf::OTHER_ATS_OPERATOR,
            None,
        )
        .refused(403, "ats-access-denied")
        .await;
    server
        .call("GET", &path, cf::PSICOLOGO, None)
        .refused(403, "ats-access-denied")
        .await;
    let bad = server
        .call("GET", "/v1/people/NONVALIDO/entries", cf::AUDITOR, None)
        .refused(400, "invalid-fiscal-code")
        .await;
    assert_eq!(bad["field"], "fiscal_code");
    // The same read model is the professional's own week.
    let mine = server
        .call(
            "GET",
            "/v1/me/entries?from=2024-03-04&to=2024-03-10",
            cf::PSICOLOGO,
            None,
        )
        .await;
    assert_eq!(mine["days"], audited["days"]);
    server.stop().await;
}
