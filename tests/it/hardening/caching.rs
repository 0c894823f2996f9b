//! Caching and cookies (issue 13, item 10). A filtered answer is one caller's view: it leaves
//! with `Cache-Control: private, no-store` and `Vary: Authorization`, whatever the upstream
//! said (JSON and SSE, HTTP/1.1 and h2). An upstream's `Set-Cookie` never reaches the client
//! unless the route opts in with `forward_cookies = true`.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use crate::harness::caller::Caller;
use crate::harness::mock::{self, Reply};
use crate::harness::upstreams::python_server;
use crate::harness::{GatewayConfig, WEATHER_ONLY, protected_gateway, token};

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_weather","inputSchema":{"type":"object"}},{"name":"delete_file","inputSchema":{"type":"object"}}]}}"#;
const LIST_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
const SHARED: [(&str, &str); 2] = [
    ("cache-control", "public, max-age=600"),
    ("set-cookie", "upstream-session=s3cr3t; Path=/"),
];

fn list_reply(sse: bool) -> Reply {
    let inner = if sse {
        Reply::Sse {
            chunks: vec![(Duration::ZERO, Bytes::from(format!("event: message\ndata: {LIST}\n\n")))],
            hold: false,
        }
    } else {
        Reply::Json(StatusCode::OK, LIST)
    };
    Reply::WithHeaders(Box::new(inner), SHARED.to_vec())
}

#[tokio::test]
async fn filtered_answers_are_private_and_upstream_cookies_stay_behind() {
    for sse in [false, true] {
        let upstream = mock::start(move |_| list_reply(sse)).await;
        let gateway = protected_gateway(&upstream.url("/mcp"), WEATHER_ONLY).await;
        for h2 in [false, true] {
            let answer = gateway.post_with(&token("alice", &["user"]), LIST_CALL, &[], h2).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
            assert!(answer.text().contains("get_weather") && !answer.text().contains("delete_file"));
            assert_eq!(
                answer.headers["cache-control"], "private, no-store",
                "sse {sse} h2 {h2}"
            );
            assert!(answer.headers.get_all("vary").iter().any(|v| v == "Authorization"));
            assert!(answer.headers.get("set-cookie").is_none(), "sse {sse} h2 {h2}");
        }
    }
}

#[tokio::test]
async fn unfiltered_answers_keep_their_cache_headers_and_cookies_pass_only_when_the_route_opts_in() {
    let upstream = mock::start(|_| list_reply(false)).await;
    for (opt_in, cookie) in [("", false), ("forward_cookies = true", true)] {
        // The harness route allows everything: nothing is filtered, nothing per caller.
        let gateway = GatewayConfig::new(&upstream.url("/mcp"))
            .with_upstream_keys(opt_in)
            .start()
            .await;
        let answer = gateway.post(LIST_CALL).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers["cache-control"], "public, max-age=600");
        assert_eq!(answer.headers.get("set-cookie").is_some(), cookie, "{opt_in:?}");
    }
}

#[tokio::test]
async fn the_python_servers_filtered_lists_leave_private() {
    let server = python_server("streamable-http").await;
    let gateway = protected_gateway(&format!("http://127.0.0.1:{}/mcp", server.port), WEATHER_ONLY).await;
    let mut caller = Caller::new(&gateway, "alice", &["user"]);
    caller.initialize().await;
    let (_, answer) = caller.send("tools/list", "{}").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.text().contains("get_weather") && !answer.text().contains("delete_file"));
    assert_eq!(answer.headers["cache-control"], "private, no-store");
}
