//! 2026-07-28 `Mcp-Param-*` headers (issue 13, item 4). Once the gateway has relayed a
//! `tools/list` page whose tool marks an argument `"x-mcp-header": "X"`, a `tools/call` of that
//! tool whose `Mcp-Param-X` disagrees with the argument (plain or base64, numbers numerically),
//! is repeated, or is missing from a 2026-07-28 request that has the argument, is 400 -32020
//! with the id, nothing forwarded; headers no schema names pass untouched.

use http::StatusCode;
use serde_json::json;

use crate::harness::mock::{self, Recorded, Reply};
use crate::harness::upstreams::python_server_with;
use crate::harness::{GatewayConfig, TestGateway, assert_jsonrpc_error, protected_gateway, token};

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

fn list_body() -> String {
    format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{{META}}}}}"#)
}

fn deploy_body(id: u64, arguments: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"deploy","arguments":{arguments},{META}}}}}"#
    )
}

fn modern<'a>(method: &'static str, extra: &[(&'static str, &'a str)]) -> Vec<(&'static str, &'a str)> {
    let mut headers = vec![("mcp-protocol-version", "2026-07-28"), ("mcp-method", method)];
    if method == "tools/call" {
        headers.push(("mcp-name", "deploy"));
    }
    headers.extend_from_slice(extra);
    headers
}

/// (headers, arguments) pairs that disagree; each is refused.
const MISMATCHES: [(&[(&str, &str)], &str); 6] = [
    (
        &[("mcp-param-region", "us-east-1"), ("mcp-param-replicas", "2")],
        r#"{"region":"eu-west-1","replicas":2}"#,
    ),
    (
        &[("mcp-param-region", "eu-west-1"), ("mcp-param-replicas", "3")],
        r#"{"region":"eu-west-1","replicas":2}"#,
    ),
    (
        &[
            ("mcp-param-region", "=?base64?dXMtZWFzdC0x?="),
            ("mcp-param-replicas", "2"),
        ],
        r#"{"region":"eu-west-1","replicas":2}"#,
    ),
    (&[("mcp-param-replicas", "2")], r#"{"region":"eu-west-1","replicas":2}"#),
    (
        &[
            ("mcp-param-region", "eu-west-1"),
            ("mcp-param-region", "eu-west-1"),
            ("mcp-param-replicas", "2"),
        ],
        r#"{"region":"eu-west-1","replicas":2}"#,
    ),
    (
        &[("mcp-param-region", "eu-west-1"), ("mcp-param-replicas", "2")],
        r#"{"replicas":2}"#,
    ),
];

const DEPLOY_SCHEMA: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"deploy","inputSchema":{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"replicas":{"type":"integer","x-mcp-header":"Replicas"}}}}]}}"#;

fn recording(recorded: &Recorded) -> Reply {
    if String::from_utf8_lossy(&recorded.body).contains("tools/list") {
        Reply::Json(StatusCode::OK, DEPLOY_SCHEMA)
    } else {
        Reply::Json(StatusCode::OK, r#"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"#)
    }
}

async fn learn(gateway: &TestGateway, bearer: &str) {
    let listed = gateway
        .post_with(bearer, &list_body(), &modern("tools/list", &[]), false)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
}

#[tokio::test]
async fn a_header_that_disagrees_with_its_argument_is_refused_and_never_forwarded() {
    for keys in ["", "default = \"deny\"\n[upstreams.tools]\ndeploy = \"weather:read\""] {
        let upstream = mock::start(recording).await;
        let gateway = protected_gateway(&upstream.url("/mcp"), keys).await;
        let alice = token("alice", &["user"]);
        learn(&gateway, &alice).await;
        for h2 in [false, true] {
            for (headers, arguments) in MISMATCHES {
                let answer = gateway
                    .post_with(&alice, &deploy_body(7, arguments), &modern("tools/call", headers), h2)
                    .await;
                assert_jsonrpc_error(&answer, 400, -32020, json!(7));
            }
        }
        assert_eq!(upstream.count(), 1, "only tools/list reached the upstream ({keys:?})");
        // Agreeing headers (plain, base64, numbers numerically) and unknown ones pass.
        for headers in [
            &[("mcp-param-region", "eu-west-1"), ("mcp-param-replicas", "2")][..],
            &[
                ("mcp-param-region", "=?base64?ZXUtd2VzdC0x?="),
                ("mcp-param-replicas", "02"),
                ("mcp-param-trace", "abc"),
            ][..],
        ] {
            let answer = gateway
                .post_with(
                    &alice,
                    &deploy_body(7, r#"{"region":"eu-west-1","replicas":2}"#),
                    &modern("tools/call", headers),
                    false,
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        }
        assert_eq!(
            upstream.last().headers["mcp-param-trace"],
            "abc",
            "unknown Mcp-Param-* forwarded"
        );
        // A legacy-era call need not carry them, but one it carries must agree.
        let legacy = r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"deploy","arguments":{"region":"eu-west-1"}}}"#;
        assert_eq!(
            gateway.post_with(&alice, legacy, &[], false).await.status,
            StatusCode::OK
        );
        let forged = gateway
            .post_with(&alice, legacy, &[("mcp-param-region", "us-east-1")], false)
            .await;
        assert_jsonrpc_error(&forged, 400, -32020, json!(8));
        assert_eq!(upstream.count(), 4);
    }
}

/// The Python SDK server's `deploy` tool (its schema carries `x-mcp-header`), through the
/// gateway: agreeing calls run, a disagreeing one is the gateway's 400 -32020 (the server never
/// sees it).
#[tokio::test]
async fn the_python_servers_mirrored_arguments_are_checked_before_the_server() {
    let server = python_server_with(&["streamable-http", "json", "headers"], &[]).await;
    let gateway = GatewayConfig::new(&format!("http://127.0.0.1:{}/mcp", server.port))
        .with_jwt()
        .start()
        .await;
    let alice = token("alice", &["user"]);
    learn(&gateway, &alice).await;
    let arguments = r#"{"region":"eu-west-1","replicas":2}"#;
    let ok = gateway
        .post_with(
            &alice,
            &deploy_body(3, arguments),
            &modern(
                "tools/call",
                &[("mcp-param-region", "eu-west-1"), ("mcp-param-replicas", "2")],
            ),
            false,
        )
        .await;
    assert_eq!(
        ok.json()["result"]["content"][0]["text"],
        "deployed 2 to eu-west-1",
        "{}",
        ok.text()
    );
    let bad = gateway
        .post_with(
            &alice,
            &deploy_body(4, arguments),
            &modern(
                "tools/call",
                &[("mcp-param-region", "us-east-1"), ("mcp-param-replicas", "2")],
            ),
            true,
        )
        .await;
    assert_jsonrpc_error(&bad, 400, -32020, json!(4));
    // The gateway's own wording: the server (which checks too) never saw it.
    assert!(
        bad.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Header mismatch:"),
        "{}",
        bad.text()
    );
}
