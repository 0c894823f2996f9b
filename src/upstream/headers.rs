//! Header hygiene in both directions: what the upstream may see of the client's request and
//! what the client may see of the upstream's response.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::route::Upstream;

/// Hop-by-hop headers (RFC 9110 §7.6.1 plus the non-standard ones proxies meet).
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
];

/// Client headers that carry credentials for the gateway, never for the upstream.
const CREDENTIALS: [&str; 3] = ["authorization", "cookie", "x-api-key"];

/// Client headers the gateway sets itself or withholds: framing, and every header some
/// upstream framework reads as "who the client is" or "which URL it asked for". Any
/// `x-forwarded-*` header is withheld as well (see `is_gateway_owned`).
const GATEWAY_OWNED: [&str; 12] = [
    "host",
    "content-length",
    "expect",
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "x-original-url",
    "x-rewrite-url",
    "x-request-id",
    // The trace context is the gateway's: the caller's is continued only when trusted.
    "traceparent",
    "tracestate",
];

/// Client headers some upstream framework or auth proxy convention reads as "who the caller
/// is" (oauth2-proxy, Apache `REMOTE_USER`, nginx `auth_request`, Pomerium, Traefik forward
/// auth). Only the gateway says who the caller is; `X-Auth-Request-*` and `X-Portcullis-*`
/// are withheld as whole families (see `is_gateway_owned`).
const IDENTITY: [&str; 12] = [
    "x-authenticated-user",
    "x-authenticated-userid",
    "x-authenticated-groups",
    "x-user",
    "x-user-id",
    "x-userid",
    "x-user-email",
    "x-email",
    "x-remote-user",
    "remote-user",
    "x-remote-groups",
    "x-webauth-user",
];

/// True for headers only the gateway may set towards an upstream.
pub fn is_gateway_owned(name: &str) -> bool {
    GATEWAY_OWNED.contains(&name)
        || IDENTITY.contains(&name)
        || name.starts_with("x-forwarded-")
        || name.starts_with("x-auth-request-")
        || name.starts_with("x-portcullis-")
}

/// True for a hop-by-hop header name.
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

/// Header names listed in `Connection` values: hop-by-hop by nomination.
fn connection_named(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Who the client is, as far as `X-Forwarded-*` goes.
#[derive(Debug, Clone)]
pub struct ForwardedFor {
    /// The `X-Forwarded-For` chain to send upstream.
    pub chain: HeaderValue,
    /// The `X-Forwarded-Host` value: the gateway's public host, never the client's `Host`.
    pub host: Option<HeaderValue>,
    /// `http` or `https`.
    pub proto: &'static str,
    /// The configured API-key header, a credential like `Authorization` (withheld).
    pub api_key_header: Option<HeaderName>,
    /// The caller as the gateway authenticated it, for routes with `identity_headers`:
    /// (subject, authentication method, roles).
    pub identity: Option<(String, &'static str, String)>,
    /// `traceparent` (the gateway's span as parent) and the caller's `tracestate`.
    pub trace: Option<(HeaderValue, Option<HeaderValue>)>,
}

/// A header value for text that may hold anything: visible ASCII as is, every other byte
/// (and `%`) percent-encoded.
fn header_text(text: &str) -> HeaderValue {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x21..=0x7e).contains(&byte) && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&out).unwrap_or(HeaderValue::from_static("-"))
}

/// The headers of `map` that `dropped` does not name, moved (not copied) into a map with room
/// for `extra` more. `into_iter` names a header once, before all of its values.
fn kept(map: HeaderMap, extra: usize, dropped: impl Fn(&HeaderName) -> bool) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(map.len() + extra);
    let mut current: Option<HeaderName> = None;
    for (name, value) in map {
        if let Some(name) = name {
            current = (!dropped(&name)).then_some(name);
        }
        if let Some(name) = &current {
            out.append(name.clone(), value);
        }
    }
    out
}

/// Builds the upstream request headers from the client's (taken, so kept names and values
/// move instead of being copied).
pub fn request_headers(client: HeaderMap, upstream: &Upstream, forwarded: &ForwardedFor, body_len: usize) -> HeaderMap {
    let nominated = connection_named(&client);
    let had_length = client.contains_key(header::CONTENT_LENGTH);
    let mut out = kept(client, upstream.headers.len() + 4, |name| {
        let lower = name.as_str();
        is_hop_by_hop(name)
            || CREDENTIALS.contains(&lower)
            || forwarded.api_key_header.as_ref() == Some(name)
            || is_gateway_owned(lower)
            || upstream.strip_headers.contains(name)
            // The gateway enforced Origin itself; a browser Origin makes local upstreams refuse.
            || lower == "origin"
            // The gateway reads every answer (SSE events, list pages): it must get them
            // uncompressed.
            || lower == "accept-encoding"
            // `X_User` may be read as `X-User` by the upstream's framework.
            || lower.contains('_')
            || nominated.iter().any(|n| n == lower)
    });
    out.insert(header::HOST, upstream.host_header.clone());
    out.insert(HeaderName::from_static("x-forwarded-for"), forwarded.chain.clone());
    out.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(forwarded.proto),
    );
    if let Some(host) = &forwarded.host {
        out.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
    }
    if body_len > 0 || had_length {
        out.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    }
    if let Some((subject, method, roles)) = &forwarded.identity {
        out.insert(HeaderName::from_static("x-portcullis-subject"), header_text(subject));
        out.insert(
            HeaderName::from_static("x-portcullis-auth"),
            HeaderValue::from_static(method),
        );
        out.insert(HeaderName::from_static("x-portcullis-roles"), header_text(roles));
    }
    if let Some((parent, state)) = &forwarded.trace {
        out.insert(HeaderName::from_static("traceparent"), parent.clone());
        if let Some(state) = state {
            out.insert(HeaderName::from_static("tracestate"), state.clone());
        }
    }
    for (name, value) in &upstream.headers {
        out.insert(name.clone(), value.clone());
    }
    out
}

/// Builds the response headers for the client from the upstream's (taken: kept headers move).
/// `cookies`: the route lets the upstream set cookies (`forward_cookies`); otherwise
/// `Set-Cookie` is dropped, as a credential for a caller the upstream never met.
pub fn response_headers(upstream: HeaderMap, streamed: bool, cookies: bool) -> HeaderMap {
    let nominated = connection_named(&upstream);
    let mut out = kept(upstream, 1, |name| {
        is_hop_by_hop(name)
            || nominated.iter().any(|n| n == name.as_str())
            || (streamed && name == header::CONTENT_LENGTH)
            || (!cookies && name == header::SET_COOKIE)
    });
    if streamed {
        out.insert(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        );
    }
    out
}
