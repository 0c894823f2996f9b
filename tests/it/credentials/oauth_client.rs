//! A real OAuth client library (Authlib, `tests/interop/oauth_refresh.py`) refreshes twice
//! against `POST /oauth/token`, calls MCP with the new access token, and meets reuse
//! detection exactly as RFC 9700 describes it.

use std::time::Duration;

use crate::harness::lifecycle::issue;
use crate::harness::upstreams::{interop_dir, python};
use crate::harness::{GatewayConfig, mock};

#[tokio::test]
async fn authlib_refreshes_against_the_token_endpoint() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp")).with_jwt().start().await;
    let pair = issue(&gateway, "agent", &["user"]).await;
    let run = tokio::process::Command::new(python())
        .arg(interop_dir().join("oauth_refresh.py"))
        .args(["--token-url", &gateway.url("/oauth/token")])
        .args(["--refresh-token", pair["refresh_token"].as_str().unwrap()])
        .args(["--mcp-url", &gateway.url("/mcp")])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the client finished within 60 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    eprintln!("{result}");
    assert!(result["library"].as_str().unwrap().starts_with("authlib "));
    assert_eq!(result["refreshes"], 2);
    assert_eq!(result["mcp_status"], 200, "the refreshed access token works");
    assert_eq!(result["reuse_error"], "invalid_grant");
    assert_eq!(result["after_reuse_error"], "invalid_grant", "reuse revoked the family");
    assert_eq!(upstream.count(), 1, "only the MCP call reached the upstream");
}
