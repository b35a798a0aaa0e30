//! FirmaLOM, the deadline scheduler and the paper diary end to end over real HTTP:
//! a real `diario` server (with its background workers) talks to a fake FirmaLOM over HTTP, the
//! recipient's answers come back as HMAC-signed callbacks, the test clock drives the deadlines.
//! PostgreSQL and SQLite.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diario_api::domain::testing::fixtures::rome;
use diario_api::firmalom::outbox::delivery_log;
use diario_api::firmalom::{Callback, CallbackOutcome, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use diario_tests::case_stream;
use diario_tests::fake_firmalom::FakeFirmalom;
use diario_tests::{
    ApiResponse, ApiServer, Backend, FirmalomServer, FirmalomSetup, TEST_FIRMALOM_SECRET, cf,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api_scenario::{case_body, entry, grant_roles, id, ok, open_phase, t0};

// ---- helpers ---------------------------------------------------------------------------------

async fn open_case_with(server: &ApiServer, body: &Value) -> Uuid {
    let r = server
        .send("POST", "/v1/cases", Some(cf::ATS_OPERATOR), Some(body), &[])
        .await;
    assert_eq!(r.status, 201, "open case: {:?}", r.json);
    id(&r.json, "case_id")
}

/// Phase I opened, one entry recorded (4 March 2024, 10:00–11:30) and validated; the clock at
/// 4 March 18:00. Returns (case id, entry id).
async fn phase_one_ready(server: &ApiServer, enrolled: bool) -> (Uuid, Uuid) {
    grant_roles(server).await;
    let mut body = case_body();
    body["recipient"]["firmalom_enrolled"] = json!(enrolled);
    let case_id = open_case_with(server, &body).await;
    let c = |p: &str| format!("/v1/cases/{case_id}{p}");
    open_phase(server, &c(""), 1).await;
    ok(
        server,
        "POST",
        &c("/professionals"),
        cf::RESP_ASST,
        Some(json!({ "ente": "asst", "professional": cf::PSICOLOGO, "figures": ["psicologo"] })),
        200,
    )
    .await;
    server.set_clock(rome(2024, 3, 4, 18, 0)).await;
    let e1 = id(
        &ok(
            server,
            "POST",
            &c("/entries"),
            cf::PSICOLOGO,
            Some(entry(
                1,
                "psicologo",
                "colloquio_valutazione",
                "2024-03-04",
                "10:00",
                "11:30",
            )),
            201,
        )
        .await,
        "entry_id",
    );
    ok(
        server,
        "POST",
        &c("/phases/1/validation"),
        cf::RESP_ASST,
        None,
        200,
    )
    .await;
    (case_id, e1)
}

/// Closes phase I: the whole-diary confirmation request; returns its id.
async fn close_phase_one(server: &ApiServer, case_id: Uuid) -> Uuid {
    let closed = ok(
        server,
        "POST",
        &format!("/v1/cases/{case_id}/phases/1/close"),
        cf::RESP_ASST,
        None,
        200,
    )
    .await;
    id(&closed, "request_id")
}

async fn version(server: &ApiServer, case_id: Uuid) -> i64 {
    let r = server
        .send(
            "GET",
            &format!("/v1/cases/{case_id}"),
            Some(cf::RESP_ASST),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    r.header("etag")
        .and_then(|e| e.trim_matches('"').parse().ok())
        .expect("ETag with the version")
}

/// Event types of the case, in order, from the store.
async fn event_types(server: &ApiServer, case_id: Uuid) -> Vec<(String, String)> {
    server
        .state
        .store
        .read_stream(&case_stream(case_id), 1)
        .await
        .expect("read the case stream")
        .into_iter()
        .map(|e| (e.event_type, e.metadata.actor_cf))
        .collect()
}

fn count(types: &[(String, String)], name: &str) -> usize {
    types.iter().filter(|(t, _)| t == name).count()
}

fn callback(case_id: Uuid, request_id: Uuid, signer: &str, confirmed: bool) -> Callback {
    Callback {
        delivery_id: Uuid::now_v7(),
        case_id,
        request_id,
        signer_cf: signer.to_owned(),
        outcome: if confirmed {
            CallbackOutcome::Confirmed
        } else {
            CallbackOutcome::Rejected
        },
        reason: (!confirmed).then(|| "l'incontro è durato un'ora".to_owned()),
    }
}

/// POSTs raw bytes with the given headers to the callback endpoint (no bearer token).
async fn post_raw(server: &ApiServer, body: &[u8], headers: &[(&str, String)]) -> ApiResponse {
    let mut req = server
        .client
        .post(server.url("/v1/firmalom/callbacks"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let response = req.send().await.expect("send the callback");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body").to_vec();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    ApiResponse {
        status,
        headers,
        bytes,
        json,
    }
}

/// A callback signed with `secret` at `timestamp`.
async fn post_signed(
    server: &ApiServer,
    cb: &Callback,
    secret: &[u8],
    timestamp: i64,
) -> ApiResponse {
    let body = serde_json::to_vec(cb).expect("json");
    let headers = vec![
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (SIGNATURE_HEADER, sign(secret, timestamp, &body)),
    ];
    post_raw(server, &body, &headers).await
}

async fn post_callback(server: &ApiServer, cb: &Callback) -> ApiResponse {
    post_signed(server, cb, TEST_FIRMALOM_SECRET, Utc::now().timestamp()).await
}

/// Polls `check` every 50 ms for up to `secs` seconds.
async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn wait_notified(fake: &FakeFirmalom, request_id: Uuid, times: usize) {
    eventually(15, "the notification reaches FirmaLOM", || async {
        fake.received()
            .iter()
            .filter(|n| n.request_id == request_id)
            .count()
            >= times
    })
    .await;
}

fn late(t: DateTime<Utc>) -> DateTime<Utc> {
    t + chrono::Duration::days(1) + chrono::Duration::minutes(1)
}

// ---- notify → signed callback confirms ---------------------------------------------------------

async fn notify_then_callback_confirms(backend: Backend) {
    let fake = FakeFirmalom::start(TEST_FIRMALOM_SECRET).await;
    let server =
        FirmalomServer::start(backend, t0(), FirmalomSetup::with_workers(Some(&fake.url))).await;
    let (case_id, e1) = phase_one_ready(&server, true).await;
    let r1 = close_phase_one(&server, case_id).await;
    wait_notified(&fake, r1, 1).await;
    let n = fake
        .received()
        .into_iter()
        .find(|n| n.request_id == r1)
        .expect("notification");
    assert_eq!(n.case_id, case_id);
    assert_eq!(n.kind, "confirmation_requested");
    assert_eq!(n.confirmers, vec![cf::PARENT.to_owned()]);
    assert_eq!(n.entries.len(), 1);
    assert_eq!(n.entries[0].entry_id, e1);
    assert_eq!(n.entries[0].minutes, 90);
    assert_eq!(fake.bad_signatures(), 0);

    // The recipient's parent confirms in the app; FirmaLOM calls back (no bearer token).
    let cb = callback(case_id, r1, cf::PARENT, true);
    let (body, headers) = fake.signed_callback(&cb);
    let headers: Vec<(&str, String)> = headers;
    let r = post_raw(&server, &body, &headers).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let types: Vec<&str> = r.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(types, vec!["EntriesConfirmed", "DiaryHandedToAts"]);
    let events = event_types(&server, case_id).await;
    let confirmed = events
        .iter()
        .find(|(t, _)| t == "EntriesConfirmed")
        .expect("EntriesConfirmed");
    assert_eq!(confirmed.1, cf::PARENT, "the signer is the actor");

    // The same delivery again: refused, nothing changes.
    let v = version(&server, case_id).await;
    let again = post_raw(&server, &body, &headers).await;
    assert_eq!(again.status, 409, "{}", again.json);
    assert_eq!(again.problem_code(), "callback-replayed");
    assert_eq!(again.json["original_status"], 200);
    assert_eq!(version(&server, case_id).await, v);

    // The auditor can see when the recipient was notified.
    let log = delivery_log(&server.db.db, case_id).await.expect("log");
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].outcome, "delivered");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_notify_then_signed_callback_confirms_postgres() {
    notify_then_callback_confirms(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_notify_then_signed_callback_confirms_sqlite() {
    notify_then_callback_confirms(Backend::Sqlite).await;
}

// ---- rejection → amend → new request → confirm ------------------------------------------------

async fn rejection_amend_confirm(backend: Backend) {
    let fake = FakeFirmalom::start(TEST_FIRMALOM_SECRET).await;
    let server =
        FirmalomServer::start(backend, t0(), FirmalomSetup::with_workers(Some(&fake.url))).await;
    let (case_id, e1) = phase_one_ready(&server, true).await;
    let c = |p: &str| format!("/v1/cases/{case_id}{p}");
    let r1 = close_phase_one(&server, case_id).await;
    wait_notified(&fake, r1, 1).await;
    let r = post_callback(&server, &callback(case_id, r1, cf::PARENT, false)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["events"][0]["type"], "ConfirmationRejected");
    assert_eq!(r.json["outcome"], "rejected");

    // The rejection reopens the diary: the author corrects, the responsabile validates and
    // closes again, which sends a new request.
    ok(
        &server,
        "PATCH",
        &c(&format!("/entries/{e1}")),
        cf::PSICOLOGO,
        Some(json!({ "slot": { "date": "2024-03-04", "start": "10:00", "end": "11:00" } })),
        200,
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
    let r2 = close_phase_one(&server, case_id).await;
    assert_ne!(r1, r2);
    wait_notified(&fake, r2, 1).await;
    let n2 = fake
        .received()
        .into_iter()
        .find(|n| n.request_id == r2)
        .expect("second notification");
    assert_eq!(n2.entries[0].minutes, 60, "the amended entry is notified");

    let r = post_callback(&server, &callback(case_id, r2, cf::PARENT, true)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let events = event_types(&server, case_id).await;
    assert_eq!(count(&events, "ConfirmationRejected"), 1);
    assert_eq!(count(&events, "EntriesConfirmed"), 1);
    assert_eq!(count(&events, "DiaryHandedToAts"), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_rejection_amend_new_request_confirm_postgres() {
    rejection_amend_confirm(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_rejection_amend_new_request_confirm_sqlite() {
    rejection_amend_confirm(Backend::Sqlite).await;
}

// ---- no answer → expired once (even with two servers) → re-send -----------------------------

async fn unanswered_expires_once(backend: Backend, servers: usize) {
    let fake = FakeFirmalom::start(TEST_FIRMALOM_SECRET).await;
    let mut server =
        FirmalomServer::start(backend, t0(), FirmalomSetup::with_workers(Some(&fake.url))).await;
    for _ in 1..servers {
        server
            .start_another(FirmalomSetup::with_workers(Some(&fake.url)))
            .await;
    }
    let (case_id, _) = phase_one_ready(&server, true).await;
    let r1 = close_phase_one(&server, case_id).await;
    wait_notified(&fake, r1, 1).await;

    // A few passes of the scheduler before the deadline: nothing happens.
    server.set_clock(rome(2024, 3, 5, 17, 59)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        count(
            &event_types(&server, case_id).await,
            "ConfirmationRequestExpired"
        ),
        0
    );

    // One day later with no answer: the scheduler records the expiry as the system.
    server.set_clock(late(rome(2024, 3, 4, 18, 0))).await;
    eventually(15, "the scheduler records the expiry", || async {
        count(
            &event_types(&server, case_id).await,
            "ConfirmationRequestExpired",
        ) == 1
    })
    .await;
    // Many more passes (of every server): still exactly one.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let events = event_types(&server, case_id).await;
    let expired: Vec<_> = events
        .iter()
        .filter(|(t, _)| t == "ConfirmationRequestExpired")
        .collect();
    assert_eq!(expired.len(), 1, "{events:?}");
    assert_eq!(expired[0].1, "system", "recorded by the system actor");

    // The responsabile may re-send; FirmaLOM is notified again, the parent confirms.
    let resent = ok(
        &server,
        "POST",
        &format!("/v1/cases/{case_id}/confirmation-requests/{r1}/resend"),
        cf::RESP_ASST,
        None,
        200,
    )
    .await;
    assert_eq!(resent["events"][0]["type"], "ConfirmationResent");
    wait_notified(&fake, r1, 2).await;
    let kinds: Vec<String> = fake
        .received()
        .into_iter()
        .filter(|n| n.request_id == r1)
        .map(|n| n.kind)
        .collect();
    assert_eq!(kinds, vec!["confirmation_requested", "confirmation_resent"]);
    let r = post_callback(&server, &callback(case_id, r1, cf::PARENT, true)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    // Every server delivered each notification once between them.
    assert_eq!(fake.received().len(), 2);
    let events = event_types(&server, case_id).await;
    assert_eq!(count(&events, "ConfirmationRequestExpired"), 1);
    assert_eq!(count(&events, "EntriesConfirmed"), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_unanswered_request_expires_once_two_servers_postgres() {
    unanswered_expires_once(Backend::Postgres, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_unanswered_request_expires_once_sqlite() {
    unanswered_expires_once(Backend::Sqlite, 1).await;
}

// ---- dispatcher retries while FirmaLOM fails --------------------------------------------------

async fn dispatcher_retries(backend: Backend) {
    let fake = FakeFirmalom::start(TEST_FIRMALOM_SECRET).await;
    fake.fail_next(3);
    let server =
        FirmalomServer::start(backend, t0(), FirmalomSetup::with_workers(Some(&fake.url))).await;
    let (case_id, _) = phase_one_ready(&server, true).await;
    let r1 = close_phase_one(&server, case_id).await;
    wait_notified(&fake, r1, 1).await;
    assert_eq!(fake.failed(), 3);
    assert_eq!(fake.received().len(), 1, "delivered once after recovering");
    // The dispatcher records the delivered attempt after FirmaLOM answered: wait for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = delivery_log(&server.db.db, case_id).await.expect("log");
        if log.len() >= 4 || tokio::time::Instant::now() >= deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let outcomes: Vec<(i64, &str, Option<i64>)> = log
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str(), a.http_status))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (1, "failed", Some(500)),
            (2, "failed", Some(500)),
            (3, "failed", Some(500)),
            (4, "delivered", Some(202)),
        ]
    );
    // Auditors read the same log over HTTP: when the recipient was notified.
    let r = server
        .send(
            "GET",
            &format!("/v1/cases/{case_id}/notifications"),
            Some(cf::AUDITOR),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let items = r.json["items"].as_array().cloned().unwrap_or_default();
    let over_http: Vec<(i64, String)> = items
        .iter()
        .map(|i| {
            (
                i["attempt"].as_i64().unwrap_or(0),
                i["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        over_http,
        vec![
            (1, "failed".to_owned()),
            (2, "failed".to_owned()),
            (3, "failed".to_owned()),
            (4, "delivered".to_owned())
        ]
    );
    // Later passes send nothing more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.received().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_dispatcher_retries_until_firmalom_recovers_postgres() {
    dispatcher_retries(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_dispatcher_retries_until_firmalom_recovers_sqlite() {
    dispatcher_retries(Backend::Sqlite).await;
}

// ---- forged, stale, replayed, wrong-signer and late callbacks -------------------------------

async fn bad_callbacks_change_nothing(backend: Backend) {
    // No workers: the late answer below must meet a request the scheduler has not expired.
    let server = FirmalomServer::start(backend, t0(), FirmalomSetup::callbacks_only()).await;
    let (case_id, _) = phase_one_ready(&server, true).await;
    let r1 = close_phase_one(&server, case_id).await;
    let v = version(&server, case_id).await;
    let now = Utc::now().timestamp();
    let good = callback(case_id, r1, cf::PARENT, true);

    // Forged: signed with another secret.
    let r = post_signed(&server, &good, b"not-the-shared-secret", now).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (401, "invalid-signature"),
        "{}",
        r.json
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    // Tampered: a valid signature over another body.
    let body = serde_json::to_vec(&good).expect("json");
    let sig = sign(TEST_FIRMALOM_SECRET, now, &body);
    let mut other = good.clone();
    other.signer_cf = cf::OUTSIDER.into();
    let tampered = serde_json::to_vec(&other).expect("json");
    let r = post_raw(
        &server,
        &tampered,
        &[(TIMESTAMP_HEADER, now.to_string()), (SIGNATURE_HEADER, sig)],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.json);
    // Missing signature.
    let r = post_raw(&server, &body, &[]).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (401, "invalid-signature")
    );
    // Stale: correctly signed an hour ago.
    let r = post_signed(&server, &good, TEST_FIRMALOM_SECRET, now - 3600).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (401, "invalid-signature"),
        "{}",
        r.json
    );
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("window"),
        "{}",
        r.json
    );
    // Wrong signer: a valid CF that is not a confirmer on file.
    let r = post_callback(&server, &callback(case_id, r1, cf::OUTSIDER, true)).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (403, "not-a-confirmer"),
        "{}",
        r.json
    );
    // Unknown request, unknown case.
    let r = post_callback(
        &server,
        &callback(case_id, Uuid::now_v7(), cf::PARENT, true),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.json);
    let r = post_callback(&server, &callback(Uuid::now_v7(), r1, cf::PARENT, true)).await;
    assert_eq!(r.status, 404, "{}", r.json);
    // None of this changed the case.
    assert_eq!(version(&server, case_id).await, v);

    // The genuine answer goes through once; its replay is refused.
    let r = post_callback(&server, &good).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let v2 = version(&server, case_id).await;
    assert_eq!(v2, v + 2);
    let r = post_callback(&server, &good).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (409, "callback-replayed")
    );
    // A new delivery for the answered request: the domain refuses it.
    let r = post_callback(&server, &callback(case_id, r1, cf::PARENT, true)).await;
    assert_eq!(r.status, 409, "{}", r.json);
    assert_eq!(version(&server, case_id).await, v2);

    // A late answer: 422 and the expiry is recorded (with the refused answer).
    let c = |p: &str| format!("/v1/cases/{case_id}{p}");
    open_phase(&server, &c(""), 2).await;
    ok(
        &server,
        "POST",
        &c("/professionals"),
        cf::RESP_PROVIDER,
        Some(json!({ "ente": "provider", "professional": cf::EDUCATORE, "figures": ["educatore_professionale"] })),
        200,
    )
    .await;
    ok(
        &server,
        "POST",
        &c("/entries"),
        cf::EDUCATORE,
        Some(entry(
            2,
            "educatore_professionale",
            "osservazione",
            "2024-03-04",
            "15:00",
            "17:00",
        )),
        201,
    )
    .await;
    ok(
        &server,
        "POST",
        &c("/phases/2/validation"),
        cf::RESP_PROVIDER,
        None,
        200,
    )
    .await;
    let r2 = id(
        &ok(
            &server,
            "POST",
            &c("/phases/2/close"),
            cf::RESP_PROVIDER,
            None,
            200,
        )
        .await,
        "request_id",
    );
    server.set_clock(late(rome(2024, 3, 4, 18, 0))).await;
    let before = version(&server, case_id).await;
    let late_cb = callback(case_id, r2, cf::PARENT, true);
    let r = post_callback(&server, &late_cb).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (422, "confirmation-answer-too-late"),
        "{}",
        r.json
    );
    assert_eq!(version(&server, case_id).await, before + 1);
    let recorded = server
        .state
        .store
        .read_stream(&case_stream(case_id), 1)
        .await
        .expect("stream");
    let expired = recorded.last().expect("an event");
    assert_eq!(expired.event_type, "ConfirmationRequestExpired");
    assert_eq!(expired.payload["refused_answer"]["would_confirm"], true);
    let r = post_callback(&server, &late_cb).await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (409, "callback-replayed")
    );
    assert_eq!(r.json["original_status"], 422);
    assert_eq!(version(&server, case_id).await, before + 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_forged_stale_replayed_wrong_signer_callbacks_refused_postgres() {
    bad_callbacks_change_nothing(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_forged_stale_replayed_wrong_signer_callbacks_refused_sqlite() {
    bad_callbacks_change_nothing(Backend::Sqlite).await;
}

// ---- paper diary ------------------------------------------------------------------------------

fn pdftotext(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("diario-e2e-pdf-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("diario.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "pdftotext failed: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A multipart/form-data body (built by hand: the tests' HTTP client has no multipart).
fn multipart(parts: &[(&str, Option<&str>, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("diario-{}", Uuid::now_v7().simple());
    let mut body = Vec::new();
    for (name, filename, content_type, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n")
                    .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    server: &ApiServer,
    case_id: Uuid,
    who: &str,
    scan: &[u8],
    filename: &str,
    declared: &str,
    signed_by: &str,
) -> ApiResponse {
    upload_with_key(
        server,
        case_id,
        who,
        scan,
        (filename, declared),
        signed_by,
        None,
    )
    .await
}

async fn upload_with_key(
    server: &ApiServer,
    case_id: Uuid,
    who: &str,
    scan: &[u8],
    (filename, declared): (&str, &str),
    signed_by: &str,
    key: Option<&str>,
) -> ApiResponse {
    let (content_type, body) = multipart(&[
        ("file", Some(filename), declared, scan),
        ("signed_by", None, "text/plain", signed_by.as_bytes()),
    ]);
    let mut request = server
        .client
        .post(server.url(&format!("/v1/cases/{case_id}/phases/1/paper-confirmation")))
        .bearer_auth(server.token(who))
        .header("content-type", content_type);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.body(body).send().await.expect("upload");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body").to_vec();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    ApiResponse {
        status,
        headers,
        bytes,
        json,
    }
}

/// A tiny PNG-looking scan (the magic bytes are what counts).
fn png_scan() -> Vec<u8> {
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend_from_slice(b"\0\0\0\rIHDR firmato dal genitore ");
    png.extend((0..2000u32).map(|i| (i % 251) as u8));
    png
}

async fn paper_path(backend: Backend) {
    let server = FirmalomServer::start(backend, t0(), FirmalomSetup::callbacks_only()).await;
    let (case_id, e1) = phase_one_ready(&server, false).await;
    let c = |p: &str| format!("/v1/cases/{case_id}{p}");
    // Not enrolled in FirmaLOM: closing sends no digital request.
    let closed = ok(
        &server,
        "POST",
        &c("/phases/1/close"),
        cf::RESP_ASST,
        None,
        200,
    )
    .await;
    assert!(closed["request_id"].is_null(), "{closed}");

    // Only the phase's responsabile gets the paper diary.
    let r = server
        .send(
            "GET",
            &c("/phases/1/paper-diary"),
            Some(cf::RESP_PROVIDER),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.json);

    let pdf = server
        .send(
            "GET",
            &c("/phases/1/paper-diary"),
            Some(cf::RESP_ASST),
            None,
            &[],
        )
        .await;
    assert_eq!(pdf.status, 200, "{}", String::from_utf8_lossy(&pdf.bytes));
    assert_eq!(
        pdf.header("content-type").as_deref(),
        Some("application/pdf")
    );
    assert!(pdf.bytes.starts_with(b"%PDF-"));
    let paper_id: Uuid = pdf
        .header("x-diario-paper-id")
        .and_then(|s| s.parse().ok())
        .expect("paper id header");
    let hash = pdf.header("x-diario-content-hash").expect("hash header");
    let text = pdftotext(&pdf.bytes);
    for needle in [
        "04/03/2024",
        "10:00",
        "11:30",
        cf::PSICOLOGO,
        "90",
        "Firma del destinatario o del genitore",
        &hash[..16],
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // Asking again returns the same diary (same bytes), and records nothing more.
    let again = server
        .send(
            "GET",
            &c("/phases/1/paper-diary"),
            Some(cf::RESP_ASST),
            None,
            &[],
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.bytes, pdf.bytes);
    let events = event_types(&server, case_id).await;
    assert_eq!(count(&events, "PaperDiaryGenerated"), 1);

    // A file that is not a PDF/JPEG/PNG by content is refused whatever its name and type.
    let v = version(&server, case_id).await;
    let r = upload(
        &server,
        case_id,
        cf::RESP_ASST,
        b"GIF89a this is not a signed scan",
        "scan.pdf",
        "application/pdf",
        cf::PARENT,
    )
    .await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (415, "unsupported-document-type"),
        "{}",
        r.json
    );
    // A signer who is not on file is refused too, and the scan is not kept.
    let scan = png_scan();
    let r = upload(
        &server,
        case_id,
        cf::RESP_ASST,
        &scan,
        "scan.bin",
        "application/octet-stream",
        cf::OUTSIDER,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.json);
    assert_eq!(version(&server, case_id).await, v);
    assert_eq!(server.db.count("SELECT count(*) FROM documents").await, 0);

    // The signed scan (a PNG, declared as octet-stream) confirms the printed entries.
    let key = "upload-1";
    let r = upload_with_key(
        &server,
        case_id,
        cf::RESP_ASST,
        &scan,
        ("scan.bin", "application/octet-stream"),
        cf::PARENT,
        Some(key),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    // A retry with the same key and scan (the answer was lost): the first answer, byte for
    // byte, and nothing recorded twice; another scan under that key is refused.
    let v = version(&server, case_id).await;
    let retry = upload_with_key(
        &server,
        case_id,
        cf::RESP_ASST,
        &scan,
        ("scan.bin", "application/octet-stream"),
        cf::PARENT,
        Some(key),
    )
    .await;
    assert_eq!(retry.status, 200, "{}", retry.json);
    assert_eq!(retry.bytes, r.bytes);
    assert_eq!(retry.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(version(&server, case_id).await, v);
    let mut other = scan.clone();
    other.push(0);
    let reused = upload_with_key(
        &server,
        case_id,
        cf::RESP_ASST,
        &other,
        ("scan.bin", "application/octet-stream"),
        cf::PARENT,
        Some(key),
    )
    .await;
    assert_eq!(
        (reused.status, reused.problem_code().as_str()),
        (422, "idempotency-key-reused"),
        "{}",
        reused.json
    );
    assert_eq!(server.db.count("SELECT count(*) FROM documents").await, 1);
    assert_eq!(r.json["paper_id"], paper_id.to_string());
    assert_eq!(r.json["media_type"], "image/png");
    let types: Vec<&str> = r.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types,
        vec![
            "PaperConfirmationUploaded",
            "EntriesConfirmed",
            "DiaryHandedToAts"
        ]
    );
    assert_eq!(r.json["events"][1]["entry_ids"], json!([e1]));
    let sha = r.json["document_sha256"].as_str().expect("sha").to_owned();
    assert_eq!(r.json["events"][0]["document_sha256"], sha.as_str());

    // ATS and auditors download the very same bytes with the type found by content.
    for who in [cf::ATS_OPERATOR, cf::AUDITOR, cf::RESP_ASST] {
        let d = server
            .send("GET", &format!("/v1/documents/{sha}"), Some(who), None, &[])
            .await;
        assert_eq!(d.status, 200, "{who}: {}", d.json);
        assert_eq!(d.header("content-type").as_deref(), Some("image/png"));
        assert_eq!(d.bytes, scan);
    }
    let d = server
        .send(
            "GET",
            &format!("/v1/documents/{sha}"),
            Some(cf::OTHER_ATS_OPERATOR),
            None,
            &[],
        )
        .await;
    assert_eq!(d.status, 403, "{}", d.json);
    let d = server
        .send(
            "GET",
            &format!("/v1/documents/{}", "0".repeat(64)),
            Some(cf::AUDITOR),
            None,
            &[],
        )
        .await;
    assert_eq!(d.status, 404);

    // A scan over 10 MiB is refused with 413.
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(10 * 1024 * 1024 + 1, b' ');
    let r = upload(
        &server,
        case_id,
        cf::RESP_ASST,
        &big,
        "big.pdf",
        "application/pdf",
        cf::PARENT,
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.json);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_paper_diary_pdf_upload_and_download_postgres() {
    paper_path(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_paper_diary_pdf_upload_and_download_sqlite() {
    paper_path(Backend::Sqlite).await;
}

/// A recipient enrolled in FirmaLOM gets no paper diary: the domain's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_paper_diary_refused_when_enrolled_sqlite() {
    let server =
        FirmalomServer::start(Backend::Sqlite, t0(), FirmalomSetup::callbacks_only()).await;
    let (case_id, _) = phase_one_ready(&server, true).await;
    close_phase_one(&server, case_id).await;
    let r = server
        .send(
            "GET",
            &format!("/v1/cases/{case_id}/phases/1/paper-diary"),
            Some(cf::RESP_ASST),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.problem_code().as_str()),
        (409, "paper-diary-not-allowed"),
        "{}",
        r.json
    );
    server.stop().await;
}
