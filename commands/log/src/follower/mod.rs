//! Followers of the log: everything that reads the global log in order and keeps something of
//! its own up to date — the read models, the deadline scheduler's watch list, the FirmaLOM
//! outbox. One mechanism for all of them: a named checkpoint, batches, a compare-and-set that
//! moves the checkpoint in the same transaction as the follower's writes, leadership on
//! PostgreSQL, and lag.
//!
//! Exactly-once application: a batch is read with `EventStore::read_all` after the stored
//! checkpoint, then ONE transaction locks the checkpoint row, checks it has not moved (another
//! runner or a rebuild may have moved it), applies the batch and moves the checkpoint to the
//! last event of the batch. A crash before commit loses nothing (the batch is read again), a
//! crash after commit cannot apply it twice (the checkpoint moved with it). Leadership only
//! avoids wasted work; correctness rests on that compare-and-set.

mod lag;
mod leadership;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::codec::CodecError;
use crate::db::Database;
use crate::sql::Tx;
use crate::store::{EventStore, GlobalPosition, RecordedEvent, StoreError};

pub use lag::{FollowerLag, gauge, lag_at, lag_metrics};
use leadership::Leadership;
pub use leadership::{LeaderInfo, instance_name, leaders, leadership_key};

/// Events read and applied per transaction.
pub const DEFAULT_BATCH_SIZE: i64 = 2000;

/// Why a follower could not apply a batch.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("{0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for FollowError {
    fn from(e: sqlx::Error) -> Self {
        FollowError::Store(e.into())
    }
}

/// Who a follower is: its name and the tables it owns.
#[derive(Debug)]
pub struct FollowerSpec {
    /// Stable name: the checkpoint key, the leadership key, the argument of `diario rebuild`.
    pub name: &'static str,
    /// The tables a rebuild empties (in this order). Followers whose rows must never be
    /// thrown away (the outbox and its delivery log) list none.
    pub tables: &'static [&'static str],
}

/// What `prepare` computed for the batch that `apply` gets next (the runner calls the two one
/// after the other on the same follower for one batch).
#[derive(Debug, Default)]
pub struct Prepared<T>(std::sync::Mutex<T>);

impl<T: Default> Prepared<T> {
    /// Keeps `value` for the coming `apply`.
    pub fn set(&self, value: T) -> Result<(), FollowError> {
        self.with(|held| *held = value)
    }

    /// Works on what is kept.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, FollowError> {
        let mut held = self
            .0
            .lock()
            .map_err(|_| FollowError::Corrupt("a follower's prepared batch is poisoned".into()))?;
        Ok(f(&mut held))
    }

    /// Takes what is kept, leaving the default.
    pub fn take(&self) -> Result<T, FollowError> {
        self.with(std::mem::take)
    }
}

/// Implements [`Follower::spec`] in a `Follower` impl: `follower_spec!(NAME, &TABLES);`.
#[macro_export]
macro_rules! follower_spec {
    ($name:expr, $tables:expr) => {
        fn spec(&self) -> &'static $crate::FollowerSpec {
            const SPEC: $crate::FollowerSpec = $crate::FollowerSpec {
                name: $name,
                tables: $tables,
            };
            &SPEC
        }
    };
}

/// Something fed by the global log.
#[async_trait]
pub trait Follower: Send + Sync {
    /// Its name and tables.
    fn spec(&self) -> &'static FollowerSpec;

    /// See [`FollowerSpec::name`].
    fn name(&self) -> &'static str {
        self.spec().name
    }

    /// See [`FollowerSpec::tables`].
    fn tables(&self) -> &'static [&'static str] {
        self.spec().tables
    }

    /// Called with the same events before the batch's transaction opens: a follower that must
    /// read the event store (not only the batch) does it here, through the pool, so that
    /// `apply` never needs a second connection while it holds the transaction's.
    async fn prepare(
        &self,
        _events: &[RecordedEvent],
        _store: &dyn EventStore,
    ) -> Result<(), FollowError> {
        Ok(())
    }

    /// Applies a batch of events, in global order, inside `tx` (the same transaction that moves
    /// the checkpoint). Events of streams the follower does not handle are ignored.
    async fn apply(&self, events: &[RecordedEvent], tx: &mut Tx) -> Result<(), FollowError>;
}

/// A follower's checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Follower name.
    pub follower: String,
    /// Last applied global position (`GlobalPosition::START` before the first event).
    pub position: GlobalPosition,
    /// Events applied since the last rebuild (including skipped ones of other streams).
    pub events_applied: i64,
}

fn position_from(tx_id: i64, pos: i64) -> Result<GlobalPosition, StoreError> {
    Ok(GlobalPosition {
        transaction: u64::try_from(tx_id)
            .map_err(|_| StoreError::Corrupt(format!("checkpoint transaction id {tx_id}")))?,
        position: pos,
    })
}

fn transaction_i64(p: GlobalPosition) -> Result<i64, StoreError> {
    i64::try_from(p.transaction)
        .map_err(|_| StoreError::Corrupt(format!("transaction id {} too large", p.transaction)))
}

/// Reads a follower's checkpoint (START when it never ran).
pub async fn checkpoint(db: &Database, name: &str) -> Result<Checkpoint, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT transaction_id, position, events_applied FROM projection_checkpoints \
             WHERE projection = $1",
            &[name.into()],
        )
        .await?;
    Ok(match row {
        Some(r) => Checkpoint {
            follower: name.to_owned(),
            position: position_from(r.i64("transaction_id")?, r.i64("position")?)?,
            events_applied: r.i64("events_applied")?,
        },
        None => Checkpoint {
            follower: name.to_owned(),
            position: GlobalPosition::START,
            events_applied: 0,
        },
    })
}

/// Locks the checkpoint row inside `tx` (creating it if missing) and returns its position.
async fn lock_checkpoint(tx: &mut Tx, name: &str) -> Result<GlobalPosition, StoreError> {
    tx.exec(
        "INSERT INTO projection_checkpoints (projection, transaction_id, position, events_applied) \
         VALUES ($1, 0, 0, 0) ON CONFLICT (projection) DO NOTHING",
        &[name.into()],
    )
    .await?;
    let sql = if tx.is_postgres() {
        "SELECT transaction_id, position FROM projection_checkpoints WHERE projection = $1 \
         FOR UPDATE"
    } else {
        // BEGIN IMMEDIATE already holds SQLite's single write lock.
        "SELECT transaction_id, position FROM projection_checkpoints WHERE projection = $1"
    };
    let row = tx
        .fetch_optional(sql, &[name.into()])
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("checkpoint of {name} vanished")))?;
    position_from(row.i64("transaction_id")?, row.i64("position")?)
}

async fn move_checkpoint(
    tx: &mut Tx,
    name: &str,
    to: GlobalPosition,
    applied: usize,
) -> Result<(), StoreError> {
    let applied =
        i64::try_from(applied).map_err(|_| StoreError::Corrupt("batch larger than i64".into()))?;
    tx.exec(
        "UPDATE projection_checkpoints SET transaction_id = $2, position = $3, \
         events_applied = events_applied + $4, updated_at = $5 WHERE projection = $1",
        &[
            name.into(),
            transaction_i64(to)?.into(),
            to.position.into(),
            applied.into(),
            Utc::now().into(),
        ],
    )
    .await?;
    Ok(())
}

/// A batch read ahead: the events after `after`, read while the previous batch was applied.
type ReadAhead = Option<(GlobalPosition, Vec<RecordedEvent>)>;

/// A group of followers fed by one pass over the log.
type Group<'a> = [&'a dyn Follower];

fn refs(followers: &[Arc<dyn Follower>]) -> Vec<&dyn Follower> {
    followers.iter().map(|p| p.as_ref()).collect()
}

/// Applies at most one batch to a group of followers in ONE pass: the log is read once from
/// the lowest of their checkpoints, and one transaction applies to each follower the events
/// after its own checkpoint and moves every checkpoint (each under its own compare-and-set).
/// Returns the number of events read (0 when every follower is caught up).
///
/// Reading the log once instead of once per follower, and committing once per batch, is what
/// makes a rebuild of all read models cost little more than the slowest of them
/// (BENCHMARKS.md). A follower that fails makes the whole batch fail: the live runner then
/// falls back to one follower at a time so the healthy ones go on.
pub async fn run_batch(
    db: &Database,
    store: &dyn EventStore,
    followers: &[Arc<dyn Follower>],
    batch_size: i64,
) -> Result<usize, FollowError> {
    batch(db, store, &refs(followers), batch_size, &mut None, false).await
}

/// [`run_batch`], reading the next batch (from where this one ends) while this one is applied,
/// so the database and the runner work at the same time during a catch-up. A batch read ahead
/// is used only if the checkpoints are where it starts; an empty one is never trusted (on
/// PostgreSQL it may have been read while this batch's own transaction held younger events
/// back).
async fn batch(
    db: &Database,
    store: &dyn EventStore,
    followers: &Group<'_>,
    batch_size: i64,
    ahead: &mut ReadAhead,
    read_ahead: bool,
) -> Result<usize, FollowError> {
    if followers.is_empty() {
        return Ok(0);
    }
    // Lock checkpoint rows in one order everywhere, so two runners cannot deadlock.
    let mut group: Vec<&dyn Follower> = followers.to_vec();
    group.sort_by_key(|p| p.name());
    loop {
        let mut seen = Vec::with_capacity(group.len());
        for p in &group {
            seen.push(checkpoint(db, p.name()).await?.position);
        }
        let Some(from) = seen.iter().min().copied() else {
            return Ok(0);
        };
        let events = match ahead.take() {
            Some((after, events)) if after == from && !events.is_empty() => events,
            _ => store.read_all(from, batch_size).await?,
        };
        let Some(last) = events.last() else {
            return Ok(0);
        };
        let to = last.global_position;
        // A full batch: more are probably waiting.
        let read_ahead = read_ahead && events.len() as i64 == batch_size;
        // Events are in global order: each follower's share starts after its checkpoint.
        let share =
            |at: &GlobalPosition| &events[events.partition_point(|e| e.global_position <= *at)..];
        for (p, at) in group.iter().zip(&seen) {
            p.prepare(share(at), store).await?;
        }
        let mut tx = Tx::begin(db).await?;
        let mut moved = false;
        for (p, at) in group.iter().zip(&seen) {
            if lock_checkpoint(&mut tx, p.name()).await? != *at {
                moved = true;
                break;
            }
        }
        if moved {
            // Someone else (another runner, a rebuild) moved one: read again.
            tx.rollback().await?;
            continue;
        }
        let apply = async {
            for (p, at) in group.iter().zip(&seen) {
                let mine = share(at);
                if mine.is_empty() {
                    continue;
                }
                p.apply(mine, &mut tx).await?;
                move_checkpoint(&mut tx, p.name(), to, mine.len()).await?;
            }
            Ok::<(), FollowError>(())
        };
        let next = async {
            if read_ahead {
                Some(store.read_all(to, batch_size).await)
            } else {
                None
            }
        };
        let (applied, next) = tokio::join!(apply, next);
        if let Err(e) = applied {
            tx.rollback().await?;
            return Err(e);
        }
        tx.commit().await?;
        if let Some(Ok(next)) = next {
            *ahead = Some((to, next));
        }
        return Ok(events.len());
    }
}

/// Batches (reading ahead) until `read_all` hands out nothing more; returns the events read.
pub async fn catch_up(
    db: &Database,
    store: &dyn EventStore,
    followers: &[Arc<dyn Follower>],
) -> Result<u64, FollowError> {
    catch_up_group(db, store, &refs(followers)).await
}

async fn catch_up_group(
    db: &Database,
    store: &dyn EventStore,
    group: &Group<'_>,
) -> Result<u64, FollowError> {
    let mut total = 0u64;
    let mut ahead = None;
    loop {
        let n = batch(db, store, group, DEFAULT_BATCH_SIZE, &mut ahead, true).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// Catches up until no event is left after any checkpoint of the group, waiting up to
/// `max_wait` for events `read_all` does not hand out yet. On PostgreSQL `read_all` stops below
/// the oldest transaction still running anywhere on the server, so an empty batch does not mean
/// the end of the log; this keeps polling (every 50 ms) while the lag is not zero.
pub async fn catch_up_to_end(
    db: &Database,
    store: &dyn EventStore,
    followers: &[Arc<dyn Follower>],
    max_wait: Duration,
) -> Result<u64, FollowError> {
    let group = refs(followers);
    let deadline = tokio::time::Instant::now() + max_wait;
    let mut total = 0;
    loop {
        total += catch_up_group(db, store, &group).await?;
        let mut behind = 0;
        for p in &group {
            behind += lag::events_behind(db, &checkpoint(db, p.name()).await?)
                .await?
                .0;
        }
        if behind == 0 || tokio::time::Instant::now() >= deadline {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Empties a follower's tables and resets its checkpoint in one transaction (a concurrent
/// runner's batch then fails its checkpoint check and starts over from zero).
pub async fn reset(db: &Database, follower: &dyn Follower) -> Result<(), StoreError> {
    let mut tx = Tx::begin(db).await?;
    lock_checkpoint(&mut tx, follower.name()).await?;
    for table in follower.tables() {
        tx.exec(&format!("DELETE FROM {table}"), &[]).await?;
    }
    tx.exec(
        "UPDATE projection_checkpoints SET transaction_id = 0, position = 0, \
         events_applied = 0, updated_at = $2 WHERE projection = $1",
        &[follower.name().into(), Utc::now().into()],
    )
    .await?;
    tx.commit().await
}

/// Rebuilds followers from zero in ONE pass over the log: reset each, then catch up together to
/// the end. Returns the events applied per follower.
pub async fn rebuild(
    db: &Database,
    store: &dyn EventStore,
    followers: &[Arc<dyn Follower>],
) -> Result<BTreeMap<String, u64>, FollowError> {
    for p in followers {
        reset(db, p.as_ref()).await?;
    }
    catch_up_to_end(db, store, followers, Duration::from_secs(30)).await?;
    let mut out = BTreeMap::new();
    for p in followers {
        let applied = checkpoint(db, p.name()).await?.events_applied;
        let applied = u64::try_from(applied)
            .map_err(|_| FollowError::Corrupt(format!("{} applied {applied} events", p.name())))?;
        out.insert(p.name().to_owned(), applied);
    }
    Ok(out)
}

/// Options of the long-running runner.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Sleep between polls when caught up (or not leader).
    pub poll_interval: Duration,
    /// Events per transaction.
    pub batch_size: i64,
    /// Batches per loop turn (keeps leadership checks frequent).
    pub max_batches_per_turn: usize,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            poll_interval: Duration::from_millis(200),
            batch_size: DEFAULT_BATCH_SIZE,
            max_batches_per_turn: 20,
        }
    }
}

/// Starts the live loop of a group of followers (leader-only on PostgreSQL). Ends when
/// `shutdown` becomes true (or its sender is dropped).
pub fn spawn(
    db: Database,
    store: Arc<dyn EventStore>,
    followers: Vec<Arc<dyn Follower>>,
    options: RunnerOptions,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let names: Vec<&'static str> = followers.iter().map(|p| p.name()).collect();
        let mut leadership = Leadership::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let led = leadership.refresh(&db, &names).await;
            let mine: Vec<Arc<dyn Follower>> = followers
                .iter()
                .filter(|p| led.contains(&p.name()))
                .cloned()
                .collect();
            let busy = turn(&db, store.as_ref(), &mine, &options).await;
            if busy {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(options.poll_interval) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        leadership.release().await;
    })
}

/// One turn of the live loop: batches for the whole group; if that fails, one follower at a
/// time, so that one failing follower does not hold the others back. True when work was done.
async fn turn(
    db: &Database,
    store: &dyn EventStore,
    mine: &[Arc<dyn Follower>],
    options: &RunnerOptions,
) -> bool {
    let mut busy = false;
    let mut failed = false;
    let group = refs(mine);
    let mut ahead = None;
    for _ in 0..options.max_batches_per_turn {
        match batch(db, store, &group, options.batch_size, &mut ahead, true).await {
            Ok(0) => break,
            Ok(_) => busy = true,
            Err(e) => {
                tracing::warn!(error = %e, "follower batch failed; applying one follower at a time");
                failed = true;
                break;
            }
        }
    }
    if !failed {
        return busy;
    }
    for p in &group {
        for _ in 0..options.max_batches_per_turn {
            match batch(db, store, &[*p], options.batch_size, &mut None, false).await {
                Ok(0) => break,
                Ok(_) => busy = true,
                Err(e) => {
                    tracing::error!(follower = p.name(), error = %e, "follower batch failed");
                    break;
                }
            }
        }
    }
    busy
}
