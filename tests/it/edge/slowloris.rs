//! Slow clients: a request head dribbled in is cut off at `header_read`; a body that does
//! not arrive in time gets 408; connection caps close excess connections at accept.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::harness::TestGateway;
use crate::harness::mock;

#[tokio::test]
async fn dribbled_headers_are_cut_off_at_header_read() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let mut stream = TcpStream::connect(gateway.addr()).await.unwrap();
    let started = Instant::now();
    stream.write_all(b"POST /mcp HTTP/1.1\r\n").await.unwrap();
    let mut closed_at = None;
    for i in 0..40 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if stream.write_all(format!("X-Slow-{i}: a\r\n").as_bytes()).await.is_err() {
            closed_at = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed_at = Some(started.elapsed());
                break;
            }
            Ok(Ok(_)) => {
                closed_at = Some(started.elapsed());
                break;
            }
            Err(_) => {}
        }
    }
    let closed_at = closed_at.expect("the gateway must close a slowloris connection");
    assert!(
        closed_at >= Duration::from_millis(900) && closed_at < Duration::from_secs(4),
        "{closed_at:?}"
    );
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn slow_body_gets_408() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let mut stream = TcpStream::connect(gateway.addr()).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\"",
        gateway.addr()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn oversized_head_gets_431_and_per_ip_cap_closes_excess_connections() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_with(
        &upstream.url("/mcp"),
        "max_connections_per_ip = 2\nmax_header_bytes = 8192",
        "",
    )
    .await;
    let mut big = TcpStream::connect(gateway.addr()).await.unwrap();
    let head = format!("GET /mcp HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    let _ = big.write_all(head.as_bytes()).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), big.read_to_end(&mut response)).await;
    assert!(
        String::from_utf8_lossy(&response).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    drop(big);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let _a = TcpStream::connect(gateway.addr()).await.unwrap();
    let _b = TcpStream::connect(gateway.addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = TcpStream::connect(gateway.addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
        .await
        .expect("closed promptly");
    assert!(matches!(read, Ok(0) | Err(_)), "third connection from one IP is closed");
    assert_eq!(upstream.count(), 0);
}
