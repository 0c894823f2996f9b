//! `Credentials`: the lifecycle of credentials the gateway issues — tokens and their refresh
//! families, dynamic API keys, revocations — over the [`Store`], keeping this replica's
//! [`LiveCredentials`] in step with every change it makes. The admin API and the CLI call the
//! same operations; each is audited with who asked.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::family::{self, Family, RefreshRecord, Rotation};
use super::settings::CredentialSettings;
use super::store::{Store, StoreError};
use crate::auth::jwt::{Grant, JwtSettings};
use crate::auth::revocation::{Revocation, RevocationKind};
use crate::auth::{LiveCredentials, now};
use crate::telemetry::{AuditEvent, AuditLog};

/// Why a lifecycle call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredError {
    /// Bad input: the field and what is wrong (400).
    Invalid { field: &'static str, message: String },
    /// No such key (404).
    NotFound,
    /// The key changed while this call worked on it (a concurrent revoke or rotate): 409,
    /// nothing written.
    Conflict,
    /// The store could not be reached or written (503): nothing was changed.
    Store(StoreError),
    /// Signing failed (no signing key): a configuration matter.
    Signing(String),
}

impl std::fmt::Display for CredError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid { field, message } => write!(f, "{field}: {message}"),
            Self::NotFound => f.write_str("not found"),
            Self::Conflict => f.write_str("the key changed meanwhile; nothing was written, try again"),
            Self::Store(error) => error.fmt(f),
            Self::Signing(error) => write!(f, "cannot sign: {error}"),
        }
    }
}

impl From<StoreError> for CredError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Why a refresh was refused (RFC 6749 §5.2 codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    /// `invalid_grant`: unknown, used, expired or revoked; the audit reason says which.
    InvalidGrant(&'static str),
    /// The store could not decide (503): the token stays as it was.
    Unavailable,
    /// Signing failed.
    Signing(String),
}

/// An RFC 6749 token response (plus the family id).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub refresh_expires_in: u64,
    pub family_id: String,
}

/// A revocation as shown.
#[derive(Debug, Clone, Serialize)]
pub struct RevocationView {
    pub id: String,
    pub kind: &'static str,
    pub value: String,
    pub created_at: String,
    pub expires_at: String,
}

/// RFC 3339 of unix seconds.
pub fn rfc3339(secs: u64) -> String {
    crate::telemetry::audit::format_rfc3339(secs, 0).replace(".000Z", "Z")
}

impl From<&Revocation> for RevocationView {
    fn from(r: &Revocation) -> Self {
        Self {
            id: r.id.clone(),
            kind: r.kind.label(),
            value: r.value.clone(),
            created_at: rfc3339(r.created),
            expires_at: rfc3339(r.expires),
        }
    }
}

/// The credential lifecycle of one gateway (or one CLI call).
#[derive(Debug)]
pub struct Credentials {
    pub(crate) store: Store,
    live: Arc<LiveCredentials>,
    pub(crate) settings: CredentialSettings,
    audit: AuditLog,
    /// Whether the shared store keeps writes across its own restart: 0 unknown, 1 yes, 2 no.
    persistent: std::sync::atomic::AtomicU8,
}

pub(super) fn check_names(field: &'static str, values: &[String]) -> Result<(), CredError> {
    for value in values {
        if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
            return Err(CredError::Invalid {
                field,
                message: "entries must be 1 to 256 printable characters".into(),
            });
        }
    }
    Ok(())
}

pub(super) fn check_subject(field: &'static str, subject: &str) -> Result<(), CredError> {
    if subject.is_empty() || subject.len() > 256 || subject.chars().any(char::is_control) {
        return Err(CredError::Invalid {
            field,
            message: "must be 1 to 256 printable characters".into(),
        });
    }
    Ok(())
}

impl Credentials {
    /// The lifecycle over `store`, feeding `live`.
    pub fn new(store: Store, live: Arc<LiveCredentials>, settings: CredentialSettings, audit: AuditLog) -> Self {
        Self {
            store,
            live,
            settings,
            audit,
            persistent: std::sync::atomic::AtomicU8::new(0),
        }
    }

    /// Whether Redis keeps credentials across its own restart (AOF on); `None`: embedded, or
    /// not known yet.
    pub fn persistent(&self) -> Option<bool> {
        match self.persistent.load(std::sync::atomic::Ordering::Relaxed) {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        }
    }

    /// Asks Redis whether its persistence is on (warned by `/readyz` and `check` when off).
    pub async fn probe_persistence(&self) -> Option<bool> {
        let super::store::Store::Redis(redis) = &self.store else {
            return None;
        };
        let on = Box::pin(redis.redis.persistent()).await.ok()?;
        self.persistent
            .store(if on { 1 } else { 2 }, std::sync::atomic::Ordering::Relaxed);
        if !on {
            tracing::warn!(
                "Redis persistence (AOF) is off: API keys, revocations and refresh families are lost if Redis restarts"
            );
        }
        Some(on)
    }

    /// This replica's copy (what the request path reads).
    pub fn live(&self) -> &Arc<LiveCredentials> {
        &self.live
    }

    /// The settings.
    pub fn settings(&self) -> &CredentialSettings {
        &self.settings
    }

    /// Writes every audit event recorded so far (a command about to exit).
    pub fn flush_audit(&self) {
        self.audit.flush();
    }

    /// Whether replicas share the store.
    pub fn shared(&self) -> bool {
        self.store.shared()
    }

    pub(super) fn audit(
        &self,
        event: &'static str,
        reason: &'static str,
        subject: Option<&str>,
        key_id: Option<&str>,
        actor: &str,
    ) {
        let mut record = AuditEvent::new(event, "allow", reason);
        record.subject = subject;
        record.key_id = key_id;
        let detail = format!("by {actor}");
        record.detail = Some(&detail);
        self.audit.record(&record);
    }

    /// Waits up to `limit` for a shared store's first connection (no-op when embedded).
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        match &self.store {
            Store::Redis(redis) => redis.redis.wait_connected(limit).await,
            Store::Embedded(_) => true,
        }
    }

    /// Fills this replica's copy from the store (at start, and each full resync). Returns the
    /// change version read *before* the load (0 embedded): a change applied while it ran may
    /// have been replaced by its older view, and starting from the earlier version makes the
    /// next poll see the difference and load again.
    pub async fn load(&self) -> Result<u64, StoreError> {
        let version = match &self.store {
            Store::Redis(redis) => Box::pin(redis.version()).await?,
            Store::Embedded(_) => 0,
        };
        let keys = self.store.keys().await?;
        let revocations = self.store.revocations().await?;
        self.live.replace_keys(keys);
        self.live.replace_revocations(revocations);
        self.live.confirm();
        Ok(version)
    }

    /// Mints an access token and a new refresh family for `grant` (`token issue`,
    /// `POST /admin/tokens`).
    pub async fn issue(
        &self,
        jwt: &JwtSettings,
        grant: Grant,
        ttl: Option<Duration>,
        actor: &str,
    ) -> Result<TokenResponse, CredError> {
        check_subject("sub", &grant.subject)?;
        check_names("roles", &grant.roles)?;
        check_names("permissions", &grant.permissions)?;
        if let Some(ttl) = ttl
            && (ttl > self.settings.access_max_ttl || ttl.is_zero())
        {
            return Err(CredError::Invalid {
                field: "ttl",
                message: format!(
                    "must be greater than 0 and at most {}s (auth.jwt.max_ttl)",
                    self.settings.access_max_ttl.as_secs()
                ),
            });
        }
        let issued = now();
        let family = Family {
            id: crate::auth::jwt::random_id(),
            grant,
            created: issued,
            expires: issued + self.settings.refresh_ttl.as_secs(),
            revoked: None,
        };
        let access = jwt
            .issue_access(&family.grant, Some(&family.id), ttl)
            .map_err(CredError::Signing)?;
        let (refresh, hash) = family::new_refresh_token();
        let first = RefreshRecord {
            hash,
            family: family.id.clone(),
            used: 0,
            expires: family.expires,
        };
        self.store.create_family(&family, &first).await?;
        self.audit(
            "token_issued",
            "ok",
            Some(&family.grant.subject),
            Some(&access.jti),
            actor,
        );
        Ok(TokenResponse {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_in,
            refresh_token: refresh,
            refresh_expires_in: family.expires.saturating_sub(issued),
            family_id: family.id,
        })
    }

    /// Rotates a refresh token (RFC 6749 §6 with RFC 9700 §4.14 reuse detection): the old
    /// token retires, a new one and a new access token come back; a used token presented
    /// again revokes its whole family on every replica.
    pub async fn refresh(
        &self,
        jwt: &JwtSettings,
        token: &str,
        client_ip: Option<std::net::IpAddr>,
    ) -> Result<TokenResponse, RefreshError> {
        if !token.starts_with(family::REFRESH_PREFIX) || token.len() != family::REFRESH_PREFIX.len() + 43 {
            return Err(RefreshError::InvalidGrant("refresh_unknown"));
        }
        if self.store.shared() && !self.live.fresh() {
            return Err(RefreshError::Unavailable);
        }
        let old = family::digest(token);
        // Everything that can fail is asked before the token is spent: a failure here leaves
        // it as it was, so the client's retry is not taken for reuse.
        let record = match self.store.refresh_record(&old).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(RefreshError::InvalidGrant("refresh_unknown")),
            Err(_) => return Err(RefreshError::Unavailable),
        };
        let family = match self.store.family(&record.family).await {
            Ok(Some(family)) => family,
            Ok(None) => return Err(RefreshError::InvalidGrant("refresh_unknown")),
            Err(_) => return Err(RefreshError::Unavailable),
        };
        // A family's own revocation (reuse, an operator) is decided by the rotation itself,
        // atomically; a subject-wide one lives in the revocation set.
        if self.live.subject_revoked(&family.grant.subject, family.created) {
            return Err(RefreshError::InvalidGrant("refresh_family_revoked"));
        }
        if !jwt.can_sign() {
            return Err(RefreshError::Signing("no configured key can sign".into()));
        }
        let issued = now();
        // Kept until the last access token the family could have minted has expired.
        let until = family.expires + self.settings.access_max_ttl.as_secs() + 60;
        let reuse = Revocation::new(RevocationKind::Family, &family.id, issued, until);
        let (next, next_hash) = family::new_refresh_token();
        let rotation = self
            .store
            .rotate(&old, &next_hash, issued, &reuse)
            .await
            .map_err(|_| RefreshError::Unavailable)?;
        match rotation {
            Rotation::Rotated(_) => {}
            Rotation::Invalid => return Err(RefreshError::InvalidGrant("refresh_unknown")),
            Rotation::FamilyRevoked(_) => return Err(RefreshError::InvalidGrant("refresh_family_revoked")),
            Rotation::Reused(id) => {
                // Stored with the rotation and published: every replica refuses the family.
                self.live.revoke(reuse);
                let mut event = AuditEvent::new("refresh_reuse", "deny", "refresh_reused");
                event.key_id = Some(&id);
                event.detail = Some("a retired refresh token was presented again: the whole family is revoked");
                event.client_ip = client_ip;
                self.audit.record(&event);
                tracing::warn!(family = %id, ip = ?client_ip, "refresh token reuse: family revoked");
                return Err(RefreshError::InvalidGrant("refresh_reused"));
            }
        }
        let access = jwt
            .issue_access(&family.grant, Some(&family.id), None)
            .map_err(RefreshError::Signing)?;
        let mut event = AuditEvent::new("token_refreshed", "allow", "ok");
        event.subject = Some(&family.grant.subject);
        event.key_id = Some(&access.jti);
        event.client_ip = client_ip;
        self.audit.record(&event);
        Ok(TokenResponse {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_in,
            refresh_token: next,
            refresh_expires_in: family.expires.saturating_sub(issued),
            family_id: family.id,
        })
    }

    /// Revokes a token id, a subject's tokens issued before now, or a family — on every
    /// replica, kept until nothing it names can still be valid.
    pub async fn revoke(&self, kind: RevocationKind, value: &str, actor: &str) -> Result<Revocation, CredError> {
        let field = match kind {
            RevocationKind::Jti => "jti",
            RevocationKind::Sub => "sub",
            RevocationKind::Family => "family_id",
        };
        check_subject(field, value)?;
        let at = now();
        let longest = self.settings.access_max_ttl.max(self.settings.refresh_ttl).as_secs();
        let expires = match kind {
            RevocationKind::Jti => at + self.settings.access_max_ttl.as_secs() + 60,
            RevocationKind::Sub | RevocationKind::Family => at + longest + 60,
        };
        let revocation = Revocation::new(kind, value, at, expires);
        self.store.put_revocation(&revocation).await?;
        if kind == RevocationKind::Family {
            self.store.kill_family(value, at).await?;
        }
        self.live.revoke(revocation.clone());
        let event = match kind {
            RevocationKind::Jti => "token_revoked",
            RevocationKind::Sub => "subject_revoked",
            RevocationKind::Family => "family_revoked",
        };
        let subject = (kind == RevocationKind::Sub).then_some(value);
        let key_id = (kind != RevocationKind::Sub).then_some(value);
        self.audit(event, "ok", subject, key_id, actor);
        Ok(revocation)
    }

    /// Every revocation in the store.
    pub async fn revocations(&self) -> Result<Vec<Revocation>, CredError> {
        let mut all = self.store.revocations().await?;
        all.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    /// Deletes expired revocations (and refresh records), here and in the store.
    pub async fn purge_expired(&self, actor: &str) -> Result<usize, CredError> {
        let at = now();
        let removed = self.store.purge_expired(at).await?;
        self.live.drop_expired(at);
        self.audit("revocations_purged", "ok", None, None, actor);
        Ok(removed)
    }
}
