//! Portcullis: a security gateway (reverse proxy) for MCP servers.
//!
//! # Layout
//!
//! Rooms, and who may import whom (arrows point down; `ARCHITECTURE.md` has the rules and
//! `scripts/check-layout.sh` enforces them):
//!
//! ```text
//! cli/          one file per command (run, check, token, keys, explain, dev); nothing imports it
//! app.rs        start / stop: listeners, signals, reload, drain
//! server/ admin/ pipeline/
//!               server: accept loop, connection limits, the response body type;
//!               admin: health, metrics, reload; pipeline: the request flow, one file per stage
//! gateway.rs    `Gateway`: what outlives a request (snapshot, state store, limiter, audit)
//! config/       raw TOML → validated snapshot; builds every subsystem below; reload
//! upstream/     the validated route, client pool, header hygiene, streamed bodies, legacy SSE
//! authz/        policy: roles, rules, argument constraints, list filtering (no enforcement)
//! error.rs      `Reject`: every refusal, with its status, JSON-RPC code and reason
//! ratelimit/    token buckets (embedded or through the state store)
//! credentials/  issued tokens, refresh families, dynamic API keys, revocations: store + sync
//! auth/ audit/   principals: JWTs, API keys, external issuers, certificate identities;
//!               the hash-chained audit log, its verify, aggregates, report and findings
//! mcp/ tls/ state/ telemetry/
//!               leaves: JSON-RPC/SSE on the wire; TLS files and listener config; the state
//!               store (embedded redb or Redis); logs, audit, metrics
//! ```
//!
//! # The request flow (`pipeline/`)
//!
//! ```text
//! client ──TLS/mTLS | HTTP/1.1 | h2c──▶ server (connection limits, header deadline, size cap)
//!    │
//!    ▼
//! Gateway::handle  (never fails; exactly one audit event + metrics per request)
//!    └─ handle_inner                                        pipeline/
//!         0. metadata       RFC 9728 documents              metadata.rs
//!         1. route          exact path → Upstream           mod.rs            404
//!         2. edge checks    method, Host, Origin; IP bucket edge.rs limit.rs  405 / 400 / 403, 429
//!         3. authenticate   cert | JWT | API key → Principal authenticate.rs  401 / 503
//!         4. read body      size + time bounded             read_body.rs      413 / 408 / 415
//!         5. parse          strict JSON-RPC → McpCall       parse.rs          400 -32700/-32600/-32020
//!         6. rate limit     principal, API key, tool        limit.rs          200 -31429 / 429
//!         7. authorize      Principal × McpCall, each msg   authorize.rs      200 -32602/-31403, 403
//!         8. session        Mcp-Session-Id → principal      session.rs        404
//!         9. forward        exact bytes, header hygiene     forward.rs        502 / 504
//!        10. respond        JSON / SSE back; filter lists   respond.rs
//! ```

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod error;
pub mod gateway;
pub mod mcp;
pub mod pipeline;
pub mod ratelimit;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod upstream;

pub use app::{Running, start};
pub use gateway::Gateway;
