//! `PageCache`: filtered list pages remembered per caller view, so the same upstream page
//! (the usual case: every session lists the same tools) is not parsed again.
//!
//! A hit needs the answer to be exactly `{"jsonrpc":"2.0","id":ID,"result":R}` or
//! `{"result":R,"jsonrpc":"2.0","id":ID}`, where ID is an integer or a string without escapes
//! or quotes (so the layout splits one way only), and a result text `R` byte-equal to one the
//! full parser validated and filtered before for the same view: such a text is one valid JSON
//! value, so every parser reads the answer the same way, and the filtered page is the one the
//! full path would write. Anything else takes the full path.
//!
//! The view is the exact input of the decisions (auth method, roles, permissions, scopes),
//! encoded injectively; the cache belongs to one upstream of one config generation, so a
//! reload starts empty. Bounded: at most 64 pages of at most 256 KiB each.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::auth::Principal;

const MAX_ENTRIES: usize = 64;
const MAX_RESULT_BYTES: usize = 256 * 1024;

struct Entry {
    view: Arc<str>,
    result: Box<str>,
    /// The filtered result text; `None`: the page passes unchanged.
    filtered: Option<Arc<str>>,
}

/// Filtered pages of one upstream.
#[derive(Default)]
pub struct PageCache {
    entries: Mutex<Vec<Entry>>,
}

impl fmt::Debug for PageCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.entries.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("PageCache").field("entries", &len).finish()
    }
}

/// The decision inputs of a principal, length-prefixed so no two views share an encoding.
pub fn view_of(principal: &Principal) -> Arc<str> {
    let mut out = String::with_capacity(64);
    out.push_str(principal.method.label());
    for list in [&principal.roles, &principal.permissions, &principal.scopes] {
        out.push('|');
        out.push_str(&list.len().to_string());
        for item in list {
            out.push(':');
            out.push_str(&item.len().to_string());
            out.push(':');
            out.push_str(item);
        }
    }
    Arc::from(out)
}

impl PageCache {
    /// The remembered outcome for `result` (`Some(None)`: unchanged).
    pub fn get(&self, view: &str, result: &str) -> Option<Option<Arc<str>>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .find(|e| e.result.len() == result.len() && *e.view == *view && *e.result == *result)
            .map(|e| e.filtered.clone())
    }

    /// Remembers the outcome for a result text the full parser validated.
    pub fn put(&self, view: &Arc<str>, result: &str, filtered: Option<Arc<str>>) {
        if result.len() > MAX_RESULT_BYTES {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            // The oldest entry goes: pages change rarely, views are few.
            entries.remove(0);
        }
        entries.push(Entry {
            view: Arc::clone(view),
            result: result.into(),
            filtered,
        });
    }
}

/// The length of a leading id token: an integer, or a string without escapes or quotes.
fn id_len(text: &str) -> Option<usize> {
    if let Some(rest) = text.strip_prefix('"') {
        let end = rest.find('"')?;
        return (!rest[..end].contains('\\')).then_some(end + 2);
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let count = digits.bytes().take_while(u8::is_ascii_digit).count();
    (count > 0).then_some(text.len() - digits.len() + count)
}

/// The result text, layout and id text of an answer in one of the two usual layouts.
pub fn split(text: &str) -> Option<(&str, Layout, &str)> {
    if let Some(rest) = text.strip_prefix(r#"{"jsonrpc":"2.0","id":"#) {
        let (id, rest) = rest.split_at(id_len(rest)?);
        let result = rest.strip_prefix(r#","result":"#)?.strip_suffix('}')?;
        return Some((result, Layout::IdFirst, id));
    }
    let rest = text.strip_prefix(r#"{"result":"#)?.strip_suffix('}')?;
    // The id ends the text: a string (find its opening quote) or an integer.
    let start = if let Some(open) = rest.strip_suffix('"') {
        open.rfind('"')?
    } else {
        let digits = rest.bytes().rev().take_while(u8::is_ascii_digit).count();
        let start = rest.len() - digits;
        if rest[..start].ends_with('-') { start - 1 } else { start }
    };
    let (rest, id) = rest.split_at(start);
    if id_len(id) != Some(id.len()) {
        return None;
    }
    let result = rest.strip_suffix(r#","jsonrpc":"2.0","id":"#)?;
    Some((result, Layout::ResultFirst, id))
}

/// Where the result sits in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    IdFirst,
    ResultFirst,
}

/// The answer with `result` in `layout`.
pub fn answer(layout: Layout, id: &str, result: &str) -> String {
    match layout {
        Layout::IdFirst => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#),
        Layout::ResultFirst => format!(r#"{{"result":{result},"jsonrpc":"2.0","id":{id}}}"#),
    }
}

#[cfg(test)]
mod tests {
    use super::{Layout, answer, split, view_of};
    use crate::auth::Principal;

    #[test]
    fn views_are_injective_and_layouts_exact() {
        let mut a = Principal::anonymous();
        a.roles = vec!["a|1:b".into()];
        let mut b = Principal::anonymous();
        b.roles = vec!["a".into(), "b".into()];
        assert_ne!(view_of(&a), view_of(&b));
        let text = r#"{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}"#;
        assert_eq!(split(text), Some((r#"{"tools":[]}"#, Layout::IdFirst, "7")));
        let other = r#"{"result":{"tools":[]},"jsonrpc":"2.0","id":"x"}"#;
        assert_eq!(split(other), Some((r#"{"tools":[]}"#, Layout::ResultFirst, r#""x""#)));
        assert_eq!(answer(Layout::ResultFirst, r#""x""#, r#"{"tools":[]}"#), other);
        assert_eq!(
            split(r#"{"result":{},"jsonrpc":"2.0","id":-3}"#),
            Some(("{}", Layout::ResultFirst, "-3"))
        );
        for odd in [
            format!("{text} "),
            r#"{"jsonrpc":"2.0","id":"a"b","result":{}}"#.to_string(),
            r#"{"jsonrpc":"2.0","id":null,"result":{}}"#.to_string(),
            r#"{"result":{},"jsonrpc":"2.0","id":1.5}"#.to_string(),
        ] {
            assert_eq!(split(&odd), None, "{odd}");
        }
    }
}
