//! Authentication: who is calling. Order: a verified client certificate (mTLS), then
//! `Authorization: Bearer` (a Portcullis JWT, or an `mcp_` API key), then the API-key header.
//! More than one credential is refused rather than resolved. Credentials never leave this
//! module: the `Principal` carries ids, never secrets.

pub mod api_key;
mod authenticator;
mod cache;
mod clock;
mod failure;
pub(crate) mod fetch;
pub mod issuer;
pub mod jwt;
pub mod key_record;
mod live;
mod principal;
pub mod revocation;

pub use authenticator::Authenticator;
pub use cache::TokenCache;
pub(crate) use clock::now;
pub use failure::AuthFailure;
pub use live::{LiveCredentials, Usage};
pub use principal::{AuthMethod, Principal};
