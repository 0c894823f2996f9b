//! `Principal`: the verified caller handed from authentication to every later stage. It
//! never holds the credential itself.

/// How the principal was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A public route: nobody was authenticated.
    None,
    /// A verified client certificate (mTLS).
    Mtls,
    /// A token Portcullis issued.
    Jwt,
    /// An API key.
    ApiKey,
    /// A token from an external OAuth / OIDC issuer (JWT or introspected).
    OAuth,
}

impl AuthMethod {
    /// Label for audit and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Mtls => "mtls",
            Self::Jwt => "jwt",
            Self::ApiKey => "api_key",
            Self::OAuth => "oauth",
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
    /// Roles granted (from `[[auth.mtls.map]]` for certificate identities).
    pub roles: Vec<String>,
    /// Display name, when the credential carries one.
    pub username: Option<String>,
    /// Permissions granted directly (the token's `permissions` claim, the key's list).
    pub permissions: Vec<String>,
    /// OAuth scopes of an external issuer's token.
    pub scopes: Vec<String>,
    /// Token id (`jti`) or API key id: what the audit records instead of the credential.
    pub token_id: Option<String>,
    /// The external issuer (`iss`) of an OAuth principal.
    pub issuer: Option<String>,
    /// `iat` of a gateway-issued token (for subject-wide revocations); 0 otherwise.
    pub issued_at: u64,
    /// The refresh family a gateway-issued access token descends from.
    pub family: Option<String>,
}

impl Principal {
    /// The caller on an `auth = "none"` route.
    pub fn anonymous() -> Self {
        Self {
            subject: "anonymous".into(),
            method: AuthMethod::None,
            roles: Vec::new(),
            username: None,
            permissions: Vec::new(),
            scopes: Vec::new(),
            token_id: None,
            issuer: None,
            issued_at: 0,
            family: None,
        }
    }

    /// The holder of a verified client certificate whose identity is `identity`; roles from
    /// the first `[[auth.mtls.map]]` entry whose glob matches.
    pub fn from_certificate(identity: &str, map: &[(String, Vec<String>)]) -> Self {
        let roles = map
            .iter()
            .find(|(pattern, _)| crate::tls::identity::glob_match(pattern, identity))
            .map(|(_, roles)| roles.clone())
            .unwrap_or_default();
        Self {
            subject: identity.to_string(),
            method: AuthMethod::Mtls,
            roles,
            username: None,
            permissions: Vec::new(),
            scopes: Vec::new(),
            token_id: None,
            issuer: None,
            issued_at: 0,
            family: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AuthMethod, Principal};

    #[test]
    fn certificate_identities_take_the_first_matching_roles() {
        let map = vec![
            ("spiffe://example.org/admin/*".to_string(), vec!["admin".to_string()]),
            ("spiffe://example.org/*".to_string(), vec!["user".to_string()]),
        ];
        let admin = Principal::from_certificate("spiffe://example.org/admin/ops", &map);
        assert_eq!(
            (admin.method, admin.roles),
            (AuthMethod::Mtls, vec!["admin".to_string()])
        );
        let agent = Principal::from_certificate("spiffe://example.org/agent/a1", &map);
        assert_eq!(agent.roles, vec!["user".to_string()]);
        let stranger = Principal::from_certificate("spiffe://other.org/x", &map);
        assert!(stranger.roles.is_empty());
        assert_eq!(stranger.subject, "spiffe://other.org/x");
    }
}
