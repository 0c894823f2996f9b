//! Tasks (issue 13, item 3). The `taskId` a task-augmented `tools/call` returns is bound to the
//! creating principal like a session id: another principal's `tasks/get`, `tasks/result`,
//! `tasks/cancel`, `tasks/update` get exactly what an unknown task gets (200 -32602, nothing
//! forwarded); `tasks/list` answers keep the caller's tasks only; bindings live in the state
//! store (embedded and Redis, shared by replicas).

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use crate::harness::caller::{Caller, message};
use crate::harness::mock::{self, Recorded, Reply};
use crate::harness::redis::Redis;
use crate::harness::upstreams::everything_server;
use crate::harness::{GatewayConfig, TestGateway, assert_jsonrpc_error, protected_gateway, token};

/// A recording upstream that creates tasks and lists more tasks than the caller made.
fn task_upstream(recorded: &Recorded) -> Reply {
    let body = String::from_utf8_lossy(&recorded.body);
    if body.contains("modern_tool") {
        // 2026-07-28 (SEP-2663): the server decides; the result is the task.
        return Reply::Json(
            StatusCode::OK,
            r#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"task","taskId":"t-26","status":"working"}}"#,
        );
    }
    if body.contains(r#""cursor":"dup""#) {
        return Reply::Json(
            StatusCode::OK,
            r#"{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"t-other"}],"tasks":[{"taskId":"t-1"}]}}"#,
        );
    }
    if body.contains(r#""task":"#) && body.contains("sse_tool") {
        return Reply::Sse {
            chunks: vec![(
                Duration::ZERO,
                Bytes::from_static(
                    b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"task\":{\"taskId\":\"t-sse\",\"status\":\"working\"}}}\n\n",
                ),
            )],
            hold: false,
        };
    }
    if body.contains(r#""task":"#) {
        return Reply::Json(
            StatusCode::OK,
            r#"{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"t-1","status":"working","ttl":60000}}}"#,
        );
    }
    if body.contains("tasks/list") {
        return Reply::Json(
            StatusCode::OK,
            r#"{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"t-1","status":"working"},{"taskId":"t-other","status":"working"},{"taskId":"t-sse","status":"working"}],"nextCursor":"c"}}"#,
        );
    }
    Reply::Json(
        StatusCode::OK,
        r#"{"jsonrpc":"2.0","id":1,"result":{"taskId":"t-1","status":"working"}}"#,
    )
}

fn create(tool: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{{}},"task":{{"ttl":60000}}}}}}"#
    )
}

fn task_request(method: &str, task: &str, id: u64) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{"taskId":"{task}"}}}}"#)
}

#[tokio::test]
async fn another_principals_task_is_an_unknown_task_and_never_forwarded() {
    let upstream = mock::start(task_upstream).await;
    let gateway = protected_gateway(&upstream.url("/mcp"), "allow_batches = true").await;
    let (alice, bob) = (token("alice", &["user"]), token("bob", &["user"]));
    let created = gateway.post_with(&alice, &create("json_tool"), &[], false).await;
    assert_eq!(created.json()["result"]["task"]["taskId"], "t-1", "{}", created.text());
    let sse = gateway.post_with(&alice, &create("sse_tool"), &[], false).await;
    assert!(sse.text().contains("t-sse"), "{}", sse.text());
    assert_eq!(upstream.count(), 2);

    for h2 in [false, true] {
        for method in ["tasks/get", "tasks/result", "tasks/cancel", "tasks/update"] {
            for (n, task) in ["t-1", "t-sse", "never-made"].into_iter().enumerate() {
                let id = 40 + n as u64;
                let answer = gateway.post_with(&bob, &task_request(method, task, id), &[], h2).await;
                assert_jsonrpc_error(&answer, 200, -32602, json!(id));
                // The same answer whether the task exists for someone else or not at all.
                assert_eq!(answer.json()["error"]["message"], "Invalid params: unknown task");
            }
        }
        // A batch element naming someone else's task refuses the whole batch.
        let batch = format!(
            r#"[{{"jsonrpc":"2.0","id":7,"method":"ping"}},{}]"#,
            task_request("tasks/get", "t-1", 8)
        );
        let answer = gateway
            .post_with(&bob, &batch, &[("mcp-protocol-version", "2025-03-26")], h2)
            .await;
        assert_jsonrpc_error(&answer, 400, -32602, Value::Null);
    }
    assert_eq!(upstream.count(), 2, "nothing of bob's reached the upstream");

    // The creator's own requests pass, from the JSON and the SSE answer alike.
    for task in ["t-1", "t-sse"] {
        let answer = gateway
            .post_with(&alice, &task_request("tasks/get", task, 1), &[], false)
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.json().get("result").is_some(), "{}", answer.text());
    }
    assert_eq!(upstream.count(), 4);

    // tasks/list keeps the caller's tasks only (cursor and order kept).
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tasks/list","params":{}}"#;
    let mine = gateway.post_with(&alice, list, &[], false).await.json();
    let ids: Vec<&str> = mine["result"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["t-1", "t-sse"]);
    assert_eq!(mine["result"]["nextCursor"], "c");
    let theirs = gateway.post_with(&bob, list, &[], true).await.json();
    assert_eq!(theirs["result"]["tasks"], json!([]), "{theirs}");

    // An answer the gateway and a client could read differently never passes.
    let dup = r#"{"jsonrpc":"2.0","id":9,"method":"tasks/list","params":{"cursor":"dup"}}"#;
    let answer = gateway.post_with(&alice, dup, &[], false).await;
    assert_eq!(answer.json()["error"]["code"], -31503, "{}", answer.text());
    assert!(!answer.text().contains("t-other"));

    let events = gateway.audit_events(1).await;
    assert!(events.iter().any(|e| e["reason"] == "task_mismatch"), "{events:?}");
    assert!(events.iter().any(|e| e["reason"] == "unknown_task"), "{events:?}");
}

/// 2026-07-28: a client declaring the tasks extension may get a task instead of a result; its
/// `taskId` is bound to it all the same.
#[tokio::test]
async fn a_2026_task_the_server_chose_is_bound_to_its_creator() {
    let upstream = mock::start(task_upstream).await;
    let gateway = protected_gateway(&upstream.url("/mcp"), "").await;
    let (alice, bob) = (token("alice", &["user"]), token("bob", &["user"]));
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}"#;
    let call = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"modern_tool","arguments":{{}},{meta}}}}}"#
    );
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "modern_tool"),
    ];
    let created = gateway.post_with(&alice, &call, &headers, false).await;
    assert_eq!(created.json()["result"]["taskId"], "t-26", "{}", created.text());
    let get = format!(r#"{{"jsonrpc":"2.0","id":2,"method":"tasks/get","params":{{"taskId":"t-26",{meta}}}}}"#);
    let get_headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tasks/get"),
        ("mcp-name", "t-26"),
    ];
    let mine = gateway.post_with(&alice, &get, &get_headers, false).await;
    assert!(mine.json().get("result").is_some(), "{}", mine.text());
    let theirs = gateway.post_with(&bob, &get, &get_headers, true).await;
    assert_jsonrpc_error(&theirs, 200, -32602, json!(2));
    assert_eq!(upstream.count(), 2);
}

#[tokio::test]
async fn task_bindings_are_shared_by_replicas_through_redis() {
    let redis = Redis::start().await;
    let upstream = mock::start(task_upstream).await;
    let state = format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"{}\"\nredis_timeout = \"500ms\"",
        redis.url()
    );
    let replica = || async {
        GatewayConfig::new(&upstream.url("/mcp"))
            .with_jwt()
            .with_tables(&state)
            .start()
            .await
    };
    let (first, second): (TestGateway, TestGateway) = (replica().await, replica().await);
    let (alice, bob) = (token("alice", &["user"]), token("bob", &["user"]));
    let created = first.post_with(&alice, &create("json_tool"), &[], false).await;
    assert_eq!(created.status, StatusCode::OK);
    let on_second = second
        .post_with(&alice, &task_request("tasks/get", "t-1", 3), &[], false)
        .await;
    assert!(on_second.json().get("result").is_some(), "{}", on_second.text());
    let stolen = second
        .post_with(&bob, &task_request("tasks/result", "t-1", 4), &[], false)
        .await;
    assert_jsonrpc_error(&stolen, 200, -32602, json!(4));
    assert_eq!(upstream.count(), 2);
}

/// The real TypeScript SDK server (server-everything's `simulate-research-query` is a
/// task-only tool): the creator polls her task; another principal cannot see, read or cancel it.
#[tokio::test]
async fn tasks_of_server_everything_belong_to_their_creator() {
    let server = everything_server("streamableHttp").await;
    let gateway = GatewayConfig::new(&format!("http://127.0.0.1:{}/mcp", server.port))
        .with_jwt()
        .start()
        .await;
    let mut alice = Caller::new(&gateway, "alice", &["user"]);
    alice.initialize().await;
    let params = r#"{"name":"simulate-research-query","arguments":{"topic":"gateways"},"task":{"ttl":60000}}"#;
    let (id, created) = alice.send("tools/call", params).await;
    let created = message(&created, id);
    let task = created["result"]["task"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    let (id, polled) = alice.send("tasks/get", &json!({ "taskId": task }).to_string()).await;
    assert_eq!(message(&polled, id)["result"]["taskId"], task.as_str());

    let mut bob = Caller::new(&gateway, "bob", &["user"]);
    bob.initialize().await;
    for method in ["tasks/get", "tasks/result", "tasks/cancel"] {
        let (id, answer) = bob.send(method, &json!({ "taskId": task }).to_string()).await;
        assert_jsonrpc_error(&answer, 200, -32602, json!(id));
        let (id, unknown) = bob.send(method, r#"{"taskId":"no-such-task"}"#).await;
        assert_jsonrpc_error(&unknown, 200, -32602, json!(id));
        assert_eq!(answer.json()["error"], unknown.json()["error"]);
    }
    let (id, listed) = bob.send("tasks/list", "{}").await;
    let listed = message(&listed, id);
    assert!(!listed.to_string().contains(&task), "{listed}");
    // The creator's task is still there, not cancelled by anyone else.
    let (id, polled) = alice.send("tasks/get", &json!({ "taskId": task }).to_string()).await;
    assert_ne!(message(&polled, id)["result"]["status"], "cancelled");
}
