//! The live dashboard in a real browser: headless Chromium (Debian `chromium` +
//! `chromium-driver`, driven by Selenium: `tests/browser/dashboard_check.py`) is refused
//! without a valid token, logs in, sees the charts move while this test drives traffic and a
//! brute-force attack, sees the anomaly appear, and shows an attacker's markup as text.
//! Screenshots land in `target/tmp/dashboard-screens/`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::harness::audit::{POLICY, ROLES};
use crate::harness::{GatewayConfig, TestGateway, mock, token};

fn browser_python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-browser.sh (the README's test command does)",
        python.display()
    );
    python
}

const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{}}}"#;
const DENIED: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_file","arguments":{}}}"#;

/// Traffic until `stop`, at about 12 000 requests a minute (six callers, one request per
/// 30 ms each): allowed and denied calls, an XSS probe in a subject, and after a few seconds
/// a brute-force burst from one address.
async fn drive(gateway: &TestGateway, stop: &tokio::sync::watch::Receiver<bool>) -> u64 {
    let alice = token("alice", &["user"]);
    let probe = token("<img src=x onerror=alert(1)>", &["user"]);
    let caller = |lane: u64| {
        let (alice, probe, stop) = (alice.clone(), probe.clone(), stop.clone());
        async move {
            let mut sent = 0u64;
            for round in 0..4000u64 {
                if *stop.borrow() {
                    break;
                }
                let answer = match (lane, round % 5) {
                    (0, 0) => gateway.post_with(&probe, CALL, &[], false).await,
                    (1, 0) => gateway.post_with(&alice, DENIED, &[], false).await,
                    (2, _) if (150..180).contains(&round) => {
                        let answer = gateway
                            .post_with("stolen-token", CALL, &[("x-forwarded-for", "198.51.100.7")], false)
                            .await;
                        assert_eq!(answer.status, 401);
                        answer
                    }
                    _ => gateway.post_with(&alice, CALL, &[], false).await,
                };
                assert!(answer.status == 200 || answer.status == 401, "{}", answer.status);
                sent += 1;
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            sent
        }
    };
    let (a, b, c, d, e, f) = tokio::join!(caller(0), caller(1), caller(2), caller(3), caller(4), caller(5));
    a + b + c + d + e + f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_logs_in_updates_live_and_raises_the_brute_force_anomaly_in_chromium() {
    let python = browser_python();
    let upstream = mock::start(mock::ok_json).await;
    let gateway = GatewayConfig::new(&upstream.url("/mcp"))
        .with_jwt()
        .with_roles(ROLES)
        .with_upstream_keys(POLICY)
        .with_server_keys("trusted_proxies = [\"127.0.0.1/32\"]")
        .start()
        .await;

    // Without a credential the data is refused; the page itself is served under a strict CSP.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let get = |path: &str, auth: Option<&str>| {
        let mut request = http::Request::get(gateway.admin_url(path));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        client.request(request.body(http_body_util::Full::default()).unwrap())
    };
    let refused = get("/admin/dashboard/events", None).await.unwrap();
    assert_eq!(refused.status(), 401);
    let refused = get(
        "/admin/dashboard/events",
        Some(&format!("Bearer {}", token("gina", &["guest"]))),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 403);
    let page = get("/admin/dashboard", None).await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screens");
    let mut browser = tokio::process::Command::new(python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard_check.py"))
        .args([
            "--url",
            &gateway.admin_url("/admin/dashboard"),
            "--token",
            "admin-token-0123456789",
        ])
        .arg("--out")
        .arg(&out)
        .args([
            "--expect-kind",
            "auth_brute_force",
            "--expect-text",
            "<img src=x onerror=alert(1)>",
            "--timeout",
            "75",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let traffic = drive(&gateway, &stop_rx);
    let watched = async {
        let output = tokio::time::timeout(Duration::from_secs(120), async {
            let mut stdout = String::new();
            let mut stderr = String::new();
            use tokio::io::AsyncReadExt as _;
            let (mut o, mut e) = (browser.stdout.take().unwrap(), browser.stderr.take().unwrap());
            let _ = tokio::join!(o.read_to_string(&mut stdout), e.read_to_string(&mut stderr));
            (browser.wait().await.unwrap(), stdout, stderr)
        })
        .await
        .expect("the browser check finished within 120 s");
        let _ = stop_tx.send(true);
        output
    };
    let (sent, (status, stdout, stderr)) = tokio::join!(traffic, watched);
    assert!(status.success(), "dashboard_check failed: {stderr}\n{stdout}");
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["login_refused"], true, "{result}");
    assert!(result["chart_points"].as_u64() >= Some(5), "{result}");
    assert!(result["last_values"].as_array().unwrap().len() >= 2, "{result}");
    assert!(result["event_rows"].as_u64() > Some(0), "{result}");
    assert!(
        result["anomaly_kinds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "auth_brute_force"),
        "{result}"
    );
    assert_eq!(result["console_errors"], serde_json::json!([]), "{result}");
    assert!(sent > 20);
    for shot in ["01-login.png", "02-refused.png", "03-live.png", "04-anomaly.png"] {
        assert!(out.join(shot).metadata().unwrap().len() > 10_000, "{shot}");
    }
}
