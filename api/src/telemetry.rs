//! Logs and traces through `tracing`: the level from `RUST_LOG` (default `info`), the log format
//! from `DIARIO_LOG_FORMAT` (`text`, the default, or `json`: one object per line, for a
//! collector), colours only when standard output is a terminal; and, when
//! `DIARIO_OTLP_ENDPOINT` is set, the spans exported with OpenTelemetry over OTLP/HTTP
//! (protobuf) to that collector, the request's span a child of the caller's `traceparent`.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, `span`, `spans`).
    Json,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// The telemetry in force; [`Telemetry::shutdown`] sends the spans still buffered.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("OpenTelemetry export: {e}");
        }
    }
}

/// Whether spans go to a collector: set once by [`init`], read when a request's span is made.
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

/// Installs the subscriber. `otlp_endpoint`: the collector's traces URL
/// (`http://collector:4318/v1/traces`); `service`: the `service.name` of the spans.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>, service: &str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let fmt = tracing_subscriber::fmt::layer();
    let fmt = match format {
        LogFormat::Text => fmt.with_ansi(std::io::stdout().is_terminal()).boxed(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let (provider, error) = match otlp_endpoint.filter(|e| !e.is_empty()) {
        None => (None, None),
        Some(endpoint) => match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .build()
        {
            Ok(exporter) => {
                let resource = opentelemetry_sdk::Resource::builder()
                    .with_service_name(service.to_owned())
                    .build();
                let provider = SdkTracerProvider::builder()
                    .with_resource(resource)
                    .with_batch_exporter(exporter)
                    .build();
                (Some(provider), None)
            }
            Err(e) => (None, Some(e.to_string())),
        },
    };
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("diario")));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .with(filter)
        .try_init();
    if let Some(e) = error {
        tracing::error!(error = %e, "OpenTelemetry export is off: the OTLP exporter cannot be built");
    }
    EXPORTING.store(provider.is_some(), std::sync::atomic::Ordering::Relaxed);
    Telemetry { provider }
}

/// Makes `span` (a request's) a child of the caller's span when a valid `traceparent` came in,
/// else the first span of a trace with this request's own trace id: the exported trace and the
/// logged `trace_id` are the same.
pub fn link(span: &tracing::Span, context: &crate::tracecontext::TraceContext) {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if !exporting() {
        return;
    }
    let Ok(trace_id) = TraceId::from_hex(&context.trace_id) else {
        return;
    };
    let parent = context.parent_id.as_deref().unwrap_or(&context.span_id);
    let Ok(span_id) = SpanId::from_hex(parent) else {
        return;
    };
    let flags = if context.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let remote = SpanContext::new(trace_id, span_id, flags, true, TraceState::default());
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}
