//! `Gateway`: everything a request needs that outlives it (live config snapshot with its
//! upstream pools, audit writer, metrics, legacy endpoint table, session store, limiter). Built
//! once. The request flow (`Gateway::handle` and every stage) is in `pipeline/`.

use std::sync::Arc;

use crate::audit::{AuditMonitor, SharedAggregates};
use crate::config::{Config, Reloader, ServerConfig};
use crate::credentials::{self, Credentials, Location};
use crate::state::{Backend, Durable, RedisState, SessionStore};
use crate::telemetry::spans::SpanExport;
use crate::telemetry::trace::TraceSettings;
use crate::telemetry::{AuditLog, Metrics};
use crate::tls::{MtlsSettings, TlsServer};
use crate::upstream::LegacyEndpoints;

/// The state backend of `[state]`: session bindings, the limiter's buckets and the
/// credential store.
fn state(
    config: &Config,
    metrics: &Arc<Metrics>,
    audit: &AuditLog,
) -> std::io::Result<(
    SessionStore,
    crate::ratelimit::Limiter,
    Credentials,
    Option<Arc<RedisState>>,
)> {
    let idle = config.server.timeouts.session_idle;
    let clock = Arc::new(crate::ratelimit::MonotonicClock::default());
    let mut limiter = crate::ratelimit::Limiter::new(config.rate_limits.max_buckets, clock);
    let sessions = match &config.state.backend {
        Backend::Embedded { path } => {
            let durable = path
                .as_deref()
                .map(Durable::open)
                .transpose()
                .map_err(std::io::Error::other)?;
            if durable.is_none() {
                tracing::info!(
                    "state.path unset: session bindings, API keys, revocations and refresh families live in memory and end with the process"
                );
            }
            let location = Location::Embedded(path.as_deref());
            let credentials = credentials::open(location, config.credentials.clone(), audit.clone())
                .map_err(|e| std::io::Error::other(format!("credential store: {e}")))?;
            (SessionStore::memory(idle, MAX_SESSIONS, durable), credentials, None)
        }
        Backend::Redis {
            url,
            key_prefix,
            timeout,
            pool_size,
        } => {
            let redis =
                Arc::new(RedisState::connect(url, key_prefix, *timeout, *pool_size).map_err(std::io::Error::other)?);
            limiter = limiter.with_redis(
                Arc::clone(&redis),
                config.state.on_unavailable,
                Arc::clone(metrics),
                audit.clone(),
            );
            let location = Location::Redis(Arc::clone(&redis));
            let credentials = credentials::open(location, config.credentials.clone(), audit.clone())
                .map_err(|e| std::io::Error::other(format!("credential store: {e}")))?;
            (
                SessionStore::Redis {
                    redis: Arc::clone(&redis),
                    idle,
                },
                credentials,
                Some(redis),
            )
        }
    };
    Ok((sessions.0, limiter, sessions.1, sessions.2))
}

/// Most live sessions bound at once (each binding is about 100 bytes).
const MAX_SESSIONS: usize = 200_000;

/// Shared, long-lived gateway state.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) reloader: Arc<Reloader>,
    pub(crate) server: ServerConfig,
    pub(crate) audit: AuditLog,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) legacy: Arc<LegacyEndpoints>,
    pub(crate) tls: Option<Arc<TlsServer>>,
    pub(crate) mtls: Option<MtlsSettings>,
    /// Session bindings (`Mcp-Session-Id` → principal).
    pub(crate) sessions: SessionStore,
    /// Token buckets and auth-failure counts (kept across reloads).
    pub(crate) limiter: crate::ratelimit::Limiter,
    /// Issued tokens, refresh families, dynamic keys, revocations (kept across reloads).
    pub(crate) credentials: Arc<Credentials>,
    /// Minute of the last certificate-expiry refresh.
    expiry_minute: std::sync::atomic::AtomicU64,
    /// The aggregates' running side: reports, dashboard ticks, live findings (`None`: audit off).
    pub(crate) monitor: Option<Arc<AuditMonitor>>,
    /// The audit files written before this start (to rebuild the aggregates from).
    pub(crate) audit_history: Option<(Vec<std::path::PathBuf>, u64)>,
    /// `[telemetry]`.
    pub(crate) trace: TraceSettings,
    /// Span export (`None` unless `[telemetry] otlp_endpoint` is set).
    pub(crate) spans: Option<SpanExport>,
}

impl Gateway {
    /// Builds the gateway from a validated config; `reloader` owns the live snapshot.
    pub fn new(config: &Config, reloader: Arc<Reloader>) -> std::io::Result<Self> {
        let tls = match &config.server.tls {
            Some(settings) => Some(Arc::new(TlsServer::new(settings).map_err(std::io::Error::other)?)),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let shared = matches!(config.state.backend, Backend::Redis { .. });
        let opened = crate::audit::open_log(&config.audit, true, shared)?;
        let audit = opened.log;
        audit.count_drops_in(metrics.audit_dropped());
        let (sessions, limiter, credentials, redis) = state(config, &metrics, &audit)?;
        let monitor = opened.aggregates.map(|aggregates| {
            AuditMonitor::new(
                aggregates,
                redis.map(SharedAggregates::new),
                audit.clone(),
                Arc::clone(&metrics),
            )
        });
        let spans = SpanExport::new(&config.telemetry).map_err(std::io::Error::other)?;
        Ok(Self {
            monitor,
            audit_history: opened.history,
            trace: config.telemetry.clone(),
            spans,
            tls,
            mtls: config.mtls.clone(),
            expiry_minute: std::sync::atomic::AtomicU64::new(0),
            reloader,
            server: config.server.clone(),
            audit,
            metrics,
            legacy: Arc::new(LegacyEndpoints::default()),
            sessions,
            limiter,
            credentials: Arc::new(credentials),
        })
    }

    /// The metrics registry (shared with the admin listener).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The config holder (shared with the admin listener and SIGHUP).
    pub fn reloader(&self) -> &Arc<Reloader> {
        &self.reloader
    }

    /// The credential lifecycle (admin API, token endpoint, sync).
    pub fn credentials(&self) -> &Arc<Credentials> {
        &self.credentials
    }

    /// The audit writer.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The audit aggregates' running side (`None` when audit is off).
    pub fn monitor(&self) -> Option<&Arc<AuditMonitor>> {
        self.monitor.as_ref()
    }

    /// What the dashboard shows of the gateway itself: sessions, streams, connections and
    /// each upstream's health as the last minute of audit events tells it.
    pub fn dashboard_extras(&self) -> serde_json::Value {
        let snapshot = self.reloader.snapshot();
        let now = crate::audit::aggregates::unix_now() / 60;
        let health = self
            .monitor
            .as_ref()
            .map(|m| m.aggregates().window(now.saturating_sub(1)))
            .unwrap_or_default();
        let totals = health.totals(now.saturating_sub(1), now + 1);
        let upstreams: Vec<serde_json::Value> = snapshot
            .upstreams()
            .iter()
            .map(|u| {
                let count = |kind: &str| {
                    totals
                        .get(crate::audit::classify::field(kind, &[&u.route]).as_str())
                        .map_or(0, |s| s.count)
                };
                let (ok, failed) = (
                    count(crate::audit::classify::UPSTREAM_OK),
                    count(crate::audit::classify::UPSTREAM_FAILED),
                );
                serde_json::json!({
                    "name": u.name.as_ref(),
                    "route": u.route,
                    "healthy": failed == 0 || ok > failed,
                    "detail": format!("{ok} answered, {failed} failed in the last 2 minutes"),
                })
            })
            .collect();
        serde_json::json!({
            "active": {
                "sessions": self.sessions.local_count(),
                "streams": self.metrics.active_streams().get(),
                "connections": self.metrics.open_connections().get(),
            },
            "upstreams": upstreams,
        })
    }

    /// The TLS listener state, when `[server.tls]` is set.
    pub fn tls(&self) -> Option<&Arc<TlsServer>> {
        self.tls.as_ref()
    }

    /// The identity of a verified client certificate, per `[auth.mtls].subject_from`
    /// (SAN URI when `[auth.mtls]` is absent).
    pub fn client_identity(&self, leaf: &rustls::pki_types::CertificateDer<'_>) -> Option<String> {
        // Without `[auth.mtls]` a client certificate is only a TLS matter, never an identity:
        // otherwise any certificate of `client_ca` would stand in for a token.
        let mtls = self.mtls.as_ref()?;
        crate::tls::identity::identity(leaf, mtls.subject_from)
    }

    /// The principal of a request: the certificate's holder when one was verified, else the
    /// anonymous caller of a public route.
    pub(crate) fn certificate_principal(&self, client_identity: Option<&str>) -> Option<crate::auth::Principal> {
        let map = self.mtls.as_ref().map_or(&[][..], |m| m.map.as_slice());
        client_identity.map(|identity| crate::auth::Principal::from_certificate(identity, map))
    }

    /// Static server settings.
    pub fn server_config(&self) -> &ServerConfig {
        &self.server
    }
}

impl Gateway {
    /// Reloads the config file (SIGHUP, `POST /admin/reload`): on success the new snapshot is
    /// live for the next request; on failure the running config stays. Logged, audited and
    /// counted either way. Returns the new generation.
    pub fn reload_config(&self) -> Result<u64, crate::config::ConfigError> {
        self.reload_tls(true);
        let result = self.reloader.reload();
        let mut event = crate::telemetry::AuditEvent::new("config_reload", "allow", "ok");
        let detail;
        match &result {
            Ok(outcome) => {
                self.metrics.reload("ok");
                tracing::info!(generation = outcome.generation, "config reloaded");
                if outcome.static_changed {
                    tracing::warn!("[server], [admin] or [audit] changed: those take effect after a restart");
                }
            }
            Err(error) => {
                self.metrics.reload("invalid");
                tracing::error!(%error, "config reload refused; the running config stays");
                detail = error.to_string();
                event.decision = "deny";
                event.reason = "invalid_config";
                event.detail = Some(&detail);
            }
        }
        self.audit.record(&event);
        result.map(|outcome| outcome.generation)
    }
}

impl Gateway {
    /// Re-reads certificate, key, CA and CRL files if they changed (`force`: always). A broken
    /// file keeps the running certificate and is logged, audited and counted. Also refreshes
    /// the certificate expiry gauge.
    pub fn reload_tls(&self, force: bool) {
        let Some(tls) = &self.tls else { return };
        let changed = match tls.reload_if_changed(force) {
            Ok(false) => false,
            Ok(true) => {
                self.metrics.tls_reload("ok");
                tracing::info!("TLS certificates reloaded");
                true
            }
            Err(error) => {
                self.metrics.tls_reload("invalid");
                tracing::error!(%error, "TLS reload refused; the running certificates stay");
                let detail = error.to_string();
                let mut event = crate::telemetry::AuditEvent::new("tls_reload", "deny", "invalid_certificate");
                event.detail = Some(&detail);
                self.audit.record(&event);
                false
            }
        };
        // The expiry gauge needs the certificates parsed: after a change, and once a minute.
        let minute = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 60);
        let last = self.expiry_minute.swap(minute, std::sync::atomic::Ordering::Relaxed);
        if !changed && !force && last == minute {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        for (path, facts) in tls.certificates() {
            self.metrics
                .cert_expiry(&path.display().to_string(), facts.not_after_unix - now);
        }
    }
}
