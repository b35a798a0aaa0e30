//! HTTP idempotency records: the first answer to a write, kept per (actor, `Idempotency-Key`),
//! returned byte for byte to a retry. Not part of the event log (a retry after the retention
//! period is executed again, and the event store still writes a command id only once).

use chrono::{DateTime, Utc};
use diario_log::{Database, Row, StoreError};
use sha2::{Digest, Sha256};

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// SHA-256 of the request it answered (method ‖ path ‖ body).
    pub request_hash: String,
    pub status: u16,
    pub etag: Option<String>,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The record key: SHA-256 of the actor and the client's key (no personal data in clear).
pub fn key_hash(actor: &str, key: &str) -> String {
    hash_parts(&[b"idempotency-key", actor.as_bytes(), key.as_bytes()])
}

/// The fingerprint of a request.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    hash_parts(&[method.as_bytes(), path.as_bytes(), body])
}

fn hash_parts(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

fn from_row(r: &Row) -> Result<StoredResponse, StoreError> {
    let status = r.i64("status")?;
    Ok(StoredResponse {
        request_hash: r.text("request_hash")?,
        status: u16::try_from(status)
            .map_err(|_| StoreError::Corrupt(format!("stored HTTP status {status}")))?,
        etag: r.opt_text("etag")?,
        content_type: r.text("content_type")?,
        body: r.bytes("body")?,
    })
}

/// The answer stored under `key_hash`, if any.
pub async fn find(db: &Database, key_hash: &str) -> Result<Option<StoredResponse>, StoreError> {
    db.fetch_optional(
        "SELECT request_hash, status, etag, content_type, body FROM idempotency_keys \
         WHERE key_hash = $1",
        &[key_hash.into()],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Stores the answer unless one is already stored; returns the answer in force (the first).
/// When this call stored it (one row written), that is `response` itself and nothing is read
/// back; only a key stored by someone else in the meantime costs the second round trip.
pub async fn save(
    db: &Database,
    key_hash: &str,
    response: &StoredResponse,
    now: DateTime<Utc>,
) -> Result<StoredResponse, StoreError> {
    let written = db
        .exec(
            "INSERT INTO idempotency_keys \
         (key_hash, request_hash, status, etag, content_type, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key_hash) DO NOTHING",
            &[
                key_hash.into(),
                (&response.request_hash).into(),
                i64::from(response.status).into(),
                response.etag.clone().into(),
                (&response.content_type).into(),
                response.body.clone().into(),
                now.into(),
            ],
        )
        .await?;
    if written == 1 {
        return Ok(response.clone());
    }
    Ok(find(db, key_hash)
        .await?
        .unwrap_or_else(|| response.clone()))
}

/// Deletes the answers stored before `cutoff`; returns how many.
pub async fn purge_before(db: &Database, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
    db.exec(
        "DELETE FROM idempotency_keys WHERE created_at < $1",
        &[cutoff.into()],
    )
    .await
}
