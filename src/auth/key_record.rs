//! `KeyRecord`: a dynamic API key as the credential store holds it — never the key, only its
//! digest (HMAC-SHA256 with `[auth.api_keys] pepper` when set, else SHA-256) — with its owner,
//! grant and lifecycle (expiry, revocation, rotation grace).

use serde::{Deserialize, Serialize};

/// How a key's digest was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HashAlg {
    #[serde(rename = "sha256")]
    Sha256,
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
}

/// One dynamic key (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub subject: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Hex digest of the key.
    pub hash: String,
    pub hash_alg: HashAlg,
    pub created: u64,
    #[serde(default)]
    pub expires: Option<u64>,
    #[serde(default)]
    pub revoked: Option<u64>,
    /// A rotated key stays valid until then.
    #[serde(default)]
    pub grace_until: Option<u64>,
    #[serde(default)]
    pub replaced_by: Option<String>,
}

/// Within this many seconds of its expiry a key is "expiring" (warned by `check`, `keys list`,
/// the audit and `portcullis_api_key_expiring`).
pub const EXPIRY_WARNING_SECS: u64 = 14 * 86_400;

impl KeyRecord {
    /// Whether the key is accepted at `now`.
    pub fn valid_at(&self, now: u64) -> bool {
        self.revoked.is_none() && self.expires.is_none_or(|at| now < at) && self.grace_until.is_none_or(|at| now < at)
    }

    /// `active`, `expiring`, `expired`, `revoked` or `rotated` at `now`.
    pub fn status(&self, now: u64) -> &'static str {
        if self.revoked.is_some() {
            "revoked"
        } else if self.grace_until.is_some_and(|at| now >= at) || self.expires.is_some_and(|at| now >= at) {
            "expired"
        } else if self.replaced_by.is_some() {
            "rotated"
        } else if self.expires.is_some_and(|at| at - now < EXPIRY_WARNING_SECS) {
            "expiring"
        } else {
            "active"
        }
    }

    /// The digest bytes (`None` when the stored hex is damaged).
    pub fn digest(&self) -> Option<[u8; 32]> {
        let mut out = [0u8; 32];
        if self.hash.len() != 64 {
            return None;
        }
        for (i, chunk) in self.hash.as_bytes().chunks(2).enumerate() {
            out[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
        }
        Some(out)
    }
}
