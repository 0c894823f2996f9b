//! The decision for one message: its policy target and `authorize`; the caller's view of list items.

use serde_json::value::RawValue;

use super::{ArgViolation, Kind, Policy, Roles, Visible};
use crate::auth::Principal;
use crate::mcp::McpCall;

/// Why a message is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The caller may not use `name`; `permission` is what it would need (`None`: unlisted
    /// under `default = "deny"`, or an unsafe resource URI).
    NotPermitted {
        kind: Kind,
        name: String,
        permission: Option<String>,
    },
    /// An argument of tool or prompt `name` breaks its rule's constraints (the name of the
    /// argument, never its value).
    BadArgument { kind: Kind, name: String, argument: String },
    /// A member of `arguments` a case-insensitive decoder would read as a constrained argument
    /// (`Path` for `path`): the upstream could execute what the policy never saw.
    AmbiguousArgument { member: String },
}

/// The policy target of a call, if it has one.
pub fn target<'c>(call: &'c McpCall<'_>) -> Option<(Kind, &'c str)> {
    match call {
        McpCall::ToolCall { name, .. } => Some((Kind::Tool, name)),
        McpCall::PromptGet { name } => Some((Kind::Prompt, name)),
        McpCall::ResourceRead { uri } => Some((Kind::Resource, uri)),
        McpCall::Complete { target, of_prompt } => {
            Some((if *of_prompt { Kind::Prompt } else { Kind::Resource }, target))
        }
        McpCall::Listen { .. }
        | McpCall::List(_)
        | McpCall::Task { .. }
        | McpCall::TaskList
        | McpCall::Initialize
        | McpCall::Notification
        | McpCall::Response
        | McpCall::Other => None,
    }
}

/// Decides one message. Lists pass here and are filtered on the way back; responses the
/// client posts pass here and are tied to the session owner by stage 8; methods naming no
/// tool, resource or prompt (`initialize`, `ping`, notifications) pass.
pub fn authorize(
    policy: &Policy,
    roles: &Roles,
    principal: &Principal,
    call: &McpCall<'_>,
    params: Option<&RawValue>,
) -> Result<(), Denial> {
    let permitted = |kind: Kind, name: &str| {
        let verdict = policy.decide(kind, name, |p| roles.grants(principal, p));
        if verdict.allowed {
            return Ok(verdict);
        }
        Err(Denial::NotPermitted {
            kind,
            name: name.to_string(),
            permission: verdict.permission.map(str::to_string),
        })
    };
    if let McpCall::Listen { uris } = call {
        // Every resource a listen stream subscribes to is a read of it.
        for uri in uris {
            permitted(Kind::Resource, uri)?;
        }
        return Ok(());
    }
    let Some((kind, name)) = target(call) else {
        return Ok(());
    };
    let verdict = permitted(kind, name)?;
    // Completion arguments are what the user typed so far, not the prompt's arguments.
    let checks_args = matches!(call, McpCall::ToolCall { .. } | McpCall::PromptGet { .. });
    if checks_args {
        match Policy::bad_argument(verdict.rule, params) {
            None => {}
            Some(ArgViolation::Breaks(argument)) => {
                return Err(Denial::BadArgument {
                    kind,
                    name: name.to_string(),
                    argument: argument.to_string(),
                });
            }
            Some(ArgViolation::Ambiguous(member)) => return Err(Denial::AmbiguousArgument { member }),
        }
    }
    Ok(())
}

/// The caller's view of list items, for [`ListFilter`].
pub fn visible(
    policy: std::sync::Arc<Policy>,
    roles: std::sync::Arc<Roles>,
    principal: std::sync::Arc<Principal>,
) -> Visible {
    std::sync::Arc::new(move |kind, name| policy.decide(kind, name, |p| roles.grants(&principal, p)).allowed)
}
