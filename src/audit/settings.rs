//! The audit room's settings, built by `config/audit.rs` from `[audit]`.

use std::path::PathBuf;
use std::time::Duration;

/// The hash-chained file sink.
#[derive(Clone, PartialEq, Eq)]
pub struct ChainSettings {
    pub path: PathBuf,
    /// HMAC-SHA256 key for the links; `None`: plain SHA-256.
    pub hmac_key: Option<Vec<u8>>,
    /// Rotate the active file once it holds this many bytes.
    pub rotate_bytes: u64,
    /// Rotate it once it is this old.
    pub rotate_every: Option<Duration>,
}

impl std::fmt::Debug for ChainSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainSettings")
            .field("path", &self.path)
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "***"))
            .field("rotate_bytes", &self.rotate_bytes)
            .field("rotate_every", &self.rotate_every)
            .finish()
    }
}

/// `[audit.anomalies]`: when an access pattern becomes a finding.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalySettings {
    /// Failed authentications from one IP within the range.
    pub brute_force_failures: u64,
    /// Distinct tools (resources, prompts) one principal was denied.
    pub enumeration_targets: u64,
    /// A principal's hourly requests above this multiple of its 7-day median hour.
    pub rate_spike_factor: f64,
    /// ...and at least this many requests in the hour.
    pub rate_spike_min_requests: u64,
    /// ...with at least this many active hours of history.
    pub rate_spike_min_history_hours: u64,
    /// Admin activity in `[start, end)` minutes of the UTC day is off-hours (wraps midnight).
    pub off_hours: Option<(u32, u32)>,
}

impl Default for AnomalySettings {
    fn default() -> Self {
        Self {
            brute_force_failures: 10,
            enumeration_targets: 5,
            rate_spike_factor: 5.0,
            rate_spike_min_requests: 50,
            rate_spike_min_history_hours: 3,
            off_hours: Some((22 * 60, 6 * 60)),
        }
    }
}

impl AnomalySettings {
    /// Whether `minute_of_day` (UTC) falls in the off-hours window.
    pub fn off_hours_at(&self, minute_of_day: u32) -> bool {
        match self.off_hours {
            None => false,
            Some((start, end)) if start <= end => (start..end).contains(&minute_of_day),
            Some((start, end)) => minute_of_day >= start || minute_of_day < end,
        }
    }
}

/// `[audit]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSettings {
    pub sink: crate::telemetry::AuditSink,
    /// The chain of the `file` sink.
    pub chain: Option<ChainSettings>,
    pub queue: crate::telemetry::audit::QueueSettings,
    /// Feed the aggregates (report, findings, dashboard); off, only the log is written.
    pub aggregate: bool,
    pub anomalies: AnomalySettings,
}
