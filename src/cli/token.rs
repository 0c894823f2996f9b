//! `portcullis token issue` (an access token and a refresh family, through the store or a
//! running gateway's admin API) and `portcullis token decode`.

use std::path::Path;
use std::process::ExitCode;

use super::access;
use super::{TokenCommand, load, write_err, write_out};
use crate::auth::jwt::Grant;
use crate::config;

pub(super) fn run(command: TokenCommand, path: &Path) -> ExitCode {
    match command {
        TokenCommand::Issue {
            sub,
            roles,
            permissions,
            username,
            ttl,
            json,
            mut admin,
        } => {
            admin.memory_ok = true;
            let ttl_value = match ttl.as_deref().map(config::parse_duration).transpose() {
                Ok(ttl) => ttl,
                Err(error) => {
                    write_err(&format!("--ttl: {error}"));
                    return ExitCode::from(1);
                }
            };
            access::run(path, &admin, async |config, access| {
                access::known_roles(config, &roles)?;
                let grant = Grant {
                    subject: sub.clone(),
                    username: username.clone(),
                    roles: roles.clone(),
                    permissions: permissions.clone(),
                };
                let issued = access.issue(config, grant, ttl_value, ttl.as_deref()).await?;
                access::print(&issued, json, |v| serde_json::to_string_pretty(v).unwrap_or_default());
                Ok(())
            })
        }
        TokenCommand::Decode { token } => {
            let config = match load(path) {
                Ok(config) => config,
                Err(code) => return code,
            };
            let Some(jwt) = config.auth.jwt.as_ref() else {
                write_err(&format!("{}: `auth.jwt`: no keys configured", path.display()));
                return ExitCode::from(1);
            };
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
