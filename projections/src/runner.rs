//! The projection runner: per-projection checkpoints, catch-up in batches, rebuild, lag, and
//! the long-running loop of `diario serve` with advisory-lock leadership on PostgreSQL.
//!
//! Exactly-once application: a batch is read with `EventStore::read_all` after the stored
//! checkpoint, then ONE transaction locks the checkpoint row, checks it has not moved (another
//! runner or a rebuild may have moved it), applies the batch to the read-model tables and moves
//! the checkpoint to the last event of the batch. A crash before commit loses nothing (the batch
//! is read again), a crash after commit cannot apply it twice (the checkpoint moved with it).
//! Leadership only avoids wasted work; correctness rests on that compare-and-set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diario_commands::{Database, EventStore, GlobalPosition, RecordedEvent};
use serde::Serialize;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::ProjectionError;
use crate::sql::{Tx, Val, fetch_all, fetch_optional};

/// Events read and applied per transaction.
pub const DEFAULT_BATCH_SIZE: i64 = 2000;

/// A read model fed by the global log.
#[async_trait]
pub trait Projection: Send + Sync {
    /// Stable name: the checkpoint key and the argument of `diario rebuild`.
    fn name(&self) -> &'static str;

    /// The tables this projection owns (emptied by a rebuild, in this order).
    fn tables(&self) -> &'static [&'static str];

    /// Called with the same events before the batch's transaction opens: a projection that
    /// must read the event store (not only the batch) does it here, through the pool, so that
    /// `apply` never needs a second connection while it holds the transaction's.
    async fn prepare(
        &self,
        _events: &[RecordedEvent],
        _store: &dyn EventStore,
    ) -> Result<(), ProjectionError> {
        Ok(())
    }

    /// Applies a batch of events, in global order, inside `tx` (the same transaction that moves
    /// the checkpoint). Events of streams the projection does not handle are ignored.
    async fn apply(
        &self,
        events: &[RecordedEvent],
        store: &dyn EventStore,
        tx: &mut Tx,
    ) -> Result<(), ProjectionError>;
}

/// A projection's checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Projection name.
    pub projection: String,
    /// Last applied global position (`GlobalPosition::START` before the first event).
    pub position: GlobalPosition,
    /// Events applied since the last rebuild (including skipped ones of other streams).
    pub events_applied: i64,
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn position_from(tx_id: i64, pos: i64) -> GlobalPosition {
    GlobalPosition {
        transaction: u64::try_from(tx_id).unwrap_or(0),
        position: pos,
    }
}

/// Reads a projection's checkpoint (START when it never ran).
pub async fn checkpoint(db: &Database, name: &str) -> Result<Checkpoint, ProjectionError> {
    let row = fetch_optional(
        db,
        "SELECT transaction_id, position, events_applied FROM projection_checkpoints \
         WHERE projection = $1",
        &[name.into()],
    )
    .await?;
    Ok(match row {
        Some(r) => Checkpoint {
            projection: name.to_owned(),
            position: position_from(r.i64("transaction_id")?, r.i64("position")?),
            events_applied: r.i64("events_applied")?,
        },
        None => Checkpoint {
            projection: name.to_owned(),
            position: GlobalPosition::START,
            events_applied: 0,
        },
    })
}

/// Locks the checkpoint row inside `tx` (creating it if missing) and returns its position.
async fn lock_checkpoint(tx: &mut Tx, name: &str) -> Result<GlobalPosition, ProjectionError> {
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
        .ok_or_else(|| ProjectionError::Corrupt(format!("checkpoint of {name} vanished")))?;
    Ok(position_from(
        row.i64("transaction_id")?,
        row.i64("position")?,
    ))
}

async fn move_checkpoint(
    tx: &mut Tx,
    name: &str,
    to: GlobalPosition,
    applied: i64,
) -> Result<(), ProjectionError> {
    let now = Utc::now();
    tx.exec(
        "UPDATE projection_checkpoints SET transaction_id = $2, position = $3, \
         events_applied = events_applied + $4, updated_at = $5 WHERE projection = $1",
        &[
            name.into(),
            to_i64(to.transaction).into(),
            to.position.into(),
            applied.into(),
            now.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Applies at most one batch. Returns the number of events applied (0 when caught up).
pub async fn run_batch(
    db: &Database,
    store: &dyn EventStore,
    projection: &dyn Projection,
    batch_size: i64,
) -> Result<usize, ProjectionError> {
    batch_together(db, store, &[projection], batch_size, &mut None, false).await
}

/// Applies at most one batch to several projections in ONE pass: the log is read once from the
/// lowest of their checkpoints, and one transaction applies to each projection the events
/// after its own checkpoint and moves every checkpoint (each under the same compare-and-set as
/// [`run_batch`]). Returns the number of events read (0 when every projection is caught up).
///
/// Reading the log once instead of once per projection, and committing once per batch, is
/// what makes a rebuild of all read models cost little more than the slowest of them
/// (BENCHMARKS.md). A projection that fails makes the whole batch fail: the live runner then
/// falls back to [`run_batch`] per projection so the healthy ones go on.
pub async fn run_batch_together(
    db: &Database,
    store: &dyn EventStore,
    projections: &[Arc<dyn Projection>],
    batch_size: i64,
) -> Result<usize, ProjectionError> {
    batch_together(db, store, &refs(projections), batch_size, &mut None, false).await
}

/// A batch read ahead: the events after `after`, read while the previous batch was applied.
type ReadAhead = Option<(GlobalPosition, Vec<RecordedEvent>)>;

/// [`run_batch_together`], reading the next batch (from where this one ends) while this one is
/// applied, so the database and the runner work at the same time during a catch-up. A batch
/// read ahead is used only if the checkpoints are where it starts; an empty one is never
/// trusted (on PostgreSQL it may have been read while this batch's own transaction held
/// younger events back).
async fn batch_together(
    db: &Database,
    store: &dyn EventStore,
    projections: &[&dyn Projection],
    batch_size: i64,
    ahead: &mut ReadAhead,
    read_ahead: bool,
) -> Result<usize, ProjectionError> {
    if projections.is_empty() {
        return Ok(0);
    }
    // Lock checkpoint rows in one order everywhere, so two runners cannot deadlock.
    let mut group: Vec<&dyn Projection> = projections.to_vec();
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
        for (p, at) in group.iter().zip(&seen) {
            let start = events.partition_point(|e| e.global_position <= *at);
            p.prepare(&events[start..], store).await?;
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
                // Events are in global order: this projection's share starts after its
                // checkpoint.
                let start = events.partition_point(|e| e.global_position <= *at);
                let mine = &events[start..];
                if mine.is_empty() {
                    continue;
                }
                p.apply(mine, store, &mut tx).await?;
                move_checkpoint(&mut tx, p.name(), to, mine.len() as i64).await?;
            }
            Ok::<(), ProjectionError>(())
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

/// Catches up several projections together (see [`run_batch_together`]); returns the events
/// read.
pub async fn run_catch_up_together(
    db: &Database,
    store: &dyn EventStore,
    projections: &[Arc<dyn Projection>],
) -> Result<u64, ProjectionError> {
    catch_up_group(db, store, &refs(projections)).await
}

/// Applies every event after the projection's checkpoint; returns how many were applied.
pub async fn run_catch_up(
    db: &Database,
    store: &dyn EventStore,
    projection: &dyn Projection,
) -> Result<u64, ProjectionError> {
    catch_up_group(db, store, &[projection]).await
}

fn refs(projections: &[Arc<dyn Projection>]) -> Vec<&dyn Projection> {
    projections.iter().map(|p| p.as_ref()).collect()
}

/// Batches (reading ahead) until `read_all` hands out nothing more; returns the events read.
async fn catch_up_group(
    db: &Database,
    store: &dyn EventStore,
    group: &[&dyn Projection],
) -> Result<u64, ProjectionError> {
    let mut total = 0u64;
    let mut ahead = None;
    loop {
        let n = batch_together(db, store, group, DEFAULT_BATCH_SIZE, &mut ahead, true).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// [`catch_up_group`] until no event is left after any checkpoint of the group, waiting up to
/// `max_wait` for events `read_all` does not hand out yet (see [`run_catch_up_to_end`]).
async fn catch_up_group_to_end(
    db: &Database,
    store: &dyn EventStore,
    group: &[&dyn Projection],
    max_wait: Duration,
) -> Result<u64, ProjectionError> {
    let deadline = tokio::time::Instant::now() + max_wait;
    let mut total = 0;
    loop {
        total += catch_up_group(db, store, group).await?;
        let mut behind = 0;
        for p in group {
            behind += events_behind(db, &checkpoint(db, p.name()).await?).await?.0;
        }
        if behind == 0 || tokio::time::Instant::now() >= deadline {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Catches up every projection; returns the events applied per projection.
pub async fn catch_up_all(
    db: &Database,
    store: &dyn EventStore,
    projections: &[Arc<dyn Projection>],
) -> Result<BTreeMap<String, u64>, ProjectionError> {
    let mut out = BTreeMap::new();
    for p in projections {
        out.insert(
            p.name().to_owned(),
            run_catch_up(db, store, p.as_ref()).await?,
        );
    }
    Ok(out)
}

/// Empties a projection's tables and resets its checkpoint in one transaction (a concurrent
/// runner's batch then fails its checkpoint check and starts over from zero).
pub async fn reset(db: &Database, projection: &dyn Projection) -> Result<(), ProjectionError> {
    let mut tx = Tx::begin(db).await?;
    lock_checkpoint(&mut tx, projection.name()).await?;
    for table in projection.tables() {
        tx.exec(&format!("DELETE FROM {table}"), &[]).await?;
    }
    tx.exec(
        "UPDATE projection_checkpoints SET transaction_id = 0, position = 0, \
         events_applied = 0, updated_at = $2 WHERE projection = $1",
        &[projection.name().into(), Utc::now().into()],
    )
    .await?;
    tx.commit().await
}

/// Rebuilds the projection called `name` from zero: reset, then catch up. Returns the number
/// of events applied.
pub async fn rebuild(
    db: &Database,
    store: &dyn EventStore,
    name: &str,
) -> Result<u64, ProjectionError> {
    let projections = crate::all_projections();
    let p = projections
        .iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| ProjectionError::UnknownProjection(name.to_owned()))?;
    rebuild_projection(db, store, p.as_ref()).await
}

/// Rebuilds one projection object from zero, up to the end of the log (see
/// [`run_catch_up_to_end`]).
pub async fn rebuild_projection(
    db: &Database,
    store: &dyn EventStore,
    projection: &dyn Projection,
) -> Result<u64, ProjectionError> {
    reset(db, projection).await?;
    run_catch_up_to_end(db, store, projection, Duration::from_secs(30)).await
}

/// Catches up until no event is left after the checkpoint, waiting up to `max_wait` for events
/// `read_all` does not hand out yet. On PostgreSQL `read_all` stops below the oldest
/// transaction still running anywhere on the server, so an empty batch does not mean the end
/// of the log; this keeps polling (every 50 ms) while the lag is not zero.
pub async fn run_catch_up_to_end(
    db: &Database,
    store: &dyn EventStore,
    projection: &dyn Projection,
    max_wait: Duration,
) -> Result<u64, ProjectionError> {
    catch_up_group_to_end(db, store, &[projection], max_wait).await
}

/// Rebuilds every projection in one pass over the log (reset all, then
/// [`run_batch_together`] to the end); returns the events applied per projection.
pub async fn rebuild_all(
    db: &Database,
    store: &dyn EventStore,
) -> Result<BTreeMap<String, u64>, ProjectionError> {
    let projections = crate::all_projections();
    for p in &projections {
        reset(db, p.as_ref()).await?;
    }
    catch_up_group_to_end(db, store, &refs(&projections), Duration::from_secs(30)).await?;
    let mut out = BTreeMap::new();
    for p in &projections {
        out.insert(
            p.name().to_owned(),
            u64::try_from(checkpoint(db, p.name()).await?.events_applied).unwrap_or(0),
        );
    }
    Ok(out)
}

/// How far a projection is behind the log (for `/metrics` and `/readyz`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionLag {
    /// Projection name.
    pub projection: String,
    /// Its checkpoint.
    pub checkpoint: GlobalPosition,
    /// Events stored after the checkpoint (including those of transactions still in flight
    /// on PostgreSQL, which `read_all` does not hand out yet).
    pub events_behind: i64,
    /// Seconds since the oldest unapplied event was recorded (0 when caught up).
    pub seconds_behind: f64,
    /// `recorded_at` of the oldest unapplied event.
    pub oldest_unapplied_recorded_at: Option<DateTime<Utc>>,
}

/// Events stored after a checkpoint, and the `recorded_at` of the oldest of them.
async fn events_behind(
    db: &Database,
    cp: &Checkpoint,
) -> Result<(i64, Option<DateTime<Utc>>), ProjectionError> {
    let (sql, args): (&str, Vec<Val>) = match db {
        Database::Postgres(_) => (
            "SELECT count(*) AS n, min(recorded_at) AS oldest FROM events \
             WHERE (transaction_id, position) > ($1::text::xid8, $2)",
            vec![
                cp.position.transaction.to_string().into(),
                cp.position.position.into(),
            ],
        ),
        Database::Sqlite(_) => (
            "SELECT count(*) AS n, min(recorded_at) AS oldest FROM events WHERE position > $1",
            vec![cp.position.position.into()],
        ),
    };
    let row = fetch_all(db, sql, &args)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ProjectionError::Corrupt("count returned no row".into()))?;
    Ok((row.i64("n")?, row.opt_instant("oldest")?))
}

/// The lag of every projection.
pub async fn lag(
    db: &Database,
    _store: &dyn EventStore,
) -> Result<Vec<ProjectionLag>, ProjectionError> {
    lag_at(db, Utc::now()).await
}

/// The lag of every projection measured at `now`.
pub async fn lag_at(
    db: &Database,
    now: DateTime<Utc>,
) -> Result<Vec<ProjectionLag>, ProjectionError> {
    let mut out = Vec::new();
    for p in crate::all_projections() {
        let cp = checkpoint(db, p.name()).await?;
        let (behind, oldest) = events_behind(db, &cp).await?;
        let seconds = oldest
            .map(|t| ((now - t).num_milliseconds().max(0) as f64) / 1000.0)
            .unwrap_or(0.0);
        out.push(ProjectionLag {
            projection: p.name().to_owned(),
            checkpoint: cp.position,
            events_behind: behind,
            seconds_behind: seconds,
            oldest_unapplied_recorded_at: oldest,
        });
    }
    Ok(out)
}

/// Prometheus text lines for the lag (`diario_projection_lag_events`,
/// `diario_projection_lag_seconds`), ready to append to `/metrics`.
pub fn lag_metrics(lags: &[ProjectionLag]) -> String {
    let mut s = String::new();
    s.push_str(
        "# HELP diario_projection_lag_events Events stored after the projection's checkpoint.\n",
    );
    s.push_str("# TYPE diario_projection_lag_events gauge\n");
    for l in lags {
        s.push_str(&format!(
            "diario_projection_lag_events{{projection=\"{}\"}} {}\n",
            l.projection, l.events_behind
        ));
    }
    s.push_str("# HELP diario_projection_lag_seconds Age of the oldest event not yet applied.\n");
    s.push_str("# TYPE diario_projection_lag_seconds gauge\n");
    for l in lags {
        s.push_str(&format!(
            "diario_projection_lag_seconds{{projection=\"{}\"}} {}\n",
            l.projection, l.seconds_behind
        ));
    }
    s
}

/// Options of the long-running runner.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Sleep between polls when caught up (or not leader).
    pub poll_interval: Duration,
    /// Events per transaction.
    pub batch_size: i64,
    /// Batches per projection per loop turn (keeps leadership checks frequent).
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

/// The advisory-lock key of a projection: a stable 64-bit FNV-1a hash of
/// `"diario-projection:" + name`.
pub fn leadership_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "diario-projection:".bytes().chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Who leads a projection (PostgreSQL), for `/readyz` and operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaderInfo {
    /// Projection name.
    pub projection: String,
    /// Whether some session holds the projection's advisory lock (always true on SQLite,
    /// where the single process leads).
    pub led: bool,
    /// Backend pid of the leading session (PostgreSQL).
    pub pid: Option<i32>,
}

/// Which projections currently have a leader.
pub async fn leaders(db: &Database) -> Result<Vec<LeaderInfo>, ProjectionError> {
    let mut out = Vec::new();
    for name in crate::PROJECTIONS {
        let info = match db {
            Database::Sqlite(_) => LeaderInfo {
                projection: name.to_owned(),
                led: true,
                pid: None,
            },
            Database::Postgres(_) => {
                let key = leadership_key(name);
                let row = fetch_all(
                    db,
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                     AND objsubid = 1 AND classid::text::bigint = $1 \
                     AND objid::text::bigint = $2 \
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    &[((key >> 32) & 0xffff_ffff).into(), (key & 0xffff_ffff).into()],
                )
                .await?
                .into_iter()
                .next();
                let pid = match row {
                    Some(r) => r.opt_i64("pid")?.and_then(|p| i32::try_from(p).ok()),
                    None => None,
                };
                LeaderInfo {
                    projection: name.to_owned(),
                    led: pid.is_some(),
                    pid,
                }
            }
        };
        out.push(info);
    }
    Ok(out)
}

/// Leadership over projections. On PostgreSQL, a dedicated connection (outside the pool)
/// holds one session advisory lock per projection it leads; when the process dies the server
/// closes the session and the locks go to the next runner that asks. On SQLite there is a
/// single process: every projection is led.
struct Leadership {
    conn: Option<PgConnection>,
    led: Vec<&'static str>,
}

impl Leadership {
    fn new() -> Self {
        Leadership {
            conn: None,
            led: Vec::new(),
        }
    }

    async fn refresh(&mut self, db: &Database, names: &[&'static str]) -> Vec<&'static str> {
        let Database::Postgres(pool) = db else {
            return names.to_vec();
        };
        if self.conn.is_none() {
            self.led.clear();
            match PgConnection::connect_with(&pool.connect_options()).await {
                Ok(c) => self.conn = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "projection leadership: cannot connect");
                    return Vec::new();
                }
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return Vec::new();
        };
        for name in names {
            if self.led.contains(name) {
                continue;
            }
            let got: Result<bool, _> = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(leadership_key(name))
                .fetch_one(&mut *conn)
                .await;
            match got {
                Ok(true) => {
                    tracing::info!(projection = name, "projection leadership taken");
                    self.led.push(name);
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "projection leadership connection lost");
                    self.conn = None;
                    self.led.clear();
                    return Vec::new();
                }
            }
        }
        // Still alive? (a dead session means the locks are gone)
        if !self.led.is_empty()
            && let Err(e) = sqlx::query("SELECT 1").execute(&mut *conn).await
        {
            tracing::warn!(error = %e, "projection leadership connection lost");
            self.conn = None;
            self.led.clear();
            return Vec::new();
        }
        self.led.clone()
    }

    async fn release(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
        self.led.clear();
    }
}

/// Starts the live catch-up loop of `diario serve` for every projection (leader-only on
/// PostgreSQL). Ends when `shutdown` becomes true (or its sender is dropped).
pub fn spawn_runner(
    db: Database,
    store: Arc<dyn EventStore>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    spawn_runner_with(
        db,
        store,
        crate::all_projections(),
        RunnerOptions::default(),
        shutdown,
    )
}

/// [`spawn_runner`] with explicit projections and options.
pub fn spawn_runner_with(
    db: Database,
    store: Arc<dyn EventStore>,
    projections: Vec<Arc<dyn Projection>>,
    options: RunnerOptions,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let names: Vec<&'static str> = projections.iter().map(|p| p.name()).collect();
        let mut leadership = Leadership::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let led = leadership.refresh(&db, &names).await;
            let mine: Vec<Arc<dyn Projection>> = projections
                .iter()
                .filter(|p| led.contains(&p.name()))
                .cloned()
                .collect();
            let mut busy = false;
            let mut failed = false;
            let group = refs(&mine);
            let mut ahead = None;
            for _ in 0..options.max_batches_per_turn {
                match batch_together(
                    &db,
                    store.as_ref(),
                    &group,
                    options.batch_size,
                    &mut ahead,
                    true,
                )
                .await
                {
                    Ok(0) => break,
                    Ok(_) => busy = true,
                    Err(e) => {
                        tracing::warn!(error = %e, "projection batch failed; applying one projection at a time");
                        failed = true;
                        break;
                    }
                }
            }
            // One failing projection must not hold the others back: apply them one by one.
            for p in mine.iter().filter(|_| failed) {
                for _ in 0..options.max_batches_per_turn {
                    match run_batch(&db, store.as_ref(), p.as_ref(), options.batch_size).await {
                        Ok(0) => break,
                        Ok(_) => busy = true,
                        Err(e) => {
                            tracing::error!(projection = p.name(), error = %e, "projection batch failed");
                            break;
                        }
                    }
                }
            }
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

/// The contents of every read-model table, one text line per row, sorted: what a rebuild must
/// reproduce exactly (used by tests and by `diario rebuild --check`-style tooling).
pub async fn dump_read_models(
    db: &Database,
) -> Result<BTreeMap<String, Vec<String>>, ProjectionError> {
    let mut out = BTreeMap::new();
    for p in crate::all_projections() {
        for table in p.tables() {
            let sql = match db {
                Database::Postgres(_) => {
                    format!("SELECT t::text AS r FROM {table} AS t ORDER BY 1")
                }
                Database::Sqlite(_) => {
                    let cols = fetch_all(
                        db,
                        &format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
                        &[],
                    )
                    .await?
                    .iter()
                    .map(|r| r.text("name").map(|c| format!("quote({c})")))
                    .collect::<Result<Vec<_>, _>>()?;
                    format!(
                        "SELECT {} AS r FROM {table} ORDER BY 1",
                        cols.join(" || '|' || ")
                    )
                }
            };
            let rows = fetch_all(db, &sql, &[])
                .await?
                .iter()
                .map(|r| r.text("r"))
                .collect::<Result<Vec<_>, _>>()?;
            out.insert((*table).to_owned(), rows);
        }
    }
    Ok(out)
}
