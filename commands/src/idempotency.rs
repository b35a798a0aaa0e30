//! HTTP idempotency records (DESIGN §6): the first answer to a write, kept per
//! (actor, `Idempotency-Key`), returned byte for byte to a retry. Not part of the event log.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{Database, StoreError};

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

type Row = (String, i64, Option<String>, String, Vec<u8>);

fn from_row((request_hash, status, etag, content_type, body): Row) -> StoredResponse {
    StoredResponse {
        request_hash,
        status: u16::try_from(status).unwrap_or(500),
        etag,
        content_type,
        body,
    }
}

/// The answer stored under `key_hash`, if any.
pub async fn find(db: &Database, key_hash: &str) -> Result<Option<StoredResponse>, StoreError> {
    let row: Option<Row> = match db {
        Database::Postgres(pool) => {
            sqlx::query_as(
                "SELECT request_hash, status::BIGINT, etag, content_type, body \
             FROM idempotency_keys WHERE key_hash = $1",
            )
            .bind(key_hash)
            .fetch_optional(pool)
            .await?
        }
        Database::Sqlite(pool) => {
            sqlx::query_as(
                "SELECT request_hash, status, etag, content_type, body \
             FROM idempotency_keys WHERE key_hash = ?",
            )
            .bind(key_hash)
            .fetch_optional(pool)
            .await?
        }
    };
    Ok(row.map(from_row))
}

/// Stores the answer unless one is already stored; returns the answer in force (the first).
pub async fn save(
    db: &Database,
    key_hash: &str,
    response: &StoredResponse,
    now: DateTime<Utc>,
) -> Result<StoredResponse, StoreError> {
    match db {
        Database::Postgres(pool) => {
            sqlx::query(
                "INSERT INTO idempotency_keys \
                 (key_hash, request_hash, status, etag, content_type, body, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key_hash) DO NOTHING",
            )
            .bind(key_hash)
            .bind(&response.request_hash)
            .bind(i32::from(response.status))
            .bind(&response.etag)
            .bind(&response.content_type)
            .bind(&response.body)
            .bind(now)
            .execute(pool)
            .await?;
        }
        Database::Sqlite(pool) => {
            sqlx::query(
                "INSERT INTO idempotency_keys \
                 (key_hash, request_hash, status, etag, content_type, body, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_hash) DO NOTHING",
            )
            .bind(key_hash)
            .bind(&response.request_hash)
            .bind(i64::from(response.status))
            .bind(&response.etag)
            .bind(&response.content_type)
            .bind(&response.body)
            .bind(now.to_rfc3339())
            .execute(pool)
            .await?;
        }
    }
    Ok(find(db, key_hash)
        .await?
        .unwrap_or_else(|| response.clone()))
}

/// Deletes the answers stored before `cutoff`; returns how many. Idempotency records are a
/// cache of HTTP answers for retries, not part of the record: a retry after the retention
/// period is executed again (and the event store still writes a command id only once).
pub async fn purge_before(db: &Database, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(match db {
        Database::Postgres(pool) => {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected()
        }
        // Stored as RFC 3339 in UTC (`+00:00`): text order is time order.
        Database::Sqlite(pool) => sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?")
            .bind(cutoff.to_rfc3339())
            .execute(pool)
            .await?
            .rows_affected(),
    })
}
