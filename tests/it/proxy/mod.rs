//! The proxy hop itself: streamed JSON and SSE, the upstream pool, interop with the real MCP SDKs,
//! the MCP conformance suite directly and through the gateway.

mod conformance;
mod interop;
mod pool;
mod streaming;
