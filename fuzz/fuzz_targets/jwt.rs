//! The JWT pre-checks run on every bearer token before any signature: header and claims are
//! peeked at (size, segments, base64url, JSON) without panicking on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let _ = portcullis::auth::jwt::JwtSettings::looks_like_jwt(token);
    let _ = portcullis::auth::jwt::peek(token);
});
