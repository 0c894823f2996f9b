//! One link of the hash chain. A chained line is the recorded event with `seq` and
//! `prev_hash` put first and `hash` last:
//! `{"seq":7,"prev_hash":"<hex>",…the event's fields…,"hash":"<hex>"}`. `hash` is SHA-256 (or
//! HMAC-SHA256 under `[audit].hmac_key`) over the exact bytes of the line without its
//! `,"hash":"…"` member, which hold `prev_hash`: editing any byte of an event, or of any event
//! before it, breaks every hash from there on.

use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::telemetry::trace::hex;

/// `prev_hash` of the first event of a log.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_MEMBER: &[u8] = b",\"hash\":\"";

/// How links are hashed: plain SHA-256, or keyed (an attacker who can write the log but
/// does not hold the key cannot recompute the chain).
#[derive(Clone)]
pub struct Mac {
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl Mac {
    /// SHA-256 when `key` is `None`, HMAC-SHA256 under it otherwise.
    pub fn new(key: Option<&[u8]>) -> Self {
        Self {
            key: key.map(<[u8]>::to_vec),
        }
    }

    /// `sha256` or `hmac-sha256` (recorded in the head file).
    pub fn kind(&self) -> &'static str {
        if self.key.is_some() { "hmac-sha256" } else { "sha256" }
    }

    fn digest(&self, body: &[u8]) -> [u8; 32] {
        match &self.key {
            None => Sha256::digest(body).into(),
            Some(key) => match Hmac::<Sha256>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(body);
                    mac.finalize().into_bytes().into()
                }
                // HMAC takes keys of any length: unreachable, but never a panic.
                Err(_) => Sha256::digest(body).into(),
            },
        }
    }
}

/// Appends to `out` the chained line (newline included) of `event`, a JSON object as
/// recorded, numbered `seq` after the link `prev`; returns its hash as lowercase hex.
pub fn seal(mac: &Mac, seq: u64, prev: &str, event: &[u8], out: &mut Vec<u8>) -> String {
    let start = out.len();
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"prev_hash\":\"");
    out.extend_from_slice(prev.as_bytes());
    out.push(b'"');
    let rest = event.strip_prefix(b"{").unwrap_or(event);
    if rest.iter().any(|b| !b.is_ascii_whitespace() && *b != b'}') {
        out.push(b',');
        out.extend_from_slice(rest);
    } else {
        out.push(b'}');
    }
    let hash = hex(&mac.digest(&out[start..]));
    out.pop();
    out.extend_from_slice(HASH_MEMBER);
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(b"\"}\n");
    hash
}

/// What a chained line says about itself, once its hash checked out.
#[derive(Debug)]
pub struct Link {
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
    pub event: Option<String>,
    /// Events dropped before a gap marker.
    pub lost: Option<u64>,
    pub time: Option<String>,
}

/// Why a line is not a valid link.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkError {
    /// Not a chained JSON line (cut short, or not written by a chain).
    Malformed(&'static str),
    /// The hash does not match the bytes: the event was edited (or the key is wrong).
    HashMismatch { seq: Option<u64> },
}

#[derive(Deserialize)]
struct Fields {
    seq: u64,
    prev_hash: String,
    event: Option<String>,
    lost: Option<u64>,
    time: Option<String>,
}

/// Checks one chained line (without its newline) and reads its link fields.
pub fn unseal(mac: &Mac, line: &[u8]) -> Result<Link, LinkError> {
    let Some(at) = line.windows(HASH_MEMBER.len()).rposition(|w| w == HASH_MEMBER) else {
        return Err(LinkError::Malformed("no hash member (a cut or unchained line)"));
    };
    let tail = &line[at + HASH_MEMBER.len()..];
    if tail.len() != 66 || !tail.ends_with(b"\"}") {
        return Err(LinkError::Malformed("the line does not end with its hash"));
    }
    let claimed = &tail[..64];
    let mut body = line[..at].to_vec();
    body.push(b'}');
    let fields: Result<Fields, _> = serde_json::from_slice(&body);
    let expected = hex(&mac.digest(&body));
    if expected.as_bytes() != claimed {
        return Err(LinkError::HashMismatch {
            seq: fields.ok().map(|f| f.seq),
        });
    }
    let fields = fields.map_err(|_| LinkError::Malformed("not a JSON object with seq and prev_hash"))?;
    Ok(Link {
        seq: fields.seq,
        prev_hash: fields.prev_hash,
        hash: expected,
        event: fields.event,
        lost: fields.lost,
        time: fields.time,
    })
}

#[cfg(test)]
mod tests {
    use super::{GENESIS, LinkError, Mac, seal, unseal};

    #[test]
    fn a_sealed_line_opens_and_an_edit_does_not() {
        let mac = Mac::new(None);
        let mut out = Vec::new();
        let hash = seal(&mac, 1, GENESIS, br#"{"event":"request","subject":"alice"}"#, &mut out);
        let line = out.strip_suffix(b"\n").unwrap_or(&out);
        let link = unseal(&mac, line).map_err(|e| format!("{e:?}"));
        assert_eq!(link.as_ref().map(|l| (l.seq, l.hash.clone())), Ok((1, hash)));
        let edited = String::from_utf8_lossy(line).replace("alice", "mallory");
        assert_eq!(
            unseal(&mac, edited.as_bytes()).map(|l| l.seq),
            Err(LinkError::HashMismatch { seq: Some(1) })
        );
        assert!(matches!(
            unseal(&Mac::new(Some(b"k")), line),
            Err(LinkError::HashMismatch { .. })
        ));
        assert!(matches!(
            unseal(&mac, &line[..line.len() - 3]),
            Err(LinkError::Malformed(_))
        ));
    }
}
