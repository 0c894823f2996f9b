//! TLS: termination, certificate reload, openssl / curl / SDK clients over TLS and mTLS, https upstreams.

mod interop;
mod reload;
mod termination;
mod upstream;
