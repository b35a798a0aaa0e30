//! The defects an attack-and-crash campaign found, each pinned over real HTTP on both backends:
//! an idempotent retry after a lost answer (the crash window, concurrent copies of one request)
//! gets the first answer, not a refusal decided on the state it produced itself.

use std::time::Duration;

use diario_tests::{ApiResponse, ApiServer, Backend, cf};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api_scenario::{
    CaseApi, case_body, declare_failure, grant_roles, open_case_as, psicologo_entry,
    regional_failure, t0,
};

diario_tests::scenario_on_each_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    retry_after_a_lost_answer =>
        idempotent_retry_after_a_lost_answer_gets_the_first_answer_on_postgres,
        idempotent_retry_after_a_lost_answer_gets_the_first_answer_on_sqlite;
    concurrent_copies =>
        concurrent_copies_of_one_request_all_get_the_winners_answer_on_postgres,
        concurrent_copies_of_one_request_all_get_the_winners_answer_on_sqlite;
    control_characters =>
        control_characters_are_refused_naming_the_field_on_postgres,
        control_characters_are_refused_naming_the_field_on_sqlite;
    limits_and_small_ones =>
        limits_timeouts_cursors_and_request_ids_answer_problems_on_postgres,
        limits_timeouts_cursors_and_request_ids_answer_problems_on_sqlite;
}

const KEY: &str = "idempotency-key";

fn slot(i: u32) -> (String, String) {
    let start = 8 * 60 + 30 * i;
    let end = start + 30;
    let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    (hm(start), hm(end))
}

fn psicologo_slot(i: u32) -> Value {
    let (start, end) = slot(i);
    psicologo_entry("colloquio_valutazione", &start, &end)
}

async fn record_with_key(case: &CaseApi<'_>, i: u32, key: &str) -> ApiResponse {
    case.record_entry(cf::PSICOLOGO, psicologo_slot(i))
        .header(KEY, key)
        .send()
        .await
}

async fn entries_recorded(server: &ApiServer) -> i64 {
    server
        .db
        .count("SELECT count(*) FROM events WHERE event_type = 'EntryRecorded'")
        .await
}

/// The crash window: the events committed, the stored answer did not (deleted here by hand,
/// as `kill -9` between the commit and the answer leaves it). The retry is decided on the
/// state its own first attempt produced — and must still get the first answer, and keep it.
async fn retry_after_a_lost_answer(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;

    // Opening a case: a retry would be `case-already-opened`.
    let open = || {
        open_case_as(&server, cf::ATS_OPERATOR, case_body())
            .header(KEY, "open-1")
            .send()
    };
    let first = open().await;
    assert_eq!(first.status, 201, "{}", first.json);
    server.db.raw("DELETE FROM idempotency_keys").await;
    let retry = open().await;
    assert_eq!(
        (retry.status, &retry.json),
        (201, &first.json),
        "a retry of a case that was opened gets the first answer"
    );
    assert_eq!(retry.header("etag"), first.header("etag"));

    let case = CaseApi::of(&server, diario_tests::id_in(&first.json, "case_id"));
    case.start_phase_one().await;

    // Recording an entry: a retry would be `entry-id-already-used`.
    let first = record_with_key(&case, 0, "entry-1").await;
    assert_eq!(first.status, 201, "{}", first.json);
    // Another write moves the case on: the retry's answer is still the first one's version.
    record_with_key(&case, 1, "entry-2").await;
    server.db.raw("DELETE FROM idempotency_keys").await;
    let retry = record_with_key(&case, 0, "entry-1").await;
    assert_eq!(
        (retry.status, &retry.json),
        (201, &first.json),
        "the first answer, with the first answer's version and events"
    );
    assert_eq!(retry.header("etag"), first.header("etag"));
    let again = record_with_key(&case, 0, "entry-1").await;
    assert_eq!(again.status, 201, "the stored answer is the first one's");
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.json, first.json);
    assert_eq!(entries_recorded(&server).await, 2, "one event per entry");

    // A refusal decided on the current state stays a refusal for a command never recorded.
    let overlapping = record_with_key(&case, 0, "entry-3").await;
    assert_eq!(
        (overlapping.status, overlapping.problem_code().as_str()),
        (422, "overlapping-entry"),
        "{}",
        overlapping.json
    );
    // Another request sent with a used key once its answer is gone is that request, never
    // mistaken for the first one (the command id includes the request's fingerprint).
    server.db.raw("DELETE FROM idempotency_keys").await;
    let other = record_with_key(&case, 2, "entry-1").await;
    assert_eq!(other.status, 201, "{}", other.json);
    assert_ne!(other.json["entry_id"], first.json["entry_id"]);
    assert_eq!(entries_recorded(&server).await, 3);
    server.stop().await;
}

/// Eight copies of one POST with one key, at once, for several keys: every copy gets the
/// winner's answer and each entry is recorded once.
async fn concurrent_copies(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    case.start_phase_one().await;
    const KEYS: u32 = 16;
    const COPIES: usize = 8;
    for i in 0..KEYS {
        let key = format!("copies-{i}");
        let copies = (0..COPIES).map(|_| record_with_key(&case, i, &key));
        let answers = futures::future::join_all(copies).await;
        let first = &answers[0];
        for a in &answers {
            assert_eq!(a.status, 201, "key {key}: {}", a.json);
            assert_eq!(a.json, first.json, "key {key}: one answer for every copy");
        }
        let later = record_with_key(&case, i, &key).await;
        assert_eq!((later.status, &later.json), (201, &first.json));
    }
    assert_eq!(entries_recorded(&server).await, i64::from(KEYS));
    server.stop().await;
}

fn assert_invalid(r: &ApiResponse, field: &str) {
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (400, "invalid-characters"),
        "{field}: {}",
        r.json
    );
    assert_eq!(r.json["field"], field, "{}", r.json);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/problem+json")
    );
}

/// NUL (which PostgreSQL cannot store in `text` or `jsonb`) and the other control characters
/// are refused with a 400 naming the field, in bodies, paths and queries; nothing is written
/// and the server stays healthy.
async fn control_characters(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;
    let events = || server.db.count("SELECT count(*) FROM events");
    let before = events().await;

    let mut body = case_body();
    body["recipient"]["pseudonym"] = json!("UP-2024-\u{0}0002");
    let r = open_case_as(&server, cf::ATS_OPERATOR, body).send().await;
    assert_invalid(&r, "recipient.pseudonym");
    let r = case
        .interrupt(cf::RESP_PROVIDER, "rinuncia\u{0}")
        .send()
        .await;
    assert_invalid(&r, "reason");
    let failure = regional_failure("INC-\u{1b}[31m", "d", "2024-03-01T08:00:00Z");
    let r = declare_failure(&server, cf::SUPPORT, failure).send().await;
    assert_invalid(&r, "ticket");
    let r = case
        .call(
            "POST",
            "/professionals",
            cf::RESP_ASST,
            Some(json!({ "ente": "asst", "professional": cf::PSICOLOGO, "figures": ["psicologo", "x\u{7}"] })),
        )
        .send()
        .await;
    assert_invalid(&r, "figures[1]");
    // Paths and queries (percent-encoded NUL, and a C1 control spelled in UTF-8).
    let as_operator =
        |path: &'static str| server.send("GET", path, Some(cf::ATS_OPERATOR), None, &[]);
    let r = as_operator("/v1/ats/ATS%00/dashboard").await;
    assert_invalid(&r, "path");
    let r = as_operator("/v1/system-failures?ats=A%C2%85").await;
    assert_invalid(&r, "ats");
    // `%+1` is not a percent-encoded byte at all (and no control character).
    let r = as_operator("/v1/system-failures?ats=A%+1").await;
    assert_ne!(r.problem_code(), "invalid-characters", "{}", r.json);
    // Tabs and line breaks in free text are text.
    let r = case
        .interrupt(cf::RESP_PROVIDER, "rinuncia:\n\tla famiglia si trasferisce")
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        events().await,
        before + 1,
        "only the clean write is recorded"
    );
    let health = server.send("GET", "/readyz", None, None, &[]).await;
    assert_eq!(health.status, 200, "{}", health.json);
    server.stop().await;
}

/// Sends raw bytes on a fresh connection and reads the answer until the server closes it.
async fn raw_exchange(server: &ApiServer, request: &[u8]) -> (u16, String) {
    let addr = server.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer));
    read.await.expect("an answer in time").expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// 408, 414 and 431 are problems like every other error; a negative audit cursor is refused;
/// a client's request id is echoed only when it is a plain token.
async fn limits_and_small_ones(backend: Backend) {
    let server = ApiServer::start_with(backend, t0(), |s| {
        s.request_timeout = Duration::from_secs(1);
    })
    .await;
    grant_roles(&server).await;
    let case = CaseApi::open(&server).await;

    let long = format!("/v1/measures?x={}", "a".repeat(9 * 1024));
    let r = server
        .send("GET", &long, Some(cf::AUDITOR), None, &[])
        .await;
    assert_eq!((r.status, r.problem_code().as_str()), (414, "uri-too-long"));
    let big = "b".repeat(40 * 1024);
    let r = server
        .send(
            "GET",
            "/v1/measures",
            Some(cf::AUDITOR),
            None,
            &[("x-big", big.as_str())],
        )
        .await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (431, "headers-too-large")
    );
    // A body that never arrives: 408 as a problem once the timeout passes.
    let token = server.token(cf::RESP_ASST);
    let stalled = format!(
        "POST {} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{{\"reason\"",
        case.path("/interruption")
    );
    let (status, text) = raw_exchange(&server, stalled.as_bytes()).await;
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert!(text.contains("request-timeout"), "{text}");

    let audit = case.path("/audit-trail?cursor=-1");
    let r = server
        .send("GET", &audit, Some(cf::AUDITOR), None, &[])
        .await;
    assert_eq!(r.status, 400, "{}", r.json);

    let echo = |id: &'static str| {
        let server = &server;
        async move {
            let r = server
                .send(
                    "GET",
                    "/v1/measures",
                    Some(cf::AUDITOR),
                    None,
                    &[("x-request-id", id)],
                )
                .await;
            r.header("x-request-id").expect("a request id")
        }
    };
    assert_eq!(echo("trace-42.a_b:c").await, "trace-42.a_b:c");
    let injected = echo("x\" actor=RSSMRA85T10A562S level=ERROR").await;
    assert!(!injected.contains("actor"), "{injected}");
    assert!(
        uuid::Uuid::parse_str(&injected).is_ok(),
        "a fresh id: {injected}"
    );
    server.stop().await;
}

/// The log line of a failed request never quotes what the database quoted back: a real
/// PostgreSQL error on a payload with a fiscal code carries it in its context, and the logged
/// text has only the SQLSTATE and the message.
#[tokio::test]
async fn database_errors_are_logged_without_the_payload() {
    // Nothing is written: the statement only makes PostgreSQL refuse a value.
    let pool = sqlx::PgPool::connect(&diario_tests::pg_admin_url())
        .await
        .expect("connect");
    let payload = r#"{"professional":"RSSMRA85T10A562S","note":"a\u0000b"}"#;
    let err = sqlx::query("SELECT $1::text::jsonb")
        .bind(payload)
        .execute(&pool)
        .await
        .expect_err("PostgreSQL refuses \\u0000 in jsonb");
    let api = diario_api::ApiError::from(diario_commands::HandlerError::Store(
        diario_log::StoreError::Database(err),
    ));
    assert!(
        format!("{api:?}").contains("RSSMRA85T10A562S"),
        "the database quotes the payload back: {api:?}"
    );
    let logged = api.log_text();
    assert!(!logged.contains("RSSMRA85T10A562S"), "{logged}");
    assert!(
        logged.contains("22P05") || logged.contains("database error"),
        "{logged}"
    );
    pool.close().await;
}

/// Two servers on one PostgreSQL, 200 entries at once across 20 cases (10 writers per case,
/// each through either server): every write succeeds the first time — no `concurrent-update`
/// for a colleague saving at the same moment — and each is recorded once. (The latencies are
/// measured by `diario-bench contention`, BENCHMARKS.md, not asserted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn busy_cases_on_two_servers_never_answer_409() {
    let burst = diario_tests::contention::burst(20, 10).await;
    let refused = burst.refused();
    assert!(
        refused.is_empty(),
        "{} of 200 not accepted the first time, e.g. {:?}",
        refused.len(),
        refused.first()
    );
    assert_eq!(burst.recorded, 200, "each write recorded once");
}

/// A request to the server at `base` as `token`, with an optional JSON body and headers.
async fn send_to(
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> ApiResponse {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(body);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    ApiResponse::read(req.send().await.expect("send")).await
}

/// A server decides a command on the states it has cached without reading them first; when
/// another server has moved the case since, no answer may rest on the stale copy. Through
/// server A (which caches the case) and server B (which moves it): withdrawing an entry
/// only B has seen recorded, an `If-Match` on the version B produced, and an overlap with an
/// entry recorded through B are all answered by A as the log stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_decides_again_on_the_log_what_its_cache_would_refuse() {
    let (a, mut b) = diario_tests::contention::two_servers().await;
    let case = diario_tests::contention::open_case(&a, 0).await;
    a.set_clock(t0() + chrono::Duration::days(4)).await;
    let token = a.token(&cf::numbered_professional(0));
    let entry = |start: &str, end: &str| {
        json!({
            "phase": 1, "figure": "psicologo", "service": "colloquio_valutazione",
            "slot": { "date": "2024-03-04", "start": start, "end": end }
        })
    };
    let path = format!("/v1/cases/{case}/entries");
    let post = reqwest::Method::POST;
    // A records (and caches the case and the agenda), then B records.
    let first = send_to(
        &a.base_url,
        post.clone(),
        &path,
        &token,
        Some(&entry("08:30", "09:00")),
        &[],
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.json);
    let by_b = send_to(
        &b.base_url,
        post.clone(),
        &path,
        &token,
        Some(&entry("09:00", "09:30")),
        &[],
    )
    .await;
    assert_eq!(by_b.status, 201, "{}", by_b.json);
    let b_entry = by_b.json["entry_id"].as_str().expect("entry id").to_owned();

    // A withdraws the entry its cache has never seen.
    let withdraw = format!("/v1/cases/{case}/entries/{b_entry}");
    let r = send_to(
        &a.base_url,
        reqwest::Method::DELETE,
        &withdraw,
        &token,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "withdrawn on the log's state: {}", r.json);

    // B records again; A is sent If-Match with the version B answered.
    let again = send_to(
        &b.base_url,
        post.clone(),
        &path,
        &token,
        Some(&entry("10:00", "10:30")),
        &[],
    )
    .await;
    assert_eq!(again.status, 201, "{}", again.json);
    let etag = again.header("etag").expect("ETag");
    let r = send_to(
        &a.base_url,
        post.clone(),
        &path,
        &token,
        Some(&entry("11:00", "11:30")),
        &[("if-match", &etag)],
    )
    .await;
    assert_eq!(r.status, 201, "If-Match on the current version: {}", r.json);
    // A stale If-Match is still refused.
    let r = send_to(
        &a.base_url,
        post.clone(),
        &path,
        &token,
        Some(&entry("12:00", "12:30")),
        &[("if-match", &etag)],
    )
    .await;
    assert_eq!(
        (r.status, r.problem_code()),
        (412, "version-mismatch".to_owned()),
        "{}",
        r.json
    );

    // B records 13:00-13:30; A is sent an overlapping one: refused, as on B.
    let r = send_to(
        &b.base_url,
        post.clone(),
        &path,
        &token,
        Some(&entry("13:00", "13:30")),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let r = send_to(
        &a.base_url,
        post.clone(),
        &path,
        &token,
        Some(&entry("13:15", "13:45")),
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.problem_code()),
        (422, "overlapping-entry".to_owned()),
        "an overlap with B's entry: {}",
        r.json
    );
    // The same time on another case of the same psicologo, through A (whose cached agenda
    // predates B's entry): refused naming B's case.
    let other = diario_tests::contention::open_case(&a, 1).await;
    let enable = json!({
        "ente": "asst", "professional": cf::numbered_professional(0), "figures": ["psicologo"]
    });
    let r = a
        .send(
            "POST",
            &format!("/v1/cases/{other}/professionals"),
            Some(cf::RESP_ASST),
            Some(&enable),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = send_to(
        &a.base_url,
        post.clone(),
        &format!("/v1/cases/{other}/entries"),
        &token,
        Some(&entry("13:00", "13:30")),
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.problem_code()),
        (422, "overlapping-entry-other-case".to_owned()),
        "{}",
        r.json
    );
    assert_eq!(
        r.json["other_case_id"],
        json!(case.to_string()),
        "{}",
        r.json
    );

    let recorded =
        a.db.count("SELECT count(*) FROM events WHERE event_type = 'EntryRecorded'")
            .await;
    assert_eq!(recorded, 5, "08:30, 09:00 (withdrawn), 10:00, 11:00, 13:00");
    b.stop().await;
    a.stop().await;
}
