//! The chain head, kept outside the log (`<log>.head`, replaced atomically after every batch):
//! the last `seq` and `hash`, so `audit verify` notices events dropped from the end of the log,
//! which the chain alone cannot show.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The recorded head of a chain and the state of its active file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// `seq` of the last event written (0: none yet).
    pub seq: u64,
    /// Its hash (the genesis hash when none).
    pub hash: String,
    /// `seq` of the first event of the active file.
    pub file_first_seq: u64,
    /// When the active file was started (Unix seconds), for time-based rotation.
    pub file_started: u64,
    /// Bytes of the active file the chain wrote.
    pub file_bytes: u64,
    /// `sha256` or `hmac-sha256`.
    pub mac: String,
}

/// Where the head of the log at `log` is kept.
pub fn head_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".head");
    PathBuf::from(name)
}

/// The head at `path`; `None` when there is none yet.
pub fn read(path: &Path) -> io::Result<Option<Head>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Replaces the head at `path` (a temporary file renamed over it: never half-written).
pub fn write(path: &Path, head: &Head) -> io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    let bytes = serde_json::to_vec(head).map_err(io::Error::other)?;
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path)
}
