//! Reload: `POST /admin/reload` (and SIGHUP, same function) swaps in a new config atomically
//! and keeps the old one when the new one is invalid.

use http::{Request, StatusCode};

use crate::harness::mock;
use crate::harness::{TestGateway, empty};

fn reload_request(gateway: &TestGateway, token: &str) -> Request<http_body_util::Full<bytes::Bytes>> {
    empty(Request::post(gateway.admin_url("/admin/reload")).header("authorization", format!("Bearer {token}")))
}

#[tokio::test]
async fn reload_swaps_routes_and_keeps_the_old_config_when_invalid() {
    let first = mock::start(mock::ok_json).await;
    let second = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start(&first.url("/mcp")).await;
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    assert_eq!(gateway.post(ping).await.status, StatusCode::OK);
    assert_eq!(first.count(), 1);

    // Wrong admin token: refused, nothing changes.
    let denied = gateway.call(reload_request(&gateway, "wrong-token-000000000")).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);

    // Point the route at the second upstream.
    let text = std::fs::read_to_string(&gateway.config_path).unwrap();
    std::fs::write(
        &gateway.config_path,
        text.replace(&first.url("/mcp"), &second.url("/mcp")),
    )
    .unwrap();
    let answer = gateway.call(reload_request(&gateway, "admin-token-0123456789")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["generation"], 2);
    assert_eq!(gateway.post(ping).await.status, StatusCode::OK);
    assert_eq!(
        (first.count(), second.count()),
        (1, 1),
        "new requests use the new config"
    );

    // An invalid file is refused with its key path; the running config stays.
    let good = std::fs::read_to_string(&gateway.config_path).unwrap();
    std::fs::write(
        &gateway.config_path,
        good.replace("auth = \"none\"", "auth = \"none\"\nbogus_key = 1"),
    )
    .unwrap();
    let refused = gateway.call(reload_request(&gateway, "admin-token-0123456789")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.json()["key"], "upstreams[0].bogus_key");
    assert_eq!(gateway.post(ping).await.status, StatusCode::OK);
    assert_eq!(second.count(), 2, "old config still serving");

    let ready = gateway.call(empty(Request::get(gateway.admin_url("/readyz")))).await;
    assert_eq!(ready.json()["generation"], 2);
    let metrics = gateway
        .call(empty(
            Request::get(gateway.admin_url("/metrics")).header("authorization", "Bearer admin-token-0123456789"),
        ))
        .await
        .text();
    assert!(
        metrics.contains("portcullis_config_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_config_reloads_total{result=\"invalid\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_requests_total{route=\"test\",method=\"POST\",outcome=\"ok\"} 3"),
        "{metrics}"
    );
    let events = gateway.audit_events(5).await;
    let reloads: Vec<_> = events.iter().filter(|e| e["event"] == "config_reload").collect();
    assert_eq!(reloads.len(), 2);
    assert_eq!(reloads[1]["decision"], "deny");
}

#[tokio::test]
async fn admin_listener_health_and_auth() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start(&upstream.url("/mcp")).await;
    let health = gateway.call(empty(Request::get(gateway.admin_url("/healthz")))).await;
    assert_eq!(health.status, StatusCode::OK);
    let metrics = gateway.call(empty(Request::get(gateway.admin_url("/metrics")))).await;
    assert_eq!(metrics.status, StatusCode::UNAUTHORIZED);
    let unknown = gateway.call(empty(Request::get(gateway.admin_url("/nope")))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
