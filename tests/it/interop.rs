//! Interop with real, unmodified MCP software: the Python `mcp` SDK (server and client, both
//! protocol eras and the legacy HTTP+SSE transport) and the TypeScript SDK client against
//! `@modelcontextprotocol/server-everything`. Each client runs directly against its server and
//! through the gateway; the results must be identical. `scripts/setup-interop.sh` (run by the
//! test command) installs them.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::harness::{TestGateway, free_port};

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn require(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup-interop.sh (the README's test command does)",
        path.display()
    );
    path
}

pub fn python() -> PathBuf {
    require(interop_dir().join(".venv/bin/python"))
}

fn everything() -> PathBuf {
    require(interop_dir().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js"))
}

/// A spawned server, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on port {port} did not come up within 10 s");
}

fn base_command(program: &std::path::Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

pub async fn python_server(mode: &str) -> Server {
    python_server_with(&[mode], &[]).await
}

/// The Python fixture with options (`streamable-http paged json`) and environment
/// (`PY_SERVER_CALL_LOG`).
pub async fn python_server_with(args: &[&str], envs: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut command = base_command(&python());
    command
        .arg(interop_dir().join("py_server.py"))
        .arg(port.to_string())
        .args(args)
        .envs(envs.iter().copied())
        .env("PY_SERVER_LOG_LEVEL", "WARNING");
    let server = Server {
        child: command.spawn().unwrap(),
        port,
    };
    wait_for_port(port).await;
    server
}

async fn everything_server(mode: &str) -> Server {
    let port = free_port();
    let mut command = base_command(std::path::Path::new("node"));
    command
        .arg("--require")
        .arg(interop_dir().join("force-loopback.cjs"))
        .arg(everything())
        .arg(mode)
        .env("PORT", port.to_string());
    let server = Server {
        child: command.spawn().unwrap(),
        port,
    };
    wait_for_port(port).await;
    server
}

/// Runs a client script; returns its one JSON line.
async fn run_client(program: &std::path::Path, script: &str, url: &str, mode: &str) -> Value {
    run_client_with(program, script, url, mode, &[]).await
}

/// Same, with extra environment variables (custom CA, client certificate).
pub async fn run_client_with(
    program: &std::path::Path,
    script: &str,
    url: &str,
    mode: &str,
    env: &[(&str, String)],
) -> Value {
    let mut command = base_command(program);
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command
        .arg(interop_dir().join(script))
        .arg(url)
        .arg(mode)
        .env("MCP_CLIENT_TIMEOUT", "30")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("client finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} {mode} against {url} failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {stdout}"))
}

pub fn py_expected(protocol: &str) -> Value {
    serde_json::json!({
        "protocol": protocol,
        "tools": ["add", "delete_file", "echo", "get_weather", "list_users", "read_file", "set_weather", "slow_count", "write_file"],
        "add": "5",
        "progress": [1, 2, 3],
        "slow_count": "counted to 3"
    })
}

#[tokio::test]
async fn python_client_both_eras_through_the_gateway_as_directly() {
    let server = python_server("streamable-http").await;
    let direct = format!("http://127.0.0.1:{}/mcp", server.port);
    let gateway = TestGateway::start_full(&direct, "", "", "").await;
    for (mode, protocol) in [("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")] {
        let straight = run_client(&python(), "py_client.py", &direct, mode).await;
        let proxied = run_client(&python(), "py_client.py", &gateway.url("/mcp"), mode).await;
        assert_eq!(straight, py_expected(protocol), "direct {mode}");
        assert_eq!(proxied, straight, "through the gateway, {mode}");
    }
    let events = gateway.audit_events(8).await;
    assert!(events.iter().any(|e| e["jsonrpc_method"] == "initialize"));
    assert!(events.iter().any(|e| e["target"] == "slow_count"));
    assert!(
        events
            .iter()
            .all(|e| e["reason"] == "ok" || e["reason"] == "client_disconnected"),
        "{events:?}"
    );
}

#[tokio::test]
async fn python_client_over_legacy_http_sse_through_the_gateway() {
    let server = python_server("sse").await;
    let direct = format!("http://127.0.0.1:{}/sse", server.port);
    let gateway = TestGateway::start_full(&direct, "", "", "").await;
    let straight = run_client(&python(), "py_client.py", &direct, "sse").await;
    let proxied = run_client(&python(), "py_client.py", &gateway.url("/mcp"), "sse").await;
    assert_eq!(straight, py_expected("2025-11-25"));
    assert_eq!(proxied, straight);
}

fn ts_comparable(mut result: Value) -> Value {
    // The TS SDK itself drops the last progress notification in SSE mode (a client race); what
    // arrived on the wire is `progress_wire`.
    if let Some(object) = result.as_object_mut() {
        object.remove("progress");
    }
    result
}

#[tokio::test]
async fn typescript_client_against_server_everything_streamable_http() {
    let server = everything_server("streamableHttp").await;
    let direct = format!("http://127.0.0.1:{}/mcp", server.port);
    let gateway = TestGateway::start_full(&direct, "", "", "").await;
    let straight = run_client(std::path::Path::new("node"), "ts_client.mjs", &direct, "streamableHttp").await;
    let proxied = run_client(
        std::path::Path::new("node"),
        "ts_client.mjs",
        &gateway.url("/mcp"),
        "streamableHttp",
    )
    .await;
    assert_eq!(straight["tools"].as_array().map(Vec::len), Some(13), "{straight}");
    assert_eq!(straight["echo"], "Echo: hi");
    assert_eq!(straight["progress_wire"], serde_json::json!([1, 2, 3]));
    assert_eq!(proxied, straight, "through the gateway");
}

#[tokio::test]
async fn typescript_client_against_server_everything_legacy_sse() {
    let server = everything_server("sse").await;
    let direct = format!("http://127.0.0.1:{}/sse", server.port);
    let gateway = TestGateway::start_full(&direct, "", "", "").await;
    let straight = run_client(std::path::Path::new("node"), "ts_client.mjs", &direct, "sse").await;
    let proxied = run_client(
        std::path::Path::new("node"),
        "ts_client.mjs",
        &gateway.url("/mcp"),
        "sse",
    )
    .await;
    assert_eq!(straight["progress_wire"], serde_json::json!([1, 2, 3]), "{straight}");
    assert_eq!(ts_comparable(proxied), ts_comparable(straight));
}

/// Config for a protected route in front of `upstream`, with an HS256 key and one API key.
fn protected_config(upstream: &str, api_key: &str, audit: &std::path::Path) -> String {
    let mut text = crate::harness::config_text(upstream, "", "", &audit.display().to_string(), "")
        .replace("auth = \"none\"", "auth = \"required\"");
    text.push_str(&format!(
        "\n[auth.jwt]\n[[auth.jwt.keys]]\nkid = \"k1\"\nalg = \"HS256\"\nsecret = \"interop-secret-0123456789abcdef01234\"\n\
         [auth.api_keys]\n[[auth.api_keys.static]]\nid = \"interop\"\nhash = \"{}\"\nsubject = \"svc:interop\"\n",
        portcullis::auth::api_key::hash(api_key)
    ));
    text
}

#[tokio::test]
async fn real_clients_with_bearer_tokens_and_api_keys() {
    let py = python_server("streamable-http").await;
    let everything = everything_server("streamableHttp").await;
    let key = portcullis::auth::api_key::generate();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let py_text = protected_config(&format!("http://127.0.0.1:{}/mcp", py.port), &key, &audit);
    let gateway = TestGateway::start_text(dir, &py_text).await;
    let jwt = gateway
        .running
        .gateway
        .reloader()
        .snapshot()
        .auth
        .jwt
        .as_ref()
        .unwrap()
        .issue("alice", None, &["user".into()], &[], None)
        .unwrap()
        .0;
    let url = gateway.url("/mcp");
    let bearer = |token: &str| {
        (
            "MCP_HEADERS",
            serde_json::json!({ "Authorization": format!("Bearer {token}") }).to_string(),
        )
    };
    for (mode, protocol) in [("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")] {
        let result = run_client_with(&python(), "py_client.py", &url, mode, &[bearer(&jwt)]).await;
        assert_eq!(result, py_expected(protocol), "Python {mode} with a JWT");
    }
    let with_key = ("MCP_HEADERS", serde_json::json!({ "X-API-Key": key }).to_string());
    let result = run_client_with(&python(), "py_client.py", &url, "2026-07-28", &[with_key]).await;
    assert_eq!(result, py_expected("2026-07-28"), "Python with an API key");

    let dir = tempfile::tempdir().unwrap();
    let audit_ts = dir.path().join("audit.jsonl");
    let ts_text = protected_config(&format!("http://127.0.0.1:{}/mcp", everything.port), &key, &audit_ts);
    let ts_gateway = TestGateway::start_text(dir, &ts_text).await;
    let node = std::path::Path::new("node");
    let direct = run_client(
        node,
        "ts_client.mjs",
        &format!("http://127.0.0.1:{}/mcp", everything.port),
        "streamableHttp",
    )
    .await;
    for credential in [format!("Bearer {jwt}"), format!("Bearer {key}")] {
        let headers = (
            "MCP_HEADERS",
            serde_json::json!({ "Authorization": credential }).to_string(),
        );
        let proxied = run_client_with(
            node,
            "ts_client.mjs",
            &ts_gateway.url("/mcp"),
            "streamableHttp",
            &[headers],
        )
        .await;
        assert_eq!(
            ts_comparable(proxied),
            ts_comparable(direct.clone()),
            "TypeScript client through an authenticated route"
        );
    }
    // Without a credential both SDK clients fail (401), and nothing of theirs is forwarded.
    let mut command = base_command(&python());
    command
        .arg(interop_dir().join("py_client.py"))
        .arg(&url)
        .arg("2026-07-28")
        .env("MCP_CLIENT_TIMEOUT", "20");
    let output = tokio::time::timeout(Duration::from_secs(40), command.output())
        .await
        .unwrap()
        .unwrap();
    assert!(!output.status.success());
    // The raw token and key appear in no audit line.
    for path in [&audit, &audit_ts] {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        assert!(!text.is_empty());
        assert!(
            !text.contains(&jwt) && !text.contains(&key),
            "credential leaked into {}",
            path.display()
        );
    }
}
