//! Rate limits end to end (embedded buckets): the per-IP bucket before authentication (not
//! moved by a spoofed `X-Forwarded-For`), the auth-failure block, the principal's role bucket
//! and the per-tool bucket, with the contract's responses; exactness under concurrency.

use http::StatusCode;
use serde_json::json;

use crate::harness::mock;
use crate::harness::{Answer, GatewayConfig, TestGateway, mcp_post, token, with_body};

const PING: &str = r#"{"jsonrpc":"2.0","id":"p1","method":"ping"}"#;

/// A gateway on `/mcp` → `upstream_url`; `protected` adds the HS256 key of tests/it/authz.rs.
async fn limited_gateway(upstream_url: &str, protected: bool, limits: &str) -> TestGateway {
    let config = GatewayConfig::new(upstream_url);
    let config = if protected { config.with_jwt() } else { config };
    config.with_tables(&format!("[rate_limits]\n{limits}")).start().await
}

/// The contract's `-31429` body with `id`, `retryAfterMs` within the second below 100 s (the
/// bucket refills a little between requests).
fn assert_rate_limited(answer: &Answer, id: serde_json::Value) {
    let mut body = answer.json();
    let wait = body["error"]["data"]["retryAfterMs"].take().as_u64().unwrap();
    assert!((99_000..=100_000).contains(&wait), "{wait}");
    assert_eq!(
        body,
        json!({"jsonrpc":"2.0","id":id,"error":{"code":-31429,"message":"Rate limit exceeded","data":{"retryAfterMs":null}}})
    );
}

async fn post(gateway: &TestGateway, body: &str, headers: &[(&str, &str)]) -> Answer {
    let mut builder = mcp_post(&gateway.url("/mcp"), body);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    gateway.call(with_body(builder, body)).await
}

#[tokio::test]
async fn the_ip_bucket_ignores_spoofed_forwarded_for() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = limited_gateway(
        &upstream.url("/mcp"),
        false,
        "ip = { capacity = 5, refill_per_sec = 0.01 }",
    )
    .await;
    for i in 0..5 {
        let spoof = format!("203.0.113.{i}");
        assert_eq!(
            post(&gateway, PING, &[("x-forwarded-for", &spoof)]).await.status,
            StatusCode::OK
        );
    }
    let refused = post(&gateway, PING, &[("x-forwarded-for", "203.0.113.99")]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers["retry-after"], "100");
    assert_eq!(refused.headers["ratelimit-policy"], "\"ip\";q=5;w=500");
    assert_eq!(refused.headers["ratelimit"], "\"ip\";r=0;t=100");
    assert_rate_limited(&refused, json!(null));
    assert_eq!(upstream.count(), 5, "nothing refused reached the upstream");
    let events = gateway.audit_events(6).await;
    assert_eq!(events.iter().filter(|e| e["reason"] == "rate_limited_ip").count(), 1);
}

#[tokio::test]
async fn the_auth_failure_block_stops_credential_guessing() {
    let upstream = mock::start(mock::ok_json).await;
    let limits = "auth_failures = { max = 3, window = \"1m\", block = \"5m\" }";
    let gateway = limited_gateway(&upstream.url("/mcp"), true, limits).await;
    // No credential at all (an OAuth client's discovery step) never counts.
    for _ in 0..5 {
        assert_eq!(post(&gateway, PING, &[]).await.status, StatusCode::UNAUTHORIZED);
    }
    let mut statuses = Vec::new();
    for guess in 0..20 {
        let bearer = format!("Bearer mcp_guess{guess:040}");
        statuses.push(
            post(&gateway, PING, &[("authorization", &bearer)])
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses[..3], [401, 401, 401]);
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    // Blocked means blocked: a valid token from that IP waits out the block too.
    let good = format!("Bearer {}", token("alice", &["user"]));
    let blocked = post(&gateway, PING, &[("authorization", &good)]).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(blocked.headers["retry-after"], "300");
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn principal_and_tool_buckets_answer_with_the_request_id() {
    let upstream = mock::start(mock::ok_json).await;
    let limits = "[rate_limits.roles]\nuser = { capacity = 4, refill_per_sec = 0.01 }\nadmin = { capacity = 100, refill_per_sec = 10 }\n\
                  [[rate_limits.tools]]\ntool = \"write_file\"\ncapacity = 1\nrefill_per_sec = 0.01\n";
    let gateway = limited_gateway(&upstream.url("/mcp"), true, limits).await;
    let (alice, bob) = (token("alice", &["user"]), token("bob", &["user", "admin"]));
    let as_alice = format!("Bearer {alice}");
    let write = |id: u32| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"write_file","arguments":{{}}}}}}"#
        )
    };
    assert_eq!(
        post(&gateway, &write(1), &[("authorization", &as_alice)]).await.status,
        StatusCode::OK
    );
    let second = post(&gateway, &write(2), &[("authorization", &as_alice)]).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_rate_limited(&second, json!(2));
    assert_eq!(second.headers["retry-after"], "100");
    assert_eq!(second.headers["ratelimit-policy"], "\"tool\";q=1;w=100");
    // Two of alice's four role tokens are gone; a third call uses one, the fourth is refused.
    assert_eq!(
        post(&gateway, PING, &[("authorization", &as_alice)]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        post(&gateway, PING, &[("authorization", &as_alice)]).await.status,
        StatusCode::OK
    );
    let refused = post(&gateway, PING, &[("authorization", &as_alice)]).await;
    assert_eq!(refused.json()["error"]["code"], -31429);
    assert_eq!(refused.json()["id"], "p1");
    // A notification has no id to answer: 429.
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(
        post(&gateway, note, &[("authorization", &as_alice)]).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Bob holds the most generous of his roles, in his own bucket.
    let as_bob = format!("Bearer {bob}");
    for _ in 0..10 {
        assert_eq!(
            post(&gateway, PING, &[("authorization", &as_bob)]).await.json()["result"],
            json!({})
        );
    }
    assert_eq!(upstream.count(), 3 + 10);
}

#[tokio::test]
async fn concurrent_requests_against_a_bucket_of_50_get_exactly_50() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = limited_gateway(
        &upstream.url("/mcp"),
        false,
        "ip = { capacity = 50, refill_per_sec = 0 }",
    )
    .await;
    let gateway = std::sync::Arc::new(gateway);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let gateway = std::sync::Arc::clone(&gateway);
        tasks.spawn(async move { post(&gateway, PING, &[]).await.status });
    }
    let mut ok = 0;
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!((ok, upstream.count()), (50, 50));
}
