//! SQLite event store (the embedded default).
//!
//! Appends run in `BEGIN IMMEDIATE` transactions: SQLite admits one writer at a time, so
//! positions are handed out in commit order and a subscriber reading `position > checkpoint`
//! can never skip an event. Identifiers and instants are stored as text.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use crate::time::instant_text;

use super::{
    AppendOutcome, EventMetadata, EventStore, ExpectedVersion, GENESIS_HASH, GlobalPosition,
    NewEvent, RecordedEvent, StoreError, StreamAppend, StreamHead, check_appends, check_expected,
    in_call_order, prefix_upper_bound, seal_batch,
};

/// Embedded migrations for SQLite (`migrations/sqlite`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

const COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
    schema_version, payload, actor_cf, actor_role, occurred_at, recorded_at, command_id, \
    correlation_id, causation_id, prev_hash, hash";

#[derive(Clone)]
pub struct SqliteEventStore {
    pool: SqlitePool,
}

impl SqliteEventStore {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn replay(
        conn: &mut SqliteConnection,
        command_id: Uuid,
    ) -> Result<Option<AppendOutcome>, StoreError> {
        let Some(row) =
            sqlx::query("SELECT stream_id, version FROM command_log WHERE command_id = ?")
                .bind(command_id.to_string())
                .fetch_optional(&mut *conn)
                .await?
        else {
            return Ok(None);
        };
        let stream_id: String = row.try_get("stream_id")?;
        // Only the primary stream's events: a command may also have moved linked streams.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM events WHERE command_id = ? AND stream_id = ? \
             ORDER BY stream_version"
        )))
        .bind(command_id.to_string())
        .bind(&stream_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(Some(AppendOutcome {
            stream_id,
            version: row.try_get("version")?,
            events: rows.iter().map(decode).collect::<Result<_, _>>()?,
            replayed: true,
        }))
    }

    async fn write_batch(
        tx: &mut Transaction<'static, Sqlite>,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: &EventMetadata,
        record_command: bool,
    ) -> Result<AppendOutcome, StoreError> {
        let now = Utc::now();
        let head = sqlx::query("SELECT version, last_hash FROM streams WHERE stream_id = ?")
            .bind(stream_id)
            .fetch_optional(&mut **tx)
            .await?;
        let (current, last_hash) = match head {
            Some(r) => (
                r.try_get::<i64, _>("version")?,
                r.try_get::<String, _>("last_hash")?,
            ),
            None => (0, GENESIS_HASH.to_owned()),
        };
        check_expected(stream_id, expected, current)?;

        let mut sealed = seal_batch(stream_id, current, &last_hash, events, metadata, now);
        for e in &mut sealed {
            let row = sqlx::query(
                "INSERT INTO events (event_id, stream_id, stream_version, event_type, \
                 schema_version, payload, actor_cf, actor_role, occurred_at, recorded_at, \
                 command_id, correlation_id, causation_id, prev_hash, hash) \
                 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING position",
            )
            .bind(e.event_id.to_string())
            .bind(&e.stream_id)
            .bind(e.stream_version)
            .bind(&e.event_type)
            .bind(e.schema_version)
            .bind(e.payload.to_string())
            .bind(&e.metadata.actor_cf)
            .bind(&e.metadata.actor_role)
            .bind(instant_text(e.metadata.occurred_at))
            .bind(instant_text(e.recorded_at))
            .bind(e.metadata.command_id.to_string())
            .bind(e.metadata.correlation_id.to_string())
            .bind(e.metadata.causation_id.map(|c| c.to_string()))
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .fetch_one(&mut **tx)
            .await?;
            e.global_position = GlobalPosition {
                transaction: 0,
                position: row.try_get("position")?,
            };
        }
        let (version, hash) = match sealed.last() {
            Some(last) => (last.stream_version, last.hash.clone()),
            None => (current, last_hash),
        };
        sqlx::query(
            "INSERT INTO streams (stream_id, version, last_hash, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, \
             last_hash = excluded.last_hash, updated_at = excluded.updated_at",
        )
        .bind(stream_id)
        .bind(version)
        .bind(&hash)
        .bind(instant_text(now))
        .execute(&mut **tx)
        .await?;
        if record_command {
            sqlx::query(
                "INSERT INTO command_log (command_id, stream_id, version, recorded_at) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(metadata.command_id.to_string())
            .bind(stream_id)
            .bind(version)
            .bind(instant_text(now))
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
impl EventStore for SqliteEventStore {
    async fn append_streams(
        &self,
        primary: StreamAppend,
        linked: Vec<StreamAppend>,
        metadata: EventMetadata,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        let order: Vec<String> = linked.iter().map(|l| l.stream_id.clone()).collect();
        let parts = check_appends(primary, linked)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // Inside BEGIN IMMEDIATE this transaction is the only writer, so checking the command
        // id and the versions here cannot race.
        if let Some(first) = Self::replay(&mut tx, metadata.command_id).await? {
            tx.rollback().await?;
            return Ok(vec![first]);
        }
        let mut written = Vec::with_capacity(parts.len());
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
                    tx.rollback().await?;
                    return Err(e);
                }
            }
        }
        tx.commit().await?;
        Ok(in_call_order(&order, written))
    }

    async fn find_command(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::replay(&mut conn, command_id).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM events WHERE stream_id = ? AND stream_version >= ? \
             ORDER BY stream_version"
        )))
        .bind(stream_id)
        .bind(from_version)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    async fn stream_heads(&self, prefix: &str) -> Result<Vec<(String, StreamHead)>, StoreError> {
        // A range on the BINARY-collated key uses the primary key; LIKE would not (it is
        // case-insensitive in SQLite).
        let rows = match prefix_upper_bound(prefix) {
            Some(upper) => {
                sqlx::query(
                    "SELECT stream_id, version, last_hash FROM streams \
                     WHERE stream_id >= ? AND stream_id < ? ORDER BY stream_id",
                )
                .bind(prefix)
                .bind(upper)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT stream_id, version, last_hash FROM streams WHERE stream_id >= ? \
                     ORDER BY stream_id",
                )
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
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"
        )))
        .bind(after.position)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    async fn stream_head(&self, stream_id: &str) -> Result<Option<StreamHead>, StoreError> {
        let row =
            sqlx::query("SELECT stream_id, version, last_hash FROM streams WHERE stream_id = ?")
                .bind(stream_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.as_ref().map(head_of).transpose()?.map(|(_, h)| h))
    }
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, StoreError> {
    crate::time::parse_instant(s)
        .ok_or_else(|| StoreError::Corrupt(format!("instant {s:?} is not RFC 3339")))
}

fn head_of(r: &SqliteRow) -> Result<(String, StreamHead), StoreError> {
    Ok((
        r.try_get("stream_id")?,
        StreamHead {
            version: r.try_get("version")?,
            hash: r.try_get("last_hash")?,
        },
    ))
}

fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|_| StoreError::Corrupt(format!("id {s:?} is not a UUID")))
}

fn decode(row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
    let text = |col: &str| -> Result<String, StoreError> { Ok(row.try_get(col)?) };
    let causation: Option<String> = row.try_get("causation_id")?;
    let payload: String = row.try_get("payload")?;
    Ok(RecordedEvent {
        event_id: parse_uuid(&text("event_id")?)?,
        stream_id: text("stream_id")?,
        stream_version: row.try_get("stream_version")?,
        global_position: GlobalPosition {
            transaction: 0,
            position: row.try_get("position")?,
        },
        event_type: text("event_type")?,
        schema_version: row.try_get("schema_version")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("payload is not JSON: {e}")))?,
        metadata: EventMetadata {
            actor_cf: text("actor_cf")?,
            actor_role: text("actor_role")?,
            occurred_at: parse_instant(&text("occurred_at")?)?,
            command_id: parse_uuid(&text("command_id")?)?,
            correlation_id: parse_uuid(&text("correlation_id")?)?,
            causation_id: causation.as_deref().map(parse_uuid).transpose()?,
        },
        recorded_at: parse_instant(&text("recorded_at")?)?,
        prev_hash: text("prev_hash")?,
        hash: text("hash")?,
        decoded: Default::default(),
    })
}
