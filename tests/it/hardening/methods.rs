//! Method spellings (issue 13, item 2). `TOOLS/CALL`, `Tools/Call`, `tools/call `,
//! `tools/call\u0000`, `/tools/call` and `tools/call/` are not `tools/call`, so the policy
//! never judges the tool they carry; an upstream or router that trims, lower-cases or strips
//! slashes would run it anyway. They are answered as unknown methods (-32601), never forwarded,
//! on every route; and routes that deny by default (or list `methods`) forward MCP's own client
//! methods and the extensions they name, nothing else.

use http::StatusCode;
use serde_json::{Value, json};

use crate::harness::caller::{Caller, log_lines};
use crate::harness::mock;
use crate::harness::upstreams::logged_python;
use crate::harness::{
    GatewayConfig, TestGateway, WEATHER_ONLY, assert_jsonrpc_error, mirror, protected_gateway, token,
};

const SPELLINGS: [&str; 8] = [
    "TOOLS/CALL",
    "Tools/Call",
    "tools/call ",
    "tools/call\\u0000",
    "/tools/call",
    "tools/call/",
    "tools\\uff0fcall",
    " Resources/Read",
];

/// A lenient router's idea of a method: trimmed, lower-cased, control characters and outer
/// slashes dropped. What the gateway forwards means the same to it as to the policy.
fn lenient(method: &str) -> String {
    method
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .trim_matches('/')
        .to_lowercase()
}

fn disguised(id: Option<u64>, method: &str) -> String {
    let target = if method.to_lowercase().contains("resources") {
        r#"{"uri":"file:///etc/passwd"}"#
    } else {
        r#"{"name":"delete_file","arguments":{}}"#
    };
    match id {
        Some(id) => format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{target}}}"#),
        None => format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{target}}}"#),
    }
}

async fn post(gateway: &TestGateway, body: &str, headers: &[(&str, &str)], h2: bool) -> crate::harness::Answer {
    gateway.post_with(&token("alice", &["user"]), body, headers, h2).await
}

#[tokio::test]
async fn lenient_spellings_of_a_policed_method_are_not_found_on_any_route() {
    let upstream = mock::start(mock::ok_json).await;
    // Even where every call is allowed, a disguise is refused: its name was never judged.
    for policy in [
        "default = \"allow\"\nallow_batches = true",
        "default = \"deny\"\nallow_batches = true\n[upstreams.tools]\nget_weather = \"weather:read\"",
    ] {
        let gateway = protected_gateway(&upstream.url("/mcp"), policy).await;
        for h2 in [false, true] {
            for (index, method) in SPELLINGS.iter().enumerate() {
                let id = 100 + index as u64;
                let answer = post(&gateway, &disguised(Some(id), method), &[], h2).await;
                assert_jsonrpc_error(&answer, 200, -32601, json!(id));
                let answer = post(&gateway, &disguised(None, method), &[], h2).await;
                assert_jsonrpc_error(&answer, 400, -32601, Value::Null);
            }
        }
        let batch = format!(
            "[{},{}]",
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            disguised(Some(2), "TOOLS/CALL")
        );
        let answer = post(&gateway, &batch, &[("mcp-protocol-version", "2025-03-26")], false).await;
        assert_jsonrpc_error(&answer, 400, -32601, Value::Null);
        let modern = mirror("TOOLS/CALL", "delete_file");
        let answer = post(&gateway, &disguised(Some(9), "TOOLS/CALL"), &modern, false).await;
        assert_jsonrpc_error(&answer, 200, -32601, json!(9));
        assert_eq!(upstream.count(), 0, "no disguise reached the upstream ({policy})");
        let events = gateway.audit_events(4 * SPELLINGS.len() + 2).await;
        assert!(events.iter().all(|e| e["reason"] == "disguised_method"), "{events:?}");
    }
}

#[tokio::test]
async fn deny_by_default_routes_forward_mcp_methods_and_named_extensions_only() {
    let upstream = mock::start(mock::ok_json).await;
    let strict = protected_gateway(&upstream.url("/mcp"), WEATHER_ONLY).await;
    let named = protected_gateway(&upstream.url("/mcp"), "methods = [\"acme/search\"]").await;
    let request = |id: u64, method: &str| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{}}}}"#);
    for (gateway, method) in [
        (&strict, "acme/search"),
        (&strict, "x"),
        (&named, "acme/delete"),
        (&named, "Acme/search"),
    ] {
        let answer = post(gateway, &request(5, method), &[], false).await;
        assert_jsonrpc_error(&answer, 200, -32601, json!(5));
        let answer = post(gateway, &request(6, method), &[], true).await;
        assert_jsonrpc_error(&answer, 200, -32601, json!(6));
    }
    assert_eq!(upstream.count(), 0);
    let events = strict.audit_events(4).await;
    assert!(
        events.iter().all(|e| e["reason"] == "method_not_forwarded"),
        "{events:?}"
    );

    // MCP's own methods and the named extension pass, and mean to a lenient upstream exactly
    // what they meant to the policy.
    let passing = [
        (&strict, "ping"),
        (&strict, "logging/setLevel"),
        (&strict, "server/discover"),
        (&named, "acme/search"),
        (&named, "ping"),
    ];
    for (index, (gateway, method)) in passing.iter().enumerate() {
        let answer = post(gateway, &request(10 + index as u64, method), &[], false).await;
        assert_eq!(answer.status, StatusCode::OK, "{method}: {}", answer.text());
    }
    let received = upstream.received.lock().unwrap().clone();
    let methods: Vec<String> = received
        .iter()
        .map(|r| {
            lenient(
                serde_json::from_slice::<Value>(&r.body).unwrap()["method"]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(methods, passing.iter().map(|(_, m)| lenient(m)).collect::<Vec<_>>());
}

#[test]
fn a_disguise_among_the_methods_a_route_names_is_a_config_error() {
    let config =
        GatewayConfig::new("http://127.0.0.1:9/mcp").with_upstream_keys("methods = [\"acme/search\", \"Tools/Call\"]");
    let error = portcullis::config::load_str(&config.text(), &|_| None).unwrap_err();
    assert_eq!(error.key, "upstreams[0].methods[1]");
    assert!(error.message.contains("tools/call"), "{error}");
}

#[tokio::test]
async fn in_front_of_the_python_server_no_disguise_arrives() {
    let python = logged_python().await;
    let log = &python.log;
    let gateway = protected_gateway(&python.url, WEATHER_ONLY).await;
    let mut caller = Caller::new(&gateway, "alice", &["user"]);
    caller.initialize().await;
    for (index, method) in SPELLINGS.iter().enumerate() {
        let id = 50 + index as u64;
        let answer = caller.post(&disguised(Some(id), method)).await;
        assert_jsonrpc_error(&answer, 200, -32601, json!(id));
    }
    let (_, answer) = caller
        .send("tools/call", r#"{"name":"get_weather","arguments":{"city":"Oslo"}}"#)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(log_lines(log), vec!["tools/call get_weather".to_string()]);
}
