//! The command line: `run`, `check`, `config schema`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::telemetry::logging::{self, LogFormat};

/// Portcullis: a security gateway for MCP servers.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
pub struct Cli {
    /// Config file (default: $PORTCULLIS_CONFIG, else ./gateway.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gateway.
    Run,
    /// Load and fully validate the config, print a summary; exit 1 naming the first error.
    Check,
    /// Config file helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `portcullis config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema of gateway.toml.
    Schema,
}

/// Runs the parsed command; returns the process exit code (0 ok, 1 config/usage, 2 runtime).
pub fn execute(cli: Cli) -> ExitCode {
    logging::init(cli.log_format);
    let path = config::resolve_path(cli.config);
    match cli.command {
        Command::Config {
            command: ConfigCommand::Schema,
        } => {
            let schema = serde_json::to_string_pretty(&config::json_schema()).unwrap_or_default();
            write_out(&schema);
            ExitCode::SUCCESS
        }
        Command::Check => match config::load_file(&path) {
            Ok(config) => {
                write_out(&summary(&config, &path));
                ExitCode::SUCCESS
            }
            Err(error) => {
                write_err(&format!("{}: {error}", path.display()));
                ExitCode::from(1)
            }
        },
        Command::Run => {
            let config = match config::load_file(&path) {
                Ok(config) => config,
                Err(error) => {
                    write_err(&format!("{}: {error}", path.display()));
                    return ExitCode::from(1);
                }
            };
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if config.server.worker_threads > 0 {
                builder.worker_threads(config.server.worker_threads);
            }
            let runtime = match builder.enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    write_err(&format!("cannot start the runtime: {error}"));
                    return ExitCode::from(2);
                }
            };
            match runtime.block_on(crate::app::run_until_signal(config, path)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    write_err(&format!("portcullis: {error}"));
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// The `check` summary.
pub fn summary(config: &Config, path: &std::path::Path) -> String {
    let mut out = format!("{}: OK\n", path.display());
    out.push_str(&format!(
        "listen {}  public_url {}  admin {}\n",
        config.server.listen, config.server.public_url, config.admin.listen
    ));
    out.push_str(&format!("routes ({}):\n", config.upstreams.len()));
    for upstream in &config.upstreams {
        let auth = match upstream.auth {
            config::RouteAuth::None => "auth=none (PUBLIC)",
        };
        out.push_str(&format!(
            "  {:<24} -> {}  [{}] {auth}\n",
            upstream.route, upstream.url, upstream.name
        ));
    }
    let audit = match &config.audit.sink {
        config::AuditSink::Stdout => "stdout".to_string(),
        config::AuditSink::File(path) => format!("file {}", path.display()),
        config::AuditSink::Off => "off".to_string(),
    };
    out.push_str(&format!("audit: {audit}\n"));
    out
}

fn write_out(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", text.trim_end());
}

fn write_err(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
