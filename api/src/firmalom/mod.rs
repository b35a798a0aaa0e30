//! FirmaLOM over HTTP (Art. 6, docs/firmalom.md): the inbound callback
//! `POST /v1/firmalom/callbacks` and the configuration of the outbound dispatcher.
//!
//! The callback carries no bearer token: FirmaLOM authenticates with an HMAC-SHA256 signature
//! over `"{timestamp}.{body}"` (headers `X-FirmaLOM-Timestamp`, `X-FirmaLOM-Signature`), checked
//! against the wall clock within a window. A delivery id is answered once: a replay gets 409
//! `callback-replayed` and changes nothing. The answer then takes the normal command path
//! (`AnswerConfirmation`, the signer as actor with the recipient role).
//!
//! Outbound, the [`outbox`] (a follower of the log) and its dispatcher; both directions are
//! signed the same way ([`signature`]).

pub mod outbox;
pub mod signature;

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Router, http::HeaderMap};
use chrono::Utc;
use clap::Args;
use diario_commands::{Caller, CommandOptions, derived_id};
use diario_domain::case::{Answer, AnswerConfirmation, AnswerDocument, EntryAnswer};
use diario_domain::{CaseCommand, DomainError, FiscalCode};
use diario_log::{Database, StoreError, Val};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use outbox::DeliveryPolicy;
pub use signature::{SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER, sign, verify};

use crate::error::Problem;
use crate::extract::BODY_LIMIT;
use crate::{ApiError, AppState};

/// FirmaLOM settings of a server.
#[derive(Clone)]
pub struct FirmalomConfig {
    /// Where notifications are POSTed; `None`: no dispatcher (callbacks still accepted).
    pub url: Option<String>,
    /// The shared HMAC secret (both directions).
    pub secret: Vec<u8>,
    /// How far a callback's timestamp may be from the wall clock.
    pub callback_window: Duration,
    /// First retry delay after a failed delivery (doubles per attempt).
    pub first_retry: Duration,
    /// Cap of the retry delay.
    pub max_retry: Duration,
    /// Timeout of one delivery.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for FirmalomConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirmalomConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("callback_window", &self.callback_window)
            .field("first_retry", &self.first_retry)
            .field("max_retry", &self.max_retry)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl FirmalomConfig {
    /// Defaults: 5-minute window, retries from 2 s doubling up to 10 min, 10 s timeout.
    pub fn new(url: Option<String>, secret: impl Into<Vec<u8>>) -> Self {
        FirmalomConfig {
            url,
            secret: secret.into(),
            callback_window: Duration::from_secs(300),
            first_retry: Duration::from_secs(2),
            max_retry: Duration::from_secs(600),
            request_timeout: Duration::from_secs(10),
        }
    }

    /// The dispatcher's policy, when a URL is configured.
    pub fn policy(&self) -> Option<DeliveryPolicy> {
        self.url.as_ref().map(|url| DeliveryPolicy {
            url: url.clone(),
            secret: self.secret.clone(),
            first_retry: self.first_retry,
            max_retry: self.max_retry,
            request_timeout: self.request_timeout,
        })
    }
}

/// `diario serve` flags for FirmaLOM and the background workers.
#[derive(Debug, Args)]
pub struct FirmalomArgs {
    /// FirmaLOM endpoint notifications are POSTed to; unset: no dispatcher.
    #[arg(long, env = "DIARIO_FIRMALOM_URL")]
    pub firmalom_url: Option<String>,
    /// Shared HMAC-SHA256 secret (at least 16 bytes) for notifications and callbacks.
    #[arg(long, env = "DIARIO_FIRMALOM_SECRET", hide_env_values = true)]
    pub firmalom_secret: Option<String>,
    /// Accepted distance (seconds) between a callback's timestamp and the server's wall clock.
    #[arg(
        long,
        env = "DIARIO_FIRMALOM_CALLBACK_WINDOW_SECS",
        default_value_t = 300
    )]
    pub firmalom_callback_window_secs: u64,
    /// First retry delay (milliseconds) after a failed delivery; doubles per attempt.
    #[arg(long, env = "DIARIO_FIRMALOM_RETRY_FIRST_MS", default_value_t = 2000)]
    pub firmalom_retry_first_ms: u64,
    /// Cap of the retry delay (seconds).
    #[arg(long, env = "DIARIO_FIRMALOM_RETRY_MAX_SECS", default_value_t = 600)]
    pub firmalom_retry_max_secs: u64,
    /// How often (milliseconds) the dispatcher feeds the outbox and delivers due notifications.
    #[arg(
        long,
        env = "DIARIO_FIRMALOM_DISPATCH_INTERVAL_MS",
        default_value_t = 1000
    )]
    pub firmalom_dispatch_interval_ms: u64,
    /// How often (milliseconds) the deadline scheduler looks for overdue requests.
    #[arg(long, env = "DIARIO_DEADLINE_SCAN_INTERVAL_MS", default_value_t = 5000)]
    pub deadline_scan_interval_ms: u64,
    /// Hours Idempotency-Key answers are kept for retries (0: forever).
    #[arg(
        long,
        env = "DIARIO_IDEMPOTENCY_RETENTION_HOURS",
        default_value_t = 168
    )]
    pub idempotency_retention_hours: u64,
}

impl FirmalomArgs {
    /// The FirmaLOM configuration, `None` when no secret is set.
    pub fn config(&self) -> Result<Option<FirmalomConfig>, String> {
        let url = self.firmalom_url.clone().filter(|u| !u.trim().is_empty());
        let secret = self.firmalom_secret.clone().filter(|s| !s.is_empty());
        match (url, secret) {
            (None, None) => Ok(None),
            (Some(_), None) => {
                Err("DIARIO_FIRMALOM_URL is set but DIARIO_FIRMALOM_SECRET is not".into())
            }
            (_, Some(s)) if s.len() < 16 => {
                Err("DIARIO_FIRMALOM_SECRET must be at least 16 bytes".into())
            }
            (url, Some(secret)) => {
                let mut c = FirmalomConfig::new(url, secret.into_bytes());
                c.callback_window = Duration::from_secs(self.firmalom_callback_window_secs);
                c.first_retry = Duration::from_millis(self.firmalom_retry_first_ms.max(1));
                c.max_retry = Duration::from_secs(self.firmalom_retry_max_secs.max(1));
                Ok(Some(c))
            }
        }
    }

    /// Intervals of the background workers.
    pub fn worker_settings(&self) -> crate::scheduler::WorkerSettings {
        crate::scheduler::WorkerSettings {
            dispatch_interval: Duration::from_millis(self.firmalom_dispatch_interval_ms.max(10)),
            deadline_interval: Duration::from_millis(self.deadline_scan_interval_ms.max(10)),
            idempotency_retention: (self.idempotency_retention_hours > 0)
                .then(|| Duration::from_secs(self.idempotency_retention_hours * 3600)),
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/firmalom/callbacks", post(callback))
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
    /// With `outcome: per_entry`: one outcome per entry of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<CallbackEntry>>,
}

/// One entry's outcome in a per-entry answer (phases III–IV).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackEntry {
    pub entry_id: Uuid,
    /// `confirmed` or `rejected`.
    #[schema(value_type = String)]
    pub outcome: CallbackOutcome,
    /// Why rejected, when the recipient said.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackOutcome {
    Confirmed,
    Rejected,
    /// Phases III–IV: some entries confirmed, others rejected (`entries`).
    PerEntry,
}

impl CallbackOutcome {
    fn as_str(self) -> &'static str {
        match self {
            CallbackOutcome::Confirmed => "confirmed",
            CallbackOutcome::Rejected => "rejected",
            CallbackOutcome::PerEntry => "per_entry",
        }
    }
}

/// Remembers a callback's delivery id; false when it was already seen (a replay).
async fn remember_callback(
    db: &Database,
    callback: &Callback,
    http_status: u16,
) -> Result<bool, StoreError> {
    let inserted = db
        .exec(
            "INSERT INTO firmalom_callbacks (delivery_id, received_at, case_id, request_id, \
             outcome, http_status) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (delivery_id) DO NOTHING",
            &[
                Val::uuid_text(callback.delivery_id),
                Val::instant_text(Utc::now()),
                Val::uuid_text(callback.case_id),
                Val::uuid_text(callback.request_id),
                callback.outcome.as_str().into(),
                i64::from(http_status).into(),
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// What a processed callback answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackResult {
    pub delivery_id: Uuid,
    pub case_id: Uuid,
    pub request_id: Uuid,
    /// `confirmed` or `rejected`.
    pub outcome: String,
    /// The case version after the answer.
    pub version: i64,
    /// Events recorded (JSON, `type` = event name).
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
}

/// The body of a callback (FirmaLOM → Diario), signed like the notifications.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CallbackBody {
    /// Unique per delivery: a second delivery with the same id is refused as a replay.
    delivery_id: Uuid,
    case_id: Uuid,
    request_id: Uuid,
    /// The signer's fiscal code: must be a confirmer on file (recipient or family member).
    signer_cf: String,
    /// `confirmed`, `rejected` (the whole request), or `per_entry` (phases III–IV: `entries`
    /// gives every entry of the request once, each `confirmed` or `rejected`).
    outcome: String,
    /// Why rejected, when the recipient said (optional: a rejection is recorded without one).
    reason: Option<String>,
    /// With `per_entry` only.
    entries: Option<Vec<CallbackEntry>>,
}

/// The recipient's answer from FirmaLOM (HMAC-signed; no bearer token).
#[utoipa::path(post, path = "/v1/firmalom/callbacks", tag = "firmalom",
    request_body = CallbackBody,
    params(
        ("X-FirmaLOM-Timestamp" = String, Header, description = "Unix seconds; within the window of the server's wall clock"),
        ("X-FirmaLOM-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256(secret, \"{timestamp}.{body}\")>"),
    ),
    responses(
        (status = 200, description = "answer recorded", body = CallbackResult),
        (status = "4XX", description = "401 invalid-signature (bad, missing or stale signature), 400 malformed body, 403 not-a-confirmer, 404 unknown case or request, 409 callback-replayed (delivery id already answered; `original_status`) or confirmation-request-not-pending, 422 confirmation-answer-too-late (the expiry is recorded)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "no FirmaLOM secret configured", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn callback(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let Some(config) = state.firmalom.clone() else {
        return Err(ApiError::FirmalomNotConfigured);
    };
    let headers: HeaderMap = req.headers().clone();
    let body = Bytes::from_request(req, &state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(BODY_LIMIT)
            } else {
                ApiError::BadRequest("il corpo della richiesta non è leggibile".into())
            }
        })?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // The signature is about the network, not the regulation: the wall clock, not the service
    // clock (which `--test-clock` may have moved).
    verify(
        &config.secret,
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        Utc::now(),
        config.callback_window,
    )
    .map_err(ApiError::BadSignature)?;
    // The body parser of every write: control characters (which PostgreSQL cannot store) are
    // refused naming the field, even in a correctly signed callback.
    let callback: Callback = crate::extract::parse(&body)?;
    if let Some(original) = answered_before(&state, callback.delivery_id).await? {
        return Err(ApiError::CallbackReplayed {
            original_status: original,
        });
    }
    let result = answer(&state, &callback).await;
    let status = match &result {
        Ok(_) => Some(StatusCode::OK.as_u16()),
        Err(e) if e.is_final() => Some(e.render().0.as_u16()),
        // Transient: FirmaLOM may deliver the same id again.
        Err(_) => None,
    };
    if let Some(status) = status {
        let first = remember_callback(&state.db, &callback, status).await?;
        if !first && result.as_ref().is_ok_and(|r| r.replayed) {
            // A concurrent delivery of the same id won; the store deduplicated this one.
            return Err(ApiError::CallbackReplayed {
                original_status: StatusCode::OK.as_u16(),
            });
        }
    }
    let done = result?;
    if done.replayed {
        return Err(ApiError::CallbackReplayed {
            original_status: StatusCode::OK.as_u16(),
        });
    }
    Ok(Json(done.body).into_response())
}

struct Answered {
    body: CallbackResult,
    replayed: bool,
}

async fn answered_before(state: &AppState, delivery_id: Uuid) -> Result<Option<u16>, ApiError> {
    let row = state
        .db
        .fetch_optional(
            "SELECT http_status FROM firmalom_callbacks WHERE delivery_id = $1",
            &[Val::uuid_text(delivery_id)],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let status = row.i64("http_status")?;
    u16::try_from(status)
        .map(Some)
        .map_err(|_| ApiError::Internal(format!("stored callback status {status}").into()))
}

/// The command id of a delivery: two deliveries of one id append at most once.
pub fn callback_command_id(delivery_id: Uuid) -> Uuid {
    derived_id(delivery_id, "firmalom-callback")
}

async fn answer(state: &AppState, callback: &Callback) -> Result<Answered, ApiError> {
    let (case, _) = state.handler.load_case(callback.case_id).await?;
    let Some(file) = &case.file else {
        return Err(ApiError::NotFoundWhat(format!(
            "no case {}",
            callback.case_id
        )));
    };
    let is_document = file.document_share(callback.request_id).is_some();
    if !file.requests.contains_key(&callback.request_id) && !is_document {
        return Err(ApiError::Domain(DomainError::RequestNotFound(
            callback.request_id,
        )));
    }
    let signer = FiscalCode::parse(&callback.signer_cf)
        .map_err(|e| ApiError::BadRequest(format!("signer_cf non è un codice fiscale: {e}")))?;
    if !file.recipient.confirmers.contains(&signer) {
        return Err(ApiError::Domain(DomainError::NotAConfirmer));
    }
    if is_document {
        // A shared document (Art. 1) is confirmed or rejected as a whole.
        let confirmed = match (callback.outcome, &callback.entries) {
            (CallbackOutcome::Confirmed, None) => true,
            (CallbackOutcome::Rejected, None) => false,
            _ => {
                return Err(ApiError::Malformed {
                    field: Some("outcome".into()),
                    message: "outcome: un documento si conferma (confirmed) o si respinge (rejected) per intero".into(),
                });
            }
        };
        let command = CaseCommand::AnswerDocument(AnswerDocument {
            request_id: callback.request_id,
            confirmed,
            reason: callback.reason.clone(),
        });
        return run_answer(state, callback, signer, command).await;
    }
    let answer = match (callback.outcome, &callback.entries) {
        (CallbackOutcome::Confirmed, None) => Answer::Confirmed,
        (CallbackOutcome::Rejected, None) => Answer::Rejected {
            reason: callback.reason.clone(),
        },
        (CallbackOutcome::PerEntry, Some(entries)) => Answer::PerEntry {
            entries: entries
                .iter()
                .map(|e| {
                    Ok(EntryAnswer {
                        entry_id: e.entry_id,
                        confirmed: match e.outcome {
                            CallbackOutcome::Confirmed => true,
                            CallbackOutcome::Rejected => false,
                            CallbackOutcome::PerEntry => {
                                return Err(ApiError::Malformed {
                                    field: Some("entries".into()),
                                    message: "entries: ogni esito è confirmed o rejected".into(),
                                });
                            }
                        },
                        reason: e.reason.clone(),
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        },
        (CallbackOutcome::PerEntry, None) | (_, Some(_)) => {
            return Err(ApiError::Malformed {
                field: Some("entries".into()),
                message: "entries: richiesto con outcome per_entry, e solo con quello".into(),
            });
        }
    };
    let command = CaseCommand::AnswerConfirmation(AnswerConfirmation {
        request_id: callback.request_id,
        answer,
    });
    run_answer(state, callback, signer, command).await
}

/// Runs the signer's answer under the delivery's command id.
async fn run_answer(
    state: &AppState,
    callback: &Callback,
    signer: FiscalCode,
    command: CaseCommand,
) -> Result<Answered, ApiError> {
    let opts = CommandOptions::new().with_command_id(callback_command_id(callback.delivery_id));
    let outcome = state
        .handler
        .execute_case(
            callback.case_id,
            &command,
            &Caller::Recipient(signer),
            &opts,
        )
        .await?;
    if outcome.refused_answer().is_some() {
        return Err(ApiError::LateAnswer {
            version: outcome.version,
        });
    }
    Ok(Answered {
        replayed: outcome.replayed,
        body: CallbackResult {
            delivery_id: callback.delivery_id,
            case_id: callback.case_id,
            request_id: callback.request_id,
            outcome: callback.outcome.as_str().to_owned(),
            version: outcome.version,
            events: crate::dto::events_json(&outcome.events)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: Option<&str>, secret: Option<&str>) -> FirmalomArgs {
        FirmalomArgs {
            firmalom_url: url.map(str::to_owned),
            firmalom_secret: secret.map(str::to_owned),
            firmalom_callback_window_secs: 60,
            firmalom_retry_first_ms: 500,
            firmalom_retry_max_secs: 30,
            firmalom_dispatch_interval_ms: 250,
            deadline_scan_interval_ms: 1000,
            idempotency_retention_hours: 24,
        }
    }

    #[test]
    fn idempotency_retention_is_hours_and_zero_keeps_answers_forever() {
        let mut a = args(None, None);
        assert_eq!(
            a.worker_settings().idempotency_retention,
            Some(Duration::from_secs(24 * 3600))
        );
        a.idempotency_retention_hours = 0;
        assert_eq!(a.worker_settings().idempotency_retention, None);
    }

    #[test]
    fn a_firmalom_url_needs_a_long_enough_secret() {
        assert!(matches!(args(None, None).config(), Ok(None)));
        assert!(args(Some("http://f/n"), None).config().is_err());
        assert!(args(Some("http://f/n"), Some("short")).config().is_err());
        let c = args(Some("http://f/n"), Some("0123456789abcdef"))
            .config()
            .ok()
            .flatten()
            .expect("config");
        assert_eq!(c.callback_window, Duration::from_secs(60));
        let policy = c.policy().expect("a dispatcher policy with a URL");
        assert_eq!(policy.first_retry, Duration::from_millis(500));
        assert_eq!(policy.max_retry, Duration::from_secs(30));
        // A secret alone accepts callbacks without a dispatcher.
        let callbacks_only = args(None, Some("0123456789abcdef"))
            .config()
            .ok()
            .flatten()
            .expect("config");
        assert!(callbacks_only.policy().is_none());
        assert!(
            !format!("{c:?}").contains("0123456789abcdef"),
            "secret redacted"
        );
    }
}
