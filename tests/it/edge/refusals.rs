//! Every refusal this stage owns: status, body, JSON-RPC id, and nothing forwarded.

use http::{Request, StatusCode};
use serde_json::json;

use crate::harness::mock::{self, Reply};
use crate::harness::{TestGateway, assert_jsonrpc_error, empty, mcp_post, with_body};

async fn setup() -> (mock::Mock, TestGateway) {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_with(&upstream.url("/mcp"), "max_body_bytes = 1024", "").await;
    (upstream, gateway)
}

#[tokio::test]
async fn malformed_bodies_get_400_with_null_id_and_reach_nothing() {
    let (upstream, gateway) = setup().await;
    let cases: &[(&str, i64)] = &[
        ("{not json", -32700),
        ("\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", -32700),
        (r#"{"jsonrpc":"2.0","id":1,"method":"ping"} {}"#, -32700),
        (r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":NaN}}"#, -32700),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","name":"delete_all"}}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"p":{"q":1,"q":2}}}}"#,
            -32600,
        ),
        (r#"{"jsonrpc":"2.0","id":1,"Method":"tools/call"}"#, -32600),
        (r#"{"jsonrpc":"2.0","id":1,"method":"ping","extra":true}"#, -32600),
        (r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, -32600),
        (r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, -32600),
        (r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#, -32600),
        (r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, -32600),
        (r#"[]"#, -32600),
        (r#""just a string""#, -32600),
    ];
    for (body, code) in cases {
        let answer = gateway.post(body).await;
        assert_jsonrpc_error(&answer, 400, *code, serde_json::Value::Null);
    }
    assert_eq!(upstream.count(), 0, "nothing may reach the upstream");
    let events = gateway.audit_events(cases.len()).await;
    assert!(events.iter().any(|e| e["reason"] == "duplicate_key"));
    assert!(events.iter().any(|e| e["reason"] == "batch_not_allowed"));
    assert!(events.iter().all(|e| e["decision"] == "deny"));
}

#[tokio::test]
async fn oversized_body_gets_413_before_or_while_reading() {
    let (upstream, gateway) = setup().await;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{"p":"{}"}}}}"#,
        "a".repeat(2000)
    );
    let answer = gateway.post(&big).await;
    assert_jsonrpc_error(&answer, 413, -32600, serde_json::Value::Null);
    // Without Content-Length (chunked): the limit applies while reading.
    let (tx, body) = hyper_body_channel();
    let request = mcp_post(&gateway.url("/mcp"), "").body(body).unwrap();
    let pending = tokio::spawn({
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        async move { client.request(request).await }
    });
    for _ in 0..3 {
        if tx.send(bytes::Bytes::from(vec![b' '; 600])).await.is_err() {
            break;
        }
    }
    drop(tx);
    let response = pending.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(upstream.count(), 0);
}

fn hyper_body_channel() -> (tokio::sync::mpsc::Sender<bytes::Bytes>, StreamedBody) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    (tx, StreamedBody(rx))
}

/// A request body fed chunk by chunk (sent chunked: no Content-Length).
pub struct StreamedBody(tokio::sync::mpsc::Receiver<bytes::Bytes>);

impl http_body::Body for StreamedBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|c| c.map(|b| Ok(http_body::Frame::data(b))))
    }
}

#[tokio::test]
async fn invalid_params_keep_the_exact_id() {
    let (upstream, gateway) = setup().await;
    let answer = gateway
        .post(r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"tools/call","params":{"name":["ok","delete_all"]}}"#)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.text().contains(r#""id":123456789012345678901234567890"#),
        "{}",
        answer.text()
    );
    assert_eq!(answer.json()["error"]["code"], -32602);
    let answer = gateway
        .post(r#"{"jsonrpc":"2.0","id":"abc","method":"tools/call","params":{}}"#)
        .await;
    assert_jsonrpc_error(&answer, 200, -32602, json!("abc"));
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn modern_header_mismatch_gets_32020_with_the_id() {
    let (upstream, gateway) = setup().await;
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_all","arguments":{}}}"#;
    let cases: &[&[(&str, &str)]] = &[
        &[("mcp-method", "tools/call"), ("mcp-name", "safe")],
        &[("mcp-method", "tools/list"), ("mcp-name", "delete_all")],
        &[("mcp-method", "tools/call")],
        &[("mcp-name", "delete_all")],
        &[("mcp-method", "tools/call"), ("mcp-name", "=?base64?c2FmZQ==?=")],
    ];
    for headers in cases {
        let mut builder = mcp_post(&gateway.url("/mcp"), body).header("mcp-protocol-version", "2026-07-28");
        for (name, value) in *headers {
            builder = builder.header(*name, *value);
        }
        let answer = gateway.call(with_body(builder, body)).await;
        assert_jsonrpc_error(&answer, 400, -32020, json!(7));
    }
    assert_eq!(upstream.count(), 0);
    // The base64 form of the right name passes.
    let builder = mcp_post(&gateway.url("/mcp"), body)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "=?base64?ZGVsZXRlX2FsbA==?=");
    let answer = gateway.call(with_body(builder, body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(upstream.count(), 1);
    // Responses are not allowed from 2026-07-28 clients.
    let response = r#"{"jsonrpc":"2.0","id":3,"result":{}}"#;
    let builder = mcp_post(&gateway.url("/mcp"), response).header("mcp-protocol-version", "2026-07-28");
    let answer = gateway.call(with_body(builder, response)).await;
    // A client's response carries the server's id, which is never echoed (id null).
    assert_jsonrpc_error(&answer, 400, -32600, serde_json::Value::Null);
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn foreign_origin_gets_403_and_allowed_origin_passes() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_with(
        &upstream.url("/mcp"),
        r#"allowed_origins = ["https://app.example.com"]"#,
        "",
    )
    .await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let evil = mcp_post(&gateway.url("/mcp"), body).header("origin", "http://evil.example");
    let answer = gateway.call(with_body(evil, body)).await;
    assert_jsonrpc_error(&answer, 403, -32600, serde_json::Value::Null);
    let get = Request::get(gateway.url("/mcp"))
        .header("origin", "null")
        .header("accept", "text/event-stream");
    assert_eq!(gateway.call(empty(get)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(upstream.count(), 0);
    let good = mcp_post(&gateway.url("/mcp"), body).header("origin", "https://app.example.com");
    assert_eq!(gateway.call(with_body(good, body)).await.status, StatusCode::OK);
    assert_eq!(upstream.count(), 1);
    assert!(
        upstream.last().headers.get("origin").is_none(),
        "browser Origin is not forwarded"
    );
}

#[tokio::test]
async fn unknown_routes_methods_and_media_types_are_refused() {
    let (upstream, gateway) = setup().await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for path in [
        "/",
        "/mcp/",
        "//mcp",
        "/mcp/../mcp",
        "/mcp%2F",
        "/MCP",
        "/mcp;x",
        "/admin/reload",
    ] {
        let answer = gateway.call(with_body(mcp_post(&gateway.url(path), body), body)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.json()["error"], "unknown_route");
    }
    for method in ["PUT", "PATCH", "TRACE", "OPTIONS", "post"] {
        let request = with_body(mcp_post(&gateway.url("/mcp"), body).method(method), body);
        let answer = gateway.call(request).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(answer.headers["allow"], "GET, POST, DELETE");
    }
    let text_plain = Request::post(gateway.url("/mcp")).header("content-type", "text/plain");
    assert_eq!(
        gateway.call(with_body(text_plain, body)).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let gzip = mcp_post(&gateway.url("/mcp"), body).header("content-encoding", "gzip");
    assert_eq!(
        gateway.call(with_body(gzip, body)).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let get_with_body = Request::get(gateway.url("/mcp")).header("content-type", "application/json");
    assert_eq!(
        gateway.call(with_body(get_with_body, body)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn upstream_down_is_502_with_the_id() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gateway = TestGateway::start(&format!("http://127.0.0.1:{port}/mcp")).await;
    let answer = gateway
        .post(r#"{"jsonrpc":"2.0","id":"req-9","method":"tools/list"}"#)
        .await;
    assert_jsonrpc_error(&answer, 502, -31503, json!("req-9"));
    let events = gateway.audit_events(1).await;
    assert_eq!(events[0]["reason"], "upstream_unavailable");
    assert_eq!(events[0]["status"], 502);
}

#[tokio::test]
async fn slow_upstream_is_504_with_the_id() {
    let upstream = mock::start(|_| Reply::Hang).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let started = std::time::Instant::now();
    let answer = gateway
        .post(r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"slow"}}"#)
        .await;
    assert_jsonrpc_error(&answer, 504, -31503, json!(42));
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(1900) && waited < std::time::Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(upstream.count(), 1, "sent once, never retried");
}

#[tokio::test]
async fn present_mirror_headers_are_checked_in_every_era() {
    let (upstream, gateway) = setup().await;
    let body = r#"{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"delete_all"}}"#;
    for (version, name) in [(None, "safe"), (Some("2025-11-25"), "safe")] {
        let mut builder = mcp_post(&gateway.url("/mcp"), body).header("mcp-name", name);
        if let Some(version) = version {
            builder = builder.header("mcp-protocol-version", version);
        }
        let answer = gateway.call(with_body(builder, body)).await;
        assert_jsonrpc_error(&answer, 400, -32020, json!("x"));
    }
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let named = mcp_post(&gateway.url("/mcp"), list).header("mcp-name", "delete_all");
    assert_jsonrpc_error(&gateway.call(with_body(named, list)).await, 400, -32020, json!(2));
    let twice = mcp_post(&gateway.url("/mcp"), list)
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list");
    assert_eq!(
        gateway.call(with_body(twice, list)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn batches_when_allowed_are_checked_element_by_element() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_with(&upstream.url("/mcp"), "", "allow_batches = true").await;
    let good = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]"#;
    assert_eq!(gateway.post(good).await.status, StatusCode::OK);
    assert_eq!(upstream.count(), 1);
    assert_eq!(&upstream.last().body[..], good.as_bytes());
    let bad = [
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":7}}]"#,
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"x","method":"y"}]"#,
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2}]"#,
        r#"[]"#,
    ];
    for body in bad {
        let answer = gateway.post(body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}: {}", answer.text());
        assert_eq!(answer.json()["id"], serde_json::Value::Null);
    }
    let modern = mcp_post(&gateway.url("/mcp"), good).header("mcp-protocol-version", "2026-07-28");
    assert_jsonrpc_error(
        &gateway.call(with_body(modern, good)).await,
        400,
        -32600,
        serde_json::Value::Null,
    );
    let mirrored = mcp_post(&gateway.url("/mcp"), good).header("mcp-method", "ping");
    assert_jsonrpc_error(
        &gateway.call(with_body(mirrored, good)).await,
        400,
        -32020,
        serde_json::Value::Null,
    );
    assert_eq!(upstream.count(), 1, "no refused batch reached the upstream");
}

#[tokio::test]
async fn upstream_switching_protocols_is_refused() {
    let upstream = mock::start(|_| Reply::Json(StatusCode::SWITCHING_PROTOCOLS, "")).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let answer = gateway.post(r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#).await;
    assert_jsonrpc_error(&answer, 502, -31503, json!(9));
}
