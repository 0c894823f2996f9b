//! `https://` upstreams: a private CA, SNI and name verification, a client certificate
//! towards an upstream that requires one; certificate errors give 502.

use http::StatusCode;

use crate::certs::{self, Ca};
use crate::harness::{FAST_TIMEOUTS, TestGateway, config_text};
use crate::mock;

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

#[tokio::test]
async fn https_upstream_with_a_private_ca() {
    let upstream_ca = Ca::new("upstream CA");
    let leaf = upstream_ca.server(&[], 7);
    let upstream = mock::start_full(mock::ok_json, true, Some(certs::server_config(&leaf))).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::write(dir.path(), "upstream-ca.pem", &upstream_ca.pem);
    let url = format!("https://localhost:{}/mcp", upstream.addr.port());
    let audit = dir.path().join("audit.jsonl");
    let text = config_text(
        &url,
        "",
        &format!("ca = \"{}\"", ca.display()),
        &audit.display().to_string(),
        FAST_TIMEOUTS,
    );
    let gateway = TestGateway::start_text(dir, &text).await;
    let answer = gateway.post(PING).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(upstream.count(), 1);
    assert_eq!(
        upstream.last().headers["host"],
        format!("localhost:{}", upstream.addr.port())
    );
    // The same upstream without its CA: certificate error → 502, nothing served.
    let dir = tempfile::tempdir().unwrap();
    let stranger = certs::write(dir.path(), "other-ca.pem", &Ca::new("other").pem);
    let audit = dir.path().join("audit.jsonl");
    let text = config_text(
        &url,
        "",
        &format!("ca = \"{}\"", stranger.display()),
        &audit.display().to_string(),
        FAST_TIMEOUTS,
    );
    let untrusting = TestGateway::start_text(dir, &text).await;
    let answer = untrusting.post(PING).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(answer.json()["error"]["code"], -31503);
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn https_upstream_that_requires_a_client_certificate() {
    let upstream_ca = Ca::new("upstream CA");
    let gateway_ca = Ca::new("gateway identity CA");
    let leaf = upstream_ca.server(&[], 8);
    let identity = gateway_ca.client("spiffe://example.org/gateway", "gateway", 1);
    let upstream = mock::start_full(
        mock::ok_json,
        true,
        Some(certs::server_config_mtls(&leaf, &gateway_ca.pem)),
    )
    .await;
    let url = format!("https://localhost:{}/mcp", upstream.addr.port());
    for with_identity in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let ca = certs::write(dir.path(), "upstream-ca.pem", &upstream_ca.pem);
        let cert = certs::write(dir.path(), "gw.pem", &identity.cert);
        let key = certs::write(dir.path(), "gw-key.pem", &identity.key);
        let mut extra = format!("ca = \"{}\"", ca.display());
        if with_identity {
            extra.push_str(&format!(
                "\nclient_cert = \"{}\"\nclient_key = \"{}\"",
                cert.display(),
                key.display()
            ));
        }
        let audit = dir.path().join("audit.jsonl");
        let text = config_text(&url, "", &extra, &audit.display().to_string(), FAST_TIMEOUTS);
        let gateway = TestGateway::start_text(dir, &text).await;
        let answer = gateway.post(PING).await;
        let expected = if with_identity {
            StatusCode::OK
        } else {
            StatusCode::BAD_GATEWAY
        };
        assert_eq!(
            answer.status,
            expected,
            "with client certificate: {with_identity}: {}",
            answer.text()
        );
    }
    assert_eq!(upstream.count(), 1);
}
