//! Test harness: a real gateway started in-process on 127.0.0.1:0 in front of a mock or a
//! real upstream, an HTTP client for it, and access to its audit file. Everything else a test
//! starts comes from the files beside this one: the recording mock upstream (`mock`), real MCP
//! SDK peers (`upstreams`), certificates (`certs`) and TLS peers (`tls`), Redis (`redis`), the
//! binary (`process`).

pub mod audit;
pub mod caller;
pub mod certs;
pub mod go_decode;
pub mod lifecycle;
pub mod mock;
pub mod process;
pub mod redis;
pub mod tls;
pub mod upstreams;

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

/// Route keys for a policy that denies by default and lists one tool, `get_weather`
/// (`weather:read`, which the harness role `user` holds).
pub const WEATHER_ONLY: &str = "default = \"deny\"\n[upstreams.tools]\nget_weather = \"weather:read\"";

/// A gateway in front of `upstream_url` whose route needs the harness JWT, with `keys` in
/// the route (policy, options).
pub async fn protected_gateway(upstream_url: &str, keys: &str) -> TestGateway {
    GatewayConfig::new(upstream_url)
        .with_jwt()
        .with_upstream_keys(keys)
        .start()
        .await
}

/// The 2026-07-28 headers of a request for `method` naming `name`.
pub fn mirror(method: &'static str, name: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
        ("mcp-name", name),
    ]
}

/// The HS256 key of protected test routes (`GatewayConfig::with_jwt`), and the audience of its tokens.
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

/// The `[auth.jwt]` table with the [`SECRET`] key (kid `k1`) that [`token`] signs with.
pub fn jwt_table() -> String {
    format!(
        "[auth.jwt]\naudience = \"{AUDIENCE}\"\n[[auth.jwt.keys]]\nkid = \"k1\"\nalg = \"HS256\"\nsecret = \"{SECRET}\"\n"
    )
}

/// The config of a test gateway, built from the harness route: one route `/mcp` → the
/// upstream, public with `default = "allow"` and the open roles, audit events to
/// `audit.jsonl` in the gateway's own temp folder, [`FAST_TIMEOUTS`]. Each method changes one
/// thing; [`GatewayConfig::start`] writes the file and starts the gateway.
pub struct GatewayConfig {
    pub dir: tempfile::TempDir,
    upstream_url: String,
    server: String,
    timeouts: String,
    upstream: String,
    protected: bool,
    tls: Option<String>,
    roles: String,
    tables: String,
    audit: String,
}

impl GatewayConfig {
    pub fn new(upstream_url: &str) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            upstream_url: upstream_url.to_string(),
            server: String::new(),
            timeouts: FAST_TIMEOUTS.to_string(),
            upstream: String::new(),
            protected: false,
            tls: None,
            roles: OPEN_POLICY.to_string(),
            tables: String::new(),
            audit: String::new(),
        }
    }

    /// Extra keys inside `[audit]` (rotation, HMAC key, queue).
    pub fn with_audit_keys(mut self, keys: &str) -> Self {
        self.audit.push_str(keys);
        self.audit.push('\n');
        self
    }

    /// The gateway's folder (for certificates, state files, the config itself).
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// `auth = "required"` on the route.
    pub fn protected(mut self) -> Self {
        self.protected = true;
        self
    }

    /// `auth = "required"` and the harness JWT key ([`jwt_table`]).
    pub fn with_jwt(self) -> Self {
        self.protected().with_tables(&jwt_table())
    }

    /// Extra keys inside `[server]`.
    pub fn with_server_keys(mut self, keys: &str) -> Self {
        self.server.push_str(keys);
        self.server.push('\n');
        self
    }

    /// A whole `[server.timeouts]` table instead of [`FAST_TIMEOUTS`] (`""`: the defaults).
    pub fn with_timeouts(mut self, timeouts: &str) -> Self {
        self.timeouts = timeouts.to_string();
        self
    }

    /// Extra keys inside the route's `[[upstreams]]` entry (`default = "deny"` overrides the
    /// harness's `default = "allow"`).
    pub fn with_upstream_keys(mut self, keys: &str) -> Self {
        self.upstream.push_str(keys);
        self.upstream.push('\n');
        self
    }

    /// A `[server.tls]` table (with any `[[server.tls.sni]]`), placed inside `[server]`.
    pub fn with_tls(mut self, table: &str) -> Self {
        self.tls = Some(table.to_string());
        self
    }

    /// A `[roles]` table instead of the harness's open roles.
    pub fn with_roles(mut self, roles: &str) -> Self {
        self.roles = roles.to_string();
        self
    }

    /// More tables at the end of the file.
    pub fn with_tables(mut self, tables: &str) -> Self {
        self.tables.push('\n');
        self.tables.push_str(tables);
        self.tables.push('\n');
        self
    }

    /// The config text.
    pub fn text(&self) -> String {
        let audit = self.dir.path().join("audit.jsonl");
        let auth = if self.protected { "required" } else { "none" };
        // The harness route lets every call through unless the test sets its own default.
        let default = if self.upstream.contains("default = ") {
            ""
        } else {
            "default = \"allow\"\n"
        };
        let server = match &self.tls {
            Some(tls) => format!("{}\n{}\n{tls}", self.server, self.timeouts),
            None => format!("{}\n{}", self.server, self.timeouts),
        };
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n{server}\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"admin-token-0123456789\"\n\n\
             [[upstreams]]\nname = \"test\"\nroute = \"/mcp\"\nurl = \"{}\"\nauth = \"{auth}\"\n{default}{}\n\n\
             [audit]\nsink = \"file\"\npath = \"{}\"\n{}\n{}{}",
            self.upstream_url,
            self.upstream,
            audit.display(),
            self.audit,
            self.roles,
            self.tables
        )
    }

    /// Writes the config, with its listeners on `port` and `admin_port`, into the gateway's
    /// folder for the binary to run (`harness::process`); returns the file's path.
    pub fn write_for_binary(&self, port: u16, admin_port: u16) -> PathBuf {
        let path = self.dir.path().join("gateway.toml");
        std::fs::write(&path, process::fixed_ports(&self.text(), port, admin_port)).unwrap();
        path
    }

    /// Writes the config into the gateway's folder and starts it.
    pub async fn start(self) -> TestGateway {
        let text = self.text();
        TestGateway::start_text(self.dir, &text).await
    }
}

/// A gateway under test.
pub struct TestGateway {
    pub running: Running,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    client: Client<HttpConnector, Full<Bytes>>,
    /// The same, speaking h2c with prior knowledge.
    h2_client: Client<HttpConnector, Full<Bytes>>,
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

/// Roles the transport-level tests' credentials name. The harness route sets no tool rules, so
/// `default = "allow"` (in `GatewayConfig::text`) lets every call through: these tests are
/// about the proxy, and tests/it/authz/ covers the policy.
const OPEN_POLICY: &str = "[roles]\nuser = [\"weather:read\"]\nadmin = [\"*\"]\n";

impl TestGateway {
    /// Starts a gateway with one public route `/mcp` → `upstream_url`.
    pub async fn start(upstream_url: &str) -> Self {
        GatewayConfig::new(upstream_url).start().await
    }

    /// Same, with extra `[server]` and `[[upstreams]]` keys.
    pub async fn start_with(upstream_url: &str, server_extra: &str, upstream_extra: &str) -> Self {
        GatewayConfig::new(upstream_url)
            .with_server_keys(server_extra)
            .with_upstream_keys(upstream_extra)
            .start()
            .await
    }

    /// A gateway whose `/mcp` route (to `upstream_url`) needs a credential; `auth_toml` (the
    /// `[auth...]` tables) is appended to the config.
    pub async fn start_protected(upstream_url: &str, auth_toml: &str) -> Self {
        GatewayConfig::new(upstream_url)
            .protected()
            .with_tables(auth_toml)
            .start()
            .await
    }

    /// Starts from full config text (written to a file so reload can re-read it).
    pub async fn start_text(dir: tempfile::TempDir, text: &str) -> Self {
        let config_path = dir.path().join("gateway.toml");
        std::fs::write(&config_path, text).unwrap();
        let config = portcullis::config::load_file(&config_path).unwrap_or_else(|e| panic!("config: {e}\n{text}"));
        let running = portcullis::start(config, Some(config_path.clone())).await.unwrap();
        let client = Client::builder(TokioExecutor::new()).build_http();
        let h2_client = Client::builder(TokioExecutor::new()).http2_only(true).build_http();
        Self {
            running,
            dir,
            config_path,
            client,
            h2_client,
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
        read_answer(response).await
    }

    /// The same over HTTP/2 (h2c, prior knowledge).
    pub async fn call_h2(&self, request: Request<Full<Bytes>>) -> Answer {
        let response = tokio::time::timeout(Duration::from_secs(10), self.h2_client.request(request))
            .await
            .expect("gateway answered within 10 s")
            .expect("request reached the gateway");
        assert_eq!(response.version(), http::Version::HTTP_2);
        read_answer(response).await
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

    /// POSTs `body` to `/mcp` with a bearer `token` and extra `headers`, over h2c when `h2`.
    pub async fn post_with(&self, token: &str, body: &str, headers: &[(&str, &str)], h2: bool) -> Answer {
        let mut builder = mcp_post(&self.url("/mcp"), body).header("authorization", format!("Bearer {token}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = with_body(builder, body);
        if h2 {
            self.call_h2(request).await
        } else {
            self.call(request).await
        }
    }

    /// Sends raw bytes on a new connection; everything read until the gateway closes or 3 s
    /// pass.
    pub async fn raw(&self, request: &str) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(self.addr()).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut response)).await;
        String::from_utf8_lossy(&response).into_owned()
    }

    /// The audit file of a harness-made config.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// Audit events written so far, waiting (bounded) until at least `at_least` exist.
    pub async fn audit_events(&self, at_least: usize) -> Vec<Value> {
        let path = self.audit_path();
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

/// Reads a whole response (10 s at most for the body).
async fn read_answer(response: http::Response<Incoming>) -> Answer {
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

/// Asserts a JSON-RPC error answer: the HTTP `status`, the error `code`, the `id` echoed (or
/// null), and a message.
pub fn assert_jsonrpc_error(answer: &crate::harness::Answer, status: u16, code: i64, id: serde_json::Value) {
    assert_eq!(answer.status.as_u16(), status, "body: {}", answer.text());
    let body = answer.json();
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert_eq!(body["id"], id, "body: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

/// The status code of a raw HTTP/1.1 response.
pub fn status_of(response: &str) -> &str {
    response.split(' ').nth(1).unwrap_or("none")
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

/// Waits until something accepts connections on loopback `port` (10 s at most).
pub async fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on port {port} after 10 s");
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
