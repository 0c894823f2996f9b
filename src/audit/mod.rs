//! The audit trail you can trust and look at: the hash-chained file sink (`chain.rs`,
//! `writer.rs`, `head.rs`, `rotation.rs`) and its check (`verify.rs`); the rolling counters
//! every event feeds (`classify.rs` → `aggregates.rs`, mirrored in Redis by `shared.rs`, read
//! as a `window.rs`); the report (`report.rs`) and its findings (`findings.rs`); the running
//! side (`monitor.rs`: dashboard ticks, live detection); `open.rs`, `settings.rs`.

pub mod aggregates;
pub mod chain;
pub mod classify;
pub mod findings;
pub mod head;
pub mod monitor;
pub mod open;
pub mod report;
pub mod rotation;
pub mod settings;
pub mod shared;
pub mod verify;
pub mod window;
pub mod writer;

pub use aggregates::Aggregates;
pub use findings::Finding;
pub use monitor::AuditMonitor;
pub use open::{OpenedLog, open_log};
pub use report::{Range, Report};
pub use settings::{AnomalySettings, AuditSettings, ChainSettings};
pub use shared::SharedAggregates;
pub use writer::ChainWriter;
