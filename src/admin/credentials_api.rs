//! The admin API of the credential lifecycle (JSON, documented in `docs/admin-openapi.json`,
//! served at `/admin/openapi.json`): `/admin/tokens`, `/admin/keys[/{id}[/rotate]]`,
//! `/admin/revocations`. A caller is the `[admin].token`, or any credential the gateway
//! accepts whose principal holds `admin:*` or the call's scoped permission (`tokens:issue`,
//! `keys:manage`, `revocations:manage`). Every call is audited with who made it; bad input is
//! a 400 naming the field, and nothing is written on any error.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use serde::Deserialize;

use crate::auth::jwt::Grant;
use crate::auth::revocation::RevocationKind;
use crate::config::Secret;
use crate::credentials::{CredError, NewKey, RevocationView};
use crate::gateway::Gateway;
use crate::server::{GatewayBody, json_response};
use crate::telemetry::AuditEvent;

/// Whether `path` belongs to this API.
pub fn handles(path: &str) -> bool {
    path == "/admin/tokens"
        || path == "/admin/keys"
        || path.starts_with("/admin/keys/")
        || path == "/admin/revocations"
        || path == "/admin/openapi.json"
}

/// The OpenAPI document of the admin API.
const OPENAPI: &str = include_str!("../../docs/admin-openapi.json");

/// Admin request bodies are small.
const MAX_BODY: usize = 64 * 1024;

/// An answer: status and JSON body, plus the audit reason.
struct Answer {
    status: StatusCode,
    body: serde_json::Value,
    reason: &'static str,
}

fn ok(status: StatusCode, body: impl serde::Serialize) -> Answer {
    Answer {
        status,
        body: serde_json::to_value(body).unwrap_or_default(),
        reason: "ok",
    }
}

fn refusal(status: StatusCode, code: &'static str, description: &str, field: Option<&str>) -> Answer {
    let mut body = serde_json::json!({ "error": code, "error_description": description });
    if let Some(field) = field {
        body["field"] = serde_json::Value::from(field);
    }
    Answer {
        status,
        body,
        reason: code,
    }
}

fn from_cred(error: &CredError) -> Answer {
    match error {
        CredError::Invalid { field, message } => {
            refusal(StatusCode::BAD_REQUEST, "invalid_request", message, Some(field))
        }
        CredError::NotFound => refusal(StatusCode::NOT_FOUND, "not_found", "no such key", None),
        CredError::Conflict => refusal(StatusCode::CONFLICT, "conflict", &error.to_string(), None),
        CredError::Store(error) => refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "state_unavailable",
            &error.to_string(),
            None,
        ),
        CredError::Signing(error) => refusal(StatusCode::INTERNAL_SERVER_ERROR, "signing_failed", error, None),
    }
}

/// The field a serde error names (a path, or the name in "missing field `x`").
fn field_of(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = error.path().to_string();
    if !path.is_empty() && path != "." {
        return path;
    }
    let message = error.inner().to_string();
    message
        .split('`')
        .nth(1)
        .map_or_else(|| "body".to_string(), str::to_owned)
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Answer> {
    let bytes = if bytes.is_empty() { b"{}".as_slice() } else { bytes };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = field_of(&error);
        let message = error.inner().to_string();
        refusal(StatusCode::BAD_REQUEST, "invalid_request", &message, Some(&field))
    })
}

fn ttl(text: Option<&str>, field: &'static str) -> Result<Option<Duration>, Answer> {
    text.map(|t| {
        crate::config::parse_duration(t)
            .map_err(|m| refusal(StatusCode::BAD_REQUEST, "invalid_request", &m, Some(field)))
    })
    .transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    ttl: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRequest {
    subject: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    ttl: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    #[serde(default)]
    grace: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationRequest {
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    family_id: Option<String>,
}

/// Who calls: the name the audit records and, for a caller holding only the call's scoped
/// permission, the principal whose grant bounds what it may hand out (`None`: the admin token
/// or `admin:*`, unbounded).
struct Caller {
    actor: String,
    bounded_by: Option<Arc<crate::auth::Principal>>,
}

/// Who is calling, or the refusal. `permission`: the scoped permission of the call.
async fn caller(
    gateway: &Gateway,
    token: Option<&Secret>,
    headers: &HeaderMap,
    permission: &str,
) -> Result<Caller, Answer> {
    let presented = super::bearer::bearer(headers);
    if super::bearer::is_admin_token(token, presented) {
        return Ok(Caller {
            actor: "admin-token".into(),
            bounded_by: None,
        });
    }
    let snapshot = gateway.reloader().snapshot();
    let has_credential = presented.is_some()
        || snapshot
            .auth
            .api_key_header
            .as_ref()
            .is_some_and(|h| headers.contains_key(h));
    if !has_credential && token.is_none() {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "set [admin].token, or call with a credential holding admin:*",
            None,
        ));
    }
    let principal = snapshot
        .auth
        .authenticate(headers, gateway.credentials().live(), None)
        .await
        .map_err(|failure| refusal(StatusCode::UNAUTHORIZED, "invalid_token", failure.description(), None))?;
    let actor = format!("{}:{}", principal.method.label(), principal.subject);
    if snapshot.roles.grants(&principal, "admin:all") {
        return Ok(Caller {
            actor,
            bounded_by: None,
        });
    }
    if snapshot.roles.grants(&principal, permission) {
        return Ok(Caller {
            actor,
            bounded_by: Some(principal),
        });
    }
    Err(refusal(
        StatusCode::FORBIDDEN,
        "insufficient_permission",
        &format!("needs admin:* or {permission}"),
        None,
    ))
}

/// Serves one call of the API.
pub async fn handle(
    gateway: Arc<Gateway>,
    token: Arc<Option<Secret>>,
    request: Request<Incoming>,
) -> Response<GatewayBody> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let permission = if path.starts_with("/admin/tokens") {
        "tokens:issue"
    } else if path.starts_with("/admin/revocations") {
        "revocations:manage"
    } else {
        "keys:manage"
    };
    let (answer, actor) = match caller(&gateway, token.as_ref().as_ref(), request.headers(), permission).await {
        Err(refused) => (refused, None),
        Ok(caller) => {
            let bytes = match tokio::time::timeout(
                Duration::from_secs(10),
                Limited::new(request.into_body(), MAX_BODY).collect(),
            )
            .await
            {
                Ok(Ok(collected)) => Ok(collected.to_bytes()),
                Ok(Err(_)) => Err(refusal(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request",
                    "body too large",
                    None,
                )),
                Err(_) => Err(refusal(
                    StatusCode::REQUEST_TIMEOUT,
                    "invalid_request",
                    "body not received in time",
                    None,
                )),
            };
            let answer = match bytes {
                Ok(bytes) => route(&gateway, &method, &path, &bytes, &caller).await,
                Err(refused) => refused,
            };
            (answer, Some(caller.actor))
        }
    };
    let mut event = AuditEvent::new(
        "admin_call",
        if answer.status.is_success() { "allow" } else { "deny" },
        answer.reason,
    );
    event.http_method = Some(method.as_str());
    event.route = Some(&path);
    event.subject = actor.as_deref();
    event.status = Some(answer.status.as_u16());
    gateway.audit().record(&event);
    if path == "/admin/openapi.json" && answer.status == StatusCode::OK {
        return json_response(StatusCode::OK, Bytes::from_static(OPENAPI.as_bytes()));
    }
    let mut response = json_response(answer.status, Bytes::from(answer.body.to_string()));
    // New tokens and keys are in these answers: no cache on the way may keep them.
    crate::server::no_store(response.headers_mut());
    if answer.status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
    }
    response
}

async fn route(gateway: &Gateway, method: &Method, path: &str, body: &[u8], caller: &Caller) -> Answer {
    let credentials = gateway.credentials();
    let actor = caller.actor.as_str();
    match (method, path) {
        (&Method::GET, "/admin/openapi.json") => ok(StatusCode::OK, serde_json::Value::Null),
        (&Method::POST, "/admin/tokens") => {
            let request: TokenRequest = match parse(body) {
                Ok(request) => request,
                Err(refused) => return refused,
            };
            let ttl = match ttl(request.ttl.as_deref(), "ttl") {
                Ok(ttl) => ttl,
                Err(refused) => return refused,
            };
            let snapshot = gateway.reloader().snapshot();
            let Some(jwt) = snapshot.auth.jwt.as_ref() else {
                return refusal(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "[auth.jwt] is not configured",
                    None,
                );
            };
            if let Err(refused) = known_roles(gateway, &request.roles) {
                return refused;
            }
            if let Err(refused) = may_grant(gateway, caller, &request.roles, &request.permissions) {
                return refused;
            }
            let grant = Grant {
                subject: request.sub,
                username: request.username,
                roles: request.roles,
                permissions: request.permissions,
            };
            match credentials.issue(jwt, grant, ttl, actor).await {
                Ok(issued) => ok(StatusCode::CREATED, issued),
                Err(error) => from_cred(&error),
            }
        }
        (&Method::POST, "/admin/keys") => {
            let request: KeyRequest = match parse(body) {
                Ok(request) => request,
                Err(refused) => return refused,
            };
            let ttl = match ttl(request.ttl.as_deref(), "ttl") {
                Ok(ttl) => ttl,
                Err(refused) => return refused,
            };
            if let Err(refused) = known_roles(gateway, &request.roles) {
                return refused;
            }
            if let Err(refused) = may_grant(gateway, caller, &request.roles, &request.permissions) {
                return refused;
            }
            let new = NewKey {
                subject: request.subject,
                roles: request.roles,
                permissions: request.permissions,
                name: request.name,
                ttl,
            };
            match credentials.create_key(new, actor).await {
                Ok(view) => ok(StatusCode::CREATED, view),
                Err(error) => from_cred(&error),
            }
        }
        (&Method::GET, "/admin/keys") => match credentials.list_keys().await {
            Ok(views) => ok(StatusCode::OK, views),
            Err(error) => from_cred(&error),
        },
        (&Method::GET, "/admin/revocations") => match credentials.revocations().await {
            Ok(all) => ok(StatusCode::OK, all.iter().map(RevocationView::from).collect::<Vec<_>>()),
            Err(error) => from_cred(&error),
        },
        (&Method::DELETE, "/admin/revocations") => match credentials.purge_expired(actor).await {
            Ok(removed) => ok(StatusCode::OK, serde_json::json!({ "removed": removed })),
            Err(error) => from_cred(&error),
        },
        (&Method::POST, "/admin/revocations") => {
            let request: RevocationRequest = match parse(body) {
                Ok(request) => request,
                Err(refused) => return refused,
            };
            let (kind, value) = match (request.jti, request.sub, request.family_id) {
                (Some(jti), None, None) => (RevocationKind::Jti, jti),
                (None, Some(sub), None) => (RevocationKind::Sub, sub),
                (None, None, Some(family)) => (RevocationKind::Family, family),
                _ => {
                    return refusal(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "give exactly one of jti, sub, family_id",
                        Some("jti"),
                    );
                }
            };
            match credentials.revoke(kind, &value, actor).await {
                Ok(revocation) => ok(StatusCode::CREATED, RevocationView::from(&revocation)),
                Err(error) => from_cred(&error),
            }
        }
        (method, path) => key_route(gateway, method, path, body, caller).await,
    }
}

/// `/admin/keys/{id}` and `/admin/keys/{id}/rotate`.
async fn key_route(gateway: &Gateway, method: &Method, path: &str, body: &[u8], caller: &Caller) -> Answer {
    let credentials = gateway.credentials();
    let actor = caller.actor.as_str();
    let rest = path.strip_prefix("/admin/keys/").unwrap_or_default();
    let (id, rotate) = match rest.strip_suffix("/rotate") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    if id.is_empty() || id.contains('/') {
        return refusal(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint", None);
    }
    let result = match (method, rotate) {
        (&Method::GET, false) => credentials.key(id).await.map(|v| (StatusCode::OK, v)),
        (&Method::DELETE, false) => credentials.revoke_key(id, actor).await.map(|v| (StatusCode::OK, v)),
        (&Method::POST, true) => {
            let request: RotateRequest = match parse(body) {
                Ok(request) => request,
                Err(refused) => return refused,
            };
            let grace = match ttl(request.grace.as_deref(), "grace") {
                Ok(grace) => grace.unwrap_or_default(),
                Err(refused) => return refused,
            };
            // The new key carries the old one's grant: the caller must be able to give it.
            match credentials.key(id).await {
                Ok(old) => {
                    if let Err(refused) = may_grant(gateway, caller, &old.roles, &old.permissions) {
                        return refused;
                    }
                }
                Err(error) => return from_cred(&error),
            }
            credentials
                .rotate_key(id, grace, actor)
                .await
                .map(|v| (StatusCode::CREATED, v))
        }
        _ => {
            return refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
                None,
            );
        }
    };
    match result {
        Ok((status, view)) => ok(status, view),
        Err(error) => from_cred(&error),
    }
}

/// A caller holding only a scoped permission (`tokens:issue`, `keys:manage`) may hand out no
/// more than it holds itself: every requested permission, and every permission of every
/// requested role, must be covered by its own grant. Else 403 naming the field.
fn may_grant(gateway: &Gateway, caller: &Caller, roles: &[String], permissions: &[String]) -> Result<(), Answer> {
    let Some(principal) = &caller.bounded_by else {
        return Ok(());
    };
    let snapshot = gateway.reloader().snapshot();
    let refuse = |field: String, what: &str| {
        refusal(
            StatusCode::FORBIDDEN,
            "insufficient_permission",
            &format!("the caller cannot grant {what} it does not hold itself"),
            Some(&field),
        )
    };
    for (i, permission) in permissions.iter().enumerate() {
        if !snapshot.roles.grants(principal, permission) {
            return Err(refuse(format!("permissions[{i}]"), &format!("`{permission}`")));
        }
    }
    for (i, role) in roles.iter().enumerate() {
        let granted = snapshot.roles.permissions_of(role).unwrap_or_default();
        if !granted.iter().all(|p| snapshot.roles.grants(principal, p)) {
            return Err(refuse(format!("roles[{i}]"), &format!("role `{role}`")));
        }
    }
    Ok(())
}

/// Every role must be defined in `[roles]`: a typo would grant nothing, silently.
fn known_roles(gateway: &Gateway, roles: &[String]) -> Result<(), Answer> {
    let snapshot = gateway.reloader().snapshot();
    for (i, role) in roles.iter().enumerate() {
        if !snapshot.roles.contains(role) {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("role `{role}` is not defined in [roles]"),
                Some(&format!("roles[{i}]")),
            ));
        }
    }
    Ok(())
}
