//! Configuration: `gateway.toml` → [`RawConfig`] (serde, unknown keys rejected) → [`Config`]
//! (validated, typed). Errors always name the TOML key path. Reload lives in `reload.rs`.

mod auth;
mod duration;
mod env;
mod limits;
mod policy;
pub mod raw;
mod reload;
mod state;
mod tls;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use auth::parse_date;
pub use duration::parse_duration;
pub use raw::RawConfig;
pub use reload::{Reloader, Route, Snapshot};
pub use validate::{AdminConfig, AuditConfig, Config, Secret, ServerConfig, Timeouts};

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

/// Where the config file is: `--config`, else `$PORTCULLIS_CONFIG`, else `./gateway.toml`.
pub fn resolve_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("PORTCULLIS_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("gateway.toml"))
}

/// Reads, interpolates and validates a config file.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at("", format!("cannot read {}: {e}", path.display())))?;
    load_str(&text, &|name| std::env::var(name).ok())
}

/// Parses and validates config text; `lookup` resolves `${NAME}` references.
pub fn load_str(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let raw = parse_raw(text, lookup)?;
    Config::try_from(raw)
}

/// Parses text into the raw layer (syntax, interpolation, unknown keys, types).
pub fn parse_raw(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<RawConfig, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::at("", format!("invalid TOML: {e}")))?;
    let mut value = toml::Value::Table(table);
    env::interpolate(&mut value, "", lookup)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        let message = e.into_inner().to_string();
        let first_line = message.lines().next().unwrap_or_default().trim().to_string();
        ConfigError::at(key, first_line)
    })
}

/// The JSON Schema of `gateway.toml`, for editor completion.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawConfig)).unwrap_or_default()
}
