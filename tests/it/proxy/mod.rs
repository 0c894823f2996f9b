//! The proxy hop itself: streamed JSON and SSE, the upstream pool, interop with the real MCP SDKs.

mod interop;
mod pool;
mod streaming;
