//! W3C trace context through the gateway: an authenticated caller's `traceparent` reaches the
//! upstream with the same trace id and the gateway's span as the new parent; an anonymous
//! caller's (or any, under `trust_traceparent = "never"`) starts a new trace. With
//! `otlp_endpoint` set, the gateway's spans (stage timings as events) arrive at an OTLP/HTTP
//! receiver run by the test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{GatewayConfig, TestGateway, mock, token};

const SENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{}}}"#;

fn traceparent_seen(upstream: &mock::Mock) -> String {
    upstream.last().headers["traceparent"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn an_authenticated_callers_trace_is_continued_with_the_gateway_as_parent() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp")).with_jwt().start().await;
    let alice = token("alice", &["user"]);
    let answer = gateway
        .post_with(
            &alice,
            PING,
            &[("traceparent", SENT), ("tracestate", "vendor=1")],
            false,
        )
        .await;
    assert_eq!(answer.status, 200);
    let seen = traceparent_seen(&upstream);
    let parts: Vec<&str> = seen.split('-').collect();
    assert_eq!((parts[0], parts[1], parts[3]), ("00", TRACE, "01"), "{seen}");
    assert_ne!(parts[2], "00f067aa0ba902b7", "the gateway's span is the new parent");
    assert_eq!(upstream.last().headers["tracestate"], "vendor=1");
    let events = gateway.audit_events(1).await;
    assert!(events.iter().any(|e| e["trace_id"] == TRACE), "{events:?}");

    // A malformed traceparent is not passed on: a new trace starts.
    let answer = gateway
        .post_with(&alice, PING, &[("traceparent", "00-zz-00f067aa0ba902b7-01")], false)
        .await;
    assert_eq!(answer.status, 200);
    let seen = traceparent_seen(&upstream);
    assert!(portcullis::telemetry::trace::parse(seen.as_bytes()).is_some(), "{seen}");
}

#[tokio::test]
async fn anonymous_and_untrusted_callers_get_a_new_trace() {
    let upstream = mock::start(mock::ok_json).await;
    let open = GatewayConfig::new(&upstream.url("/mcp")).start().await;
    let answer = open
        .post_with("", PING, &[("traceparent", SENT), ("tracestate", "vendor=1")], false)
        .await;
    assert_eq!(answer.status, 200);
    let seen = traceparent_seen(&upstream);
    assert!(!seen.contains(TRACE) && seen.len() == 55, "{seen}");
    assert!(upstream.last().headers.get("tracestate").is_none());

    let never = GatewayConfig::new(&upstream.url("/mcp"))
        .with_jwt()
        .with_tables("[telemetry]\ntrust_traceparent = \"never\"")
        .start()
        .await;
    let answer = never
        .post_with(&token("alice", &["user"]), PING, &[("traceparent", SENT)], false)
        .await;
    assert_eq!(answer.status, 200);
    assert!(!traceparent_seen(&upstream).contains(TRACE));
}

/// An OTLP/HTTP receiver on its own thread (the exporter flushes synchronously): the JSON
/// bodies posted to `/v1/traces`.
fn otlp_receiver() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let store = Arc::clone(&received);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok(Ok((stream, _))) = tokio::time::timeout(Duration::from_secs(60), listener.accept()).await else {
                    return;
                };
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                        let store = Arc::clone(&store);
                        async move {
                            let bytes = http_body_util::BodyExt::collect(request.into_body()).await?.to_bytes();
                            if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
                                store.lock().unwrap().push(value);
                            }
                            Ok::<_, hyper::Error>(http::Response::new(http_body_util::Full::new(
                                bytes::Bytes::from_static(b"{}"),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    (port, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_otlp_on_the_gateways_spans_reach_the_receiver() {
    let (port, received) = otlp_receiver();
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp"))
        .with_jwt()
        .with_tables(&format!(
            "[telemetry]\notlp_endpoint = \"http://127.0.0.1:{port}/v1/traces\"\nservice_name = \"portcullis-test\""
        ))
        .start()
        .await;
    let answer = gateway
        .post_with(&token("alice", &["user"]), PING, &[("traceparent", SENT)], false)
        .await;
    assert_eq!(answer.status, 200);
    let refused = gateway.post_with("bad", PING, &[], false).await;
    assert_eq!(refused.status, 401);
    let parent_sent = traceparent_seen(&upstream);
    let TestGateway { running, .. } = gateway;
    running.shutdown().await; // flushes the span exporter

    let spans: Vec<Value> = received
        .lock()
        .unwrap()
        .iter()
        .flat_map(|body| body["resourceSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|rs| rs["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|ss| ss["spans"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(spans.len(), 2, "{spans:?}");
    let ours = spans
        .iter()
        .find(|s| s["traceId"] == TRACE)
        .expect("the continued trace");
    assert_eq!(ours["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(ours["name"], "portcullis.request");
    // The upstream saw this span as its parent.
    assert_eq!(parent_sent.split('-').nth(2), ours["spanId"].as_str());
    let events: Vec<&str> = ours["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["authenticated", "checked", "upstream_answered"], "{ours}");
    assert!(
        spans.iter().any(|s| s["traceId"] != TRACE && s["status"]["code"] == 2),
        "{spans:?}"
    );
}
