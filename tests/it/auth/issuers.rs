//! External issuers: JWKS rotation against a local JWKS server (new kid picked up, unknown-kid
//! floods make a bounded number of fetches, an outage keeps working keys), and an end-to-end
//! OAuth flow with the TypeScript SDK's example authorization server (introspection).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::harness::mock::{self, Reply};
use crate::harness::{GatewayConfig, TestGateway, mcp_post, with_body};

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
const ISSUER: &str = "https://idp.example.test/realms/mcp";
const AUDIENCE: &str = "https://gateway.example.test/mcp";

struct SigningKey {
    kid: String,
    pair: rcgen::KeyPair,
}

impl SigningKey {
    fn new(kid: &str) -> Self {
        Self {
            kid: kid.into(),
            pair: rcgen::KeyPair::generate().unwrap(),
        }
    }

    fn jwk(&self) -> Value {
        let raw = self.pair.public_key_raw();
        json!({ "kty": "EC", "crv": "P-256", "kid": self.kid, "alg": "ES256", "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&raw[1..33]), "y": URL_SAFE_NO_PAD.encode(&raw[33..65]) })
    }

    fn token(&self, kid: &str, extra: Value) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let mut claims = json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "user-7", "exp": now + 300, "iat": now,
                                 "realm_access": { "roles": ["user"] }, "scope": "mcp:tools files:read" });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_ec_pem(self.pair.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap()
    }
}

async fn call(gateway: &TestGateway, token: &str) -> StatusCode {
    let request = mcp_post(&gateway.url("/mcp"), PING).header("authorization", format!("Bearer {token}"));
    gateway.call(with_body(request, PING)).await.status
}

#[tokio::test]
async fn jwks_rotation_bounded_refetch_and_outage() {
    let key_a = SigningKey::new("a");
    let key_b = SigningKey::new("b");
    let jwks = Arc::new(Mutex::new(json!({ "keys": [key_a.jwk()] }).to_string()));
    let up = Arc::new(Mutex::new(true));
    let (served, alive) = (Arc::clone(&jwks), Arc::clone(&up));
    let idp = mock::start(move |_| {
        if *alive.lock().unwrap() {
            Reply::Json(
                StatusCode::OK,
                Box::leak(served.lock().unwrap().clone().into_boxed_str()),
            )
        } else {
            Reply::Json(StatusCode::SERVICE_UNAVAILABLE, "{}")
        }
    })
    .await;
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_protected(&upstream.url("/mcp"), &format!(
        "\n[[auth.issuers]]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_url = \"{}\"\nroles_claim = \"realm_access.roles\"\n\
         jwks_ttl = \"1s\"\nrefetch_interval = \"500ms\"\n",
        idp.url("/certs")
    )).await;

    assert_eq!(call(&gateway, &key_a.token("a", json!({}))).await, StatusCode::OK);
    assert_eq!(idp.count(), 1, "keys fetched once");
    let events = gateway.audit_events(1).await;
    assert_eq!(
        (events[0]["subject"].as_str(), events[0]["auth_method"].as_str()),
        (Some("user-7"), Some("oauth"))
    );

    // Wrong audience, wrong issuer and an attacker's key with a known kid are refused.
    assert_eq!(
        call(
            &gateway,
            &key_a.token("a", json!({ "aud": "https://other.example/mcp" }))
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&gateway, &key_a.token("a", json!({ "iss": "https://evil.example" }))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&gateway, &SigningKey::new("a").token("a", json!({}))).await,
        StatusCode::UNAUTHORIZED
    );

    // Rotation: kid b appears; the first token with it triggers one refetch.
    *jwks.lock().unwrap() = json!({ "keys": [key_a.jwk(), key_b.jwk()] }).to_string();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(call(&gateway, &key_b.token("b", json!({}))).await, StatusCode::OK);
    let after_rotation = idp.count();
    assert_eq!(after_rotation, 2);

    // A flood of unknown kids: all refused, at most one refetch per 500 ms.
    let started = std::time::Instant::now();
    for i in 0..200 {
        assert_eq!(
            call(&gateway, &key_b.token(&format!("unknown-{i}"), json!({}))).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let elapsed = started.elapsed().as_millis() as usize;
    let fetches = idp.count() - after_rotation;
    assert!(fetches <= elapsed / 500 + 1, "{fetches} fetches in {elapsed} ms");

    // Outage: the IdP fails; known keys keep working past the TTL.
    *up.lock().unwrap() = false;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let fresh = key_a.token("a", json!({ "jti": "after-outage" }));
    assert_eq!(
        call(&gateway, &fresh).await,
        StatusCode::OK,
        "last good keys are kept while the IdP is down"
    );
    assert_eq!(upstream.count(), 3);
}

/// A plain HTTP exchange with the example authorization server.
async fn http(method: &str, url: &str, content_type: &str, body: String) -> (StatusCode, http::HeaderMap, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", content_type)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .unwrap()
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = http_body_util::BodyExt::collect(body).await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&body).into_owned())
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn oauth_flow_with_the_typescript_sdk_authorization_server() {
    use sha2::Digest as _;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let example = dir.join("node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/simpleStreamableHttp.js");
    assert!(example.exists(), "run scripts/setup-interop.sh");
    let (mcp_port, auth_port) = (crate::harness::free_port(), crate::harness::free_port());
    let mut server = tokio::process::Command::new("node")
        .arg("--require")
        .arg(dir.join("force-loopback.cjs"))
        .arg(&example)
        .args(["--oauth", "--oauth-strict"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MCP_PORT", mcp_port.to_string())
        .env("MCP_AUTH_PORT", auth_port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", auth_port)).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the example authorization server started");
    let auth = format!("http://127.0.0.1:{auth_port}");
    let resource = format!("http://localhost:{mcp_port}/mcp");
    let redirect = "http://127.0.0.1:9/callback";

    // Dynamic client registration, then authorization code + PKCE, then the token.
    let registration = json!({ "client_name": "gateway-test", "redirect_uris": [redirect], "token_endpoint_auth_method": "none",
                               "grant_types": ["authorization_code"], "response_types": ["code"] });
    let (status, _, body) = http(
        "POST",
        &format!("{auth}/register"),
        "application/json",
        registration.to_string(),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let client_id = serde_json::from_str::<Value>(&body).unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let query = form(&[
        ("response_type", "code"),
        ("client_id", &client_id),
        ("redirect_uri", redirect),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("scope", "mcp:tools"),
        ("resource", &resource),
        ("state", "s1"),
    ]);
    let (status, headers, _) = http("GET", &format!("{auth}/authorize?{query}"), "text/plain", String::new()).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = headers["location"].to_str().unwrap();
    let code = location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_string();
    let token_form = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", redirect),
        ("client_id", &client_id),
        ("code_verifier", &verifier),
        ("resource", &resource),
    ]);
    let (status, _, body) = http(
        "POST",
        &format!("{auth}/token"),
        "application/x-www-form-urlencoded",
        token_form,
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let access = serde_json::from_str::<Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    // The gateway trusts that AS through introspection, for this resource, in front of a real
    // Python MCP server; the Python MCP client uses the token to list and call tools.
    let py = crate::harness::upstreams::python_server("streamable-http").await;
    let gateway = GatewayConfig::new(&format!("http://127.0.0.1:{}/mcp", py.port))
        .protected()
        .with_tables(&format!(
            "[[auth.issuers]]\nissuer = \"http://localhost:{auth_port}/\"\naudience = \"{resource}\"\nintrospection_url = \"{auth}/introspect\"\n"
        ))
        .start()
        .await;
    let headers = (
        "MCP_HEADERS",
        json!({ "Authorization": format!("Bearer {access}") }).to_string(),
    );
    let result = crate::harness::upstreams::run_client_with(
        &crate::harness::upstreams::python(),
        "py_client.py",
        &gateway.url("/mcp"),
        "2026-07-28",
        &[headers],
    )
    .await;
    assert_eq!(
        result,
        crate::harness::upstreams::py_expected("2026-07-28"),
        "a token from the real OAuth flow is accepted"
    );
    let events = gateway.audit_events(1).await;
    assert_eq!(events[0]["auth_method"], "oauth");
    assert!(
        events
            .iter()
            .all(|e| e["auth_method"] == "oauth" && e["reason"] == "ok"),
        "{events:?}"
    );
    assert_eq!(
        call(&gateway, "3f9d1c2e-0000-4000-8000-000000000000").await,
        StatusCode::UNAUTHORIZED,
        "an unknown opaque token"
    );
    // The AS goes away: new opaque tokens cannot be checked, and the gateway fails closed.
    server.kill().await.unwrap();
    let request =
        mcp_post(&gateway.url("/mcp"), PING).header("authorization", "Bearer 11111111-2222-4333-8444-555555555555");
    let answer = gateway.call(with_body(request, PING)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.json()["error"]["code"], -31503);
    let audit_file = gateway.dir.path().join("audit.jsonl");
    let audited = crate::harness::eventually(|| {
        std::fs::read_to_string(&audit_file).is_ok_and(|t| t.contains("\"reason\":\"auth_unavailable\""))
    })
    .await;
    assert!(audited, "the 503 is audited");
}

fn rand_bytes() -> [u8; 32] {
    rand::random()
}

#[tokio::test]
async fn oidc_discovery_finds_the_keys_and_checks_the_issuer() {
    let key = SigningKey::new("d1");
    let jwks = json!({ "keys": [key.jwk()] }).to_string();
    let addr: Arc<Mutex<String>> = Arc::default();
    let base = Arc::clone(&addr);
    let jwks_text: &'static str = Box::leak(jwks.into_boxed_str());
    let idp = mock::start(move |request| {
        let base = base.lock().unwrap().clone();
        if request.path_and_query == "/.well-known/openid-configuration" {
            let doc = json!({ "issuer": base, "jwks_uri": format!("{base}/certs") }).to_string();
            Reply::Json(StatusCode::OK, Box::leak(doc.into_boxed_str()))
        } else {
            Reply::Json(StatusCode::OK, jwks_text)
        }
    })
    .await;
    let issuer = format!("http://{}", idp.addr);
    *addr.lock().unwrap() = issuer.clone();
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_protected(
        &upstream.url("/mcp"),
        &format!("\n[[auth.issuers]]\nissuer = \"{issuer}\"\naudience = \"{AUDIENCE}\"\ndiscovery = true\n"),
    )
    .await;
    assert_eq!(
        call(&gateway, &key.token("d1", json!({ "iss": issuer }))).await,
        StatusCode::OK
    );
    let metadata = gateway
        .call(crate::harness::empty(http::Request::get(
            gateway.url("/.well-known/oauth-protected-resource/mcp"),
        )))
        .await;
    assert_eq!(metadata.json()["authorization_servers"], json!([issuer]));
    // A discovery document naming another issuer disables the keys: no key set can be trusted,
    // so the gateway fails closed (503), and nothing is forwarded.
    *addr.lock().unwrap() = "https://impostor.example".into();
    let fooled = TestGateway::start_protected(
        &upstream.url("/mcp"),
        &format!("\n[[auth.issuers]]\nissuer = \"{issuer}\"\naudience = \"{AUDIENCE}\"\ndiscovery = true\n"),
    )
    .await;
    assert_eq!(
        call(&fooled, &key.token("d1", json!({ "iss": issuer }))).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn introspection_refusals_and_failures() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let answers: Arc<Mutex<Vec<(StatusCode, String)>>> = Arc::default();
    let queue = Arc::clone(&answers);
    let idp = mock::start(move |_| {
        let (status, body) = queue.lock().unwrap().remove(0);
        Reply::Json(status, Box::leak(body.into_boxed_str()))
    })
    .await;
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_protected(
        &upstream.url("/mcp"),
        &format!(
            "\n[[auth.issuers]]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\nintrospection_url = \"{}\"\n",
            idp.url("/introspect")
        ),
    )
    .await;
    let active = |extra: Value| {
        let mut answer =
            json!({ "active": true, "sub": "u1", "exp": now + 300, "aud": AUDIENCE, "scope": "mcp:tools" });
        for (k, v) in extra.as_object().unwrap() {
            answer[k] = v.clone();
        }
        (StatusCode::OK, answer.to_string())
    };
    let cases = [
        (active(json!({ "active": false })), StatusCode::UNAUTHORIZED, "inactive"),
        (
            active(json!({ "token_type": "refresh_token" })),
            StatusCode::UNAUTHORIZED,
            "a refresh token",
        ),
        (
            active(json!({ "aud": "https://other.example/mcp" })),
            StatusCode::UNAUTHORIZED,
            "another audience",
        ),
        (
            active(json!({ "iss": "https://evil.example" })),
            StatusCode::UNAUTHORIZED,
            "another issuer",
        ),
        (active(json!({ "exp": now - 600 })), StatusCode::UNAUTHORIZED, "expired"),
        (
            (StatusCode::UNAUTHORIZED, "{}".to_string()),
            StatusCode::UNAUTHORIZED,
            "a 4xx answer",
        ),
        (
            (StatusCode::BAD_GATEWAY, "{}".to_string()),
            StatusCode::SERVICE_UNAVAILABLE,
            "a 5xx answer fails closed",
        ),
        (active(json!({})), StatusCode::OK, "the control"),
    ];
    for (i, (answer, expected, why)) in cases.into_iter().enumerate() {
        answers.lock().unwrap().push(answer);
        let token = format!("opaque-token-{i}");
        assert_eq!(call(&gateway, &token).await, expected, "{why}");
    }
    assert_eq!(upstream.count(), 1, "only the control was forwarded");
    // A refused token is answered from memory when replayed: no second introspection call.
    let before = idp.count();
    assert_eq!(call(&gateway, "opaque-token-0").await, StatusCode::UNAUTHORIZED);
    assert_eq!(idp.count(), before);
}

#[tokio::test]
async fn an_external_issuer_cannot_borrow_the_gateways_own_key() {
    let key = SigningKey::new("x1");
    let jwks: &'static str = Box::leak(json!({ "keys": [key.jwk()] }).to_string().into_boxed_str());
    let idp = mock::start(move |_| Reply::Json(StatusCode::OK, jwks)).await;
    let upstream = mock::start(mock::ok_json).await;
    let secret = "own-secret-0123456789abcdef0123456789";
    let gateway = TestGateway::start_protected(
        &upstream.url("/mcp"),
        &format!(
            "\n[auth.jwt]\naudience = \"{AUDIENCE}\"\n[[auth.jwt.keys]]\nkid = \"x1\"\nalg = \"HS256\"\nsecret = \"{secret}\"\n\
             [[auth.issuers]]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_url = \"{}\"\n",
            idp.url("/certs")
        ),
    )
    .await;
    // iss names the external issuer, but the token is HS256 with the gateway's own secret and kid.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "exp": now + 300, "iat": now, "jti": "m", "type": "access" });
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("x1".into());
    header.typ = Some("at+jwt".into());
    let forged = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap();
    assert_eq!(call(&gateway, &forged).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&gateway, &key.token("x1", json!({}))).await,
        StatusCode::OK,
        "the issuer's own key works"
    );
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn issuer_down_from_the_start_is_503_and_a_reload_keeps_the_last_good_keys() {
    let key = SigningKey::new("r1");
    let jwks: &'static str = Box::leak(json!({ "keys": [key.jwk()] }).to_string().into_boxed_str());
    let up = Arc::new(Mutex::new(false));
    let alive = Arc::clone(&up);
    let idp = mock::start(move |_| {
        if *alive.lock().unwrap() {
            Reply::Json(StatusCode::OK, jwks)
        } else {
            Reply::Json(StatusCode::SERVICE_UNAVAILABLE, "{}")
        }
    })
    .await;
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_protected(
        &upstream.url("/mcp"),
        &format!(
            "\n[[auth.issuers]]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_url = \"{}\"\njwks_ttl = \"500ms\"\nrefetch_interval = \"200ms\"\n",
            idp.url("/certs")
        ),
    )
    .await;
    let token = key.token("r1", json!({}));
    let request = mcp_post(&gateway.url("/mcp"), PING).header("authorization", format!("Bearer {token}"));
    let answer = gateway.call(with_body(request, PING)).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no key set yet: the issuer is down, not the token bad"
    );
    assert_eq!(answer.json()["error"]["code"], -31503);
    *up.lock().unwrap() = true;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(call(&gateway, &token).await, StatusCode::OK);
    // The IdP goes down, then the config is reloaded: the new generation keeps the keys.
    *up.lock().unwrap() = false;
    let reload = http::Request::post(gateway.admin_url("/admin/reload"))
        .header("authorization", "Bearer admin-token-0123456789")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    assert_eq!(gateway.call(reload).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        call(&gateway, &key.token("r1", json!({ "jti": "fresh" }))).await,
        StatusCode::OK
    );
    assert_eq!(upstream.count(), 2);
}

#[tokio::test]
async fn an_issuer_can_require_access_token_typ() {
    let key = SigningKey::new("t1");
    let jwks: &'static str = Box::leak(json!({ "keys": [key.jwk()] }).to_string().into_boxed_str());
    let idp = mock::start(move |_| Reply::Json(StatusCode::OK, jwks)).await;
    let upstream = mock::start(mock::ok_json).await;
    let gateway = TestGateway::start_protected(
        &upstream.url("/mcp"),
        &format!("\n[[auth.issuers]]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_url = \"{}\"\ntoken_typ = \"at+jwt\"\n", idp.url("/certs")),
    )
    .await;
    let with_typ = |typ: Option<&str>| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let claims = json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "u", "exp": now + 300, "iat": now });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("t1".into());
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_ec_pem(key.pair.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(call(&gateway, &with_typ(Some("at+jwt"))).await, StatusCode::OK);
    assert_eq!(
        call(&gateway, &with_typ(Some("JWT"))).await,
        StatusCode::UNAUTHORIZED,
        "an ID-token-style JWT"
    );
    assert_eq!(call(&gateway, &with_typ(None)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn a_missing_scope_gets_the_step_up_challenge() {
    let key = SigningKey::new("s1");
    let jwks: &'static str = Box::leak(json!({ "keys": [key.jwk()] }).to_string().into_boxed_str());
    let idp = mock::start(move |_| Reply::Json(StatusCode::OK, jwks)).await;
    let upstream = mock::start(mock::ok_json).await;
    let policy = "default = \"deny\"\n[upstreams.tools]\nread_file = \"files:read\"\ndelete_file = \"files:delete\"\n";
    let gateway = GatewayConfig::new(&upstream.url("/mcp"))
        .protected()
        .with_upstream_keys(policy)
        .with_tables(&format!(
            "[[auth.issuers]]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_url = \"{}\"\nroles_claim = \"realm_access.roles\"\nscopes = [\"files:read\", \"files:delete\"]\n",
            idp.url("/certs")
        ))
        .start()
        .await;
    // The token's scopes are "mcp:tools files:read"; its role `user` grants weather:read only.
    let token = key.token("s1", json!({}));
    let call = |name: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{{"name":"{name}","arguments":{{}}}}}}"#)
    };
    let send = |body: String| {
        let request = with_body(
            mcp_post(&gateway.url("/mcp"), &body).header("authorization", format!("Bearer {token}")),
            &body,
        );
        gateway.call(request)
    };
    assert_eq!(
        send(call("read_file")).await.status,
        StatusCode::OK,
        "a scope is a permission"
    );
    let answer = send(call("delete_file")).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.headers["www-authenticate"],
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"files:delete\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            gateway.url("").trim_end_matches('/')
        )
        .as_str()
    );
    assert_eq!(answer.json()["error"], "insufficient_scope");
    // A name no rule lists cannot be fixed by a scope: hidden as usual.
    let answer = send(call("add")).await;
    assert_eq!(
        (answer.status, answer.json()["error"]["message"].clone()),
        (StatusCode::OK, json!("Unknown tool: add"))
    );
    assert_eq!(upstream.count(), 1);
    // The metadata offers exactly the scopes the route's rules name.
    let metadata = gateway
        .call(crate::harness::empty(http::Request::get(
            gateway.url("/.well-known/oauth-protected-resource/mcp"),
        )))
        .await;
    assert_eq!(
        metadata.json()["scopes_supported"],
        json!(["files:delete", "files:read"])
    );
}
