//! The MCP conformance suite (`@modelcontextprotocol/conformance`, server mode): the default
//! suite and the 2026-07-28 requirement set, run against a real server directly and through
//! the gateway in front of it. The gateway may answer some checks better than the server (it
//! refuses a rebinding Host, a removed method, a mismatched header itself), never worse: every
//! check that passes directly passes through the gateway.

use crate::harness::GatewayConfig;
use crate::harness::upstreams::{ConformanceRun, everything_server, python_server, run_conformance};

/// The suite's arguments: the default (active) suite, and exactly what 2026-07-28 requires.
const DEFAULT_SUITE: &[&str] = &[];
const REQUIREMENTS_2026: &[&str] = &["--requirements", "2026-07-28"];

/// The suite with `args` against the server at `direct` and through a gateway in front of it.
async fn both_ways(direct: &str, args: &[&str]) -> (ConformanceRun, ConformanceRun) {
    let gateway = GatewayConfig::new(direct).with_timeouts("").start().await;
    let straight = run_conformance(direct, args).await;
    let proxied = run_conformance(&gateway.url("/mcp"), args).await;
    (straight, proxied)
}

/// At least `floor` checks pass directly, and every one of them passes through the gateway.
fn assert_no_check_lost(straight: &ConformanceRun, proxied: &ConformanceRun, floor: usize) {
    let passing = straight.passing();
    assert!(
        passing.len() >= floor,
        "only {} checks pass directly ({}), expected at least {floor}",
        passing.len(),
        straight.total
    );
    let through = proxied.passing();
    let lost: Vec<String> = passing
        .difference(&through)
        .map(|key| {
            let check = &proxied.checks.get(key);
            format!(
                "{}: {} -> {}: {}",
                key.0,
                key.1,
                check.map_or("absent", |c| c.status.as_str()),
                check.and_then(|c| c.message.as_deref()).unwrap_or_default()
            )
        })
        .collect();
    assert!(
        lost.is_empty(),
        "checks that pass directly ({}) fail through the gateway ({}):\n{}",
        straight.total,
        proxied.total,
        lost.join("\n")
    );
}

#[tokio::test]
async fn default_suite_against_the_python_server_through_the_gateway() {
    let server = python_server("streamable-http").await;
    let direct = format!("http://127.0.0.1:{}/mcp", server.port);
    let (straight, proxied) = both_ways(&direct, DEFAULT_SUITE).await;
    assert_no_check_lost(&straight, &proxied, 40);
}

#[tokio::test]
async fn requirements_2026_07_28_against_the_python_server_through_the_gateway() {
    let server = python_server("streamable-http").await;
    let direct = format!("http://127.0.0.1:{}/mcp", server.port);
    let (straight, proxied) = both_ways(&direct, REQUIREMENTS_2026).await;
    assert_no_check_lost(&straight, &proxied, 90);
}

#[tokio::test]
async fn default_suite_against_server_everything_through_the_gateway() {
    let server = everything_server("streamableHttp").await;
    let direct = format!("http://127.0.0.1:{}/mcp", server.port);
    let (straight, proxied) = both_ways(&direct, DEFAULT_SUITE).await;
    assert_no_check_lost(&straight, &proxied, 40);
}

/// server-everything speaks the 2025 revisions only: few checks pass, and those must survive.
#[tokio::test]
async fn requirements_2026_07_28_against_server_everything_through_the_gateway() {
    let server = everything_server("streamableHttp").await;
    let direct = format!("http://127.0.0.1:{}/mcp", server.port);
    let (straight, proxied) = both_ways(&direct, REQUIREMENTS_2026).await;
    assert_no_check_lost(&straight, &proxied, 5);
}
