//! Talking to upstreams: the validated route (`Upstream`), the connection pool, header
//! hygiene in both directions, the outgoing request, streamed response bodies, the legacy
//! HTTP+SSE endpoint table, and which shard a caller runs on (for connection locality).

mod headers;
pub mod legacy;
mod pool;
mod request;
mod route;
pub mod shard;
mod stream;

pub use headers::{ForwardedFor, is_gateway_owned, is_hop_by_hop, request_headers, response_headers};
pub use legacy::LegacyEndpoints;
pub use pool::{ConnPool, Lease};
pub use request::build_request;
pub use route::{RouteAuth, Upstream};
pub use stream::{BoxError, EndpointRewrite, OnClose, OnFailure, ProxyBody, ServerRequests, StreamOptions};
