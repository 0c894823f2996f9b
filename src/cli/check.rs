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
            write_out(&summary(&config, path));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
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
        AuditSink::File(path) => format!("file {}", path.display()),
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
