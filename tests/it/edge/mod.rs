//! Refusals at the edge and header hygiene: framing, Host and Origin, slowloris bounds, every refusal status and body.

mod framing;
mod headers;
mod refusals;
mod slowloris;
