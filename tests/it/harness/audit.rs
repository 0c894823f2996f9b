//! Audit helpers: the report over the admin API, the findings of a kind, a history of
//! time-shifted events written into a gateway's chain before it starts, and the roles and
//! policy of the scripted attacks.

use std::path::Path;
use std::time::Duration;

use portcullis::audit::ChainSettings;
use portcullis::telemetry::audit::AuditWriter as _;
use serde_json::Value;

/// Roles of the audit tests: `guest` reads the weather, `auditor` may view the audit.
pub const ROLES: &str =
    "[roles]\nguest = [\"weather:read\"]\nuser = [\"weather:read\"]\nauditor = [\"metrics:view\"]\n";

/// Route keys: deny by default, one tool.
pub const POLICY: &str = "default = \"deny\"\n[upstreams.tools]\nget_weather = \"weather:read\"";

/// `GET /admin/audit?range=RANGE` with `token`: (status, body).
pub async fn report(admin_url: &str, range: &str, token: Option<&str>) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", b.as_str())).collect();
    super::lifecycle::request("GET", &format!("{admin_url}/admin/audit?range={range}"), &headers, "").await
}

/// The findings of `kind` in a report.
pub fn findings<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .map(|all| all.iter().filter(|f| f["kind"] == kind).collect())
        .unwrap_or_default()
}

/// Polls the report until `holds` (bounded: 15 s), returning the last one.
pub async fn report_until(admin_url: &str, range: &str, holds: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..75 {
        let (status, body) = report(admin_url, range, Some("admin-token-0123456789")).await;
        assert_eq!(status, 200, "{body}");
        if holds(&body) {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the report never showed what was expected: {last:#}");
}

/// One request event of `subject` from `ip`, `seconds_ago`.
pub fn past_request(subject: &str, ip: &str, seconds_ago: u64, reason: &str, status: u16) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let time = portcullis::telemetry::audit::format_rfc3339(now - seconds_ago, 0);
    serde_json::json!({
        "time": time, "event": "request", "peer_ip": ip, "subject": subject, "auth_method": "jwt",
        "route": "/mcp", "http_method": "POST", "jsonrpc_method": "tools/call", "target": "get_weather",
        "decision": if reason == "ok" { "allow" } else { "deny" }, "reason": reason, "status": status,
    })
    .to_string()
}

/// Writes `events` (JSON lines) into the chained log at `log` the way the gateway would, so
/// a gateway started on it afterwards rebuilds its aggregates from them.
pub fn write_history(log: &Path, events: &[String]) {
    let settings = ChainSettings {
        path: log.to_path_buf(),
        hmac_key: None,
        rotate_bytes: 100 * 1024 * 1024,
        rotate_every: None,
    };
    let mut writer = portcullis::audit::ChainWriter::open(&settings).unwrap();
    let batch: String = events.iter().map(|e| format!("{e}\n")).collect();
    writer.write_batch(batch.as_bytes(), 0).unwrap();
}
