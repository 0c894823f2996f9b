//! The Redis backend (fred): token buckets decided by one atomic script per request on the
//! Redis server's clock, the auth-failure block, and session bindings, under one key prefix.
//!
//! Every call is bounded by `redis_timeout`. A failed call opens a one-second circuit: calls
//! in that second fail at once (the caller applies `on_unavailable`), then Redis is tried
//! again; fred reconnects in the background with exponential backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fred::clients::{Pool, SubscriberClient};
use fred::interfaces::{ClientLike as _, KeysInterface as _};
use fred::types::Builder;
use fred::types::config::{Config, ReconnectPolicy};
use fred::types::scripts::Script;

/// Redis could not answer in time (down, unreachable, slow, or the circuit is open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// Takes its cost from every bucket (`KEYS[2..]`, `ARGV` = capacity, rate, cost per bucket;
/// each stored as `tokens:updated_ms` with a TTL until it would be full again) or from none; `KEYS[1]` is an IP block key that refuses everything while it exists.
/// Returns `{1, 0, 0}` allowed, or `{0, index of the refusing bucket (0 = block), retry ms}`.
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if KEYS[1] ~= '' and redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, 0, redis.call('PTTL', KEYS[1])}
end
local left = {}
local stamp = {}
for i = 2, #KEYS do
  local cap = tonumber(ARGV[3 * i - 5])
  local rate = tonumber(ARGV[3 * i - 4])
  local cost = tonumber(ARGV[3 * i - 3])
  local tokens = cap
  local updated = now
  local stored = redis.call('GET', KEYS[i])
  if stored then
    local sep = string.find(stored, ':', 1, true)
    updated = tonumber(string.sub(stored, sep + 1))
    tokens = tonumber(string.sub(stored, 1, sep - 1))
    if now > updated then
      tokens = tokens + (now - updated) * rate / 1000
    end
  end
  -- A clock that stepped back refills nothing and moves no stamp back; a lowered capacity
  -- applies at once.
  tokens = math.min(cap, tokens)
  if tokens < cost then
    if rate <= 0 then
      return {0, i - 1, -1}
    end
    return {0, i - 1, math.ceil((cost - tokens) * 1000 / rate)}
  end
  left[i] = tokens - cost
  stamp[i] = math.max(now, updated)
end
for i = 2, #KEYS do
  local cap = tonumber(ARGV[3 * i - 5])
  local rate = tonumber(ARGV[3 * i - 4])
  if rate > 0 then
    local ttl = math.ceil((cap - left[i]) * 1000 / rate) + 1000
    redis.call('SET', KEYS[i], left[i] .. ':' .. stamp[i], 'PX', ttl)
  else
    -- A bucket that never refills is a quota: it is kept, as in the embedded backend.
    redis.call('SET', KEYS[i], left[i] .. ':' .. stamp[i])
  end
end
return {1, 0, 0}
";

/// Counts a refused credential: `KEYS` = block key, counter key; `ARGV` = max, window ms,
/// block ms. Returns the block's remaining ms (0 when not blocked).
const FAIL: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('PTTL', KEYS[1])
end
local count = redis.call('INCR', KEYS[2])
if count == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
if count >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return tonumber(ARGV[3])
end
return 0
";

/// Binds a session to `ARGV[1]` for `ARGV[2]` ms unless it is live for someone else:
/// 1 bound, 0 refused.
const SESSION_BIND: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

/// A session check: 0 unknown, 1 owner (idle timer refreshed), 2 another principal.
const SESSION_CHECK: &str = r"
local owner = redis.call('GET', KEYS[1])
if not owner then
  return 0
end
if owner ~= ARGV[1] then
  return 2
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// The connection and scripts.
pub struct RedisState {
    pool: Pool,
    /// The parsed URL, for clients of their own (the credentials' pub/sub subscriber).
    config: Config,
    prefix: String,
    timeout: Duration,
    take: Script,
    fail: Script,
    session_check: Script,
    session_bind: Script,
    started: Instant,
    /// Monotonic ms until which calls are skipped (the circuit is open).
    open_until_ms: AtomicU64,
    /// Whether the last call failed (for one log line per outage).
    down: AtomicBool,
}

impl std::fmt::Debug for RedisState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisState").field("prefix", &self.prefix).finish()
    }
}

/// How long calls are skipped after a failure.
const CIRCUIT_OPEN: Duration = Duration::from_secs(1);

impl RedisState {
    /// Builds the pool and starts connecting in the background; the gateway serves (with
    /// `on_unavailable`) until Redis answers.
    pub fn connect(url: &str, prefix: &str, timeout: Duration, pool_size: usize) -> Result<Self, String> {
        let mut config = Config::from_url(url).map_err(|e| e.details().to_string())?;
        config.fail_fast = true;
        let mut builder = Builder::from_config(config.clone());
        builder
            .with_performance_config(|p| p.default_command_timeout = timeout)
            .with_connection_config(|c| {
                c.connection_timeout = timeout.max(Duration::from_millis(500));
                c.internal_command_timeout = timeout.max(Duration::from_millis(500));
                c.max_command_attempts = 1;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        let pool = builder.build_pool(pool_size).map_err(|e| e.details().to_string())?;
        drop(pool.connect());
        Ok(Self {
            pool,
            config,
            prefix: prefix.to_string(),
            timeout,
            take: Script::from_lua(TAKE),
            fail: Script::from_lua(FAIL),
            session_check: Script::from_lua(SESSION_CHECK),
            session_bind: Script::from_lua(SESSION_BIND),
            started: Instant::now(),
            open_until_ms: AtomicU64::new(0),
            down: AtomicBool::new(false),
        })
    }

    /// The full key for `suffix`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Waits up to `limit` for the first connection (a command run at once, or a gateway's
    /// first load, would otherwise fail fast while it is still being made).
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        matches!(
            tokio::time::timeout(limit, self.pool.wait_for_connect()).await,
            Ok(Ok(()))
        )
    }

    /// The connection pool (for subsystems with scripts of their own, e.g. `credentials/`).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A pub/sub client on the same server, reconnecting and resubscribing by itself.
    pub fn subscriber(&self) -> Result<SubscriberClient, String> {
        let mut builder = Builder::from_config(self.config.clone());
        builder
            .with_connection_config(|c| {
                c.connection_timeout = self.timeout.max(Duration::from_millis(500));
                c.internal_command_timeout = self.timeout.max(Duration::from_millis(500));
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        builder.build_subscriber_client().map_err(|e| e.details().to_string())
    }

    /// Whether the server keeps writes across its own restart (AOF on). `Err` when it cannot
    /// be asked.
    pub async fn persistent(&self) -> Result<bool, Unavailable> {
        let info: String = self
            .call(
                "info",
                self.pool
                    .next()
                    .info::<String>(Some(fred::types::InfoKind::Persistence)),
            )
            .await?;
        Ok(info.lines().any(|line| line.trim() == "aof_enabled:1"))
    }

    /// Runs one call under the timeout and the circuit breaker.
    pub async fn call<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = Result<T, fred::error::Error>>,
    ) -> Result<T, Unavailable> {
        if self.now_ms() < self.open_until_ms.load(Ordering::Relaxed) {
            return Err(Unavailable);
        }
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("state backend reachable again");
                }
                Ok(value)
            }
            outcome => {
                let detail = match outcome {
                    Ok(Err(error)) => error.details().to_string(),
                    _ => "timed out".to_string(),
                };
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(call = what, %detail, "ratelimit_backend_unavailable");
                }
                let until = self.now_ms() + u64::try_from(CIRCUIT_OPEN.as_millis()).unwrap_or(1000);
                self.open_until_ms.store(until, Ordering::Relaxed);
                Err(Unavailable)
            }
        }
    }

    /// Takes `cost` tokens from each `(key, capacity, refill_per_sec, cost)` bucket or from
    /// none (one round trip). `Ok(None)`: allowed; `Ok(Some((index, retry_ms)))`: refused by
    /// bucket `index` (`None` index: the IP block).
    pub async fn take(
        &self,
        block_key: &str,
        buckets: &[(String, f64, f64, u64)],
    ) -> Result<Option<(Option<usize>, u64)>, Unavailable> {
        let mut keys = Vec::with_capacity(buckets.len() + 1);
        keys.push(block_key.to_string());
        let mut args = Vec::with_capacity(buckets.len() * 3);
        for (key, capacity, refill_per_sec, cost) in buckets {
            keys.push(key.clone());
            args.push(capacity.to_string());
            args.push(refill_per_sec.to_string());
            args.push(cost.to_string());
        }
        let reply: Vec<i64> = self
            .call("take", self.take.evalsha_with_reload(self.pool.next(), keys, args))
            .await?;
        match reply.as_slice() {
            [1, ..] => Ok(None),
            [0, index, retry] => {
                let retry = u64::try_from(*retry).unwrap_or(u64::MAX);
                let index = usize::try_from(*index).ok().filter(|i| *i > 0).map(|i| i - 1);
                Ok(Some((index, retry)))
            }
            _ => Err(Unavailable),
        }
    }

    /// Counts a refused credential; returns the block's remaining ms (0: not blocked).
    pub async fn auth_failed(
        &self,
        block_key: &str,
        counter_key: &str,
        max: u32,
        window: Duration,
        block: Duration,
    ) -> Result<u64, Unavailable> {
        let keys = vec![block_key.to_string(), counter_key.to_string()];
        let args = vec![
            max.to_string(),
            window.as_millis().to_string(),
            block.as_millis().to_string(),
        ];
        let remaining: i64 = self
            .call(
                "auth_failed",
                self.fail.evalsha_with_reload(self.pool.next(), keys, args),
            )
            .await?;
        Ok(u64::try_from(remaining).unwrap_or(0))
    }

    /// Binds a session key to `owner` for `idle`; `false` when it is live for someone else.
    pub async fn bind(&self, key: &str, owner: &str, idle: Duration) -> Result<bool, Unavailable> {
        let args = vec![owner.to_string(), idle.as_millis().to_string()];
        let bound: i64 = self
            .call(
                "session_bind",
                self.session_bind
                    .evalsha_with_reload(self.pool.next(), vec![key.to_string()], args),
            )
            .await?;
        Ok(bound == 1)
    }

    /// 0 unknown, 1 owner (refreshed), 2 another principal.
    pub async fn check(&self, key: &str, owner: &str, idle: Duration) -> Result<i64, Unavailable> {
        let args = vec![owner.to_string(), idle.as_millis().to_string()];
        self.call(
            "session_check",
            self.session_check
                .evalsha_with_reload(self.pool.next(), vec![key.to_string()], args),
        )
        .await
    }

    /// Forgets a session key.
    pub async fn unbind(&self, key: &str) -> Result<(), Unavailable> {
        self.call("session_unbind", self.pool.del::<(), _>(key)).await
    }
}
