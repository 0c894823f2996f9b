//! The command line, one file per command: `run`, `check`, `config schema`, `token`, `keys`,
//! `revoke`, `state`, `hash-key` / `gen-secret` (`secrets`), `explain` (+ `explain_live`),
//! `dev`; `access.rs` is how the lifecycle commands reach the credential store (directly or
//! through a running gateway's admin API). The library never imports this folder.

mod access;
mod audit;
mod check;
mod config_schema;
mod dev;
mod explain;
mod explain_live;
mod keys;
mod revoke;
mod run;
mod secrets;
mod state;
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
    /// Dynamic API keys: create, list, show, revoke, rotate.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Revoke gateway-issued tokens on every replica: one (`--jti`), a subject's (`--sub`), a
    /// refresh family (`--family`); `--list` shows the revocations in force.
    Revoke {
        #[command(flatten)]
        target: revoke::Target,
        /// One JSON line instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: access::AdminArgs,
    },
    /// The audit trail: check the hash chain, or the security report.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Backups of the credential store (JSON lines; keys stay hashed).
    State {
        #[command(subcommand)]
        command: StateCommand,
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
        /// Access-token lifetime, e.g. 30m (default: auth.jwt.access_ttl; at most auth.jwt.max_ttl).
        #[arg(long)]
        ttl: Option<String>,
        /// One JSON line (an RFC 6749 token response plus `family_id`).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: access::AdminArgs,
    },
    /// Print a token's header and claims without trusting them, and whether the signature
    /// verifies with the configured keys.
    Decode { token: String },
}

/// `portcullis keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; it is printed once (`mcp_...`), only its digest is stored.
    Create {
        #[arg(long)]
        subject: String,
        /// Role (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Extra permission (repeat for several).
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// A name to tell keys apart.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. 90d (default: auth.api_keys.default_ttl; at most max_ttl).
        #[arg(long)]
        ttl: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: access::AdminArgs,
    },
    /// Every key: id, name, subject, roles, status, created, expires, uses, last use.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: access::AdminArgs,
    },
    /// One key.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: access::AdminArgs,
    },
    /// Revoke a key at once, on every replica.
    Revoke {
        id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: access::AdminArgs,
    },
    /// Replace a key: the new one works at once, the old one until the grace ends.
    Rotate {
        id: String,
        /// How long the old key stays valid, e.g. 1h (default 0s: ends now).
        #[arg(long)]
        grace: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: access::AdminArgs,
    },
}

/// `portcullis state ...`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Every key, revocation and refresh family as JSON lines (stdout, or --out FILE).
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Load a backup; every line is checked before any is written.
    Import { file: PathBuf },
}

/// `portcullis config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema of gateway.toml.
    Schema,
}

/// Runs the parsed command; returns the process exit code (0 ok, 1 config/usage, 2 runtime).
/// `portcullis audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of the audit files (default: the config's log and its rotations);
    /// exit 1 at the first edited, missing, reordered or truncated event.
    Verify {
        /// Files to check (any order); default: `[audit].path` and its rotated files.
        files: Vec<std::path::PathBuf>,
        /// The chain head to compare the end with (default: `<log>.head`).
        #[arg(long)]
        head: Option<std::path::PathBuf>,
        /// The oldest files were deleted on purpose: accept a log that starts after seq 1.
        #[arg(long)]
        pruned: bool,
        /// One JSON line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The security audit report: totals, top offenders, denied tools, rate-limit violations
    /// and unusual patterns.
    Report {
        /// `1h`, `24h` or `7d`.
        #[arg(long, default_value = "24h")]
        range: String,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: access::AdminArgs,
    },
}

pub fn execute(cli: Cli) -> ExitCode {
    logging::init(cli.log_format);
    let path = config::resolve_path(cli.config);
    match cli.command {
        Command::Config {
            command: ConfigCommand::Schema,
        } => config_schema::run(),
        Command::Token { command } => token::run(command, &path),
        Command::Keys { command } => keys::run(command, &path),
        Command::Revoke { target, json, admin } => revoke::run(target, json, &admin, &path),
        Command::Audit {
            command:
                AuditCommand::Verify {
                    files,
                    head,
                    pruned,
                    json,
                },
        } => audit::verify(files, head, pruned, json, &path),
        Command::Audit {
            command: AuditCommand::Report { range, json, admin },
        } => audit::report(&range, json, &admin, &path),
        Command::State {
            command: StateCommand::Export { out },
        } => state::export(out, &path),
        Command::State {
            command: StateCommand::Import { file },
        } => state::import(file, &path),
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
        Command::HashKey { key } => secrets::hash_key(key),
        Command::GenSecret => secrets::gen_secret(),
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

/// The config at `path` and a single-threaded runtime to run a command on, or the exit code
/// (1: the config; 2: the runtime).
fn load_on_runtime(path: &std::path::Path) -> Result<(Config, tokio::runtime::Runtime), ExitCode> {
    let config = load(path)?;
    let runtime = runtime(tokio::runtime::Builder::new_current_thread())?;
    Ok((config, runtime))
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
