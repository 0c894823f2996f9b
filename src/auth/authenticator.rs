//! `Authenticator`: the credential rules of a route (JWT keys, API keys, external issuers) applied to a request's headers.

use std::sync::Arc;

use http::HeaderMap;

use super::{AuthFailure, AuthMethod, LiveCredentials, Principal, TokenCache, api_key, issuer, jwt, now};

/// Everything needed to check credentials; rebuilt on reload. Revocations and dynamic keys,
/// which outlive a reload, come from the replica's [`LiveCredentials`] on every call.
#[derive(Debug, Default)]
pub struct Authenticator {
    pub jwt: Option<jwt::JwtSettings>,
    pub api_keys: Vec<api_key::StoredKey>,
    pub api_key_header: Option<http::HeaderName>,
    pub issuers: Vec<Arc<issuer::Issuer>>,
    pub cache: TokenCache,
    /// `[auth.api_keys] pepper`: dynamic keys are stored as HMAC-SHA256 under it.
    pub pepper: Option<api_key::Pepper>,
    /// Whether dynamic keys known to this replica stay accepted while the store cannot
    /// confirm them current (`[auth.api_keys] when_state_stale = "accept"`).
    pub keys_when_stale: bool,
}

impl Authenticator {
    /// True when any credential type is configured.
    pub fn configured(&self) -> bool {
        self.jwt.is_some() || !self.api_keys.is_empty() || !self.issuers.is_empty()
    }

    /// Authenticates the request's credential against this replica's revocations and dynamic
    /// keys (`live`). `Err(Missing)` when none was sent.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        live: &LiveCredentials,
        client_ip: Option<std::net::IpAddr>,
    ) -> Result<Arc<Principal>, AuthFailure> {
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
            if token.starts_with(api_key::PREFIX) {
                return self.api_key(token, live, client_ip);
            }
            let principal = self.bearer(token).await?;
            // After the cache too: a token verified a minute ago may be revoked since.
            if principal.method == AuthMethod::Jwt {
                if !live.fresh() {
                    return Err(AuthFailure::StateStale);
                }
                if live.revoked(&principal) {
                    return Err(AuthFailure::Revoked);
                }
            }
            return Ok(principal);
        }
        match header_key {
            Some(value) => self.api_key(value.to_str().map_err(|_| AuthFailure::Malformed)?, live, client_ip),
            None => Err(AuthFailure::Missing),
        }
    }

    async fn bearer(&self, token: &str) -> Result<Arc<Principal>, AuthFailure> {
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
                        issued_at: claims.iat,
                        family: claims.fam,
                    };
                    (principal, exp)
                }
                (_, Some(iss)) => {
                    let issuer = self
                        .issuers
                        .iter()
                        .find(|i| i.settings.issuer == iss)
                        .ok_or(AuthFailure::WrongIssuer)?;
                    // Boxed, like the introspection below: an issuer's calls hold an HTTP
                    // client's ~5 KB future, which inline would weigh on every request.
                    Box::pin(issuer.verify_jwt(token, peek.kid.as_deref(), peek.typ.as_deref())).await?
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
            let (principal, exp) = Box::pin(issuer.introspect(token)).await?;
            // Introspection answers are cached briefly: a revoked token dies within a minute.
            (principal, exp.min(now() + 60))
        };
        let principal = Arc::new(principal);
        self.cache.put(token, Arc::clone(&principal), exp);
        Ok(principal)
    }

    /// A static key from the config, else a dynamic key from the store (its use noted for
    /// the batched usage statistics).
    fn api_key(
        &self,
        key: &str,
        live: &LiveCredentials,
        client_ip: Option<std::net::IpAddr>,
    ) -> Result<Arc<Principal>, AuthFailure> {
        let now = now();
        match api_key::find(&self.api_keys, key, now) {
            Ok(found) => {
                return Ok(Arc::new(Principal {
                    subject: found.subject.clone(),
                    method: AuthMethod::ApiKey,
                    roles: found.roles.clone(),
                    permissions: found.permissions.clone(),
                    token_id: Some(found.id.clone()),
                    ..Principal::anonymous()
                }));
            }
            Err(AuthFailure::UnknownKey) => {}
            Err(other) => return Err(other),
        }
        let (digest, _) = api_key::digest(key, self.pepper.as_ref().map(api_key::Pepper::expose));
        let record = live.key_by_digest(&digest).ok_or(AuthFailure::UnknownKey)?;
        if !live.fresh() && !self.keys_when_stale {
            return Err(AuthFailure::StateStale);
        }
        if record.revoked.is_some() {
            return Err(AuthFailure::Revoked);
        }
        if !record.valid_at(now) {
            return Err(AuthFailure::Expired);
        }
        live.note_use(&record.id, now, client_ip);
        Ok(Arc::new(Principal {
            subject: record.subject.clone(),
            method: AuthMethod::ApiKey,
            roles: record.roles.clone(),
            permissions: record.permissions.clone(),
            token_id: Some(record.id.clone()),
            ..Principal::anonymous()
        }))
    }
}
