//! The real binary as a child process: `portcullis ARGS` run to completion, or `run` spawned
//! (killed on drop) on listeners with fixed ports, and waits for it to come up.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use http::StatusCode;
use tokio::process::{Child, Command};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// Config text with the public and admin listeners on fixed ports (the binary is a child
/// process, so its ports must be known in advance).
pub fn fixed_ports(text: &str, port: u16, admin_port: u16) -> String {
    text.replacen("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""), 1)
        .replacen(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{admin_port}\""),
            1,
        )
}

/// `portcullis ARGS [--config CONFIG]`, run to completion (bounded).
pub async fn output(args: &[&str], config: Option<&Path>) -> Output {
    let mut command = Command::new(BIN);
    command.args(args);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("portcullis finished within 30 s")
        .unwrap()
}

/// `portcullis ARGS --config CONFIG` spawned with `stderr` and `env` (standard output
/// discarded), killed on drop.
pub fn spawn(args: &[&str], config: &Path, stderr: Stdio, env: &[(&str, &str)]) -> Child {
    Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Sends `SIGNAME` to `pid`.
pub async fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .await
        .unwrap();
    assert!(status.success());
}

/// True once the admin listener on `admin_port` answers `/readyz` with 200 (5 s at most).
pub async fn ready(admin_port: u16) -> bool {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let url: http::Uri = format!("http://127.0.0.1:{admin_port}/readyz").parse().unwrap();
    for _ in 0..100 {
        if let Ok(response) = client.get(url.clone()).await
            && response.status() == StatusCode::OK
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
