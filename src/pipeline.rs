//! The request flow, top to bottom (see the crate docs for the picture). `handle` never
//! fails and audits exactly once; `handle_inner` returns `Result` and uses `?`.

use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response, header};
use http_body::Body as _;
use hyper::body::Incoming;

use crate::auth::{AuthFailure, Principal, metadata};
use crate::authz::{self, ListFilter};
use crate::body::GatewayBody;
use crate::config::{RouteAuth, Snapshot, Upstream};
use crate::context::RequestContext;
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::mcp::headers::Mirror;
use crate::mcp::{self, Body, EnvelopeError, McpCall, Message, MessageKind};
use crate::ratelimit::Refusal;
use crate::server::ConnInfo;
use crate::upstream::{self, ForwardedFor, RespondContext, legacy};
use crate::{edge, request_body, session};

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
                (reject.into_response(ctx.jsonrpc_id.as_ref()), reason, Some(detail))
            }
        };
        ctx.finish(response.status(), reason, detail.as_deref());
        if let Ok(value) = HeaderValue::from_str(&ctx.request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }

    async fn handle_inner(
        &self,
        request: Request<Incoming>,
        ctx: &mut RequestContext,
    ) -> Result<Response<GatewayBody>, Reject> {
        let snapshot = self.reloader.snapshot();

        // 0. The gateway's own documents (RFC 9728 metadata) are public and never forwarded.
        if let Some(response) = self.metadata(&snapshot, &request) {
            return Ok(response);
        }

        // 1. Route on the exact raw path: `/mcp/../x`, `//mcp` or `%2F` forms match nothing,
        //    and the upstream path comes from config, never from the client.
        let route = snapshot.route(request.uri().path()).ok_or(Reject::UnknownRoute)?;
        let upstream = Arc::clone(&route.upstream);
        ctx.upstream = Some(Arc::clone(&upstream));

        // 2. Edge checks on the head alone.
        edge::check_method(request.method())?;
        edge::check_host(&request)?;
        edge::check_origin(request.headers(), &self.server.allowed_origins)?;
        let (client_ip, chain) =
            upstream::client_ip(ctx.conn.peer.ip(), request.headers(), &self.server.trusted_proxies);
        ctx.client_ip = Some(client_ip);
        // The IP's bucket and auth-failure block come before authentication, so a flood or a
        // credential-guessing loop costs no token verification (with Redis the IP's token is
        // taken with the principal's, in one round trip; a known block is refused here).
        let limits = &snapshot.rate_limits;
        self.limiter
            .edge(limits, client_ip)
            .map_err(|limited| refusal(Refusal::Limited(limited), false))?;

        // 3. Authenticate before reading the body, so anonymous traffic cannot make the
        //    gateway buffer bodies. A refused credential counts toward the IP's block.
        let authenticated = self.authenticate(&snapshot, &upstream, request.headers(), ctx).await;
        if let Err(Reject::Unauthorized { reason, .. }) = &authenticated {
            let refused = *reason != AuthFailure::Missing.reason();
            self.limiter
                .after_auth_failure(limits, client_ip, refused)
                .await
                .map_err(|r| refusal(r, false))?;
        }
        ctx.principal = Some(authenticated?);

        // 4. Read the body within its bounds; GET and DELETE carry none.
        let (parts, body) = request.into_parts();
        ctx.session = parts
            .headers
            .get("mcp-session-id")
            .map(|v| crate::context::session_fingerprint(v.as_bytes()));
        let bytes = if parts.method == Method::POST {
            edge::check_post_framing(&parts.headers)?;
            request_body::read(
                &parts,
                body,
                self.server.max_body_bytes,
                self.server.timeouts.request_body,
            )
            .await?
        } else {
            if !body.is_end_stream() {
                return Err(Reject::BadRequest("GET and DELETE requests cannot carry a body"));
            }
            bytes::Bytes::new()
        };

        // 5. Parse the body: the decision is made on it, never on headers. A legacy endpoint
        //    token is honoured only for the principal whose stream announced it.
        let principal = ctx
            .principal
            .clone()
            .unwrap_or_else(|| Arc::new(Principal::anonymous()));
        let owner: Arc<str> = Arc::from(session::owner(&principal));
        let legacy_target = match legacy::token_in_query(parts.uri.query()) {
            Some(token) if parts.method == Method::POST => Some(
                self.legacy
                    .lookup(&upstream, &owner, token)
                    .ok_or(Reject::UnknownSession)?,
            ),
            _ => None,
        };
        let mut lists = false;
        let mut initialize = false;
        if parts.method == Method::POST {
            let parsed = self.parse_body(&bytes, &parts.headers, &upstream, ctx)?;
            // 6. The principal's buckets, after parsing so a refusal carries the request's id;
            //    every element of a batch counts.
            let single_request = matches!(parsed.as_slice(), [(m, _)] if m.kind == MessageKind::Request);
            let tools: Vec<&str> = parsed
                .iter()
                .filter_map(|(_, call)| match call {
                    McpCall::ToolCall { name } => Some(name.as_ref()),
                    _ => None,
                })
                .collect();
            self.limiter
                .request(limits, client_ip, &principal, &owner, parsed.len(), &tools)
                .await
                .map_err(|r| refusal(r, single_request))?;
            // 7. Authorize every message on the body (never on headers); one denial refuses
            //    the whole body, so nothing of a batch with a forbidden element is forwarded.
            self.authorize(&snapshot, &upstream, &principal, &parsed)?;
            initialize = matches!(parsed.as_slice(), [(_, McpCall::Initialize)]);
            lists = parsed.iter().any(|(_, call)| matches!(call, McpCall::List(_)));
        } else {
            self.limiter
                .request(limits, client_ip, &principal, &owner, 1, &[])
                .await
                .map_err(|r| refusal(r, false))?;
        }

        // 8. A 2025-era session id is honoured only for the principal that initialized it.
        let session_key = session::key(&parts.headers, &upstream.route)?;
        if let Some(key) = session_key {
            session::check(&self.sessions, key, &owner, ctx).await?;
        }

        // 9. Forward the exact checked bytes.
        let forwarded = ForwardedFor {
            chain,
            host: parts.headers.get(header::HOST).cloned().or_else(|| {
                parts
                    .uri
                    .authority()
                    .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            }),
            proto: if ctx.conn.tls { "https" } else { "http" },
            api_key_header: snapshot.auth.api_key_header.clone(),
        };
        let outgoing = upstream::build_request(&parts, &upstream, legacy_target, bytes, &forwarded, &ctx.request_id)?;
        // Never retried once written: a `tools/call` may not be idempotent.
        let sent = tokio::time::timeout(self.server.timeouts.upstream_response, route.pool.send(outgoing)).await;
        let (response, lease) = sent.map_err(|_| {
            tracing::warn!(upstream = %upstream.name, "upstream response timed out");
            Reject::UpstreamTimeout
        })??;
        session::after_response(
            &self.sessions,
            &parts.method,
            initialize,
            session_key,
            &upstream.route,
            &owner,
            &response,
        )
        .await;
        if response.status().is_informational() {
            // A 101 would turn the pooled connection into a tunnel the gateway cannot inspect;
            // the lease is dropped with it, so the connection is not reused.
            tracing::warn!(upstream = %upstream.name, status = %response.status(), "upstream answered with a 1xx status");
            return Err(Reject::UpstreamUnavailable);
        }

        // 10. Stream the answer back.
        Ok(upstream::respond(
            response,
            lease,
            RespondContext {
                server: &self.server,
                metrics: &self.metrics,
                legacy: &self.legacy,
                upstream: &upstream,
                method: &parts.method,
                request_id: ctx.jsonrpc_id.clone(),
                audit_id: &ctx.request_id,
                audit: &self.audit,
                owner,
                // List answers are filtered in the answers to list requests and on every GET
                // stream (the legacy transport's answers, and events replayed on resumption).
                filter: if upstream.policy.allows_everything() || !(lists || parts.method == Method::GET) {
                    None
                } else {
                    let view = authz::view_of(&principal);
                    let visible = authz::visible(Arc::clone(&upstream), Arc::clone(&snapshot.roles), principal);
                    Some(ListFilter::new(visible).with_cache(Arc::clone(&upstream.page_cache), view))
                },
            },
        )
        .await)
    }

    /// Stage 5: the strict envelope, the `McpCall` of each message, and the 2026-07-28 header
    /// mirror. Records id, method and target in the context as soon as they are known, so a
    /// refusal carries the request's id.
    fn parse_body<'b>(
        &self,
        bytes: &'b [u8],
        headers: &http::HeaderMap,
        upstream: &crate::config::Upstream,
        ctx: &mut RequestContext,
    ) -> Result<Vec<(Message<'b>, McpCall<'b>)>, Reject> {
        let body = mcp::parse(bytes, upstream.allow_batches).map_err(envelope_reject)?;
        let mirror = Mirror::read(headers).map_err(|e| Reject::HeaderMismatch(e.0))?;
        let messages = match &body {
            Body::Single(message) => {
                // Only a request's id may be echoed: a client's *response* carries the
                // server's id, and echoing it could fail an unrelated call of the client.
                if message.kind == MessageKind::Request {
                    ctx.jsonrpc_id = message.id.clone();
                }
                ctx.jsonrpc_method = message.method.as_deref().map(str::to_owned);
                std::slice::from_ref(message)
            }
            Body::Batch(messages) => {
                if mirror.modern {
                    return Err(invalid("batches are not part of protocol 2026-07-28"));
                }
                if mirror.present() {
                    return Err(Reject::HeaderMismatch(
                        "Mcp-Method / Mcp-Name cannot describe a batch".into(),
                    ));
                }
                ctx.jsonrpc_method = Some("batch".into());
                messages.as_slice()
            }
        };
        let mut calls = Vec::with_capacity(messages.len());
        for message in messages {
            let call = mcp::classify(message).map_err(|e| match (&body, &message.kind) {
                (Body::Single(_), MessageKind::Request) => Reject::InvalidParams(e.0),
                _ => Reject::Envelope {
                    reason: "invalid_params",
                    code: -32602,
                    message: e.0,
                },
            })?;
            if matches!(body, Body::Single(_)) {
                ctx.target = call.target().map(str::to_owned);
            }
            if mirror.modern && message.kind == MessageKind::Response {
                return Err(invalid("clients must not send responses in protocol 2026-07-28"));
            }
            mirror.check(message, &call).map_err(|e| Reject::HeaderMismatch(e.0))?;
            calls.push(call);
        }
        let messages = match body {
            Body::Single(message) => vec![message],
            Body::Batch(messages) => messages,
        };
        Ok(messages.into_iter().zip(calls).collect())
    }
}

impl Gateway {
    /// Stage 3: mTLS identity, else the route's credential rules. Public routes take callers
    /// as they come (certificate holder or anonymous); protected routes need a credential.
    async fn authenticate(
        &self,
        snapshot: &Snapshot,
        upstream: &Upstream,
        headers: &http::HeaderMap,
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
                    challenge: metadata::challenge(&self.server.public_url, &upstream.route, true),
                });
            }
            return Ok(Arc::new(principal));
        }
        match upstream.auth {
            RouteAuth::None => Ok(Arc::new(Principal::anonymous())),
            RouteAuth::Required => snapshot.auth.authenticate(headers).await.map_err(|failure| {
                if failure == AuthFailure::IssuerUnavailable {
                    return Reject::AuthUnavailable;
                }
                let sent = failure != AuthFailure::Missing;
                Reject::Unauthorized {
                    reason: failure.reason(),
                    description: failure.description(),
                    challenge: metadata::challenge(&self.server.public_url, &upstream.route, sent),
                }
            }),
        }
    }

    /// `GET /.well-known/oauth-protected-resource[/route]`.
    fn metadata(&self, snapshot: &Snapshot, request: &Request<Incoming>) -> Option<Response<GatewayBody>> {
        if !request.uri().path().starts_with(metadata::PREFIX) || request.method() != Method::GET {
            return None;
        }
        let document = metadata::document(snapshot, &self.server.public_url, request.uri().path())?;
        Some(crate::error::json_response(
            http::StatusCode::OK,
            bytes::Bytes::from(document.to_string()),
        ))
    }
}

/// A rate-limit refusal: `-31429` (with the id when it answers one request), or 503 when the
/// shared store is down and `on_unavailable = "deny"`.
fn refusal(refusal: Refusal, single_request: bool) -> Reject {
    match refusal {
        // The IP's bucket and block are not about the request: 429 whatever it carries.
        Refusal::Limited(limited) => Reject::RateLimited {
            limited,
            single_request: single_request && !matches!(limited.scope, "ip" | "auth_failures"),
        },
        Refusal::Unavailable => Reject::StateUnavailable,
    }
}

fn invalid(message: &str) -> Reject {
    Reject::Envelope {
        reason: "invalid_request",
        code: -32600,
        message: format!("Invalid request: {message}"),
    }
}

fn envelope_reject(error: EnvelopeError) -> Reject {
    let code = match error {
        EnvelopeError::Parse(_) => -32700,
        EnvelopeError::DuplicateKey(_) | EnvelopeError::Invalid(_) | EnvelopeError::BatchNotAllowed => -32600,
    };
    Reject::Envelope {
        reason: error.reason(),
        code,
        message: error.message(),
    }
}
