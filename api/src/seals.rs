//! The daily seals (`docs/dossier.md`, "The daily seal"): the list, and one seal with every
//! stream head it covers, so its root can be recomputed and compared with a copy kept outside
//! the database. Unscoped auditors and platform administrators (stream ids name cases and
//! fiscal codes).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use diario_domain::grants::GrantRole;
use diario_domain::seal::{SealEvent, SealState, SealedHead, evolve_seal};
use diario_log::{LogEvent, StreamId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::error::Problem;
use crate::extract::ApiPath;
use crate::{ApiError, AppState};
use diario_commands::{Denied, Principal};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/seals", get(list_seals))
        .route("/v1/seals/{day}", get(get_seal))
}

/// One seal.
#[derive(Debug, Serialize, ToSchema)]
pub struct SealSummary {
    /// The civil day (Europe/Rome).
    pub day: NaiveDate,
    /// The Merkle root over every stream head (`docs/dossier.md`).
    pub root: String,
    pub previous_root: Option<String>,
    /// Streams covered.
    pub streams: u64,
    /// Heads that changed since the previous seal.
    pub changed: usize,
    pub sealed_at: DateTime<Utc>,
    /// The seal's version in the `seals` stream (its hash chain covers the seals too).
    pub version: i64,
    pub hash: String,
}

/// The seals, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SealList {
    pub seals: Vec<SealSummary>,
}

/// One seal with every head it covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct SealView {
    #[serde(flatten)]
    pub seal: SealSummary,
    /// Every stream's head as of this seal (the seals up to it folded), by stream id.
    #[schema(value_type = Vec<Object>)]
    pub heads: Vec<SealedHead>,
    /// How to recompute `root` from `heads`.
    pub how_to_verify: String,
}

const HOW: &str = "Foglie: i flussi in ordine di stream_id (byte), foglia = hex(SHA-256(stream_id \
    \":\" version \":\" hash)); a ogni livello le coppie da sinistra, nodo = hex(SHA-256(sinistra \
    destra)), l'ultimo nodo dispari sale invariato; la radice è l'ultimo nodo (hex(SHA-256(\"\")) \
    se non ci sono flussi). Confrontare la radice con la copia conservata fuori dalla base dati. / \
    Leaves: the streams in byte order of stream_id, leaf = hex(SHA-256(stream_id \":\" version \
    \":\" hash)); pair each level left to right, node = hex(SHA-256(left right)), an odd last \
    node goes up unchanged; the root is the last node. Compare it with the copy kept outside \
    the database.";

fn may_read_seals(p: &Principal) -> Result<(), ApiError> {
    let unscoped_auditor = p
        .grants
        .iter()
        .any(|g| g.role == GrantRole::Auditor && g.scope.is_none());
    if unscoped_auditor || p.platform_admin {
        Ok(())
    } else {
        Err(Denied {
            code: "seal-access-denied",
            message: "solo i revisori senza limite di ATS e l'amministratore della piattaforma \
                      consultano i sigilli"
                .into(),
        }
        .into())
    }
}

/// Every seal, and the heads as of the seal of `upto` (folded only that far) when asked.
async fn folded(
    state: &AppState,
    upto: Option<NaiveDate>,
) -> Result<(Vec<SealSummary>, Option<SealState>), ApiError> {
    let recorded = state
        .store
        .read_stream(StreamId::seals().as_str(), 1)
        .await?;
    let mut out = Vec::with_capacity(recorded.len());
    let mut folded = SealState::default();
    let mut at_day = None;
    for r in &recorded {
        let event = SealEvent::decode(r).map_err(|e| ApiError::Internal(Box::new(e)))?;
        if upto.is_some() && at_day.is_none() {
            folded = evolve_seal(folded, &event);
        }
        let SealEvent::StreamsSealed {
            day,
            changed,
            streams,
            root,
            previous_root,
            at,
        } = event;
        if upto == Some(day) {
            at_day = Some(std::mem::take(&mut folded));
        }
        out.push(SealSummary {
            day,
            root,
            previous_root,
            streams,
            changed: changed.len(),
            sealed_at: at,
            version: r.stream_version,
            hash: r.hash.clone(),
        });
    }
    Ok((out, at_day))
}

/// The daily seals of the log, oldest first.
#[utoipa::path(get, path = "/v1/seals", tag = "audit",
    responses((status = 200, description = "the seals", body = SealList),
        (status = "4XX", description = "401, 403 seal-access-denied", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_seals(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<SealList>, ApiError> {
    may_read_seals(&principal)?;
    let (seals, _) = folded(&state, None).await?;
    Ok(Json(SealList { seals }))
}

/// The seal of a day with every stream head it covers.
#[utoipa::path(get, path = "/v1/seals/{day}", tag = "audit",
    params(("day" = NaiveDate, Path, description = "the civil day (YYYY-MM-DD)")),
    responses((status = 200, description = "the seal and its heads", body = SealView),
        (status = "4XX", description = "400, 401, 403 seal-access-denied, 404", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_seal(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(day): ApiPath<NaiveDate>,
) -> Result<Json<SealView>, ApiError> {
    may_read_seals(&principal)?;
    let not_found = || ApiError::NotFoundWhat(format!("nessun sigillo del {day}"));
    let (seals, after) = folded(&state, Some(day)).await?;
    let (seal, after) = seals
        .into_iter()
        .find(|s| s.day == day)
        .zip(after)
        .ok_or_else(not_found)?;
    Ok(Json(SealView {
        seal,
        heads: after.sealed_heads(),
        how_to_verify: HOW.into(),
    }))
}
