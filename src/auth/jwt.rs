//! Tokens Portcullis issues and verifies itself. The key — and with it the algorithm — is
//! chosen by `kid` from the config, never from the token's `alg`; `exp`, `iss`, `aud`, `sub`
//! and `jti` are required and typed; `nbf` and a future `iat` are checked with an explicit
//! leeway; a non-empty `crit` is refused; access and refresh tokens differ in both the `typ`
//! header and the `type` claim; duplicate keys anywhere in header or claims are refused.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{AuthFailure, now};

/// `typ` header of access tokens (RFC 9068).
pub const ACCESS_TYP: &str = "at+jwt";
/// `typ` header of refresh tokens.
pub const REFRESH_TYP: &str = "refresh+jwt";

/// One configured key.
pub struct JwtKey {
    pub kid: String,
    pub alg: Algorithm,
    pub decoding: DecodingKey,
    /// Present when the gateway can issue with this key.
    pub encoding: Option<EncodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// Issuer, audience, lifetimes and keys of self-issued tokens.
#[derive(Debug)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub leeway: Duration,
    pub max_token_bytes: usize,
    pub keys: Vec<JwtKey>,
}

/// The claims of a Portcullis token. A derived struct: a duplicate claim is an error, and
/// each claim has its type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: Audience,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    pub iat: u64,
    pub jti: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The refresh family the token descends from (revoked with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
}

/// `aud`: one string or an array of strings (RFC 7519).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Header fields read before any signature work.
#[derive(Deserialize)]
struct RawHeader {
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

impl JwtKey {
    /// A key for `alg` with a pinned validation.
    pub fn new(
        kid: String,
        alg: Algorithm,
        decoding: DecodingKey,
        encoding: Option<EncodingKey>,
        settings: (&str, &str, u64),
    ) -> Self {
        let (issuer, audience, leeway) = settings;
        let mut validation = Validation::new(alg);
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"]
            .iter()
            .map(|s| (*s).to_string())
            .collect::<HashSet<_>>();
        validation.leeway = leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        Self {
            kid,
            alg,
            decoding,
            encoding,
            validation,
        }
    }
}

impl JwtSettings {
    /// True when `token` looks like a JWT (three base64url segments) rather than an API key.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3 && !token.starts_with("mcp_")
    }

    /// Verifies an access token; cheap structural checks first, then the signature.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthFailure> {
        if token.len() > self.max_token_bytes {
            return Err(AuthFailure::TooLarge);
        }
        self.verify_peeked(token, &peek(token)?)
    }

    /// Verifies an access token whose header and claims [`peek`] already decoded and checked
    /// for ambiguity and `crit` (no second decoding on the request path).
    pub fn verify_peeked(&self, token: &str, peek: &Peek) -> Result<Claims, AuthFailure> {
        if peek.typ.as_deref() != Some(ACCESS_TYP) {
            return Err(AuthFailure::WrongTokenType);
        }
        let key = self.key_for(peek.kid.as_deref())?;
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &key.validation).map_err(|e| failure(&e))?;
        let claims = data.claims;
        if claims.kind != "access" {
            return Err(AuthFailure::WrongTokenType);
        }
        if claims.iat > now() + self.leeway.as_secs() {
            return Err(AuthFailure::NotYetValid);
        }
        if claims.jti.is_empty() || claims.sub.is_empty() {
            return Err(AuthFailure::Malformed);
        }
        Ok(claims)
    }

    /// The key named by `kid`; without `kid` only a single configured key qualifies. `kid`
    /// is an opaque map key: never a path, never fetched.
    fn key_for(&self, kid: Option<&str>) -> Result<&JwtKey, AuthFailure> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid == kid).ok_or(AuthFailure::UnknownKey),
            None if self.keys.len() == 1 => self.keys.first().ok_or(AuthFailure::UnknownKey),
            None => Err(AuthFailure::UnknownKey),
        }
    }

    /// Signs an access token for `grant` in refresh family `family`, valid for `ttl`
    /// (default `access_ttl`). Returns the token, its `jti` and its lifetime in seconds.
    pub fn issue_access(&self, grant: &Grant, family: Option<&str>, ttl: Option<Duration>) -> Result<Issued, String> {
        let expires_in = ttl.unwrap_or(self.access_ttl).as_secs();
        let mut claims = self.claims(grant, "access", expires_in);
        claims.fam = family.map(str::to_owned);
        let token = self.sign(&claims, ACCESS_TYP)?;
        Ok(Issued {
            token,
            jti: claims.jti,
            expires_in,
            exp: claims.exp,
        })
    }

    /// Whether a configured key can sign (an asymmetric key may be verify-only).
    pub fn can_sign(&self) -> bool {
        self.keys.iter().any(|k| k.encoding.is_some())
    }

    /// The claims of a new token for `grant`, issued now for `lifetime` seconds.
    fn claims(&self, grant: &Grant, kind: &str, lifetime: u64) -> Claims {
        let issued = now();
        Claims {
            sub: grant.subject.clone(),
            iss: self.issuer.clone(),
            aud: Audience::One(self.audience.clone()),
            exp: issued + lifetime,
            nbf: None,
            iat: issued,
            jti: random_id(),
            kind: kind.into(),
            username: grant.username.clone(),
            roles: grant.roles.clone(),
            permissions: grant.permissions.clone(),
            fam: None,
        }
    }

    /// Signs `claims` with the first key that can, under the `typ` header.
    fn sign(&self, claims: &Claims, typ: &str) -> Result<String, String> {
        let key = self
            .keys
            .iter()
            .find(|k| k.encoding.is_some())
            .ok_or("no configured key can sign (private_key or secret missing)")?;
        let encoding = key.encoding.as_ref().ok_or("no signing key")?;
        let mut header = Header::new(key.alg);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.into());
        jsonwebtoken::encode(&header, claims, encoding).map_err(|e| e.to_string())
    }

    /// Whether `token`'s signature verifies with a configured key (for `token decode`).
    pub fn signature_ok(&self, token: &str) -> bool {
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        let Ok(key) = self.key_for(kid.as_deref()) else {
            return false;
        };
        let mut validation = Validation::new(key.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &validation).is_ok()
    }
}

/// Who a token is for and what it grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// A signed access token.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub jti: String,
    pub expires_in: u64,
    /// Unix seconds.
    pub exp: u64,
}

/// What can be read of a JWT before choosing how to verify it: `iss` (which issuer) and
/// `kid` (which key). Nothing here is trusted; duplicate keys and `crit` are refused.
#[derive(Debug)]
pub struct Peek {
    pub iss: Option<String>,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// Reads `iss` and `kid` of a JWT without verifying it.
pub fn peek(token: &str) -> Result<Peek, AuthFailure> {
    let mut parts = token.split('.');
    let header = URL_SAFE_NO_PAD
        .decode(parts.next().ok_or(AuthFailure::Malformed)?)
        .map_err(|_| AuthFailure::Malformed)?;
    crate::mcp::strict_check(&header).map_err(|_| AuthFailure::Malformed)?;
    let raw: RawHeader = serde_json::from_slice(&header).map_err(|_| AuthFailure::Malformed)?;
    if raw.crit.is_some() {
        return Err(AuthFailure::Crit);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(parts.next().ok_or(AuthFailure::Malformed)?)
        .map_err(|_| AuthFailure::Malformed)?;
    crate::mcp::strict_check(&payload).map_err(|_| AuthFailure::Malformed)?;
    #[derive(Deserialize)]
    struct Iss {
        #[serde(default)]
        iss: Option<serde_json::Value>,
    }
    let iss: Iss = serde_json::from_slice(&payload).map_err(|_| AuthFailure::Malformed)?;
    let iss = match iss.iss {
        Some(serde_json::Value::String(iss)) => Some(iss),
        None => None,
        Some(_) => return Err(AuthFailure::Malformed),
    };
    Ok(Peek {
        iss,
        kid: raw.kid,
        typ: raw.typ,
    })
}

/// The refusal reason for a jsonwebtoken error.
pub fn failure(error: &jsonwebtoken::errors::Error) -> AuthFailure {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => AuthFailure::Expired,
        ErrorKind::ImmatureSignature => AuthFailure::NotYetValid,
        ErrorKind::InvalidIssuer => AuthFailure::WrongIssuer,
        ErrorKind::InvalidAudience => AuthFailure::WrongAudience,
        ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => AuthFailure::BadSignature,
        _ => AuthFailure::Malformed,
    }
}

/// 128 random bits as hex (token ids).
pub fn random_id() -> String {
    let value: u128 = rand::random();
    format!("{value:032x}")
}
