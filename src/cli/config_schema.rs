//! `portcullis config schema`: the JSON Schema of `gateway.toml`.

use std::process::ExitCode;

use super::write_out;

pub(super) fn run() -> ExitCode {
    let schema = serde_json::to_string_pretty(&crate::config::json_schema()).unwrap_or_default();
    write_out(&schema);
    ExitCode::SUCCESS
}
