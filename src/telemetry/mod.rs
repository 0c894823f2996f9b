//! Observability: logs, audit events, metrics.

pub mod audit;
pub mod logging;
pub mod metrics;
pub mod spans;
pub mod trace;

pub use audit::{AuditEvent, AuditLog, AuditSink};
pub use metrics::Metrics;
