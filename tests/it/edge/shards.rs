//! `worker_threads = 2`: two shards (single-threaded runtimes) on one address. Every
//! connection is served whichever shard the kernel hands it to, the connection caps are the
//! gateway's (not one per shard), shutdown stops every shard, and a port another sharded
//! gateway holds is refused at start rather than silently shared (SO_REUSEPORT).

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::harness::{TestGateway, mock, status_of};

const CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#;

fn request(close: bool) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n{}\r\n{CALL}",
        CALL.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
}

#[tokio::test]
async fn every_connection_is_served_whichever_shard_takes_it() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_with(&upstream.url("/mcp"), "worker_threads = 2", "").await;
    // Fresh connections (new source ports) land on both listeners; each gets its answer.
    for _ in 0..40 {
        let response = gateway.raw(&request(true)).await;
        assert_eq!(status_of(&response), "200", "{response}");
        assert!(response.contains("\"result\""), "{response}");
    }
    assert_eq!(upstream.count(), 40);
    let address = gateway.addr();
    gateway.running.shutdown().await;
    // Every shard stopped listening: nothing accepts on the address any more.
    let connected = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(address)).await;
    assert!(!matches!(connected, Ok(Ok(_))), "a shard still accepts after shutdown");
}

#[tokio::test]
async fn connection_caps_are_shared_by_the_shards() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_with(
        &upstream.url("/mcp"),
        "worker_threads = 2\nmax_connections_per_ip = 3",
        "",
    )
    .await;
    // Three kept-alive connections, each proven accepted by an answer.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(gateway.addr()).await.unwrap();
        stream.write_all(request(false).as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("answered")
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    // Every further connection from this IP is closed unanswered, on either shard: with a cap
    // per shard, some of these would be accepted by the shard holding fewer.
    for attempt in 0..8 {
        let mut stream = TcpStream::connect(gateway.addr()).await.unwrap();
        let _ = stream.write_all(request(true).as_bytes()).await;
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
            .await
            .expect("closed promptly");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "connection {attempt} over the cap was served: {:?}",
            read.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
        );
    }
    assert_eq!(upstream.count(), 3, "nothing over the cap reached the upstream");
    drop(held);
}

#[tokio::test]
async fn a_port_held_by_another_sharded_gateway_is_refused_not_shared() {
    let upstream = mock::start(mock::ok_json).await;
    let first = TestGateway::start_with(&upstream.url("/mcp"), "worker_threads = 2", "").await;
    let port = first.addr().port();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\nworker_threads = 2\n[admin]\nlisten = \"127.0.0.1:0\"\n\n\
         [[upstreams]]\nname = \"test\"\nroute = \"/mcp\"\nurl = \"{}\"\nauth = \"none\"\ndefault = \"allow\"\n",
        upstream.url("/mcp")
    );
    let config = portcullis::config::load_str(&text, &|_| None).expect("config");
    let error = portcullis::app::start(config, None)
        .await
        .expect_err("a second gateway on a held port must not start");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{error}");
    assert!(error.to_string().contains("server.listen"), "{error}");
    // The first gateway still answers every request: nothing was split off to a second one.
    for _ in 0..10 {
        assert_eq!(status_of(&first.raw(&request(true)).await), "200");
    }
    assert_eq!(upstream.count(), 10);
}
