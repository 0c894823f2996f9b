//! The request flow: every `impl Gateway` that serves a request, one file per stage, in
//! request order. [`Gateway::handle`] never fails and audits exactly once; `handle_inner` is
//! the straight-line driver that calls the stages (and holds no stage logic of its own).
//!
//! | stage | file | refuses with |
//! |---|---|---|
//! | 0. the gateway's own documents | `metadata.rs` | (serves RFC 9728 metadata) |
//! | 0b. the token endpoint | `token_endpoint.rs` | 400 / 503 (RFC 6749 errors), 429 |
//! | 1. route | `mod.rs` | 404 |
//! | 2. edge checks, the IP's bucket | `edge.rs`, `limit.rs` | 405 / 400 / 403, 429 |
//! | 3. authenticate | `authenticate.rs` | 401 / 503 |
//! | 4. read body | `read_body.rs` | 415 / 413 / 408 |
//! | 5. parse | `parse.rs` | 400 -32700 / -32600 / -32020 |
//! | 6. rate limit | `limit.rs` | 200 -31429 / 429 |
//! | 7. authorize | `authorize.rs` | 200 -32602 / -31403, 403 |
//! | 8. session, tasks | `session.rs`, `tasks.rs` | 404, 200 -32602 |
//! | 9. forward | `forward.rs` | 502 / 504 |
//! | 10. respond | `respond.rs` | (502 / 504 for an unreadable list answer) |
//!
//! `context.rs` holds what the stages learn (for the one audit event), `reject.rs` how a
//! refusal is written on the wire.

mod authenticate;
mod authorize;
mod context;
pub mod edge;
mod forward;
mod limit;
mod metadata;
mod parse;
mod read_body;
mod reject;
mod respond;
mod session;
mod tasks;
mod token_endpoint;

use std::sync::Arc;

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;

use crate::error::Reject;
use crate::gateway::Gateway;
use crate::server::{ConnInfo, GatewayBody};
use context::RequestContext;

impl Gateway {
    /// Serves one request. Never fails: every refusal becomes its response here, and the
    /// request's one audit event is written here (or by the context's drop on disconnect).
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>, conn: Arc<ConnInfo>) -> Response<GatewayBody> {
        let mut ctx = RequestContext::new(Arc::clone(&self), conn, request.method().clone());
        let (mut response, reason, detail) = match self.handle_inner(request, &mut ctx).await {
            Ok(response) => (response, "ok", None),
            Err(reject) => {
                let detail = reject.to_string();
                let reason = reject.reason();
                (
                    reject::into_response(reject, ctx.jsonrpc_id.as_ref()),
                    reason,
                    Some(detail),
                )
            }
        };
        ctx.finish(response.status(), reason, detail.as_deref());
        if let Ok(value) = HeaderValue::from_str(&ctx.request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }

    /// The stages in order; each returns what the next needs or the request's refusal.
    async fn handle_inner(
        &self,
        request: Request<Incoming>,
        ctx: &mut RequestContext,
    ) -> Result<Response<GatewayBody>, Reject> {
        let snapshot = self.reloader.snapshot();
        let limits = &snapshot.rate_limits;

        // 0. The gateway's own documents (RFC 9728 metadata) are public and never forwarded.
        if let Some(response) = self.metadata(&snapshot, &request) {
            return Ok(response);
        }
        //    `POST /oauth/token` rotates refresh tokens the gateway issued.
        if request.uri().path() == token_endpoint::PATH {
            return Box::pin(self.token_endpoint(&snapshot, request, ctx)).await;
        }

        // 1. Route on the exact raw path: `/mcp/../x`, `//mcp` or `%2F` forms match nothing,
        //    and the upstream path comes from config, never from the client.
        let route = snapshot.route(request.uri().path()).ok_or(Reject::UnknownRoute)?;
        let upstream = Arc::clone(&route.upstream);
        ctx.upstream = Some(Arc::clone(&upstream));

        // 2. Edge checks on the head alone, then the client IP's bucket and auth-failure
        //    block, before any token is verified.
        let (client_ip, chain) = edge::check(&request, &self.server, &ctx.conn)?;
        ctx.client_ip = Some(client_ip);
        self.limit_ip(limits, client_ip)?;

        // 3. Authenticate before reading the body, so anonymous traffic cannot make the
        //    gateway buffer bodies. A refused credential counts toward the IP's block.
        let principal = self
            .authenticate(&snapshot, &upstream, request.headers(), client_ip, ctx)
            .await?;
        ctx.mark("authenticated");

        // 4. Read the body within its bounds; GET and DELETE carry none.
        let (mut parts, bytes) = read_body::read_body(request, &self.server, ctx).await?;

        // 5. Parse the body: the decision is made on it, never on headers. A legacy endpoint
        //    token is honoured only for the principal whose stream announced it.
        let owner: Arc<str> = Arc::from(session::owner(&principal));
        let legacy_target = self.legacy_target(&parts, &upstream, &owner)?;
        let parsed = parse::parse(&parts, &bytes, &upstream, legacy_target.is_some(), ctx)?;

        // 6. The principal's buckets, after parsing so a refusal carries the request's id;
        //    every element of a batch counts.
        self.limit_request(limits, client_ip, &principal, &owner, parsed.as_deref(), ctx.batch)
            .await?;

        // 7. Authorize every message on the body (never on headers); one denial refuses the
        //    whole body, so nothing of a batch with a forbidden element is forwarded.
        self.authorize(
            &snapshot,
            &upstream,
            &principal,
            parsed.as_deref().unwrap_or_default(),
            ctx.batch,
        )?;
        let asks = parse::Asks::of(parsed.as_deref());

        // 8. A 2025-era session id is honoured only for the principal that initialized it.
        let session_key = self.check_session(&parts.headers, &upstream, &owner, ctx).await?;
        //    A task id likewise, for the principal whose call created it.
        self.check_tasks(&upstream, &owner, parsed.as_deref(), ctx).await?;

        // 9. Forward the exact checked bytes, never retried; then bind or unbind the session
        //    the answer starts or ends. The client's headers move into the upstream request.
        ctx.trace = Some(self.start_trace(&parts.headers, &principal));
        ctx.mark("checked");
        let forwarded = forward::forwarded_for(&self.server, chain, ctx, &snapshot, &upstream);
        let (response, lease) = self
            .forward(route, &mut parts, legacy_target, bytes, &forwarded, ctx)
            .await?;
        ctx.mark("upstream_answered");
        self.after_response(
            &parts.method,
            asks.initialize,
            session_key,
            &upstream,
            &owner,
            &response,
        )
        .await;

        // 10. Stream the answer back, filtering list answers for this caller; the task ids an
        //     answer creates are bound before the client can see them.
        let filter = respond::list_filter(&upstream, &snapshot, principal, asks.tools_list);
        Ok(self
            .respond(
                response,
                lease,
                &upstream,
                &parts.method,
                owner,
                filter,
                asks.tasks,
                ctx,
            )
            .await)
    }
}
