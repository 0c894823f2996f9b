//! The strictness pass over an untrusted JSON body: one walk over the whole document that
//! rejects duplicate member names at every depth and control characters in member names.
//! serde_json alone keeps the last duplicate inside `Value`s and raw values, while upstream
//! parsers may keep the first, so ambiguity is refused rather than resolved.
//!
//! The same walk refuses what a case-insensitive decoder (Go's `encoding/json`) would read
//! differently from the policy: two members of one object that fold to the same name, at any
//! depth below the envelope; and in `params`, `params.ref` and `params.notifications`, a member
//! that folds to a name the policy reads without being it (`Name`, `ſcope`, `\u212Aey`). The
//! envelope itself is typed and refuses every unknown member.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::fold::{fold_eq, folded};

/// Why a body failed the strictness pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictError {
    /// Not JSON at all (syntax, encoding, trailing data, nesting deeper than 128).
    Syntax(String),
    /// A member name appears twice in one object.
    DuplicateKey(String),
    /// A member name contains a control character.
    ControlCharInKey,
    /// A member name a case-insensitive decoder would read as another member (the name).
    AmbiguousKey(String),
}

/// Walks `body` once; `Ok` means it is one well-formed JSON value without ambiguity.
pub fn check(body: &[u8]) -> Result<(), StrictError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = (&mut de).deserialize_any(Walk(Place::Envelope));
    match result {
        Ok(()) => de.end().map_err(|e| StrictError::Syntax(e.to_string())),
        Err(e) => Err(classify(e)),
    }
}

const DUP_PREFIX: &str = "\u{1}dup:";
const CTRL_MARK: &str = "\u{1}ctrl";
const FOLD_PREFIX: &str = "\u{1}fold:";

fn classify(error: serde_json::Error) -> StrictError {
    let text = error.to_string();
    if let Some(rest) = text.strip_prefix(DUP_PREFIX) {
        let key = rest.split(" at line ").next().unwrap_or(rest);
        StrictError::DuplicateKey(key.to_string())
    } else if let Some(rest) = text.strip_prefix(FOLD_PREFIX) {
        let key = rest.split(" at line ").next().unwrap_or(rest);
        StrictError::AmbiguousKey(key.to_string())
    } else if text.starts_with(CTRL_MARK) {
        StrictError::ControlCharInKey
    } else {
        StrictError::Syntax(text)
    }
}

/// Where in the document a value stands, for the names the policy reads there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A message (the body, or a batch element): typed, unknown members refused later.
    Envelope,
    /// A message's `params`.
    Params,
    /// `params.ref` (completion).
    Ref,
    /// `params.notifications` (`subscriptions/listen`).
    Notifications,
    /// Anything else.
    Other,
}

impl Place {
    /// The member names the policy (or the method's classification) reads in this object.
    fn read(self) -> &'static [&'static str] {
        match self {
            Self::Params => &[
                "name",
                "uri",
                "arguments",
                "ref",
                "notifications",
                "taskId",
                "task",
                "_meta",
            ],
            Self::Ref => &["type", "name", "uri"],
            Self::Notifications => &["resourceSubscriptions"],
            Self::Envelope | Self::Other => &[],
        }
    }

    /// The place of the value of member `key` of an object standing here.
    fn child(self, key: &str) -> Self {
        match (self, key) {
            (Self::Envelope, "params") => Self::Params,
            (Self::Params, "ref") => Self::Ref,
            (Self::Params, "notifications") => Self::Notifications,
            _ => Self::Other,
        }
    }

    /// The place of an element of an array standing here (a batch holds messages).
    fn element(self) -> Self {
        if self == Self::Envelope {
            Self::Envelope
        } else {
            Self::Other
        }
    }
}

struct Walk(Place);

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // A batch (the body's array) holds messages; any other array holds data.
        let element = self.0.element();
        while seq.next_element_seed(Walk(element))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // MCP objects are small: a linear scan beats hashing until an object is large, and
        // a hash set keeps a hostile 50 000-key object linear.
        let place = self.0;
        // The envelope is typed: exact duplicates are refused here, every other name later.
        let folds = place != Place::Envelope;
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        let mut many_folded: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key.chars().any(char::is_control) {
                return Err(de::Error::custom(CTRL_MARK));
            }
            if few.contains(&key) || many.contains(&key) {
                return Err(de::Error::custom(format!("{DUP_PREFIX}{key}")));
            }
            if folds {
                let read_as_other = place.read().iter().any(|r| *r != key && fold_eq(r, &key));
                let folds_onto_sibling = few.iter().any(|k| fold_eq(k, &key))
                    || (!many_folded.is_empty() && many_folded.contains(folded(&key).as_ref()));
                if read_as_other || folds_onto_sibling {
                    return Err(de::Error::custom(format!("{FOLD_PREFIX}{key}")));
                }
            }
            let child = place.child(&key);
            if few.len() < 32 {
                few.push(key);
            } else {
                if folds {
                    many_folded.insert(folded(&key).into_owned());
                }
                many.insert(key);
            }
            map.next_value_seed(Walk(child))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{StrictError, check};

    #[test]
    fn accepts_plain_documents() {
        assert_eq!(check(br#"{"a":{"b":[1,{"c":2}]},"d":"x"}"#), Ok(()));
        assert_eq!(check(br#"  [1, 2, 3]  "#), Ok(()));
    }

    #[test]
    fn rejects_duplicates_at_any_depth() {
        for body in [
            r#"{"a":1,"a":2}"#,
            r#"{"p":{"name":"safe","name":"delete_all"}}"#,
            r#"{"p":[{"x":{"y":1,"y":1}}]}"#,
            r#"{"p":{"\u006eame":"a","name":"b"}}"#,
        ] {
            assert!(
                matches!(check(body.as_bytes()), Err(StrictError::DuplicateKey(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn rejects_names_a_case_insensitive_decoder_reads_differently() {
        for (body, key) in [
            (r#"{"params":{"name":"get_weather","Name":"delete_file"}}"#, "Name"),
            (r#"{"params":{"Name":"delete_file"}}"#, "Name"),
            (
                r#"{"params":{"name":"a","arguments":{"path":"/srv/x","Path":"/etc/passwd"}}}"#,
                "Path",
            ),
            (
                r#"{"params":{"name":"a","arguments":{"p":{"deep":1,"DEEP":2}}}}"#,
                "DEEP",
            ),
            (r#"{"params":{"name":"a","ſcope":1,"scope":2}}"#, "scope"),
            (r#"{"params":{"ref":{"type":"ref/prompt","NAME":"p"}}}"#, "NAME"),
            (
                r#"{"params":{"notifications":{"resourcesubscriptions":["x"]}}}"#,
                "resourcesubscriptions",
            ),
            (r#"[{"params":{"URI":"file:///etc/passwd"}}]"#, "URI"),
            (r#"{"params":{"Key":1,"key":2}}"#, "key"),
        ] {
            assert_eq!(
                check(body.as_bytes()),
                Err(StrictError::AmbiguousKey(key.into())),
                "{body}"
            );
        }
        // Fine: distinct names, names the policy does not read, and the envelope's own
        // members (typed and checked by the envelope parser).
        for body in [
            r#"{"params":{"name":"a","arguments":{"path":"x","paths":"y"}}}"#,
            r#"{"params":{"name":"a","arguments":{"Path":"x"}}}"#,
            r#"{"method":"a","Method":"b"}"#,
            r#"{"params":{"name":"a","arguments":{"list":[{"x":1},{"X":2}]}}}"#,
        ] {
            assert_eq!(check(body.as_bytes()), Ok(()), "{body}");
        }
        // Wide objects fold-check through the hash set too.
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":0")).collect();
        let wide = format!("{{\"params\":{{{},\"K39\":1}}}}", keys.join(","));
        assert_eq!(check(wide.as_bytes()), Err(StrictError::AmbiguousKey("K39".into())));
    }

    #[test]
    fn large_objects_are_checked_in_linear_time() {
        let keys: Vec<String> = (0..50_000).map(|i| format!("\"k{i}\":0")).collect();
        let body = format!("{{{}}}", keys.join(","));
        assert_eq!(check(body.as_bytes()), Ok(()));
        let dup = format!("{{{},\"k49999\":1}}", keys.join(","));
        assert!(matches!(check(dup.as_bytes()), Err(StrictError::DuplicateKey(_))));
    }

    #[test]
    fn rejects_control_chars_in_keys_and_bad_json() {
        assert_eq!(check(br#"{"method\u0000":1}"#), Err(StrictError::ControlCharInKey));
        for body in [
            &b"\xEF\xBB\xBF{}"[..],
            br#"{"a":"\ud800"}"#,
            br#"{"a":NaN}"#,
            br#"{"a":1e400}"#,
            br#"{} {}"#,
            br#"{"a":1,}"#,
            b"",
        ] {
            assert!(
                matches!(check(body), Err(StrictError::Syntax(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert!(matches!(check(deep.as_bytes()), Err(StrictError::Syntax(_))));
    }
}
