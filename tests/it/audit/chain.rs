//! `audit verify` on a log written by the real gateway under concurrent load with rotation,
//! and on copies of it with one tampering each.

use std::path::{Path, PathBuf};

use portcullis::audit::chain::Mac;
use portcullis::audit::{head, rotation, verify};

use crate::harness::{GatewayConfig, TestGateway, mock, process};

/// A gateway with small rotated files, after 400 requests from 16 concurrent clients.
async fn loaded_gateway(extra: &str) -> (TestGateway, mock::Mock) {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp"))
        .with_audit_keys(&format!("rotate_bytes = 8192\n{extra}"))
        .start()
        .await;
    let mut tasks = Vec::new();
    for client in 0..16 {
        let url = gateway.url("/mcp");
        tasks.push(tokio::spawn(async move {
            let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<bytes::Bytes>>();
            for n in 0..25 {
                let body = format!(r#"{{"jsonrpc":"2.0","id":{n},"method":"tools/call","params":{{"name":"get_weather","arguments":{{"c":{client}}}}}}}"#);
                let request = http::Request::post(&url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                    .unwrap();
                let response = http.request(request).await.unwrap();
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    gateway.running.gateway.audit().flush();
    (gateway, upstream)
}

fn set(gateway: &TestGateway) -> Vec<PathBuf> {
    rotation::rotation_set(&gateway.audit_path()).unwrap()
}

/// Copies the log's files (and head) into a fresh folder.
fn copy_set(files: &[PathBuf], log: &Path) -> (tempfile::TempDir, Vec<PathBuf>, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let copies: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            let to = dir.path().join(f.file_name().unwrap());
            std::fs::copy(f, &to).unwrap();
            to
        })
        .collect();
    let head_to = dir.path().join(head::head_path(log).file_name().unwrap());
    std::fs::copy(head::head_path(log), &head_to).unwrap();
    (dir, copies, head_to)
}

fn check(files: &[PathBuf], head_path: &Path, mac: &Mac) -> Result<verify::Verified, verify::Broken> {
    let recorded = head::read(head_path).unwrap();
    verify::verify(files, recorded.as_ref(), mac, false)
}

fn rewrite(path: &Path, change: impl FnOnce(&mut Vec<String>)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    change(&mut lines);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn verify_passes_on_a_rotated_log_written_under_load_and_catches_every_tampering() {
    let (gateway, _upstream) = loaded_gateway("").await;
    let files = set(&gateway);
    assert!(files.len() >= 4, "rotation made several files: {files:?}");
    let mac = Mac::new(None);
    let log = gateway.audit_path();
    let verified = check(&files, &head::head_path(&log), &mac).unwrap();
    assert!(verified.events >= 400, "{verified:?}");
    assert_eq!((verified.first_seq, verified.head_checked), (1, true), "{verified:?}");

    // The binary agrees, from the config alone.
    let out = process::output(&["audit", "verify"], Some(&gateway.config_path)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("OK: "), "{stdout}");

    let middle = files.len() / 2;
    // An edited field.
    let (_d, copies, head_path) = copy_set(&files, &log);
    rewrite(&copies[middle], |lines| {
        lines[2] = lines[2].replace("\"decision\":\"allow\"", "\"decision\":\"deny\"")
    });
    let broken = check(&copies, &head_path, &mac).unwrap_err();
    assert_eq!((broken.kind, broken.line), ("edited", 3), "{broken}");
    assert_eq!(broken.file, copies[middle]);

    // A deleted line.
    let (_d, copies, head_path) = copy_set(&files, &log);
    rewrite(&copies[middle], |lines| {
        lines.remove(3);
    });
    let broken = check(&copies, &head_path, &mac).unwrap_err();
    assert_eq!((broken.kind, broken.line), ("missing", 4), "{broken}");

    // Two swapped lines.
    let (_d, copies, head_path) = copy_set(&files, &log);
    rewrite(&copies[0], |lines| lines.swap(4, 5));
    let broken = check(&copies, &head_path, &mac).unwrap_err();
    assert_eq!(
        (broken.kind, broken.line, broken.seq),
        ("missing", 5, Some(6)),
        "{broken}"
    );

    // A file cut in the middle of a line.
    let (_d, copies, head_path) = copy_set(&files, &log);
    let last = copies.last().unwrap();
    let bytes = std::fs::read(last).unwrap();
    std::fs::write(last, &bytes[..bytes.len() - 40]).unwrap();
    let broken = check(&copies, &head_path, &mac).unwrap_err();
    assert_eq!(broken.kind, "truncated", "{broken}");

    // Whole lines dropped from the end: only the head can tell.
    let (_d, copies, head_path) = copy_set(&files, &log);
    rewrite(copies.last().unwrap(), |lines| lines.truncate(lines.len() - 2));
    let broken = check(&copies, &head_path, &mac).unwrap_err();
    assert_eq!(broken.kind, "truncated_end", "{broken}");
    let out = process::output(
        &["audit", "verify", "--head", head_path.to_str().unwrap()]
            .into_iter()
            .chain(copies.iter().map(|c| c.to_str().unwrap()))
            .collect::<Vec<_>>(),
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("truncated_end"));

    // A file removed from the middle of the rotation set.
    let (_d, mut copies, head_path) = copy_set(&files, &log);
    let removed = copies.remove(middle);
    std::fs::remove_file(&removed).unwrap();
    let broken = check(&copies, &head_path, &mac).unwrap_err();
    assert_eq!(broken.kind, "missing", "{broken}");
    assert_eq!(broken.file, copies[middle], "{broken}");
    assert_eq!(broken.line, 1, "{broken}");
}

#[tokio::test]
async fn an_hmac_chain_cannot_be_recomputed_without_the_key_and_the_chain_survives_a_restart() {
    let key = "audit-hmac-key-0123456789abcdef";
    let (gateway, upstream) = loaded_gateway(&format!("hmac_key = \"{key}\"")).await;
    let log = gateway.audit_path();
    let config_path = gateway.config_path.clone();
    let files = set(&gateway);
    assert!(check(&files, &head::head_path(&log), &Mac::new(Some(key.as_bytes()))).is_ok());
    // Without the key (or with plain SHA-256) nothing verifies.
    let broken = check(&files, &head::head_path(&log), &Mac::new(None)).unwrap_err();
    assert_eq!(broken.kind, "edited", "{broken}");
    let broken = check(
        &files,
        &head::head_path(&log),
        &Mac::new(Some(b"another-key-0123456789")),
    )
    .unwrap_err();
    assert_eq!((broken.kind, broken.line), ("edited", 1), "{broken}");

    // A restart continues the chain where the head says it ended.
    let dir = {
        let TestGateway { running, dir, .. } = gateway;
        running.shutdown().await;
        dir
    };
    let text = std::fs::read_to_string(&config_path).unwrap();
    let again = TestGateway::start_text(dir, &text).await;
    let answer = again
        .post(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{}}}"#)
        .await;
    assert_eq!(answer.status, 200);
    again.running.gateway.audit().flush();
    let out = process::output(&["audit", "verify", "--json"], Some(&config_path)).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["verified"]["events"].as_u64().unwrap() > 400, "{report}");
    drop(upstream);
}

#[tokio::test]
async fn no_credential_cookie_or_argument_value_reaches_the_audit_log() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp")).with_jwt().start().await;
    let alice = crate::harness::token("alice", &["user"]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"password":"SECRET-ARGUMENT-VALUE"}}}"#;
    let answer = gateway
        .post_with(
            &alice,
            body,
            &[
                ("cookie", "session=SECRET-COOKIE-VALUE"),
                ("x-api-key", "mcp_SECRET-API-KEY"),
            ],
            false,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let answer = gateway
        .post_with(&alice, body, &[("cookie", "session=SECRET-COOKIE-VALUE")], false)
        .await;
    assert_eq!(answer.status, 200);
    let refused = gateway.post_with("SECRET-BAD-TOKEN", body, &[], false).await;
    assert_eq!(refused.status, 401);
    gateway.running.gateway.audit().flush();
    let log = std::fs::read_to_string(gateway.audit_path()).unwrap();
    assert!(log.lines().count() >= 3, "{log}");
    for secret in [
        "SECRET-ARGUMENT-VALUE",
        "SECRET-COOKIE-VALUE",
        "SECRET-API-KEY",
        "SECRET-BAD-TOKEN",
        alice.as_str(),
    ] {
        assert!(!log.contains(secret), "{secret} is in the audit log");
    }
}
