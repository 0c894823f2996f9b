//! The verified-token cache: SHA-256 of a token → its principal, until the token's own
//! expiry, so an RS256/ES256 token costs a signature check once. Bounded: when full, expired
//! entries go first, then an arbitrary half.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest as _, Sha256};

use super::{Principal, now};

/// Entries kept at most.
const CAPACITY: usize = 65_536;

/// SHA-256 of a token → (its principal, its `exp` in unix seconds).
type Entries = HashMap<[u8; 32], (Arc<Principal>, u64)>;

/// Cache of verified tokens.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<Entries>,
}

impl TokenCache {
    /// The principal of an already verified, unexpired token.
    pub fn get(&self, token: &str) -> Option<Arc<Principal>> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&key)
            .filter(|(_, exp)| *exp > now())
            .map(|(p, _)| Arc::clone(p))
    }

    /// Remembers a verified token until `exp` (unix seconds).
    pub fn put(&self, token: &str, principal: Arc<Principal>, exp: u64) {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            let now = now();
            entries.retain(|_, (_, exp)| *exp > now);
            if entries.len() >= CAPACITY {
                let drop: Vec<[u8; 32]> = entries.keys().take(CAPACITY / 2).copied().collect();
                for key in drop {
                    entries.remove(&key);
                }
            }
        }
        entries.insert(key, (principal, exp));
    }
}
