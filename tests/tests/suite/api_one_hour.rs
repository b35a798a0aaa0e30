//! One professional, one hour (Reg. UE 2021/1060 art. 53(1)(b)) over real HTTP on both
//! backends: the same person cannot bill the same time on two cases, also when both cases
//! record it at the same instant.

use diario_tests::{ApiServer, Backend, cf};
use serde_json::Value;
use uuid::Uuid;

use crate::api_scenario::{CaseApi, grant_roles, open_case_as, psicologo_entry, t0};

diario_tests::scenario_on_each_backend! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    simultaneous_pairs =>
        twenty_simultaneous_pairs_on_two_cases_end_with_one_entry_each_on_postgres,
        twenty_simultaneous_pairs_on_two_cases_end_with_one_entry_each_on_sqlite;
    amendments_and_withdrawals =>
        amendments_are_checked_across_cases_and_withdrawals_free_the_time_on_postgres,
        amendments_are_checked_across_cases_and_withdrawals_free_the_time_on_sqlite;
}

/// The `i`-th half hour of 4 March from 08:00 (the 20th ends at 18:00, the clock's time).
fn half_hour(i: u32) -> (String, String) {
    let start = 8 * 60 + 30 * i;
    let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    (hm(start), hm(start + 30))
}

fn psicologo_half_hour(i: u32) -> Value {
    let (start, end) = half_hour(i);
    psicologo_entry("colloquio_valutazione", &start, &end)
}

/// Two cases with phase I open and the psicologo enabled on both; the clock at 4 March 18:00.
async fn two_cases(server: &ApiServer) -> (CaseApi<'_>, CaseApi<'_>) {
    grant_roles(server).await;
    let mut cases = Vec::new();
    for pseudonym in ["UP-2024-0001", "UP-2024-0002"] {
        let body = diario_tests::standard_case_body(pseudonym);
        let id = open_case_as(server, cf::ATS_OPERATOR, body).await;
        let case = CaseApi::of(server, id);
        case.start_phase_one().await;
        cases.push(case);
    }
    (cases[0], cases[1])
}

fn other_case_named(problem: &Value) -> Uuid {
    assert_eq!(problem["code"], "overlapping-entry-other-case", "{problem}");
    problem["other_case_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("the problem names the other case: {problem}"))
}

/// 20 pairs: the same half hour of the same psicologo sent to both cases at once, all 40
/// requests in flight together — case A's through one server, case B's through a second
/// server on the same database (its own turns and state cache, as another process has), so
/// the two decisions race for the agenda in the database, not in one process. Each pair ends
/// with exactly one entry; the other request is refused naming the case that has it;
/// nothing else is written.
async fn simultaneous_pairs(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    let (a, b) = two_cases(&server).await;
    let mut settings = diario_tests::quiet_settings();
    settings.auth = diario_tests::test_auth();
    settings.test_clock = Some(server.clock.clone());
    let pool = diario_log::Database::connect(&server.db.url)
        .await
        .expect("a second pool");
    let mut second = diario_tests::Served::start(pool, &settings).await;
    let client = reqwest::Client::new();
    let token = server.token(cf::PSICOLOGO);
    let calls = (0..20u32).flat_map(|i| {
        [(a.id, &server.base_url), (b.id, &second.base_url)].map(|(case, base)| {
            let (client, token) = (&client, &token);
            async move {
                let r = client
                    .post(format!("{base}/v1/cases/{case}/entries"))
                    .bearer_auth(token)
                    .json(&psicologo_half_hour(i))
                    .send()
                    .await
                    .expect("send");
                let status = r.status().as_u16();
                let json: Value = r.json().await.unwrap_or(Value::Null);
                (i, case, status, json)
            }
        })
    });
    let answers = futures::future::join_all(calls).await;
    second.stop().await;
    let mut accepted = 0;
    for i in 0..20u32 {
        let pair: Vec<_> = answers.iter().filter(|(n, ..)| *n == i).collect();
        let (won, lost): (Vec<&(u32, Uuid, u16, Value)>, Vec<_>) = pair
            .iter()
            .copied()
            .partition(|(_, _, status, _)| *status == 201);
        assert_eq!(
            (won.len(), lost.len()),
            (1, 1),
            "half hour {i}: one accepted, one refused: {:?}",
            pair.iter()
                .map(|(_, _, s, j)| (s, j.clone()))
                .collect::<Vec<_>>()
        );
        let (_, winner_case, _, _) = won[0];
        let (_, loser_case, status, refusal) = lost[0];
        assert_eq!(*status, 422, "{refusal}");
        assert_eq!(
            other_case_named(refusal),
            *winner_case,
            "the refusal names the case that billed the half hour"
        );
        assert_ne!(winner_case, loser_case);
        accepted += 1;
    }
    assert_eq!(accepted, 20);
    let recorded = server
        .db
        .count("SELECT count(*) FROM events WHERE event_type = 'EntryRecorded'")
        .await;
    let claimed = server
        .db
        .count("SELECT count(*) FROM events WHERE event_type = 'SlotClaimed'")
        .await;
    assert_eq!(
        (recorded, claimed),
        (20, 20),
        "each accepted entry and its claim, nothing of the refused ones"
    );
    // The server stays healthy, and the views agree.
    assert_eq!(count_entries(&a).await + count_entries(&b).await, 20);
}

async fn count_entries(case: &CaseApi<'_>) -> usize {
    let view = case.view(cf::ATS_OPERATOR).send().await;
    assert_eq!(view.status, 200, "{}", view.json);
    let diaries = view.json["diaries"]
        .as_array()
        .unwrap_or_else(|| panic!("diaries in the case view: {}", view.json));
    diaries
        .iter()
        .map(|d| d["entries"].as_array().map_or(0, Vec::len))
        .sum()
}

/// An amendment onto another case's time is refused naming it; the same case still answers
/// its own overlap; a withdrawal frees the time for the other case.
async fn amendments_and_withdrawals(backend: Backend) {
    let server = ApiServer::start(backend, t0()).await;
    let (a, b) = two_cases(&server).await;
    let morning = a
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "09:00", "11:00"),
        )
        .await;
    let afternoon = b
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "14:00", "15:00"),
        )
        .await;

    // On the other case at the same time: refused, naming case A.
    let clash = b
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "10:30", "11:30"),
        )
        .send()
        .await;
    assert_eq!(clash.status, 422, "{}", clash.json);
    assert_eq!(other_case_named(&clash.json), a.id);
    assert_eq!(clash.json["other_entry_id"], morning.to_string());

    // Touching is not overlapping.
    b.record_entry(
        cf::PSICOLOGO,
        psicologo_entry("colloquio_valutazione", "11:00", "11:30"),
    )
    .await;

    // The same case keeps its own rule and code.
    let own = a
        .record_entry(
            cf::PSICOLOGO,
            psicologo_entry("colloquio_valutazione", "10:00", "10:30"),
        )
        .send()
        .await;
    assert_eq!(
        (own.status, own.json["code"].as_str()),
        (422, Some("overlapping-entry")),
        "{}",
        own.json
    );

    // Moving B's afternoon onto A's morning is refused; moving it within itself is not.
    let moved = b
        .amend_entry(cf::PSICOLOGO, afternoon, ["2024-03-04", "09:30", "10:30"])
        .send()
        .await;
    assert_eq!(moved.status, 422, "{}", moved.json);
    assert_eq!(other_case_named(&moved.json), a.id);
    let within = b
        .amend_entry(cf::PSICOLOGO, afternoon, ["2024-03-04", "14:30", "15:30"])
        .send()
        .await;
    assert_eq!(within.status, 200, "{}", within.json);

    // Withdrawn on A, the morning can be billed on B.
    let withdrawn = a.withdraw_entry(cf::PSICOLOGO, morning).send().await;
    assert!(withdrawn.status < 300, "{}", withdrawn.json);
    b.record_entry(
        cf::PSICOLOGO,
        psicologo_entry("colloquio_valutazione", "09:30", "10:30"),
    )
    .await;
}
