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
use super::stream::{EndpointRewrite, OnClose, ProxyBody, StreamOptions};
use crate::body::GatewayBody;
use crate::config::{ServerConfig, Upstream};
use crate::error::Reject;
use crate::mcp::RequestId;
use crate::telemetry::Metrics;

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
}

/// Turns the upstream response into the client's: headers cleaned, body streamed, legacy
/// `endpoint` events rewritten on GET streams.
pub fn respond(response: Response<Incoming>, lease: Lease, ctx: RespondContext<'_>) -> Response<GatewayBody> {
    let (parts, incoming) = response.into_parts();
    let is_sse = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
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
            let (legacy, upstream, registered) =
                (Arc::clone(ctx.legacy), Arc::clone(ctx.upstream), Arc::clone(&tokens));
            rewrite = Some(Box::new(move |endpoint: &str| {
                let (token, url) = legacy.register(&upstream, endpoint)?;
                registered.lock().unwrap_or_else(PoisonError::into_inner).push(token);
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
        },
    );
    let mut out = Response::new(GatewayBody::Proxy(Box::new(body)));
    *out.status_mut() = parts.status;
    *out.headers_mut() = response_headers(&parts.headers, is_sse);
    out
}
