//! The path every write takes: `If-Match` (412 when stale), `Idempotency-Key` (a retry with the
//! same key and the same request gets the first answer byte for byte; the same key with another
//! request is refused with 422), then the command, then the answer with the new version in the
//! body and as `ETag`.

use std::future::Future;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use diario_commands::{Principal, command_id_for};
use serde_json::Value;
use uuid::Uuid;

use crate::error::PROBLEM_JSON;
use crate::extract::WriteRequest;
use crate::idempotency::{self, StoredResponse};
use crate::{ApiError, AppState};

/// Header names.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

/// What a write needs from the request besides its body.
#[derive(Debug, Clone, Copy)]
pub struct WriteCtx {
    /// The store command id: derived from the actor and the key when one is given.
    pub command_id: Uuid,
    /// The version pinned with `If-Match`.
    pub expected: Option<i64>,
}

impl WriteCtx {
    /// The command handler's options of this write: its command id and the `If-Match` version
    /// (the same for every write, whatever its stream).
    pub fn options(&self) -> diario_commands::CommandOptions {
        diario_commands::CommandOptions::new()
            .with_command_id(self.command_id)
            .expecting(self.expected)
    }
}

/// A successful write.
pub struct Reply {
    pub status: StatusCode,
    pub version: Option<i64>,
    pub body: Value,
}

impl Reply {
    pub fn ok(version: Option<i64>, body: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            version,
            body,
        }
    }

    pub fn created(version: Option<i64>, body: Value) -> Reply {
        Reply {
            status: StatusCode::CREATED,
            version,
            body,
        }
    }
}

/// `If-Match: "<version>"` (also `W/"…"` or a bare number; `*` = any).
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("If-Match deve essere \"<versione>\"".into()))?
        .trim();
    if text == "*" {
        return Ok(None);
    }
    let unquoted = text.trim_start_matches("W/").trim_matches('"');
    unquoted
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .map(Some)
        .ok_or_else(|| {
            ApiError::BadRequest("If-Match deve essere \"<versione>\" (un numero)".into())
        })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "Idempotency-Key deve avere da 1 a 255 caratteri ASCII visibili".into(),
            )
        })?;
    Ok(Some(key.to_owned()))
}

fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

fn build(stored: &StoredResponse, replayed: bool) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, stored.body.clone()).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&stored.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Some(e) = stored
        .etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        headers.insert(header::ETAG, e);
    }
    if replayed {
        headers.insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// Runs a write with idempotency and `If-Match`.
pub async fn write<F, Fut>(
    state: &AppState,
    principal: &Principal,
    req: &WriteRequest,
    f: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(WriteCtx) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let expected = if_match(&req.headers)?;
    let key = idempotency_key(&req.headers)?;
    let actor = principal.cf.as_str();
    let request_hash = idempotency::request_hash(req.method.as_str(), &req.path, &req.body);
    let key_hash = key.as_deref().map(|k| idempotency::key_hash(actor, k));
    if let Some(kh) = &key_hash
        && let Some(stored) = idempotency::find(&state.db, kh).await?
    {
        if stored.request_hash != request_hash {
            return Err(ApiError::Unprocessable {
                code: "idempotency-key-reused",
                message: "questa Idempotency-Key è già stata usata per una richiesta diversa: usarne una nuova"
                    .into(),
            });
        }
        return Ok(build(&stored, true));
    }
    let command_id = key
        .as_deref()
        .map_or_else(Uuid::now_v7, |k| command_id_for(actor, k, &request_hash));
    let outcome = f(WriteCtx {
        command_id,
        expected,
    })
    .await;
    let (stored, keep) = match outcome {
        Ok(reply) => (
            StoredResponse {
                request_hash,
                status: reply.status.as_u16(),
                etag: reply.version.map(etag),
                content_type: "application/json".into(),
                body: serde_json::to_vec(&reply.body).map_err(internal)?,
            },
            true,
        ),
        Err(e) => {
            let keep = e.is_final();
            if !keep {
                return Err(e);
            }
            let etag = match &e {
                ApiError::LateAnswer { version } => Some(etag(*version)),
                _ => None,
            };
            let (status, body) = e.render();
            (
                StoredResponse {
                    request_hash,
                    status: status.as_u16(),
                    etag,
                    content_type: PROBLEM_JSON.into(),
                    body,
                },
                keep,
            )
        }
    };
    if let (Some(kh), true) = (&key_hash, keep) {
        let first = idempotency::save(&state.db, kh, &stored, chrono::Utc::now()).await?;
        return Ok(build(&first, false));
    }
    Ok(build(&stored, false))
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Internal(Box::new(e))
}
