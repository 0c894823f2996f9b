//! The admin listener: `/healthz`, `/readyz`, `/metrics`, `POST /admin/reload` (`routes.rs`),
//! the credential lifecycle API (`credentials_api.rs`), the security audit report
//! (`audit_api.rs`), the live dashboard (`dashboard.rs`, its page in `dashboard/`) and the
//! admin MCP server (`mcp_server.rs`); `viewer.rs` decides who may see the audit. Health is open; metrics and admin
//! calls need `[admin].token` as a bearer token when one is set (the credential API also takes
//! a credential holding `admin:*` or the call's scoped permission), and admin calls are refused
//! outright when neither is possible.

mod audit_api;
mod bearer;
mod credentials_api;
mod dashboard;
mod mcp_server;
mod routes;
mod viewer;

pub use routes::serve;
