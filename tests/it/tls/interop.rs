//! Real clients through TLS and mTLS: the Python `mcp` client trusting a custom CA (and
//! presenting a client certificate), and curl over HTTP/2.

use std::process::Stdio;

use crate::harness::GatewayConfig;
use crate::harness::certs::{self, Ca};
use crate::harness::upstreams::{py_expected, python, python_server, run_client_with};

#[tokio::test]
async fn python_client_and_curl_through_tls_and_mtls() {
    let server = python_server("streamable-http").await;
    let upstream = format!("http://127.0.0.1:{}/mcp", server.port);
    let server_ca = Ca::new("interop server CA");
    let client_ca = Ca::new("interop client CA");
    let leaf = server_ca.server(&[], 3);
    let agent = client_ca.client("spiffe://example.org/agent/py", "py-agent", 9);
    let config = GatewayConfig::new(&upstream);
    let d = config.path().to_path_buf();
    let ca_file = certs::write(&d, "server-ca.pem", &server_ca.pem);
    let client_cert = certs::write(&d, "agent.pem", &agent.cert);
    let client_key = certs::write(&d, "agent-key.pem", &agent.key);
    certs::write(&d, "server.pem", &leaf.cert);
    certs::write(&d, "server-key.pem", &leaf.key);
    certs::write(&d, "clients-ca.pem", &client_ca.pem);
    let tls = format!(
        "[server.tls]\ncert = \"{0}/server.pem\"\nkey = \"{0}/server-key.pem\"\nclient_ca = \"{0}/clients-ca.pem\"\nclient_auth = \"optional\"\n",
        d.display()
    );
    let gateway = config
        .with_tls(&tls)
        .with_tables("[auth.mtls]\nsubject_from = \"san_uri\"\n")
        .start()
        .await;
    let url = format!("https://localhost:{}/mcp", gateway.addr().port());
    let ca = ("SSL_CERT_FILE", ca_file.display().to_string());

    // TLS, both protocol eras.
    for (mode, protocol) in [("2026-07-28", "2026-07-28"), ("legacy", "2025-11-25")] {
        let result = run_client_with(&python(), "py_client.py", &url, mode, std::slice::from_ref(&ca)).await;
        assert_eq!(result, py_expected(protocol), "{mode} over TLS");
    }
    // mTLS: the client certificate becomes the audited identity.
    let mtls = [
        ca.clone(),
        ("MCP_CLIENT_CERT", client_cert.display().to_string()),
        ("MCP_CLIENT_KEY", client_key.display().to_string()),
    ];
    let result = run_client_with(&python(), "py_client.py", &url, "2026-07-28", &mtls).await;
    assert_eq!(result, py_expected("2026-07-28"), "over mTLS");
    let events = gateway.audit_events(1).await;
    assert!(
        events
            .iter()
            .any(|e| e["subject"] == "spiffe://example.org/agent/py" && e["auth_method"] == "mtls")
    );

    // curl over HTTP/2 with TLS and with mTLS.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    for with_cert in [false, true] {
        let mut command = tokio::process::Command::new("curl");
        command.args(["-sS", "--http2", "--cacert"]).arg(&ca_file);
        if with_cert {
            command.arg("--cert").arg(&client_cert).arg("--key").arg(&client_key);
        }
        command
            .args([
                "-w",
                "\\n%{http_version} %{http_code}",
                "-H",
                "content-type: application/json",
            ])
            .args([
                "-H",
                "accept: application/json, text/event-stream",
                "-H",
                "mcp-protocol-version: 2026-07-28",
            ])
            .args(["-H", "mcp-method: tools/call", "-H", "mcp-name: add", "-d", body, &url])
            .stdin(Stdio::null());
        let output = command.output().await.expect("curl runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.trim_end().ends_with("2 200"),
            "HTTP/2 200 expected: {text} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(text.contains("\"result\":5"), "{text}");
    }
}
