//! Portcullis: a security gateway (reverse proxy) for MCP servers.
//!
//! ```text
//! client ──HTTP/1.1 | h2c──▶ server (connection limits, header deadline, size cap)
//!    │
//!    ▼
//! Gateway::handle  (never fails; exactly one audit event + metrics per request)
//!    └─ handle_inner
//!         1. route          exact path → Upstream                       404
//!         2. edge checks    method, Host, Origin                        405 / 400 / 403
//!         3. authenticate   cert | JWT | API key → Principal            401 / 503
//!         4. read body      size + time bounded                         413 / 408 / 415
//!         5. parse          strict JSON-RPC envelope → McpCall          400 -32700/-32600/-32020
//!         7. authorize      Principal × McpCall, every message          200 -32602/-31403, 403
//!         8. session        Mcp-Session-Id bound to the principal       404
//!         9. forward        exact bytes, header hygiene, injected creds 502 / 504
//!        10. respond        stream JSON / SSE back event by event; filter */list; bind sessions
//! ```
//!
//! Module map: `config` (two-layer config, reload), `server` (accept loop), `pipeline` (the
//! flow), `edge` (head checks), `mcp` (envelope, calls, headers, SSE framing), `upstream`
//! (client, hygiene, streaming, legacy transport), `auth` (principals), `authz` (roles,
//! policy, list filtering), `authorize` / `session` (stages 7 and 8), `state` (session
//! bindings), `explain`, `telemetry` (logs, audit, metrics),
//! `admin` (health, metrics, reload), `app` (start/stop), `cli`.

pub mod admin;
pub mod app;
pub mod auth;
mod authorize;
pub mod authz;
pub mod body;
pub mod cli;
pub mod config;
mod context;
pub mod dev;
pub mod edge;
pub mod error;
pub mod explain;
mod explain_live;
pub mod gateway;
pub mod mcp;
mod pipeline;
pub mod ratelimit;
mod request_body;
pub mod server;
mod session;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod upstream;

pub use app::{Running, start};
pub use gateway::Gateway;
