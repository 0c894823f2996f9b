//! What one audit event counts towards: the counter fields of its minute bucket. Every
//! aggregate, report and finding is computed from these fields, in memory or in Redis alike.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Deserialize;

use super::settings::AnomalySettings;
use crate::telemetry::audit::parse_rfc3339;

/// Separates the parts of a field name (`dn_tool` + subject + tool).
pub const SEP: char = '\u{1f}';

pub const REQUESTS: &str = "req";
pub const ALLOWED: &str = "ok";
pub const AUTH_FAILURES: &str = "af";
pub const DENIALS: &str = "dn";
pub const RATE_LIMITED: &str = "rl";
pub const BY_REASON: &str = "reason";
pub const AUTH_FAILURES_BY_IP: &str = "af_ip";
pub const AUTH_FAILURES_BY_REASON: &str = "af_reason";
pub const DENIALS_BY_PRINCIPAL: &str = "dn_sub";
pub const DENIED_TOOL: &str = "dn_tool";
pub const RATE_LIMITED_BY_DIMENSION: &str = "rl_dim";
pub const RATE_LIMITED_BY_WHO: &str = "rl_who";
pub const REQUESTS_BY_PRINCIPAL: &str = "sub";
pub const CALLS_BY_TOOL: &str = "tool";
pub const REFRESH_REUSE: &str = "reuse";
pub const REVOKED_USE: &str = "revoked";
pub const OFF_HOURS_ADMIN: &str = "offhours";
pub const UPSTREAM_OK: &str = "up_ok";
pub const UPSTREAM_FAILED: &str = "up_fail";

/// The members of an audit line the aggregates read (chained lines have more; ignored).
#[derive(Debug, Deserialize)]
pub struct Line<'a> {
    #[serde(borrow, default)]
    pub time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub event: Cow<'a, str>,
    #[serde(default)]
    pub peer_ip: Option<IpAddr>,
    #[serde(default)]
    pub client_ip: Option<IpAddr>,
    #[serde(borrow, default)]
    pub subject: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub route: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub target: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub decision: Cow<'a, str>,
    #[serde(borrow, default)]
    pub reason: Cow<'a, str>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(borrow, default)]
    pub detail: Option<Cow<'a, str>>,
}

/// How a request ended, for the live counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub request: bool,
    pub allowed: bool,
    pub auth_failure: bool,
    pub denial: bool,
    pub rate_limited: bool,
}

/// One event's contribution.
#[derive(Debug, Default)]
pub struct Facts {
    /// Unix seconds of the event.
    pub unix: u64,
    pub fields: Vec<String>,
    /// An authenticated (subject, client IP) pair.
    pub pair: Option<(String, IpAddr)>,
    pub outcome: Outcome,
}

/// A field name from its kind and parts.
pub fn field(kind: &str, parts: &[&str]) -> String {
    let mut out = String::with_capacity(kind.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    out.push_str(kind);
    for part in parts {
        out.push(SEP);
        out.extend(part.chars().map(|c| if c == SEP { '?' } else { c }));
    }
    out
}

/// Splits a field into its kind and parts.
pub fn parts(field: &str) -> (&str, Vec<&str>) {
    let mut split = field.split(SEP);
    let kind = split.next().unwrap_or_default();
    (kind, split.collect())
}

/// What `line` counts towards; `None` when it carries no usable time.
pub fn classify(line: &Line<'_>, settings: &AnomalySettings) -> Option<Facts> {
    let unix = parse_rfc3339(line.time.as_deref()?)?;
    let mut facts = Facts {
        unix,
        ..Facts::default()
    };
    let ip = line.client_ip.or(line.peer_ip).map(|ip| ip.to_string());
    let ip = ip.as_deref().unwrap_or("-");
    let reason = line.reason.as_ref();
    let fields = &mut facts.fields;
    match line.event.as_ref() {
        "request" => {
            facts.outcome.request = true;
            fields.push(REQUESTS.into());
            fields.push(field(BY_REASON, &[reason]));
            if let Some(subject) = &line.subject {
                fields.push(field(REQUESTS_BY_PRINCIPAL, &[subject]));
                if let Some(ip) = line.client_ip.or(line.peer_ip) {
                    facts.pair = Some((subject.to_string(), ip));
                }
            }
            if reason == "ok" {
                facts.outcome.allowed = true;
                fields.push(ALLOWED.into());
                if let Some(target) = &line.target {
                    fields.push(field(CALLS_BY_TOOL, &[target]));
                }
            } else if line.status == Some(401) {
                facts.outcome.auth_failure = true;
                fields.push(AUTH_FAILURES.into());
                fields.push(field(AUTH_FAILURES_BY_IP, &[ip]));
                fields.push(field(AUTH_FAILURES_BY_REASON, &[reason]));
                if reason == "revoked" {
                    fields.push(field(REVOKED_USE, &[ip]));
                }
            } else if matches!(reason, "policy_denied" | "insufficient_scope") {
                facts.outcome.denial = true;
                let subject = line.subject.as_deref().unwrap_or("-");
                fields.push(DENIALS.into());
                fields.push(field(DENIALS_BY_PRINCIPAL, &[subject]));
                fields.push(field(DENIED_TOOL, &[subject, line.target.as_deref().unwrap_or("-")]));
            } else if reason.starts_with("rate_limited") || reason == "auth_failure_block" {
                facts.outcome.rate_limited = true;
                fields.push(RATE_LIMITED.into());
                fields.push(field(RATE_LIMITED_BY_DIMENSION, &[reason]));
                fields.push(field(RATE_LIMITED_BY_WHO, &[line.subject.as_deref().unwrap_or(ip)]));
            }
            if let Some(route) = &line.route {
                if matches!(reason, "upstream_unavailable" | "upstream_timeout") {
                    fields.push(field(UPSTREAM_FAILED, &[route]));
                } else if line.status.is_some_and(|s| s < 500) && reason == "ok" {
                    fields.push(field(UPSTREAM_OK, &[route]));
                }
            }
        }
        "refresh_reuse" => fields.push(field(REFRESH_REUSE, &[line.subject.as_deref().unwrap_or("-")])),
        event => {
            let actor = match (event, &line.detail) {
                ("admin_call", _) if line.decision == "allow" => line.subject.as_deref(),
                ("config_reload", _) => Some("config"),
                (_, Some(detail)) => detail.strip_prefix("by "),
                _ => None,
            };
            let minute_of_day = u32::try_from(unix % 86_400 / 60).unwrap_or(0);
            if let Some(actor) = actor
                && settings.off_hours_at(minute_of_day)
            {
                fields.push(field(OFF_HOURS_ADMIN, &[actor, event]));
            }
        }
    }
    Some(facts)
}
