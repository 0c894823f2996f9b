//! The command line: `run`, `check`, `explain`, `dev`, `token`, `config schema`, key helpers.

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
        } => {
            let schema = serde_json::to_string_pretty(&config::json_schema()).unwrap_or_default();
            write_out(&schema);
            ExitCode::SUCCESS
        }
        Command::Token { command } => token(command, &path),
        Command::Explain {
            upstream,
            roles,
            permissions,
            token,
            api_key,
            live,
        } => {
            let subject = crate::explain::Subject {
                roles,
                permissions,
                token,
                api_key,
            };
            explain(&path, upstream.as_deref(), &subject, live)
        }
        Command::Dev { listen, admin } => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(runtime) => match runtime.block_on(crate::dev::run(listen, admin)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    write_err(&format!("portcullis dev: {error}"));
                    ExitCode::from(2)
                }
            },
            Err(error) => {
                write_err(&format!("cannot start the runtime: {error}"));
                ExitCode::from(2)
            }
        },
        Command::HashKey { key } => {
            match key {
                Some(key) if key.is_empty() => {
                    write_err("hash-key: the key is empty");
                    return ExitCode::from(1);
                }
                Some(key) => write_out(&crate::auth::api_key::hash(&key)),
                None => {
                    let key = crate::auth::api_key::generate();
                    write_out(&format!("key:  {key}\nhash: {}", crate::auth::api_key::hash(&key)));
                }
            }
            ExitCode::SUCCESS
        }
        Command::GenSecret => {
            use base64::Engine as _;
            let mut bytes = [0u8; 64];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            write_out(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
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

fn token(command: TokenCommand, path: &std::path::Path) -> ExitCode {
    let config = match config::load_file(path) {
        Ok(config) => config,
        Err(error) => {
            write_err(&format!("{}: {error}", path.display()));
            return ExitCode::from(1);
        }
    };
    let Some(jwt) = config.auth.jwt.as_ref() else {
        write_err(&format!("{}: `auth.jwt`: no keys configured", path.display()));
        return ExitCode::from(1);
    };
    match command {
        TokenCommand::Issue {
            sub,
            roles,
            permissions,
            username,
            ttl,
        } => {
            let ttl = match ttl.as_deref().map(config::parse_duration).transpose() {
                Ok(ttl) => ttl,
                Err(error) => {
                    write_err(&format!("--ttl: {error}"));
                    return ExitCode::from(1);
                }
            };
            match jwt.issue(&sub, username.as_deref(), &roles, &permissions, ttl) {
                Ok((access, refresh, expires_in)) => {
                    let out = serde_json::json!({
                        "access_token": access,
                        "refresh_token": refresh,
                        "token_type": "Bearer",
                        "expires_in": expires_in,
                    });
                    write_out(&serde_json::to_string_pretty(&out).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    write_err(&format!("cannot issue: {error}"));
                    ExitCode::from(1)
                }
            }
        }
        TokenCommand::Decode { token } => {
            use base64::Engine as _;
            let decode = |part: Option<&str>| {
                part.and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
                    .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            };
            let mut parts = token.split('.');
            let (header, claims) = (decode(parts.next()), decode(parts.next()));
            let out = serde_json::json!({
                "header": header,
                "claims": claims,
                "signature_verifies": jwt.signature_ok(&token),
                "accepted_as_access_token": jwt.verify(&token).is_ok(),
            });
            write_out(&serde_json::to_string_pretty(&out).unwrap_or_default());
            ExitCode::SUCCESS
        }
    }
}

fn explain(path: &std::path::Path, upstream: Option<&str>, subject: &crate::explain::Subject, live: bool) -> ExitCode {
    let config = match config::load_file(path) {
        Ok(config) => config,
        Err(error) => {
            write_err(&format!("{}: {error}", path.display()));
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            write_err(&format!("cannot start the runtime: {error}"));
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async {
        let target = crate::explain::upstream(&config, upstream).map_err(|e| (e, 1))?;
        let principal = crate::explain::principal(&config, subject).await.map_err(|e| (e, 1))?;
        let names = if live {
            crate::explain_live::lists(target, config.server.timeouts.upstream_response)
                .await
                .map_err(|e| (e, 2))?
        } else {
            Vec::new()
        };
        Ok::<_, (String, u8)>(crate::explain::report(target, &config.roles, &principal, &names))
    });
    match outcome {
        Ok(report) => {
            write_out(&report);
            ExitCode::SUCCESS
        }
        Err((error, code)) => {
            write_err(&format!("explain: {error}"));
            ExitCode::from(code)
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
            config::RouteAuth::Required => "auth=required",
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
    out.push_str(&tls_summary(config));
    out
}

/// Certificates served, with subject, SANs and expiry; a warning for any that expires within
/// 14 days (or has expired).
fn tls_summary(config: &Config) -> String {
    let Some(tls) = &config.server.tls else {
        return "tls: off (plain HTTP)\n".into();
    };
    let mut out = String::from("tls: on (TLS 1.2/1.3, ALPN h2 + http/1.1)");
    match (&tls.client_ca, tls.client_auth) {
        (Some(ca), auth) => out.push_str(&format!(", client certificates {auth:?} from {}\n", ca.display())),
        (None, _) => out.push('\n'),
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    for (path, facts) in crate::tls::server::certificate_facts(tls) {
        let left = facts.not_after_unix - now;
        let expires = crate::telemetry::audit::format_rfc3339(u64::try_from(facts.not_after_unix).unwrap_or(0), 0);
        out.push_str(&format!(
            "  {}: subject \"{}\"; SANs [{}]; expires {} ({} days)\n",
            path.display(),
            facts.subject,
            facts.sans.join(", "),
            expires,
            left / 86_400
        ));
        if left < 14 * 86_400 {
            out.push_str(&format!("  WARNING: {} expires within 14 days\n", path.display()));
        }
    }
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
