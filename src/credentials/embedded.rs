//! The embedded credential store: keys, revocations, refresh families and key usage in a redb
//! file (`credentials.redb` under `state.path`), every write a committed, fsynced transaction,
//! so nothing acknowledged is lost to a crash. A rotation is one write transaction: redb runs
//! them one at a time, so of concurrent refreshes of one token exactly one finds it live.
//!
//! redb locks the file: while a gateway runs, the CLI reaches the store through its admin API.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableTable as _, TableDefinition};

use super::family::{Family, RefreshRecord, Rotation};
use crate::auth::key_record::KeyRecord;
use crate::auth::revocation::Revocation;

const KEYS: TableDefinition<'_, &str, &str> = TableDefinition::new("keys");
const REVOCATIONS: TableDefinition<'_, &str, &str> = TableDefinition::new("revocations");
const FAMILIES: TableDefinition<'_, &str, &str> = TableDefinition::new("families");
const REFRESH: TableDefinition<'_, &str, &str> = TableDefinition::new("refresh");
/// Key id → `count|last_used|last_ip`.
const USAGE: TableDefinition<'_, &str, &str> = TableDefinition::new("key_usage");

/// Key usage per key id: (count, last use, last IP).
pub type StoredUsage = HashMap<String, (u64, u64, Option<String>)>;

/// Why the store could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another process (a running gateway) holds the file.
    Locked,
    Other(String),
}

/// The store file.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedStore(redb)")
    }
}

fn failed(error: impl std::fmt::Display) -> String {
    error.to_string()
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("damaged record: {e}"))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(failed)
}

impl EmbeddedStore {
    /// Opens (or creates) `dir/credentials.redb`.
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        std::fs::create_dir_all(dir).map_err(|e| OpenError::Other(format!("{}: {e}", dir.display())))?;
        let file = dir.join("credentials.redb");
        let db = match Database::create(&file) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(OpenError::Locked),
            Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))
                if e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                return Err(OpenError::Locked);
            }
            Err(e) => return Err(OpenError::Other(format!("{}: {e}", file.display()))),
        };
        let txn = db.begin_write().map_err(|e| OpenError::Other(e.to_string()))?;
        for table in [KEYS, REVOCATIONS, FAMILIES, REFRESH, USAGE] {
            txn.open_table(table).map_err(|e| OpenError::Other(e.to_string()))?;
        }
        txn.commit().map_err(|e| OpenError::Other(e.to_string()))?;
        Ok(Self { db: Arc::new(db) })
    }

    /// A store in memory only (`state.path` unset): gone with the process.
    pub fn in_memory() -> Result<Self, String> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(failed)?;
        let txn = db.begin_write().map_err(failed)?;
        for table in [KEYS, REVOCATIONS, FAMILIES, REFRESH, USAGE] {
            txn.open_table(table).map_err(failed)?;
        }
        txn.commit().map_err(failed)?;
        Ok(Self { db: Arc::new(db) })
    }

    fn put(&self, table: TableDefinition<'_, &str, &str>, key: &str, value: &str) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(failed)?;
        txn.open_table(table)
            .map_err(failed)?
            .insert(key, value)
            .map_err(failed)?;
        txn.commit().map_err(failed)
    }

    fn all(&self, table: TableDefinition<'_, &str, &str>) -> Result<Vec<(String, String)>, String> {
        let txn = self.db.begin_read().map_err(failed)?;
        let table = txn.open_table(table).map_err(failed)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(failed)? {
            let (key, value) = entry.map_err(failed)?;
            out.push((key.value().to_string(), value.value().to_string()));
        }
        Ok(out)
    }

    /// Writes `records` only while the stored `expected` is unchanged (one transaction);
    /// `false` when it changed.
    pub fn swap_keys(&self, expected: &KeyRecord, records: &[KeyRecord]) -> Result<bool, String> {
        let want = encode(expected)?;
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut table = txn.open_table(KEYS).map_err(failed)?;
            let stored = table
                .get(expected.id.as_str())
                .map_err(failed)?
                .map(|v| v.value().to_string());
            if stored.as_deref() != Some(want.as_str()) {
                return Ok(false);
            }
            for record in records {
                table
                    .insert(record.id.as_str(), encode(record)?.as_str())
                    .map_err(failed)?;
            }
        }
        txn.commit().map_err(failed)?;
        Ok(true)
    }

    /// The refresh record stored under `hash`.
    pub fn refresh_record(&self, hash: &str) -> Result<Option<RefreshRecord>, String> {
        let txn = self.db.begin_read().map_err(failed)?;
        let table = txn.open_table(REFRESH).map_err(failed)?;
        let value = table.get(hash).map_err(failed)?;
        Ok(value.and_then(|v| RefreshRecord::parse(hash, v.value())))
    }

    /// Stores keys in one transaction (a rotation's new and old key together).
    pub fn put_keys(&self, records: &[KeyRecord]) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut table = txn.open_table(KEYS).map_err(failed)?;
            for record in records {
                table
                    .insert(record.id.as_str(), encode(record)?.as_str())
                    .map_err(failed)?;
            }
        }
        txn.commit().map_err(failed)
    }

    pub fn key(&self, id: &str) -> Result<Option<KeyRecord>, String> {
        let txn = self.db.begin_read().map_err(failed)?;
        let table = txn.open_table(KEYS).map_err(failed)?;
        let value = table.get(id).map_err(failed)?;
        value.map(|v| decode(v.value())).transpose()
    }

    pub fn keys(&self) -> Result<Vec<KeyRecord>, String> {
        self.all(KEYS)?.iter().map(|(_, v)| decode(v)).collect()
    }

    pub fn put_revocation(&self, revocation: &Revocation) -> Result<(), String> {
        self.put(REVOCATIONS, &revocation.id, &encode(revocation)?)
    }

    pub fn revocations(&self) -> Result<Vec<Revocation>, String> {
        self.all(REVOCATIONS)?.iter().map(|(_, v)| decode(v)).collect()
    }

    /// Deletes revocations, families and refresh tokens that expired before `now`, judged
    /// inside the one write transaction (a revocation made again meanwhile stays).
    pub fn purge_expired(&self, now: u64) -> Result<usize, String> {
        let txn = self.db.begin_write().map_err(failed)?;
        let removed = remove_where(&txn, REVOCATIONS, |_, v| {
            decode::<Revocation>(v).is_ok_and(|r| r.expires <= now)
        })?;
        remove_where(&txn, FAMILIES, |_, v| {
            decode::<Family>(v).is_ok_and(|f| f.expires <= now)
        })?;
        remove_where(&txn, REFRESH, |hash, v| {
            RefreshRecord::parse(hash, v).is_none_or(|r| r.expires <= now)
        })?;
        txn.commit().map_err(failed)?;
        Ok(removed)
    }

    /// Stores a new family with its first refresh token, in one transaction.
    pub fn create_family(&self, family: &Family, first: &RefreshRecord) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(failed)?;
        {
            txn.open_table(FAMILIES)
                .map_err(failed)?
                .insert(family.id.as_str(), encode(family)?.as_str())
                .map_err(failed)?;
            txn.open_table(REFRESH)
                .map_err(failed)?
                .insert(first.hash.as_str(), first.value().as_str())
                .map_err(failed)?;
        }
        txn.commit().map_err(failed)
    }

    pub fn family(&self, id: &str) -> Result<Option<Family>, String> {
        let txn = self.db.begin_read().map_err(failed)?;
        let table = txn.open_table(FAMILIES).map_err(failed)?;
        let value = table.get(id).map_err(failed)?;
        value.map(|v| decode(v.value())).transpose()
    }

    pub fn families(&self) -> Result<Vec<Family>, String> {
        self.all(FAMILIES)?.iter().map(|(_, v)| decode(v)).collect()
    }

    pub fn refresh_records(&self) -> Result<Vec<RefreshRecord>, String> {
        Ok(self
            .all(REFRESH)?
            .iter()
            .filter_map(|(h, v)| RefreshRecord::parse(h, v))
            .collect())
    }

    pub fn put_family(&self, family: &Family) -> Result<(), String> {
        self.put(FAMILIES, &family.id, &encode(family)?)
    }

    pub fn put_refresh(&self, record: &RefreshRecord) -> Result<(), String> {
        self.put(REFRESH, &record.hash, &record.value())
    }

    /// Marks family `id` revoked at `now` (kept for its lifetime, so its tokens stay dead).
    pub fn kill_family(&self, id: &str, now: u64) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut table = txn.open_table(FAMILIES).map_err(failed)?;
            let current = table.get(id).map_err(failed)?.map(|v| v.value().to_string());
            if let Some(text) = current {
                let mut family: Family = decode(&text)?;
                family.revoked.get_or_insert(now);
                table.insert(id, encode(&family)?.as_str()).map_err(failed)?;
            }
        }
        txn.commit().map_err(failed)
    }

    /// One atomic rotation of the refresh token `old` (a digest) into `new`; a reuse kills
    /// the family and stores its revocation `reuse` in the same transaction.
    pub fn rotate(&self, old: &str, new: &str, now: u64, reuse: &Revocation) -> Result<Rotation, String> {
        let txn = self.db.begin_write().map_err(failed)?;
        let outcome = {
            let mut refresh = txn.open_table(REFRESH).map_err(failed)?;
            let mut families = txn.open_table(FAMILIES).map_err(failed)?;
            let mut revocations = txn.open_table(REVOCATIONS).map_err(failed)?;
            let stored = refresh.get(old).map_err(failed)?.map(|v| v.value().to_string());
            let Some(record) = stored.and_then(|v| RefreshRecord::parse(old, &v)) else {
                return Ok(Rotation::Invalid);
            };
            let text = families
                .get(record.family.as_str())
                .map_err(failed)?
                .map(|v| v.value().to_string());
            let Some(mut family) = text.map(|t| decode::<Family>(&t)).transpose()? else {
                return Ok(Rotation::Invalid);
            };
            if family.revoked.is_some() {
                Rotation::FamilyRevoked(family.id)
            } else if family.expires <= now {
                Rotation::Invalid
            } else if record.used != 0 {
                family.revoked = Some(now);
                families
                    .insert(family.id.as_str(), encode(&family)?.as_str())
                    .map_err(failed)?;
                revocations
                    .insert(reuse.id.as_str(), encode(reuse)?.as_str())
                    .map_err(failed)?;
                Rotation::Reused(family.id)
            } else {
                let retired = RefreshRecord {
                    used: now,
                    ..record.clone()
                };
                refresh.insert(old, retired.value().as_str()).map_err(failed)?;
                let next = RefreshRecord {
                    hash: new.to_string(),
                    used: 0,
                    ..record
                };
                refresh.insert(new, next.value().as_str()).map_err(failed)?;
                Rotation::Rotated(family.id)
            }
        };
        txn.commit().map_err(failed)?;
        Ok(outcome)
    }

    /// Writes a whole import in one transaction (all or nothing).
    pub fn import(&self, records: &[super::record::Record]) -> Result<(), String> {
        use super::record::Record;
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut keys = txn.open_table(KEYS).map_err(failed)?;
            let mut revocations = txn.open_table(REVOCATIONS).map_err(failed)?;
            let mut families = txn.open_table(FAMILIES).map_err(failed)?;
            let mut refresh = txn.open_table(REFRESH).map_err(failed)?;
            for record in records {
                match record {
                    Record::Key(k) => drop(keys.insert(k.id.as_str(), encode(k)?.as_str()).map_err(failed)?),
                    Record::Revocation(r) => {
                        drop(revocations.insert(r.id.as_str(), encode(r)?.as_str()).map_err(failed)?)
                    }
                    Record::Family(f) => drop(families.insert(f.id.as_str(), encode(f)?.as_str()).map_err(failed)?),
                    Record::Refresh(r) => drop(refresh.insert(r.hash.as_str(), r.value().as_str()).map_err(failed)?),
                }
            }
        }
        txn.commit().map_err(failed)
    }

    /// Adds a batch of key uses (count, last use, last IP) to the stored statistics.
    pub fn add_usage(&self, batch: &HashMap<String, crate::auth::Usage>) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut table = txn.open_table(USAGE).map_err(failed)?;
            for (id, (count, last, ip)) in batch {
                let old = table.get(id.as_str()).map_err(failed)?.map(|v| v.value().to_string());
                let (old_count, _, old_ip) = old.as_deref().map(parse_usage).unwrap_or_default();
                let ip = ip.map(|ip| ip.to_string()).or(old_ip).unwrap_or_default();
                let value = format!("{}|{last}|{ip}", old_count + count);
                table.insert(id.as_str(), value.as_str()).map_err(failed)?;
            }
        }
        txn.commit().map_err(failed)
    }

    /// Stored statistics per key id: (count, last use, last IP).
    pub fn usage(&self) -> Result<StoredUsage, String> {
        Ok(self
            .all(USAGE)?
            .into_iter()
            .map(|(id, value)| (id, parse_usage(&value)))
            .collect())
    }
}

/// Removes the entries of `table` for which `gone(key, value)` holds, inside `txn`; returns
/// how many.
fn remove_where(
    txn: &redb::WriteTransaction,
    table: TableDefinition<'_, &str, &str>,
    gone: impl Fn(&str, &str) -> bool,
) -> Result<usize, String> {
    let mut table = txn.open_table(table).map_err(failed)?;
    let mut doomed = Vec::new();
    for entry in table.iter().map_err(failed)? {
        let (key, value) = entry.map_err(failed)?;
        if gone(key.value(), value.value()) {
            doomed.push(key.value().to_string());
        }
    }
    for key in &doomed {
        table.remove(key.as_str()).map_err(failed)?;
    }
    Ok(doomed.len())
}

/// `count|last|ip` → its parts.
pub fn parse_usage(value: &str) -> (u64, u64, Option<String>) {
    let mut parts = value.splitn(3, '|');
    let count = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let last = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let ip = parts.next().filter(|ip| !ip.is_empty()).map(str::to_owned);
    (count, last, ip)
}

#[cfg(test)]
mod tests {
    use super::EmbeddedStore;
    use crate::auth::key_record::{HashAlg, KeyRecord};

    #[test]
    fn a_swap_writes_only_over_the_record_it_read() {
        let store = EmbeddedStore::in_memory().unwrap_or_else(|e| unreachable!("{e}"));
        let key = KeyRecord {
            id: "key_1".into(),
            name: None,
            subject: "s".into(),
            roles: vec![],
            permissions: vec![],
            hash: "00".repeat(32),
            hash_alg: HashAlg::Sha256,
            created: 1,
            expires: None,
            revoked: None,
            grace_until: None,
            replaced_by: None,
        };
        assert!(store.put_keys(std::slice::from_ref(&key)).is_ok());
        let revoked = KeyRecord {
            revoked: Some(5),
            ..key.clone()
        };
        assert_eq!(store.swap_keys(&key, std::slice::from_ref(&revoked)), Ok(true));
        // A rotation that read the key before the revocation must not write it back.
        let rotated = KeyRecord {
            grace_until: Some(9),
            ..key.clone()
        };
        assert_eq!(store.swap_keys(&key, std::slice::from_ref(&rotated)), Ok(false));
        assert_eq!(store.keys().ok().and_then(|k| k.first().cloned()), Some(revoked));
    }
}
