//! Lists smuggled elsewhere (issue 13, item 6). On a route that does not show everything, a
//! caller's answer carries no definition it may not see anywhere: list members are filtered,
//! and a hidden tool, prompt or resource in `error.data`, `result._meta`, `structuredContent`,
//! a nested list or a notification's params fails that message closed (`-31503` for an answer,
//! the event dropped for a notification), JSON and SSE, POST answers and GET streams alike.

use http::StatusCode;
use serde_json::json;

use crate::harness::caller::{Caller, message};
use crate::harness::mock::{self, Reply};
use crate::harness::upstreams::python_server_with;
use crate::harness::{GatewayConfig, empty, protected_gateway, token};

const POLICY: &str = "default = \"deny\"\n[upstreams.tools]\nget_weather = \"weather:read\"\ncatalog = \"weather:read\"\ndelete_file = \"files:admin\"";

const CALL: &str =
    r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Paris"}}}"#;

/// Answers to id 5 that each hide `delete_file` somewhere other than `result.tools`.
const SMUGGLED: [&str; 6] = [
    r#"{"jsonrpc":"2.0","id":5,"error":{"code":-32603,"message":"failed","data":{"tools":[{"name":"delete_file","inputSchema":{"type":"object"}}]}}}"#,
    r#"{"jsonrpc":"2.0","id":5,"result":{"content":[],"_meta":{"catalog":{"tools":[{"name":"delete_file"}]}}}}"#,
    r#"{"jsonrpc":"2.0","id":5,"result":{"content":[],"structuredContent":{"next":{"name":"delete_file","inputSchema":{"type":"object"}}}}}"#,
    r#"{"jsonrpc":"2.0","id":5,"result":{"content":[],"structuredContent":{"prompts":[{"name":"admin_report"}]}}}"#,
    r#"{"jsonrpc":"2.0","id":5,"result":{"content":[],"_meta":{"resourceTemplates":[{"uriTemplate":"file:///{path}"}]}}}"#,
    r#"{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"get_weather"}],"_meta":{"\u0074ools":[{"name":"delete_file"}]}}}"#,
];

#[tokio::test]
async fn a_hidden_definition_anywhere_in_an_answer_fails_it_closed() {
    for (n, smuggled) in SMUGGLED.into_iter().enumerate() {
        for sse in [false, true] {
            let upstream = mock::start(move |_| {
                if sse {
                    mock::sse_events(&[smuggled])
                } else {
                    Reply::Json(StatusCode::OK, smuggled)
                }
            })
            .await;
            let gateway = protected_gateway(&upstream.url("/mcp"), POLICY).await;
            for h2 in [false, true] {
                let guest = gateway.post_with(&token("guest", &["user"]), CALL, &[], h2).await;
                assert!(!guest.text().contains("delete_file"), "{n} sse {sse}: {}", guest.text());
                assert!(!guest.text().contains("admin_report") && !guest.text().contains("file:///"));
                let answer = message(&guest, 5);
                assert_eq!(answer["error"]["code"], -31503, "{n} sse {sse}: {answer}");
                assert_eq!(answer["id"], 5);
                assert_eq!(guest.status, StatusCode::OK);
                // Someone who may see `delete_file` gets the upstream's answer as it was (the
                // hidden prompt and template are unlisted under `default = "deny"`: nobody's).
                if smuggled.contains("delete_file") {
                    let admin = gateway.post_with(&token("root", &["admin"]), CALL, &[], h2).await;
                    assert!(admin.text().contains("delete_file"), "{n}: {}", admin.text());
                }
            }
        }
    }
}

#[tokio::test]
async fn a_list_changed_notification_carrying_hidden_tools_is_dropped_from_post_and_get_streams() {
    const NOTE: &str =
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"tools":[{"name":"delete_file"}]}}"#;
    const FINE: &str = r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
    const ANSWER: &str = r#"{"jsonrpc":"2.0","id":5,"result":{"content":[{"type":"text","text":"sunny"}]}}"#;
    let upstream = mock::start(|_| mock::sse_events(&[NOTE, FINE, ANSWER])).await;
    let gateway = protected_gateway(&upstream.url("/mcp"), POLICY).await;
    let guest = token("guest", &["user"]);
    let post = gateway.post_with(&guest, CALL, &[], false).await;
    assert!(!post.text().contains("delete_file"), "{}", post.text());
    assert_eq!(post.text().matches("list_changed").count(), 1, "{}", post.text());
    assert_eq!(message(&post, 5)["result"]["content"][0]["text"], "sunny");
    // The same events on a GET stream.
    let get = http::Request::get(gateway.url("/mcp"))
        .header("authorization", format!("Bearer {guest}"))
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    let stream = gateway.call(empty(get)).await;
    assert_eq!(stream.status, StatusCode::OK);
    assert!(!stream.text().contains("delete_file"), "{}", stream.text());
    assert_eq!(stream.text().matches("list_changed").count(), 1);
}

/// The real Python SDK server with a leaking tool: `catalog`'s structuredContent holds every
/// tool definition of the server. A caller who may use `catalog` but not `delete_file` gets
/// `-31503`, not the catalog; the tools/list pages it gets are filtered as before; a caller who
/// may see every tool gets the catalog.
#[tokio::test]
async fn the_python_servers_leaking_tool_cannot_show_a_guest_hidden_tools() {
    let server = python_server_with(&["streamable-http", "leaky"], &[]).await;
    let gateway = GatewayConfig::new(&format!("http://127.0.0.1:{}/mcp", server.port))
        .with_jwt()
        .with_upstream_keys("[upstreams.tools]\ndelete_file = \"files:admin\"")
        .start()
        .await;
    let mut guest = Caller::new(&gateway, "guest", &["user"]);
    guest.initialize().await;
    let (id, answer) = guest.send("tools/call", r#"{"name":"catalog","arguments":{}}"#).await;
    assert!(!answer.text().contains("delete_file"), "{}", answer.text());
    assert_eq!(message(&answer, id)["error"]["code"], -31503, "{}", answer.text());
    let (names, _) = guest.all_pages("tools/list", "tools", "name").await;
    assert!(
        names.contains(&"catalog".to_string()) && !names.contains(&"delete_file".to_string()),
        "{names:?}"
    );
    let mut root = Caller::new(&gateway, "root", &["admin"]);
    root.initialize().await;
    let (id, answer) = root.send("tools/call", r#"{"name":"catalog","arguments":{}}"#).await;
    let catalog = message(&answer, id);
    let tools = catalog["result"]["structuredContent"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{catalog}"));
    assert!(tools.iter().any(|t| t["name"] == json!("delete_file")));
}
