//! Buckets in this process: the embedded backend's limiter, and the fallback when Redis is
//! unreachable. Sharded so concurrent requests rarely meet on one lock; bounded so a spray of
//! distinct keys (a million client IPs) cannot grow memory without limit.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash as _, Hasher as _};
use std::sync::{Mutex, PoisonError};

use super::bucket::{Bucket, Decision, Limit};

const SHARDS: usize = 16;

/// One shard: key → (bucket, the limit it last ran under; eviction judges it by that).
type Shard = Mutex<HashMap<Box<str>, (Bucket, Limit)>>;

/// Buckets by key.
#[derive(Debug)]
pub struct LocalBuckets {
    shards: Vec<Shard>,
    max_per_shard: usize,
}

impl LocalBuckets {
    /// A table holding at most about `max_buckets` buckets (each about 100 bytes with its key).
    pub fn new(max_buckets: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            max_per_shard: (max_buckets / SHARDS).max(1),
        }
    }

    /// Takes one token from `key`'s bucket under `limit` at `now_ms`.
    pub fn take(&self, key: &str, limit: Limit, now_ms: u64) -> Decision {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let shard = &self.shards[(hasher.finish() as usize) % SHARDS];
        let mut buckets = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((bucket, last)) = buckets.get_mut(key) {
            *last = limit;
            return bucket.take(limit, now_ms);
        }
        if buckets.len() >= self.max_per_shard {
            // A bucket that has refilled completely is the same as no bucket: forget those.
            // Still full of live buckets (a spray of keys): forget the eighth of the shard
            // closest to full at once (O(log n) per new key, amortised). An exhausted bucket,
            // the one worth keeping, is forgotten last; a forgotten one starts over full, which
            // costs at most what it had left.
            buckets.retain(|_, (b, l)| !b.is_full_at(*l, now_ms));
            if buckets.len() >= self.max_per_shard {
                let mut fullest: Vec<(f64, Box<str>)> = buckets
                    .iter()
                    .map(|(key, (b, l))| (b.fill_at(*l, now_ms), key.clone()))
                    .collect();
                fullest.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
                for (_, victim) in fullest.into_iter().take(self.max_per_shard / 8 + 1) {
                    buckets.remove(&victim);
                }
            }
        }
        let mut bucket = Bucket::full(limit, now_ms);
        let decision = bucket.take(limit, now_ms);
        buckets.insert(key.into(), (bucket, limit));
        decision
    }

    /// Buckets held now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::LocalBuckets;
    use crate::ratelimit::bucket::Limit;

    #[test]
    fn a_spray_of_keys_stays_bounded() {
        // A million distinct client IPs, one request each, a thousand per millisecond.
        let table = LocalBuckets::new(10_000);
        let limit = Limit {
            capacity: 10.0,
            refill_per_sec: 1.0,
        };
        // An address hammering through the spray keeps its (exhausted) bucket: within the 999 ms
        // it gets its burst of 10 and no refilled token yet, never a fresh bucket.
        let mut hot = 0;
        for i in 0..1_000_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let now = u64::from(i / 1000);
            assert!(table.take(&format!("ip:{ip}"), limit, now).allowed);
            if i % 100 == 0 {
                hot += usize::from(table.take("ip:hot", limit, now).allowed);
            }
        }
        assert!(table.len() <= 10_000, "{}", table.len());
        assert_eq!(hot, 10);
    }
}
