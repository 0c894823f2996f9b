//! The admin listener's credentials: the bearer token a request presents, and whether it is
//! the configured `[admin].token` (compared in constant time).

use http::{HeaderMap, header};
use subtle::ConstantTimeEq as _;

use crate::config::Secret;

/// The token of `Authorization: Bearer <token>`, if the request sends one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim_start())
}

/// Whether `presented` is the admin token (`false` when none is configured).
pub fn is_admin_token(token: Option<&Secret>, presented: Option<&str>) -> bool {
    match (token, presented) {
        (Some(token), Some(presented)) => bool::from(presented.as_bytes().ct_eq(token.expose())),
        _ => false,
    }
}
