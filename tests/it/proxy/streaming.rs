//! Streaming: SSE passes through event by event and unbuffered, a client disconnect cancels
//! the upstream request, quiet streams get keep-alives, dead streams end with an error event.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use crate::harness::mock::{self, Reply};
use crate::harness::{TestGateway, empty, mcp_post, with_body};

const CALL: &str = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow","arguments":{}}}"#;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The first chunk a streaming tool sends: one progress notification.
fn progress() -> Vec<(Duration, Bytes)> {
    vec![(
        ms(0),
        Bytes::from_static(b"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n"),
    )]
}

/// Sends one `CALL` through `gateway`; the answer's body, still streaming.
async fn call_streaming(gateway: &TestGateway) -> Incoming {
    gateway
        .send(with_body(mcp_post(&gateway.url("/mcp"), CALL), CALL))
        .await
        .into_body()
}

/// The whole answer to one `CALL` (8 s at most).
async fn call_to_end(gateway: &TestGateway) -> Bytes {
    tokio::time::timeout(Duration::from_secs(8), call_streaming(gateway).await.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes()
}

/// Reads the body until `needle` has arrived (bounded), returning everything read.
async fn read_until(body: &mut Incoming, seen: &mut Vec<u8>, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(8);
    while !String::from_utf8_lossy(seen).contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, body.frame())
            .await
            .expect("within the deadline");
        match frame {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    seen.extend_from_slice(&data);
                }
            }
            other => panic!(
                "stream ended before {needle:?}: {other:?}; got {:?}",
                String::from_utf8_lossy(seen)
            ),
        }
    }
}

#[tokio::test]
async fn first_sse_event_arrives_while_upstream_still_works_and_bytes_are_kept() {
    let events: Vec<(Duration, Bytes)> = vec![
        (ms(0), Bytes::from_static(b"id: prime-1\ndata: \n\n")),
        (ms(0), Bytes::from_static(b"retry: 3000\n\n: a comment\n\n")),
        (ms(10), Bytes::from_static(b"event: message\nid: 2\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n")),
        (ms(1200), Bytes::from_static(b"id: 3\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,")),
        (ms(10), Bytes::from_static(b"\"result\":{}}\r\n\r\n")),
    ];
    let expected: Vec<u8> = events.iter().flat_map(|(_, b)| b.to_vec()).collect();
    let upstream = mock::start(move |_| Reply::Sse {
        chunks: events.clone(),
        hold: false,
    })
    .await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let started = Instant::now();
    let response = gateway
        .send(with_body(mcp_post(&gateway.url("/mcp"), CALL), CALL))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    assert_eq!(response.headers()["mcp-session-id"], "sess-1");
    let mut body = response.into_body();
    let mut seen = Vec::new();
    read_until(&mut body, &mut seen, "notifications/progress").await;
    let first = started.elapsed();
    assert!(
        first < ms(900),
        "progress event took {first:?}: the response was buffered"
    );
    let rest = body.collect().await.unwrap().to_bytes();
    seen.extend_from_slice(&rest);
    assert!(started.elapsed() >= ms(1200));
    assert_eq!(
        String::from_utf8_lossy(&seen),
        String::from_utf8_lossy(&expected),
        "byte-identical stream"
    );
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_request() {
    let chunks = progress();
    let upstream = mock::sse(chunks, true).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let mut body = call_streaming(&gateway).await;
    let mut seen = Vec::new();
    read_until(&mut body, &mut seen, "progress").await;
    assert!(!upstream.cancelled.load(Ordering::SeqCst));
    drop(body);
    assert!(
        upstream.saw_cancel().await,
        "the upstream stream must be closed when the client goes away"
    );
    tokio::time::sleep(ms(50)).await;
    let metrics = reqwest_metrics(&gateway).await;
    assert!(metrics.contains("portcullis_active_streams 0"), "{metrics}");
}

async fn reqwest_metrics(gateway: &TestGateway) -> String {
    let request = Request::get(gateway.admin_url("/metrics")).header("authorization", "Bearer admin-token-0123456789");
    gateway.call(empty(request)).await.text()
}

#[tokio::test]
async fn client_gone_before_response_head_cancels_the_upstream_too() {
    let upstream = mock::start(|_| Reply::Hang).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let mut stream = tokio::net::TcpStream::connect(gateway.addr()).await.unwrap();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{CALL}",
        gateway.addr(),
        CALL.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
        .await
        .unwrap();
    assert!(crate::harness::eventually(|| upstream.count() == 1).await);
    drop(stream);
    // The audit event is still written, with the disconnect as its outcome.
    let events = gateway.audit_events(1).await;
    assert_eq!(events[0]["reason"], "client_disconnected");
}

#[tokio::test]
async fn quiet_streams_get_keepalives_and_dead_streams_end_with_an_error_event() {
    let chunks = vec![(ms(0), Bytes::from_static(b"id: 1\ndata: \n\n"))];
    let upstream = mock::sse(chunks, true).await;
    let timeouts = "[server.timeouts]\nheader_read = \"1s\"\nupstream_response = \"2s\"\nstream_idle = \"1500ms\"\nsse_keepalive = \"400ms\"\n";
    let gateway = crate::harness::GatewayConfig::new(&upstream.url("/mcp"))
        .with_timeouts(timeouts)
        .start()
        .await;
    let started = Instant::now();
    let body = call_to_end(&gateway).await;
    let text = String::from_utf8_lossy(&body);
    assert!(started.elapsed() >= ms(1400), "ended by the idle deadline, not earlier");
    assert!(text.starts_with("id: 1\ndata: \n\n"), "{text}");
    assert!(text.contains(": keepalive\n\n"), "{text}");
    assert!(text.ends_with("\n\n"));
    let error = last_sse_error(&text);
    assert_eq!(error["id"], 5);
    assert_eq!(error["error"]["code"], -31503);
}

#[tokio::test]
async fn upstream_reset_mid_event_drops_the_half_event_and_sends_an_error() {
    let chunks = vec![
        (
            ms(0),
            Bytes::from_static(b"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n"),
        ),
        (
            ms(20),
            Bytes::from_static(b"data: {\"jsonrpc\":\"2.0\",\"id\":5,\"resu"),
        ),
    ];
    let upstream = mock::start(move |_| Reply::SseThenAbort(chunks.clone())).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let body = call_to_end(&gateway).await;
    let text = String::from_utf8_lossy(&body);
    assert!(
        !text.contains("\"resu\n") && !text.contains("\"resu"),
        "half event must not be forwarded: {text}"
    );
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 2, "{text}");
    let error: serde_json::Value =
        serde_json::from_str(events[1].trim_start_matches("event: message\ndata: ")).unwrap();
    assert_eq!(error["id"], 5);
    assert_eq!(error["error"]["code"], -31503);
}

/// A legacy HTTP+SSE upstream: GET streams `endpoint_event` and holds; POSTs get 202.
async fn legacy_upstream(endpoint_event: &'static [u8]) -> mock::Mock {
    mock::start(move |request| {
        if request.method == http::Method::GET {
            Reply::Sse {
                chunks: vec![(ms(0), Bytes::from_static(endpoint_event))],
                hold: true,
            }
        } else {
            Reply::Json(StatusCode::ACCEPTED, "")
        }
    })
    .await
}

/// The JSON-RPC error carried by the last SSE event of `text`.
fn last_sse_error(text: &str) -> serde_json::Value {
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("event: message\ndata: "), "{text}");
    serde_json::from_str(last.trim_start_matches("event: message\ndata: ")).unwrap()
}

#[tokio::test]
async fn legacy_endpoint_event_is_rewritten_to_a_gateway_path() {
    let upstream = legacy_upstream(b"event: endpoint\ndata: /messages/?session_id=abc123\n\n").await;
    let gateway = TestGateway::start(&upstream.url("/sse")).await;
    let get = Request::get(gateway.url("/mcp")).header("accept", "text/event-stream");
    let response = gateway.send(empty(get)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut seen = Vec::new();
    read_until(&mut body, &mut seen, "\n\n").await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(
        text.starts_with("event: endpoint\ndata: /mcp?portcullis_session="),
        "{text}"
    );
    assert!(
        !text.contains("abc123"),
        "the upstream's session path is not disclosed: {text}"
    );
    let endpoint = text
        .trim_end()
        .trim_start_matches("event: endpoint\ndata: ")
        .to_string();
    let message = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let post = gateway
        .call(with_body(mcp_post(&gateway.url(&endpoint), message), message))
        .await;
    assert_eq!(post.status, StatusCode::ACCEPTED);
    let seen_upstream = upstream.last();
    assert_eq!(seen_upstream.path_and_query, "/messages/?session_id=abc123");
    assert_eq!(&seen_upstream.body[..], message.as_bytes());
    // A made-up token is an unknown session; nothing is forwarded.
    let before = upstream.count();
    let bogus = gateway
        .call(with_body(
            mcp_post(&gateway.url("/mcp?portcullis_session=deadbeef"), message),
            message,
        ))
        .await;
    assert_eq!(bogus.status, StatusCode::NOT_FOUND);
    // Once the stream closes, its token dies with it.
    drop(body);
    let mut closed = false;
    for _ in 0..100 {
        let again = gateway
            .call(with_body(mcp_post(&gateway.url(&endpoint), message), message))
            .await;
        if again.status == StatusCode::NOT_FOUND {
            closed = true;
            break;
        }
        tokio::time::sleep(ms(20)).await;
    }
    assert!(closed, "token must expire with its stream");
    let after = upstream.count();
    assert!(after >= before);
    let refused = gateway
        .call(with_body(mcp_post(&gateway.url(&endpoint), message), message))
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(upstream.count(), after, "nothing forwarded for a dead token");
}

#[tokio::test]
async fn oversized_sse_event_ends_the_stream_with_an_error_and_an_audit_event() {
    let huge = format!("data: {}\n\n", "x".repeat(5 * 1024 * 1024));
    let chunks = vec![
        (ms(0), Bytes::from_static(b"id: 1\ndata: \n\n")),
        (ms(10), Bytes::from(huge)),
    ];
    let upstream = mock::sse(chunks, false).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let body = call_to_end(&gateway).await;
    assert!(
        body.len() < 4096,
        "the giant event is not forwarded ({} bytes)",
        body.len()
    );
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("-31503") && text.contains("\"id\":5"), "{text}");
    let events = gateway.audit_events(2).await;
    let failed = events
        .iter()
        .find(|e| e["event"] == "stream_failed")
        .expect("a stream_failed audit event");
    assert_eq!(failed["reason"], "sse_event_too_large");
    assert_eq!(
        failed["request_id"],
        events.iter().find(|e| e["event"] == "request").unwrap()["request_id"]
    );
}

#[tokio::test]
async fn stream_closed_before_the_response_without_resume_ids_gets_an_error_event() {
    let chunks = progress();
    let upstream = mock::sse(chunks, false).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let body = call_to_end(&gateway).await;
    let text = String::from_utf8_lossy(&body);
    let error = last_sse_error(&text);
    assert_eq!(
        (error["id"].clone(), error["error"]["code"].clone()),
        (serde_json::json!(5), serde_json::json!(-31503))
    );
}

#[tokio::test]
async fn session_get_streams_and_delete_pass_through_with_their_headers() {
    // The mock's SSE answers carry `mcp-session-id: sess-1`.
    let upstream = mock::start(|request| match request.method {
        http::Method::GET => Reply::Sse {
            chunks: vec![(ms(0), Bytes::from_static(b"id: 7\ndata: {}\n\n"))],
            hold: false,
        },
        http::Method::POST => Reply::Sse {
            chunks: vec![(
                ms(0),
                Bytes::from_static(b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"),
            )],
            hold: false,
        },
        _ => Reply::Json(StatusCode::OK, "{}"),
    })
    .await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    let answer = gateway
        .call(with_body(mcp_post(&gateway.url("/mcp"), init), init))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let get = || {
        Request::get(gateway.url("/mcp"))
            .header("accept", "text/event-stream")
            .header("mcp-session-id", "sess-1")
            .header("last-event-id", "6")
            .header("mcp-protocol-version", "2025-11-25")
    };
    let answer = gateway.call(empty(get())).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(&answer.body[..], b"id: 7\ndata: {}\n\n");
    let seen = upstream.last();
    assert_eq!(
        (seen.method.as_str(), seen.headers["last-event-id"].to_str().unwrap()),
        ("GET", "6")
    );
    assert_eq!(seen.headers["mcp-session-id"], "sess-1");
    let delete = Request::delete(gateway.url("/mcp")).header("mcp-session-id", "sess-1");
    assert_eq!(gateway.call(empty(delete)).await.status, StatusCode::OK);
    let seen = upstream.last();
    assert_eq!(
        (seen.method.as_str(), seen.headers["mcp-session-id"].to_str().unwrap()),
        ("DELETE", "sess-1")
    );
    // DELETE ended the session: its id is now unknown, and nothing more reaches the upstream.
    let before = upstream.count();
    assert_eq!(gateway.call(empty(get())).await.status, StatusCode::NOT_FOUND);
    assert_eq!(upstream.count(), before);
}

#[tokio::test]
async fn a_legacy_token_works_only_on_its_own_route() {
    let upstream = legacy_upstream(b"event: endpoint\ndata: /messages/?session_id=s\n\n").await;
    let gateway = crate::harness::GatewayConfig::new(&upstream.url("/sse"))
        .with_tables(&format!(
            "[[upstreams]]\nname = \"other\"\nroute = \"/other\"\nurl = \"{}\"\nauth = \"none\"\n",
            upstream.url("/sse")
        ))
        .start()
        .await;
    let response = gateway
        .send(empty(
            Request::get(gateway.url("/mcp")).header("accept", "text/event-stream"),
        ))
        .await;
    let mut body = response.into_body();
    let mut seen = Vec::new();
    read_until(&mut body, &mut seen, "\n\n").await;
    let endpoint = String::from_utf8_lossy(&seen)
        .trim_end()
        .trim_start_matches("event: endpoint\ndata: ")
        .to_string();
    let query = endpoint.split_once('?').unwrap().1.to_string();
    let message = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let before = upstream.count();
    let elsewhere = gateway
        .call(with_body(
            mcp_post(&gateway.url(&format!("/other?{query}")), message),
            message,
        ))
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    assert_eq!(upstream.count(), before);
    let here = gateway
        .call(with_body(mcp_post(&gateway.url(&endpoint), message), message))
        .await;
    assert_eq!(here.status, StatusCode::ACCEPTED);
}
