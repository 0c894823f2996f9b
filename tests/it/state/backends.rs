//! The state backends: Redis (a real `redis-server` spawned on a free port with a temp dir, so
//! the tests can kill and restart it) shared by two gateway replicas, each `on_unavailable`
//! mode while it is down, session bindings surviving a gateway restart; the embedded store
//! keeping session bindings across a `kill -9` of the real binary.

use std::process::Stdio;
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::harness::mock;
use crate::harness::process::{self, fixed_ports};
use crate::harness::redis::Redis;
use crate::harness::{Answer, GatewayConfig, TestGateway, free_port, mcp_post, token, wait_for_port, with_body};

/// A protected gateway on `/mcp` → `upstream_url` with the given `[state]` and `[rate_limits]`.
async fn gateway(upstream_url: &str, state: &str, limits: &str) -> TestGateway {
    GatewayConfig::new(upstream_url)
        .with_jwt()
        .with_tables(&format!("[state]\n{state}\n\n[rate_limits]\n{limits}"))
        .start()
        .await
}

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

async fn ping(gateway: &TestGateway, token: &str, session: Option<&str>) -> Answer {
    let mut builder = mcp_post(&gateway.url("/mcp"), PING).header("authorization", format!("Bearer {token}"));
    if let Some(session) = session {
        builder = builder.header("mcp-session-id", session);
    }
    gateway.call(with_body(builder, PING)).await
}

#[tokio::test]
async fn two_replicas_share_one_exact_limit_through_redis() {
    let redis = Redis::start().await;
    let upstream = mock::start(mock::ok_json).await;
    let state = format!(
        "backend = \"redis\"\nredis_url = \"{}\"\nredis_timeout = \"500ms\"",
        redis.url()
    );
    let limits = "[rate_limits.roles]\nuser = { capacity = 50, refill_per_sec = 0 }";
    let a = std::sync::Arc::new(gateway(&upstream.url("/mcp"), &state, limits).await);
    let b = std::sync::Arc::new(gateway(&upstream.url("/mcp"), &state, limits).await);
    let alice = token("alice", &["user"]);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let gateway = std::sync::Arc::clone(if i % 2 == 0 { &a } else { &b });
        let alice = alice.clone();
        tasks.spawn(async move { ping(&gateway, &alice, None).await.json() });
    }
    let (mut granted, mut limited) = (0, 0);
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap();
        if answer.get("result").is_some() {
            granted += 1;
        } else {
            assert_eq!(answer["error"]["code"], -31429, "{answer}");
            limited += 1;
        }
    }
    assert_eq!((granted, limited, upstream.count()), (50, 150, 50));
    assert!(
        redis.keys().await.iter().any(|k| k.starts_with("{portcullis}:p:")),
        "buckets live in Redis"
    );
}

#[tokio::test]
async fn redis_down_each_mode_behaves_as_documented_and_recovers() {
    let mut redis = Redis::start().await;
    let upstream = mock::start(mock::ok_json).await;
    let limits = "[rate_limits.roles]\nuser = { capacity = 3, refill_per_sec = 0 }";
    let mut gateways = Vec::new();
    for mode in ["local", "deny", "allow"] {
        let state = format!(
            "backend = \"redis\"\nredis_url = \"{}\"\nredis_timeout = \"200ms\"\non_unavailable = \"{mode}\"",
            redis.url()
        );
        gateways.push((mode, gateway(&upstream.url("/mcp"), &state, limits).await));
    }
    // Up: every mode shares the Redis bucket of 3 for alice.
    let alice = token("alice", &["user"]);
    let statuses: Vec<bool> = {
        let mut out = Vec::new();
        for i in 0..4 {
            let (_, gateway) = &gateways[i % 3];
            out.push(ping(gateway, &alice, None).await.json().get("result").is_some());
        }
        out
    };
    assert_eq!(statuses, [true, true, true, false]);

    redis.kill().await;
    let bob = token("bob", &["user"]);
    for (mode, gateway) in &gateways {
        let mut outcomes = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let answer = ping(gateway, &bob, None).await;
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{mode}: no hang past the timeout"
            );
            outcomes.push(match (answer.status, answer.json()["error"]["code"].as_i64()) {
                (StatusCode::OK, None) => "ok",
                (StatusCode::OK, Some(-31429)) => "limited",
                (StatusCode::SERVICE_UNAVAILABLE, Some(-31503)) => "unavailable",
                other => panic!("{mode}: {other:?}"),
            });
        }
        let expected: &[&str] = match *mode {
            // This replica's own bucket of 3 takes over.
            "local" => &["ok", "ok", "ok", "limited", "limited"],
            "deny" => &["unavailable"; 5],
            _ => &["ok"; 5],
        };
        assert_eq!(outcomes, expected, "{mode}");
    }

    // Counted and audited.
    let (_, local) = &gateways[0];
    let metrics = local
        .call(crate::harness::empty(
            http::Request::get(local.admin_url("/metrics")).header("authorization", "Bearer admin-token-0123456789"),
        ))
        .await
        .text();
    assert!(
        metrics.contains("portcullis_ratelimit_backend_unavailable_total{mode=\"local\"} 5"),
        "{metrics}"
    );
    let events = local.audit_events(1).await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "ratelimit_backend_unavailable" && e["decision"] == "local")
    );

    // Back up (empty): shared limiting resumes once the circuit closes and fred reconnects.
    redis.restart().await;
    let carol = token("carol", &["user"]);
    let mut resumed = false;
    for _ in 0..50 {
        ping(local, &carol, None).await;
        if redis.keys().await.iter().any(|k| k.contains("p:jwt:carol")) {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(resumed, "buckets are decided in Redis again");
}

#[tokio::test]
async fn sessions_in_redis_survive_a_gateway_restart() {
    let redis = Redis::start().await;
    let upstream = mock::session_upstream().await;
    let state = format!(
        "backend = \"redis\"\nredis_url = \"{}\"\nredis_timeout = \"500ms\"",
        redis.url()
    );
    let alice = token("alice", &["user"]);
    {
        let first = gateway(&upstream.url("/mcp"), &state, "").await;
        let init = ping(&first, &alice, None).await;
        assert_eq!(init.status, StatusCode::OK);
        // `ping` is not `initialize`: nothing bound yet.
        assert_eq!(ping(&first, &alice, Some("sess-1")).await.status, StatusCode::NOT_FOUND);
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
        let request = mcp_post(&first.url("/mcp"), body).header("authorization", format!("Bearer {alice}"));
        assert_eq!(
            first.call(with_body(request, body)).await.headers["mcp-session-id"],
            "sess-1"
        );
        assert_eq!(ping(&first, &alice, Some("sess-1")).await.status, StatusCode::OK);
    }
    let second = gateway(&upstream.url("/mcp"), &state, "").await;
    assert_eq!(
        ping(&second, &alice, Some("sess-1")).await.status,
        StatusCode::OK,
        "binding kept in Redis"
    );
    let mallory = token("mallory", &["user"]);
    assert_eq!(
        ping(&second, &mallory, Some("sess-1")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn embedded_session_bindings_survive_kill_9() {
    let upstream = mock::session_upstream().await;
    let gateway_config = GatewayConfig::new(&upstream.url("/mcp")).with_jwt();
    let (port, admin) = (free_port(), free_port());
    let state = format!("[state]\npath = \"{}\"", gateway_config.path().join("state").display());
    let gateway_config = gateway_config.with_tables(&state);
    let text = fixed_ports(&gateway_config.text(), port, admin);
    let config = gateway_config.path().join("gateway.toml");
    std::fs::write(&config, text).unwrap();
    let spawn = || process::spawn(&["run"], &config, Stdio::null(), &[]);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let alice = token("alice", &["user"]);
    let send = |body: &'static str, session: bool| {
        let mut builder =
            mcp_post(&format!("http://127.0.0.1:{port}/mcp"), body).header("authorization", format!("Bearer {alice}"));
        if session {
            builder = builder.header("mcp-session-id", "sess-1");
        }
        let client = client.clone();
        let request = with_body(builder, body);
        async move { client.request(request).await.map(|r| r.status()) }
    };
    let mut first = spawn();
    wait_for_port(port).await;
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    assert_eq!(send(init, false).await.unwrap(), StatusCode::OK);
    assert_eq!(send(PING, true).await.unwrap(), StatusCode::OK);
    // The write is committed off the request path; give it a moment, then crash hard.
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let _second = spawn();
    wait_for_port(port).await;
    assert_eq!(
        send(PING, true).await.unwrap(),
        StatusCode::OK,
        "binding survived kill -9"
    );
    let mut unknown =
        mcp_post(&format!("http://127.0.0.1:{port}/mcp"), PING).header("authorization", format!("Bearer {alice}"));
    unknown = unknown.header("mcp-session-id", "sess-2");
    assert_eq!(
        client.request(with_body(unknown, PING)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn redis_counts_batch_elements_client_ips_and_refused_credentials() {
    let redis = Redis::start().await;
    let upstream = mock::start(mock::ok_json).await;
    let extra = format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"{}\"\nredis_timeout = \"500ms\"\n\
         \n[rate_limits]\nip = {{ capacity = 6, refill_per_sec = 0.01 }}\n\
         [[rate_limits.tools]]\ntool = \"write_file\"\ncapacity = 3\nrefill_per_sec = 0.01\n",
        redis.url()
    );
    let gateway = GatewayConfig::new(&upstream.url("/mcp"))
        .with_jwt()
        .with_upstream_keys("allow_batches = true")
        .with_tables(&extra)
        .start()
        .await;
    let alice = token("alice", &["user"]);
    let post = |body: String, bearer: String| {
        let request = mcp_post(&gateway.url("/mcp"), &body).header("authorization", format!("Bearer {bearer}"));
        gateway.call(with_body(request, &body))
    };
    let write = |n: usize| {
        let calls: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"write_file","arguments":{{}}}}}}"#))
            .collect();
        format!("[{}]", calls.join(","))
    };
    // Five calls of one tool in one batch cost five tokens of its bucket of 3: refused whole.
    let refused = post(write(5), alice.clone()).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.text());
    assert_eq!(upstream.count(), 0);
    assert_eq!(post(write(2), alice.clone()).await.status, StatusCode::OK);
    // The client IP's bucket (6, one taken): five more requests, then 429 whatever the body.
    for _ in 0..5 {
        assert_eq!(post(PING.to_string(), alice.clone()).await.status, StatusCode::OK);
    }
    let limited = post(PING.to_string(), alice.clone()).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["ratelimit-policy"], "\"ip\";q=6;w=600");
    assert_eq!(upstream.count(), 1 + 5);

    // Refused credentials block the IP for every replica through Redis.
    let state = format!(
        "backend = \"redis\"\nredis_url = \"{}\"\nkey_prefix = \"{{other}}:\"",
        redis.url()
    );
    let limits = "auth_failures = { max = 2, window = \"1m\", block = \"5m\" }";
    let first = self::gateway(&upstream.url("/mcp"), &state, limits).await;
    let second = self::gateway(&upstream.url("/mcp"), &state, limits).await;
    assert_eq!(ping(&first, "not-a-token", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        ping(&second, "still-not-a-token", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let blocked = ping(&first, &alice, None).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = blocked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((295..=300).contains(&wait), "{wait}");
    assert_eq!(ping(&second, &alice, None).await.status, StatusCode::TOO_MANY_REQUESTS);
}
