//! A free-form JSON value for the parts of the protocol that carry the caller's data
//! as it is (settings values, combat snapshots, context frames).
//!
//! The crate depends on serde only, so it cannot name `serde_json::Value`; this enum
//! plays that role and round-trips any JSON document.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Any JSON value. Integers that fit `i64` stay integers; other numbers are `f64`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
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
    Object(BTreeMap<String, JsonValue>),
}

impl Default for JsonValue {
    /// An empty object: the value of a context frame sent without `data`.
    fn default() -> Self {
        JsonValue::Object(BTreeMap::new())
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
