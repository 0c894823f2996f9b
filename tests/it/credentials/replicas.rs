//! Two gateway replicas sharing one real `redis-server` (AOF on): a revocation made on A is
//! enforced on B within a second (measured and printed), a family reused on A is dead on B,
//! a key created through A works on B, a rotation's grace holds on both; with Redis down past
//! `revocation_max_staleness` gateway-issued tokens get 503 on both while API keys follow each
//! replica's `when_state_stale`; with Redis back, service resumes and nothing is lost.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::lifecycle::{ADMIN_TOKEN, admin, create_key, issue, ping, refresh};
use crate::harness::redis::Redis;
use crate::harness::{Answer, GatewayConfig, TestGateway, assert_jsonrpc_error, mock};

async fn replica(upstream: &mock::Mock, redis: &Redis, keys_when_stale: &str) -> TestGateway {
    let state = format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"{}\"\nredis_timeout = \"200ms\"\nrevocation_max_staleness = \"2s\"\n\n\
         [auth.api_keys]\nwhen_state_stale = \"{keys_when_stale}\"\n",
        redis.url()
    );
    GatewayConfig::new(&upstream.url("/mcp"))
        .with_jwt()
        .with_tables(&state)
        .start()
        .await
}

/// Polls `gateway` with `credential` every 10 ms until the status is `want` (at most `limit`);
/// the time it took.
async fn until_status(gateway: &TestGateway, credential: &str, want: u16, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ping(gateway, credential).await.status.as_u16() == want {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

fn str_of<'v>(value: &'v serde_json::Value, field: &str) -> &'v str {
    value[field].as_str().unwrap_or_else(|| panic!("{field} in {value}"))
}

fn claim(token: &str, name: &str) -> String {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&payload).unwrap()[name]
        .as_str()
        .unwrap()
        .to_string()
}

fn assert_unavailable(answer: &Answer) {
    assert_jsonrpc_error(answer, 503, -31503, serde_json::Value::Null);
}

#[tokio::test]
async fn two_replicas_share_revocations_families_and_keys_through_redis() {
    let mut redis = Redis::start_persistent().await;
    let upstream = mock::start(mock::ok_json).await;
    let a = replica(&upstream, &redis, "accept").await;
    let b = replica(&upstream, &redis, "refuse").await;

    // A revocation made on A is enforced on B within a second.
    let doomed = issue(&a, "alice", &["user"]).await;
    let doomed_access = str_of(&doomed, "access_token");
    assert_eq!(ping(&b, doomed_access).await.status, 200);
    let (status, _) = admin(
        &a,
        "POST",
        "/admin/revocations",
        Some(json!({ "jti": claim(doomed_access, "jti") })),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, 201);
    let took = until_status(&b, doomed_access, 401, Duration::from_secs(1)).await;
    eprintln!("revoked on A, refused on B after {took:?}");
    assert!(took.is_some(), "B refuses A's revocation within 1 s");

    // A family reused on A is dead on B, access and refresh tokens alike.
    let login = issue(&a, "bob", &["user"]).await;
    let rotated = refresh(&a, str_of(&login, "refresh_token")).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let rotated = rotated.json();
    assert_eq!(ping(&b, str_of(&rotated, "access_token")).await.status, 200);
    assert_eq!(refresh(&a, str_of(&login, "refresh_token")).await.status, 400, "reuse");
    let took = until_status(&b, str_of(&rotated, "access_token"), 401, Duration::from_secs(1)).await;
    eprintln!("family reused on A, its access token refused on B after {took:?}");
    assert!(took.is_some());
    let on_b = refresh(&b, str_of(&rotated, "refresh_token")).await;
    assert_eq!(
        (on_b.status.as_u16(), on_b.json()["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A key created through A's admin API works on B; a rotation through B keeps the old key
    // for its grace on both replicas.
    let created = create_key(&a, "svc:shared", &["user"]).await;
    let key = str_of(&created, "key");
    let took = until_status(&b, key, 200, Duration::from_secs(1)).await;
    eprintln!("key created on A, accepted on B after {took:?}");
    assert!(took.is_some());
    let (status, rotation) = admin(
        &b,
        "POST",
        &format!("/admin/keys/{}/rotate", str_of(&created, "id")),
        Some(json!({ "grace": "3s" })),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, 201, "{rotation}");
    let new_key = str_of(&rotation, "key");
    assert!(until_status(&a, new_key, 200, Duration::from_secs(1)).await.is_some());
    for replica in [&a, &b] {
        assert_eq!(ping(replica, key).await.status, 200, "old key inside the grace");
    }
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    for replica in [&a, &b] {
        assert_eq!(ping(replica, key).await.status, 401, "old key after the grace");
        assert_eq!(ping(replica, new_key).await.status, 200);
    }

    // The CLI writes Redis directly (no gateway in between): both replicas hear of it.
    let config = Some(a.config_path.as_path());
    let out = crate::harness::process::output(
        &["keys", "create", "--subject", "svc:cli", "--role", "user", "--json"],
        config,
    )
    .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli_key: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for replica in [&a, &b] {
        assert!(
            until_status(replica, str_of(&cli_key, "key"), 200, Duration::from_secs(1))
                .await
                .is_some()
        );
    }
    let out =
        crate::harness::process::output(&["token", "issue", "--sub", "cli", "--role", "user", "--json"], config).await;
    let cli_token: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        refresh(&b, str_of(&cli_token, "refresh_token")).await.status,
        200,
        "its family is in Redis"
    );

    // Redis down past revocation_max_staleness: gateway-issued tokens fail closed on both;
    // the dynamic key is accepted on A (`accept`) and refused on B (`refuse`).
    let live = issue(&a, "carol", &["user"]).await;
    let live_access = str_of(&live, "access_token");
    redis.kill().await;
    let start = Instant::now();
    for replica in [&a, &b] {
        let took = until_status(replica, live_access, 503, Duration::from_secs(6)).await;
        assert!(took.is_some(), "503 once revocations go stale");
    }
    eprintln!(
        "Redis down: gateway-issued tokens refused (503) after {:?}",
        start.elapsed()
    );
    // The last confirmation came at most one poll (2 s / 3) before the kill.
    assert!(
        start.elapsed() >= Duration::from_millis(1_200),
        "not before the staleness bound"
    );
    let before = upstream.count();
    for replica in [&a, &b] {
        assert_unavailable(&ping(replica, live_access).await);
    }
    assert_unavailable(&ping(&b, new_key).await);
    assert_eq!(upstream.count(), before, "nothing refused reached the upstream");
    assert_eq!(ping(&a, new_key).await.status, 200, "A accepts known keys while stale");
    let (status, ready) = admin(&a, "GET", "/readyz", None, ADMIN_TOKEN).await;
    assert_eq!(
        (status, &ready["state"]["credentials_fresh"]),
        (200, &json!(false)),
        "{ready}"
    );
    let forwarded = upstream.count();

    // Redis back: service resumes on both, and nothing is lost.
    redis.restart().await;
    for replica in [&a, &b] {
        let took = until_status(replica, live_access, 200, Duration::from_secs(10)).await;
        assert!(took.is_some(), "service resumes once Redis answers");
        assert_eq!(ping(replica, new_key).await.status, 200, "the key survived");
        assert_eq!(
            ping(replica, doomed_access).await.status,
            401,
            "the revocation survived"
        );
        assert_eq!(
            ping(replica, str_of(&rotated, "access_token")).await.status,
            401,
            "the dead family too"
        );
    }
    assert!(upstream.count() > forwarded);
    let resumed = refresh(&b, str_of(&live, "refresh_token")).await;
    assert_eq!(resumed.status, 200, "the family survived: {}", resumed.text());
    let (_, keys) = admin(&b, "GET", "/admin/keys", None, ADMIN_TOKEN).await;
    assert_eq!(keys.as_array().map(Vec::len), Some(3), "every key survived: {keys}");
    let (_, revocations) = admin(&b, "GET", "/admin/revocations", None, ADMIN_TOKEN).await;
    assert_eq!(
        revocations.as_array().map(Vec::len),
        Some(2),
        "jti + family: {revocations}"
    );
}
