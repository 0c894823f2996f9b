//! `Revocation`: one withdrawn credential — a token id, every token of a subject issued before
//! a moment, or a whole refresh family. Kept until `expires`, when no token it names can still
//! be valid, then dropped everywhere.

use serde::{Deserialize, Serialize};

/// What a revocation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationKind {
    /// One token (`jti`).
    Jti,
    /// Every token of a subject issued at or before `before`.
    Sub,
    /// Every access and refresh token of a refresh family.
    Family,
}

impl RevocationKind {
    /// Label for audit, metrics and JSON.
    pub fn label(self) -> &'static str {
        match self {
            Self::Jti => "jti",
            Self::Sub => "sub",
            Self::Family => "family",
        }
    }
}

/// One revocation as stored (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Stable id: the kind and value hashed, so revoking twice is one record.
    pub id: String,
    pub kind: RevocationKind,
    pub value: String,
    /// For `sub`: tokens issued at or before this moment are refused.
    #[serde(default)]
    pub before: Option<u64>,
    pub created: u64,
    /// After this no token it names can be valid: the record may go.
    pub expires: u64,
}

impl Revocation {
    /// A revocation of `kind` `value` made at `now`, kept until `expires`.
    pub fn new(kind: RevocationKind, value: &str, now: u64, expires: u64) -> Self {
        use sha2::{Digest as _, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(kind.label().as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        let digest = hasher.finalize();
        let id: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        Self {
            id,
            kind,
            value: value.to_string(),
            before: (kind == RevocationKind::Sub).then_some(now),
            created: now,
            expires,
        }
    }
}
