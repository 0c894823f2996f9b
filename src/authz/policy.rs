//! One upstream's compiled policy: which permission each tool, resource and prompt needs,
//! what unlisted names get, and how a denial is answered. Built once at load; decisions on the
//! request path are map lookups and glob matches without allocation.

use globset::{GlobBuilder, GlobMatcher};

use super::args::{ArgConstraint, ArgSpec, ArgViolation, first_violation};
use super::permissions::check_required;
use super::table::Table;

/// One upstream's policy keys as plain values: what config reads from `[[upstreams]]`.
#[derive(Debug, Default)]
pub struct PolicySpec<'a> {
    /// `"deny"`, `"allow"` or a permission.
    pub default: &'a str,
    /// `"hide"` or `"explain"`.
    pub on_deny: &'a str,
    /// Tool name → rule.
    pub tools: Vec<(&'a str, RuleSpec<'a>)>,
    /// Prompt name → rule.
    pub prompts: Vec<(&'a str, RuleSpec<'a>)>,
    /// Resource URI glob → rule (no argument constraints).
    pub resources: Vec<(&'a str, RuleSpec<'a>)>,
}

/// One rule: the permission it needs and constraints on named arguments.
#[derive(Debug, Default)]
pub struct RuleSpec<'a> {
    pub permission: &'a str,
    pub args: Vec<(&'a str, ArgSpec<'a>)>,
}

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
    pub fn new(raw: &PolicySpec<'_>, key: &str) -> Result<Self, (String, String)> {
        let default = match raw.default {
            "deny" => DefaultRule::Deny,
            "allow" => DefaultRule::Allow,
            permission => {
                check_required(permission)
                    .map_err(|m| (format!("{key}.default"), format!("{m} (or \"deny\" / \"allow\")")))?;
                DefaultRule::Permission(permission.to_string())
            }
        };
        let on_deny = match raw.on_deny {
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
    pub fn bad_argument<'r>(
        rule: Option<&'r Rule>,
        params: Option<&serde_json::value::RawValue>,
    ) -> Option<ArgViolation<'r>> {
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

fn named_rules(raw: &[(&str, RuleSpec<'_>)], key: &str) -> Result<Table<Rule>, (String, String)> {
    let rules = raw
        .iter()
        .map(|(name, raw_rule)| Ok((name.to_string(), rule(raw_rule, &format!("{key}.{name}"))?)))
        .collect::<Result<Vec<_>, (String, String)>>()?;
    Ok(Table::new(rules))
}

fn rule(raw: &RuleSpec<'_>, key: &str) -> Result<Rule, (String, String)> {
    let permission = raw.permission;
    check_required(permission).map_err(|m| (key.to_string(), m))?;
    let mut args = Vec::new();
    for (name, constraint) in &raw.args {
        let compiled = ArgConstraint::new(constraint).map_err(|m| (format!("{key}.args.{name}"), m))?;
        args.push((name.to_string(), compiled));
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
