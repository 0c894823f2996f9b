//! The strict JSON-RPC 2.0 envelope (contract section 5): typed, borrowed from the body,
//! exact ids, no unknown or case-variant members, no duplicate keys anywhere.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::strict::{self, StrictError};

/// A JSON-RPC id exactly as the client wrote it (`"abc"` with its quotes, or `123`), so a
/// gateway-made answer echoes it byte for byte, large integers included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Box<str>);

impl RequestId {
    /// The id's JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// Checks a raw id: a JSON string, or an integer without fraction or exponent.
    fn from_raw(raw: &RawValue) -> Option<Self> {
        let text = raw.get();
        let is_string = text.starts_with('"');
        let digits = text.strip_prefix('-').unwrap_or(text);
        let is_integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        (is_string || is_integer).then(|| Self(text.into()))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one JSON-RPC message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// Has `method` and `id`: expects an answer.
    Request,
    /// Has `method`, no `id`.
    Notification,
    /// Has `result` or `error` and an `id`: a client answering a server request.
    Response,
}

/// One parsed message, borrowing from the body.
#[derive(Debug)]
pub struct Message<'a> {
    pub kind: MessageKind,
    pub id: Option<RequestId>,
    /// Decoded method name (escapes resolved); `None` for responses.
    pub method: Option<Cow<'a, str>>,
    /// Raw `params`, an object when present.
    pub params: Option<&'a RawValue>,
}

/// A body: one message or a batch.
#[derive(Debug)]
pub enum Body<'a> {
    Single(Message<'a>),
    Batch(Vec<Message<'a>>),
}

/// Why a body is not acceptable JSON-RPC; maps to 400 with `-32700` or `-32600`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Not JSON (`-32700`).
    Parse(String),
    /// JSON, but ambiguous: a duplicate member name (`-32600`).
    DuplicateKey(String),
    /// JSON, but a member name a case-insensitive decoder reads as another member (`-32600`).
    AmbiguousKey(String),
    /// JSON, but not a valid JSON-RPC 2.0 message (`-32600`).
    Invalid(String),
    /// A batch array where batches are not allowed (`-32600`).
    BatchNotAllowed,
}

impl EnvelopeError {
    /// Stable label for metrics and audit.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Parse(_) => "parse_error",
            Self::DuplicateKey(_) => "duplicate_key",
            Self::AmbiguousKey(_) => "ambiguous_key",
            Self::Invalid(_) => "invalid_request",
            Self::BatchNotAllowed => "batch_not_allowed",
        }
    }

    /// Human text for the JSON-RPC error message.
    pub fn message(&self) -> String {
        match self {
            Self::Parse(detail) => format!("Parse error: {detail}"),
            Self::DuplicateKey(key) => format!("Invalid request: duplicate key `{}`", escape_key(key)),
            Self::AmbiguousKey(key) => format!(
                "Invalid request: member `{}` reads as another member to a case-insensitive decoder",
                escape_key(key)
            ),
            Self::Invalid(detail) => format!("Invalid request: {detail}"),
            Self::BatchNotAllowed => "Invalid request: JSON-RPC batches are not allowed on this route".into(),
        }
    }
}

fn escape_key(key: &str) -> String {
    key.chars().take(64).flat_map(char::escape_debug).collect()
}

/// Wire shape of one message. `deny_unknown_fields` refuses `Method`, `METHOD`,
/// `method\u0000` and any other member; derived structs also refuse duplicate members.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow)]
    jsonrpc: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present_str")]
    method: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// Keeps an explicit `null` as `Some("null")` so `"id": null` is not mistaken for no id.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Like [`present`] for `method`: an explicit `null` is a type error, not "no method".
fn present_str<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    Cow::<'de, str>::deserialize(deserializer).map(Some)
}

/// Parses a request body. Batches are parsed element by element when `allow_batches`.
pub fn parse(body: &[u8], allow_batches: bool) -> Result<Body<'_>, EnvelopeError> {
    strict::check(body).map_err(|e| match e {
        StrictError::Syntax(detail) => EnvelopeError::Parse(detail),
        StrictError::DuplicateKey(key) => EnvelopeError::DuplicateKey(key),
        StrictError::AmbiguousKey(key) => EnvelopeError::AmbiguousKey(key),
        StrictError::ControlCharInKey => EnvelopeError::Invalid("control character in a member name".into()),
    })?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'[') {
        if !allow_batches {
            return Err(EnvelopeError::BatchNotAllowed);
        }
        let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| EnvelopeError::Parse(e.to_string()))?;
        if items.is_empty() {
            return Err(EnvelopeError::Invalid("empty batch".into()));
        }
        let messages = items
            .into_iter()
            .map(|item| message(item.get().as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Body::Batch(messages));
    }
    message(body).map(Body::Single)
}

fn message(bytes: &[u8]) -> Result<Message<'_>, EnvelopeError> {
    let envelope: Envelope<'_> = serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        let text = text.split(" at line ").next().unwrap_or(&text).to_string();
        EnvelopeError::Invalid(text)
    })?;
    if envelope.jsonrpc != "2.0" {
        return Err(EnvelopeError::Invalid("`jsonrpc` must be \"2.0\"".into()));
    }
    let id = match envelope.id {
        None => None,
        Some(raw) => Some(
            RequestId::from_raw(raw)
                .ok_or_else(|| EnvelopeError::Invalid("`id` must be a string or an integer".into()))?,
        ),
    };
    if let Some(params) = envelope.params
        && !params.get().starts_with('{')
    {
        return Err(EnvelopeError::Invalid("`params` must be an object".into()));
    }
    let kind = match (&envelope.method, envelope.result, envelope.error) {
        (Some(_), None, None) => {
            if id.is_some() {
                MessageKind::Request
            } else {
                MessageKind::Notification
            }
        }
        (None, Some(_), None) | (None, None, Some(_)) if envelope.params.is_none() => {
            if id.is_none() {
                return Err(EnvelopeError::Invalid("a response needs an `id`".into()));
            }
            MessageKind::Response
        }
        _ => {
            return Err(EnvelopeError::Invalid(
                "a message has either `method` (request, notification) or one of `result`, `error` (response)".into(),
            ));
        }
    };
    Ok(Message {
        kind,
        id,
        method: envelope.method,
        params: envelope.params,
    })
}

#[cfg(test)]
mod tests {
    use super::{Body, EnvelopeError, MessageKind, parse};

    fn single(body: &str) -> super::Message<'_> {
        match parse(body.as_bytes(), false) {
            Ok(Body::Single(message)) => message,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn classifies_requests_notifications_and_responses() {
        let request = single(r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#);
        assert_eq!(request.kind, MessageKind::Request);
        assert_eq!(request.id.map(|i| i.to_string()), Some("7".into()));
        let note = single(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert_eq!(note.kind, MessageKind::Notification);
        let response = single(r#"{"jsonrpc":"2.0","id":"s1","result":{}}"#);
        assert_eq!(response.kind, MessageKind::Response);
        assert_eq!(response.id.map(|i| i.to_string()), Some("\"s1\"".into()));
    }

    #[test]
    fn keeps_large_ids_exact_and_decodes_escaped_methods() {
        let m =
            single(r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"\u0074ools\/call","params":{}}"#);
        assert_eq!(
            m.id.map(|i| i.to_string()),
            Some("123456789012345678901234567890".into())
        );
        assert_eq!(m.method.as_deref(), Some("tools/call"));
    }

    #[test]
    fn rejects_ambiguous_and_malformed_envelopes() {
        let invalid = [
            r#"{"jsonrpc":"2.0","id":1,"method":"a","Method":"b"}"#,
            r#"{"jsonrpc":"2.0","id":1,"METHOD":"a"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"a","extra":1}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"a"}"#,
            r#"{"id":1,"method":"a"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"a"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"a"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"a"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":null,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"a","params":[1]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"a","result":{}}"#,
            r#"{"jsonrpc":"2.0","result":{}}"#,
            r#"[]"#,
            r#""text""#,
        ];
        for body in invalid {
            match parse(body.as_bytes(), true) {
                Err(EnvelopeError::Invalid(_)) => {}
                other => panic!("{body}: {other:?}"),
            }
        }
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}"#, false).err(),
            Some(EnvelopeError::DuplicateKey("method".into()))
        );
        assert!(matches!(parse(b"{not json", false), Err(EnvelopeError::Parse(_))));
        assert_eq!(
            parse(br#"[{"jsonrpc":"2.0","id":1,"method":"a"}]"#, false).err(),
            Some(EnvelopeError::BatchNotAllowed)
        );
    }

    #[test]
    fn parses_every_batch_element() {
        let body = br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"}]"#;
        match parse(body, true) {
            Ok(Body::Batch(items)) => {
                assert_eq!(items.len(), 2);
                assert_eq!(items[1].kind, MessageKind::Notification);
            }
            other => panic!("{other:?}"),
        }
        let bad = br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2}]"#;
        assert!(parse(bad, true).is_err());
    }
}
