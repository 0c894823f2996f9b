//! `/admin/mcp` with the real Python MCP SDK client in both eras: `get_security_audit` is
//! listed and answers for a credential holding `metrics:view` (and the admin token); for a
//! guest it is hidden, with the same `-32602 Unknown tool` a name nobody knows gets; without
//! a credential the endpoint answers 401.

use serde_json::json;

use crate::harness::audit::{POLICY, ROLES};
use crate::harness::upstreams::{python, run_client_with};
use crate::harness::{GatewayConfig, mock, token};

#[tokio::test]
async fn the_python_sdk_calls_get_security_audit_in_both_eras_only_with_metrics_view() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp"))
        .with_jwt()
        .with_roles(ROLES)
        .with_upstream_keys(POLICY)
        .start()
        .await;
    // Something to report: two refused credentials.
    for n in 0..2 {
        let answer = gateway
            .post_with(
                "bad-token",
                &format!(r#"{{"jsonrpc":"2.0","id":{n},"method":"ping"}}"#),
                &[],
                false,
            )
            .await;
        assert_eq!(answer.status, 401);
    }
    let url = gateway.admin_url("/admin/mcp");
    let auditor = token("audra", &["auditor"]);
    let guest = token("guest-gina", &["guest"]);
    let headers = |token: &str| {
        vec![(
            "MCP_HEADERS",
            json!({ "Authorization": format!("Bearer {token}") }).to_string(),
        )]
    };
    for mode in ["legacy", "2026-07-28", "auto"] {
        let protocol = if mode == "legacy" { "2025-11-25" } else { "2026-07-28" };
        for allowed in [auditor.as_str(), "admin-token-0123456789"] {
            let out = run_client_with(&python(), "admin_mcp_client.py", &url, mode, &headers(allowed)).await;
            assert_eq!(out["protocol"], protocol, "{mode}: {out}");
            assert_eq!(out["tools"], json!(["get_security_audit"]), "{mode}: {out}");
            assert_eq!(out["called"], true, "{mode}: {out}");
            let structured = &out["structured"];
            assert_eq!(structured["time_range"], "24h", "{out}");
            assert_eq!(structured["range"], "24h", "{out}");
            assert!(structured["totals"]["auth_failures"].as_u64() >= Some(2), "{out}");
            assert!(structured["findings"].is_array(), "{out}");
            assert!(out["text"].as_str().unwrap().contains("auth failures"), "{out}");
        }
        let out = run_client_with(&python(), "admin_mcp_client.py", &url, mode, &headers(&guest)).await;
        assert_eq!(out["protocol"], protocol, "{mode}: {out}");
        assert_eq!(out["tools"], json!([]), "{mode}: {out}");
        assert_eq!(out["called"], false, "{mode}: {out}");
        assert_eq!(
            out["error"],
            json!({ "code": -32602, "message": "Unknown tool: get_security_audit" }),
            "{out}"
        );
    }

    // Raw: no credential → 401; the hidden answer is byte-identical to an unknown name's.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let post = |auth: Option<String>, body: &'static str| {
        let mut request = http::Request::post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        client.request(
            request
                .body(http_body_util::Full::new(bytes::Bytes::from_static(body.as_bytes())))
                .unwrap(),
        )
    };
    let response = post(None, r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let hidden = post(
        Some(format!("Bearer {guest}")),
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_security_audit","arguments":{"time_range":"1h"}}}"#,
    )
    .await
    .unwrap();
    let hidden = http_body_util::BodyExt::collect(hidden.into_body())
        .await
        .unwrap()
        .to_bytes();
    let unknown = post(
        Some(format!("Bearer {auditor}")),
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_security_audiT","arguments":{"time_range":"1h"}}}"#,
    )
    .await
    .unwrap();
    let unknown = http_body_util::BodyExt::collect(unknown.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        String::from_utf8_lossy(&hidden).replace("get_security_audit", "NAME"),
        String::from_utf8_lossy(&unknown).replace("get_security_audiT", "NAME")
    );
}
