//! `ChainWriter`: the `file` sink. Appends each batch as chained lines, rotates by size and
//! age with the chain running on across files, and records the head after every batch. Each
//! batch runs under an exclusive lock on `<log>.lock` and starts from the head on disk, so the
//! gateway and a CLI command can append to one chain without forking it.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead as _, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::chain::{self, GENESIS, Mac};
use super::head::{self, Head};
use super::rotation;
use super::settings::ChainSettings;
use crate::telemetry::audit::AuditWriter;

/// The hash-chained file sink.
#[derive(Debug)]
pub struct ChainWriter {
    log: PathBuf,
    head_path: PathBuf,
    lock_path: PathBuf,
    mac: Mac,
    rotate_bytes: u64,
    rotate_every: Option<Duration>,
    out: Vec<u8>,
}

impl ChainWriter {
    /// Prepares the sink at `settings.path`: the folder must exist and the files be writable
    /// (checked now, so a bad path fails the start, not the first request). A log left by an
    /// unchained writer is set aside as `<log>.unchained.<unix time>`.
    pub fn open(settings: &ChainSettings) -> io::Result<Self> {
        let writer = Self {
            log: settings.path.clone(),
            head_path: head::head_path(&settings.path),
            lock_path: rotation::lock_path(&settings.path),
            mac: Mac::new(settings.hmac_key.as_deref()),
            rotate_bytes: settings.rotate_bytes.max(1),
            rotate_every: settings.rotate_every,
            out: Vec::with_capacity(64 * 1024),
        };
        let lock = writer.lock()?;
        if head::read(&writer.head_path)?.is_none()
            && let Some(last) = last_line(&writer.log)?
            && chain::unseal(&writer.mac, &last).is_err()
        {
            let aside = format!("{}.unchained.{}", writer.log.display(), unix_now());
            tracing::warn!(log = %writer.log.display(), aside, "audit log has no chain head and does not end in a chained event: set aside");
            std::fs::rename(&writer.log, &aside)?;
        }
        OpenOptions::new().create(true).append(true).open(&writer.log)?;
        drop(lock);
        Ok(writer)
    }

    /// The head on disk, or the one a fresh chain starts from.
    pub fn head(&self) -> io::Result<Head> {
        self.resume()
    }

    fn lock(&self) -> io::Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)?;
        file.lock()?;
        Ok(file)
    }

    /// The head to continue from: the recorded one, reconciled with the active file (a crash
    /// between writing lines and the head leaves the file ahead; a rotation can leave it gone).
    fn resume(&self) -> io::Result<Head> {
        let recorded = head::read(&self.head_path)?;
        let len = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let mut head = match recorded {
            Some(head) => head,
            None => Head {
                seq: 0,
                hash: GENESIS.to_string(),
                file_first_seq: 1,
                file_started: unix_now(),
                file_bytes: 0,
                mac: self.mac.kind().to_string(),
            },
        };
        if len > head.file_bytes {
            if let Some(last) = last_line(&self.log)?
                && let Ok(link) = chain::unseal(&self.mac, &last)
                && link.seq > head.seq
            {
                head.seq = link.seq;
                head.hash = link.hash;
            }
            head.file_bytes = len;
        } else if len == 0 && head.file_bytes > 0 {
            // Rotated (or removed) since: the chain goes on in a new file.
            head.file_first_seq = head.seq + 1;
            head.file_bytes = 0;
            head.file_started = unix_now();
        } else {
            // A file cut short keeps the recorded head: verify reports the missing end.
            head.file_bytes = len;
        }
        Ok(head)
    }

    fn rotation_due(&self, head: &Head, now: u64) -> bool {
        head.file_bytes > 0
            && (head.file_bytes >= self.rotate_bytes
                || self
                    .rotate_every
                    .is_some_and(|every| now.saturating_sub(head.file_started) >= every.as_secs().max(1)))
    }

    fn write_locked(&mut self, batch: &[u8], lost: u64) -> io::Result<()> {
        let mut head = self.resume()?;
        let now = unix_now();
        let mut file = self.append(&mut head)?;
        self.out.clear();
        if lost > 0 {
            self.link(&mut head, &crate::telemetry::audit::gap_event(lost));
        }
        for event in batch.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
            if self.rotation_due(&head, now) {
                file.write_all(&self.out)?;
                self.out.clear();
                drop(file);
                std::fs::rename(&self.log, rotation::rotated_name(&self.log, head.file_first_seq))?;
                head.file_first_seq = head.seq + 1;
                head.file_bytes = 0;
                head.file_started = now;
                file = self.append(&mut head)?;
            }
            self.link(&mut head, event);
        }
        file.write_all(&self.out)?;
        self.out.clear();
        head.mac = self.mac.kind().to_string();
        head::write(&self.head_path, &head)
    }

    fn link(&mut self, head: &mut Head, event: &[u8]) {
        let before = self.out.len();
        head.seq += 1;
        head.hash = chain::seal(&self.mac, head.seq, &head.hash, event, &mut self.out);
        head.file_bytes += (self.out.len() - before) as u64;
    }

    /// The active file for appending; a last line cut short by a crash gets its newline, so
    /// the next event starts a line of its own (verify reports the cut one).
    fn append(&self, head: &mut Head) -> io::Result<File> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.log)?;
        let len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
                head.file_bytes = len + 1;
            }
        }
        Ok(file)
    }
}

impl AuditWriter for ChainWriter {
    fn write_batch(&mut self, batch: &[u8], lost: u64) -> io::Result<()> {
        let lock = self.lock()?;
        let written = self.write_locked(batch, lost);
        drop(lock);
        written
    }
}

/// The last non-empty line of the file at `path` (read from its end), if any.
pub fn last_line(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let len = file.metadata()?.len();
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        io::BufReader::new(&mut file).read_until(0, &mut tail)?;
        let trimmed = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(at) = trimmed.iter().rposition(|b| *b == b'\n') {
            return Ok(Some(trimmed[at + 1..].to_vec()));
        }
        if start == 0 {
            return Ok((!trimmed.is_empty()).then(|| trimmed.to_vec()));
        }
        window *= 4;
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::super::chain::Mac;
    use super::super::settings::ChainSettings;
    use super::super::{head, rotation, verify};
    use super::ChainWriter;
    use crate::telemetry::audit::{AuditWriter as _, OnFull, QueueSettings};
    use crate::telemetry::{AuditEvent, AuditLog};

    fn settings(dir: &std::path::Path) -> ChainSettings {
        ChainSettings {
            path: dir.join("audit.jsonl"),
            hmac_key: None,
            rotate_bytes: 1 << 20,
            rotate_every: None,
        }
    }

    #[test]
    fn dropped_events_leave_a_counted_gap_marker_in_the_chain() {
        let dir = tempfile::tempdir().unwrap_or_else(|_| std::process::abort());
        let settings = settings(dir.path());
        let mut writer = ChainWriter::open(&settings).unwrap_or_else(|_| std::process::abort());
        let event = br#"{"time":"2026-12-07T10:00:00.000Z","event":"request","decision":"allow","reason":"ok"}"#;
        assert!(writer.write_batch(&[event.as_slice(), b"\n"].concat(), 0).is_ok());
        assert!(writer.write_batch(&[event.as_slice(), b"\n"].concat(), 7).is_ok());
        let files = rotation::rotation_set(&settings.path).unwrap_or_default();
        let recorded = head::read(&head::head_path(&settings.path)).ok().flatten();
        let verified = verify::verify(&files, recorded.as_ref(), &Mac::new(None), false);
        let verified = verified.map(|v| (v.events, v.gap_markers, v.lost_events));
        assert_eq!(verified, Ok((3, 1, 7)));
    }

    /// A writer that stalls on its first batch.
    struct Slow(ChainWriter, bool);

    impl crate::telemetry::audit::AuditWriter for Slow {
        fn write_batch(&mut self, batch: &[u8], lost: u64) -> std::io::Result<()> {
            if !self.1 {
                self.1 = true;
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            self.0.write_batch(batch, lost)
        }
    }

    #[test]
    fn a_full_queue_drops_counts_and_marks_or_blocks_and_keeps_everything() {
        for on_full in [OnFull::Drop, OnFull::Block] {
            let dir = tempfile::tempdir().unwrap_or_else(|_| std::process::abort());
            let settings = settings(dir.path());
            let writer = ChainWriter::open(&settings).unwrap_or_else(|_| std::process::abort());
            let queue = QueueSettings {
                max_bytes: 2048,
                on_full,
            };
            let log = AuditLog::start_with(Box::new(Slow(writer, false)), None, queue)
                .unwrap_or_else(|_| std::process::abort());
            for _ in 0..200 {
                log.record(&AuditEvent::new("request", "allow", "ok"));
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            log.flush();
            log.flush();
            let files = rotation::rotation_set(&settings.path).unwrap_or_default();
            let recorded = head::read(&head::head_path(&settings.path)).ok().flatten();
            let verified = verify::verify(&files, recorded.as_ref(), &Mac::new(None), false);
            let Ok(verified) = verified else {
                unreachable!("the chain verifies: {verified:?}")
            };
            match on_full {
                OnFull::Drop => {
                    assert!(log.dropped() > 0, "the stalled writer made the queue overflow");
                    assert_eq!(verified.lost_events, log.dropped());
                    assert_eq!(verified.events - verified.gap_markers + log.dropped(), 200);
                }
                OnFull::Block => {
                    assert_eq!((log.dropped(), verified.gap_markers, verified.events), (0, 0, 200));
                }
            }
        }
    }
}
