//! Calls of the credential lifecycle: the admin API (`/admin/tokens`, `/admin/keys`,
//! `/admin/revocations`) and the public token endpoint, on a [`TestGateway`].

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::Value;

use super::{Answer, TestGateway};

/// The `[admin].token` of every harness gateway.
pub const ADMIN_TOKEN: &str = "admin-token-0123456789";

/// `METHOD path` on the admin listener with `token` and a JSON `body`; (status, JSON answer).
pub async fn admin(gateway: &TestGateway, method: &str, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    let request = Request::builder()
        .method(method)
        .uri(gateway.admin_url(path))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default()))
        .unwrap();
    let answer = gateway.call(request).await;
    if path.starts_with("/admin/") && path != "/admin/openapi.json" {
        assert_eq!(
            answer.headers["cache-control"], "no-store",
            "{path}: answers may carry credentials"
        );
    }
    let value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    (answer.status.as_u16(), value)
}

/// `POST /oauth/token` with the form `body`.
pub async fn token_request(gateway: &TestGateway, body: &str) -> Answer {
    let request = Request::builder()
        .method("POST")
        .uri(gateway.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    gateway.call(request).await
}

/// A refresh of `refresh_token`.
pub async fn refresh(gateway: &TestGateway, refresh_token: &str) -> Answer {
    token_request(
        gateway,
        &format!("grant_type=refresh_token&refresh_token={refresh_token}"),
    )
    .await
}

/// Issues a token pair for `sub` with `roles` through the admin API; the token response.
pub async fn issue(gateway: &TestGateway, sub: &str, roles: &[&str]) -> Value {
    let (status, value) = admin(
        gateway,
        "POST",
        "/admin/tokens",
        Some(serde_json::json!({ "sub": sub, "roles": roles })),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, 201, "{value}");
    value
}

/// Creates a dynamic key for `subject` with `roles`; the answer (with `key`).
pub async fn create_key(gateway: &TestGateway, subject: &str, roles: &[&str]) -> Value {
    let (status, value) = admin(
        gateway,
        "POST",
        "/admin/keys",
        Some(serde_json::json!({ "subject": subject, "roles": roles, "name": "test" })),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, 201, "{value}");
    value
}

/// A `ping` with `Authorization: Bearer credential`.
pub async fn ping(gateway: &TestGateway, credential: &str) -> Answer {
    gateway
        .post_with(credential, r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#, &[], false)
        .await
}

/// `POST path` on `127.0.0.1:port` (a gateway running as a child process); (status, JSON).
pub async fn post_port(port: u16, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    request("POST", &format!("http://127.0.0.1:{port}{path}"), headers, body).await
}

/// `method url` with `headers` and `body`; (status, JSON or null).
pub async fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(request))
        .await
        .expect("answered within 10 s")
        .unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A `ping` to the gateway on `port` with `Authorization: Bearer credential`; the status.
pub async fn ping_port(port: u16, credential: &str) -> u16 {
    let bearer = format!("Bearer {credential}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    post_port(port, "/mcp", &headers, r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#)
        .await
        .0
}

/// A refresh on the gateway on `port`; (status, JSON).
pub async fn refresh_port(port: u16, refresh_token: &str) -> (u16, Value) {
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    let body = format!("grant_type=refresh_token&refresh_token={refresh_token}");
    post_port(port, "/oauth/token", &headers, &body).await
}
