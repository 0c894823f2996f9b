//! The security audit report for `1h`, `24h` or `7d`: totals, top offenders, denied tools,
//! rate-limit violations and findings, as JSON (`/admin/audit`, `--json`, the MCP tool) and
//! as text.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::json;

use super::classify::{
    ALLOWED, AUTH_FAILURES, AUTH_FAILURES_BY_IP, BY_REASON, DENIALS, DENIALS_BY_PRINCIPAL, DENIED_TOOL, RATE_LIMITED,
    RATE_LIMITED_BY_DIMENSION, RATE_LIMITED_BY_WHO, REQUESTS, REQUESTS_BY_PRINCIPAL, parts,
};
use super::findings::{Finding, findings};
use super::settings::AnomalySettings;
use super::window::{Stat, Window};
use crate::telemetry::audit::format_rfc3339;

/// A report range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Hour,
    Day,
    Week,
}

impl Range {
    /// `1h`, `24h` or `7d`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "1h" => Some(Self::Hour),
            "24h" => Some(Self::Day),
            "7d" => Some(Self::Week),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
        }
    }

    /// Its length in minutes.
    pub fn minutes(self) -> u64 {
        match self {
            Self::Hour => 60,
            Self::Day => 24 * 60,
            Self::Week => 7 * 24 * 60,
        }
    }

    /// The first minute a report over this range reads (the range plus the 7 days of
    /// baselines for rate spikes).
    pub fn reads_from(self, now_minute: u64) -> u64 {
        now_minute.saturating_sub(self.minutes() + 7 * 24 * 60)
    }
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub range: &'static str,
    pub from: String,
    pub to: String,
    /// `embedded` (this replica), `redis` (every replica), or `files` (reread by the CLI).
    pub source: &'static str,
    pub totals: Totals,
    pub decisions: serde_json::Value,
    pub top_offending_ips: Vec<serde_json::Value>,
    pub top_principals: Vec<serde_json::Value>,
    pub denied_tools: Vec<serde_json::Value>,
    pub rate_limit_violations: serde_json::Value,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub allowed: u64,
    pub auth_failures: u64,
    pub denials: u64,
    pub rate_limited: u64,
}

/// Builds the report over `range` ending at `now` (Unix seconds).
pub fn build(window: &Window, settings: &AnomalySettings, range: Range, now: u64, source: &'static str) -> Report {
    let now_minute = now / 60;
    let from = now_minute.saturating_sub(range.minutes());
    let totals = window.totals(from, now_minute + 1);
    let count = |field: &str| totals.get(field).map_or(0, |s| s.count);
    let mut decisions = serde_json::Map::new();
    let mut failures_by_ip: HashMap<&str, u64> = HashMap::new();
    let mut limited_by_ip: HashMap<&str, u64> = HashMap::new();
    let mut principals: HashMap<&str, (u64, u64)> = HashMap::new();
    let mut tools: HashMap<&str, (u64, Vec<&str>)> = HashMap::new();
    let mut dimensions = serde_json::Map::new();
    let mut limited_who: Vec<(&str, u64)> = Vec::new();
    for (field, Stat { count, .. }) in &totals {
        let (kind, part) = parts(field);
        match (kind, part.as_slice()) {
            (BY_REASON, [reason]) => {
                decisions.insert((*reason).to_string(), (*count).into());
            }
            (AUTH_FAILURES_BY_IP, [ip]) => *failures_by_ip.entry(ip).or_default() += count,
            (RATE_LIMITED_BY_WHO, [who]) => {
                limited_who.push((who, *count));
                if who.parse::<std::net::IpAddr>().is_ok() {
                    *limited_by_ip.entry(who).or_default() += count;
                }
            }
            (REQUESTS_BY_PRINCIPAL, [subject]) => principals.entry(subject).or_default().0 += count,
            (DENIALS_BY_PRINCIPAL, [subject]) => principals.entry(subject).or_default().1 += count,
            (DENIED_TOOL, [subject, tool]) => {
                let entry = tools.entry(tool).or_default();
                entry.0 += count;
                entry.1.push(subject);
            }
            (RATE_LIMITED_BY_DIMENSION, [dimension]) => {
                dimensions.insert((*dimension).to_string(), (*count).into());
            }
            _ => {}
        }
    }
    let mut ips: Vec<(&str, u64, u64)> = failures_by_ip
        .keys()
        .chain(limited_by_ip.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|ip| {
            (
                *ip,
                failures_by_ip.get(ip).copied().unwrap_or(0),
                limited_by_ip.get(ip).copied().unwrap_or(0),
            )
        })
        .collect();
    ips.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then(a.0.cmp(b.0)));
    let mut principals: Vec<_> = principals.into_iter().collect();
    principals.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(b.1.0.cmp(&a.1.0)).then(a.0.cmp(b.0)));
    let mut tools: Vec<_> = tools.into_iter().collect();
    tools.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    limited_who.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    Report {
        range: range.label(),
        from: format_rfc3339(from * 60, 0),
        to: format_rfc3339(now, 0),
        source,
        totals: Totals {
            requests: count(REQUESTS),
            allowed: count(ALLOWED),
            auth_failures: count(AUTH_FAILURES),
            denials: count(DENIALS),
            rate_limited: count(RATE_LIMITED),
        },
        decisions: decisions.into(),
        top_offending_ips: ips
            .iter()
            .take(10)
            .map(|(ip, failed, limited)| json!({ "ip": ip, "auth_failures": failed, "rate_limited": limited }))
            .collect(),
        top_principals: principals
            .iter()
            .take(10)
            .map(|(subject, (requests, denials))| json!({ "subject": subject, "requests": requests, "denials": denials }))
            .collect(),
        denied_tools: tools
            .iter()
            .take(20)
            .map(|(tool, (count, subjects))| {
                let mut subjects = subjects.clone();
                subjects.sort_unstable();
                json!({ "tool": tool, "count": count, "principals": subjects })
            })
            .collect(),
        rate_limit_violations: json!({
            "by_dimension": dimensions,
            "top": limited_who.iter().take(10).map(|(who, count)| json!({ "who": who, "count": count })).collect::<Vec<_>>(),
        }),
        findings: findings(window, settings, now_minute, range.minutes()),
        warnings: Vec::new(),
    }
}

impl Report {
    /// The report as text for a terminal (and the MCP tool's text content).
    pub fn text(&self) -> String {
        text_of(&serde_json::to_value(self).unwrap_or_default())
    }
}

/// A report's JSON (from this process, or a gateway's `/admin/audit`) as text.
pub fn text_of(report: &serde_json::Value) -> String {
    let mut out = String::new();
    let field = |key: &str| report[key].as_str().unwrap_or_default().to_string();
    let t = &report["totals"];
    let _ = writeln!(
        out,
        "Security audit, last {} ({} .. {}, {})",
        field("range"),
        field("from"),
        field("to"),
        field("source")
    );
    let _ = writeln!(
        out,
        "requests {}  allowed {}  auth failures {}  denials {}  rate limited {}",
        t["requests"], t["allowed"], t["auth_failures"], t["denials"], t["rate_limited"]
    );
    for (title, key) in [
        ("top offending IPs", "top_offending_ips"),
        ("top principals", "top_principals"),
        ("denied tools", "denied_tools"),
    ] {
        let rows = report[key].as_array().map(Vec::as_slice).unwrap_or_default();
        if !rows.is_empty() {
            let _ = writeln!(out, "{title}:");
            for row in rows {
                let _ = writeln!(out, "  {}", compact(row));
            }
        }
    }
    let findings = report["findings"].as_array().map(Vec::as_slice).unwrap_or_default();
    let _ = writeln!(out, "findings: {}", findings.len());
    for finding in findings {
        let text = |key: &str| finding[key].as_str().unwrap_or_default().to_string();
        let _ = writeln!(out, "  [{}] {}: {}", text("severity"), text("kind"), text("summary"));
        let _ = writeln!(out, "      {}", compact(&finding["evidence"]));
    }
    for warning in report["warnings"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let _ = writeln!(out, "warning: {}", warning.as_str().unwrap_or_default());
    }
    out
}

fn compact(value: &serde_json::Value) -> String {
    match value.as_object() {
        Some(object) => object
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) => format!("{k}={s}"),
                None => format!("{k}={v}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => value.to_string(),
    }
}
