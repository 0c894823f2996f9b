//! Unusual access patterns: each `Finding` has a stable `kind`, a severity and its evidence.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use serde_json::json;

use super::classify::{
    AUTH_FAILURES_BY_IP, DENIED_TOOL, OFF_HOURS_ADMIN, REFRESH_REUSE, REQUESTS_BY_PRINCIPAL, REVOKED_USE, parts,
};
use super::settings::AnomalySettings;
use super::window::{Stat, Window};
use crate::telemetry::audit::format_rfc3339;

/// One unusual pattern.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// `auth_brute_force`, `tool_enumeration`, `new_ip_for_subject`, `rate_spike`,
    /// `refresh_token_reuse`, `revoked_token_use`, `off_hours_admin`.
    pub kind: &'static str,
    /// `low`, `medium`, `high`.
    pub severity: &'static str,
    pub summary: String,
    pub evidence: serde_json::Value,
}

impl Finding {
    /// What identifies the finding across runs (the live detector raises each once).
    pub fn key(&self) -> String {
        let who = ["ip", "subject", "actor"]
            .iter()
            .filter_map(|k| self.evidence.get(*k).and_then(|v| v.as_str()))
            .collect::<Vec<_>>()
            .join("/");
        format!("{}:{who}", self.kind)
    }
}

/// The findings over `[now - range, now)` (Unix minutes).
pub fn findings(window: &Window, settings: &AnomalySettings, now: u64, range: u64) -> Vec<Finding> {
    let from = now.saturating_sub(range);
    let totals = window.totals(from, now + 1);
    let mut out = Vec::new();
    let mut enumeration: HashMap<&str, (BTreeSet<&str>, Stat)> = HashMap::new();
    for (field, stat) in &totals {
        let (kind, part) = parts(field);
        match (kind, part.as_slice()) {
            (AUTH_FAILURES_BY_IP, [ip]) if stat.count >= settings.brute_force_failures => out.push(Finding {
                kind: "auth_brute_force",
                severity: if stat.count >= settings.brute_force_failures * 10 {
                    "high"
                } else {
                    "medium"
                },
                summary: format!("{ip} failed authentication {} times", stat.count),
                evidence: with_seen(json!({ "ip": ip, "count": stat.count }), stat),
            }),
            (DENIED_TOOL, [subject, target]) => {
                let empty = Stat {
                    count: 0,
                    first_minute: u64::MAX,
                    last_minute: 0,
                };
                let entry = enumeration.entry(subject).or_insert((BTreeSet::new(), empty));
                entry.0.insert(target);
                entry.1 = combine(entry.1, *stat);
            }
            (REFRESH_REUSE, [subject]) => out.push(Finding {
                kind: "refresh_token_reuse",
                severity: "high",
                summary: format!(
                    "a used refresh token of {subject} was presented again ({} times)",
                    stat.count
                ),
                evidence: with_seen(json!({ "subject": subject, "count": stat.count }), stat),
            }),
            (REVOKED_USE, [ip]) => out.push(Finding {
                kind: "revoked_token_use",
                severity: "medium",
                summary: format!("{ip} presented a revoked credential {} times", stat.count),
                evidence: with_seen(json!({ "ip": ip, "count": stat.count }), stat),
            }),
            (OFF_HOURS_ADMIN, [actor, event]) => out.push(Finding {
                kind: "off_hours_admin",
                severity: "low",
                summary: format!("{actor}: {event} off-hours ({} times)", stat.count),
                evidence: with_seen(json!({ "actor": actor, "event": event, "count": stat.count }), stat),
            }),
            _ => {}
        }
    }
    for (subject, (targets, stat)) in enumeration {
        if (targets.len() as u64) < settings.enumeration_targets {
            continue;
        }
        out.push(Finding {
            kind: "tool_enumeration",
            severity: if targets.len() as u64 >= settings.enumeration_targets * 3 {
                "high"
            } else {
                "medium"
            },
            summary: format!("{subject} was denied {} different tools", targets.len()),
            evidence: with_seen(
                json!({
                    "subject": subject,
                    "distinct_targets": targets.len(),
                    "denials": stat.count,
                    "targets": targets.iter().take(20).collect::<Vec<_>>(),
                }),
                &stat,
            ),
        });
    }
    out.extend(new_ips(window, now, from));
    out.extend(rate_spikes(window, settings, now, range));
    out.sort_by(|a, b| {
        severity_rank(b.severity)
            .cmp(&severity_rank(a.severity))
            .then(a.key().cmp(&b.key()))
    });
    out
}

/// A subject seen from an IP for the first time in the range, when it was known before.
fn new_ips(window: &Window, now: u64, from: u64) -> Vec<Finding> {
    let mut by_subject: HashMap<&str, Vec<&super::window::Pair>> = HashMap::new();
    for pair in &window.pairs {
        by_subject.entry(&pair.subject).or_default().push(pair);
    }
    let mut out = Vec::new();
    for (subject, mut pairs) in by_subject {
        pairs.sort_by_key(|p| p.first_seen);
        for (index, pair) in pairs.iter().enumerate() {
            let minute = pair.first_seen / 60;
            if index == 0 || minute < from || minute > now {
                continue;
            }
            let known: Vec<_> = pairs[..index].iter().map(|p| p.ip).collect();
            let new_network = !known.iter().any(|ip| same_network(*ip, pair.ip));
            out.push(Finding {
                kind: "new_ip_for_subject",
                severity: if new_network { "medium" } else { "low" },
                summary: format!("{subject} appeared from a new address {}", pair.ip),
                evidence: json!({
                    "subject": subject,
                    "ip": pair.ip.to_string(),
                    "new_network": new_network,
                    "known_ips": known.iter().take(10).map(ToString::to_string).collect::<Vec<_>>(),
                    "first_seen": format_rfc3339(pair.first_seen, 0),
                    "last_seen": format_rfc3339(pair.first_seen, 0),
                }),
            });
        }
    }
    out
}

/// Hours in the range in which a principal's requests exceed `factor` × the median of its
/// active hours over the 7 days before (the strongest hour per principal).
fn rate_spikes(window: &Window, settings: &AnomalySettings, now: u64, range: u64) -> Vec<Finding> {
    let hourly = window.hourly(REQUESTS_BY_PRINCIPAL, now + 1);
    let mut out = Vec::new();
    for (subject, slots) in hourly {
        let mut best: Option<(f64, u64, u64, f64, usize)> = None;
        for slot in 0..range.div_ceil(60) {
            let count = slots.get(&slot).copied().unwrap_or(0);
            if count < settings.rate_spike_min_requests {
                continue;
            }
            let mut history: Vec<u64> = (slot + 1..=slot + 168)
                .filter_map(|s| slots.get(&s).copied())
                .filter(|c| *c > 0)
                .collect();
            if (history.len() as u64) < settings.rate_spike_min_history_hours {
                continue;
            }
            history.sort_unstable();
            let median = median(&history);
            let ratio = count as f64 / median.max(1.0);
            if ratio > settings.rate_spike_factor && best.is_none_or(|b| ratio > b.0) {
                best = Some((ratio, slot, count, median, history.len()));
            }
        }
        if let Some((ratio, slot, count, median, hours)) = best {
            let end = now - slot * 60;
            out.push(Finding {
                kind: "rate_spike",
                severity: if ratio > settings.rate_spike_factor * 4.0 {
                    "high"
                } else {
                    "medium"
                },
                summary: format!(
                    "{subject} made {count} requests in an hour, {ratio:.1}× its 7-day median of {median}"
                ),
                evidence: json!({
                    "subject": subject,
                    "count": count,
                    "baseline_median": median,
                    "ratio": (ratio * 10.0).round() / 10.0,
                    "history_hours": hours,
                    "first_seen": format_rfc3339(end.saturating_sub(60) * 60, 0),
                    "last_seen": format_rfc3339(end * 60, 0),
                }),
            });
        }
    }
    out
}

fn median(sorted: &[u64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2] as f64,
        n => (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0,
    }
}

fn same_network(a: std::net::IpAddr, b: std::net::IpAddr) -> bool {
    use std::net::IpAddr::{V4, V6};
    match (a, b) {
        (V4(a), V4(b)) => a.octets()[..3] == b.octets()[..3],
        (V6(a), V6(b)) => a.segments()[..4] == b.segments()[..4],
        _ => false,
    }
}

fn combine(a: Stat, b: Stat) -> Stat {
    Stat {
        count: a.count + b.count,
        first_minute: a.first_minute.min(b.first_minute),
        last_minute: a.last_minute.max(b.last_minute),
    }
}

fn with_seen(mut evidence: serde_json::Value, stat: &Stat) -> serde_json::Value {
    if let Some(object) = evidence.as_object_mut() {
        object.insert("first_seen".into(), format_rfc3339(stat.first_minute * 60, 0).into());
        object.insert("last_seen".into(), format_rfc3339(stat.last_minute * 60 + 59, 0).into());
    }
    evidence
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "high" => 2,
        "medium" => 1,
        _ => 0,
    }
}
