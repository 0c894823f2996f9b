//! `Aggregates`: the rolling per-minute counters of this replica (minute buckets for 24 h,
//! hour buckets for 8 days), the (subject, IP) pairs it has seen, and the live feed of the
//! dashboard. Fed by the audit writer thread (an `AuditObserver`), rebuilt from the audit
//! files on start, and mirrored into Redis when the state is shared.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use serde_json::value::RawValue;

use super::classify::{Facts, Line, Outcome, classify};
use super::settings::AnomalySettings;
use super::window::{Bucket, Counts, Pair, Window};
use crate::telemetry::audit::AuditObserver;

/// Minute buckets are kept this long, then rolled into hours.
pub const MINUTE_HORIZON: u64 = 24 * 60;
/// Everything is kept this long (a 7-day report plus the 7 days of baselines before its
/// first hour would need 14: the baselines of older hours are cut short).
pub const HORIZON: u64 = 8 * 24 * 60;
/// A bucket holds at most this many distinct fields (a spray of IPs cannot grow memory
/// without bound); the rest is counted in `overflow`.
const MAX_FIELDS: usize = 4096;
/// Pairs kept at most.
const MAX_PAIRS: usize = 200_000;
/// Newest events kept for the live feed between two ticks.
const RECENT: usize = 50;

/// The live counters between two dashboard ticks.
#[derive(Debug, Default)]
pub struct Tick {
    pub requests: u64,
    pub allowed: u64,
    pub denied: u64,
    pub auth_failures: u64,
    pub rate_limited: u64,
    pub decisions: HashMap<String, u64>,
    pub events: VecDeque<Box<RawValue>>,
}

#[derive(Debug, Default)]
struct Inner {
    minutes: BTreeMap<u64, Counts>,
    hours: BTreeMap<u64, Counts>,
    /// Subject → the IPs it was seen from, with the first time.
    pairs: HashMap<Box<str>, Vec<(IpAddr, u64)>>,
    pair_count: usize,
    tick: Tick,
    /// Deltas not yet pushed to Redis (`None` when not shared).
    outbox: Option<Outbox>,
}

/// What is waiting to be mirrored into Redis.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Minute → field deltas.
    pub counts: HashMap<u64, Counts>,
    pub pairs: Vec<Pair>,
}

/// The replica's aggregates.
#[derive(Debug)]
pub struct Aggregates {
    settings: AnomalySettings,
    inner: Mutex<Inner>,
}

impl Aggregates {
    /// Empty aggregates; `shared`: keep an outbox for Redis.
    pub fn new(settings: AnomalySettings, shared: bool) -> Self {
        Self {
            settings,
            inner: Mutex::new(Inner {
                outbox: shared.then(Outbox::default),
                ..Inner::default()
            }),
        }
    }

    /// The thresholds findings use.
    pub fn settings(&self) -> &AnomalySettings {
        &self.settings
    }

    /// Counts one JSON line (as recorded, or chained); `live`: also into the dashboard feed
    /// (not for a rebuild). Shared aggregates also queue it for Redis. `now`: Unix seconds.
    /// Returns false for a line that is not an event.
    pub fn add_line(&self, line: &[u8], live: bool, now: u64) -> bool {
        self.add_lines(&[line], live, now) == 1
    }

    /// Counts `lines` under one lock; the newest [`RECENT`] also go to the live feed when
    /// `live`. Returns how many were events.
    pub fn add_lines(&self, lines: &[&[u8]], live: bool, now: u64) -> usize {
        let mut facts = Facts::default();
        let mut counted = 0;
        let recent_from = lines.len().saturating_sub(RECENT);
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for (index, line) in lines.iter().enumerate() {
            let Ok(parsed) = serde_json::from_slice::<Line<'_>>(line) else {
                continue;
            };
            if !classify(&parsed, &self.settings, &mut facts) {
                continue;
            }
            counted += 1;
            inner.add(&facts, parsed.subject.as_deref(), now);
            if live {
                inner
                    .tick
                    .add(facts.outcome, &parsed, (index >= recent_from).then_some(*line));
            }
        }
        counted
    }

    /// The buckets starting at or after `from` (Unix minute) and the pairs.
    pub fn window(&self, from: u64) -> Window {
        self.window_with(from, 0, |_| true)
    }

    /// The buckets from minute `from` with, before minute `full_from`, only the fields `keep`
    /// accepts (the live detector needs the last hour whole but only the per-principal
    /// counts of the week before: no copy of every field of 8 days every few seconds).
    pub fn window_with(&self, from: u64, full_from: u64, keep: impl Fn(&str) -> bool) -> Window {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let select = |start: u64, counts: &Counts| -> Counts {
            if start >= full_from {
                counts.clone()
            } else {
                counts
                    .iter()
                    .filter(|(f, _)| keep(f))
                    .map(|(f, c)| (f.clone(), *c))
                    .collect()
            }
        };
        let mut buckets: Vec<Bucket> = inner
            .hours
            .range(from / 60 * 60..)
            .map(|(start, counts)| Bucket {
                start: *start,
                minutes: 60,
                counts: select(*start, counts),
            })
            .collect();
        buckets.extend(inner.minutes.range(from..).map(|(start, counts)| Bucket {
            start: *start,
            minutes: 1,
            counts: select(*start, counts),
        }));
        let pairs = inner
            .pairs
            .iter()
            .flat_map(|(subject, seen)| {
                seen.iter().map(|(ip, first_seen)| Pair {
                    subject: subject.to_string(),
                    ip: *ip,
                    first_seen: *first_seen,
                })
            })
            .collect();
        Window { buckets, pairs }
    }

    /// Every field summed over the minutes from `from` (one bucket; the dashboard's totals).
    pub fn merged(&self, from: u64) -> Counts {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Counts::new();
        for counts in inner.minutes.range(from..).map(|(_, c)| c) {
            for (field, count) in counts {
                bump(&mut out, field, *count);
            }
        }
        out
    }

    /// Takes the live counters since the last call.
    pub fn take_tick(&self) -> Tick {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut inner.tick)
    }

    /// Takes what waits for Redis.
    pub fn take_outbox(&self) -> Outbox {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.outbox.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Rolls minute buckets older than a day into hours and forgets what is past the horizon.
    pub fn roll(&self, now: u64) {
        let now_minute = now / 60;
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let keep_from = now_minute.saturating_sub(MINUTE_HORIZON);
        let recent = inner.minutes.split_off(&keep_from);
        let old = std::mem::replace(&mut inner.minutes, recent);
        for (minute, counts) in old {
            let hour = inner.hours.entry(minute / 60 * 60).or_default();
            merge(hour, counts);
        }
        let horizon = now_minute.saturating_sub(HORIZON);
        inner.hours = inner.hours.split_off(&(horizon / 60 * 60));
        let oldest = horizon * 60;
        let mut kept = 0;
        inner.pairs.retain(|_, seen| {
            seen.retain(|(_, first)| *first >= oldest);
            kept += seen.len();
            !seen.is_empty()
        });
        inner.pair_count = kept;
    }
}

impl AuditObserver for Aggregates {
    fn observe(&self, batch: &[u8]) {
        let lines: Vec<&[u8]> = batch.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        self.add_lines(&lines, true, unix_now());
    }
}

impl Inner {
    fn add(&mut self, facts: &Facts, subject: Option<&str>, now: u64) {
        let minute = facts.unix / 60;
        if minute + HORIZON < now / 60 {
            return;
        }
        let recent = minute + MINUTE_HORIZON >= now / 60;
        let counts = if recent {
            self.minutes.entry(minute).or_default()
        } else {
            self.hours.entry(minute / 60 * 60).or_default()
        };
        for field in facts.fields() {
            bump(counts, field, 1);
        }
        if let Some(outbox) = self.outbox.as_mut() {
            let counts = outbox.counts.entry(minute).or_default();
            for field in facts.fields() {
                bump(counts, field, 1);
            }
        }
        let (Some(ip), Some(subject)) = (facts.pair, subject) else {
            return;
        };
        let known = match self.pairs.get_mut(subject) {
            Some(known) => known,
            None if self.pair_count < MAX_PAIRS => self.pairs.entry(subject.into()).or_default(),
            None => return,
        };
        match known.iter_mut().find(|(seen, _)| *seen == ip) {
            Some((_, first)) => *first = (*first).min(facts.unix),
            None if self.pair_count < MAX_PAIRS => {
                known.push((ip, facts.unix));
                self.pair_count += 1;
                if let Some(outbox) = self.outbox.as_mut() {
                    outbox.pairs.push(Pair {
                        subject: subject.to_string(),
                        ip,
                        first_seen: facts.unix,
                    });
                }
            }
            None => {}
        }
    }
}

impl Tick {
    fn add(&mut self, outcome: Outcome, line: &Line<'_>, raw: Option<&[u8]>) {
        if outcome.request {
            self.requests += 1;
            match self.decisions.get_mut(line.reason.as_ref()) {
                Some(count) => *count += 1,
                None => {
                    self.decisions.insert(line.reason.to_string(), 1);
                }
            }
            if outcome.allowed {
                self.allowed += 1;
            } else {
                self.denied += 1;
            }
        }
        self.auth_failures += u64::from(outcome.auth_failure);
        self.rate_limited += u64::from(outcome.rate_limited);
        let Some(raw) = raw else { return };
        if let Some(raw) = std::str::from_utf8(raw)
            .ok()
            .and_then(|s| RawValue::from_string(s.to_owned()).ok())
        {
            if self.events.len() == RECENT {
                self.events.pop_front();
            }
            self.events.push_back(raw);
        }
    }
}

/// Adds `count` to `field`, or to `overflow` when the bucket is full.
pub fn bump(counts: &mut Counts, field: &str, count: u64) {
    if let Some(value) = counts.get_mut(field) {
        *value += count;
    } else if counts.len() < MAX_FIELDS {
        counts.insert(field.into(), count);
    } else {
        *counts.entry("overflow".into()).or_default() += count;
    }
}

fn merge(into: &mut Counts, from: Counts) {
    for (field, count) in from {
        bump(into, &field, count);
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
