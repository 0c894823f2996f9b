//! Who may look at the security audit (`/admin/audit`, `/admin/dashboard/events`,
//! `/admin/mcp`): the admin token, or a gateway credential holding `metrics:view` (or
//! `admin:all`).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::auth::Principal;
use crate::config::Secret;
use crate::gateway::Gateway;
use crate::server::{GatewayBody, json_response};

/// The permission that shows the audit.
pub const VIEW: &str = "metrics:view";

/// The caller, when it may view the audit.
pub enum Viewer {
    AdminToken,
    Principal(Arc<Principal>),
}

impl Viewer {
    /// How the caller appears in audit events.
    pub fn actor(&self) -> String {
        match self {
            Self::AdminToken => "admin-token".into(),
            Self::Principal(p) => format!("{}:{}", p.method.label(), p.subject),
        }
    }
}

/// Authenticates the caller: `Ok(Some)` may view, `Ok(None)` is authenticated but lacks the
/// permission, `Err` is the 401 to send.
pub async fn viewer(
    gateway: &Gateway,
    token: Option<&Secret>,
    headers: &HeaderMap,
) -> Result<(Option<Viewer>, Option<Arc<Principal>>), Response<GatewayBody>> {
    if super::bearer::is_admin_token(token, super::bearer::bearer(headers)) {
        return Ok((Some(Viewer::AdminToken), None));
    }
    let snapshot = gateway.reloader().snapshot();
    let principal = snapshot
        .auth
        .authenticate(headers, gateway.credentials().live(), None)
        .await
        .map_err(|failure| unauthorized(failure.description()))?;
    let allowed = snapshot.roles.grants(&principal, VIEW) || snapshot.roles.grants(&principal, "admin:all");
    Ok((
        allowed.then(|| Viewer::Principal(Arc::clone(&principal))),
        Some(principal),
    ))
}

/// The 401 for a missing or refused credential.
pub fn unauthorized(description: &str) -> Response<GatewayBody> {
    let body = serde_json::json!({ "error": "invalid_token", "error_description": description });
    let mut response = json_response(StatusCode::UNAUTHORIZED, Bytes::from(body.to_string()));
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// A JSON error answer.
pub fn error(status: StatusCode, code: &str, description: &str) -> Response<GatewayBody> {
    let body = serde_json::json!({ "error": code, "error_description": description });
    json_response(status, Bytes::from(body.to_string()))
}
