//! Writing JSON text, field by field, in the order serde's derives write it.
//!
//! Strings are escaped as serde_json and `JSON.stringify` both escape them (`"`, `\`,
//! the short escapes, other control characters as `\u00xx`), so the text is the same
//! byte for byte. Integers are written by [`crate::text`]; floats by the function the caller passes.

use crate::{JsonMap, JsonValue};

/// A type written as JSON text (the hand-written codec; see [`crate::json`]).
pub trait ToJson {
    /// Appends this value's JSON to `out`.
    fn write_json(&self, out: &mut JsonWriter);

    /// This value as JSON text, its floats written by `write_float`. (`Self: Sized`
    /// keeps it out of the vtables of `&dyn ToJson`: one copy per type written whole,
    /// not one per type.)
    fn to_json_text(&self, write_float: fn(f64, &mut String)) -> String
    where
        Self: Sized,
    {
        let mut out = JsonWriter::new(write_float);
        self.write_json(&mut out);
        out.finish()
    }
}

/// JSON text being written.
#[derive(Debug)]
pub struct JsonWriter {
    text: String,
    write_float: fn(f64, &mut String),
}

impl JsonWriter {
    /// An empty text. `write_float` appends a float's JSON (a finite number; `null` for
    /// NaN and the infinities, as serde_json and `JSON.stringify` write them).
    pub fn new(write_float: fn(f64, &mut String)) -> Self {
        JsonWriter {
            text: String::new(),
            write_float,
        }
    }

    /// The text written.
    pub fn finish(self) -> String {
        self.text
    }

    /// Starts an object; its fields are written with the [`ObjectWriter`], which closes it.
    pub fn object(&mut self) -> ObjectWriter<'_> {
        self.text.push('{');
        ObjectWriter {
            out: self,
            empty: true,
        }
    }

    pub fn null(&mut self) {
        self.text.push_str("null");
    }

    pub fn bool(&mut self, b: bool) {
        self.text.push_str(if b { "true" } else { "false" });
    }

    pub fn integer(&mut self, i: i64) {
        crate::text::push_i64(&mut self.text, i);
    }

    pub fn unsigned(&mut self, u: u64) {
        crate::text::push_u64(&mut self.text, u);
    }

    pub fn float(&mut self, f: f64) {
        (self.write_float)(f, &mut self.text);
    }

    /// A string, quoted and escaped.
    ///
    /// The runs between escapes are taken with `str::get`, not by indexing: every cut is
    /// next to an ASCII byte, so `get` never fails, and indexing would link core's
    /// panic message for a cut inside a character (with its `Debug` of `char`, about
    /// 3 KB of .wasm).
    pub fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.text.reserve(s.len() + 2);
        self.text.push('"');
        let mut start = 0;
        for (i, byte) in s.bytes().enumerate() {
            let short = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            self.text.push_str(s.get(start..i).unwrap_or_default());
            start = i + 1;
            if short.is_empty() {
                self.text.push_str("\\u00");
                self.text.push(char::from(HEX[usize::from(byte >> 4)]));
                self.text.push(char::from(HEX[usize::from(byte & 0xf)]));
            } else {
                self.text.push_str(short);
            }
        }
        self.text.push_str(s.get(start..).unwrap_or_default());
        self.text.push('"');
    }
}

/// The fields of an object being written; [`ObjectWriter::end`] closes it.
#[derive(Debug)]
pub struct ObjectWriter<'a> {
    out: &'a mut JsonWriter,
    empty: bool,
}

impl ObjectWriter<'_> {
    /// Writes the field `name` with `value`.
    pub fn field(&mut self, name: &str, value: &dyn ToJson) -> &mut Self {
        if !self.empty {
            self.out.text.push(',');
        }
        self.empty = false;
        self.out.string(name);
        self.out.text.push(':');
        value.write_json(self.out);
        self
    }

    /// Writes the field when it is `Some` (`skip_serializing_if = "Option::is_none"`).
    pub fn some<T: ToJson>(&mut self, name: &str, value: &Option<T>) -> &mut Self {
        if let Some(value) = value {
            self.field(name, value);
        }
        self
    }

    /// Closes the object.
    pub fn end(&mut self) {
        self.out.text.push('}');
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut JsonWriter) {
        (**self).write_json(out);
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut JsonWriter) {
        out.string(self);
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut JsonWriter) {
        out.string(self);
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut JsonWriter) {
        out.bool(*self);
    }
}

impl ToJson for u64 {
    fn write_json(&self, out: &mut JsonWriter) {
        out.unsigned(*self);
    }
}

impl ToJson for u32 {
    fn write_json(&self, out: &mut JsonWriter) {
        out.unsigned(u64::from(*self));
    }
}

impl ToJson for i64 {
    fn write_json(&self, out: &mut JsonWriter) {
        out.integer(*self);
    }
}

impl ToJson for f64 {
    fn write_json(&self, out: &mut JsonWriter) {
        out.float(*self);
    }
}

impl<T: ToJson> ToJson for Option<T> {
    /// `None` is `null`.
    fn write_json(&self, out: &mut JsonWriter) {
        match self {
            Some(value) => value.write_json(out),
            None => out.null(),
        }
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut JsonWriter) {
        out.text.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.text.push(',');
            }
            item.write_json(out);
        }
        out.text.push(']');
    }
}

impl ToJson for JsonMap {
    /// The keys in their sorted order, as serde writes a `BTreeMap`.
    fn write_json(&self, out: &mut JsonWriter) {
        let mut object = out.object();
        for (key, value) in self {
            object.field(key, value);
        }
        object.end();
    }
}

impl ToJson for JsonValue {
    fn write_json(&self, out: &mut JsonWriter) {
        match self {
            JsonValue::Null(()) => out.null(),
            JsonValue::Bool(b) => out.bool(*b),
            JsonValue::Integer(i) => out.integer(*i),
            JsonValue::Float(f) => out.float(*f),
            JsonValue::String(s) => out.string(s),
            JsonValue::Array(items) => items.write_json(out),
            JsonValue::Object(map) => map.write_json(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(f: f64, out: &mut String) {
        out.push_str(&serde_json::to_string(&f).expect("a float"));
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all = String::new();
        for c in (0u32..0x80).filter_map(char::from_u32) {
            all.push(c);
        }
        all.push_str("é☃😀\u{2028}");
        for s in [all.as_str(), "", "plain", "a\"b\\c\u{7f}"] {
            assert_eq!(
                ToJson::to_json_text(&s, float),
                serde_json::to_string(s).expect("a string")
            );
        }
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        for text in [
            "null",
            "[]",
            "{}",
            r#"{"a":[1,-2,2.5,true,null,"x"],"b":{"c":{}},"d":9007199254740993}"#,
            "-9223372036854775808",
        ] {
            let value: JsonValue = serde_json::from_str(text).expect(text);
            assert_eq!(value.to_json_text(float), text);
        }
    }
}
