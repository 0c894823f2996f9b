//! Opening the credential store of a `[state]` backend, for a gateway or a CLI call.

use std::path::Path;
use std::sync::Arc;

use super::embedded::{EmbeddedStore, OpenError};
use super::lifecycle::Credentials;
use super::redis::RedisStore;
use super::settings::CredentialSettings;
use super::store::Store;
use crate::auth::LiveCredentials;
use crate::state::RedisState;
use crate::telemetry::AuditLog;

/// Where to open the store.
#[derive(Debug)]
pub enum Location<'a> {
    /// `state.path`: `credentials.redb` in it; `None`: memory only.
    Embedded(Option<&'a Path>),
    /// The shared Redis connection.
    Redis(Arc<RedisState>),
}

/// Why the store cannot be opened.
#[derive(Debug)]
pub enum Unopened {
    /// A running gateway holds the embedded file: reach it through its admin API.
    Locked,
    Failed(String),
}

impl std::fmt::Display for Unopened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Locked => f.write_str("the embedded store is in use by a running gateway"),
            Self::Failed(error) => f.write_str(error),
        }
    }
}

/// The lifecycle over the store at `location`. The replica's copy is empty until
/// [`Credentials::load`] (embedded copies never go stale; Redis-fed ones do).
pub fn open(location: Location<'_>, settings: CredentialSettings, audit: AuditLog) -> Result<Credentials, Unopened> {
    let (store, live) = match location {
        Location::Embedded(path) => {
            let store = match path {
                Some(path) => EmbeddedStore::open(path).map_err(|e| match e {
                    OpenError::Locked => Unopened::Locked,
                    OpenError::Other(error) => Unopened::Failed(error),
                })?,
                None => EmbeddedStore::in_memory().map_err(Unopened::Failed)?,
            };
            (Store::Embedded(store), LiveCredentials::always_fresh())
        }
        Location::Redis(redis) => {
            let staleness = u64::try_from(settings.max_staleness.as_millis()).unwrap_or(u64::MAX);
            (
                Store::Redis(Box::new(RedisStore::new(redis))),
                LiveCredentials::shared(staleness),
            )
        }
    };
    Ok(Credentials::new(store, Arc::new(live), settings, audit))
}
