//! Authorization end to end: the seed's roles × the seed's tools through the gateway to the
//! real Python `MCPServer` (JSON and SSE answers, multi-page lists), the bypass catalogue
//! (batches, notifications, name variants, duplicate keys, header mismatch, session replay,
//! argument path tricks) against a recording mock, explain mode, and session binding.

use std::path::Path;
use std::time::Duration;

use http::{Request, StatusCode};
use serde_json::json;

use crate::harness::caller::{Caller, log_lines, message};
use crate::harness::mock::{self, Reply};
use crate::harness::upstreams::python_server_with;
use crate::harness::{FAST_TIMEOUTS, GatewayConfig, TestGateway, empty, mcp_post, token, with_body};

/// The seed's permission map (contract section 2 and the demo).
const SEED_POLICY: &str = r#"
[upstreams.tools]
get_weather = "weather:read"
set_weather = "weather:write"
read_file = "files:read"
write_file = { permission = "files:write", args = { path = { pattern = "/srv/data/[^/]+", deny_substrings = [".."] } } }
delete_file = "files:delete"
list_users = "users:read"
[upstreams.resources]
"weather://*" = "weather:read"
"file:///srv/data/*" = "files:read"
[upstreams.prompts]
forecast_summary = "weather:read"
"#;

const SEED_ROLES: &str = r#"
[roles]
guest = ["weather:read"]
user = ["weather:read", "files:read"]
premium = ["weather:read", "weather:write", "files:read", "files:write"]
admin = ["*"]
"#;

/// Seed tools in the Python server's registration order, with arguments it accepts.
const SEED_CALLS: [(&str, &str); 6] = [
    ("get_weather", r#"{"city":"Oslo"}"#),
    ("set_weather", r#"{"city":"Oslo","forecast":"sun"}"#),
    ("read_file", r#"{"path":"/srv/data/readme.txt"}"#),
    ("write_file", r#"{"path":"/srv/data/notes.txt","content":"x"}"#),
    ("delete_file", r#"{"path":"/srv/data/notes.txt"}"#),
    ("list_users", "{}"),
];

/// What each seed role may call.
const ROLE_TOOLS: [(&str, &[&str]); 4] = [
    ("guest", &["get_weather"]),
    ("user", &["get_weather", "read_file"]),
    ("premium", &["get_weather", "set_weather", "read_file", "write_file"]),
    (
        "admin",
        &[
            "get_weather",
            "set_weather",
            "read_file",
            "write_file",
            "delete_file",
            "list_users",
        ],
    ),
];

/// A gateway with the seed policy and roles on a protected `/mcp` → `upstream_url`;
/// `upstream_extra` holds more `[[upstreams]]` keys, `timeouts` the `[server.timeouts]` table.
async fn seed_gateway(upstream_url: &str, upstream_extra: &str, timeouts: &str) -> TestGateway {
    GatewayConfig::new(upstream_url)
        .with_jwt()
        .with_timeouts(timeouts)
        .with_upstream_keys(&format!("default = \"deny\"\n{upstream_extra}\n{SEED_POLICY}"))
        .with_roles(SEED_ROLES)
        .start()
        .await
}

fn hidden_tool(id: u64, name: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32602,"message":"Unknown tool: {name}"}}}}"#)
}

#[tokio::test]
async fn seed_roles_by_seed_tools_against_the_python_server() {
    for options in [
        &["streamable-http", "paged"][..],
        &["streamable-http", "paged", "json"][..],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls.log");
        let server = python_server_with(options, &[("PY_SERVER_CALL_LOG", log.to_str().unwrap())]).await;
        let url = format!("http://127.0.0.1:{}/mcp", server.port);
        let gateway = seed_gateway(&url, "", FAST_TIMEOUTS).await;
        for (role, allowed) in ROLE_TOOLS {
            let mut caller = Caller::new(&gateway, &format!("{role}-1"), &[role]);
            caller.initialize().await;

            // tools/list: every page filtered, cursors kept (the upstream accepts them back),
            // the first page (add, echo) arrives empty but still points on.
            let (names, pages) = caller.all_pages("tools/list", "tools", "name").await;
            assert_eq!(names, allowed, "{role} {options:?}");
            assert_eq!(pages, 5, "{role}: every upstream page reaches the client");

            for (tool, arguments) in SEED_CALLS {
                let before = log_lines(&log).len();
                let params = format!(r#"{{"name":"{tool}","arguments":{arguments}}}"#);
                let (id, answer) = caller.send("tools/call", &params).await;
                assert_eq!(answer.status, StatusCode::OK, "{role} {tool}: {}", answer.text());
                if allowed.contains(&tool) {
                    assert!(
                        message(&answer, id).get("result").is_some(),
                        "{role} {tool}: {}",
                        answer.text()
                    );
                    assert_eq!(log_lines(&log)[before..], [format!("tools/call {tool}")]);
                } else {
                    assert_eq!(answer.text(), hidden_tool(id, tool), "{role} {tool}");
                    assert_eq!(log_lines(&log).len(), before, "{role} {tool} reached the upstream");
                }
            }
            // Hidden means indistinguishable from a name the policy does not know.
            let (id, unknown) = caller
                .send("tools/call", r#"{"name":"no_such_tool","arguments":{}}"#)
                .await;
            assert_eq!(unknown.text(), hidden_tool(id, "no_such_tool"));
        }

        // Resources, templates and prompts are filtered the same way, page by page.
        let mut guest = Caller::new(&gateway, "guest-2", &["guest"]);
        let mut user = Caller::new(&gateway, "user-2", &["user"]);
        guest.initialize().await;
        user.initialize().await;
        let (resources, _) = user.all_pages("resources/list", "resources", "uri").await;
        assert_eq!(
            resources,
            ["weather://london", "weather://paris", "file:///srv/data/readme.txt"]
        );
        let (resources, _) = guest.all_pages("resources/list", "resources", "uri").await;
        assert_eq!(resources, ["weather://london", "weather://paris"]);
        let (templates, _) = user
            .all_pages("resources/templates/list", "resourceTemplates", "uriTemplate")
            .await;
        assert_eq!(templates, ["weather://{city}", "file:///srv/data/{name}"]);
        let (prompts, _) = user.all_pages("prompts/list", "prompts", "name").await;
        assert_eq!(prompts, ["forecast_summary"]);

        let before = log_lines(&log).len();
        let (id, answer) = guest
            .send("resources/read", r#"{"uri":"file:///srv/data/readme.txt"}"#)
            .await;
        assert_eq!(
            answer.text(),
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32602,"message":"Resource not found","data":{{"uri":"file:///srv/data/readme.txt"}}}}}}"#
            )
        );
        let (id, answer) = user.send("prompts/get", r#"{"name":"admin_report"}"#).await;
        assert_eq!(
            answer.text(),
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32602,"message":"Unknown prompt: admin_report"}}}}"#
            )
        );
        assert_eq!(log_lines(&log).len(), before, "denied reads reached the upstream");
        let (id, answer) = user
            .send("resources/read", r#"{"uri":"file:///srv/data/readme.txt"}"#)
            .await;
        assert!(message(&answer, id).get("result").is_some(), "{}", answer.text());

        // The real session id is bound to its initializer: another user replaying it gets 404.
        let mut mallory = Caller::new(&gateway, "mallory", &["admin"]);
        mallory.session = user.session.clone();
        let before = log_lines(&log).len();
        let (id, replay) = mallory
            .send("tools/call", r#"{"name":"get_weather","arguments":{"city":"Oslo"}}"#)
            .await;
        assert_eq!(replay.status, StatusCode::NOT_FOUND);
        assert_eq!(
            replay.text(),
            format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32600,"message":"Session not found"}}}}"#)
        );
        assert_eq!(log_lines(&log).len(), before);
        drop(server);
    }
}

/// A premium caller against the seed policy in front of a recording mock (batches allowed).
async fn bypass_fixture() -> (TestGateway, mock::Mock, String) {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = seed_gateway(&upstream.url("/mcp"), "allow_batches = true\n", FAST_TIMEOUTS).await;
    (gateway, upstream, token("pam", &["premium"]))
}

#[tokio::test]
async fn forbidden_calls_cannot_be_smuggled_past_the_policy() {
    let (gateway, upstream, premium) = bypass_fixture().await;
    let call = |name: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"{name}","arguments":{{}}}}}}"#)
    };

    // Hidden in a batch: the whole batch is refused, nothing of it forwarded.
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_file","arguments":{}}}]"#;
    let answer = gateway.post_with(&premium, batch, &[], false).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.text(),
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"Unknown tool: delete_file"}}"#
    );

    // Sent as a notification: still a tool call, still refused.
    let note = r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete_file","arguments":{}}}"#;
    let answer = gateway.post_with(&premium, note, &[], false).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.text(),
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"Unknown tool: delete_file"}}"#
    );

    // Case variants, trailing bytes and look-alikes are other names: unknown, hence hidden.
    for variant in [
        "Delete_File",
        "DELETE_FILE",
        "delete_file ",
        "delete_file\\u0000x",
        "d\u{0435}lete_file",
    ] {
        let answer = gateway.post_with(&premium, &call(variant), &[], false).await;
        let decoded: String = serde_json::from_str(&format!("\"{variant}\"")).unwrap();
        let expected =
            json!({"jsonrpc":"2.0","id":9,"error":{"code":-32602,"message":format!("Unknown tool: {decoded}")}});
        assert_eq!((answer.status, answer.json()), (StatusCode::OK, expected), "{variant}");
    }
    // Unicode escapes are decoded before the decision: the escaped name is the forbidden one.
    let answer = gateway
        .post_with(&premium, &call("\\u0064elete_file"), &[], false)
        .await;
    assert_eq!(answer.text(), hidden_tool(9, "delete_file"));

    // Duplicate `name` keys: ambiguous, refused before any decision.
    let duplicate =
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"get_weather","name":"delete_file"}}"#;
    let answer = gateway.post_with(&premium, duplicate, &[], false).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"]["code"], -32600);

    // 2026-07-28: an `Mcp-Name` naming an allowed tool over a forbidden body is a mismatch;
    // a matching header does not make a forbidden body allowed.
    let modern = [("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call")];
    let lying = [modern[0], modern[1], ("mcp-name", "get_weather")];
    let answer = gateway.post_with(&premium, &call("delete_file"), &lying, false).await;
    assert_eq!(
        (answer.status, answer.json()["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32020))
    );
    let honest = [modern[0], modern[1], ("mcp-name", "delete_file")];
    let answer = gateway.post_with(&premium, &call("delete_file"), &honest, false).await;
    assert_eq!(answer.text(), hidden_tool(9, "delete_file"));

    // Argument constraints hold against path tricks, and name the argument, never its value.
    for path in [
        "/srv/data/../etc/passwd",
        "/srv/data/..%2fetc%2fpasswd",
        "/srv/data/%2e%2e%2fsecret",
        "/srv/data/%252e%252e%252fsecret",
        "/srv/data/a\\u0000/../../etc",
        "/srv/data/sub/file",
        "/etc/passwd",
    ] {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":"w","method":"tools/call","params":{{"name":"write_file","arguments":{{"path":"{path}","content":"x"}}}}}}"#
        );
        let answer = gateway.post_with(&premium, &body, &[], false).await;
        assert_eq!(
            (answer.status, answer.text()),
            (
                StatusCode::OK,
                r#"{"jsonrpc":"2.0","id":"w","error":{"code":-32602,"message":"Invalid arguments for tool write_file: path"}}"#.to_string()
            ),
            "{path}"
        );
    }
    // A resource URI with dot segments never matches a glob.
    let traversal =
        r#"{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"weather://x/../../etc/passwd"}}"#;
    let answer = gateway.post_with(&premium, traversal, &[], false).await;
    assert_eq!(answer.json()["error"]["message"], "Resource not found");
    assert_eq!(upstream.count(), 0, "nothing refused may reach the upstream");

    // Controls: the allowed forms go through.
    let ok = r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"/srv/data/notes.txt","content":"x"}}}"#;
    assert_eq!(gateway.post_with(&premium, ok, &[], false).await.status, StatusCode::OK);
    let batch_ok = r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_weather","arguments":{}}}]"#;
    assert_eq!(
        gateway.post_with(&premium, batch_ok, &[], false).await.status,
        StatusCode::OK
    );
    assert_eq!(upstream.count(), 2);

    // Every refusal was audited with its reason and target.
    let events = gateway.audit_events(18).await;
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "policy_denied" && e["target"] == "delete_file")
    );
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "invalid_arguments" && e["target"] == "write_file")
    );
    let audit = std::fs::read_to_string(gateway.dir.path().join("audit.jsonl")).unwrap();
    assert!(!audit.contains("%252e"), "argument values stay out of the audit");
}

#[tokio::test]
async fn explain_mode_names_the_missing_permission() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = seed_gateway(&upstream.url("/mcp"), "on_deny = \"explain\"\n", FAST_TIMEOUTS).await;
    let user = token("ulla", &["user"]);
    let call = |name: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":"e1","method":"tools/call","params":{{"name":"{name}","arguments":{{}}}}}}"#)
    };
    let answer = gateway.post_with(&user, &call("delete_file"), &[], false).await;
    assert_eq!(
        (answer.status, answer.text()),
        (
            StatusCode::OK,
            r#"{"jsonrpc":"2.0","id":"e1","error":{"code":-31403,"message":"Permission 'files:delete' required","data":{"permission":"files:delete","reason":"permission_required"}}}"#.to_string()
        )
    );
    let answer = gateway.post_with(&user, &call("add"), &[], false).await;
    assert_eq!(
        answer.text(),
        r#"{"jsonrpc":"2.0","id":"e1","error":{"code":-31403,"message":"Tool 'add' is not allowed by policy","data":{"reason":"not_allowed"}}}"#
    );
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn sessions_are_bound_to_their_principal_and_expire_when_idle() {
    // The mock's SSE answers carry `mcp-session-id: sess-1`.
    let upstream = mock::session_upstream().await;
    let timeouts = format!("{FAST_TIMEOUTS}session_idle = \"1s\"\n");
    let gateway = seed_gateway(&upstream.url("/mcp"), "", &timeouts).await;
    let (alice, bob) = (token("alice", &["user"]), token("bob", &["user"]));
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    let answer = gateway.post_with(&alice, init, &[], false).await;
    assert_eq!(answer.headers["mcp-session-id"], "sess-1");
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let with_session = [("mcp-session-id", "sess-1")];
    assert_eq!(
        gateway.post_with(&alice, ping, &with_session, false).await.status,
        StatusCode::OK
    );
    let forwarded = upstream.count();

    // Bob presents Alice's id: POST, GET, DELETE and a posted response all get 404.
    let as_bob = |method: http::Method| {
        Request::builder()
            .method(method)
            .uri(gateway.url("/mcp"))
            .header("authorization", format!("Bearer {bob}"))
            .header("mcp-session-id", "sess-1")
            .header("accept", "text/event-stream")
    };
    assert_eq!(
        gateway.post_with(&bob, ping, &with_session, false).await.status,
        StatusCode::NOT_FOUND
    );
    let response = r#"{"jsonrpc":"2.0","id":"s1","result":{}}"#;
    assert_eq!(
        gateway.post_with(&bob, response, &with_session, false).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        gateway.call(empty(as_bob(http::Method::GET))).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        gateway.call(empty(as_bob(http::Method::DELETE))).await.status,
        StatusCode::NOT_FOUND
    );
    // Unknown and malformed ids.
    let unknown = gateway
        .post_with(&alice, ping, &[("mcp-session-id", "never-issued")], false)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = gateway
        .post_with(&alice, ping, &[("mcp-session-id", "a b")], false)
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(upstream.count(), forwarded, "nothing of Bob's reached the upstream");
    // Bob's DELETE did not end Alice's session; her posted response is hers to send.
    assert_eq!(
        gateway.post_with(&alice, response, &with_session, false).await.status,
        StatusCode::OK
    );

    let events = gateway.audit_events(8).await;
    let mismatch = events
        .iter()
        .find(|e| e["reason"] == "session_mismatch")
        .expect("audited");
    assert_eq!(
        (mismatch["subject"].as_str(), mismatch["status"].as_u64()),
        (Some("bob"), Some(404))
    );
    assert!(
        mismatch["session"].as_str().unwrap().starts_with("sha256:"),
        "{mismatch}"
    );
    assert!(
        !events.iter().any(|e| e.to_string().contains("sess-1")),
        "raw ids stay out of the audit"
    );

    // Idle for longer than session_idle: forgotten.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        gateway.post_with(&alice, ping, &with_session, false).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn anonymous_callers_hold_the_anonymous_role() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp"))
        .with_upstream_keys(&format!("default = \"deny\"\n{SEED_POLICY}"))
        .with_roles("[roles]\nanonymous = [\"weather:read\"]\n")
        .start()
        .await;
    let call = |name: &str| format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{name}"}}}}"#);
    assert_eq!(gateway.post(&call("get_weather")).await.status, StatusCode::OK);
    assert_eq!(
        gateway.post(&call("read_file")).await.text(),
        hidden_tool(1, "read_file")
    );
    assert_eq!(upstream.count(), 1);
}

/// Runs `portcullis explain ARGS` on `config`; returns (exit code, stdout, stderr).
async fn explain(config: &Path, args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("--config")
        .arg(config)
        .arg("explain")
        .args(args)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .unwrap()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        output.status.code().unwrap(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

#[tokio::test]
async fn explain_prints_each_name_with_its_verdict_and_rule() {
    let server = python_server_with(&["streamable-http", "paged"], &[]).await;
    let url = format!("http://127.0.0.1:{}/mcp", server.port);
    let gateway = seed_gateway(&url, "", FAST_TIMEOUTS).await;
    let config = gateway.config_path.clone();
    let line = |verdict: &str, name: &str, needs: &str, rule: &str| {
        format!("  {verdict:<5}  {name:<28}  needs {needs:<16}  by {rule}")
    };

    let (code, out, err) = explain(&config, &["--role", "user"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&line("allow", "read_file", "files:read", "tools.read_file")),
        "{out}"
    );
    assert!(
        out.contains(&line("deny", "write_file", "files:write", "tools.write_file")),
        "{out}"
    );
    assert!(out.contains(&line("deny", "(any other tool)", "-", "default")), "{out}");
    assert!(
        out.contains(&line(
            "allow",
            "file:///srv/data/*",
            "files:read",
            "resources.\"file:///srv/data/*\""
        )),
        "{out}"
    );

    // A token is verified, then explained with its own roles; --live adds what the upstream
    // offers that no rule names (every page of it).
    let premium = token("pam", &["premium"]);
    let (code, out, err) = explain(&config, &["--token", &premium, "--live"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("principal pam (jwt)  roles [premium]"), "{out}");
    assert!(
        out.contains(&line("allow", "write_file", "files:write", "tools.write_file")),
        "{out}"
    );
    assert!(out.contains(&line("deny", "slow_count", "-", "default")), "{out}");
    assert!(out.contains(&line("deny", "users://all", "-", "default")), "{out}");
    assert!(out.contains(&line("deny", "admin_report", "-", "default")), "{out}");

    // Refusals are clear and exit 1.
    let (code, _, err) = explain(&config, &["--role", "root"]).await;
    assert_eq!((code, err.contains("role `root` is not defined")), (1, true), "{err}");
    let (code, _, err) = explain(&config, &["--token", "not-a-token"]).await;
    assert_eq!((code, err.contains("credential refused")), (1, true), "{err}");
}

#[tokio::test]
async fn a_legacy_endpoint_belongs_to_the_stream_owner() {
    use http_body_util::BodyExt as _;
    let upstream = mock::start(|request| match request.method {
        http::Method::GET => Reply::Sse {
            chunks: vec![(
                Duration::ZERO,
                bytes::Bytes::from_static(b"event: endpoint\ndata: /messages/?session_id=s\n\n"),
            )],
            hold: true,
        },
        _ => Reply::Json(StatusCode::ACCEPTED, ""),
    })
    .await;
    let gateway = seed_gateway(&upstream.url("/sse"), "", FAST_TIMEOUTS).await;
    let (alice, bob) = (token("alice", &["user"]), token("bob", &["admin"]));
    let get = Request::get(gateway.url("/mcp"))
        .header("accept", "text/event-stream")
        .header("authorization", format!("Bearer {alice}"));
    let mut stream = gateway.send(empty(get)).await.into_body();
    let frame = tokio::time::timeout(Duration::from_secs(5), stream.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let event = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    let endpoint = event
        .trim_end()
        .trim_start_matches("event: endpoint\ndata: ")
        .to_string();
    assert!(endpoint.starts_with("/mcp?portcullis_session="), "{event}");
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let post = |token: &str| {
        with_body(
            mcp_post(&gateway.url(&endpoint), list).header("authorization", format!("Bearer {token}")),
            list,
        )
    };
    let before = upstream.count();
    assert_eq!(
        gateway.call(post(&bob)).await.status,
        StatusCode::NOT_FOUND,
        "another principal"
    );
    assert_eq!(upstream.count(), before);
    assert_eq!(gateway.call(post(&alice)).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn list_answers_are_filtered_whatever_their_id_and_wherever_they_arrive() {
    use http_body_util::BodyExt as _;
    const LIST: &str = r#"{"jsonrpc":"2.0","id":0,"result":{"tools":[{"name":"get_weather"},{"name":"delete_file"}]}}"#;
    // POST answers echo the id in another spelling (`-0` → `0`); the GET stream (the legacy
    // transport's answers, or events replayed on resumption) carries a list nobody asked for here.
    let upstream = mock::start(|request| match request.method {
        http::Method::GET => Reply::Sse {
            chunks: vec![
                (
                    Duration::ZERO,
                    bytes::Bytes::from_static(b"event: endpoint\ndata: /messages/?session_id=s\n\n"),
                ),
                (
                    Duration::ZERO,
                    bytes::Bytes::from(format!("id: 9\nevent: message\ndata: {LIST}\n\n")),
                ),
            ],
            hold: false,
        },
        _ => Reply::Json(StatusCode::OK, LIST),
    })
    .await;
    let gateway = seed_gateway(&upstream.url("/sse"), "", FAST_TIMEOUTS).await;
    let guest = token("gus", &["guest"]);
    let list = r#"{"jsonrpc":"2.0","id":-0,"method":"tools/list"}"#;
    let answer = gateway.post_with(&guest, list, &[], false).await;
    assert_eq!(
        answer.json(),
        json!({"jsonrpc":"2.0","id":0,"result":{"tools":[{"name":"get_weather"}]}})
    );
    let get = Request::get(gateway.url("/mcp"))
        .header("accept", "text/event-stream")
        .header("authorization", format!("Bearer {guest}"));
    let stream = gateway.send(empty(get)).await.into_body();
    let text = tokio::time::timeout(Duration::from_secs(5), stream.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains(r#"{"name":"get_weather"}"#), "{text}");
    assert!(!text.contains("delete_file"), "{text}");
    assert!(text.contains("id: 9\n"), "event ids survive the rewrite: {text}");

    // A 2026-07-28 listen stream may not subscribe to a resource the caller cannot read.
    let listen = r#"{"jsonrpc":"2.0","id":5,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["weather://oslo","file:///srv/data/x"]}}}"#;
    let before = upstream.count();
    let answer = gateway.post_with(&guest, listen, &[], false).await;
    assert_eq!(answer.json()["error"]["message"], "Resource not found");
    assert_eq!(upstream.count(), before);
}
