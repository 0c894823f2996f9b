//! Integration tests: the real gateway in-process on 127.0.0.1:0, against a recording mock
//! upstream and against real MCP SDK servers and clients.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

mod harness;
mod mock;

mod auth;
mod authz;
mod certs;
mod config_file;
mod framing;
mod headers;
mod interop;
mod issuers;
mod mtls;
mod pool;
mod process;
mod ratelimit;
mod refusals;
mod reload;
mod slowloris;
mod state;
mod streaming;
mod tls;
mod tls_interop;
mod upstream_tls;
