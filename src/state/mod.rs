//! State that outlives a request: session bindings now; rate-limit buckets, API keys and
//! revocations join them with the durable backends. Callers use [`SessionStore`] and never see
//! which backend holds the data, so adding a backend changes no call site.

mod sessions;

pub use sessions::{MemorySessions, SessionCheck, SessionKey, SessionStore};
