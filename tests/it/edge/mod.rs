//! Refusals at the edge and header hygiene: framing, Host and Origin, slowloris bounds, every refusal status and body; the shards sharing one address and its caps.

mod framing;
mod headers;
mod refusals;
mod shards;
mod slowloris;
