//! The background workers of `diario serve`: the deadline scheduler (Art. 6) and the FirmaLOM
//! dispatcher. Both are safe with several servers on one database (docs/firmalom.md).
//!
//! Deadline scheduler: digital requests and their answer deadline are copied from the event log
//! into `deadline_watch` (own checkpoint, idempotent upserts). Every pass takes the rows whose
//! deadline is before the service clock's `now`, re-reads each case, and records
//! `ConfirmationRequestExpired` as [`Actor::System`] with a command id derived from the request
//! and how many times it was sent. Exactly once: two servers deciding together append with the
//! same expected version (one loses the race and, deciding again, meets `RequestNotPending`);
//! a server deciding later meets `RequestNotPending` too; the store deduplicates the command id.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diario_commands::codec::decode_case_event;
use diario_commands::firmalom::{deliver_due, feed_outbox};
use diario_commands::handler::derived_id;
use diario_commands::on_db;
use diario_commands::{CommandOptions, Database, EventStore, GlobalPosition, HandlerError};
use diario_domain::case::ExpireConfirmationRequest;
use diario_domain::{Actor, CaseCommand, CaseEvent, DomainError, RequestStatus};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::AppState;

/// Intervals of the workers.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    pub dispatch_interval: Duration,
    pub deadline_interval: Duration,
    /// How long Idempotency-Key answers are kept (`None`: forever). Purged hourly.
    pub idempotency_retention: Option<Duration>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            dispatch_interval: Duration::from_secs(1),
            deadline_interval: Duration::from_secs(5),
            idempotency_retention: Some(Duration::from_secs(7 * 24 * 3600)),
        }
    }
}

/// Failures of a worker pass (logged; the next pass tries again).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] diario_commands::StoreError),
    #[error(transparent)]
    Handler(#[from] HandlerError),
    #[error(transparent)]
    Outbox(#[from] diario_commands::firmalom::OutboxError),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

fn instant_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Copies new request deadlines from the log into `deadline_watch`; returns the events read.
pub async fn feed_deadlines(db: &Database, store: &dyn EventStore) -> Result<usize, WorkerError> {
    let (tx_id, pos): (i64, i64) = on_db!(db, pool => {
        sqlx::query_as("SELECT last_transaction, last_position FROM deadline_watch_checkpoint WHERE id = 1")
            .fetch_one(pool)
            .await?
    });
    let after = GlobalPosition {
        transaction: u64::try_from(tx_id).unwrap_or(0),
        position: pos,
    };
    let batch = store.read_all(after, 500).await?;
    let Some(last) = batch.last().map(|e| e.global_position) else {
        return Ok(0);
    };
    let mut rows = Vec::new();
    for e in &batch {
        if !matches!(
            e.event_type.as_str(),
            "ConfirmationRequested" | "ConfirmationResent"
        ) {
            continue;
        }
        let Some(case_id) = e.stream_id.strip_prefix("case-") else {
            continue;
        };
        match decode_case_event(e).map_err(|err| WorkerError::Corrupt(err.to_string()))? {
            CaseEvent::ConfirmationRequested {
                request_id,
                deadline,
                ..
            }
            | CaseEvent::ConfirmationResent {
                request_id,
                deadline,
                ..
            } => rows.push((request_id.to_string(), case_id.to_owned(), deadline)),
            _ => {}
        }
    }
    let last_tx = i64::try_from(last.transaction).unwrap_or(i64::MAX);
    on_db!(db, pool => {
        let mut tx = pool.begin().await?;
        for (request_id, case_id, deadline) in &rows {
            // Only a later deadline (a re-send) moves the row and re-arms it: applying the same
            // event twice (two servers feeding at once) changes nothing.
            sqlx::query(
                "INSERT INTO deadline_watch (request_id, case_id, deadline, done) \
                 VALUES ($1, $2, $3, 0) ON CONFLICT (request_id) DO UPDATE \
                 SET deadline = excluded.deadline, done = 0 \
                 WHERE excluded.deadline > deadline_watch.deadline",
            )
            .bind(request_id)
            .bind(case_id)
            .bind(instant_text(*deadline))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE deadline_watch_checkpoint SET last_transaction = $1, last_position = $2 \
             WHERE id = 1 AND (last_transaction < $1 OR (last_transaction = $1 AND last_position < $2))",
        )
        .bind(last_tx)
        .bind(last.position)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(batch.len())
}

/// The command id of the scheduler's expiry of one sending of a request: the same on every
/// server, so the store keeps one.
pub fn expiry_command_id(request_id: Uuid, times_sent: u32) -> Uuid {
    derived_id(request_id, &format!("deadline-expiry-{times_sent}"))
}

/// What one scheduler pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryReport {
    /// Expiries this server recorded.
    pub expired: usize,
    /// Candidates already answered, expired or ended (by anyone).
    pub settled: usize,
}

/// Records the expiry of every digital request whose deadline passed before `now`.
pub async fn expire_overdue(
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<ExpiryReport, WorkerError> {
    let db = &state.db;
    let due: Vec<(String, String, String)> = on_db!(db, pool => {
        sqlx::query_as(
            "SELECT request_id, case_id, deadline FROM deadline_watch \
             WHERE done = 0 AND deadline < $1 ORDER BY deadline LIMIT 200",
        )
        .bind(instant_text(now))
        .fetch_all(pool)
        .await?
    });
    let mut report = ExpiryReport::default();
    for (request_id, case_id, deadline) in due {
        let (Ok(rid), Ok(cid)) = (Uuid::parse_str(&request_id), Uuid::parse_str(&case_id)) else {
            continue;
        };
        let (case, _) = state.handler.load_case(cid).await?;
        let request = case.file.as_ref().and_then(|f| f.requests.get(&rid));
        let Some(request) = request else {
            mark_done(db, &request_id, &deadline).await?;
            continue;
        };
        if request.status != RequestStatus::Pending {
            mark_done(db, &request_id, &deadline).await?;
            report.settled += 1;
            continue;
        }
        if !case.overdue_requests(now).contains(&rid) {
            // Not yet overdue by the domain's reckoning: try again on a later pass.
            continue;
        }
        let command =
            CaseCommand::ExpireConfirmationRequest(ExpireConfirmationRequest { request_id: rid });
        let opts =
            CommandOptions::new().with_command_id(expiry_command_id(rid, request.times_sent));
        match state
            .handler
            .execute_case(cid, &command, &opts, |_| Ok(Actor::System))
            .await
        {
            Ok(outcome) => {
                if !outcome.replayed && !outcome.events.is_empty() {
                    tracing::info!(case = %cid, request = %rid, "confirmation request expired (Art. 6)");
                    report.expired += 1;
                } else {
                    report.settled += 1;
                }
            }
            Err(HandlerError::Domain(
                DomainError::RequestNotPending(_) | DomainError::RequestNotFound(_),
            )) => report.settled += 1,
            Err(HandlerError::Domain(DomainError::RequestNotYetExpired { .. })) => continue,
            Err(e) => return Err(e.into()),
        }
        mark_done(db, &request_id, &deadline).await?;
    }
    Ok(report)
}

async fn mark_done(db: &Database, request_id: &str, deadline: &str) -> Result<(), WorkerError> {
    on_db!(db, pool => {
        sqlx::query("UPDATE deadline_watch SET done = 1 WHERE request_id = $1 AND deadline = $2")
            .bind(request_id)
            .bind(deadline)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// One scheduler pass: feed, then expire.
pub async fn deadline_pass(state: &AppState) -> Result<ExpiryReport, WorkerError> {
    let store = state.store.as_ref();
    for _ in 0..20 {
        if feed_deadlines(&state.db, store).await? < 500 {
            break;
        }
    }
    expire_overdue(state, state.handler.now()).await
}

/// One dispatcher pass: feed the outbox from the log, deliver what is due.
pub async fn dispatch_pass(
    state: &AppState,
    client: &reqwest::Client,
    policy: &diario_commands::firmalom::DeliveryPolicy,
) -> Result<diario_commands::firmalom::DeliveryReport, WorkerError> {
    let store = state.store.as_ref();
    for _ in 0..20 {
        if feed_outbox(&state.db, store).await? < 200 {
            break;
        }
    }
    Ok(deliver_due(&state.db, store, client, policy, state.handler.now()).await?)
}

/// The running workers.
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Asks the workers to stop and waits for the pass in progress to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = h.await;
        }
    }
}

async fn every<F, Fut>(mut stop: watch::Receiver<bool>, interval: Duration, name: &str, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), WorkerError>>,
{
    loop {
        if *stop.borrow() {
            break;
        }
        if let Err(e) = pass().await {
            tracing::warn!(worker = name, error = %e, "background pass failed; will retry");
        }
        tokio::select! {
            _ = stop.changed() => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
    tracing::info!(worker = name, "stopped");
}

/// Deletes Idempotency-Key answers older than `retention` (a retry is expected within minutes;
/// the table must not grow forever).
async fn purge_idempotency(state: &AppState, retention: Duration) -> Result<(), WorkerError> {
    let keep = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let cutoff = chrono::Utc::now()
        .checked_sub_signed(keep)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    let n = diario_commands::idempotency::purge_before(&state.db, cutoff).await?;
    if n > 0 {
        tracing::info!(
            purged = n,
            "idempotency answers past their retention deleted"
        );
    }
    Ok(())
}

/// Starts the deadline scheduler, the Idempotency-Key purge, and the FirmaLOM dispatcher when a
/// FirmaLOM URL is configured.
pub fn spawn_workers(state: &AppState, settings: WorkerSettings) -> Workers {
    let (tx, rx) = watch::channel(false);
    let mut handles = Vec::new();
    {
        let state = state.clone();
        let rx = rx.clone();
        handles.push(tokio::spawn(async move {
            every(rx, settings.deadline_interval, "deadline-scheduler", || {
                let state = state.clone();
                async move { deadline_pass(&state).await.map(|_| ()) }
            })
            .await;
        }));
    }
    if let Some(retention) = settings.idempotency_retention {
        let state = state.clone();
        let rx = rx.clone();
        handles.push(tokio::spawn(async move {
            every(
                rx,
                Duration::from_secs(3600).min(retention),
                "idempotency-purge",
                || {
                    let state = state.clone();
                    async move { purge_idempotency(&state, retention).await }
                },
            )
            .await;
        }));
    }
    if let Some(policy) = state.firmalom.as_ref().and_then(|c| c.policy()) {
        let state = state.clone();
        let client = reqwest::Client::new();
        handles.push(tokio::spawn(async move {
            every(
                rx,
                settings.dispatch_interval,
                "firmalom-dispatcher",
                || {
                    let (state, client, policy) = (state.clone(), client.clone(), policy.clone());
                    async move { dispatch_pass(&state, &client, &policy).await.map(|_| ()) }
                },
            )
            .await;
        }));
    }
    Workers { stop: tx, handles }
}
