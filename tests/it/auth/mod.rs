//! Authentication: self-issued JWTs and API keys, external OAuth / OIDC issuers, client certificates.

mod issuers;
mod mtls;
mod tokens_and_keys;
