//! The `portcullis` binary: parse the command line and hand off to the library.

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc: the proxy allocates and frees small buffers on every request; glibc's malloc
/// cost about a tenth of the per-request CPU in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match portcullis::cli::Cli::try_parse() {
        Ok(cli) => portcullis::cli::execute(cli),
        Err(error) => {
            // Help and version go to stdout with 0; a usage error is exit 1, like a config error.
            let code = if error.use_stderr() { 1 } else { 0 };
            let _ = error.print();
            ExitCode::from(code)
        }
    }
}
