//! TLS termination and mTLS: certificates made at test time, real handshakes on 127.0.0.1,
//! refusals at the handshake, identities in the audit, certificate hot reload under load,
//! and an https upstream with a private CA.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use crate::harness::GatewayConfig;
use crate::harness::certs::{self, Ca, Leaf};
use crate::harness::mock;
use crate::harness::tls::{PING, tls_gateway, tls_post};

#[tokio::test]
async fn tls_serves_http1_and_h2_and_says_https_upstream() {
    let setup = tls_gateway("", "", Ca::new("unused"), None).await;
    let addr = setup.gateway.addr();
    for (alpn, version) in [
        (&[&b"h2"[..]][..], Version::HTTP_2),
        (&[&b"http/1.1"[..]][..], Version::HTTP_11),
    ] {
        let answer = tls_post(addr, certs::client_config(&setup.server_ca.pem, None, alpn))
            .await
            .unwrap();
        assert_eq!((answer.status, answer.version), (StatusCode::OK, version));
        assert!(answer.body.contains("\"result\""), "{}", answer.body);
    }
    assert_eq!(setup.upstream.count(), 2);
    assert_eq!(setup.upstream.last().headers["x-forwarded-proto"], "https");
    // A client that does not trust the CA cannot talk to it.
    let stranger = Ca::new("someone else");
    assert!(
        tls_post(addr, certs::client_config(&stranger.pem, None, &[b"http/1.1"]))
            .await
            .is_err()
    );
    // Plain HTTP (and h2c) on the TLS port is not served.
    for preface in [
        "POST /mcp HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stream, preface.as_bytes())
            .await
            .unwrap();
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut reply),
        )
        .await;
        assert!(
            !String::from_utf8_lossy(&reply).contains("HTTP/"),
            "{:?}",
            String::from_utf8_lossy(&reply)
        );
    }
    assert_eq!(setup.upstream.count(), 2);
}

fn openssl_connects(addr: SocketAddr, version_flag: &str) -> bool {
    let output = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            version_flag,
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-servername",
            "localhost",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl is installed");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    text.contains("Cipher is ") && !text.contains("Cipher is (NONE)")
}

#[tokio::test]
async fn only_tls_1_2_and_1_3_are_offered() {
    let setup = tls_gateway("", "", Ca::new("unused"), None).await;
    let addr = setup.gateway.addr();
    let (tls10, tls11, tls12, tls13) = tokio::task::spawn_blocking(move || {
        (
            openssl_connects(addr, "-tls1"),
            openssl_connects(addr, "-tls1_1"),
            openssl_connects(addr, "-tls1_2"),
            openssl_connects(addr, "-tls1_3"),
        )
    })
    .await
    .unwrap();
    assert!(!tls10 && !tls11, "TLS 1.0 / 1.1 must be refused");
    assert!(tls12 && tls13, "TLS 1.2 and 1.3 work (the control)");
}

#[tokio::test]
async fn certificate_swap_under_load_fails_no_request_and_a_broken_file_keeps_the_old_one() {
    let setup = tls_gateway("", "", Ca::new("unused"), None).await;
    let addr = setup.gateway.addr();
    let client = certs::client_config(&setup.server_ca.pem, None, &[b"http/1.1"]);
    let dir = setup.gateway.dir.path().to_path_buf();
    let first = tls_post(addr, Arc::clone(&client)).await.unwrap().server_cert;
    // Load: 4 workers, each a loop of fresh TLS connections, while the certificate changes.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (client, stop) = (Arc::clone(&client), Arc::clone(&stop));
        workers.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            for _ in 0..2000 {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                match tls_post(addr, Arc::clone(&client)).await {
                    Ok(answer) if answer.status == StatusCode::OK => ok += 1,
                    other => failed.push(format!("{other:?}")),
                }
            }
            (ok, failed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let renewed = setup.server_ca.server(&[], 2);
    // Write the new pair next to the old and rename over it (how certificate tools do it).
    certs::write(&dir, "new-key.pem", &renewed.key);
    certs::write(&dir, "new.pem", &renewed.cert);
    std::fs::rename(dir.join("new-key.pem"), dir.join("server-key.pem")).unwrap();
    std::fs::rename(dir.join("new.pem"), dir.join("server.pem")).unwrap();
    let mut rotated = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let seen = tls_post(addr, Arc::clone(&client)).await.unwrap().server_cert;
        if seen != first {
            rotated = true;
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut total = 0;
    for worker in workers {
        let (ok, failed) = worker.await.unwrap();
        assert!(failed.is_empty(), "requests failed during the swap: {failed:?}");
        total += ok;
    }
    assert!(rotated, "new connections get the new certificate");
    assert!(total > 20, "the load actually ran ({total} requests)");
    // A broken file is refused; the running certificate stays.
    let current = tls_post(addr, Arc::clone(&client)).await.unwrap().server_cert;
    std::fs::write(dir.join("server.pem"), "not a certificate").unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = tls_post(addr, Arc::clone(&client)).await.unwrap();
    assert_eq!((after.status, after.server_cert), (StatusCode::OK, current));
    let events = setup.gateway.audit_events(1).await;
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "tls_reload" && e["decision"] == "deny"),
        "{events:?}"
    );
}

/// A TLS client connection kept open across several requests (HTTP/1.1).
async fn keep_alive_client(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    send
}

async fn keep_alive_post(send: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>, port: u16) -> StatusCode {
    let request = Request::post("/mcp")
        .header("host", format!("localhost:{port}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(PING.as_bytes())))
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    let status = response.status();
    let _ = response.into_body().collect().await;
    status
}

#[tokio::test]
async fn open_connections_survive_a_certificate_swap() {
    let setup = tls_gateway("", "", Ca::new("unused"), None).await;
    let addr = setup.gateway.addr();
    let client = certs::client_config(&setup.server_ca.pem, None, &[b"http/1.1"]);
    let mut open = keep_alive_client(addr, Arc::clone(&client)).await;
    assert_eq!(keep_alive_post(&mut open, addr.port()).await, StatusCode::OK);
    let first = tls_post(addr, Arc::clone(&client)).await.unwrap().server_cert;
    let dir = setup.gateway.dir.path().to_path_buf();
    let renewed = setup.server_ca.server(&[], 9);
    certs::write(&dir, "server-key.pem", &renewed.key);
    certs::write(&dir, "server.pem", &renewed.cert);
    let mut rotated = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if tls_post(addr, Arc::clone(&client))
            .await
            .is_ok_and(|a| a.server_cert != first)
        {
            rotated = true;
            break;
        }
    }
    assert!(rotated);
    assert_eq!(
        keep_alive_post(&mut open, addr.port()).await,
        StatusCode::OK,
        "the old connection still works"
    );
}

#[tokio::test]
async fn rsa_ecdsa_and_ed25519_certificates_and_sni_selection() {
    let ca = Ca::new("key types CA");
    let rsa = ca.server_with(&rcgen::PKCS_RSA_SHA256, &["localhost", "rsa.test"]);
    let ed = ca.server_with(&rcgen::PKCS_ED25519, &["ed.test"]);
    let ecdsa = ca.server_with(&rcgen::PKCS_ECDSA_P384_SHA384, &["*.ecdsa.test"]);
    let upstream = mock::start(mock::ok_json).await;
    let config = GatewayConfig::new(&upstream.url("/mcp"));
    let d = config.path().to_path_buf();
    for (name, leaf) in [("rsa", &rsa), ("ed", &ed), ("ecdsa", &ecdsa)] {
        certs::write(&d, &format!("{name}.pem"), &leaf.cert);
        certs::write(&d, &format!("{name}-key.pem"), &leaf.key);
    }
    let tls = format!(
        "[server.tls]\ncert = \"{0}/rsa.pem\"\nkey = \"{0}/rsa-key.pem\"\n[[server.tls.sni]]\ncert = \"{0}/ed.pem\"\nkey = \"{0}/ed-key.pem\"\n[[server.tls.sni]]\ncert = \"{0}/ecdsa.pem\"\nkey = \"{0}/ecdsa-key.pem\"\n",
        d.display()
    );
    let gateway = config.with_tls(&tls).start().await;
    let addr = gateway.addr();
    let client = certs::client_config(&ca.pem, None, &[b"http/1.1"]);
    let served = |sni: &'static str| {
        let client = Arc::clone(&client);
        async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let tls = tokio_rustls::TlsConnector::from(client)
                .connect(ServerName::try_from(sni).unwrap(), tcp)
                .await
                .unwrap();
            tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
        }
    };
    let der = |leaf: &Leaf| {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(leaf.cert.as_bytes())
            .unwrap()
            .to_vec()
    };
    assert_eq!(served("localhost").await, der(&rsa), "default certificate (RSA)");
    assert_eq!(served("ed.test").await, der(&ed), "SNI picks the Ed25519 certificate");
    assert_eq!(
        served("api.ecdsa.test").await,
        der(&ecdsa),
        "wildcard SNI picks the ECDSA certificate"
    );
    assert_eq!(
        tls_post(addr, Arc::clone(&client)).await.unwrap().status,
        StatusCode::OK
    );
}
