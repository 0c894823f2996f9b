//! Test harness: a real gateway started in-process on 127.0.0.1:0 in front of a mock or a
//! real upstream, an HTTP client for it, and access to its audit file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use portcullis::Running;
use serde_json::Value;

/// Timeouts short enough for tests.
pub const FAST_TIMEOUTS: &str = r#"
[server.timeouts]
header_read = "1s"
request_body = "1s"
upstream_connect = "1s"
upstream_response = "2s"
stream_idle = "2s"
sse_keepalive = "10s"
shutdown_grace = "1s"
"#;

/// The HS256 key of protected test routes (`protected_text`), and the audience of its tokens.
pub const SECRET: &str = "authz-secret-0123456789abcdef-0123456789";
pub const AUDIENCE: &str = "https://mcp.example.test/mcp";

/// An access token for `subject` with `roles`, signed with [`SECRET`] (kid `k1`).
pub fn token(subject: &str, roles: &[&str]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({ "sub": subject, "iss": "portcullis", "aud": AUDIENCE, "exp": now + 600, "iat": now,
                         "jti": format!("j-{subject}"), "type": "access", "roles": roles });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k1".into());
    header.typ = Some("at+jwt".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// Config text for a protected `/mcp` route to `upstream_url` (`config_text` with
/// `auth = "required"` and the [`SECRET`] key), `upstream_extra` in its `[[upstreams]]` and
/// `extra` (more tables) appended; the audit file goes to `audit`.
pub fn protected_text(upstream_url: &str, upstream_extra: &str, audit: &std::path::Path, extra: &str) -> String {
    let mut text = config_text(
        upstream_url,
        "",
        upstream_extra,
        &audit.display().to_string(),
        FAST_TIMEOUTS,
    )
    .replace("auth = \"none\"", "auth = \"required\"");
    text.push_str(&format!(
        "\n[auth.jwt]\naudience = \"{AUDIENCE}\"\n[[auth.jwt.keys]]\nkid = \"k1\"\nalg = \"HS256\"\nsecret = \"{SECRET}\"\n\n{extra}\n"
    ));
    text
}

/// A gateway under test.
pub struct TestGateway {
    pub running: Running,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A complete response.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Config text for one public route `/mcp` to `upstream_url`, plus `extra` TOML appended
/// (for `[server]` keys use `server_extra`, which lands inside `[server]`).
/// Roles the transport-level tests' credentials name. The harness route sets no tool rules, so
/// `default = "allow"` (in `config_text`'s `[[upstreams]]`) lets every call through: these tests
/// are about the proxy, and tests/it/authz.rs covers the policy.
const OPEN_POLICY: &str = "[roles]\nuser = [\"weather:read\"]\nadmin = [\"*\"]\n";

pub fn config_text(
    upstream_url: &str,
    server_extra: &str,
    upstream_extra: &str,
    audit: &str,
    timeouts: &str,
) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{server_extra}\n{timeouts}\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"admin-token-0123456789\"\n\n\
         [[upstreams]]\nname = \"test\"\nroute = \"/mcp\"\nurl = \"{upstream_url}\"\nauth = \"none\"\ndefault = \"allow\"\n{upstream_extra}\n\n\
         [audit]\nsink = \"file\"\npath = \"{audit}\"\n\n{OPEN_POLICY}"
    )
}

impl TestGateway {
    /// Starts a gateway with one public route `/mcp` → `upstream_url`.
    pub async fn start(upstream_url: &str) -> Self {
        Self::start_with(upstream_url, "", "").await
    }

    /// Same, with extra `[server]` and `[[upstreams]]` keys.
    pub async fn start_with(upstream_url: &str, server_extra: &str, upstream_extra: &str) -> Self {
        Self::start_full(upstream_url, server_extra, upstream_extra, FAST_TIMEOUTS).await
    }

    /// Same, with a complete `[server.timeouts]` table.
    pub async fn start_full(upstream_url: &str, server_extra: &str, upstream_extra: &str, timeouts: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("audit.jsonl");
        let text = config_text(
            upstream_url,
            server_extra,
            upstream_extra,
            &audit.display().to_string(),
            timeouts,
        );
        Self::start_text(dir, &text).await
    }

    /// A gateway whose `/mcp` route (to `upstream_url`) needs a credential; `auth_toml` (the
    /// `[auth...]` tables) is appended to the config.
    pub async fn start_protected(upstream_url: &str, auth_toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("audit.jsonl");
        let mut text = config_text(upstream_url, "", "", &audit.display().to_string(), FAST_TIMEOUTS)
            .replace("auth = \"none\"", "auth = \"required\"");
        text.push_str(auth_toml);
        Self::start_text(dir, &text).await
    }

    /// Starts from full config text (written to a file so reload can re-read it).
    pub async fn start_text(dir: tempfile::TempDir, text: &str) -> Self {
        let config_path = dir.path().join("gateway.toml");
        std::fs::write(&config_path, text).unwrap();
        let config = portcullis::config::load_file(&config_path).unwrap_or_else(|e| panic!("config: {e}\n{text}"));
        let running = portcullis::start(config, Some(config_path.clone())).await.unwrap();
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            running,
            dir,
            config_path,
            client,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.running.addr, path)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{}", self.running.admin_addr, path)
    }

    /// Sends a request and returns the response head with its still-streaming body.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> http::Response<Incoming> {
        tokio::time::timeout(Duration::from_secs(10), self.client.request(request))
            .await
            .expect("gateway answered within 10 s")
            .expect("request reached the gateway")
    }

    /// Sends a request and reads the whole response.
    pub async fn call(&self, request: Request<Full<Bytes>>) -> Answer {
        let response = self.send(request).await;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(Duration::from_secs(10), body.collect())
            .await
            .expect("body within 10 s")
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// POSTs a JSON-RPC body to `/mcp` with the headers MCP clients send.
    pub async fn post(&self, body: &str) -> Answer {
        self.call(
            mcp_post(&self.url("/mcp"), body)
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap(),
        )
        .await
    }

    /// Audit events written so far, waiting (bounded) until at least `at_least` exist.
    pub async fn audit_events(&self, at_least: usize) -> Vec<Value> {
        let path = self.dir.path().join("audit.jsonl");
        for _ in 0..100 {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let events: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
            if events.len() >= at_least {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {at_least} audit events");
    }
}

/// A POST request builder with MCP's headers.
pub fn mcp_post(url: &str, _body: &str) -> http::request::Builder {
    Request::post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
}

/// A body-less request.
pub fn empty(builder: http::request::Builder) -> Request<Full<Bytes>> {
    builder.body(Full::new(Bytes::new())).unwrap()
}

/// A request with a body.
pub fn with_body(builder: http::request::Builder, body: &str) -> Request<Full<Bytes>> {
    builder.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Checks `holds` every 20 ms for at most 2 s; true as soon as it holds.
pub async fn eventually(mut holds: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if holds() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    holds()
}
