//! The event-store conformance suite: every test runs unchanged against PostgreSQL and SQLite,
//! each on a fresh database.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{TimeZone, Utc};
use diario_log::ExpectedVersion::{self, Any, Exact};
use diario_log::{
    AppendOutcome, ChainReport, EventMetadata, EventStore, GlobalPosition, NewEvent, StoreError,
    StreamAppend,
};
use diario_tests::{Backend, TestDb};
use serde_json::json;
use uuid::Uuid;

diario_tests::tests_on_each_backend!(
    a_stream_reads_back_in_version_order_with_its_envelope,
    read_all_hands_out_every_event_once_in_global_order,
    a_stale_expected_version_is_refused_with_a_conflict,
    the_heads_of_a_category_are_only_those_of_streams_with_the_prefix,
    the_heads_of_named_streams_and_a_category_come_in_one_list,
    expecting_version_zero_refuses_an_existing_stream,
    a_repeated_command_id_returns_the_first_outcome_and_writes_nothing,
    the_same_command_sent_concurrently_is_written_once,
    a_batch_that_fails_leaves_nothing_behind,
    an_append_to_linked_streams_commits_all_or_nothing,
    a_repeated_linked_append_returns_the_primary_alone,
    the_hash_chain_survives_the_database_reordering_json_keys,
    the_hash_chain_detects_an_altered_payload,
    the_hash_chain_detects_a_deleted_event,
    the_hash_chain_detects_a_removed_tail,
    the_event_log_refuses_update_and_delete,
    concurrent_writers_never_make_a_tailing_reader_skip_an_event,
    concurrent_appends_keep_their_own_outcomes_stream_order_and_global_order,
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
    let occurred_at = Utc.with_ymd_and_hms(2026, 3, 2, 10, 30, 0).unwrap()
        + chrono::Duration::nanoseconds(123_456_789);
    diario_tests::command_metadata(actor, "professional", occurred_at)
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

/// Appends `events` to `stream` with the metadata `m`.
async fn append_with(
    store: &dyn EventStore,
    m: &EventMetadata,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendOutcome, StoreError> {
    store.append(stream, expected, events, m.clone()).await
}

/// Appends `events` to `stream` as a new command of actor "X".
async fn append(
    store: &dyn EventStore,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendOutcome, StoreError> {
    append_with(store, &meta("X"), stream, expected, events).await
}

/// [`append`], which must succeed.
async fn append_ok(
    store: &dyn EventStore,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> AppendOutcome {
    append(store, stream, expected, events)
        .await
        .expect("append")
}

/// Opens `stream` with the events A 1 and B 2 under the metadata `m`.
async fn open_with_two(store: &dyn EventStore, m: &EventMetadata, stream: &str) -> AppendOutcome {
    let batch = vec![event("A", 1), event("B", 2)];
    append_with(store, m, stream, Exact(0), batch)
        .await
        .expect("append")
}

/// Whether the hash chain of `stream` verifies.
async fn intact(store: &dyn EventStore, stream: &str) -> bool {
    let report = store.verify_stream(stream).await.expect("verify");
    report.is_intact()
}

/// An event the table refuses (empty type).
fn invalid_event() -> NewEvent {
    NewEvent {
        event_type: String::new(),
        schema_version: 1,
        payload: json!({}),
    }
}

async fn a_stream_reads_back_in_version_order_with_its_envelope(db: &TestDb) {
    let store = &*store(db);
    let m = meta("RSSMRA85T10A562S");
    let first = open_with_two(store, &m, "case-1").await;
    assert_eq!(first.version, 2);
    assert!(!first.replayed);
    let second = append_with(
        store,
        &meta("RSSMRA85T10A562S"),
        "case-1",
        Exact(2),
        vec![event("C", 3)],
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
    assert!(intact(store, "case-1").await);
}

async fn read_all_hands_out_every_event_once_in_global_order(db: &TestDb) {
    let store = &*store(db);
    for i in 0..5 {
        for s in ["a", "b", "c"] {
            append_ok(store, s, Any, vec![event("E", i), event("F", i)]).await;
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
    let rest = store.read_all(cursor, 10).await.expect("read_all");
    assert!(rest.is_empty());
}

async fn a_stale_expected_version_is_refused_with_a_conflict(db: &TestDb) {
    let store = &*store(db);
    append_ok(store, "s", Exact(0), vec![event("A", 1)]).await;
    append_ok(store, "s", Exact(1), vec![event("B", 2)]).await;
    let err = append(store, "s", Exact(1), vec![event("C", 3)])
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
    let store = &*store(db);
    append_ok(store, "s", Exact(0), vec![event("A", 1)]).await;
    let err = append(store, "s", Exact(0), vec![event("A", 1)])
        .await
        .expect_err("stream exists");
    assert!(
        matches!(err, StoreError::VersionConflict { actual: 1, .. }),
        "{err:?}"
    );
}

async fn a_repeated_command_id_returns_the_first_outcome_and_writes_nothing(db: &TestDb) {
    let store = &*store(db);
    let m = meta("X");
    let first = open_with_two(store, &m, "s").await;
    // Same command id, even with a version that is now stale and different events.
    let again = append_with(store, &m, "s", Exact(0), vec![event("Z", 9)])
        .await
        .expect("a repeated command is not an error");
    assert!(again.replayed);
    assert_eq!(again.version, first.version);
    assert_eq!(again.events, first.events);
    assert_eq!(db.count("SELECT count(*) FROM events").await, 2);
    assert_eq!(db.count("SELECT count(*) FROM command_log").await, 1);
}

fn part(stream: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> StreamAppend {
    StreamAppend {
        stream_id: stream.to_owned(),
        expected,
        events,
    }
}

/// One professional, one hour: a case command moves its stream and the author's agenda in one
/// transaction. A stale version on the linked stream refuses the whole append (the primary's
/// events do not survive); at the right versions both streams move, chained, and the outcomes
/// come back primary first.
async fn an_append_to_linked_streams_commits_all_or_nothing(db: &TestDb) {
    let store = &*store(db);
    append_ok(store, "agenda-x", Exact(0), vec![event("A", 1)]).await;
    let stale = store
        .append_streams(
            part("case-1", Exact(0), vec![event("C", 1)]),
            vec![part("agenda-x", Exact(0), vec![event("A", 2)])],
            meta("X"),
        )
        .await;
    assert!(
        matches!(&stale, Err(StoreError::VersionConflict { stream_id, expected: 0, actual: 1 }) if stream_id == "agenda-x"),
        "{stale:?}"
    );
    assert_eq!(store.stream_head("case-1").await.expect("head"), None);
    assert_eq!(db.count("SELECT count(*) FROM events").await, 1);
    assert_eq!(db.count("SELECT count(*) FROM command_log").await, 1);

    let m = meta("X");
    // Given in an order that is not the stream-id order: the answer keeps the call's order.
    let outcomes = store
        .append_streams(
            part("case-1", Exact(0), vec![event("C", 1), event("C", 2)]),
            vec![
                part("agenda-z", Exact(0), vec![event("A", 9)]),
                part("agenda-x", Exact(1), vec![event("A", 2)]),
            ],
            m.clone(),
        )
        .await
        .expect("linked append");
    let ids: Vec<_> = outcomes.iter().map(|o| o.stream_id.as_str()).collect();
    assert_eq!(ids, ["case-1", "agenda-z", "agenda-x"]);
    assert_eq!(
        outcomes.iter().map(|o| o.version).collect::<Vec<_>>(),
        [2, 1, 2]
    );
    for stream in ["case-1", "agenda-x", "agenda-z"] {
        assert!(intact(store, stream).await, "{stream} chains");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM command_log").await,
        2,
        "one command record, for the primary"
    );
    let found = store
        .find_command(m.command_id)
        .await
        .expect("find")
        .expect("recorded");
    assert_eq!(
        (found.stream_id.as_str(), found.events.len()),
        ("case-1", 2),
        "the command's answer is its primary stream's events"
    );
}

async fn a_repeated_linked_append_returns_the_primary_alone(db: &TestDb) {
    let store = &*store(db);
    let m = meta("X");
    let linked = || vec![part("agenda-x", Any, vec![event("A", 1)])];
    let first = store
        .append_streams(
            part("case-1", Exact(0), vec![event("C", 1)]),
            linked(),
            m.clone(),
        )
        .await
        .expect("append");
    let again = store
        .append_streams(part("case-1", Exact(0), vec![event("C", 1)]), linked(), m)
        .await
        .expect("a repeated command is not an error");
    assert_eq!(again.len(), 1);
    assert!(again[0].replayed);
    assert_eq!(again[0].events, first[0].events);
    assert_eq!(db.count("SELECT count(*) FROM events").await, 2);
}

async fn the_same_command_sent_concurrently_is_written_once(db: &TestDb) {
    let store = store(db);
    let m = meta("X");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (store, m) = (store.clone(), m.clone());
        tasks.spawn(async move { append_with(&*store, &m, "s", Any, vec![event("A", 1)]).await });
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
    let store = &*store(db);
    append_ok(store, "s", Exact(0), vec![event("A", 1)]).await;
    // The second event violates a table constraint (empty type): the first must not survive.
    let m = meta("X");
    let err = append_with(
        store,
        &m,
        "s",
        Exact(1),
        vec![event("B", 2), invalid_event()],
    )
    .await
    .expect_err("the batch must fail");
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert_eq!(db.count("SELECT count(*) FROM events").await, 1);
    assert_eq!(db.count("SELECT count(*) FROM command_log").await, 1);
    let head = store.stream_head("s").await.expect("head");
    assert_eq!(head.map(|h| h.version), Some(1));
    // The failed command id was not consumed: a correct retry with it is written.
    let ok = append_with(store, &m, "s", Exact(1), vec![event("B", 2)])
        .await
        .expect("retry");
    assert!(!ok.replayed);
    assert_eq!(ok.version, 2);
    // A failed append to a new stream does not create it either.
    append(
        store,
        "fresh",
        Exact(0),
        vec![event("A", 1), invalid_event()],
    )
    .await
    .expect_err("the batch must fail");
    assert_eq!(store.stream_head("fresh").await.expect("head"), None);
    assert!(intact(store, "s").await);
}

async fn the_hash_chain_survives_the_database_reordering_json_keys(db: &TestDb) {
    let store = &*store(db);
    let payload: serde_json::Value = serde_json::from_str(
        r#"{"zeta":1,"alpha":{"longer_key":[3,2,1],"b":"città","a":null},"mid":-7,"f":12.5}"#,
    )
    .expect("json");
    let nested = NewEvent {
        event_type: "Nested".into(),
        schema_version: 2,
        payload: payload.clone(),
    };
    append_ok(store, "s", Exact(0), vec![nested]).await;
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
        append_ok(&*store, "s", Exact(i - 1), vec![event("E", i)]).await;
    }
    append_ok(&*store, "other", Exact(0), vec![event("E", 1)]).await;
    assert!(intact(&*store, "s").await);
    store
}

/// [`five_events`], then `sql` run with the append-only guard out of the way: verifying stream
/// "s" must break at `version` for a reason mentioning `reason`. Returns the store and report.
async fn assert_tampering_detected(
    db: &TestDb,
    sql: &str,
    version: i64,
    reason: &str,
) -> (Arc<dyn EventStore>, ChainReport) {
    let store = five_events(db).await;
    disable_guard(db).await;
    db.raw(sql).await;
    let report = store.verify_stream("s").await.expect("verify");
    let brk = report.first_break.as_ref();
    let brk = brk.unwrap_or_else(|| panic!("the tampering must be detected: {sql}"));
    assert_eq!(brk.version, version);
    assert!(brk.reason.contains(reason), "{}", brk.reason);
    (store, report)
}

async fn the_hash_chain_detects_an_altered_payload(db: &TestDb) {
    let sql = match db.backend() {
        Backend::Postgres => {
            r#"UPDATE events SET payload = '{"n": 30, "note": "evento 3"}' WHERE stream_id = 's' AND stream_version = 3"#
        }
        Backend::Sqlite => {
            r#"UPDATE events SET payload = '{"n":30,"note":"evento 3"}' WHERE stream_id = 's' AND stream_version = 3"#
        }
    };
    let (store, report) = assert_tampering_detected(db, sql, 3, "content").await;
    assert_eq!(report.events_checked, 2);
    assert!(intact(&*store, "other").await);
}

async fn the_hash_chain_detects_a_deleted_event(db: &TestDb) {
    let sql = "DELETE FROM events WHERE stream_id = 's' AND stream_version = 2";
    assert_tampering_detected(db, sql, 3, "missing").await;
}

async fn the_hash_chain_detects_a_removed_tail(db: &TestDb) {
    let sql = "DELETE FROM events WHERE stream_id = 's' AND stream_version = 5";
    assert_tampering_detected(db, sql, 5, "head").await;
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
                    let outcome = append_ok(&*store, &stream, Any, batch).await;
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
        assert!(intact(&*store, hot).await);
    }
}

/// Appends sent together (on PostgreSQL they share transactions: group commit) each keep
/// their own outcome: a stale expected version fails that append alone, the others are
/// written; every stream keeps its versions in order, with no lost update on a stream two
/// writers race for; and `read_all` hands every event out once, each stream's in version
/// order. A second store over the same database moves half the streams behind the first
/// store's back, so the first seals those appends on heads it wrongly believes current and
/// only the database can refuse them.
async fn concurrent_appends_keep_their_own_outcomes_stream_order_and_global_order(db: &TestDb) {
    const STREAMS: usize = 40;
    let store = store(db);
    let other = db.db.event_store();
    for i in 0..STREAMS {
        append_ok(&*store, &format!("g-{i}"), Exact(0), vec![event("Open", 0)]).await;
    }
    for i in (1..STREAMS).step_by(2) {
        append_ok(
            &*other,
            &format!("g-{i}"),
            Exact(1),
            vec![event("Moved", 1)],
        )
        .await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..STREAMS {
        let store = store.clone();
        tasks.spawn(async move {
            let batch = vec![event("Next", 2), event("Next", 3)];
            (i, append(&*store, &format!("g-{i}"), Exact(1), batch).await)
        });
    }
    // Two writers race on one shared stream with exact versions: each success takes the next
    // version, each failure names the version that moved on.
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let store = store.clone();
        racers.spawn(async move {
            let mut wins = 0;
            for n in 0..15 {
                loop {
                    let version = store
                        .stream_head("shared")
                        .await
                        .expect("head")
                        .map_or(0, |h| h.version);
                    match append(&*store, "shared", Exact(version), vec![event("Race", n)]).await {
                        Ok(o) => {
                            assert_eq!(o.version, version + 1);
                            wins += 1;
                            break;
                        }
                        Err(StoreError::VersionConflict { actual, .. }) => {
                            assert!(actual > version, "a conflict names a later version")
                        }
                        Err(e) => panic!("shared append: {e}"),
                    }
                }
            }
            wins
        });
    }
    let mut transactions: BTreeMap<u64, usize> = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let (i, outcome) = r.expect("task");
        if i % 2 == 1 {
            match outcome {
                Err(StoreError::VersionConflict {
                    stream_id,
                    expected,
                    actual,
                }) => {
                    assert_eq!((stream_id, expected, actual), (format!("g-{i}"), 1, 2));
                }
                other => panic!("g-{i} moved meanwhile: expected a conflict, got {other:?}"),
            }
        } else {
            let o = outcome.unwrap_or_else(|e| panic!("g-{i} must be written: {e}"));
            assert_eq!(o.version, 3);
            let versions: Vec<i64> = o.events.iter().map(|e| e.stream_version).collect();
            assert_eq!(versions, [2, 3]);
            *transactions
                .entry(o.events[0].global_position.transaction)
                .or_default() += 1;
        }
    }
    while let Some(wins) = racers.join_next().await {
        assert_eq!(wins.expect("racer"), 15, "each racer wrote its 15 events");
    }
    if db.db.is_postgres() {
        assert!(
            transactions.values().any(|&n| n > 1),
            "20 appends sent at once were committed in 20 transactions: no group commit ({transactions:?})"
        );
    }
    assert_eq!(
        store
            .stream_head("shared")
            .await
            .expect("head")
            .map(|h| h.version),
        Some(30)
    );
    // Every event once, in global order, each stream's versions ascending.
    let mut cursor = GlobalPosition::START;
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    let mut ids = HashSet::new();
    // 40 opened, 20 moved by the other store, 20 × 2 written, 30 raced.
    let total = STREAMS + STREAMS / 2 + STREAMS + 30;
    // Other tests' transactions on the server can hold delivery back for a while (lag, not
    // loss): read until every event came or a generous deadline.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while ids.len() < total && tokio::time::Instant::now() < deadline {
        let page = store.read_all(cursor, 100).await.expect("read_all");
        if page.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for e in page {
            assert!(e.global_position > cursor);
            cursor = e.global_position;
            assert!(ids.insert(e.event_id), "event handed out twice");
            let prev = last
                .insert(e.stream_id.clone(), e.stream_version)
                .unwrap_or(0);
            assert_eq!(e.stream_version, prev + 1, "{} out of order", e.stream_id);
        }
    }
    assert_eq!(ids.len(), total);
    for i in 0..STREAMS {
        assert!(intact(&*store, &format!("g-{i}")).await);
    }
    assert!(intact(&*store, "shared").await);
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
            append_ok(&*store, s, Any, vec![event("E", i)]).await;
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

async fn the_heads_of_named_streams_and_a_category_come_in_one_list(db: &TestDb) {
    let store = store(db);
    for (s, n) in [
        ("grants", 3),
        ("failure-b", 2),
        ("failure-a", 1),
        ("case-1", 2),
        ("failurex", 1),
    ] {
        for i in 1..=n {
            append_ok(&*store, s, Any, vec![event("E", i)]).await;
        }
    }
    let versions = |heads: Vec<(String, diario_log::StreamHead)>| {
        heads
            .into_iter()
            .map(|(s, h)| (s, h.version))
            .collect::<Vec<_>>()
    };
    let owned = |v: &[(&str, i64)]| {
        v.iter()
            .map(|(s, n)| ((*s).to_owned(), *n))
            .collect::<Vec<_>>()
    };
    // A named stream, an absent one, and the category, by stream id.
    let heads = store
        .heads_of(&["grants", "absent"], "failure-")
        .await
        .expect("heads");
    assert_eq!(
        versions(heads.clone()),
        owned(&[("failure-a", 1), ("failure-b", 2), ("grants", 3)])
    );
    // Each head is the stream's own, hash included.
    for (s, h) in &heads {
        assert_eq!(store.stream_head(s).await.expect("head").as_ref(), Some(h));
    }
    // A named stream inside the category comes once.
    assert_eq!(
        versions(
            store
                .heads_of(&["failure-a"], "failure-")
                .await
                .expect("heads")
        ),
        owned(&[("failure-a", 1), ("failure-b", 2)])
    );
    // Named streams alone, with a category that matches nothing.
    assert_eq!(
        versions(
            store
                .heads_of(&["case-1"], "nothing-")
                .await
                .expect("heads")
        ),
        owned(&[("case-1", 2)])
    );
    // The empty prefix is every stream.
    assert_eq!(
        versions(store.heads_of(&[], "").await.expect("heads")),
        owned(&[
            ("case-1", 2),
            ("failure-a", 1),
            ("failure-b", 2),
            ("failurex", 1),
            ("grants", 3),
        ])
    );
}
