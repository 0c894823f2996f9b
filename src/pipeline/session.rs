//! Stage 8 of the flow: `Mcp-Session-Id` belongs to the principal that initialized it.
//! Bindings are made when an `initialize` answer carries a new id, checked on every request
//! that presents one (POST, GET, DELETE), and dropped when the session ends.

use http::{HeaderMap, Method, Response, StatusCode};

use super::context::RequestContext;
use crate::auth::Principal;
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::state::{SessionCheck, SessionKey, SessionStore};
use crate::upstream::Upstream;

impl Gateway {
    /// The request's session key, after checking that `owner` may use it.
    pub(super) async fn check_session(
        &self,
        headers: &HeaderMap,
        upstream: &Upstream,
        owner: &str,
        ctx: &RequestContext,
    ) -> Result<Option<SessionKey>, Reject> {
        let session_key = key(headers, &upstream.route)?;
        if let Some(key) = session_key {
            check(&self.sessions, key, owner, ctx).await?;
        }
        Ok(session_key)
    }

    /// Binds the id an `initialize` answer carries; forgets an id the upstream ended (DELETE
    /// answered, or 404 for it).
    pub(super) async fn after_response<B>(
        &self,
        method: &Method,
        initialize: bool,
        key: Option<SessionKey>,
        upstream: &Upstream,
        owner: &str,
        response: &Response<B>,
    ) {
        let (store, route) = (&self.sessions, upstream.route.as_str());
        let status = response.status();
        if let Some(key) = key
            && (status == StatusCode::NOT_FOUND || (*method == Method::DELETE && status.is_success()))
        {
            // Unreachable store: the binding expires there on its own.
            let _ = store.unbind(key).await;
        }
        if initialize
            && status.is_success()
            && let Some(id) = response.headers().get("mcp-session-id")
        {
            match store.bind(SessionKey::new(route, id.as_bytes()), owner).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(route, "session not bound"),
                // Not bound: its requests will get 404 and the client starts a new session.
                Err(_) => tracing::warn!(route, "session not bound: state store unavailable"),
            }
        }
    }
}

/// The identity a session is bound to: the authentication method, the issuer of an external
/// token (two identity providers may both have a `sub` "alice") and the subject. The issuer is
/// length-prefixed so no two identities share a key.
pub(super) fn owner(principal: &Principal) -> String {
    match &principal.issuer {
        Some(issuer) => format!(
            "{}:{}:{issuer}:{}",
            principal.method.label(),
            issuer.len(),
            principal.subject
        ),
        None => format!("{}:{}", principal.method.label(), principal.subject),
    }
}

/// The session key of a request, if it carries `Mcp-Session-Id`. Ids outside visible ASCII,
/// overlong or repeated headers are refused (400).
fn key(headers: &HeaderMap, route: &str) -> Result<Option<SessionKey>, Reject> {
    let mut values = headers.get_all("mcp-session-id").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    let valid = values.next().is_none()
        && !bytes.is_empty()
        && bytes.len() <= 256
        && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    if !valid {
        return Err(Reject::BadRequest("Mcp-Session-Id must be one value of visible ASCII"));
    }
    Ok(Some(SessionKey::new(route, bytes)))
}

/// Refuses a session id that is unknown or bound to someone else (404).
async fn check(store: &SessionStore, key: SessionKey, owner: &str, ctx: &RequestContext) -> Result<(), Reject> {
    // The store unreachable: fail closed (503), never let an unverified session through.
    let check = store.check(key, owner).await.map_err(|_| Reject::StateUnavailable)?;
    match check {
        SessionCheck::Owner => Ok(()),
        SessionCheck::Unknown => Err(Reject::SessionNotFound { mismatch: false }),
        SessionCheck::OtherPrincipal => {
            // The request's audit event records the refusal (reason `session_mismatch`, with
            // the caller and the session's fingerprint); the log line makes it greppable.
            tracing::warn!(subject = owner, session = ctx.session.as_deref(), "session_mismatch");
            Err(Reject::SessionNotFound { mismatch: true })
        }
    }
}
