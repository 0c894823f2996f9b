//! `portcullis check`: load and validate the config, print a summary (routes, audit sink,
//! certificates with their expiry).

use std::path::Path;
use std::process::ExitCode;

use super::{load, write_out};
use crate::config::Config;
use crate::telemetry::AuditSink;
use crate::upstream::RouteAuth;

pub(super) fn run(path: &Path) -> ExitCode {
    match load(path) {
        Ok(config) => {
            let mut out = summary(&config, path);
            out.push_str(&credentials_summary(&config));
            write_out(&out);
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The credential store: where it is, how many keys it holds, and warnings — no pepper, no
/// durable store, Redis persistence off, keys expiring within 14 days. Never fails `check`:
/// a store it cannot reach is said so.
fn credentials_summary(config: &Config) -> String {
    use crate::state::Backend;
    let mut out = String::new();
    if config.auth.api_key_header.is_some() && config.credentials.pepper.is_none() {
        out.push_str(
            "WARNING: auth.api_keys.pepper is unset: dynamic API keys are stored as plain SHA-256 (set a 32-byte pepper; `portcullis gen-secret` makes one)\n",
        );
    }
    match &config.state.backend {
        Backend::Embedded { path: None } => {
            out.push_str(
                "WARNING: state.path is unset: API keys, revocations and refresh families end with the process\n",
            );
            return out;
        }
        // `check` creates nothing: a store not made yet is only named.
        Backend::Embedded { path: Some(path) } if !path.join("credentials.redb").exists() => {
            out.push_str(&format!("credential store: {} (not created yet)\n", path.display()));
            return out;
        }
        _ => {}
    }
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return out;
    };
    let report = runtime.block_on(async {
        let access = match super::access::Access::open(config, &super::access::AdminArgs::default()).await {
            Ok(access) => access,
            Err(super::access::Failure(message, _)) => return format!("credential store: {message}\n"),
        };
        let Ok(credentials) = access.direct() else {
            return "credential store: in use by a running gateway (`keys list` reaches it through the admin API)\n".into();
        };
        let mut report = String::new();
        if credentials.shared() {
            match tokio::time::timeout(std::time::Duration::from_secs(3), credentials.probe_persistence()).await {
                Ok(Some(true)) => report.push_str("credential store: Redis, persistence (AOF) on\n"),
                Ok(Some(false)) => report.push_str(
                    "WARNING: Redis persistence (AOF) is off: API keys, revocations and refresh families are lost if Redis restarts\n",
                ),
                _ => return "credential store: Redis unreachable\n".into(),
            }
        }
        match tokio::time::timeout(std::time::Duration::from_secs(3), credentials.list_keys()).await {
            Ok(Ok(keys)) => {
                let active = keys.iter().filter(|k| matches!(k.status, "active" | "expiring" | "rotated")).count();
                report.push_str(&format!("dynamic API keys: {} ({active} valid)\n", keys.len()));
                for key in keys.iter().filter(|k| k.status == "expiring") {
                    report.push_str(&format!(
                        "WARNING: API key {} ({}) expires {}\n",
                        key.id,
                        key.subject,
                        key.expires_at.as_deref().unwrap_or("-")
                    ));
                }
            }
            _ => report.push_str("credential store: keys not readable\n"),
        }
        report
    });
    out.push_str(&report);
    out
}

/// The `check` summary.
pub fn summary(config: &Config, path: &std::path::Path) -> String {
    let mut out = format!("{}: OK\n", path.display());
    out.push_str(&format!(
        "listen {}  public_url {}  admin {}\n",
        config.server.listen, config.server.public_url, config.admin.listen
    ));
    out.push_str(&format!("routes ({}):\n", config.upstreams.len()));
    for upstream in &config.upstreams {
        let auth = match upstream.auth {
            RouteAuth::None => "auth=none (PUBLIC)",
            RouteAuth::Required => "auth=required",
        };
        out.push_str(&format!(
            "  {:<24} -> {}  [{}] {auth}\n",
            upstream.route, upstream.url, upstream.name
        ));
    }
    let audit = match &config.audit.sink {
        AuditSink::Stdout => "stdout".to_string(),
        AuditSink::File(path) => {
            let keyed = config.audit.chain.as_ref().is_some_and(|c| c.hmac_key.is_some());
            format!(
                "file {} (hash-chained, {})",
                path.display(),
                if keyed {
                    "HMAC-SHA256"
                } else {
                    "SHA-256: set audit.hmac_key so a writer cannot recompute it"
                }
            )
        }
        AuditSink::Off => "off".to_string(),
        AuditSink::Stderr => "stderr".to_string(),
    };
    out.push_str(&format!("audit: {audit}\n"));
    out.push_str(&tls_summary(config));
    out
}

/// Certificates served, with subject, SANs and expiry; a warning for any that expires within
/// 14 days (or has expired).
fn tls_summary(config: &Config) -> String {
    let Some(tls) = &config.server.tls else {
        return "tls: off (plain HTTP)\n".into();
    };
    let mut out = String::from("tls: on (TLS 1.2/1.3, ALPN h2 + http/1.1)");
    match (&tls.client_ca, tls.client_auth) {
        (Some(ca), auth) => out.push_str(&format!(", client certificates {auth:?} from {}\n", ca.display())),
        (None, _) => out.push('\n'),
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    for (path, facts) in crate::tls::server::certificate_facts(tls) {
        let left = facts.not_after_unix - now;
        let expires = crate::telemetry::audit::format_rfc3339(u64::try_from(facts.not_after_unix).unwrap_or(0), 0);
        out.push_str(&format!(
            "  {}: subject \"{}\"; SANs [{}]; expires {} ({} days)\n",
            path.display(),
            facts.subject,
            facts.sans.join(", "),
            expires,
            left / 86_400
        ));
        if left < 14 * 86_400 {
            out.push_str(&format!("  WARNING: {} expires within 14 days\n", path.display()));
        }
    }
    out
}
