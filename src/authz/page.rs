//! One pass over a JSON-RPC answer that may carry a `*/list` page: the envelope's and the
//! result's members are kept as raw text in their order, and the list array is split into
//! items, each kept as its raw members. Nothing is parsed twice, and writing it back
//! reproduces every member byte for byte (only whitespace between members is lost).
//!
//! Duplicate members in the envelope or the result make the whole answer unreadable (the
//! caller drops it); a duplicate inside an item makes that item unreadable (it is dropped).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Most members an object may have here: the duplicate check is a scan, so this keeps it
/// linear in the answer (an upstream object with more is unreadable).
pub(super) const MAX_MEMBERS: usize = 512;

/// The members of a result that hold list pages.
pub const LIST_MEMBERS: [&str; 4] = ["tools", "resources", "resourceTemplates", "prompts"];

/// A member name or short string, borrowed from the text when it holds no escapes.
#[derive(Debug, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// One list item: its raw members, or `None` when it is not an object with unique members.
pub type Item<'a> = Option<Vec<(Cow<'a, str>, &'a RawValue)>>;

/// A member of a result object.
pub enum ResultMember<'a> {
    Raw(&'a RawValue),
    /// A list member: its items, or `None` when it is not an array.
    List(Option<Vec<Item<'a>>>),
}

/// A member of the envelope.
pub enum EnvelopeMember<'a> {
    Raw(&'a RawValue),
    /// `result`: its members, or `None` when it is not an object.
    Result(Option<Vec<(Cow<'a, str>, ResultMember<'a>)>>),
}

/// The envelope's members in order.
pub type Envelope<'a> = Vec<(Cow<'a, str>, EnvelopeMember<'a>)>;

/// Parses an answer object; `None` when it is not a JSON object with unique members.
pub fn parse(text: &str) -> Option<Envelope<'_>> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let envelope = deserializer.deserialize_map(EnvelopeVisitor).ok()?;
    deserializer.end().ok()?;
    Some(envelope)
}

fn has_key<V>(members: &[(Cow<'_, str>, V)], key: &str) -> bool {
    members.iter().any(|(k, _)| k == key)
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC message")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut members = Vec::with_capacity(3);
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if members.len() >= MAX_MEMBERS || has_key(&members, &key) {
                return Err(M::Error::custom("duplicate member"));
            }
            let value = if key == "result" {
                EnvelopeMember::Result(map.next_value_seed(ResultSeed)?)
            } else {
                EnvelopeMember::Raw(map.next_value()?)
            };
            members.push((key, value));
        }
        Ok(members)
    }
}

/// Visits anything; keeps maps through `on_map`, drains the rest (serde_json insists that a
/// visited array or object is read to its end).
macro_rules! other_values_are_none {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}

struct ResultSeed;

impl<'de> DeserializeSeed<'de> for ResultSeed {
    type Value = Option<Vec<(Cow<'de, str>, ResultMember<'de>)>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(ResultVisitor)
    }
}

struct ResultVisitor;

impl<'de> Visitor<'de> for ResultVisitor {
    type Value = Option<Vec<(Cow<'de, str>, ResultMember<'de>)>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a result")
    }
    other_values_are_none!();
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut members = Vec::with_capacity(4);
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if members.len() >= MAX_MEMBERS || has_key(&members, &key) {
                return Err(M::Error::custom("duplicate member"));
            }
            let value = if LIST_MEMBERS.contains(&key.as_ref()) {
                ResultMember::List(map.next_value_seed(ListSeed)?)
            } else {
                ResultMember::Raw(map.next_value()?)
            };
            members.push((key, value));
        }
        Ok(Some(members))
    }
}

struct ListSeed;

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = Option<Vec<Item<'de>>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(ListVisitor)
    }
}

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Option<Vec<Item<'de>>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }
    other_values_are_none!();
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(1024));
        while let Some(item) = seq.next_element_seed(ItemSeed)? {
            items.push(item);
        }
        Ok(Some(items))
    }
}

struct ItemSeed;

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = Item<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list item")
    }
    other_values_are_none!();
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut members: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(6);
        let mut unique = true;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            unique &= members.len() < MAX_MEMBERS && !has_key(&members, &key);
            if unique {
                members.push((key, value));
            }
        }
        Ok(unique.then_some(members))
    }
}

/// The string value of `field` in an item, if it has one.
pub fn field<'a>(item: &[(Cow<'a, str>, &'a RawValue)], field: &str) -> Option<Cow<'a, str>> {
    let raw = item.iter().find(|(k, _)| k == field)?.1;
    serde_json::from_str::<Text<'a>>(raw.get()).ok().map(|t| t.0)
}

/// Appends a member name as a JSON string.
pub fn push_key(out: &mut String, key: &str) {
    if key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(key);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(key).to_string());
    }
}

/// Appends an object of raw members.
pub fn push_object<'a, V>(
    out: &mut String,
    members: &[(Cow<'a, str>, V)],
    mut value: impl FnMut(&mut String, &str, &V),
) {
    out.push('{');
    for (index, (key, member)) in members.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_key(out, key);
        out.push(':');
        value(out, key, member);
    }
    out.push('}');
}
