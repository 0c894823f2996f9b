//! TLS: certificate files, the public listener's rustls config (SNI, mTLS, CRLs, hot
//! reload), and what a certificate says (identity, expiry).

mod error;
pub mod files;
pub mod identity;
pub mod server;
mod settings;

pub use error::TlsError;
pub use server::TlsServer;
pub use settings::{ClientAuth, MtlsSettings, TlsSettings};
