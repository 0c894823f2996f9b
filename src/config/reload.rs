//! The reloadable part of the configuration: a validated, immutable [`Snapshot`] behind one
//! `ArcSwap`. A reload builds a complete new snapshot first and swaps only on success, so a
//! broken file never replaces a working config.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use crate::upstream::ConnPool;

use super::{AdminConfig, AuditConfig, Config, ConfigError, ServerConfig, load_file};
use crate::upstream::Upstream;

/// Everything a request needs from the config, loaded once per request.
#[derive(Debug)]
pub struct Snapshot {
    /// Increments with each successful reload; shown in logs and `/readyz`.
    pub generation: u64,
    routes: HashMap<String, Route>,
    upstreams: Vec<Arc<Upstream>>,
    /// Credential verification for this generation.
    pub auth: Arc<crate::auth::Authenticator>,
    /// `[roles]` of this generation.
    pub roles: Arc<crate::authz::Roles>,
    /// `[rate_limits]` of this generation (the buckets themselves outlive reloads).
    pub rate_limits: Arc<crate::ratelimit::RateLimits>,
}

/// One route of a snapshot: the upstream's settings and its connection pool (a reload starts
/// fresh pools; the old ones close with the last request that uses them).
#[derive(Debug)]
pub struct Route {
    pub upstream: Arc<Upstream>,
    pub pool: Arc<ConnPool>,
}

impl Snapshot {
    /// Builds a snapshot from a validated config.
    pub fn new(config: &Config, generation: u64) -> Self {
        let routes = config
            .upstreams
            .iter()
            .map(|u| {
                let pool = ConnPool::new(u, config.server.timeouts.upstream_connect);
                (
                    u.route.clone(),
                    Route {
                        upstream: Arc::clone(u),
                        pool,
                    },
                )
            })
            .collect();
        Self {
            generation,
            routes,
            upstreams: config.upstreams.clone(),
            auth: Arc::clone(&config.auth),
            roles: Arc::clone(&config.roles),
            rate_limits: Arc::clone(&config.rate_limits),
        }
    }

    /// The route whose path is exactly `path`.
    pub fn route(&self, path: &str) -> Option<&Route> {
        self.routes.get(path)
    }

    /// All upstreams in file order.
    pub fn upstreams(&self) -> &[Arc<Upstream>] {
        &self.upstreams
    }
}

/// The static sections, kept to tell the operator when a reload changed them (they need a
/// restart).
#[derive(Debug, Clone, PartialEq)]
struct StaticPart {
    server: ServerConfig,
    admin: AdminConfig,
    audit: AuditConfig,
    state: crate::state::StateSettings,
}

/// What a successful reload did.
#[derive(Debug)]
pub struct ReloadOutcome {
    /// The new snapshot's generation.
    pub generation: u64,
    /// True when `[server]`, `[admin]` or `[audit]` changed: those take effect only after a
    /// restart.
    pub static_changed: bool,
}

/// Holds the live snapshot and knows how to rebuild it from the config file.
#[derive(Debug)]
pub struct Reloader {
    path: Option<PathBuf>,
    current: ArcSwap<Snapshot>,
    static_part: StaticPart,
    generation: AtomicU64,
    /// Serialises reloads (SIGHUP and the admin API at once must not store the older file last).
    reloading: Mutex<()>,
}

impl Reloader {
    /// Starts from an already validated config; `path` is re-read on reload (None: reload is
    /// refused, e.g. for a config built in memory).
    pub fn new(config: &Config, path: Option<PathBuf>) -> Self {
        Self {
            path,
            current: ArcSwap::from_pointee(Snapshot::new(config, 1)),
            static_part: StaticPart {
                server: config.server.clone(),
                admin: config.admin.clone(),
                audit: config.audit.clone(),
                state: config.state.clone(),
            },
            generation: AtomicU64::new(1),
            reloading: Mutex::new(()),
        }
    }

    /// The live snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Re-reads the file; swaps in the new snapshot only if it validates.
    pub fn reload(&self) -> Result<ReloadOutcome, ConfigError> {
        let Some(path) = &self.path else {
            return Err(ConfigError::at("", "this gateway was not started from a config file"));
        };
        let _serial = self.reloading.lock().unwrap_or_else(PoisonError::into_inner);
        let config = load_file(path)?;
        Ok(self.apply(&config))
    }

    /// Swaps in a snapshot built from `config`.
    pub fn apply(&self, config: &Config) -> ReloadOutcome {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let old = self.current.load();
        for issuer in &config.auth.issuers {
            for previous in old.auth.issuers.iter() {
                issuer.adopt(previous);
            }
        }
        self.current.store(Arc::new(Snapshot::new(config, generation)));
        let static_changed = self.static_part
            != StaticPart {
                server: config.server.clone(),
                admin: config.admin.clone(),
                audit: config.audit.clone(),
                state: config.state.clone(),
            };
        ReloadOutcome {
            generation,
            static_changed,
        }
    }
}
