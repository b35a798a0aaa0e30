//! The process's own metrics (prometheus-client): HTTP requests by route and status with their
//! latency, events appended by type, the scheduler's expiries, the FirmaLOM deliveries, the
//! build. `/metrics` serves them in the OpenMetrics text format, followed by the gauges read
//! from the database at each scrape (projection lag and leadership, outbox backlog).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use diario_log::{
    AppendOutcome, EventMetadata, EventStore, GlobalPosition, RecordedEvent, StoreError,
    StreamAppend, StreamHead,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use uuid::Uuid;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route template (`/v1/cases/{id}`), never the concrete path: bounded cardinality.
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabels {
    pub r#type: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

/// Latency buckets in seconds: 5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The counters and histograms of one process.
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<RequestLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub events_appended: Family<TypeLabels, Counter>,
    pub expiries: Counter,
    pub deliveries: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("diario");
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            http_requests.clone(),
        );
        let http_duration: Family<RouteLabels, Histogram> =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            http_duration.clone(),
        );
        let events_appended = Family::<TypeLabels, Counter>::default();
        registry.register(
            "events_appended",
            "Events this process appended to the log, by event type",
            events_appended.clone(),
        );
        let expiries = Counter::default();
        registry.register(
            "scheduler_expiries",
            "Confirmation requests the deadline scheduler recorded as expired (Art. 6)",
            expiries.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "firmalom_deliveries",
            "FirmaLOM notification attempts, by outcome (delivered, failed, request_ended)",
            deliveries.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        registry.register("build_info", "The running build (always 1)", build);
        Metrics {
            registry,
            http_requests,
            http_duration,
            events_appended,
            expiries,
            deliveries,
        }
    }

    /// One answered request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, latency: Duration) {
        let route = route.to_owned();
        let method = method.to_owned();
        self.http_duration
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(latency.as_secs_f64());
        self.http_requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    /// The registry in the OpenMetrics text format, without the final `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)
        {
            tracing::warn!(error = %e, "metrics: encoding failed");
        }
        out
    }
}

/// The event store with a count of what it appends (replays of a command id are not counted:
/// nothing was written).
pub struct CountingStore {
    inner: Arc<dyn EventStore>,
    metrics: Arc<Metrics>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn EventStore>, metrics: Arc<Metrics>) -> CountingStore {
        CountingStore { inner, metrics }
    }
}

#[async_trait]
impl EventStore for CountingStore {
    async fn append_streams(
        &self,
        primary: StreamAppend,
        linked: Vec<StreamAppend>,
        metadata: EventMetadata,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        let outcomes = self.inner.append_streams(primary, linked, metadata).await?;
        for outcome in outcomes.iter().filter(|o| !o.replayed) {
            for e in &outcome.events {
                self.metrics
                    .events_appended
                    .get_or_create(&TypeLabels {
                        r#type: e.event_type.clone(),
                    })
                    .inc();
            }
        }
        Ok(outcomes)
    }

    async fn find_command(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError> {
        self.inner.find_command(command_id).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream_id, from_version).await
    }

    async fn stream_heads(&self, prefix: &str) -> Result<Vec<(String, StreamHead)>, StoreError> {
        self.inner.stream_heads(prefix).await
    }

    async fn heads_of(
        &self,
        streams: &[&str],
        prefix: &str,
    ) -> Result<Vec<(String, StreamHead)>, StoreError> {
        self.inner.heads_of(streams, prefix).await
    }

    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, limit).await
    }

    async fn stream_head(&self, stream_id: &str) -> Result<Option<StreamHead>, StoreError> {
        self.inner.stream_head(stream_id).await
    }

    async fn verify_stream(&self, stream_id: &str) -> Result<diario_log::ChainReport, StoreError> {
        self.inner.verify_stream(stream_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_template_and_timed() {
        let m = Metrics::new();
        m.observe_request("GET", "/v1/cases/{id}", 200, Duration::from_millis(30));
        m.observe_request("GET", "/v1/cases/{id}", 200, Duration::from_millis(3));
        m.observe_request("GET", "/v1/cases/{id}", 404, Duration::from_millis(3));
        let text = m.encode();
        assert!(
            text.contains(
                "diario_http_requests_total{method=\"GET\",route=\"/v1/cases/{id}\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("diario_http_request_duration_seconds_bucket{le=\"0.005\",method=\"GET\",route=\"/v1/cases/{id}\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("diario_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/cases/{id}\"} 3"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "diario_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        assert!(
            !text.contains("# EOF"),
            "the caller appends the database gauges"
        );
    }
}
