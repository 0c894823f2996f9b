//! Layer one of the configuration: the shape of `gateway.toml` as serde sees it.
//!
//! Every struct rejects unknown keys; values stay as written (durations as strings, CIDRs as
//! strings). `validate.rs` turns this into the typed, checked [`crate::config::Config`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The public listener (static: changes need a restart).
    #[serde(default)]
    pub server: RawServer,
    /// The admin listener: health, metrics, reload (static).
    #[serde(default)]
    pub admin: RawAdmin,
    /// One entry per protected MCP server.
    #[serde(default)]
    pub upstreams: Vec<RawUpstream>,
    /// Where audit events go (static).
    #[serde(default)]
    pub audit: RawAudit,
    /// How callers are identified.
    #[serde(default)]
    pub auth: RawAuth,
    /// Role → permissions (`"*"`, exact, or `prefix:*`).
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<String>>,
    /// Token buckets per client IP, principal, API key and tool.
    #[serde(default)]
    pub rate_limits: RawRateLimits,
    /// Where rate-limit buckets and session bindings live (static).
    #[serde(default)]
    pub state: RawState,
    /// Trace context and span export (static).
    #[serde(default)]
    pub telemetry: RawTelemetry,
}

/// `[state]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RawState {
    /// `"embedded"` (one node: buckets in memory, bindings in a file under `path`) or `"redis"`.
    pub backend: String,
    /// Folder of the embedded store; unset, bindings live in memory only (lost on restart).
    pub path: Option<String>,
    /// `redis://`, `rediss://`, `redis+sentinel://` / `redis-sentinel://`, `redis+cluster://` / `redis-cluster://`.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key; the `{...}` hash tag keeps one request's keys in one
    /// Cluster slot, so its buckets are decided by one script.
    pub key_prefix: String,
    /// Longest wait for one Redis command.
    pub redis_timeout: String,
    /// Redis connections (one pipelines concurrent calls well; more help many-core gateways).
    pub redis_pool_size: u32,
    /// Rate limits while Redis is unreachable: `"local"`, `"deny"` or `"allow"`.
    pub on_unavailable: String,
    /// How long a replica may go without confirming its revocations current (Redis down)
    /// before requests with gateway-issued tokens fail closed (503).
    pub revocation_max_staleness: String,
}

impl Default for RawState {
    fn default() -> Self {
        Self {
            backend: "embedded".into(),
            path: None,
            redis_url: None,
            key_prefix: "{portcullis}:".into(),
            redis_timeout: "50ms".into(),
            redis_pool_size: 1,
            on_unavailable: "local".into(),
            revocation_max_staleness: "30s".into(),
        }
    }
}

/// `[rate_limits]`: token buckets (capacity = burst, refill = tokens per second).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimits {
    /// Per client IP, before authentication.
    pub ip: Option<RawLimit>,
    /// Per client IP: this many failed credentials within `window` block it for `block`.
    pub auth_failures: Option<RawAuthFailures>,
    /// Per principal, by role; a principal gets the most generous of its roles.
    #[serde(default)]
    pub roles: BTreeMap<String, RawLimit>,
    /// Per API key (callers authenticated by a key), on top of the role bucket.
    pub api_key: Option<RawLimit>,
    /// Per principal and tool, on top of the role bucket.
    #[serde(default)]
    pub tools: Vec<RawToolLimit>,
    /// Most buckets held in memory (idle ones are evicted first).
    #[serde(default = "default_max_buckets")]
    pub max_buckets: usize,
}

fn default_max_buckets() -> usize {
    1_000_000
}

impl Default for RawRateLimits {
    fn default() -> Self {
        Self {
            ip: None,
            auth_failures: None,
            roles: BTreeMap::new(),
            api_key: None,
            tools: Vec::new(),
            max_buckets: default_max_buckets(),
        }
    }
}

/// One token bucket.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimit {
    pub capacity: f64,
    pub refill_per_sec: f64,
}

/// `[rate_limits.auth_failures]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuthFailures {
    pub max: u32,
    pub window: String,
    pub block: String,
}

/// `[[rate_limits.tools]]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawToolLimit {
    pub tool: String,
    pub capacity: f64,
    pub refill_per_sec: f64,
}

/// `[auth]`
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// Identities from verified client certificates (needs `server.tls.client_ca`).
    pub mtls: Option<RawMtls>,
    /// Tokens Portcullis issues and verifies itself.
    pub jwt: Option<RawJwt>,
    /// API keys (`mcp_...`).
    pub api_keys: Option<RawApiKeys>,
    /// External OAuth 2.1 / OIDC identity providers.
    #[serde(default)]
    pub issuers: Vec<RawIssuer>,
}

/// `[[auth.issuers]]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawIssuer {
    /// Exact `iss` of its tokens.
    pub issuer: String,
    /// The audience (RFC 8707 resource) its tokens must name: this gateway.
    pub audience: String,
    /// JWKS URL.
    pub jwks_url: Option<String>,
    /// JWKS file (PEM-free JSON), instead of a URL.
    pub jwks_file: Option<String>,
    /// Find `jwks_uri` via `{issuer}/.well-known/openid-configuration`.
    #[serde(default)]
    pub discovery: bool,
    /// RFC 7662 endpoint for opaque (non-JWT) tokens.
    pub introspection_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Dotted path of the roles claim, e.g. `realm_access.roles`.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Claim holding the scopes (space-separated string or array).
    #[serde(default = "default_scopes_claim")]
    pub scopes_claim: String,
    /// Algorithms accepted from this issuer's keys.
    #[serde(default = "default_issuer_algorithms")]
    pub algorithms: Vec<String>,
    #[serde(default = "default_jwks_ttl")]
    pub jwks_ttl: String,
    /// At most one refetch per this interval for unknown `kid`s.
    #[serde(default = "default_refetch")]
    pub refetch_interval: String,
    /// PEM CA bundle for https fetches (default: system roots).
    pub ca: Option<String>,
    /// Required `typ` header of its JWTs (e.g. `at+jwt`, RFC 9068), so ID and refresh tokens
    /// of the same issuer and audience are refused. Unset: not checked.
    pub token_typ: Option<String>,
    /// Scopes this issuer can grant: a call denied for lack of one of them gets the 403
    /// `insufficient_scope` step-up challenge instead of the policy's usual answer.
    #[serde(default)]
    pub scopes: Vec<String>,
}

fn default_roles_claim() -> String {
    "roles".into()
}
fn default_scopes_claim() -> String {
    "scope".into()
}
fn default_issuer_algorithms() -> Vec<String> {
    vec!["RS256".into(), "ES256".into(), "EdDSA".into()]
}
fn default_jwks_ttl() -> String {
    "10m".into()
}
fn default_refetch() -> String {
    "30s".into()
}

/// `[auth.jwt]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    /// `iss` of issued tokens, required on verified ones.
    #[serde(default = "default_jwt_issuer")]
    pub issuer: String,
    /// `aud` of issued tokens, required on verified ones (default: `server.public_url`).
    pub audience: Option<String>,
    #[serde(default = "default_access_ttl")]
    pub access_ttl: String,
    #[serde(default = "default_refresh_ttl")]
    pub refresh_ttl: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    #[serde(default = "default_leeway")]
    pub leeway: String,
    /// Longer bearer tokens are refused before any decoding.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: u32,
    /// Longest access-token lifetime `token issue --ttl` / `POST /admin/tokens` may ask for.
    #[serde(default = "default_max_access_ttl")]
    pub max_ttl: String,
    /// Signing / verification keys, chosen by the token's `kid`; the first one signs.
    pub keys: Vec<RawJwtKey>,
}

fn default_jwt_issuer() -> String {
    "portcullis".into()
}
fn default_access_ttl() -> String {
    "30m".into()
}
fn default_refresh_ttl() -> String {
    "7d".into()
}
fn default_max_access_ttl() -> String {
    "24h".into()
}
fn default_leeway() -> String {
    "30s".into()
}
fn default_max_token_bytes() -> u32 {
    8192
}

/// `[[auth.jwt.keys]]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJwtKey {
    pub kid: String,
    /// `HS256`, `RS256`, `ES256` or `EdDSA`; pinned to this key, never taken from a token.
    pub alg: String,
    /// HS256: the shared secret, at least 32 bytes.
    pub secret: Option<String>,
    /// RS256 / ES256 / EdDSA: PEM public key file (verification).
    pub public_key: Option<String>,
    /// RS256 / ES256 / EdDSA: PEM private key file (issuing; optional on verify-only keys).
    pub private_key: Option<String>,
}

/// `[auth.api_keys]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApiKeys {
    /// Header carrying a key (a key is also accepted as `Authorization: Bearer mcp_...`).
    #[serde(default = "default_api_key_header")]
    pub header: String,
    /// Keys from the config; only their SHA-256 is stored.
    #[serde(default, rename = "static")]
    pub static_keys: Vec<RawStaticKey>,
    /// HMAC key (at least 32 bytes) under which dynamic keys are stored; unset, they are
    /// stored as plain SHA-256 (`check` warns).
    pub pepper: Option<String>,
    /// Lifetime of a dynamic key created without `--ttl`.
    #[serde(default = "default_key_ttl")]
    pub default_ttl: String,
    /// Longest lifetime a dynamic key may be given.
    #[serde(default = "default_key_max_ttl")]
    pub max_ttl: String,
    /// Dynamic keys while the shared store cannot confirm them current for longer than
    /// `state.revocation_max_staleness`: `"accept"` the ones this replica knows (default) or
    /// `"refuse"` them (503). Static keys always work.
    #[serde(default = "default_when_stale")]
    pub when_state_stale: String,
}

fn default_key_ttl() -> String {
    "90d".into()
}
fn default_key_max_ttl() -> String {
    "365d".into()
}
fn default_when_stale() -> String {
    "accept".into()
}

fn default_api_key_header() -> String {
    "X-API-Key".into()
}

/// `[[auth.api_keys.static]]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStaticKey {
    /// Key id (audited; never the key).
    pub id: String,
    /// `sha256:<64 hex>` of the key, from `portcullis hash-key`.
    pub hash: String,
    pub subject: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    /// UTC expiry, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`.
    pub expires: Option<String>,
}

/// `[auth.mtls]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMtls {
    /// Which certificate name is the identity: `"san_uri"` (e.g. a SPIFFE id), `"san_dns"`, `"cn"`.
    #[serde(default = "default_subject_from")]
    pub subject_from: String,
    /// Identity globs (`*` matches any run of characters) → roles; the first match wins.
    #[serde(default)]
    pub map: Vec<RawMtlsMap>,
}

fn default_subject_from() -> String {
    "san_uri".into()
}

/// `[[auth.mtls.map]]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMtlsMap {
    /// Glob over the identity, e.g. `spiffe://example.org/agent/*`.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Roles granted to matching identities.
    pub roles: Vec<String>,
}

/// `[server.tls]`: TLS on the public listener (omit for plain HTTP).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM certificate chain (leaf first).
    pub cert: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1; RSA, ECDSA or Ed25519).
    pub key: String,
    /// More certificates, chosen by SNI against each certificate's own DNS names.
    #[serde(default)]
    pub sni: Vec<RawSniCert>,
    /// PEM bundle of CAs that sign client certificates; enables mTLS.
    pub client_ca: Option<String>,
    /// `"optional"` or `"required"` (default) when `client_ca` is set.
    pub client_auth: Option<String>,
    /// PEM or DER certificate revocation lists for client certificates.
    #[serde(default)]
    pub crls: Vec<String>,
    /// How often certificate, key, CA and CRL files are checked for changes.
    #[serde(default = "default_reload_check")]
    pub reload_check: String,
}

fn default_reload_check() -> String {
    "2s".into()
}

/// `[[server.tls.sni]]`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSniCert {
    pub cert: String,
    pub key: String,
}

/// `[server]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    /// Address the public listener binds, e.g. `127.0.0.1:8080`.
    pub listen: String,
    /// The URL clients use to reach the gateway (OAuth metadata, challenges).
    pub public_url: Option<String>,
    /// Largest accepted request body; larger bodies get 413.
    pub max_body_bytes: u64,
    /// Largest accepted request head (request line + headers); larger gets 431.
    pub max_header_bytes: u64,
    /// `Origin` values accepted; any other `Origin` gets 403.
    pub allowed_origins: Vec<String>,
    /// CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Open connections across all clients.
    pub max_connections: u32,
    /// Open connections from one client IP.
    pub max_connections_per_ip: u32,
    /// Concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Threads serving requests; 0 means one per CPU core.
    pub worker_threads: u32,
    /// Deadlines.
    pub timeouts: RawTimeouts,
    /// TLS termination; absent means plain HTTP (keep that to loopback).
    pub tls: Option<RawTls>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            max_body_bytes: 1_048_576,
            max_header_bytes: 32 * 1024,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            max_connections: 10_000,
            max_connections_per_ip: 256,
            max_concurrent_streams: 100,
            worker_threads: 0,
            timeouts: RawTimeouts::default(),
            tls: None,
        }
    }
}

/// `[server.timeouts]`; every value is a duration string such as `"10s"`, `"5m"`, `"250ms"`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RawTimeouts {
    /// Until the request head is complete (slowloris bound).
    pub header_read: String,
    /// Until the request body is complete.
    pub request_body: String,
    /// Until the upstream TCP connection is open.
    pub upstream_connect: String,
    /// Until the upstream's response headers arrive.
    pub upstream_response: String,
    /// A streamed response with no bytes from the upstream for this long is ended.
    pub stream_idle: String,
    /// A quiet SSE stream gets a `:` comment after this long.
    pub sse_keepalive: String,
    /// How long open requests may finish after SIGTERM.
    pub shutdown_grace: String,
    /// Until the TLS handshake is complete.
    pub tls_handshake: String,
    /// A 2025-era session (`Mcp-Session-Id`) unused this long is forgotten: its id gets 404.
    pub session_idle: String,
}

impl Default for RawTimeouts {
    fn default() -> Self {
        Self {
            header_read: "10s".into(),
            request_body: "30s".into(),
            upstream_connect: "5s".into(),
            upstream_response: "60s".into(),
            stream_idle: "5m".into(),
            sse_keepalive: "15s".into(),
            shutdown_grace: "30s".into(),
            tls_handshake: "10s".into(),
            session_idle: "1h".into(),
        }
    }
}

/// `[admin]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RawAdmin {
    /// Address of the admin listener; keep it on loopback.
    pub listen: String,
    /// Bearer token for `/metrics` and `/admin/*` (health stays open).
    pub token: Option<String>,
}

impl Default for RawAdmin {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9090".into(),
            token: None,
        }
    }
}

/// `[[upstreams]]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    /// Unique name, used in logs, audit and metrics.
    pub name: String,
    /// Public path, matched exactly, e.g. `/mcp`.
    pub route: String,
    /// Where requests go, e.g. `http://127.0.0.1:8001/mcp`.
    pub url: String,
    /// Headers added to every forwarded request (upstream credentials).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `"none"` marks an explicitly public route; `"required"` needs authentication.
    #[serde(default = "default_auth")]
    pub auth: String,
    /// Accept JSON-RPC batches (legal only in protocol 2025-03-26).
    #[serde(default)]
    pub allow_batches: bool,
    /// More client headers to withhold from this upstream (identity headers it trusts).
    #[serde(default)]
    pub strip_headers: Vec<String>,
    /// Send the authenticated caller as `X-Portcullis-Subject`, `X-Portcullis-Auth` and
    /// `X-Portcullis-Roles` (clients can never set those).
    #[serde(default)]
    pub identity_headers: bool,
    /// Let the upstream's `Set-Cookie` headers through to the client (dropped by default).
    #[serde(default)]
    pub forward_cookies: bool,
    /// Extension methods forwarded besides the MCP ones, by exact name. Setting it (or a
    /// policy `default` other than `"allow"`) forwards only MCP's client methods and these.
    pub methods: Option<Vec<String>>,
    /// Requests the upstream may send the client on a stream, by exact name (default: MCP's
    /// `sampling/createMessage`, `elicitation/create`, `roots/list`, `ping`); others are dropped.
    pub server_requests: Option<Vec<String>>,
    /// Open connections to this upstream at most (busy and idle).
    #[serde(default = "default_upstream_connections")]
    pub max_connections: u32,
    /// For `https://` upstreams: PEM CA bundle to trust instead of the system roots.
    pub ca: Option<String>,
    /// For `https://` upstreams: client certificate (PEM chain) presented to the upstream.
    pub client_cert: Option<String>,
    /// Key for `client_cert`.
    pub client_key: Option<String>,
    /// Names no rule lists: `"deny"`, `"allow"` or a permission the caller must hold.
    #[serde(default = "default_policy")]
    pub default: String,
    /// `"hide"`: a denied name is answered as if it did not exist; `"explain"`: -31403 naming the permission.
    #[serde(default = "default_on_deny")]
    pub on_deny: String,
    /// Tool name → permission (or a rule with argument constraints).
    #[serde(default)]
    pub tools: BTreeMap<String, RawRule>,
    /// Resource URI glob → permission; the longest matching pattern wins.
    #[serde(default)]
    pub resources: BTreeMap<String, RawRule>,
    /// Prompt name → permission (or a rule with argument constraints).
    #[serde(default)]
    pub prompts: BTreeMap<String, RawRule>,
}

/// A policy rule: a permission, or a table with the permission and argument constraints.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawRule {
    /// `name = "files:read"`
    Permission(String),
    /// `name = { permission = "files:write", args = { path = { pattern = "^/srv/" } } }`
    Detailed(RawDetailedRule),
}

/// The table form of a rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDetailedRule {
    pub permission: String,
    /// Argument name → constraints on its (string) value.
    #[serde(default)]
    pub args: BTreeMap<String, RawArgConstraint>,
}

/// Constraints on one string argument; every one given must hold.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawArgConstraint {
    /// Regular expression the whole value must match (anchored at both ends).
    pub pattern: Option<String>,
    /// Longest value accepted, in characters.
    pub max_length: Option<usize>,
    /// The value must be one of these.
    #[serde(rename = "enum")]
    pub one_of: Option<Vec<String>>,
    /// The value must contain none of these.
    #[serde(default)]
    pub deny_substrings: Vec<String>,
    /// Refuse the call when the argument is absent.
    #[serde(default)]
    pub required: bool,
}

fn default_policy() -> String {
    "deny".into()
}

fn default_on_deny() -> String {
    "hide".into()
}

fn default_upstream_connections() -> u32 {
    1024
}

fn default_auth() -> String {
    "required".into()
}

/// `[audit]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RawAudit {
    /// `"stdout"`, `"file"` (hash-chained JSON lines at `path`) or `"off"`.
    pub sink: String,
    /// File for `sink = "file"`; rotated files are `<path>.<first seq>`, the chain head
    /// `<path>.head`.
    pub path: Option<String>,
    /// Key of the chain's HMAC-SHA256 (e.g. `"${PORTCULLIS_AUDIT_KEY}"`, 32+ bytes): without it
    /// the links are plain SHA-256, which whoever can write the log can recompute.
    pub hmac_key: Option<String>,
    /// Rotate the active file at this many bytes.
    pub rotate_bytes: u64,
    /// Rotate it at this age (`"1d"`); unset: by size only.
    pub rotate_every: Option<String>,
    /// Bytes of events waiting for the writer, at most.
    pub queue_bytes: u64,
    /// A full queue: `"drop"` (count the event, mark the gap in the chain) or `"block"` (the
    /// request waits: nothing is ever lost).
    pub on_full: String,
    /// Count every event into the per-minute aggregates (report, findings, dashboard).
    pub aggregate: bool,
    /// When an access pattern becomes a finding.
    pub anomalies: RawAnomalies,
}

impl Default for RawAudit {
    fn default() -> Self {
        Self {
            sink: "stdout".into(),
            path: None,
            hmac_key: None,
            rotate_bytes: 100 * 1024 * 1024,
            rotate_every: None,
            queue_bytes: 64 * 1024 * 1024,
            on_full: "drop".into(),
            aggregate: true,
            anomalies: RawAnomalies::default(),
        }
    }
}

/// `[audit.anomalies]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RawAnomalies {
    /// `auth_brute_force`: failed authentications from one IP within the range.
    pub brute_force_failures: u64,
    /// `tool_enumeration`: distinct tools, resources or prompts one principal was denied.
    pub enumeration_targets: u64,
    /// `rate_spike`: a principal's requests in an hour above this multiple of its 7-day median hour...
    pub rate_spike_factor: f64,
    /// ...and at least this many in that hour...
    pub rate_spike_min_requests: u64,
    /// ...with at least this many active hours in the 7 days before.
    pub rate_spike_min_history_hours: u64,
    /// `off_hours_admin`: admin activity in this UTC window (`"22:00-06:00"`; `""`: never).
    pub off_hours: String,
}

impl Default for RawAnomalies {
    fn default() -> Self {
        let defaults = crate::audit::AnomalySettings::default();
        Self {
            brute_force_failures: defaults.brute_force_failures,
            enumeration_targets: defaults.enumeration_targets,
            rate_spike_factor: defaults.rate_spike_factor,
            rate_spike_min_requests: defaults.rate_spike_min_requests,
            rate_spike_min_history_hours: defaults.rate_spike_min_history_hours,
            off_hours: "22:00-06:00".into(),
        }
    }
}

/// `[telemetry]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RawTelemetry {
    /// Whose W3C `traceparent` is continued: `"authenticated"` callers, `"never"` (every
    /// request starts a trace) or `"always"`.
    pub trust_traceparent: String,
    /// OTLP/HTTP (JSON) traces endpoint, e.g. `"http://127.0.0.1:4318/v1/traces"`; unset: no export.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

impl Default for RawTelemetry {
    fn default() -> Self {
        Self {
            trust_traceparent: "authenticated".into(),
            otlp_endpoint: None,
            service_name: "portcullis".into(),
        }
    }
}
