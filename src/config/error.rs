//! `ConfigError`: what is wrong in a config and under which TOML key; subsystems' own
//! `(key, message)` errors and `TlsError` convert into it.

use std::fmt;

/// A configuration error: the TOML key path it concerns and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path such as `upstreams[0].url`; empty for file-level errors.
    pub key: String,
    /// What is wrong, for a human.
    pub message: String,
}

impl ConfigError {
    /// An error at `key`.
    pub fn at(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<crate::tls::TlsError> for ConfigError {
    fn from(error: crate::tls::TlsError) -> Self {
        Self::at(error.key, error.message)
    }
}

impl From<(String, String)> for ConfigError {
    /// The `(key, message)` errors of subsystem constructors.
    fn from((key, message): (String, String)) -> Self {
        Self::at(key, message)
    }
}
