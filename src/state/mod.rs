//! State that outlives a request: session bindings and, with Redis, rate-limit buckets.
//! Callers use [`SessionStore`] and the limiter and never see which backend holds the data.
//!
//! `embedded`: buckets in process memory, session bindings in memory written through to a redb
//! file under `state.path` (loaded back at start). `redis`: both in Redis, shared by every
//! replica (`redis.rs`).

mod embedded;
mod key;
pub mod redis;
mod sessions;
mod settings;

pub use embedded::Durable;
pub use key::SessionKey;
pub use redis::{RedisState, Unavailable};
pub use sessions::{MemorySessions, SessionCheck, SessionStore};
pub use settings::{Backend, OnUnavailable, StateSettings};
