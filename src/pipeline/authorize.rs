//! Stage 7 of the flow: every message of a body against the route's policy, and each
//! [`Denial`] turned into the contract's answer (section 4): hide, explain, or the OAuth
//! step-up challenge.

use super::metadata;
use crate::auth::{AuthMethod, Principal};
use crate::authz::{self, Denial, Kind, OnDeny};
use crate::config::Snapshot;
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::mcp::{CODE_POLICY_DENIED, McpCall, Message, MessageKind};
use crate::upstream::Upstream;

impl Gateway {
    /// Authorizes each message; the first denial refuses the whole body.
    pub(super) fn authorize(
        &self,
        snapshot: &Snapshot,
        upstream: &Upstream,
        principal: &Principal,
        messages: &[(Message<'_>, McpCall<'_>)],
        batch: bool,
    ) -> Result<(), Reject> {
        // A batch of one is still a batch: one answer shape whatever its length.
        let single_request = !batch && matches!(messages, [(m, _)] if m.kind == MessageKind::Request);
        for (message, call) in messages {
            let Err(denial) = authz::authorize(&upstream.policy, &snapshot.roles, principal, call, message.params)
            else {
                continue;
            };
            tracing::info!(
                subject = %principal.subject,
                upstream = %upstream.name,
                target = authz::target(call).map(|(_, name)| name),
                "policy_denied"
            );
            return Err(self.denial_reject(snapshot, upstream, principal, messages, denial, single_request));
        }
        Ok(())
    }

    fn denial_reject(
        &self,
        snapshot: &Snapshot,
        upstream: &Upstream,
        principal: &Principal,
        messages: &[(Message<'_>, McpCall<'_>)],
        denial: Denial,
        single_request: bool,
    ) -> Reject {
        let (kind, name, permission) = match denial {
            Denial::BadArgument { kind, name, argument } => {
                return Reject::InvalidArguments {
                    what: kind.label(),
                    name,
                    argument,
                    single_request,
                };
            }
            Denial::AmbiguousArgument { member } => {
                return Reject::Envelope {
                    reason: "ambiguous_key",
                    code: -32600,
                    message: crate::mcp::EnvelopeError::AmbiguousKey(member).message(),
                };
            }
            Denial::NotPermitted { kind, name, permission } => (kind, name, permission),
        };
        // A token from an external issuer may be re-requested with more scopes, when the
        // issuer can grant the one missing: tell the client every grantable scope this body
        // needs (RFC 6750 §3.1, MCP scope step-up). Other denials keep the policy's answer,
        // so a scope challenge never reveals what hide mode hides.
        let issuer = principal
            .issuer
            .as_deref()
            .and_then(|iss| snapshot.auth.issuers.iter().find(|i| i.settings.issuer == iss));
        let grantable = |p: &str| issuer.is_some_and(|i| i.settings.scopes.iter().any(|g| authz::covers(g, p)));
        if principal.method == AuthMethod::OAuth && permission.as_deref().is_some_and(grantable) {
            let mut scopes: Vec<&str> = messages
                .iter()
                .filter_map(|(_, call)| authz::target(call))
                .filter_map(|(kind, name)| upstream.policy.decide(kind, name, |_| false).permission)
                .filter(|p| grantable(p))
                .collect();
            scopes.sort_unstable();
            scopes.dedup();
            let scope = scopes.join(" ");
            let challenge = format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\"",
                metadata::metadata_url(&self.server.public_url, &upstream.route)
            );
            return Reject::InsufficientScope { scope, challenge };
        }
        let (code, message, data) = match upstream.policy.on_deny {
            // Exactly what a name the policy does not know gets, so a caller cannot tell a
            // forbidden tool from a missing one.
            OnDeny::Hide => match kind {
                Kind::Tool => (-32602, format!("Unknown tool: {name}"), None),
                Kind::Prompt => (-32602, format!("Unknown prompt: {name}"), None),
                Kind::Resource => (
                    -32602,
                    "Resource not found".to_string(),
                    Some(serde_json::json!({ "uri": name })),
                ),
            },
            OnDeny::Explain => match &permission {
                Some(p) => (
                    CODE_POLICY_DENIED,
                    format!("Permission '{p}' required"),
                    Some(serde_json::json!({ "reason": "permission_required", "permission": p })),
                ),
                None => (
                    CODE_POLICY_DENIED,
                    format!("{} '{name}' is not allowed by policy", capitalized(kind)),
                    Some(serde_json::json!({ "reason": "not_allowed" })),
                ),
            },
        };
        Reject::PolicyDenied {
            code,
            message,
            data,
            single_request,
        }
    }
}

fn capitalized(kind: Kind) -> &'static str {
    match kind {
        Kind::Tool => "Tool",
        Kind::Resource => "Resource",
        Kind::Prompt => "Prompt",
    }
}
