//! Group commit for the PostgreSQL store: appends sealed on the heads their callers decided on
//! are queued, and a few leader tasks send whatever is queued as one call of the
//! `diario_append` function (migration 0018) — one round trip and one transaction (one WAL
//! flush) for many appends, each with its own outcome (`docs/event-store.md`, "Group commit").
//!
//! A leader is a spawned task, so a caller that goes away (an HTTP client hanging up) never
//! cancels a transaction that carries other callers' appends. When a group fails as a whole
//! (a payload the database refuses, a deadlock with a concurrent creation of the same new
//! stream), each of its appends is sent again alone, so only the faulty one fails.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
use tokio::sync::{Semaphore, oneshot};
use uuid::Uuid;

use super::{AppendOutcome, EventMetadata, GENESIS_HASH, RecordedEvent, StoreError, StreamHead};

/// Appends sent in one call at most (each PL/pgSQL loop is linear in the group).
const MAX_GROUP: usize = 64;

/// One stream's part of an append, sealed on the head `expected`/`prev`.
pub(crate) struct SealedPart {
    pub is_primary: bool,
    pub stream_id: String,
    pub expected: i64,
    /// The caller accepts any version: a mismatch is answered [`Answer::Stale`].
    pub any: bool,
    pub prev: String,
    pub events: Vec<RecordedEvent>,
}

/// One append: its parts (in stream-id order) and the metadata shared by its events.
pub(crate) struct Sealed {
    pub parts: Vec<SealedPart>,
    pub metadata: EventMetadata,
    pub recorded_at: DateTime<Utc>,
}

/// How the database answered one append.
pub(crate) enum Answer {
    /// Written: the parts with their events' global positions, in the order sent.
    Written(Vec<(bool, AppendOutcome)>),
    /// A part expected an exact version the stream is not at.
    Conflict { stream_id: String, head: StreamHead },
    /// The head a part was sealed on is not the stream's: seal again on `head`.
    Stale { stream_id: String, head: StreamHead },
    /// The command id is already recorded; nothing was written.
    Replayed,
}

type Job = (Sealed, oneshot::Sender<Result<Answer, StoreError>>);

pub(crate) struct GroupCommit {
    pool: PgPool,
    queue: Mutex<VecDeque<Job>>,
    leaders: Arc<Semaphore>,
}

impl GroupCommit {
    /// `leaders` groups in flight at most (each holds one connection while it runs).
    pub fn new(pool: PgPool, leaders: usize) -> Self {
        GroupCommit {
            pool,
            queue: Mutex::new(VecDeque::new()),
            leaders: Arc::new(Semaphore::new(leaders.max(1))),
        }
    }

    /// Queues `sealed` and waits for its answer.
    pub async fn submit(self: &Arc<Self>, sealed: Sealed) -> Result<Answer, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.lock().push_back((sealed, reply));
        self.kick();
        answer
            .await
            .map_err(|_| StoreError::Interrupted("the group commit carrying the append stopped"))?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Job>> {
        // A panic while holding the lock cannot leave the queue half-changed (push and drain
        // are single calls), so a poisoned lock is still a good queue.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a leader if one may start.
    fn kick(self: &Arc<Self>) {
        if let Ok(permit) = self.leaders.clone().try_acquire_owned() {
            let me = self.clone();
            tokio::spawn(async move {
                loop {
                    let group: Vec<Job> = {
                        let mut q = me.lock();
                        let n = q.len().min(MAX_GROUP);
                        q.drain(..n).collect()
                    };
                    if group.is_empty() {
                        break;
                    }
                    me.run(group).await;
                }
                drop(permit);
                // An append queued after the last look but before the permit was returned
                // found no leader free: start one for it.
                if !me.lock().is_empty() {
                    me.kick();
                }
            });
        }
    }

    async fn run(&self, group: Vec<Job>) {
        let (sealed, replies): (Vec<Sealed>, Vec<_>) = group.into_iter().unzip();
        match call(&self.pool, &sealed).await {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
            }
            Err(e) if sealed.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, appends = sealed.len(), "group failed; sending each append alone");
                for (one, reply) in sealed.into_iter().zip(replies) {
                    let answer = call(&self.pool, std::slice::from_ref(&one))
                        .await
                        .map(|mut a| a.remove(0));
                    let _ = reply.send(answer);
                }
            }
        }
    }
}

const CALL_SQL: &str = "SELECT r_kind, r_append, r_stream, r_version, r_hash, r_event, r_tx, r_position \
     FROM diario_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
     $17, $18, $19, $20, $21, $22, $23, $24)";

/// Sends one group: one statement, one transaction.
async fn call(pool: &PgPool, group: &[Sealed]) -> Result<Vec<Answer>, StoreError> {
    let mut p = Parts::default();
    for (i, append) in group.iter().enumerate() {
        let m = &append.metadata;
        p.a_command.push(m.command_id);
        p.a_actor_cf.push(m.actor_cf.as_str());
        p.a_actor_role.push(m.actor_role.as_str());
        p.a_occurred.push(m.occurred_at);
        p.a_recorded.push(append.recorded_at);
        p.a_correlation.push(m.correlation_id);
        p.a_causation.push(m.causation_id);
        let mut primary = None;
        for part in &append.parts {
            let k = p.p_stream.len() as i32 + 1;
            if part.is_primary {
                primary = Some(k);
            }
            let last = part.events.last().ok_or(StoreError::InvalidAppend(
                "an append needs at least one event",
            ))?;
            p.p_append.push(i as i32 + 1);
            p.p_stream.push(part.stream_id.as_str());
            p.p_expected.push(part.expected);
            p.p_any.push(part.any);
            p.p_prev.push(part.prev.as_str());
            p.p_version.push(last.stream_version);
            p.p_hash.push(last.hash.as_str());
            for e in &part.events {
                p.e_part.push(k);
                p.e_event_id.push(e.event_id);
                p.e_version.push(e.stream_version);
                p.e_type.push(e.event_type.as_str());
                p.e_schema.push(e.schema_version);
                p.e_payload.push(&e.payload);
                p.e_prev.push(e.prev_hash.as_str());
                p.e_hash.push(e.hash.as_str());
            }
        }
        p.a_primary.push(primary.ok_or(StoreError::InvalidAppend(
            "an append needs a primary stream",
        ))?);
    }
    let rows = sqlx::query(CALL_SQL)
        .bind(GENESIS_HASH)
        .bind(&p.p_append)
        .bind(&p.p_stream)
        .bind(&p.p_expected)
        .bind(&p.p_any)
        .bind(&p.p_prev)
        .bind(&p.p_version)
        .bind(&p.p_hash)
        .bind(&p.a_command)
        .bind(&p.a_primary)
        .bind(&p.a_actor_cf)
        .bind(&p.a_actor_role)
        .bind(&p.a_occurred)
        .bind(&p.a_recorded)
        .bind(&p.a_correlation)
        .bind(&p.a_causation)
        .bind(&p.e_part)
        .bind(&p.e_event_id)
        .bind(&p.e_version)
        .bind(&p.e_type)
        .bind(&p.e_schema)
        .bind(&p.e_payload)
        .bind(&p.e_prev)
        .bind(&p.e_hash)
        .fetch_all(pool)
        .await?;
    answers(group, &rows)
}

/// The arrays of one call (see the function's parameters).
#[derive(Default)]
struct Parts<'a> {
    p_append: Vec<i32>,
    p_stream: Vec<&'a str>,
    p_expected: Vec<i64>,
    p_any: Vec<bool>,
    p_prev: Vec<&'a str>,
    p_version: Vec<i64>,
    p_hash: Vec<&'a str>,
    a_command: Vec<Uuid>,
    a_primary: Vec<i32>,
    a_actor_cf: Vec<&'a str>,
    a_actor_role: Vec<&'a str>,
    a_occurred: Vec<DateTime<Utc>>,
    a_recorded: Vec<DateTime<Utc>>,
    a_correlation: Vec<Uuid>,
    a_causation: Vec<Option<Uuid>>,
    e_part: Vec<i32>,
    e_event_id: Vec<Uuid>,
    e_version: Vec<i64>,
    e_type: Vec<&'a str>,
    e_schema: Vec<i32>,
    e_payload: Vec<&'a serde_json::Value>,
    e_prev: Vec<&'a str>,
    e_hash: Vec<&'a str>,
}

/// One append's answer row: its kind and, for a refusal, the stream and its head.
type AnswerRow = (String, Option<(String, StreamHead)>);

/// Reads the function's rows back into one answer per append.
fn answers(group: &[Sealed], rows: &[PgRow]) -> Result<Vec<Answer>, StoreError> {
    let mut kinds: Vec<Option<AnswerRow>> = (0..group.len()).map(|_| None).collect();
    let mut positions = HashMap::new();
    for row in rows {
        let kind: String = row.try_get("r_kind")?;
        if kind == "event" {
            let id: Uuid = row.try_get("r_event")?;
            let tx: String = row.try_get("r_tx")?;
            let transaction = tx.parse().map_err(|_| {
                StoreError::Corrupt(format!("transaction id {tx:?} is not a number"))
            })?;
            positions.insert(
                id,
                super::GlobalPosition {
                    transaction,
                    position: row.try_get("r_position")?,
                },
            );
            continue;
        }
        let i: i32 = row.try_get("r_append")?;
        let slot = usize::try_from(i - 1)
            .ok()
            .and_then(|i| kinds.get_mut(i))
            .ok_or_else(|| StoreError::Corrupt(format!("append {i} answered but not sent")))?;
        let head = match row.try_get::<Option<String>, _>("r_stream")? {
            Some(stream) => Some((
                stream,
                StreamHead {
                    version: row.try_get("r_version")?,
                    hash: row.try_get("r_hash")?,
                },
            )),
            None => None,
        };
        *slot = Some((kind, head));
    }
    group
        .iter()
        .zip(kinds)
        .map(|(append, kind)| {
            let (kind, head) =
                kind.ok_or_else(|| StoreError::Corrupt("an append got no answer".into()))?;
            let refused = |make: fn(String, StreamHead) -> Answer| {
                head.clone()
                    .map(|(s, h)| make(s, h))
                    .ok_or_else(|| StoreError::Corrupt(format!("'{kind}' without a head")))
            };
            match kind.as_str() {
                "ok" => written(append, &positions).map(Answer::Written),
                "replayed" => Ok(Answer::Replayed),
                "conflict" => refused(|stream_id, head| Answer::Conflict { stream_id, head }),
                "stale" => refused(|stream_id, head| Answer::Stale { stream_id, head }),
                other => Err(StoreError::Corrupt(format!("unknown answer {other:?}"))),
            }
        })
        .collect()
}

fn written(
    append: &Sealed,
    positions: &HashMap<Uuid, super::GlobalPosition>,
) -> Result<Vec<(bool, AppendOutcome)>, StoreError> {
    append
        .parts
        .iter()
        .map(|part| {
            let events = part
                .events
                .iter()
                .map(|e| {
                    let position = positions.get(&e.event_id).ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "no position returned for event {}",
                            e.event_id
                        ))
                    })?;
                    Ok(RecordedEvent {
                        global_position: *position,
                        ..e.clone()
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let version = events.last().map_or(part.expected, |e| e.stream_version);
            Ok((
                part.is_primary,
                AppendOutcome {
                    stream_id: part.stream_id.clone(),
                    version,
                    events,
                    replayed: false,
                },
            ))
        })
        .collect()
}
