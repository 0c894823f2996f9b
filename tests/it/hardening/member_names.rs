//! Member names a case-insensitive decoder reads (issue 13, item 1). Go's `encoding/json`
//! matches keys with simple case folding, last match wins: `{"name":"get_weather",
//! "Name":"delete_file"}` runs `delete_file` there, `{"Path":"/etc/passwd"}` fills the checked
//! `path`. Every such body is refused (400 -32600), single or in a batch, HTTP/1.1 or h2, in
//! both eras, in front of a recording mock and of the real Python server; what the gateway does
//! forward decodes, Go-style, to exactly the call it authorized.

use http::StatusCode;
use serde_json::{Value, json};

use crate::harness::caller::{Caller, log_lines};
use crate::harness::go_decode::go_decode;
use crate::harness::mock;
use crate::harness::upstreams::logged_python;
use crate::harness::{GatewayConfig, TestGateway, assert_jsonrpc_error, mirror, token};

/// `default = "deny"`, three tools; `read_file` and `echo` have constrained arguments.
const POLICY: &str = r#"default = "deny"
allow_batches = true
[upstreams.tools]
get_weather = "weather:read"
read_file = { permission = "files:read", args = { path = { pattern = "/srv/data/[^/]+" } } }
echo = { permission = "weather:read", args = { key = { max_length = 4 } } }
"#;
const ROLES: &str = "[roles]\nuser = [\"weather:read\", \"files:read\"]\n";

async fn gateway(upstream_url: &str) -> TestGateway {
    GatewayConfig::new(upstream_url)
        .with_jwt()
        .with_upstream_keys(POLICY)
        .with_roles(ROLES)
        .start()
        .await
}

fn call(id: u64, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{params}}}"#)
}

/// Bodies whose meaning changes under case-insensitive decoding, with the id the refusal
/// carries (null when the body is refused before its id is read, at parsing).
fn attacks() -> Vec<(String, Value)> {
    vec![
        (call(1, r#"{"name":"get_weather","Name":"delete_file"}"#), Value::Null),
        (call(2, r#"{"Name":"delete_file"}"#), Value::Null),
        (call(3, r#"{"name":"get_weather","arguments":{},"nAME":"delete_file"}"#), Value::Null),
        (
            call(4, r#"{"name":"read_file","arguments":{"path":"/srv/data/a","Path":"/etc/passwd"}}"#),
            Value::Null,
        ),
        // Alone, `Path` is not `path` to the gateway; it is to a Go upstream: refused at the
        // policy, which knows the request's id by then.
        (call(5, r#"{"name":"read_file","arguments":{"Path":"/etc/passwd"}}"#), json!(5)),
        (call(6, r#"{"name":"echo","arguments":{"\u212aey":"far-too-long"}}"#), json!(6)),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"subscriptions/listen","params":{"notification\u017f":{"resourceSubscriptions":["file:///etc/passwd"]}}}"#
                .to_string(),
            Value::Null,
        ),
        (
            r#"{"jsonrpc":"2.0","id":8,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"ok","NAME":"secret"},"argument":{"name":"a","value":"b"}}}"#
                .to_string(),
            Value::Null,
        ),
        // A notification naming a tool is judged like a call.
        (
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"get_weather","NAME":"delete_file"}}"#.to_string(),
            Value::Null,
        ),
    ]
}

async fn post(gateway: &TestGateway, body: &str, headers: &[(&str, &str)], h2: bool) -> crate::harness::Answer {
    gateway.post_with(&token("alice", &["user"]), body, headers, h2).await
}

#[tokio::test]
async fn members_a_case_insensitive_decoder_reads_differently_are_refused() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = gateway(&upstream.url("/mcp")).await;
    let attacks = attacks();
    for h2 in [false, true] {
        for (body, id) in &attacks {
            let answer = post(&gateway, body, &[], h2).await;
            assert_jsonrpc_error(&answer, 400, -32600, id.clone());
            assert!(answer.text().contains("case-insensitive decoder"), "{}", answer.text());
        }
    }
    // In a batch (legal under 2025-03-26), one such element refuses the whole body.
    let batch = format!(
        "[{},{}]",
        call(20, r#"{"name":"get_weather","arguments":{"city":"Oslo"}}"#),
        attacks[0].0
    );
    let answer = post(&gateway, &batch, &[("mcp-protocol-version", "2025-03-26")], false).await;
    assert_jsonrpc_error(&answer, 400, -32600, Value::Null);
    // The 2026-07-28 era: the headers name the allowed tool, the body smuggles another.
    let modern = mirror("tools/call", "get_weather");
    let answer = post(&gateway, &attacks[0].0, &modern, false).await;
    assert_jsonrpc_error(&answer, 400, -32600, Value::Null);
    assert_eq!(upstream.count(), 0, "nothing reached the upstream");
    let events = gateway.audit_events(2 * attacks.len() + 2).await;
    assert!(events.iter().all(|e| e["reason"] == "ambiguous_key"), "{events:?}");

    // What does pass decodes, Go-style, to the very call the policy judged.
    let allowed = [
        call(30, r#"{"name":"get_weather","arguments":{"city":"Oslo"}}"#),
        call(31, r#"{"name":"read_file","arguments":{"path":"/srv/data/a"}}"#),
        call(32, r#"{"name":"echo","arguments":{"key":"k"}}"#),
    ];
    for body in &allowed {
        let answer = post(&gateway, body, &[], false).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    let received = upstream.received.lock().unwrap().clone();
    assert_eq!(received.len(), allowed.len());
    let events = gateway.audit_events(2 * attacks.len() + 2 + allowed.len()).await;
    let authorized: Vec<&Value> = events
        .iter()
        .filter(|e| e["reason"] == "ok")
        .map(|e| &e["target"])
        .collect();
    for (recorded, target) in received.iter().zip(authorized) {
        let executed = go_decode(&recorded.body);
        assert_eq!(
            &executed["params"]["name"], target,
            "the executed tool is the authorized one"
        );
    }
    assert_eq!(
        go_decode(&received[1].body)["params"]["arguments"]["path"],
        "/srv/data/a"
    );
    assert_eq!(go_decode(&received[2].body)["params"]["arguments"]["key"], "k");
}

#[tokio::test]
async fn in_front_of_the_python_server_nothing_ambiguous_arrives() {
    let python = logged_python().await;
    let log = &python.log;
    let gateway = gateway(&python.url).await;
    let mut caller = Caller::new(&gateway, "alice", &["user"]);
    caller.initialize().await;
    for (body, id) in attacks() {
        let answer = caller.post(&body).await;
        assert_jsonrpc_error(&answer, 400, -32600, id);
    }
    assert!(log_lines(log).is_empty(), "{:?}", log_lines(log));
    // The session itself works: the allowed call runs, and it is the only one the server saw.
    let (_, answer) = caller
        .send("tools/call", r#"{"name":"get_weather","arguments":{"city":"Oslo"}}"#)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.text().contains("Oslo"), "{}", answer.text());
    assert_eq!(log_lines(log), vec!["tools/call get_weather".to_string()]);
}
