//! `AuthFailure`: why a credential was refused, with its audit reason and the description a
//! client sees (never the credential).

/// Why a credential was refused (the audit reason; never echoed with the credential).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Multiple,
    Malformed,
    TooLarge,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    WrongTokenType,
    Crit,
    UnknownKey,
    /// The issuer needed to check the token could not be reached (fails closed: 503).
    IssuerUnavailable,
    /// Withdrawn: a revoked token, family or subject, or a revoked API key.
    Revoked,
    /// The credential store could not confirm this replica's revocations are current for
    /// longer than `revocation_max_staleness` (fails closed: 503).
    StateStale,
}

impl AuthFailure {
    /// Stable label for audit and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "credential_missing",
            Self::Multiple => "multiple_credentials",
            Self::Malformed => "credential_malformed",
            Self::TooLarge => "token_too_large",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::WrongTokenType => "wrong_token_type",
            Self::Crit => "unsupported_crit",
            Self::UnknownKey => "unknown_key",
            Self::IssuerUnavailable => "issuer_unavailable",
            Self::Revoked => "revoked",
            Self::StateStale => "revocations_stale",
        }
    }

    /// The `error_description` clients see: what failed, never a value.
    pub fn description(self) -> &'static str {
        match self {
            Self::Missing => "Authentication required",
            Self::Multiple => "More than one credential was presented",
            Self::Malformed => "The credential is malformed",
            Self::TooLarge => "The token is too large",
            Self::BadSignature => "The token signature is invalid",
            Self::Expired => "The credential has expired",
            Self::NotYetValid => "The token is not valid yet",
            Self::WrongIssuer => "The token was issued by an unknown issuer",
            Self::WrongAudience => "The token was issued for another resource",
            Self::WrongTokenType => "Not an access token",
            Self::Crit => "The token uses unsupported critical extensions",
            Self::UnknownKey => "Unknown or inactive credential",
            Self::IssuerUnavailable => "The token issuer could not be reached",
            Self::Revoked => "The credential has been revoked",
            Self::StateStale => "Revocations cannot be confirmed current",
        }
    }
}
