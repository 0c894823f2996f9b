//! `Limiter`: the buckets of every scope, embedded or through Redis, and the clock they run on.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Clock, Limit, LocalBuckets, RateLimits};
/// A refused request: which bucket, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limited {
    /// `ip`, `auth_failures`, `principal`, `api_key` or `tool`.
    pub scope: &'static str,
    pub retry_after_ms: u64,
    /// The bucket's limit (for the `RateLimit-Policy` header); `None` for the auth-failure block.
    pub limit: Option<Limit>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    window_start_ms: u64,
    blocked_until_ms: u64,
}

/// The network a client address is limited by: IPv4 (also IPv4-mapped IPv6) as is, IPv6 by
/// its /64, so rotating addresses within one network buys nothing.
pub(super) fn client_network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
    }
}

/// The bucket key of a client address (its [`client_network`]).
pub fn ip_key(ip: IpAddr) -> String {
    match client_network(ip) {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => format!("ip:{v6}/64"),
    }
}

/// Most IPs whose failed credentials are remembered.
const MAX_FAILURE_IPS: usize = 100_000;

/// The buckets and failure counts of this process.
#[derive(Debug)]
pub struct Limiter {
    /// Principal, API-key and tool buckets.
    pub(super) buckets: LocalBuckets,
    /// Client-IP buckets, apart: a spray of addresses can only evict other addresses.
    pub(super) ip_buckets: LocalBuckets,
    failures: Mutex<HashMap<IpAddr, Failures>>,
    pub(super) clock: Arc<dyn Clock>,
    /// Redis and what to do when it is unreachable (`None`: the embedded backend).
    pub(super) remote: Option<(Arc<crate::state::RedisState>, crate::state::OnUnavailable)>,
    /// IPs Redis refused (blocked, or their bucket empty), until (this clock's ms), with the
    /// refusal: refused again at stage 2 without a round trip.
    pub(super) blocked: Mutex<HashMap<IpAddr, (u64, Limited)>>,
    /// Where degraded decisions are counted and audited (set with Redis).
    pub(super) reporting: Option<(Arc<crate::telemetry::Metrics>, crate::telemetry::AuditLog)>,
    /// Whether the last decision had to do without Redis (one audit event per outage).
    pub(super) degraded: std::sync::atomic::AtomicBool,
}

impl Limiter {
    /// A limiter holding at most about `max_buckets` buckets.
    pub fn new(max_buckets: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            buckets: LocalBuckets::new(max_buckets / 2),
            ip_buckets: LocalBuckets::new(max_buckets / 2),
            failures: Mutex::new(HashMap::new()),
            clock,
            remote: None,
            blocked: Mutex::new(HashMap::new()),
            reporting: None,
            degraded: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(super) fn take(&self, key: &str, limit: Limit, scope: &'static str) -> Result<(), Limited> {
        let table = if scope == "ip" { &self.ip_buckets } else { &self.buckets };
        let decision = table.take(key, limit, self.clock.now_ms());
        if decision.allowed {
            return Ok(());
        }
        tracing::info!(scope, "ratelimit_exceeded");
        Err(Limited {
            scope,
            retry_after_ms: decision.retry_after_ms,
            limit: Some(limit),
        })
    }

    /// The client IP's bucket and its auth-failure block, in this process.
    pub fn local_ip(&self, limits: &RateLimits, ip: IpAddr) -> Result<(), Limited> {
        if limits.auth_failures.is_some() {
            let now = self.clock.now_ms();
            let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(f) = failures.get(&client_network(ip)).filter(|f| f.blocked_until_ms > now) {
                return Err(Limited {
                    scope: "auth_failures",
                    retry_after_ms: f.blocked_until_ms - now,
                    limit: None,
                });
            }
        }
        match limits.ip {
            Some(limit) => self.take(&ip_key(ip), limit, "ip"),
            None => Ok(()),
        }
    }

    /// Counts a refused credential from `ip` in this process; the `max`-th within `window`
    /// starts the block.
    pub fn local_auth_failed(&self, limits: &RateLimits, ip: IpAddr) {
        let Some(policy) = limits.auth_failures else {
            return;
        };
        let now = self.clock.now_ms();
        let window = u64::try_from(policy.window.as_millis()).unwrap_or(u64::MAX);
        let block = u64::try_from(policy.block.as_millis()).unwrap_or(u64::MAX);
        let ip = client_network(ip);
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() >= MAX_FAILURE_IPS && !failures.contains_key(&ip) {
            // Full: forget what no longer counts, then (a spray) the oldest windows that are
            // not blocked — never stop counting new addresses.
            failures.retain(|_, f| f.blocked_until_ms > now || now.saturating_sub(f.window_start_ms) < window);
            if failures.len() >= MAX_FAILURE_IPS {
                let mut unblocked: Vec<(u64, IpAddr)> = failures
                    .iter()
                    .filter(|(_, f)| f.blocked_until_ms <= now)
                    .map(|(ip, f)| (f.window_start_ms, *ip))
                    .collect();
                unblocked.sort_unstable();
                for (_, old) in unblocked.into_iter().take(MAX_FAILURE_IPS / 8) {
                    failures.remove(&old);
                }
            }
        }
        let entry = failures.entry(ip).or_insert(Failures {
            count: 0,
            window_start_ms: now,
            blocked_until_ms: 0,
        });
        if now.saturating_sub(entry.window_start_ms) >= window {
            entry.count = 0;
            entry.window_start_ms = now;
        }
        entry.count += 1;
        if entry.count >= policy.max {
            entry.blocked_until_ms = now.saturating_add(block);
            entry.count = 0;
            entry.window_start_ms = now;
            tracing::warn!(%ip, "auth_failure_block");
        }
    }

    /// The principal's role bucket (one token per message, so a batch counts each element),
    /// its API key's bucket, and the buckets of the tools it calls, in this process.
    pub fn local_principal(
        &self,
        limits: &RateLimits,
        principal: &crate::auth::Principal,
        owner: &str,
        messages: usize,
        tools: &[&str],
    ) -> Result<(), Limited> {
        if let Some(limit) = limits.for_principal(principal) {
            let key = format!("p:{owner}");
            for _ in 0..messages.max(1) {
                self.take(&key, limit, "principal")?;
            }
        }
        if let (Some(limit), crate::auth::AuthMethod::ApiKey, Some(id)) =
            (limits.api_key, principal.method, principal.token_id.as_deref())
        {
            self.take(&format!("k:{id}"), limit, "api_key")?;
        }
        for tool in tools {
            if let Some(limit) = limits.for_tool(tool) {
                self.take(&format!("t:{}:{owner}:{tool}", tool.len()), limit, "tool")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use crate::ratelimit::{AuthFailures, Clock, Limit, Limiter, RateLimits};

    #[derive(Debug, Default)]
    struct FakeClock(AtomicU64);

    impl Clock for FakeClock {
        fn now_ms(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn the_auth_failure_block_starts_at_max_and_ends_after_block() {
        let clock = Arc::new(FakeClock::default());
        let limiter = Limiter::new(10_000, clock.clone());
        let limits = RateLimits {
            auth_failures: Some(AuthFailures {
                max: 3,
                window: Duration::from_secs(60),
                block: Duration::from_secs(300),
            }),
            ..RateLimits::default()
        };
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        limiter.local_auth_failed(&limits, ip);
        limiter.local_auth_failed(&limits, ip);
        assert!(limiter.local_ip(&limits, ip).is_ok());
        limiter.local_auth_failed(&limits, ip);
        let blocked = limiter.local_ip(&limits, ip).unwrap_err();
        assert_eq!((blocked.scope, blocked.retry_after_ms), ("auth_failures", 300_000));
        assert!(
            limiter.local_ip(&limits, "192.0.2.8".parse().unwrap()).is_ok(),
            "per IP"
        );
        clock.0.store(300_000, Ordering::SeqCst);
        assert!(limiter.local_ip(&limits, ip).is_ok());
        // Failures spread wider than the window never add up to a block.
        for t in [400_000, 470_000, 540_000] {
            clock.0.store(t, Ordering::SeqCst);
            limiter.local_auth_failed(&limits, ip);
        }
        assert!(limiter.local_ip(&limits, ip).is_ok());
    }

    #[test]
    fn concurrent_takes_grant_exactly_the_capacity() {
        let limiter = Arc::new(Limiter::new(10_000, Arc::new(FakeClock::default())));
        let limits = Arc::new(RateLimits {
            ip: Some(Limit {
                capacity: 50.0,
                refill_per_sec: 0.0,
            }),
            ..RateLimits::default()
        });
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let granted: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (limiter, limits) = (Arc::clone(&limiter), Arc::clone(&limits));
                    scope.spawn(move || (0..25).filter(|_| limiter.local_ip(&limits, ip).is_ok()).count())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(granted, 50);
    }
}
