//! The Redis credential store, shared by every replica. Under the key prefix (whose `{...}`
//! hash tag keeps every key in one Cluster slot):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `cred:keys` | hash | key id → `KeyRecord` JSON |
//! | `cred:revocations` | hash | revocation id → `Revocation` JSON |
//! | `cred:families` | hash | family id → `Family` JSON (as created) |
//! | `cred:dead` | hash | family id → when it was revoked |
//! | `cred:refresh` | hash | refresh digest → `family|used|expires` |
//! | `cred:use_count`, `cred:use_last` | hash | key id → uses; → `last|ip` |
//! | `cred:version` | string | bumped by every change of keys or revocations |
//!
//! Every change bumps the version and is published on `cred:changes` with it, so replicas
//! apply it at once; a replica that sees a version it did not hear of resyncs in full.
//! A rotation is one script (`ROTATE`): of concurrent refreshes of one token exactly one wins.

use std::collections::HashMap;
use std::sync::Arc;

use fred::interfaces::{HashesInterface as _, KeysInterface as _, PubsubInterface as _};
use fred::types::scripts::Script;
use serde::{Deserialize, Serialize};

use super::family::{Family, RefreshRecord, Rotation};
use crate::auth::key_record::KeyRecord;
use crate::auth::revocation::Revocation;
use crate::state::{RedisState, Unavailable};

/// `KEYS` = refresh hash, dead-family hash, revocation hash, version key; `ARGV` = old digest,
/// new digest, now, the family's revocation id and JSON. `{0}` invalid, `{1, fam}` rotated,
/// `{2, fam, version}` reuse (the family is killed and its revocation stored in the same
/// step, so no replica can miss it), `{3, fam}` already dead.
const ROTATE: &str = r"
local rt = redis.call('HGET', KEYS[1], ARGV[1])
if not rt then return {0, ''} end
local fam, used, expires = string.match(rt, '^([^|]*)|([^|]*)|([^|]*)$')
if not fam then return {0, ''} end
if redis.call('HEXISTS', KEYS[2], fam) == 1 then return {3, fam} end
if tonumber(expires) <= tonumber(ARGV[3]) then return {0, fam} end
if used ~= '0' then
  redis.call('HSET', KEYS[2], fam, ARGV[3])
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  return {2, fam, redis.call('INCR', KEYS[4])}
end
redis.call('HSET', KEYS[1], ARGV[1], fam .. '|' .. ARGV[3] .. '|' .. expires)
redis.call('HSET', KEYS[1], ARGV[2], fam .. '|0|' .. expires)
return {1, fam}
";

/// `KEYS` = key hash, version key; `ARGV` = expected id, its expected JSON, then field, JSON
/// pairs: written only while the stored record is still the one read (0: it changed), so a
/// rotation cannot undo a revocation made meanwhile. Returns the new version.
const SWAP: &str = r"
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return redis.call('INCR', KEYS[2])
";

/// `KEYS` = revocation hash; `ARGV` = now, then ids: deletes each id whose stored record has
/// expired by now (read inside the script: one revoked again meanwhile stays). Returns the
/// number deleted.
const PURGE: &str = r"
local removed = 0
for i = 2, #ARGV do
  local stored = redis.call('HGET', KEYS[1], ARGV[i])
  if stored and tonumber(cjson.decode(stored).expires) <= tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
return removed
";

/// `KEYS` = record hash, version key; `ARGV` = field, JSON, field, JSON, … Stores them all at
/// once (a rotation's two keys), bumps the version once, returns it (the publish carries it).
const PUT: &str = r"
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return redis.call('INCR', KEYS[2])
";

/// A change as published to every replica.
#[derive(Debug, Serialize, Deserialize)]
pub struct Change {
    /// The version this change made.
    pub v: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Revocation>,
}

/// The credential keys of one Redis deployment.
#[derive(Debug)]
pub struct RedisStore {
    pub redis: Arc<RedisState>,
    put: Script,
    swap: Script,
    rotate: Script,
    purge: Script,
}

fn damaged(error: impl std::fmt::Display) -> Unavailable {
    tracing::error!(%error, "damaged credential record in Redis");
    Unavailable
}

impl RedisStore {
    pub fn new(redis: Arc<RedisState>) -> Self {
        Self {
            redis,
            put: Script::from_lua(PUT),
            swap: Script::from_lua(SWAP),
            rotate: Script::from_lua(ROTATE),
            purge: Script::from_lua(PURGE),
        }
    }

    fn k(&self, name: &str) -> String {
        self.redis.key(&format!("cred:{name}"))
    }

    /// The pub/sub channel of changes.
    pub fn channel(&self) -> String {
        self.k("changes")
    }

    async fn put_and_publish(&self, hash: &str, fields: Vec<String>, change: Change) -> Result<u64, Unavailable> {
        let keys = vec![self.k(hash), self.k("version")];
        let version: u64 = self
            .redis
            .call(
                "credentials_put",
                self.put.evalsha_with_reload(self.redis.pool().next(), keys, fields),
            )
            .await?;
        self.publish(Change { v: version, ..change }).await;
        Ok(version)
    }

    /// Tells every replica of a change (its version set). A lost publish costs a replica at
    /// most one poll period: it sees the version move and resyncs.
    async fn publish(&self, change: Change) {
        let Ok(message) = serde_json::to_string(&change) else {
            return;
        };
        let _ = self
            .redis
            .call(
                "credentials_publish",
                self.redis.pool().next().publish::<i64, _, _>(self.channel(), message),
            )
            .await;
    }

    /// Writes `records` only while the stored `expected` is unchanged; `false` when it changed.
    pub async fn swap_keys(&self, expected: &KeyRecord, records: &[KeyRecord]) -> Result<bool, Unavailable> {
        let mut args = vec![expected.id.clone(), serde_json::to_string(expected).map_err(damaged)?];
        for record in records {
            args.push(record.id.clone());
            args.push(serde_json::to_string(record).map_err(damaged)?);
        }
        let keys = vec![self.k("keys"), self.k("version")];
        let version: u64 = self
            .redis
            .call(
                "credentials_swap",
                self.swap.evalsha_with_reload(self.redis.pool().next(), keys, args),
            )
            .await?;
        if version == 0 {
            return Ok(false);
        }
        self.publish(Change {
            v: version,
            keys: records.to_vec(),
            revocation: None,
        })
        .await;
        Ok(true)
    }

    /// The refresh record stored under `hash`.
    pub async fn refresh_record(&self, hash: &str) -> Result<Option<RefreshRecord>, Unavailable> {
        let value: Option<String> = self
            .redis
            .call(
                "credentials_refresh",
                self.redis.pool().next().hget(self.k("refresh"), hash),
            )
            .await?;
        Ok(value.and_then(|v| RefreshRecord::parse(hash, &v)))
    }

    /// Stores keys in one step (a rotation's new and old key together).
    pub async fn put_keys(&self, records: &[KeyRecord]) -> Result<u64, Unavailable> {
        let mut fields = Vec::with_capacity(records.len() * 2);
        for record in records {
            fields.push(record.id.clone());
            fields.push(serde_json::to_string(record).map_err(damaged)?);
        }
        let change = Change {
            v: 0,
            keys: records.to_vec(),
            revocation: None,
        };
        self.put_and_publish("keys", fields, change).await
    }

    pub async fn put_revocation(&self, revocation: &Revocation) -> Result<u64, Unavailable> {
        let json = serde_json::to_string(revocation).map_err(damaged)?;
        let change = Change {
            v: 0,
            keys: Vec::new(),
            revocation: Some(revocation.clone()),
        };
        self.put_and_publish("revocations", vec![revocation.id.clone(), json], change)
            .await
    }

    /// The current version (0 before any change).
    pub async fn version(&self) -> Result<u64, Unavailable> {
        let version: Option<u64> = self
            .redis
            .call("credentials_version", self.redis.pool().next().get(self.k("version")))
            .await?;
        Ok(version.unwrap_or(0))
    }

    async fn hash_values<T: serde::de::DeserializeOwned>(&self, hash: &str) -> Result<Vec<T>, Unavailable> {
        let all: HashMap<String, String> = self
            .redis
            .call("credentials_load", self.redis.pool().next().hgetall(self.k(hash)))
            .await?;
        all.values().map(|v| serde_json::from_str(v).map_err(damaged)).collect()
    }

    pub async fn key(&self, id: &str) -> Result<Option<KeyRecord>, Unavailable> {
        let text: Option<String> = self
            .redis
            .call("credentials_key", self.redis.pool().next().hget(self.k("keys"), id))
            .await?;
        text.map(|t| serde_json::from_str(&t).map_err(damaged)).transpose()
    }

    pub async fn keys(&self) -> Result<Vec<KeyRecord>, Unavailable> {
        self.hash_values("keys").await
    }

    pub async fn revocations(&self) -> Result<Vec<Revocation>, Unavailable> {
        self.hash_values("revocations").await
    }

    pub async fn families(&self) -> Result<Vec<Family>, Unavailable> {
        let mut families: Vec<Family> = self.hash_values("families").await?;
        let dead: HashMap<String, u64> = self
            .redis
            .call("credentials_load", self.redis.pool().next().hgetall(self.k("dead")))
            .await?;
        for family in &mut families {
            if let Some(at) = dead.get(&family.id) {
                family.revoked = Some(*at);
            }
        }
        Ok(families)
    }

    pub async fn refresh_records(&self) -> Result<Vec<RefreshRecord>, Unavailable> {
        let all: HashMap<String, String> = self
            .redis
            .call("credentials_load", self.redis.pool().next().hgetall(self.k("refresh")))
            .await?;
        Ok(all.iter().filter_map(|(h, v)| RefreshRecord::parse(h, v)).collect())
    }

    pub async fn family(&self, id: &str) -> Result<Option<Family>, Unavailable> {
        let text: Option<String> = self
            .redis
            .call(
                "credentials_family",
                self.redis.pool().next().hget(self.k("families"), id),
            )
            .await?;
        text.map(|t| serde_json::from_str(&t).map_err(damaged)).transpose()
    }

    pub async fn create_family(&self, family: &Family, first: &RefreshRecord) -> Result<(), Unavailable> {
        self.put_family(family).await?;
        self.put_refresh(first).await
    }

    /// Stores a family record (and its death, when revoked).
    pub async fn put_family(&self, family: &Family) -> Result<(), Unavailable> {
        let json = serde_json::to_string(family).map_err(damaged)?;
        self.redis
            .call(
                "credentials_family",
                self.redis
                    .pool()
                    .next()
                    .hset::<(), _, _>(self.k("families"), (family.id.as_str(), json)),
            )
            .await?;
        if let Some(at) = family.revoked {
            self.kill_family(&family.id, at).await?;
        }
        Ok(())
    }

    pub async fn put_refresh(&self, record: &RefreshRecord) -> Result<(), Unavailable> {
        self.redis
            .call(
                "credentials_refresh",
                self.redis
                    .pool()
                    .next()
                    .hset::<(), _, _>(self.k("refresh"), (record.hash.as_str(), record.value())),
            )
            .await
    }

    pub async fn kill_family(&self, id: &str, now: u64) -> Result<(), Unavailable> {
        self.redis
            .call(
                "credentials_family",
                self.redis.pool().next().hsetnx::<(), _, _, _>(self.k("dead"), id, now),
            )
            .await
    }

    pub async fn rotate(&self, old: &str, new: &str, now: u64, reuse: &Revocation) -> Result<Rotation, Unavailable> {
        let keys = vec![
            self.k("refresh"),
            self.k("dead"),
            self.k("revocations"),
            self.k("version"),
        ];
        let json = serde_json::to_string(reuse).map_err(damaged)?;
        let args = vec![
            old.to_string(),
            new.to_string(),
            now.to_string(),
            reuse.id.clone(),
            json,
        ];
        let reply: Vec<fred::types::Value> = self
            .redis
            .call(
                "credentials_rotate",
                self.rotate.evalsha_with_reload(self.redis.pool().next(), keys, args),
            )
            .await?;
        let code = reply.first().and_then(fred::types::Value::as_i64).unwrap_or(0);
        let family = reply.get(1).and_then(fred::types::Value::as_string).unwrap_or_default();
        Ok(match code {
            1 => Rotation::Rotated(family),
            2 => {
                let version = reply.get(2).and_then(fred::types::Value::as_u64).unwrap_or(0);
                self.publish(Change {
                    v: version,
                    keys: Vec::new(),
                    revocation: Some(reuse.clone()),
                })
                .await;
                Rotation::Reused(family)
            }
            3 => Rotation::FamilyRevoked(family),
            _ => Rotation::Invalid,
        })
    }

    /// Deletes revocations, families and refresh tokens that expired before `now`.
    pub async fn purge_expired(&self, now: u64) -> Result<usize, Unavailable> {
        let revocations = self.revocations().await?;
        let mut args = vec![now.to_string()];
        args.extend(revocations.iter().filter(|r| r.expires <= now).map(|r| r.id.clone()));
        let pool = self.redis.pool();
        let removed: u64 = if args.len() > 1 {
            self.redis
                .call(
                    "credentials_purge",
                    self.purge
                        .evalsha_with_reload(pool.next(), vec![self.k("revocations")], args),
                )
                .await?
        } else {
            0
        };
        let families: Vec<Family> = self.hash_values("families").await?;
        let gone: Vec<String> = families
            .iter()
            .filter(|f| f.expires <= now)
            .map(|f| f.id.clone())
            .collect();
        if !gone.is_empty() {
            self.redis
                .call(
                    "credentials_purge",
                    pool.next().hdel::<(), _, _>(self.k("families"), gone.clone()),
                )
                .await?;
            self.redis
                .call("credentials_purge", pool.next().hdel::<(), _, _>(self.k("dead"), gone))
                .await?;
        }
        let stale: Vec<String> = self
            .refresh_records()
            .await?
            .into_iter()
            .filter(|r| r.expires <= now)
            .map(|r| r.hash)
            .collect();
        if !stale.is_empty() {
            self.redis
                .call(
                    "credentials_purge",
                    pool.next().hdel::<(), _, _>(self.k("refresh"), stale),
                )
                .await?;
        }
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    /// Adds a batch of key uses to the shared statistics (one write per key).
    pub async fn add_usage(&self, batch: &HashMap<String, crate::auth::Usage>) -> Result<(), Unavailable> {
        let pool = self.redis.pool();
        for (id, (count, last, ip)) in batch {
            let count = i64::try_from(*count).unwrap_or(i64::MAX);
            self.redis
                .call(
                    "credentials_usage",
                    pool.next()
                        .hincrby::<i64, _, _>(self.k("use_count"), id.as_str(), count),
                )
                .await?;
            let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
            self.redis
                .call(
                    "credentials_usage",
                    pool.next()
                        .hset::<(), _, _>(self.k("use_last"), (id.as_str(), format!("{last}|{ip}"))),
                )
                .await?;
        }
        Ok(())
    }

    /// Shared statistics per key id: (count, last use, last IP).
    pub async fn usage(&self) -> Result<super::embedded::StoredUsage, Unavailable> {
        let pool = self.redis.pool();
        let counts: HashMap<String, u64> = self
            .redis
            .call("credentials_usage", pool.next().hgetall(self.k("use_count")))
            .await?;
        let last: HashMap<String, String> = self
            .redis
            .call("credentials_usage", pool.next().hgetall(self.k("use_last")))
            .await?;
        Ok(counts
            .into_iter()
            .map(|(id, count)| {
                let (_, at, ip) = last
                    .get(&id)
                    .map(|v| super::embedded::parse_usage(&format!("0|{v}")))
                    .unwrap_or_default();
                (id, (count, at, ip))
            })
            .collect())
    }
}
