//! The second hardening round (issue 13): attack classes a hostile client, a hostile upstream or
//! a case-insensitive upstream still found after the first catalogue, one file per class.

mod caching;
mod fidelity;
mod host;
mod identity;
mod member_names;
mod methods;
mod param_headers;
mod responses;
mod server_requests;
mod smuggled;
mod tasks;
