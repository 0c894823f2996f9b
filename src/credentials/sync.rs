//! Keeping a replica's [`LiveCredentials`] current, off the request path:
//!
//! - Redis: a subscriber applies every published change at once; a poll every
//!   [`CredentialSettings::poll_every`] reads the version — a version this replica did not
//!   hear of (a lost message, a reconnect) triggers a full resync, and every successful poll
//!   confirms the copy fresh; a full resync also runs every `resync_every`. While Redis is
//!   down nothing confirms the copy, so after `revocation_max_staleness` gateway-issued
//!   tokens fail closed.
//! - Both backends: key usage is written in one batch a second (one write per key at most),
//!   expired revocations are dropped, and keys expiring within 14 days are counted and
//!   audited once each.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fred::interfaces::{ClientLike as _, EventInterface as _, PubsubInterface as _};

use super::lifecycle::Credentials;
use super::redis::Change;
use super::store::Store;
use crate::auth::key_record::EXPIRY_WARNING_SECS;
use crate::auth::now;
use crate::telemetry::{AuditEvent, AuditLog, Metrics};

/// How often expired revocations are dropped and expiring keys counted (a walk over the
/// replica's copy: 10 000 keys take well under a millisecond).
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(2);

/// How the sync loop reports.
#[derive(Debug)]
pub struct SyncReport {
    pub metrics: Arc<Metrics>,
    pub audit: AuditLog,
}

/// The highest change version this replica has applied.
#[derive(Debug, Default)]
struct Seen(AtomicU64);

impl Seen {
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn raise(&self, v: u64) {
        self.0.fetch_max(v, Ordering::Relaxed);
    }
    /// After a full load: the version it returned (see [`Credentials::load`]); also follows a
    /// version that went back (a Redis restored from an older file).
    fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
}

/// Loads this replica's copy before the first request, then keeps it current in the
/// background until `stop` resolves. An embedded store that cannot be read fails the start
/// (its copy is never stale: serving without it would accept revoked tokens); a shared one
/// that cannot be read now leaves the copy stale — gateway-issued tokens fail closed — until
/// the loop reaches it.
pub async fn start(
    credentials: Arc<Credentials>,
    report: SyncReport,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    credentials.wait_connected(Duration::from_secs(2)).await;
    let loaded = match tokio::time::timeout(Duration::from_secs(2), credentials.load()).await {
        Ok(Ok(version)) => Some(version),
        Ok(Err(error)) if !credentials.shared() => return Err(format!("credential store: {error}")),
        Err(_) if !credentials.shared() => return Err("credential store: not loaded within 2 s".into()),
        Ok(Err(error)) => {
            tracing::error!(%error, "credential store not loaded at start; retrying in the background");
            None
        }
        Err(_) => {
            tracing::error!("credential store not loaded at start (timed out); retrying in the background");
            None
        }
    };
    let seen = Seen::default();
    // Not loaded: a version no store has, so the first poll loads.
    seen.set(loaded.unwrap_or(u64::MAX));
    tokio::spawn(run(credentials, report, Arc::new(seen), stop));
    Ok(())
}

/// Keeps the copy current until `stop` resolves.
async fn run(
    credentials: Arc<Credentials>,
    report: SyncReport,
    seen: Arc<Seen>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    tokio::pin!(stop);
    let subscriber = match &credentials.store {
        Store::Redis(redis) => subscribe(&credentials, redis, &seen).await,
        Store::Embedded(_) => None,
    };
    // Subscribed once: fred resubscribes by itself after a reconnect (`manage_subscriptions`).
    let mut subscribed = false;
    if let (Some(client), Store::Redis(redis)) = (&subscriber, &credentials.store) {
        let attempt = tokio::time::timeout(Duration::from_secs(1), client.subscribe(redis.channel())).await;
        subscribed = matches!(attempt, Ok(Ok(())));
    }
    let poll = credentials.settings.poll_every();
    let mut last_full = Instant::now();
    let mut last_usage = Instant::now();
    let mut last_housekeeping: Option<Instant> = None;
    let mut warned: HashSet<String> = HashSet::new();
    let mut stale_reported = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            () = &mut stop => break,
        }
        if let Store::Redis(redis) = &credentials.store {
            if let (false, Some(client)) = (subscribed, &subscriber) {
                let attempt = tokio::time::timeout(Duration::from_secs(1), client.subscribe(redis.channel())).await;
                subscribed = matches!(attempt, Ok(Ok(())));
            }
            if credentials.persistent().is_none() {
                credentials.probe_persistence().await;
            }
            if let Ok(version) = Box::pin(redis.version()).await {
                let behind = version != seen.get();
                if behind || last_full.elapsed() >= credentials.settings.resync_every {
                    if let Ok(loaded) = Box::pin(credentials.load()).await {
                        seen.set(loaded);
                        last_full = Instant::now();
                    }
                } else {
                    credentials.live().confirm();
                }
            }
            let fresh = credentials.live().fresh();
            report.metrics.credentials_stale(!fresh);
            if !fresh && !stale_reported {
                tracing::error!(
                    "credential store unreachable past revocation_max_staleness: gateway-issued tokens fail closed"
                );
                let mut event = AuditEvent::new("revocations_stale", "deny", "revocations_stale");
                event.detail = Some("revocations cannot be confirmed current: gateway-issued tokens are refused (503)");
                report.audit.record(&event);
            } else if fresh && stale_reported {
                tracing::info!("credential store reachable again: revocations current");
            }
            stale_reported = !fresh;
        }
        if last_usage.elapsed() >= Duration::from_secs(1) {
            last_usage = Instant::now();
            let batch = credentials.live().take_usage();
            if !batch.is_empty()
                && let Err(error) = Box::pin(credentials.store.add_usage(batch)).await
            {
                tracing::warn!(%error, "key usage statistics not written");
            }
        }
        if last_housekeeping.is_none_or(|at| at.elapsed() >= HOUSEKEEPING_EVERY) {
            last_housekeeping = Some(Instant::now());
            housekeeping(&credentials, &report, &mut warned);
        }
    }
    // The last second of usage.
    let batch = credentials.live().take_usage();
    if !batch.is_empty() {
        let _ = Box::pin(credentials.store.add_usage(batch)).await;
    }
    if let Some(subscriber) = subscriber {
        let _ = subscriber.quit().await;
    }
}

/// Drops expired revocations from the copy, counts keys about to expire (auditing each once).
fn housekeeping(credentials: &Credentials, report: &SyncReport, warned: &mut HashSet<String>) {
    let at = now();
    credentials.live().drop_expired(at);
    let mut expiring = 0;
    for key in credentials.live().keys() {
        let soon = key.valid_at(at) && key.expires.is_some_and(|e| e.saturating_sub(at) < EXPIRY_WARNING_SECS);
        if soon {
            expiring += 1;
            if warned.insert(key.id.clone()) {
                let mut event = AuditEvent::new("api_key_expiring", "allow", "expires_within_14_days");
                event.subject = Some(&key.subject);
                event.key_id = Some(&key.id);
                let detail = format!("expires {}", super::lifecycle::rfc3339(key.expires.unwrap_or_default()));
                event.detail = Some(&detail);
                report.audit.record(&event);
            }
        }
    }
    report.metrics.api_keys_expiring(expiring);
}

/// Subscribes to the change channel; every change is applied as it arrives.
async fn subscribe(
    credentials: &Arc<Credentials>,
    redis: &super::redis::RedisStore,
    seen: &Arc<Seen>,
) -> Option<fred::clients::SubscriberClient> {
    let subscriber = match redis.redis.subscriber() {
        Ok(subscriber) => subscriber,
        Err(error) => {
            tracing::error!(%error, "cannot build the revocation subscriber; relying on polls");
            return None;
        }
    };
    let mut messages = subscriber.message_rx();
    drop(subscriber.connect());
    let _ = tokio::time::timeout(Duration::from_secs(2), subscriber.wait_for_connect()).await;
    drop(subscriber.manage_subscriptions());
    let (credentials, seen) = (Arc::clone(credentials), Arc::clone(seen));
    tokio::spawn(async move {
        loop {
            let message = match messages.recv().await {
                Ok(message) => message,
                // Missed messages: the next poll sees the version move and resyncs.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            let Some(text) = message.value.as_str().map(|s| s.to_string()) else {
                continue;
            };
            let Ok(change) = serde_json::from_str::<Change>(&text) else {
                tracing::warn!("unreadable credential change message");
                continue;
            };
            // Only changes newer than the last full load: an older one is already in it.
            if change.v <= seen.get() {
                continue;
            }
            for key in change.keys {
                credentials.live().put_key(key);
            }
            if let Some(revocation) = change.revocation {
                credentials.live().revoke(revocation);
            }
            // A gap (a change not heard of) leaves `seen` behind, so the next poll resyncs.
            if seen.get().checked_add(1) == Some(change.v) {
                seen.raise(change.v);
            }
        }
    });
    Some(subscriber)
}
