//! `SessionKey`: what a session binding is stored under, in every backend.

use sha2::{Digest as _, Sha256};

/// The hashed (route, session id) or (route, task id) pair a binding is stored under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// Key for `session_id` on the route `route`.
    pub fn new(route: &str, session_id: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(route.as_bytes());
        hasher.update([0]);
        hasher.update(session_id);
        Self(hasher.finalize().into())
    }

    /// Key for the task `task_id` on the route `route`: a domain of its own (the separator
    /// differs), so no task id can name a session binding or the other way round.
    pub fn task(route: &str, task_id: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(route.as_bytes());
        hasher.update([1]);
        hasher.update(b"task");
        hasher.update([1]);
        hasher.update(task_id);
        Self(hasher.finalize().into())
    }

    /// A key read back from a store.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Hex, for Redis key names.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}
