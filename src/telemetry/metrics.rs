//! Prometheus metrics with bounded labels only: route = configured upstream name (or
//! `unmatched`), method = one of a fixed set, outcome = a `Reject::reason()` or `ok`.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Arc<str>,
    method: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Every metric the gateway exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    api_keys_expiring: Gauge,
    credentials_stale: Gauge,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    active_streams: Gauge,
    open_connections: Gauge,
    refused_connections: Family<ReasonLabels, Counter>,
    reloads: Family<ResultLabels, Counter>,
    tls_handshake_failures: Counter,
    tls_reloads: Family<ResultLabels, Counter>,
    cert_expiry: Family<CertLabels, Gauge>,
    state_fallbacks: Family<ModeLabels, Counter>,
    audit_dropped: Counter,
    anomalies: Family<KindLabels, Counter>,
    unmatched: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    /// A finding's `kind` (a fixed set).
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertLabels {
    /// The certificate file, from the config (bounded).
    cert: String,
}

/// Maps an HTTP method to a bounded label.
pub fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::POST => "POST",
        http::Method::GET => "GET",
        http::Method::DELETE => "DELETE",
        _ => "other",
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by route, HTTP method and outcome",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 18))
        });
        registry.register(
            "request_duration_seconds",
            "Time until the response head was sent",
            latency.clone(),
        );
        let active_streams = Gauge::default();
        registry.register(
            "active_streams",
            "Streamed (SSE) responses in flight",
            active_streams.clone(),
        );
        let open_connections = Gauge::default();
        registry.register("open_connections", "Client connections open", open_connections.clone());
        let refused_connections = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "refused_connections",
            "Connections closed at accept because of a limit",
            refused_connections.clone(),
        );
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register("config_reloads", "Config reloads by result", reloads.clone());
        let tls_handshake_failures = Counter::default();
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes that failed or timed out (bad client certificate, old protocol, ...)",
            tls_handshake_failures.clone(),
        );
        let tls_reloads = Family::<ResultLabels, Counter>::default();
        registry.register("tls_reloads", "Certificate reloads by result", tls_reloads.clone());
        let cert_expiry = Family::<CertLabels, Gauge>::default();
        registry.register(
            "tls_certificate_expiry_seconds",
            "Seconds until a served certificate expires (negative: expired)",
            cert_expiry.clone(),
        );
        let state_fallbacks = Family::<ModeLabels, Counter>::default();
        registry.register(
            "ratelimit_backend_unavailable",
            "Rate-limit decisions made while the state backend was unreachable, by on_unavailable mode",
            state_fallbacks.clone(),
        );
        let audit_dropped = Counter::default();
        registry.register(
            "audit_dropped_events",
            "Audit events dropped because the queue was full (each gap is marked in the chain)",
            audit_dropped.clone(),
        );
        let anomalies = Family::<KindLabels, Counter>::default();
        registry.register(
            "audit_anomalies",
            "Unusual access patterns raised by the live detector, by kind",
            anomalies.clone(),
        );
        let api_keys_expiring = Gauge::default();
        registry.register(
            "api_key_expiring",
            "Dynamic API keys that expire within 14 days",
            api_keys_expiring.clone(),
        );
        let credentials_stale = Gauge::default();
        registry.register(
            "credentials_stale",
            "1 while this replica cannot confirm its revocations current (gateway-issued tokens fail closed)",
            credentials_stale.clone(),
        );
        Self {
            api_keys_expiring,
            credentials_stale,
            state_fallbacks,
            audit_dropped,
            anomalies,
            registry,
            requests,
            latency,
            active_streams,
            open_connections,
            refused_connections,
            reloads,
            tls_handshake_failures,
            tls_reloads,
            cert_expiry,
            unmatched: Arc::from("unmatched"),
        }
    }

    /// Counts one finished request; `route` is the upstream's name (`None`: no route matched).
    pub fn request(&self, route: Option<&Arc<str>>, method: &'static str, outcome: &'static str, seconds: f64) {
        let route = route.map_or_else(|| Arc::clone(&self.unmatched), Arc::clone);
        self.latency
            .get_or_create(&RouteLabels {
                route: Arc::clone(&route),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels { route, method, outcome })
            .inc();
    }

    /// The gauge of open SSE streams.
    pub fn active_streams(&self) -> Gauge {
        self.active_streams.clone()
    }

    /// The gauge of open client connections.
    pub fn open_connections(&self) -> Gauge {
        self.open_connections.clone()
    }

    /// Counts a connection refused at accept (`global_limit`, `per_ip_limit`).
    pub fn refused_connection(&self, reason: &'static str) {
        self.refused_connections.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Counts a reload attempt (`ok`, `invalid`).
    pub fn reload(&self, result: &'static str) {
        self.reloads.get_or_create(&ResultLabels { result }).inc();
    }

    /// Counts a failed TLS handshake.
    pub fn tls_handshake_failure(&self) {
        self.tls_handshake_failures.inc();
    }

    /// Counts a certificate reload (`ok`, `invalid`).
    pub fn tls_reload(&self, result: &'static str) {
        self.tls_reloads.get_or_create(&ResultLabels { result }).inc();
    }

    /// Sets the seconds until `cert` expires.
    pub fn cert_expiry(&self, cert: &str, seconds: i64) {
        self.cert_expiry
            .get_or_create(&CertLabels { cert: cert.to_string() })
            .set(seconds);
    }

    /// Counts a rate-limit decision made without the state backend (`local`, `deny`, `allow`).
    pub fn state_fallback(&self, mode: &'static str) {
        self.state_fallbacks.get_or_create(&ModeLabels { mode }).inc();
    }

    /// Sets the number of dynamic keys expiring within 14 days.
    /// The counter of dropped audit events (handed to the audit writer).
    pub fn audit_dropped(&self) -> Counter {
        self.audit_dropped.clone()
    }

    /// Counts a raised finding.
    pub fn anomaly(&self, kind: &'static str) {
        self.anomalies.get_or_create(&KindLabels { kind }).inc();
    }

    pub fn api_keys_expiring(&self, count: i64) {
        self.api_keys_expiring.set(count);
    }

    /// Whether this replica's revocations are past `revocation_max_staleness`.
    pub fn credentials_stale(&self, stale: bool) {
        self.credentials_stale.set(i64::from(stale));
    }

    /// Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
