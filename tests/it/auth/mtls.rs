//! mTLS: client certificates required or optional, refused when missing, foreign, expired,
//! not yet valid or revoked (CRL); the verified identity reaches the audit.

use http::{Request, StatusCode};

use crate::harness::certs::{self, Ca, Leaf};
use crate::harness::tls::{TlsSetup, tls_gateway, tls_gateway_with, tls_post, tls_post_with};

async fn mtls_setup(mode: &str, crl_serials: &[u64]) -> (TlsSetup, Leaf, Leaf, Leaf, Leaf, Leaf) {
    let client_ca = Ca::new("test clients CA");
    let good = client_ca.client("spiffe://example.org/agent/a1", "agent-a1", 100);
    let revoked = client_ca.client("spiffe://example.org/agent/a2", "agent-a2", 101);
    let expired = client_ca.expired_client("spiffe://example.org/agent/a3", 102);
    let foreign = Ca::new("foreign CA").client("spiffe://example.org/agent/a1", "agent-a1", 100);
    let early = client_ca.future_client("spiffe://example.org/agent/a4", 103);
    let crl = client_ca.crl(crl_serials);
    let tls_extra =
        format!("client_ca = \"$DIR/clients-ca.pem\"\nclient_auth = \"{mode}\"\ncrls = [\"$DIR/clients.crl\"]\n");
    let extra = "\n[auth.mtls]\nsubject_from = \"san_uri\"\n[[auth.mtls.map]]\nmatch = \"spiffe://example.org/agent/*\"\nroles = [\"user\"]\n";
    let setup = tls_gateway(&tls_extra, extra, client_ca, Some(&crl)).await;
    (setup, good, revoked, expired, foreign, early)
}

#[tokio::test]
async fn mtls_required_refuses_missing_foreign_expired_and_revoked_certificates() {
    let (setup, good, revoked, expired, foreign, early) = mtls_setup("required", &[101]).await;
    let addr = setup.gateway.addr();
    let ca = &setup.server_ca.pem;
    let alpn: &[&[u8]] = &[b"http/1.1"];
    assert!(
        tls_post(addr, certs::client_config(ca, None, alpn)).await.is_err(),
        "no certificate"
    );
    assert!(
        tls_post(addr, certs::client_config(ca, Some(&foreign), alpn))
            .await
            .is_err(),
        "wrong CA"
    );
    assert!(
        tls_post(addr, certs::client_config(ca, Some(&expired), alpn))
            .await
            .is_err(),
        "expired"
    );
    assert!(
        tls_post(addr, certs::client_config(ca, Some(&revoked), alpn))
            .await
            .is_err(),
        "revoked"
    );
    let early_result = tls_post(addr, certs::client_config(ca, Some(&early), alpn)).await;
    assert!(early_result.is_err(), "not yet valid: {early_result:?}");
    assert_eq!(setup.upstream.count(), 0, "nothing forwarded for refused clients");
    let answer = tls_post(addr, certs::client_config(ca, Some(&good), alpn))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(setup.upstream.count(), 1);
    let events = setup.gateway.audit_events(6).await;
    let event = events.iter().find(|e| e["event"] == "request").unwrap();
    let refused: Vec<_> = events.iter().filter(|e| e["event"] == "tls_handshake").collect();
    assert_eq!(refused.len(), 5, "each refused handshake is audited: {events:?}");
    assert!(
        refused
            .iter()
            .any(|e| e["detail"].as_str().is_some_and(|d| d.contains("xpired"))),
        "{refused:?}"
    );
    assert_eq!(event["subject"], "spiffe://example.org/agent/a1");
    assert_eq!(event["auth_method"], "mtls");
    let metrics = setup
        .gateway
        .call(crate::harness::empty(
            Request::get(setup.gateway.admin_url("/metrics")).header("authorization", "Bearer admin-token-0123456789"),
        ))
        .await
        .text();
    assert!(
        metrics.contains("portcullis_tls_handshake_failures_total 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_tls_certificate_expiry_seconds{cert="),
        "{metrics}"
    );
    drop(setup.client_ca);
}

#[tokio::test]
async fn mtls_optional_lets_anonymous_clients_in_and_identifies_the_others() {
    let (setup, good, revoked, _, _, _) = mtls_setup("optional", &[101]).await;
    let addr = setup.gateway.addr();
    let ca = &setup.server_ca.pem;
    let alpn: &[&[u8]] = &[b"h2"];
    assert_eq!(
        tls_post(addr, certs::client_config(ca, None, alpn))
            .await
            .unwrap()
            .status,
        StatusCode::OK
    );
    assert!(
        tls_post(addr, certs::client_config(ca, Some(&revoked), alpn))
            .await
            .is_err(),
        "a bad certificate is still refused"
    );
    assert_eq!(
        tls_post(addr, certs::client_config(ca, Some(&good), alpn))
            .await
            .unwrap()
            .status,
        StatusCode::OK
    );
    // Two requests and the refused handshake: wait for all three, the writer flushes every 20 ms.
    let events = setup.gateway.audit_events(3).await;
    let subjects: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "request")
        .map(|e| e["subject"].clone())
        .collect();
    assert_eq!(
        subjects,
        vec![
            serde_json::json!("anonymous"),
            serde_json::json!("spiffe://example.org/agent/a1")
        ]
    );
}

#[tokio::test]
async fn certificates_authenticate_only_with_auth_mtls_and_never_alongside_a_token() {
    let key = portcullis::auth::api_key::generate();
    let keys = format!(
        "\n[auth.api_keys]\n[[auth.api_keys.static]]\nid = \"k\"\nhash = \"{}\"\nsubject = \"svc\"\n",
        portcullis::auth::api_key::hash(&key)
    );
    let tls_extra = "client_ca = \"$DIR/clients-ca.pem\"\nclient_auth = \"optional\"\n";
    let alpn: &[&[u8]] = &[b"http/1.1"];
    let header = ("x-api-key", key.as_str());
    for with_mtls in [false, true] {
        let client_ca = Ca::new("clients");
        let agent = client_ca.client("spiffe://example.org/agent/a1", "a1", 5);
        let extra = if with_mtls {
            format!("{keys}\n[auth.mtls]\nsubject_from = \"san_uri\"\n")
        } else {
            keys.clone()
        };
        let setup = tls_gateway_with(tls_extra, &extra, client_ca, None, true).await;
        let (addr, ca) = (setup.gateway.addr(), setup.server_ca.pem.clone());
        let cert_only = tls_post_with(addr, certs::client_config(&ca, Some(&agent), alpn), None)
            .await
            .unwrap()
            .status;
        let cert_and_key = tls_post_with(addr, certs::client_config(&ca, Some(&agent), alpn), Some(header))
            .await
            .unwrap()
            .status;
        let key_only = tls_post_with(addr, certs::client_config(&ca, None, alpn), Some(header))
            .await
            .unwrap()
            .status;
        if with_mtls {
            assert_eq!(
                (cert_only, cert_and_key, key_only),
                (StatusCode::OK, StatusCode::UNAUTHORIZED, StatusCode::OK)
            );
        } else {
            // Without [auth.mtls] a certificate is no identity: it neither gets in alone nor
            // counts as a second credential.
            assert_eq!(
                (cert_only, cert_and_key, key_only),
                (StatusCode::UNAUTHORIZED, StatusCode::OK, StatusCode::OK)
            );
        }
    }
}
