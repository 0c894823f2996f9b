//! The state backends: Redis shared by two replicas and while it is down, the embedded store across restarts.

mod backends;
