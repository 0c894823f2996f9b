//! Stage 3: who the caller is. A verified client certificate (with `[auth.mtls]`), else the
//! route's credential rules: a Bearer JWT, an external issuer's token or an API key; public
//! routes take callers as they come.

use std::net::IpAddr;
use std::sync::Arc;

use super::context::RequestContext;
use super::metadata::challenge;
use crate::auth::{AuthFailure, Principal};
use crate::config::Snapshot;
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::upstream::{RouteAuth, Upstream};

impl Gateway {
    /// The caller, recorded in the context; a refused credential counts toward the IP's
    /// auth-failure block.
    pub(super) async fn authenticate(
        &self,
        snapshot: &Snapshot,
        upstream: &Upstream,
        headers: &http::HeaderMap,
        client_ip: IpAddr,
        ctx: &mut RequestContext,
    ) -> Result<Arc<Principal>, Reject> {
        let authenticated = self.identify(snapshot, upstream, headers, client_ip, ctx).await;
        if let Err(Reject::Unauthorized { reason, .. }) = &authenticated {
            let refused = *reason != AuthFailure::Missing.reason();
            self.count_auth_failure(&snapshot.rate_limits, client_ip, refused)
                .await?;
        }
        let principal = authenticated?;
        ctx.principal = Some(Arc::clone(&principal));
        Ok(principal)
    }

    /// mTLS identity, else the route's credential rules. Public routes take callers as they
    /// come (certificate holder or anonymous); protected routes need a credential.
    async fn identify(
        &self,
        snapshot: &Snapshot,
        upstream: &Upstream,
        headers: &http::HeaderMap,
        client_ip: IpAddr,
        ctx: &RequestContext,
    ) -> Result<Arc<Principal>, Reject> {
        if let Some(principal) = self.certificate_principal(ctx.conn.client_identity.as_deref()) {
            // A certificate and a token at once are two credentials: refused, not ranked.
            let other = headers.contains_key(http::header::AUTHORIZATION)
                || snapshot
                    .auth
                    .api_key_header
                    .as_ref()
                    .is_some_and(|h| headers.contains_key(h));
            if other && upstream.auth == RouteAuth::Required {
                return Err(Reject::Unauthorized {
                    reason: AuthFailure::Multiple.reason(),
                    description: AuthFailure::Multiple.description(),
                    challenge: challenge(&self.server.public_url, &upstream.route, true),
                });
            }
            return Ok(Arc::new(principal));
        }
        match upstream.auth {
            RouteAuth::None => Ok(Arc::new(Principal::anonymous())),
            RouteAuth::Required => snapshot
                .auth
                .authenticate(headers, self.credentials.live(), Some(client_ip))
                .await
                .map_err(|failure| {
                    if failure == AuthFailure::IssuerUnavailable {
                        return Reject::AuthUnavailable;
                    }
                    // Revocations that cannot be confirmed current fail closed, as a dead store does.
                    if failure == AuthFailure::StateStale {
                        return Reject::StateUnavailable;
                    }
                    let sent = failure != AuthFailure::Missing;
                    Reject::Unauthorized {
                        reason: failure.reason(),
                        description: failure.description(),
                        challenge: challenge(&self.server.public_url, &upstream.route, sent),
                    }
                }),
        }
    }
}
