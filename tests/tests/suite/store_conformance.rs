//! The event-store conformance suite: every test runs unchanged against PostgreSQL and SQLite,
//! each on a fresh database.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{TimeZone, Utc};
use diario_log::{
    EventMetadata, EventStore, ExpectedVersion, GlobalPosition, NewEvent, StoreError,
};
use diario_tests::{Backend, TestDb};
use serde_json::json;
use uuid::Uuid;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = diario_tests::TestDb::new(diario_tests::Backend::Postgres).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = diario_tests::TestDb::new(diario_tests::Backend::Sqlite).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

conformance!(
    a_stream_reads_back_in_version_order_with_its_envelope,
    read_all_hands_out_every_event_once_in_global_order,
    a_stale_expected_version_is_refused_with_a_conflict,
    the_heads_of_a_category_are_only_those_of_streams_with_the_prefix,
    expecting_version_zero_refuses_an_existing_stream,
    a_repeated_command_id_returns_the_first_outcome_and_writes_nothing,
    the_same_command_sent_concurrently_is_written_once,
    a_batch_that_fails_leaves_nothing_behind,
    the_hash_chain_survives_the_database_reordering_json_keys,
    the_hash_chain_detects_an_altered_payload,
    the_hash_chain_detects_a_deleted_event,
    the_hash_chain_detects_a_removed_tail,
    the_event_log_refuses_update_and_delete,
    concurrent_writers_never_make_a_tailing_reader_skip_an_event,
);

/// `read_all` walks the commit-order index in `(transaction id, position)` order. It once
/// sorted by the *text* of the transaction id (an output alias shadowed the column in `ORDER
/// BY`): every page sorted all remaining events — a rebuild of 1,000,000 events went quadratic
/// — and "100000" sorted before "99999", so a reader could skip events when transaction ids
/// gained a digit. With sorts disabled the planner can only avoid a `Sort` node by reading the
/// index in order, which is possible only when the query orders by the columns themselves.
#[tokio::test]
async fn postgres_read_all_reads_the_commit_order_index_without_sorting() {
    let db = TestDb::new(Backend::Postgres).await;
    let diario_log::Database::Postgres(pool) = &db.db else {
        panic!("a PostgreSQL test database");
    };
    let mut conn = pool.acquire().await.expect("connection");
    for setting in ["SET enable_sort = off", "SET enable_seqscan = off"] {
        sqlx::query(setting).execute(&mut *conn).await.expect("set");
    }
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN {}",
        diario_log::store::postgres::READ_ALL_SQL
    )))
    .bind("0")
    .bind(0i64)
    .bind(1000i64)
    .fetch_all(&mut *conn)
    .await
    .expect("explain");
    let plan = plan.join("\n");
    assert!(plan.contains("events_commit_order"), "{plan}");
    assert!(!plan.contains("Sort"), "read_all must not sort: {plan}");
    drop(conn);
    db.cleanup().await;
}

fn meta(actor: &str) -> EventMetadata {
    EventMetadata {
        actor_cf: actor.to_owned(),
        actor_role: "professional".to_owned(),
        occurred_at: Utc.with_ymd_and_hms(2026, 3, 2, 10, 30, 0).unwrap()
            + chrono::Duration::nanoseconds(123_456_789),
        command_id: Uuid::now_v7(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
    }
}

fn event(kind: &str, n: i64) -> NewEvent {
    NewEvent {
        event_type: kind.to_owned(),
        schema_version: 1,
        payload: json!({ "n": n, "note": format!("evento {n}") }),
    }
}

fn store(db: &TestDb) -> Arc<dyn EventStore> {
    db.db.event_store()
}

async fn a_stream_reads_back_in_version_order_with_its_envelope(db: &TestDb) {
    let store = store(db);
    let m = meta("RSSMRA85T10A562S");
    let first = store
        .append(
            "case-1",
            ExpectedVersion::Exact(0),
            vec![event("A", 1), event("B", 2)],
            m.clone(),
        )
        .await
        .expect("append");
    assert_eq!(first.version, 2);
    assert!(!first.replayed);
    let second = store
        .append(
            "case-1",
            ExpectedVersion::Exact(2),
            vec![event("C", 3)],
            meta("RSSMRA85T10A562S"),
        )
        .await
        .expect("append");
    assert_eq!(second.version, 3);

    let events = store.read_stream("case-1", 1).await.expect("read");
    assert_eq!(events.len(), 3);
    assert_eq!(
        events.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(events[0].event_type, "A");
    assert_eq!(events[0].payload, json!({"n": 1, "note": "evento 1"}));
    assert_eq!(events[0].metadata.actor_cf, "RSSMRA85T10A562S");
    assert_eq!(events[0].metadata.command_id, m.command_id);
    // Instants are kept to the microsecond on both backends.
    assert_eq!(
        events[0].metadata.occurred_at,
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 30, 0).unwrap()
            + chrono::Duration::microseconds(123_456)
    );
    assert_eq!(
        events[0].event_id.get_version_num(),
        7,
        "event ids are UUIDv7"
    );
    // What append returned is what a reader gets back.
    assert_eq!(&events[..2], &first.events[..]);
    assert_eq!(events[1].prev_hash, events[0].hash);

    let tail = store.read_stream("case-1", 3).await.expect("read");
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].event_type, "C");
    assert!(store.read_stream("nope", 1).await.expect("read").is_empty());
    assert!(
        store
            .verify_stream("case-1")
            .await
            .expect("verify")
            .is_intact()
    );
}

async fn read_all_hands_out_every_event_once_in_global_order(db: &TestDb) {
    let store = store(db);
    for i in 0..5 {
        for s in ["a", "b", "c"] {
            store
                .append(
                    s,
                    ExpectedVersion::Any,
                    vec![event("E", i), event("F", i)],
                    meta("X"),
                )
                .await
                .expect("append");
        }
    }
    // Page through with a small limit, checkpointing the last position seen. Transactions of
    // other tests on the same server may hold delivery back for a moment (lag, never loss).
    let mut cursor = GlobalPosition::START;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen.len() < 30 && tokio::time::Instant::now() < deadline {
        let page = store.read_all(cursor, 4).await.expect("read_all");
        if page.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(page.len() <= 4);
        for e in page {
            assert!(e.global_position > cursor, "global order must increase");
            cursor = e.global_position;
            seen.push(e);
        }
    }
    assert_eq!(seen.len(), 30);
    let ids: HashSet<_> = seen.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), 30);
    // Within a stream, the global order follows the stream versions.
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for e in &seen {
        let prev = last
            .insert(e.stream_id.clone(), e.stream_version)
            .unwrap_or(0);
        assert_eq!(e.stream_version, prev + 1);
    }
    assert!(
        store
            .read_all(cursor, 10)
            .await
            .expect("read_all")
            .is_empty()
    );
}

async fn a_stale_expected_version_is_refused_with_a_conflict(db: &TestDb) {
    let store = store(db);
    store
        .append(
            "s",
            ExpectedVersion::Exact(0),
            vec![event("A", 1)],
            meta("X"),
        )
        .await
        .expect("append");
    store
        .append(
            "s",
            ExpectedVersion::Exact(1),
            vec![event("B", 2)],
            meta("X"),
        )
        .await
        .expect("append");
    let err = store
        .append(
            "s",
            ExpectedVersion::Exact(1),
            vec![event("C", 3)],
            meta("X"),
        )
        .await
        .expect_err("stale version must be refused");
    match err {
        StoreError::VersionConflict {
            stream_id,
            expected,
            actual,
        } => {
            assert_eq!((stream_id.as_str(), expected, actual), ("s", 1, 2));
        }
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert_eq!(store.read_stream("s", 1).await.expect("read").len(), 2);
}

async fn expecting_version_zero_refuses_an_existing_stream(db: &TestDb) {
    let store = store(db);
    store
        .append(
            "s",
            ExpectedVersion::Exact(0),
            vec![event("A", 1)],
            meta("X"),
        )
        .await
        .expect("append");
    let err = store
        .append(
            "s",
            ExpectedVersion::Exact(0),
            vec![event("A", 1)],
            meta("X"),
        )
        .await
        .expect_err("stream exists");
    assert!(
        matches!(err, StoreError::VersionConflict { actual: 1, .. }),
        "{err:?}"
    );
}

async fn a_repeated_command_id_returns_the_first_outcome_and_writes_nothing(db: &TestDb) {
    let store = store(db);
    let m = meta("X");
    let first = store
        .append(
            "s",
            ExpectedVersion::Exact(0),
            vec![event("A", 1), event("B", 2)],
            m.clone(),
        )
        .await
        .expect("append");
    // Same command id, even with a version that is now stale and different events.
    let again = store
        .append(
            "s",
            ExpectedVersion::Exact(0),
            vec![event("Z", 9)],
            m.clone(),
        )
        .await
        .expect("a repeated command is not an error");
    assert!(again.replayed);
    assert_eq!(again.version, first.version);
    assert_eq!(again.events, first.events);
    assert_eq!(db.count("SELECT count(*) FROM events").await, 2);
    assert_eq!(db.count("SELECT count(*) FROM command_log").await, 1);
}

async fn the_same_command_sent_concurrently_is_written_once(db: &TestDb) {
    let store = store(db);
    let m = meta("X");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (store, m) = (store.clone(), m.clone());
        tasks.spawn(async move {
            store
                .append("s", ExpectedVersion::Any, vec![event("A", 1)], m)
                .await
        });
    }
    let mut outcomes = Vec::new();
    while let Some(r) = tasks.join_next().await {
        outcomes.push(r.expect("task").expect("append"));
    }
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1);
    let ids: HashSet<_> = outcomes.iter().map(|o| o.events[0].event_id).collect();
    assert_eq!(ids.len(), 1, "every caller sees the same stored event");
    assert_eq!(db.count("SELECT count(*) FROM events").await, 1);
}

async fn a_batch_that_fails_leaves_nothing_behind(db: &TestDb) {
    let store = store(db);
    store
        .append(
            "s",
            ExpectedVersion::Exact(0),
            vec![event("A", 1)],
            meta("X"),
        )
        .await
        .expect("append");
    // The second event violates a table constraint (empty type): the first must not survive.
    let bad = NewEvent {
        event_type: String::new(),
        schema_version: 1,
        payload: json!({}),
    };
    let m = meta("X");
    let err = store
        .append(
            "s",
            ExpectedVersion::Exact(1),
            vec![event("B", 2), bad],
            m.clone(),
        )
        .await
        .expect_err("the batch must fail");
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(db.count("SELECT count(*) FROM events").await, 1);
    assert_eq!(db.count("SELECT count(*) FROM command_log").await, 1);
    assert_eq!(
        store
            .stream_head("s")
            .await
            .expect("head")
            .map(|h| h.version),
        Some(1)
    );
    // The failed command id was not consumed: a correct retry with it is written.
    let ok = store
        .append("s", ExpectedVersion::Exact(1), vec![event("B", 2)], m)
        .await
        .expect("retry");
    assert!(!ok.replayed);
    assert_eq!(ok.version, 2);
    // A failed append to a new stream does not create it either.
    let bad = NewEvent {
        event_type: String::new(),
        schema_version: 1,
        payload: json!({}),
    };
    store
        .append(
            "fresh",
            ExpectedVersion::Exact(0),
            vec![event("A", 1), bad],
            meta("X"),
        )
        .await
        .expect_err("the batch must fail");
    assert_eq!(store.stream_head("fresh").await.expect("head"), None);
    assert!(store.verify_stream("s").await.expect("verify").is_intact());
}

async fn the_hash_chain_survives_the_database_reordering_json_keys(db: &TestDb) {
    let store = store(db);
    let payload: serde_json::Value = serde_json::from_str(
        r#"{"zeta":1,"alpha":{"longer_key":[3,2,1],"b":"città","a":null},"mid":-7,"f":12.5}"#,
    )
    .expect("json");
    store
        .append(
            "s",
            ExpectedVersion::Exact(0),
            vec![NewEvent {
                event_type: "Nested".into(),
                schema_version: 2,
                payload: payload.clone(),
            }],
            meta("X"),
        )
        .await
        .expect("append");
    let back = store.read_stream("s", 1).await.expect("read");
    assert_eq!(back[0].payload, payload);
    let report = store.verify_stream("s").await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events_checked, 1);
}

/// Tampering needs the append-only trigger out of the way first; the chain must catch it anyway.
async fn disable_guard(db: &TestDb) {
    match db.backend() {
        Backend::Postgres => db.raw("ALTER TABLE events DISABLE TRIGGER USER").await,
        Backend::Sqlite => {
            db.raw("DROP TRIGGER events_no_update").await;
            db.raw("DROP TRIGGER events_no_delete").await;
        }
    }
}

async fn five_events(db: &TestDb) -> Arc<dyn EventStore> {
    let store = store(db);
    for i in 1..=5 {
        store
            .append(
                "s",
                ExpectedVersion::Exact(i - 1),
                vec![event("E", i)],
                meta("X"),
            )
            .await
            .expect("append");
    }
    store
        .append(
            "other",
            ExpectedVersion::Exact(0),
            vec![event("E", 1)],
            meta("X"),
        )
        .await
        .expect("append");
    assert!(store.verify_stream("s").await.expect("verify").is_intact());
    store
}

async fn the_hash_chain_detects_an_altered_payload(db: &TestDb) {
    let store = five_events(db).await;
    disable_guard(db).await;
    let sql = match db.backend() {
        Backend::Postgres => {
            r#"UPDATE events SET payload = '{"n": 30, "note": "evento 3"}' WHERE stream_id = 's' AND stream_version = 3"#
        }
        Backend::Sqlite => {
            r#"UPDATE events SET payload = '{"n":30,"note":"evento 3"}' WHERE stream_id = 's' AND stream_version = 3"#
        }
    };
    db.raw(sql).await;
    let report = store.verify_stream("s").await.expect("verify");
    let brk = report.first_break.expect("the alteration must be detected");
    assert_eq!(brk.version, 3);
    assert!(brk.reason.contains("content"), "{}", brk.reason);
    assert_eq!(report.events_checked, 2);
    assert!(
        store
            .verify_stream("other")
            .await
            .expect("verify")
            .is_intact()
    );
}

async fn the_hash_chain_detects_a_deleted_event(db: &TestDb) {
    let store = five_events(db).await;
    disable_guard(db).await;
    db.raw("DELETE FROM events WHERE stream_id = 's' AND stream_version = 2")
        .await;
    let report = store.verify_stream("s").await.expect("verify");
    let brk = report.first_break.expect("the deletion must be detected");
    assert_eq!(brk.version, 3);
    assert!(brk.reason.contains("missing"), "{}", brk.reason);
}

async fn the_hash_chain_detects_a_removed_tail(db: &TestDb) {
    let store = five_events(db).await;
    disable_guard(db).await;
    db.raw("DELETE FROM events WHERE stream_id = 's' AND stream_version = 5")
        .await;
    let report = store.verify_stream("s").await.expect("verify");
    let brk = report
        .first_break
        .expect("the removed tail must be detected");
    assert_eq!(brk.version, 5);
    assert!(brk.reason.contains("head"), "{}", brk.reason);
}

async fn the_event_log_refuses_update_and_delete(db: &TestDb) {
    let _store = five_events(db).await;
    assert!(
        db.try_raw("UPDATE events SET event_type = 'X' WHERE stream_version = 1")
            .await
            .is_err()
    );
    assert!(db.try_raw("DELETE FROM events").await.is_err());
    assert_eq!(db.count("SELECT count(*) FROM events").await, 6);
}

/// ≥ 8 writers append to distinct and shared streams while a reader tails `read_all` with a
/// checkpoint; the reader must see every committed event exactly once, in increasing global
/// order. Several rounds, each on the same database, so the race has many chances to show.
async fn concurrent_writers_never_make_a_tailing_reader_skip_an_event(db: &TestDb) {
    const WRITERS: usize = 10;
    const APPENDS_PER_WRITER: usize = 60;
    const ROUNDS: usize = 3;
    let store = store(db);
    let mut cursor = GlobalPosition::START;
    let mut seen: Vec<Uuid> = Vec::new();
    let mut committed: HashSet<Uuid> = HashSet::new();
    for round in 0..ROUNDS {
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (store, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                let mut cursor = cursor;
                let mut seen = Vec::new();
                loop {
                    // Read `done` before reading the log: a read that starts after every writer
                    // finished and returns nothing means the reader has caught up.
                    let finished = done.load(Ordering::SeqCst);
                    let page = store.read_all(cursor, 50).await.expect("read_all");
                    if page.is_empty() {
                        if finished {
                            break;
                        }
                        tokio::task::yield_now().await;
                        continue;
                    }
                    let positions: Vec<String> =
                        page.iter().map(|e| e.global_position.to_string()).collect();
                    for e in page {
                        assert!(
                            e.global_position > cursor,
                            "global order went backwards: {} after {} (page {positions:?})",
                            e.global_position,
                            cursor
                        );
                        cursor = e.global_position;
                        seen.push(e.event_id);
                    }
                }
                (cursor, seen)
            })
        };
        let mut writers = tokio::task::JoinSet::new();
        for w in 0..WRITERS {
            let store = store.clone();
            writers.spawn(async move {
                let mut ids = Vec::new();
                for i in 0..APPENDS_PER_WRITER {
                    // Alternate between the writer's own stream and three shared hot streams.
                    let stream = if i % 2 == 0 {
                        format!("own-{round}-{w}")
                    } else {
                        format!("hot-{}", i % 3)
                    };
                    let batch = (0..1 + (i % 3) as i64)
                        .map(|n| event("Stress", n))
                        .collect();
                    let outcome = store
                        .append(&stream, ExpectedVersion::Any, batch, meta("X"))
                        .await
                        .expect("append");
                    ids.extend(outcome.events.iter().map(|e| e.event_id));
                }
                ids
            });
        }
        while let Some(ids) = writers.join_next().await {
            committed.extend(ids.expect("writer"));
        }
        done.store(true, Ordering::SeqCst);
        let (c, s) = reader.await.expect("reader");
        cursor = c;
        seen.extend(s);
        // Other transactions on the server (other tests) can hold back delivery for a while;
        // that is lag, not loss, so keep reading until caught up or a generous deadline.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while seen.len() < committed.len() && tokio::time::Instant::now() < deadline {
            let page = store.read_all(cursor, 500).await.expect("read_all");
            if page.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            for e in page {
                assert!(e.global_position > cursor, "global order went backwards");
                cursor = e.global_position;
                seen.push(e.event_id);
            }
        }
    }
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event was handed out twice");
    let missing = committed.difference(&unique).count();
    assert_eq!(
        missing,
        0,
        "the tailing reader skipped {missing} of {} committed events",
        committed.len()
    );
    assert_eq!(unique.len(), committed.len());
    for hot in ["hot-0", "hot-1", "hot-2"] {
        assert!(store.verify_stream(hot).await.expect("verify").is_intact());
    }
}

async fn the_heads_of_a_category_are_only_those_of_streams_with_the_prefix(db: &TestDb) {
    let store = store(db);
    for (s, n) in [
        ("failure-b", 2),
        ("failure-a", 1),
        ("case-1", 2),
        ("failurex", 2),
        ("fail_re-1", 2),
    ] {
        for i in 1..=n {
            store
                .append(s, ExpectedVersion::Any, vec![event("E", i)], meta("X"))
                .await
                .expect("append");
        }
    }
    let heads = store.stream_heads("failure-").await.expect("heads");
    let got: Vec<(String, i64)> = heads.iter().map(|(s, h)| (s.clone(), h.version)).collect();
    assert_eq!(
        got,
        vec![("failure-a".to_owned(), 1), ("failure-b".to_owned(), 2)]
    );
    // Each head is the stream's own.
    for (s, h) in &heads {
        assert_eq!(store.stream_head(s).await.expect("head").as_ref(), Some(h));
    }
    // `_` is not a wildcard.
    assert_eq!(store.stream_heads("fail_re").await.expect("heads").len(), 1);
    assert!(
        store
            .stream_heads("nothing-")
            .await
            .expect("heads")
            .is_empty()
    );
}
