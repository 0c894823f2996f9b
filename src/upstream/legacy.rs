//! The legacy HTTP+SSE transport (2024-11-05): the upstream's first SSE event names the URL
//! for the client's POSTs. The gateway replaces it with its own route plus an unguessable
//! token and remembers which upstream URL the token stands for, so clients never learn or
//! choose upstream paths. A token lives as long as its SSE stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use http::uri::PathAndQuery;
use rand::RngCore as _;

use super::route::Upstream;

/// Query parameter carrying the token on the gateway's rewritten endpoint.
pub const SESSION_PARAM: &str = "portcullis_session";

/// Upper bound on concurrently open legacy streams (bounded memory).
const MAX_ENDPOINTS: usize = 100_000;

#[derive(Debug)]
struct Entry {
    upstream: Arc<str>,
    /// The principal whose GET stream announced the endpoint: only it may post there.
    owner: Arc<str>,
    target: PathAndQuery,
}

/// Token → upstream POST endpoint, for open legacy SSE streams.
#[derive(Debug, Default)]
pub struct LegacyEndpoints {
    map: Mutex<HashMap<String, Entry>>,
}

impl LegacyEndpoints {
    /// Registers the upstream's `endpoint` event data; returns the token and the
    /// gateway-relative URL to send to the client instead.
    pub fn register(&self, upstream: &Arc<Upstream>, owner: &Arc<str>, endpoint: &str) -> Option<(String, String)> {
        let target = resolve(&upstream.url, endpoint)?;
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENDPOINTS {
            return None;
        }
        map.insert(
            token.clone(),
            Entry {
                upstream: upstream.name.clone(),
                owner: Arc::clone(owner),
                target,
            },
        );
        let url = format!("{}?{SESSION_PARAM}={token}", upstream.route);
        Some((token, url))
    }

    /// The upstream path for a token, if it belongs to `upstream`.
    pub fn lookup(&self, upstream: &Upstream, owner: &str, token: &str) -> Option<PathAndQuery> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(token)
            .filter(|e| e.upstream == upstream.name && *e.owner == *owner)
            .map(|e| e.target.clone())
    }

    /// Forgets a token (its stream closed).
    pub fn remove(&self, token: &str) {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).remove(token);
    }
}

/// The token in a request's query, if any.
pub fn token_in_query(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix(SESSION_PARAM)?.strip_prefix('='))
}

/// Resolves endpoint data against the upstream URL; only same-origin targets are accepted.
fn resolve(upstream: &http::Uri, endpoint: &str) -> Option<PathAndQuery> {
    let endpoint = endpoint.trim();
    if endpoint.contains("://") {
        let uri: http::Uri = endpoint.parse().ok()?;
        let same = uri.scheme() == upstream.scheme() && uri.authority() == upstream.authority();
        return if same { uri.path_and_query().cloned() } else { None };
    }
    if endpoint.starts_with("//") {
        return None;
    }
    if endpoint.starts_with('/') {
        return endpoint.parse().ok();
    }
    let base = upstream.path();
    let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
    format!("{dir}{endpoint}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{resolve, token_in_query};

    fn upstream() -> http::Uri {
        "http://127.0.0.1:9/sse".parse().unwrap()
    }

    #[test]
    fn resolves_only_same_origin_endpoints() {
        let u = upstream();
        assert_eq!(
            resolve(&u, "/messages/?session_id=ab").unwrap().as_str(),
            "/messages/?session_id=ab"
        );
        assert_eq!(
            resolve(&u, "message?sessionId=1").unwrap().as_str(),
            "/message?sessionId=1"
        );
        assert_eq!(resolve(&u, "http://127.0.0.1:9/m?x=1").unwrap().as_str(), "/m?x=1");
        assert!(resolve(&u, "http://evil.example/m").is_none());
        assert!(resolve(&u, "//evil.example/m").is_none());
    }

    #[test]
    fn finds_the_token_in_a_query() {
        assert_eq!(token_in_query(Some("a=1&portcullis_session=abc")), Some("abc"));
        assert_eq!(token_in_query(Some("portcullis_sessionx=abc")), None);
        assert_eq!(token_in_query(None), None);
    }
}
