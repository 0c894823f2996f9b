//! MCP on the wire: the strict JSON-RPC envelope, what a message asks for, the 2026-07-28
//! header mirror (and its `Mcp-Param-*` headers), SSE framing, and the JSON-RPC error objects the gateway writes.

pub mod call;
mod error;
pub mod fold;
pub mod headers;
pub mod jsonrpc;
pub mod methods;
pub mod params;
pub mod sse;
mod strict;

pub use call::{InvalidParams, ListKind, McpCall, classify};
pub use error::{CODE_POLICY_DENIED, CODE_RATE_LIMITED, CODE_UNAVAILABLE, jsonrpc_error};
pub use jsonrpc::{Body, EnvelopeError, Message, MessageKind, RequestId, parse};
pub use strict::check as strict_check;
