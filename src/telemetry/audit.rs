//! Audit events: one JSON line per request (and per config reload), written by a dedicated
//! thread so the request path only serializes into a bounded buffer. The buffer is written
//! every 20 ms and flushed on shutdown; when it is full, `[audit].on_full` decides whether the
//! request waits or the event is dropped, counted and marked by a gap event in the log.

use std::cell::RefCell;
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// W3C trace id of the request (to find its spans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<&'a str>,
    /// Events dropped before a gap marker (`audit_gap`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
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
            trace_id: None,
            lost: None,
        }
    }
}

/// What the writer thread hands each batch of JSON lines to: a stream (`stdout`, `stderr`) or
/// the hash-chained file of `crate::audit`.
pub trait AuditWriter: Send {
    /// Writes `batch` (whole JSON lines). `lost` events were dropped before it because the
    /// queue was full: the writer records that gap, never hides it.
    fn write_batch(&mut self, batch: &[u8], lost: u64) -> std::io::Result<()>;
}

/// Sees every batch after it is written (the aggregates and the live dashboard feed).
pub trait AuditObserver: Send + Sync + std::fmt::Debug {
    /// `batch` holds whole JSON lines, as recorded (before any chaining).
    fn observe(&self, batch: &[u8]);
}

/// What `record` does when the queue is full (the sink is slower than the traffic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFull {
    /// The recording request waits for room: no event is ever lost.
    Block,
    /// The event is dropped and counted; the chain gets a gap marker with the count.
    Drop,
}

/// The bounded queue between the request path and the writer thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    pub max_bytes: usize,
    pub on_full: OnFull,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            on_full: OnFull::Drop,
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
    /// Signalled when the writer took the pending buffer (room for blocked recorders).
    room: Condvar,
    queue: QueueSettings,
    writer: std::thread::Thread,
    /// Completed flush rounds, for [`AuditLog::flush`].
    flushed: Mutex<u64>,
    /// Events dropped since the writer last wrote a gap marker.
    lost: AtomicU64,
    /// Events dropped since start.
    dropped: AtomicU64,
    /// The metric that counts them too.
    dropped_metric: std::sync::OnceLock<prometheus_client::metrics::counter::Counter>,
    flushed_signal: Condvar,
}

/// How long an audit line may wait in memory before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// A buffer this large is written at once rather than at the next tick.
const WAKE_AT_BYTES: usize = 256 * 1024;

/// JSON lines on a stream; a gap is one plain `audit_gap` line.
struct StreamWriter(BufWriter<Box<dyn Write + Send>>);

impl AuditWriter for StreamWriter {
    fn write_batch(&mut self, batch: &[u8], lost: u64) -> std::io::Result<()> {
        if lost > 0 {
            self.0.write_all(&gap_event(lost))?;
            self.0.write_all(b"\n")?;
        }
        self.0.write_all(batch)?;
        self.0.flush()
    }
}

/// The `audit_gap` event (one JSON object) standing for `lost` dropped events.
pub fn gap_event(lost: u64) -> Vec<u8> {
    let mut gap = AuditEvent::new("audit_gap", "error", "queue_full");
    let detail = format!("{lost} events dropped: the audit queue was full");
    gap.detail = Some(&detail);
    gap.lost = Some(lost);
    serde_json::to_vec(&gap).unwrap_or_default()
}

impl AuditLog {
    /// Starts the writer for a stream sink (`stdout`, `stderr`) or none (`off`). The file
    /// sink is hash-chained: `crate::audit::open_log` starts it.
    pub fn start(sink: &AuditSink) -> std::io::Result<Self> {
        match stream_writer(sink)? {
            Some(writer) => Self::start_with(writer, None, QueueSettings::default()),
            None => Ok(Self { shared: None }),
        }
    }

    /// Starts the writer thread over `writer`, showing every batch to `observer`.
    pub fn start_with(
        writer: Box<dyn AuditWriter>,
        observer: Option<Arc<dyn AuditObserver>>,
        queue: QueueSettings,
    ) -> std::io::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Arc<Shared>>();
        let handle = std::thread::Builder::new()
            .name("portcullis-audit".into())
            .spawn(move || {
                if let Ok(shared) = ready_rx.recv() {
                    write_loop(writer, observer.as_deref(), &shared);
                }
            })?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::with_capacity(64 * 1024)),
            room: Condvar::new(),
            queue,
            writer: handle.thread().clone(),
            flushed: Mutex::new(0),
            lost: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            dropped_metric: std::sync::OnceLock::new(),
            flushed_signal: Condvar::new(),
        });
        ready_tx
            .send(Arc::clone(&shared))
            .map_err(|_| std::io::Error::other("audit writer did not start"))?;
        Ok(Self { shared: Some(shared) })
    }

    /// Whether events go anywhere.
    pub fn enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// Events dropped because the queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.shared.as_ref().map_or(0, |s| s.dropped.load(Ordering::Relaxed))
    }

    /// Counts dropped events in `counter` too (`portcullis_audit_dropped_events_total`).
    pub fn count_drops_in(&self, counter: prometheus_client::metrics::counter::Counter) {
        if let Some(shared) = &self.shared {
            let _ = shared.dropped_metric.set(counter);
        }
    }

    /// Queues one event.
    pub fn record(&self, event: &AuditEvent<'_>) {
        let Some(shared) = &self.shared else { return };
        let mut pending = shared.pending.lock().unwrap_or_else(PoisonError::into_inner);
        while pending.len() >= shared.queue.max_bytes {
            if shared.queue.on_full == OnFull::Drop {
                drop(pending);
                shared.lost.fetch_add(1, Ordering::Relaxed);
                let dropped = shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(metric) = shared.dropped_metric.get() {
                    metric.inc();
                }
                if dropped.is_power_of_two() {
                    tracing::error!(
                        dropped,
                        "audit queue full: events are being dropped (gap markers in the log)"
                    );
                }
                return;
            }
            shared.writer.unpark();
            pending = shared
                .room
                .wait_timeout(pending, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
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

/// The plain writer of a stream sink (a `File` sink opened this way is not chained); `None`
/// for `off`.
pub fn stream_writer(sink: &AuditSink) -> std::io::Result<Option<Box<dyn AuditWriter>>> {
    let stream: Box<dyn Write + Send> = match sink {
        AuditSink::Off => return Ok(None),
        AuditSink::Stdout => Box::new(std::io::stdout()),
        AuditSink::Stderr => Box::new(std::io::stderr()),
        AuditSink::File(path) => Box::new(open_append(path)?),
    };
    Ok(Some(Box::new(StreamWriter(BufWriter::with_capacity(
        64 * 1024,
        stream,
    )))))
}

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn write_loop(mut writer: Box<dyn AuditWriter>, observer: Option<&dyn AuditObserver>, shared: &Shared) {
    let mut batch = Vec::with_capacity(64 * 1024);
    loop {
        std::thread::park_timeout(FLUSH_EVERY);
        {
            let mut pending = shared.pending.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *pending, &mut batch);
        }
        shared.room.notify_all();
        let lost = shared.lost.swap(0, Ordering::Relaxed);
        if !batch.is_empty() || lost > 0 {
            if let Err(error) = writer.write_batch(&batch, lost) {
                tracing::error!(%error, "audit write failed");
            }
            if let Some(observer) = observer {
                observer.observe(&batch);
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

/// Seconds since the epoch of a UTC `YYYY-MM-DDTHH:MM:SS[.fff]Z` timestamp (what
/// [`format_rfc3339`] writes); `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[10] != b'T' || !text.ends_with('Z') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days-from-civil (H. Hinnant's algorithm), the inverse of `format_rfc3339`.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()
}

#[cfg(test)]
mod tests {
    use super::{format_rfc3339, parse_rfc3339};

    #[test]
    fn parses_what_it_formats() {
        for secs in [0, 951_782_400, 1_795_650_000, 1_796_659_261] {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs, 123)), Some(secs));
        }
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

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
