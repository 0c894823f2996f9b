//! Layer two of the configuration: [`RawConfig`] → [`Config`], checking every value once at
//! load so the request path never meets a malformed setting.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::uri::Scheme;
use http::{HeaderName, HeaderValue, Uri};
use ipnet::IpNet;

use super::ConfigError;
use super::duration::parse_duration;
use super::raw::{RawAdmin, RawConfig, RawServer, RawTimeouts, RawUpstream};
use super::tls::{mtls, server_tls, upstream_tls};
use crate::mcp::methods::MethodAllowList;
use crate::tls::{MtlsSettings, TlsSettings};
use crate::upstream::{RouteAuth, Upstream};
use rustls::pki_types::ServerName;

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// Public listener settings (static).
    pub server: ServerConfig,
    /// Admin listener settings (static).
    pub admin: AdminConfig,
    /// Routes, in file order.
    pub upstreams: Vec<Arc<Upstream>>,
    /// Audit sink (static).
    pub audit: AuditConfig,
    /// Client-certificate identities (`[auth.mtls]`).
    pub mtls: Option<MtlsSettings>,
    /// Token and API-key verification (`[auth.jwt]`, `[auth.api_keys]`).
    pub auth: Arc<crate::auth::Authenticator>,
    /// `[roles]`: role → permissions.
    pub roles: Arc<crate::authz::Roles>,
    /// `[rate_limits]`.
    pub rate_limits: Arc<crate::ratelimit::RateLimits>,
    /// `[state]` (static).
    pub state: crate::state::StateSettings,
    /// Lifetimes and bounds of issued credentials (static).
    pub credentials: crate::credentials::CredentialSettings,
    /// `[telemetry]`: trace context and span export (static).
    pub telemetry: crate::telemetry::trace::TraceSettings,
}

/// `[server]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Public base URL without a trailing slash.
    pub public_url: String,
    /// Its authority: what upstreams get as `X-Forwarded-Host` (never the client's `Host`).
    pub public_host: HeaderValue,
    /// Its origin (`scheme://host[:port]`, lower case): the server's own, always allowed.
    pub public_origin: String,
    pub max_body_bytes: u64,
    pub max_header_bytes: usize,
    /// Allowed `Origin` values, lower-cased, no trailing slash.
    pub allowed_origins: Vec<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_concurrent_streams: u32,
    /// Runtime worker threads; 0 = one per core.
    pub worker_threads: usize,
    pub timeouts: Timeouts,
    /// TLS termination; `None` = plain HTTP.
    pub tls: Option<TlsSettings>,
}

/// `[server.timeouts]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    pub header_read: Duration,
    pub request_body: Duration,
    pub upstream_connect: Duration,
    pub upstream_response: Duration,
    pub stream_idle: Duration,
    pub sse_keepalive: Duration,
    pub shutdown_grace: Duration,
    pub tls_handshake: Duration,
    pub session_idle: Duration,
}

/// A secret string: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret's bytes, for constant-time comparison.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `[admin]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    pub token: Option<Secret>,
}

/// `[audit]`, validated.
pub type AuditConfig = crate::audit::AuditSettings;

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        let roles = crate::authz::Roles::new(&raw.roles).map_err(|(key, message)| ConfigError::at(key, message))?;
        check_role_references(&raw, &roles)?;
        let rate_limits = super::limits::rate_limits(&raw.rate_limits)?;
        let state = super::state::state(&raw.state)?;
        let (credentials, keys_when_stale) = super::credentials::credentials(&raw)?;
        let server = server(raw.server)?;
        let admin = admin(raw.admin)?;
        if admin.listen == server.listen && server.listen.port() != 0 {
            return Err(ConfigError::at("admin.listen", "must differ from server.listen"));
        }
        let mut auth = super::auth::authenticator(&raw.auth, &server.public_url)?;
        auth.pepper = credentials.pepper.clone();
        auth.keys_when_stale = keys_when_stale;
        let auth = Arc::new(auth);
        let has_client_ca = server.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        let auth_available = auth.configured() || (has_client_ca && raw.auth.mtls.is_some());
        let mut upstreams: Vec<Arc<Upstream>> = Vec::with_capacity(raw.upstreams.len());
        for (index, raw_upstream) in raw.upstreams.into_iter().enumerate() {
            let key = format!("upstreams[{index}]");
            let upstream = upstream(raw_upstream, &key, auth_available)?;
            if upstreams.iter().any(|u| u.name == upstream.name) {
                return Err(ConfigError::at(
                    format!("{key}.name"),
                    format!("duplicate upstream name `{}`", upstream.name),
                ));
            }
            if upstreams.iter().any(|u| u.route == upstream.route) {
                return Err(ConfigError::at(
                    format!("{key}.route"),
                    format!("duplicate route `{}`", upstream.route),
                ));
            }
            upstreams.push(Arc::new(upstream));
        }
        let telemetry = super::audit::telemetry(&raw.telemetry)?;
        let audit = super::audit::audit(raw.audit)?;
        let mtls = raw.auth.mtls.map(|m| mtls(m, has_client_ca)).transpose()?;
        Ok(Config {
            server,
            admin,
            upstreams,
            audit,
            mtls,
            auth,
            roles: Arc::new(roles),
            rate_limits: Arc::new(rate_limits),
            state,
            credentials,
            telemetry,
        })
    }
}

/// Every role the file names must be defined in `[roles]`: a typo would otherwise grant
/// nothing and fail silently at request time.
fn check_role_references(raw: &RawConfig, roles: &crate::authz::Roles) -> Result<(), ConfigError> {
    let mut references: Vec<(String, &str)> = Vec::new();
    if let Some(keys) = &raw.auth.api_keys {
        for (i, key) in keys.static_keys.iter().enumerate() {
            for (j, role) in key.roles.iter().enumerate() {
                references.push((format!("auth.api_keys.static[{i}].roles[{j}]"), role));
            }
        }
    }
    if let Some(mtls) = &raw.auth.mtls {
        for (i, entry) in mtls.map.iter().enumerate() {
            for (j, role) in entry.roles.iter().enumerate() {
                references.push((format!("auth.mtls.map[{i}].roles[{j}]"), role));
            }
        }
    }
    for role in raw.rate_limits.roles.keys() {
        references.push((format!("rate_limits.roles.{role}"), role));
    }
    match references.into_iter().find(|(_, role)| !roles.contains(role)) {
        Some((key, role)) => Err(ConfigError::at(
            key,
            format!(
                "role `{role}` is not defined in [roles] (defined: {})",
                roles.names().join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn socket_addr(text: &str, key: &str) -> Result<SocketAddr, ConfigError> {
    text.parse()
        .map_err(|_| ConfigError::at(key, format!("`{text}` is not an address like 127.0.0.1:8080")))
}

fn duration(text: &str, key: &str) -> Result<Duration, ConfigError> {
    parse_duration(text).map_err(|message| ConfigError::at(key, message))
}

fn positive(value: u64, key: &str) -> Result<u64, ConfigError> {
    if value == 0 {
        return Err(ConfigError::at(key, "must be greater than 0"));
    }
    Ok(value)
}

fn server(raw: RawServer) -> Result<ServerConfig, ConfigError> {
    let listen = socket_addr(&raw.listen, "server.listen")?;
    let public_url = match raw.public_url {
        Some(url) => {
            let parsed: Uri = url
                .parse()
                .map_err(|_| ConfigError::at("server.public_url", format!("`{url}` is not a URL")))?;
            if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.authority().is_none() {
                return Err(ConfigError::at(
                    "server.public_url",
                    "must be an absolute http:// or https:// URL",
                ));
            }
            url.trim_end_matches('/').to_string()
        }
        None => format!("http://{listen}"),
    };
    // Its host (for `X-Forwarded-Host`) and origin (always allowed), from one parse.
    let parsed: Uri = public_url
        .parse()
        .map_err(|_| ConfigError::at("server.public_url", format!("`{public_url}` is not a URL")))?;
    let (Some(scheme), Some(authority)) = (parsed.scheme_str(), parsed.authority()) else {
        return Err(ConfigError::at("server.public_url", "needs a scheme and a host"));
    };
    let public_host = HeaderValue::from_str(authority.as_str())
        .map_err(|_| ConfigError::at("server.public_url", "its host is not a valid header value"))?;
    let public_origin = format!("{scheme}://{authority}").to_ascii_lowercase();
    let mut allowed_origins = Vec::with_capacity(raw.allowed_origins.len());
    for (index, origin) in raw.allowed_origins.iter().enumerate() {
        let key = format!("server.allowed_origins[{index}]");
        let valid: Result<Uri, _> = origin.parse();
        let ok = matches!(&valid, Ok(uri) if uri.scheme().is_some() && uri.authority().is_some());
        if !ok {
            return Err(ConfigError::at(
                key,
                format!("`{origin}` is not an origin like https://app.example.com"),
            ));
        }
        allowed_origins.push(origin.trim_end_matches('/').to_ascii_lowercase());
    }
    let mut trusted_proxies = Vec::with_capacity(raw.trusted_proxies.len());
    for (index, cidr) in raw.trusted_proxies.iter().enumerate() {
        let key = format!("server.trusted_proxies[{index}]");
        let net = cidr
            .parse::<IpNet>()
            .or_else(|_| cidr.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| ConfigError::at(key, format!("`{cidr}` is not a CIDR like 10.0.0.0/8")))?;
        trusted_proxies.push(net);
    }
    let max_header_bytes = positive(raw.max_header_bytes, "server.max_header_bytes")?;
    if max_header_bytes < 1024 {
        return Err(ConfigError::at("server.max_header_bytes", "must be at least 1024"));
    }
    Ok(ServerConfig {
        listen,
        public_url,
        public_host,
        public_origin,
        max_body_bytes: positive(raw.max_body_bytes, "server.max_body_bytes")?,
        max_header_bytes: usize::try_from(max_header_bytes).unwrap_or(usize::MAX),
        allowed_origins,
        trusted_proxies,
        max_connections: positive(raw.max_connections.into(), "server.max_connections")? as usize,
        max_connections_per_ip: positive(raw.max_connections_per_ip.into(), "server.max_connections_per_ip")? as usize,
        max_concurrent_streams: positive(raw.max_concurrent_streams.into(), "server.max_concurrent_streams")? as u32,
        worker_threads: raw.worker_threads as usize,
        timeouts: timeouts(raw.timeouts)?,
        tls: raw.tls.map(server_tls).transpose()?,
    })
}

fn timeouts(raw: RawTimeouts) -> Result<Timeouts, ConfigError> {
    let nonzero = |text: &str, key: &str| -> Result<Duration, ConfigError> {
        let value = duration(text, key)?;
        if value.is_zero() {
            return Err(ConfigError::at(key, "must be greater than 0"));
        }
        Ok(value)
    };
    Ok(Timeouts {
        header_read: nonzero(&raw.header_read, "server.timeouts.header_read")?,
        request_body: nonzero(&raw.request_body, "server.timeouts.request_body")?,
        upstream_connect: nonzero(&raw.upstream_connect, "server.timeouts.upstream_connect")?,
        upstream_response: nonzero(&raw.upstream_response, "server.timeouts.upstream_response")?,
        stream_idle: nonzero(&raw.stream_idle, "server.timeouts.stream_idle")?,
        sse_keepalive: nonzero(&raw.sse_keepalive, "server.timeouts.sse_keepalive")?,
        shutdown_grace: duration(&raw.shutdown_grace, "server.timeouts.shutdown_grace")?,
        tls_handshake: nonzero(&raw.tls_handshake, "server.timeouts.tls_handshake")?,
        session_idle: nonzero(&raw.session_idle, "server.timeouts.session_idle")?,
    })
}

fn admin(raw: RawAdmin) -> Result<AdminConfig, ConfigError> {
    let token = match raw.token {
        Some(token) if token.len() < 16 => {
            return Err(ConfigError::at("admin.token", "must be at least 16 characters"));
        }
        other => other.map(Secret),
    };
    Ok(AdminConfig {
        listen: socket_addr(&raw.listen, "admin.listen")?,
        token,
    })
}

/// Paths the gateway serves itself; a route may not shadow them.
const RESERVED_PREFIXES: [&str; 2] = ["/.well-known/", "/oauth/"];

fn upstream(raw: RawUpstream, key: &str, auth_available: bool) -> Result<Upstream, ConfigError> {
    if raw.name.is_empty() || !raw.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(ConfigError::at(
            format!("{key}.name"),
            "must be non-empty and use only A-Z a-z 0-9 - _ .",
        ));
    }
    let policy = Arc::new(super::policy::policy(&raw, key)?);
    let methods = methods(raw.methods.as_deref(), &policy, key)?;
    let mut strip_headers = Vec::with_capacity(raw.strip_headers.len());
    for (index, name) in raw.strip_headers.iter().enumerate() {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConfigError::at(
                format!("{key}.strip_headers[{index}]"),
                format!("`{name}` is not a header name"),
            )
        })?;
        strip_headers.push(header);
    }
    let route_key = format!("{key}.route");
    let route_ok = raw.route.starts_with('/')
        && !raw.route.contains("//")
        && !raw.route.split('/').any(|seg| seg == "." || seg == "..")
        && raw
            .route
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
    if !route_ok {
        return Err(ConfigError::at(
            route_key,
            format!(
                "`{}` must be an absolute path of A-Z a-z 0-9 - _ . ~ segments",
                raw.route
            ),
        ));
    }
    if RESERVED_PREFIXES.iter().any(|p| raw.route.starts_with(p)) {
        return Err(ConfigError::at(
            route_key,
            format!("`{}` is reserved for the gateway itself", raw.route),
        ));
    }
    let url_key = format!("{key}.url");
    let url: Uri = raw
        .url
        .parse()
        .map_err(|_| ConfigError::at(&url_key, format!("`{}` is not a URL", raw.url)))?;
    let scheme = url.scheme().cloned();
    let authority = url.authority().cloned();
    let (Some(scheme), Some(authority)) = (scheme, authority) else {
        return Err(ConfigError::at(
            url_key,
            "must be an absolute URL like http://127.0.0.1:8001/mcp",
        ));
    };
    let tls = if scheme == Scheme::HTTPS {
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| ConfigError::at(&url_key, format!("`{host}` is not a valid TLS server name")))?;
        Some((upstream_tls(&raw, key)?, name))
    } else if scheme == Scheme::HTTP {
        if raw.ca.is_some() || raw.client_cert.is_some() || raw.client_key.is_some() {
            return Err(ConfigError::at(
                format!("{key}.ca"),
                "ca, client_cert and client_key need an https:// url",
            ));
        }
        None
    } else {
        return Err(ConfigError::at(url_key, "must be an http:// or https:// URL"));
    };
    let host_header = HeaderValue::from_str(authority.as_str())
        .map_err(|_| ConfigError::at(format!("{key}.url"), "authority is not a valid Host header"))?;
    let mut headers = Vec::with_capacity(raw.headers.len());
    for (name, value) in raw.headers {
        let header_key = format!("{key}.headers.{name}");
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ConfigError::at(&header_key, "not a valid header name"))?;
        let managed = crate::upstream::is_hop_by_hop(&header_name)
            || crate::upstream::is_gateway_owned(header_name.as_str())
            || header_name.as_str().starts_with("mcp-")
            || header_name == http::header::CONTENT_TYPE;
        if managed {
            return Err(ConfigError::at(
                &header_key,
                "this header is managed by the gateway and cannot be injected",
            ));
        }
        let mut header_value =
            HeaderValue::from_str(&value).map_err(|_| ConfigError::at(&header_key, "not a valid header value"))?;
        header_value.set_sensitive(true);
        headers.push((header_name, header_value));
    }
    let auth = match raw.auth.as_str() {
        "none" => RouteAuth::None,
        "required" if auth_available => RouteAuth::Required,
        "required" => {
            return Err(ConfigError::at(
                format!("{key}.auth"),
                "no authentication is configured ([auth.jwt], [auth.api_keys] or [auth.mtls] with a client CA); set auth = \"none\" to publish this route explicitly",
            ));
        }
        other => {
            return Err(ConfigError::at(
                format!("{key}.auth"),
                format!("`{other}` is not one of \"none\", \"required\""),
            ));
        }
    };
    Ok(Upstream {
        name: Arc::from(raw.name),
        route: raw.route,
        url,
        scheme,
        authority,
        host_header,
        headers,
        auth,
        allow_batches: raw.allow_batches,
        forward_cookies: raw.forward_cookies,
        strip_headers,
        identity_headers: raw.identity_headers,
        methods,
        server_requests: server_requests(raw.server_requests.as_deref(), key)?,
        max_connections: positive(raw.max_connections.into(), &format!("{key}.max_connections"))? as usize,
        tls,
        policy,
        page_cache: Arc::default(),
        param_headers: Arc::default(),
    })
}

/// `server_requests`: exact method names (MCP's client-side methods when absent).
fn server_requests(raw: Option<&[String]>, key: &str) -> Result<Arc<[Box<str>]>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(crate::mcp::methods::KNOWN_SERVER_REQUESTS
            .iter()
            .map(|m| Box::from(*m))
            .collect());
    };
    for (index, name) in raw.iter().enumerate() {
        if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ConfigError::at(
                format!("{key}.server_requests[{index}]"),
                "a method name without spaces or control characters",
            ));
        }
    }
    Ok(raw.iter().map(|m| Box::from(m.as_str())).collect())
}

/// `methods`: extension names, exact, none a lenient spelling of a policed method.
fn methods(raw: Option<&[String]>, policy: &crate::authz::Policy, key: &str) -> Result<MethodAllowList, ConfigError> {
    for (index, name) in raw.unwrap_or_default().iter().enumerate() {
        let at = format!("{key}.methods[{index}]");
        if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ConfigError::at(
                at,
                "a method name without spaces or control characters",
            ));
        }
        if let Some(policed) = crate::mcp::methods::disguised(name) {
            return Err(ConfigError::at(
                at,
                format!("`{name}` is a spelling of `{policed}`, which is refused as a disguise"),
            ));
        }
    }
    Ok(MethodAllowList {
        known_only: raw.is_some() || !matches!(policy.default, crate::authz::DefaultRule::Allow),
        extra: raw.unwrap_or_default().to_vec(),
    })
}
