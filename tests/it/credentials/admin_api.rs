//! The admin API on one gateway: dynamic keys (create, use, list, rotate with grace, revoke),
//! revocations by jti and subject, who may call it, and bad input (400 naming the field,
//! 404, a TTL over the maximum) changing nothing.

use serde_json::json;

use crate::harness::lifecycle::{ADMIN_TOKEN, admin, create_key, issue, ping};
use crate::harness::{GatewayConfig, TestGateway, mock};

async fn gateway(upstream: &mock::Mock) -> TestGateway {
    GatewayConfig::new(&upstream.url("/mcp"))
        .with_jwt()
        .with_roles(
            "[roles]\nuser = [\"weather:read\"]\nadmin = [\"*\"]\nkeymaster = [\"keys:manage\", \"weather:read\"]\n",
        )
        .with_tables("[auth.api_keys]\nmax_ttl = \"30d\"\ndefault_ttl = \"7d\"\n")
        .start()
        .await
}

#[tokio::test]
async fn keys_are_created_used_rotated_with_grace_and_revoked() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = gateway(&upstream).await;
    let created = create_key(&gateway, "svc:ci", &["user"]).await;
    let (id, key) = (created["id"].as_str().unwrap(), created["key"].as_str().unwrap());
    assert!(key.starts_with("mcp_") && key.len() == 47, "{created}");
    assert_eq!(created["status"], "expiring", "7 days left: inside the 14-day warning");
    assert_eq!(ping(&gateway, key).await.status, 200);
    let by_header = gateway
        .post_with("", r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, &[], false)
        .await;
    assert_eq!(by_header.status, 401);
    // Listed without the key; usage counted off the request path (batched once a second).
    let mut listed = serde_json::Value::Null;
    for _ in 0..30 {
        let (status, all) = admin(&gateway, "GET", "/admin/keys", None, ADMIN_TOKEN).await;
        assert_eq!(status, 200);
        listed = all[0].clone();
        if listed["use_count"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed["id"], id);
    assert_eq!(listed["use_count"], 1, "{listed}");
    assert_eq!(listed["last_ip"], "127.0.0.1");
    assert!(
        listed.get("key").is_none() && !listed.to_string().contains(key),
        "never shown again"
    );
    // Expiring within 14 days: counted in the metrics and audited once.
    let mut metrics = String::new();
    for _ in 0..40 {
        let request = http::Request::builder()
            .uri(gateway.admin_url("/metrics"))
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        metrics = gateway.call(request).await.text();
        if metrics.contains("portcullis_api_key_expiring 1") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(metrics.contains("portcullis_api_key_expiring 1"), "{metrics}");
    // Rotation: the new key works at once, the old one during the grace only.
    let (status, rotated) = admin(
        &gateway,
        "POST",
        &format!("/admin/keys/{id}/rotate"),
        Some(json!({ "grace": "2s" })),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, 201, "{rotated}");
    assert_eq!(rotated["replaces"], id);
    let (status, again) = admin(
        &gateway,
        "POST",
        &format!("/admin/keys/{id}/rotate"),
        Some(json!({ "grace": "2s" })),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(
        (status, again["field"].as_str()),
        (400, Some("id")),
        "a key rotates once: {again}"
    );
    let new_key = rotated["key"].as_str().unwrap();
    assert_eq!(ping(&gateway, new_key).await.status, 200);
    assert_eq!(ping(&gateway, key).await.status, 200, "inside the grace");
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(ping(&gateway, key).await.status, 401, "after the grace");
    assert_eq!(ping(&gateway, new_key).await.status, 200);
    // Revocation is immediate.
    let new_id = rotated["id"].as_str().unwrap();
    let (status, revoked) = admin(&gateway, "DELETE", &format!("/admin/keys/{new_id}"), None, ADMIN_TOKEN).await;
    assert_eq!((status, revoked["status"].as_str()), (200, Some("revoked")));
    let answer = ping(&gateway, new_key).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["error_description"], "The credential has been revoked");
    // The audit writer flushes every 20 ms.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let events = gateway.audit_events(1).await;
    for kind in [
        "api_key_created",
        "api_key_rotated",
        "api_key_rotated_out",
        "api_key_revoked",
    ] {
        assert!(events.iter().any(|e| e["event"] == kind), "{kind} audited");
    }
    assert!(
        events
            .iter()
            .all(|e| !e.to_string().contains(key) && !e.to_string().contains(new_key))
    );
}

#[tokio::test]
async fn tokens_are_revoked_by_jti_and_by_subject() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = gateway(&upstream).await;
    let one = issue(&gateway, "dave", &["user"]).await;
    let two = issue(&gateway, "dave", &["user"]).await;
    let (a, b) = (
        one["access_token"].as_str().unwrap(),
        two["access_token"].as_str().unwrap(),
    );
    assert_eq!(ping(&gateway, a).await.status, 200);
    let claims: serde_json::Value = {
        use base64::Engine as _;
        let payload = a.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(claims["fam"], one["family_id"], "access tokens name their family");
    let (status, record) = admin(
        &gateway,
        "POST",
        "/admin/revocations",
        Some(json!({ "jti": claims["jti"] })),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!((status, record["kind"].as_str()), (201, Some("jti")), "{record}");
    assert_eq!(
        ping(&gateway, a).await.status,
        401,
        "the cached verification does not outlive the revocation"
    );
    assert_eq!(
        ping(&gateway, b).await.status,
        200,
        "another token of the subject still works"
    );
    // Every token of the subject issued before now, refresh families included.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (status, _) = admin(
        &gateway,
        "POST",
        "/admin/revocations",
        Some(json!({ "sub": "dave" })),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(ping(&gateway, b).await.status, 401);
    let refreshed = crate::harness::lifecycle::refresh(&gateway, two["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, 400, "{}", refreshed.text());
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let later = issue(&gateway, "dave", &["user"]).await;
    assert_eq!(
        ping(&gateway, later["access_token"].as_str().unwrap()).await.status,
        200,
        "issued after"
    );
    let (status, all) = admin(&gateway, "GET", "/admin/revocations", None, ADMIN_TOKEN).await;
    assert_eq!((status, all.as_array().map(Vec::len)), (200, Some(2)));
    let (status, purged) = admin(&gateway, "DELETE", "/admin/revocations", None, ADMIN_TOKEN).await;
    assert_eq!((status, purged["removed"].as_u64()), (200, Some(0)), "none has expired");
}

#[tokio::test]
async fn bad_admin_input_is_refused_naming_the_field_and_changes_nothing() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = gateway(&upstream).await;
    for (path, body, field) in [
        ("/admin/keys", json!({ "roles": ["user"] }), "subject"),
        ("/admin/keys", json!({ "subject": "s", "roles": "user" }), "roles"),
        ("/admin/keys", json!({ "subject": "s", "roles": ["nope"] }), "roles[0]"),
        ("/admin/keys", json!({ "subject": "s", "ttl": "31d" }), "ttl"),
        ("/admin/keys", json!({ "subject": "s", "ttl": "soon" }), "ttl"),
        ("/admin/keys", json!({ "subject": "s", "colour": "red" }), "colour"),
        ("/admin/tokens", json!({ "roles": ["user"] }), "sub"),
        ("/admin/tokens", json!({ "sub": "s", "ttl": "2d" }), "ttl"),
        ("/admin/revocations", json!({}), "jti"),
        ("/admin/revocations", json!({ "jti": "a", "sub": "b" }), "jti"),
    ] {
        let (status, answer) = admin(&gateway, "POST", path, Some(body.clone()), ADMIN_TOKEN).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(answer["error"], "invalid_request");
        assert_eq!(answer["field"], field, "{path} {body}: {answer}");
    }
    let request = http::Request::builder()
        .method("POST")
        .uri(gateway.admin_url("/admin/keys"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{not json")))
        .unwrap();
    assert_eq!(gateway.call(request).await.status, 400);
    let (status, _) = admin(&gateway, "GET", "/admin/keys/key_nope", None, ADMIN_TOKEN).await;
    assert_eq!(status, 404);
    let (status, _) = admin(&gateway, "DELETE", "/admin/keys/key_nope", None, ADMIN_TOKEN).await;
    assert_eq!(status, 404);
    let (status, _) = admin(
        &gateway,
        "POST",
        "/admin/keys/key_nope/rotate",
        Some(json!({})),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(status, 404);
    let (_, keys) = admin(&gateway, "GET", "/admin/keys", None, ADMIN_TOKEN).await;
    assert_eq!(keys, json!([]), "nothing was half-written");
    let (_, revocations) = admin(&gateway, "GET", "/admin/revocations", None, ADMIN_TOKEN).await;
    assert_eq!(revocations, json!([]));
}

#[tokio::test]
async fn the_admin_api_takes_the_admin_token_or_a_credential_with_the_permission() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = gateway(&upstream).await;
    let body = || Some(json!({ "subject": "svc:x", "roles": ["user"] }));
    let (status, answer) = admin(&gateway, "POST", "/admin/keys", body(), "wrong").await;
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_token")));
    let user = issue(&gateway, "eve", &["user"]).await;
    let (status, answer) = admin(
        &gateway,
        "POST",
        "/admin/keys",
        body(),
        user["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("insufficient_permission"))
    );
    let keymaster = issue(&gateway, "kim", &["keymaster"]).await;
    let token = keymaster["access_token"].as_str().unwrap();
    let (status, made) = admin(&gateway, "POST", "/admin/keys", body(), token).await;
    assert_eq!(status, 201, "keys:manage may manage keys: {made}");
    // ... but hand out no more than it holds itself.
    for (request, field) in [
        (json!({ "subject": "svc:x", "roles": ["admin"] }), "roles[0]"),
        (
            json!({ "subject": "svc:x", "permissions": ["files:write"] }),
            "permissions[0]",
        ),
    ] {
        let (status, answer) = admin(&gateway, "POST", "/admin/keys", Some(request), token).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (403, Some("insufficient_permission")),
            "{answer}"
        );
        assert_eq!(answer["field"], field);
    }
    let (_, root_key) = admin(
        &gateway,
        "POST",
        "/admin/keys",
        Some(json!({ "subject": "svc:root", "roles": ["admin"] })),
        ADMIN_TOKEN,
    )
    .await;
    let rotate = format!("/admin/keys/{}/rotate", root_key["id"].as_str().unwrap());
    let (status, _) = admin(&gateway, "POST", &rotate, Some(json!({})), token).await;
    assert_eq!(status, 403, "rotating an admin key would mint one");
    let (status, _) = admin(&gateway, "POST", "/admin/tokens", Some(json!({ "sub": "x" })), token).await;
    assert_eq!(status, 403, "but not issue tokens");
    let root = issue(&gateway, "root", &["admin"]).await;
    let (status, _) = admin(
        &gateway,
        "POST",
        "/admin/tokens",
        Some(json!({ "sub": "x" })),
        root["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 201, "admin:* may do everything");
    let (status, document) = admin(&gateway, "GET", "/admin/openapi.json", None, ADMIN_TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    for path in [
        "/admin/keys",
        "/admin/keys/{id}",
        "/admin/keys/{id}/rotate",
        "/admin/tokens",
        "/admin/revocations",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path} documented");
    }
    let events = gateway.audit_events(1).await;
    let calls: Vec<_> = events.iter().filter(|e| e["event"] == "admin_call").collect();
    assert!(calls.iter().any(|e| e["status"] == 401 && e["decision"] == "deny"));
    assert!(calls.iter().any(|e| e["status"] == 201 && e["subject"] == "jwt:kim"));
    assert_eq!(upstream.count(), 0, "the admin API never reaches an upstream");
}
