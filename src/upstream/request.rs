//! The upstream request, built from the exact checked bytes: clean headers, `Host` rewritten,
//! origin-form target, the gateway's request id.

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, Version};
use http_body_util::Full;

use super::headers::{ForwardedFor, request_headers};
use super::route::Upstream;
use crate::error::Reject;

/// Builds the upstream request: the exact checked bytes, clean headers, `Host` rewritten.
pub fn build_request(
    method: &Method,
    client_headers: HeaderMap,
    upstream: &Upstream,
    target: Option<PathAndQuery>,
    body: Bytes,
    forwarded: &ForwardedFor,
    request_id: &str,
) -> Result<Request<Full<Bytes>>, Reject> {
    let path_and_query = match target {
        Some(target) => target,
        None => upstream
            .url
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
    };
    // Origin-form on the wire: the connection already goes to the upstream, and `Host` names it.
    let uri = Uri::from(path_and_query);
    let mut headers = request_headers(client_headers, upstream, forwarded, body.len());
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", value);
    }
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Ok(request)
}
