//! `[rate_limits]` → [`RateLimits`]: which bucket applies to which caller.

use super::ConfigError;
use super::duration::parse_duration;
use super::raw::{RawLimit, RawRateLimits};
use crate::ratelimit::{AuthFailures, Limit, RateLimits};

fn limit(raw: RawLimit, key: &str) -> Result<Limit, ConfigError> {
    Limit::new(raw.capacity, raw.refill_per_sec)
        .map_err(|(field, message)| ConfigError::at(format!("{key}.{field}"), message))
}

/// Validates `[rate_limits]` (its roles are checked against `[roles]` with every other role
/// reference, in `validate.rs`).
pub fn rate_limits(raw: &RawRateLimits) -> Result<RateLimits, ConfigError> {
    let auth_failures = match &raw.auth_failures {
        None => None,
        Some(a) => {
            let duration = |text: &str, key: &str| {
                parse_duration(text).map_err(|m| ConfigError::at(format!("rate_limits.auth_failures.{key}"), m))
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
    Ok(RateLimits {
        ip: raw.ip.map(|l| limit(l, "rate_limits.ip")).transpose()?,
        auth_failures,
        roles: role_limits,
        api_key: raw.api_key.map(|l| limit(l, "rate_limits.api_key")).transpose()?,
        tools,
        max_buckets: raw.max_buckets,
    })
}
