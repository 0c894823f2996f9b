//! `portcullis explain`: what a role, token or API key may do on one upstream, rule by rule,
//! decided by the same code as the request path (`Policy::decide` over `Roles::grants`).

use std::fmt::Write as _;

use std::process::ExitCode;

use http::{HeaderMap, HeaderValue};

use crate::auth::{AuthMethod, Principal};
use crate::authz::{DefaultRule, Kind, OnDeny, Roles, Source};
use crate::config::Config;
use crate::upstream::Upstream;

/// The subject of a principal made of `--role` / `--permission` alone.
const COMMAND_LINE: &str = "(given on the command line)";

/// Who to explain.
#[derive(Debug, Default)]
pub struct Subject {
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub token: Option<String>,
    pub api_key: Option<String>,
}

/// Runs the command: exit 1 for no subject, an unknown role or a refused credential; 2 when
/// `--live` cannot reach the upstream.
pub(super) fn run(path: &std::path::Path, name: Option<&str>, subject: &Subject, live: bool) -> ExitCode {
    let (config, runtime) = match super::load_on_runtime(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let outcome = runtime.block_on(async {
        let target = upstream(&config, name).map_err(|e| (e, 1))?;
        let principal = principal(&config, subject).await.map_err(|e| (e, 1))?;
        let names = if live {
            super::explain_live::lists(target, config.server.timeouts.upstream_response)
                .await
                .map_err(|e| (e, 2))?
        } else {
            Vec::new()
        };
        Ok::<_, (String, u8)>(report(target, &config.roles, &principal, &names))
    });
    match outcome {
        Ok(report) => {
            super::write_out(&report);
            ExitCode::SUCCESS
        }
        Err((error, code)) => {
            super::write_err(&format!("explain: {error}"));
            ExitCode::from(code)
        }
    }
}

/// The principal the subject stands for; tokens and keys are verified with the config's keys.
pub async fn principal(config: &Config, subject: &Subject) -> Result<Principal, String> {
    let mut headers = HeaderMap::new();
    let credential = match (&subject.token, &subject.api_key) {
        (Some(_), Some(_)) => return Err("give --token or --api-key, not both".into()),
        (Some(token), None) => Some((http::header::AUTHORIZATION, format!("Bearer {token}"))),
        (None, Some(key)) => match &config.auth.api_key_header {
            Some(name) => Some((name.clone(), key.clone())),
            None => return Err("no [auth.api_keys] configured".into()),
        },
        (None, None) => None,
    };
    let mut principal = match credential {
        Some((name, value)) => {
            let value =
                HeaderValue::from_str(&value).map_err(|_| "the credential is not a valid header value".to_string())?;
            headers.insert(name, value);
            let verified = config
                .auth
                .authenticate(&headers, &crate::auth::LiveCredentials::always_fresh(), None)
                .await
                .map_err(|failure| format!("credential refused: {}", failure.description()))?;
            (*verified).clone()
        }
        None if subject.roles.is_empty() && subject.permissions.is_empty() => {
            return Err("say who to explain: --role, --permission, --token or --api-key".into());
        }
        None => Principal {
            subject: COMMAND_LINE.into(),
            method: AuthMethod::Jwt,
            ..Principal::anonymous()
        },
    };
    principal.roles.extend(subject.roles.iter().cloned());
    principal.permissions.extend(subject.permissions.iter().cloned());
    for role in &principal.roles {
        if !config.roles.contains(role) {
            return Err(format!(
                "role `{role}` is not defined in [roles] (defined: {})",
                config.roles.names().join(", ")
            ));
        }
    }
    Ok(principal)
}

/// The upstream named `name`, or the only one.
pub fn upstream<'c>(config: &'c Config, name: Option<&str>) -> Result<&'c Upstream, String> {
    let names = || {
        config
            .upstreams
            .iter()
            .map(|u| u.name.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(name) => config
            .upstreams
            .iter()
            .find(|u| &*u.name == name)
            .map(|u| &**u)
            .ok_or_else(|| format!("no upstream named `{name}` (upstreams: {})", names())),
        None if config.upstreams.len() == 1 => Ok(&config.upstreams[0]),
        None => Err(format!("several upstreams: pick one with --upstream ({})", names())),
    }
}

/// The report: every listed tool, resource and prompt with its verdict and deciding rule,
/// then what any other name gets. `live` adds names the upstream lists that no rule names.
pub fn report(upstream: &Upstream, roles: &Roles, principal: &Principal, live: &[(Kind, Vec<String>)]) -> String {
    let policy = &upstream.policy;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "upstream {} ({})  default = {}  on_deny = {}",
        upstream.name,
        upstream.route,
        match &policy.default {
            DefaultRule::Deny => "\"deny\"".to_string(),
            DefaultRule::Allow => "\"allow\"".to_string(),
            DefaultRule::Permission(p) => format!("\"{p}\""),
        },
        match policy.on_deny {
            OnDeny::Hide => "\"hide\"",
            OnDeny::Explain => "\"explain\"",
        }
    );
    let mut held: Vec<&str> = principal
        .roles
        .iter()
        .filter_map(|r| roles.permissions_of(r))
        .flatten()
        .chain(&principal.permissions)
        .chain(&principal.scopes)
        .map(String::as_str)
        .collect();
    held.sort_unstable();
    held.dedup();
    let method = if principal.subject == COMMAND_LINE {
        "no credential"
    } else {
        principal.method.label()
    };
    let _ = writeln!(
        out,
        "principal {} ({})  roles [{}]  permissions [{}]",
        principal.subject.escape_debug(),
        method,
        principal.roles.join(", "),
        held.join(", ")
    );
    for kind in [Kind::Tool, Kind::Resource, Kind::Prompt] {
        let _ = writeln!(out, "\n{}s:", kind.label());
        let mut names: Vec<String> = policy
            .listed(kind)
            .into_iter()
            .map(|(name, _)| name.to_string())
            .collect();
        if let Some((_, found)) = live.iter().find(|(k, _)| *k == kind) {
            names.extend(found.iter().filter(|n| !names.contains(n)).cloned().collect::<Vec<_>>());
        }
        for name in &names {
            let verdict = policy.decide(kind, name, |p| roles.grants(principal, p));
            let rule = match verdict.source {
                Source::Listed(key) if kind == Kind::Resource => format!("resources.\"{key}\""),
                Source::Listed(key) => format!("{}s.{key}", kind.label()),
                Source::Default => "default".to_string(),
                Source::UnsafeUri => "unsafe URI".to_string(),
            };
            let needs = verdict.permission.map_or("-".to_string(), str::to_string);
            let args = verdict.rule.map_or(0, |r| r.args.len());
            let constrained = if args > 0 {
                format!("  + {args} argument constraint(s)")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {:<5}  {:<28}  needs {:<16}  by {rule}{constrained}",
                if verdict.allowed { "allow" } else { "deny" },
                // Names may come from the upstream (`--live`): never let one drive the terminal.
                name.escape_debug().to_string(),
                needs
            );
        }
        let (verdict, needs) = match &policy.default {
            DefaultRule::Deny => ("deny", "-"),
            DefaultRule::Allow => ("allow", "-"),
            DefaultRule::Permission(p) => (if roles.grants(principal, p) { "allow" } else { "deny" }, p.as_str()),
        };
        let other = format!("(any other {})", kind.label());
        let _ = writeln!(out, "  {verdict:<5}  {other:<28}  needs {needs:<16}  by default");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::report;
    use crate::auth::Principal;

    #[test]
    fn a_role_report_names_each_rule() {
        let text = "[[upstreams]]\nname = \"w\"\nroute = \"/mcp\"\nurl = \"http://127.0.0.1:1/mcp\"\nauth = \"none\"\n\
                    [upstreams.tools]\nget_weather = \"weather:read\"\nwrite_file = { permission = \"files:write\", args = { path = { max_length = 9 } } }\n\
                    [upstreams.resources]\n\"weather://*\" = \"weather:read\"\n[roles]\nguest = [\"weather:read\"]\n";
        let config = crate::config::load_str(text, &|_: &str| None).unwrap();
        let principal = Principal {
            roles: vec!["guest".into()],
            ..Principal::anonymous()
        };
        let out = report(
            &config.upstreams[0],
            &config.roles,
            &principal,
            &[(crate::authz::Kind::Tool, vec!["add".into()])],
        );
        assert!(out.contains("allow  get_weather"), "{out}");
        assert!(out.contains("deny   write_file                    needs files:write       by tools.write_file  + 1 argument constraint(s)"), "{out}");
        assert!(
            out.contains("deny   add                           needs -                 by default"),
            "{out}"
        );
        assert!(out.contains("allow  weather://*"), "{out}");
        assert!(out.contains("deny   (any other prompt)"), "{out}");
    }
}
