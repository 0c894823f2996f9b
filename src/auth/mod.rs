//! Authentication: who is calling. Order: a verified client certificate (mTLS), then
//! `Authorization: Bearer` (a Portcullis JWT, or an `mcp_` API key), then the API-key header.
//! More than one credential is refused rather than resolved. Credentials never leave this
//! module: the `Principal` carries ids, never secrets.

pub mod api_key;
mod cache;
pub(crate) mod fetch;
pub mod issuer;
pub mod jwt;
mod principal;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;

pub use cache::TokenCache;
pub use principal::{AuthMethod, Principal};

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
        }
    }
}

/// Everything needed to check credentials; rebuilt on reload.
#[derive(Debug, Default)]
pub struct Authenticator {
    pub jwt: Option<jwt::JwtSettings>,
    pub api_keys: Vec<api_key::StoredKey>,
    pub api_key_header: Option<http::HeaderName>,
    pub issuers: Vec<Arc<issuer::Issuer>>,
    pub cache: TokenCache,
}

pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Authenticator {
    /// True when any credential type is configured.
    pub fn configured(&self) -> bool {
        self.jwt.is_some() || !self.api_keys.is_empty() || !self.issuers.is_empty()
    }

    /// Authenticates the request's credential. `Err(Missing)` when none was sent.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Principal>, AuthFailure> {
        let mut bearer = headers.get_all(http::header::AUTHORIZATION).iter();
        let authorization = bearer.next();
        if bearer.next().is_some() {
            return Err(AuthFailure::Multiple);
        }
        let mut keys = self.api_key_header.iter().flat_map(|h| headers.get_all(h).iter());
        let header_key = keys.next();
        if keys.next().is_some() || (authorization.is_some() && header_key.is_some()) {
            return Err(AuthFailure::Multiple);
        }
        if let Some(value) = authorization {
            let value = value.to_str().map_err(|_| AuthFailure::Malformed)?;
            let (scheme, token) = value.split_once(' ').ok_or(AuthFailure::Malformed)?;
            if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
                return Err(AuthFailure::Malformed);
            }
            return self.bearer(token).await;
        }
        match header_key {
            Some(value) => self.api_key(value.to_str().map_err(|_| AuthFailure::Malformed)?),
            None => Err(AuthFailure::Missing),
        }
    }

    async fn bearer(&self, token: &str) -> Result<Arc<Principal>, AuthFailure> {
        if token.starts_with(api_key::PREFIX) {
            return self.api_key(token);
        }
        let max = self.jwt.as_ref().map_or(8192, |j| j.max_token_bytes);
        if token.len() > max {
            return Err(AuthFailure::TooLarge);
        }
        if let Some(principal) = self.cache.get(token) {
            return Ok(principal);
        }
        let (principal, exp) = if jwt::JwtSettings::looks_like_jwt(token) {
            let peek = jwt::peek(token)?;
            match (&self.jwt, peek.iss.as_deref()) {
                (Some(own), Some(iss)) if iss == own.issuer => {
                    let claims = own.verify_peeked(token, &peek)?;
                    let exp = claims.exp;
                    let principal = Principal {
                        subject: claims.sub,
                        method: AuthMethod::Jwt,
                        roles: claims.roles,
                        username: claims.username,
                        permissions: claims.permissions,
                        scopes: Vec::new(),
                        token_id: Some(claims.jti),
                        issuer: None,
                    };
                    (principal, exp)
                }
                (_, Some(iss)) => {
                    let issuer = self
                        .issuers
                        .iter()
                        .find(|i| i.settings.issuer == iss)
                        .ok_or(AuthFailure::WrongIssuer)?;
                    issuer
                        .verify_jwt(token, peek.kid.as_deref(), peek.typ.as_deref())
                        .await?
                }
                (_, None) => return Err(AuthFailure::Malformed),
            }
        } else {
            // Opaque: only an issuer with introspection can vouch for it.
            let issuer = self
                .issuers
                .iter()
                .find(|i| i.settings.introspection_url.is_some())
                .ok_or(AuthFailure::Malformed)?;
            let (principal, exp) = issuer.introspect(token).await?;
            // Introspection answers are cached briefly: a revoked token dies within a minute.
            (principal, exp.min(now() + 60))
        };
        let principal = Arc::new(principal);
        self.cache.put(token, Arc::clone(&principal), exp);
        Ok(principal)
    }

    fn api_key(&self, key: &str) -> Result<Arc<Principal>, AuthFailure> {
        let found = api_key::find(&self.api_keys, key, now())?;
        Ok(Arc::new(Principal {
            subject: found.subject.clone(),
            method: AuthMethod::ApiKey,
            roles: found.roles.clone(),
            username: None,
            permissions: found.permissions.clone(),
            scopes: Vec::new(),
            token_id: Some(found.id.clone()),
            issuer: None,
        }))
    }
}
