//! The credential lifecycle: issuing, refresh rotation with reuse detection, revocation,
//! dynamic API keys and the admin API — on one gateway, across two replicas sharing a real
//! Redis, across a `kill -9` of the binary, and with a real OAuth client library.

mod admin_api;
mod cli;
mod embedded_restart;
mod oauth_client;
mod refresh;
mod replicas;
