//! The `portcullis` binary: parse the command line and hand off to the library.

use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc: the proxy allocates and frees small buffers on every request; glibc's malloc
/// cost about a tenth of the per-request CPU in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    portcullis::cli::execute(portcullis::cli::Cli::parse())
}
