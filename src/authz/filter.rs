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

use serde_json::value::RawValue;

use super::page::{self, EnvelopeMember, ResultMember};
use super::page_cache::{self, PageCache};
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
    match (
        serde_json::from_str::<Cow<'_, str>>(raw),
        serde_json::from_str::<Cow<'_, str>>(id.as_json()),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The list requests of one client request and the caller's view.
pub struct ListFilter {
    requests: Vec<(RequestId, ListKind)>,
    visible: Visible,
    /// The upstream's cache of filtered pages and the caller's view key.
    cache: Option<(Arc<PageCache>, Arc<str>)>,
}

impl fmt::Debug for ListFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListFilter")
            .field("requests", &self.requests.len())
            .finish()
    }
}

/// The array member and the kind of its items, per list.
fn shape(kind: ListKind) -> (&'static str, Kind) {
    match kind {
        ListKind::Tools => ("tools", Kind::Tool),
        ListKind::Prompts => ("prompts", Kind::Prompt),
        ListKind::Resources => ("resources", Kind::Resource),
        ListKind::ResourceTemplates => ("resourceTemplates", Kind::Resource),
    }
}

/// The item field that names an item of `kind`'s list.
fn name_field(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Tools | ListKind::Prompts => "name",
        ListKind::Resources => "uri",
        ListKind::ResourceTemplates => "uriTemplate",
    }
}

impl ListFilter {
    /// A filter for the list requests of one client request (empty: nothing to filter).
    pub fn new(requests: Vec<(RequestId, ListKind)>, visible: Visible) -> Option<Self> {
        (!requests.is_empty()).then_some(Self {
            requests,
            visible,
            cache: None,
        })
    }

    /// Remembers filtered pages in `cache` under `view` (see [`page_cache`](super::page_cache)).
    pub fn with_cache(mut self, cache: Arc<PageCache>, view: Arc<str>) -> Self {
        self.cache = Some((cache, view));
        self
    }

    /// A page this view saw before, in one of the usual layouts: no parsing needed.
    fn cached(&self, text: &str) -> Option<Rewrite> {
        let (cache, view) = self.cache.as_ref()?;
        self.requests.iter().find_map(|(id, kind)| {
            let (result, layout) = page_cache::result_text(text, id.as_json())?;
            Some(match cache.get(view, *kind, result)? {
                None => Rewrite::Keep,
                Some(filtered) => Rewrite::Replace(page_cache::answer(layout, id.as_json(), &filtered)),
            })
        })
    }

    /// A complete JSON answer after filtering; an answer that cannot be filtered becomes an
    /// error for the request (`-31503`) instead of passing unfiltered.
    pub fn json_answer(&self, body: bytes::Bytes, request_id: Option<&RequestId>) -> bytes::Bytes {
        let rewrite = std::str::from_utf8(&body).map_or(Rewrite::Drop, |text| self.body(text));
        match rewrite {
            Rewrite::Keep => body,
            Rewrite::Replace(text) => bytes::Bytes::from(text),
            Rewrite::Drop => {
                tracing::warn!("upstream list answer could not be filtered; answered with an error");
                crate::error::jsonrpc_error(
                    request_id,
                    crate::error::CODE_UNAVAILABLE,
                    "Upstream answer could not be filtered",
                    None,
                )
            }
        }
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
            return if changed {
                Rewrite::Replace(format!("[{}]", rewritten.join(",")))
            } else {
                Rewrite::Keep
            };
        }
        if !trimmed.starts_with('{') {
            // Not a JSON-RPC message (an SSE priming event, a comment): nothing to filter.
            return Rewrite::Keep;
        }
        self.message(text)
    }

    /// Rewrites one JSON-RPC message if it answers one of the list requests.
    fn message(&self, text: &str) -> Rewrite {
        if let Some(hit) = self.cached(text) {
            return hit;
        }
        // An object the filter cannot read unambiguously (duplicate members, bad JSON) might
        // be read another way by the client: it never passes unfiltered.
        let Some(envelope) = page::parse(text) else {
            return Rewrite::Drop;
        };
        let id = envelope.iter().find_map(|(k, v)| match v {
            EnvelopeMember::Raw(raw) if k == "id" => Some(raw.get()),
            _ => None,
        });
        let Some((rid, kind)) = id.and_then(|id| self.requests.iter().find(|(rid, _)| same_id(id, rid))) else {
            return Rewrite::Keep;
        };
        let Some(result) = envelope.iter().find_map(|(k, v)| match v {
            EnvelopeMember::Result(result) if k == "result" => Some(result),
            _ => None,
        }) else {
            return Rewrite::Keep;
        };
        // Exactly `jsonrpc`, `id`, `result` in a usual layout: the result text can be cached
        // (three unique members around it make it exactly the result's value).
        let cache = self
            .cache
            .as_ref()
            .filter(|_| envelope.len() == 3)
            .and_then(|(cache, view)| Some((cache, view, page_cache::result_text(text, rid.as_json())?.0)));
        let members = result.as_deref();
        let Some(shown) = self.decide_items(*kind, members) else {
            if let Some((cache, view, raw)) = cache {
                cache.put(view, *kind, raw, None);
            }
            return Rewrite::Keep;
        };
        let mut filtered = String::with_capacity(text.len());
        write_result(&mut filtered, *kind, members, &shown);
        let mut out = String::with_capacity(text.len());
        page::push_object(&mut out, &envelope, |out, _, member| match member {
            EnvelopeMember::Raw(raw) => out.push_str(raw.get()),
            EnvelopeMember::Result(_) => out.push_str(&filtered),
        });
        if let Some((cache, view, raw)) = cache {
            cache.put(view, *kind, raw, Some(Arc::from(filtered)));
        }
        Rewrite::Replace(out)
    }

    /// Which items of the answer's list the caller may see (one decision per item), or
    /// `None` when the answer needs no rewrite (everything visible, no `cacheScope`).
    fn decide_items(&self, kind: ListKind, members: Option<&[(Cow<'_, str>, ResultMember<'_>)]>) -> Option<Vec<bool>> {
        let Some(members) = members else {
            return Some(Vec::new());
        };
        let (member, item_kind) = shape(kind);
        let field = name_field(kind);
        let list = members.iter().find_map(|(k, v)| match v {
            ResultMember::List(items) if k == member => Some(items.as_deref()),
            _ => None,
        });
        let shown: Vec<bool> = list
            .flatten()
            .unwrap_or_default()
            .iter()
            .map(|item| {
                item.as_deref()
                    .and_then(|fields| page::field(fields, field))
                    .is_some_and(|name| (self.visible)(item_kind, &name))
            })
            .collect();
        let unchanged =
            list.flatten().is_some() && shown.iter().all(|s| *s) && !members.iter().any(|(k, _)| k == "cacheScope");
        (!unchanged).then_some(shown)
    }
}

/// Writes the filtered result: the list keeps the items `shown` marks, `cacheScope` becomes
/// `"private"`, everything else is copied. A result that is not an object becomes an empty page.
fn write_result(
    out: &mut String,
    kind: ListKind,
    members: Option<&[(Cow<'_, str>, ResultMember<'_>)]>,
    shown: &[bool],
) {
    let (member, _) = shape(kind);
    let Some(members) = members else {
        // A result that is not an object cannot be shown safe: answer an empty page.
        out.push_str(&format!("{{\"{member}\":[]}}"));
        return;
    };
    let has_list = members.iter().any(|(k, _)| k == member);
    let start = out.len();
    page::push_object(out, members, |out, key, value| match value {
        ResultMember::Raw(_) if key == "cacheScope" => out.push_str("\"private\""),
        ResultMember::Raw(raw) => out.push_str(raw.get()),
        ResultMember::List(items) => {
            out.push('[');
            let mut first = true;
            for (index, item) in items.iter().flatten().enumerate() {
                // Only this answer's list is filtered; another list member (which no
                // well-formed answer has) keeps its readable items.
                let keep = if key == member {
                    shown.get(index).copied().unwrap_or(false)
                } else {
                    true
                };
                if let (true, Some(fields)) = (keep, item) {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    page::push_object(out, fields, |out, _, raw| out.push_str(raw.get()));
                }
            }
            out.push(']');
        }
    });
    if !has_list {
        // Keep the page well-formed for clients that expect the array.
        let array = format!("\"{member}\":[]{}", if members.is_empty() { "" } else { "," });
        out.insert_str(start + 1, &array);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{ListFilter, Rewrite};
    use crate::authz::Kind;
    use crate::mcp::{Body, ListKind, parse};

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
            Arc::new(|k: Kind, name: &str| {
                k != Kind::Prompt && (name.starts_with("get_") || name.starts_with("weather://"))
            }),
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
        assert_eq!(
            filter(ListKind::Tools).body(r#"{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"x"}}"#),
            Rewrite::Keep
        );
        assert_eq!(
            filter(ListKind::Tools).body(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"get_a"}]}}"#),
            Rewrite::Keep
        );
        assert_eq!(filter(ListKind::Tools).body(""), Rewrite::Keep);
        // Ambiguous answers never pass.
        assert_eq!(
            filter(ListKind::Tools)
                .body(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[]},"result":{"tools":[{"name":"delete_file"}]}}"#),
            Rewrite::Drop
        );
        assert_eq!(
            filter(ListKind::Tools)
                .body(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[],"tools":[{"name":"delete_file"}]}}"#),
            Rewrite::Drop
        );
    }

    #[test]
    fn sets_cache_scope_private_and_filters_batches_and_templates() {
        let page = r#"{"jsonrpc":"2.0","id":7,"result":{"resourceTemplates":[{"uriTemplate":"weather://{city}"},{"uriTemplate":"file:///{p}"}],"ttlMs":1000,"cacheScope":"public"}}"#;
        let out = filter(ListKind::ResourceTemplates).body(page);
        assert_eq!(
            out,
            Rewrite::Replace(r#"{"jsonrpc":"2.0","id":7,"result":{"resourceTemplates":[{"uriTemplate":"weather://{city}"}],"ttlMs":1000,"cacheScope":"private"}}"#.into())
        );
        let batch =
            r#"[{"jsonrpc":"2.0","id":6,"result":{}},{"jsonrpc":"2.0","id":7,"result":{"prompts":[{"name":"p"}]}}]"#;
        assert_eq!(
            filter(ListKind::Prompts).body(batch),
            Rewrite::Replace(
                r#"[{"jsonrpc":"2.0","id":6,"result":{}},{"jsonrpc":"2.0","id":7,"result":{"prompts":[]}}]"#.into()
            )
        );
        assert_eq!(
            filter(ListKind::Tools)
                .body(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":{"name":"get_x"},"nextCursor":"c"}}"#),
            Rewrite::Replace(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[],"nextCursor":"c"}}"#.into())
        );
        assert_eq!(
            filter(ListKind::Tools).body(r#"{"jsonrpc":"2.0","id":7,"result":"tools"}"#),
            Rewrite::Replace(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}"#.into())
        );
        assert_eq!(
            filter(ListKind::Tools).body(r#"{"jsonrpc":"2.0","id":7,"result":{"nextCursor":"c"}}"#),
            Rewrite::Replace(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[],"nextCursor":"c"}}"#.into())
        );
    }

    #[test]
    fn a_cached_page_is_what_the_full_path_writes() {
        let cache = Arc::new(super::PageCache::default());
        let page = |id: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"get_weather"}},{{"name":"delete_file"}}],"nextCursor":"c"}}}}"#
            )
        };
        let with_view = |view: &str, request: &str| {
            ListFilter::new(
                vec![(id(request), ListKind::Tools)],
                Arc::new(|_: Kind, name: &str| name.starts_with("get_")),
            )
            .unwrap()
            .with_cache(Arc::clone(&cache), Arc::from(view))
        };
        let expected = |id: &str| {
            Rewrite::Replace(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"get_weather"}}],"nextCursor":"c"}}}}"#
            ))
        };
        // First sight: parsed and remembered; then other ids hit the cache with the same answer.
        assert_eq!(with_view("v1", "1").body(&page("1")), expected("1"));
        assert_eq!(with_view("v1", "\"abc\"").body(&page("\"abc\"")), expected("\"abc\""));
        // Another view never sees this view's page: it is decided afresh.
        let other = ListFilter::new(vec![(id("2"), ListKind::Tools)], Arc::new(|_: Kind, _: &str| true))
            .unwrap()
            .with_cache(Arc::clone(&cache), Arc::from("v2"));
        assert_eq!(other.body(&page("2")), Rewrite::Keep);
        // A fourth member makes the answer uncacheable; it still gets the full path.
        let extra = page("3").replacen('{', r#"{"x":1,"#, 1);
        assert!(matches!(with_view("v1", "3").body(&extra), Rewrite::Replace(t) if t.starts_with(r#"{"x":1,"#)));
    }
}
