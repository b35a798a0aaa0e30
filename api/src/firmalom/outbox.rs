//! The FirmaLOM outbox (Art. 6): every `ConfirmationRequested` / `ConfirmationResent` event
//! becomes one row of `firmalom_outbox`, written by the [`OutboxFeed`] follower in the same
//! transaction as its checkpoint (the log is the outbox: a notification can be neither lost nor
//! created twice). [`deliver_due`] POSTs due rows, records every attempt in
//! `firmalom_delivery_attempts`, retries failures with capped exponential backoff, and never
//! sends a notification whose request has already ended.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diario_commands::CommandHandler;
use diario_domain::{CaseEvent, CaseState, Phase, RequestStatus, evolve};
use diario_log::{
    Database, EventStore, FollowError, Follower, LogEvent, RecordedEvent, StoreError, StreamId, Tx,
    Val,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use diario_log::follower::Prepared;

use crate::error::WorkerError;

use super::signature::{NOTIFICATION_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

/// The follower's name (its checkpoint).
pub const FEED: &str = "firmalom_outbox";

/// One entry as shown to the recipient in the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifiedEntry {
    pub entry_id: Uuid,
    pub date: chrono::NaiveDate,
    pub start: String,
    pub end: String,
    pub figure: String,
    pub service: String,
    pub minutes: u32,
}

/// The body POSTed to FirmaLOM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub notification_id: Uuid,
    pub kind: String,
    pub case_id: Uuid,
    pub request_id: Uuid,
    pub phase: Phase,
    pub recipient_ref: String,
    pub confirmers: Vec<String>,
    pub entries: Vec<NotifiedEntry>,
    pub deadline: DateTime<Utc>,
    pub sent_for: DateTime<Utc>,
}

/// The request events a notification is sent for.
fn is_request_event(e: &RecordedEvent) -> bool {
    matches!(
        e.event_type.as_str(),
        "ConfirmationRequested" | "ConfirmationResent"
    )
}

/// The notification for a request event, from the case as it was at that event.
async fn notification_for(
    store: &dyn EventStore,
    recorded: &RecordedEvent,
) -> Result<Option<Notification>, FollowError> {
    let (kind, request_id, deadline) = match CaseEvent::decode(recorded)? {
        CaseEvent::ConfirmationRequested {
            request_id,
            deadline,
            ..
        } => ("confirmation_requested", request_id, deadline),
        CaseEvent::ConfirmationResent {
            request_id,
            deadline,
            ..
        } => ("confirmation_resent", request_id, deadline),
        _ => return Ok(None),
    };
    let Some(case_id) = StreamId::case_of(&recorded.stream_id) else {
        return Ok(None);
    };
    let mut state = CaseState::default();
    for e in store.read_stream(&recorded.stream_id, 1).await? {
        if e.stream_version > recorded.stream_version {
            break;
        }
        state = evolve(state, &CaseEvent::decode(&e)?);
    }
    let Some(file) = state.file.as_ref() else {
        return Ok(None);
    };
    let Some(request) = file.requests.get(&request_id) else {
        return Ok(None);
    };
    let entries = request
        .entries
        .keys()
        .filter_map(|id| file.entries.get(id))
        .map(|e| NotifiedEntry {
            entry_id: e.id,
            date: e.slot.date,
            start: e.slot.start_hhmm(),
            end: e.slot.end_hhmm(),
            figure: e.figure.to_string(),
            service: e.service.to_string(),
            minutes: e.minutes(),
        })
        .collect();
    Ok(Some(Notification {
        notification_id: recorded.event_id,
        kind: kind.to_owned(),
        case_id,
        request_id,
        phase: request.phase,
        recipient_ref: file.recipient.pseudonym.clone(),
        confirmers: file
            .recipient
            .confirmers
            .iter()
            .map(|c| c.to_string())
            .collect(),
        entries,
        deadline,
        sent_for: recorded.metadata.occurred_at,
    }))
}

/// The follower that moves request events from the log into the outbox. Its rows are never
/// thrown away by a rebuild (they carry the delivery state and the auditors' delivery log).
#[derive(Default)]
pub struct OutboxFeed {
    /// Notifications built by `prepare` (which may read the store) for `apply`.
    prepared: Prepared<HashMap<Uuid, Notification>>,
}

#[async_trait]
impl Follower for OutboxFeed {
    diario_log::follower_spec!(FEED, &[]);

    async fn prepare(
        &self,
        events: &[RecordedEvent],
        store: &dyn EventStore,
    ) -> Result<(), FollowError> {
        let mut prepared = HashMap::new();
        for e in events.iter().filter(|e| is_request_event(e)) {
            if let Some(n) = notification_for(store, e).await? {
                prepared.insert(e.event_id, n);
            }
        }
        self.prepared.set(prepared)
    }

    async fn apply(&self, events: &[RecordedEvent], tx: &mut Tx) -> Result<(), FollowError> {
        let mut prepared = self.prepared.take()?;
        for e in events.iter().filter(|e| is_request_event(e)) {
            let Some(n) = prepared.remove(&e.event_id) else {
                continue;
            };
            let payload = serde_json::to_string(&n)
                .map_err(|err| FollowError::Corrupt(format!("notification: {err}")))?;
            tx.exec(
                "INSERT INTO firmalom_outbox (notification_id, case_id, request_id, kind, payload, \
                 created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (notification_id) DO NOTHING",
                &[
                    Val::uuid_text(n.notification_id),
                    Val::uuid_text(n.case_id),
                    Val::uuid_text(n.request_id),
                    n.kind.as_str().into(),
                    payload.into(),
                    Val::instant_text(n.sent_for),
                ],
            )
            .await?;
        }
        Ok(())
    }
}

/// One batch of the outbox feed (what the workers' runner does continuously); returns the
/// events read.
pub async fn feed_outbox(db: &Database, store: &dyn EventStore) -> Result<usize, FollowError> {
    let feed: std::sync::Arc<dyn Follower> = std::sync::Arc::new(OutboxFeed::default());
    diario_log::follower::run_batch(db, store, &[feed], 200).await
}

/// How the dispatcher retries.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    pub url: String,
    pub secret: Vec<u8>,
    pub first_retry: Duration,
    pub max_retry: Duration,
    pub request_timeout: Duration,
}

impl DeliveryPolicy {
    /// Exponential backoff: `first_retry × 2^(attempts-1)`, capped at `max_retry`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.first_retry.saturating_mul(factor).min(self.max_retry)
    }
}

/// Whether the request a notification is for can still be answered.
async fn request_is_open(
    handler: &CommandHandler,
    case_id: Uuid,
    request_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, WorkerError> {
    let (state, _) = handler.load_case(case_id).await?;
    Ok(state
        .file
        .as_ref()
        .and_then(|f| f.requests.get(&request_id))
        .is_some_and(|r| r.status == RequestStatus::Pending && r.deadline.is_none_or(|d| now <= d)))
}

/// The outcome of one dispatcher pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub failed: usize,
    pub skipped_request_ended: usize,
}

/// What one attempt came to.
enum Attempt {
    /// FirmaLOM acknowledged (2xx): the row is closed.
    Delivered { http_status: i64 },
    /// The request ended before the notification went out: the row is closed, nothing sent.
    RequestEnded,
    /// Refused or unreachable: tried again at `retry_at`.
    Failed {
        http_status: Option<i64>,
        error: String,
        retry_at: DateTime<Utc>,
    },
}

/// Delivers every due notification once (one attempt each). `now` is the service clock for the
/// request's deadline; retry scheduling uses wall time (`Utc::now()`), since backoff is about
/// the network, not the regulation.
pub async fn deliver_due(
    db: &Database,
    handler: &CommandHandler,
    client: &reqwest::Client,
    policy: &DeliveryPolicy,
    now: DateTime<Utc>,
) -> Result<DeliveryReport, WorkerError> {
    let wall = Utc::now();
    let due = db
        .fetch_all(
            "SELECT notification_id, case_id, request_id, payload, attempts FROM firmalom_outbox \
             WHERE closed_at IS NULL AND next_attempt_at <= $1 \
               AND (locked_until IS NULL OR locked_until < $1) \
             ORDER BY next_attempt_at LIMIT 50",
            &[Val::instant_text(wall)],
        )
        .await?;
    let mut report = DeliveryReport::default();
    for row in due {
        let id = row.text("notification_id")?;
        // Claim the row so that another server does not send it at the same time.
        let claimed = db
            .exec(
                "UPDATE firmalom_outbox SET locked_until = $1 WHERE notification_id = $2 \
                 AND closed_at IS NULL AND (locked_until IS NULL OR locked_until < $3)",
                &[
                    Val::instant_text(wall + policy.request_timeout * 2),
                    id.as_str().into(),
                    Val::instant_text(wall),
                ],
            )
            .await?;
        if claimed != 1 {
            continue;
        }
        let attempt = row.i64("attempts")? + 1;
        let (case_id, request_id) = (row.uuid_text("case_id")?, row.uuid_text("request_id")?);
        let outcome = if request_is_open(handler, case_id, request_id, now).await? {
            post(client, policy, &id, row.text("payload")?, attempt).await
        } else {
            Attempt::RequestEnded
        };
        match &outcome {
            Attempt::Delivered { .. } => report.delivered += 1,
            Attempt::RequestEnded => report.skipped_request_ended += 1,
            Attempt::Failed { error, .. } => {
                tracing::warn!(notification = %id, attempt, error = %error, "FirmaLOM delivery failed; will retry");
                report.failed += 1;
            }
        }
        record(db, &id, attempt, outcome).await?;
    }
    Ok(report)
}

/// One signed POST of a notification.
async fn post(
    client: &reqwest::Client,
    policy: &DeliveryPolicy,
    id: &str,
    payload: String,
    attempt: i64,
) -> Attempt {
    let timestamp = Utc::now().timestamp();
    let signature = sign(&policy.secret, timestamp, payload.as_bytes());
    let result = client
        .post(&policy.url)
        .timeout(policy.request_timeout)
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signature)
        .header(NOTIFICATION_ID_HEADER, id)
        .body(payload)
        .send()
        .await;
    let (http_status, error) = match result {
        Ok(resp) if resp.status().is_success() => {
            return Attempt::Delivered {
                http_status: i64::from(resp.status().as_u16()),
            };
        }
        Ok(resp) => (
            Some(i64::from(resp.status().as_u16())),
            format!("FirmaLOM answered {}", resp.status()),
        ),
        Err(e) => (None, format!("request failed: {e}")),
    };
    let attempts = u32::try_from(attempt).unwrap_or(u32::MAX);
    Attempt::Failed {
        http_status,
        error,
        retry_at: Utc::now() + policy.backoff(attempts),
    }
}

/// Records one attempt and updates the outbox row, in one transaction.
async fn record(db: &Database, id: &str, attempt: i64, outcome: Attempt) -> Result<(), StoreError> {
    let at = Val::instant_text(Utc::now());
    let (http_status, name, error) = match &outcome {
        Attempt::Delivered { http_status } => (Some(*http_status), "delivered", None),
        Attempt::RequestEnded => (None, "request_ended", None),
        Attempt::Failed {
            http_status, error, ..
        } => (*http_status, "failed", Some(error.clone())),
    };
    let mut tx = Tx::begin(db).await?;
    tx.exec(
        "INSERT INTO firmalom_delivery_attempts (notification_id, attempt, attempted_at, \
         http_status, outcome, error) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            id.into(),
            attempt.into(),
            at.clone(),
            http_status.into(),
            name.into(),
            error.into(),
        ],
    )
    .await?;
    match outcome {
        Attempt::Failed { retry_at, .. } => {
            tx.exec(
                "UPDATE firmalom_outbox SET attempts = $1, locked_until = NULL, \
                 next_attempt_at = $2 WHERE notification_id = $3",
                &[attempt.into(), Val::instant_text(retry_at), id.into()],
            )
            .await?;
        }
        Attempt::Delivered { .. } | Attempt::RequestEnded => {
            tx.exec(
                "UPDATE firmalom_outbox SET attempts = $1, locked_until = NULL, closed_at = $2, \
                 outcome = $3, delivered_at = CASE WHEN $3 = 'delivered' THEN $2 ELSE NULL END \
                 WHERE notification_id = $4",
                &[attempt.into(), at, name.into(), id.into()],
            )
            .await?;
        }
    }
    tx.commit().await
}

/// How many notifications wait for their delivery (not yet acknowledged nor closed).
pub async fn backlog(db: &Database) -> Result<i64, StoreError> {
    let rows = db
        .fetch_all(
            "SELECT COUNT(*) AS n FROM firmalom_outbox WHERE closed_at IS NULL",
            &[],
        )
        .await?;
    match rows.first() {
        Some(row) => row.i64("n"),
        None => Ok(0),
    }
}

/// One row of the delivery log, for auditors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub notification_id: String,
    pub attempt: i64,
    pub attempted_at: String,
    pub http_status: Option<i64>,
    pub outcome: String,
    pub error: Option<String>,
}

/// Every delivery attempt for the notifications of one case, oldest first.
pub async fn delivery_log(
    db: &Database,
    case_id: Uuid,
) -> Result<Vec<DeliveryAttempt>, StoreError> {
    db.fetch_all(
        "SELECT a.notification_id, a.attempt, a.attempted_at, a.http_status, a.outcome, a.error \
         FROM firmalom_delivery_attempts a JOIN firmalom_outbox o USING (notification_id) \
         WHERE o.case_id = $1 ORDER BY a.attempted_at, a.attempt",
        &[Val::uuid_text(case_id)],
    )
    .await?
    .iter()
    .map(|r| r.decode())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = DeliveryPolicy {
            url: String::new(),
            secret: vec![],
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(60),
            request_timeout: Duration::from_secs(5),
        };
        let got: Vec<u64> = (1..=8).map(|a| p.backoff(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
