//! The credential lifecycle: tokens the gateway issues with their refresh families
//! (rotation, reuse detection), dynamic API keys (create, rotate with grace, revoke, usage),
//! revocations — in the state store (embedded redb file or Redis, shared by replicas) and in
//! each replica's [`crate::auth::LiveCredentials`], kept current by `sync.rs` so the request
//! path never waits on the store.
//!
//! `lifecycle.rs` holds the operations (`Credentials`: tokens, refresh, revocations; `keys.rs`
//! the dynamic keys), `store.rs` the backend switch over
//! `embedded.rs` and `redis.rs`, `family.rs` the refresh records, `record.rs` + `backup.rs`
//! export/import, `open.rs` how a gateway or the CLI opens it.

mod backup;
mod embedded;
mod family;
mod keys;
mod lifecycle;
mod open;
mod record;
mod redis;
mod settings;
mod store;
pub mod sync;

pub use backup::Imported;
pub use family::{Family, REFRESH_PREFIX, RefreshRecord};
pub use keys::{KeyView, NewKey};
pub use lifecycle::{CredError, Credentials, RefreshError, RevocationView, TokenResponse, rfc3339};
pub use open::{Location, Unopened, open};
pub use record::Record;
pub use settings::CredentialSettings;
pub use store::StoreError;
