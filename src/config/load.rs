//! Reading a config: the file's path, TOML → the raw layer (interpolation, unknown keys,
//! types) → the validated `Config`; the JSON Schema of the raw layer.

use std::path::{Path, PathBuf};

use super::{Config, ConfigError, RawConfig, env};

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
