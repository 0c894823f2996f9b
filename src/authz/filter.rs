//! Filtering of `tools/list`, `resources/list`, `resources/templates/list` and `prompts/list`
//! results on the way back (stage 10): each page keeps only what the caller may use.
//!
//! The answer is rewritten member by member from the upstream's own text: cursors, unknown
//! fields and item bytes are kept as they were; only the list array changes, and a
//! `cacheScope` becomes `"private"` (a filtered page must not be shared across callers).
//! An item the filter cannot read (not an object, duplicate keys, no name) is dropped.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::policy::Kind;
use crate::mcp::{ListKind, RequestId};

/// Decides whether the caller may see one item.
pub type Visible = Arc<dyn Fn(Kind, &str) -> bool + Send + Sync>;

/// What to do with one upstream message.
#[derive(Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// Pass the bytes as they are.
    Keep,
    /// Send this text instead.
    Replace(String),
    /// Unreadable where it had to be read: never pass it on.
    Drop,
}

/// Whether a response's raw id is the request's id (strings compared decoded, so an upstream
/// that re-escapes `"a/b"` as `"a\/b"` is still recognised).
fn same_id(raw: &str, id: &RequestId) -> bool {
    if raw == id.as_json() {
        return true;
    }
    match (serde_json::from_str::<Cow<'_, str>>(raw), serde_json::from_str::<Cow<'_, str>>(id.as_json())) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The list requests of one client request and the caller's view.
pub struct ListFilter {
    requests: Vec<(RequestId, ListKind)>,
    visible: Visible,
}

impl fmt::Debug for ListFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListFilter").field("requests", &self.requests.len()).finish()
    }
}

/// A JSON object's members in their order, values left as raw text.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for MembersVisitor<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members: Vec<(Cow<'a, str>, &'a RawValue)> = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    if members.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom("duplicate key"));
                    }
                    members.push((key, value));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor(std::marker::PhantomData))
    }
}

impl Members<'_> {
    fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    fn write(&self, replace: impl Fn(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(256);
        out.push('{');
        for (index, (key, value)) in self.0.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::Value::from(key.as_ref()).to_string());
            out.push(':');
            match replace(key) {
                Some(new) => out.push_str(&new),
                None => out.push_str(value.get()),
            }
        }
        out.push('}');
        out
    }
}

#[derive(Deserialize)]
struct ItemName<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "uriTemplate")]
    uri_template: Option<Cow<'a, str>>,
}

/// The array member and the item field that names an item, per list.
fn shape(kind: ListKind) -> (&'static str, Kind) {
    match kind {
        ListKind::Tools => ("tools", Kind::Tool),
        ListKind::Prompts => ("prompts", Kind::Prompt),
        ListKind::Resources | ListKind::ResourceTemplates => (
            if kind == ListKind::Resources { "resources" } else { "resourceTemplates" },
            Kind::Resource,
        ),
    }
}

impl ListFilter {
    /// A filter for the list requests of one client request (empty: nothing to filter).
    pub fn new(requests: Vec<(RequestId, ListKind)>, visible: Visible) -> Option<Self> {
        (!requests.is_empty()).then_some(Self { requests, visible })
    }

    /// Rewrites a whole JSON body or one SSE event's data: one response or a batch of them.
    pub fn body(&self, text: &str) -> Rewrite {
        let trimmed = text.trim_start();
        if trimmed.starts_with('[') {
            let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(text) else {
                return Rewrite::Drop;
            };
            let mut changed = false;
            let mut rewritten: Vec<Cow<'_, str>> = Vec::with_capacity(items.len());
            for item in &items {
                match self.message(item.get()) {
                    Rewrite::Keep => rewritten.push(Cow::Borrowed(item.get())),
                    Rewrite::Replace(new) => {
                        changed = true;
                        rewritten.push(Cow::Owned(new));
                    }
                    Rewrite::Drop => return Rewrite::Drop,
                }
            }
            return if changed { Rewrite::Replace(format!("[{}]", rewritten.join(","))) } else { Rewrite::Keep };
        }
        if !trimmed.starts_with('{') {
            // Not a JSON-RPC message (an SSE priming event, a comment): nothing to filter.
            return Rewrite::Keep;
        }
        self.message(text)
    }

    /// Rewrites one JSON-RPC message if it answers one of the list requests.
    fn message(&self, text: &str) -> Rewrite {
        // An object the filter cannot read unambiguously (duplicate members, bad JSON) might
        // be read another way by the client: it never passes unfiltered.
        let Ok(envelope) = serde_json::from_str::<Members<'_>>(text) else {
            return Rewrite::Drop;
        };
        let Some(id) = envelope.get("id") else {
            return Rewrite::Keep;
        };
        let Some((_, kind)) = self.requests.iter().find(|(rid, _)| same_id(id.get(), rid)) else {
            return Rewrite::Keep;
        };
        let Some(result) = envelope.get("result") else {
            return Rewrite::Keep;
        };
        match self.result(*kind, result.get()) {
            Some(new_result) => Rewrite::Replace(envelope.write(|key| (key == "result").then(|| new_result.clone()))),
            None => Rewrite::Keep,
        }
    }

    fn result(&self, kind: ListKind, text: &str) -> Option<String> {
        let (member, item_kind) = shape(kind);
        let Ok(members) = serde_json::from_str::<Members<'_>>(text) else {
            // A result that is not an object cannot be shown safe: answer an empty page.
            return Some(format!("{{\"{member}\":[]}}"));
        };
        let list = members.get(member);
        let items: Vec<&RawValue> = match list.map(|l| serde_json::from_str(l.get())) {
            Some(Ok(items)) => items,
            // No list, or not an array: nothing the caller could be shown.
            None | Some(Err(_)) => Vec::new(),
        };
        let kept: Vec<&str> = items
            .iter()
            .filter(|item| {
                let Ok(probe) = serde_json::from_str::<ItemName<'_>>(item.get()) else {
                    return false;
                };
                let name = match kind {
                    ListKind::Tools | ListKind::Prompts => probe.name,
                    ListKind::Resources => probe.uri,
                    ListKind::ResourceTemplates => probe.uri_template,
                };
                name.is_some_and(|n| (self.visible)(item_kind, &n))
            })
            .map(|item| item.get())
            .collect();
        let has_scope = members.get("cacheScope").is_some();
        if kept.len() == items.len() && list.is_some() && !has_scope {
            return None;
        }
        let array = format!("[{}]", kept.join(","));
        let mut rewritten = members.write(|key| match key {
            k if k == member => Some(array.clone()),
            "cacheScope" => Some("\"private\"".into()),
            _ => None,
        });
        if list.is_none() {
            // Keep the page well-formed for clients that expect the array.
            rewritten.insert_str(1, &format!("\"{member}\":[]{}", if members.0.is_empty() { "" } else { "," }));
        }
        Some(rewritten)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{ListFilter, Rewrite};
    use crate::authz::Kind;
    use crate::mcp::{ListKind, parse, Body};

    fn id(text: &str) -> crate::mcp::RequestId {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{text},"method":"tools/list"}}"#);
        match parse(body.as_bytes(), false) {
            Ok(Body::Single(m)) => m.id.unwrap(),
            other => panic!("{other:?}"),
        }
    }

    fn filter(kind: ListKind) -> ListFilter {
        ListFilter::new(
            vec![(id("7"), kind)],
            Arc::new(|k: Kind, name: &str| k != Kind::Prompt && (name.starts_with("get_") || name.starts_with("weather://"))),
        )
        .unwrap()
    }

    #[test]
    fn keeps_cursor_unknown_fields_and_allowed_items() {
        let page = r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"get_weather","x":1},{"name":"delete_file"},{"name":"get_x","name":"delete_file"},7,{"title":"no name"}],"nextCursor":"abc","_meta":{"k":[1]}}}"#;
        let out = filter(ListKind::Tools).body(page);
        assert_eq!(
            out,
            Rewrite::Replace(
                r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"get_weather","x":1}],"nextCursor":"abc","_meta":{"k":[1]}}}"#.into()
            )
        );
        // Answers to other ids and errors pass untouched; an all-allowed page is not rewritten.
        assert_eq!(filter(ListKind::Tools).body(&page.replace(":7,", ":8,")), Rewrite::Keep);
        assert_eq!(filter(ListKind::Tools).body(r#"{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"x"}}"#), Rewrite::Keep);
        assert_eq!(filter(ListKind::Tools).body(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"get_a"}]}}"#), Rewrite::Keep);
        assert_eq!(filter(ListKind::Tools).body(""), Rewrite::Keep);
        // Ambiguous answers never pass.
        assert_eq!(filter(ListKind::Tools).body(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[]},"result":{"tools":[{"name":"delete_file"}]}}"#), Rewrite::Drop);
        assert_eq!(filter(ListKind::Tools).body(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[],"tools":[{"name":"delete_file"}]}}"#), Rewrite::Replace(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}"#.into()));
    }

    #[test]
    fn sets_cache_scope_private_and_filters_batches_and_templates() {
        let page = r#"{"jsonrpc":"2.0","id":7,"result":{"resourceTemplates":[{"uriTemplate":"weather://{city}"},{"uriTemplate":"file:///{p}"}],"ttlMs":1000,"cacheScope":"public"}}"#;
        let out = filter(ListKind::ResourceTemplates).body(page);
        assert_eq!(
            out,
            Rewrite::Replace(r#"{"jsonrpc":"2.0","id":7,"result":{"resourceTemplates":[{"uriTemplate":"weather://{city}"}],"ttlMs":1000,"cacheScope":"private"}}"#.into())
        );
        let batch = r#"[{"jsonrpc":"2.0","id":6,"result":{}},{"jsonrpc":"2.0","id":7,"result":{"prompts":[{"name":"p"}]}}]"#;
        assert_eq!(
            filter(ListKind::Prompts).body(batch),
            Rewrite::Replace(r#"[{"jsonrpc":"2.0","id":6,"result":{}},{"jsonrpc":"2.0","id":7,"result":{"prompts":[]}}]"#.into())
        );
        assert_eq!(
            filter(ListKind::Tools).body(r#"{"jsonrpc":"2.0","id":7,"result":{"nextCursor":"c"}}"#),
            Rewrite::Replace(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[],"nextCursor":"c"}}"#.into())
        );
    }
}
