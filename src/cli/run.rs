//! `portcullis run`: serve the gateway until SIGTERM / SIGINT (SIGHUP reloads).

use std::path::Path;
use std::process::ExitCode;

use super::{load, runtime, write_err};

pub(super) fn run(path: &Path) -> ExitCode {
    let config = match load(path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.server.worker_threads > 0 {
        builder.worker_threads(config.server.worker_threads);
    }
    let runtime = match runtime(builder) {
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
