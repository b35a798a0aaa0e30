//! Operational endpoints: liveness, readiness (with the projections' lag and leadership) and
//! Prometheus metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::Problem;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`{\"status\":\"ok\"}`", body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers. Details: per projection the lag (events and
/// seconds behind the log) and whether some process leads it; a lagging projection does not
/// make the process unready (reads of a case fall back to its stream).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "`{\"status\":\"ready\",\"database\":…,\"projections\":[{projection, events_behind, seconds_behind, led, leader_pid}]}`", body = Object),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.db.ping().await.map_err(ApiError::NotReady)?;
    let projections = match projection_status(&state).await {
        Ok(list) => Value::Array(list),
        Err(e) => {
            tracing::warn!(error = %e, "readyz: projection status unavailable");
            json!({ "error": "projection status unavailable" })
        }
    };
    Ok(Json(json!({
        "status": "ready",
        "database": state.db.backend(),
        "projections": projections,
    })))
}

async fn projection_status(
    state: &AppState,
) -> Result<Vec<Value>, diario_projections::ProjectionError> {
    let lags = diario_projections::lag(&state.db, state.store.as_ref()).await?;
    let leaders = diario_projections::leaders(&state.db).await?;
    Ok(lags
        .iter()
        .map(|l| {
            let leader = leaders.iter().find(|x| x.projection == l.projection);
            json!({
                "projection": l.projection,
                "events_behind": l.events_behind,
                "seconds_behind": l.seconds_behind,
                "oldest_unapplied_recorded_at": l.oldest_unapplied_recorded_at,
                "led": leader.is_some_and(|x| x.led),
                "leader_pid": leader.and_then(|x| x.pid),
            })
        })
        .collect())
}

/// Prometheus text format (0.0.4): `diario_projection_lag_events`,
/// `diario_projection_lag_seconds` and `diario_projection_led` per projection, and
/// `diario_database_up`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    let up = state.db.ping().await.is_ok();
    out.push_str("# HELP diario_database_up Whether the database answers (1) or not (0).\n");
    out.push_str("# TYPE diario_database_up gauge\n");
    out.push_str(&format!("diario_database_up {}\n", u8::from(up)));
    if up {
        match diario_projections::lag(&state.db, state.store.as_ref()).await {
            Ok(lags) => out.push_str(&diario_projections::lag_metrics(&lags)),
            Err(e) => tracing::warn!(error = %e, "metrics: projection lag unavailable"),
        }
        match diario_projections::leaders(&state.db).await {
            Ok(leaders) => {
                out.push_str(
                    "# HELP diario_projection_led Whether some diario process leads the projection (1) or none (0).\n",
                );
                out.push_str("# TYPE diario_projection_led gauge\n");
                for l in leaders {
                    out.push_str(&format!(
                        "diario_projection_led{{projection=\"{}\"}} {}\n",
                        l.projection,
                        u8::from(l.led)
                    ));
                }
            }
            Err(e) => tracing::warn!(error = %e, "metrics: projection leadership unavailable"),
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
