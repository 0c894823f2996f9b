//! Small outbound HTTP(S) requests to identity providers (JWKS, OIDC discovery, token
//! introspection): one connection per request, a deadline, a size cap, no redirects.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Uri, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

/// Largest document accepted from an identity provider.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Deadline for one fetch, connect to last byte.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Fetches `url`; `form` makes it a POST with that urlencoded body. Returns the body of a
/// 2xx answer.
pub async fn fetch(
    url: &str,
    form: Option<String>,
    basic_auth: Option<String>,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Bytes, String> {
    let (status, body) = fetch_any(url, form, basic_auth, tls).await?;
    if !status.is_success() {
        return Err(format!("{url}: HTTP {status}"));
    }
    Ok(body)
}

/// Same, returning the status of any answer (`Err` only when there was no answer).
pub async fn fetch_any(
    url: &str,
    form: Option<String>,
    basic_auth: Option<String>,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<(http::StatusCode, Bytes), String> {
    tokio::time::timeout(TIMEOUT, fetch_inner(url, form, basic_auth, tls))
        .await
        .map_err(|_| format!("{url}: timed out"))?
}

async fn fetch_inner(
    url: &str,
    form: Option<String>,
    basic_auth: Option<String>,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<(http::StatusCode, Bytes), String> {
    let uri: Uri = url.parse().map_err(|_| format!("{url}: not a URL"))?;
    let authority = uri.authority().ok_or_else(|| format!("{url}: no host"))?.clone();
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("{url}: only http and https")),
    };
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let mut builder = Request::builder()
        .method(if form.is_some() { Method::POST } else { Method::GET })
        .uri(path)
        .header(header::HOST, authority.as_str())
        .header(header::ACCEPT, "application/json");
    if form.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    if let Some(credentials) = basic_auth {
        builder = builder.header(header::AUTHORIZATION, format!("Basic {credentials}"));
    }
    let request = builder
        .body(Full::new(Bytes::from(form.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let response = if https {
        let name = ServerName::try_from(host.clone()).map_err(|_| format!("{url}: bad host"))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::clone(tls))
            .connect(name, stream)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        send(TokioIo::new(tls), request).await?
    } else {
        send(TokioIo::new(stream), request).await?
    };
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BYTES)
        .collect()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
    Ok((status, body))
}

async fn send<I>(io: I, request: Request<Full<Bytes>>) -> Result<http::Response<hyper::body::Incoming>, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    sender.send_request(request).await.map_err(|e| e.to_string())
}

/// Percent-encodes a form value (RFC 3986 unreserved characters pass).
pub fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Keys and token answers travel over TLS, except to this machine itself.
pub fn secure_or_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(_)) => true,
        (Some("http"), Some(host)) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}
