//! Definitions smuggled outside the list members the filter rewrites: a hostile upstream can
//! put a tool the caller may not see into `error.data`, `result._meta`, `structuredContent`,
//! a nested `tools` array or the params of a `notifications/tools/list_changed`. After the
//! filter has rewritten the list members of a result, the whole message is scanned once; any
//! definition left that the caller may not see makes the message unreadable (the caller drops
//! it and answers `-31503`): fail closed rather than guess where a client looks.
//!
//! A definition is recognised by its shape, at any depth:
//! - an item of an array under a list member name (`tools`, `prompts`, `resources`,
//!   `resourceTemplates`), named by that kind's field (an item without one is hidden);
//! - an object with `inputSchema` (a tool) named by `name`, or with `uriTemplate` (a
//!   resource template).
//!
//! An object with a repeated member is hidden too: two readers may take different ones.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

// Most members an object may have: the page parser's bound (the duplicate check is a scan);
// more is unreadable (hidden).
use super::page::MAX_MEMBERS;
use super::policy::Kind;

/// Whether the caller may see one item (the filter's `Visible`).
pub type SeeItem = dyn Fn(Kind, &str) -> bool + Send + Sync;

/// Cheap test: could `text` hold a definition at all (in any ASCII case; escapes and
/// non-ASCII text, which a folding reader may read as one of these names, always could)?
/// Anything else is not parsed.
pub fn might_hold_one(text: &str) -> bool {
    if text.contains("\\u") || !text.is_ascii() {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    [
        "\"tools\"",
        "\"prompts\"",
        "\"resources\"",
        "\"resourcetemplates\"",
        "inputschema",
        "uritemplate",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// Whether `text` (one JSON-RPC message or a batch) carries a definition the caller may not
/// see, or cannot be read unambiguously. Callers test [`might_hold_one`] first, once.
pub fn carries_hidden(text: &str, visible: &SeeItem) -> bool {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // serde_json's own depth limit (128) refuses deeper nesting: unreadable, hence hidden.
    let scan = Scan {
        visible,
        member: None,
        list: None,
        keep: false,
        depth: 0,
    };
    let clean = scan.deserialize(&mut deserializer).is_ok() && deserializer.end().is_ok();
    !clean
}

/// Deepest nesting scanned; deeper is unreadable (hidden).
const MAX_DEPTH: usize = 128;

/// What a scanned value was, as far as its parent needs to know.
enum Seen {
    /// A string, kept only where the parent asked for it (a naming member).
    Text(String),
    Object,
    Other,
}

/// Scans one value. `member`: the value is a list member of this kind (an array's items are
/// definitions of it); `list`: the value is such an item; `keep`: the value names its parent
/// (`name`, `uri`, `uriTemplate`), so a string is kept.
#[derive(Clone, Copy)]
struct Scan<'v> {
    visible: &'v SeeItem,
    member: Option<Kind>,
    list: Option<Kind>,
    keep: bool,
    depth: usize,
}

/// Member names as a case-insensitive decoder reads them (Go's `encoding/json` folds case).
fn list_member(folded: &str) -> Option<Kind> {
    match folded {
        "tools" => Some(Kind::Tool),
        "prompts" => Some(Kind::Prompt),
        "resources" | "resourcetemplates" => Some(Kind::Resource),
        _ => None,
    }
}

fn hidden<E: de::Error>() -> E {
    E::custom("hidden definition")
}

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = Seen;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Seen, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(hidden());
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = Seen;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Seen, E> {
        Ok(Seen::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Seen, E> {
        Ok(Seen::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Seen, E> {
        Ok(Seen::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Seen, E> {
        Ok(Seen::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Seen, E> {
        Ok(Seen::Other)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Seen, E> {
        // A bare name in a list member (`"tools": ["delete_file"]`) names an item too.
        if let Some(kind) = self.list {
            return if (self.visible)(kind, v) {
                Ok(Seen::Other)
            } else {
                Err(hidden())
            };
        }
        Ok(if self.keep {
            Seen::Text(v.to_string())
        } else {
            Seen::Other
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seen, A::Error> {
        let child = Scan {
            member: None,
            list: self.member,
            keep: false,
            depth: self.depth + 1,
            ..self
        };
        while seq.next_element_seed(child)?.is_some() {}
        Ok(Seen::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Seen, A::Error> {
        let mut keys: Vec<String> = Vec::new();
        let (mut name, mut uri, mut template, mut schema) = (None, None, None, false);
        while let Some(key) = map.next_key::<std::borrow::Cow<'_, str>>()? {
            let folded = crate::mcp::fold::folded(&key).into_owned();
            if keys.len() >= MAX_MEMBERS || keys.contains(&folded) {
                return Err(hidden());
            }
            let keep = matches!(folded.as_str(), "name" | "uri" | "uritemplate");
            let seen = map.next_value_seed(Scan {
                member: list_member(&folded),
                list: None,
                keep,
                depth: self.depth + 1,
                ..self
            })?;
            match (folded.as_str(), seen) {
                ("name", Seen::Text(text)) => name = Some(text),
                ("uri", Seen::Text(text)) => uri = Some(text),
                ("uritemplate", Seen::Text(text)) => template = Some(text),
                ("inputschema", Seen::Object) => schema = true,
                _ => {}
            }
            keys.push(folded);
        }
        let see = |kind, id: &Option<String>| id.as_deref().is_none_or(|id| (self.visible)(kind, id));
        // An item of a list member is judged by its naming field; one without it is data.
        let shown = match self.list {
            Some(kind @ (Kind::Tool | Kind::Prompt)) => see(kind, &name),
            Some(Kind::Resource) => see(Kind::Resource, if template.is_some() { &template } else { &uri }),
            None => true,
        };
        // Anywhere: an object with an object `inputSchema` and a string `name` is a tool, one
        // with a string `uriTemplate` a resource template.
        let tool_ok = !(schema && name.is_some()) || see(Kind::Tool, &name);
        let template_ok = see(Kind::Resource, &template);
        if shown && tool_ok && template_ok {
            Ok(Seen::Object)
        } else {
            Err(hidden())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::carries_hidden;
    use crate::authz::Kind;

    fn guest() -> Arc<super::SeeItem> {
        Arc::new(|kind: Kind, name: &str| match kind {
            Kind::Tool => name == "get_weather",
            Kind::Resource => name.starts_with("weather://"),
            Kind::Prompt => name == "forecast",
        })
    }

    #[test]
    fn finds_definitions_wherever_they_are_smuggled() {
        let visible = guest();
        for smuggled in [
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x","data":{"tools":[{"name":"delete_file"}]}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"_meta":{"all":{"tools":[{"name":"delete_file","inputSchema":{}}]}}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"structuredContent":{"def":{"name":"delete_file","inputSchema":{"type":"object"}}}}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"tools":[{"name":"delete_file"}]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"x":[{"uriTemplate":"file:///{path}"}]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"_meta":{"prompts":[{"name":"secret"}]}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"_meta":{"resources":[{"uri":"file:///etc/passwd","name":"p"}]}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"_meta":{"tools":["delete_file"]}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"_meta":{"\u0074ools":[{"name":"delete_file"}]}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"d":{"name":"get_weather","name":"delete_file","inputSchema":{}}}}"#,
            r#"[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"error":{"code":1,"message":"m","data":{"tools":[{"name":"rm"}]}}}]"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_weather"}]}} trailing"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"_meta":{"Tools":[{"Name":"delete_file"}]}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"d":{"NAME":"delete_file","InputSchema":{}}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"d":{"name":"get_weather","Name":"delete_file","inputSchema":{}}}}"#,
        ] {
            assert!(carries_hidden(smuggled, &*visible), "{smuggled}");
        }
        for clean in [
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_weather","inputSchema":{"type":"object","properties":{"city":{"type":"string"}}}}]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"{\"tools\":[{\"name\":\"x\"}]}"}]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":"weather://{city}","name":"w"}],"_meta":{"prompts":[{"name":"forecast"}]}}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"resource_link","uri":"file:///x","name":"x"}]}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#,
            // Plain data that only looks like a list member, and a tool argument called
            // `inputSchema`, are not definitions.
            r#"{"jsonrpc":"2.0","id":1,"result":{"structuredContent":{"resources":[{"kind":"Pod"}],"tools":[3]}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_weather","inputSchema":{"type":"object","properties":{"inputSchema":{"type":"object"}}}}]}}"#,
        ] {
            assert!(!carries_hidden(clean, &*visible), "{clean}");
        }
    }
}
