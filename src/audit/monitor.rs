//! `AuditMonitor`: what the gateway keeps running over the aggregates — the once-a-second
//! dashboard tick (broadcast to every open dashboard), the push of deltas to Redis, the live
//! anomaly detector (each finding raised once an hour: an `anomaly` audit event, a metric and
//! a dashboard entry), and the reports.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::json;
use tokio::sync::broadcast;

use super::aggregates::{Aggregates, Outbox, unix_now};
use super::findings::{Finding, findings};
use super::report::{Range, Report, build};
use super::shared::SharedAggregates;
use crate::telemetry::{AuditEvent, AuditLog, Metrics};

/// Seconds of tick history a new dashboard starts with.
const HISTORY: usize = 300;
/// How often the live detector looks at the last hour.
const DETECT_EVERY: u64 = 3;
/// What the detector keeps of buckets older than the last hour: the per-principal counts
/// (rate-spike baselines) and the pairs.
fn baseline_field(field: &str) -> bool {
    super::classify::parts(field).0 == super::classify::REQUESTS_BY_PRINCIPAL
}
/// A finding raised again after this many seconds if it persists.
const RAISE_AGAIN: u64 = 3600;

/// What the dashboard shows beyond the audit counters (sessions, streams, upstreams): asked
/// of the gateway at every tick.
pub type Extras = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The running side of the aggregates.
pub struct AuditMonitor {
    aggregates: Arc<Aggregates>,
    shared: Option<SharedAggregates>,
    audit: AuditLog,
    metrics: Arc<Metrics>,
    ticks: broadcast::Sender<Arc<str>>,
    state: Mutex<LiveState>,
}

impl std::fmt::Debug for AuditMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditMonitor")
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

#[derive(Default)]
struct LiveState {
    history: VecDeque<serde_json::Value>,
    raised: HashMap<String, u64>,
    active: Vec<Finding>,
    fresh: Vec<Finding>,
    carry: Option<Outbox>,
}

impl AuditMonitor {
    pub fn new(
        aggregates: Arc<Aggregates>,
        shared: Option<SharedAggregates>,
        audit: AuditLog,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            aggregates,
            shared,
            audit,
            metrics,
            ticks: broadcast::channel(64).0,
            state: Mutex::new(LiveState::default()),
        })
    }

    /// The aggregates it runs over.
    pub fn aggregates(&self) -> &Arc<Aggregates> {
        &self.aggregates
    }

    /// Whether reports read every replica's counters (Redis).
    pub fn shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Receives every tick from now on (serialized `tick` data).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.ticks.subscribe()
    }

    /// The first message of a dashboard: current findings and the recent ticks.
    pub fn hello(&self) -> String {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        json!({ "findings": state.active, "history": state.history }).to_string()
    }

    /// The report over `range`, now.
    pub async fn report(&self, range: Range) -> Report {
        let now = unix_now();
        let from = range.reads_from(now / 60);
        if let Some(shared) = &self.shared {
            match shared.window(from, now / 60).await {
                Ok(window) => return build(&window, self.aggregates.settings(), range, now, "redis"),
                Err(_) => {
                    let mut report = build(
                        &self.aggregates.window(from),
                        self.aggregates.settings(),
                        range,
                        now,
                        "embedded",
                    );
                    report
                        .warnings
                        .push("Redis is unreachable: this report covers this replica only".into());
                    return report;
                }
            }
        }
        build(
            &self.aggregates.window(from),
            self.aggregates.settings(),
            range,
            now,
            "embedded",
        )
    }

    /// Starts the background loop until `stop`: ticks every second, findings every few
    /// seconds, the roll-up every minute.
    pub fn start(self: &Arc<Self>, extras: Extras, stop: impl std::future::Future<Output = ()> + Send + 'static) {
        let monitor = Arc::clone(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut seconds = 0u64;
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    () = &mut stop => {
                        // What waits for Redis goes out before the end.
                        monitor.push().await;
                        return;
                    }
                }
                seconds += 1;
                if seconds.is_multiple_of(DETECT_EVERY) {
                    monitor.detect().await;
                }
                if seconds.is_multiple_of(60) {
                    monitor.aggregates.roll(unix_now());
                }
                monitor.push().await;
                monitor.tick(&extras);
            }
        });
    }

    async fn push(&self) {
        let Some(shared) = &self.shared else { return };
        let mut outbox = self.aggregates.take_outbox();
        if let Some(carry) = self.state.lock().unwrap_or_else(PoisonError::into_inner).carry.take() {
            for (minute, counts) in carry.counts {
                let into = outbox.counts.entry(minute).or_default();
                for (field, count) in counts {
                    super::aggregates::bump(into, &field, count);
                }
            }
            outbox.pairs.extend(carry.pairs);
        }
        if let Err(unsent) = shared.push(outbox).await {
            // Kept for the next second (bounded: a long outage keeps the newest hour only).
            let mut unsent = unsent;
            if unsent.counts.len() > 60 {
                let newest = unsent.counts.keys().copied().max().unwrap_or_default();
                unsent.counts.retain(|minute, _| minute + 60 > newest);
            }
            self.state.lock().unwrap_or_else(PoisonError::into_inner).carry = Some(unsent);
        }
    }

    async fn detect(&self) {
        let now = unix_now();
        let found = if let Some(shared) = &self.shared {
            match shared.window(Range::Hour.reads_from(now / 60), now / 60).await {
                Ok(window) => findings(&window, self.aggregates.settings(), now / 60, 60),
                Err(_) => return,
            }
        } else {
            let aggregates = Arc::clone(&self.aggregates);
            let computed = tokio::task::spawn_blocking(move || {
                let minute = now / 60;
                let window = aggregates.window_with(
                    Range::Hour.reads_from(minute),
                    minute.saturating_sub(60),
                    baseline_field,
                );
                findings(&window, aggregates.settings(), minute, 60)
            });
            match computed.await {
                Ok(found) => found,
                Err(_) => return,
            }
        };
        let mut raise = Vec::new();
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            for finding in &found {
                let key = finding.key();
                let due = state.raised.get(&key).is_none_or(|at| now >= at + RAISE_AGAIN);
                if due {
                    state.raised.insert(key, now);
                    raise.push(finding.clone());
                }
            }
            state.raised.retain(|_, at| now < *at + 2 * RAISE_AGAIN);
            state.active = found;
            state.fresh.extend(raise.iter().cloned());
        }
        for finding in raise {
            self.metrics.anomaly(finding.kind);
            let mut event = AuditEvent::new("anomaly", "alert", finding.kind);
            event.subject = finding.evidence.get("subject").and_then(|v| v.as_str());
            let ip = finding
                .evidence
                .get("ip")
                .and_then(|v| v.as_str())
                .and_then(|ip| ip.parse().ok());
            event.client_ip = ip;
            event.detail = Some(&finding.summary);
            self.audit.record(&event);
        }
    }

    fn tick(&self, extras: &Extras) {
        let tick = self.aggregates.take_tick();
        let now = unix_now();
        let totals = self.aggregates.merged(now / 60 - 59);
        let count = |field: &str| totals.get(field).copied().unwrap_or(0);
        let top = |kind: &str, key: &str| {
            let mut rows: Vec<(&str, u64)> = totals
                .iter()
                .filter_map(|(field, count)| {
                    let (k, parts) = super::classify::parts(field);
                    (k == kind).then(|| parts.first().map(|p| (*p, *count))).flatten()
                })
                .collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            rows.iter()
                .take(10)
                .map(|(name, count)| json!({ key: name, "count": count }))
                .collect::<Vec<_>>()
        };
        let fresh = std::mem::take(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner).fresh);
        let point = json!({
            "unix_ms": now * 1000,
            "requests": tick.requests,
            "allowed": tick.allowed,
            "denied": tick.denied,
            "auth_failures": tick.auth_failures,
            "rate_limited": tick.rate_limited,
        });
        let mut data = json!({
            "time": crate::telemetry::audit::format_rfc3339(now, 0),
            "decisions": tick.decisions,
            "totals_1h": {
                "requests": count(super::classify::REQUESTS),
                "auth_failures": count(super::classify::AUTH_FAILURES),
                "denials": count(super::classify::DENIALS),
                "rate_limited": count(super::classify::RATE_LIMITED),
            },
            "auth_failures_by_ip": top(super::classify::AUTH_FAILURES_BY_IP, "ip"),
            "top_principals": top(super::classify::REQUESTS_BY_PRINCIPAL, "subject"),
            "top_tools": top(super::classify::CALLS_BY_TOOL, "tool"),
            "anomalies": fresh,
            "events": tick.events.iter().rev().collect::<Vec<_>>(),
        });
        if let (Some(object), serde_json::Value::Object(more)) = (data.as_object_mut(), extras()) {
            object.extend(more);
        }
        if let (Some(object), Some(counts)) = (data.as_object_mut(), point.as_object()) {
            object.extend(counts.clone());
        }
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.history.len() == HISTORY {
                state.history.pop_front();
            }
            state.history.push_back(point);
        }
        let _ = self.ticks.send(Arc::from(data.to_string()));
    }

    /// Counts the events of `files` (the audit log's, read at start) recorded up to `upto`
    /// (`seq`), so a restart keeps its 7 days; older events than the horizon are skipped.
    pub fn rebuild(&self, files: &[PathBuf], upto: u64) -> u64 {
        rebuild_into(&self.aggregates, files, upto)
    }
}

/// Counts the events of `files` with `seq` ≤ `upto` into `aggregates`; returns how many.
pub fn rebuild_into(aggregates: &Aggregates, files: &[PathBuf], upto: u64) -> u64 {
    use std::io::BufRead as _;
    let now = unix_now();
    let horizon = now.saturating_sub(super::aggregates::HORIZON * 60);
    let mut counted = 0;
    for file in files {
        let recent = std::fs::metadata(file)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .is_none_or(|t| t.as_secs() >= horizon);
        if !recent {
            continue;
        }
        let Ok(handle) = std::fs::File::open(file) else {
            continue;
        };
        // Counted a thousand lines at a time (one lock each), up to `upto`.
        let mut chunk: Vec<Vec<u8>> = Vec::with_capacity(1000);
        let mut done = false;
        for line in std::io::BufReader::new(handle).split(b'\n') {
            let Ok(line) = line else { break };
            if seq_of(&line).is_some_and(|seq| seq > upto) {
                done = true;
                break;
            }
            chunk.push(line);
            if chunk.len() == 1000 {
                counted += add_chunk(aggregates, &mut chunk, now);
            }
        }
        counted += add_chunk(aggregates, &mut chunk, now);
        if done {
            break;
        }
    }
    counted
}

fn add_chunk(aggregates: &Aggregates, chunk: &mut Vec<Vec<u8>>, now: u64) -> u64 {
    let lines: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
    let counted = aggregates.add_lines(&lines, false, now) as u64;
    chunk.clear();
    counted
}

fn seq_of(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}
