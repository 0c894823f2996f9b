//! `portcullis hash-key [KEY]` and `portcullis gen-secret`: secrets for the config file.

use std::process::ExitCode;

use super::{write_err, write_out};
use crate::auth::api_key;

/// The `sha256:` form of `key`; without one, a new key and its hash.
pub(super) fn hash_key(key: Option<String>) -> ExitCode {
    match key {
        Some(key) if key.is_empty() => {
            write_err("hash-key: the key is empty");
            return ExitCode::from(1);
        }
        Some(key) => write_out(&api_key::hash(&key)),
        None => {
            let key = api_key::generate();
            write_out(&format!("key:  {key}\nhash: {}", api_key::hash(&key)));
        }
    }
    ExitCode::SUCCESS
}

/// 64 random bytes, URL-safe base64.
pub(super) fn gen_secret() -> ExitCode {
    use base64::Engine as _;
    let mut bytes = [0u8; 64];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    write_out(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    ExitCode::SUCCESS
}
