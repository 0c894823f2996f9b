//! Talking to upstreams: the pooled client, header hygiene, forwarding and streamed
//! response bodies.

mod client;
mod forward;
mod headers;
pub mod legacy;
mod stream;

pub use client::UpstreamClient;
pub use forward::{MAX_SSE_EVENT_BYTES, RespondContext, build_request, respond};
pub use headers::{ForwardedFor, client_ip, is_hop_by_hop, request_headers, response_headers};
pub use legacy::LegacyEndpoints;
pub use stream::{EndpointRewrite, OnClose, ProxyBody, StreamOptions};
