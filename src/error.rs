//! `Reject`: every refusal the gateway makes, mapped exhaustively to an HTTP status, a
//! JSON-RPC code and a stable reason label (the only refusal label metrics and audit use).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::body::GatewayBody;
use crate::mcp::RequestId;

/// Gateway-defined JSON-RPC code: policy denied (outside the reserved -32768..-32000).
pub const CODE_POLICY_DENIED: i64 = -31403;
/// Gateway-defined JSON-RPC code: rate limited.
pub const CODE_RATE_LIMITED: i64 = -31429;
/// Gateway-defined JSON-RPC code: a dependency (upstream, state store) is unavailable.
pub const CODE_UNAVAILABLE: i64 = -31503;

/// A refusal. Each variant decides its own status, code and label below, with no catch-all
/// arm, so a new variant forces a decision everywhere.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Reject {
    #[error("no route for this path")]
    UnknownRoute,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("Origin not allowed")]
    OriginNotAllowed,
    #[error("unsupported media type: POST bodies must be uncompressed application/json")]
    UnsupportedMediaType,
    #[error("request body too large")]
    BodyTooLarge,
    #[error("request body not received in time")]
    BodyTimeout,
    #[error("{message}")]
    Envelope {
        reason: &'static str,
        code: i64,
        message: String,
    },
    #[error("{0}")]
    InvalidParams(String),
    #[error("Header mismatch: {0}")]
    HeaderMismatch(String),
    #[error("unknown session")]
    UnknownSession,
    #[error("upstream unavailable")]
    UpstreamUnavailable,
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// The state store (Redis) is unreachable and the feature fails closed (session checks,
    /// rate limits with `on_unavailable = "deny"`).
    #[error("state store unavailable")]
    StateUnavailable,
    /// A fail-closed dependency of authentication (an issuer's introspection) is down.
    #[error("authentication dependency unavailable")]
    AuthUnavailable,
    /// A tool, resource or prompt the caller may not use. `code`/`message`/`data` follow
    /// `on_deny` (hide: `-32602` as for an unknown name; explain: `-31403`). 200 when it answers
    /// one request; 403 when no single id can carry it (a notification, a batch).
    #[error("{message}")]
    PolicyDenied {
        code: i64,
        message: String,
        data: Option<serde_json::Value>,
        single_request: bool,
    },
    /// An OAuth issuer's token lacks a scope the call needs: 403 with the step-up challenge.
    #[error("insufficient scope: the call needs {scope}")]
    InsufficientScope { scope: String, challenge: String },
    /// A tool or prompt argument breaks a configured constraint (named, never echoed).
    #[error("Invalid arguments for {what} {name}: {argument}")]
    InvalidArguments {
        what: &'static str,
        name: String,
        argument: String,
        single_request: bool,
    },
    /// A token bucket is empty (or the IP is blocked after failed credentials): 200 with
    /// `-31429` when it answers one request, else 429; `Retry-After` either way.
    #[error("Rate limit exceeded")]
    RateLimited {
        limited: crate::ratelimit::Limited,
        single_request: bool,
    },
    /// `Mcp-Session-Id` unknown, expired, or bound to another principal (`mismatch`): 404,
    /// as for an unknown session.
    #[error("Session not found")]
    SessionNotFound { mismatch: bool },
    /// 401 with the RFC 9728 challenge (`WWW-Authenticate` value in `challenge`).
    #[error("{description}")]
    Unauthorized {
        reason: &'static str,
        description: &'static str,
        challenge: String,
    },
}

impl Reject {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnknownRoute | Self::UnknownSession | Self::SessionNotFound { .. } => StatusCode::NOT_FOUND,
            Self::PolicyDenied { single_request, .. } | Self::InvalidArguments { single_request, .. } => {
                if *single_request {
                    StatusCode::OK
                } else {
                    StatusCode::FORBIDDEN
                }
            }
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::RateLimited { single_request, .. } => {
                if *single_request {
                    StatusCode::OK
                } else {
                    StatusCode::TOO_MANY_REQUESTS
                }
            }
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) | Self::Envelope { .. } | Self::HeaderMismatch(_) => StatusCode::BAD_REQUEST,
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::InvalidParams(_) => StatusCode::OK,
            Self::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Self::AuthUnavailable | Self::StateUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The JSON-RPC error code of the body, or `None` when the body is not JSON-RPC.
    pub fn jsonrpc_code(&self) -> Option<i64> {
        match self {
            Self::UnknownRoute
            | Self::MethodNotAllowed
            | Self::UnknownSession
            | Self::Unauthorized { .. }
            | Self::InsufficientScope { .. } => None,
            Self::PolicyDenied { code, .. } => Some(*code),
            Self::InvalidArguments { .. } => Some(-32602),
            Self::RateLimited { .. } => Some(CODE_RATE_LIMITED),
            Self::SessionNotFound { .. } => Some(-32600),
            Self::BadRequest(_) | Self::UnsupportedMediaType | Self::BodyTooLarge | Self::BodyTimeout => Some(-32600),
            Self::OriginNotAllowed => Some(-32600),
            Self::Envelope { code, .. } => Some(*code),
            Self::InvalidParams(_) => Some(-32602),
            Self::HeaderMismatch(_) => Some(-32020),
            Self::UpstreamUnavailable | Self::UpstreamTimeout | Self::AuthUnavailable | Self::StateUnavailable => {
                Some(CODE_UNAVAILABLE)
            }
        }
    }

    /// Stable, bounded label for metrics and audit.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownRoute => "unknown_route",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::BadRequest(_) => "bad_request",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::BodyTooLarge => "body_too_large",
            Self::BodyTimeout => "body_timeout",
            Self::Envelope { reason, .. } => reason,
            Self::InvalidParams(_) => "invalid_params",
            Self::HeaderMismatch(_) => "header_mismatch",
            Self::UnknownSession => "unknown_session",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::AuthUnavailable => "auth_unavailable",
            Self::StateUnavailable => "state_unavailable",
            Self::Unauthorized { reason, .. } => reason,
            Self::PolicyDenied { .. } => "policy_denied",
            Self::RateLimited { limited, .. } => match limited.scope {
                "ip" => "rate_limited_ip",
                "auth_failures" => "auth_failure_block",
                "api_key" => "rate_limited_api_key",
                "tool" => "rate_limited_tool",
                _ => "rate_limited",
            },
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::InvalidArguments { .. } => "invalid_arguments",
            Self::SessionNotFound { mismatch: true } => "session_mismatch",
            Self::SessionNotFound { mismatch: false } => "unknown_session",
        }
    }

    /// The response, carrying `id` in the JSON-RPC error when the request had one.
    pub fn into_response(self, id: Option<&RequestId>) -> Response<GatewayBody> {
        let status = self.status();
        let body = match (&self, self.jsonrpc_code()) {
            (Self::Unauthorized { description, .. }, _) => plain_error("invalid_token", description),
            (Self::PolicyDenied { data, .. }, Some(code)) => jsonrpc_error(id, code, &self.to_string(), data.as_ref()),
            (Self::RateLimited { limited, .. }, Some(code)) => {
                let data =
                    serde_json::json!({ "retryAfterMs": limited.retry_after_ms.min(MAX_RETRY_AFTER_SECONDS * 1000) });
                jsonrpc_error(id, code, &self.to_string(), Some(&data))
            }
            (_, Some(code)) => jsonrpc_error(id, code, &self.to_string(), None),
            (_, None) => plain_error(self.reason(), &self.to_string()),
        };
        let mut response = json_response(status, body);
        match &self {
            Self::MethodNotAllowed => {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
            }
            Self::RateLimited { limited, .. } => rate_limit_headers(response.headers_mut(), limited),
            Self::Unauthorized { challenge, .. } | Self::InsufficientScope { challenge, .. } => {
                if let Ok(value) = HeaderValue::from_str(challenge) {
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                }
            }
            _ => {}
        }
        response
    }
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

/// `{"jsonrpc":"2.0","id":ID,"error":{"code":C,"message":M[,"data":D]}}` with the id's exact
/// bytes (or `null`).
pub fn jsonrpc_error(id: Option<&RequestId>, code: i64, message: &str, data: Option<&serde_json::Value>) -> Bytes {
    let id = id.map_or("null", RequestId::as_json);
    let message = serde_json::Value::from(message);
    let data = data.map(|d| format!(",\"data\":{d}")).unwrap_or_default();
    Bytes::from(format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":{code},\"message\":{message}{data}}}}}"
    ))
}

fn plain_error(reason: &str, description: &str) -> Bytes {
    let body = serde_json::json!({ "error": reason, "error_description": description });
    Bytes::from(body.to_string())
}

/// A complete JSON response.
pub fn json_response(status: StatusCode, body: Bytes) -> Response<GatewayBody> {
    let mut response = Response::new(GatewayBody::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::{Reject, jsonrpc_error};

    #[test]
    fn error_bodies_echo_the_exact_id() {
        let body = jsonrpc_error(None, -32700, "Parse error", None);
        assert_eq!(
            &body[..],
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#
        );
        assert_eq!(Reject::UpstreamTimeout.status().as_u16(), 504);
        assert_eq!(Reject::UpstreamUnavailable.jsonrpc_code(), Some(-31503));
    }
}
