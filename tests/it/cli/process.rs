//! The real binary: `run` drains in-flight requests on SIGTERM and reloads on SIGHUP;
//! `check` and `config schema` behave as documented.

use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt as _;
use tokio::process::Command;

use crate::harness::mock::{self, Reply};
use crate::harness::process::{self, signal};
use crate::harness::{GatewayConfig, free_port, mcp_post, with_body};

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_sighup_reloads() {
    let chunks = vec![
        (Duration::from_millis(0), Bytes::from_static(b"id: 1\ndata: \n\n")),
        (
            Duration::from_millis(800),
            Bytes::from_static(b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"),
        ),
    ];
    let upstream = mock::start(move |_| Reply::Sse {
        chunks: chunks.clone(),
        hold: false,
    })
    .await;
    let config = GatewayConfig::new(&upstream.url("/mcp")).with_timeouts("");
    let (port, admin_port) = (free_port(), free_port());
    let path = config.write_for_binary(port, admin_port);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut child = process::spawn(&["run"], &path, Stdio::null(), &[]);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let ready = format!("http://127.0.0.1:{admin_port}/readyz");
    assert!(process::ready(admin_port).await, "gateway ready");
    let pid = child.id().unwrap();

    // SIGHUP with a broken file keeps serving; with a fixed file bumps the generation.
    std::fs::write(&path, text.replace("[audit]", "[audit]\nnope = 1")).unwrap();
    signal(pid, "HUP").await;
    let metrics = format!("http://127.0.0.1:{admin_port}/metrics");
    let mut refused = false;
    for _ in 0..100 {
        let request = http::Request::get(&metrics)
            .header("authorization", "Bearer admin-token-0123456789")
            .body(http_body_util::Full::new(Bytes::new()))
            .unwrap();
        let body = client
            .request(request)
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes();
        refused = String::from_utf8_lossy(&body).contains("portcullis_config_reloads_total{result=\"invalid\"} 1");
        if refused {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the broken file was refused");
    std::fs::write(&path, &text).unwrap();
    signal(pid, "HUP").await;
    let mut generation = 0;
    for _ in 0..100 {
        let response = client.get(ready.parse().unwrap()).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        generation = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["generation"]
            .as_u64()
            .unwrap();
        if generation == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(generation, 2, "one good reload, one refused");

    // An in-flight streamed request survives SIGTERM; the process then exits 0.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}"#;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let response = client.request(with_body(mcp_post(&url, body), body)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let started = Instant::now();
    signal(pid, "TERM").await;
    let rest = tokio::time::timeout(Duration::from_secs(5), response.into_body().collect())
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&rest.to_bytes()).into_owned();
    assert!(
        text.contains("\"result\""),
        "in-flight response completed during drain: {text}"
    );
    assert!(started.elapsed() >= Duration::from_millis(700));
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn check_reports_errors_with_key_paths_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nlisten = \"127.0.0.1:8080\"\nmax_body_byte = 10\n").unwrap();
    let output = process::output(&["check"], Some(&bad)).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`server.max_body_byte`"), "{stderr}");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.toml");
    let output = process::output(&["check"], Some(std::path::Path::new(shipped))).await;
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("/mcp"));
    let output = process::output(&["config", "schema"], None).await;
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(schema["properties"]["upstreams"].is_object(), "{schema}");
    let output = Command::new(process::BIN)
        .arg("run")
        .env("PORTCULLIS_CONFIG", dir.path().join("missing.toml"))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.toml"));
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = crate::harness::TestGateway::start(&upstream.url("/mcp")).await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let response = client
        .request(with_body(mcp_post(&gateway.url("/mcp"), body), body))
        .await
        .unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.count(), 1);
    assert_eq!(&upstream.last().body[..], body.as_bytes());
}

#[tokio::test]
async fn drain_closes_streams_still_open_after_the_grace_period() {
    let chunks = vec![(Duration::ZERO, Bytes::from_static(b"id: 1\ndata: \n\n"))];
    let upstream = mock::start(move |_| Reply::Sse {
        chunks: chunks.clone(),
        hold: true,
    })
    .await;
    let gateway = crate::harness::TestGateway::start(&upstream.url("/mcp")).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"forever"}}"#;
    let response = gateway
        .send(with_body(mcp_post(&gateway.url("/mcp"), body), body))
        .await;
    let mut stream = response.into_body();
    let first = stream.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    let started = Instant::now();
    let crate::harness::TestGateway { running, .. } = gateway;
    tokio::time::timeout(Duration::from_secs(5), running.shutdown())
        .await
        .expect("shutdown finished");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for the 1 s grace period"
    );
    // The body ends (cleanly or cut off): either way it does not hang.
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.collect())
        .await
        .expect("client stream ended");
    assert!(upstream.saw_cancel().await, "the upstream stream was closed too");
}

#[tokio::test]
async fn check_reports_certificates_and_warns_before_expiry() {
    let ca = crate::harness::certs::Ca::new("check CA");
    let leaf = ca.server_expiring(5);
    let dir = tempfile::tempdir().unwrap();
    let cert = crate::harness::certs::write(dir.path(), "gw.pem", &leaf.cert);
    let key = crate::harness::certs::write(dir.path(), "gw-key.pem", &leaf.key);
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:8443\"\n[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let path = crate::harness::certs::write(dir.path(), "gateway.toml", &config);
    let output = process::output(&["check"], Some(&path)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("CN=soon-expiring"), "{stdout}");
    assert!(stdout.contains("mcp.example.test"), "{stdout}");
    assert!(stdout.contains("(4 days)") || stdout.contains("(5 days)"), "{stdout}");
    assert!(
        stdout.contains("WARNING") && stdout.contains("expires within 14 days"),
        "{stdout}"
    );
    // A key that does not belong to the certificate is a config error naming the key.
    let other = ca.server_expiring(30);
    std::fs::write(&key, &other.key).unwrap();
    let output = process::output(&["check"], Some(&path)).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("`server.tls.key`"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn credentials_never_reach_the_logs() {
    let upstream = mock::start(mock::ok_json).await;
    let (port, admin_port) = (free_port(), free_port());
    let key = portcullis::auth::api_key::generate();
    let config = GatewayConfig::new(&upstream.url("/mcp")).with_timeouts("").protected();
    let config = config.with_tables(&format!(
        "[auth.jwt]\n[[auth.jwt.keys]]\nkid = \"k1\"\nalg = \"HS256\"\nsecret = \"log-secret-0123456789abcdef0123456789\"\n\
         [auth.api_keys]\n[[auth.api_keys.static]]\nid = \"k\"\nhash = \"{}\"\nsubject = \"svc\"\n",
        portcullis::auth::api_key::hash(&key)
    ));
    let path = config.write_for_binary(port, admin_port);
    let dir = &config.dir;
    let issued = process::output(&["token", "issue", "--sub", "alice", "--role", "user"], Some(&path)).await;
    let tokens: serde_json::Value = serde_json::from_slice(&issued.stdout).unwrap();
    let jwt = tokens["access_token"].as_str().unwrap().to_string();
    let log = dir.path().join("stderr.log");
    let mut child = process::spawn(
        &["run", "--log-format", "json"],
        &path,
        std::fs::File::create(&log).unwrap().into(),
        &[("RUST_LOG", "trace")],
    );
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let mut served = Vec::new();
    for credential in [
        format!("Bearer {jwt}"),
        format!("Bearer {key}"),
        format!("Bearer {jwt}x"),
        "Bearer mcp_wrong".into(),
    ] {
        let mut status = None;
        for _ in 0..100 {
            let request = mcp_post(&url, body).header("authorization", &credential);
            if let Ok(response) = client.request(with_body(request, body)).await {
                status = Some(response.status());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        served.push(status);
    }
    assert_eq!(
        served,
        vec![
            Some(StatusCode::OK),
            Some(StatusCode::OK),
            Some(StatusCode::UNAUTHORIZED),
            Some(StatusCode::UNAUTHORIZED)
        ]
    );
    signal(child.id().unwrap(), "TERM").await;
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let logs = std::fs::read_to_string(&log).unwrap()
        + &std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap_or_default();
    assert!(logs.len() > 1000, "trace logging was on");
    let signature = jwt.rsplit('.').next().unwrap();
    assert!(
        !logs.contains(signature) && !logs.contains(&key),
        "a credential reached the logs"
    );
    assert!(
        upstream
            .received
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.headers.get("authorization").is_none())
    );
}

#[tokio::test]
async fn dev_mode_serves_the_sample_tools_with_printed_credentials() {
    let (port, admin_port) = (free_port(), free_port());
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(process::BIN)
        .args([
            "dev",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--admin",
            &format!("127.0.0.1:{admin_port}"),
        ])
        .stdout(out.reopen().unwrap())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut banner = String::new();
    for _ in 0..100 {
        banner = std::fs::read_to_string(out.path()).unwrap_or_default();
        if banner.contains("Ctrl-C stops") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let credential = |label: &str| {
        let line = banner
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("{label} in {banner}"));
        line.split_whitespace().nth(1).unwrap().to_string()
    };
    let (user, admin) = (credential("user "), credential("admin "));
    let key = banner
        .lines()
        .find(|l| l.trim().starts_with("mcp_"))
        .unwrap()
        .trim()
        .to_string();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let call = |header: &'static str, value: String, body: &'static str| {
        let request = with_body(mcp_post(&url, body).header(header, value), body);
        let client = client.clone();
        async move {
            let response = client.request(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    // The demo ships the seed's permission map: a user sees only the tools its role grants.
    let (status, body) = call("authorization", format!("Bearer {user}"), list).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names = |body: &str| -> Vec<String> {
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        value["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&body), ["get_weather", "read_file"], "{body}");
    let (status, body) = call("authorization", format!("Bearer {admin}"), list).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        names(&body),
        [
            "get_weather",
            "set_weather",
            "read_file",
            "write_file",
            "delete_file",
            "list_users"
        ],
        "{body}"
    );
    let delete = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/srv/data/a"}}}"#;
    let (status, body) = call("authorization", format!("Bearer {user}"), delete).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"jsonrpc":"2.0","id":3,"error":{"code":-31403,"message":"Permission 'files:delete' required","data":{"permission":"files:delete","reason":"permission_required"}}}"#
    );
    let weather =
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Oslo"}}}"#;
    let (status, body) = call("x-api-key", key, weather).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Oslo"), "{body}");
    assert_eq!(
        call("authorization", format!("Bearer {admin}"), weather).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call("authorization", "Bearer nope".into(), weather).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(banner.contains("premium") && banner.contains("guest") && banner.contains("mcpServers"));
    signal(child.id().unwrap(), "TERM").await;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}
