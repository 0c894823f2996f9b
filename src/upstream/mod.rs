//! Talking to upstreams: the connection pool, header hygiene, forwarding and streamed
//! response bodies.

mod forward;
mod headers;
pub mod legacy;
mod pool;
mod stream;

pub use forward::{MAX_SSE_EVENT_BYTES, RespondContext, build_request, respond};
pub use headers::{ForwardedFor, client_ip, is_gateway_owned, is_hop_by_hop, request_headers, response_headers};
pub use legacy::LegacyEndpoints;
pub use pool::{ConnPool, Lease};
pub use stream::{EndpointRewrite, OnClose, OnFailure, ProxyBody, StreamOptions};
