//! Stage 0, the gateway as an OAuth 2.1 resource server: RFC 9728 protected-resource
//! metadata at `/.well-known/oauth-protected-resource` and
//! `/.well-known/oauth-protected-resource{route}` (public, never forwarded), and the
//! `WWW-Authenticate` challenge of every 401.

use http::{Method, Request, Response};
use hyper::body::Incoming;

use crate::config::Snapshot;
use crate::gateway::Gateway;
use crate::server::{GatewayBody, json_response};

/// Well-known prefix of the metadata documents.
pub const PREFIX: &str = "/.well-known/oauth-protected-resource";

/// The metadata URL for `route`.
pub fn metadata_url(public_url: &str, route: &str) -> String {
    format!("{public_url}{PREFIX}{route}")
}

/// `Bearer resource_metadata="..."` (+ `error="invalid_token"` when a credential was sent).
pub fn challenge(public_url: &str, route: &str, credential_sent: bool) -> String {
    let mut value = format!("Bearer resource_metadata=\"{}\"", metadata_url(public_url, route));
    if credential_sent {
        value.push_str(", error=\"invalid_token\"");
    }
    value
}

/// The metadata document for `path` (`PREFIX` or `PREFIX` + a route), if there is one.
pub fn document(snapshot: &Snapshot, public_url: &str, path: &str) -> Option<serde_json::Value> {
    let rest = path.strip_prefix(PREFIX)?;
    // The scopes a client may ask for: the permissions the route's rules name (every route's
    // for the root document), so a step-up request can be built from the metadata alone.
    let mut scopes: Vec<&str>;
    let resource = if rest.is_empty() {
        scopes = snapshot
            .upstreams()
            .iter()
            .flat_map(|u| u.policy.permissions())
            .collect();
        public_url.to_string()
    } else {
        scopes = snapshot.route(rest)?.upstream.policy.permissions();
        format!("{public_url}{rest}")
    };
    // Only what an identity provider here can grant is a scope worth asking for; the rest of
    // the permission map stays private.
    scopes.retain(|p| {
        snapshot
            .auth
            .issuers
            .iter()
            .any(|i| i.settings.scopes.iter().any(|g| crate::authz::covers(g, p)))
    });
    scopes.sort_unstable();
    scopes.dedup();
    let own = snapshot.auth.jwt.as_ref().map(|j| j.issuer.clone());
    let external = snapshot.auth.issuers.iter().map(|i| i.settings.issuer.clone());
    // Only URLs can be authorization servers a client discovers; Portcullis's own `iss`
    // ("portcullis" by default) is a name, not a server.
    let servers: Vec<String> = external
        .chain(own)
        .filter(|s| s.starts_with("https://") || s.starts_with("http://"))
        .collect();
    Some(serde_json::json!({
        "resource": resource,
        "authorization_servers": if servers.is_empty() { vec![public_url.to_string()] } else { servers },
        "bearer_methods_supported": ["header"],
        "scopes_supported": scopes,
    }))
}

impl Gateway {
    /// `GET /.well-known/oauth-protected-resource[/route]`.
    pub(super) fn metadata(&self, snapshot: &Snapshot, request: &Request<Incoming>) -> Option<Response<GatewayBody>> {
        if !request.uri().path().starts_with(PREFIX) || request.method() != Method::GET {
            return None;
        }
        let document = document(snapshot, &self.server.public_url, request.uri().path())?;
        Some(json_response(
            http::StatusCode::OK,
            bytes::Bytes::from(document.to_string()),
        ))
    }
}
