//! The public listener: accept loop with connection limits, HTTP/1.1 and h2c on one port
//! (hyper-util's auto builder), header deadline and size cap, graceful drain on shutdown;
//! with several worker threads, one listener per shard (`shards.rs`).

mod accept;
mod body;
mod limits;
pub mod shards;

pub use accept::{ConnInfo, serve};
pub use body::{GatewayBody, json_response, no_store};
pub use limits::{ConnectionLimits, Refused};
