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
    multipart,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api_scenario::{
    CaseApi, case_body, educatore_entry, grant_roles, open_case_as, pdi, psicologo_entry,
    request_id, response_event_types, t0,
};

// ---- the tests: each scenario below on both backends, multi-threaded (the server's workers run
// beside the test) ------------------------------------------------------------------------------

// With the workers: the dispatcher notifies a fake FirmaLOM, the scheduler expires requests.
diario_tests::scenario_on_each_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    notify_then_callback_confirms => firmalom_notify_then_signed_callback_confirms_postgres,
        firmalom_notify_then_signed_callback_confirms_sqlite;
    rejection_amend_confirm => firmalom_rejection_amend_new_request_confirm_postgres,
        firmalom_rejection_amend_new_request_confirm_sqlite;
    unanswered_expires_once => firmalom_unanswered_request_expires_once_two_servers_postgres,
        firmalom_unanswered_request_expires_once_sqlite;
    dispatcher_retries => firmalom_dispatcher_retries_until_firmalom_recovers_postgres,
        firmalom_dispatcher_retries_until_firmalom_recovers_sqlite;
    per_entry_answers => firmalom_per_entry_answer_confirms_some_rejects_others_postgres,
        firmalom_per_entry_answer_confirms_some_rejects_others_sqlite;
}

// Callbacks only.
diario_tests::scenario_on_each_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    bad_callbacks_change_nothing =>
        firmalom_forged_stale_replayed_wrong_signer_callbacks_refused_postgres,
        firmalom_forged_stale_replayed_wrong_signer_callbacks_refused_sqlite;
    paper_path => firmalom_paper_diary_pdf_upload_and_download_postgres,
        firmalom_paper_diary_pdf_upload_and_download_sqlite;
}

// ---- helpers ---------------------------------------------------------------------------------

/// Phase I opened, one entry recorded (4 March 2024, 10:00–11:30) and validated; the clock at
/// 4 March 18:00. Returns (case id, entry id).
pub(crate) async fn phase_one_ready(server: &ApiServer, enrolled: bool) -> (Uuid, Uuid) {
    grant_roles(server).await;
    let mut body = case_body();
    body["recipient"]["firmalom_enrolled"] = json!(enrolled);
    let case = CaseApi::of(server, open_case_as(server, cf::ATS_OPERATOR, body).await);
    case.start_phase_one().await;
    let entry = psicologo_entry("colloquio_valutazione", "10:00", "11:30");
    let e1 = case.record_entry(cf::PSICOLOGO, entry).await;
    case.validate(1, None).await;
    (case.id, e1)
}

/// Closes phase I: the whole-diary confirmation request; returns its id.
async fn close_phase_one(server: &ApiServer, case_id: Uuid) -> Uuid {
    let case = CaseApi::of(server, case_id);
    case.add_output(1).await;
    request_id(&case.close_phase(1).await)
}

async fn version(server: &ApiServer, case_id: Uuid) -> i64 {
    let r = CaseApi::of(server, case_id)
        .view(cf::RESP_ASST)
        .send()
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    r.header("etag")
        .and_then(|e| e.trim_matches('"').parse().ok())
        .expect("ETag with the version")
}

/// Event types of the case, in order, from the store.
pub(crate) async fn event_types(server: &ApiServer, case_id: Uuid) -> Vec<(String, String)> {
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

pub(crate) fn count(types: &[(String, String)], name: &str) -> usize {
    types.iter().filter(|(t, _)| t == name).count()
}

/// Asserts that the case stream holds exactly one event of each of `types`.
async fn assert_recorded_once(server: &ApiServer, case_id: Uuid, types: &[&str]) {
    let events = event_types(server, case_id).await;
    for name in types {
        assert_eq!(count(&events, name), 1, "{name} in {events:?}");
    }
}

/// A fake FirmaLOM and a server notifying it; the phase I diary of an enrolled recipient closed
/// and its whole-diary request notified. Returns FirmaLOM, the server, the case, the entry and
/// the request.
async fn notified_case(backend: Backend) -> (FakeFirmalom, FirmalomServer, Uuid, Uuid, Uuid) {
    let (fake, server) = with_fake_firmalom(backend).await;
    let (case_id, e1) = phase_one_ready(&server, true).await;
    let r1 = close_phase_one(&server, case_id).await;
    wait_notified(&fake, r1, 1).await;
    (fake, server, case_id, e1, r1)
}

/// A fake FirmaLOM, and a server with its workers notifying it.
pub(crate) async fn with_fake_firmalom(backend: Backend) -> (FakeFirmalom, FirmalomServer) {
    let fake = FakeFirmalom::start(TEST_FIRMALOM_SECRET).await;
    let setup = FirmalomSetup::with_workers(Some(&fake.url));
    let server = FirmalomServer::start(backend, t0(), setup).await;
    (fake, server)
}

pub(crate) fn callback(case_id: Uuid, request_id: Uuid, signer: &str, confirmed: bool) -> Callback {
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
        entries: None,
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
    ApiResponse::read(req.send().await.expect("send the callback")).await
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

pub(crate) async fn post_callback(server: &ApiServer, cb: &Callback) -> ApiResponse {
    post_signed(server, cb, TEST_FIRMALOM_SECRET, Utc::now().timestamp()).await
}

/// The recipient's parent answers `request` through a signed callback, which is accepted.
async fn parent_answers(
    server: &ApiServer,
    case_id: Uuid,
    request: Uuid,
    confirmed: bool,
) -> ApiResponse {
    let r = post_callback(server, &callback(case_id, request, cf::PARENT, confirmed)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r
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

pub(crate) async fn wait_notified(fake: &FakeFirmalom, request_id: Uuid, times: usize) {
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
    let (fake, server, case_id, e1, r1) = notified_case(backend).await;
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
    let types = response_event_types(&r.json);
    assert_eq!(types, vec!["EntriesConfirmed", "DiaryHandedToAts"]);
    // The hand-over is the system's, on the recipient's answer: nobody handed it over by hand.
    assert_eq!(r.json["events"][1]["by"], Value::Null, "{}", r.json);
    server.catch_up().await;
    let trail = CaseApi::of(&server, case_id)
        .call("GET", "/audit-trail?limit=100", cf::AUDITOR, None)
        .await;
    let handed = trail["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["event_type"] == "DiaryHandedToAts")
        .expect("the hand-over in the audit trail");
    assert_eq!(handed["actor_cf"], "system", "{handed}");
    assert!(
        handed["description"]
            .as_str()
            .is_some_and(|d| d.contains("dal sistema"))
    );
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

// ---- rejection → amend → new request → confirm ------------------------------------------------

async fn rejection_amend_confirm(backend: Backend) {
    let (fake, server, case_id, e1, r1) = notified_case(backend).await;
    let r = parent_answers(&server, case_id, r1, false).await;
    assert_eq!(r.json["events"][0]["type"], "ConfirmationRejected");
    assert_eq!(r.json["outcome"], "rejected");

    // The rejection reopens the diary: the author corrects, the responsabile validates and
    // closes again, which sends a new request.
    let case = CaseApi::of(&server, case_id);
    case.amend_entry(cf::PSICOLOGO, e1, ["2024-03-04", "10:00", "11:00"])
        .await;
    case.validate(1, None).await;
    let r2 = close_phase_one(&server, case_id).await;
    assert_ne!(r1, r2);
    wait_notified(&fake, r2, 1).await;
    let n2 = fake
        .received()
        .into_iter()
        .find(|n| n.request_id == r2)
        .expect("second notification");
    assert_eq!(n2.entries[0].minutes, 60, "the amended entry is notified");

    parent_answers(&server, case_id, r2, true).await;
    let once = [
        "ConfirmationRejected",
        "EntriesConfirmed",
        "DiaryHandedToAts",
    ];
    assert_recorded_once(&server, case_id, &once).await;
    server.stop().await;
}

// ---- phases III–IV: an answer entry by entry; a rejection without a reason ------------------

/// The responsabile's view of request `r`'s rejections.
async fn rejections_of(server: &ApiServer, case_id: Uuid, r: Uuid) -> Value {
    server.catch_up().await;
    let view = CaseApi::of(server, case_id).view(cf::RESP_PROVIDER).await;
    let requests = view["diaries"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["requests"].as_array().cloned().unwrap_or_default());
    let request = requests
        .into_iter()
        .find(|q| q["request_id"] == r.to_string())
        .expect("the request in the case view");
    request["rejections"].clone()
}

async fn per_entry_answers(backend: Backend) {
    let (fake, server) = with_fake_firmalom(backend).await;
    let (case_id, _) = phase_one_ready(&server, true).await;
    let case = CaseApi::of(&server, case_id);
    case.start_phase_two(&["educatore_professionale"]).await;
    case.add_output(2).await;
    case.set_pdi(pdi("contrasto_dispersione_scolastica", 600, Some(1200)))
        .await;
    case.open_phase(3).await;
    let mut entries = Vec::new();
    for (start, end) in [("09:00", "10:00"), ("10:00", "11:00"), ("11:00", "12:00")] {
        let body = educatore_entry(
            3,
            "contrasto_dispersione_scolastica",
            ["2024-03-04", start, end],
        );
        entries.push(case.record_entry(cf::EDUCATORE, body).await);
    }
    let r1 = case.request_confirmation(3, &entries[..2]).await;
    wait_notified(&fake, r1, 1).await;
    let n1 = fake
        .received()
        .into_iter()
        .find(|n| n.request_id == r1)
        .expect("notified");

    // The family confirms the first hour and rejects the second, saying why.
    let why = "alle 10 eravamo già a casa";
    let cb = FakeFirmalom::per_entry_answer(&n1, cf::PARENT, &[(entries[1], Some(why))]);
    let r = post_callback(&server, &cb).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        response_event_types(&r.json),
        vec!["EntriesConfirmed", "ConfirmationRejected"]
    );
    assert_eq!(r.json["outcome"], "per_entry");
    let rejections = rejections_of(&server, case_id, r1).await;
    assert_eq!(rejections.as_array().map(Vec::len), Some(1), "{rejections}");
    assert_eq!(rejections[0]["entry_ids"], json!([entries[1]]));
    assert_eq!(rejections[0]["reason"], why);
    assert_eq!(rejections[0]["by"], cf::PARENT);
    // The rejected hour is the author's again; the confirmed one never changes.
    let shorter = json!({ "end": "10:30", "reason": "orario trascritto male" });
    case.call(
        "PATCH",
        &format!("/entries/{}", entries[1]),
        cf::EDUCATORE,
        Some(shorter.clone()),
    )
    .await;
    case.call(
        "PATCH",
        &format!("/entries/{}", entries[0]),
        cf::EDUCATORE,
        Some(shorter),
    )
    .refused(409, "entry-confirmed")
    .await;

    // A per-entry answer must name each entry of the request once.
    let r2 = case.request_confirmation(3, &entries[1..]).await;
    wait_notified(&fake, r2, 1).await;
    let n2 = fake
        .received()
        .into_iter()
        .find(|n| n.request_id == r2)
        .expect("notified");
    let mut partial = FakeFirmalom::per_entry_answer(&n2, cf::PARENT, &[]);
    if let Some(list) = partial.entries.as_mut() {
        list.pop();
    }
    let r = post_callback(&server, &partial).await;
    assert_eq!(
        (r.status, r.problem_code()),
        (422, "answer-does-not-match-request".to_owned()),
        "{}",
        r.json
    );

    // A rejection of the whole request without a reason is recorded, and shown as such.
    let mut silent = callback(case_id, r2, cf::PARENT, false);
    silent.reason = None;
    let r = post_callback(&server, &silent).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let rejections = rejections_of(&server, case_id, r2).await;
    assert_eq!(rejections[0]["reason"], Value::Null, "{rejections}");
    assert_eq!(rejections[0]["entry_ids"].as_array().map(Vec::len), Some(2));
    server.stop().await;
}

// ---- no answer → expired once (even with two servers) → re-send -----------------------------

/// Two servers on one PostgreSQL database, one on SQLite.
async fn unanswered_expires_once(backend: Backend) {
    let servers = if backend == Backend::Postgres { 2 } else { 1 };
    let (fake, mut server) = with_fake_firmalom(backend).await;
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
    let case = CaseApi::of(&server, case_id);
    let resent = case.resend(cf::RESP_ASST, r1).await;
    assert_eq!(resent["events"][0]["type"], "ConfirmationResent");
    wait_notified(&fake, r1, 2).await;
    let kinds: Vec<String> = fake
        .received()
        .into_iter()
        .filter(|n| n.request_id == r1)
        .map(|n| n.kind)
        .collect();
    assert_eq!(kinds, vec!["confirmation_requested", "confirmation_resent"]);
    parent_answers(&server, case_id, r1, true).await;
    let once = ["ConfirmationRequestExpired", "EntriesConfirmed"];
    assert_recorded_once(&server, case_id, &once).await;
    // Every server delivered each notification once between them.
    assert_eq!(fake.received().len(), 2);
    server.stop().await;
}

// ---- dispatcher retries while FirmaLOM fails --------------------------------------------------

async fn dispatcher_retries(backend: Backend) {
    let (fake, server) = with_fake_firmalom(backend).await;
    fake.fail_next(3);
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
    let case = CaseApi::of(&server, case_id);
    let notifications = case.call("GET", "/notifications", cf::AUDITOR, None).await;
    let items = notifications["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
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
            .contains("finestra"),
        "{}",
        r.json
    );
    // A correctly signed rejection whose reason holds NUL: refused naming the field, as any
    // write (PostgreSQL could not store it).
    let mut nul = callback(case_id, r1, cf::PARENT, false);
    nul.reason = Some("durata\u{0}sbagliata".into());
    let r = post_callback(&server, &nul).await;
    assert_eq!(
        (
            r.status,
            r.problem_code().as_str(),
            r.json["field"].as_str()
        ),
        (400, "invalid-characters", Some("reason")),
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
    let case = CaseApi::of(&server, case_id);
    case.start_phase_two(&["educatore_professionale"]).await;
    let slot = ["2024-03-04", "15:00", "17:00"];
    let entry = educatore_entry(2, "osservazione", slot);
    case.record_entry(cf::EDUCATORE, entry).await;
    case.validate(2, None).await;
    case.add_output(2).await;
    let r2 = request_id(&case.close_phase(2).await);
    // FirmaLOM received it at once (no dispatcher runs here): the day runs from then.
    crate::api_scenario::delivered(&server, case_id, r2).await;
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

/// Uploads `scan` (named and declared as `file`) signed by `signed_by` as the confirmation of the
/// phase I paper diary, as the ASST's responsabile, with an `Idempotency-Key` when given.
pub(crate) async fn upload(
    server: &ApiServer,
    case_id: Uuid,
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
        .bearer_auth(server.token(cf::RESP_ASST))
        .header("content-type", content_type);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    ApiResponse::read(request.body(body).send().await.expect("upload")).await
}

/// A tiny PNG-looking scan (the magic bytes are what counts).
pub(crate) fn png_scan() -> Vec<u8> {
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend_from_slice(b"\0\0\0\rIHDR firmato dal genitore ");
    png.extend((0..2000u32).map(|i| (i % 251) as u8));
    png
}

async fn paper_path(backend: Backend) {
    let server = FirmalomServer::start(backend, t0(), FirmalomSetup::callbacks_only()).await;
    let (case_id, e1) = phase_one_ready(&server, false).await;
    let case = CaseApi::of(&server, case_id);
    // Not enrolled in FirmaLOM: closing sends no digital request.
    case.add_output(1).await;
    let closed = case.close_phase(1).await;
    assert!(closed["request_id"].is_null(), "{closed}");

    // Only the phase's responsabile generates the paper diary (a POST); a GET writes nothing.
    let paper_diary = |who| case.call("POST", "/phases/1/paper-diary", who, None).send();
    let pending = |who| case.call("GET", "/phases/1/paper-diary", who, None).send();
    let r = paper_diary(cf::RESP_PROVIDER).await;
    assert_eq!(r.status, 403, "{}", r.json);
    let none = pending(cf::RESP_ASST).await;
    assert_eq!(none.status, 404, "{}", none.json);
    assert!(
        none.json["detail"]
            .as_str()
            .is_some_and(|d| d.contains("generarlo con POST")),
        "{}",
        none.json
    );
    assert_eq!(
        count(&event_types(&server, case_id).await, "PaperDiaryGenerated"),
        0,
        "a GET generated the paper diary"
    );

    let pdf = paper_diary(cf::RESP_ASST).await;
    assert_eq!(pdf.status, 201, "{}", String::from_utf8_lossy(&pdf.bytes));
    assert_eq!(
        pdf.header("location").as_deref(),
        Some(format!("/v1/cases/{case_id}/phases/1/paper-diary").as_str())
    );
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
    // Asking again returns the same diary (same bytes), and records nothing more; so does the
    // GET of the pending one.
    let again = paper_diary(cf::RESP_ASST).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.bytes, pdf.bytes);
    let read = pending(cf::RESP_ASST).await;
    assert_eq!(read.status, 200, "{}", read.json);
    assert_eq!(read.bytes, pdf.bytes);
    assert_eq!(pending(cf::RESP_PROVIDER).await.status, 403);
    let events = event_types(&server, case_id).await;
    assert_eq!(count(&events, "PaperDiaryGenerated"), 1);

    let upload_scan = async |scan: &[u8], file, signed_by, key| {
        upload(&server, case_id, scan, file, signed_by, key).await
    };
    let octets = ("scan.bin", "application/octet-stream");
    // A file that is not a PDF/JPEG/PNG by content is refused whatever its name and type.
    let v = version(&server, case_id).await;
    let not_a_scan = b"GIF89a this is not a signed scan";
    let r = upload_scan(
        not_a_scan,
        ("scan.pdf", "application/pdf"),
        cf::PARENT,
        None,
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
    let r = upload_scan(&scan, octets, cf::OUTSIDER, None).await;
    assert_eq!(r.status, 403, "{}", r.json);
    assert_eq!(version(&server, case_id).await, v);
    // Only the Progetto individualizzato recorded before closing is kept.
    assert_eq!(server.db.count("SELECT count(*) FROM documents").await, 1);

    // The signed scan (a PNG, declared as octet-stream) confirms the printed entries.
    let key = "upload-1";
    let r = upload_scan(&scan, octets, cf::PARENT, Some(key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    // A retry with the same key and scan (the answer was lost): the first answer, byte for
    // byte, and nothing recorded twice; another scan under that key is refused.
    let v = version(&server, case_id).await;
    let retry = upload_scan(&scan, octets, cf::PARENT, Some(key)).await;
    assert_eq!(retry.status, 200, "{}", retry.json);
    assert_eq!(retry.bytes, r.bytes);
    assert_eq!(retry.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(version(&server, case_id).await, v);
    let mut other = scan.clone();
    other.push(0);
    let reused = upload_scan(&other, octets, cf::PARENT, Some(key)).await;
    assert_eq!(
        (reused.status, reused.problem_code().as_str()),
        (422, "idempotency-key-reused"),
        "{}",
        reused.json
    );
    // The PI and the scan.
    assert_eq!(server.db.count("SELECT count(*) FROM documents").await, 2);
    assert_eq!(r.json["paper_id"], paper_id.to_string());
    assert_eq!(r.json["media_type"], "image/png");
    let types = response_event_types(&r.json);
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
    let document = |sha: &str, who| server.call("GET", format!("/v1/documents/{sha}"), who, None);
    for who in [cf::ATS_OPERATOR, cf::AUDITOR, cf::RESP_ASST] {
        let d = document(&sha, who).send().await;
        assert_eq!(d.status, 200, "{who}: {}", d.json);
        assert_eq!(d.header("content-type").as_deref(), Some("image/png"));
        assert_eq!(d.bytes, scan);
    }
    // Another ATS is told what it would be told of a document that does not exist.
    let hidden = document(&sha, cf::OTHER_ATS_OPERATOR).send().await;
    let zeros = "0".repeat(64);
    let none = document(&zeros, cf::OTHER_ATS_OPERATOR).send().await;
    assert_eq!(hidden.status, 404, "{}", hidden.json);
    assert_eq!(
        hidden.json["detail"]
            .as_str()
            .map(|d| d.replace(&sha, &zeros)),
        none.json["detail"].as_str().map(str::to_owned)
    );
    assert_eq!(hidden.problem_code(), none.problem_code());

    // A scan over 10 MiB is refused with 413.
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(10 * 1024 * 1024 + 1, b' ');
    let r = upload_scan(&big, ("big.pdf", "application/pdf"), cf::PARENT, None).await;
    assert_eq!(r.status, 413, "{}", r.json);
    server.stop().await;
}

/// A recipient enrolled in FirmaLOM gets no paper diary: the domain's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firmalom_paper_diary_refused_when_enrolled_sqlite() {
    let server =
        FirmalomServer::start(Backend::Sqlite, t0(), FirmalomSetup::callbacks_only()).await;
    let (case_id, _) = phase_one_ready(&server, true).await;
    let case = CaseApi::of(&server, case_id);
    case.add_output(1).await;
    case.close_phase(1).await;
    case.call("POST", "/phases/1/paper-diary", cf::RESP_ASST, None)
        .refused(409, "paper-diary-not-allowed")
        .await;
    server.stop().await;
}
