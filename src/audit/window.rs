//! `Window`: the counter buckets and (subject, IP) pairs a report reads, from memory or Redis.

use std::collections::HashMap;
use std::net::IpAddr;

/// Counter fields of one bucket.
pub type Counts = HashMap<Box<str>, u64>;

/// One bucket: `minutes` long (1, or 60 for the rolled-up older hours), from `start` (Unix
/// minute).
#[derive(Debug, Clone)]
pub struct Bucket {
    pub start: u64,
    pub minutes: u64,
    pub counts: Counts,
}

/// A subject first seen from an IP at `first_seen` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub subject: String,
    pub ip: IpAddr,
    pub first_seen: u64,
}

/// A field's total over part of a window, with the minutes it was first and last counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub count: u64,
    pub first_minute: u64,
    pub last_minute: u64,
}

/// What a report reads.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub buckets: Vec<Bucket>,
    pub pairs: Vec<Pair>,
}

impl Window {
    /// Every field summed over the buckets starting in `[from, to)` (Unix minutes).
    pub fn totals(&self, from: u64, to: u64) -> HashMap<&str, Stat> {
        let mut out: HashMap<&str, Stat> = HashMap::new();
        for bucket in self.buckets.iter().filter(|b| b.start >= from && b.start < to) {
            let last = bucket.start + bucket.minutes - 1;
            for (field, count) in &bucket.counts {
                let stat = out.entry(field.as_ref()).or_insert(Stat {
                    count: 0,
                    first_minute: bucket.start,
                    last_minute: last,
                });
                stat.count += count;
                stat.first_minute = stat.first_minute.min(bucket.start);
                stat.last_minute = stat.last_minute.max(last);
            }
        }
        out
    }

    /// Per 60-minute slot ending at `now` (slot 0 = the last hour), the counts of the fields
    /// of `kind` by their first part.
    pub fn hourly(&self, kind: &str, now: u64) -> HashMap<String, HashMap<u64, u64>> {
        let mut out: HashMap<String, HashMap<u64, u64>> = HashMap::new();
        for bucket in &self.buckets {
            if bucket.start >= now {
                continue;
            }
            let slot = (now - 1 - bucket.start) / 60;
            for (field, count) in &bucket.counts {
                let (field_kind, parts) = super::classify::parts(field);
                if field_kind != kind {
                    continue;
                }
                let Some(first) = parts.first() else { continue };
                *out.entry((*first).to_string()).or_default().entry(slot).or_default() += count;
            }
        }
        out
    }
}
