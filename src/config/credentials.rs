//! `[auth.jwt]` lifetimes, `[auth.api_keys]` dynamic-key settings and
//! `[state] revocation_max_staleness` → [`CredentialSettings`] (static: read at start).

use std::time::Duration;

use super::ConfigError;
use super::duration::parse_duration;
use super::raw::RawConfig;
use crate::auth::api_key::Pepper;
use crate::credentials::CredentialSettings;

fn duration(text: &str, key: &str) -> Result<Duration, ConfigError> {
    parse_duration(text).map_err(|m| ConfigError::at(key, m))
}

/// Validates the credential lifecycle settings; errors name the key.
pub fn credentials(raw: &RawConfig) -> Result<(CredentialSettings, bool), ConfigError> {
    let mut settings = CredentialSettings {
        max_staleness: duration(&raw.state.revocation_max_staleness, "state.revocation_max_staleness")?,
        ..CredentialSettings::default()
    };
    if settings.max_staleness.is_zero() {
        return Err(ConfigError::at(
            "state.revocation_max_staleness",
            "must be greater than 0",
        ));
    }
    if let Some(jwt) = &raw.auth.jwt {
        settings.refresh_ttl = duration(&jwt.refresh_ttl, "auth.jwt.refresh_ttl")?;
        settings.access_max_ttl = duration(&jwt.max_ttl, "auth.jwt.max_ttl")?;
        let access = duration(&jwt.access_ttl, "auth.jwt.access_ttl")?;
        if settings.access_max_ttl < access {
            return Err(ConfigError::at(
                "auth.jwt.max_ttl",
                "must be at least auth.jwt.access_ttl",
            ));
        }
        if settings.refresh_ttl.is_zero() {
            return Err(ConfigError::at("auth.jwt.refresh_ttl", "must be greater than 0"));
        }
    }
    let mut keys_when_stale = true;
    if let Some(keys) = &raw.auth.api_keys {
        settings.key_default_ttl = duration(&keys.default_ttl, "auth.api_keys.default_ttl")?;
        settings.key_max_ttl = duration(&keys.max_ttl, "auth.api_keys.max_ttl")?;
        if settings.key_default_ttl.is_zero() || settings.key_default_ttl > settings.key_max_ttl {
            return Err(ConfigError::at(
                "auth.api_keys.default_ttl",
                "must be greater than 0 and at most auth.api_keys.max_ttl",
            ));
        }
        if let Some(pepper) = &keys.pepper {
            if pepper.len() < 32 {
                return Err(ConfigError::at(
                    "auth.api_keys.pepper",
                    "must be at least 32 bytes (`portcullis gen-secret` makes one)",
                ));
            }
            settings.pepper = Some(Pepper::new(pepper.as_bytes().to_vec()));
        }
        keys_when_stale = match keys.when_state_stale.as_str() {
            "accept" => true,
            "refuse" => false,
            other => {
                return Err(ConfigError::at(
                    "auth.api_keys.when_state_stale",
                    format!("`{other}` must be \"accept\" or \"refuse\""),
                ));
            }
        };
    }
    Ok((settings, keys_when_stale))
}
