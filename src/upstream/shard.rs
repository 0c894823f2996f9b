//! Which shard (a worker thread with a runtime of its own, `server::shards`) the caller runs
//! on: a pool hands a shard the connections it opened itself, whose tasks run on its thread.

use std::cell::Cell;

thread_local! {
    static SHARD: Cell<usize> = const { Cell::new(0) };
}

/// The calling thread's shard (0 unless [`enter`] said otherwise).
pub fn current() -> usize {
    SHARD.with(Cell::get)
}

/// Marks the calling thread as shard `index`, for its lifetime.
pub fn enter(index: usize) {
    SHARD.with(|s| s.set(index));
}
