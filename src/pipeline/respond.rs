//! Stage 10: the upstream response turned into the client's. Headers cleaned; JSON passed
//! through, or read whole and filtered when it may be a list page; SSE streamed event by
//! event (keep-alives, idle bound, the legacy `endpoint` rewrite, list filtering, an error
//! event if the upstream dies mid-stream).

use std::sync::{Arc, Mutex, PoisonError};

use http::{Method, Response, header};
use hyper::body::Incoming;

use super::context::RequestContext;
use super::reject::into_response;
use super::tasks::{self, TaskAnswer};
use crate::auth::Principal;
use crate::authz::{self, ListFilter};
use crate::config::{ServerConfig, Snapshot};
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::mcp::RequestId;
use crate::server::GatewayBody;
use crate::state::SessionStore;
use crate::telemetry::{AuditEvent, AuditLog, Metrics};
use crate::upstream::{
    EndpointRewrite, Lease, LegacyEndpoints, OnClose, OnFailure, ProxyBody, ServerRequests, StreamOptions, Upstream,
    response_headers,
};
use bytes::Bytes;

/// Largest SSE event passed through (bounded memory per stream).
pub const MAX_SSE_EVENT_BYTES: usize = 4 * 1024 * 1024;

impl Gateway {
    /// Stage 10 for one request: its answer, streamed or filtered.
    #[expect(clippy::too_many_arguments, reason = "one value per thing the answer depends on")]
    pub(super) async fn respond(
        &self,
        response: Response<Incoming>,
        lease: Lease,
        upstream: &Arc<Upstream>,
        method: &Method,
        owner: Arc<str>,
        filter: Option<ListFilter>,
        tasks: TaskAnswer,
        ctx: &RequestContext,
    ) -> Response<GatewayBody> {
        respond(
            response,
            lease,
            RespondContext {
                server: &self.server,
                metrics: &self.metrics,
                legacy: &self.legacy,
                upstream,
                method,
                request_id: ctx.jsonrpc_id.clone(),
                audit_id: &ctx.request_id,
                audit: &self.audit,
                owner,
                filter,
                tasks,
                sessions: &self.sessions,
            },
        )
        .await
    }
}

/// The caller's list filter, on every answer of a route that does not show everything: list
/// pages are rewritten wherever they come (the answers to list requests, GET streams with the
/// legacy transport's answers and replayed events), and a definition the caller may not see
/// smuggled anywhere else (`error.data`, `_meta`, `structuredContent`, a notification in the
/// same stream) fails the message closed.
pub(super) fn list_filter(
    upstream: &Arc<Upstream>,
    snapshot: &Snapshot,
    principal: Arc<Principal>,
    tools_list: bool,
) -> Option<ListFilter> {
    if upstream.policy.allows_everything() {
        // Nothing to hide; a tools/list page is still read for its tools' `Mcp-Param-*` headers.
        return tools_list.then(|| ListFilter::learning_only(Arc::clone(&upstream.param_headers)));
    }
    let view = authz::view_of(&principal);
    let visible = authz::visible(Arc::clone(&upstream.policy), Arc::clone(&snapshot.roles), principal);
    Some(
        ListFilter::new(visible)
            .with_cache(Arc::clone(&upstream.page_cache), view)
            .with_learner(Arc::clone(&upstream.param_headers)),
    )
}

/// What the response stage needs besides the upstream response.
struct RespondContext<'a> {
    pub server: &'a ServerConfig,
    pub metrics: &'a Arc<Metrics>,
    pub legacy: &'a Arc<LegacyEndpoints>,
    pub upstream: &'a Arc<Upstream>,
    pub method: &'a Method,
    pub request_id: Option<RequestId>,
    /// The gateway's request id, for the audit event of a stream that fails later.
    pub audit_id: &'a str,
    pub audit: &'a AuditLog,
    /// The caller's session owner key (legacy endpoints are bound to it).
    pub owner: Arc<str>,
    /// Filters `*/list` answers for the caller.
    pub filter: Option<ListFilter>,
    /// The answer creates or lists tasks.
    pub tasks: TaskAnswer,
    pub sessions: &'a SessionStore,
}

/// The audit event for a stream that fails after its response head went out (the request's
/// own event already says 200).
fn stream_failure_report(audit: &AuditLog, request_id: &str, upstream: &Upstream) -> OnFailure {
    let (audit, request_id, route) = (audit.clone(), request_id.to_string(), upstream.route.clone());
    Box::new(move |reason| {
        let mut event = AuditEvent::new("stream_failed", "error", reason);
        event.request_id = Some(&request_id);
        event.route = Some(&route);
        audit.record(&event);
    })
}

/// The policing of the requests an upstream sends on this stream: the route's
/// `server_requests` pass, any other is dropped with an audit event `server_request_dropped`.
fn server_requests(audit: &AuditLog, request_id: &str, upstream: &Upstream, owner: &str) -> ServerRequests {
    let (audit, request_id, route) = (audit.clone(), request_id.to_string(), upstream.route.clone());
    let (upstream_name, owner) = (Arc::clone(&upstream.name), owner.to_string());
    ServerRequests {
        allowed: Arc::clone(&upstream.server_requests),
        on_dropped: Box::new(move |method| {
            tracing::warn!(upstream = %upstream_name, method, "server_request_dropped");
            let mut event = AuditEvent::new("server_request_dropped", "deny", "server_method_not_allowed");
            event.request_id = Some(&request_id);
            event.route = Some(&route);
            event.subject = Some(&owner);
            event.jsonrpc_method = Some(method);
            audit.record(&event);
        }),
    }
}

/// Largest JSON answer read for filtering.
pub const MAX_FILTERED_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Turns the upstream response into the client's: headers cleaned, body streamed, legacy
/// `endpoint` events rewritten on GET streams, list answers filtered.
async fn respond(response: Response<Incoming>, lease: Lease, ctx: RespondContext<'_>) -> Response<GatewayBody> {
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
    // An answer the gateway must read (SSE events, a list page to filter) has to arrive as
    // itself; one the upstream compressed anyway is refused with a fresh head, never relabelled.
    let encoded = response
        .headers()
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded && (is_sse || ctx.filter.is_some() || ctx.tasks.any()) {
        tracing::warn!(upstream = %ctx.upstream.name, "upstream compressed an answer the gateway must read");
        return into_response(Reject::UpstreamUnavailable, ctx.request_id.as_ref());
    }
    if ctx.tasks.any() {
        // Boxed: rare, and its state-store calls would enlarge every request's future.
        return Box::pin(respond_tasks(response, lease, is_sse, &ctx)).await;
    }
    if !is_sse && ctx.filter.is_some() {
        return respond_filtered(response, lease, &ctx).await;
    }
    let (parts, incoming) = response.into_parts();
    let mut on_close = Vec::new();
    let mut rewrite: Option<EndpointRewrite> = None;
    if is_sse {
        let gauge = ctx.metrics.active_streams();
        gauge.inc();
        on_close.push(OnClose::new(move || {
            gauge.dec();
        }));
        if *ctx.method == Method::GET {
            let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
            let (legacy, upstream, registered, owner) = (
                Arc::clone(ctx.legacy),
                Arc::clone(ctx.upstream),
                Arc::clone(&tokens),
                Arc::clone(&ctx.owner),
            );
            rewrite = Some(Box::new(move |endpoint: &str| {
                // One live token per stream: a repeated `endpoint` event replaces the old one,
                // so an upstream cannot grow the table from a single stream.
                let (token, url) = legacy.register(&upstream, &owner, endpoint)?;
                let mut tokens = registered.lock().unwrap_or_else(PoisonError::into_inner);
                for old in tokens.drain(..) {
                    legacy.remove(&old);
                }
                tokens.push(token);
                Some(url)
            }));
            let legacy = Arc::clone(ctx.legacy);
            on_close.push(OnClose::new(move || {
                for token in tokens.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
                    legacy.remove(&token);
                }
            }));
        }
    }
    let timeouts = &ctx.server.timeouts;
    let filtered = ctx.filter.as_ref().is_some_and(ListFilter::restricted);
    let body = ProxyBody::new(
        incoming,
        StreamOptions {
            idle_after: timeouts.stream_idle,
            sse: is_sse.then_some((timeouts.sse_keepalive, MAX_SSE_EVENT_BYTES)),
            request_id: ctx.request_id,
            rewrite,
            on_close,
            lease: Some(lease),
            on_failure: Some(stream_failure_report(ctx.audit, ctx.audit_id, ctx.upstream)),
            filter: ctx.filter,
            server_requests: is_sse.then(|| server_requests(ctx.audit, ctx.audit_id, ctx.upstream, &ctx.owner)),
        },
    );
    let mut out = Response::new(GatewayBody::Proxy(Box::new(body)));
    *out.status_mut() = parts.status;
    *out.headers_mut() = response_headers(parts.headers, is_sse, ctx.upstream.forward_cookies);
    if filtered {
        per_caller(out.headers_mut());
    }
    out
}

/// A filtered answer is this caller's view: no shared cache may keep it for another.
fn per_caller(headers: &mut http::HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("private, no-store"),
    );
    headers.append(header::VARY, http::HeaderValue::from_static("Authorization"));
}

/// An upstream body read whole, bounded in size (`limit`) and time (`stream_idle`); the
/// connection goes back to its pool once read. An answer that cannot be read is the request's
/// 502 (or 504 when it does not arrive in time).
async fn read_whole(
    incoming: Incoming,
    lease: Lease,
    limit: usize,
    ctx: &RespondContext<'_>,
) -> Result<Bytes, Response<GatewayBody>> {
    use http_body_util::BodyExt as _;
    let limited = http_body_util::Limited::new(incoming, limit);
    match tokio::time::timeout(ctx.server.timeouts.stream_idle, limited.collect()).await {
        Ok(Ok(collected)) => {
            lease.release();
            Ok(collected.to_bytes())
        }
        Ok(Err(error)) => {
            tracing::warn!(upstream = %ctx.upstream.name, %error, "upstream answer unreadable or too large");
            Err(into_response(Reject::UpstreamUnavailable, ctx.request_id.as_ref()))
        }
        Err(_) => {
            tracing::warn!(upstream = %ctx.upstream.name, "upstream answer not received in time");
            Err(into_response(Reject::UpstreamTimeout, ctx.request_id.as_ref()))
        }
    }
}

/// The client's response for an answer the gateway read and rewrote: the upstream's status and
/// cleaned headers, the body's own length, per caller when the filter showed a view.
fn rewritten(
    parts: http::response::Parts,
    body: Bytes,
    is_sse: bool,
    ctx: &RespondContext<'_>,
) -> Response<GatewayBody> {
    let mut out = Response::new(GatewayBody::full(body));
    *out.status_mut() = parts.status;
    let mut headers = response_headers(parts.headers, is_sse, ctx.upstream.forward_cookies);
    // The rewritten body has its own length (hyper sets it from the body).
    headers.remove(header::CONTENT_LENGTH);
    if ctx.filter.as_ref().is_some_and(ListFilter::restricted) {
        per_caller(&mut headers);
    }
    *out.headers_mut() = headers;
    out
}

/// A JSON answer on a filtered route (a list page, or any answer that could smuggle one): read
/// whole, filtered, and sent with its own length.
async fn respond_filtered(
    response: Response<Incoming>,
    lease: Lease,
    ctx: &RespondContext<'_>,
) -> Response<GatewayBody> {
    let (parts, incoming) = response.into_parts();
    let body = match read_whole(incoming, lease, MAX_FILTERED_BODY_BYTES, ctx).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let body = match &ctx.filter {
        Some(filter) => filter.json_answer(body, ctx.request_id.as_ref()),
        None => body,
    };
    rewritten(parts, body, false, ctx)
}

/// An answer that creates or lists tasks: read whole, its task ids bound or filtered, then
/// list-filtered like any answer, and sent with its own length.
async fn respond_tasks(
    response: Response<Incoming>,
    lease: Lease,
    is_sse: bool,
    ctx: &RespondContext<'_>,
) -> Response<GatewayBody> {
    let (parts, incoming) = response.into_parts();
    let body = match read_whole(incoming, lease, tasks::MAX_TASK_ANSWER_BYTES, ctx).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let binder = tasks::Binder {
        store: ctx.sessions,
        route: &ctx.upstream.route,
        owner: &ctx.owner,
        tasks: ctx.tasks,
        request_id: ctx.request_id.as_ref(),
    };
    let police = server_requests(ctx.audit, ctx.audit_id, ctx.upstream, &ctx.owner);
    let Some(body) = binder.answer(body, is_sse, &police).await else {
        return into_response(Reject::UpstreamUnavailable, ctx.request_id.as_ref());
    };
    let body = match &ctx.filter {
        None => body,
        Some(filter) if !is_sse => filter.json_answer(body, ctx.request_id.as_ref()),
        Some(filter) => filter.sse_answer(&body, ctx.request_id.as_ref()),
    };
    rewritten(parts, body, is_sse, ctx)
}
