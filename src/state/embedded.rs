//! The embedded backend's durable part: session bindings in a redb file under `state.path`
//! (crash-safe: every write is a committed, fsynced transaction), loaded back at startup.
//! Writes happen when a session is bound or ends, and when a binding's last use advanced by
//! more than a quarter of `session_idle` — never on every request.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableTable as _, TableDefinition};

use super::key::SessionKey;

/// Session key → last use (unix ms, 8 bytes big-endian) followed by the owner.
const SESSIONS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("sessions");

/// The store file.
#[derive(Clone)]
pub struct Durable {
    db: Arc<Database>,
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Durable(redb)")
    }
}

fn failed(error: impl std::fmt::Display) -> String {
    error.to_string()
}

impl Durable {
    /// Opens (or creates) `dir/state.redb`.
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = dir.join("state.redb");
        let db = Database::create(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let txn = db.begin_write().map_err(failed)?;
        txn.open_table(SESSIONS).map_err(failed)?;
        txn.commit().map_err(failed)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Every binding last used within `idle_ms` of `now_unix_ms`; older ones are deleted.
    pub fn load(&self, now_unix_ms: u64, idle_ms: u64) -> Result<Vec<(SessionKey, String, u64)>, String> {
        let mut live = Vec::new();
        let mut stale: Vec<Vec<u8>> = Vec::new();
        {
            let txn = self.db.begin_read().map_err(failed)?;
            let table = txn.open_table(SESSIONS).map_err(failed)?;
            for entry in table.iter().map_err(failed)? {
                let (key, value) = entry.map_err(failed)?;
                let (key, value) = (key.value(), value.value());
                let parsed = (<[u8; 32]>::try_from(key).ok(), value.get(..8), value.get(8..));
                match parsed {
                    (Some(k), Some(seen), Some(owner)) => {
                        let seen = u64::from_be_bytes(seen.try_into().unwrap_or([0; 8]));
                        match std::str::from_utf8(owner) {
                            Ok(owner) if now_unix_ms.saturating_sub(seen) < idle_ms => {
                                live.push((SessionKey::from_bytes(k), owner.to_string(), seen));
                            }
                            _ => stale.push(key.to_vec()),
                        }
                    }
                    _ => stale.push(key.to_vec()),
                }
            }
        }
        if !stale.is_empty() {
            let txn = self.db.begin_write().map_err(failed)?;
            {
                let mut table = txn.open_table(SESSIONS).map_err(failed)?;
                for key in &stale {
                    table.remove(key.as_slice()).map_err(failed)?;
                }
            }
            txn.commit().map_err(failed)?;
        }
        Ok(live)
    }

    /// Records a binding (or its later use).
    pub fn put(&self, key: SessionKey, owner: &str, seen_unix_ms: u64) -> Result<(), String> {
        let mut value = seen_unix_ms.to_be_bytes().to_vec();
        value.extend_from_slice(owner.as_bytes());
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut table = txn.open_table(SESSIONS).map_err(failed)?;
            table
                .insert(key.as_bytes().as_slice(), value.as_slice())
                .map_err(failed)?;
        }
        txn.commit().map_err(failed)
    }

    /// Forgets a binding.
    pub fn delete(&self, key: SessionKey) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut table = txn.open_table(SESSIONS).map_err(failed)?;
            table.remove(key.as_bytes().as_slice()).map_err(failed)?;
        }
        txn.commit().map_err(failed)
    }
}
