//! Fidelity (issue 13, item 11): nothing leaks here, but valid clients broke or hostile ones
//! got a shape they could use. A gateway-made error never inherits the upstream's
//! `Content-Encoding`; batches are 2025-03-26 only and a denied batch has one answer shape; an
//! unknown or doubled `MCP-Protocol-Version`, or a 2026-07-28 `_meta` naming another revision,
//! is 400; a charset other than UTF-8 is 415; `bearer` works on every listener; the server's own
//! origins are never foreign; methods 2026-07-28 removed get that revision's 404 + -32601.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::harness::mock::{self, Reply};
use crate::harness::upstreams::python_server;
use crate::harness::{
    GatewayConfig, TestGateway, assert_jsonrpc_error, empty, mcp_post, mirror, protected_gateway, token, with_body,
};

const LIST_CALL: &str = r#"{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{}}"#;

fn alice() -> String {
    token("alice", &["user"])
}

async fn filtering_gateway(upstream: &mock::Mock) -> TestGateway {
    protected_gateway(
        &upstream.url("/mcp"),
        "default = \"deny\"\nallow_batches = true\n[upstreams.tools]\nget_weather = \"weather:read\"",
    )
    .await
}

#[tokio::test]
async fn a_compressed_answer_the_gateway_must_read_becomes_a_plain_error() {
    for sse in [false, true] {
        let upstream = mock::start(move |_| {
            let inner = if sse {
                Reply::Sse {
                    chunks: vec![(Duration::ZERO, Bytes::from_static(b"\x1f\x8b\x08\x00compressed"))],
                    hold: false,
                }
            } else {
                Reply::Json(StatusCode::OK, "\u{1f}\u{8b}\u{8}\u{0}compressed")
            };
            Reply::WithHeaders(Box::new(inner), vec![("content-encoding", "gzip")])
        })
        .await;
        let gateway = filtering_gateway(&upstream).await;
        let answer = gateway.post_with(&alice(), LIST_CALL, &[], false).await;
        assert_jsonrpc_error(&answer, 502, -31503, json!(4));
        assert!(answer.headers.get("content-encoding").is_none(), "sse {sse}");
    }
}

#[tokio::test]
async fn batches_belong_to_2025_03_26_and_a_denied_batch_has_one_shape() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = filtering_gateway(&upstream).await;
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let denied = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_file","arguments":{}}}"#;
    for version in ["2025-06-18", "2025-11-25"] {
        let answer = gateway
            .post_with(
                &alice(),
                &format!("[{ping}]"),
                &[("mcp-protocol-version", version)],
                false,
            )
            .await;
        assert_jsonrpc_error(&answer, 400, -32600, Value::Null);
    }
    assert_eq!(upstream.count(), 0);
    // One element or two: the same refusal (403, id null), never a 200 for the short one.
    for batch in [format!("[{denied}]"), format!("[{ping},{denied}]")] {
        for headers in [&[][..], &[("mcp-protocol-version", "2025-03-26")][..]] {
            let answer = gateway.post_with(&alice(), &batch, headers, false).await;
            assert_jsonrpc_error(&answer, 403, -32602, Value::Null);
        }
    }
    assert_eq!(upstream.count(), 0);
    let allowed = gateway
        .post_with(
            &alice(),
            &format!("[{ping}]"),
            &[("mcp-protocol-version", "2025-03-26")],
            false,
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn protocol_versions_must_be_known_single_and_agree_with_the_body() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp")).with_jwt().start().await;
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for h2 in [false, true] {
        for version in ["1999-01-01", "2025-06-18, 2025-11-25", "2026-07-29", "latest"] {
            let answer = gateway
                .post_with(&alice(), ping, &[("mcp-protocol-version", version)], h2)
                .await;
            assert_jsonrpc_error(&answer, 400, -32022, json!(1));
            let body = answer.json();
            assert_eq!(body["error"]["data"]["requested"], version);
            assert!(
                body["error"]["data"]["supported"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("2026-07-28"))
            );
        }
    }
    let doubled = mcp_post(&gateway.url("/mcp"), ping)
        .header("authorization", format!("Bearer {}", alice()))
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-protocol-version", "2025-06-18");
    assert_jsonrpc_error(&gateway.call(with_body(doubled, ping)).await, 400, -32020, json!(1));
    // A GET names its revision too.
    let get = Request::get(gateway.url("/mcp"))
        .header("authorization", format!("Bearer {}", alice()))
        .header("mcp-protocol-version", "1999-01-01");
    assert_eq!(gateway.call(empty(get)).await.status, StatusCode::BAD_REQUEST);
    // 2026-07-28: the header and params._meta must name the same revision.
    let modern = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get_weather","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}"#;
    let headers = mirror("tools/call", "get_weather");
    assert_jsonrpc_error(
        &gateway.post_with(&alice(), modern, &headers, false).await,
        400,
        -32020,
        json!(5),
    );
    assert_eq!(upstream.count(), 0);
    let agreeing = modern.replace("2025-11-25", "2026-07-28");
    assert_eq!(
        gateway.post_with(&alice(), &agreeing, &headers, false).await.status,
        StatusCode::OK
    );
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn only_utf_8_json_is_read() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for (content_type, status) in [
        ("application/json; charset=iso-8859-1", 415),
        ("application/json; charset=utf-16", 415),
        ("application/json;charset=\"latin1\"", 415),
        ("application/json; charset=UTF-8", 200),
        ("application/json; charset=\"utf-8\"", 200),
    ] {
        let request = Request::post(gateway.url("/mcp"))
            .header("content-type", content_type)
            .header("accept", "application/json, text/event-stream");
        let answer = gateway.call(with_body(request, ping)).await;
        assert_eq!(answer.status.as_u16(), status, "{content_type}");
    }
    assert_eq!(upstream.count(), 2);
}

#[tokio::test]
async fn bearer_is_case_insensitive_on_the_admin_listener_too() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp")).with_jwt().start().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let metrics = Request::get(gateway.admin_url("/metrics"))
            .header("authorization", format!("{scheme} admin-token-0123456789"));
        assert_eq!(gateway.call(empty(metrics)).await.status, StatusCode::OK, "{scheme}");
        let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        let request = mcp_post(&gateway.url("/mcp"), ping).header("authorization", format!("{scheme} {}", alice()));
        assert_eq!(
            gateway.call(with_body(request, ping)).await.status,
            StatusCode::OK,
            "{scheme}"
        );
    }
    let wrong = Request::get(gateway.admin_url("/metrics")).header("authorization", "Basic admin-token-0123456789");
    assert_eq!(gateway.call(empty(wrong)).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_servers_own_origins_are_never_foreign() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp"))
        .with_server_keys("public_url = \"https://MCP.example.test\"")
        .start()
        .await;
    let port = gateway.addr().port();
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let own = [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
        "https://mcp.example.test".to_string(),
        "https://mcp.example.test/".to_string(),
    ];
    for origin in &own {
        let request = mcp_post(&gateway.url("/mcp"), ping).header("origin", origin);
        assert_eq!(
            gateway.call(with_body(request, ping)).await.status,
            StatusCode::OK,
            "{origin}"
        );
    }
    let foreign = [
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        format!("https://127.0.0.1:{port}"),
        "https://evil.example".to_string(),
        "http://mcp.example.test".to_string(),
        format!("http://localhost.evil.example:{port}"),
    ];
    for origin in &foreign {
        let request = mcp_post(&gateway.url("/mcp"), ping).header("origin", origin);
        let answer = gateway.call(with_body(request, ping)).await;
        assert_jsonrpc_error(&answer, 403, -32600, Value::Null);
    }
    assert_eq!(upstream.count(), own.len());
}

/// A 2026-07-28 request for `method`, with its mirror headers.
fn modern(id: u64, method: &str, params: &str) -> (String, [(&'static str, String); 2]) {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{{params}"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
    );
    (
        body,
        [
            ("mcp-protocol-version", "2026-07-28".into()),
            ("mcp-method", method.into()),
        ],
    )
}

#[tokio::test]
async fn methods_2026_07_28_removed_get_its_404_through_the_gateway_as_from_the_server() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = protected_gateway(
        &upstream.url("/mcp"),
        "[upstreams.resources]\n\"file:///*\" = \"files:read\"",
    )
    .await;
    for (index, method) in [
        "resources/subscribe",
        "resources/unsubscribe",
        "ping",
        "logging/setLevel",
    ]
    .iter()
    .enumerate()
    {
        let id = 10 + index as u64;
        let params = if method.starts_with("resources") {
            r#""uri":"file:///secret","#
        } else {
            ""
        };
        let (body, headers) = modern(id, method, params);
        let mut headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let uri = "file:///secret";
        if method.starts_with("resources") {
            headers.push(("mcp-name", uri));
        }
        let answer = gateway.post_with(&alice(), &body, &headers, false).await;
        assert_jsonrpc_error(&answer, 404, -32601, json!(id));
    }
    assert_eq!(upstream.count(), 0);

    // The real 2026-07-28 server answers the same, directly and through the gateway.
    let server = python_server("streamable-http").await;
    let direct_url = format!("http://127.0.0.1:{}/mcp", server.port);
    let through = GatewayConfig::new(&direct_url).start().await;
    let (body, headers) = modern(20, "resources/subscribe", r#""uri":"file:///secret","#);
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (*n, v.as_str()))
        .chain([("mcp-name", "file:///secret")])
        .collect();
    let request = |url: &str| {
        let mut builder = mcp_post(url, &body);
        for (name, value) in &headers {
            builder = builder.header(*name, *value);
        }
        with_body(builder, &body)
    };
    let straight = through.call(request(&direct_url)).await;
    let proxied = through.call(request(&through.url("/mcp"))).await;
    assert_eq!(straight.status, StatusCode::NOT_FOUND, "{}", straight.text());
    assert_eq!(
        (proxied.status, proxied.json()["error"]["code"].clone()),
        (straight.status, straight.json()["error"]["code"].clone())
    );
}
