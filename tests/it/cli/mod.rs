//! The binary and its config files: `run` (signals, drain, h2c, logs), `check`, `config schema`, `dev`.

mod config_file;
mod process;
