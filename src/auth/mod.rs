//! Authentication: who is calling. This build knows the anonymous principal of public
//! (`auth = "none"`) routes; credential verification arrives with the authentication work.

mod principal;

pub use principal::{AuthMethod, Principal};
