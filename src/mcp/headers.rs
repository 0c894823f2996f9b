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

/// Every protocol revision there is; another `MCP-Protocol-Version` is refused.
pub const KNOWN_VERSIONS: [&str; 5] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"];

/// The only revision with JSON-RPC batches.
pub const BATCH_VERSION: &str = "2025-03-26";

/// Why the request's protocol headers cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// A repeated or disagreeing header (`400` + `-32020`).
    Mismatch(HeaderMismatch),
    /// `MCP-Protocol-Version` names no protocol revision (`400` + `-32022`); what it said.
    UnknownVersion(String),
}

impl From<HeaderMismatch> for HeaderError {
    fn from(mismatch: HeaderMismatch) -> Self {
        Self::Mismatch(mismatch)
    }
}

/// The request's `MCP-Protocol-Version` (`None` without one): a known revision, sent once.
pub fn protocol_version(headers: &HeaderMap) -> Result<Option<&str>, HeaderError> {
    let Some(value) = single(headers, "mcp-protocol-version")? else {
        return Ok(None);
    };
    match std::str::from_utf8(value) {
        Ok(version) if KNOWN_VERSIONS.contains(&version) => Ok(Some(version)),
        _ => Err(HeaderError::UnknownVersion(
            String::from_utf8_lossy(value).chars().take(64).collect(),
        )),
    }
}

/// A header that is missing or disagrees with the body (`400` + `-32020`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMismatch(pub String);

/// The mirror headers of one request, read once.
#[derive(Debug, Default)]
pub struct Mirror<'h> {
    /// `MCP-Protocol-Version` is 2026-07-28 or later: the mirror headers are required.
    pub modern: bool,
    /// `MCP-Protocol-Version`, when sent (always a known revision).
    pub version: Option<&'h str>,
    method: Option<&'h [u8]>,
    name: Option<&'h [u8]>,
}

impl<'h> Mirror<'h> {
    /// Reads `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`; each may appear once.
    pub fn read(headers: &'h HeaderMap) -> Result<Self, HeaderError> {
        let version = protocol_version(headers)?;
        let modern = version.is_some_and(|v| v >= MODERN_VERSION);
        Ok(Self {
            modern,
            version,
            method: single(headers, "mcp-method")?,
            name: single(headers, "mcp-name")?,
        })
    }

    /// True when the request carries a mirror header.
    pub fn present(&self) -> bool {
        self.method.is_some() || self.name.is_some()
    }

    /// Checks the headers against one message. Present headers must always match the body,
    /// whatever the version (an upstream or a later hop may route on them); 2026-07-28
    /// requests must also carry them.
    pub fn check(&self, message: &Message<'_>, call: &McpCall<'_>) -> Result<(), HeaderMismatch> {
        let method = message.method.as_deref().unwrap_or_default();
        match self.method {
            Some(value) if decode(value).as_deref() != Some(method) => {
                return Err(HeaderMismatch(
                    "Mcp-Method header does not match the body's method".into(),
                ));
            }
            None if self.modern => return Err(HeaderMismatch("Mcp-Method header is required".into())),
            _ => {}
        }
        // `tasks/*` may name their task (SEP-2663 clients do); it is not required.
        let (target, required) = match (method, call) {
            ("tools/call", McpCall::ToolCall { name, .. }) | ("prompts/get", McpCall::PromptGet { name }) => {
                (Some(name), true)
            }
            ("resources/read", McpCall::ResourceRead { uri }) => (Some(uri), true),
            (_, McpCall::Task { id }) => (Some(id), false),
            _ => (None, false),
        };
        match (target, self.name) {
            (Some(target), Some(value)) if decode(value).as_deref() == Some(target.as_ref()) => Ok(()),
            (_, Some(_)) => Err(HeaderMismatch("Mcp-Name header does not match the body".into())),
            (Some(_), None) if self.modern && required => Err(HeaderMismatch("Mcp-Name header is required".into())),
            _ => Ok(()),
        }
    }
}

/// Decodes the `=?base64?...?=` form; other values must be plain header-safe ASCII.
pub(super) fn decode(value: &[u8]) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::{Mirror, decode};
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
        Mirror::read(&headers).is_ok_and(|mirror| mirror.check(&message, &call).is_ok())
    }

    const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all"}}"#;

    #[test]
    fn present_headers_are_checked_in_every_era() {
        let legacy = |pairs: &[(&'static str, &str)]| check(CALL, pairs);
        assert!(legacy(&[]), "legacy requests need no mirror headers");
        assert!(!legacy(&[("mcp-name", "safe")]), "but a present one must match");
        assert!(!legacy(&[("mcp-method", "tools/list")]));
        assert!(legacy(&[
            ("mcp-protocol-version", "2025-11-25"),
            ("mcp-name", "delete_all")
        ]));
        let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        assert!(
            !check(list, &[("mcp-name", "anything")]),
            "a name on a method without one"
        );
        let versions = [
            ("mcp-protocol-version", "2025-11-25"),
            ("mcp-protocol-version", "2026-07-28"),
        ];
        assert!(!check(CALL, &versions), "a repeated version header is refused");
    }

    #[test]
    fn header_must_mirror_the_body() {
        let modern = |body: &str, pairs: &[(&'static str, &str)]| {
            let mut all = vec![("mcp-protocol-version", "2026-07-28")];
            all.extend_from_slice(pairs);
            check(body, &all)
        };
        assert!(modern(
            CALL,
            &[("mcp-method", "tools/call"), ("mcp-name", "delete_all")]
        ));
        assert!(!check(
            CALL,
            &[("mcp-method", "tools/list"), ("mcp-name", "delete_all")]
        ));
        assert!(!modern(CALL, &[("mcp-method", "tools/call"), ("mcp-name", "safe")]));
        assert!(!modern(CALL, &[("mcp-method", "tools/call")]));
        assert!(!modern(CALL, &[("mcp-name", "delete_all")]));
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
        assert!(modern(list, &[("mcp-method", "tools/list")]));
    }

    #[test]
    fn decodes_non_ascii_names() {
        assert_eq!(decode(b"=?base64?w6ljaG8=?=").as_deref(), Some("écho"));
        assert_eq!(decode(b" padded"), None);
        assert_eq!(decode(b"=?base64?!!!?="), None);
    }
}
