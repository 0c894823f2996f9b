//! How a [`Reject`] is written on the wire: status, JSON-RPC error with the request's id (or
//! an OAuth-style error object), `Allow`, `Retry-After` / `RateLimit-*`, `WWW-Authenticate`.

use bytes::Bytes;
use http::{HeaderValue, Response, header};

use crate::error::Reject;
use crate::mcp::{RequestId, jsonrpc_error};
use crate::server::{GatewayBody, json_response};

/// The response, carrying `id` in the JSON-RPC error when the request had one.
pub fn into_response(reject: Reject, id: Option<&RequestId>) -> Response<GatewayBody> {
    let status = reject.status();
    let body = match (&reject, reject.jsonrpc_code()) {
        (Reject::Unauthorized { description, .. }, _) => plain_error("invalid_token", description),
        (Reject::TokenRequest { code, description, .. }, _) => plain_error(code, description),
        (Reject::PolicyDenied { data, .. }, Some(code)) => jsonrpc_error(id, code, &reject.to_string(), data.as_ref()),
        (Reject::UnsupportedVersion { requested }, Some(code)) => {
            // Only the revision negotiated by header: earlier ones are negotiated by
            // `initialize`, and a client must find what it is told a subset of what the
            // server's `server/discover` lists (as the SDK servers answer it).
            let data =
                serde_json::json!({ "supported": [crate::mcp::headers::MODERN_VERSION], "requested": requested });
            jsonrpc_error(id, code, &reject.to_string(), Some(&data))
        }
        (Reject::RateLimited { limited, .. }, Some(code)) => {
            let data =
                serde_json::json!({ "retryAfterMs": limited.retry_after_ms.min(MAX_RETRY_AFTER_SECONDS * 1000) });
            jsonrpc_error(id, code, &reject.to_string(), Some(&data))
        }
        (_, Some(code)) => jsonrpc_error(id, code, &reject.to_string(), None),
        (_, None) => plain_error(reject.reason(), &reject.to_string()),
    };
    let mut response = json_response(status, body);
    match &reject {
        Reject::MethodNotAllowed => {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
        }
        Reject::RateLimited { limited, .. } => rate_limit_headers(response.headers_mut(), limited),
        Reject::TokenRequest { .. } => crate::server::no_store(response.headers_mut()),
        Reject::Unauthorized { challenge, .. } | Reject::InsufficientScope { challenge, .. } => {
            if let Ok(value) = HeaderValue::from_str(challenge) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
        }
        _ => {}
    }
    response
}

const MAX_RETRY_AFTER_SECONDS: u64 = 365 * 86_400;

/// `Retry-After` (whole seconds, at least 1) and the IETF `RateLimit-Policy` / `RateLimit`
/// fields (draft-ietf-httpapi-ratelimit-headers): quota = burst, window = seconds to refill it.
fn rate_limit_headers(headers: &mut http::HeaderMap, limited: &crate::ratelimit::Limited) {
    // A bucket that never refills says "a year": a header a client can still act on.
    let seconds = limited.retry_after_ms.div_ceil(1000).clamp(1, MAX_RETRY_AFTER_SECONDS);
    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    if let Some(limit) = limited.limit {
        let window = if limit.refill_per_sec > 0.0 {
            (limit.capacity / limit.refill_per_sec).ceil() as u64
        } else {
            0
        };
        let name = limited.scope;
        let policy = format!("\"{name}\";q={};w={window}", limit.capacity as u64);
        let state = format!("\"{name}\";r=0;t={seconds}");
        for (field, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(field, value);
            }
        }
    }
}

fn plain_error(reason: &str, description: &str) -> Bytes {
    let body = serde_json::json!({ "error": reason, "error_description": description });
    Bytes::from(body.to_string())
}
