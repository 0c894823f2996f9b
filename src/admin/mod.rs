//! The admin listener: `/healthz`, `/readyz`, `/metrics`, `POST /admin/reload` (`routes.rs`)
//! and the credential lifecycle API (`credentials_api.rs`). Health is open; metrics and admin
//! calls need `[admin].token` as a bearer token when one is set (the credential API also takes
//! a credential holding `admin:*` or the call's scoped permission), and admin calls are refused
//! outright when neither is possible.

mod bearer;
mod credentials_api;
mod routes;

pub use routes::serve;
