//! `CredentialSettings`: the lifetimes and limits of credentials the gateway issues, validated
//! by `config/credentials.rs` from `[auth.jwt]`, `[auth.api_keys]` and `[state]`.

use std::time::Duration;

use crate::auth::api_key::Pepper;

/// Lifetimes, bounds and the freshness rule of issued credentials.
#[derive(Debug, Clone)]
pub struct CredentialSettings {
    /// Absolute lifetime of a refresh family (`[auth.jwt] refresh_ttl`).
    pub refresh_ttl: Duration,
    /// Longest access-token lifetime a caller may ask for (`[auth.jwt] max_ttl`).
    pub access_max_ttl: Duration,
    /// Lifetime of a new dynamic key when none is asked (`[auth.api_keys] default_ttl`).
    pub key_default_ttl: Duration,
    /// Longest lifetime a dynamic key may be given (`[auth.api_keys] max_ttl`).
    pub key_max_ttl: Duration,
    /// HMAC key of dynamic key digests (`[auth.api_keys] pepper`).
    pub pepper: Option<Pepper>,
    /// `[state] revocation_max_staleness`.
    pub max_staleness: Duration,
    /// Full resync of the replica's copy at least this often (Redis).
    pub resync_every: Duration,
}

impl Default for CredentialSettings {
    fn default() -> Self {
        Self {
            refresh_ttl: Duration::from_secs(7 * 86_400),
            access_max_ttl: Duration::from_secs(86_400),
            key_default_ttl: Duration::from_secs(90 * 86_400),
            key_max_ttl: Duration::from_secs(365 * 86_400),
            pepper: None,
            max_staleness: Duration::from_secs(30),
            resync_every: Duration::from_secs(60),
        }
    }
}

impl CredentialSettings {
    /// How often a Redis-fed replica asks whether its copy is current: well within the
    /// staleness bound, and at least every second so a missed push costs at most that.
    pub fn poll_every(&self) -> Duration {
        (self.max_staleness / 3).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }
}
