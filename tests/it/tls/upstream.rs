//! `https://` upstreams: a private CA, SNI and name verification, a client certificate
//! towards an upstream that requires one; certificate errors give 502.

use http::StatusCode;

use crate::harness::GatewayConfig;
use crate::harness::certs::{self, Ca};
use crate::harness::mock;

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

#[tokio::test]
async fn https_upstream_with_a_private_ca() {
    let upstream_ca = Ca::new("upstream CA");
    let leaf = upstream_ca.server(&[], 7);
    let upstream = mock::start_full(mock::ok_json, true, Some(certs::server_config(&leaf))).await;
    let url = format!("https://localhost:{}/mcp", upstream.addr.port());
    let config = GatewayConfig::new(&url);
    let ca = certs::write(config.path(), "upstream-ca.pem", &upstream_ca.pem);
    let gateway = config
        .with_upstream_keys(&format!("ca = \"{}\"", ca.display()))
        .start()
        .await;
    let answer = gateway.post(PING).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(upstream.count(), 1);
    assert_eq!(
        upstream.last().headers["host"],
        format!("localhost:{}", upstream.addr.port())
    );
    // The same upstream without its CA: certificate error → 502, nothing served.
    let config = GatewayConfig::new(&url);
    let stranger = certs::write(config.path(), "other-ca.pem", &Ca::new("other").pem);
    let untrusting = config
        .with_upstream_keys(&format!("ca = \"{}\"", stranger.display()))
        .start()
        .await;
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
        let config = GatewayConfig::new(&url);
        let ca = certs::write(config.path(), "upstream-ca.pem", &upstream_ca.pem);
        let cert = certs::write(config.path(), "gw.pem", &identity.cert);
        let key = certs::write(config.path(), "gw-key.pem", &identity.key);
        let mut extra = format!("ca = \"{}\"", ca.display());
        if with_identity {
            extra.push_str(&format!(
                "\nclient_cert = \"{}\"\nclient_key = \"{}\"",
                cert.display(),
                key.display()
            ));
        }
        let gateway = config.with_upstream_keys(&extra).start().await;
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
