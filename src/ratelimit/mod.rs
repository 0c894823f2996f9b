//! Rate limiting (stages 2 and 6): token buckets per client IP (before authentication), an
//! auth-failure block per IP, and per principal (by role), per API key and per principal ×
//! tool (after parsing, so a refusal can carry the request's id).
//!
//! `bucket` is the arithmetic, `local` the in-process table, `limits` the validated config.
//! Time comes from a [`Clock`], so tests can drive it.

pub mod bucket;
mod clock;
mod limiter;
mod limits;
mod local;
mod shared;

pub use bucket::{Bucket, Decision, Limit};
pub use clock::{Clock, MonotonicClock};
pub use limiter::{Limited, Limiter, ip_key};
pub use limits::{AuthFailures, RateLimits};
pub use local::LocalBuckets;
pub use shared::Refusal;
