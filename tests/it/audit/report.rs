//! The security report replaying scripted attacks through the real gateway: a brute-force
//! loop, an enumeration sweep by a guest, a login from a new IP, a rate spike against a
//! 7-day baseline (time-shifted history), off-hours admin activity; for 1h, 24h and 7d,
//! embedded (and through the CLI from the files) and on Redis shared by two replicas.

use serde_json::{Value, json};

use crate::harness::audit::{POLICY, ROLES, findings, past_request, report, report_until, write_history};
use crate::harness::redis::Redis;
use crate::harness::{GatewayConfig, TestGateway, mock, process, token};

const ANOMALIES: &str = "[audit.anomalies]\nbrute_force_failures = 10\nenumeration_targets = 5\nrate_spike_factor = 5.0\nrate_spike_min_requests = 30\nrate_spike_min_history_hours = 3\noff_hours = \"00:00-23:59\"\n";

fn config(upstream: &mock::Mock, state: &str) -> GatewayConfig {
    GatewayConfig::new(&upstream.url("/mcp"))
        .with_jwt()
        .with_roles(ROLES)
        .with_upstream_keys(POLICY)
        .with_server_keys("trusted_proxies = [\"127.0.0.1/32\"]")
        .with_tables(ANOMALIES)
        .with_tables(state)
}

fn call(tool: &str, id: u64) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#)
}

/// The attack: 15 + 6 + 61 requests.
async fn attack(brute: &TestGateway, sweep: &TestGateway, spike: &TestGateway) {
    // Brute force from one address (behind the trusted proxy).
    for n in 0..15 {
        let answer = brute
            .post_with(
                "not-a-valid-token",
                &call("get_weather", n),
                &[("x-forwarded-for", "198.51.100.7")],
                false,
            )
            .await;
        assert_eq!(answer.status, 401);
    }
    // A guest probing tools it may not call.
    let guest = token("guest-gina", &["guest"]);
    for (n, tool) in [
        "delete_file",
        "read_file",
        "send_mail",
        "run_sql",
        "list_users",
        "drop_table",
    ]
    .iter()
    .enumerate()
    {
        let answer = sweep.post_with(&guest, &call(tool, n as u64), &[], false).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json()["error"]["code"], -32602, "{}", answer.text());
    }
    // Alice, known from 127.0.0.1, from a new network; then far above her baseline.
    let alice = token("alice", &["user"]);
    let answer = spike
        .post_with(
            &alice,
            &call("get_weather", 1),
            &[("x-forwarded-for", "203.0.113.9")],
            false,
        )
        .await;
    assert_eq!(answer.status, 200);
    for n in 0..60 {
        let answer = spike.post_with(&alice, &call("get_weather", n), &[], false).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
}

/// Alice's quiet past: 10 requests in each of 4 clock hours, 26 to 70 hours back, from
/// 127.0.0.1 (each hour's within its first minutes, so it lands in one hour bucket).
fn history() -> Vec<String> {
    let now = portcullis::audit::aggregates::unix_now();
    [70u64, 50, 30, 26]
        .iter()
        .flat_map(|hours| {
            let start = (now / 3600 - hours) * 3600 + 60;
            (0..10).map(move |n| past_request("alice", "127.0.0.1", now - (start + n * 30), "ok", 200))
        })
        .collect()
}

fn assert_findings(report: &Value) {
    let brute = findings(report, "auth_brute_force");
    assert_eq!(brute.len(), 1, "{report:#}");
    assert_eq!(brute[0]["evidence"]["ip"], "198.51.100.7");
    assert_eq!(brute[0]["evidence"]["count"], 15);
    assert!(brute[0]["evidence"]["first_seen"].is_string() && brute[0]["evidence"]["last_seen"].is_string());
    let sweep = findings(report, "tool_enumeration");
    assert_eq!(sweep.len(), 1, "{report:#}");
    assert_eq!(sweep[0]["evidence"]["subject"], "guest-gina");
    assert_eq!(sweep[0]["evidence"]["distinct_targets"], 6);
    assert!(
        sweep[0]["evidence"]["targets"]
            .as_array()
            .unwrap()
            .contains(&json!("drop_table"))
    );
    let new_ip = findings(report, "new_ip_for_subject");
    let alice_new: Vec<_> = new_ip.iter().filter(|f| f["evidence"]["subject"] == "alice").collect();
    assert_eq!(alice_new.len(), 1, "{report:#}");
    assert_eq!(alice_new[0]["evidence"]["ip"], "203.0.113.9");
    assert_eq!(alice_new[0]["evidence"]["new_network"], true);
    assert_eq!(alice_new[0]["evidence"]["known_ips"], json!(["127.0.0.1"]));
    let spike = findings(report, "rate_spike");
    assert_eq!(spike.len(), 1, "{report:#}");
    assert_eq!(spike[0]["evidence"]["subject"], "alice");
    assert_eq!(spike[0]["evidence"]["count"], 61);
    assert_eq!(spike[0]["evidence"]["baseline_median"], 10.0);
    assert_eq!(spike[0]["evidence"]["history_hours"], 4);
    assert!(!findings(report, "off_hours_admin").is_empty(), "{report:#}");
    for finding in report["findings"].as_array().unwrap() {
        assert!(["low", "medium", "high"].contains(&finding["severity"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn an_attack_replayed_through_the_gateway_shows_in_every_range_with_its_evidence() {
    let upstream = mock::start(mock::ok_json).await;
    let config = config(&upstream, "");
    write_history(&config.path().join("audit.jsonl"), &history());
    let gateway = config.start().await;
    let admin = gateway.admin_url("");
    let admin = admin.trim_end_matches('/');
    // The history is counted again from the files in the background.
    report_until(admin, "7d", |r| r["totals"]["requests"] == 40).await;

    attack(&gateway, &gateway, &gateway).await;
    // Admin activity (off-hours: the test's window covers the day).
    let issued = crate::harness::lifecycle::issue(&gateway, "bob", &["user"]).await;
    assert!(issued["access_token"].is_string(), "{issued}");

    // The admin events come after the attack: wait for them too.
    let hour = report_until(admin, "1h", |r| {
        r["totals"]["requests"].as_u64() >= Some(82) && !findings(r, "off_hours_admin").is_empty()
    })
    .await;
    assert_eq!(hour["range"], "1h");
    assert_eq!(hour["source"], "embedded");
    assert_eq!(
        (
            hour["totals"]["auth_failures"].as_u64(),
            hour["totals"]["denials"].as_u64()
        ),
        (Some(15), Some(6)),
        "{hour:#}"
    );
    assert_eq!(hour["totals"]["requests"], 82, "{hour:#}");
    assert_eq!(hour["top_offending_ips"][0]["ip"], "198.51.100.7");
    assert_eq!(hour["top_principals"][0]["subject"], "guest-gina");
    assert_eq!(hour["denied_tools"].as_array().unwrap().len(), 6);
    assert_findings(&hour);
    let day = report_until(admin, "24h", |r| r["totals"]["requests"] == 82).await;
    assert_findings(&day);
    // The 7-day range holds the time-shifted history too; the day does not.
    let week = report_until(admin, "7d", |r| r["totals"]["requests"] == 122).await;
    assert_findings(&week);

    // Without a credential: refused; a bad range: a clear error.
    let (status, body) = report(admin, "24h", None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_token")));
    let (status, body) = report(admin, "2d", Some("admin-token-0123456789")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_range")));
    // A credential holding metrics:view may read it; a guest may not.
    let (status, _) = report(admin, "1h", Some(&token("audra", &["auditor"]))).await;
    assert_eq!(status, 200);
    let (status, body) = report(admin, "1h", Some(&token("guest-gina", &["guest"]))).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("insufficient_scope")));

    // The CLI reads the same from the files, and from the running gateway.
    gateway.running.gateway.audit().flush();
    let out = process::output(
        &["audit", "report", "--range", "1h", "--json"],
        Some(&gateway.config_path),
    )
    .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let from_files: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_files["source"], "files");
    assert_findings(&from_files);
    let out = process::output(
        &["audit", "report", "--range", "24h", "--admin-url", admin],
        Some(&gateway.config_path),
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("auth_brute_force") && text.contains("198.51.100.7"),
        "{text}"
    );
}

#[tokio::test]
async fn on_redis_the_report_of_either_replica_covers_both() {
    let redis = Redis::start().await;
    let state = format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"{}\"\nredis_timeout = \"500ms\"\n",
        redis.url()
    );
    let upstream = mock::start(mock::ok_json).await;
    let first = config(&upstream, &state).start().await;
    let second = config(&upstream, &state).start().await;
    // Alice's baseline, time-shifted, pushed as a replica would have.
    let shared =
        portcullis::state::RedisState::connect(&redis.url(), "{portcullis}:", std::time::Duration::from_secs(1), 1)
            .unwrap();
    let shared = std::sync::Arc::new(shared);
    assert!(shared.wait_connected(std::time::Duration::from_secs(5)).await);
    let aggregates = portcullis::audit::Aggregates::new(portcullis::audit::AnomalySettings::default(), true);
    for line in history() {
        assert!(aggregates.add_line(line.as_bytes(), false, portcullis::audit::aggregates::unix_now()));
    }
    portcullis::audit::SharedAggregates::new(shared)
        .push(aggregates.take_outbox())
        .await
        .unwrap();

    // Brute force on one replica, the sweep and the spike on the other.
    attack(&first, &second, &second).await;
    let admin = first.admin_url("");
    let admin = admin.trim_end_matches('/');
    let hour = report_until(admin, "1h", |r| r["totals"]["requests"] == 82).await;
    assert_eq!(hour["source"], "redis");
    assert_eq!(hour["totals"]["auth_failures"], 15);
    assert_eq!(hour["totals"]["denials"], 6);
    let brute = findings(&hour, "auth_brute_force");
    assert_eq!(brute.len(), 1, "{hour:#}");
    assert_eq!(findings(&hour, "tool_enumeration").len(), 1, "{hour:#}");
    let spike = findings(&hour, "rate_spike");
    assert_eq!(spike.len(), 1, "{hour:#}");
    assert_eq!(spike[0]["evidence"]["baseline_median"], 10.0);
    let new_ip = findings(&hour, "new_ip_for_subject");
    assert!(new_ip.iter().any(|f| f["evidence"]["ip"] == "203.0.113.9"), "{hour:#}");
    let other = second.admin_url("");
    let week = report_until(other.trim_end_matches('/'), "7d", |r| r["totals"]["requests"] == 122).await;
    assert_eq!(findings(&week, "tool_enumeration").len(), 1);
    // The CLI asks Redis directly.
    let out = process::output(
        &["audit", "report", "--range", "24h", "--json"],
        Some(&first.config_path),
    )
    .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let from_redis: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (from_redis["source"].as_str(), from_redis["totals"]["requests"].as_u64()),
        (Some("redis"), Some(82))
    );
}
