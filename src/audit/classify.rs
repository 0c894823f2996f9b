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

/// One event's contribution (a buffer reused from event to event: no allocation per field).
#[derive(Debug, Default)]
pub struct Facts {
    /// Unix seconds of the event.
    pub unix: u64,
    /// The field names, separated by newlines.
    fields: String,
    /// The client IP of an authenticated request (its subject is the line's).
    pub pair: Option<IpAddr>,
    pub outcome: Outcome,
}

impl Facts {
    fn clear(&mut self) {
        self.unix = 0;
        self.fields.clear();
        self.pair = None;
        self.outcome = Outcome::default();
    }

    fn push(&mut self, kind: &str, parts: &[&str]) {
        if !self.fields.is_empty() {
            self.fields.push('\n');
        }
        write_field(&mut self.fields, kind, parts);
    }

    /// The field names.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.fields.split('\n').filter(|f| !f.is_empty())
    }
}

fn write_field(out: &mut String, kind: &str, parts: &[&str]) {
    out.push_str(kind);
    for part in parts {
        out.push(SEP);
        out.extend(part.chars().map(|c| if c == SEP || c == '\n' { '?' } else { c }));
    }
}

/// A field name from its kind and parts.
pub fn field(kind: &str, parts: &[&str]) -> String {
    let mut out = String::with_capacity(kind.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    write_field(&mut out, kind, parts);
    out
}

/// Splits a field into its kind and parts.
pub fn parts(field: &str) -> (&str, Vec<&str>) {
    let mut split = field.split(SEP);
    let kind = split.next().unwrap_or_default();
    (kind, split.collect())
}

/// Fills `facts` with what `line` counts towards; false when it carries no usable time.
pub fn classify(line: &Line<'_>, settings: &AnomalySettings, facts: &mut Facts) -> bool {
    facts.clear();
    let Some(unix) = line.time.as_deref().and_then(parse_rfc3339) else {
        return false;
    };
    facts.unix = unix;
    let client = line.client_ip.or(line.peer_ip);
    // Formatted only for the fields that name it (auth failures, rate limits).
    let ip_text = || client.map_or_else(|| "-".to_string(), |ip| ip.to_string());
    let reason = line.reason.as_ref();
    match line.event.as_ref() {
        "request" => {
            facts.outcome.request = true;
            facts.push(REQUESTS, &[]);
            facts.push(BY_REASON, &[reason]);
            if let Some(subject) = &line.subject {
                facts.push(REQUESTS_BY_PRINCIPAL, &[subject]);
                facts.pair = client;
            }
            if reason == "ok" {
                facts.outcome.allowed = true;
                facts.push(ALLOWED, &[]);
                if let Some(target) = &line.target {
                    facts.push(CALLS_BY_TOOL, &[target]);
                }
            } else if line.status == Some(401) {
                let ip = ip_text();
                facts.outcome.auth_failure = true;
                facts.push(AUTH_FAILURES, &[]);
                facts.push(AUTH_FAILURES_BY_IP, &[&ip]);
                facts.push(AUTH_FAILURES_BY_REASON, &[reason]);
                if reason == "revoked" {
                    facts.push(REVOKED_USE, &[&ip]);
                }
            } else if matches!(reason, "policy_denied" | "insufficient_scope") {
                facts.outcome.denial = true;
                let subject = line.subject.as_deref().unwrap_or("-");
                facts.push(DENIALS, &[]);
                facts.push(DENIALS_BY_PRINCIPAL, &[subject]);
                facts.push(DENIED_TOOL, &[subject, line.target.as_deref().unwrap_or("-")]);
            } else if reason.starts_with("rate_limited") || reason == "auth_failure_block" {
                facts.outcome.rate_limited = true;
                let ip = ip_text();
                facts.push(RATE_LIMITED, &[]);
                facts.push(RATE_LIMITED_BY_DIMENSION, &[reason]);
                facts.push(RATE_LIMITED_BY_WHO, &[line.subject.as_deref().unwrap_or(&ip)]);
            }
            if let Some(route) = &line.route {
                if matches!(reason, "upstream_unavailable" | "upstream_timeout") {
                    facts.push(UPSTREAM_FAILED, &[route]);
                } else if line.status.is_some_and(|s| s < 500) && reason == "ok" {
                    facts.push(UPSTREAM_OK, &[route]);
                }
            }
        }
        "refresh_reuse" => facts.push(REFRESH_REUSE, &[line.subject.as_deref().unwrap_or("-")]),
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
                facts.push(OFF_HOURS_ADMIN, &[actor, event]);
            }
        }
    }
    true
}
