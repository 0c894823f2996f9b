//! Edge checks on the request head, before anything is read or authenticated: method
//! allow-list, `Host` sanity, `Origin` allow-list, framing headers the gateway will not pass.

use http::{HeaderMap, Method, Request, Version, header};

use crate::error::Reject;

/// Only the methods of MCP Streamable HTTP; methods are case-sensitive (`post` is refused).
pub fn check_method(method: &Method) -> Result<(), Reject> {
    match *method {
        Method::POST | Method::GET | Method::DELETE => Ok(()),
        _ => Err(Reject::MethodNotAllowed),
    }
}

/// One `Host` on HTTP/1.1 (RFC 9112 §3.2), agreeing with an absolute-form target.
pub fn check_host<B>(request: &Request<B>) -> Result<(), Reject> {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(Reject::BadRequest("more than one Host header"));
    }
    let authority = request.uri().authority();
    match (host, authority) {
        (None, None) if request.version() == Version::HTTP_11 => Err(Reject::BadRequest("missing Host header")),
        (Some(host), Some(authority)) if host.as_bytes() != authority.as_str().as_bytes() => {
            Err(Reject::BadRequest("Host header does not match the request target"))
        }
        _ => Ok(()),
    }
}

/// A present `Origin` must be on the allow-list (DNS rebinding, browser CSRF).
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), Reject> {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let Some(origin) = origins.next() else { return Ok(()) };
    if origins.next().is_some() {
        return Err(Reject::OriginNotAllowed);
    }
    let origin = origin.to_str().map_err(|_| Reject::OriginNotAllowed)?;
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    if allowed.contains(&origin) {
        Ok(())
    } else {
        Err(Reject::OriginNotAllowed)
    }
}

/// The body must be plain JSON with plain framing: no transfer coding but `chunked` (hyper
/// passes `gzip, chunked` through) and no content coding the gateway cannot inspect.
pub fn check_post_framing(headers: &HeaderMap) -> Result<(), Reject> {
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        if !value.as_bytes().eq_ignore_ascii_case(b"chunked") {
            return Err(Reject::BadRequest("unsupported Transfer-Encoding"));
        }
    }
    for value in headers.get_all(header::CONTENT_ENCODING) {
        if !value.as_bytes().eq_ignore_ascii_case(b"identity") {
            return Err(Reject::UnsupportedMediaType);
        }
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(Reject::UnsupportedMediaType)
    }
}

#[cfg(test)]
mod tests {
    use super::{check_host, check_method, check_origin};
    use http::{Method, Request};

    #[test]
    fn methods_are_allow_listed_exactly() {
        assert!(check_method(&Method::POST).is_ok());
        assert!(check_method(&Method::from_bytes(b"post").unwrap()).is_err());
        assert!(check_method(&Method::TRACE).is_err());
    }

    #[test]
    fn host_must_be_single_and_consistent() {
        let ok = Request::builder().uri("/mcp").header("host", "a").body(()).unwrap();
        assert!(check_host(&ok).is_ok());
        let two = Request::builder()
            .uri("/mcp")
            .header("host", "a")
            .header("host", "b")
            .body(())
            .unwrap();
        assert!(check_host(&two).is_err());
        let none = Request::builder().uri("/mcp").body(()).unwrap();
        assert!(check_host(&none).is_err());
        let absolute = Request::builder()
            .uri("http://evil/mcp")
            .header("host", "a")
            .body(())
            .unwrap();
        assert!(check_host(&absolute).is_err());
    }

    #[test]
    fn origins_compare_normalised() {
        let allowed = vec!["https://app.example.com".to_string()];
        let mut headers = http::HeaderMap::new();
        assert!(check_origin(&headers, &allowed).is_ok());
        headers.insert("origin", "https://APP.example.com/".parse().unwrap());
        assert!(check_origin(&headers, &allowed).is_ok());
        headers.insert("origin", "https://evil.example".parse().unwrap());
        assert!(check_origin(&headers, &allowed).is_err());
    }
}
