//! TLS: certificate files, the public listener's rustls config (SNI, mTLS, CRLs, hot
//! reload), and what a certificate says (identity, expiry).

pub mod files;
pub mod identity;
pub mod server;

pub use server::TlsServer;
