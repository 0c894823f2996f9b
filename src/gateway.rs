//! `Gateway`: everything a request needs that outlives it (live config snapshot with its
//! upstream pools, audit writer, metrics, legacy endpoint table, session store, limiter). Built
//! once. The request flow (`Gateway::handle` and every stage) is in `pipeline/`.

use std::sync::Arc;

use crate::config::{Config, Reloader, ServerConfig};
use crate::credentials::{self, Credentials, Location};
use crate::state::{Backend, Durable, RedisState, SessionStore};
use crate::telemetry::{AuditLog, Metrics};
use crate::tls::{MtlsSettings, TlsServer};
use crate::upstream::LegacyEndpoints;

/// The state backend of `[state]`: session bindings, the limiter's buckets and the
/// credential store.
fn state(
    config: &Config,
    metrics: &Arc<Metrics>,
    audit: &AuditLog,
) -> std::io::Result<(SessionStore, crate::ratelimit::Limiter, Credentials)> {
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
            (SessionStore::memory(idle, MAX_SESSIONS, durable), credentials)
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
            (SessionStore::Redis { redis, idle }, credentials)
        }
    };
    Ok((sessions.0, limiter, sessions.1))
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
}

impl Gateway {
    /// Builds the gateway from a validated config; `reloader` owns the live snapshot.
    pub fn new(config: &Config, reloader: Arc<Reloader>) -> std::io::Result<Self> {
        let tls = match &config.server.tls {
            Some(settings) => Some(Arc::new(TlsServer::new(settings).map_err(std::io::Error::other)?)),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let audit = AuditLog::start(&config.audit.sink)?;
        let (sessions, limiter, credentials) = state(config, &metrics, &audit)?;
        Ok(Self {
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
