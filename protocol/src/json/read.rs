//! Reading typed values out of a parsed [`JsonValue`], with errors that name the field.
//!
//! An error is built where the value is wrong ("must be a string, found a number") and
//! each enclosing reader adds its field name or index on the way out, so the message
//! names the whole path (`rolls[0].formula`). No message formats a float: a wrong value is
//! described by its kind, which keeps float formatting out of the .wasm.

use crate::text::{concat, push_i64, push_u64};
use crate::{JsonMap, JsonValue};
use std::fmt;

/// A type read from a parsed JSON value (the hand-written codec; see [`crate::json`]).
pub trait FromJson: Sized {
    /// Reads the value, or says what is wrong with it.
    fn from_json(value: &JsonValue) -> Result<Self, JsonError>;
}

/// What was wrong with a JSON value, and where.
///
/// Boxed: a `Result<T, JsonError>` is then `T` and one pointer, which every reader moves
/// around and every `?` checks; with the two strings inline the readers were larger.
/// Errors are rare, so the allocation costs nothing that matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError(Box<Located>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Located {
    /// The field path from the value read (`rolls[0].formula`); empty for the value itself.
    path: String,
    /// `None`: the field is missing. Otherwise what is wrong with it ("must be a string,
    /// found a number").
    problem: Option<String>,
}

impl JsonError {
    /// A value that is not what was expected: `expected` names what would do
    /// ("a string"), and the message says what the value is.
    pub fn expected(expected: &str, found: &JsonValue) -> Self {
        JsonError::new(concat(&["must be ", expected, ", found ", kind(found)]))
    }

    /// Any other problem with the value, in words ("must be one of …").
    pub fn new(problem: impl Into<String>) -> Self {
        JsonError(Box::new(Located {
            path: String::new(),
            problem: Some(problem.into()),
        }))
    }

    fn missing(field: &str) -> Self {
        JsonError(Box::new(Located {
            path: field.to_owned(),
            problem: None,
        }))
    }

    /// The same error, inside the field `name` of an object.
    ///
    /// Not inlined: the field readers, compiled once per field type, all call this one
    /// copy (a generic `map_err` helper around it was one more copy per type).
    #[inline(never)]
    pub fn in_field(mut self, name: &str) -> Self {
        let path = &mut self.0.path;
        if path.is_empty() || path.starts_with('[') {
            path.insert_str(0, name);
        } else {
            path.insert(0, '.');
            path.insert_str(0, name);
        }
        self
    }

    /// The same error, inside the item `index` of an array.
    pub fn in_item(mut self, index: usize) -> Self {
        let path = &mut self.0.path;
        let mut prefix = String::from("[");
        push_u64(&mut prefix, index as u64);
        prefix.push(']');
        if !path.is_empty() && !path.starts_with('[') {
            prefix.push('.');
        }
        path.insert_str(0, &prefix);
        self
    }

    /// What is wrong, and where, in words (the `Display` text), built without
    /// `core::fmt` (see [`crate::text`]).
    pub fn message(&self) -> String {
        let Located { path, problem } = &*self.0;
        match (problem, path.is_empty()) {
            (None, _) => concat(&["missing field `", path, "`"]),
            (Some(problem), true) => concat(&["the value ", problem]),
            (Some(problem), false) => concat(&["field `", path, "` ", problem]),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for JsonError {}

/// The kind of a value, as an error message names it.
fn kind(value: &JsonValue) -> &'static str {
    match value {
        JsonValue::Null(()) => "null",
        JsonValue::Bool(_) => "a boolean",
        JsonValue::Integer(_) | JsonValue::Float(_) => "a number",
        JsonValue::String(_) => "a string",
        JsonValue::Array(_) => "an array",
        JsonValue::Object(_) => "an object",
    }
}

/// The fields of a JSON object, read one by one. Fields it does not ask for are ignored,
/// as the serde derives ignore unknown fields.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    map: &'a JsonMap,
}

impl<'a> Fields<'a> {
    /// The fields of `value`, which must be an object.
    pub fn of(value: &'a JsonValue) -> Result<Self, JsonError> {
        match value {
            JsonValue::Object(map) => Ok(Fields { map }),
            other => Err(JsonError::expected("an object", other)),
        }
    }

    /// The raw value of a field, when present.
    ///
    /// Not inlined: the readers below are compiled once per field type, and the map
    /// lookup is the same code for all of them.
    #[inline(never)]
    pub fn get(&self, name: &str) -> Option<&'a JsonValue> {
        self.map.get(name)
    }

    /// A field that must be present.
    pub fn req<T: FromJson>(&self, name: &str) -> Result<T, JsonError> {
        match self.get(name) {
            Some(value) => match T::from_json(value) {
                Ok(read) => Ok(read),
                Err(e) => Err(e.in_field(name)),
            },
            None => Err(JsonError::missing(name)),
        }
    }

    /// An optional field: missing or `null` is `None` (serde's reading of an `Option`).
    pub fn opt<T: FromJson>(&self, name: &str) -> Result<Option<T>, JsonError> {
        match self.get(name) {
            None | Some(JsonValue::Null(())) => Ok(None),
            Some(value) => match T::from_json(value) {
                Ok(read) => Ok(Some(read)),
                Err(e) => Err(e.in_field(name)),
            },
        }
    }

    /// A field with a default (`#[serde(default)]`): missing is the default; a value that
    /// is present (`null` included) must be readable.
    pub fn or_default<T: FromJson + Default>(&self, name: &str) -> Result<T, JsonError> {
        match self.get(name) {
            None => Ok(T::default()),
            Some(value) => match T::from_json(value) {
                Ok(read) => Ok(read),
                Err(e) => Err(e.in_field(name)),
            },
        }
    }
}

impl FromJson for JsonValue {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        Ok(value.clone())
    }
}

impl FromJson for String {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        match value {
            JsonValue::String(s) => Ok(s.clone()),
            other => Err(JsonError::expected("a string", other)),
        }
    }
}

impl FromJson for bool {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        match value {
            JsonValue::Bool(b) => Ok(*b),
            other => Err(JsonError::expected("a boolean", other)),
        }
    }
}

/// Whole numbers: written without a fraction, as every peer writes them (`JSON.parse`
/// cannot tell `7.0` from `7`, and the browser's reading makes both an integer).
fn integer(value: &JsonValue, expected: &str) -> Result<i64, JsonError> {
    match value {
        JsonValue::Integer(i) => Ok(*i),
        other => Err(JsonError::expected(expected, other)),
    }
}

impl FromJson for u64 {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        const EXPECTED: &str = "a non-negative integer";
        let i = integer(value, EXPECTED)?;
        u64::try_from(i).map_err(|_| out_of_range(EXPECTED, i))
    }
}

impl FromJson for u32 {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        const EXPECTED: &str = "an integer from 0 to 4294967295";
        let i = integer(value, EXPECTED)?;
        u32::try_from(i).map_err(|_| out_of_range(EXPECTED, i))
    }
}

/// An integer outside the range of the field's type.
fn out_of_range(expected: &str, found: i64) -> JsonError {
    let mut problem = concat(&["must be ", expected, ", found "]);
    push_i64(&mut problem, found);
    JsonError::new(problem)
}

impl FromJson for i64 {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        integer(value, "an integer")
    }
}

impl FromJson for f64 {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        value
            .as_f64()
            .ok_or_else(|| JsonError::expected("a number", value))
    }
}

impl<T: FromJson> FromJson for Option<T> {
    /// `null` is `None`.
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        match value {
            JsonValue::Null(()) => Ok(None),
            value => T::from_json(value).map(Some),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        match value {
            // A plain loop: `collect` into a `Result` is several generic adapters per `T`.
            JsonValue::Array(items) => {
                let mut read = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    match T::from_json(item) {
                        Ok(item) => read.push(item),
                        Err(e) => return Err(e.in_item(index)),
                    }
                }
                Ok(read)
            }
            other => Err(JsonError::expected("an array", other)),
        }
    }
}

impl FromJson for JsonMap {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        match value {
            JsonValue::Object(map) => Ok(map.clone()),
            other => Err(JsonError::expected("an object", other)),
        }
    }
}

/// Reads a string enum: which of `names` (its wire spellings, in the order of its
/// variants) the value spells. Returns an index, so that this code is not compiled once
/// per enum.
pub(super) fn spelled(value: &JsonValue, names: &[&str]) -> Result<usize, JsonError> {
    let JsonValue::String(s) = value else {
        return Err(JsonError::expected("a string", value));
    };
    names.iter().position(|name| name == s).ok_or_else(|| {
        let mut problem = String::from("must be one of ");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                problem.push_str(", ");
            }
            problem.push_str(name);
        }
        problem.push_str(", found `");
        problem.push_str(s);
        problem.push('`');
        JsonError::new(problem)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(entries: &[(&str, JsonValue)]) -> JsonValue {
        JsonValue::Object(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn errors_name_the_whole_path() {
        let inner = JsonError::expected("a string", &JsonValue::Integer(3));
        let error = inner.in_field("formula").in_item(0).in_field("rolls");
        assert_eq!(
            error.to_string(),
            "field `rolls[0].formula` must be a string, found a number"
        );
        let missing = JsonError::missing("faces").in_item(2).in_field("dice");
        assert_eq!(missing.to_string(), "missing field `dice[2].faces`");
        let nested = JsonError::expected("a boolean", &JsonValue::Null(()))
            .in_item(1234)
            .in_item(10)
            .in_field("grid");
        assert_eq!(
            nested.to_string(),
            "field `grid[10][1234]` must be a boolean, found null"
        );
        let range = u64::from_json(&JsonValue::Integer(-12)).map_err(|e| e.to_string());
        assert_eq!(
            range,
            Err("the value must be a non-negative integer, found -12".to_owned())
        );
        let top = JsonError::expected("an object", &JsonValue::Array(vec![]));
        assert_eq!(
            top.to_string(),
            "the value must be an object, found an array"
        );
    }

    #[test]
    fn fields_read_as_serde_reads_them() {
        let value = object(&[
            ("n", JsonValue::Integer(5)),
            ("none", JsonValue::Null(())),
            ("neg", JsonValue::Integer(-1)),
            ("big", JsonValue::Integer(1 << 40)),
            ("f", JsonValue::Float(2.5)),
        ]);
        let fields = Fields::of(&value).expect("an object");
        assert_eq!(fields.req::<u64>("n"), Ok(5));
        assert_eq!(fields.opt::<u64>("none"), Ok(None));
        assert_eq!(fields.opt::<u64>("absent"), Ok(None));
        assert_eq!(fields.or_default::<Vec<u64>>("absent"), Ok(vec![]));
        assert!(fields.or_default::<Vec<u64>>("none").is_err());
        assert!(fields.req::<u64>("neg").is_err());
        assert!(fields.req::<u32>("big").is_err());
        assert!(fields.req::<u64>("f").is_err());
        let status = JsonValue::String("nope".into());
        assert_eq!(
            crate::TurnStatus::from_json(&status).map_err(|e| e.to_string()),
            Err(
                "the value must be one of completed, failed, timeout, cancelled, found `nope`"
                    .into()
            )
        );
        assert_eq!(fields.req::<f64>("n"), Ok(5.0));
        assert_eq!(
            fields.req::<String>("absent").map_err(|e| e.to_string()),
            Err("missing field `absent`".to_owned())
        );
    }
}
