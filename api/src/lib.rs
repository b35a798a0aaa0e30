//! Diario Online HTTP API and the `diario` binary (`docs/api.md`). Handlers parse, authorise,
//! call the command handler or a query, and map the result; nothing else lives here.

pub mod access_log;
pub mod admin;
pub mod agenda;
pub mod auth;
pub mod cases;
pub mod cli;
pub mod config;
pub mod demo;
pub mod documents;
pub mod dossier;
pub mod dto;
pub mod error;
pub mod exports;
pub mod extract;
pub mod firmalom;
pub mod fuzzing;
pub mod idempotency;
pub mod mail;
pub mod metrics;
pub mod names;
pub mod openapi;
mod ops;
pub mod paper;
pub mod people;
pub mod plans;
pub mod reads;
pub mod samples;
pub mod scheduler;
pub mod seals;
pub mod telemetry;
pub mod tracecontext;
pub mod web;
pub mod write;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use diario_commands::{Clock, CommandHandler, SystemClock, TestClock};
use diario_domain::Catalogue;
use diario_log::follower::RunnerOptions;
use diario_log::{Database, EventStore};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::AuthConfig;
pub use diario_domain as domain;
pub use error::ApiError;

/// How a server is configured: what `diario serve` reads from its flags, and what the
/// end-to-end tests choose. [`start`] wires everything from it.
#[derive(Clone)]
pub struct Settings {
    pub auth: AuthConfig,
    pub catalogue: Catalogue,
    /// `--test-clock`: a movable clock and `PUT /v1/test-clock`.
    pub test_clock: Option<TestClock>,
    /// FirmaLOM secret and dispatcher settings (`None`: callbacks answer 503, no dispatcher).
    pub firmalom: Option<firmalom::FirmalomConfig>,
    /// The background workers (deadline scheduler, outbox, purge); `None`: none run.
    pub workers: Option<scheduler::WorkerSettings>,
    /// The read models' runner; `None` (`--no-projections`): another process keeps them.
    pub projections: Option<RunnerOptions>,
    /// How long a request may take, body included, before it is answered 408.
    pub request_timeout: Duration,
    /// The web interface: public URL, browser login, sessions.
    pub web: web::WebSettings,
    /// E-mail of staff notifications through an SMTP relay (`None`: the inbox only).
    pub mail: Option<mail::MailSettings>,
    /// The key of the actor tags in the logs (`DIARIO_LOG_TAG_KEY`); `None`: a random one.
    pub log_tag_key: Option<Vec<u8>>,
}

/// The default of [`Settings::request_timeout`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Settings {
    /// The catalogue given, no token keys (every authenticated route answers 401), the system
    /// clock, no FirmaLOM, the workers and the projections with their default settings.
    pub fn new(catalogue: Catalogue) -> Settings {
        Settings {
            auth: AuthConfig::disabled(),
            catalogue,
            test_clock: None,
            firmalom: None,
            workers: Some(scheduler::WorkerSettings::default()),
            projections: Some(RunnerOptions::default()),
            request_timeout: REQUEST_TIMEOUT,
            web: web::WebSettings::new("http://127.0.0.1:8080"),
            mail: None,
            log_tag_key: None,
        }
    }
}

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub store: Arc<dyn EventStore>,
    pub handler: CommandHandler,
    pub auth: Arc<AuthConfig>,
    /// Set only with `diario serve --test-clock`: `PUT /v1/test-clock` moves it.
    pub test_clock: Option<TestClock>,
    /// FirmaLOM secret and dispatcher settings (`None`: callbacks answer 503, no dispatcher).
    pub firmalom: Option<Arc<firmalom::FirmalomConfig>>,
    /// See [`Settings::request_timeout`].
    pub request_timeout: Duration,
    /// The web interface.
    pub web: Arc<web::WebState>,
    /// See [`Settings::log_tag_key`].
    pub log_tag_key: Arc<[u8]>,
    /// The process's counters and histograms, served on `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// The state of a server on `db` configured with `settings`.
    pub fn new(db: Database, settings: &Settings) -> Self {
        let metrics = Arc::new(metrics::Metrics::new());
        let store: Arc<dyn EventStore> = Arc::new(metrics::CountingStore::new(
            db.event_store(),
            metrics.clone(),
        ));
        let clock: Arc<dyn Clock> = match &settings.test_clock {
            Some(c) => Arc::new(c.clone()),
            None => Arc::new(SystemClock),
        };
        let handler = CommandHandler::new(store.clone(), settings.catalogue.clone(), clock);
        AppState {
            db,
            store,
            handler,
            auth: Arc::new(settings.auth.clone()),
            test_clock: settings.test_clock.clone(),
            firmalom: settings.firmalom.clone().map(Arc::new),
            request_timeout: settings.request_timeout,
            web: Arc::new(web::WebState::new(&settings.web).unwrap_or_else(|e| {
                // `diario serve` checks the settings first; a library caller gets no login.
                tracing::error!(error = %e, "the web settings are invalid: no browser login");
                web::WebState::without_login(&settings.web)
            })),
            log_tag_key: match &settings.log_tag_key {
                Some(key) => key.clone().into(),
                None => web::session::random_secret().into_bytes().into(),
            },
            metrics,
        }
    }
}

/// A server's state with its background tasks running.
pub struct Started {
    pub state: AppState,
    workers: Option<scheduler::Workers>,
    projections: Option<(watch::Sender<bool>, JoinHandle<()>)>,
    mailer: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

/// Wires a server: its state, the background workers and the read models' runner, as
/// `settings` say. The one place the application is put together (`diario serve` and the
/// end-to-end tests both call it).
pub fn start(db: Database, settings: &Settings) -> Started {
    let state = AppState::new(db, settings);
    let workers = settings.workers.map(|w| {
        let policy = state.firmalom.as_ref().and_then(|c| c.policy());
        scheduler::spawn_workers(&state.db, &state.handler, policy, w, state.metrics.clone())
    });
    let projections = settings.projections.clone().map(|options| {
        let (stop, stopped) = watch::channel(false);
        let runner = diario_log::follower::spawn(
            state.db.clone(),
            state.store.clone(),
            diario_projections::read_models(state.handler.catalogue()),
            options,
            stopped,
        );
        (stop, runner)
    });
    let mailer = settings.mail.clone().and_then(|m| {
        mail::spawn(state.clone(), m)
            .map_err(|e| tracing::error!(error = %e, "notification e-mails are off"))
            .ok()
    });
    Started {
        state,
        workers,
        projections,
        mailer,
    }
}

impl Started {
    /// Stops the workers and the runner, waiting for the batch in progress.
    pub async fn stop(self) {
        if let Some(w) = self.workers {
            w.stop().await;
        }
        if let Some((stop, mailer)) = self.mailer {
            let _ = stop.send(true);
            let _ = mailer.await;
        }
        if let Some((stop, runner)) = self.projections {
            let _ = stop.send(true);
            if let Err(e) = runner.await {
                tracing::error!(error = %e, "the projection runner ended abnormally");
            }
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("a request handler panicked".into()).into_response()
}

/// A client's `x-request-id` is kept only when it is a plain token (1–128 letters, digits and
/// `._-:`); anything else (spaces, quotes, `key=value` that would read as log fields) is
/// dropped and a fresh id is given instead.
async fn drop_unsafe_request_id(mut req: Request) -> Request {
    let safe = |v: &[u8]| {
        (1..=128).contains(&v.len())
            && v.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
    };
    let ids: Vec<_> = req.headers().get_all("x-request-id").iter().collect();
    if ids.len() > 1 || ids.iter().any(|v| !safe(v.as_bytes())) {
        req.headers_mut().remove("x-request-id");
    }
    req
}

/// The longest request target (path and query) and the largest header section answered;
/// beyond them a request gets 414 / 431 as a problem. (What the HTTP parser itself cannot
/// read — a malformed request line, a target over 64 KiB, over 100 headers — it answers
/// before any of this runs, without a body.)
pub const MAX_URI_BYTES: usize = 8 * 1024;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
pub const MAX_HEADERS: usize = 64;

/// Request limits and the request timeout, each answered as problem+json.
async fn limits(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return ApiError::UriTooLong(MAX_URI_BYTES).into_response();
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES || req.headers().len() > MAX_HEADERS {
        return ApiError::HeadersTooLarge(MAX_HEADER_BYTES).into_response();
    }
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout(timeout.as_secs()).into_response(),
    }
}

/// Counts and times the request under its route template (`unmatched` for a path no route
/// serves).
async fn count_request(
    axum::extract::State(metrics): axum::extract::State<Arc<metrics::Metrics>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    // Only the standard methods get their own label: a client cannot grow the series.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    }
    .to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let response = next.run(req).await;
    metrics.observe_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .merge(ops::routes())
        .merge(cases::routes())
        .merge(admin::routes())
        .merge(firmalom::routes())
        .merge(paper::routes())
        .merge(reads::routes())
        .merge(documents::routes())
        .merge(dossier::routes())
        .merge(samples::routes())
        .merge(plans::routes())
        .merge(seals::routes())
        .merge(access_log::routes())
        .merge(people::routes())
        .merge(web::routes())
        .route("/openapi.json", get(openapi::openapi_json))
        .route(
            "/docs",
            get(|| async { axum::response::Redirect::permanent("/docs/") }),
        )
        .route("/docs/", get(openapi::docs))
        .route("/docs/{*tail}", get(openapi::docs));
    if state.test_clock.is_some() {
        router = router.merge(admin::test_clock_routes());
    }
    let timeout = state.request_timeout;
    let metrics = state.metrics.clone();
    let names = axum::middleware::from_fn_with_state(state.clone(), names::add_names);
    router
        .layer(names)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(metrics, count_request))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", |m| m.as_str())
                        .to_owned();
                    let request_id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned();
                    let (trace_id, span_id) = req
                        .extensions()
                        .get::<tracecontext::TraceContext>()
                        .map_or(("-", "-"), |t| (t.trace_id.as_str(), t.span_id.as_str()));
                    let span = tracing::info_span!(
                        "request",
                        method = %req.method(),
                        route = %route,
                        request_id = %request_id,
                        trace_id = %trace_id,
                        span_id = %span_id,
                        actor = tracing::field::Empty,
                    );
                    if let Some(context) = req.extensions().get::<tracecontext::TraceContext>() {
                        telemetry::link(&span, context);
                    }
                    span
                })
                .on_request(())
                .on_response(|res: &Response, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
                        "request served"
                    );
                }),
        )
        .layer(axum::middleware::from_fn(tracecontext::layer))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_unsafe_request_id))
        .layer(axum::middleware::from_fn_with_state(timeout, limits))
}

/// Serves `app(state)` on `listener` until `shutdown` resolves, then gives in-flight requests
/// up to `grace` to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(true);
    });
    let mut stopping = stopping_rx;
    tokio::select! {
        result = server.into_future() => result,
        () = async {
            let _ = stopping.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the grace period; stopping anyway");
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
