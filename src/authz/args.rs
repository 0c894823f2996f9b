//! Argument constraints of a rule (`args = { path = { pattern = "...", ... } }`), checked on
//! the decoded JSON string of `params.arguments.<name>`.
//!
//! Path tricks are refused before the operator's constraints run: a constrained value may not
//! hold control characters (a NUL cuts C strings short), and its percent-decoded form must pass
//! the same constraints, so `%2e%2e%2f` cannot slip past a pattern or `deny_substrings = [".."]`.

use std::borrow::Cow;
use std::collections::HashMap;

use regex::Regex;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::mcp::fold::fold_eq;

/// Compiled constraints on one argument.
#[derive(Debug, Clone)]
pub struct ArgConstraint {
    pattern: Option<Regex>,
    max_length: Option<usize>,
    one_of: Option<Vec<String>>,
    deny_substrings: Vec<String>,
    required: bool,
}

/// Longest regex program accepted (bounds memory per rule).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Constraints on one string argument as plain values; every one given must hold.
#[derive(Debug, Default)]
pub struct ArgSpec<'a> {
    /// The whole value must match (anchored at both ends).
    pub pattern: Option<&'a str>,
    /// Longest value accepted, in characters.
    pub max_length: Option<usize>,
    /// The value must be one of these.
    pub one_of: Option<&'a [String]>,
    /// The value must contain none of these.
    pub deny_substrings: &'a [String],
    /// Refuse the call when the argument is absent.
    pub required: bool,
}

impl ArgConstraint {
    /// Compiles one argument's constraints; the error is the message for the config key.
    pub fn new(raw: &ArgSpec<'_>) -> Result<Self, String> {
        let pattern = raw
            .pattern
            .map(|p| {
                // Anchored at both ends whatever the operator wrote: an unanchored allowlist
                // pattern matches attacker-chosen text around the allowed part.
                regex::RegexBuilder::new(&format!("^(?:{p})$"))
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| format!("pattern is not a valid regular expression: {e}"))
            })
            .transpose()?;
        if raw.deny_substrings.iter().any(String::is_empty) {
            return Err("deny_substrings cannot contain an empty string".into());
        }
        if pattern.is_none()
            && raw.max_length.is_none()
            && raw.one_of.is_none()
            && raw.deny_substrings.is_empty()
            && !raw.required
        {
            return Err("give at least one of pattern, max_length, enum, deny_substrings, required".into());
        }
        Ok(Self {
            pattern,
            max_length: raw.max_length,
            one_of: raw.one_of.map(<[String]>::to_vec),
            deny_substrings: raw.deny_substrings.to_vec(),
            required: raw.required,
        })
    }

    fn accepts_text(&self, value: &str) -> bool {
        self.max_length.is_none_or(|max| value.chars().count() <= max)
            && self.pattern.as_ref().is_none_or(|p| p.is_match(value))
            && self
                .one_of
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|a| a == value))
            && !self.deny_substrings.iter().any(|d| value.contains(d.as_str()))
    }

    /// Whether `value` (the argument's raw JSON, `None` when absent) is acceptable.
    fn accepts(&self, value: Option<&RawValue>) -> bool {
        let Some(raw) = value else {
            return !self.required;
        };
        // Constraints are on strings; a number, array or object cannot be proven safe.
        let Ok(text) = serde_json::from_str::<Cow<'_, str>>(raw.get()) else {
            return false;
        };
        if text.chars().any(char::is_control) || !self.accepts_text(&text) {
            return false;
        }
        match percent_decoded(&text) {
            Some(decoded) => !decoded.chars().any(char::is_control) && self.accepts_text(&decoded),
            None => true,
        }
    }
}

/// The value with `%XX` escapes decoded (repeatedly, so `%252e` cannot hide a `.`), or `None`
/// when it holds none. Undecodable bytes become U+FFFD, which no sane allowlist accepts.
fn percent_decoded(text: &str) -> Option<String> {
    let mut current = decode_once(text)?;
    for _ in 0..3 {
        match decode_once(&current) {
            Some(next) if next != current => current = next,
            _ => break,
        }
    }
    Some(current)
}

fn decode_once(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[derive(Deserialize)]
struct ArgumentsParams<'a> {
    #[serde(borrow, default)]
    arguments: Option<HashMap<Cow<'a, str>, &'a RawValue>>,
}

/// Why the arguments of a call fail their rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgViolation<'c> {
    /// This constrained argument breaks its constraints.
    Breaks(&'c str),
    /// This member of `arguments` is not a constrained argument's name, but a case-insensitive
    /// decoder (Go's `encoding/json`) would read it as one: `Path` beside or instead of `path`.
    Ambiguous(String),
}

/// The first problem with the constrained arguments of `params`, or `None`. `params` is the
/// message's raw params object (duplicate keys were refused by the parser).
pub fn first_violation<'c>(
    constraints: &'c [(String, ArgConstraint)],
    params: Option<&RawValue>,
) -> Option<ArgViolation<'c>> {
    if constraints.is_empty() {
        return None;
    }
    let arguments = match params.map(|p| serde_json::from_str::<ArgumentsParams<'_>>(p.get())) {
        None => None,
        Some(Ok(parsed)) => parsed.arguments,
        // `arguments` is not an object: no constraint can be shown to hold.
        Some(Err(_)) => return constraints.first().map(|(name, _)| ArgViolation::Breaks(name.as_str())),
    };
    if let Some(arguments) = &arguments {
        let ambiguous = arguments.keys().find(|key| {
            constraints
                .iter()
                .any(|(name, _)| name != key.as_ref() && fold_eq(name, key))
        });
        if let Some(key) = ambiguous {
            return Some(ArgViolation::Ambiguous(key.to_string()));
        }
    }
    constraints
        .iter()
        .find(|(name, constraint)| {
            let value = arguments.as_ref().and_then(|a| a.get(name.as_str()).copied());
            !constraint.accepts(value)
        })
        .map(|(name, _)| ArgViolation::Breaks(name.as_str()))
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::{ArgConstraint, ArgSpec, ArgViolation, first_violation};

    const DENY_DOTS: [String; 0] = [];

    /// `path` must match `/srv/data/[^/]+` and hold no `..`.
    fn path_rule(deny: &[String]) -> ArgSpec<'_> {
        ArgSpec {
            pattern: Some("/srv/data/[^/]+"),
            deny_substrings: deny,
            ..ArgSpec::default()
        }
    }

    fn check(constraint: &ArgSpec<'_>, params: &str) -> bool {
        let compiled = vec![("path".to_string(), ArgConstraint::new(constraint).unwrap())];
        let raw = RawValue::from_string(params.to_string()).unwrap();
        first_violation(&compiled, Some(&raw)).is_none()
    }

    #[test]
    fn path_tricks_do_not_pass_a_pattern() {
        let deny = ["..".to_string()];
        let rule = path_rule(&deny);
        assert!(check(&rule, r#"{"arguments":{"path":"/srv/data/report.txt"}}"#));
        for evil in [
            r#"{"arguments":{"path":"/srv/data/../etc/passwd"}}"#,
            r#"{"arguments":{"path":"/srv/data/%2e%2e%2fetc%2fpasswd"}}"#,
            r#"{"arguments":{"path":"/srv/data/%252e%252e%252fetc"}}"#,
            r#"{"arguments":{"path":"/srv/data/a\u0000/../../etc"}}"#,
            r#"{"arguments":{"path":"/srv/data/\u002e\u002e"}}"#,
            r#"{"arguments":{"path":"x/srv/data/a"}}"#,
            r#"{"arguments":{"path":"/srv/data/a\n"}}"#,
            r#"{"arguments":{"path":["/srv/data/a"]}}"#,
            r#"{"arguments":"/srv/data/a"}"#,
        ] {
            assert!(!check(&rule, evil), "{evil}");
        }
        // Absent arguments pass unless required.
        assert!(check(&rule, r#"{"arguments":{}}"#));
        let required = ArgSpec {
            required: true,
            ..ArgSpec::default()
        };
        assert!(!check(&required, r#"{"arguments":{}}"#));
    }

    #[test]
    fn a_member_that_folds_to_a_constrained_name_is_ambiguous() {
        let rule = path_rule(&DENY_DOTS);
        let compiled = vec![("path".to_string(), ArgConstraint::new(&rule).unwrap())];
        for (params, member) in [
            (r#"{"arguments":{"Path":"/etc/passwd"}}"#, "Path"),
            (r#"{"arguments":{"path":"/srv/data/a","PATH":"/etc/passwd"}}"#, "PATH"),
            (r#"{"arguments":{"pa\u017fh":"x"}}"#, ""),
        ] {
            let raw = RawValue::from_string(params.to_string()).unwrap();
            let found = first_violation(&compiled, Some(&raw));
            if member.is_empty() {
                // `paſh` folds to `pash`, not `path`: only the constraint's own check applies.
                assert_eq!(found, None, "{params}");
            } else {
                assert_eq!(found, Some(ArgViolation::Ambiguous(member.into())), "{params}");
            }
        }
    }

    #[test]
    fn length_enum_and_substrings() {
        let allowed = ["ab".to_string(), "abcdef".to_string()];
        let rule = ArgSpec {
            max_length: Some(5),
            one_of: Some(&allowed),
            ..ArgSpec::default()
        };
        assert!(check(&rule, r#"{"arguments":{"path":"ab"}}"#));
        assert!(!check(&rule, r#"{"arguments":{"path":"abcdef"}}"#));
        assert!(!check(&rule, r#"{"arguments":{"path":"abc"}}"#));
        assert!(
            ArgConstraint::new(&ArgSpec {
                pattern: Some("("),
                ..ArgSpec::default()
            })
            .is_err()
        );
        assert!(ArgConstraint::new(&ArgSpec::default()).is_err());
    }
}
