//! FirmaLOM notifications: the outbox is fed from the event log, the dispatcher signs and POSTs
//! to a fake FirmaLOM over real HTTP, retries with backoff, records every attempt, and never
//! notifies a request that has already ended. Both backends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diario_api::firmalom::outbox::{
    DeliveryPolicy, DeliveryReport, deliver_due, delivery_log, feed_outbox,
};
use diario_domain::case::{
    CaseCommand, ExpireConfirmationRequest, RecordNotificationDelivery, RequestConfirmation,
    ResendConfirmation, SetPdiCaps,
};
use diario_domain::testing::fixtures::*;
use diario_domain::{Actor, ActorRole, CaseEvent, Context, PdiCap, Phase, decide, fold};
use diario_log::LogEvent;
use diario_log::{EventStore, ExpectedVersion};
use diario_tests::fake_firmalom::FakeFirmalom;
use diario_tests::{Backend, TestDb};
use diario_tests::{case_stream, command_metadata};

const SECRET: &[u8] = b"firmalom-test-secret";

fn step(history: &mut Vec<CaseEvent>, cmd: CaseCommand, actor: Actor, now: DateTime<Utc>) {
    let measure = up();
    let state = fold(history.iter());
    let events = decide(&state, &cmd, &Context::new(actor, now, &measure))
        .unwrap_or_else(|e| panic!("{cmd:?} refused: {e}"));
    history.extend(events);
}

/// Phase III with two entries and a confirmation request sent on the evening of 4 March 2024.
fn requested_case() -> Vec<CaseEvent> {
    let mut h = case_in_phase(Phase::III, true);
    let resp = Actor::person(resp_provider(), ActorRole::Staff);
    step(
        &mut h,
        CaseCommand::SetPdiCaps(SetPdiCaps {
            caps: vec![PdiCap {
                service: svc("contrasto_dispersione_scolastica"),
                max_minutes: 600,
            }],
            total_max_minutes: Some(900),
            pdi_document_id: None,
            reason: None,
        }),
        resp.clone(),
        t0(),
    );
    for i in 1..=2u128 {
        h.push(recorded(
            eid(i),
            Phase::III,
            educatore(),
            "educatore_professionale",
            "contrasto_dispersione_scolastica",
            slot(
                date(2024, 3, 4),
                &format!("{:02}:00", 8 + i),
                &format!("{:02}:00", 9 + i),
            ),
        ));
    }
    step(
        &mut h,
        CaseCommand::RequestConfirmation(RequestConfirmation {
            request_id: rid(1),
            phase: Phase::III,
            entry_ids: vec![eid(1), eid(2)],
        }),
        resp,
        rome(2024, 3, 4, 18, 0),
    );
    h
}

async fn append_all(store: &dyn EventStore, events: &[CaseEvent], from_version: i64) {
    let stream = case_stream(case_id());
    for (i, e) in events.iter().enumerate() {
        store
            .append(
                &stream,
                ExpectedVersion::Exact(from_version + i as i64),
                vec![LogEvent::encode(e).expect("encode")],
                command_metadata("SYSTEM", "test", Utc::now()),
            )
            .await
            .expect("append");
    }
}

/// Feeds the outbox until it holds `rows` notifications. On PostgreSQL the log is handed out
/// only below the oldest running transaction of the server, so other tests can delay it.
async fn feed_until(db: &TestDb, store: &dyn EventStore, rows: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        feed_outbox(&db.db, store).await.expect("feed");
        let n = db.count("SELECT count(*) FROM firmalom_outbox").await;
        if n >= rows {
            assert_eq!(n, rows);
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox was not fed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn policy(url: &str) -> DeliveryPolicy {
    DeliveryPolicy {
        url: url.to_owned(),
        secret: SECRET.to_vec(),
        first_retry: Duration::from_millis(50),
        max_retry: Duration::from_millis(200),
        request_timeout: Duration::from_secs(5),
    }
}

/// One pass of the dispatcher at `now`, towards `url`.
async fn deliver(
    db: &TestDb,
    client: &reqwest::Client,
    url: &str,
    now: DateTime<Utc>,
) -> DeliveryReport {
    let handler = diario_tests::handler(&db.db);
    deliver_due(&db.db, &handler, client, &policy(url), now)
        .await
        .expect("deliver")
}

async fn retries_until_firmalom_recovers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.db.event_store();
    append_all(&*store, &requested_case(), 0).await;
    let fake = FakeFirmalom::start(SECRET).await;
    fake.fail_next(2);
    feed_until(&db, &*store, 1).await;
    // Feeding again must not create the notification twice.
    feed_outbox(&db.db, &*store).await.expect("feed");
    assert_eq!(db.count("SELECT count(*) FROM firmalom_outbox").await, 1);

    let client = reqwest::Client::new();
    let now = rome(2024, 3, 4, 18, 5);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fake.received().is_empty() && tokio::time::Instant::now() < deadline {
        deliver(&db, &client, &fake.url, now).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // Nothing more is due once delivered.
    let after = deliver(&db, &client, &fake.url, now).await;
    assert_eq!(after.delivered + after.failed, 0);

    let received = fake.received();
    assert_eq!(received.len(), 1, "delivered exactly once");
    assert_eq!(fake.failed(), 2);
    assert_eq!(fake.bad_signatures(), 0);
    let n = &received[0];
    assert_eq!(n.request_id, rid(1));
    assert_eq!(n.case_id, case_id());
    assert_eq!(n.kind, "confirmation_requested");
    assert_eq!(n.entries.len(), 2);
    assert_eq!(n.confirmers, vec![parent().to_string()]);

    let log = delivery_log(&db.db, case_id()).await.expect("log");
    let outcomes: Vec<(&str, Option<i64>)> = log
        .iter()
        .map(|a| (a.outcome.as_str(), a.http_status))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("failed", Some(500)),
            ("failed", Some(500)),
            ("delivered", Some(202))
        ]
    );
    db.cleanup().await;
}

async fn an_ended_request_is_never_notified(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.db.event_store();
    let mut history = requested_case();
    let sent = history.len();
    // FirmaLOM received it at once (through an earlier server, say), then it expired.
    step(
        &mut history,
        CaseCommand::RecordNotificationDelivery(RecordNotificationDelivery {
            request_id: rid(1),
            sent_at: rome(2024, 3, 4, 18, 0),
            received_at: rome(2024, 3, 4, 18, 0),
        }),
        Actor::System,
        rome(2024, 3, 4, 18, 0),
    );
    step(
        &mut history,
        CaseCommand::ExpireConfirmationRequest(ExpireConfirmationRequest { request_id: rid(1) }),
        Actor::System,
        rome(2024, 3, 5, 19, 0),
    );
    append_all(&*store, &history[..sent], 0).await;
    feed_until(&db, &*store, 1).await;
    // The request expires before the dispatcher gets to it.
    append_all(&*store, &history[sent..], sent as i64).await;
    let fake = FakeFirmalom::start(SECRET).await;
    let client = reqwest::Client::new();
    let report = deliver(&db, &client, &fake.url, rome(2024, 3, 5, 19, 5)).await;
    assert_eq!(report.skipped_request_ended, 1);
    assert!(fake.received().is_empty());
    let log = delivery_log(&db.db, case_id()).await.expect("log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "request_ended");
    db.cleanup().await;
}

diario_tests::scenario_on_each_backend!(retries_until_firmalom_recovers =>
    the_dispatcher_retries_while_firmalom_fails_and_delivers_once_on_postgres,
    the_dispatcher_retries_while_firmalom_fails_and_delivers_once_on_sqlite);

diario_tests::scenario_on_each_backend!(an_ended_request_is_never_notified =>
    a_notification_is_never_sent_for_an_ended_request_on_postgres,
    a_notification_is_never_sent_for_an_ended_request_on_sqlite);

/// A FirmaLOM notification still undelivered after three attempts reaches the phase's
/// responsabile's inbox (issue 13); once delivered it is gone from it.
async fn an_undeliverable_notification_reaches_the_responsabile(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.db.event_store();
    append_all(&*store, &requested_case(), 0).await;
    let fake = FakeFirmalom::start(SECRET).await;
    fake.fail_next(3);
    feed_until(&db, &*store, 1).await;
    diario_tests::catch_up_read_models(&db.db).await;
    let inbox = |now| {
        let db = db.db.clone();
        async move {
            diario_projections::inbox(
                &db,
                &diario_tests::catalogue(),
                resp_provider().as_str(),
                &[],
                now,
                100,
            )
            .await
            .expect("inbox")
            .into_iter()
            .map(|n| n.kind)
            .collect::<Vec<_>>()
        }
    };
    let client = reqwest::Client::new();
    let now = rome(2024, 3, 4, 18, 5);
    let undeliverable = "notification-undeliverable".to_owned();
    // The retries fall due by the wall clock (50 ms, then doubling up to 200 ms).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fake.failed() < 3 && tokio::time::Instant::now() < deadline {
        assert!(
            !inbox(now).await.contains(&undeliverable),
            "not before the third failure ({} so far)",
            fake.failed()
        );
        deliver(&db, &client, &fake.url, now).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(fake.failed(), 3);
    assert!(inbox(now).await.contains(&undeliverable));
    // Someone else's inbox does not have it.
    let other = diario_projections::inbox(
        &db.db,
        &diario_tests::catalogue(),
        resp_asst().as_str(),
        &[],
        now,
        100,
    )
    .await
    .expect("inbox");
    assert!(other.is_empty(), "{other:?}");
    // Delivered at last: gone from the inbox.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fake.received().is_empty() && tokio::time::Instant::now() < deadline {
        deliver(&db, &client, &fake.url, now).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(fake.received().len(), 1);
    assert!(!inbox(now).await.contains(&undeliverable));
    db.cleanup().await;
}

diario_tests::scenario_on_each_backend!(an_undeliverable_notification_reaches_the_responsabile =>
    an_undeliverable_firmalom_notification_reaches_the_responsabile_on_postgres,
    an_undeliverable_firmalom_notification_reaches_the_responsabile_on_sqlite);

/// The case's events, decoded.
async fn case_events(store: &dyn EventStore) -> Vec<CaseEvent> {
    store
        .read_stream(&case_stream(case_id()), 1)
        .await
        .expect("read")
        .iter()
        .map(|e| CaseEvent::decode(e).expect("decode"))
        .collect()
}

/// Art. 6 "entro un giorno dalla ricezione della notifica": the dispatcher records FirmaLOM's
/// receipt as a case event and the deadline runs a day from it; the notification itself tells
/// FirmaLOM that same deadline.
async fn the_answer_window_opens_when_firmalom_receives_the_notification(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.db.event_store();
    append_all(&*store, &requested_case(), 0).await;
    feed_until(&db, &*store, 1).await;
    let fake = FakeFirmalom::start(SECRET).await;
    // FirmaLOM was unreachable overnight: the notification goes out at 08:00 the next day.
    let received_at = rome(2024, 3, 5, 8, 0);
    let report = deliver(&db, &reqwest::Client::new(), &fake.url, received_at).await;
    assert_eq!(report.delivered, 1);
    let delivered = case_events(&*store)
        .await
        .into_iter()
        .find_map(|e| match e {
            CaseEvent::ConfirmationNotificationDelivered {
                received_at,
                deadline,
                ..
            } => Some((received_at, deadline)),
            _ => None,
        });
    let deadline = rome(2024, 3, 6, 8, 0);
    assert_eq!(delivered, Some((received_at, deadline)));
    assert_eq!(fake.received()[0].deadline, Some(deadline));
    let (state, _) = diario_tests::handler(&db.db)
        .load_case(case_id())
        .await
        .expect("case");
    let request = &state.file.expect("case").requests[&rid(1)];
    assert_eq!(request.deadline, Some(deadline));
    db.cleanup().await;
}

diario_tests::scenario_on_each_backend!(the_answer_window_opens_when_firmalom_receives_the_notification =>
    the_answer_window_opens_when_firmalom_receives_the_notification_on_postgres,
    the_answer_window_opens_when_firmalom_receives_the_notification_on_sqlite);

/// A notification FirmaLOM refuses for good is recorded on the case as undelivered: the
/// responsabile is alerted (alert and inbox) and re-sends at once; nothing is dropped silently.
async fn a_notification_refused_for_good_alerts_the_responsabile(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.db.event_store();
    append_all(&*store, &requested_case(), 0).await;
    feed_until(&db, &*store, 1).await;
    let fake = FakeFirmalom::start(SECRET).await;
    fake.refuse_with(Some(404));
    let client = reqwest::Client::new();
    let now = rome(2024, 3, 4, 18, 5);
    let report = deliver(&db, &client, &fake.url, now).await;
    assert_eq!((report.undeliverable, report.failed), (1, 0));
    let log = delivery_log(&db.db, case_id()).await.expect("log");
    let outcomes: Vec<_> = log
        .iter()
        .map(|a| (a.outcome.as_str(), a.http_status))
        .collect();
    assert_eq!(outcomes, vec![("undeliverable", Some(404))]);
    assert!(case_events(&*store).await.iter().any(|e| matches!(e,
        CaseEvent::ConfirmationNotificationUndelivered { attempts: 1, last_error, .. }
            if last_error.contains("404"))));
    let handler = diario_tests::handler(&db.db);
    let (state, _) = handler.load_case(case_id()).await.expect("case");
    let alerts = diario_domain::alerts(&state, &up(), now);
    assert!(
        alerts
            .iter()
            .any(|a| a.code == diario_domain::AlertCode::NotificationUndelivered),
        "{alerts:?}"
    );
    diario_tests::catch_up_read_models(&db.db).await;
    let inbox = diario_projections::inbox(
        &db.db,
        &diario_tests::catalogue(),
        resp_provider().as_str(),
        &[],
        now,
        100,
    )
    .await
    .expect("inbox");
    assert!(
        inbox.iter().any(|n| n.kind == "notification-undelivered"),
        "{inbox:?}"
    );
    // Nothing more is tried for that sending; the responsabile re-sends at once.
    assert_eq!(
        deliver(&db, &client, &fake.url, now).await,
        DeliveryReport::default()
    );
    fake.refuse_with(None);
    let resend = CaseCommand::ResendConfirmation(ResendConfirmation { request_id: rid(1) });
    let resp = diario_commands::Principal {
        cf: resp_provider(),
        grants: vec![],
        platform_admin: false,
        failures: None,
    };
    handler
        .execute_case(
            case_id(),
            &resend,
            &diario_commands::Caller::Person(&resp),
            &diario_commands::CommandOptions::new(),
        )
        .await
        .expect("an undelivered request is re-sent at once");
    feed_until(&db, &*store, 2).await;
    let report = deliver(&db, &client, &fake.url, rome(2024, 3, 4, 18, 10)).await;
    assert_eq!(report.delivered, 1);
    assert_eq!(fake.received()[0].kind, "confirmation_resent");
    db.cleanup().await;
}

diario_tests::scenario_on_each_backend!(a_notification_refused_for_good_alerts_the_responsabile =>
    a_notification_refused_for_good_alerts_the_responsabile_on_postgres,
    a_notification_refused_for_good_alerts_the_responsabile_on_sqlite);

/// A notification FirmaLOM does not acknowledge within a day of its sending is given up and
/// recorded undelivered (the same "un giorno" as the answer window).
async fn a_notification_not_acknowledged_within_a_day_is_given_up(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.db.event_store();
    append_all(&*store, &requested_case(), 0).await;
    feed_until(&db, &*store, 1).await;
    let fake = FakeFirmalom::start(SECRET).await;
    fake.fail_next(1000);
    let client = reqwest::Client::new();
    let first = deliver(&db, &client, &fake.url, rome(2024, 3, 5, 17, 59)).await;
    assert_eq!(
        (first.failed, first.undeliverable),
        (1, 0),
        "retried within the day"
    );
    let later = rome(2024, 3, 5, 18, 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut given_up = 0;
    while given_up == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(60)).await;
        given_up = deliver(&db, &client, &fake.url, later).await.undeliverable;
    }
    assert_eq!(given_up, 1);
    assert!(case_events(&*store).await.iter().any(|e| matches!(e,
        CaseEvent::ConfirmationNotificationUndelivered { attempts, .. } if *attempts >= 2)));
    db.cleanup().await;
}

diario_tests::scenario_on_each_backend!(a_notification_not_acknowledged_within_a_day_is_given_up =>
    a_notification_not_acknowledged_within_a_day_is_given_up_on_postgres,
    a_notification_not_acknowledged_within_a_day_is_given_up_on_sqlite);
