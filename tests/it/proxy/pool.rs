//! The upstream connection pool: connections are reused, a connection the upstream closed is
//! replaced transparently, and a response abandoned halfway never desyncs the next request.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt as _;

use crate::harness::mock::{self, Reply};
use crate::harness::{TestGateway, mcp_post, with_body};

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

#[tokio::test]
async fn sequential_requests_reuse_one_upstream_connection() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    for _ in 0..20 {
        assert_eq!(gateway.post(PING).await.status, StatusCode::OK);
    }
    assert_eq!(upstream.count(), 20);
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        1,
        "one kept-alive upstream connection"
    );
}

#[tokio::test]
async fn upstream_that_closes_connections_is_still_served() {
    let upstream = mock::start_with(mock::ok_json, false).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    for _ in 0..5 {
        let answer = gateway.post(PING).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(upstream.count(), 5, "each request sent exactly once");
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn abandoned_response_takes_its_connection_and_the_next_request_is_intact() {
    let upstream = mock::start(|request| {
        if request.body.windows(4).any(|w| w == b"slow") {
            let chunks = vec![
                (Duration::ZERO, Bytes::from_static(b"data: first\n\n")),
                (Duration::from_millis(300), Bytes::from_static(b"data: second\n\n")),
            ];
            Reply::Sse { chunks, hold: false }
        } else {
            Reply::Json(StatusCode::OK, r#"{"jsonrpc":"2.0","id":2,"result":{"fresh":true}}"#)
        }
    })
    .await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let slow = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}"#;
    let response = gateway
        .send(with_body(mcp_post(&gateway.url("/mcp"), slow), slow))
        .await;
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], b"data: first\n\n");
    drop(body);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let next = gateway.post(r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#).await;
    assert_eq!(next.status, StatusCode::OK);
    assert_eq!(
        next.json()["result"]["fresh"],
        true,
        "the next answer is its own, not the rest of the old one"
    );
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        2,
        "the half-read connection was not reused"
    );
}
