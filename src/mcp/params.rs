//! 2026-07-28 `Mcp-Param-*` headers: a tool argument whose schema says `"x-mcp-header": "X"`
//! (a primitive, reachable through `properties`) is mirrored in the header `Mcp-Param-X`, so a
//! hop can route on it without reading the body. Whoever reads the body must check that the
//! two agree: a header that disagrees with the argument (plain or `=?base64?…?=`; numbers
//! compare numerically), is repeated, or is missing in a 2026-07-28 request whose body has the
//! argument is a mismatch (`400` + `-32020`). Headers the tool's schema does not name are
//! forwarded untouched.
//!
//! The schemas come from the `tools/list` answers the gateway relays ([`ParamHeaders::learn`]):
//! until the gateway has seen a tool's definition it knows no header of that tool.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use http::HeaderMap;
use serde_json::Value;
use serde_json::value::RawValue;

use super::headers::{HeaderMismatch, decode};

/// One mirrored argument: the header (lower case) and the argument's path in `arguments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamHeader {
    pub header: String,
    pub path: Vec<String>,
}

/// Most tools remembered per upstream (a hostile upstream cannot grow the table without bound).
const MAX_TOOLS: usize = 4096;

/// The mirrored arguments of each tool of one upstream, learned from its `tools/list` pages.
#[derive(Debug, Default)]
pub struct ParamHeaders {
    tools: RwLock<HashMap<String, Arc<[ParamHeader]>>>,
}

impl ParamHeaders {
    /// Records the mirrored arguments of `tool` from its `inputSchema`; a tool whose new
    /// schema names none forgets the old ones.
    pub fn learn(&self, tool: &str, input_schema: &str) {
        let Ok(schema) = serde_json::from_str::<Value>(input_schema) else {
            return;
        };
        let mut found = Vec::new();
        collect(&schema, &mut Vec::new(), &mut found, 0);
        let mut tools = self.tools.write().unwrap_or_else(PoisonError::into_inner);
        if found.is_empty() {
            tools.remove(tool);
        } else if tools.len() < MAX_TOOLS || tools.contains_key(tool) {
            tools.insert(tool.to_string(), found.into());
        }
    }

    /// Forgets `tool` (its latest definition mirrors no argument).
    pub fn forget(&self, tool: &str) {
        let mut tools = self.tools.write().unwrap_or_else(PoisonError::into_inner);
        tools.remove(tool);
    }

    /// Whether no tool of this upstream mirrors an argument.
    pub fn is_empty(&self) -> bool {
        self.tools.read().unwrap_or_else(PoisonError::into_inner).is_empty()
    }

    /// The mirrored arguments of `tool`, when its definition named any.
    pub fn of(&self, tool: &str) -> Option<Arc<[ParamHeader]>> {
        let tools = self.tools.read().unwrap_or_else(PoisonError::into_inner);
        if tools.is_empty() {
            return None;
        }
        tools.get(tool).cloned()
    }
}

/// The `x-mcp-header` names under `schema`'s `properties`, depth first.
fn collect(schema: &Value, path: &mut Vec<String>, found: &mut Vec<ParamHeader>, depth: usize) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    if depth > 16 {
        return;
    }
    for (name, property) in properties {
        path.push(name.clone());
        if let Some(header) = property.get("x-mcp-header").and_then(Value::as_str) {
            let valid = !header.is_empty()
                && header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if valid {
                found.push(ParamHeader {
                    header: format!("mcp-param-{}", header.to_ascii_lowercase()),
                    path: path.clone(),
                });
            }
        }
        collect(property, path, found, depth + 1);
        path.pop();
    }
}

/// Checks the `Mcp-Param-*` headers of a `tools/call` against its `arguments`. `modern`: a
/// 2026-07-28 request, which must carry the header of every mirrored argument it sends.
pub fn check(
    headers: &HeaderMap,
    mirrored: &[ParamHeader],
    params: Option<&RawValue>,
    modern: bool,
) -> Result<(), HeaderMismatch> {
    #[derive(serde::Deserialize)]
    struct Arguments {
        #[serde(default)]
        arguments: Option<Value>,
    }
    let arguments = params
        .and_then(|raw| serde_json::from_str::<Arguments>(raw.get()).ok())
        .and_then(|a| a.arguments);
    for param in mirrored {
        let value = arguments
            .as_ref()
            .and_then(|args| param.path.iter().try_fold(args, |at, key| at.get(key)))
            .filter(|v| !v.is_null());
        let mut sent = headers.get_all(param.header.as_str()).iter();
        let (first, again) = (sent.next(), sent.next());
        let header = &param.header;
        match (first, value) {
            (Some(_), _) if again.is_some() => {
                return Err(HeaderMismatch(format!("{header} header appears more than once")));
            }
            (Some(sent), Some(value)) if agrees(sent.as_bytes(), value) => {}
            (Some(_), _) => return Err(HeaderMismatch(format!("{header} header does not match the body"))),
            (None, Some(value)) if modern && is_primitive(value) => {
                return Err(HeaderMismatch(format!("{header} header is required")));
            }
            (None, _) => {}
        }
    }
    Ok(())
}

fn is_primitive(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// Whether a header value says what the argument says.
fn agrees(sent: &[u8], value: &Value) -> bool {
    let Some(text) = decode(sent) else {
        return false;
    };
    match value {
        Value::String(s) => *s == text,
        Value::Bool(b) => text == if *b { "true" } else { "false" },
        Value::Number(n) => {
            if let (Some(a), Ok(b)) = (n.as_i64(), text.parse::<i64>()) {
                a == b
            } else if let (Some(a), Ok(b)) = (n.as_u64(), text.parse::<u64>()) {
                a == b
            } else {
                matches!((n.as_f64(), text.parse::<f64>()), (Some(a), Ok(b)) if a == b)
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};
    use serde_json::value::RawValue;

    use super::{ParamHeaders, check};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn headers_must_match_the_arguments_they_mirror() {
        let table = ParamHeaders::default();
        table.learn(
            "deploy",
            r#"{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"opts":{"type":"object","properties":{"n":{"type":"integer","x-mcp-header":"Count"}}},"note":{"type":"string"}}}"#,
        );
        assert!(table.of("other").is_none());
        let mirrored = table.of("deploy").unwrap();
        let params = RawValue::from_string(
            r#"{"name":"deploy","arguments":{"region":"eu-west-1","opts":{"n":7},"note":"x"}}"#.into(),
        )
        .unwrap();
        let ok =
            |h: &[(&'static str, &str)], modern: bool| check(&headers(h), &mirrored, Some(&params), modern).is_ok();
        assert!(ok(&[("mcp-param-region", "eu-west-1"), ("mcp-param-count", "7")], true));
        assert!(ok(
            &[
                ("mcp-param-region", "=?base64?ZXUtd2VzdC0x?="),
                ("mcp-param-count", "007")
            ],
            true
        ));
        assert!(ok(&[], false), "legacy clients need not send them");
        assert!(!ok(
            &[("mcp-param-region", "us-east-1"), ("mcp-param-count", "7")],
            true
        ));
        assert!(!ok(
            &[("mcp-param-region", "eu-west-1"), ("mcp-param-count", "8")],
            false
        ));
        assert!(!ok(&[("mcp-param-region", "eu-west-1")], true), "missing Count");
        assert!(!ok(
            &[
                ("mcp-param-region", "eu-west-1"),
                ("mcp-param-region", "eu-west-1"),
                ("mcp-param-count", "7")
            ],
            true
        ));
        assert!(!ok(
            &[("mcp-param-region", " eu-west-1"), ("mcp-param-count", "7")],
            true
        ));
        // A header for an argument the body does not have.
        let bare = RawValue::from_string(r#"{"name":"deploy","arguments":{}}"#.into()).unwrap();
        assert!(check(&headers(&[("mcp-param-region", "x")]), &mirrored, Some(&bare), true).is_err());
        assert!(check(&headers(&[]), &mirrored, Some(&bare), true).is_ok());
        // A new definition without headers forgets the old ones.
        table.learn(
            "deploy",
            r#"{"type":"object","properties":{"region":{"type":"string"}}}"#,
        );
        assert!(table.of("deploy").is_none());
    }
}
