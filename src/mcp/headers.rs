//! MCP 2026-07-28 mirrors the body in `Mcp-Method` / `Mcp-Name` headers. The gateway decides
//! on the body; for that revision it also checks that the headers say the same thing, so no
//! component behind it can be steered by a header that disagrees with the body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;

use super::call::McpCall;
use super::jsonrpc::Message;

/// The first protocol revision that requires header–body validation.
pub const MODERN_VERSION: &str = "2026-07-28";

/// A header that is missing or disagrees with the body (`400` + `-32020`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMismatch(pub String);

/// The request's protocol revision when it is the modern (stateless) era.
pub fn is_modern(headers: &HeaderMap) -> bool {
    headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() == 10 && v >= MODERN_VERSION)
}

/// Decodes the `=?base64?...?=` form; other values must be plain header-safe ASCII.
fn decode(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    if let Some(inner) = text.strip_prefix("=?base64?").and_then(|t| t.strip_suffix("?=")) {
        let bytes = STANDARD.decode(inner).ok()?;
        return String::from_utf8(bytes).ok();
    }
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b)) && text.trim() == text;
    plain.then(|| text.to_string())
}

fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h [u8]>, HeaderMismatch> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(HeaderMismatch(format!("{name} header appears more than once")));
    }
    Ok(first.map(|v| v.as_bytes()))
}

/// Checks `Mcp-Method` (every request) and `Mcp-Name` (`tools/call`, `resources/read`,
/// `prompts/get`) against the body.
pub fn check_modern(headers: &HeaderMap, message: &Message<'_>, call: &McpCall<'_>) -> Result<(), HeaderMismatch> {
    let method = message.method.as_deref().unwrap_or_default();
    let header_method =
        single(headers, "mcp-method")?.ok_or_else(|| HeaderMismatch("Mcp-Method header is required".into()))?;
    if decode(header_method).as_deref() != Some(method) {
        return Err(HeaderMismatch(
            "Mcp-Method header does not match the body's method".into(),
        ));
    }
    let name = match (method, call) {
        ("tools/call", McpCall::ToolCall { name }) | ("prompts/get", McpCall::PromptGet { name }) => Some(name),
        ("resources/read", McpCall::ResourceRead { uri }) => Some(uri),
        _ => None,
    };
    let header_name = single(headers, "mcp-name")?;
    match (name, header_name) {
        (Some(name), Some(value)) => {
            if decode(value).as_deref() != Some(name.as_ref()) {
                return Err(HeaderMismatch("Mcp-Name header does not match the body".into()));
            }
        }
        (Some(_), None) => return Err(HeaderMismatch("Mcp-Name header is required".into())),
        (None, _) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_modern, decode};
    use crate::mcp::call::classify;
    use crate::mcp::jsonrpc::{Body, parse};
    use http::HeaderMap;

    fn check(body: &str, pairs: &[(&'static str, &str)]) -> bool {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        let Ok(Body::Single(message)) = parse(body.as_bytes(), false) else {
            panic!("{body}")
        };
        let call = classify(&message).unwrap();
        check_modern(&headers, &message, &call).is_ok()
    }

    const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all"}}"#;

    #[test]
    fn header_must_mirror_the_body() {
        assert!(check(CALL, &[("mcp-method", "tools/call"), ("mcp-name", "delete_all")]));
        assert!(!check(
            CALL,
            &[("mcp-method", "tools/list"), ("mcp-name", "delete_all")]
        ));
        assert!(!check(CALL, &[("mcp-method", "tools/call"), ("mcp-name", "safe")]));
        assert!(!check(CALL, &[("mcp-method", "tools/call")]));
        assert!(!check(CALL, &[("mcp-name", "delete_all")]));
        assert!(!check(
            CALL,
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "delete_all"),
                ("mcp-name", "delete_all")
            ]
        ));
        // base64 sentinel form: "delete_all"
        assert!(check(
            CALL,
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?ZGVsZXRlX2FsbA==?=")
            ]
        ));
        let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        assert!(check(list, &[("mcp-method", "tools/list")]));
    }

    #[test]
    fn decodes_non_ascii_names() {
        assert_eq!(decode(b"=?base64?w6ljaG8=?=").as_deref(), Some("écho"));
        assert_eq!(decode(b" padded"), None);
        assert_eq!(decode(b"=?base64?!!!?="), None);
    }
}
