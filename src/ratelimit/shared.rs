//! The limiter's entry points for the flow, whichever backend holds the buckets. Embedded:
//! buckets in this process. Redis: one atomic script per request decides every bucket it
//! touches (the client IP's too, taken here rather than at stage 2, so a request costs at most
//! one round trip), on the Redis server's clock; while Redis is unreachable `on_unavailable`
//! decides: this process's buckets (`local`), 503 (`deny`) or no limit (`allow`).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use super::{Limit, Limited, Limiter, RateLimits};
use crate::auth::Principal;
use crate::state::{OnUnavailable, RedisState};

/// Why a request may not go on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refusal {
    /// A bucket is empty or the IP is blocked.
    Limited(Limited),
    /// Redis is unreachable and `on_unavailable = "deny"`.
    Unavailable,
}

/// Most IPs remembered as blocked by Redis.
const MAX_BLOCKED: usize = 100_000;

impl Limiter {
    /// Keeps the buckets in `redis`, with `mode` while it is unreachable.
    #[must_use]
    pub fn with_redis(
        mut self,
        redis: Arc<RedisState>,
        mode: OnUnavailable,
        metrics: Arc<crate::telemetry::Metrics>,
        audit: crate::telemetry::AuditLog,
    ) -> Self {
        self.remote = Some((redis, mode));
        self.reporting = Some((metrics, audit));
        self
    }

    /// One audit event when decisions start or stop doing without Redis.
    fn report_transition(&self, degraded: bool, mode: &'static str) {
        if self.degraded.swap(degraded, Ordering::Relaxed) == degraded {
            return;
        }
        if let Some((_, audit)) = &self.reporting {
            let (event, decision) = if degraded {
                ("ratelimit_backend_unavailable", mode)
            } else {
                ("ratelimit_backend_recovered", "ok")
            };
            audit.record(&crate::telemetry::AuditEvent::new(event, decision, event));
        }
    }

    /// Stage 2: embedded, the IP's bucket and block; Redis, only a block Redis reported.
    pub fn edge(&self, limits: &RateLimits, ip: IpAddr) -> Result<(), Limited> {
        if self.remote.is_none() {
            return self.local_ip(limits, ip);
        }
        let now = self.clock.now_ms();
        let blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        match blocked.get(&super::limiter::client_network(ip)) {
            Some((until, limited)) if *until > now => Err(Limited {
                retry_after_ms: until - now,
                ..*limited
            }),
            _ => Ok(()),
        }
    }

    /// Remembers that Redis refused `ip` (its block, or its empty bucket) for `limited`'s
    /// retry time, so this replica refuses it at the edge without a round trip.
    fn remember_refusal(&self, ip: IpAddr, limited: Limited) {
        let now = self.clock.now_ms();
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        if blocked.len() >= MAX_BLOCKED {
            blocked.retain(|_, (until, _)| *until > now);
            if blocked.len() >= MAX_BLOCKED {
                blocked.clear();
            }
        }
        blocked.insert(
            super::limiter::client_network(ip),
            (now.saturating_add(limited.retry_after_ms), limited),
        );
    }

    /// The degraded decision while Redis is unreachable.
    fn unavailable(&self, local: impl FnOnce() -> Result<(), Limited>) -> Result<(), Refusal> {
        let mode = self.remote.as_ref().map(|(_, mode)| *mode);
        let label = match mode {
            Some(OnUnavailable::Deny) => "deny",
            Some(OnUnavailable::Allow) => "allow",
            Some(OnUnavailable::Local) | None => "local",
        };
        if let Some((metrics, _)) = &self.reporting {
            metrics.state_fallback(label);
        }
        self.report_transition(true, label);
        match mode {
            Some(OnUnavailable::Deny) => Err(Refusal::Unavailable),
            Some(OnUnavailable::Allow) => Ok(()),
            Some(OnUnavailable::Local) | None => local().map_err(Refusal::Limited),
        }
    }

    // Redis calls are boxed (`Box::pin`): a fred call's future is ~14 KB, and inline it would
    // make every request's future that large, embedded backend or not.

    /// After a refused or missing credential (stage 3): a refused one counts toward the IP's
    /// block; with Redis the failing request also takes its IP token here.
    pub async fn after_auth_failure(
        &self,
        limits: &RateLimits,
        ip: IpAddr,
        credential_sent: bool,
    ) -> Result<(), Refusal> {
        let Some((redis, _)) = &self.remote else {
            if credential_sent {
                self.local_auth_failed(limits, ip);
            }
            return Ok(());
        };
        let block_key = redis.key(&format!("blk:{}", super::limiter::client_network(ip)));
        if let (true, Some(policy)) = (credential_sent, limits.auth_failures) {
            let counter = redis.key(&format!("fail:{}", super::limiter::client_network(ip)));
            match Box::pin(redis.auth_failed(&block_key, &counter, policy.max, policy.window, policy.block)).await {
                Ok(0) => {}
                Ok(ms) => self.remember_refusal(
                    ip,
                    Limited {
                        scope: "auth_failures",
                        retry_after_ms: ms,
                        limit: None,
                    },
                ),
                Err(_) => self.unavailable(|| {
                    self.local_auth_failed(limits, ip);
                    Ok(())
                })?,
            }
        }
        let Some(limit) = limits.ip else {
            return Ok(());
        };
        let taken = Box::pin(self.remote_take(redis, limits, ip, vec![(format!("ip:{ip}"), limit, 1, "ip")])).await;
        taken.or_else(|refusal| match refusal {
            Refusal::Limited(_) => Err(refusal),
            Refusal::Unavailable => self.unavailable(|| self.local_ip(limits, ip)),
        })
    }

    /// Stage 6: the principal's role bucket (a token per message), its API key's, the tools'
    /// and, with Redis, the client IP's, in one decision.
    pub async fn request(
        &self,
        limits: &RateLimits,
        ip: IpAddr,
        principal: &Principal,
        owner: &str,
        messages: usize,
        tools: &[&str],
    ) -> Result<(), Refusal> {
        let Some((redis, _)) = &self.remote else {
            return self
                .local_principal(limits, principal, owner, messages, tools)
                .map_err(Refusal::Limited);
        };
        let mut buckets: Vec<(String, Limit, u64, &'static str)> = Vec::new();
        if let Some(limit) = limits.ip {
            buckets.push((super::ip_key(ip), limit, 1, "ip"));
        }
        if let Some(limit) = limits.for_principal(principal) {
            buckets.push((format!("p:{owner}"), limit, messages.max(1) as u64, "principal"));
        }
        if let (Some(limit), crate::auth::AuthMethod::ApiKey, Some(id)) =
            (limits.api_key, principal.method, principal.token_id.as_deref())
        {
            buckets.push((format!("k:{id}"), limit, 1, "api_key"));
        }
        for tool in tools {
            if let Some(limit) = limits.for_tool(tool) {
                // A batch naming a tool twice costs two tokens of one bucket: one key, summed
                // cost (the script reads each key once).
                let key = format!("t:{}:{owner}:{tool}", tool.len());
                match buckets.iter_mut().find(|(k, ..)| *k == key) {
                    Some((_, _, cost, _)) => *cost += 1,
                    None => buckets.push((key, limit, 1, "tool")),
                }
            }
        }
        if buckets.is_empty() && limits.auth_failures.is_none() {
            return Ok(());
        }
        Box::pin(self.remote_take(redis, limits, ip, buckets))
            .await
            .or_else(|refusal| match refusal {
                Refusal::Limited(_) => Err(refusal),
                Refusal::Unavailable => self.unavailable(|| {
                    self.local_ip(limits, ip)?;
                    self.local_principal(limits, principal, owner, messages, tools)
                }),
            })
    }

    /// One script call for `buckets` (and the IP's block); `Unavailable` only when `deny`.
    async fn remote_take(
        &self,
        redis: &RedisState,
        limits: &RateLimits,
        ip: IpAddr,
        buckets: Vec<(String, Limit, u64, &'static str)>,
    ) -> Result<(), Refusal> {
        let block_key = if limits.auth_failures.is_some() {
            redis.key(&format!("blk:{ip}"))
        } else {
            String::new()
        };
        let keyed: Vec<(String, f64, f64, u64)> = buckets
            .iter()
            .map(|(k, l, c, _)| (redis.key(k), l.capacity, l.refill_per_sec, *c))
            .collect();
        let decided = redis.take(&block_key, &keyed).await;
        if decided.is_ok() {
            self.report_transition(false, "ok");
        }
        match decided {
            Ok(None) => Ok(()),
            Ok(Some((None, retry_ms))) => {
                let limited = Limited {
                    scope: "auth_failures",
                    retry_after_ms: retry_ms,
                    limit: None,
                };
                self.remember_refusal(ip, limited);
                Err(Refusal::Limited(limited))
            }
            Ok(Some((Some(index), retry_ms))) => {
                let (limit, scope) = buckets.get(index).map_or(
                    (
                        Limit {
                            capacity: 1.0,
                            refill_per_sec: 0.0,
                        },
                        "rate_limit",
                    ),
                    |(_, limit, _, scope)| (*limit, *scope),
                );
                tracing::info!(scope, "ratelimit_exceeded");
                let limited = Limited {
                    scope,
                    retry_after_ms: retry_ms,
                    limit: Some(limit),
                };
                if scope == "ip" {
                    self.remember_refusal(ip, limited);
                }
                Err(Refusal::Limited(limited))
            }
            Err(_) => Err(Refusal::Unavailable),
        }
    }
}
