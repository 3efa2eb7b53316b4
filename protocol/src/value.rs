//! A free-form JSON value for the parts of the protocol that carry the caller's data
//! as it is (settings values, combat snapshots, context frames).
//!
//! The crate depends on serde only, so it cannot name `serde_json::Value`; this enum
//! plays that role and round-trips any JSON document.
//!
//! Its `Serialize` and `Deserialize` are written by hand. The derived `#[serde(untagged)]`
//! versions did the same thing the slow and large way: the untagged `Deserialize` buffers
//! every value into serde's private `Content` tree and then tries each variant on it in
//! turn, which put about 20 KB of generic code into the WebAssembly core (measured in
//! docs/BENCHMARKS.md) and parsed every value twice. The visitor below reads each value
//! once, as the format describes it, with the same outcome as the derived version: `null`
//! is `Null`, an integer that fits `i64` is `Integer`, any other number `Float`, and so on.

use crate::JsonMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::ser::{Serialize, Serializer};
use std::fmt;

/// Any JSON value. Integers that fit `i64` stay integers; other numbers are `f64`.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    /// `null`
    Null(()),
    /// `true` / `false`
    Bool(bool),
    /// An integer that fits in `i64`.
    Integer(i64),
    /// Any other number.
    Float(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object, with its keys sorted.
    Object(JsonMap),
}

impl Default for JsonValue {
    /// An empty object: the value of a context frame sent without `data`.
    fn default() -> Self {
        JsonValue::Object(JsonMap::new())
    }
}

impl JsonValue {
    /// The value as a string slice, when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            JsonValue::Integer(i) => Some(*i as f64),
            JsonValue::Float(f) => Some(*f),
            _ => None,
        }
    }
}

impl Serialize for JsonValue {
    /// Each variant as its content, as the untagged derive wrote it.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonValue::Null(()) => serializer.serialize_unit(),
            JsonValue::Bool(b) => serializer.serialize_bool(*b),
            JsonValue::Integer(i) => serializer.serialize_i64(*i),
            JsonValue::Float(f) => serializer.serialize_f64(*f),
            JsonValue::String(s) => serializer.serialize_str(s),
            JsonValue::Array(items) => serializer.collect_seq(items),
            JsonValue::Object(map) => serializer.collect_map(map),
        }
    }
}

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Reads any self-describing value into a [`JsonValue`].
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = JsonValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null(()))
    }

    fn visit_bool<E>(self, b: bool) -> Result<JsonValue, E> {
        Ok(JsonValue::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<JsonValue, E> {
        Ok(JsonValue::Integer(i))
    }

    /// Above `i64::MAX` a number is a `Float`, as the derived version made it.
    fn visit_u64<E>(self, u: u64) -> Result<JsonValue, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => JsonValue::Integer(i),
            Err(_) => JsonValue::Float(u as f64),
        })
    }

    fn visit_f64<E>(self, f: f64) -> Result<JsonValue, E> {
        Ok(JsonValue::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<JsonValue, E> {
        Ok(JsonValue::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<JsonValue, E> {
        Ok(JsonValue::String(s))
    }

    /// Bytes (a `Uint8Array` through serde-wasm-bindgen) that are UTF-8 are a string, as
    /// `String`'s own visitor, which the derived version tried, takes them.
    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<JsonValue, E> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(JsonValue::String(s.to_owned())),
            Err(_) => Err(E::invalid_value(Unexpected::Bytes(bytes), &self)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsonValue::Array(items))
    }

    /// A key given twice keeps its last value, as the derived version did.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JsonValue, A::Error> {
        crate::map::MapVisitor.visit_map(map).map(JsonValue::Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> JsonValue {
        serde_json::from_str(text).expect(text)
    }

    #[test]
    fn each_kind_of_json_reads_as_its_variant() {
        assert_eq!(parse("null"), JsonValue::Null(()));
        assert_eq!(parse("true"), JsonValue::Bool(true));
        assert_eq!(parse("-7"), JsonValue::Integer(-7));
        assert_eq!(parse("7"), JsonValue::Integer(7));
        assert_eq!(parse("7.5"), JsonValue::Float(7.5));
        assert_eq!(parse("7.0"), JsonValue::Float(7.0));
        assert_eq!(parse(r#""dm""#), JsonValue::String("dm".into()));
        assert_eq!(
            parse(r#"[1,"a",null]"#),
            JsonValue::Array(vec![
                JsonValue::Integer(1),
                JsonValue::String("a".into()),
                JsonValue::Null(())
            ])
        );
        assert_eq!(
            parse(r#"{"b":{},"a":[]}"#),
            JsonValue::Object(JsonMap::from([
                ("a".to_owned(), JsonValue::Array(vec![])),
                ("b".to_owned(), JsonValue::Object(JsonMap::new())),
            ]))
        );
    }

    #[test]
    fn integers_beyond_i64_are_floats() {
        assert_eq!(parse("9223372036854775807"), JsonValue::Integer(i64::MAX));
        assert_eq!(
            parse("9223372036854775808"),
            JsonValue::Float(9_223_372_036_854_775_808.0)
        );
        assert_eq!(parse("-9223372036854775808"), JsonValue::Integer(i64::MIN));
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        assert_eq!(
            parse(r#"{"a":1,"a":2}"#),
            JsonValue::Object(JsonMap::from([("a".to_owned(), JsonValue::Integer(2))]))
        );
    }

    #[test]
    fn values_write_back_to_the_same_json() {
        for text in [
            "null",
            "false",
            "-3",
            "2.5",
            r#""x\"y""#,
            r#"[1,[2,{"k":null}]]"#,
            r#"{"a":{"b":[true,1.5]},"c":"d"}"#,
        ] {
            assert_eq!(serde_json::to_string(&parse(text)).expect("written"), text);
        }
    }
}
