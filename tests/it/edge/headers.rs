//! Header hygiene: what the upstream sees of the client's request, and the reverse.

use http::StatusCode;

use crate::harness::mock::{self, Reply};
use crate::harness::{TestGateway, mcp_post, with_body};

#[tokio::test]
async fn upstream_sees_exact_bytes_and_clean_headers() {
    let upstream = mock::start(|_| Reply::Json(StatusCode::OK, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#)).await;
    let gateway = TestGateway::start_with(
        &upstream.url("/mcp"),
        r#"public_url = "https://mcp.example.test""#,
        r#"headers = { Authorization = "Bearer upstream-secret", "X-Upstream-Key" = "k1" }"#,
    )
    .await;
    // Odd spacing and escapes must arrive byte for byte, never re-serialized.
    let body = "{ \"jsonrpc\":\"2.0\", \"id\":1,\n \"method\":\"tools/call\",\"params\":{\"name\":\"\\u0065cho\",\"arguments\":{\"text\":\"h\\u00e9\"}} }";
    let request = mcp_post(&gateway.url("/mcp"), body)
        .header("authorization", "Bearer client-token-must-not-leak")
        .header("cookie", "session=abc")
        .header("x-api-key", "mcp_clientkey")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("connection", "keep-alive, X-Secret-Hop")
        .header("x-secret-hop", "drop me")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("upgrade", "h2c")
        .header("x_user_id", "admin")
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "https")
        .header("forwarded", "for=6.6.6.6")
        .header("x-real-ip", "6.6.6.6")
        .header("x-forwarded-port", "1")
        .header("x-forwarded-prefix", "/admin")
        .header("x-original-url", "/admin")
        .header("true-client-ip", "6.6.6.6")
        .header("x-request-id", "client-chosen")
        .header("mcp-protocol-version", "2025-11-25")
        .header("x-custom", "kept");
    let answer = gateway.call(with_body(request, body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(upstream.count(), 1);
    let seen = upstream.last();
    assert_eq!(&seen.body[..], body.as_bytes(), "exact bytes forwarded");
    assert_eq!(seen.path_and_query, "/mcp");
    assert_eq!(
        seen.uri, "/mcp",
        "origin-form request target, as upstream frameworks expect"
    );
    let h = &seen.headers;
    assert_eq!(h["host"], upstream.addr.to_string(), "Host rewritten to the upstream");
    assert_eq!(
        h["authorization"], "Bearer upstream-secret",
        "configured credential injected"
    );
    assert_eq!(h["x-upstream-key"], "k1");
    for gone in [
        "cookie",
        "x-api-key",
        "proxy-authorization",
        "x-secret-hop",
        "keep-alive",
        "te",
        "upgrade",
        "x_user_id",
        "forwarded",
        "x-real-ip",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x-original-url",
        "true-client-ip",
    ] {
        assert!(h.get(gone).is_none(), "{gone} must not reach the upstream");
    }
    let all: String = h
        .iter()
        .map(|(n, v)| format!("{n}: {}\n", v.to_str().unwrap_or("")))
        .collect();
    assert!(!all.contains("client-token-must-not-leak"), "{all}");
    assert_eq!(
        h["x-forwarded-for"], "127.0.0.1",
        "client XFF from an untrusted peer is replaced"
    );
    assert_eq!(h["x-forwarded-proto"], "http");
    // The gateway's public host, never the client's `Host` (nor its `X-Forwarded-Host`).
    assert_eq!(h["x-forwarded-host"], "mcp.example.test");
    assert_eq!(h["mcp-protocol-version"], "2025-11-25");
    assert_eq!(h["x-custom"], "kept");
    assert_eq!(h["content-length"], body.len().to_string());
    assert!(h.get("x-request-id").is_some_and(|v| v != "client-chosen"));
    assert_eq!(
        answer.headers["x-request-id"], h["x-request-id"],
        "one request id end to end"
    );
    let events = gateway.audit_events(1).await;
    let line = events[0].to_string();
    assert!(!line.contains("client-token-must-not-leak") && !line.contains("upstream-secret"));
    assert_eq!(events[0]["client_ip"], "127.0.0.1");
    assert_eq!(events[0]["target"], "echo", "escaped name decoded for audit");
}

#[tokio::test]
async fn trusted_proxy_chain_is_extended_not_replaced() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_with(&upstream.url("/mcp"), r#"trusted_proxies = ["127.0.0.0/8"]"#, "").await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let request = mcp_post(&gateway.url("/mcp"), body).header("x-forwarded-for", "203.0.113.9");
    gateway.call(with_body(request, body)).await;
    assert_eq!(upstream.last().headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    let events = gateway.audit_events(1).await;
    assert_eq!(events[0]["client_ip"], "203.0.113.9");
    assert_eq!(events[0]["peer_ip"], "127.0.0.1");
}

#[tokio::test]
async fn upstream_hop_by_hop_response_headers_are_removed() {
    let upstream = mock::start(|_| Reply::Json(StatusCode::OK, "{}")).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    // The mock cannot easily emit raw hop-by-hop headers through hyper, so check the
    // function the gateway uses on every response directly as well.
    let mut upstream_headers = http::HeaderMap::new();
    upstream_headers.insert("connection", "close, x-internal".parse().unwrap());
    upstream_headers.insert("x-internal", "secret".parse().unwrap());
    upstream_headers.insert("keep-alive", "timeout=5".parse().unwrap());
    upstream_headers.insert("content-length", "10".parse().unwrap());
    upstream_headers.insert("mcp-session-id", "s".parse().unwrap());
    let cleaned = portcullis::upstream::response_headers(upstream_headers.clone(), true, true);
    assert!(cleaned.get("x-internal").is_none() && cleaned.get("keep-alive").is_none());
    assert!(
        cleaned.get("content-length").is_none(),
        "streamed bodies lose Content-Length"
    );
    assert_eq!(cleaned["x-accel-buffering"], "no");
    assert_eq!(cleaned["mcp-session-id"], "s");
    let answer = gateway.post(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), b"{}");
}
