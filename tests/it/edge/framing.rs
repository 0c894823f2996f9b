//! Raw-socket requests that well-behaved clients never send: smuggling-prone framing,
//! ambiguous hosts, silent and idle connections. Nothing of these may reach the upstream.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::harness::mock;
use crate::harness::{TestGateway, status_of};

const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

#[tokio::test]
async fn ambiguous_framing_and_hosts_are_refused() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let len = BODY.len();
    let smuggle = "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n";
    let chunked_body = format!("{len:x}\r\n{BODY}\r\n0\r\n\r\n");
    let cases = [
        // CL + TE with a smuggled second request: hyper drops CL and parses chunked; whatever
        // it does, the smuggled request must never reach the upstream as its own request.
        format!(
            "POST /mcp HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{chunked_body}{smuggle}"
        ),
        format!(
            "POST /mcp HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{chunked_body}"
        ),
        format!(
            "POST /mcp HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n{BODY}"
        ),
        format!(
            "POST http://evil.example/mcp HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n{BODY}"
        ),
        format!("POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n{BODY}"),
        format!(
            "POST /mcp HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 5, 6\r\n\r\n{BODY}"
        ),
    ];
    let mut statuses = Vec::new();
    for case in &cases {
        statuses.push(status_of(&gateway.raw(case).await).to_string());
    }
    // The CL+TE case may be served as one chunked request (hyper's documented behaviour) but
    // the smuggled GET must not be forwarded; every other case is refused outright.
    for (case, status) in cases.iter().zip(&statuses).skip(1) {
        assert_eq!(status, "400", "{case:?}");
    }
    let forwarded: Vec<_> = upstream
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.method.clone(), r.path_and_query.clone()))
        .collect();
    assert!(
        forwarded.iter().all(|(m, p)| m == http::Method::POST && p == "/mcp"),
        "{forwarded:?}"
    );
    assert!(
        forwarded.len() <= 1,
        "only the CL+TE request may have been forwarded: {forwarded:?}"
    );
    if let Some(first) = upstream.received.lock().unwrap().first() {
        assert_eq!(
            &first.body[..],
            BODY.as_bytes(),
            "forwarded as exactly the checked body"
        );
        assert!(first.headers.get("transfer-encoding").is_none());
    }
}

#[tokio::test]
async fn silent_connections_are_closed_at_header_read() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(gateway.addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(4), stream.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn idle_keepalive_connections_are_closed() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let mut stream = TcpStream::connect(gateway.addr()).await.unwrap();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "an idle keep-alive connection must not be held for ever"
    );
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}
