//! Configuration: `gateway.toml` → [`RawConfig`] (serde, unknown keys rejected) → [`Config`]
//! (validated, typed). Errors always name the TOML key path. Reload lives in `reload.rs`.

mod audit;
mod auth;
mod credentials;
mod duration;
mod env;
mod error;
mod limits;
mod load;
mod policy;
pub mod raw;
mod reload;
mod state;
mod tls;
mod validate;

pub use auth::parse_date;
pub use duration::parse_duration;
pub use error::ConfigError;
pub use load::{json_schema, load_file, load_str, parse_raw, resolve_path};
pub use raw::RawConfig;
pub use reload::{Reloader, Route, Snapshot};
pub use validate::{AdminConfig, AuditConfig, Config, Secret, ServerConfig, Timeouts};
