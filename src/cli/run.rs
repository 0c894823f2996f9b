//! `portcullis run`: serve the gateway until SIGTERM / SIGINT (SIGHUP reloads).

use std::path::Path;
use std::process::ExitCode;

use super::{load, runtime, write_err};

pub(super) fn run(path: &Path) -> ExitCode {
    // No transparent huge pages: the allocator asks for them, and with thousands of open
    // streams each connection's partly used buffers then hold whole 2 MB pages (724 MB against
    // about 300 MB for 10 000 SSE streams, bench/memory.sh). Best effort: a kernel without THP
    // refuses, and that is fine.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let mut config = match load(path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    // Every worker is a single-threaded runtime of its own (a shard, `server::shards`): this
    // thread is the first, `0` means one per CPU core. Without the work-stealing scheduler's
    // cross-thread bookkeeping a hop costs ~7 % less CPU on one worker and serves 1.28× the
    // requests on two (README.md, Benchmark).
    if config.server.worker_threads == 0 {
        config.server.worker_threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    }
    let runtime = match runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(crate::app::run_until_signal(config, path.to_path_buf())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            write_err(&format!("portcullis: {error}"));
            ExitCode::from(2)
        }
    }
}
