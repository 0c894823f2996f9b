//! Opening the audit log of a config: the hash-chained file sink or a stream, with the
//! aggregates watching it.

use std::path::PathBuf;
use std::sync::Arc;

use super::aggregates::Aggregates;
use super::rotation;
use super::settings::AuditSettings;
use super::writer::ChainWriter;
use crate::telemetry::AuditLog;
use crate::telemetry::audit::{AuditObserver, AuditSink, stream_writer};

/// An open audit log.
#[derive(Debug)]
pub struct OpenedLog {
    pub log: AuditLog,
    /// The aggregates it feeds (`None` when not asked for, or the sink is off).
    pub aggregates: Option<Arc<Aggregates>>,
    /// The files and last `seq` written before this start, to rebuild the aggregates from.
    pub history: Option<(Vec<PathBuf>, u64)>,
}

/// Opens the log of `settings`; `aggregate`: feed aggregates (the gateway; a CLI call does
/// not), `shared`: they mirror into Redis.
pub fn open_log(settings: &AuditSettings, aggregate: bool, shared: bool) -> std::io::Result<OpenedLog> {
    let aggregates = (aggregate && settings.aggregate && settings.sink != AuditSink::Off)
        .then(|| Arc::new(Aggregates::new(settings.anomalies.clone(), shared)));
    let observer = aggregates.clone().map(|a| a as Arc<dyn AuditObserver>);
    let mut history = None;
    let writer = match (&settings.sink, &settings.chain) {
        (AuditSink::File(_), Some(chain)) => {
            let writer = ChainWriter::open(chain)?;
            let head = writer.head()?;
            history = Some((rotation::rotation_set(&chain.path)?, head.seq));
            Some(Box::new(writer) as Box<dyn crate::telemetry::audit::AuditWriter>)
        }
        (sink, _) => stream_writer(sink)?,
    };
    let log = match writer {
        Some(writer) => AuditLog::start_with(writer, observer, settings.queue)?,
        None => AuditLog::start(&AuditSink::Off)?,
    };
    Ok(OpenedLog {
        log,
        aggregates,
        history,
    })
}
