//! TLS peers for tests: a gateway with `[server.tls]` from certificates made at test time, and
//! one POST over a fresh TLS connection (h2 or HTTP/1.1, as ALPN picks).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::certs::{self, Ca};
use super::mock;
use super::{GatewayConfig, TestGateway};

pub const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

/// What a TLS client saw.
#[derive(Debug)]
pub struct TlsAnswer {
    pub status: StatusCode,
    pub version: Version,
    pub body: String,
    /// DER of the server's leaf certificate.
    pub server_cert: Vec<u8>,
}

/// One POST over a fresh TLS connection (h2 when ALPN picks it).
pub async fn tls_post(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Result<TlsAnswer, String> {
    tls_post_with(addr, config, None).await
}

/// Same, with one extra request header.
pub async fn tls_post_with(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    header: Option<(&str, &str)>,
) -> Result<TlsAnswer, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::try_from("localhost").unwrap();
    let tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .map_err(|_| "handshake timed out".to_string())?
        .map_err(|e| format!("handshake: {e}"))?;
    let server_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let mut request = Request::post(format!("https://localhost:{}/mcp", addr.port()))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(Full::new(Bytes::from_static(PING.as_bytes())))
        .unwrap();
    if let Some((name, value)) = header {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let response = if h2 {
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        send.send_request(request).await.map_err(|e| format!("request: {e}"))?
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut request = request;
        request
            .headers_mut()
            .insert("host", format!("localhost:{}", addr.port()).parse().unwrap());
        *request.uri_mut() = "/mcp".parse().unwrap();
        send.send_request(request).await.map_err(|e| format!("request: {e}"))?
    };
    let (status, version) = (response.status(), response.version());
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(TlsAnswer {
        status,
        version,
        body: String::from_utf8_lossy(&body).into_owned(),
        server_cert,
    })
}

/// A TLS gateway: server CA + cert in `dir`; `tls_extra` lands inside `[server.tls]`,
/// `extra` at the end of the file.
pub struct TlsSetup {
    pub server_ca: Ca,
    pub client_ca: Ca,
    pub gateway: TestGateway,
    pub upstream: mock::Mock,
}

pub async fn tls_gateway(tls_extra: &str, extra: &str, client_ca: Ca, crl: Option<&str>) -> TlsSetup {
    tls_gateway_with(tls_extra, extra, client_ca, crl, false).await
}

/// Same; `protected` sets `auth = "required"` on the route.
pub async fn tls_gateway_with(
    tls_extra: &str,
    extra: &str,
    client_ca: Ca,
    crl: Option<&str>,
    protected: bool,
) -> TlsSetup {
    let upstream = mock::start(mock::ok_json).await;
    let server_ca = Ca::new("test server CA");
    let server = server_ca.server(&[], 1);
    let mut config = GatewayConfig::new(&upstream.url("/mcp"));
    let dir = config.path().to_path_buf();
    let cert = certs::write(&dir, "server.pem", &server.cert);
    let key = certs::write(&dir, "server-key.pem", &server.key);
    certs::write(&dir, "clients-ca.pem", &client_ca.pem);
    if let Some(crl) = crl {
        certs::write(&dir, "clients.crl", crl);
    }
    let tls = format!(
        "[server.tls]\ncert = \"{}\"\nkey = \"{}\"\nreload_check = \"200ms\"\n{}\n",
        cert.display(),
        key.display(),
        tls_extra.replace("$DIR", &dir.display().to_string())
    );
    config = config
        .with_tls(&tls)
        .with_tables(&extra.replace("$DIR", &dir.display().to_string()));
    if protected {
        config = config.protected();
    }
    let gateway = config.start().await;
    TlsSetup {
        server_ca,
        client_ca,
        gateway,
        upstream,
    }
}
