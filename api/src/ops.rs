//! Operational endpoints: liveness, readiness (with the projections' lag and leadership) and
//! Prometheus metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use diario_log::follower;
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

/// The process can serve: the database answers. Details: per projection (and per worker that
/// follows the log: `deadline_watch`, `firmalom_outbox`) the lag (events and seconds behind the
/// log) and whether some process leads it; a lagging projection does not
/// make the process unready (reads of a case fall back to its stream).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "`{\"status\":\"ready\",\"database\":…,\"projections\":[{projection, events_behind, seconds_behind, led, leader}],\"workers\":[…],\"instance\":\"host:pid\"}`; `leader` names the diario process (`host:pid`) that applies the follower", body = Object),
        (status = 503, description = "not ready: the database does not answer", body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.db.ping().await.map_err(ApiError::NotReady)?;
    let status = async |names: &[&str]| match follower_status(&state, names).await {
        Ok(list) => Value::Array(list),
        Err(e) => {
            tracing::warn!(error = %e, "readyz: follower status unavailable");
            json!({ "error": "follower status unavailable" })
        }
    };
    Ok(Json(json!({
        "status": "ready",
        "database": state.db.backend(),
        "projections": status(&diario_projections::PROJECTIONS).await,
        "workers": status(&WORKERS).await,
        "instance": follower::instance_name(),
    })))
}

/// The followers of the workers (the deadline watch, the FirmaLOM outbox feed).
const WORKERS: [&str; 2] = [
    crate::scheduler::DEADLINE_WATCH,
    crate::firmalom::outbox::FEED,
];

/// The followers `/metrics` reports: the read models, then the workers' own.
fn followers() -> Vec<&'static str> {
    let mut names = diario_projections::PROJECTIONS.to_vec();
    names.extend(WORKERS);
    names
}

async fn follower_status(
    state: &AppState,
    names: &[&str],
) -> Result<Vec<Value>, diario_log::StoreError> {
    let lags = follower::lag_at(&state.db, names, Utc::now()).await?;
    let leaders = follower::leaders(&state.db, names).await?;
    Ok(lags
        .iter()
        .map(|l| {
            let leader = leaders.iter().find(|x| x.follower == l.follower);
            json!({
                "projection": l.follower,
                "events_behind": l.events_behind,
                "seconds_behind": l.seconds_behind,
                "oldest_unapplied_recorded_at": l.oldest_unapplied_recorded_at,
                "led": leader.is_some_and(|x| x.led),
                "leader": leader.and_then(|x| x.instance.clone()),
            })
        })
        .collect())
}

/// OpenMetrics text (1.0.0): the process's counters and histograms
/// (`diario_http_requests_total{method,route,status}`,
/// `diario_http_request_duration_seconds{method,route}`, `diario_events_appended_total{type}`,
/// `diario_scheduler_expiries_total`, `diario_firmalom_deliveries_total{outcome}`,
/// `diario_build_info{version}`), then what the database says at the scrape:
/// `diario_database_up`, per follower `diario_projection_lag_events`,
/// `diario_projection_lag_seconds`, `diario_projection_led`, and
/// `diario_firmalom_outbox_backlog` (notifications not yet delivered nor closed).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text exposition format", body = String, content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = state.metrics.encode();
    let up = state.db.ping().await.is_ok();
    out.push_str("# HELP diario_database_up Whether the database answers (1) or not (0).\n");
    out.push_str("# TYPE diario_database_up gauge\n");
    out.push_str(&format!("diario_database_up {}\n", u8::from(up)));
    if up {
        let names = followers();
        match follower::lag_at(&state.db, &names, Utc::now()).await {
            Ok(lags) => out.push_str(&follower::lag_metrics(&lags)),
            Err(e) => tracing::warn!(error = %e, "metrics: projection lag unavailable"),
        }
        match follower::leaders(&state.db, &names).await {
            Ok(leaders) => out.push_str(&follower::gauge(
                "diario_projection_led",
                "Whether some diario process leads the projection (1) or none (0).",
                leaders
                    .iter()
                    .map(|l| (l.follower.as_str(), u8::from(l.led))),
            )),
            Err(e) => tracing::warn!(error = %e, "metrics: projection leadership unavailable"),
        }
        match crate::firmalom::outbox::backlog(&state.db).await {
            Ok(n) => {
                out.push_str("# HELP diario_firmalom_outbox_backlog FirmaLOM notifications waiting for delivery.\n");
                out.push_str("# TYPE diario_firmalom_outbox_backlog gauge\n");
                out.push_str(&format!("diario_firmalom_outbox_backlog {n}\n"));
            }
            Err(e) => tracing::warn!(error = %e, "metrics: outbox backlog unavailable"),
        }
    }
    out.push_str("# EOF\n");
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
