//! Server→client requests (issue 13, item 7). On a 2025-era stream the upstream may send the
//! client requests; only the route's `server_requests` pass (default: MCP's
//! `sampling/createMessage`, `elicitation/create`, `roots/list`, `ping`). Any other, or one
//! that cannot be read unambiguously (escaped, repeated or case-folded member names), is dropped with an audit event `server_request_dropped`;
//! notifications and answers pass. POST answers and GET streams, HTTP/1.1 and h2.

use std::time::Duration;

use http::StatusCode;

use crate::harness::caller::message;
use crate::harness::mock::{self, Reply};
use crate::harness::upstreams::everything_server;
use crate::harness::{GatewayConfig, TestGateway, empty, mcp_post, protected_gateway, token, with_body};

const SAMPLING: &str =
    r#"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{"messages":[],"maxTokens":1}}"#;
const ROOTS: &str = r#"{"jsonrpc":"2.0","id":"s2","method":"roots/list"}"#;
const UNKNOWN: &str = r#"{"jsonrpc":"2.0","id":"s3","method":"shell/exec","params":{"cmd":"id"}}"#;
const ESCAPED: &str = r#"{"jsonrpc":"2.0","id":"s4","\u006dethod":"shell/exec"}"#;
const DOUBLED: &str = r#"{"jsonrpc":"2.0","id":"s5","method":"roots/list","method":"shell/exec"}"#;
const CASED: &str = r#"{"jsonrpc":"2.0","id":"s6","Method":"shell/exec"}"#;
const NOTE: &str = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#;
const ANSWER: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"done"}]}}"#;

fn stream_reply() -> Reply {
    mock::sse_events(&[SAMPLING, ROOTS, UNKNOWN, ESCAPED, DOUBLED, CASED, NOTE, ANSWER])
}

const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#;

async fn get_stream(gateway: &TestGateway, bearer: &str, h2: bool) -> String {
    let get = http::Request::get(gateway.url("/mcp"))
        .header("authorization", format!("Bearer {bearer}"))
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    let answer = if h2 {
        gateway.call_h2(empty(get)).await
    } else {
        gateway.call(empty(get)).await
    };
    assert_eq!(answer.status, StatusCode::OK);
    answer.text()
}

#[tokio::test]
async fn only_the_routes_server_requests_reach_the_client() {
    let upstream = mock::start(|_| stream_reply()).await;
    for (keys, passes) in [
        ("", &["sampling/createMessage", "roots/list"][..]),
        ("server_requests = [\"roots/list\"]", &["roots/list"][..]),
    ] {
        let gateway = protected_gateway(&upstream.url("/mcp"), keys).await;
        let alice = token("alice", &["user"]);
        for h2 in [false, true] {
            let post = gateway.post_with(&alice, CALL, &[], h2).await;
            assert_eq!(message(&post, 1)["result"]["content"][0]["text"], "done");
            for text in [post.text(), get_stream(&gateway, &alice, h2).await] {
                for method in ["sampling/createMessage", "roots/list"] {
                    assert_eq!(text.contains(method), passes.contains(&method), "{keys:?}: {text}");
                }
                assert!(!text.contains("shell/exec") && !text.contains("\"s4\""), "{text}");
                assert!(text.contains("notifications/message"), "notifications pass: {text}");
            }
        }
        let events = gateway.audit_events(1).await;
        let dropped: Vec<_> = events
            .iter()
            .filter(|e| e["event"] == "server_request_dropped")
            .collect();
        assert!(
            dropped
                .iter()
                .any(|e| e["jsonrpc_method"] == "shell/exec" && e["decision"] == "deny"),
            "{events:?}"
        );
        assert!(dropped.iter().any(|e| e["jsonrpc_method"] == "<unreadable>"));
    }
}

#[test]
fn a_server_requests_entry_with_spaces_is_a_config_error() {
    let config = GatewayConfig::new("http://127.0.0.1:9/mcp").with_upstream_keys("server_requests = [\"roots/ list\"]");
    let error = portcullis::config::load_str(&config.text(), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("server_requests[0]"), "{error}");
}

/// server-everything's `trigger-sampling-request` sends `sampling/createMessage` on the
/// answer's stream: it reaches the client by default, and not when the route forwards no
/// server requests (the tool then waits in vain; the test reads only the first event).
#[tokio::test]
async fn server_everythings_sampling_request_is_policed() {
    let server = everything_server("streamableHttp").await;
    let url = format!("http://127.0.0.1:{}/mcp", server.port);
    for (keys, arrives) in [("", true), ("server_requests = []", false)] {
        let gateway = GatewayConfig::new(&url).with_upstream_keys(keys).start().await;
        let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"sampling":{}},"clientInfo":{"name":"t","version":"1"}}}"#;
        let answer = gateway
            .call(with_body(mcp_post(&gateway.url("/mcp"), init), init))
            .await;
        let session = answer.headers["mcp-session-id"].to_str().unwrap().to_string();
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let request = mcp_post(&gateway.url("/mcp"), note).header("mcp-session-id", &session);
        gateway.call(with_body(request, note)).await;
        let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"trigger-sampling-request","arguments":{"prompt":"hi","maxTokens":5}}}"#;
        let request = mcp_post(&gateway.url("/mcp"), call)
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25");
        let response = gateway.send(with_body(request, call)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let first = first_event(response, Duration::from_secs(3)).await;
        assert_eq!(first.contains("sampling/createMessage"), arrives, "{keys:?}: {first:?}");
        let events = gateway.audit_events(1).await;
        let dropped = events
            .iter()
            .any(|e| e["event"] == "server_request_dropped" && e["jsonrpc_method"] == "sampling/createMessage");
        assert_eq!(dropped, !arrives, "{events:?}");
    }
}

/// The data of the first SSE event with data within `wait` (empty when none came).
async fn first_event(response: http::Response<hyper::body::Incoming>, wait: Duration) -> String {
    use http_body_util::BodyExt as _;
    let mut body = response.into_body();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, body.frame()).await {
        if let Some(data) = frame.data_ref() {
            seen.push_str(&String::from_utf8_lossy(data));
            if seen.contains("data: {") {
                break;
            }
        }
    }
    seen
}
