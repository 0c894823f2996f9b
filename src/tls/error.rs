//! `TlsError`: a TLS file or setting that does not work, with the config key it concerns
//! (config turns it into its own `ConfigError`; a reload logs it as is).

use std::fmt;

/// What is wrong and under which config key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    /// Dotted key path such as `server.tls.cert`.
    pub key: String,
    /// What is wrong, for a human.
    pub message: String,
}

impl TlsError {
    /// An error at `key`.
    pub fn at(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for TlsError {}
