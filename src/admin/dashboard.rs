//! `GET /admin/dashboard`: the live security dashboard, a page embedded in the binary (no
//! CDN, no inline script: a strict CSP), fed by `GET /admin/dashboard/events`, an SSE stream
//! (authenticated by `Authorization`, never by a token in the URL): a `hello` with the
//! current findings and recent history, then one `tick` a second.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use tokio::sync::broadcast::error::RecvError;

use super::viewer::{error, viewer};
use crate::config::Secret;
use crate::gateway::Gateway;
use crate::server::GatewayBody;

const PAGE: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/app.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Whether `path` is the dashboard's.
pub fn handles(path: &str) -> bool {
    path == "/admin/dashboard" || path.starts_with("/admin/dashboard/")
}

/// Serves the page, its assets and its event stream.
pub async fn handle(
    gateway: &Gateway,
    token: Option<&Secret>,
    path: &str,
    headers: &HeaderMap,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Response<GatewayBody> {
    match path {
        "/admin/dashboard" => asset(PAGE, "text/html; charset=utf-8"),
        "/admin/dashboard/app.js" => asset(SCRIPT, "text/javascript; charset=utf-8"),
        "/admin/dashboard/app.css" => asset(STYLE, "text/css; charset=utf-8"),
        "/admin/dashboard/events" => events(gateway, token, headers, shutdown).await,
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint"),
    }
}

fn asset(body: &'static str, content_type: &'static str) -> Response<GatewayBody> {
    let mut response = Response::new(GatewayBody::full(Bytes::from_static(body.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure(headers);
    response
}

fn secure(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

async fn events(
    gateway: &Gateway,
    token: Option<&Secret>,
    headers: &HeaderMap,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Response<GatewayBody> {
    match viewer(gateway, token, headers).await {
        Err(refused) => return refused,
        Ok((None, _)) => return error(StatusCode::FORBIDDEN, "insufficient_scope", "metrics:view required"),
        Ok((Some(_), _)) => {}
    }
    let Some(monitor) = gateway.monitor() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "audit_off",
            "[audit] sink = \"off\": nothing to show",
        );
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let mut ticks = monitor.subscribe();
    let hello = frame("hello", &monitor.hello());
    tokio::spawn(async move {
        if tx.send(hello).await.is_err() {
            return;
        }
        let mut keepalive = tokio::time::interval(Duration::from_secs(15));
        keepalive.tick().await;
        loop {
            let chunk = tokio::select! {
                tick = ticks.recv() => match tick {
                    Ok(data) => frame("tick", &data),
                    // A slow dashboard skips ticks rather than holding the gateway's memory.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                },
                _ = keepalive.tick() => Bytes::from_static(b": keepalive\n\n"),
                _ = shutdown.changed() => return,
            };
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
    });
    let mut response = Response::new(GatewayBody::feed(rx));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    secure(headers);
    response
}

fn frame(event: &str, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + event.len() + 16);
    out.push_str("event: ");
    out.push_str(event);
    out.push('\n');
    for line in data.lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}
