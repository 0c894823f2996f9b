//! `portcullis audit verify [FILES]` (the hash chain: exit 1 at the first break) and
//! `portcullis audit report [--range 1h|24h|7d] [--json]` (from a running gateway with
//! `--admin-url`, from Redis when the state is shared, else from the audit files).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::access::{Access, AdminArgs};
use super::{load, load_on_runtime, write_err, write_out};
use crate::audit::chain::Mac;
use crate::audit::{Aggregates, Range, SharedAggregates, head, report, rotation, verify};
use crate::state::{Backend, RedisState};
use crate::telemetry::AuditSink;

/// `audit verify`.
pub fn verify(files: Vec<PathBuf>, head_file: Option<PathBuf>, pruned: bool, json: bool, path: &Path) -> ExitCode {
    // The config gives the log's path and HMAC key; explicit files need neither.
    let config = if files.is_empty() || path.exists() {
        match load(path) {
            Ok(config) => Some(config),
            Err(code) => return code,
        }
    } else {
        None
    };
    let chain = config.as_ref().and_then(|c| c.audit.chain.clone());
    let (files, default_head) = if files.is_empty() {
        let Some(chain) = &chain else {
            write_err("audit verify: [audit] sink is not \"file\": name the files to check");
            return ExitCode::from(1);
        };
        match rotation::rotation_set(&chain.path) {
            Ok(files) => (files, Some(head::head_path(&chain.path))),
            Err(error) => {
                write_err(&format!("{}: {error}", chain.path.display()));
                return ExitCode::from(2);
            }
        }
    } else {
        // The head of the active file among them, when it sits beside it.
        let active = files
            .iter()
            .find(|f| head::head_path(f).exists())
            .map(|f| head::head_path(f));
        (files, active)
    };
    let head_path = head_file.or(default_head);
    let recorded = match head_path.as_deref().map(head::read).transpose() {
        Ok(recorded) => recorded.flatten(),
        Err(error) => {
            write_err(&format!("audit verify: {error}"));
            return ExitCode::from(2);
        }
    };
    let mac = Mac::new(chain.as_ref().and_then(|c| c.hmac_key.as_deref()));
    if recorded.as_ref().is_some_and(|h| h.mac != mac.kind()) && mac.kind() == "sha256" {
        write_err("audit verify: the log is HMAC-chained: run it with the config that holds [audit].hmac_key");
        return ExitCode::from(1);
    }
    match verify::verify(&files, recorded.as_ref(), &mac, pruned) {
        Ok(verified) => {
            if json {
                write_out(&serde_json::json!({ "ok": true, "verified": verified }).to_string());
            } else {
                write_out(&format!(
                    "OK: {} events (seq {}..={}) in {} files; head {}; {} gap markers ({} events dropped by a full queue)",
                    verified.events,
                    verified.first_seq,
                    verified.last_seq,
                    verified.files,
                    if verified.head_checked {
                        "matches"
                    } else {
                        "not checked"
                    },
                    verified.gap_markers,
                    verified.lost_events
                ));
                for warning in &verified.warnings {
                    write_out(&format!("warning: {warning}"));
                }
            }
            ExitCode::SUCCESS
        }
        Err(broken) => {
            if json {
                write_out(&serde_json::json!({ "ok": false, "broken": broken }).to_string());
            } else {
                write_out(&format!("BROKEN: {broken}"));
            }
            ExitCode::from(1)
        }
    }
}

/// `audit report`.
pub fn report(range: &str, json: bool, admin: &AdminArgs, path: &Path) -> ExitCode {
    let Some(range) = Range::parse(range) else {
        write_err("audit report: --range must be one of 1h, 24h, 7d");
        return ExitCode::from(1);
    };
    let (config, runtime) = match load_on_runtime(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let answer = runtime.block_on(async {
        if let Some(url) = &admin.admin_url {
            let token = admin.admin_token.clone().or_else(|| {
                config
                    .admin
                    .token
                    .as_ref()
                    .map(|t| String::from_utf8_lossy(t.expose()).into_owned())
            });
            let path = format!("/admin/audit?range={}", range.label());
            let url = url.trim_end_matches('/');
            return Access::call(url, token.as_deref(), http::Method::GET, &path, None)
                .await
                .map_err(|f| (f.0, f.1));
        }
        let now = crate::audit::aggregates::unix_now();
        let from = range.reads_from(now / 60);
        let settings = config.audit.anomalies.clone();
        let built = match (&config.state.backend, &config.audit.sink) {
            (
                Backend::Redis {
                    url,
                    key_prefix,
                    timeout,
                    pool_size,
                },
                _,
            ) => {
                let redis = RedisState::connect(url, key_prefix, *timeout, *pool_size).map_err(|e| (e, 2))?;
                let redis = Arc::new(redis);
                redis
                    .wait_connected(*timeout.max(&std::time::Duration::from_secs(2)))
                    .await;
                let window = SharedAggregates::new(redis)
                    .window(from, now / 60)
                    .await
                    .map_err(|_| ("Redis is unreachable".to_string(), 2))?;
                report::build(&window, &settings, range, now, "redis")
            }
            (_, AuditSink::File(_)) => {
                let chain = config.audit.chain.as_ref().ok_or(("no audit chain".to_string(), 2))?;
                let files = rotation::rotation_set(&chain.path).map_err(|e| (e.to_string(), 2))?;
                let aggregates = Aggregates::new(settings.clone(), false);
                crate::audit::monitor::rebuild_into(&aggregates, &files, u64::MAX);
                report::build(&aggregates.window(from), &settings, range, now, "files")
            }
            _ => {
                return Err((
                    "audit report: the audit goes to stdout: ask the running gateway with --admin-url".into(),
                    1,
                ));
            }
        };
        serde_json::to_value(&built).map_err(|e| (e.to_string(), 2))
    });
    match answer {
        Ok(value) => {
            if json {
                write_out(&value.to_string());
            } else {
                write_out(&report::text_of(&value));
            }
            ExitCode::SUCCESS
        }
        Err((message, code)) => {
            write_err(&message);
            ExitCode::from(code)
        }
    }
}
