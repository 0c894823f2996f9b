//! `Host` (issue 13, item 9). A `Host` (or target authority) that is not `host[:port]` (spaces,
//! user info, a port that is not 16-bit digits) is 400 -32600 with nothing forwarded, on
//! HTTP/1.1 and h2; and upstreams learn the host from `server.public_url`, never from the
//! client, whatever `Host` or `X-Forwarded-Host` it sends.

use http::StatusCode;
use serde_json::Value;

use crate::harness::mock;
use crate::harness::upstreams::python_server;
use crate::harness::{GatewayConfig, TestGateway, assert_jsonrpc_error, mcp_post, status_of, with_body};

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
const BAD_HOSTS: [&str; 8] = [
    "a b",
    "user@host",
    "user:pw@127.0.0.1",
    "host:99999",
    "host:8o",
    "host:",
    "[::1",
    "ho/st",
];

async fn refuses_bad_hosts(gateway: &TestGateway) {
    for host in BAD_HOSTS {
        let request = format!(
            "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PING}",
            PING.len()
        );
        let response = gateway.raw(&request).await;
        assert_eq!(status_of(&response), "400", "{host}: {response}");
        let body: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap();
        assert_eq!(
            (body["error"]["code"].clone(), body["id"].clone()),
            (Value::from(-32600), Value::Null),
            "{host}"
        );
        // h2 carries the same header to the same check.
        let h2 = gateway
            .call_h2(with_body(
                mcp_post(&gateway.url("/mcp"), PING).header("host", host),
                PING,
            ))
            .await;
        assert_jsonrpc_error(&h2, 400, -32600, Value::Null);
    }
}

#[tokio::test]
async fn a_malformed_host_is_refused_and_never_forwarded() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    refuses_bad_hosts(&gateway).await;
    assert_eq!(upstream.count(), 0);
    let events = gateway.audit_events(2 * BAD_HOSTS.len()).await;
    assert!(events.iter().all(|e| e["reason"] == "bad_request"), "{events:?}");
}

#[tokio::test]
async fn upstreams_get_the_public_host_never_the_clients() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp"))
        .with_server_keys(r#"public_url = "https://mcp.example.test/base""#)
        .start()
        .await;
    for h2 in [false, true] {
        let request = mcp_post(&gateway.url("/mcp"), PING)
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-server", "evil.example");
        let request = with_body(request, PING);
        let answer = if h2 {
            gateway.call_h2(request).await
        } else {
            gateway.call(request).await
        };
        assert_eq!(answer.status, StatusCode::OK);
        let seen = upstream.last();
        assert_eq!(seen.headers["x-forwarded-host"], "mcp.example.test");
        assert!(seen.headers.get("x-forwarded-server").is_none());
        assert_eq!(
            seen.headers["host"],
            upstream.addr.to_string(),
            "Host names the upstream"
        );
    }
}

#[tokio::test]
async fn in_front_of_the_python_server_a_malformed_host_gets_the_same_refusal() {
    let server = python_server("streamable-http").await;
    let gateway = TestGateway::start(&format!("http://127.0.0.1:{}/mcp", server.port)).await;
    refuses_bad_hosts(&gateway).await;
}
