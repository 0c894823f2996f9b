//! Audit events: one JSON line per request (and per config reload), written by a dedicated
//! thread so the request path only serializes into a buffer. Events are never dropped: the
//! buffer is written every 20 ms and flushed on shutdown.

use std::cell::RefCell;
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Where audit events are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSink {
    /// JSON lines on standard output (logs go to standard error).
    Stdout,
    /// JSON lines appended to a file.
    File(PathBuf),
    /// No audit events (benchmarks only; warned at startup).
    Off,
    /// JSON lines on standard error: a command whose standard output is its answer
    /// (`keys create --json`) audits here when the config says `stdout`.
    Stderr,
}

/// One audit event. Never holds a credential: only subject, method and key/token ids.
#[derive(Debug, Serialize)]
pub struct AuditEvent<'a> {
    pub time: String,
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<&'static str>,
    /// Token id (`jti`) or API key id; never the credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsonrpc_method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<&'a str>,
    pub decision: &'static str,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

impl AuditEvent<'_> {
    /// An event of `kind` with every optional field empty.
    pub fn new(event: &'static str, decision: &'static str, reason: &'static str) -> Self {
        Self {
            time: rfc3339_now(),
            event,
            request_id: None,
            peer_ip: None,
            client_ip: None,
            subject: None,
            auth_method: None,
            key_id: None,
            route: None,
            http_method: None,
            jsonrpc_method: None,
            target: None,
            session: None,
            decision,
            reason,
            status: None,
            duration_ms: None,
            detail: None,
        }
    }
}

/// Handle to the audit writer. Requests append lines to a shared buffer; a writer thread
/// drains it every [`FLUSH_EVERY`] (sooner when the buffer grows large), so a request never
/// waits on disk and never wakes a thread of its own.
#[derive(Debug, Clone)]
pub struct AuditLog {
    shared: Option<Arc<Shared>>,
}

#[derive(Debug)]
struct Shared {
    pending: Mutex<Vec<u8>>,
    writer: std::thread::Thread,
    /// Completed flush rounds, for [`AuditLog::flush`].
    flushed: Mutex<u64>,
    /// Events lost to a stalled sink.
    lost: std::sync::atomic::AtomicU64,
    flushed_signal: Condvar,
}

/// How long an audit line may wait in memory before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// A buffer this large is written at once rather than at the next tick.
const WAKE_AT_BYTES: usize = 256 * 1024;
/// Past this, the sink has stalled (full disk, blocked stdout): events are counted as lost
/// and logged instead of growing memory without bound.
const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

impl AuditLog {
    /// Starts the writer for `sink`.
    pub fn start(sink: &AuditSink) -> std::io::Result<Self> {
        let writer: Box<dyn Write + Send> = match sink {
            AuditSink::Off => return Ok(Self { shared: None }),
            AuditSink::Stdout => Box::new(std::io::stdout()),
            AuditSink::Stderr => Box::new(std::io::stderr()),
            AuditSink::File(path) => Box::new(open_append(path)?),
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Arc<Shared>>();
        let handle = std::thread::Builder::new()
            .name("portcullis-audit".into())
            .spawn(move || {
                if let Ok(shared) = ready_rx.recv() {
                    write_loop(writer, &shared);
                }
            })?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::with_capacity(64 * 1024)),
            writer: handle.thread().clone(),
            flushed: Mutex::new(0),
            lost: std::sync::atomic::AtomicU64::new(0),
            flushed_signal: Condvar::new(),
        });
        ready_tx
            .send(Arc::clone(&shared))
            .map_err(|_| std::io::Error::other("audit writer did not start"))?;
        Ok(Self { shared: Some(shared) })
    }

    /// Queues one event.
    pub fn record(&self, event: &AuditEvent<'_>) {
        let Some(shared) = &self.shared else { return };
        let mut pending = shared.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() >= MAX_PENDING_BYTES {
            drop(pending);
            let lost = shared.lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if lost.is_power_of_two() {
                tracing::error!(lost, "audit sink stalled: events are being lost");
            }
            return;
        }
        if let Err(error) = serde_json::to_writer(&mut *pending, event) {
            tracing::error!(%error, "audit event not serializable");
            return;
        }
        pending.push(b'\n');
        let large = pending.len() >= WAKE_AT_BYTES;
        drop(pending);
        if large {
            shared.writer.unpark();
        }
    }

    /// Waits until everything recorded so far is written (shutdown, tests).
    pub fn flush(&self) {
        let Some(shared) = &self.shared else { return };
        let round = *shared.flushed.lock().unwrap_or_else(PoisonError::into_inner);
        shared.writer.unpark();
        let flushed = shared.flushed.lock().unwrap_or_else(PoisonError::into_inner);
        // Two completed rounds guarantee one started after this call.
        let _ = shared
            .flushed_signal
            .wait_timeout_while(flushed, Duration::from_secs(5), |done| *done < round + 2);
    }
}

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn write_loop(writer: Box<dyn Write + Send>, shared: &Shared) {
    let mut out = BufWriter::with_capacity(64 * 1024, writer);
    let mut batch = Vec::with_capacity(64 * 1024);
    loop {
        std::thread::park_timeout(FLUSH_EVERY);
        {
            let mut pending = shared.pending.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *pending, &mut batch);
        }
        if !batch.is_empty() {
            if let Err(error) = out.write_all(&batch).and_then(|()| out.flush()) {
                tracing::error!(%error, "audit write failed");
            }
            batch.clear();
        }
        let mut flushed = shared.flushed.lock().unwrap_or_else(PoisonError::into_inner);
        *flushed += 1;
        shared.flushed_signal.notify_all();
    }
}

thread_local! {
    /// The last second formatted on this thread: audit events come in bursts within a second.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_now() -> String {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, millis) = (since.as_secs(), since.subsec_millis());
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != secs {
            *text = format_rfc3339(secs, 0);
            *cached = secs;
        }
        // `text` ends in "000Z": keep the date and time, put in the milliseconds.
        let mut out = String::with_capacity(24);
        out.push_str(&text[..text.len() - 4]);
        for digit in [millis / 100, millis / 10 % 10, millis % 10] {
            out.push(char::from_digit(digit, 10).unwrap_or('0'));
        }
        out.push('Z');
        out
    })
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339(secs: u64, millis: u32) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil-from-days (H. Hinnant's algorithm), proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::format_rfc3339;

    #[test]
    fn cached_second_keeps_millis_exact() {
        let now = super::rfc3339_now();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[19] == b'.', "{now}");
    }

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(format_rfc3339(1_795_650_000, 123), "2026-11-25T23:40:00.123Z");
    }
}
