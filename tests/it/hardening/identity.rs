//! Identity headers from clients (issue 13, item 5). An upstream behind an auth proxy often
//! trusts `X-Authenticated-User`, `X-Forwarded-User`, `Remote-User`, `X-Auth-Request-*` and the
//! like: a client that sets them would be whoever it names. Every such header (and a route's
//! own `strip_headers`) is withheld, over HTTP/1.1 and h2; the only identity an upstream sees
//! is the one the gateway sets itself on `identity_headers` routes (`X-Portcullis-*`, which no
//! client can send either).

use http::StatusCode;

use crate::harness::mock;
use crate::harness::upstreams::python_server;
use crate::harness::{GatewayConfig, TestGateway, mcp_post, protected_gateway, token, with_body};

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
const FORGED: [&str; 16] = [
    "x-authenticated-user",
    "x-authenticated-userid",
    "x-user",
    "x-user-id",
    "x-userid",
    "x-email",
    "x-remote-user",
    "remote-user",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-groups",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-portcullis-subject",
    "x-tenant",
];

async fn ping_with_forged_identity(gateway: &TestGateway, h2: bool) -> StatusCode {
    let mut builder =
        mcp_post(&gateway.url("/mcp"), PING).header("authorization", format!("Bearer {}", token("alice", &["user"])));
    for name in FORGED {
        builder = builder.header(name, "admin");
    }
    let request = with_body(builder, PING);
    let answer = if h2 {
        gateway.call_h2(request).await
    } else {
        gateway.call(request).await
    };
    answer.status
}

#[tokio::test]
async fn forged_identity_headers_never_reach_the_upstream_and_the_gateway_says_who_called() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = protected_gateway(
        &upstream.url("/mcp"),
        "strip_headers = [\"X-Tenant\"]\nidentity_headers = true",
    )
    .await;
    for h2 in [false, true] {
        assert_eq!(ping_with_forged_identity(&gateway, h2).await, StatusCode::OK);
        let seen = upstream.last().headers;
        for name in FORGED.iter().filter(|n| !n.starts_with("x-portcullis-")) {
            assert!(seen.get(*name).is_none(), "{name} reached the upstream (h2 {h2})");
        }
        assert_eq!(
            seen["x-portcullis-subject"], "alice",
            "the gateway's subject, not the client's"
        );
        assert_eq!(seen["x-portcullis-auth"], "jwt");
        assert_eq!(seen["x-portcullis-roles"], "user");
        assert_eq!(seen.get_all("x-portcullis-subject").iter().count(), 1);
    }
    // Without `identity_headers` the upstream hears of no identity at all.
    let quiet = GatewayConfig::new(&upstream.url("/mcp")).with_jwt().start().await;
    assert_eq!(ping_with_forged_identity(&quiet, false).await, StatusCode::OK);
    let seen = upstream.last().headers;
    assert!(
        seen.keys()
            .all(|n| !n.as_str().starts_with("x-portcullis-") && n != "x-user"),
        "{seen:?}"
    );
    assert_eq!(
        seen["x-tenant"], "admin",
        "only the route that strips x-tenant withholds it"
    );
}

#[tokio::test]
async fn the_python_server_serves_callers_whose_forged_identity_was_withheld() {
    let server = python_server("streamable-http").await;
    let gateway = protected_gateway(
        &format!("http://127.0.0.1:{}/mcp", server.port),
        "identity_headers = true",
    )
    .await;
    let mut builder =
        mcp_post(&gateway.url("/mcp"), "").header("authorization", format!("Bearer {}", token("alice", &["user"])));
    for name in FORGED {
        builder = builder.header(name, "admin");
    }
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let answer = gateway
        .call(with_body(builder.header("mcp-protocol-version", "2025-11-25"), init))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.text().contains("protocolVersion"), "{}", answer.text());
}

#[test]
fn a_route_cannot_inject_an_identity_header_it_does_not_own() {
    let config =
        GatewayConfig::new("http://127.0.0.1:9/mcp").with_upstream_keys("headers = { \"X-Remote-User\" = \"admin\" }");
    let error = portcullis::config::load_str(&config.text(), &|_| None).unwrap_err();
    assert!(error.key.starts_with("upstreams[0].headers"), "{error}");
}
