//! Client-posted responses without a session (issue 13, item 8). In the 2025 era a client
//! POSTs a JSON-RPC response to answer a request the server sent on its session's stream
//! (sampling, elicitation, roots). Without `Mcp-Session-Id` (or a legacy endpoint's token) it
//! answers nothing the gateway can tie to this caller: 400 -32600, nothing forwarded, single or
//! in a batch, HTTP/1.1 or h2. With the caller's own session it passes.

use http::StatusCode;
use serde_json::Value;

use crate::harness::caller::Caller;
use crate::harness::mock;
use crate::harness::upstreams::python_server;
use crate::harness::{GatewayConfig, assert_jsonrpc_error, protected_gateway, token};

const RESULT: &str = r#"{"jsonrpc":"2.0","id":"srv-1","result":{"content":{"type":"text","text":"ok"}}}"#;
const ERROR: &str = r#"{"jsonrpc":"2.0","id":"srv-2","error":{"code":-1,"message":"declined"}}"#;

#[tokio::test]
async fn a_response_without_a_session_is_refused_and_never_forwarded() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = protected_gateway(&upstream.url("/mcp"), "allow_batches = true").await;
    let alice = token("alice", &["user"]);
    let batch = format!(r#"[{{"jsonrpc":"2.0","id":1,"method":"ping"}},{RESULT}]"#);
    for h2 in [false, true] {
        for body in [RESULT, ERROR] {
            let answer = gateway
                .post_with(&alice, body, &[("mcp-protocol-version", "2025-11-25")], h2)
                .await;
            // The server's id is never echoed: it could fail an unrelated call of the client.
            assert_jsonrpc_error(&answer, 400, -32600, Value::Null);
            assert!(answer.text().contains("Mcp-Session-Id"), "{}", answer.text());
        }
        let answer = gateway
            .post_with(&alice, &batch, &[("mcp-protocol-version", "2025-03-26")], h2)
            .await;
        assert_jsonrpc_error(&answer, 400, -32600, Value::Null);
    }
    assert_eq!(upstream.count(), 0);
    // A request without a session is still fine (sessions are the upstream's business).
    let ping = r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#;
    assert_eq!(gateway.post_with(&alice, ping, &[], false).await.status, StatusCode::OK);
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn a_response_in_the_callers_own_session_reaches_the_python_server() {
    let server = python_server("streamable-http").await;
    let gateway = GatewayConfig::new(&format!("http://127.0.0.1:{}/mcp", server.port))
        .with_jwt()
        .start()
        .await;
    let mut caller = Caller::new(&gateway, "alice", &["user"]);
    let without = caller.post(RESULT).await;
    assert_jsonrpc_error(&without, 400, -32600, Value::Null);
    caller.initialize().await;
    let within = caller.post(RESULT).await;
    assert_eq!(within.status, StatusCode::ACCEPTED, "{}", within.text());
}
