//! The files of one log: the active file `<log>` and the rotated ones `<log>.<first seq>`
//! (twelve digits, so names sort in chain order).

use std::io;
use std::path::{Path, PathBuf};

/// The name a full active file is renamed to, from the `seq` of its first event.
pub fn rotated_name(log: &Path, first_seq: u64) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(format!(".{first_seq:012}"));
    PathBuf::from(name)
}

/// The lock file writers of one log take around each batch (several processes, e.g. the
/// gateway and a CLI command, may append to one chain).
pub fn lock_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Every file of the log at `log`, oldest first: rotated files by their first `seq`, then the
/// active file when it exists.
pub fn rotation_set(log: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = match log.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(base) = log.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let mut rotated: Vec<(u64, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(suffix) = name.strip_prefix(base).and_then(|rest| rest.strip_prefix('.')) else {
            continue;
        };
        if suffix.len() == 12
            && suffix.bytes().all(|b| b.is_ascii_digit())
            && let Ok(seq) = suffix.parse::<u64>()
        {
            rotated.push((seq, entry.path()));
        }
    }
    rotated.sort();
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, path)| path).collect();
    if log.exists() {
        files.push(log.to_path_buf());
    }
    Ok(files)
}
