//! `Principal`: the verified caller handed from authentication to every later stage. It
//! never holds the credential itself.

/// How the principal was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A public route: nobody was authenticated.
    None,
}

impl AuthMethod {
    /// Label for audit and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "none",
        }
    }
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable subject id (`anonymous` on public routes).
    pub subject: String,
    /// How it was authenticated.
    pub method: AuthMethod,
}

impl Principal {
    /// The caller on an `auth = "none"` route.
    pub fn anonymous() -> Self {
        Self {
            subject: "anonymous".into(),
            method: AuthMethod::None,
        }
    }
}
