//! The audit trail: the hash chain and `audit verify` (`chain`), the report and its findings
//! under scripted attacks, embedded and on Redis (`report`), the admin MCP tool with the
//! Python SDK (`mcp`), the live dashboard in headless Chromium (`dashboard`), trace context
//! and OTLP spans (`tracing`).

mod chain;
mod dashboard;
mod mcp;
mod report;
mod tracing;
