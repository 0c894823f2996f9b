//! Rate limits, at two stages: the client IP's bucket and auth-failure block at stage 2 (and
//! a refused credential counted at stage 3), the principal's role, API-key and tool buckets
//! at stage 6, after parsing, so a refusal carries the request's id.

use std::net::IpAddr;

use crate::auth::Principal;
use crate::error::Reject;
use crate::gateway::Gateway;
use crate::mcp::{McpCall, Message, MessageKind};
use crate::ratelimit::{RateLimits, Refusal};

impl Gateway {
    /// Stage 2: the IP's bucket and block come before authentication, so a flood or a
    /// credential-guessing loop costs no token verification (with Redis the IP's token is taken
    /// with the principal's, in one round trip; a known block is refused here).
    pub(super) fn limit_ip(&self, limits: &RateLimits, client_ip: IpAddr) -> Result<(), Reject> {
        self.limiter
            .edge(limits, client_ip)
            .map_err(|limited| refusal(Refusal::Limited(limited), false))
    }

    /// Stage 3: a credential was missing (`refused = false`) or refused.
    pub(super) async fn count_auth_failure(
        &self,
        limits: &RateLimits,
        client_ip: IpAddr,
        refused: bool,
    ) -> Result<(), Reject> {
        self.limiter
            .after_auth_failure(limits, client_ip, refused)
            .await
            .map_err(|r| refusal(r, false))
    }

    /// Stage 6: every message of a POST body counts (GET and DELETE count once).
    pub(super) async fn limit_request(
        &self,
        limits: &RateLimits,
        client_ip: IpAddr,
        principal: &Principal,
        owner: &str,
        parsed: Option<&[(Message<'_>, McpCall<'_>)]>,
        batch: bool,
    ) -> Result<(), Reject> {
        let Some(parsed) = parsed else {
            return self
                .limiter
                .request(limits, client_ip, principal, owner, 1, &[])
                .await
                .map_err(|r| refusal(r, false));
        };
        // A batch of one is still a batch: one answer shape whatever its length.
        let single_request = !batch && matches!(parsed, [(m, _)] if m.kind == MessageKind::Request);
        let tools: Vec<&str> = parsed
            .iter()
            .filter_map(|(_, call)| match call {
                McpCall::ToolCall { name, .. } => Some(name.as_ref()),
                _ => None,
            })
            .collect();
        self.limiter
            .request(limits, client_ip, principal, owner, parsed.len(), &tools)
            .await
            .map_err(|r| refusal(r, single_request))
    }
}

/// A rate-limit refusal: `-31429` (with the id when it answers one request), or 503 when the
/// shared store is down and `on_unavailable = "deny"`.
fn refusal(refusal: Refusal, single_request: bool) -> Reject {
    match refusal {
        // The IP's bucket and block are not about the request: 429 whatever it carries.
        Refusal::Limited(limited) => Reject::RateLimited {
            limited,
            single_request: single_request && !matches!(limited.scope, "ip" | "auth_failures"),
        },
        Refusal::Unavailable => Reject::StateUnavailable,
    }
}
