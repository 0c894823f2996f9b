//! External OAuth 2.1 / OIDC issuers: JWTs verified against the issuer's JWKS (from a URL, a
//! file, or OIDC discovery), and opaque tokens checked by RFC 7662 introspection. Keys are
//! cached for `jwks_ttl`; an unknown `kid` triggers at most one refetch per
//! `refetch_interval` (no fetch storm); while the issuer is down the last good key set stays.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::{AuthFailure, AuthMethod, Principal, fetch};

/// Where an issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Url(String),
    File(std::path::PathBuf),
    /// `{issuer}/.well-known/openid-configuration` → `jwks_uri`.
    Discovery,
}

/// One `[[auth.issuers]]` entry, validated.
#[derive(Debug)]
pub struct IssuerSettings {
    pub issuer: String,
    pub audience: String,
    pub keys: Option<KeySource>,
    pub introspection_url: Option<String>,
    /// `base64(client_id:client_secret)` for introspection.
    pub introspection_auth: Option<String>,
    pub roles_claim: String,
    pub scopes_claim: String,
    pub algorithms: Vec<Algorithm>,
    pub jwks_ttl: Duration,
    pub refetch_interval: Duration,
    pub leeway: Duration,
    pub tls: Arc<rustls::ClientConfig>,
    /// Required JWT `typ` header, when configured.
    pub token_typ: Option<String>,
    /// Scopes it can grant (the step-up challenge names only these).
    pub scopes: Vec<String>,
}

struct CachedKeys {
    keys: Vec<(Option<String>, Algorithm, DecodingKey)>,
    fetched: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// A configured issuer with its key cache.
pub struct Issuer {
    pub settings: IssuerSettings,
    cache: Mutex<CachedKeys>,
    /// Single flight: one key fetch at a time.
    fetching: tokio::sync::Mutex<()>,
    /// Opaque tokens recently refused by introspection (SHA-256 → until).
    refused: Mutex<std::collections::HashMap<[u8; 32], Instant>>,
}

/// How long a refused opaque token is answered from memory.
const NEGATIVE_TTL: Duration = Duration::from_secs(10);
/// Refused tokens remembered at most.
const NEGATIVE_CAPACITY: usize = 10_000;

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("issuer", &self.settings.issuer).finish()
    }
}

fn jwk_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    match jwk.common.key_algorithm {
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(KeyAlgorithm::EdDSA) => Some(Algorithm::EdDSA),
        Some(_) => None,
        None => match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Some(Algorithm::ES256),
            AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
            _ => None,
        },
    }
}

impl Issuer {
    /// An issuer with an empty key cache (keys load on first use).
    pub fn new(settings: IssuerSettings) -> Self {
        Self {
            settings,
            cache: Mutex::new(CachedKeys {
                keys: Vec::new(),
                fetched: None,
                last_attempt: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
            refused: Mutex::new(std::collections::HashMap::new()),
        }
    }

    async fn load(&self) -> Result<Vec<(Option<String>, Algorithm, DecodingKey)>, String> {
        let tls = &self.settings.tls;
        let body = match self.settings.keys.as_ref().ok_or("no key source")? {
            KeySource::File(path) => std::fs::read(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .into(),
            KeySource::Url(url) => fetch::fetch(url, None, None, tls).await?,
            KeySource::Discovery => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let doc: Value =
                    serde_json::from_slice(&fetch::fetch(&url, None, None, tls).await?).map_err(|e| e.to_string())?;
                if doc["issuer"].as_str() != Some(self.settings.issuer.as_str()) {
                    return Err(format!(
                        "discovery document names issuer {:?}, not {}",
                        doc["issuer"], self.settings.issuer
                    ));
                }
                let jwks = doc["jwks_uri"].as_str().ok_or("discovery document has no jwks_uri")?;
                if !fetch::secure_or_loopback(jwks) {
                    return Err(format!("discovery names an insecure jwks_uri {jwks}"));
                }
                fetch::fetch(jwks, None, None, tls).await?
            }
        };
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("JWKS: {e}"))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let Some(alg) = jwk_algorithm(jwk).filter(|a| self.settings.algorithms.contains(a)) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.push((jwk.common.key_id.clone(), alg, key));
            }
        }
        Ok(keys)
    }

    /// Takes over the key cache of the same issuer in the previous config, so a reload during
    /// an IdP outage keeps the last good keys.
    pub fn adopt(&self, old: &Issuer) {
        if old.settings.issuer != self.settings.issuer || old.settings.keys != self.settings.keys {
            return;
        }
        let previous = old.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.keys.clone_from(&previous.keys);
        cache.fetched = previous.fetched;
        cache.last_attempt = previous.last_attempt;
    }

    fn never_loaded(&self) -> bool {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fetched
            .is_none()
    }

    fn lookup(&self, kid: Option<&str>) -> Option<(Algorithm, DecodingKey)> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let matches: Vec<_> = cache
            .keys
            .iter()
            .filter(|(k, _, _)| kid.is_none() || k.as_deref() == kid)
            .collect();
        match (kid, matches.as_slice()) {
            (Some(_), [first, ..]) | (None, [first]) => Some((first.1, first.2.clone())),
            _ => None,
        }
    }

    /// Refreshes the key set if `force`d (unknown kid) and the refetch interval allows, or
    /// if it is older than the TTL. A failed refresh keeps the last good keys.
    async fn refresh(&self, unknown_kid: bool) {
        let due = {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            let stale = cache.fetched.is_none_or(|at| at.elapsed() >= self.settings.jwks_ttl);
            let may_retry = cache
                .last_attempt
                .is_none_or(|at| at.elapsed() >= self.settings.refetch_interval);
            (stale || unknown_kid) && may_retry
        };
        if !due {
            return;
        }
        let _single = self.fetching.lock().await;
        {
            // Another request may have fetched while this one waited.
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache
                .last_attempt
                .is_some_and(|at| at.elapsed() < self.settings.refetch_interval)
            {
                return;
            }
            cache.last_attempt = Some(Instant::now());
        }
        match self.load().await {
            Ok(keys) => {
                let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
                cache.keys = keys;
                cache.fetched = Some(Instant::now());
            }
            Err(error) => {
                tracing::warn!(issuer = %self.settings.issuer, %error, "jwks_refresh_failed: keeping the last good keys")
            }
        }
    }

    /// Verifies a JWT from this issuer.
    pub async fn verify_jwt(
        &self,
        token: &str,
        kid: Option<&str>,
        typ: Option<&str>,
    ) -> Result<(Principal, u64), AuthFailure> {
        if let Some(required) = &self.settings.token_typ
            && typ.is_none_or(|typ| !typ.eq_ignore_ascii_case(required))
        {
            return Err(AuthFailure::WrongTokenType);
        }
        self.refresh(false).await;
        let (alg, key) = match self.lookup(kid) {
            Some(found) => found,
            None => {
                self.refresh(true).await;
                match self.lookup(kid) {
                    Some(found) => found,
                    // No key set was ever loaded: the issuer is down, not the token bad.
                    None if self.never_loaded() => return Err(AuthFailure::IssuerUnavailable),
                    None => return Err(AuthFailure::UnknownKey),
                }
            }
        };
        let mut validation = Validation::new(alg);
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"].iter().map(|s| (*s).to_string()).collect();
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| super::jwt::failure(&e))?;
        let claims = data.claims;
        let sub = claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or(AuthFailure::Malformed)?;
        let exp = claims["exp"].as_u64().ok_or(AuthFailure::Malformed)?;
        Ok((
            self.principal(sub, &claims, claims.get("jti").and_then(Value::as_str)),
            exp,
        ))
    }

    fn principal(&self, sub: &str, claims: &Value, token_id: Option<&str>) -> Principal {
        let roles = claim_path(claims, &self.settings.roles_claim)
            .map(strings)
            .unwrap_or_default();
        let scopes = claim_path(claims, &self.settings.scopes_claim)
            .map(strings)
            .unwrap_or_default();
        Principal {
            subject: sub.to_string(),
            method: AuthMethod::OAuth,
            roles,
            username: claims
                .get("preferred_username")
                .or(claims.get("username"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            permissions: Vec::new(),
            scopes,
            token_id: token_id.map(str::to_owned),
            issuer: Some(self.settings.issuer.clone()),
            issued_at: 0,
            family: None,
        }
    }

    /// RFC 7662: asks the issuer about an opaque token. A refused token is remembered for
    /// [`NEGATIVE_TTL`], so replaying it costs no outbound call.
    pub async fn introspect(&self, token: &str) -> Result<(Principal, u64), AuthFailure> {
        let digest: [u8; 32] =
            sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), token.as_bytes())).into();
        if self.refused_recently(&digest) {
            return Err(AuthFailure::UnknownKey);
        }
        let result = self.introspect_uncached(token).await;
        if matches!(result, Err(failure) if failure != AuthFailure::IssuerUnavailable) {
            let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
            if refused.len() >= NEGATIVE_CAPACITY {
                refused.retain(|_, until| *until > Instant::now());
                if refused.len() >= NEGATIVE_CAPACITY {
                    refused.clear();
                }
            }
            refused.insert(digest, Instant::now() + NEGATIVE_TTL);
        }
        result
    }

    fn refused_recently(&self, digest: &[u8; 32]) -> bool {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        refused.get(digest).is_some_and(|until| *until > Instant::now())
    }

    async fn introspect_uncached(&self, token: &str) -> Result<(Principal, u64), AuthFailure> {
        let url = self
            .settings
            .introspection_url
            .as_deref()
            .ok_or(AuthFailure::Malformed)?;
        let form = format!("token={}&token_type_hint=access_token", fetch::form_encode(token));
        let (status, body) = fetch::fetch_any(
            url,
            Some(form),
            self.settings.introspection_auth.clone(),
            &self.settings.tls,
        )
        .await
        .map_err(|error| {
            tracing::warn!(issuer = %self.settings.issuer, %error, "introspection failed");
            AuthFailure::IssuerUnavailable
        })?;
        // RFC 7662 answers 200 {"active": false}; some servers answer 4xx for a token they do
        // not know. Either way the token is refused; only a 5xx means "cannot tell" (503).
        if status.is_server_error() {
            tracing::warn!(issuer = %self.settings.issuer, %status, "introspection failed");
            return Err(AuthFailure::IssuerUnavailable);
        }
        if !status.is_success() {
            return Err(AuthFailure::UnknownKey);
        }
        crate::mcp::strict_check(&body).map_err(|_| AuthFailure::Malformed)?;
        let answer: Value = serde_json::from_slice(&body).map_err(|_| AuthFailure::Malformed)?;
        if answer["active"] != Value::Bool(true) {
            return Err(AuthFailure::UnknownKey);
        }
        // An active refresh token is not an access token; an answer about another issuer's
        // token is not an answer about ours.
        match answer.get("token_type").and_then(Value::as_str) {
            None | Some("access_token" | "Bearer" | "bearer") => {}
            Some(_) => return Err(AuthFailure::WrongTokenType),
        }
        if answer
            .get("iss")
            .is_some_and(|iss| iss.as_str() != Some(self.settings.issuer.as_str()))
        {
            return Err(AuthFailure::WrongIssuer);
        }
        let now = super::now();
        let exp = answer["exp"].as_u64().ok_or(AuthFailure::Malformed)?;
        if exp + self.settings.leeway.as_secs() <= now {
            return Err(AuthFailure::Expired);
        }
        let audience_ok = match &answer["aud"] {
            Value::String(aud) => *aud == self.settings.audience,
            Value::Array(list) => list.iter().any(|a| a.as_str() == Some(self.settings.audience.as_str())),
            _ => false,
        };
        if !audience_ok {
            return Err(AuthFailure::WrongAudience);
        }
        let subject = answer["sub"]
            .as_str()
            .or(answer["client_id"].as_str())
            .ok_or(AuthFailure::Malformed)?;
        Ok((self.principal(subject, &answer, None), exp))
    }
}

/// `a.b.c` into nested objects.
fn claim_path<'v>(claims: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(claims, |value, key| value.get(key))
}

/// A space-separated string or an array of strings.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => text.split_whitespace().map(str::to_owned).collect(),
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}
