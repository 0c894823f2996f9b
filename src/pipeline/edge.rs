//! Stage 2, edge checks on the request head, before anything is read or authenticated:
//! method allow-list, `Host` sanity, `Origin` allow-list; and who the client is (the peer, or
//! what a trusted proxy says).

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue, Method, Request, Version, header};

use crate::config::ServerConfig;
use crate::error::Reject;
use crate::server::ConnInfo;

/// The head checks in order; the client's address and the `X-Forwarded-For` chain to send on.
pub(super) fn check<B>(
    request: &Request<B>,
    server: &ServerConfig,
    conn: &ConnInfo,
) -> Result<(IpAddr, HeaderValue), Reject> {
    check_method(request.method())?;
    check_host(request)?;
    check_origin(request.headers(), &server.allowed_origins, |origin| {
        is_own_origin(origin, server, conn)
    })?;
    Ok(client_ip(conn.peer.ip(), request.headers(), &server.trusted_proxies))
}

/// The server's own origins are never foreign (the MCP DNS-rebinding rule is about other
/// sites): the origin of `public_url`, and on a loopback listener `localhost`, `127.0.0.1`
/// and `[::1]` at that listener's port. `origin` is normalised (lower case, no trailing `/`).
fn is_own_origin(origin: &str, server: &ServerConfig, conn: &ConnInfo) -> bool {
    if origin == server.public_origin {
        return true;
    }
    let Some(local) = conn.local.filter(|l| l.ip().is_loopback()) else {
        return false;
    };
    let scheme = if conn.tls { "https://" } else { "http://" };
    let Some((host, port)) = origin.strip_prefix(scheme).and_then(|rest| rest.rsplit_once(':')) else {
        return false;
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]") && port.parse::<u16>() == Ok(local.port())
}

/// Only the methods of MCP Streamable HTTP; methods are case-sensitive (`post` is refused).
pub fn check_method(method: &Method) -> Result<(), Reject> {
    match *method {
        Method::POST | Method::GET | Method::DELETE => Ok(()),
        _ => Err(Reject::MethodNotAllowed),
    }
}

/// One `Host` on HTTP/1.1 (RFC 9112 §3.2), agreeing with an absolute-form target; the Host
/// and any target authority are `host[:port]` with nothing else (no user info, no spaces, a
/// port of digits that fits 16 bits).
pub fn check_host<B>(request: &Request<B>) -> Result<(), Reject> {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(Reject::BadRequest("more than one Host header"));
    }
    let authority = request.uri().authority();
    let well_formed = host.is_none_or(|h| valid_authority(h.as_bytes()))
        && authority.is_none_or(|a| valid_authority(a.as_str().as_bytes()));
    if !well_formed {
        return Err(Reject::BadRequest("Host must be host[:port]"));
    }
    match (host, authority) {
        (None, None) if request.version() == Version::HTTP_11 => Err(Reject::BadRequest("missing Host header")),
        (Some(host), Some(authority)) if host.as_bytes() != authority.as_str().as_bytes() => {
            Err(Reject::BadRequest("Host header does not match the request target"))
        }
        _ => Ok(()),
    }
}

/// `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2): a bracketed IPv6 address or a
/// reg-name / IPv4 address of unreserved, sub-delim and percent-encoded characters.
fn valid_authority(value: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => ("v6", None),
            _ => match after.strip_prefix(':') {
                Some(port) => ("v6", Some(port)),
                None => return false,
            },
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b));
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok());
    host_ok && port_ok
}

/// A present `Origin` must be on the allow-list or be one of the server's own (`own`, given
/// the normalised origin): DNS rebinding, browser CSRF.
pub fn check_origin(headers: &HeaderMap, allowed: &[String], own: impl Fn(&str) -> bool) -> Result<(), Reject> {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let Some(origin) = origins.next() else { return Ok(()) };
    if origins.next().is_some() {
        return Err(Reject::OriginNotAllowed);
    }
    let origin = origin.to_str().map_err(|_| Reject::OriginNotAllowed)?;
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    if allowed.contains(&origin) || own(&origin) {
        Ok(())
    } else {
        Err(Reject::OriginNotAllowed)
    }
}

/// The client's address for limits and audit, and the chain to forward. A peer in
/// `trusted` may tell us who its client was; anyone else's `X-Forwarded-For` is discarded.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> (IpAddr, HeaderValue) {
    let peer_trusted = trusted.iter().any(|net| net.contains(&peer));
    if !peer_trusted {
        let chain = HeaderValue::from_str(&peer.to_string()).unwrap_or(HeaderValue::from_static("unknown"));
        return (peer, chain);
    }
    let mut hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.push(peer);
    // Rightmost address that is not one of our proxies is the client.
    let client = hops
        .iter()
        .rev()
        .find(|ip| !trusted.iter().any(|net| net.contains(*ip)))
        .copied()
        .unwrap_or(hops[0]);
    let chain = hops.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
    (
        client,
        HeaderValue::from_str(&chain).unwrap_or(HeaderValue::from_static("unknown")),
    )
}

#[cfg(test)]
mod tests {
    use super::{check_host, check_method, check_origin, client_ip};
    use http::HeaderMap;
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
        let good = [
            "a",
            "mcp.example.com:443",
            "127.0.0.1:8080",
            "[::1]:8080",
            "[::1]",
            "xn--bcher-kva.example",
        ];
        let bad = [
            "a b",
            "user@host",
            "host:99999",
            "host:8o",
            "host:",
            ":80",
            "[::1",
            "[::1]x",
            "ho/st",
            "host\\x",
        ];
        for (host, valid) in good.iter().map(|h| (h, true)).chain(bad.iter().map(|h| (h, false))) {
            let request = Request::builder().uri("/mcp").header("host", *host).body(()).unwrap();
            assert_eq!(check_host(&request).is_ok(), valid, "{host}");
        }
    }

    #[test]
    fn origins_compare_normalised() {
        let allowed = vec!["https://app.example.com".to_string()];
        let mut headers = http::HeaderMap::new();
        assert!(check_origin(&headers, &allowed, |_| false).is_ok());
        headers.insert("origin", "https://APP.example.com/".parse().unwrap());
        assert!(check_origin(&headers, &allowed, |_| false).is_ok());
        headers.insert("origin", "https://evil.example".parse().unwrap());
        assert!(check_origin(&headers, &allowed, |_| false).is_err());
    }

    #[test]
    fn xff_is_believed_only_from_trusted_peers() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 10.0.0.9".parse().unwrap());
        let untrusted = client_ip("192.0.2.7".parse().unwrap(), &headers, &[]);
        assert_eq!(untrusted.0.to_string(), "192.0.2.7");
        assert_eq!(untrusted.1, "192.0.2.7");
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let via_proxy = client_ip("10.0.0.1".parse().unwrap(), &headers, &trusted);
        assert_eq!(via_proxy.0.to_string(), "1.2.3.4");
        assert_eq!(via_proxy.1, "1.2.3.4, 10.0.0.9, 10.0.0.1");
    }
}
