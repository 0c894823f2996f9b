//! Integration tests: the real gateway in-process on 127.0.0.1:0, against a recording mock
//! upstream and against real MCP SDK servers and clients. `harness/` starts everything; each
//! folder holds one feature's assertions.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

mod harness;

mod audit;
mod auth;
mod authz;
mod cli;
mod credentials;
mod edge;
mod hardening;
mod proxy;
mod ratelimit;
mod repo;
mod state;
mod tls;
