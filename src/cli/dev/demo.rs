//! The demo itself: a fresh HS256 secret and API key, the config written to a private temp
//! folder, the sample server started, tokens minted for each role, the banner printed, then
//! the gateway until Ctrl-C.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::auth::api_key;

/// The demo's roles, lowest to highest.
pub const ROLES: [&str; 4] = ["guest", "user", "premium", "admin"];

fn random_text(bytes: usize) -> String {
    use base64::Engine as _;
    let mut buffer = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut buffer);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

/// The demo's config text.
fn config_text(
    listen: SocketAddr,
    admin: SocketAddr,
    sample: SocketAddr,
    key_hash: &str,
    state: &std::path::Path,
) -> String {
    format!(
        r#"# Written by `portcullis dev`: a throwaway demo config with fresh secrets.
[server]
listen = "{listen}"
public_url = "http://{listen}"

[admin]
listen = "{admin}"
token = "{admin_token}"

[state]
backend = "embedded"
path = "{state}"

[auth.jwt]
access_ttl = "12h"
[[auth.jwt.keys]]
kid = "dev"
alg = "HS256"
secret = "{secret}"

[auth.api_keys]
[[auth.api_keys.static]]
id = "dev-key"
hash = "{key_hash}"
subject = "svc:dev"
roles = ["user"]

[[upstreams]]
name = "sample"
route = "/mcp"
url = "http://{sample}/mcp"
auth = "required"
default = "deny"
on_deny = "explain"
[upstreams.tools]
get_weather = "weather:read"
set_weather = "weather:write"
read_file = "files:read"
write_file = {{ permission = "files:write", args = {{ path = {{ pattern = "/srv/data/[^/.][^/]*" }} }} }}
delete_file = "files:delete"
list_users = "users:read"

[rate_limits]
ip = {{ capacity = 100, refill_per_sec = 10 }}
auth_failures = {{ max = 10, window = "1m", block = "5m" }}
[rate_limits.roles]
guest = {{ capacity = 50, refill_per_sec = 1 }}
user = {{ capacity = 200, refill_per_sec = 5 }}
premium = {{ capacity = 1000, refill_per_sec = 20 }}
admin = {{ capacity = 5000, refill_per_sec = 100 }}

[roles]
guest = ["weather:read"]
user = ["weather:read", "files:read"]
premium = ["weather:read", "weather:write", "files:read", "files:write"]
admin = ["*"]

[audit]
sink = "stdout"
"#,
        admin_token = random_text(24),
        secret = random_text(48),
        state = state.display(),
    )
}

/// Runs the demo until SIGTERM / Ctrl-C.
pub async fn run(listen: SocketAddr, admin: SocketAddr) -> std::io::Result<()> {
    let sample = super::sample::start().await?;
    let key = api_key::generate();
    // The config holds the demo's secrets: a fresh, unguessable folder only we can enter
    // (an existing path is an error, never reused), a file only we can read, removed on exit.
    let dir: PathBuf = std::env::temp_dir().join(format!("portcullis-dev-{}", random_text(12)));
    {
        use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join("gateway.toml"))?;
        file.write_all(config_text(listen, admin, sample, &api_key::hash(&key), &dir.join("state")).as_bytes())?;
    }
    let _cleanup = RemoveOnDrop(dir.clone());
    let path = dir.join("gateway.toml");
    let config = crate::config::load_file(&path).map_err(std::io::Error::other)?;
    let url = format!("{}/mcp", config.server.public_url);
    let admin_token = config
        .admin
        .token
        .as_ref()
        .map(|t| String::from_utf8_lossy(t.expose()).into_owned())
        .unwrap_or_default();
    let running = crate::app::start(config, Some(path.clone())).await?;
    // Each role's token opens a refresh family in the store, so the refresh and revocation
    // walkthrough (README.md) works on these.
    let snapshot = running.gateway.reloader().snapshot();
    let jwt = snapshot
        .auth
        .jwt
        .as_ref()
        .ok_or_else(|| std::io::Error::other("dev config has no JWT key"))?;
    let mut tokens = Vec::new();
    let mut refresh = String::new();
    for role in ROLES {
        let grant = crate::auth::jwt::Grant {
            subject: role.to_string(),
            username: Some(role.to_string()),
            roles: vec![role.to_string()],
            permissions: Vec::new(),
        };
        let issued = running
            .gateway
            .credentials()
            .issue(jwt, grant, None, "dev")
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if role == "user" {
            refresh = issued.refresh_token.clone();
        }
        tokens.push((role, issued.access_token));
    }
    let mut banner = format!(
        "\nPortcullis dev mode: a sample MCP server (weather and file tools, in memory) behind the gateway.\n\
         \n  MCP endpoint:  {url}\n  config:        {}\n  metrics:       curl -s http://{admin}/metrics -H 'authorization: Bearer {admin_token}'\n\nAccess tokens (12 h, this demo's access_ttl):\n",
        path.display()
    );
    for (role, token) in &tokens {
        banner.push_str(&format!("  {role:<8} {token}\n"));
    }
    banner.push_str(&format!(
        "Refresh token of user (POST {public}/oauth/token, grant_type=refresh_token):\n  {refresh}\nAdmin token (admin API, keys/tokens/revocations):\n  {admin_token}\n",
        public = running.gateway.server_config().public_url
    ));
    banner.push_str(&format!("API key (role user):\n  {key}\n\nTry it:\n"));
    let user = &tokens[1].1;
    banner.push_str(&format!(
        "  curl -s {url} -H 'authorization: Bearer {user}' -H 'content-type: application/json' \\\n    \
         -H 'accept: application/json, text/event-stream' \\\n    \
         -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"curl\",\"version\":\"0\"}}}}}}'\n  \
         curl -s {url} -H 'x-api-key: {key}' -H 'content-type: application/json' \\\n    \
         -d '{{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{{\"name\":\"get_weather\",\"arguments\":{{\"city\":\"Oslo\"}}}}}}'\n\n\
         MCP client config:\n  {}\n\nAudit events follow, one JSON line per request. Ctrl-C stops.\n\n",
        serde_json::json!({ "mcpServers": { "portcullis-dev": { "type": "http", "url": url, "headers": { "Authorization": format!("Bearer {user}") } } } })
    ));
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
    }
    crate::app::wait_for_signals(running).await
}

/// `portcullis dev`: runs the demo on a runtime of its own; exit 2 when it cannot start.
pub(in crate::cli) fn command(listen: SocketAddr, admin: SocketAddr) -> std::process::ExitCode {
    let runtime = match super::super::runtime(tokio::runtime::Builder::new_multi_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(run(listen, admin)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            super::super::write_err(&format!("portcullis dev: {error}"));
            std::process::ExitCode::from(2)
        }
    }
}

/// Removes the demo's secret-holding folder however `run` ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
