//! `[state]`, validated.

use std::path::PathBuf;
use std::time::Duration;

/// What rate limiting does while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnavailable {
    /// Per-replica buckets take over (the default; audited and counted).
    Local,
    /// Every rate-limited request is refused: 503 + `-31503`.
    Deny,
    /// Explicit fail-open: requests pass unlimited (audited and counted).
    Allow,
}

/// The state backend to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// One node: buckets in memory, bindings in `path` (memory only without one).
    Embedded { path: Option<PathBuf> },
    /// Shared by every replica.
    Redis {
        url: String,
        key_prefix: String,
        timeout: Duration,
        pool_size: usize,
    },
}

/// `[state]`, validated (static: a change needs a restart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    pub backend: Backend,
    pub on_unavailable: OnUnavailable,
}
