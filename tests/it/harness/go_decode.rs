//! A case-insensitive upstream, emulated: how Go's `encoding/json` (mcp-go, the Go SDK, any Go
//! struct decode) reads a JSON body. Object keys are matched with Unicode simple case folding
//! and the last match wins, so `{"name":"a","Name":"b"}` decodes `name` as `b`. Tests decode
//! what the upstream received this way to show the call it would execute is the one the
//! gateway authorized.

use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// `body` as a Go struct decode sees it: every key folded (lower case, `ſ` → `s`, `K` → `k`),
/// later members overwriting earlier ones that fold alike.
pub fn go_decode(body: &[u8]) -> Value {
    let mut de = serde_json::Deserializer::from_slice(body);
    (&mut de).deserialize_any(GoValue).expect("the upstream received JSON")
}

fn fold(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            _ => c.to_lowercase().next().unwrap_or(c),
        })
        .collect()
}

struct GoValue;

impl<'de> DeserializeSeed<'de> for GoValue {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(GoValue)
    }
}

impl<'de> Visitor<'de> for GoValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(GoValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(GoValue)?;
            out.insert(fold(&key), value);
        }
        Ok(Value::Object(out))
    }
}

#[test]
fn the_last_fold_equal_member_wins() {
    let decoded = go_decode(br#"{"params":{"name":"get_weather","NAME":"delete_file","\u017fcope":1}}"#);
    assert_eq!(decoded["params"]["name"], "delete_file");
    assert_eq!(decoded["params"]["scope"], 1);
}
