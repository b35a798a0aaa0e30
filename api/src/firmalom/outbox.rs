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
use diario_commands::{Caller, CommandHandler, CommandOptions, HandlerError};
use diario_domain::case::confirmation::{answer_deadline, undeliverable_after};
use diario_domain::case::{RecordNotificationDelivery, RecordNotificationUndelivered};
use diario_domain::{CaseCommand, CaseEvent, CaseState, Phase, RequestStatus, evolve};
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
    /// The answer deadline: one day from FirmaLOM's receipt, filled in when the notification
    /// is POSTed (the instant recorded as its receipt when FirmaLOM acknowledges it).
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    /// The sending (the request or re-send event's instant) this notification is for.
    pub sent_for: DateTime<Utc>,
    /// With kind `document_shared`: the document of the pathway to confirm (Art. 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<NotifiedDocument>,
}

/// A document of the pathway as shown to the recipient in the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifiedDocument {
    pub document_id: Uuid,
    pub kind: String,
    pub title: String,
    pub version: u32,
    pub document_sha256: String,
    pub media_type: String,
}

/// The kind of a document sharing's notification.
pub const DOCUMENT_SHARED: &str = "document_shared";

/// The request events a notification is sent for.
fn is_request_event(e: &RecordedEvent) -> bool {
    matches!(
        e.event_type.as_str(),
        "ConfirmationRequested" | "ConfirmationResent" | "DocumentShared"
    )
}

/// The notification for a request event, from the case as it was at that event.
async fn notification_for(
    store: &dyn EventStore,
    recorded: &RecordedEvent,
) -> Result<Option<Notification>, FollowError> {
    let decoded = CaseEvent::decode(recorded)?;
    if let CaseEvent::DocumentShared {
        document_id,
        request_id,
        at,
        ..
    } = decoded
    {
        return document_notification(store, recorded, document_id, request_id, at).await;
    }
    let (kind, request_id, deadline, sent_for) = match decoded {
        CaseEvent::ConfirmationRequested {
            request_id,
            deadline,
            at,
            ..
        } => ("confirmation_requested", request_id, deadline, at),
        CaseEvent::ConfirmationResent {
            request_id,
            deadline,
            at,
            ..
        } => ("confirmation_resent", request_id, deadline, at),
        _ => return Ok(None),
    };
    let Some(case_id) = StreamId::case_of(&recorded.stream_id) else {
        return Ok(None);
    };
    let state = case_at(store, recorded).await?;
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
        sent_for,
        document: None,
    }))
}

/// The case as it was at `recorded` (its own event included).
async fn case_at(
    store: &dyn EventStore,
    recorded: &RecordedEvent,
) -> Result<CaseState, FollowError> {
    let mut state = CaseState::default();
    for e in store.read_stream(&recorded.stream_id, 1).await? {
        if e.stream_version > recorded.stream_version {
            break;
        }
        state = evolve(state, &CaseEvent::decode(&e)?);
    }
    Ok(state)
}

/// The notification of a document sharing (Art. 1): the document, no entries.
async fn document_notification(
    store: &dyn EventStore,
    recorded: &RecordedEvent,
    document_id: Uuid,
    request_id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<Notification>, FollowError> {
    let Some(case_id) = StreamId::case_of(&recorded.stream_id) else {
        return Ok(None);
    };
    let state = case_at(store, recorded).await?;
    let Some(file) = state.file.as_ref() else {
        return Ok(None);
    };
    let Some(doc) = file.documents.get(&document_id) else {
        return Ok(None);
    };
    Ok(Some(Notification {
        notification_id: recorded.event_id,
        kind: DOCUMENT_SHARED.to_owned(),
        case_id,
        request_id,
        phase: doc.phase,
        recipient_ref: file.recipient.pseudonym.clone(),
        confirmers: file
            .recipient
            .confirmers
            .iter()
            .map(|c| c.to_string())
            .collect(),
        entries: Vec::new(),
        deadline: None,
        sent_for: at,
        document: Some(NotifiedDocument {
            document_id,
            kind: doc.kind.clone(),
            title: doc.title.clone(),
            version: doc.version,
            document_sha256: doc.sha256.as_str().to_owned(),
            media_type: doc.media_type.clone(),
        }),
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

/// What the request a notification is for says about sending it now.
enum Sending {
    /// Still to be answered, and this is its current sending: POST it with this deadline
    /// (one day from now, the receipt if FirmaLOM acknowledges), or give up after `give_up`.
    Open {
        deadline: DateTime<Utc>,
        give_up: DateTime<Utc>,
    },
    /// Answered, expired, ended, or sent again since: nothing to send.
    Ended,
}

async fn sending(
    handler: &CommandHandler,
    notification: &Notification,
    now: DateTime<Utc>,
) -> Result<Sending, WorkerError> {
    let (state, _) = handler.load_case(notification.case_id).await?;
    let Some(file) = state.file.as_ref() else {
        return Ok(Sending::Ended);
    };
    let Some(measure) = handler.catalogue().get(&file.measure_id) else {
        return Ok(Sending::Ended);
    };
    let open = if notification.kind == DOCUMENT_SHARED {
        file.document_share(notification.request_id)
            .is_some_and(|(_, s)| s.status == RequestStatus::Pending)
    } else {
        file.requests
            .get(&notification.request_id)
            .is_some_and(|r| {
                r.status == RequestStatus::Pending
                    && r.sent_at == notification.sent_for
                    && r.undelivered.is_none()
                    && r.deadline.is_none_or(|d| now <= d)
            })
    };
    Ok(if open {
        Sending::Open {
            deadline: answer_deadline(measure, now),
            give_up: undeliverable_after(measure, notification.sent_for),
        }
    } else {
        Sending::Ended
    })
}

/// The command id of the dispatcher's report on one notification: the same on every server.
pub fn delivery_command_id(notification_id: Uuid) -> Uuid {
    diario_commands::derived_id(notification_id, "firmalom-delivery")
}

/// Records what FirmaLOM did with a notification as a case event (Art. 6). A report the case
/// no longer wants (answered, re-sent, already reported) is left out: the delivery log keeps it.
async fn report(
    handler: &CommandHandler,
    notification: &Notification,
    command: CaseCommand,
) -> Result<(), WorkerError> {
    let opts =
        CommandOptions::new().with_command_id(delivery_command_id(notification.notification_id));
    match handler
        .execute_case(notification.case_id, &command, &Caller::System, &opts)
        .await
    {
        Ok(_) => Ok(()),
        Err(HandlerError::Domain(e)) => {
            tracing::info!(notification = %notification.notification_id, error = %e, "delivery report not recorded on the case");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// FirmaLOM will not take this notification however often it is sent: a client error other
/// than a timeout or a rate limit.
fn refused_for_good(http_status: Option<i64>) -> bool {
    http_status.is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429)
}

/// The outcome of one dispatcher pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub failed: usize,
    pub skipped_request_ended: usize,
    /// Given up (refused for good, or not acknowledged within a day): recorded on the case.
    pub undeliverable: usize,
}

/// What one attempt came to.
enum Attempt {
    /// FirmaLOM acknowledged (2xx): the row is closed.
    Delivered { http_status: i64 },
    /// The request ended before the notification went out: the row is closed, nothing sent.
    RequestEnded,
    /// Refused for good, or still failing a day after the sending: the row is closed and the
    /// case records `ConfirmationNotificationUndelivered` (the responsabile is alerted).
    Undeliverable {
        http_status: Option<i64>,
        error: String,
    },
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
    let mut report_counts = DeliveryReport::default();
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
        let mut notification: Notification =
            serde_json::from_str(&row.text("payload")?).map_err(|e| {
                WorkerError::Follow(FollowError::Corrupt(format!("outbox payload {id}: {e}")))
            })?;
        let outcome = match sending(handler, &notification, now).await? {
            Sending::Ended => Attempt::RequestEnded,
            Sending::Open { deadline, give_up } => {
                notification.deadline = Some(deadline);
                let payload = serde_json::to_string(&notification).map_err(|e| {
                    WorkerError::Follow(FollowError::Corrupt(format!("outbox payload {id}: {e}")))
                })?;
                match post(client, policy, &id, payload, attempt).await {
                    Attempt::Failed {
                        http_status, error, ..
                    } if refused_for_good(http_status) || now > give_up => {
                        Attempt::Undeliverable { http_status, error }
                    }
                    other => other,
                }
            }
        };
        // The case learns first; a crash before the row is closed sends the notification again
        // and the report, with the same command id, is not recorded twice.
        // A document sharing has no deadline to start: its delivery log is the record.
        let reports = notification.kind != DOCUMENT_SHARED;
        match &outcome {
            Attempt::Delivered { .. } if !reports => report_counts.delivered += 1,
            Attempt::Undeliverable { error, .. } if !reports => {
                tracing::warn!(notification = %id, attempt, error = %error, "FirmaLOM document notification undeliverable");
                report_counts.undeliverable += 1;
            }
            Attempt::Delivered { .. } => {
                let command = CaseCommand::RecordNotificationDelivery(RecordNotificationDelivery {
                    request_id: notification.request_id,
                    sent_at: notification.sent_for,
                    received_at: now,
                });
                report(handler, &notification, command).await?;
                report_counts.delivered += 1;
            }
            Attempt::Undeliverable { error, .. } => {
                tracing::warn!(notification = %id, attempt, error = %error, "FirmaLOM notification undeliverable; the responsabile is alerted");
                let command =
                    CaseCommand::RecordNotificationUndelivered(RecordNotificationUndelivered {
                        request_id: notification.request_id,
                        sent_at: notification.sent_for,
                        attempts: u32::try_from(attempt).unwrap_or(u32::MAX),
                        last_error: error.clone(),
                    });
                report(handler, &notification, command).await?;
                report_counts.undeliverable += 1;
            }
            Attempt::RequestEnded => report_counts.skipped_request_ended += 1,
            Attempt::Failed { error, .. } => {
                tracing::warn!(notification = %id, attempt, error = %error, "FirmaLOM delivery failed; will retry");
                report_counts.failed += 1;
            }
        }
        record(db, &id, attempt, outcome).await?;
    }
    Ok(report_counts)
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
        Attempt::Undeliverable { http_status, error } => {
            (*http_status, "undeliverable", Some(error.clone()))
        }
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
        Attempt::Delivered { .. } | Attempt::RequestEnded | Attempt::Undeliverable { .. } => {
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
