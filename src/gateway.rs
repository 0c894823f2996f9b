//! `Gateway`: everything a request needs that outlives it (live config snapshot with its
//! upstream pools, audit writer, metrics, legacy endpoint table). Built once; the flow itself is in
//! `pipeline.rs`.

use std::sync::Arc;

use crate::config::{Config, Reloader, ServerConfig};
use crate::telemetry::{AuditLog, Metrics};
use crate::upstream::LegacyEndpoints;

/// Shared, long-lived gateway state.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) reloader: Arc<Reloader>,
    pub(crate) server: ServerConfig,
    pub(crate) audit: AuditLog,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) legacy: Arc<LegacyEndpoints>,
}

impl Gateway {
    /// Builds the gateway from a validated config; `reloader` owns the live snapshot.
    pub fn new(config: &Config, reloader: Arc<Reloader>) -> std::io::Result<Self> {
        Ok(Self {
            reloader,
            server: config.server.clone(),
            audit: AuditLog::start(&config.audit.sink)?,
            metrics: Arc::new(Metrics::new()),
            legacy: Arc::new(LegacyEndpoints::default()),
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

    /// The audit writer.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
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
