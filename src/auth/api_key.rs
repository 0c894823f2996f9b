//! API keys: `mcp_` + 43 base64url characters (256 random bits). Only their SHA-256 is
//! kept; a presented key is hashed and compared in constant time against every key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::AuthFailure;
use super::key_record::HashAlg;

/// Prefix of every key (also how `Authorization: Bearer mcp_...` is told from a JWT).
pub const PREFIX: &str = "mcp_";

/// One key as configured: its hash and who it stands for.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub id: String,
    pub sha256: [u8; 32],
    pub subject: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    /// Unix seconds after which the key is refused.
    pub expires: Option<u64>,
}

/// `[auth.api_keys] pepper`: the HMAC key of dynamic key digests (never printed).
#[derive(Clone)]
pub struct Pepper(Vec<u8>);

impl Pepper {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(..)")
    }
}

/// A new random key.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// `sha256:<hex>` of a key, the form the config stores.
pub fn hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Parses `sha256:<64 hex>`.
pub fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("sha256:")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Refuses anything but `mcp_` + 43 base64url characters, before any lookup.
pub fn well_formed(presented: &str) -> Result<(), AuthFailure> {
    let body = presented.strip_prefix(PREFIX).ok_or(AuthFailure::Malformed)?;
    let ok = body.len() == 43
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(AuthFailure::Malformed) }
}

/// The digest a dynamic key is stored under: HMAC-SHA256 keyed with the pepper when one is
/// configured (a stolen store then cannot be checked against guesses offline), else SHA-256.
pub fn digest(key: &str, pepper: Option<&[u8]>) -> ([u8; 32], HashAlg) {
    match pepper {
        Some(pepper) => {
            use hmac::Mac as _;
            let mut mac = <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(pepper)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(key.as_bytes());
            (mac.finalize().into_bytes().into(), HashAlg::HmacSha256)
        }
        None => (Sha256::digest(key.as_bytes()).into(), HashAlg::Sha256),
    }
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Finds the key matching `presented`. Malformed keys are refused before any lookup; every
/// stored hash is compared, in constant time, so timing says nothing about which one matched.
pub fn find<'k>(keys: &'k [StoredKey], presented: &str, now: u64) -> Result<&'k StoredKey, AuthFailure> {
    well_formed(presented)?;
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for key in keys {
        if bool::from(key.sha256.ct_eq(&digest)) {
            found = Some(key);
        }
    }
    let key = found.ok_or(AuthFailure::UnknownKey)?;
    if key.expires.is_some_and(|at| at <= now) {
        return Err(AuthFailure::Expired);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::{StoredKey, find, generate, hash, parse_hash};

    #[test]
    fn keys_round_trip_through_their_hash() {
        let key = generate();
        assert!(key.starts_with("mcp_") && key.len() == 47);
        let stored = StoredKey {
            id: "k".into(),
            sha256: parse_hash(&hash(&key)).unwrap(),
            subject: "svc".into(),
            roles: vec![],
            permissions: vec![],
            expires: Some(100),
        };
        let keys = [stored];
        assert_eq!(find(&keys, &key, 99).unwrap().id, "k");
        assert!(find(&keys, &key, 100).is_err(), "expired");
        assert!(find(&keys, &generate(), 0).is_err(), "unknown");
        assert!(find(&keys, "mcp_short", 0).is_err(), "malformed");
        assert_eq!(
            hash("test"),
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }
}
