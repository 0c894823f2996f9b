//! `[rate_limits]`, validated: which bucket applies to which caller.

use std::time::Duration;

use super::bucket::Limit;
use crate::auth::Principal;

/// The auth-failure block: `max` failed credentials within `window` block the IP for `block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFailures {
    pub max: u32,
    pub window: Duration,
    pub block: Duration,
}

/// Every configured limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimits {
    pub ip: Option<Limit>,
    pub auth_failures: Option<AuthFailures>,
    /// Role → limit, in file order.
    pub roles: Vec<(String, Limit)>,
    pub api_key: Option<Limit>,
    /// Tool name → limit per principal.
    pub tools: Vec<(String, Limit)>,
    pub max_buckets: usize,
}

impl RateLimits {
    /// The most generous limit among the principal's roles (highest rate, then burst).
    pub fn for_principal(&self, principal: &Principal) -> Option<Limit> {
        self.roles
            .iter()
            .filter(|(role, _)| principal.roles.iter().any(|r| r == role))
            .map(|(_, l)| *l)
            .max_by(|a, b| {
                a.refill_per_sec
                    .total_cmp(&b.refill_per_sec)
                    .then(a.capacity.total_cmp(&b.capacity))
            })
    }

    /// The per-principal limit of `tool`.
    pub fn for_tool(&self, tool: &str) -> Option<Limit> {
        self.tools.iter().find(|(name, _)| name == tool).map(|(_, l)| *l)
    }
}
