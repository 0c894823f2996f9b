//! The validated TLS settings the listener is built from (`[server.tls]`, `[auth.mtls]`).

use std::path::PathBuf;
use std::time::Duration;

use super::identity::SubjectFrom;

/// Whether clients must present a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client without a certificate is accepted (and not identified by one).
    Optional,
    /// The handshake fails without a valid client certificate.
    Required,
}

/// `[server.tls]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// More (cert, key) pairs chosen by SNI.
    pub sni: Vec<(PathBuf, PathBuf)>,
    pub client_ca: Option<PathBuf>,
    pub client_auth: ClientAuth,
    pub crls: Vec<PathBuf>,
    pub reload_check: Duration,
}

/// `[auth.mtls]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtlsSettings {
    pub subject_from: SubjectFrom,
    /// (identity glob, roles), first match wins.
    pub map: Vec<(String, Vec<String>)>,
}
