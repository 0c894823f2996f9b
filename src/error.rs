//! `Reject`: every refusal the gateway makes, mapped exhaustively to an HTTP status, a
//! JSON-RPC code and a stable reason label (the only refusal label metrics and audit use).
//! How a refusal is written on the wire is `pipeline/reject.rs`.

use http::StatusCode;

use crate::mcp::{CODE_RATE_LIMITED, CODE_UNAVAILABLE};

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
    /// A method the route does not forward: a lenient spelling of a policed method
    /// (`disguised_method`) or one outside the route's allow-list (`method_not_forwarded`).
    /// `-32601`; 200 when it answers one request, else 400.
    #[error("Method not found")]
    MethodNotFound { reason: &'static str, single_request: bool },
    /// A 2026-07-28 request for a method that revision removed (`initialize`, `ping`,
    /// `logging/setLevel`, `resources/subscribe`, `resources/unsubscribe`): 404 + `-32601`, as a
    /// 2026-07-28 server answers it.
    #[error("Method not found")]
    RemovedMethod,
    /// `MCP-Protocol-Version` names no protocol revision: 400 + `-32022` listing the known ones.
    #[error("Unsupported protocol version")]
    UnsupportedVersion { requested: String },
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
    /// A `tasks/*` request for a task that is unknown, expired, or another principal's
    /// (`mismatch`): `-32602`, the answer MCP gives for a task that does not exist; 200 when it
    /// answers one request, else 400.
    #[error("Invalid params: unknown task")]
    TaskNotFound { mismatch: bool, single_request: bool },
    /// `POST /oauth/token` refused (RFC 6749 §5.2): 400 with `error` = `code`
    /// (`invalid_request`, `invalid_grant`, `unsupported_grant_type`), or 503
    /// `temporarily_unavailable` when the store cannot decide (`unavailable`).
    #[error("{description}")]
    TokenRequest {
        code: &'static str,
        description: &'static str,
        reason: &'static str,
        unavailable: bool,
    },
    /// 401 with the RFC 9728 challenge (`WWW-Authenticate` value in `challenge`).
    #[error("{description}")]
    Unauthorized {
        reason: &'static str,
        description: &'static str,
        challenge: String,
    },
}

/// 200 when a refusal answers one request (its JSON-RPC error carries the id), else `other`.
fn answered_or(single_request: bool, other: StatusCode) -> StatusCode {
    if single_request { StatusCode::OK } else { other }
}

impl Reject {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnknownRoute | Self::UnknownSession | Self::SessionNotFound { .. } => StatusCode::NOT_FOUND,
            Self::PolicyDenied { single_request, .. } | Self::InvalidArguments { single_request, .. } => {
                answered_or(*single_request, StatusCode::FORBIDDEN)
            }
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::RateLimited { single_request, .. } => answered_or(*single_request, StatusCode::TOO_MANY_REQUESTS),
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::TokenRequest { unavailable: true, .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::TokenRequest { unavailable: false, .. } => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) | Self::Envelope { .. } | Self::HeaderMismatch(_) => StatusCode::BAD_REQUEST,
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::InvalidParams(_) => StatusCode::OK,
            Self::RemovedMethod => StatusCode::NOT_FOUND,
            Self::UnsupportedVersion { .. } => StatusCode::BAD_REQUEST,
            Self::MethodNotFound { single_request, .. } | Self::TaskNotFound { single_request, .. } => {
                answered_or(*single_request, StatusCode::BAD_REQUEST)
            }
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
            | Self::TokenRequest { .. }
            | Self::InsufficientScope { .. } => None,
            Self::PolicyDenied { code, .. } => Some(*code),
            Self::InvalidArguments { .. } => Some(-32602),
            Self::RateLimited { .. } => Some(CODE_RATE_LIMITED),
            Self::SessionNotFound { .. } => Some(-32600),
            Self::BadRequest(_) | Self::UnsupportedMediaType | Self::BodyTooLarge | Self::BodyTimeout => Some(-32600),
            Self::OriginNotAllowed => Some(-32600),
            Self::Envelope { code, .. } => Some(*code),
            Self::InvalidParams(_) | Self::TaskNotFound { .. } => Some(-32602),
            Self::MethodNotFound { .. } | Self::RemovedMethod => Some(-32601),
            Self::UnsupportedVersion { .. } => Some(-32022),
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
            Self::MethodNotFound { reason, .. } => reason,
            Self::RemovedMethod => "method_removed",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::HeaderMismatch(_) => "header_mismatch",
            Self::UnknownSession => "unknown_session",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::AuthUnavailable => "auth_unavailable",
            Self::StateUnavailable => "state_unavailable",
            Self::Unauthorized { reason, .. } | Self::TokenRequest { reason, .. } => reason,
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
            Self::TaskNotFound { mismatch: true, .. } => "task_mismatch",
            Self::TaskNotFound { mismatch: false, .. } => "unknown_task",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Reject;

    #[test]
    fn statuses_and_codes() {
        assert_eq!(Reject::UpstreamTimeout.status().as_u16(), 504);
        assert_eq!(Reject::UpstreamUnavailable.jsonrpc_code(), Some(-31503));
    }
}
