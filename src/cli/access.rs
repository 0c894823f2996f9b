//! How a lifecycle command reaches the credential store: directly (the redb file, or the
//! configured Redis), or through a running gateway's admin API (`--admin-url`, or by itself
//! when the gateway holds the embedded file or keeps its store in memory). Both ways answer
//! the same JSON, the admin API's.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};

use crate::auth::jwt::Grant;
use crate::auth::revocation::RevocationKind;
use crate::config::Config;
use crate::credentials::{self, CredError, Credentials, Location, NewKey, RevocationView, Unopened};
use crate::state::{Backend, RedisState};
use crate::telemetry::AuditSink;

/// `--admin-url` / `--admin-token`, shared by every lifecycle command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AdminArgs {
    /// Talk to a running gateway's admin API (e.g. http://127.0.0.1:9090) instead of the store.
    #[arg(long)]
    pub admin_url: Option<String>,
    /// Bearer token for --admin-url (default: $PORTCULLIS_ADMIN_TOKEN, else [admin].token).
    #[arg(long, env = "PORTCULLIS_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Set by a command whose answer stands without the store (`token issue`: the access token
    /// is valid wherever the signing key is): with `state.path` unset it then works in its own
    /// memory instead of asking a running gateway.
    #[arg(skip)]
    pub memory_ok: bool,
}

/// A failed command: its message and exit code (1 refused input, 2 the store or gateway).
pub struct Failure(pub String, pub u8);

/// The way to the store.
pub enum Access {
    Direct(Box<Credentials>),
    Admin { url: String, token: Option<String> },
}

fn from_cred(error: CredError) -> Failure {
    let code = match error {
        CredError::Invalid { .. } | CredError::NotFound | CredError::Conflict => 1,
        CredError::Store(_) | CredError::Signing(_) => 2,
    };
    Failure(error.to_string(), code)
}

impl Access {
    /// Opens the way for `config` (inside a runtime: Redis connects in the background).
    pub async fn open(config: &Config, admin: &AdminArgs) -> Result<Self, Failure> {
        let config_token = || {
            config
                .admin
                .token
                .as_ref()
                .map(|t| String::from_utf8_lossy(t.expose()).into_owned())
        };
        let via_admin = |url: String| Access::Admin {
            url,
            token: admin.admin_token.clone().or_else(config_token),
        };
        if let Some(url) = &admin.admin_url {
            return Ok(via_admin(url.trim_end_matches('/').to_string()));
        }
        // The command's own audit events: on standard error for `stdout` (standard output is
        // its answer); into the same hash chain as the gateway's for `file` (the chain writer
        // locks around each batch).
        let mut settings = config.audit.clone();
        if settings.sink == AuditSink::Stdout {
            settings.sink = AuditSink::Stderr;
        }
        let audit = crate::audit::open_log(&settings, false, false)
            .map_err(|e| Failure(format!("audit sink: {e}"), 2))?
            .log;
        let local_admin = format!("http://{}", config.admin.listen);
        let location = match &config.state.backend {
            Backend::Embedded { path: None } if admin.memory_ok => {
                super::write_err(
                    "note: state.path is unset: the refresh token is only known to this command (no gateway will accept it); the access token works",
                );
                Location::Embedded(None)
            }
            // The store lives only in the gateway's memory: its admin API is the way in.
            Backend::Embedded { path: None } => return Ok(via_admin(local_admin)),
            Backend::Embedded { path: Some(path) } => Location::Embedded(Some(path.as_path())),
            Backend::Redis {
                url,
                key_prefix,
                timeout,
                pool_size,
            } => {
                let timeout = (*timeout).max(Duration::from_secs(2));
                let redis = RedisState::connect(url, key_prefix, timeout, *pool_size)
                    .map_err(|e| Failure(format!("state.redis_url: {e}"), 2))?;
                Location::Redis(std::sync::Arc::new(redis))
            }
        };
        match credentials::open(location, config.credentials.clone(), audit) {
            Ok(credentials) => {
                if credentials.shared() && !credentials.wait_connected(Duration::from_secs(3)).await {
                    return Err(Failure("state.redis_url: Redis did not answer within 3 s".into(), 2));
                }
                Ok(Access::Direct(Box::new(credentials)))
            }
            Err(Unopened::Locked) => Ok(via_admin(local_admin)),
            Err(Unopened::Failed(error)) => Err(Failure(format!("credential store: {error}"), 2)),
        }
    }

    /// Calls the admin API: `method path` with `body`; the JSON answer, or its error.
    pub async fn call(
        url: &str,
        token: Option<&str>,
        method: http::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, Failure> {
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<Full<Bytes>>();
        let uri: http::Uri = format!("{url}{path}")
            .parse()
            .map_err(|e| Failure(format!("--admin-url: {e}"), 1))?;
        let mut request = http::Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = request
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| Failure(e.to_string(), 1))?;
        let response = tokio::time::timeout(Duration::from_secs(15), client.request(request))
            .await
            .map_err(|_| Failure(format!("{url}: no answer within 15 s"), 2))?
            .map_err(|e| Failure(format!("cannot reach the admin API at {url}: {e}"), 2))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure(e.to_string(), 2))?
            .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let description = value["error_description"].as_str().unwrap_or("refused");
        let field = value["field"]
            .as_str()
            .map(|f| format!(" (field `{f}`)"))
            .unwrap_or_default();
        let code = if status.is_client_error() && status != http::StatusCode::UNAUTHORIZED {
            1
        } else {
            2
        };
        Err(Failure(format!("{url}: {status}: {description}{field}"), code))
    }

    pub async fn issue(
        &self,
        config: &Config,
        grant: Grant,
        ttl: Option<Duration>,
        ttl_text: Option<&str>,
    ) -> Result<serde_json::Value, Failure> {
        match self {
            Access::Direct(credentials) => {
                let jwt = config
                    .auth
                    .jwt
                    .as_ref()
                    .ok_or_else(|| Failure("auth.jwt: no keys configured".into(), 1))?;
                let issued = credentials.issue(jwt, grant, ttl, "cli").await.map_err(from_cred)?;
                Ok(serde_json::to_value(issued).unwrap_or_default())
            }
            Access::Admin { url, token } => {
                let body = serde_json::json!({
                    "sub": grant.subject, "roles": grant.roles, "permissions": grant.permissions,
                    "username": grant.username, "ttl": ttl_text,
                });
                Self::call(url, token.as_deref(), http::Method::POST, "/admin/tokens", Some(body)).await
            }
        }
    }

    pub async fn create_key(&self, new: NewKey, ttl_text: Option<&str>) -> Result<serde_json::Value, Failure> {
        match self {
            Access::Direct(credentials) => {
                let view = credentials.create_key(new, "cli").await.map_err(from_cred)?;
                Ok(serde_json::to_value(view).unwrap_or_default())
            }
            Access::Admin { url, token } => {
                let body = serde_json::json!({
                    "subject": new.subject, "roles": new.roles, "permissions": new.permissions,
                    "name": new.name, "ttl": ttl_text,
                });
                Self::call(url, token.as_deref(), http::Method::POST, "/admin/keys", Some(body)).await
            }
        }
    }

    pub async fn list_keys(&self) -> Result<serde_json::Value, Failure> {
        match self {
            Access::Direct(credentials) => {
                let views = credentials.list_keys().await.map_err(from_cred)?;
                Ok(serde_json::to_value(views).unwrap_or_default())
            }
            Access::Admin { url, token } => {
                Self::call(url, token.as_deref(), http::Method::GET, "/admin/keys", None).await
            }
        }
    }

    pub async fn show_key(&self, id: &str) -> Result<serde_json::Value, Failure> {
        match self {
            Access::Direct(credentials) => {
                let view = credentials.key(id).await.map_err(from_cred)?;
                Ok(serde_json::to_value(view).unwrap_or_default())
            }
            Access::Admin { url, token } => {
                let path = format!("/admin/keys/{id}");
                Self::call(url, token.as_deref(), http::Method::GET, &path, None).await
            }
        }
    }

    pub async fn revoke_key(&self, id: &str) -> Result<serde_json::Value, Failure> {
        match self {
            Access::Direct(credentials) => {
                let view = credentials.revoke_key(id, "cli").await.map_err(from_cred)?;
                Ok(serde_json::to_value(view).unwrap_or_default())
            }
            Access::Admin { url, token } => {
                let path = format!("/admin/keys/{id}");
                Self::call(url, token.as_deref(), http::Method::DELETE, &path, None).await
            }
        }
    }

    pub async fn rotate_key(
        &self,
        id: &str,
        grace: Duration,
        grace_text: Option<&str>,
    ) -> Result<serde_json::Value, Failure> {
        match self {
            Access::Direct(credentials) => {
                let view = credentials.rotate_key(id, grace, "cli").await.map_err(from_cred)?;
                Ok(serde_json::to_value(view).unwrap_or_default())
            }
            Access::Admin { url, token } => {
                let path = format!("/admin/keys/{id}/rotate");
                let body = serde_json::json!({ "grace": grace_text });
                Self::call(url, token.as_deref(), http::Method::POST, &path, Some(body)).await
            }
        }
    }

    pub async fn revoke(&self, kind: RevocationKind, value: &str) -> Result<serde_json::Value, Failure> {
        match self {
            Access::Direct(credentials) => {
                let revocation = credentials.revoke(kind, value, "cli").await.map_err(from_cred)?;
                Ok(serde_json::to_value(RevocationView::from(&revocation)).unwrap_or_default())
            }
            Access::Admin { url, token } => {
                let field = match kind {
                    RevocationKind::Jti => "jti",
                    RevocationKind::Sub => "sub",
                    RevocationKind::Family => "family_id",
                };
                let body = serde_json::json!({ field: value });
                Self::call(
                    url,
                    token.as_deref(),
                    http::Method::POST,
                    "/admin/revocations",
                    Some(body),
                )
                .await
            }
        }
    }

    pub async fn revocations(&self) -> Result<serde_json::Value, Failure> {
        match self {
            Access::Direct(credentials) => {
                let all = credentials.revocations().await.map_err(from_cred)?;
                Ok(serde_json::to_value(all.iter().map(RevocationView::from).collect::<Vec<_>>()).unwrap_or_default())
            }
            Access::Admin { url, token } => {
                Self::call(url, token.as_deref(), http::Method::GET, "/admin/revocations", None).await
            }
        }
    }

    /// The store itself, for commands that only work on it (`state export/import`).
    pub fn direct(&self) -> Result<&Credentials, Failure> {
        match self {
            Access::Direct(credentials) => Ok(credentials),
            Access::Admin { .. } => Err(Failure(
                "the embedded store is held by a running gateway (or kept in its memory): stop it first, or use backend = \"redis\"".into(),
                2,
            )),
        }
    }
}

/// Loads the config, opens the way to the store on a runtime of its own and runs `command`
/// with both; prints its failure. The exit code: 0, 1 (config, usage, refused input) or 2.
pub fn run<F>(path: &std::path::Path, admin: &AdminArgs, command: F) -> std::process::ExitCode
where
    F: AsyncFnOnce(&Config, &Access) -> Result<(), Failure>,
{
    let (config, runtime) = match super::load_on_runtime(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let outcome = runtime.block_on(async {
        let access = Access::open(&config, admin).await?;
        let result = command(&config, &access).await;
        if let Access::Direct(credentials) = &access {
            credentials.flush_audit();
        }
        result
    });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(Failure(message, code)) => {
            super::write_err(&message);
            std::process::ExitCode::from(code)
        }
    }
}

/// Every `--role` must be defined in `[roles]` (a typo would grant nothing, silently).
pub fn known_roles(config: &Config, roles: &[String]) -> Result<(), Failure> {
    match roles.iter().find(|role| !config.roles.contains(role)) {
        Some(role) => Err(Failure(format!("--role: `{role}` is not defined in [roles]"), 1)),
        None => Ok(()),
    }
}

/// Prints `value` as one JSON line (`--json`) or as `human` renders it.
pub fn print(value: &serde_json::Value, json: bool, human: impl FnOnce(&serde_json::Value) -> String) {
    if json {
        super::write_out(&value.to_string());
    } else {
        super::write_out(&human(value));
    }
}
