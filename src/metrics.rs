//! Prometheus metrics (`GET /metrics`), in a registry owned by the app so
//! several servers in one test process do not share counters.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

pub struct Metrics {
    registry: Registry,
    pub connected_sockets: Gauge,
    pub connections: Counter,
    pub refused_handshakes: Family<ReasonLabels, Counter>,
    pub events: Family<EventLabels, Counter>,
    pub messages_stored: Counter,
    /// Tasks alive in the runtime, set at each scrape (a leak shows here).
    runtime_tasks: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let connected_sockets = Gauge::default();
        let connections = Counter::default();
        let refused_handshakes = Family::<ReasonLabels, Counter>::default();
        let events = Family::<EventLabels, Counter>::default();
        let messages_stored = Counter::default();
        registry.register(
            "connected_sockets",
            "Sockets connected to /chat on this node",
            connected_sockets.clone(),
        );
        registry.register(
            "connections",
            "Authenticated /chat connections",
            connections.clone(),
        );
        registry.register(
            "refused_handshakes",
            "Handshakes refused, by reason",
            refused_handshakes.clone(),
        );
        registry.register(
            "events",
            "Client events handled, by event and outcome",
            events.clone(),
        );
        registry.register(
            "messages_stored",
            "Messages committed to the database",
            messages_stored.clone(),
        );
        let runtime_tasks = Gauge::default();
        registry.register(
            "runtime_alive_tasks",
            "Tokio tasks alive in this process",
            runtime_tasks.clone(),
        );
        Self {
            registry,
            runtime_tasks,
            connected_sockets,
            connections,
            refused_handshakes,
            events,
            messages_stored,
        }
    }

    pub fn count_event(&self, event: &str, outcome: &str) {
        self.events
            .get_or_create(&EventLabels {
                event: event.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn render(&self) -> String {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let alive = runtime.metrics().num_alive_tasks();
            self.runtime_tasks
                .set(i64::try_from(alive).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("cannot encode metrics");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
