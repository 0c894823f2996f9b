//! Filtering of `tools/list`, `resources/list`, `resources/templates/list` and `prompts/list`
//! results on the way back (stage 10): each page keeps only what the caller may use.
//!
//! Every answer in the filtered body or stream is judged by its content, never by its id: any
//! `result` with a `tools`, `prompts`, `resources` or `resourceTemplates` member has each of
//! them filtered by its own kind. An upstream that echoes an id in another spelling (`-0` as
//! `0`), two batch elements sharing an id, or a list answer replayed on a resumed GET stream
//! therefore cannot carry an unfiltered page past the gateway.
//!
//! The answer is rewritten member by member from the upstream's own text: cursors, unknown
//! fields and item bytes are kept as they were; only the list arrays change, and a
//! `cacheScope` becomes `"private"` (a filtered page must not be shared across callers).
//! An item the filter cannot read (not an object, duplicate keys, no name) is dropped; an
//! answer it cannot read unambiguously is never passed on.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::hidden;
use super::page::{self, EnvelopeMember, ResultMember};
use super::page_cache::{self, PageCache};
use super::policy::Kind;
use crate::mcp::RequestId;
use crate::mcp::params::ParamHeaders;

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

/// The caller's view of list items, with the upstream's page cache.
pub struct ListFilter {
    visible: Visible,
    /// The upstream's cache of filtered pages and the caller's view key.
    cache: Option<(Arc<PageCache>, Arc<str>)>,
    /// Where the `Mcp-Param-*` headers of the tools on a page are recorded.
    learner: Option<Arc<ParamHeaders>>,
    /// The caller sees only part of the upstream (false: the filter only learns).
    restricted: bool,
}

impl fmt::Debug for ListFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListFilter")
            .field("cached", &self.cache.is_some())
            .finish()
    }
}

/// The answer a request gets instead of an upstream answer the filter could not read.
pub fn unfilterable(request_id: Option<&RequestId>) -> bytes::Bytes {
    tracing::warn!("upstream answer could not be filtered; answered with an error");
    crate::mcp::jsonrpc_error(
        request_id,
        crate::mcp::CODE_UNAVAILABLE,
        "Upstream answer could not be filtered",
        None,
    )
}

/// The item kind and the field naming an item, for a list member of a result.
fn list_of(member: &str) -> Option<(Kind, &'static str)> {
    match member {
        "tools" => Some((Kind::Tool, "name")),
        "prompts" => Some((Kind::Prompt, "name")),
        "resources" => Some((Kind::Resource, "uri")),
        "resourceTemplates" => Some((Kind::Resource, "uriTemplate")),
        _ => None,
    }
}

/// Per list member of a result: which items stay (`None` for other members).
type Shown = Vec<Option<Vec<bool>>>;

impl ListFilter {
    /// A filter deciding with `visible`.
    pub fn new(visible: Visible) -> Self {
        Self {
            visible,
            cache: None,
            learner: None,
            restricted: true,
        }
    }

    /// A filter that shows everything and only learns the pages' `Mcp-Param-*` headers.
    pub fn learning_only(learner: Arc<ParamHeaders>) -> Self {
        Self {
            visible: Arc::new(|_, _| true),
            cache: None,
            learner: Some(learner),
            restricted: false,
        }
    }

    /// Records the `Mcp-Param-*` headers of the tools on every page in `learner`.
    #[must_use]
    pub fn with_learner(mut self, learner: Arc<ParamHeaders>) -> Self {
        self.learner = Some(learner);
        self
    }

    /// Whether the answer is this caller's view (and must not be shared).
    pub fn restricted(&self) -> bool {
        self.restricted
    }

    /// Remembers filtered pages in `cache` under `view` (see [`page_cache`](super::page_cache)).
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<PageCache>, view: Arc<str>) -> Self {
        self.cache = Some((cache, view));
        self
    }

    /// A complete JSON answer after filtering; an answer that cannot be filtered becomes an
    /// error for the request (`-31503`) instead of passing unfiltered.
    pub fn json_answer(&self, body: bytes::Bytes, request_id: Option<&RequestId>) -> bytes::Bytes {
        let rewrite = std::str::from_utf8(&body).map_or(Rewrite::Drop, |text| self.body(text));
        match rewrite {
            Rewrite::Keep => body,
            Rewrite::Replace(text) => bytes::Bytes::from(text),
            Rewrite::Drop => unfilterable(request_id),
        }
    }

    /// A complete SSE answer (read whole) after filtering event by event; an event that cannot
    /// be filtered is dropped, and the request gets an error in its place (`-31503`).
    pub fn sse_answer(&self, body: &[u8], request_id: Option<&RequestId>) -> bytes::Bytes {
        use crate::mcp::sse;
        let mut out = bytes::BytesMut::with_capacity(body.len());
        let mut failed = false;
        for raw in sse::split_events(body) {
            let Some(event) = sse::parse_event(raw) else {
                failed = true;
                continue;
            };
            if !event.has_data {
                out.extend_from_slice(raw);
                continue;
            }
            match self.body(&event.data) {
                Rewrite::Keep => out.extend_from_slice(raw),
                Rewrite::Replace(text) => out.extend_from_slice(&sse::write_event(event.name, event.id, &text)),
                Rewrite::Drop => failed = true,
            }
        }
        if failed && request_id.is_some() {
            let error = unfilterable(request_id);
            out.extend_from_slice(&sse::write_event(
                Some("message"),
                None,
                &String::from_utf8_lossy(&error),
            ));
        }
        out.freeze()
    }

    /// Rewrites a whole JSON body or one SSE event's data: one message or a batch of them.
    pub fn body(&self, text: &str) -> Rewrite {
        // Anything that cannot hold a list page or a definition passes without being parsed.
        if !hidden::might_hold_one(text) {
            return Rewrite::Keep;
        }
        let trimmed = text.trim_start();
        if !trimmed.starts_with('[') {
            return self.message(text);
        }
        let Ok(items) = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text) else {
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
        if changed {
            Rewrite::Replace(format!("[{}]", rewritten.join(",")))
        } else {
            Rewrite::Keep
        }
    }

    /// A page this view saw before, in one of the usual layouts: no parsing needed.
    fn cached(&self, text: &str) -> Option<Rewrite> {
        let (cache, view) = self.cache.as_ref()?;
        let (result, layout, id) = page_cache::split(text)?;
        Some(match cache.get(view, result)? {
            None => Rewrite::Keep,
            Some(filtered) => Rewrite::Replace(page_cache::answer(layout, id, &filtered)),
        })
    }

    /// Rewrites one JSON-RPC message if its result holds list members.
    fn message(&self, text: &str) -> Rewrite {
        if let Some(hit) = self.cached(text) {
            return hit;
        }
        // An object the filter cannot read unambiguously (duplicate members, bad JSON, a BOM)
        // might be read another way by the client: it never passes unfiltered.
        let Some(envelope) = page::parse(text) else {
            return Rewrite::Drop;
        };
        let Some(Some(members)) = envelope.iter().find_map(|(k, v)| match v {
            EnvelopeMember::Result(result) if k == "result" => Some(result.as_deref()),
            _ => None,
        }) else {
            if !self.restricted {
                return Rewrite::Keep;
            }
            // No result (an error, a request, a notification) or not an object: no list
            // member to rewrite, but a definition may be smuggled anywhere in it.
            return self.unless_hidden(text, Rewrite::Keep);
        };
        // Exactly `jsonrpc`, `id`, `result` in a usual layout: the result text can be cached
        // (three unique members around it make it exactly the result's value).
        let cache = self
            .cache
            .as_ref()
            .filter(|_| envelope.len() == 3)
            .and_then(|(cache, view)| Some((cache, view, page_cache::split(text)?.0)));
        if let Some(learner) = self
            .learner
            .as_ref()
            .filter(|learner| text.contains("x-mcp-header") || !learner.is_empty())
        {
            learn(learner, members);
        }
        if !self.restricted {
            return Rewrite::Keep;
        }
        let Some(shown) = self.decide(members) else {
            if hidden::carries_hidden(text, &*self.visible) {
                return Rewrite::Drop;
            }
            if let Some((cache, view, raw)) = cache {
                cache.put(view, raw, None);
            }
            return Rewrite::Keep;
        };
        let mut filtered = String::with_capacity(text.len());
        write_result(&mut filtered, members, &shown);
        let mut out = String::with_capacity(text.len());
        page::push_object(&mut out, &envelope, |out, _, member| match member {
            EnvelopeMember::Raw(raw) => out.push_str(raw.get()),
            EnvelopeMember::Result(_) => out.push_str(&filtered),
        });
        // Only what passed the scan is cached: a cache hit is never scanned again.
        if hidden::carries_hidden(&out, &*self.visible) {
            return Rewrite::Drop;
        }
        if let Some((cache, view, raw)) = cache {
            cache.put(view, raw, Some(Arc::from(filtered)));
        }
        Rewrite::Replace(out)
    }

    /// `rewrite`, or `Drop` when `text` smuggles a definition the caller may not see.
    fn unless_hidden(&self, text: &str, rewrite: Rewrite) -> Rewrite {
        if hidden::carries_hidden(text, &*self.visible) {
            Rewrite::Drop
        } else {
            rewrite
        }
    }

    /// One decision per item of each list member, or `None` when nothing changes (no list
    /// member, everything visible, no `cacheScope`).
    fn decide(&self, members: &[(Cow<'_, str>, ResultMember<'_>)]) -> Option<Shown> {
        let mut any_list = false;
        let mut changed = false;
        let shown: Shown = members
            .iter()
            .map(|(key, value)| {
                let ResultMember::List(items) = value else {
                    changed |= key == "cacheScope";
                    return None;
                };
                let (kind, field) = list_of(key)?;
                any_list = true;
                let Some(items) = items else {
                    // Not an array: nothing in it can be shown.
                    changed = true;
                    return Some(Vec::new());
                };
                let decisions: Vec<bool> = items
                    .iter()
                    .map(|item| {
                        item.as_deref()
                            .and_then(|fields| page::field(fields, field))
                            .is_some_and(|name| (self.visible)(kind, &name))
                    })
                    .collect();
                changed |= decisions.iter().any(|shown| !shown);
                Some(decisions)
            })
            .collect();
        (any_list && changed).then_some(shown)
    }
}

/// Records the `Mcp-Param-*` headers of every tool on a page (all of them: which tools a
/// caller sees does not change what a tool's headers are).
fn learn(learner: &ParamHeaders, members: &[(Cow<'_, str>, ResultMember<'_>)]) {
    for (key, value) in members {
        let (true, ResultMember::List(Some(items))) = (key == "tools", value) else {
            continue;
        };
        for fields in items.iter().flatten() {
            let name = page::field(fields, "name");
            let schema = fields
                .iter()
                .find(|(k, _)| k == "inputSchema")
                .map(|(_, raw)| raw.get());
            match (name, schema) {
                (Some(name), Some(schema)) if schema.contains("x-mcp-header") => learner.learn(&name, schema),
                // A definition that mirrors nothing (any more) forgets what it mirrored.
                (Some(name), _) => learner.forget(&name),
                _ => {}
            }
        }
    }
}

/// Writes the filtered result: list members keep the items `shown` marks, `cacheScope`
/// becomes `"private"`, everything else is copied.
fn write_result(out: &mut String, members: &[(Cow<'_, str>, ResultMember<'_>)], shown: &Shown) {
    let mut index = 0;
    page::push_object(out, members, |out, key, value| {
        let decisions = shown.get(index).and_then(Option::as_deref);
        index += 1;
        match value {
            ResultMember::Raw(_) if key == "cacheScope" => out.push_str("\"private\""),
            ResultMember::Raw(raw) => out.push_str(raw.get()),
            ResultMember::List(items) => {
                out.push('[');
                let mut first = true;
                for (position, item) in items.iter().flatten().enumerate() {
                    let keep = decisions.and_then(|d| d.get(position)).copied().unwrap_or(false);
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
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{ListFilter, Rewrite};
    use crate::authz::Kind;

    fn filter() -> ListFilter {
        ListFilter::new(Arc::new(|k: Kind, name: &str| {
            k != Kind::Prompt && (name.starts_with("get_") || name.starts_with("weather://"))
        }))
    }

    fn replaced(text: &str) -> Rewrite {
        Rewrite::Replace(text.into())
    }

    #[test]
    fn keeps_cursor_unknown_fields_and_allowed_items_whatever_the_id() {
        let page = r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"get_weather","x":1},{"name":"delete_file"},{"name":"get_x","name":"delete_file"},7,{"title":"no name"}],"nextCursor":"abc","_meta":{"k":[1]}}}"#;
        let expected = r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"get_weather","x":1}],"nextCursor":"abc","_meta":{"k":[1]}}}"#;
        assert_eq!(filter().body(page), replaced(expected));
        // Any id: an upstream answering `-0` with `0` is filtered all the same.
        assert_eq!(
            filter().body(&page.replace(":7,", ":0,")),
            replaced(&expected.replace(":7,", ":0,"))
        );
        // Errors, other results and all-visible pages pass untouched.
        assert_eq!(
            filter().body(r#"{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"tools"}}"#),
            Rewrite::Keep
        );
        assert_eq!(
            filter().body(r#"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"#),
            Rewrite::Keep
        );
        assert_eq!(
            filter().body(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"get_a"}]}}"#),
            Rewrite::Keep
        );
        assert_eq!(filter().body(""), Rewrite::Keep);
        // Ambiguous or unreadable answers never pass.
        for bad in [
            r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[]},"result":{"tools":[{"name":"delete_file"}]}}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[],"tools":[{"name":"delete_file"}]}}"#,
            "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"delete_file\"}]}}",
            r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"delete_file"}]}} x"#,
        ] {
            assert_eq!(filter().body(bad), Rewrite::Drop, "{bad}");
        }
        // Escaped member names are read as the client reads them.
        assert_eq!(
            filter().body(r#"{"jsonrpc":"2.0","id":7,"result":{"\u0074ools":[{"name":"delete_file"}]}}"#),
            replaced(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}"#)
        );
    }

    #[test]
    fn every_list_member_is_filtered_by_its_own_kind() {
        let page = r#"{"jsonrpc":"2.0","id":7,"result":{"resourceTemplates":[{"uriTemplate":"weather://{city}"},{"uriTemplate":"file:///{p}"}],"ttlMs":1000,"cacheScope":"public"}}"#;
        assert_eq!(
            filter().body(page),
            replaced(
                r#"{"jsonrpc":"2.0","id":7,"result":{"resourceTemplates":[{"uriTemplate":"weather://{city}"}],"ttlMs":1000,"cacheScope":"private"}}"#
            )
        );
        // Two batch answers sharing an id, each a different list: both filtered.
        let batch = r#"[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_a"},{"name":"rm"}]}},{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"p"}]}}]"#;
        assert_eq!(
            filter().body(batch),
            replaced(
                r#"[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_a"}]}},{"jsonrpc":"2.0","id":1,"result":{"prompts":[]}}]"#
            )
        );
        // A page carrying two lists, or a list that is not an array.
        assert_eq!(
            filter().body(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"get_a"}],"prompts":[{"name":"p"}],"resources":{"uri":"x"}}}"#),
            replaced(r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"get_a"}],"prompts":[],"resources":[]}}"#)
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
        let with_view = |view: &str| filter().with_cache(Arc::clone(&cache), Arc::from(view));
        let expected = |id: &str| {
            replaced(&format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"get_weather"}}],"nextCursor":"c"}}}}"#
            ))
        };
        // First sight: parsed and remembered; then other ids hit the cache with the same answer.
        assert_eq!(with_view("v1").body(&page("1")), expected("1"));
        assert_eq!(with_view("v1").body(&page("\"abc\"")), expected("\"abc\""));
        assert_eq!(with_view("v1").body(&page("-12")), expected("-12"));
        // Another view never sees this view's page: it is decided afresh.
        let everything =
            ListFilter::new(Arc::new(|_: Kind, _: &str| true)).with_cache(Arc::clone(&cache), Arc::from("v2"));
        assert_eq!(everything.body(&page("2")), Rewrite::Keep);
        // A fourth member makes the answer uncacheable; it still gets the full path.
        let extra = page("3").replacen('{', r#"{"x":1,"#, 1);
        assert!(matches!(with_view("v1").body(&extra), Rewrite::Replace(t) if t.starts_with(r#"{"x":1,"#)));
    }
}
