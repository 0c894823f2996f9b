//! Token-bucket arithmetic, the same for every backend: a bucket holds up to `capacity`
//! tokens, refills continuously at `refill_per_sec`, and a request takes one. Time comes from
//! the caller (milliseconds on some monotonic or server clock), so tests drive it directly.

/// A limit: `capacity` = burst, `refill_per_sec` = sustained rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub capacity: f64,
    pub refill_per_sec: f64,
}

impl Limit {
    /// A limit of `capacity` tokens refilled at `refill_per_sec`; the error names the field.
    pub fn new(capacity: f64, refill_per_sec: f64) -> Result<Self, (&'static str, &'static str)> {
        if !(capacity.is_finite() && capacity >= 1.0) {
            return Err(("capacity", "must be at least 1"));
        }
        if !(refill_per_sec.is_finite() && refill_per_sec >= 0.0) {
            return Err(("refill_per_sec", "must be 0 or more"));
        }
        Ok(Self {
            capacity,
            refill_per_sec,
        })
    }
}

/// A bucket's state: tokens left at `updated_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub tokens: f64,
    pub updated_ms: u64,
}

/// The outcome of one take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    /// Whole tokens left after this decision.
    pub remaining: u64,
    /// When a refused request could succeed (0 when allowed).
    pub retry_after_ms: u64,
    /// Until the bucket is full again.
    pub reset_ms: u64,
}

impl Bucket {
    /// A full bucket at `now_ms`.
    pub fn full(limit: Limit, now_ms: u64) -> Self {
        Self {
            tokens: limit.capacity,
            updated_ms: now_ms,
        }
    }

    /// The share of its capacity the bucket holds at `now_ms` (1.0 = full).
    pub fn fill_at(&self, limit: Limit, now_ms: u64) -> f64 {
        let elapsed_ms = now_ms.saturating_sub(self.updated_ms);
        ((self.tokens + elapsed_ms as f64 * limit.refill_per_sec / 1000.0) / limit.capacity).min(1.0)
    }

    /// Whether the bucket has refilled completely by `now_ms` (then it equals no bucket).
    pub fn is_full_at(&self, limit: Limit, now_ms: u64) -> bool {
        let elapsed_ms = now_ms.saturating_sub(self.updated_ms);
        self.tokens + elapsed_ms as f64 * limit.refill_per_sec / 1000.0 >= limit.capacity
    }

    /// Refills for the time since the last update (a clock that went backwards refills
    /// nothing), then takes one token if there is one.
    pub fn take(&mut self, limit: Limit, now_ms: u64) -> Decision {
        let elapsed_ms = now_ms.saturating_sub(self.updated_ms);
        let refill = elapsed_ms as f64 * limit.refill_per_sec / 1000.0;
        // `min` also applies a capacity lowered by a reload at once.
        self.tokens = (self.tokens + refill).min(limit.capacity);
        self.updated_ms = self.updated_ms.max(now_ms);
        let allowed = self.tokens >= 1.0;
        if allowed {
            self.tokens -= 1.0;
        }
        let per_ms = limit.refill_per_sec / 1000.0;
        let until = |tokens: f64| {
            if tokens <= 0.0 {
                0
            } else if per_ms <= 0.0 {
                u64::MAX
            } else {
                (tokens / per_ms).ceil() as u64
            }
        };
        Decision {
            allowed,
            remaining: self.tokens.floor().max(0.0) as u64,
            retry_after_ms: if allowed { 0 } else { until(1.0 - self.tokens) },
            reset_ms: until(limit.capacity - self.tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng as _, SeedableRng as _};

    use super::{Bucket, Limit};

    /// Random limits and request times (a seeded generator, so a failure reproduces): a bucket
    /// never holds more than its capacity, and the grants within any window of `w` ms never
    /// exceed `capacity + rate × w`.
    #[test]
    fn grants_never_exceed_burst_plus_rate() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        for case in 0..300 {
            let limit = Limit {
                capacity: f64::from(rng.random_range(1..200u32)),
                refill_per_sec: f64::from(rng.random_range(0..5000u32)) / 100.0,
            };
            let mut now = rng.random_range(0..1_000_000u64);
            let mut bucket = Bucket::full(limit, now);
            let mut grants: Vec<u64> = Vec::new();
            for _ in 0..rng.random_range(1..2000) {
                now += rng.random_range(0..50u64);
                let decision = bucket.take(limit, now);
                assert!(bucket.tokens <= limit.capacity + 1e-9, "case {case}: above capacity");
                assert!(bucket.tokens >= -1e-9, "case {case}: below zero");
                if decision.allowed {
                    grants.push(now);
                } else {
                    assert!(decision.retry_after_ms > 0, "case {case}: a refusal says when to retry");
                }
            }
            for (i, &start) in grants.iter().enumerate() {
                for window in [0u64, 10, 100, 1000, 10_000] {
                    let in_window = grants[i..].iter().take_while(|&&t| t <= start + window).count() as f64;
                    let bound = limit.capacity + limit.refill_per_sec * window as f64 / 1000.0;
                    assert!(
                        in_window <= bound + 1e-6,
                        "case {case}: {in_window} grants in {window} ms > {bound}"
                    );
                }
            }
        }
    }

    #[test]
    fn refills_at_the_rate_and_tells_when_to_retry() {
        let limit = Limit {
            capacity: 2.0,
            refill_per_sec: 1.0,
        };
        let mut bucket = Bucket::full(limit, 0);
        assert!(bucket.take(limit, 0).allowed);
        assert!(bucket.take(limit, 0).allowed);
        let refused = bucket.take(limit, 0);
        assert_eq!(
            (refused.allowed, refused.retry_after_ms, refused.reset_ms),
            (false, 1000, 2000)
        );
        assert!(!bucket.take(limit, 999).allowed);
        assert!(bucket.take(limit, 1000).allowed);
        // A clock that steps back neither refills nor breaks the bucket.
        assert!(!bucket.take(limit, 10).allowed);
        let never = Limit {
            capacity: 1.0,
            refill_per_sec: 0.0,
        };
        let mut once = Bucket::full(never, 0);
        assert!(once.take(never, 0).allowed);
        assert_eq!(once.take(never, 1_000_000).retry_after_ms, u64::MAX);
    }
}
