//! The command line, one file per command: `run`, `check`, `config schema`, `token`,
//! `hash-key` / `gen-secret` (`keys`), `explain` (+ `explain_live`), `dev`. The library never
//! imports this folder; each command builds what it needs from `config` and `app`.

mod check;
mod config_schema;
mod dev;
mod explain;
mod explain_live;
mod keys;
mod run;
mod token;

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
    /// Tokens signed with the configured `[auth.jwt]` keys.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The `sha256:` form of an API key for `[[auth.api_keys.static]]`; without KEY, a new
    /// random key is generated and printed once with its hash.
    HashKey { key: Option<String> },
    /// A 64-byte random secret, URL-safe base64 (for HS256 keys and admin tokens).
    GenSecret,
    /// What a role, token or API key may use on an upstream: every tool, resource and prompt
    /// with allow/deny and the rule that decided it.
    Explain {
        /// The upstream (by name); optional when there is only one.
        #[arg(long)]
        upstream: Option<String>,
        /// Role to explain (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Extra permission (repeat for several).
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// A token to verify and explain (its roles, permissions and scopes).
        #[arg(long)]
        token: Option<String>,
        /// An API key to verify and explain.
        #[arg(long)]
        api_key: Option<String>,
        /// Also ask the upstream for the names it offers (judging names no rule lists).
        #[arg(long)]
        live: bool,
    },
    /// Zero-setup demo: a sample MCP server behind the gateway, credentials printed.
    Dev {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        #[arg(long, default_value = "127.0.0.1:9090")]
        admin: std::net::SocketAddr,
    },
}

/// `portcullis token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint an access + refresh token pair.
    Issue {
        #[arg(long)]
        sub: String,
        /// Role (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Extra permission (repeat for several).
        #[arg(long = "permission")]
        permissions: Vec<String>,
        #[arg(long)]
        username: Option<String>,
        /// Access-token lifetime, e.g. 30m (default: auth.jwt.access_ttl).
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Print a token's header and claims without trusting them, and whether the signature
    /// verifies with the configured keys.
    Decode { token: String },
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
        } => config_schema::run(),
        Command::Token { command } => token::run(command, &path),
        Command::Explain {
            upstream,
            roles,
            permissions,
            token,
            api_key,
            live,
        } => {
            let subject = explain::Subject {
                roles,
                permissions,
                token,
                api_key,
            };
            explain::run(&path, upstream.as_deref(), &subject, live)
        }
        Command::Dev { listen, admin } => dev::command(listen, admin),
        Command::HashKey { key } => keys::hash_key(key),
        Command::GenSecret => keys::gen_secret(),
        Command::Check => check::run(&path),
        Command::Run => run::run(&path),
    }
}

/// Loads the config at `path`, or prints its error and gives exit code 1.
fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    config::load_file(path).map_err(|error| {
        write_err(&format!("{}: {error}", path.display()));
        ExitCode::from(1)
    })
}

/// A runtime for a command, or the printed error and exit code 2.
fn runtime(mut builder: tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, ExitCode> {
    builder.enable_all().build().map_err(|error| {
        write_err(&format!("cannot start the runtime: {error}"));
        ExitCode::from(2)
    })
}

pub(crate) fn write_out(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", text.trim_end());
}

pub(crate) fn write_err(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
