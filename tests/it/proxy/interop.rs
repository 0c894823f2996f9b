//! Interop with real, unmodified MCP software: the Python `mcp` SDK (server and client, both
//! protocol eras and the legacy HTTP+SSE transport) and the TypeScript SDK client against
//! `@modelcontextprotocol/server-everything`. Each client runs directly against its server and
//! through the gateway; the results must be identical. `scripts/setup-interop.sh` (run by the
//! test command) installs them.

use std::time::Duration;

use serde_json::Value;

use crate::harness::GatewayConfig;
use crate::harness::upstreams::{
    base_command, everything_server, interop_dir, py_expected, python, python_server, run_client, run_client_with,
};

#[tokio::test]
async fn python_client_both_eras_through_the_gateway_as_directly() {
    let server = python_server("streamable-http").await;
    let direct = format!("http://127.0.0.1:{}/mcp", server.port);
    let gateway = GatewayConfig::new(&direct).with_timeouts("").start().await;
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
    let gateway = GatewayConfig::new(&direct).with_timeouts("").start().await;
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

/// The TypeScript client against server-everything in `mode` (its endpoint at `path`),
/// directly and through a gateway in front of it: (direct, proxied) results.
async fn typescript_both_ways(mode: &str, path: &str) -> (Value, Value) {
    let server = everything_server(mode).await;
    let direct = format!("http://127.0.0.1:{}{path}", server.port);
    let gateway = GatewayConfig::new(&direct).with_timeouts("").start().await;
    let node = std::path::Path::new("node");
    let straight = run_client(node, "ts_client.mjs", &direct, mode).await;
    let proxied = run_client(node, "ts_client.mjs", &gateway.url("/mcp"), mode).await;
    (straight, proxied)
}

#[tokio::test]
async fn typescript_client_against_server_everything_streamable_http() {
    let (straight, proxied) = typescript_both_ways("streamableHttp", "/mcp").await;
    assert_eq!(straight["tools"].as_array().map(Vec::len), Some(13), "{straight}");
    assert_eq!(straight["echo"], "Echo: hi");
    assert_eq!(straight["progress_wire"], serde_json::json!([1, 2, 3]));
    assert_eq!(proxied, straight, "through the gateway");
}

#[tokio::test]
async fn typescript_client_against_server_everything_legacy_sse() {
    let (straight, proxied) = typescript_both_ways("sse", "/sse").await;
    assert_eq!(straight["progress_wire"], serde_json::json!([1, 2, 3]), "{straight}");
    assert_eq!(ts_comparable(proxied), ts_comparable(straight));
}

/// Config for a protected route in front of `upstream`, with an HS256 key and one API key.
fn protected_config(upstream: &str, api_key: &str) -> GatewayConfig {
    GatewayConfig::new(upstream).with_timeouts("").protected().with_tables(&format!(
        "[auth.jwt]\n[[auth.jwt.keys]]\nkid = \"k1\"\nalg = \"HS256\"\nsecret = \"interop-secret-0123456789abcdef01234\"\n\
         [auth.api_keys]\n[[auth.api_keys.static]]\nid = \"interop\"\nhash = \"{}\"\nsubject = \"svc:interop\"\n",
        portcullis::auth::api_key::hash(api_key)
    ))
}

#[tokio::test]
async fn real_clients_with_bearer_tokens_and_api_keys() {
    let py = python_server("streamable-http").await;
    let everything = everything_server("streamableHttp").await;
    let key = portcullis::auth::api_key::generate();
    let gateway = protected_config(&format!("http://127.0.0.1:{}/mcp", py.port), &key)
        .start()
        .await;
    let jwt = gateway
        .running
        .gateway
        .reloader()
        .snapshot()
        .auth
        .jwt
        .as_ref()
        .unwrap()
        .issue_access(
            &portcullis::auth::jwt::Grant {
                subject: "alice".into(),
                roles: vec!["user".into()],
                ..Default::default()
            },
            None,
            None,
        )
        .unwrap()
        .token;
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

    let ts_gateway = protected_config(&format!("http://127.0.0.1:{}/mcp", everything.port), &key)
        .start()
        .await;
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
    for path in [gateway.audit_path(), ts_gateway.audit_path()] {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(!text.is_empty());
        assert!(
            !text.contains(&jwt) && !text.contains(&key),
            "credential leaked into {}",
            path.display()
        );
    }
}
