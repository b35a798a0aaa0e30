//! The read side over real HTTP with real tokens, on PostgreSQL and SQLite: a small
//! case driven through the API, the read models brought up to date, then every read endpoint
//! returns the values computed by hand here — current diaries and their totals, the audit
//! trail in order with actor CFs (walked page by page), the chain verification, the history as
//! of an instant before a later amendment, the stored checklist, the ATS dashboard, the case
//! list with its cursor, the cost report in JSON and CSV (scoped to the operator's ATS), the
//! Art. 9 list, `/metrics` and `/readyz`.

use std::collections::BTreeMap;

use diario_api::domain::case::Answer;
use diario_api::domain::testing::fixtures::rome;
use diario_tests::{ApiServer, Backend, cf, diario_command, free_port, id_in, run_ok};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api_scenario::{
    ATS, CaseApi, PROVIDER, answer, case_body, declare_failure, educatore_entry, grant_roles,
    item_where, open_case, pdi, psicologo_entry, regional_failure, request_id, t0,
};

async fn get(server: &ApiServer, path: &str, who: &str) -> Value {
    server.call("GET", path, who, None).await
}

/// Asserts what each `GET path` as `who` answers: the status and, when given, the problem code.
async fn assert_reads(server: &ApiServer, reads: &[(String, &str, u16, Option<&str>)]) {
    for (path, who, status, code) in reads {
        let r = server.send("GET", path, Some(who), None, &[]).await;
        assert_eq!(r.status, *status, "GET {path} as {who}: {}", r.json);
        if let Some(code) = code {
            assert_eq!(r.problem_code(), *code, "GET {path} as {who}");
        }
    }
}

/// `GET /metrics` (no token): 200 with an OpenMetrics body, returned.
async fn metrics_text(server: &ApiServer) -> String {
    let m = server.send("GET", "/metrics", None, None, &[]).await;
    assert_eq!(m.status, 200);
    let content_type = m.header("content-type");
    assert!(
        content_type
            .as_ref()
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{content_type:?}"
    );
    String::from_utf8(m.bytes).expect("utf-8")
}

fn metric(text: &str, line_prefix: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {line_prefix} in\n{text}"))
}

/// The value of `name{projection="p"}` in a metrics text.
fn projection_metric(text: &str, name: &str, p: &str) -> f64 {
    metric(text, &format!("{name}{{projection=\"{p}\"}}"))
}

async fn reads(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    let (case_id, c) = (case.id, |p: &str| case.path(p));
    let ats = |p: &str| format!("/v1/ats/{ATS}{p}");

    // ---- Phase I: two entries, one amended later, validated, closed, confirmed ------------
    case.start_phase_one().await;
    let psicologo = |service, start, end| {
        case.record_entry(cf::PSICOLOGO, psicologo_entry(service, start, end))
    };
    let e1 = psicologo("colloquio_valutazione", "10:00", "11:00").await;
    let e2 = psicologo("stesura_pi", "14:00", "15:00").await;

    // Read-your-writes: no runner in this server, the read model is empty, yet the case reads
    // at the version just written (replayed from the stream).
    let fresh = case.view(cf::RESP_ASST).send().await;
    assert_eq!(fresh.status, 200, "{}", fresh.json);
    assert_eq!(fresh.json["version"], 5, "{}", fresh.json);
    assert_eq!(fresh.header("etag").as_deref(), Some("\"5\""));
    // The lag is visible on /metrics before the catch-up.
    let text = metrics_text(&server).await;
    let lag = projection_metric(&text, "diario_projection_lag_events", "case_diaries");
    assert!(lag >= 5.0, "{text}");

    let before_amendment = rome(2024, 3, 4, 18, 15);
    server.set_clock(rome(2024, 3, 4, 18, 30)).await;
    case.amend_entry(cf::PSICOLOGO, e1, ["2024-03-04", "10:00", "11:30"])
        .await;
    case.validate(1, None).await;
    case.add_output(1).await;
    let r1 = request_id(&case.close_phase(1).await);
    server.set_clock(rome(2024, 3, 4, 20, 0)).await;
    answer(&server, case_id, r1, Answer::Confirmed).await;

    // ---- Phases II–III: a per-entry request runs (and stores) the Art. 8 checklist -------
    case.start_phase_two(&["educatore_professionale"]).await;
    case.add_output(2).await;
    case.set_pdi(pdi("contrasto_dispersione_scolastica", 1200, None))
        .await;
    case.open_phase(3).await;
    server.set_clock(rome(2024, 3, 5, 20, 0)).await;
    let slot = ["2024-03-05", "09:00", "10:00"];
    let e3_body = educatore_entry(3, "contrasto_dispersione_scolastica", slot);
    let e3 = case.record_entry(cf::EDUCATORE, e3_body).await;
    let r3 = case.request_confirmation(3, &[e3]).await;
    // A second case (for the list's cursor) and an Art. 9 failure.
    let other_case = open_case(&server).await;
    let failure = regional_failure("INC-9", "BeS down", "2024-03-05T08:00:00Z");
    let failure_id = declare_failure(&server, cf::SUPPORT, failure).await;

    server.catch_up().await;

    // ---- GET /v1/cases/{id}: the current diaries ------------------------------------------
    let view = get(&server, &c(""), cf::ATS_OPERATOR).await;
    let version = view["version"].as_i64().expect("version");
    let diaries = view["diaries"].as_array().expect("diaries");
    let phase = |n: u64| {
        diaries
            .iter()
            .find(|d| d["phase"] == n)
            .unwrap_or_else(|| panic!("phase {n} in {view}"))
    };
    assert_eq!(phase(1)["status"], "handed_to_ats");
    assert_eq!(phase(1)["minutes"], 150);
    assert_eq!(phase(1)["confirmed_minutes"], 150);
    // 90 + 60 minutes of psicologo at 45.00 €/h.
    assert_eq!(phase(1)["confirmed_cost_cents"], 6750 + 4500);
    assert_eq!(
        phase(1)["totals_by_figure"],
        json!([{ "key": "psicologo", "minutes": 150, "confirmed_minutes": 150, "confirmed_cost_cents": 11250 }])
    );
    let states: BTreeMap<String, (String, i64)> = phase(1)["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["entry_id"].as_str().unwrap_or_default().to_owned(),
                (
                    e["state"].as_str().unwrap_or_default().to_owned(),
                    e["minutes"].as_i64().unwrap_or_default(),
                ),
            )
        })
        .collect();
    assert_eq!(states[&e1.to_string()], ("confirmed".to_owned(), 90));
    assert_eq!(states[&e2.to_string()], ("confirmed".to_owned(), 60));
    assert_eq!(phase(3)["pending_requests"][0]["request_id"], json!(r3));
    assert_eq!(phase(3)["entries"][0]["state"], "pending");
    assert_eq!(view["minutes"], 210);
    assert_eq!(view["confirmed_cost_cents"], 11250);

    // ---- Audit trail, page by page ----------------------------------------------------------
    let mut trail = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(k) => c(&format!("/audit-trail?limit=4&cursor={k}")),
            None => c("/audit-trail?limit=4"),
        };
        let page = get(&server, &path, cf::AUDITOR).await;
        trail.extend(page["items"].as_array().expect("items").iter().cloned());
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(k) => cursor = Some(k.to_owned()),
            None => break,
        }
    }
    let versions: Vec<i64> = trail
        .iter()
        .map(|r| r["stream_version"].as_i64().expect("stream_version"))
        .collect();
    assert_eq!(
        versions,
        (1..=version).collect::<Vec<_>>(),
        "every event once, in order"
    );
    assert!(pages >= 3, "{pages} pages of 4 for {version} events");
    let by_type = |t: &str| {
        trail
            .iter()
            .find(|r| r["event_type"] == t)
            .unwrap_or_else(|| panic!("{t} in the audit trail"))
            .clone()
    };
    assert_eq!(by_type("CaseOpened")["actor_cf"], cf::ATS_OPERATOR);
    assert_eq!(by_type("EntryAmended")["actor_cf"], cf::PSICOLOGO);
    assert_eq!(by_type("PhaseDiaryClosed")["actor_cf"], cf::RESP_ASST);
    let confirmed = trail
        .iter()
        .find(|r| r["actor_cf"] == cf::PARENT)
        .expect("the recipient's answer");
    assert!(
        confirmed["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    for pair in trail.windows(2) {
        assert_eq!(
            pair[1]["prev_hash"], pair[0]["hash"],
            "chain links in order"
        );
    }
    // The ATS operator reads it too; staff and other ATS do not.
    let denied = Some("audit-access-denied");
    assert_reads(
        &server,
        &[
            (c("/audit-trail"), cf::ATS_OPERATOR, 200, None),
            (c("/audit-trail"), cf::RESP_ASST, 403, denied),
            (c("/audit-trail"), cf::PSICOLOGO, 403, denied),
            // Another ATS may not read the case: told no more than for a case that does not exist.
            (
                c("/audit-trail"),
                cf::OTHER_ATS_OPERATOR,
                404,
                Some("not-found"),
            ),
            (
                c("/audit-trail?cursor=not-a-version"),
                cf::AUDITOR,
                400,
                Some("invalid-cursor"),
            ),
            (c("/audit-trail?limit=0"), cf::AUDITOR, 400, None),
        ],
    )
    .await;

    // ---- Verification -------------------------------------------------------------------------
    let check = get(&server, &c("/audit-trail/verification"), cf::AUDITOR).await;
    assert_eq!(check["intact"], true, "{check}");
    assert_eq!(check["events_checked"], version);
    assert_eq!(check["last_version"], version);
    assert!(check["first_break"].is_null());

    // ---- History as of an instant before the amendment ------------------------------------
    let as_of = before_amendment.to_rfc3339().replace('+', "%2B");
    let then = get(&server, &c(&format!("/history?as_of={as_of}")), cf::AUDITOR).await;
    assert_eq!(then["version"], 5, "{then}");
    let e1_text = e1.to_string();
    let then_entries = &then["case"]["diaries"][0]["entries"];
    let e1_then = item_where(then_entries, "entry_id", e1_text.as_str());
    assert_eq!(e1_then["minutes"], 60, "before the amendment");
    assert_eq!(e1_then["state"], "draft");
    assert_eq!(then["case"]["diaries"][0]["status"], "open");
    let nil = Uuid::nil();
    assert_reads(
        &server,
        &[
            // The case did not exist yet.
            (
                c("/history?as_of=2024-02-01T00:00:00Z"),
                cf::AUDITOR,
                404,
                None,
            ),
            (c("/history"), cf::AUDITOR, 400, None),
            (
                format!("/v1/cases/{nil}/history?as_of=2024-03-05T00:00:00Z"),
                cf::AUDITOR,
                404,
                None,
            ),
        ],
    )
    .await;

    // ---- Checklists ---------------------------------------------------------------------
    // Phase I's closure (whole-diary request) and phase III's request each stored one; one
    // per page.
    let first_list = get(&server, &c("/checklists?limit=1"), cf::RESP_PROVIDER).await;
    let next = first_list["next_cursor"].as_str().expect("a second page");
    let second_path = c(&format!("/checklists?limit=1&cursor={next}"));
    let second_list = get(&server, &second_path, cf::RESP_PROVIDER).await;
    assert!(second_list["next_cursor"].is_null());
    let (k1, k3) = (&first_list["items"][0], &second_list["items"][0]);
    assert_eq!(k1["request_id"], json!(r1));
    assert_eq!(k1["phase"], 1);
    assert_eq!(k1["request_minutes"], 150);
    assert_eq!(k1["request_cost_cents"], 11250);
    assert_eq!(k1["stored_by"], cf::RESP_ASST);
    assert_eq!(k3["request_id"], json!(r3));
    assert_eq!(k3["kind"], "request");
    assert_eq!(k3["phase"], 3);
    assert_eq!(k3["passed"], true);
    assert_eq!(k3["entry_ids"], json!([e3]));
    assert_eq!(k3["request_minutes"], 60);
    assert_eq!(k3["request_cost_cents"], 3000);
    let pdi_check = item_where(&k3["checks"], "code", "pdi.service");
    assert_eq!(
        (
            pdi_check["limit"].clone(),
            pdi_check["actual"].clone(),
            pdi_check["passed"].clone()
        ),
        (json!(1200), json!(60), json!(true))
    );
    assert_reads(
        &server,
        &[
            (c("/checklists"), cf::AUDITOR, 200, None),
            (c("/checklists"), cf::EDUCATORE, 403, None),
        ],
    )
    .await;

    // ---- ATS dashboard ------------------------------------------------------------------
    let board = get(&server, &ats("/dashboard?idle_days=3"), cf::ATS_OPERATOR).await;
    assert_eq!(board["cases_by_status"], json!({ "open": 2 }), "{board}");
    assert_eq!(board["requests"]["pending"], 1);
    assert_eq!(board["requests"]["confirmed"], 1);
    assert_eq!(board["confirmation_rate"], 1.0);
    assert_eq!(board["idle_days"], 3);
    let p1 = item_where(&board["minutes_by_phase_and_figure"], "phase", 1);
    assert_eq!(
        *p1,
        json!({ "phase": 1, "figure": "psicologo", "minutes": 150, "confirmed_minutes": 150 })
    );
    let handed: i64 = board["diaries_by_phase"]
        .as_array()
        .expect("diaries")
        .iter()
        .filter(|d| d["phase"] == 1)
        .map(|d| d["handed_to_ats"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(handed, 1);
    let ats_denied = Some("ats-access-denied");
    assert_reads(
        &server,
        &[
            (ats("/dashboard"), cf::AUDITOR, 200, None),
            (ats("/dashboard"), cf::OTHER_ATS_OPERATOR, 403, ats_denied),
        ],
    )
    .await;

    // ---- ATS case list with its cursor --------------------------------------------------
    let open_cases = ats(&format!("/cases?limit=1&status=open&provider={PROVIDER}"));
    let first = get(&server, &open_cases, cf::ATS_OPERATOR).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1));
    let next = first["next_cursor"].as_str().expect("a next page");
    let second_page = format!("{open_cases}&cursor={next}");
    let second = get(&server, &second_page, cf::ATS_OPERATOR).await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert!(second["next_cursor"].is_null());
    let mut listed = vec![
        first["items"][0]["case_id"].clone(),
        second["items"][0]["case_id"].clone(),
    ];
    listed.sort_by_key(|v| v.as_str().unwrap_or_default().to_owned());
    let mut expected = vec![json!(case_id), json!(other_case)];
    expected.sort_by_key(|v| v.as_str().unwrap_or_default().to_owned());
    assert_eq!(listed, expected);
    let ours = [&first, &second]
        .iter()
        .map(|p| p["items"][0].clone())
        .find(|i| i["case_id"] == json!(case_id))
        .expect("our case");
    assert_eq!(ours["confirmed_cost_cents"], 11250);
    let none = get(&server, &ats("/cases?status=interrupted"), cf::AUDITOR).await;
    assert_eq!(none["items"], json!([]));
    // `idle_before`: every open case is idle before a far future instant, none before 2000.
    let idle_before = |t: &str| ats(&format!("/cases?status=open&idle_before={t}"));
    let idle = get(
        &server,
        &idle_before("2100-01-01T00:00:00Z"),
        cf::ATS_OPERATOR,
    )
    .await;
    assert_eq!(idle["items"].as_array().map(Vec::len), Some(2));
    let idle = get(
        &server,
        &idle_before("2000-01-01T00:00:00Z"),
        cf::ATS_OPERATOR,
    )
    .await;
    assert_eq!(idle["items"], json!([]));
    assert_reads(
        &server,
        &[(ats("/cases?status=sleeping"), cf::AUDITOR, 400, None)],
    )
    .await;

    // ---- Cost report: JSON, CSV, scope --------------------------------------------------
    let costs = get(&server, "/v1/reports/costs", cf::ATS_OPERATOR).await;
    assert_eq!(costs["filter"]["ats"], ATS, "forced to the operator's ATS");
    assert_eq!(costs["total_confirmed_minutes"], 150);
    assert_eq!(costs["total_cost_cents"], 11250);
    assert_eq!(
        costs["lines"],
        json!([{
            "ats": ATS, "provider": PROVIDER, "ente": "ASST-NORD-MILANO", "status": "claimable",
            "case_id": case_id, "period": "2024-03",
            "figure": "psicologo", "entries": 2, "confirmed_minutes": 150,
            "unit_cost_cents": 4500, "cost_cents": 11250
        }])
    );
    assert_eq!(
        costs["claimable_cost_cents"], 11250,
        "phase I was handed to ATS"
    );
    assert_eq!(
        costs["by_provider"],
        json!([]),
        "phase I hours are the ASST's, not the provider's"
    );
    assert_eq!(
        costs["example_values"],
        json!(["up"]),
        "the shipped #UP costs are examples"
    );
    assert_eq!(
        costs["by_case"],
        json!([{ "key": case_id.to_string(), "confirmed_minutes": 150, "cost_cents": 11250 }])
    );
    let other = get(&server, "/v1/reports/costs", cf::OTHER_ATS_OPERATOR).await;
    assert_eq!(other["filter"]["ats"], "ATS-BERGAMO");
    assert_eq!(other["total_cost_cents"], 0);
    let march = "/v1/reports/costs?from=2024-03-05&to=2024-03-31";
    let march_only = get(&server, march, cf::AUDITOR).await;
    assert_eq!(
        march_only["total_cost_cents"], 0,
        "the service date is 4 March"
    );
    let csv_path = format!("/v1/reports/costs?format=csv&case_id={case_id}");
    let csv = server.call("GET", csv_path, cf::AUDITOR, None).send().await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv")),
        "{:?}",
        csv.header("content-type")
    );
    let text = String::from_utf8(csv.bytes.clone()).expect("utf-8");
    assert_eq!(
        text,
        format!(
            "ats,provider,case_id,period,figure,entries,confirmed_minutes,unit_cost_cents,cost_cents,cost_eur,status,ente,output\r\n\
             {ATS},{PROVIDER},{case_id},2024-03,psicologo,2,150,4500,11250,112.50,claimable,ASST-NORD-MILANO,\r\n"
        )
    );
    // The same report for Italian spreadsheets: `;`, decimal comma, BOM, Italian headers,
    // names, a totals line; and as XLSX, read back with calamine.
    let headers = [
        "ATS",
        "Ente erogatore",
        "Pratica (pseudonimo)",
        "Identificativo pratica",
        "Mese",
        "Figura professionale",
        "Prestazioni confermate",
        "Ore confermate",
        "Costo orario (€)",
        "Importo (€)",
        "Stato",
        "Ente che rendiconta",
    ];
    let it_path = format!("/v1/reports/costs?format=csv-it&case_id={case_id}");
    let it = server.call("GET", it_path, cf::AUDITOR, None).send().await;
    assert_eq!(it.status, 200);
    assert!(it.bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(&it.bytes[3..]);
    assert_eq!(
        reader
            .headers()
            .expect("headers")
            .iter()
            .collect::<Vec<_>>(),
        headers
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 2, "one line and the totals");
    assert_eq!(&rows[0][5], "Psicologo");
    assert_eq!(&rows[0][3], case_id.to_string());
    assert_eq!(
        (&rows[0][7], &rows[0][8], &rows[0][9]),
        ("2,50", "45,00", "112,50")
    );
    assert_eq!(
        (&rows[1][0], &rows[1][6], &rows[1][7], &rows[1][9]),
        ("Totale", "2", "2,50", "112,50")
    );
    let xlsx_path = format!("/v1/reports/costs?format=xlsx&case_id={case_id}");
    let xlsx = server
        .call("GET", xlsx_path, cf::AUDITOR, None)
        .send()
        .await;
    assert_eq!(xlsx.status, 200);
    assert_eq!(
        xlsx.header("content-type").as_deref(),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    {
        use calamine::{Data, Reader};
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(xlsx.bytes.clone()))
            .expect("an XLSX workbook");
        let sheet = book.worksheet_range("Costi").expect("the Costi sheet");
        let rows: Vec<&[Data]> = sheet.rows().collect();
        assert_eq!(rows.len(), 3, "headers, one line, totals");
        let texts: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
        assert_eq!(texts, headers);
        assert_eq!(rows[1][5], Data::String("Psicologo".into()));
        assert_eq!(rows[1][9], Data::Float(112.5));
        assert_eq!(rows[2][0], Data::String("Totale".into()));
        assert_eq!(
            (&rows[2][7], &rows[2][9]),
            (&Data::Float(2.5), &Data::Float(112.5))
        );
    }
    assert_reads(
        &server,
        &[
            (
                format!("/v1/reports/costs?ats={ATS}"),
                cf::OTHER_ATS_OPERATOR,
                403,
                ats_denied,
            ),
            (
                "/v1/reports/costs?format=xml".into(),
                cf::AUDITOR,
                400,
                None,
            ),
            (
                "/v1/reports/costs".into(),
                cf::RESP_PROVIDER,
                403,
                ats_denied,
            ),
        ],
    )
    .await;

    // ---- Art. 9 list on the read model ----------------------------------------------------
    let unresolved = "/v1/system-failures?unresolved=true&limit=10";
    let failures = get(&server, unresolved, cf::EDUCATORE).await;
    assert_eq!(failures["items"][0]["failure_id"], json!(failure_id));
    assert_eq!(failures["items"][0]["ticket"], "INC-9");
    assert!(failures["next_cursor"].is_null());
    let resolved = "/v1/system-failures?unresolved=false";
    assert_eq!(
        get(&server, resolved, cf::EDUCATORE).await["items"],
        json!([])
    );
    // `from`/`to` are days (Europe/Rome, both included) as on every list, or instants.
    for (query, found) in [
        ("from=2024-03-05&to=2024-03-05", true),
        ("from=2024-03-06", false),
        ("to=2024-03-04", false),
        ("from=2024-03-05T08:00:00Z&to=2024-03-05T08:00:01Z", true),
        ("to=2024-03-05T08:00:00Z", false),
    ] {
        let items = get(
            &server,
            &format!("/v1/system-failures?{query}"),
            cf::EDUCATORE,
        )
        .await;
        assert_eq!(
            items["items"].as_array().map(Vec::len),
            Some(usize::from(found)),
            "{query}: {items}"
        );
    }
    let bad = server
        .send(
            "GET",
            "/v1/system-failures?from=2024-02-30",
            Some(cf::EDUCATORE),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (bad.status, bad.json["field"].as_str()),
        (400, Some("from")),
        "{}",
        bad.json
    );

    // ---- Operations: /metrics and /readyz after the catch-up --------------------------------
    let text = metrics_text(&server).await;
    // Nobody runs the projections in this test server on PostgreSQL; SQLite's single process
    // always leads.
    let led = if backend == Backend::Sqlite { 1.0 } else { 0.0 };
    for p in diario_projections::PROJECTIONS {
        let lag = projection_metric(&text, "diario_projection_lag_events", p);
        assert_eq!(lag, 0.0, "{text}");
        assert_eq!(
            projection_metric(&text, "diario_projection_lag_seconds", p),
            0.0
        );
        assert_eq!(projection_metric(&text, "diario_projection_led", p), led);
    }
    assert_eq!(metric(&text, "diario_database_up"), 1.0);
    let ready = server.send("GET", "/readyz", None, None, &[]).await;
    assert_eq!(ready.status, 200);
    let projections = ready.json["projections"].as_array().expect("projections");
    assert_eq!(projections.len(), diario_projections::PROJECTIONS.len());
    assert!(
        projections.iter().all(|p| p["events_behind"] == 0),
        "{}",
        ready.json
    );
    server.stop().await;
}

diario_tests::scenario_on_each_backend!(reads =>
    api_reads_every_read_endpoint_after_a_small_case_on_postgres,
    api_reads_every_read_endpoint_after_a_small_case_on_sqlite);

// ------------------------------------------------------------------------------------------
// Two `diario serve` processes on one PostgreSQL database; the leader is killed (SIGKILL)
// mid-stream while writes continue through the other, which takes the projections over; the
// read models then equal a from-scratch rebuild (`diario rebuild`).
// ------------------------------------------------------------------------------------------

struct Served {
    child: std::process::Child,
    base: String,
}

impl Drop for Served {
    /// A failed assertion never leaves a server running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn start_serve(url: &str, client: &reqwest::Client) -> Served {
    let port = free_port();
    let child = diario_command(&["serve"])
        .env("DATABASE_URL", url)
        .env("DIARIO_ADDR", format!("127.0.0.1:{port}"))
        .env("DIARIO_JWT_SECRET", diario_tests::TEST_JWT_SECRET)
        .env("DIARIO_PLATFORM_ADMINS", cf::PLATFORM_ADMIN)
        .env("DIARIO_SHUTDOWN_GRACE_SECS", "5")
        .env("RUST_LOG", "warn")
        .env_remove("DIARIO_JWT_ISSUER")
        .env_remove("DIARIO_JWT_AUDIENCE")
        .env_remove("DIARIO_JWT_PUBLIC_KEY_FILE")
        .env_remove("DIARIO_NO_PROJECTIONS")
        .env_remove("DIARIO_FIRMALOM_URL")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start diario serve");
    let served = Served {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{}/readyz", served.base)).send().await
            && r.status() == 200
        {
            return served;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("diario serve on {} did not become ready", served.base);
}

async fn post(client: &reqwest::Client, url: &str, token: &str, body: &Value) -> Value {
    let r = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let json: Value = r.json().await.unwrap_or(Value::Null);
    assert!(
        status == 200 || status == 201,
        "POST {url}: {status} {json}"
    );
    json
}

/// One case: opened, a professional enabled, phase I opened (3 events).
async fn write_case(client: &reqwest::Client, base: &str, auth: &diario_api::AuthConfig) -> Uuid {
    let post_as = async |who: &str, path: &str, body: Value| {
        let token = auth
            .mint(who, std::time::Duration::from_secs(600))
            .expect("token");
        post(client, &format!("{base}{path}"), &token, &body).await
    };
    let opened = post_as(cf::ATS_OPERATOR, "/v1/cases", case_body()).await;
    let c = format!("/v1/cases/{}", id_in(&opened, "case_id"));
    let enable = json!({ "ente": "asst", "professional": cf::PSICOLOGO, "figures": ["psicologo"] });
    post_as(cf::RESP_ASST, &format!("{c}/professionals"), enable).await;
    post_as(cf::RESP_ASST, &format!("{c}/phases/1/open"), json!({})).await;
    id_in(&opened, "case_id")
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_reads_two_servers_leader_killed_mid_stream_read_models_equal_a_rebuild_on_postgres() {
    let db = diario_tests::TestDb::postgres().await;
    let client = reqwest::Client::new();
    let auth = diario_api::AuthConfig::disabled()
        .with_secret(diario_tests::TEST_JWT_SECRET.as_bytes())
        .expect("secret");

    // A starts first and takes every projection's leadership.
    let mut a = start_serve(&db.url, &client).await;
    wait_until("server A leads every projection", async || {
        diario_log::follower::leaders(&db.db, &diario_projections::PROJECTIONS)
            .await
            .is_ok_and(|l| l.iter().all(|x| x.led))
    })
    .await;
    let leader_pids: Vec<Option<i32>> =
        diario_log::follower::leaders(&db.db, &diario_projections::PROJECTIONS)
            .await
            .expect("leaders")
            .iter()
            .map(|l| l.pid)
            .collect();
    let mut b = start_serve(&db.url, &client).await;
    let admin = auth
        .mint(cf::PLATFORM_ADMIN, std::time::Duration::from_secs(600))
        .expect("token");
    post(
        &client,
        &format!("{}/v1/admin/grants", a.base),
        &admin,
        &json!({ "fiscal_code": cf::ATS_OPERATOR, "role": "ats_operator", "scope": ATS }),
    )
    .await;
    post(
        &client,
        &format!("{}/v1/organisations", a.base),
        &admin,
        &diario_tests::standard_provider_body(),
    )
    .await;

    // Writes through both servers while A applies them ...
    let mut cases = Vec::new();
    for n in 0..8 {
        let base = if n % 2 == 0 { &a.base } else { &b.base };
        cases.push(write_case(&client, base, &auth).await);
    }
    let first = cases[0];
    wait_until("A has projected the first cases", async || {
        diario_projections::case_diary(&db.db, first)
            .await
            .is_ok_and(|d| d.is_some())
    })
    .await;
    // ... then A dies without warning, mid-stream: writes keep coming through B.
    let writer = {
        let (client, auth, base) = (client.clone(), auth.clone(), b.base.clone());
        tokio::spawn(async move {
            let mut written = Vec::new();
            for _ in 0..12 {
                written.push(write_case(&client, &base, &auth).await);
            }
            written
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    a.child.kill().expect("SIGKILL server A");
    a.child.wait().expect("reap server A");
    cases.extend(writer.await.expect("writer"));

    // B takes the projections over (new leader sessions) and catches up to the end.
    wait_until("B leads every projection and the lag is zero", async || {
        let led = diario_log::follower::leaders(&db.db, &diario_projections::PROJECTIONS)
            .await
            .is_ok_and(|l| {
                l.iter()
                    .zip(&leader_pids)
                    .all(|(x, old)| x.led && x.pid != *old)
            });
        let caught_up = diario_log::follower::lag_at(
            &db.db,
            &diario_projections::PROJECTIONS,
            chrono::Utc::now(),
        )
        .await
        .is_ok_and(|l| l.iter().all(|x| x.events_behind == 0));
        led && caught_up
    })
    .await;
    // B's /readyz names B (host:pid), not a database session, as the leader of each one.
    let ready: Value = client
        .get(format!("{}/readyz", b.base))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("readyz json");
    let b_instance = ready["instance"].as_str().expect("instance").to_owned();
    assert!(
        b_instance.ends_with(&format!(":{}", b.child.id())),
        "{ready}"
    );
    for p in ready["projections"].as_array().expect("projections") {
        assert_eq!(p["leader"], b_instance.as_str(), "{ready}");
    }
    let metrics = client
        .get(format!("{}/metrics", b.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    for p in diario_projections::PROJECTIONS {
        let lag = projection_metric(&metrics, "diario_projection_lag_events", p);
        assert_eq!(lag, 0.0);
        assert_eq!(projection_metric(&metrics, "diario_projection_led", p), 1.0);
    }
    let live = diario_projections::dump_read_models(&db.db)
        .await
        .expect("dump");
    assert_eq!(
        live.get("rm_cases").map(Vec::len),
        Some(cases.len()),
        "every case projected once"
    );

    // B stops gracefully (SIGTERM: requests drained, runner stopped, leadership released).
    let term = std::process::Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(term.success());
    let exit = b.child.wait().expect("wait for B");
    assert!(exit.success(), "B exits cleanly on SIGTERM: {exit:?}");

    // `diario rebuild` from zero gives the same tables.
    let with_db = |args: &[&str]| {
        let mut command = diario_command(args);
        command.env("DATABASE_URL", &db.url).env("RUST_LOG", "warn");
        command
    };
    let rebuilt = run_ok(&mut with_db(&["rebuild"]));
    assert_eq!(
        rebuilt.lines().count(),
        diario_projections::PROJECTIONS.len()
    );
    assert_eq!(
        diario_projections::dump_read_models(&db.db)
            .await
            .expect("dump"),
        live,
        "the read models built across the takeover equal a rebuild from zero"
    );
    let verified = run_ok(&mut with_db(&["verify", &cases[3].to_string()]));
    let report: Value = serde_json::from_str(&verified).expect("JSON report");
    assert_eq!(report["events_checked"], 3);
    db.cleanup().await;
}

/// `GET /v1/me`: who I am, my grants and what they let me do.
async fn me(backend: Backend) {
    let server = diario_tests::ApiServer::start(backend, crate::api_scenario::t0()).await;
    crate::api_scenario::grant_roles(&server).await;
    let me = |who: &'static str| server.call("GET", "/v1/me", who, None);
    let codes = |v: &serde_json::Value| -> Vec<(String, Option<String>)> {
        v["capabilities"]
            .as_array()
            .expect("capabilities")
            .iter()
            .map(|c| {
                (
                    c["code"].as_str().expect("code").to_owned(),
                    c["scope"].as_str().map(str::to_owned),
                )
            })
            .collect()
    };
    let operator = me(cf::ATS_OPERATOR).await;
    assert_eq!(operator["fiscal_code"], cf::ATS_OPERATOR);
    assert_eq!(operator["grants"][0]["role"], "ats_operator", "{operator}");
    assert_eq!(operator["grants"][0]["scope"], "ATS-MILANO");
    let ats = Some("ATS-MILANO".to_owned());
    assert!(codes(&operator).contains(&("open-cases".into(), ats.clone())));
    assert!(codes(&operator).contains(&("read-ats".into(), ats)));
    let outsider = me(cf::OUTSIDER).await;
    assert_eq!(outsider["grants"], serde_json::json!([]));
    assert_eq!(codes(&outsider), vec![("case-work".to_owned(), None)]);
    assert_eq!(outsider["platform_admin"], false);
    let admin = me(cf::PLATFORM_ADMIN).await;
    assert_eq!(admin["platform_admin"], true);
    assert!(codes(&admin).contains(&("manage-grants".into(), None)));
    let support = me(cf::SUPPORT).await;
    assert!(codes(&support).contains(&("declare-failures".into(), None)));
    server.stop().await;
}

diario_tests::scenario_on_each_backend!(me =>
    api_reads_me_lists_grants_and_capabilities_on_postgres,
    api_reads_me_lists_grants_and_capabilities_on_sqlite);
