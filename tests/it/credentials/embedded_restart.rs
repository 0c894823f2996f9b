//! The embedded store across a `kill -9` of the real binary: keys made before and while it
//! runs (the CLI reaches a running gateway's store through its admin API), a revocation, and
//! a rotated refresh family all survive the crash; a backup exported afterwards imports into
//! a fresh store whole.

use std::process::Stdio;
use std::time::Duration;

use crate::harness::lifecycle::{ping_port, refresh_port};
use crate::harness::process::{self, output};
use crate::harness::{GatewayConfig, free_port, mock};

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn jti_of(token: &str) -> String {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&payload).unwrap()["jti"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn keys_revocations_and_families_survive_kill_9_of_the_embedded_gateway() {
    let upstream = mock::start(mock::ok_json).await;
    let (port, admin_port) = (free_port(), free_port());
    let config = GatewayConfig::new(&upstream.url("/mcp")).with_jwt();
    let state = config.path().join("state");
    let config = config.with_tables(&format!(
        "[state]\nbackend = \"embedded\"\npath = \"{}\"\n",
        state.display()
    ));
    let path = config.write_for_binary(port, admin_port);
    // Before the gateway runs the CLI writes the store file itself.
    let before = json_of(
        &output(
            &["keys", "create", "--subject", "svc:ci", "--role", "user", "--json"],
            Some(&path),
        )
        .await,
    );
    let key = before["key"].as_str().unwrap().to_string();
    let alice = json_of(
        &output(
            &["token", "issue", "--sub", "alice", "--role", "user", "--json"],
            Some(&path),
        )
        .await,
    );
    let bob = json_of(
        &output(
            &["token", "issue", "--sub", "bob", "--role", "user", "--json"],
            Some(&path),
        )
        .await,
    );
    assert!(alice["family_id"].is_string() && alice["refresh_token"].as_str().unwrap().starts_with("rt_"));

    let mut child = process::spawn(&["run"], &path, Stdio::null(), &[]);
    assert!(process::ready(admin_port).await, "gateway up");
    assert_eq!(ping_port(port, &key).await, 200);
    assert_eq!(ping_port(port, bob["access_token"].as_str().unwrap()).await, 200);
    // While it runs, the CLI goes through its admin API (the file is the gateway's).
    let during = json_of(
        &output(
            &["keys", "create", "--subject", "svc:deploy", "--role", "user", "--json"],
            Some(&path),
        )
        .await,
    );
    let key2 = during["key"].as_str().unwrap().to_string();
    assert_eq!(ping_port(port, &key2).await, 200);
    let revoked = json_of(
        &output(
            &[
                "revoke",
                "--jti",
                &jti_of(bob["access_token"].as_str().unwrap()),
                "--json",
            ],
            Some(&path),
        )
        .await,
    );
    assert_eq!(revoked["kind"], "jti");
    assert_eq!(ping_port(port, bob["access_token"].as_str().unwrap()).await, 401);
    let (status, rotated) = refresh_port(port, alice["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{rotated}");
    // Usage statistics are written once a second: let one batch land, then crash.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    child.kill().await.unwrap();
    let _ = child.wait().await;

    let mut child = process::spawn(&["run"], &path, Stdio::null(), &[]);
    assert!(process::ready(admin_port).await, "gateway up again");
    assert_eq!(ping_port(port, &key).await, 200, "key made before the run");
    assert_eq!(ping_port(port, &key2).await, 200, "key made during the run");
    assert_eq!(
        ping_port(port, bob["access_token"].as_str().unwrap()).await,
        401,
        "revocation kept"
    );
    assert_eq!(ping_port(port, rotated["access_token"].as_str().unwrap()).await, 200);
    let (status, again) = refresh_port(port, rotated["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "the family goes on: {again}");
    let (status, reused) = refresh_port(port, alice["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (400, Some("invalid_grant")),
        "retired before the crash"
    );
    assert_eq!(
        ping_port(port, again["access_token"].as_str().unwrap()).await,
        401,
        "reuse killed the family"
    );
    let listed = json_of(&output(&["keys", "list", "--json"], Some(&path)).await);
    let first = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == before["id"])
        .unwrap()
        .clone();
    assert!(first["use_count"].as_u64().unwrap() >= 1, "{first}");
    child.kill().await.unwrap();
    let _ = child.wait().await;

    // A backup of the stopped store imports whole into a fresh one.
    let backup = config.path().join("backup.jsonl");
    let exported = output(&["state", "export", "--out", backup.to_str().unwrap()], Some(&path)).await;
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let text = std::fs::read_to_string(&backup).unwrap();
    assert!(
        !text.contains(&key) && !text.contains(&key2),
        "keys stay hashed in a backup"
    );
    let fresh = GatewayConfig::new(&upstream.url("/mcp")).with_jwt();
    let fresh_state = fresh.path().join("state");
    let fresh = fresh.with_tables(&format!(
        "[state]\nbackend = \"embedded\"\npath = \"{}\"\n",
        fresh_state.display()
    ));
    let fresh_path = fresh.write_for_binary(free_port(), free_port());
    let imported = json_of(&output(&["state", "import", backup.to_str().unwrap()], Some(&fresh_path)).await);
    assert_eq!(
        (imported["keys"].as_u64(), imported["revocations"].as_u64()),
        (Some(2), Some(2)),
        "{imported}"
    );
    assert_eq!(imported["families"].as_u64(), Some(2));
    let damaged = config.path().join("damaged.jsonl");
    std::fs::write(&damaged, format!("{}\nnot json\n", text.lines().next().unwrap())).unwrap();
    let refused = output(&["state", "import", damaged.to_str().unwrap()], Some(&fresh_path)).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("line 2"),
        "names the line"
    );
}
