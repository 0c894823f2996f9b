//! Permissions and roles: who holds what. A principal's permissions are its roles'
//! permissions ∪ its `permissions` claim ∪ its OAuth scopes; a granted permission is `"*"`,
//! an exact string, or `prefix:*` (everything below `prefix:`).

use super::table::Table;
use crate::auth::Principal;

/// Whether the granted permission `granted` covers the required one.
pub fn covers(granted: &str, required: &str) -> bool {
    if granted == "*" || granted == required {
        return true;
    }
    // `files:*` covers `files:read` and `files:read:own`, never `files` or `filesystem:x`.
    granted
        .strip_suffix('*')
        .is_some_and(|prefix| prefix.ends_with(':') && required.len() > prefix.len() && required.starts_with(prefix))
}

/// Checks the syntax of a granted permission: `*`, `prefix:*`, or an exact name without `*`.
pub fn check_granted(permission: &str) -> Result<(), String> {
    let exact = permission.strip_suffix(":*").unwrap_or(permission);
    if permission == "*" || (!exact.is_empty() && check_required(exact).is_ok()) {
        return Ok(());
    }
    Err(format!(
        "`{permission}` is not a permission: use \"*\", an exact name like \"files:read\", or \"files:*\""
    ))
}

/// Checks the syntax of a permission a rule requires: an exact name of visible ASCII, no `*`.
pub fn check_required(permission: &str) -> Result<(), String> {
    let ok = !permission.is_empty()
        && permission.len() <= 256
        && permission
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'"' && b != b'\\');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{permission}` must be an exact permission: visible ASCII, no `*`, quotes or backslashes"
        ))
    }
}

/// `[roles]`, validated: role name → granted permissions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Roles {
    map: Table<Vec<String>>,
}

/// The role an anonymous caller holds when `[roles]` defines it.
pub const ANONYMOUS_ROLE: &str = "anonymous";

impl Roles {
    /// Validates `[roles]`; errors name the key.
    pub fn new(raw: &std::collections::BTreeMap<String, Vec<String>>) -> Result<Self, (String, String)> {
        let mut map = Vec::with_capacity(raw.len());
        for (role, permissions) in raw {
            if role.is_empty() || !role.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) {
                return Err((format!("roles.{role}"), "role names use A-Z a-z 0-9 - _ . :".into()));
            }
            for (index, permission) in permissions.iter().enumerate() {
                check_granted(permission).map_err(|message| (format!("roles.{role}[{index}]"), message))?;
            }
            map.push((role.clone(), permissions.clone()));
        }
        Ok(Self { map: Table::new(map) })
    }

    /// Whether `role` is defined.
    pub fn contains(&self, role: &str) -> bool {
        self.map.get(role).is_some()
    }

    /// The permissions `role` grants, if it is defined.
    pub fn permissions_of(&self, role: &str) -> Option<&[String]> {
        self.map.get(role).map(|(_, p)| p.as_slice())
    }

    /// Role names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.map.iter().map(|(name, _)| name).collect()
    }

    /// Whether `principal` holds `required` through a role, its own permissions or a scope.
    /// Allocation-free: it runs for every call and every item of a filtered list.
    pub fn grants(&self, principal: &Principal, required: &str) -> bool {
        let by_role = |role: &str| {
            self.map
                .get(role)
                .is_some_and(|(_, granted)| granted.iter().any(|g| covers(g, required)))
        };
        let anonymous = principal.method == crate::auth::AuthMethod::None && by_role(ANONYMOUS_ROLE);
        anonymous
            || principal.roles.iter().any(|role| by_role(role))
            || principal.permissions.iter().any(|g| covers(g, required))
            || principal.scopes.iter().any(|g| covers(g, required))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{Roles, check_granted, covers};
    use crate::auth::Principal;

    #[test]
    fn wildcards_cover_only_what_they_name() {
        assert!(covers("*", "files:write"));
        assert!(covers("files:*", "files:write"));
        assert!(covers("files:*", "files:write:own"));
        assert!(!covers("files:*", "files"));
        assert!(!covers("files:*", "filesystem:read"));
        assert!(!covers("files:*", "files:"));
        assert!(!covers("files:read", "files:write"));
        assert!(!covers("files*", "files:write"));
        assert!(!covers("Files:read", "files:read"));
        for bad in ["", "files*", "*:read", "a b", "fi*les", ":*"] {
            assert!(check_granted(bad).is_err(), "{bad}");
        }
        for good in ["*", "files:*", "files:read", "admin"] {
            assert!(check_granted(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn a_principal_holds_its_roles_claims_and_scopes() {
        let raw = BTreeMap::from([
            (
                "user".to_string(),
                vec!["weather:read".to_string(), "files:read".to_string()],
            ),
            ("anonymous".to_string(), vec!["public:read".to_string()]),
        ]);
        let roles = Roles::new(&raw).unwrap();
        let mut p = Principal::anonymous();
        assert!(roles.grants(&p, "public:read"));
        assert!(!roles.grants(&p, "weather:read"));
        p.method = crate::auth::AuthMethod::Jwt;
        assert!(
            !roles.grants(&p, "public:read"),
            "only anonymous callers hold the anonymous role"
        );
        p.roles = vec!["user".into(), "undefined".into()];
        assert!(roles.grants(&p, "files:read"));
        assert!(!roles.grants(&p, "files:write"));
        p.permissions = vec!["files:*".into()];
        assert!(roles.grants(&p, "files:write"));
        p.scopes = vec!["mail:send".into()];
        assert!(roles.grants(&p, "mail:send"));
        assert!(Roles::new(&BTreeMap::from([("x".to_string(), vec!["a*".to_string()])])).is_err());
    }
}
