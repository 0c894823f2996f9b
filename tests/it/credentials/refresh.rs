//! `POST /oauth/token`: rotation, reuse detection revoking the whole family, RFC 6749 error
//! bodies, `Cache-Control: no-store`, and 50 concurrent refreshes of one token (embedded and Redis).

use std::sync::Arc;

use crate::harness::lifecycle::{issue, ping, refresh, token_request};
use crate::harness::{GatewayConfig, TestGateway, mock};

async fn gateway(upstream: &mock::Mock) -> TestGateway {
    GatewayConfig::new(&upstream.url("/mcp")).with_jwt().start().await
}

fn assert_oauth_error(answer: &crate::harness::Answer, status: u16, code: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text());
    assert_eq!(answer.json()["error"], code, "{}", answer.text());
    assert!(
        answer.json()["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    assert_eq!(answer.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn a_refresh_rotates_and_a_reused_token_kills_the_whole_family() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = gateway(&upstream).await;
    let first = issue(&gateway, "alice", &["user"]).await;
    let (access0, refresh0) = (
        first["access_token"].as_str().unwrap(),
        first["refresh_token"].as_str().unwrap(),
    );
    assert_eq!(ping(&gateway, access0).await.status, 200);
    // Rotation: a new pair; the family stays the same.
    let rotated = refresh(&gateway, refresh0).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    assert_eq!(rotated.headers["cache-control"], "no-store");
    assert_eq!(rotated.headers["pragma"], "no-cache");
    let second = rotated.json();
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(second["family_id"], first["family_id"]);
    let (access1, refresh1) = (
        second["access_token"].as_str().unwrap(),
        second["refresh_token"].as_str().unwrap(),
    );
    assert_ne!(refresh1, refresh0);
    assert!(second["expires_in"].as_u64().unwrap() > 0);
    assert_eq!(ping(&gateway, access1).await.status, 200);
    let forwarded = upstream.count();
    // Reuse of the retired token: invalid_grant, and every token of the family dies.
    assert_oauth_error(&refresh(&gateway, refresh0).await, 400, "invalid_grant");
    assert_oauth_error(&refresh(&gateway, refresh1).await, 400, "invalid_grant");
    for access in [access0, access1] {
        let answer = ping(&gateway, access).await;
        assert_eq!(answer.status, 401, "{}", answer.text());
        assert_eq!(answer.json()["error"], "invalid_token");
        assert_eq!(answer.json()["error_description"], "The credential has been revoked");
    }
    assert_eq!(
        upstream.count(),
        forwarded,
        "nothing of a dead family reaches the upstream"
    );
    // Another login of the same subject is untouched.
    let other = issue(&gateway, "alice", &["user"]).await;
    assert_eq!(
        ping(&gateway, other["access_token"].as_str().unwrap()).await.status,
        200
    );
    let events = gateway.audit_events(1).await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "refresh_reuse" && e["key_id"] == first["family_id"]),
        "the reuse is audited with the family"
    );
}

#[tokio::test]
async fn malformed_token_requests_get_rfc6749_errors() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = gateway(&upstream).await;
    let pair = issue(&gateway, "bob", &["user"]).await;
    let rt = pair["refresh_token"].as_str().unwrap();
    for (body, code) in [
        ("refresh_token=x", "invalid_request"),
        ("grant_type=password&username=a&password=b", "unsupported_grant_type"),
        ("grant_type=authorization_code&code=x", "unsupported_grant_type"),
        ("grant_type=refresh_token", "invalid_request"),
        ("grant_type=refresh_token&refresh_token=", "invalid_request"),
        (
            &format!("grant_type=refresh_token&refresh_token={rt}&refresh_token={rt}") as &str,
            "invalid_request",
        ),
        ("grant_type=refresh_token&refresh_token=rt_unknown", "invalid_grant"),
    ] {
        let answer = token_request(&gateway, body).await;
        assert_oauth_error(&answer, 400, code);
    }
    // A JSON body is not a token request.
    let request = http::Request::builder()
        .method("POST")
        .uri(gateway.url("/oauth/token"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(format!(
            r#"{{"grant_type":"refresh_token","refresh_token":"{rt}"}}"#
        ))))
        .unwrap();
    assert_oauth_error(&gateway.call(request).await, 400, "invalid_request");
    // GET is not allowed.
    let get = http::Request::builder()
        .uri(gateway.url("/oauth/token"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    assert_eq!(gateway.call(get).await.status, 405);
    // None of those spent the token, and none reached the upstream.
    assert_eq!(refresh(&gateway, rt).await.status, 200);
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn fifty_concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let upstream = mock::start(mock::ok_json).await;
    race(Arc::new(gateway(&upstream).await), "embedded").await;
}

#[tokio::test]
async fn fifty_concurrent_refreshes_through_redis_have_exactly_one_winner() {
    let redis = crate::harness::redis::Redis::start().await;
    let upstream = mock::start(mock::ok_json).await;
    let state = format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"{}\"\nredis_timeout = \"500ms\"\n",
        redis.url()
    );
    let gateway = GatewayConfig::new(&upstream.url("/mcp"))
        .with_jwt()
        .with_tables(&state)
        .start()
        .await;
    race(Arc::new(gateway), "redis").await;
}

/// 50 refreshes of one token at once: one rotation, 49 reuses that kill the family.
async fn race(gateway: Arc<TestGateway>, backend: &str) {
    let pair = issue(&gateway, "carol", &["user"]).await;
    let rt = pair["refresh_token"].as_str().unwrap().to_string();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (gateway, rt) = (Arc::clone(&gateway), rt.clone());
        tasks.spawn(async move { refresh(&gateway, &rt).await });
    }
    let (mut won, mut refused) = (Vec::new(), 0);
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap();
        match answer.status.as_u16() {
            200 => won.push(answer.json()),
            400 => {
                assert_eq!(answer.json()["error"], "invalid_grant");
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", answer.text()),
        }
    }
    eprintln!(
        "{backend}: 50 concurrent refreshes: {} succeeded, {refused} got invalid_grant",
        won.len()
    );
    assert_eq!((won.len(), refused), (1, 49));
    // The refreshes that came after the rotation were reuse: the whole family is dead,
    // the winner's new tokens included.
    let winner = &won[0];
    assert_eq!(
        refresh(&gateway, winner["refresh_token"].as_str().unwrap())
            .await
            .status,
        400
    );
    assert_eq!(
        ping(&gateway, winner["access_token"].as_str().unwrap()).await.status,
        401
    );
}
