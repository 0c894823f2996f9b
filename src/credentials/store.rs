//! `Store`: the credential store over its backend — the embedded redb file (or memory) or
//! Redis — behind one async interface. Embedded calls run on the blocking pool (each is an
//! fsynced transaction); Redis calls are bounded by `redis_timeout` and its circuit.

use std::collections::HashMap;

use super::embedded::{EmbeddedStore, StoredUsage};
use super::family::{Family, RefreshRecord, Rotation};
use super::redis::RedisStore;
use crate::auth::key_record::KeyRecord;
use crate::auth::revocation::Revocation;

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Redis did not answer in time (or its circuit is open).
    Unavailable,
    /// The embedded file refused the write or read (full disk, damage).
    Failed(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable => f.write_str("the state store is unavailable"),
            Self::Failed(error) => write!(f, "the state store failed: {error}"),
        }
    }
}

impl From<crate::state::Unavailable> for StoreError {
    fn from(_: crate::state::Unavailable) -> Self {
        Self::Unavailable
    }
}

/// Where credentials live.
#[derive(Debug)]
pub enum Store {
    Embedded(EmbeddedStore),
    Redis(Box<RedisStore>),
}

/// Runs an embedded call on the blocking pool (or inline without a runtime).
async fn blocking<T: Send + 'static>(
    store: &EmbeddedStore,
    call: impl FnOnce(&EmbeddedStore) -> Result<T, String> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(move || call(&store))
            .await
            .map_err(|e| StoreError::Failed(e.to_string()))?
            .map_err(StoreError::Failed),
        Err(_) => call(&store).map_err(StoreError::Failed),
    }
}

impl Store {
    /// Whether replicas share it (and so each one's copy can go stale).
    pub fn shared(&self) -> bool {
        matches!(self, Self::Redis(_))
    }

    pub async fn put_key(&self, record: &KeyRecord) -> Result<(), StoreError> {
        self.put_keys(std::slice::from_ref(record)).await
    }

    /// Stores keys all at once or none (a rotation's new and old key).
    pub async fn put_keys(&self, records: &[KeyRecord]) -> Result<(), StoreError> {
        match self {
            Self::Embedded(s) => {
                let records = records.to_vec();
                blocking(s, move |s| s.put_keys(&records)).await
            }
            Self::Redis(s) => Ok(Box::pin(s.put_keys(records)).await.map(drop)?),
        }
    }

    /// One key, read alone.
    pub async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        match self {
            Self::Embedded(s) => {
                let id = id.to_string();
                blocking(s, move |s| s.key(&id)).await
            }
            Self::Redis(s) => Ok(Box::pin(s.key(id)).await?),
        }
    }

    pub async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        match self {
            Self::Embedded(s) => blocking(s, EmbeddedStore::keys).await,
            Self::Redis(s) => Ok(Box::pin(s.keys()).await?),
        }
    }

    pub async fn put_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
        match self {
            Self::Embedded(s) => {
                let revocation = revocation.clone();
                blocking(s, move |s| s.put_revocation(&revocation)).await
            }
            Self::Redis(s) => Ok(Box::pin(s.put_revocation(revocation)).await.map(drop)?),
        }
    }

    pub async fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        match self {
            Self::Embedded(s) => blocking(s, EmbeddedStore::revocations).await,
            Self::Redis(s) => Ok(Box::pin(s.revocations()).await?),
        }
    }

    pub async fn purge_expired(&self, now: u64) -> Result<usize, StoreError> {
        match self {
            Self::Embedded(s) => blocking(s, move |s| s.purge_expired(now)).await,
            Self::Redis(s) => Ok(Box::pin(s.purge_expired(now)).await?),
        }
    }

    pub async fn create_family(&self, family: &Family, first: &RefreshRecord) -> Result<(), StoreError> {
        match self {
            Self::Embedded(s) => {
                let (family, first) = (family.clone(), first.clone());
                blocking(s, move |s| {
                    s.create_family(&family, &first)?;
                    match family.revoked {
                        Some(at) => s.kill_family(&family.id, at),
                        None => Ok(()),
                    }
                })
                .await
            }
            Self::Redis(s) => Ok(Box::pin(s.create_family(family, first)).await?),
        }
    }

    pub async fn put_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        match self {
            Self::Embedded(s) => {
                let record = record.clone();
                blocking(s, move |s| s.put_refresh(&record)).await
            }
            Self::Redis(s) => Ok(Box::pin(s.put_refresh(record)).await?),
        }
    }

    pub async fn family(&self, id: &str) -> Result<Option<Family>, StoreError> {
        match self {
            Self::Embedded(s) => {
                let id = id.to_string();
                blocking(s, move |s| s.family(&id)).await
            }
            Self::Redis(s) => Ok(Box::pin(s.family(id)).await?),
        }
    }

    pub async fn families(&self) -> Result<Vec<Family>, StoreError> {
        match self {
            Self::Embedded(s) => blocking(s, EmbeddedStore::families).await,
            Self::Redis(s) => Ok(Box::pin(s.families()).await?),
        }
    }

    pub async fn refresh_records(&self) -> Result<Vec<RefreshRecord>, StoreError> {
        match self {
            Self::Embedded(s) => blocking(s, EmbeddedStore::refresh_records).await,
            Self::Redis(s) => Ok(Box::pin(s.refresh_records()).await?),
        }
    }

    pub async fn kill_family(&self, id: &str, now: u64) -> Result<(), StoreError> {
        match self {
            Self::Embedded(s) => {
                let id = id.to_string();
                blocking(s, move |s| s.kill_family(&id, now)).await
            }
            Self::Redis(s) => Ok(Box::pin(s.kill_family(id, now)).await?),
        }
    }

    /// One atomic rotation; a reuse stores `reuse` (the family's revocation) in the same step.
    pub async fn rotate(&self, old: &str, new: &str, now: u64, reuse: &Revocation) -> Result<Rotation, StoreError> {
        match self {
            Self::Embedded(s) => {
                let (old, new, reuse) = (old.to_string(), new.to_string(), reuse.clone());
                blocking(s, move |s| s.rotate(&old, &new, now, &reuse)).await
            }
            Self::Redis(s) => Ok(Box::pin(s.rotate(old, new, now, reuse)).await?),
        }
    }

    /// The refresh record stored under `hash`.
    pub async fn refresh_record(&self, hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        match self {
            Self::Embedded(s) => {
                let hash = hash.to_string();
                blocking(s, move |s| s.refresh_record(&hash)).await
            }
            Self::Redis(s) => Ok(Box::pin(s.refresh_record(hash)).await?),
        }
    }

    /// Writes `records` only while the stored `expected` is unchanged; `false` when it changed.
    pub async fn swap_keys(&self, expected: &KeyRecord, records: &[KeyRecord]) -> Result<bool, StoreError> {
        match self {
            Self::Embedded(s) => {
                let (expected, records) = (expected.clone(), records.to_vec());
                blocking(s, move |s| s.swap_keys(&expected, &records)).await
            }
            Self::Redis(s) => Ok(Box::pin(s.swap_keys(expected, records)).await?),
        }
    }

    /// Writes imported records (embedded: one transaction; Redis: one call each).
    pub async fn import(&self, records: Vec<super::record::Record>) -> Result<(), StoreError> {
        use super::record::Record;
        match self {
            Self::Embedded(s) => blocking(s, move |s| s.import(&records)).await,
            Self::Redis(s) => {
                for record in &records {
                    match record {
                        Record::Key(k) => drop(Box::pin(s.put_keys(std::slice::from_ref(k))).await?),
                        Record::Revocation(r) => drop(Box::pin(s.put_revocation(r)).await?),
                        Record::Family(f) => Box::pin(s.put_family(f)).await?,
                        Record::Refresh(r) => Box::pin(s.put_refresh(r)).await?,
                    }
                }
                Ok(())
            }
        }
    }

    pub async fn add_usage(&self, batch: HashMap<String, crate::auth::Usage>) -> Result<(), StoreError> {
        match self {
            Self::Embedded(s) => blocking(s, move |s| s.add_usage(&batch)).await,
            Self::Redis(s) => Ok(Box::pin(s.add_usage(&batch)).await?),
        }
    }

    pub async fn usage(&self) -> Result<StoredUsage, StoreError> {
        match self {
            Self::Embedded(s) => blocking(s, EmbeddedStore::usage).await,
            Self::Redis(s) => Ok(Box::pin(s.usage()).await?),
        }
    }
}
