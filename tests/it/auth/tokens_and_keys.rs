//! Authentication on `auth = "required"` routes: Portcullis JWTs (the JWT attack catalogue),
//! API keys, the RFC 9728 challenge and metadata; nothing is forwarded for a refused
//! credential, and no credential reaches the upstream, the logs or the audit.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::harness::mock;
use crate::harness::{Answer, GatewayConfig, TestGateway, empty, mcp_post, with_body};

const SECRET: &str = "test-secret-0123456789abcdef-0123456789";
const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A gateway with a protected `/mcp`, an HS256 key `k1`, an ES256 verify-only key `k2` and two
/// static API keys (one expired). Returns (gateway, upstream, good API key, expired API key,
/// ES256 private key PEM).
async fn protected() -> (TestGateway, mock::Mock, String, String, String) {
    let upstream = mock::start(mock::ok_json).await;
    let good = portcullis::auth::api_key::generate();
    let old = portcullis::auth::api_key::generate();
    let es = rcgen::KeyPair::generate().unwrap();
    let config = GatewayConfig::new(&upstream.url("/mcp")).protected();
    let public = crate::harness::certs::write(config.path(), "es-public.pem", &es.public_key_pem());
    let gateway = config
        .with_tables(&format!(
            "[auth.jwt]\naudience = \"https://mcp.example.test/mcp\"\nleeway = \"30s\"\nmax_token_bytes = 4096\n\
         [[auth.jwt.keys]]\nkid = \"k1\"\nalg = \"HS256\"\nsecret = \"{SECRET}\"\n\
         [[auth.jwt.keys]]\nkid = \"k2\"\nalg = \"ES256\"\npublic_key = \"{}\"\n\
         [auth.api_keys]\n\
         [[auth.api_keys.static]]\nid = \"ci-bot\"\nhash = \"{}\"\nsubject = \"svc:ci\"\nroles = [\"user\"]\n\
         [[auth.api_keys.static]]\nid = \"old-bot\"\nhash = \"{}\"\nsubject = \"svc:old\"\nexpires = \"2020-01-01\"\n",
            public.display(),
            portcullis::auth::api_key::hash(&good),
            portcullis::auth::api_key::hash(&old),
        ))
        .start()
        .await;
    (gateway, upstream, good, old, es.serialize_pem())
}

fn claims(overrides: Value) -> Value {
    let mut base = json!({
        "sub": "alice", "iss": "portcullis", "aud": "https://mcp.example.test/mcp",
        "exp": now() + 600, "iat": now(), "jti": "j-1", "type": "access", "roles": ["user"]
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

/// A valid ES256 access token signed with the `k2` key's PEM.
fn es256(private_pem: &str) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k2".into());
    header.typ = Some("at+jwt".into());
    jsonwebtoken::encode(
        &header,
        &claims(json!({})),
        &EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn hs256(claims: &Value, typ: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    header.typ = Some(typ.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

/// A token from raw header and payload JSON text, signed HS256 with the right secret.
fn raw_token(header: &str, payload: &str) -> String {
    use hmac_sign::sign;
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(sign(SECRET.as_bytes(), signing_input.as_bytes()))
    )
}

mod hmac_sign {
    /// HMAC-SHA256 via jsonwebtoken's own signer, so hand-built tokens carry valid signatures.
    pub fn sign(key: &[u8], message: &[u8]) -> Vec<u8> {
        let token = jsonwebtoken::crypto::sign(
            message,
            &jsonwebtoken::EncodingKey::from_secret(key),
            jsonwebtoken::Algorithm::HS256,
        )
        .unwrap();
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token).unwrap()
    }
}

async fn call_with(gateway: &TestGateway, name: &str, value: &str) -> Answer {
    gateway
        .call(with_body(
            mcp_post(&gateway.url("/mcp"), PING).header(name, value),
            PING,
        ))
        .await
}

fn assert_401(answer: &Answer, credential_sent: bool) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text());
    let challenge = answer.headers["www-authenticate"].to_str().unwrap();
    let metadata = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        metadata.starts_with("http://127.0.0.1:") && metadata.ends_with("/.well-known/oauth-protected-resource/mcp"),
        "{challenge}"
    );
    assert_eq!(
        challenge.contains("error=\"invalid_token\""),
        credential_sent,
        "{challenge}"
    );
    let body = answer.json();
    assert_eq!(body["error"], "invalid_token");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn jwt_catalogue_every_forgery_is_401_and_nothing_is_forwarded() {
    let (gateway, upstream, _, _, es_private) = protected().await;
    let n = now();
    let bad: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#),
                URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
            ),
        ),
        (
            "alg None",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"None","typ":"at+jwt"}"#),
                URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
            ),
        ),
        ("HS256 signed with the ES256 public key as secret", {
            let pem = std::fs::read(gateway.dir.path().join("es-public.pem")).unwrap();
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("k2".into());
            header.typ = Some("at+jwt".into());
            jsonwebtoken::encode(&header, &claims(json!({})), &EncodingKey::from_secret(&pem)).unwrap()
        }),
        ("ES256 by an attacker key with an embedded jwk/jku", {
            let attacker = rcgen::KeyPair::generate().unwrap();
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some("k2".into());
            header.typ = Some("at+jwt".into());
            header.jku = Some(upstream.url("/jwks"));
            header.x5u = Some(upstream.url("/x5u"));
            jsonwebtoken::encode(
                &header,
                &claims(json!({})),
                &EncodingKey::from_ec_pem(attacker.serialize_pem().as_bytes()).unwrap(),
            )
            .unwrap()
        }),
        (
            "kid path trick",
            raw_token(
                r#"{"alg":"HS256","typ":"at+jwt","kid":"../../../../dev/null"}"#,
                &claims(json!({})).to_string(),
            ),
        ),
        (
            "crit",
            raw_token(
                r#"{"alg":"HS256","typ":"at+jwt","kid":"k1","crit":["http://x/ext"]}"#,
                &claims(json!({})).to_string(),
            ),
        ),
        (
            "duplicate alg",
            raw_token(
                r#"{"alg":"none","alg":"HS256","typ":"at+jwt","kid":"k1"}"#,
                &claims(json!({})).to_string(),
            ),
        ),
        ("refresh typ", hs256(&claims(json!({})), "refresh+jwt")),
        ("refresh claim", hs256(&claims(json!({"type": "refresh"})), "at+jwt")),
        (
            "no typ",
            raw_token(r#"{"alg":"HS256","kid":"k1"}"#, &claims(json!({})).to_string()),
        ),
        ("missing iss", hs256(&claims(json!({"iss": null})), "at+jwt")),
        ("iss wrong type", hs256(&claims(json!({"iss": 5})), "at+jwt")),
        (
            "iss trailing slash",
            hs256(&claims(json!({"iss": "portcullis/"})), "at+jwt"),
        ),
        ("missing aud", hs256(&claims(json!({"aud": null})), "at+jwt")),
        (
            "other audience",
            hs256(&claims(json!({"aud": "https://other.example/mcp"})), "at+jwt"),
        ),
        ("aud wrong type", hs256(&claims(json!({"aud": 5})), "at+jwt")),
        ("missing jti", hs256(&claims(json!({"jti": null})), "at+jwt")),
        ("missing exp", hs256(&claims(json!({"exp": null})), "at+jwt")),
        ("exp as string", hs256(&claims(json!({"exp": "99999999999"})), "at+jwt")),
        (
            "expired beyond leeway",
            hs256(&claims(json!({"exp": n - 40})), "at+jwt"),
        ),
        ("nbf in the future", hs256(&claims(json!({"nbf": n + 120})), "at+jwt")),
        ("nbf as string", hs256(&claims(json!({"nbf": "99999999999"})), "at+jwt")),
        ("iat in the future", hs256(&claims(json!({"iat": n + 3600})), "at+jwt")),
        (
            "duplicate role claim",
            raw_token(
                r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#,
                &claims(json!({})).to_string().replacen(
                    "\"roles\":[\"user\"]",
                    "\"roles\":[\"user\"],\"roles\":[\"admin\"]",
                    1,
                ),
            ),
        ),
        ("oversized", hs256(&claims(json!({"pad": "x".repeat(5000)})), "at+jwt")),
        ("embedded jwk of the attacker", {
            let attacker = rcgen::KeyPair::generate().unwrap();
            let raw = attacker.public_key_raw();
            let jwk = json!({ "kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&raw[1..33]), "y": URL_SAFE_NO_PAD.encode(&raw[33..65]) });
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some("k2".into());
            header.typ = Some("at+jwt".into());
            header.jwk = Some(serde_json::from_value(jwk).unwrap());
            jsonwebtoken::encode(
                &header,
                &claims(json!({})),
                &EncodingKey::from_ec_pem(attacker.serialize_pem().as_bytes()).unwrap(),
            )
            .unwrap()
        }),
        ("no kid while two keys are configured", {
            let mut header = Header::new(Algorithm::HS256);
            header.typ = Some("at+jwt".into());
            jsonwebtoken::encode(
                &header,
                &claims(json!({})),
                &EncodingKey::from_secret(SECRET.as_bytes()),
            )
            .unwrap()
        }),
        ("four segments", format!("{}.x", hs256(&claims(json!({})), "at+jwt"))),
        (
            "padded base64",
            hs256(&claims(json!({})), "at+jwt").replacen('.', "=.", 1),
        ),
        ("ES256 r=s=0", {
            let good = es256(&es_private);
            let mut parts: Vec<&str> = good.split('.').collect();
            let zero = URL_SAFE_NO_PAD.encode([0u8; 64]);
            parts[2] = &zero;
            parts.join(".")
        }),
    ];
    for (name, token) in &bad {
        let answer = call_with(&gateway, "authorization", &format!("Bearer {token}")).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{name} must be refused: {}",
            answer.text()
        );
        assert_401(&answer, true);
    }
    assert_eq!(
        upstream.count(),
        0,
        "no refused request reached the upstream (incl. jku/x5u fetches)"
    );

    // The control: good tokens with each key, and exp inside the leeway.
    let es_good = es256(&es_private);
    for token in [
        hs256(&claims(json!({})), "at+jwt"),
        hs256(&claims(json!({"exp": n - 20})), "at+jwt"),
        hs256(&claims(json!({"nbf": n + 20})), "at+jwt"),
        hs256(
            &claims(json!({"aud": ["https://other.example/mcp", "https://mcp.example.test/mcp"]})),
            "at+jwt",
        ),
        es_good.clone(),
        es_good,
    ] {
        let answer = call_with(&gateway, "authorization", &format!("Bearer {token}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    assert_eq!(upstream.count(), 6);
    assert!(
        upstream.last().headers.get("authorization").is_none(),
        "the client's token never reaches the upstream"
    );
    let events = gateway.audit_events(bad.len() + 6).await;
    // The audit says why each was refused (the first five forgeries, in order).
    let reasons: Vec<&str> = events
        .iter()
        .take(bad.len())
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"unsupported_crit") && reasons.contains(&"wrong_token_type") && reasons.contains(&"expired"),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"unknown_key") && reasons.contains(&"token_too_large") && reasons.contains(&"not_yet_valid"),
        "{reasons:?}"
    );
    let ok: Vec<_> = events.iter().filter(|e| e["reason"] == "ok").collect();
    assert_eq!(ok[0]["subject"], "alice");
    assert_eq!(ok[0]["auth_method"], "jwt");
    assert_eq!(ok[0]["key_id"], "j-1");
    let all = std::fs::read_to_string(gateway.dir.path().join("audit.jsonl")).unwrap();
    for (_, token) in &bad {
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(
            signature.len() < 8 || !all.contains(signature),
            "a token leaked into the audit"
        );
    }
}

#[tokio::test]
async fn no_credential_gets_the_challenge_on_every_method() {
    let (gateway, upstream, _, _, _) = protected().await;
    assert_401(&gateway.post(PING).await, false);
    for method in ["GET", "DELETE"] {
        let request = empty(
            Request::builder()
                .method(method)
                .uri(gateway.url("/mcp"))
                .header("accept", "text/event-stream"),
        );
        assert_401(&gateway.call(request).await, false);
    }
    assert_401(&call_with(&gateway, "authorization", "Basic YTpi").await, true);
    assert_eq!(upstream.count(), 0);
    // RFC 9728 metadata at both well-known paths.
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let answer = gateway.call(empty(Request::get(gateway.url(path)))).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        let doc = answer.json();
        let expected = if path.ends_with("/mcp") {
            gateway.url("/mcp")
        } else {
            gateway.url("")
        };
        assert_eq!(doc["resource"], expected);
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert!(doc["authorization_servers"].as_array().is_some_and(|a| !a.is_empty()));
    }
    let unknown = gateway
        .call(empty(Request::get(
            gateway.url("/.well-known/oauth-protected-resource/nope"),
        )))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_keys_by_bearer_or_header_and_their_refusals() {
    let (gateway, upstream, good, old, _) = protected().await;
    assert_eq!(
        call_with(&gateway, "authorization", &format!("Bearer {good}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(call_with(&gateway, "x-api-key", &good).await.status, StatusCode::OK);
    assert_eq!(upstream.count(), 2);
    let seen = upstream.last();
    assert!(seen.headers.get("x-api-key").is_none() && seen.headers.get("authorization").is_none());
    let unknown = portcullis::auth::api_key::generate();
    for (header, value) in [
        ("x-api-key", unknown.clone()),
        ("x-api-key", old.clone()),
        ("x-api-key", "mcp_tooshort".to_string()),
        ("authorization", format!("Bearer {unknown}")),
    ] {
        assert_401(&call_with(&gateway, header, &value).await, true);
    }
    let both = mcp_post(&gateway.url("/mcp"), PING)
        .header("authorization", format!("Bearer {good}"))
        .header("x-api-key", &good);
    assert_401(&gateway.call(with_body(both, PING)).await, true);
    assert_eq!(upstream.count(), 2);
    let events = gateway.audit_events(7).await;
    let text = events.iter().map(Value::to_string).collect::<String>();
    assert!(
        !text.contains(&good) && !text.contains(&old),
        "keys never reach the audit"
    );
    assert!(
        events
            .iter()
            .any(|e| e["key_id"] == "ci-bot" && e["subject"] == "svc:ci" && e["auth_method"] == "api_key")
    );
    assert!(events.iter().any(|e| e["reason"] == "expired"));
    assert!(events.iter().any(|e| e["reason"] == "multiple_credentials"));
}

#[tokio::test]
async fn a_custom_api_key_header_is_a_credential_and_never_forwarded() {
    let upstream = mock::start(mock::ok_json).await;
    let key = portcullis::auth::api_key::generate();
    let gateway = TestGateway::start_protected(
        &upstream.url("/mcp"),
        &format!(
            "\n[auth.api_keys]\nheader = \"X-Portcullis-Key\"\n[[auth.api_keys.static]]\nid = \"k\"\nhash = \"{}\"\nsubject = \"svc\"\n",
            portcullis::auth::api_key::hash(&key)
        ),
    )
    .await;
    assert_eq!(
        call_with(&gateway, "x-portcullis-key", &key).await.status,
        StatusCode::OK
    );
    assert!(
        upstream.last().headers.get("x-portcullis-key").is_none(),
        "the key header is withheld from the upstream"
    );
    assert_401(&call_with(&gateway, "x-api-key", &key).await, false);
}
