//! `portcullis token issue` and `portcullis token decode`.

use std::path::Path;
use std::process::ExitCode;

use super::{TokenCommand, load, write_err, write_out};
use crate::config;

pub(super) fn run(command: TokenCommand, path: &Path) -> ExitCode {
    let config = match load(path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(jwt) = config.auth.jwt.as_ref() else {
        write_err(&format!("{}: `auth.jwt`: no keys configured", path.display()));
        return ExitCode::from(1);
    };
    match command {
        TokenCommand::Issue {
            sub,
            roles,
            permissions,
            username,
            ttl,
        } => {
            let ttl = match ttl.as_deref().map(config::parse_duration).transpose() {
                Ok(ttl) => ttl,
                Err(error) => {
                    write_err(&format!("--ttl: {error}"));
                    return ExitCode::from(1);
                }
            };
            match jwt.issue(&sub, username.as_deref(), &roles, &permissions, ttl) {
                Ok((access, refresh, expires_in)) => {
                    let out = serde_json::json!({
                        "access_token": access,
                        "refresh_token": refresh,
                        "token_type": "Bearer",
                        "expires_in": expires_in,
                    });
                    write_out(&serde_json::to_string_pretty(&out).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    write_err(&format!("cannot issue: {error}"));
                    ExitCode::from(1)
                }
            }
        }
        TokenCommand::Decode { token } => {
            use base64::Engine as _;
            let decode = |part: Option<&str>| {
                part.and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
                    .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            };
            let mut parts = token.split('.');
            let (header, claims) = (decode(parts.next()), decode(parts.next()));
            let out = serde_json::json!({
                "header": header,
                "claims": claims,
                "signature_verifies": jwt.signature_ok(&token),
                "accepted_as_access_token": jwt.verify(&token).is_ok(),
            });
            write_out(&serde_json::to_string_pretty(&out).unwrap_or_default());
            ExitCode::SUCCESS
        }
    }
}
