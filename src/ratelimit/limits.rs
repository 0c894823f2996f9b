//! `[rate_limits]`, validated: which bucket applies to which caller.

use std::time::Duration;

use super::bucket::Limit;
use crate::auth::Principal;
use crate::config::ConfigError;
use crate::config::raw::{RawLimit, RawRateLimits};

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

fn limit(raw: RawLimit, key: &str) -> Result<Limit, ConfigError> {
    if !(raw.capacity.is_finite() && raw.capacity >= 1.0) {
        return Err(ConfigError::at(format!("{key}.capacity"), "must be at least 1"));
    }
    if !(raw.refill_per_sec.is_finite() && raw.refill_per_sec >= 0.0) {
        return Err(ConfigError::at(format!("{key}.refill_per_sec"), "must be 0 or more"));
    }
    Ok(Limit {
        capacity: raw.capacity,
        refill_per_sec: raw.refill_per_sec,
    })
}

impl RateLimits {
    /// Validates `[rate_limits]` (its roles are checked against `[roles]` with every other
    /// role reference, in `config::validate`).
    pub fn new(raw: &RawRateLimits) -> Result<Self, ConfigError> {
        let auth_failures = match &raw.auth_failures {
            None => None,
            Some(a) => {
                let duration = |text: &str, key: &str| {
                    crate::config::parse_duration(text)
                        .map_err(|m| ConfigError::at(format!("rate_limits.auth_failures.{key}"), m))
                };
                if a.max == 0 {
                    return Err(ConfigError::at("rate_limits.auth_failures.max", "must be at least 1"));
                }
                let (window, block) = (duration(&a.window, "window")?, duration(&a.block, "block")?);
                for (value, key) in [(window, "window"), (block, "block")] {
                    if value.is_zero() {
                        return Err(ConfigError::at(
                            format!("rate_limits.auth_failures.{key}"),
                            "must be greater than 0",
                        ));
                    }
                }
                Some(AuthFailures {
                    max: a.max,
                    window,
                    block,
                })
            }
        };
        let mut role_limits = Vec::with_capacity(raw.roles.len());
        for (role, raw_limit) in &raw.roles {
            // Defined in [roles]: checked with every other role reference at load.
            let key = format!("rate_limits.roles.{role}");
            role_limits.push((role.clone(), limit(*raw_limit, &key)?));
        }
        let mut tools = Vec::with_capacity(raw.tools.len());
        for (index, tool) in raw.tools.iter().enumerate() {
            let key = format!("rate_limits.tools[{index}]");
            if tool.tool.is_empty() {
                return Err(ConfigError::at(format!("{key}.tool"), "must name a tool"));
            }
            let raw_limit = RawLimit {
                capacity: tool.capacity,
                refill_per_sec: tool.refill_per_sec,
            };
            tools.push((tool.tool.clone(), limit(raw_limit, &key)?));
        }
        if raw.max_buckets < 1_000 {
            return Err(ConfigError::at("rate_limits.max_buckets", "must be at least 1000"));
        }
        Ok(Self {
            ip: raw.ip.map(|l| limit(l, "rate_limits.ip")).transpose()?,
            auth_failures,
            roles: role_limits,
            api_key: raw.api_key.map(|l| limit(l, "rate_limits.api_key")).transpose()?,
            tools,
            max_buckets: raw.max_buckets,
        })
    }

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
