//! `portcullis revoke --jti J | --sub S | --family F` (and `--list`): withdraw gateway-issued
//! tokens on every replica, through the store or a running gateway's admin API.

use std::path::Path;
use std::process::ExitCode;

use super::access::{self, AdminArgs, Failure};
use crate::auth::revocation::RevocationKind;

/// What to revoke (exactly one), or `--list`.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// One token, by its `jti`.
    #[arg(long)]
    pub jti: Option<String>,
    /// Every token of this subject issued before now (refresh families included).
    #[arg(long)]
    pub sub: Option<String>,
    /// A refresh family: every access and refresh token descended from one login.
    #[arg(long)]
    pub family: Option<String>,
    /// List the revocations in force.
    #[arg(long)]
    pub list: bool,
}

pub(super) fn run(target: Target, json: bool, admin: &AdminArgs, path: &Path) -> ExitCode {
    access::run(path, admin, async |_, access| {
        if target.list {
            let value = access.revocations().await?;
            access::print(&value, json, |v| {
                let mut out = format!("{:<34} {:<7} {:<34} {}\n", "ID", "KIND", "VALUE", "EXPIRES");
                for r in v.as_array().map(Vec::as_slice).unwrap_or_default() {
                    out.push_str(&format!(
                        "{:<34} {:<7} {:<34} {}\n",
                        r["id"].as_str().unwrap_or("-"),
                        r["kind"].as_str().unwrap_or("-"),
                        r["value"].as_str().unwrap_or("-"),
                        r["expires_at"].as_str().unwrap_or("-"),
                    ));
                }
                out
            });
            return Ok(());
        }
        let (kind, value) = match (&target.jti, &target.sub, &target.family) {
            (Some(jti), _, _) => (RevocationKind::Jti, jti),
            (_, Some(sub), _) => (RevocationKind::Sub, sub),
            (_, _, Some(family)) => (RevocationKind::Family, family),
            _ => return Err(Failure("give one of --jti, --sub, --family, --list".into(), 1)),
        };
        let record = access.revoke(kind, value).await?;
        access::print(&record, json, |v| {
            format!(
                "revoked {} {} (kept until {})",
                v["kind"].as_str().unwrap_or("-"),
                v["value"].as_str().unwrap_or("-"),
                v["expires_at"].as_str().unwrap_or("-")
            )
        });
        Ok(())
    })
}
