//! The `portcullis` binary: parse the command line and hand off to the library.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    portcullis::cli::execute(portcullis::cli::Cli::parse())
}
