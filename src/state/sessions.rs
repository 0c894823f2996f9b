//! Session binding (stage 8): the `Mcp-Session-Id` an upstream returns on `initialize` is
//! bound to the principal that initialized it. A later request with that id from anyone else,
//! or with an id the gateway never saw, is refused with 404 (what the MCP transport prescribes
//! for an unknown session), so a leaked or guessed id is worth nothing to another caller.
//!
//! Ids are stored hashed with their route (an id is only meaningful to the upstream that minted
//! it). Bindings expire after `session_idle` without use; the table is bounded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::embedded::Durable;
use super::key::SessionKey;
use super::redis::{RedisState, Unavailable};

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
    /// In process memory, written through to the embedded store when there is one.
    Memory(MemorySessions),
    /// In Redis, shared by every replica; a binding expires there after `idle`.
    Redis { redis: Arc<RedisState>, idle: Duration },
}

impl SessionStore {
    /// An in-memory store (with `durable`, loaded from and written through to it).
    pub fn memory(idle: Duration, max_sessions: usize, durable: Option<Durable>) -> Self {
        Self::Memory(MemorySessions::new(idle, max_sessions, durable))
    }

    /// Sessions bound in this process (`None` for Redis: the fleet's are not counted).
    pub fn local_count(&self) -> Option<usize> {
        match self {
            Self::Memory(m) => Some(
                m.bindings
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len(),
            ),
            Self::Redis { .. } => None,
        }
    }

    fn key_name(redis: &RedisState, key: SessionKey) -> String {
        redis.key(&format!("s:{}", key.hex()))
    }

    // Redis calls are boxed: a fred call's future is ~14 KB, and inline it would make every
    // request's future (embedded backend too) that large, copied at each stage.

    /// Binds `key` to `owner`; `Ok(false)` when it cannot be bound (table full, or the id is
    /// live for another principal).
    pub async fn bind(&self, key: SessionKey, owner: &str) -> Result<bool, Unavailable> {
        match self {
            Self::Memory(m) => Ok(m.bind(key, owner, Instant::now())),
            Self::Redis { redis, idle } => Box::pin(redis.bind(&Self::key_name(redis, key), owner, *idle)).await,
        }
    }

    /// Checks `key` for `owner`, refreshing the binding's idle timer when it is the owner's.
    pub async fn check(&self, key: SessionKey, owner: &str) -> Result<SessionCheck, Unavailable> {
        match self {
            Self::Memory(m) => Ok(m.check(key, owner, Instant::now())),
            Self::Redis { redis, idle } => Ok(
                match Box::pin(redis.check(&Self::key_name(redis, key), owner, *idle)).await? {
                    1 => SessionCheck::Owner,
                    2 => SessionCheck::OtherPrincipal,
                    _ => SessionCheck::Unknown,
                },
            ),
        }
    }

    /// Forgets `key` (the session ended).
    pub async fn unbind(&self, key: SessionKey) -> Result<(), Unavailable> {
        match self {
            Self::Memory(m) => {
                m.unbind(key);
                Ok(())
            }
            Self::Redis { redis, .. } => Box::pin(redis.unbind(&Self::key_name(redis, key))).await,
        }
    }
}

#[derive(Debug)]
struct Binding {
    owner: Box<str>,
    last_seen: Instant,
    /// When the embedded store last recorded a use (unix ms).
    persisted_ms: u64,
}

/// The in-memory backend.
#[derive(Debug)]
pub struct MemorySessions {
    bindings: Mutex<HashMap<SessionKey, Binding>>,
    idle: Duration,
    max_sessions: usize,
    durable: Option<Durable>,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl MemorySessions {
    /// An empty table whose bindings expire after `idle` and which holds at most `max_sessions`.
    pub fn new(idle: Duration, max_sessions: usize, durable: Option<Durable>) -> Self {
        let mut bindings = HashMap::new();
        if let Some(store) = &durable {
            let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
            let now_ms = unix_ms();
            match store.load(now_ms, idle_ms) {
                Ok(loaded) => {
                    let now = Instant::now();
                    for (key, owner, seen) in loaded.into_iter().take(max_sessions) {
                        let age = Duration::from_millis(now_ms.saturating_sub(seen));
                        bindings.insert(
                            key,
                            Binding {
                                owner: owner.into(),
                                last_seen: now.checked_sub(age).unwrap_or(now),
                                persisted_ms: seen,
                            },
                        );
                    }
                    tracing::info!(
                        sessions = bindings.len(),
                        "session bindings loaded from the embedded store"
                    );
                }
                Err(error) => tracing::error!(%error, "cannot read session bindings from the embedded store"),
            }
        }
        Self {
            bindings: Mutex::new(bindings),
            idle,
            max_sessions,
            durable,
        }
    }

    /// Writes a change to the embedded store off the request path (each write is a committed
    /// transaction; a crash loses at most the writes in flight).
    fn persist(&self, write: impl FnOnce(&Durable) -> Result<(), String> + Send + 'static) {
        let Some(store) = self.durable.clone() else {
            return;
        };
        let job = move || {
            if let Err(error) = write(&store) {
                tracing::error!(%error, "cannot write a session binding to the embedded store");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(job)),
            Err(_) => job(),
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
        if let Some(existing) = bindings.get(&key)
            && *existing.owner != *owner
            && now.duration_since(existing.last_seen) < self.idle
        {
            tracing::warn!("upstream reused a live session id for another principal; not rebound");
            return false;
        }
        let persisted_ms = unix_ms();
        bindings.insert(
            key,
            Binding {
                owner: owner.into(),
                last_seen: now,
                persisted_ms,
            },
        );
        let owner = owner.to_string();
        self.persist(move |store| store.put(key, &owner, persisted_ms));
        true
    }

    fn check(&self, key: SessionKey, owner: &str, now: Instant) -> SessionCheck {
        let mut bindings = self.bindings.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(binding) = bindings.get_mut(&key) else {
            return SessionCheck::Unknown;
        };
        if now.duration_since(binding.last_seen) >= self.idle {
            bindings.remove(&key);
            self.persist(move |store| store.delete(key));
            return SessionCheck::Unknown;
        }
        if *binding.owner != *owner {
            return SessionCheck::OtherPrincipal;
        }
        binding.last_seen = now;
        // The store learns of a use at most every quarter idle period: enough to keep a
        // restarted gateway from expiring a live session, without a write per request.
        let now_ms = unix_ms();
        let quarter = u64::try_from(self.idle.as_millis() / 4).unwrap_or(u64::MAX);
        if self.durable.is_some() && now_ms.saturating_sub(binding.persisted_ms) > quarter {
            binding.persisted_ms = now_ms;
            let owner = binding.owner.to_string();
            self.persist(move |store| store.put(key, &owner, now_ms));
        }
        SessionCheck::Owner
    }

    fn unbind(&self, key: SessionKey) {
        self.bindings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        self.persist(move |store| store.delete(key));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::{MemorySessions, SessionCheck, SessionKey};

    #[test]
    fn bindings_belong_to_one_owner_and_expire_when_idle() {
        let table = MemorySessions::new(Duration::from_secs(60), 2, None);
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
