//! Session binding (stage 8): the `Mcp-Session-Id` an upstream returns on `initialize` is
//! bound to the principal that initialized it. A later request with that id from anyone else,
//! or with an id the gateway never saw, is refused with 404 (what the MCP transport prescribes
//! for an unknown session), so a leaked or guessed id is worth nothing to another caller.
//!
//! Ids are stored hashed with their route (an id is only meaningful to the upstream that minted
//! it). Bindings expire after `session_idle` without use; the table is bounded.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// The hashed (route, session id) pair a binding is stored under.
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
}

/// What a session id means for the caller presenting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCheck {
    /// Bound to this caller: go on.
    Owner,
    /// Never bound, unbound, or expired: 404.
    Unknown,
    /// Bound to another principal: 404 and an audit event.
    OtherPrincipal,
}

/// Where session bindings live.
#[derive(Debug)]
pub enum SessionStore {
    /// In process memory (one node; bindings end with the process).
    Memory(MemorySessions),
}

impl SessionStore {
    /// An in-memory store.
    pub fn memory(idle: Duration, max_sessions: usize) -> Self {
        Self::Memory(MemorySessions::new(idle, max_sessions))
    }

    /// Binds `key` to `owner`; `false` when the table is full of live sessions.
    pub async fn bind(&self, key: SessionKey, owner: &str) -> bool {
        match self {
            Self::Memory(m) => m.bind(key, owner, Instant::now()),
        }
    }

    /// Checks `key` for `owner`, refreshing the binding's idle timer when it is the owner's.
    pub async fn check(&self, key: SessionKey, owner: &str) -> SessionCheck {
        match self {
            Self::Memory(m) => m.check(key, owner, Instant::now()),
        }
    }

    /// Forgets `key` (the session ended).
    pub async fn unbind(&self, key: SessionKey) {
        match self {
            Self::Memory(m) => m.unbind(key),
        }
    }
}

#[derive(Debug)]
struct Binding {
    owner: Box<str>,
    last_seen: Instant,
}

/// The in-memory backend.
#[derive(Debug)]
pub struct MemorySessions {
    bindings: Mutex<HashMap<SessionKey, Binding>>,
    idle: Duration,
    max_sessions: usize,
}

impl MemorySessions {
    /// An empty table whose bindings expire after `idle` and which holds at most `max_sessions`.
    pub fn new(idle: Duration, max_sessions: usize) -> Self {
        Self {
            bindings: Mutex::new(HashMap::new()),
            idle,
            max_sessions,
        }
    }

    fn bind(&self, key: SessionKey, owner: &str, now: Instant) -> bool {
        let mut bindings = self.bindings.lock().unwrap_or_else(PoisonError::into_inner);
        if bindings.len() >= self.max_sessions && !bindings.contains_key(&key) {
            bindings.retain(|_, b| now.duration_since(b.last_seen) < self.idle);
            if bindings.len() >= self.max_sessions {
                // Refusing the new binding (its id will get 404) keeps every live session of
                // other callers intact; evicting them would let one caller end everyone's.
                tracing::warn!(max = self.max_sessions, "session table full; new session not bound");
                return false;
            }
        }
        // A live id bound to someone else is never moved: an upstream that hands out an id twice
        // must not let the second caller into the first one's session.
        if let Some(existing) = bindings.get(&key) {
            if *existing.owner != *owner && now.duration_since(existing.last_seen) < self.idle {
                tracing::warn!("upstream reused a live session id for another principal; not rebound");
                return false;
            }
        }
        bindings.insert(
            key,
            Binding {
                owner: owner.into(),
                last_seen: now,
            },
        );
        true
    }

    fn check(&self, key: SessionKey, owner: &str, now: Instant) -> SessionCheck {
        let mut bindings = self.bindings.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(binding) = bindings.get_mut(&key) else {
            return SessionCheck::Unknown;
        };
        if now.duration_since(binding.last_seen) >= self.idle {
            bindings.remove(&key);
            return SessionCheck::Unknown;
        }
        if *binding.owner != *owner {
            return SessionCheck::OtherPrincipal;
        }
        binding.last_seen = now;
        SessionCheck::Owner
    }

    fn unbind(&self, key: SessionKey) {
        self.bindings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::{MemorySessions, SessionCheck, SessionKey};

    #[test]
    fn bindings_belong_to_one_owner_and_expire_when_idle() {
        let table = MemorySessions::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        let a = SessionKey::new("/mcp", b"s-a");
        assert_ne!(a, SessionKey::new("/other", b"s-a"), "ids are per route");
        assert_eq!(table.check(a, "jwt:alice", t0), SessionCheck::Unknown);
        assert!(table.bind(a, "jwt:alice", t0));
        assert_eq!(table.check(a, "jwt:alice", t0), SessionCheck::Owner);
        assert_eq!(table.check(a, "jwt:bob", t0), SessionCheck::OtherPrincipal);
        // Use keeps it alive; a full idle period without use ends it.
        assert_eq!(
            table.check(a, "jwt:alice", t0 + Duration::from_secs(50)),
            SessionCheck::Owner
        );
        assert_eq!(
            table.check(a, "jwt:alice", t0 + Duration::from_secs(100)),
            SessionCheck::Owner
        );
        assert_eq!(
            table.check(a, "jwt:alice", t0 + Duration::from_secs(161)),
            SessionCheck::Unknown
        );
        // Bounded: a full table of live sessions refuses new ones; expired ones make room.
        let (b, c, d) = (
            SessionKey::new("/mcp", b"b"),
            SessionKey::new("/mcp", b"c"),
            SessionKey::new("/mcp", b"d"),
        );
        assert!(table.bind(b, "x", t0));
        assert!(table.bind(c, "x", t0));
        assert!(!table.bind(d, "x", t0));
        assert!(table.bind(d, "x", t0 + Duration::from_secs(61)));
        table.unbind(d);
        assert_eq!(table.check(d, "x", t0 + Duration::from_secs(61)), SessionCheck::Unknown);
    }
}
