//! The admin listener's server and routes.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use super::viewer::error;
use crate::config::Secret;
use crate::gateway::Gateway;
use crate::server::{GatewayBody, json_response};

/// Serves the admin listener until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    token: Option<Secret>,
    shutdown: impl Future<Output = ()>,
) {
    let token = Arc::new(token);
    // Ends the dashboards' event streams when the listener stops.
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => {
                let _ = stopping.send(true);
                return;
            }
        };
        let Ok((stream, _peer)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let (gateway, token, stopped) = (Arc::clone(&gateway), Arc::clone(&token), stopped.clone());
        let service = service_fn(move |request: Request<Incoming>| {
            let (gateway, token, stopped) = (Arc::clone(&gateway), Arc::clone(&token), stopped.clone());
            async move {
                // A reload reads and parses files: it runs on the blocking pool, not on a
                // thread that serves requests.
                let is_reload = request.method() == Method::POST && request.uri().path() == "/admin/reload";
                if is_reload && refuse(token.as_ref().as_ref(), request.headers(), true).is_none() {
                    let gateway = Arc::clone(&gateway);
                    let response = tokio::task::spawn_blocking(move || reload(&gateway)).await;
                    let response = response.unwrap_or_else(|_| {
                        error(StatusCode::INTERNAL_SERVER_ERROR, "reload_failed", "reload task failed")
                    });
                    return Ok::<_, std::convert::Infallible>(response);
                }
                if super::credentials_api::handles(request.uri().path()) {
                    return Ok(super::credentials_api::handle(gateway, token, request).await);
                }
                let path = request.uri().path().to_string();
                if super::dashboard::handles(&path) {
                    let answer =
                        super::dashboard::handle(&gateway, token.as_ref().as_ref(), &path, request.headers(), stopped);
                    return Ok(answer.await);
                }
                if path == "/admin/audit" && request.method() == Method::GET {
                    let query = request.uri().query().map(str::to_string);
                    let answer = super::audit_api::report(
                        &gateway,
                        token.as_ref().as_ref(),
                        request.headers(),
                        query.as_deref(),
                    );
                    return Ok(answer.await);
                }
                if path == super::mcp_server::PATH {
                    let (parts, body) = request.into_parts();
                    let bytes = match read_limited(body, 64 * 1024).await {
                        Some(bytes) => bytes,
                        None => return Ok(error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "at most 64 KiB")),
                    };
                    let answer = super::mcp_server::handle(
                        &gateway,
                        token.as_ref().as_ref(),
                        &parts.method,
                        &parts.headers,
                        &bytes,
                    );
                    return Ok(answer.await);
                }
                Ok::<_, std::convert::Infallible>(route(&gateway, token.as_ref().as_ref(), &request))
            }
        });
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10));
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// The body, unless it is larger than `limit` (or breaks off).
async fn read_limited(body: Incoming, limit: usize) -> Option<Bytes> {
    use http_body_util::BodyExt as _;
    let limited = http_body_util::Limited::new(body, limit);
    let collected = tokio::time::timeout(std::time::Duration::from_secs(10), limited.collect()).await;
    collected.ok()?.ok().map(http_body_util::Collected::to_bytes)
}

fn route(gateway: &Gateway, token: Option<&Secret>, request: &Request<Incoming>) -> Response<GatewayBody> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "text/plain", Bytes::from_static(b"ok\n")),
        (&Method::GET, "/readyz") => ready(gateway),
        (&Method::GET, "/metrics") => refuse(token, request.headers(), false).unwrap_or_else(|| {
            text(
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                gateway.metrics().encode().into(),
            )
        }),
        (&Method::POST, "/admin/reload") => refuse(token, request.headers(), true).unwrap_or_else(|| reload(gateway)),
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint"),
    }
}

fn ready(gateway: &Gateway) -> Response<GatewayBody> {
    let snapshot = gateway.reloader().snapshot();
    let upstreams = snapshot.upstreams().len();
    let status = if upstreams > 0 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let credentials = gateway.credentials();
    let live = credentials.live();
    let mut warnings: Vec<String> = Vec::new();
    if credentials.shared() && credentials.persistent() == Some(false) {
        warnings.push(
            "Redis persistence (AOF) is off: keys, revocations and refresh families are lost if Redis restarts".into(),
        );
    }
    if !live.fresh() {
        warnings.push("revocations cannot be confirmed current: gateway-issued tokens are refused (503)".into());
    }
    let body = serde_json::json!({
        "ready": upstreams > 0,
        "generation": snapshot.generation,
        "upstreams": upstreams,
        "state": {
            "backend": if credentials.shared() { "redis" } else { "embedded" },
            "credentials_fresh": live.fresh(),
            "last_sync_age_ms": live.age_ms(),
            "warnings": warnings,
        },
    });
    json_response(status, Bytes::from(body.to_string()))
}

fn reload(gateway: &Gateway) -> Response<GatewayBody> {
    match gateway.reload_config() {
        Ok(generation) => {
            let body = serde_json::json!({ "reloaded": true, "generation": generation });
            json_response(StatusCode::OK, Bytes::from(body.to_string()))
        }
        Err(error) => {
            let body = serde_json::json!({ "reloaded": false, "error": error.to_string(), "key": error.key });
            json_response(StatusCode::BAD_REQUEST, Bytes::from(body.to_string()))
        }
    }
}

/// The refusal for a call without the right bearer token, if any; `admin_only` calls are
/// refused outright when no token is configured.
fn refuse(token: Option<&Secret>, headers: &HeaderMap, admin_only: bool) -> Option<Response<GatewayBody>> {
    let Some(token) = token else {
        return admin_only.then(|| {
            error(
                StatusCode::FORBIDDEN,
                "admin_disabled",
                "set [admin].token to enable admin calls",
            )
        });
    };
    if super::bearer::is_admin_token(Some(token), super::bearer::bearer(headers)) {
        return None;
    }
    Some(super::viewer::unauthorized("admin token required"))
}

fn text(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<GatewayBody> {
    let mut response = Response::new(GatewayBody::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
