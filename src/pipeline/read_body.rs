//! Stage 4: the request body, read whole within the size and time bounds of `[server]`, in
//! plain framing only. GET and DELETE carry none.

use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Request, header};
use http_body::Body as _;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Incoming;

use super::context::{RequestContext, session_fingerprint};
use crate::config::ServerConfig;
use crate::error::Reject;

/// The request's head and its body bytes (empty for GET and DELETE).
pub(super) async fn read_body(
    request: Request<Incoming>,
    server: &ServerConfig,
    ctx: &mut RequestContext,
) -> Result<(Parts, Bytes), Reject> {
    let (parts, body) = request.into_parts();
    ctx.session = parts
        .headers
        .get("mcp-session-id")
        .map(|v| session_fingerprint(v.as_bytes()));
    let bytes = if parts.method == Method::POST {
        check_post_framing(&parts.headers)?;
        read(&parts, body, server.max_body_bytes, server.timeouts.request_body).await?
    } else {
        if !body.is_end_stream() {
            return Err(Reject::BadRequest("GET and DELETE requests cannot carry a body"));
        }
        Bytes::new()
    };
    Ok((parts, bytes))
}

/// The body must be plain JSON with plain framing: no transfer coding but `chunked` (hyper
/// passes `gzip, chunked` through) and no content coding the gateway cannot inspect.
pub fn check_post_framing(headers: &HeaderMap) -> Result<(), Reject> {
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        if !value.as_bytes().eq_ignore_ascii_case(b"chunked") {
            return Err(Reject::BadRequest("unsupported Transfer-Encoding"));
        }
    }
    for value in headers.get_all(header::CONTENT_ENCODING) {
        if !value.as_bytes().eq_ignore_ascii_case(b"identity") {
            return Err(Reject::UnsupportedMediaType);
        }
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let mut parts = content_type.unwrap_or_default().split(';');
    let json = parts
        .next()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    // JSON is UTF-8 (RFC 8259 §8.1): a body declared in another charset would be read as one
    // text by the gateway and as another by the upstream.
    let utf8 = parts.all(|param| match param.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let value = value.trim().trim_matches('"');
            value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    });
    if json && utf8 {
        Ok(())
    } else {
        Err(Reject::UnsupportedMediaType)
    }
}

/// Reads the whole body: 413 past `max_bytes` (before reading when `Content-Length` says
/// so), 408 when it does not arrive within `deadline`.
async fn read(parts: &Parts, body: Incoming, max_bytes: u64, deadline: Duration) -> Result<Bytes, Reject> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes) {
        return Err(Reject::BodyTooLarge);
    }
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    match tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await {
        Err(_) => Err(Reject::BodyTimeout),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => Err(Reject::BodyTooLarge),
        Ok(Err(_)) => Err(Reject::BadRequest("request body could not be read")),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}
