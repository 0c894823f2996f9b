//! The policy keys of one `[[upstreams]]` entry → [`Policy`] (roles, rules, argument
//! constraints are compiled by `authz`; this file only hands it the values).

use super::ConfigError;
use super::raw::{RawArgConstraint, RawRule, RawUpstream};
use crate::authz::{ArgSpec, Policy, PolicySpec, RuleSpec};

/// Compiles the policy of `raw` (at `key`, e.g. `upstreams[0]`).
pub fn policy(raw: &RawUpstream, key: &str) -> Result<Policy, ConfigError> {
    let spec = PolicySpec {
        default: &raw.default,
        on_deny: &raw.on_deny,
        tools: rules(&raw.tools),
        prompts: rules(&raw.prompts),
        resources: rules(&raw.resources),
    };
    Ok(Policy::new(&spec, key)?)
}

fn rules(table: &std::collections::BTreeMap<String, RawRule>) -> Vec<(&str, RuleSpec<'_>)> {
    table
        .iter()
        .map(|(name, rule)| (name.as_str(), rule_spec(rule)))
        .collect()
}

fn rule_spec(rule: &RawRule) -> RuleSpec<'_> {
    match rule {
        RawRule::Permission(permission) => RuleSpec {
            permission,
            args: Vec::new(),
        },
        RawRule::Detailed(detailed) => RuleSpec {
            permission: &detailed.permission,
            args: detailed
                .args
                .iter()
                .map(|(name, constraint)| (name.as_str(), arg_spec(constraint)))
                .collect(),
        },
    }
}

fn arg_spec(raw: &RawArgConstraint) -> ArgSpec<'_> {
    ArgSpec {
        pattern: raw.pattern.as_deref(),
        max_length: raw.max_length,
        one_of: raw.one_of.as_deref(),
        deny_substrings: &raw.deny_substrings,
        required: raw.required,
    }
}

#[cfg(test)]
mod tests {
    use super::policy as compile;
    use crate::authz::{Kind, Policy, Source, unsafe_uri};
    use crate::config::raw::RawUpstream;

    fn policy(extra: &str) -> Policy {
        let text = format!("name = \"t\"\nroute = \"/mcp\"\nurl = \"http://127.0.0.1:1/mcp\"\n{extra}");
        let raw: RawUpstream = toml::from_str(&text).unwrap();
        compile(&raw, "upstreams[0]").unwrap()
    }

    #[test]
    fn listed_names_need_their_permission_and_the_rest_take_the_default() {
        let p = policy(
            "[tools]\nget_weather = \"weather:read\"\n[resources]\n\"weather://*\" = \"weather:read\"\n\"weather://secret/*\" = \"admin\"\n",
        );
        let reader = |perm: &str| perm == "weather:read";
        assert!(p.decide(Kind::Tool, "get_weather", reader).allowed);
        for name in ["Get_Weather", "get_weather\u{0}x", "get_weathеr", "get_weather "] {
            let verdict = p.decide(Kind::Tool, name, reader);
            assert!(!verdict.allowed, "{name}");
            assert_eq!((verdict.source, verdict.permission), (Source::Default, None));
        }
        assert!(p.decide(Kind::Resource, "weather://london", reader).allowed);
        let secret = p.decide(Kind::Resource, "weather://secret/x", reader);
        assert_eq!((secret.allowed, secret.permission), (false, Some("admin")));
        for uri in [
            "weather://a/../secret/x",
            "weather://a/%2e%2e/secret",
            "weather://a%2fb",
            "weather://a\\b",
            "file:///srv/data/x%3F/../../../etc/passwd",
            "file:///srv/data/x%23/../../etc/passwd",
            "file:///srv//secret/x",
            "file:///srv/%73ecret/x",
            "FILE:///srv/secret/x",
            "weather://a/./b",
            "weather://a?next=../../x",
            "weather://a/%zz",
        ] {
            assert_eq!(
                p.decide(Kind::Resource, uri, |_| true).source,
                Source::UnsafeUri,
                "{uri}"
            );
        }
        for fine in [
            "weather://london?x=1.2",
            "weather://london",
            "file:///srv/data/a%20b.txt",
            "weather://caf%C3%A9",
        ] {
            assert!(!unsafe_uri(fine), "{fine}");
        }
        // Every matching pattern's permission is needed, whichever pattern is longer.
        let nested = policy(
            "[resources]\n\"file:///srv/*\" = \"files:read\"\n\"file:///srv/*/reports/*\" = \"reports:read\"\n\"file:///srv/secret/*\" = \"admin\"\n",
        );
        let reader = |perm: &str| perm == "files:read" || perm == "reports:read";
        let verdict = nested.decide(Kind::Resource, "file:///srv/secret/reports/x", reader);
        assert_eq!((verdict.allowed, verdict.permission), (false, Some("admin")));
        assert!(
            nested
                .decide(Kind::Resource, "file:///srv/public/reports/x", reader)
                .allowed
        );
    }

    #[test]
    fn defaults_and_bad_config() {
        let open = policy("default = \"allow\"\n");
        assert!(open.allows_everything());
        let gated = policy("default = \"mcp:use\"\n");
        assert!(gated.decide(Kind::Prompt, "any", |p| p == "mcp:use").allowed);
        assert_eq!(gated.decide(Kind::Prompt, "any", |_| false).permission, Some("mcp:use"));
        for (bad, key) in [
            ("default = \"a*\"\n", "upstreams[0].default"),
            ("on_deny = \"loud\"\n", "upstreams[0].on_deny"),
            ("[tools]\nx = \"*\"\n", "upstreams[0].tools.x"),
            ("[resources]\n\"a[\" = \"p\"\n", "upstreams[0].resources.\"a[\""),
            (
                "[tools]\nx = { permission = \"p\", args = { a = { pattern = \"(\" } } }\n",
                "upstreams[0].tools.x.args.a",
            ),
        ] {
            let text = format!("name = \"t\"\nroute = \"/mcp\"\nurl = \"http://127.0.0.1:1/mcp\"\n{bad}");
            let raw: RawUpstream = toml::from_str(&text).unwrap();
            assert_eq!(compile(&raw, "upstreams[0]").unwrap_err().key, key, "{bad}");
        }
    }
}
