//! The strictness pass over an untrusted JSON body: one walk over the whole document that
//! rejects duplicate member names at every depth and control characters in member names.
//! serde_json alone keeps the last duplicate inside `Value`s and raw values, while upstream
//! parsers may keep the first, so ambiguity is refused rather than resolved.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Why a body failed the strictness pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictError {
    /// Not JSON at all (syntax, encoding, trailing data, nesting deeper than 128).
    Syntax(String),
    /// A member name appears twice in one object.
    DuplicateKey(String),
    /// A member name contains a control character.
    ControlCharInKey,
}

/// Walks `body` once; `Ok` means it is one well-formed JSON value without ambiguity.
pub fn check(body: &[u8]) -> Result<(), StrictError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = (&mut de).deserialize_any(Walk);
    match result {
        Ok(()) => de.end().map_err(|e| StrictError::Syntax(e.to_string())),
        Err(e) => Err(classify(e)),
    }
}

const DUP_PREFIX: &str = "\u{1}dup:";
const CTRL_MARK: &str = "\u{1}ctrl";

fn classify(error: serde_json::Error) -> StrictError {
    let text = error.to_string();
    if let Some(rest) = text.strip_prefix(DUP_PREFIX) {
        let key = rest.split(" at line ").next().unwrap_or(rest);
        StrictError::DuplicateKey(key.to_string())
    } else if text.starts_with(CTRL_MARK) {
        StrictError::ControlCharInKey
    } else {
        StrictError::Syntax(text)
    }
}

struct Walk;

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(Walk)
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
        while seq.next_element_seed(Walk)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // MCP objects are small: a linear scan beats hashing until an object is large, and
        // a hash set keeps a hostile 50 000-key object linear.
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key.chars().any(char::is_control) {
                return Err(de::Error::custom(CTRL_MARK));
            }
            if few.contains(&key) || many.contains(&key) {
                return Err(de::Error::custom(format!("{DUP_PREFIX}{key}")));
            }
            if few.len() < 32 {
                few.push(key);
            } else {
                many.insert(key);
            }
            map.next_value_seed(Walk)?;
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
