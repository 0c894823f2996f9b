//! Stage 9: the exact checked bytes sent to the upstream through its pool, never retried once
//! written (a `tools/call` may not be idempotent), within `upstream_response`.

use bytes::Bytes;
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{HeaderValue, Response};
use hyper::body::Incoming;

use super::context::RequestContext;
use crate::config::{Route, ServerConfig, Snapshot};
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::telemetry::trace::{TraceContext, TrustTraceparent};
use crate::upstream::{self, ForwardedFor, Lease, Upstream};

/// What the upstream is told about the client: the `X-Forwarded-*` values the gateway owns.
/// The host is the gateway's public one (`server.public_url`): a client's `Host` is whatever
/// it chose to send, and an upstream building URLs from it would point them anywhere.
pub(super) fn forwarded_for(
    server: &ServerConfig,
    chain: HeaderValue,
    ctx: &RequestContext,
    snapshot: &Snapshot,
    upstream: &Upstream,
) -> ForwardedFor {
    let identity = match (&ctx.principal, upstream.identity_headers) {
        (Some(p), true) => Some((p.subject.clone(), p.method.label(), p.roles.join(","))),
        _ => None,
    };
    ForwardedFor {
        identity,
        chain,
        host: Some(server.public_host.clone()),
        proto: if ctx.conn.tls { "https" } else { "http" },
        api_key_header: snapshot.auth.api_key_header.clone(),
        trace: ctx.trace.as_ref().map(|t| (t.traceparent(), t.state.clone())),
    }
}

impl Gateway {
    /// The gateway's span of this request: the caller's trace continued when
    /// `[telemetry] trust_traceparent` trusts it, a new trace otherwise.
    pub(super) fn start_trace(&self, headers: &http::HeaderMap, principal: &crate::auth::Principal) -> TraceContext {
        let trusted = match self.trace.trust {
            TrustTraceparent::Always => true,
            TrustTraceparent::Never => false,
            TrustTraceparent::Authenticated => principal.method != crate::auth::AuthMethod::None,
        };
        TraceContext::start(headers, trusted)
    }

    /// Sends the request and waits for the answer's head; a 1xx answer is refused (502). The
    /// client's headers move into the upstream request (`parts` keeps none).
    pub(super) async fn forward(
        &self,
        route: &Route,
        parts: &mut Parts,
        legacy_target: Option<PathAndQuery>,
        bytes: Bytes,
        forwarded: &ForwardedFor,
        ctx: &RequestContext,
    ) -> Result<(Response<Incoming>, Lease), Reject> {
        let upstream = &route.upstream;
        let outgoing = upstream::build_request(
            &parts.method,
            std::mem::take(&mut parts.headers),
            upstream,
            legacy_target,
            bytes,
            forwarded,
            &ctx.request_id,
        )?;
        let sent = tokio::time::timeout(self.server.timeouts.upstream_response, route.pool.send(outgoing)).await;
        let (response, lease) = sent.map_err(|_| {
            tracing::warn!(upstream = %upstream.name, "upstream response timed out");
            Reject::UpstreamTimeout
        })??;
        if response.status().is_informational() {
            // A 101 would turn the pooled connection into a tunnel the gateway cannot inspect;
            // the lease is dropped with it, so the connection is not reused.
            tracing::warn!(upstream = %upstream.name, status = %response.status(), "upstream answered with a 1xx status");
            return Err(Reject::UpstreamUnavailable);
        }
        Ok((response, lease))
    }
}
