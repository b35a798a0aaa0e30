//! FirmaLOM integration (Art. 6): the recipient or the family confirms from the FirmaLOM app.
//!
//! - Signatures: both directions carry `X-FirmaLOM-Timestamp` (Unix seconds) and
//!   `X-FirmaLOM-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
//! - Outbound: every `ConfirmationRequested` / `ConfirmationResent` event becomes one row of
//!   `firmalom_outbox`, created by [`feed_outbox`] from the event log in the same transaction as
//!   its checkpoint (the log is the outbox). [`deliver_due`] POSTs due rows, records every attempt
//!   in `firmalom_delivery_attempts`, retries failures with capped exponential backoff, and never
//!   sends a notification whose request has already ended.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diario_domain::{CaseEvent, CaseState, Phase, RequestStatus, fold};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::codec::{case_id_of, case_stream, decode_case_event};
use crate::store::{EventStore, GlobalPosition, RecordedEvent, StoreError};
use crate::{Database, on_db};

pub const TIMESTAMP_HEADER: &str = "x-firmalom-timestamp";
pub const SIGNATURE_HEADER: &str = "x-firmalom-signature";
pub const NOTIFICATION_ID_HEADER: &str = "x-diario-notification-id";

/// `sha256=<hex>` of HMAC-SHA256 over `"{timestamp}.{body}"`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = mac(secret, timestamp);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &[u8], timestamp: i64) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac
}

/// Why a signed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature headers are missing")]
    Missing,
    #[error("the signature headers are malformed")]
    Malformed,
    #[error("the timestamp is outside the accepted window")]
    Stale,
    #[error("the signature does not match the body")]
    Invalid,
}

/// Checks a signature in constant time and that the timestamp is within `window` of `now`.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    window: Duration,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed)?;
    let hex_sig = signature
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let given = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    let mut mac = mac(secret, ts);
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Invalid)?;
    let skew = (now.timestamp() - ts).unsigned_abs();
    if skew > window.as_secs() {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

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

/// The answer FirmaLOM posts back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    pub delivery_id: Uuid,
    pub case_id: Uuid,
    pub request_id: Uuid,
    pub signer_cf: String,
    pub outcome: CallbackOutcome,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackOutcome {
    Confirmed,
    Rejected,
}

/// Failures of the outbox machinery.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

pub(crate) fn instant_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Builds the notification for a request event from the case as it was at that event.
async fn notification_for(
    store: &dyn EventStore,
    recorded: &RecordedEvent,
) -> Result<Option<Notification>, OutboxError> {
    let event = decode_case_event(recorded).map_err(|e| OutboxError::Corrupt(e.to_string()))?;
    let (kind, request_id, deadline) = match &event {
        CaseEvent::ConfirmationRequested {
            request_id,
            deadline,
            ..
        } => ("confirmation_requested", *request_id, *deadline),
        CaseEvent::ConfirmationResent {
            request_id,
            deadline,
            ..
        } => ("confirmation_resent", *request_id, *deadline),
        _ => return Ok(None),
    };
    let Some(case_id) = case_id_of(&recorded.stream_id) else {
        return Ok(None);
    };
    let history = store.read_stream(&recorded.stream_id, 1).await?;
    let events = history
        .iter()
        .take_while(|e| e.stream_version <= recorded.stream_version)
        .map(decode_case_event)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| OutboxError::Corrupt(e.to_string()))?;
    let state = fold(events.iter());
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
            start: e.slot.start.format("%H:%M").to_string(),
            end: e.slot.end.format("%H:%M").to_string(),
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

/// Moves new request events from the log into the outbox; returns how many events were read.
/// Safe to run from several servers: rows are keyed by event id and the checkpoint only moves
/// forward.
pub async fn feed_outbox(db: &Database, store: &dyn EventStore) -> Result<usize, OutboxError> {
    let (tx_id, pos): (i64, i64) = on_db!(db, pool => {
        sqlx::query_as("SELECT last_transaction, last_position FROM firmalom_feed_checkpoint WHERE id = 1")
            .fetch_one(pool)
            .await?
    });
    let after = GlobalPosition {
        transaction: u64::try_from(tx_id).unwrap_or(0),
        position: pos,
    };
    let batch = store.read_all(after, 200).await?;
    let Some(last) = batch.last().map(|e| e.global_position) else {
        return Ok(0);
    };
    let mut rows = Vec::new();
    for e in &batch {
        if matches!(
            e.event_type.as_str(),
            "ConfirmationRequested" | "ConfirmationResent"
        ) && let Some(n) = notification_for(store, e).await?
        {
            rows.push(n);
        }
    }
    let last_tx = i64::try_from(last.transaction).unwrap_or(i64::MAX);
    on_db!(db, pool => {
        let mut tx = pool.begin().await?;
        for n in &rows {
            let payload = serde_json::to_string(n).map_err(|e| OutboxError::Corrupt(e.to_string()))?;
            let at = instant_text(n.sent_for);
            sqlx::query(
                "INSERT INTO firmalom_outbox (notification_id, case_id, request_id, kind, payload, \
                 created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (notification_id) DO NOTHING",
            )
            .bind(n.notification_id.to_string())
            .bind(n.case_id.to_string())
            .bind(n.request_id.to_string())
            .bind(&n.kind)
            .bind(payload)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE firmalom_feed_checkpoint SET last_transaction = $1, last_position = $2 \
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
    store: &dyn EventStore,
    case_id: Uuid,
    request_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, OutboxError> {
    let events = store
        .read_stream(&case_stream(case_id), 1)
        .await?
        .iter()
        .map(decode_case_event)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| OutboxError::Corrupt(e.to_string()))?;
    let state: CaseState = fold(events.iter());
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

/// Delivers every due notification once (one attempt each). `now` is the service clock for the
/// request's deadline; retry scheduling uses wall time (`Utc::now()`), since backoff is about
/// the network, not the regulation.
pub async fn deliver_due(
    db: &Database,
    store: &dyn EventStore,
    client: &reqwest::Client,
    policy: &DeliveryPolicy,
    now: DateTime<Utc>,
) -> Result<DeliveryReport, OutboxError> {
    let wall = Utc::now();
    let wall_text = instant_text(wall);
    let due: Vec<(String, String, String, String, i64)> = on_db!(db, pool => {
        sqlx::query_as(
            "SELECT notification_id, case_id, request_id, payload, attempts FROM firmalom_outbox \
             WHERE closed_at IS NULL AND next_attempt_at <= $1 \
               AND (locked_until IS NULL OR locked_until < $1) \
             ORDER BY next_attempt_at LIMIT 50",
        )
        .bind(&wall_text)
        .fetch_all(pool)
        .await?
    });
    let mut report = DeliveryReport::default();
    for (id, case_id, request_id, payload, attempts) in due {
        // Claim the row so that another server does not send it at the same time.
        let lease = instant_text(wall + policy.request_timeout * 2);
        let claimed = on_db!(db, pool => {
            sqlx::query(
                "UPDATE firmalom_outbox SET locked_until = $1 WHERE notification_id = $2 \
                 AND closed_at IS NULL AND (locked_until IS NULL OR locked_until < $3)",
            )
            .bind(&lease)
            .bind(&id)
            .bind(&wall_text)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if claimed != 1 {
            continue;
        }
        let attempt = attempts + 1;
        let case_uuid =
            Uuid::parse_str(&case_id).map_err(|e| OutboxError::Corrupt(e.to_string()))?;
        let request_uuid =
            Uuid::parse_str(&request_id).map_err(|e| OutboxError::Corrupt(e.to_string()))?;
        if !request_is_open(store, case_uuid, request_uuid, now).await? {
            record(db, &id, attempt, None, "request_ended", None, true, None).await?;
            report.skipped_request_ended += 1;
            continue;
        }
        let timestamp = Utc::now().timestamp();
        let result = client
            .post(&policy.url)
            .timeout(policy.request_timeout)
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(&policy.secret, timestamp, payload.as_bytes()),
            )
            .header(NOTIFICATION_ID_HEADER, &id)
            .body(payload.clone())
            .send()
            .await;
        match result {
            Ok(resp) if resp.status().is_success() => {
                let status = i64::from(resp.status().as_u16());
                record(
                    db,
                    &id,
                    attempt,
                    Some(status),
                    "delivered",
                    None,
                    true,
                    None,
                )
                .await?;
                report.delivered += 1;
            }
            other => {
                let (status, error) = match other {
                    Ok(resp) => (
                        Some(i64::from(resp.status().as_u16())),
                        format!("FirmaLOM answered {}", resp.status()),
                    ),
                    Err(e) => (None, format!("request failed: {e}")),
                };
                let retry_at =
                    Utc::now() + policy.backoff(u32::try_from(attempt).unwrap_or(u32::MAX));
                record(
                    db,
                    &id,
                    attempt,
                    status,
                    "failed",
                    Some(&error),
                    false,
                    Some(retry_at),
                )
                .await?;
                tracing::warn!(notification = %id, attempt, error = %error, "FirmaLOM delivery failed; will retry");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// Records one attempt and updates the outbox row, in one transaction.
#[allow(clippy::too_many_arguments)]
async fn record(
    db: &Database,
    id: &str,
    attempt: i64,
    http_status: Option<i64>,
    outcome: &str,
    error: Option<&str>,
    close: bool,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), OutboxError> {
    let at = instant_text(Utc::now());
    let retry = retry_at.map(instant_text);
    on_db!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO firmalom_delivery_attempts (notification_id, attempt, attempted_at, \
             http_status, outcome, error) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(attempt)
        .bind(&at)
        .bind(http_status)
        .bind(outcome)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        if close {
            sqlx::query(
                "UPDATE firmalom_outbox SET attempts = $1, locked_until = NULL, closed_at = $2, \
                 outcome = $3, delivered_at = CASE WHEN $3 = 'delivered' THEN $2 ELSE NULL END \
                 WHERE notification_id = $4",
            )
            .bind(attempt)
            .bind(&at)
            .bind(outcome)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE firmalom_outbox SET attempts = $1, locked_until = NULL, next_attempt_at = $2 \
                 WHERE notification_id = $3",
            )
            .bind(attempt)
            .bind(retry.as_deref().unwrap_or(&at))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// One row of the delivery log, for auditors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
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
) -> Result<Vec<DeliveryAttempt>, OutboxError> {
    let rows: Vec<DeliveryAttempt> = on_db!(db, pool => {
        sqlx::query_as(
            "SELECT a.notification_id, a.attempt, a.attempted_at, a.http_status, a.outcome, a.error \
             FROM firmalom_delivery_attempts a JOIN firmalom_outbox o USING (notification_id) \
             WHERE o.case_id = $1 ORDER BY a.attempted_at, a.attempt",
        )
        .bind(case_id.to_string())
        .fetch_all(pool)
        .await?
    });
    Ok(rows)
}

/// Remembers a callback's delivery id; false when it was already seen (a replay).
pub async fn remember_callback(
    db: &Database,
    callback: &Callback,
    http_status: u16,
) -> Result<bool, OutboxError> {
    let outcome = match callback.outcome {
        CallbackOutcome::Confirmed => "confirmed",
        CallbackOutcome::Rejected => "rejected",
    };
    let inserted = on_db!(db, pool => {
        sqlx::query(
            "INSERT INTO firmalom_callbacks (delivery_id, received_at, case_id, request_id, outcome, \
             http_status) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id) DO NOTHING",
        )
        .bind(callback.delivery_id.to_string())
        .bind(instant_text(Utc::now()))
        .bind(callback.case_id.to_string())
        .bind(callback.request_id.to_string())
        .bind(outcome)
        .bind(i64::from(http_status))
        .execute(pool)
        .await?
        .rows_affected()
    });
    Ok(inserted == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"segreto-condiviso";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let body = br#"{"a":1}"#;
        let sig = sign(SECRET, 1_800_000_000, body);
        let window = Duration::from_secs(300);
        assert_eq!(
            verify(SECRET, Some("1800000000"), Some(&sig), body, now(), window),
            Ok(())
        );
    }

    #[test]
    fn a_forged_altered_or_stale_message_is_refused() {
        let body = br#"{"a":1}"#;
        let window = Duration::from_secs(300);
        let sig = sign(SECRET, 1_800_000_000, body);
        let forged = sign(b"altro", 1_800_000_000, body);
        assert_eq!(
            verify(
                SECRET,
                Some("1800000000"),
                Some(&forged),
                body,
                now(),
                window
            ),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(
                SECRET,
                Some("1800000000"),
                Some(&sig),
                br#"{"a":2}"#,
                now(),
                window
            ),
            Err(SignatureError::Invalid)
        );
        // The timestamp is signed too: moving it breaks the signature.
        assert_eq!(
            verify(SECRET, Some("1800000001"), Some(&sig), body, now(), window),
            Err(SignatureError::Invalid)
        );
        let old = sign(SECRET, 1_800_000_000 - 301, body);
        assert_eq!(
            verify(SECRET, Some("1799999699"), Some(&old), body, now(), window),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, None, Some(&sig), body, now(), window),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, Some("x"), Some(&sig), body, now(), window),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(
                SECRET,
                Some("1800000000"),
                Some("md5=00"),
                body,
                now(),
                window
            ),
            Err(SignatureError::Malformed)
        );
    }

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
