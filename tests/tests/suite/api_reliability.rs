//! The defects an attack-and-crash campaign found, each pinned over real HTTP on both backends:
//! an idempotent retry after a lost answer (the crash window, concurrent copies of one request)
//! gets the first answer, not a refusal decided on the state it produced itself.

use diario_tests::{ApiResponse, ApiServer, Backend, cf};
use serde_json::Value;

use crate::api_scenario::{CaseApi, case_body, grant_roles, open_case_as, psicologo_entry, t0};

diario_tests::scenario_on_each_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    retry_after_a_lost_answer =>
        idempotent_retry_after_a_lost_answer_gets_the_first_answer_on_postgres,
        idempotent_retry_after_a_lost_answer_gets_the_first_answer_on_sqlite;
    concurrent_copies =>
        concurrent_copies_of_one_request_all_get_the_winners_answer_on_postgres,
        concurrent_copies_of_one_request_all_get_the_winners_answer_on_sqlite;
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
