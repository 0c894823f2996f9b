//! The lifecycle commands against a running gateway's admin API (`--admin-url`): human and
//! `--json` output, the key shown once, and refusals with exit code 1 (bad input) or 2 (the
//! gateway refused the caller) that change nothing.

use crate::harness::lifecycle::{ADMIN_TOKEN, ping};
use crate::harness::process::output;
use crate::harness::{GatewayConfig, mock};

#[tokio::test]
async fn lifecycle_commands_drive_a_running_gateway() {
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp")).with_jwt().start().await;
    let config = Some(gateway.config_path.as_path());
    let admin_url = format!("http://{}", gateway.running.admin_addr);
    let via = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
        all.extend([
            "--admin-url".into(),
            admin_url.clone(),
            "--admin-token".into(),
            ADMIN_TOKEN.into(),
        ]);
        all
    };
    let run = async |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        output(&args, config).await
    };
    // Human output shows the key once and says so.
    let created = run(via(&[
        "keys",
        "create",
        "--subject",
        "svc:ci",
        "--role",
        "user",
        "--name",
        "ci",
    ]))
    .await;
    let text = String::from_utf8_lossy(&created.stdout).to_string();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert!(text.contains("shown this once"), "{text}");
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("key:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(ping(&gateway, &key).await.status, 200);
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .unwrap()
        .trim()
        .to_string();
    let listed = run(via(&["keys", "list"])).await;
    let table = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        table.contains(&id) && table.contains("svc:ci") && !table.contains(&key),
        "{table}"
    );
    let listed = run(via(&["keys", "list", "--json"])).await;
    let records: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(records[0]["name"], "ci");
    // Rotation and revocation.
    let rotated = run(via(&["keys", "rotate", &id, "--grace", "0s", "--json"])).await;
    let rotated: serde_json::Value = serde_json::from_slice(&rotated.stdout).unwrap();
    assert_eq!(rotated["replaces"], id.as_str());
    assert_eq!(ping(&gateway, &key).await.status, 401, "no grace: the old key ends now");
    assert_eq!(ping(&gateway, rotated["key"].as_str().unwrap()).await.status, 200);
    let token = run(via(&["token", "issue", "--sub", "ann", "--role", "user", "--json"])).await;
    let token: serde_json::Value = serde_json::from_slice(&token.stdout).unwrap();
    assert_eq!(token["token_type"], "Bearer");
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(ping(&gateway, access).await.status, 200);
    let revoked = run(via(&[
        "revoke",
        "--family",
        token["family_id"].as_str().unwrap(),
        "--json",
    ]))
    .await;
    let revoked: serde_json::Value = serde_json::from_slice(&revoked.stdout).unwrap();
    assert_eq!(revoked["kind"], "family");
    assert_eq!(ping(&gateway, access).await.status, 401);
    let list = run(via(&["revoke", "--list", "--json"])).await;
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // Refusals: exit 1 for bad input (named), 2 when the gateway refuses the caller.
    let too_long = run(via(&["token", "issue", "--sub", "ann", "--ttl", "2d"])).await;
    assert_eq!(too_long.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&too_long.stderr).contains("ttl"));
    let unknown_role = run(via(&["keys", "create", "--subject", "s", "--role", "nope"])).await;
    assert_eq!(unknown_role.status.code(), Some(1));
    let unknown = run(via(&["keys", "show", "key_nope"])).await;
    assert_eq!(unknown.status.code(), Some(1));
    let args = [
        "keys",
        "list",
        "--admin-url",
        admin_url.as_str(),
        "--admin-token",
        "wrong",
    ];
    let wrong = output(&args, config).await;
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("401"));
    let nothing = output(&["revoke", "--admin-url", admin_url.as_str()], config).await;
    assert_eq!(nothing.status.code(), Some(1), "a target is required");
    let listed = run(via(&["keys", "list", "--json"])).await;
    let records: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(records.as_array().map(Vec::len), Some(2), "the refusals wrote nothing");
}
