//! `[audit]` (with `[audit.anomalies]`) → [`AuditSettings`], and `[telemetry]` →
//! [`TraceSettings`] (both static: read at start).

use std::path::PathBuf;

use super::ConfigError;
use super::duration::parse_duration;
use super::raw::{RawAnomalies, RawAudit, RawTelemetry};
use crate::audit::{AnomalySettings, AuditSettings, ChainSettings};
use crate::telemetry::AuditSink;
use crate::telemetry::audit::{OnFull, QueueSettings};
use crate::telemetry::trace::{TraceSettings, TrustTraceparent};

/// Validates `[audit]`; errors name the key.
pub fn audit(raw: RawAudit) -> Result<AuditSettings, ConfigError> {
    let sink = match (raw.sink.as_str(), &raw.path) {
        ("stdout", None) => AuditSink::Stdout,
        ("off", None) => AuditSink::Off,
        ("file", Some(path)) if !path.is_empty() => AuditSink::File(PathBuf::from(path)),
        ("file", _) => return Err(ConfigError::at("audit.path", "required when sink = \"file\"")),
        ("stdout" | "off", Some(_)) => {
            return Err(ConfigError::at("audit.path", "only allowed with sink = \"file\""));
        }
        (other, _) => {
            return Err(ConfigError::at(
                "audit.sink",
                format!("`{other}` is not one of \"stdout\", \"file\", \"off\""),
            ));
        }
    };
    let hmac_key = match raw.hmac_key.as_deref() {
        Some(key) if key.len() < 16 => {
            return Err(ConfigError::at(
                "audit.hmac_key",
                "must be at least 16 bytes (32 recommended)",
            ));
        }
        Some(key) => Some(key.as_bytes().to_vec()),
        None => None,
    };
    if raw.rotate_bytes < 4096 {
        return Err(ConfigError::at("audit.rotate_bytes", "must be at least 4096"));
    }
    let rotate_every = raw
        .rotate_every
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|m| ConfigError::at("audit.rotate_every", m))?;
    if rotate_every.is_some_and(|d| d.as_secs() < 1) {
        return Err(ConfigError::at("audit.rotate_every", "must be at least 1s"));
    }
    let chain = match &sink {
        AuditSink::File(path) => Some(ChainSettings {
            path: path.clone(),
            hmac_key,
            rotate_bytes: raw.rotate_bytes,
            rotate_every,
        }),
        _ if hmac_key.is_some() => {
            return Err(ConfigError::at("audit.hmac_key", "only used with sink = \"file\""));
        }
        _ => None,
    };
    let on_full = match raw.on_full.as_str() {
        "drop" => OnFull::Drop,
        "block" => OnFull::Block,
        other => {
            return Err(ConfigError::at(
                "audit.on_full",
                format!("`{other}` is not one of \"drop\", \"block\""),
            ));
        }
    };
    if raw.queue_bytes < 64 * 1024 {
        return Err(ConfigError::at("audit.queue_bytes", "must be at least 65536"));
    }
    Ok(AuditSettings {
        sink,
        chain,
        queue: QueueSettings {
            max_bytes: usize::try_from(raw.queue_bytes).unwrap_or(usize::MAX),
            on_full,
        },
        aggregate: raw.aggregate,
        anomalies: anomalies(&raw.anomalies)?,
    })
}

fn anomalies(raw: &RawAnomalies) -> Result<AnomalySettings, ConfigError> {
    let positive = |value: u64, key: &str| {
        if value == 0 {
            Err(ConfigError::at(key, "must be at least 1"))
        } else {
            Ok(value)
        }
    };
    if !(raw.rate_spike_factor.is_finite() && raw.rate_spike_factor > 1.0) {
        return Err(ConfigError::at(
            "audit.anomalies.rate_spike_factor",
            "must be a number above 1",
        ));
    }
    Ok(AnomalySettings {
        brute_force_failures: positive(raw.brute_force_failures, "audit.anomalies.brute_force_failures")?,
        enumeration_targets: positive(raw.enumeration_targets, "audit.anomalies.enumeration_targets")?,
        rate_spike_factor: raw.rate_spike_factor,
        rate_spike_min_requests: positive(raw.rate_spike_min_requests, "audit.anomalies.rate_spike_min_requests")?,
        rate_spike_min_history_hours: positive(
            raw.rate_spike_min_history_hours,
            "audit.anomalies.rate_spike_min_history_hours",
        )?,
        off_hours: off_hours(&raw.off_hours)?,
    })
}

/// `"HH:MM-HH:MM"` → minutes of the day; `""` → none.
fn off_hours(text: &str) -> Result<Option<(u32, u32)>, ConfigError> {
    if text.is_empty() {
        return Ok(None);
    }
    let minute = |part: &str| -> Option<u32> {
        let (h, m) = part.trim().split_once(':')?;
        let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let window = text.split_once('-').and_then(|(a, b)| Some((minute(a)?, minute(b)?)));
    match window {
        Some((start, end)) if start != end => Ok(Some((start, end))),
        _ => Err(ConfigError::at(
            "audit.anomalies.off_hours",
            "expected \"HH:MM-HH:MM\" (UTC, two different times) or \"\"",
        )),
    }
}

/// Validates `[telemetry]`.
pub fn telemetry(raw: &RawTelemetry) -> Result<TraceSettings, ConfigError> {
    let trust = match raw.trust_traceparent.as_str() {
        "authenticated" => TrustTraceparent::Authenticated,
        "never" => TrustTraceparent::Never,
        "always" => TrustTraceparent::Always,
        other => {
            return Err(ConfigError::at(
                "telemetry.trust_traceparent",
                format!("`{other}` is not one of \"authenticated\", \"never\", \"always\""),
            ));
        }
    };
    if let Some(endpoint) = &raw.otlp_endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        return Err(ConfigError::at(
            "telemetry.otlp_endpoint",
            "must be an http:// or https:// URL",
        ));
    }
    if raw.service_name.is_empty() {
        return Err(ConfigError::at("telemetry.service_name", "must not be empty"));
    }
    Ok(TraceSettings {
        trust,
        otlp_endpoint: raw.otlp_endpoint.clone(),
        service_name: raw.service_name.clone(),
    })
}
