//! `LiveCredentials`: this replica's copy of what the credential store says about credentials
//! that can change at run time — revocations and dynamic API keys — so the request path checks
//! them in memory, never with a store round trip. `credentials/` fills it at start, applies
//! every change it hears of (pub/sub with Redis, directly when embedded) and resyncs it in
//! full; it also records when the store last confirmed the copy is current.
//!
//! Usage of dynamic keys (count, last use, last IP) is gathered here and taken in batches off
//! the request path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::key_record::KeyRecord;
use super::revocation::{Revocation, RevocationKind};
use super::{AuthMethod, Principal};

/// Use of one key since the last batch: (count, last use in unix seconds, last IP).
pub type Usage = (u64, u64, Option<IpAddr>);

#[derive(Debug)]
struct Revoked {
    jti: HashMap<String, u64>,
    /// Subject → (tokens issued at or before this are refused, entry expiry).
    sub: HashMap<String, (u64, u64)>,
    family: HashMap<String, u64>,
    all: HashMap<String, Revocation>,
    /// The earliest expiry held: nothing to drop before it (`u64::MAX` when empty).
    earliest: u64,
}

impl Default for Revoked {
    fn default() -> Self {
        Self {
            jti: HashMap::new(),
            sub: HashMap::new(),
            family: HashMap::new(),
            all: HashMap::new(),
            earliest: u64::MAX,
        }
    }
}

#[derive(Debug, Default)]
struct Keys {
    by_digest: HashMap<[u8; 32], Arc<KeyRecord>>,
    by_id: HashMap<String, Arc<KeyRecord>>,
}

/// This replica's revocations and dynamic keys.
#[derive(Debug)]
pub struct LiveCredentials {
    revoked: RwLock<Revoked>,
    keys: RwLock<Keys>,
    usage: Mutex<HashMap<String, Usage>>,
    /// Unix ms of the store's last confirmation that this copy is current; `u64::MAX` when
    /// nothing can make it stale (the embedded store writes it directly).
    confirmed_ms: AtomicU64,
    /// Longest a copy may go unconfirmed before gateway-issued tokens fail closed.
    max_staleness_ms: u64,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Default for LiveCredentials {
    fn default() -> Self {
        Self::always_fresh()
    }
}

impl LiveCredentials {
    /// A copy that can never go stale (the embedded backend, the CLI).
    pub fn always_fresh() -> Self {
        Self::new(u64::MAX, u64::MAX)
    }

    /// A copy fed from a shared store: stale after `max_staleness_ms` without confirmation
    /// (and stale until the first one).
    pub fn shared(max_staleness_ms: u64) -> Self {
        Self::new(0, max_staleness_ms)
    }

    fn new(confirmed_ms: u64, max_staleness_ms: u64) -> Self {
        Self {
            revoked: RwLock::default(),
            keys: RwLock::default(),
            usage: Mutex::default(),
            confirmed_ms: AtomicU64::new(confirmed_ms),
            max_staleness_ms,
        }
    }

    /// The store confirmed this copy is current (a resync, a version poll).
    pub fn confirm(&self) {
        if self.confirmed_ms.load(Ordering::Relaxed) != u64::MAX {
            self.confirmed_ms.store(unix_ms(), Ordering::Relaxed);
        }
    }

    /// Whether the copy may be trusted now.
    pub fn fresh(&self) -> bool {
        let confirmed = self.confirmed_ms.load(Ordering::Relaxed);
        confirmed == u64::MAX || unix_ms().saturating_sub(confirmed) <= self.max_staleness_ms
    }

    /// Milliseconds since the last confirmation (`None`: never stale, or never confirmed).
    pub fn age_ms(&self) -> Option<u64> {
        match self.confirmed_ms.load(Ordering::Relaxed) {
            u64::MAX | 0 => None,
            at => Some(unix_ms().saturating_sub(at)),
        }
    }

    /// Whether `principal`'s gateway-issued token is revoked: by its `jti`, its subject (issued
    /// at or before a subject-wide revocation) or its refresh family.
    pub fn revoked(&self, principal: &Principal) -> bool {
        if principal.method != AuthMethod::Jwt {
            return false;
        }
        let revoked = self.revoked.read().unwrap_or_else(PoisonError::into_inner);
        principal.token_id.as_ref().is_some_and(|j| revoked.jti.contains_key(j))
            || principal
                .family
                .as_ref()
                .is_some_and(|f| revoked.family.contains_key(f))
            || revoked
                .sub
                .get(&principal.subject)
                .is_some_and(|(before, _)| principal.issued_at <= *before)
    }

    /// Whether every token `subject` was issued at `issued_at` is revoked (a subject-wide
    /// revocation made since).
    pub fn subject_revoked(&self, subject: &str, issued_at: u64) -> bool {
        let revoked = self.revoked.read().unwrap_or_else(PoisonError::into_inner);
        revoked.sub.get(subject).is_some_and(|(before, _)| issued_at <= *before)
    }

    /// Applies one revocation.
    pub fn revoke(&self, revocation: Revocation) {
        let mut revoked = self.revoked.write().unwrap_or_else(PoisonError::into_inner);
        insert(&mut revoked, revocation);
    }

    /// Replaces every revocation (a full resync).
    pub fn replace_revocations(&self, all: Vec<Revocation>) {
        let mut fresh = Revoked::default();
        for revocation in all {
            insert(&mut fresh, revocation);
        }
        *self.revoked.write().unwrap_or_else(PoisonError::into_inner) = fresh;
    }

    /// Every revocation held.
    pub fn revocations(&self) -> Vec<Revocation> {
        let revoked = self.revoked.read().unwrap_or_else(PoisonError::into_inner);
        revoked.all.values().cloned().collect()
    }

    /// Forgets revocations that expired before `now` (unix seconds); returns how many.
    /// Cheap when nothing has expired: the sets are walked (under the write lock) only once
    /// the earliest expiry has passed.
    pub fn drop_expired(&self, now: u64) -> usize {
        if self.revoked.read().unwrap_or_else(PoisonError::into_inner).earliest > now {
            return 0;
        }
        let mut revoked = self.revoked.write().unwrap_or_else(PoisonError::into_inner);
        let before = revoked.all.len();
        revoked.all.retain(|_, r| r.expires > now);
        revoked.jti.retain(|_, exp| *exp > now);
        revoked.sub.retain(|_, (_, exp)| *exp > now);
        revoked.family.retain(|_, exp| *exp > now);
        revoked.earliest = revoked.all.values().map(|r| r.expires).min().unwrap_or(u64::MAX);
        before - revoked.all.len()
    }

    /// Adds or replaces one dynamic key.
    pub fn put_key(&self, record: KeyRecord) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        put(&mut keys, record);
    }

    /// Replaces every dynamic key (a full resync).
    pub fn replace_keys(&self, all: Vec<KeyRecord>) {
        let mut fresh = Keys::default();
        for record in all {
            put(&mut fresh, record);
        }
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = fresh;
    }

    /// The key stored under `digest`.
    pub fn key_by_digest(&self, digest: &[u8; 32]) -> Option<Arc<KeyRecord>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.by_digest.get(digest).cloned()
    }

    /// The key with id `id`.
    pub fn key(&self, id: &str) -> Option<Arc<KeyRecord>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.by_id.get(id).cloned()
    }

    /// Every dynamic key.
    pub fn keys(&self) -> Vec<Arc<KeyRecord>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.by_id.values().cloned().collect()
    }

    /// Notes one use of key `id` from `ip` at `now` (unix seconds).
    pub fn note_use(&self, id: &str, now: u64, ip: Option<IpAddr>) {
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        match usage.get_mut(id) {
            Some(entry) => {
                entry.0 += 1;
                entry.1 = now;
                entry.2 = ip.or(entry.2);
            }
            None => {
                usage.insert(id.to_string(), (1, now, ip));
            }
        }
    }

    /// The usage gathered since the last call.
    pub fn take_usage(&self) -> HashMap<String, Usage> {
        std::mem::take(&mut *self.usage.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn insert(revoked: &mut Revoked, revocation: Revocation) {
    revoked.earliest = revoked.earliest.min(revocation.expires);
    match revocation.kind {
        RevocationKind::Jti => {
            revoked.jti.insert(revocation.value.clone(), revocation.expires);
        }
        RevocationKind::Family => {
            revoked.family.insert(revocation.value.clone(), revocation.expires);
        }
        RevocationKind::Sub => {
            let before = revocation.before.unwrap_or(revocation.created);
            let entry = revoked
                .sub
                .entry(revocation.value.clone())
                .or_insert((before, revocation.expires));
            *entry = (entry.0.max(before), entry.1.max(revocation.expires));
        }
    }
    revoked.all.insert(revocation.id.clone(), revocation);
}

fn put(keys: &mut Keys, record: KeyRecord) {
    if let Some(old) = keys.by_id.get(&record.id).and_then(|r| r.digest()) {
        keys.by_digest.remove(&old);
    }
    let record = Arc::new(record);
    if let Some(digest) = record.digest() {
        keys.by_digest.insert(digest, Arc::clone(&record));
    }
    keys.by_id.insert(record.id.clone(), record);
}

#[cfg(test)]
mod tests {
    use super::LiveCredentials;
    use crate::auth::revocation::{Revocation, RevocationKind};
    use crate::auth::{AuthMethod, Principal};

    fn token(sub: &str, jti: &str, family: Option<&str>, iat: u64) -> Principal {
        Principal {
            subject: sub.into(),
            method: AuthMethod::Jwt,
            token_id: Some(jti.into()),
            family: family.map(str::to_owned),
            issued_at: iat,
            ..Principal::anonymous()
        }
    }

    #[test]
    fn revocations_by_jti_subject_and_family() {
        let live = LiveCredentials::always_fresh();
        let a = token("alice", "j1", Some("f1"), 100);
        assert!(!live.revoked(&a));
        live.revoke(Revocation::new(RevocationKind::Jti, "j1", 150, 9_999));
        assert!(live.revoked(&a));
        let b = token("bob", "j2", Some("f2"), 100);
        live.revoke(Revocation::new(RevocationKind::Family, "f2", 150, 9_999));
        assert!(live.revoked(&b));
        let c = token("carol", "j3", None, 100);
        let later = token("carol", "j4", None, 201);
        live.revoke(Revocation::new(RevocationKind::Sub, "carol", 200, 9_999));
        assert!(live.revoked(&c), "issued before the subject-wide revocation");
        assert!(!live.revoked(&later), "issued after it");
        assert_eq!(live.revocations().len(), 3);
        assert_eq!(live.drop_expired(10_000), 3);
        assert!(!live.revoked(&a) && !live.revoked(&b) && !live.revoked(&c));
        let shared = LiveCredentials::shared(30_000);
        assert!(!shared.fresh(), "stale until the store first confirms it");
        shared.confirm();
        assert!(shared.fresh());
    }
}
