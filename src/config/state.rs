//! `[state]` → [`StateSettings`]: which backend holds session bindings and shared buckets.

use std::path::PathBuf;

use super::ConfigError;
use super::duration::parse_duration;
use super::raw::RawState;
use crate::state::{Backend, OnUnavailable, StateSettings};

/// Validates `[state]`; errors name the key.
pub fn state(raw: &RawState) -> Result<StateSettings, ConfigError> {
    let on_unavailable = match raw.on_unavailable.as_str() {
        "local" => OnUnavailable::Local,
        "deny" => OnUnavailable::Deny,
        "allow" => OnUnavailable::Allow,
        other => {
            return Err(ConfigError::at(
                "state.on_unavailable",
                format!("`{other}` must be \"local\", \"deny\" or \"allow\""),
            ));
        }
    };
    let backend = match (raw.backend.as_str(), &raw.redis_url) {
        ("embedded", None) => Backend::Embedded {
            path: raw.path.as_ref().map(PathBuf::from),
        },
        ("embedded", Some(_)) => {
            return Err(ConfigError::at("state.redis_url", "needs backend = \"redis\""));
        }
        ("redis", None) => return Err(ConfigError::at("state.redis_url", "required with backend = \"redis\"")),
        ("redis", Some(url)) => {
            let url = url
                .replacen("redis+sentinel://", "redis-sentinel://", 1)
                .replacen("rediss+sentinel://", "rediss-sentinel://", 1)
                .replacen("redis+cluster://", "redis-cluster://", 1)
                .replacen("rediss+cluster://", "rediss-cluster://", 1);
            fred::types::config::Config::from_url(&url)
                .map_err(|e| ConfigError::at("state.redis_url", format!("not a Redis URL: {}", e.details())))?;
            let timeout = parse_duration(&raw.redis_timeout).map_err(|m| ConfigError::at("state.redis_timeout", m))?;
            if timeout.is_zero() {
                return Err(ConfigError::at("state.redis_timeout", "must be greater than 0"));
            }
            let clustered = url.starts_with("redis-cluster://") || url.starts_with("rediss-cluster://");
            let tagged = raw
                .key_prefix
                .find('{')
                .zip(raw.key_prefix.find('}'))
                .is_some_and(|(a, b)| b > a + 1);
            if clustered && !tagged {
                return Err(ConfigError::at(
                    "state.key_prefix",
                    "a Cluster needs a hash tag in the prefix, e.g. \"{portcullis}:\", so one request's keys share a slot",
                ));
            }
            if raw.redis_pool_size == 0 || raw.redis_pool_size > 64 {
                return Err(ConfigError::at("state.redis_pool_size", "must be 1 to 64"));
            }
            Backend::Redis {
                url,
                key_prefix: raw.key_prefix.clone(),
                timeout,
                pool_size: raw.redis_pool_size as usize,
            }
        }
        (other, _) => {
            return Err(ConfigError::at(
                "state.backend",
                format!("`{other}` must be \"embedded\" or \"redis\""),
            ));
        }
    };
    Ok(StateSettings {
        backend,
        on_unavailable,
    })
}
