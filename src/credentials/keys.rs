//! Dynamic API keys in the lifecycle: create (the key shown once), revoke, rotate with a
//! grace, list and show with usage. Revoke and rotate are compare-and-set on the stored
//! record, so a rotation never undoes a revocation made meanwhile.

use std::time::Duration;

use serde::Serialize;

use super::lifecycle::{CredError, Credentials, check_names, check_subject, rfc3339};
use crate::auth::api_key;
use crate::auth::key_record::KeyRecord;
use crate::auth::now;

/// A key as shown: everything but the key itself, with its usage.
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub id: String,
    pub name: Option<String>,
    pub subject: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub grace_until: Option<String>,
    pub replaced_by: Option<String>,
    pub status: &'static str,
    pub use_count: u64,
    pub last_used_at: Option<String>,
    pub last_ip: Option<String>,
    /// The new key: only in the answer that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The key a rotation replaced: only in the rotation's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// What a new key is for.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub subject: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub name: Option<String>,
    pub ttl: Option<Duration>,
}

impl Credentials {
    fn ttl_of(&self, ttl: Option<Duration>) -> Result<Duration, CredError> {
        let ttl = ttl.unwrap_or(self.settings.key_default_ttl);
        if ttl.is_zero() || ttl > self.settings.key_max_ttl {
            return Err(CredError::Invalid {
                field: "ttl",
                message: format!(
                    "must be greater than 0 and at most {}s (auth.api_keys.max_ttl)",
                    self.settings.key_max_ttl.as_secs()
                ),
            });
        }
        Ok(ttl)
    }

    /// Creates a dynamic key; the key itself is in the answer and nowhere else.
    pub async fn create_key(&self, new: NewKey, actor: &str) -> Result<KeyView, CredError> {
        check_subject("subject", &new.subject)?;
        check_names("roles", &new.roles)?;
        check_names("permissions", &new.permissions)?;
        if let Some(name) = &new.name {
            check_subject("name", name)?;
        }
        let ttl = self.ttl_of(new.ttl)?;
        let (record, key) = self.mint(new.subject, new.roles, new.permissions, new.name, ttl);
        self.store.put_key(&record).await?;
        self.live().put_key(record.clone());
        self.audit("api_key_created", "ok", Some(&record.subject), Some(&record.id), actor);
        Ok(self.view(&record, None, Some(key)))
    }

    fn mint(
        &self,
        subject: String,
        roles: Vec<String>,
        permissions: Vec<String>,
        name: Option<String>,
        ttl: Duration,
    ) -> (KeyRecord, String) {
        let key = api_key::generate();
        let (digest, hash_alg) = api_key::digest(&key, self.settings.pepper.as_ref().map(api_key::Pepper::expose));
        let created = now();
        let id: String = format!("key_{}", &crate::auth::jwt::random_id()[..16]);
        let record = KeyRecord {
            id,
            name,
            subject,
            roles,
            permissions,
            hash: api_key::hex(&digest),
            hash_alg,
            created,
            expires: Some(created + ttl.as_secs()),
            revoked: None,
            grace_until: None,
            replaced_by: None,
        };
        (record, key)
    }

    /// The key `id` as stored (the store's word, not this replica's copy).
    async fn stored_key(&self, id: &str) -> Result<KeyRecord, CredError> {
        self.store.key(id).await?.ok_or(CredError::NotFound)
    }

    /// Revokes key `id` at once, on every replica.
    pub async fn revoke_key(&self, id: &str, actor: &str) -> Result<KeyView, CredError> {
        let stored = self.stored_key(id).await?;
        let mut record = stored.clone();
        record.revoked.get_or_insert(now());
        if !self.store.swap_keys(&stored, std::slice::from_ref(&record)).await? {
            return Err(CredError::Conflict);
        }
        self.live().put_key(record.clone());
        self.audit("api_key_revoked", "ok", Some(&record.subject), Some(&record.id), actor);
        Ok(self.view(&record, None, None))
    }

    /// Rotates key `id`: a new key with the same grant and lifetime, valid at once; the old
    /// one stays valid for `grace` (0: ends now).
    pub async fn rotate_key(&self, id: &str, grace: Duration, actor: &str) -> Result<KeyView, CredError> {
        let stored = self.stored_key(id).await?;
        let mut old = stored.clone();
        let at = now();
        if !old.valid_at(at) || old.replaced_by.is_some() {
            return Err(CredError::Invalid {
                field: "id",
                message: "the key is revoked, expired or already rotated".into(),
            });
        }
        if grace > self.settings.key_max_ttl {
            return Err(CredError::Invalid {
                field: "grace",
                message: "longer than auth.api_keys.max_ttl".into(),
            });
        }
        let ttl = old
            .expires
            .map_or(self.settings.key_default_ttl, |e| {
                Duration::from_secs(e.saturating_sub(old.created))
            })
            .clamp(Duration::from_secs(1), self.settings.key_max_ttl);
        let (record, key) = self.mint(
            old.subject.clone(),
            old.roles.clone(),
            old.permissions.clone(),
            old.name.clone(),
            ttl,
        );
        old.replaced_by = Some(record.id.clone());
        let until = at + grace.as_secs();
        old.grace_until = Some(old.expires.map_or(until, |e| e.min(until)));
        // Both or neither (a new key nobody was told of, or an old one without its end), and
        // only while the old key is as read: a revocation made meanwhile stands.
        if !self.store.swap_keys(&stored, &[record.clone(), old.clone()]).await? {
            return Err(CredError::Conflict);
        }
        self.live().put_key(record.clone());
        self.live().put_key(old.clone());
        self.audit("api_key_rotated", "ok", Some(&record.subject), Some(&record.id), actor);
        self.audit("api_key_rotated_out", "ok", Some(&old.subject), Some(&old.id), actor);
        Ok(self.view(&record, None, Some(key)).replacing(&old.id))
    }

    /// Every key, with its stored usage and this replica's uses not yet written.
    pub async fn list_keys(&self) -> Result<Vec<KeyView>, CredError> {
        let keys = self.store.keys().await?;
        let usage = self.store.usage().await.unwrap_or_default();
        let mut views: Vec<KeyView> = keys
            .iter()
            .map(|k| self.view(k, usage.get(&k.id).cloned(), None))
            .collect();
        views.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(views)
    }

    /// One key.
    pub async fn key(&self, id: &str) -> Result<KeyView, CredError> {
        let record = self.stored_key(id).await?;
        let usage = self.store.usage().await.unwrap_or_default();
        Ok(self.view(&record, usage.get(id).cloned(), None))
    }

    fn view(&self, k: &KeyRecord, usage: Option<(u64, u64, Option<String>)>, key: Option<String>) -> KeyView {
        let (use_count, last, last_ip) = usage.unwrap_or_default();
        KeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            subject: k.subject.clone(),
            roles: k.roles.clone(),
            permissions: k.permissions.clone(),
            created_at: rfc3339(k.created),
            expires_at: k.expires.map(rfc3339),
            revoked_at: k.revoked.map(rfc3339),
            grace_until: k.grace_until.map(rfc3339),
            replaced_by: k.replaced_by.clone(),
            status: k.status(now()),
            use_count,
            last_used_at: (last > 0).then(|| rfc3339(last)),
            last_ip,
            key,
            replaces: None,
        }
    }
}

impl KeyView {
    fn replacing(mut self, old: &str) -> Self {
        self.replaces = Some(old.to_string());
        self
    }
}
