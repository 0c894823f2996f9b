//! Validation of `[auth.jwt]` and `[auth.api_keys]` into an [`Authenticator`]: keys are read
//! and parsed at load (errors name the key path), secrets are length-checked, algorithms are
//! pinned per key.

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use super::ConfigError;
use super::duration::parse_duration;
use super::raw::{RawApiKeys, RawAuth, RawIssuer, RawJwt, RawJwtKey};
use crate::auth::api_key::{self, StoredKey};
use crate::auth::issuer::{Issuer, IssuerSettings, KeySource};
use crate::auth::jwt::{JwtKey, JwtSettings};
use crate::auth::{Authenticator, TokenCache};

/// Builds the authenticator; `public_url` is the default audience.
pub fn authenticator(raw: &RawAuth, public_url: &str) -> Result<Authenticator, ConfigError> {
    let jwt = raw.jwt.as_ref().map(|j| jwt(j, public_url)).transpose()?;
    let (api_keys, api_key_header) = match &raw.api_keys {
        Some(keys) => api_keys(keys)?,
        None => (Vec::new(), None),
    };
    let leeway = raw.jwt.as_ref().map_or(Ok(std::time::Duration::from_secs(30)), |j| {
        duration(&j.leeway, "auth.jwt.leeway")
    })?;
    let mut issuers = Vec::with_capacity(raw.issuers.len());
    for (index, issuer) in raw.issuers.iter().enumerate() {
        issuers.push(std::sync::Arc::new(Issuer::new(issuer_settings(
            issuer,
            &format!("auth.issuers[{index}]"),
            leeway,
        )?)));
    }
    Ok(Authenticator {
        jwt,
        api_keys,
        api_key_header,
        issuers,
        cache: TokenCache::default(),
        pepper: None,
        keys_when_stale: true,
    })
}

fn issuer_settings(raw: &RawIssuer, at: &str, leeway: std::time::Duration) -> Result<IssuerSettings, ConfigError> {
    let keys = match (&raw.jwks_url, &raw.jwks_file, raw.discovery) {
        (Some(url), None, false) => Some(KeySource::Url(url.clone())),
        (None, Some(file), false) => Some(KeySource::File(file.into())),
        (None, None, true) => Some(KeySource::Discovery),
        (None, None, false) => None,
        _ => {
            return Err(ConfigError::at(
                format!("{at}.jwks_url"),
                "choose one of jwks_url, jwks_file, discovery = true",
            ));
        }
    };
    for (name, url) in [
        ("jwks_url", &raw.jwks_url),
        ("introspection_url", &raw.introspection_url),
    ] {
        if let Some(url) = url
            && !crate::auth::fetch::secure_or_loopback(url)
        {
            return Err(ConfigError::at(
                format!("{at}.{name}"),
                "must be https:// (plain http only to a loopback address)",
            ));
        }
    }
    if raw.discovery && !crate::auth::fetch::secure_or_loopback(&raw.issuer) {
        return Err(ConfigError::at(
            format!("{at}.issuer"),
            "discovery needs an https:// issuer (plain http only on loopback)",
        ));
    }
    if keys.is_none() && raw.introspection_url.is_none() {
        return Err(ConfigError::at(
            format!("{at}.jwks_url"),
            "needs jwks_url, jwks_file, discovery = true or introspection_url",
        ));
    }
    if let Some(KeySource::File(path)) = &keys {
        let text = std::fs::read(path).map_err(|e| {
            ConfigError::at(
                format!("{at}.jwks_file"),
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        serde_json::from_slice::<jsonwebtoken::jwk::JwkSet>(&text)
            .map_err(|e| ConfigError::at(format!("{at}.jwks_file"), format!("not a JWKS: {e}")))?;
    }
    let mut algorithms = Vec::new();
    for (i, alg) in raw.algorithms.iter().enumerate() {
        algorithms.push(match alg.as_str() {
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            "EdDSA" => Algorithm::EdDSA,
            other => {
                return Err(ConfigError::at(
                    format!("{at}.algorithms[{i}]"),
                    format!("`{other}` is not one of RS256, ES256, EdDSA"),
                ));
            }
        });
    }
    let introspection_auth = match (&raw.client_id, &raw.client_secret) {
        (Some(id), Some(secret)) => {
            use base64::Engine as _;
            Some(base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
        }
        (None, None) => None,
        _ => {
            return Err(ConfigError::at(
                format!("{at}.client_id"),
                "client_id and client_secret go together",
            ));
        }
    };
    let tls = super::tls::client_config(raw.ca.as_deref(), at, None)?;
    Ok(IssuerSettings {
        issuer: raw.issuer.clone(),
        audience: raw.audience.clone(),
        keys,
        introspection_url: raw.introspection_url.clone(),
        introspection_auth,
        roles_claim: raw.roles_claim.clone(),
        scopes_claim: raw.scopes_claim.clone(),
        algorithms,
        jwks_ttl: duration(&raw.jwks_ttl, &format!("{at}.jwks_ttl"))?,
        refetch_interval: duration(&raw.refetch_interval, &format!("{at}.refetch_interval"))?,
        leeway,
        tls,
        token_typ: raw.token_typ.clone(),
        scopes: raw.scopes.clone(),
    })
}

fn duration(text: &str, key: &str) -> Result<std::time::Duration, ConfigError> {
    parse_duration(text).map_err(|m| ConfigError::at(key, m))
}

fn jwt(raw: &RawJwt, public_url: &str) -> Result<JwtSettings, ConfigError> {
    let audience = raw.audience.clone().unwrap_or_else(|| public_url.to_string());
    let leeway = duration(&raw.leeway, "auth.jwt.leeway")?;
    if raw.keys.is_empty() {
        return Err(ConfigError::at("auth.jwt.keys", "at least one key is required"));
    }
    let mut kids = HashSet::new();
    let mut keys = Vec::with_capacity(raw.keys.len());
    for (index, key) in raw.keys.iter().enumerate() {
        let at = format!("auth.jwt.keys[{index}]");
        if key.kid.is_empty() || key.kid.len() > 128 || !kids.insert(key.kid.clone()) {
            return Err(ConfigError::at(
                format!("{at}.kid"),
                "must be unique, non-empty and at most 128 characters",
            ));
        }
        keys.push(jwt_key(key, &at, (&raw.issuer, &audience, leeway.as_secs()))?);
    }
    Ok(JwtSettings {
        issuer: raw.issuer.clone(),
        audience,
        access_ttl: duration(&raw.access_ttl, "auth.jwt.access_ttl")?,
        refresh_ttl: duration(&raw.refresh_ttl, "auth.jwt.refresh_ttl")?,
        leeway,
        max_token_bytes: raw.max_token_bytes as usize,
        keys,
    })
}

fn read(path: &str, key: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| ConfigError::at(key, format!("cannot read {path}: {e}")))
}

fn jwt_key(raw: &RawJwtKey, at: &str, settings: (&str, &str, u64)) -> Result<JwtKey, ConfigError> {
    let alg = match raw.alg.as_str() {
        "HS256" => Algorithm::HS256,
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        "EdDSA" => Algorithm::EdDSA,
        other => {
            return Err(ConfigError::at(
                format!("{at}.alg"),
                format!("`{other}` is not one of HS256, RS256, ES256, EdDSA"),
            ));
        }
    };
    if alg == Algorithm::HS256 {
        let secret = raw
            .secret
            .as_ref()
            .ok_or_else(|| ConfigError::at(format!("{at}.secret"), "required for HS256"))?;
        if secret.len() < 32 {
            return Err(ConfigError::at(
                format!("{at}.secret"),
                "must be at least 32 bytes (`portcullis gen-secret` makes one)",
            ));
        }
        if raw.public_key.is_some() || raw.private_key.is_some() {
            return Err(ConfigError::at(
                format!("{at}.public_key"),
                "HS256 keys use `secret` only",
            ));
        }
        let decoding = DecodingKey::from_secret(secret.as_bytes());
        let encoding = EncodingKey::from_secret(secret.as_bytes());
        return Ok(JwtKey::new(raw.kid.clone(), alg, decoding, Some(encoding), settings));
    }
    if raw.secret.is_some() {
        return Err(ConfigError::at(
            format!("{at}.secret"),
            "only HS256 keys have a secret; use public_key / private_key",
        ));
    }
    let public = raw
        .public_key
        .as_ref()
        .ok_or_else(|| ConfigError::at(format!("{at}.public_key"), "required for asymmetric algorithms"))?;
    let pem = read(public, &format!("{at}.public_key"))?;
    let decoding = match alg {
        Algorithm::RS256 => DecodingKey::from_rsa_pem(&pem),
        Algorithm::ES256 => DecodingKey::from_ec_pem(&pem),
        _ => DecodingKey::from_ed_pem(&pem),
    }
    .map_err(|e| ConfigError::at(format!("{at}.public_key"), format!("{public}: {e}")))?;
    let encoding = match &raw.private_key {
        None => None,
        Some(path) => {
            let pem = read(path, &format!("{at}.private_key"))?;
            let key = match alg {
                Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
                Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
                _ => EncodingKey::from_ed_pem(&pem),
            }
            .map_err(|e| ConfigError::at(format!("{at}.private_key"), format!("{path}: {e}")))?;
            Some(key)
        }
    };
    Ok(JwtKey::new(raw.kid.clone(), alg, decoding, encoding, settings))
}

fn api_keys(raw: &RawApiKeys) -> Result<(Vec<StoredKey>, Option<http::HeaderName>), ConfigError> {
    let header = http::HeaderName::from_bytes(raw.header.as_bytes())
        .map_err(|_| ConfigError::at("auth.api_keys.header", "not a valid header name"))?;
    let mut ids = HashSet::new();
    let mut keys = Vec::with_capacity(raw.static_keys.len());
    for (index, key) in raw.static_keys.iter().enumerate() {
        let at = format!("auth.api_keys.static[{index}]");
        if key.id.is_empty() || !ids.insert(key.id.clone()) {
            return Err(ConfigError::at(format!("{at}.id"), "must be unique and non-empty"));
        }
        let sha256 = api_key::parse_hash(&key.hash).ok_or_else(|| {
            ConfigError::at(
                format!("{at}.hash"),
                "must be `sha256:` + 64 hex digits (`portcullis hash-key`)",
            )
        })?;
        let expires = key
            .expires
            .as_deref()
            .map(|text| {
                parse_date(text).ok_or_else(|| {
                    ConfigError::at(
                        format!("{at}.expires"),
                        format!("`{text}` is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"),
                    )
                })
            })
            .transpose()?;
        keys.push(StoredKey {
            id: key.id.clone(),
            sha256,
            subject: key.subject.clone(),
            roles: key.roles.clone(),
            permissions: key.permissions.clone(),
            expires,
        });
    }
    Ok((keys, Some(header)))
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` (UTC) as unix seconds.
pub fn parse_date(text: &str) -> Option<u64> {
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time.strip_suffix('Z')?)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (y, m, d): (i64, i64, i64) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (H. Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = match time {
        None => 0,
        Some(time) => {
            let mut t = time.split(':');
            let (h, mi, s): (i64, i64, i64) = (
                t.next()?.parse().ok()?,
                t.next()?.parse().ok()?,
                t.next()?.parse().ok()?,
            );
            if t.next().is_some() || h > 23 || mi > 59 || s > 60 {
                return None;
            }
            h * 3600 + mi * 60 + s
        }
    };
    u64::try_from(days * 86_400 + seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn dates_parse_to_unix_seconds() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01T00:00:01Z"), Some(951_868_801));
        assert_eq!(parse_date("2026-11-25T23:40:00Z"), Some(1_795_650_000));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("2026-01-01T10:00:00"), None);
    }
}
