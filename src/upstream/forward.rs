//! Forwarding: the upstream request built from the checked bytes, and the upstream response
//! turned into the client's (headers cleaned, body streamed).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{HeaderValue, Method, Request, Response, Uri, Version, header};
use http_body_util::Full;
use hyper::body::Incoming;

use super::headers::{ForwardedFor, request_headers, response_headers};
use super::legacy::LegacyEndpoints;
use super::pool::Lease;
use super::stream::{EndpointRewrite, OnClose, OnFailure, ProxyBody, StreamOptions};
use crate::body::GatewayBody;
use crate::config::{ServerConfig, Upstream};
use crate::error::Reject;
use crate::mcp::RequestId;
use crate::telemetry::{AuditEvent, AuditLog, Metrics};

/// Largest SSE event passed through (bounded memory per stream).
pub const MAX_SSE_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Builds the upstream request: the exact checked bytes, clean headers, `Host` rewritten.
pub fn build_request(
    parts: &Parts,
    upstream: &Upstream,
    target: Option<PathAndQuery>,
    body: Bytes,
    forwarded: &ForwardedFor,
    request_id: &str,
) -> Result<Request<Full<Bytes>>, Reject> {
    let path_and_query = match target {
        Some(target) => target,
        None => upstream
            .url
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
    };
    // Origin-form on the wire: the connection already goes to the upstream, and `Host` names it.
    let uri = Uri::from(path_and_query);
    let mut headers = request_headers(&parts.headers, upstream, forwarded, body.len());
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", value);
    }
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Ok(request)
}

/// What the response stage needs besides the upstream response.
pub struct RespondContext<'a> {
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
    pub filter: Option<crate::authz::ListFilter>,
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

/// Largest JSON list answer read for filtering.
pub const MAX_FILTERED_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Turns the upstream response into the client's: headers cleaned, body streamed, legacy
/// `endpoint` events rewritten on GET streams, list answers filtered.
pub async fn respond(response: Response<Incoming>, lease: Lease, mut ctx: RespondContext<'_>) -> Response<GatewayBody> {
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
    if !is_sse {
        if let Some(filter) = ctx.filter.take() {
            return respond_filtered(response, lease, &ctx, &filter).await;
        }
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
        },
    );
    let mut out = Response::new(GatewayBody::Proxy(Box::new(body)));
    *out.status_mut() = parts.status;
    *out.headers_mut() = response_headers(&parts.headers, is_sse);
    out
}

/// A JSON answer that may carry a list page: read whole (bounded in size and time), filtered,
/// and sent with its own length. An answer that cannot be read is the request's 502.
async fn respond_filtered(
    response: Response<Incoming>,
    lease: Lease,
    ctx: &RespondContext<'_>,
    filter: &crate::authz::ListFilter,
) -> Response<GatewayBody> {
    use http_body_util::BodyExt as _;
    let (parts, incoming) = response.into_parts();
    let limited = http_body_util::Limited::new(incoming, MAX_FILTERED_BODY_BYTES);
    let body = match tokio::time::timeout(ctx.server.timeouts.stream_idle, limited.collect()).await {
        Ok(Ok(collected)) => {
            lease.release();
            collected.to_bytes()
        }
        Ok(Err(error)) => {
            tracing::warn!(upstream = %ctx.upstream.name, %error, "upstream list answer unreadable or too large");
            return Reject::UpstreamUnavailable.into_response(ctx.request_id.as_ref());
        }
        Err(_) => {
            tracing::warn!(upstream = %ctx.upstream.name, "upstream list answer not received in time");
            return Reject::UpstreamTimeout.into_response(ctx.request_id.as_ref());
        }
    };
    let mut out = Response::new(GatewayBody::full(filter.json_answer(body, ctx.request_id.as_ref())));
    *out.status_mut() = parts.status;
    let mut headers = response_headers(&parts.headers, false);
    // The filtered page has its own length (hyper sets it from the body).
    headers.remove(header::CONTENT_LENGTH);
    *out.headers_mut() = headers;
    out
}
