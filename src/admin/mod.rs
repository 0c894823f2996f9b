//! The admin listener: `/healthz`, `/readyz`, `/metrics` and `POST /admin/reload`. Health is
//! open; metrics and admin calls need `[admin].token` as a bearer token when one is set, and
//! admin calls are refused outright when none is set.

mod routes;

pub use routes::serve;
