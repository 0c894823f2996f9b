//! One upstream's compiled policy: which permission each tool, resource and prompt needs,
//! what unlisted names get, and how a denial is answered. Built once at load; decisions on the
//! request path are map lookups and glob matches without allocation.

use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobMatcher};

use super::args::{ArgConstraint, first_violation};
use super::permissions::check_required;
use super::table::Table;
use crate::config::raw::{RawRule, RawUpstream};

/// What a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tool,
    Resource,
    Prompt,
}

impl Kind {
    /// Label for audit, errors and `explain`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Tool => "tool",
            Self::Resource => "resource",
            Self::Prompt => "prompt",
        }
    }
}

/// A rule: the permission needed and the argument constraints.
#[derive(Debug, Clone)]
pub struct Rule {
    pub permission: String,
    pub args: Vec<(String, ArgConstraint)>,
}

/// What names no rule lists get (`default = ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultRule {
    /// Denied (the safe default).
    Deny,
    /// Forwarded.
    Allow,
    /// Allowed to holders of this permission.
    Permission(String),
}

/// How a denial is answered (`on_deny = ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDeny {
    /// As if the name did not exist (`-32602 Unknown tool: NAME`); the default.
    Hide,
    /// `-31403 Permission 'P' required`.
    Explain,
}

#[derive(Debug, Clone)]
struct ResourceRule {
    pattern: String,
    matcher: GlobMatcher,
    rule: Rule,
}

/// Which rule decided a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'p> {
    /// The name (tools, prompts) or URI glob (resources) listed in the config.
    Listed(&'p str),
    /// `default`.
    Default,
    /// A resource URI with dot segments, encoded separators or control characters: never allowed.
    UnsafeUri,
}

/// The outcome of a decision.
#[derive(Debug, Clone, Copy)]
pub struct Verdict<'p> {
    pub allowed: bool,
    /// The permission the name needs; `None` when nothing could allow it.
    pub permission: Option<&'p str>,
    pub source: Source<'p>,
    /// The listed rule, for its argument constraints.
    pub rule: Option<&'p Rule>,
}

/// One upstream's policy.
#[derive(Debug, Clone)]
pub struct Policy {
    tools: Table<Rule>,
    prompts: Table<Rule>,
    /// Longest pattern first: the most specific glob decides.
    resources: Vec<ResourceRule>,
    pub default: DefaultRule,
    pub on_deny: OnDeny,
}

impl Policy {
    /// Compiles the policy keys of one `[[upstreams]]` entry; errors carry the key under `key`.
    pub fn new(raw: &RawUpstream, key: &str) -> Result<Self, (String, String)> {
        let default = match raw.default.as_str() {
            "deny" => DefaultRule::Deny,
            "allow" => DefaultRule::Allow,
            permission => {
                check_required(permission)
                    .map_err(|m| (format!("{key}.default"), format!("{m} (or \"deny\" / \"allow\")")))?;
                DefaultRule::Permission(permission.to_string())
            }
        };
        let on_deny = match raw.on_deny.as_str() {
            "hide" => OnDeny::Hide,
            "explain" => OnDeny::Explain,
            other => {
                return Err((
                    format!("{key}.on_deny"),
                    format!("`{other}` must be \"hide\" or \"explain\""),
                ));
            }
        };
        let tools = named_rules(&raw.tools, &format!("{key}.tools"))?;
        let prompts = named_rules(&raw.prompts, &format!("{key}.prompts"))?;
        let mut resources = Vec::with_capacity(raw.resources.len());
        for (pattern, raw_rule) in &raw.resources {
            let rule_key = format!("{key}.resources.\"{pattern}\"");
            let rule = rule(raw_rule, &rule_key)?;
            if !rule.args.is_empty() {
                return Err((
                    format!("{rule_key}.args"),
                    "resources take no argument constraints".into(),
                ));
            }
            let matcher = GlobBuilder::new(pattern)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| (rule_key.clone(), format!("not a valid glob: {}", e.kind())))?
                .compile_matcher();
            resources.push(ResourceRule {
                pattern: pattern.to_string(),
                matcher,
                rule,
            });
        }
        resources.sort_by(|a, b| {
            b.pattern
                .len()
                .cmp(&a.pattern.len())
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        Ok(Self {
            tools,
            prompts,
            resources,
            default,
            on_deny,
        })
    }

    /// A policy that lets everything through: no rules, `default = "allow"`. Lists are then
    /// passed through unfiltered.
    pub fn allows_everything(&self) -> bool {
        self.default == DefaultRule::Allow
            && self.tools.is_empty()
            && self.prompts.is_empty()
            && self.resources.is_empty()
    }

    /// Decides on `name` of `kind` for a caller who holds a permission when `holds` says so.
    pub fn decide<'p>(&'p self, kind: Kind, name: &str, holds: impl Fn(&str) -> bool) -> Verdict<'p> {
        if self.allows_everything() {
            return verdict(true, None, Source::Default, None);
        }
        let listed = match kind {
            Kind::Tool => self.tools.get(name),
            Kind::Prompt => self.prompts.get(name),
            Kind::Resource if unsafe_uri(name) => return verdict(false, None, Source::UnsafeUri, None),
            Kind::Resource => return self.decide_resource(name, holds),
        };
        match listed {
            Some((source, rule)) => verdict(
                holds(&rule.permission),
                Some(&rule.permission),
                Source::Listed(source),
                Some(rule),
            ),
            None => self.default_verdict(holds),
        }
    }

    /// A resource URI needs the permission of every pattern it matches (so a broad rule can
    /// never open what a narrower one guards, whichever is longer); the longest match is the
    /// rule reported, the first permission missing (longest first) the one named.
    fn decide_resource<'p>(&'p self, uri: &str, holds: impl Fn(&str) -> bool) -> Verdict<'p> {
        let mut matching = self.resources.iter().filter(|r| r.matcher.is_match(uri)).peekable();
        let Some(longest) = matching.peek().copied() else {
            return self.default_verdict(holds);
        };
        let missing = matching.find(|r| !holds(&r.rule.permission));
        verdict(
            missing.is_none(),
            Some(&missing.unwrap_or(longest).rule.permission),
            Source::Listed(&longest.pattern),
            Some(&longest.rule),
        )
    }

    fn default_verdict<'p>(&'p self, holds: impl Fn(&str) -> bool) -> Verdict<'p> {
        match &self.default {
            DefaultRule::Allow => verdict(true, None, Source::Default, None),
            DefaultRule::Deny => verdict(false, None, Source::Default, None),
            DefaultRule::Permission(p) => verdict(holds(p), Some(p), Source::Default, None),
        }
    }

    /// The first argument of `params` that breaks the rule's constraints.
    pub fn bad_argument<'r>(rule: Option<&'r Rule>, params: Option<&serde_json::value::RawValue>) -> Option<&'r str> {
        rule.and_then(|r| first_violation(&r.args, params))
    }

    /// Every listed name of `kind` with its rule, sorted (for `explain`).
    pub fn listed(&self, kind: Kind) -> Vec<(&str, &Rule)> {
        let mut out: Vec<(&str, &Rule)> = match kind {
            Kind::Tool => self.tools.iter().collect(),
            Kind::Prompt => self.prompts.iter().collect(),
            Kind::Resource => self.resources.iter().map(|r| (r.pattern.as_str(), &r.rule)).collect(),
        };
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// Every permission the rules name (the scopes an OAuth client may ask for), sorted.
    pub fn permissions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .tools
            .iter()
            .chain(self.prompts.iter())
            .map(|(_, rule)| rule)
            .chain(self.resources.iter().map(|r| &r.rule))
            .map(|r| r.permission.as_str())
            .chain(match &self.default {
                DefaultRule::Permission(p) => Some(p.as_str()),
                DefaultRule::Allow | DefaultRule::Deny => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn verdict<'p>(allowed: bool, permission: Option<&'p str>, source: Source<'p>, rule: Option<&'p Rule>) -> Verdict<'p> {
    Verdict {
        allowed,
        permission,
        source,
        rule,
    }
}

fn named_rules(raw: &BTreeMap<String, RawRule>, key: &str) -> Result<Table<Rule>, (String, String)> {
    let rules = raw
        .iter()
        .map(|(name, raw_rule)| Ok((name.clone(), rule(raw_rule, &format!("{key}.{name}"))?)))
        .collect::<Result<Vec<_>, (String, String)>>()?;
    Ok(Table::new(rules))
}

fn rule(raw: &RawRule, key: &str) -> Result<Rule, (String, String)> {
    let (permission, raw_args) = match raw {
        RawRule::Permission(p) => (p, None),
        RawRule::Detailed(d) => (&d.permission, Some(&d.args)),
    };
    check_required(permission).map_err(|m| (key.to_string(), m))?;
    let mut args = Vec::new();
    for (name, constraint) in raw_args.into_iter().flatten() {
        let compiled = ArgConstraint::new(constraint).map_err(|m| (format!("{key}.args.{name}"), m))?;
        args.push((name.clone(), compiled));
    }
    Ok(Rule {
        permission: permission.to_string(),
        args,
    })
}

/// A resource URI no glob may be trusted to judge, because an upstream may read it as
/// another URI: control characters or backslashes; percent-encoded `/`, `\`, `?`, `#` or
/// unreserved characters (`%2e`, `%73`: a canonical URI never encodes those), or a broken
/// escape; `.` or `..` segments or empty segments in the path, `..` anywhere; an upper-case
/// scheme.
pub fn unsafe_uri(uri: &str) -> bool {
    if uri.chars().any(|c| c.is_control() || c == '\\') {
        return true;
    }
    let bytes = uri.as_bytes();
    for (index, _) in uri.match_indices('%') {
        let hex = |i: usize| bytes.get(i).and_then(|b| (*b as char).to_digit(16));
        let Some(decoded) = hex(index + 1).zip(hex(index + 2)).map(|(h, l)| (h * 16 + l) as u8) else {
            return true;
        };
        if decoded.is_ascii_alphanumeric() || b"-._~/\\?#".contains(&decoded) {
            return true;
        }
    }
    let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
    if scheme.bytes().any(|b| b.is_ascii_uppercase()) {
        return true;
    }
    // The path starts after the authority; its segments must be non-empty and not dots.
    let path = rest.find('/').map_or("", |start| &rest[start..]);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.split('/')
        .skip(1)
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        || uri.split(['/', '?', '#', '&', '=']).any(|segment| segment == "..")
}

#[cfg(test)]
mod tests {
    use super::{Kind, Policy, Source, unsafe_uri};
    use crate::config::raw::RawUpstream;

    fn policy(extra: &str) -> Policy {
        let text = format!("name = \"t\"\nroute = \"/mcp\"\nurl = \"http://127.0.0.1:1/mcp\"\n{extra}");
        let raw: RawUpstream = toml::from_str(&text).unwrap();
        Policy::new(&raw, "upstreams[0]").unwrap()
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
            assert_eq!(Policy::new(&raw, "upstreams[0]").unwrap_err().0, key, "{bad}");
        }
    }
}
