//! Method names: the ones the policy decides on, the ones MCP defines for a client to send,
//! and the spellings that only look like another method to a lenient reader (`TOOLS/CALL`,
//! `tools/call `, `/tools/call`, `tools/call\u0000`), which a strict upstream would answer as an
//! unknown method while a lenient one (or a router that trims or lower-cases) runs the tool
//! the policy never judged.

use super::fold::fold_char;

/// Methods whose messages the policy reads (a target, a list to filter, a session to bind).
pub const POLICED: [&str; 16] = [
    "tools/call",
    "tools/list",
    "prompts/get",
    "prompts/list",
    "resources/read",
    "resources/list",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "subscriptions/listen",
    "initialize",
    "tasks/get",
    "tasks/result",
    "tasks/list",
    "tasks/cancel",
];

/// Every method MCP defines for a client to send (requests and notifications, all eras).
pub const KNOWN_CLIENT_METHODS: [&str; 25] = [
    "initialize",
    "ping",
    "server/discover",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
    "subscriptions/listen",
    "tasks/get",
    "tasks/result",
    "tasks/list",
    "tasks/cancel",
    "tasks/update",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "notifications/elicitation/complete",
];

/// The requests MCP lets a server send a client on a stream (2025 era; `tasks/*` for the
/// client's own tasks, 2025-11-25): forwarded by default.
pub const KNOWN_SERVER_REQUESTS: [&str; 8] = [
    "sampling/createMessage",
    "elicitation/create",
    "roots/list",
    "ping",
    "tasks/get",
    "tasks/result",
    "tasks/list",
    "tasks/cancel",
];

/// What is left of a method name once case, surrounding or inner white space, control
/// characters and slashes (`/`, `／`, `∕`, `⁄`) no longer count.
fn skeleton(method: &str) -> impl Iterator<Item = char> + '_ {
    method
        .chars()
        .filter(|c| !(c.is_control() || c.is_whitespace() || matches!(c, '/' | '\u{ff0f}' | '\u{2215}' | '\u{2044}')))
        .map(fold_char)
}

/// The policed method `method` disguises, when it is one only to a lenient reader.
pub fn disguised(method: &str) -> Option<&'static str> {
    if POLICED.contains(&method) {
        return None;
    }
    POLICED
        .iter()
        .copied()
        .find(|policed| skeleton(policed).eq(skeleton(method)))
}

/// Which methods a route forwards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodAllowList {
    /// Only [`KNOWN_CLIENT_METHODS`] and `extra` pass (routes with `default = "deny"` or a
    /// permission, and any route that lists `methods`); otherwise every method does.
    pub known_only: bool,
    /// Extension methods this route forwards as well, by exact name.
    pub extra: Vec<String>,
}

impl MethodAllowList {
    /// Whether a message with `method` may be forwarded.
    pub fn allows(&self, method: &str) -> bool {
        !self.known_only || KNOWN_CLIENT_METHODS.contains(&method) || self.extra.iter().any(|m| m == method)
    }
}

#[cfg(test)]
mod tests {
    use super::{MethodAllowList, disguised};

    #[test]
    fn lenient_spellings_of_a_policed_method_are_disguises() {
        for spelled in [
            "TOOLS/CALL",
            "Tools/Call",
            "tools/call ",
            " tools/call",
            "tools/call\u{0}",
            "/tools/call",
            "tools/call/",
            "tools//call",
            "toolscall",
            "tools\u{ff0f}call",
            "tool\u{17f}/call",
        ] {
            assert_eq!(disguised(spelled), Some("tools/call"), "{spelled:?}");
        }
        for fine in [
            "tools/call",
            "ping",
            "tools/calls",
            "x/tools/call",
            "notifications/initialized",
        ] {
            assert_eq!(disguised(fine), None, "{fine:?}");
        }
        assert_eq!(disguised("Resources/Templates/List"), Some("resources/templates/list"));
    }

    #[test]
    fn the_allow_list_passes_known_methods_and_named_extensions() {
        let open = MethodAllowList::default();
        assert!(open.allows("x/anything"));
        let strict = MethodAllowList {
            known_only: true,
            extra: vec!["acme/search".into()],
        };
        assert!(strict.allows("tools/call") && strict.allows("server/discover") && strict.allows("acme/search"));
        assert!(!strict.allows("acme/delete") && !strict.allows("Acme/search"));
    }
}
