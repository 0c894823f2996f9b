//! Micro benchmark of `*/list` filtering (stage 10): the cost of filtering one 9-tool
//! `tools/list` page for a caller who may see 3 of them — with a fixed predicate, with the real
//! policy, and with the page cache (a page this view saw before) — against one plain
//! validating parse of the same bytes (the least any JSON-aware step pays), side by side.
//!
//! `cargo bench --bench list_filter` (release profile). Prints ns per page for each.

#![expect(
    clippy::panic,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    reason = "a benchmark prints its results and stops loudly on a broken setup"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use portcullis::authz::{Kind, ListFilter, Rewrite};

const POLICY: &str = r#"
[[upstreams]]
name = "bench"
route = "/mcp"
url = "http://127.0.0.1:1/mcp"
auth = "none"
default = "deny"
[upstreams.tools]
echo = "bench:echo"
get_weather = "weather:read"
set_weather = "weather:write"
read_file = { permission = "files:read", args = { path = { pattern = "/srv/data/[^/]+" } } }
write_file = "files:write"
delete_file = "files:delete"
list_users = "users:read"
add = "math:use"
slow_count = "math:use"
[roles]
guest = ["weather:read"]
user = ["weather:read", "files:read", "bench:echo"]
premium = ["weather:read", "weather:write", "files:read", "files:write"]
admin = ["*"]
"#;

fn page() -> String {
    let names = [
        "echo",
        "get_weather",
        "set_weather",
        "read_file",
        "write_file",
        "delete_file",
        "list_users",
        "add",
        "slow_count",
    ];
    let tools: Vec<String> = names
        .iter()
        .map(|n| format!(r#"{{"name":"{n}","description":"The {n} tool of the benchmark upstream.","inputSchema":{{"type":"object","properties":{{"text":{{"type":"string"}}}}}}}}"#))
        .collect();
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":{{"tools":[{}],"nextCursor":"page-2"}}}}"#,
        tools.join(",")
    )
}

fn main() {
    // The caller's view through the real policy: the bench front's rules and roles (bench/proxy.sh
    // --authz), a principal with the role `user`.
    let config = portcullis::config::load_str(POLICY, &|_: &str| None).unwrap_or_else(|e| panic!("{e}"));
    let principal = Arc::new(portcullis::auth::Principal {
        roles: vec!["user".into()],
        ..portcullis::auth::Principal::anonymous()
    });
    let visible = portcullis::authz::visible(
        Arc::clone(&config.upstreams[0].policy),
        Arc::clone(&config.roles),
        Arc::clone(&principal),
    );
    let cached = ListFilter::new(Arc::clone(&visible)).with_cache(
        Arc::clone(&config.upstreams[0].page_cache),
        portcullis::authz::view_of(&principal),
    );
    let filter = ListFilter::new(visible);
    let trivial = Arc::new(|_: Kind, name: &str| matches!(name, "echo" | "get_weather" | "read_file"));
    let parse_only = ListFilter::new(trivial);
    let text = page();
    assert!(matches!(filter.body(&text), Rewrite::Replace(_)));
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this as a quick smoke test.
    let measuring = std::env::args().any(|a| a == "--bench");
    let (rounds, iterations) = if measuring { (5, 100_000) } else { (1, 1_000) };
    for round in 1..=rounds {
        let start = Instant::now();
        for _ in 0..iterations {
            let parsed: Result<&serde_json::value::RawValue, _> = serde_json::from_str(black_box(&text));
            black_box(parsed.is_ok());
        }
        let baseline = start.elapsed().as_nanos() as f64 / f64::from(iterations);
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(filter.body(black_box(&text)));
        }
        let filtered = start.elapsed().as_nanos() as f64 / f64::from(iterations);
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(parse_only.body(black_box(&text)));
        }
        let trivial = start.elapsed().as_nanos() as f64 / f64::from(iterations);
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(cached.body(black_box(&text)));
        }
        let hit = start.elapsed().as_nanos() as f64 / f64::from(iterations);
        println!(
            "round {round}/{rounds}: page {} B  one validating parse {baseline:.0} ns  filter: fixed predicate {trivial:.0} ns, policy {filtered:.0} ns, policy + page cache {hit:.0} ns",
            text.len()
        );
    }
}
