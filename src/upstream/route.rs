//! `Upstream`: one validated `[[upstreams]]` entry, the route a request is served by (config
//! builds it; the flow, the client and `explain` read it).

use std::sync::Arc;

use http::uri::{Authority, Scheme};
use http::{HeaderName, HeaderValue, Uri};
use rustls::pki_types::ServerName;

/// How a route authenticates callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAuth {
    /// Explicitly public: every caller is the anonymous principal (warned at startup).
    None,
    /// Every request needs a valid credential (client certificate, token or API key); 401 otherwise.
    Required,
}

/// One `[[upstreams]]` entry, validated.
#[derive(Debug)]
pub struct Upstream {
    /// Unique name; shared with metric labels, hence `Arc<str>`.
    pub name: Arc<str>,
    pub route: String,
    /// The upstream endpoint, `http://host:port/path`.
    pub url: Uri,
    pub scheme: Scheme,
    pub authority: Authority,
    /// `Host` header sent upstream.
    pub host_header: HeaderValue,
    /// Headers injected into every forwarded request.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub auth: RouteAuth,
    pub allow_batches: bool,
    /// More client headers withheld from this upstream (`strip_headers`), lower-case.
    pub strip_headers: Vec<HeaderName>,
    /// The gateway tells the upstream who the caller is (`X-Portcullis-Subject`, `-Auth`,
    /// `-Roles`; `identity_headers`).
    pub identity_headers: bool,
    /// Upstream `Set-Cookie` headers reach the client (`forward_cookies`; off by default).
    pub forward_cookies: bool,
    /// Which methods this route forwards (`methods`; known MCP methods only where the policy
    /// denies by default).
    pub methods: crate::mcp::methods::MethodAllowList,
    /// Requests this upstream may send the client on a stream (`server_requests`).
    pub server_requests: Arc<[Box<str>]>,
    pub max_connections: usize,
    /// For `https://` upstreams: the TLS client config and the name to verify.
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    /// Which tools, resources and prompts need which permission.
    pub policy: Arc<crate::authz::Policy>,
    /// Filtered list pages of this config generation.
    pub page_cache: Arc<crate::authz::PageCache>,
    /// The `Mcp-Param-*` headers of this upstream's tools, learned from its `tools/list` pages.
    pub param_headers: Arc<crate::mcp::params::ParamHeaders>,
}
