//! `audit verify`: walks a log's files in chain order and reports the first event that is
//! edited, missing, out of order, cut short, or missing from the end (against the head).

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::chain::{self, GENESIS, LinkError, Mac};
use super::head::Head;

/// A log that checked out.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Verified {
    pub events: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub files: usize,
    /// Gap markers: the queue was full and `lost` events were dropped (counted, not hidden).
    pub gap_markers: u64,
    pub lost_events: u64,
    pub head_checked: bool,
    pub warnings: Vec<String>,
}

/// The first break found.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Broken {
    pub file: PathBuf,
    /// 1-based line in `file` (0: the break is at the end of the log).
    pub line: usize,
    pub seq: Option<u64>,
    /// `malformed`, `edited`, `missing`, `out_of_order`, `relinked`, `truncated_end`,
    /// `head_mismatch`, `empty`.
    pub kind: &'static str,
    pub message: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}: {} — {}",
                self.file.display(),
                self.line,
                self.kind,
                self.message
            )
        } else {
            write!(f, "{}: {} — {}", self.file.display(), self.kind, self.message)
        }
    }
}

struct Walk<'a> {
    mac: &'a Mac,
    pruned: bool,
    last: Option<(u64, String)>,
    verified: Verified,
}

/// Checks `files` (any order: they are put in chain order by their first event) and, when
/// given, that the log ends where `head` says it does. The log must start at seq 1 unless
/// `pruned` (the oldest files were deleted on purpose).
pub fn verify(files: &[PathBuf], head: Option<&Head>, mac: &Mac, pruned: bool) -> Result<Verified, Broken> {
    let mut ordered: Vec<(u64, &PathBuf)> = files.iter().map(|f| (first_seq(f, mac), f)).collect();
    ordered.sort_by_key(|(seq, _)| *seq);
    let mut walk = Walk {
        mac,
        pruned,
        last: None,
        verified: Verified {
            events: 0,
            first_seq: 0,
            last_seq: 0,
            files: files.len(),
            gap_markers: 0,
            lost_events: 0,
            head_checked: false,
            warnings: Vec::new(),
        },
    };
    for (_, file) in &ordered {
        walk.file(file)?;
    }
    let end_file = ordered.last().map_or_else(PathBuf::new, |(_, f)| (*f).clone());
    let Some((last_seq, last_hash)) = walk.last.clone() else {
        return Err(Broken {
            file: end_file,
            line: 0,
            seq: None,
            kind: "empty",
            message: "no events".into(),
        });
    };
    if let Some(head) = head {
        walk.verified.head_checked = true;
        if head.mac != mac.kind() {
            walk.verified.warnings.push(format!(
                "the head says the chain uses {}, checked with {}",
                head.mac,
                mac.kind()
            ));
        }
        if head.seq > last_seq {
            return Err(Broken {
                file: end_file,
                line: 0,
                seq: Some(last_seq),
                kind: "truncated_end",
                message: format!(
                    "the head records seq {} but the log ends at seq {last_seq}: events {}..={} are missing from the end",
                    head.seq,
                    last_seq + 1,
                    head.seq
                ),
            });
        }
        if head.seq == last_seq && head.hash != last_hash {
            return Err(Broken {
                file: end_file,
                line: 0,
                seq: Some(last_seq),
                kind: "head_mismatch",
                message: "the last event's hash is not the one the head records (the end was rewritten)".into(),
            });
        }
        if head.seq < last_seq {
            walk.verified.warnings.push(format!(
                "the head records seq {} but the log goes on to {last_seq} (a writer stopped before recording its head)",
                head.seq
            ));
        }
    } else {
        walk.verified
            .warnings
            .push("no head file: events dropped from the end of the log cannot be detected".into());
    }
    walk.verified.last_seq = last_seq;
    Ok(walk.verified)
}

impl Walk<'_> {
    fn file(&mut self, path: &Path) -> Result<(), Broken> {
        let broken = |line: usize, seq: Option<u64>, kind: &'static str, message: String| Broken {
            file: path.to_path_buf(),
            line,
            seq,
            kind,
            message,
        };
        let file = File::open(path).map_err(|e| broken(0, None, "malformed", format!("cannot read: {e}")))?;
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        let mut number = 0usize;
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| broken(number, None, "malformed", format!("cannot read: {e}")))?;
            if read == 0 {
                return Ok(());
            }
            number += 1;
            let complete = line.ends_with(b"\n");
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            if text.is_empty() {
                continue;
            }
            let link = match chain::unseal(self.mac, text) {
                Ok(link) => link,
                Err(LinkError::Malformed(why)) => {
                    let kind = if complete { "malformed" } else { "truncated" };
                    return Err(broken(
                        number,
                        None,
                        kind,
                        format!("not a complete chained event: {why}"),
                    ));
                }
                Err(LinkError::HashMismatch { seq }) => {
                    return Err(broken(
                        number,
                        seq,
                        "edited",
                        "the event's hash does not match its content (edited, or checked with the wrong key)".into(),
                    ));
                }
            };
            match &self.last {
                None => {
                    self.verified.first_seq = link.seq;
                    if link.seq == 1 && link.prev_hash != GENESIS {
                        return Err(broken(
                            number,
                            Some(1),
                            "relinked",
                            "the first event does not start the chain".into(),
                        ));
                    }
                    if link.seq != 1 && !self.pruned {
                        return Err(broken(
                            number,
                            Some(link.seq),
                            "missing",
                            format!(
                                "the log starts at seq {}: events 1..={} are missing (pass --pruned if the oldest files were deleted on purpose)",
                                link.seq,
                                link.seq - 1
                            ),
                        ));
                    }
                    if link.seq != 1 {
                        self.verified.warnings.push(format!(
                            "the log starts at seq {}: earlier events (removed by retention?) were not checked",
                            link.seq
                        ));
                    }
                }
                Some((seq, hash)) => {
                    let expected = seq + 1;
                    if link.seq > expected {
                        return Err(broken(
                            number,
                            Some(link.seq),
                            "missing",
                            format!(
                                "expected seq {expected}, found {}: events {expected}..={} are missing (deleted, or a file of the set is gone)",
                                link.seq,
                                link.seq - 1
                            ),
                        ));
                    }
                    if link.seq < expected {
                        return Err(broken(
                            number,
                            Some(link.seq),
                            "out_of_order",
                            format!(
                                "expected seq {expected}, found {} (events reordered or repeated)",
                                link.seq
                            ),
                        ));
                    }
                    if &link.prev_hash != hash {
                        return Err(broken(
                            number,
                            Some(link.seq),
                            "relinked",
                            "prev_hash is not the previous event's hash (events replaced)".into(),
                        ));
                    }
                }
            }
            if link.event.as_deref() == Some("audit_gap") {
                self.verified.gap_markers += 1;
                self.verified.lost_events += link.lost.unwrap_or(0);
            }
            self.verified.events += 1;
            self.last = Some((link.seq, link.hash));
        }
    }
}

/// The `seq` of the first event of `path` (`u64::MAX` when unreadable, so it sorts last and
/// its break is reported).
fn first_seq(path: &Path, mac: &Mac) -> u64 {
    let Ok(file) = File::open(path) else { return u64::MAX };
    let mut line = Vec::new();
    if BufReader::new(file).read_until(b'\n', &mut line).is_err() {
        return u64::MAX;
    }
    let text = line.strip_suffix(b"\n").unwrap_or(&line);
    match chain::unseal(mac, text) {
        Ok(link) => link.seq,
        Err(LinkError::HashMismatch { seq: Some(seq) }) => seq,
        Err(_) => u64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::chain::{GENESIS, Mac, seal};
    use super::super::head::Head;
    use super::verify;

    /// A chained log of `events` in files of `per_file` events, with its head.
    fn log(dir: &std::path::Path, events: &[String], per_file: usize, mac: &Mac) -> (Vec<std::path::PathBuf>, Head) {
        let mut files = Vec::new();
        let mut prev = GENESIS.to_string();
        for (index, chunk) in events.chunks(per_file).enumerate() {
            let mut out = Vec::new();
            for (offset, event) in chunk.iter().enumerate() {
                let seq = (index * per_file + offset + 1) as u64;
                prev = seal(mac, seq, &prev, event.as_bytes(), &mut out);
            }
            let path = dir.join(format!("audit.jsonl.{:012}", index * per_file + 1));
            std::fs::write(&path, out).unwrap_or_default();
            files.push(path);
        }
        let head = Head {
            seq: events.len() as u64,
            hash: prev,
            file_first_seq: 1,
            file_started: 0,
            file_bytes: 0,
            mac: mac.kind().into(),
        };
        (files, head)
    }

    fn lines(path: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn write(path: &std::path::Path, lines: &[String]) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(path, text).unwrap_or_default();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// An untouched chain verifies; any one tampering (edit a byte of a value, delete a
        /// line, swap two lines, cut the end, remove a file) is found.
        #[test]
        fn any_single_tampering_is_found(
            subjects in proptest::collection::vec("[a-z]{1,8}", 3..40),
            per_file in 1usize..8,
            op in 0u8..5,
            pick in any::<prop::sample::Index>(),
            keyed in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mac = Mac::new(keyed.then_some(b"property-test-key".as_slice()));
            let events: Vec<String> = subjects
                .iter()
                .map(|s| format!(r#"{{"time":"2026-12-07T10:00:00.000Z","event":"request","subject":"{s}","decision":"allow","reason":"ok"}}"#))
                .collect();
            let (mut files, head) = log(dir.path(), &events, per_file, &mac);
            prop_assert!(verify(&files, Some(&head), &mac, false).is_ok());
            let file = files[pick.index(files.len())].clone();
            let mut content = lines(&file);
            let at = pick.index(content.len());
            match op {
                0 => {
                    let edited = content[at].replacen("\"subject\":\"", "\"subject\":\"x", 1);
                    content[at] = edited;
                    write(&file, &content);
                }
                1 => {
                    content.remove(at);
                    write(&file, &content);
                }
                2 => {
                    if content.len() < 2 {
                        return Ok(());
                    }
                    let other = (at + 1) % content.len();
                    content.swap(at, other);
                    write(&file, &content);
                }
                3 => {
                    let last = files.last().cloned().unwrap_or_default();
                    let mut tail = lines(&last);
                    tail.pop();
                    write(&last, &tail);
                }
                _ => {
                    if files.len() < 2 {
                        return Ok(());
                    }
                    let removed = files.remove(pick.index(files.len()));
                    std::fs::remove_file(removed).unwrap_or_default();
                }
            }
            prop_assert!(verify(&files, Some(&head), &mac, false).is_err(), "op {} went unnoticed", op);
        }
    }
}
