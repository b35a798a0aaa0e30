//! The background workers of `diario serve`: the deadline scheduler (Art. 6), the FirmaLOM
//! dispatcher and the purge of idempotency answers. All are safe with several servers on one
//! database (docs/firmalom.md).
//!
//! Two of them follow the log, through the same follower mechanism as the read models (one
//! runner, checkpoints, leadership): the deadline watch copies digital requests and their answer
//! deadline into `deadline_watch`; the outbox feed writes one notification per request event.
//! Every scheduler pass takes the watched requests whose deadline is before the service clock's
//! `now`, re-reads each case, and records `ConfirmationRequestExpired` as the system with a
//! command id derived from the request and how many times it was sent. Exactly once: two
//! servers deciding together append with the same expected version (one loses the race and,
//! deciding again, meets `RequestNotPending`); a server deciding later meets `RequestNotPending`
//! too; the store deduplicates the command id.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diario_commands::{Caller, CommandHandler, CommandOptions, HandlerError, derived_id};
use diario_domain::case::ExpireConfirmationRequest;
use diario_domain::{CaseCommand, CaseEvent, DomainError, RequestStatus};
use diario_log::follower::RunnerOptions;
use diario_log::{Database, FollowError, Follower, RecordedEvent, StoreError, StreamId, Tx, Val};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use crate::error::WorkerError;
use crate::firmalom::outbox::{DeliveryPolicy, DeliveryReport, OutboxFeed, deliver_due};

/// The deadline watch's follower name (its checkpoint).
pub const DEADLINE_WATCH: &str = "deadline_watch";

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

/// The follower that keeps `deadline_watch`: every digital request and its current deadline.
/// Only a hint: the scheduler re-checks every candidate against the case before it records an
/// expiry, and the domain refuses a second expiry.
pub struct DeadlineWatch;

#[async_trait]
impl Follower for DeadlineWatch {
    diario_log::follower_spec!(DEADLINE_WATCH, &[]);

    async fn apply(&self, events: &[RecordedEvent], tx: &mut Tx) -> Result<(), FollowError> {
        for e in events {
            let Some(case_id) = StreamId::case_of(&e.stream_id) else {
                continue;
            };
            if !matches!(
                e.event_type.as_str(),
                "ConfirmationRequested"
                    | "ConfirmationResent"
                    | "ConfirmationNotificationDelivered"
            ) {
                continue;
            }
            // The deadline runs from FirmaLOM's receipt (Art. 6); requests and re-sends
            // recorded before deliveries were carry their own.
            let (request_id, deadline) = match e.case_event()?.clone() {
                CaseEvent::ConfirmationRequested {
                    request_id,
                    deadline: Some(deadline),
                    ..
                }
                | CaseEvent::ConfirmationResent {
                    request_id,
                    deadline: Some(deadline),
                    ..
                }
                | CaseEvent::ConfirmationNotificationDelivered {
                    request_id,
                    deadline,
                    ..
                } => (request_id, deadline),
                _ => continue,
            };
            // Only a later deadline (a re-send) moves the row and re-arms it: applying the same
            // event twice changes nothing.
            tx.exec(
                "INSERT INTO deadline_watch (request_id, case_id, deadline, done) \
                 VALUES ($1, $2, $3, 0) ON CONFLICT (request_id) DO UPDATE \
                 SET deadline = excluded.deadline, done = 0 \
                 WHERE excluded.deadline > deadline_watch.deadline",
                &[
                    Val::uuid_text(request_id),
                    Val::uuid_text(case_id),
                    Val::instant_text(deadline),
                ],
            )
            .await?;
        }
        Ok(())
    }
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

/// Records the expiry of every watched digital request whose deadline passed before `now`.
pub async fn expire_overdue(
    db: &Database,
    handler: &CommandHandler,
    now: DateTime<Utc>,
) -> Result<ExpiryReport, WorkerError> {
    let due = db
        .fetch_all(
            "SELECT request_id, case_id, deadline FROM deadline_watch \
             WHERE done = 0 AND deadline < $1 ORDER BY deadline LIMIT 200",
            &[Val::instant_text(now)],
        )
        .await?;
    let mut report = ExpiryReport::default();
    for row in due {
        let (rid, cid) = (row.uuid_text("request_id")?, row.uuid_text("case_id")?);
        let deadline = row.text("deadline")?;
        let (case, _) = handler.load_case(cid).await?;
        let Some(request) = case.file.as_ref().and_then(|f| f.requests.get(&rid)) else {
            mark_done(db, rid, &deadline).await?;
            continue;
        };
        if request.status != RequestStatus::Pending {
            mark_done(db, rid, &deadline).await?;
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
        match handler
            .execute_case(cid, &command, &Caller::System, &opts)
            .await
        {
            Ok(outcome) if !outcome.replayed && !outcome.events.is_empty() => {
                tracing::info!(case = %cid, request = %rid, "confirmation request expired (Art. 6)");
                report.expired += 1;
            }
            Ok(_) => report.settled += 1,
            Err(HandlerError::Domain(
                DomainError::RequestNotPending(_) | DomainError::RequestNotFound(_),
            )) => report.settled += 1,
            Err(HandlerError::Domain(DomainError::RequestNotYetExpired { .. })) => continue,
            Err(e) => return Err(e.into()),
        }
        mark_done(db, rid, &deadline).await?;
    }
    Ok(report)
}

async fn mark_done(db: &Database, request_id: Uuid, deadline: &str) -> Result<(), StoreError> {
    db.exec(
        "UPDATE deadline_watch SET done = 1 WHERE request_id = $1 AND deadline = $2",
        &[Val::uuid_text(request_id), deadline.into()],
    )
    .await?;
    Ok(())
}

/// One dispatcher pass: deliver what is due.
pub async fn dispatch_pass(
    db: &Database,
    handler: &CommandHandler,
    client: &reqwest::Client,
    policy: &DeliveryPolicy,
) -> Result<DeliveryReport, WorkerError> {
    deliver_due(db, handler, client, policy, handler.now()).await
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
    Fut: Future<Output = Result<(), WorkerError>>,
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
async fn purge_idempotency(db: &Database, retention: Duration) -> Result<(), WorkerError> {
    let keep = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let cutoff = Utc::now()
        .checked_sub_signed(keep)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let n = crate::idempotency::purge_before(db, cutoff).await?;
    if n > 0 {
        tracing::info!(
            purged = n,
            "idempotency answers past their retention deleted"
        );
    }
    Ok(())
}

/// Starts the workers on the database and the command handler (its store and clock): the
/// followers they need (the deadline watch; the outbox feed when a
/// FirmaLOM URL is configured) in one runner, the deadline scheduler, the Idempotency-Key purge,
/// and the FirmaLOM dispatcher.
pub fn spawn_workers(
    db: &Database,
    handler: &CommandHandler,
    policy: Option<DeliveryPolicy>,
    settings: WorkerSettings,
    metrics: Arc<crate::metrics::Metrics>,
) -> Workers {
    let (tx, rx) = watch::channel(false);
    let mut followers: Vec<Arc<dyn Follower>> = vec![Arc::new(DeadlineWatch)];
    if policy.is_some() {
        followers.push(Arc::new(OutboxFeed::default()));
    }
    let options = RunnerOptions {
        poll_interval: settings.dispatch_interval.min(settings.deadline_interval),
        ..RunnerOptions::default()
    };
    let mut handles = vec![diario_log::follower::spawn(
        db.clone(),
        handler.store().clone(),
        followers,
        options,
        rx.clone(),
    )];
    {
        let (db, handler, metrics) = (db.clone(), handler.clone(), metrics.clone());
        handles.push(tokio::spawn(every(
            rx.clone(),
            settings.deadline_interval,
            "deadline-scheduler",
            move || {
                let (db, handler, metrics) = (db.clone(), handler.clone(), metrics.clone());
                async move {
                    let report = expire_overdue(&db, &handler, handler.now()).await?;
                    metrics.expiries.inc_by(report.expired as u64);
                    Ok(())
                }
            },
        )));
    }
    {
        // The daily seal (`diario_domain::seal`): a pass every ten minutes seals the day once.
        let handler = handler.clone();
        handles.push(tokio::spawn(every(
            rx.clone(),
            Duration::from_secs(600),
            "daily-seal",
            move || {
                let handler = handler.clone();
                async move {
                    let outcome = handler
                        .seal(&diario_commands::CommandOptions::new())
                        .await?;
                    if let (false, Some((day, root))) =
                        (outcome.events.is_empty(), outcome.state.last.as_ref())
                    {
                        tracing::info!(%day, %root, streams = outcome.state.heads.len(), "daily seal recorded");
                    }
                    Ok(())
                }
            },
        )));
    }
    if let Some(retention) = settings.idempotency_retention {
        let db = db.clone();
        handles.push(tokio::spawn(every(
            rx.clone(),
            Duration::from_secs(3600).min(retention),
            "idempotency-purge",
            move || {
                let db = db.clone();
                async move { purge_idempotency(&db, retention).await }
            },
        )));
    }
    if let Some(policy) = policy {
        let (db, handler) = (db.clone(), handler.clone());
        let client = reqwest::Client::new();
        handles.push(tokio::spawn(every(
            rx,
            settings.dispatch_interval,
            "firmalom-dispatcher",
            move || {
                let (db, handler) = (db.clone(), handler.clone());
                let (client, policy, metrics) = (client.clone(), policy.clone(), metrics.clone());
                async move {
                    let report = dispatch_pass(&db, &handler, &client, &policy).await?;
                    for (outcome, n) in [
                        ("delivered", report.delivered),
                        ("failed", report.failed),
                        ("request_ended", report.skipped_request_ended),
                    ] {
                        if n > 0 {
                            metrics
                                .deliveries
                                .get_or_create(&crate::metrics::OutcomeLabels {
                                    outcome: outcome.to_owned(),
                                })
                                .inc_by(n as u64);
                        }
                    }
                    Ok(())
                }
            },
        )));
    }
    Workers { stop: tx, handles }
}
