//! The aggregates of every replica in Redis: hashes `audit:m:<minute>` (kept 25 h) and
//! `audit:h:<hour start minute>` (kept 8 days) of counter fields, and `audit:pairs`
//! (`subject<US>ip` → first seen). Each replica pushes its deltas once a second; a report
//! reads the fleet's buckets.

use std::collections::HashMap;
use std::sync::Arc;

use fred::interfaces::{HashesInterface as _, KeysInterface as _};

use super::aggregates::Outbox;

/// Minutes read minute by minute from Redis; older ones come from the hour hashes.
const MINUTE_READS: u64 = 120;
use super::classify::SEP;
use super::window::{Bucket, Pair, Window};
use crate::state::{RedisState, Unavailable};

/// The Redis side of the aggregates.
#[derive(Debug, Clone)]
pub struct SharedAggregates {
    redis: Arc<RedisState>,
}

impl SharedAggregates {
    pub fn new(redis: Arc<RedisState>) -> Self {
        Self { redis }
    }

    fn minute_key(&self, minute: u64) -> String {
        self.redis.key(&format!("audit:m:{minute}"))
    }

    fn hour_key(&self, hour: u64) -> String {
        self.redis.key(&format!("audit:h:{hour}"))
    }

    /// Pushes `outbox` (one pipeline). On failure the deltas are returned to be retried.
    pub async fn push(&self, outbox: Outbox) -> Result<(), Outbox> {
        if outbox.counts.is_empty() && outbox.pairs.is_empty() {
            return Ok(());
        }
        let client = self.redis.pool().next();
        let pipe = client.pipeline();
        let mut touched: HashMap<String, i64> = HashMap::new();
        for (minute, counts) in &outbox.counts {
            let minute_key = self.minute_key(*minute);
            let hour_key = self.hour_key(minute / 60 * 60);
            for (field, count) in counts {
                let count = i64::try_from(*count).unwrap_or(i64::MAX);
                let _: Result<(), _> = pipe.hincrby::<(), _, _>(&minute_key, field.as_ref(), count).await;
                let _: Result<(), _> = pipe.hincrby::<(), _, _>(&hour_key, field.as_ref(), count).await;
            }
            touched.insert(minute_key, 25 * 3600);
            touched.insert(hour_key, 8 * 24 * 3600);
        }
        let pairs_key = self.redis.key("audit:pairs");
        for pair in &outbox.pairs {
            let name = format!("{}{SEP}{}", pair.subject, pair.ip);
            let _: Result<(), _> = pipe.hsetnx::<(), _, _, _>(&pairs_key, name, pair.first_seen).await;
        }
        if !outbox.pairs.is_empty() {
            touched.insert(pairs_key, 30 * 24 * 3600);
        }
        for (key, seconds) in touched {
            let _: Result<(), _> = pipe.expire::<(), _>(key, seconds, None).await;
        }
        match self.redis.call("audit_push", pipe.all::<fred::types::Value>()).await {
            Ok(_) => Ok(()),
            Err(Unavailable) => Err(outbox),
        }
    }

    /// The fleet's buckets from minute `from` to `now` (minute buckets for the last two
    /// hours, hour buckets before: a report or a detector pass reads at most a few hundred
    /// hashes, not a day of minutes) and its pairs.
    pub async fn window(&self, from: u64, now: u64) -> Result<Window, Unavailable> {
        let minute_start = now.saturating_sub(MINUTE_READS).max(from);
        let client = self.redis.pool().next();
        let pipe = client.pipeline();
        let mut layout: Vec<(u64, u64)> = Vec::new();
        let mut hour = from / 60 * 60;
        while hour < minute_start / 60 * 60 {
            let _: Result<(), _> = pipe.hgetall::<(), _>(self.hour_key(hour)).await;
            layout.push((hour, 60));
            hour += 60;
        }
        // The hour holding `minute_start` is read minute by minute.
        for minute in hour..=now {
            let _: Result<(), _> = pipe.hgetall::<(), _>(self.minute_key(minute)).await;
            layout.push((minute, 1));
        }
        let _: Result<(), _> = pipe.hgetall::<(), _>(self.redis.key("audit:pairs")).await;
        let mut replies: Vec<HashMap<String, String>> = self.redis.call("audit_window", pipe.all()).await?;
        let pairs = replies.pop().unwrap_or_default();
        let buckets = layout
            .into_iter()
            .zip(replies)
            .filter(|(_, counts)| !counts.is_empty())
            .map(|((start, minutes), counts)| Bucket {
                start,
                minutes,
                counts: counts
                    .into_iter()
                    .filter_map(|(field, count)| Some((field.into_boxed_str(), count.parse().ok()?)))
                    .collect(),
            })
            .collect();
        let pairs = pairs
            .into_iter()
            .filter_map(|(name, first)| {
                let (subject, ip) = name.rsplit_once(SEP)?;
                Some(Pair {
                    subject: subject.to_string(),
                    ip: ip.parse().ok()?,
                    first_seen: first.parse().ok()?,
                })
            })
            .collect();
        Ok(Window { buckets, pairs })
    }
}
