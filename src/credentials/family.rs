//! Refresh families (RFC 9700 §4.14): one login's chain of refresh tokens. Each refresh token
//! is opaque (`rt_` + 256 random bits), stored only as its SHA-256, and good for one rotation;
//! the family holds the grant (refresh tokens carry none of their own) and an absolute expiry.
//! Presenting a used refresh token is reuse: the whole family dies.

use serde::{Deserialize, Serialize};

use crate::auth::jwt::Grant;

/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "rt_";

/// One family as stored (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub id: String,
    pub grant: Grant,
    pub created: u64,
    /// Absolute end of the family, whatever the rotations.
    pub expires: u64,
    /// Set when the family was revoked (reuse, or an operator).
    #[serde(default)]
    pub revoked: Option<u64>,
}

/// One refresh token as stored: its digest, its family, and whether it was already rotated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRecord {
    /// Hex SHA-256 of the token.
    pub hash: String,
    pub family: String,
    /// When it was rotated (0: still the family's live token).
    pub used: u64,
    /// The family's expiry.
    pub expires: u64,
}

impl RefreshRecord {
    /// The compact form both backends store: `family|used|expires`.
    pub fn value(&self) -> String {
        format!("{}|{}|{}", self.family, self.used, self.expires)
    }

    /// Reads the compact form back.
    pub fn parse(hash: &str, value: &str) -> Option<Self> {
        let mut parts = value.split('|');
        let family = parts.next()?.to_string();
        let used = parts.next()?.parse().ok()?;
        let expires = parts.next()?.parse().ok()?;
        Some(Self {
            hash: hash.to_string(),
            family,
            used,
            expires,
        })
    }
}

/// What a rotation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live: it is retired and the new one is live (the family id).
    Rotated(String),
    /// The token was already used: the family is revoked now (the family id).
    Reused(String),
    /// The family was revoked before (the family id).
    FamilyRevoked(String),
    /// Unknown token, or the family expired.
    Invalid,
}

/// A new opaque refresh token and its digest.
pub fn new_refresh_token() -> (String, String) {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let token = format!(
        "{REFRESH_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = digest(&token);
    (token, hash)
}

/// Hex SHA-256 of a refresh token.
pub fn digest(token: &str) -> String {
    use sha2::{Digest as _, Sha256};
    crate::auth::api_key::hex(&Sha256::digest(token.as_bytes()).into())
}
