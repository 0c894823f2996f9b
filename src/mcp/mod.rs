//! MCP on the wire: the strict JSON-RPC envelope, what a message asks for, the 2026-07-28
//! header mirror, and SSE framing.

pub mod call;
pub mod headers;
pub mod jsonrpc;
pub mod sse;
mod strict;

pub use call::{InvalidParams, ListKind, McpCall, classify};
pub use jsonrpc::{Body, EnvelopeError, Message, MessageKind, RequestId, parse};
pub use strict::check as strict_check;
