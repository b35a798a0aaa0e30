//! The case dossier for an auditor (`GET /v1/cases/{id}/dossier`, `docs/dossier.md`): every
//! event of the case with its payload, metadata and hashes, the chain head, the documents by
//! hash, the Art. 8 checklists, the diary as it stands, and how to recompute the chain with
//! standard tools — so that someone who trusts neither the ente nor the database
//! administrator can check it without this software.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use diario_commands::access;
use diario_log::store::{GENESIS_HASH, verify_chain};
use diario_log::{RecordedEvent, StreamId, envelope_json};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::Problem;
use crate::extract::ApiPath;
use crate::reads::{current_diary, file_of, readable_case};
use crate::{ApiError, AppState};

/// The format name and version written in every dossier.
pub const FORMAT: &str = "diario-online/case-dossier/1";

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/cases/{id}/dossier", get(dossier))
}

/// One exported event: the 13 fields its hash covers (`envelope`), and where it sits.
#[derive(Debug, Serialize, ToSchema)]
pub struct DossierEvent {
    /// Exactly what the hash covers: `stream_id`, `stream_version`, `event_id`, `event_type`,
    /// `schema_version`, `payload`, `actor_cf`, `actor_role`, `occurred_at`, `recorded_at`,
    /// `command_id`, `correlation_id`, `causation_id`.
    #[schema(value_type = Object)]
    pub envelope: Value,
    /// The hash of the previous event of the stream (64 zeros for the first).
    pub prev_hash: String,
    /// hex SHA-256(`prev_hash` ‖ canonical JSON of `envelope`).
    pub hash: String,
    /// Position in the global log (`transaction:position`), not covered by the hash.
    pub global_position: String,
}

/// A document the case's events name by its content hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct DossierDocument {
    pub sha256: String,
    /// The event that names it.
    pub event_type: String,
    pub stream_version: i64,
    pub recorded_at: DateTime<Utc>,
}

/// An Art. 8 checklist as an event recorded it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DossierChecklist {
    pub event_type: String,
    pub stream_version: i64,
    #[schema(value_type = Object)]
    pub checklist: Value,
}

/// The head of the stream as the store keeps it (a removed tail shows here).
#[derive(Debug, Serialize, ToSchema)]
pub struct DossierHead {
    pub version: i64,
    pub hash: String,
}

/// A case's dossier.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dossier {
    /// [`FORMAT`].
    pub format: String,
    pub case_id: Uuid,
    pub stream_id: String,
    pub generated_at: DateTime<Utc>,
    /// Who exported it.
    pub generated_by: String,
    pub head: Option<DossierHead>,
    /// The service's own check of the chain at export time.
    #[schema(value_type = Object)]
    pub chain: Value,
    /// Every event of the case stream, in version order.
    pub events: Vec<DossierEvent>,
    pub documents: Vec<DossierDocument>,
    pub checklists: Vec<DossierChecklist>,
    /// The diary as it stands (the case view; derived data, not covered by the chain).
    #[schema(value_type = Object)]
    pub diary: Value,
    /// How to recompute the chain with standard tools, in Italian and English.
    #[schema(value_type = Object)]
    pub how_to_verify: Value,
}

/// The recipe of `docs/dossier.md`, shipped in every dossier.
fn how_to_verify() -> Value {
    let jq = "f=dossier.json; \
              prev=0000000000000000000000000000000000000000000000000000000000000000; n=0; \
              while read -r e; do n=$((n+1)); \
              [ \"$(printf '%s' \"$e\" | jq .envelope.stream_version)\" = \"$n\" ] || { echo \"versione $n mancante\"; exit 1; }; \
              canon=$(printf '%s' \"$e\" | jq -cS .envelope); \
              h=$(printf '%s%s' \"$prev\" \"$canon\" | sha256sum | cut -d' ' -f1); \
              [ \"$h\" = \"$(printf '%s' \"$e\" | jq -r .hash)\" ] || { echo \"hash diverso alla versione $n\"; exit 1; }; \
              prev=$h; done < <(jq -c '.events[]' \"$f\"); \
              [ \"$prev\" = \"$(jq -r .head.hash \"$f\")\" ] || { echo \"la testa non corrisponde\"; exit 1; }; \
              echo \"catena integra: $n eventi, ultimo hash $prev\"";
    json!({
        "it": "Ogni evento ha un hash: SHA-256 del testo dell'hash precedente (64 zeri per il primo \
               evento) seguito dall'oggetto `envelope` scritto in JSON canonico — chiavi ordinate \
               a ogni livello, nessuno spazio, caratteri non ASCII così come sono (UTF-8), come \
               scrive `jq -cS`. Ricalcolare gli hash in ordine di `stream_version`: ognuno deve \
               essere uguale a `hash` dell'evento, `prev_hash` deve essere l'hash del precedente, \
               le versioni devono essere 1, 2, 3… senza buchi, e l'ultimo hash deve essere \
               uguale a `head.hash`. Conservare altrove una copia del sigillo giornaliero per \
               riconoscere una riscrittura dell'intera base dati.",
        "en": "Each event's hash is SHA-256 of the previous hash as hex text (64 zeros for the \
               first event) followed by the `envelope` object in canonical JSON — keys sorted \
               at every level, no whitespace, non-ASCII characters as they are (UTF-8), as \
               `jq -cS` writes it. Recompute the hashes in `stream_version` order: each must \
               equal the event's `hash`, `prev_hash` must be the previous one's hash, versions \
               must run 1, 2, 3… without gaps, and the last hash must equal `head.hash`.",
        // bash (process substitution), jq 1.6+, coreutils' sha256sum; `f` names the file.
        "shell": jq,
        "genesis_hash": GENESIS_HASH,
    })
}

/// Every `…sha256` string field of a payload, at any depth.
fn hashes_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k.ends_with("sha256") => out.push(s.clone()),
                    other => hashes_in(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| hashes_in(i, out)),
        _ => {}
    }
}

fn documents(events: &[RecordedEvent]) -> Vec<DossierDocument> {
    let mut out = Vec::new();
    for e in events {
        let mut found = Vec::new();
        hashes_in(&e.payload, &mut found);
        out.extend(found.into_iter().map(|sha256| DossierDocument {
            sha256,
            event_type: e.event_type.clone(),
            stream_version: e.stream_version,
            recorded_at: e.recorded_at,
        }));
    }
    out
}

fn checklists(events: &[RecordedEvent]) -> Vec<DossierChecklist> {
    events
        .iter()
        .filter_map(|e| {
            e.payload.get("checklist").map(|c| DossierChecklist {
                event_type: e.event_type.clone(),
                stream_version: e.stream_version,
                checklist: c.clone(),
            })
        })
        .collect()
}

/// The case's dossier: its events with payload, metadata and hashes, the chain head, the
/// documents named by hash, the Art. 8 checklists, the diary as it stands and the recipe to
/// recompute the chain with `jq` and `sha256sum` (`docs/dossier.md`). Auditors and the
/// case's ATS operators.
#[utoipa::path(get, path = "/v1/cases/{id}/dossier", tag = "reads",
    params(("id" = Uuid, Path, description = "case id")),
    responses(
        (status = 200, description = "the case dossier (docs/dossier.md)", body = Dossier),
        (status = "4XX", description = "401, 403 audit-access-denied (may read the case, not its audit trail), 404 (no case, or not one the caller may read)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn dossier(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let (case, _) = readable_case(&state, &principal, id).await?;
    access::audit_case(&principal, file_of(&case)?)?;
    crate::access_log::record(&state, &principal, file_of(&case)?, "dossier", None).await?;
    let stream = StreamId::case(id);
    let events = state.store.read_stream(stream.as_str(), 1).await?;
    let head = state.store.stream_head(stream.as_str()).await?;
    let chain = verify_chain(stream.as_str(), &events, head.as_ref());
    let mut chain = serde_json::to_value(&chain).map_err(|e| ApiError::Internal(Box::new(e)))?;
    if let Some(o) = chain.as_object_mut() {
        let intact = o.get("first_break").is_none_or(Value::is_null);
        o.insert("intact".into(), Value::Bool(intact));
    }
    let diary = serde_json::to_value(current_diary(&state, &case).await?)
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let dossier = Dossier {
        format: FORMAT.into(),
        case_id: id,
        stream_id: stream.as_str().to_owned(),
        generated_at: state.handler.now(),
        generated_by: principal.cf.as_str().to_owned(),
        head: head.map(|h| DossierHead {
            version: h.version,
            hash: h.hash,
        }),
        chain,
        documents: documents(&events),
        checklists: checklists(&events),
        events: events
            .iter()
            .map(|e| DossierEvent {
                envelope: envelope_json(e),
                prev_hash: e.prev_hash.clone(),
                hash: e.hash.clone(),
                global_position: e.global_position.to_string(),
            })
            .collect(),
        diary,
        how_to_verify: how_to_verify(),
    };
    let mut response = Json(dossier).into_response();
    let disposition = format!("attachment; filename=\"dossier-{id}.json\"");
    if let Ok(v) = axum::http::HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
