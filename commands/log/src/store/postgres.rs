//! PostgreSQL event store.
//!
//! Global order: each event stores the id of the transaction that wrote it (`xid8`).
//! `read_all` returns events in `(transaction_id, position)` order and only those whose
//! transaction id is below the oldest transaction still running in the reader's snapshot
//! (`pg_snapshot_xmin(pg_current_snapshot())`). Every transaction that could still commit an
//! event has an id at or above that bound, and ids handed out later are larger still, so once a
//! subscriber has passed a pair no event can ever appear before it. Concurrent writers keep
//! committing in parallel (no global lock); the price is that delivery waits for the oldest
//! running transaction, so a long transaction delays subscribers but never makes them skip.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use super::pg_group::{Answer, GroupCommit, Sealed, SealedPart};
use super::{
    AppendOutcome, EventMetadata, EventStore, ExpectedVersion, GENESIS_HASH, GlobalPosition,
    NewEvent, RecordedEvent, StoreError, StreamAppend, StreamHead, check_appends, check_expected,
    in_call_order, like_prefix, seal_batch,
};

/// Embedded migrations for PostgreSQL (`migrations/postgres`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

macro_rules! columns {
    () => {
        "position, transaction_id::text AS transaction_id, event_id, stream_id, \
         stream_version, event_type, schema_version, payload, actor_cf, actor_role, occurred_at, \
         recorded_at, command_id, correlation_id, causation_id, prev_hash, hash"
    };
}

const COLUMNS: &str = columns!();

/// Events per INSERT statement (15 parameters each; PostgreSQL allows 65,535).
const INSERT_CHUNK: usize = 500;

/// The page query of `read_all`: after a position, below the oldest running transaction, in
/// commit order. `ORDER BY` names `events.`'s columns on purpose: the output column
/// `transaction_id::text AS transaction_id` would otherwise shadow the column, and PostgreSQL
/// would sort by the *text* of the transaction id — a sort of every remaining event for each
/// page (a 1,000,000-event rebuild went quadratic) and an order in which "100000" comes
/// before "99999" (a reader could skip events when transaction ids gain a digit). Public so the
/// conformance suite can check the plan walks the `events_commit_order` index without a sort.
pub const READ_ALL_SQL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM events \
     WHERE (transaction_id, position) > ($1::text::xid8, $2) \
       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) \
     ORDER BY events.transaction_id, events.position LIMIT $3"
);

/// Groups in flight at most: fewer leaders make larger groups (one flush for more appends);
/// on 2 cores, 4 measured best among 1, 2, 4 and 10 at 8 and 32 writers (BENCHMARKS.md).
const MAX_LEADERS: usize = 4;

/// Heads remembered per stream (the whole map is dropped when it grows past this).
const HEADS_KEPT: usize = 10_000;

/// Seals on a head that turned out stale before an append of version "any" falls back to
/// locking the head (the hot-stream case: other writers keep moving it).
const SEAL_ATTEMPTS: usize = 3;

#[derive(Clone)]
pub struct PgEventStore {
    pool: PgPool,
    /// The last head seen of each stream (read, appended, or answered by a refusal): what an
    /// append is sealed on without asking. A wrong guess is refused by `diario_append`, which
    /// checks version and hash under the head's lock, and answered with the real head.
    heads: Arc<Mutex<HashMap<String, StreamHead>>>,
    group: Arc<GroupCommit>,
}

impl PgEventStore {
    pub fn new(pool: PgPool) -> Self {
        let leaders = (pool.options().get_max_connections() as usize / 2).clamp(1, MAX_LEADERS);
        Self {
            group: Arc::new(GroupCommit::new(pool.clone(), leaders)),
            pool,
            heads: Arc::default(),
        }
    }

    fn remember(&self, stream_id: &str, head: StreamHead) {
        let mut heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        if heads.len() >= HEADS_KEPT && !heads.contains_key(stream_id) {
            heads.clear();
        }
        heads.insert(stream_id.to_owned(), head);
    }

    fn remembered(&self, stream_id: &str) -> Option<StreamHead> {
        let heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        heads.get(stream_id).cloned()
    }

    /// The heads of `streams` as the database has them now (one query).
    async fn fetch_heads(
        &self,
        streams: &[&str],
    ) -> Result<HashMap<String, StreamHead>, StoreError> {
        let rows = sqlx::query(
            "SELECT stream_id, version, last_hash FROM streams WHERE stream_id = ANY($1)",
        )
        .bind(streams)
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in &rows {
            let (id, head) = head_of(row)?;
            self.remember(&id, head.clone());
            out.insert(id, head);
        }
        Ok(out)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn replay(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError> {
        let Some(row) =
            sqlx::query("SELECT stream_id, version FROM command_log WHERE command_id = $1")
                .bind(command_id)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let stream_id: String = row.try_get("stream_id")?;
        // Only the primary stream's events: a command may also have moved linked streams.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM events WHERE command_id = $1 AND stream_id = $2 \
             ORDER BY stream_version"
        )))
        .bind(command_id)
        .bind(&stream_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(AppendOutcome {
            stream_id,
            version: row.try_get("version")?,
            events: rows.iter().map(decode).collect::<Result<_, _>>()?,
            replayed: true,
        }))
    }

    async fn write_batch(
        tx: &mut Transaction<'static, Postgres>,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: &EventMetadata,
        record_command: bool,
    ) -> Result<AppendOutcome, StoreError> {
        // Create the head row if needed, then lock it: appends to one stream queue here, appends
        // to different streams proceed in parallel.
        sqlx::query(
            "INSERT INTO streams (stream_id, version, last_hash) VALUES ($1, 0, $2) \
             ON CONFLICT (stream_id) DO NOTHING",
        )
        .bind(stream_id)
        .bind(GENESIS_HASH)
        .execute(&mut **tx)
        .await?;
        let head =
            sqlx::query("SELECT version, last_hash FROM streams WHERE stream_id = $1 FOR UPDATE")
                .bind(stream_id)
                .fetch_one(&mut **tx)
                .await?;
        let current: i64 = head.try_get("version")?;
        let last_hash: String = head.try_get("last_hash")?;
        check_expected(stream_id, expected, current)?;

        let mut sealed = seal_batch(stream_id, current, &last_hash, events, metadata, Utc::now());
        // One multi-row INSERT per chunk instead of a round trip per event; positions come back
        // by event id (RETURNING's row order is not promised).
        for chunk in sealed.chunks_mut(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Postgres>::new(
                "INSERT INTO events (event_id, stream_id, stream_version, event_type, \
                 schema_version, payload, actor_cf, actor_role, occurred_at, recorded_at, \
                 command_id, correlation_id, causation_id, prev_hash, hash) ",
            );
            q.push_values(chunk.iter(), |mut row, e| {
                row.push_bind(e.event_id)
                    .push_bind(&e.stream_id)
                    .push_bind(e.stream_version)
                    .push_bind(&e.event_type)
                    .push_bind(e.schema_version)
                    .push_bind(&e.payload)
                    .push_bind(&e.metadata.actor_cf)
                    .push_bind(&e.metadata.actor_role)
                    .push_bind(e.metadata.occurred_at)
                    .push_bind(e.recorded_at)
                    .push_bind(e.metadata.command_id)
                    .push_bind(e.metadata.correlation_id)
                    .push_bind(e.metadata.causation_id)
                    .push_bind(&e.prev_hash)
                    .push_bind(&e.hash);
            });
            q.push(" RETURNING event_id, position, transaction_id::text AS transaction_id");
            let rows = q.build().fetch_all(&mut **tx).await?;
            let mut positions = std::collections::HashMap::with_capacity(rows.len());
            for row in &rows {
                let id: Uuid = row.try_get("event_id")?;
                positions.insert(id, position_of(row)?);
            }
            for e in chunk.iter_mut() {
                e.global_position = *positions.get(&e.event_id).ok_or_else(|| {
                    StoreError::Corrupt(format!("no position returned for event {}", e.event_id))
                })?;
            }
        }
        let (version, hash) = match sealed.last() {
            Some(last) => (last.stream_version, last.hash.clone()),
            None => (current, last_hash),
        };
        sqlx::query(
            "UPDATE streams SET version = $2, last_hash = $3, updated_at = now() WHERE stream_id = $1",
        )
        .bind(stream_id)
        .bind(version)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
        if record_command {
            sqlx::query(
                "INSERT INTO command_log (command_id, stream_id, version, recorded_at) \
                 VALUES ($1, $2, $3, now())",
            )
            .bind(metadata.command_id)
            .bind(stream_id)
            .bind(version)
            .execute(&mut **tx)
            .await?;
        }
        Ok(AppendOutcome {
            stream_id: stream_id.to_owned(),
            version,
            events: sealed,
            replayed: false,
        })
    }
}

#[async_trait]
impl EventStore for PgEventStore {
    async fn append_streams(
        &self,
        primary: StreamAppend,
        linked: Vec<StreamAppend>,
        metadata: EventMetadata,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        let order: Vec<String> = linked.iter().map(|l| l.stream_id.clone()).collect();
        let parts = check_appends(primary, linked)?;
        // The heads to seal on: remembered, or (for streams not remembered at the version the
        // caller expects) asked for in one query.
        let mut known: HashMap<String, StreamHead> = HashMap::with_capacity(parts.len());
        for (_, part) in &parts {
            match (part.expected, self.remembered(&part.stream_id)) {
                (ExpectedVersion::Exact(0), None) => {
                    known.insert(part.stream_id.clone(), genesis());
                }
                (ExpectedVersion::Exact(v), Some(h)) if h.version != v => {}
                (_, Some(h)) => {
                    known.insert(part.stream_id.clone(), h);
                }
                (_, None) => {}
            }
        }
        for _ in 0..SEAL_ATTEMPTS {
            let missing: Vec<&str> = parts
                .iter()
                .map(|(_, p)| p.stream_id.as_str())
                .filter(|s| !known.contains_key(*s))
                .collect();
            if !missing.is_empty() {
                let mut fetched = self.fetch_heads(&missing).await?;
                for s in missing {
                    known.insert(s.to_owned(), fetched.remove(s).unwrap_or_else(genesis));
                }
            }
            let recorded_at = Utc::now();
            let mut sealed = Vec::with_capacity(parts.len());
            for (is_primary, part) in &parts {
                let head = &known[&part.stream_id];
                if let Err(conflict) = check_expected(&part.stream_id, part.expected, head.version)
                {
                    // A repeated command meets the version its first attempt moved on.
                    return match self.replay(metadata.command_id).await? {
                        Some(first) => Ok(vec![first]),
                        None => Err(conflict),
                    };
                }
                sealed.push(SealedPart {
                    is_primary: *is_primary,
                    stream_id: part.stream_id.clone(),
                    expected: head.version,
                    any: part.expected == ExpectedVersion::Any,
                    prev: head.hash.clone(),
                    events: seal_batch(
                        &part.stream_id,
                        head.version,
                        &head.hash,
                        part.events.clone(),
                        &metadata,
                        recorded_at,
                    ),
                });
            }
            let answer = self
                .group
                .submit(Sealed {
                    parts: sealed,
                    metadata: metadata.normalised(),
                    recorded_at: super::truncate_to_micros(recorded_at),
                })
                .await;
            match answer {
                Ok(Answer::Written(written)) => {
                    for (_, o) in &written {
                        if let Some(last) = o.events.last() {
                            self.remember(
                                &o.stream_id,
                                StreamHead {
                                    version: last.stream_version,
                                    hash: last.hash.clone(),
                                },
                            );
                        }
                    }
                    return Ok(in_call_order(&order, written));
                }
                Ok(Answer::Replayed) => {
                    return match self.replay(metadata.command_id).await? {
                        Some(first) => Ok(vec![first]),
                        None => Err(StoreError::Corrupt(format!(
                            "command {} answered as recorded but not found",
                            metadata.command_id
                        ))),
                    };
                }
                Ok(Answer::Conflict { stream_id, head }) => {
                    self.remember(&stream_id, head.clone());
                    let expected = parts
                        .iter()
                        .find(|(_, p)| p.stream_id == stream_id)
                        .map(|(_, p)| p.expected);
                    if let Some(ExpectedVersion::Exact(expected)) = expected {
                        return Err(StoreError::VersionConflict {
                            stream_id,
                            expected,
                            actual: head.version,
                        });
                    }
                    known.insert(stream_id, head);
                }
                Ok(Answer::Stale { stream_id, head }) => {
                    self.remember(&stream_id, head.clone());
                    known.insert(stream_id, head);
                }
                Err(e) => return Ok(vec![self.after_failure(metadata.command_id, e).await?]),
            }
        }
        // Still stale: the streams move faster than sealing round trips (appends of version
        // "any" to a hot stream). Lock the heads and write under the lock.
        self.append_locked(parts, order, metadata).await
    }

    async fn find_command(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError> {
        self.replay(command_id).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
             ORDER BY stream_version"
        )))
        .bind(stream_id)
        .bind(from_version)
        .fetch_all(&self.pool)
        .await?;
        let events: Vec<RecordedEvent> = rows.iter().map(decode).collect::<Result<_, _>>()?;
        if let Some(last) = events.last() {
            self.remember(
                stream_id,
                StreamHead {
                    version: last.stream_version,
                    hash: last.hash.clone(),
                },
            );
        }
        Ok(events)
    }

    async fn stream_heads(&self, prefix: &str) -> Result<Vec<(String, StreamHead)>, StoreError> {
        // `text_pattern_ops` index (migration 0008): a range scan whatever the collation.
        let rows = sqlx::query(
            "SELECT stream_id, version, last_hash FROM streams WHERE stream_id LIKE $1 \
             ORDER BY stream_id",
        )
        .bind(like_prefix(prefix))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(head_of).collect()
    }

    async fn heads_of(
        &self,
        streams: &[&str],
        prefix: &str,
    ) -> Result<Vec<(String, StreamHead)>, StoreError> {
        // `~>=~` / `~<~` compare bytes like the `text_pattern_ops` index (migration 0008)
        // orders them, so the range stays an index scan in a prepared statement's generic plan
        // (a `LIKE $1` pattern is unknown when that plan is made).
        let rows = match super::prefix_upper_bound(prefix) {
            Some(upper) => {
                sqlx::query(
                    "SELECT stream_id, version, last_hash FROM streams \
                     WHERE stream_id = ANY($1) OR (stream_id ~>=~ $2 AND stream_id ~<~ $3) \
                     ORDER BY stream_id COLLATE \"C\"",
                )
                .bind(streams)
                .bind(prefix)
                .bind(upper)
                .fetch_all(&self.pool)
                .await?
            }
            // No upper bound (an empty prefix): every stream from `prefix` on.
            None => {
                sqlx::query(
                    "SELECT stream_id, version, last_hash FROM streams \
                     WHERE stream_id = ANY($1) OR stream_id ~>=~ $2 \
                     ORDER BY stream_id COLLATE \"C\"",
                )
                .bind(streams)
                .bind(prefix)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(head_of).collect()
    }

    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(READ_ALL_SQL)
            .bind(after.transaction.to_string())
            .bind(after.position)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn stream_head(&self, stream_id: &str) -> Result<Option<StreamHead>, StoreError> {
        let row =
            sqlx::query("SELECT stream_id, version, last_hash FROM streams WHERE stream_id = $1")
                .bind(stream_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.as_ref().map(head_of).transpose()?.map(|(_, h)| h))
    }
}

impl PgEventStore {
    /// The append under the heads' locks (each part's head read `FOR UPDATE` and checked in
    /// the transaction): several round trips, but it cannot be stale.
    async fn append_locked(
        &self,
        parts: Vec<(bool, StreamAppend)>,
        order: Vec<String>,
        metadata: EventMetadata,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut written = Vec::with_capacity(parts.len());
        let mut failed = None;
        for (is_primary, part) in parts {
            match Self::write_batch(
                &mut tx,
                &part.stream_id,
                part.expected,
                part.events,
                &metadata,
                is_primary,
            )
            .await
            {
                Ok(outcome) => written.push((is_primary, outcome)),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            tx.rollback().await?;
            return Ok(vec![self.after_failure(metadata.command_id, e).await?]);
        }
        match tx.commit().await {
            Ok(()) => Ok(in_call_order(&order, written)),
            Err(e) => Ok(vec![
                self.after_failure(metadata.command_id, e.into()).await?,
            ]),
        }
    }

    /// A failed append may have lost a race with the same command id (its unique key in
    /// `command_log`): then the first attempt's outcome is the answer.
    async fn after_failure(
        &self,
        command_id: Uuid,
        err: StoreError,
    ) -> Result<AppendOutcome, StoreError> {
        if is_unique_violation(&err)
            && let Some(first) = self.replay(command_id).await?
        {
            return Ok(first);
        }
        Err(err)
    }
}

/// The head of a stream that does not exist yet.
fn genesis() -> StreamHead {
    StreamHead {
        version: 0,
        hash: GENESIS_HASH.to_owned(),
    }
}

fn head_of(r: &PgRow) -> Result<(String, StreamHead), StoreError> {
    Ok((
        r.try_get("stream_id")?,
        StreamHead {
            version: r.try_get("version")?,
            hash: r.try_get("last_hash")?,
        },
    ))
}

fn is_unique_violation(err: &StoreError) -> bool {
    matches!(err, StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
}

fn position_of(row: &PgRow) -> Result<GlobalPosition, StoreError> {
    let tx: String = row.try_get("transaction_id")?;
    Ok(GlobalPosition {
        transaction: tx
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("transaction id {tx:?} is not a number")))?,
        position: row.try_get("position")?,
    })
}

fn decode(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    Ok(RecordedEvent {
        event_id: row.try_get("event_id")?,
        stream_id: row.try_get("stream_id")?,
        stream_version: row.try_get("stream_version")?,
        global_position: position_of(row)?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        payload: row.try_get("payload")?,
        metadata: EventMetadata {
            actor_cf: row.try_get("actor_cf")?,
            actor_role: row.try_get("actor_role")?,
            occurred_at: row.try_get("occurred_at")?,
            command_id: row.try_get("command_id")?,
            correlation_id: row.try_get("correlation_id")?,
            causation_id: row.try_get("causation_id")?,
        },
        recorded_at: row.try_get("recorded_at")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
        decoded: Default::default(),
    })
}
