//! Stage 0b, the gateway as the OAuth 2.1 authorization server of its own tokens:
//! `POST /oauth/token` with `grant_type=refresh_token` (RFC 6749 §6), rotating the refresh
//! token with reuse detection (RFC 9700 §4.14). Public like the metadata, never forwarded,
//! behind the edge checks and the IP bucket; a refused refresh token counts toward the IP's
//! auth-failure block like any refused credential. Every answer carries
//! `Cache-Control: no-store`.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;

use super::context::RequestContext;
use super::edge;
use crate::config::Snapshot;
use crate::credentials::RefreshError;
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::server::{GatewayBody, json_response};

/// The token endpoint's path on the public listener.
pub const PATH: &str = "/oauth/token";

/// A token request body is a handful of short parameters.
const MAX_FORM_BYTES: usize = 8 * 1024;

fn invalid(code: &'static str, description: &'static str, reason: &'static str) -> Reject {
    Reject::TokenRequest {
        code,
        description,
        reason,
        unavailable: false,
    }
}

/// The form's parameters; a repeated one is refused (RFC 6749 §3.2).
fn form(body: &[u8]) -> Result<Vec<(String, String)>, Reject> {
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(body) {
        if params.iter().any(|(n, _)| *n == name) {
            return Err(invalid(
                "invalid_request",
                "A parameter is repeated",
                "token_request_invalid",
            ));
        }
        params.push((name.into_owned(), value.into_owned()));
    }
    Ok(params)
}

impl Gateway {
    /// `POST /oauth/token`.
    pub(super) async fn token_endpoint(
        &self,
        snapshot: &Snapshot,
        request: Request<Incoming>,
        ctx: &mut RequestContext,
    ) -> Result<Response<GatewayBody>, Reject> {
        if request.method() != Method::POST {
            return Err(Reject::MethodNotAllowed);
        }
        let (client_ip, _) = edge::check(&request, &self.server, &ctx.conn)?;
        ctx.client_ip = Some(client_ip);
        self.limit_ip(&snapshot.rate_limits, client_ip)?;
        let Some(jwt) = snapshot.auth.jwt.as_ref() else {
            return Err(invalid(
                "unsupported_grant_type",
                "This gateway issues no tokens ([auth.jwt] is not configured)",
                "token_request_invalid",
            ));
        };
        let form_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !form_type {
            return Err(invalid(
                "invalid_request",
                "The body must be application/x-www-form-urlencoded",
                "token_request_invalid",
            ));
        }
        let timeout = self.server.timeouts.request_body;
        let body = Limited::new(request.into_body(), MAX_FORM_BYTES);
        let bytes: Bytes = match tokio::time::timeout(timeout, body.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => return Err(Reject::BodyTooLarge),
            Err(_) => return Err(Reject::BodyTimeout),
        };
        let params = form(&bytes)?;
        let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        match param("grant_type") {
            None => {
                return Err(invalid(
                    "invalid_request",
                    "grant_type is required",
                    "token_request_invalid",
                ));
            }
            Some("refresh_token") => {}
            Some(_) => {
                return Err(invalid(
                    "unsupported_grant_type",
                    "Only grant_type=refresh_token is supported",
                    "token_request_invalid",
                ));
            }
        }
        let Some(token) = param("refresh_token").filter(|t| !t.is_empty()) else {
            return Err(invalid(
                "invalid_request",
                "refresh_token is required",
                "token_request_invalid",
            ));
        };
        match self.credentials.refresh(jwt, token, Some(client_ip)).await {
            Ok(issued) => {
                let body = serde_json::to_vec(&issued).unwrap_or_default();
                let mut response = json_response(StatusCode::OK, Bytes::from(body));
                crate::server::no_store(response.headers_mut());
                Ok(response)
            }
            Err(RefreshError::InvalidGrant(reason)) => {
                self.count_auth_failure(&snapshot.rate_limits, client_ip, true).await?;
                Err(invalid(
                    "invalid_grant",
                    "The refresh token is invalid, expired, revoked or was already used",
                    reason,
                ))
            }
            Err(RefreshError::Unavailable) => Err(Reject::TokenRequest {
                code: "temporarily_unavailable",
                description: "The credential store cannot be reached; try again",
                reason: "state_unavailable",
                unavailable: true,
            }),
            Err(RefreshError::Signing(error)) => {
                tracing::error!(%error, "refresh: cannot sign the new access token");
                Err(Reject::TokenRequest {
                    code: "temporarily_unavailable",
                    description: "The gateway cannot sign tokens",
                    reason: "signing_failed",
                    unavailable: true,
                })
            }
        }
    }
}
