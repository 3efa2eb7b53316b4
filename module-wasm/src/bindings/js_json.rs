//! JSON values across the JavaScript boundary, without serde: a JavaScript value (from
//! `JSON.parse`, or an object the JS module passes) read into the protocol's
//! [`JsonValue`], and floats written by JavaScript's own number formatting.
//!
//! The typed reading and writing is the protocol's hand-written codec
//! (`gold_box_protocol::json`), the same on the host and here; this module is the only
//! part that differs in the browser. It replaced serde-wasm-bindgen, whose per-type
//! code and float formatting made up about a quarter of the .wasm (docs/BENCHMARKS.md).

use gold_box_protocol::text::concat;
use gold_box_protocol::{JsonMap, JsonValue};
use wasm_bindgen::{JsCast, JsValue};

/// Parses JSON text with the browser's `JSON.parse`.
#[cfg(target_arch = "wasm32")]
pub fn parse(text: &str) -> Result<JsonValue, String> {
    let value = js_sys::JSON::parse(text).map_err(|_| "not valid JSON".to_owned())?;
    from_js(&value)
}

/// Reads a JavaScript value as JSON would carry it, with serde-wasm-bindgen's rules:
/// `null` and `undefined` are `null`; a number that is a safe integer is an integer, any
/// other number a float; arrays by their items, other objects by their own enumerable
/// keys. A property whose value is `undefined` is left out, as `JSON.stringify` leaves it
/// out (a field then reads as missing). A BigInt, a symbol or a function is refused.
pub fn from_js(value: &JsValue) -> Result<JsonValue, String> {
    if value.is_null() || value.is_undefined() {
        return Ok(JsonValue::Null(()));
    }
    if let Some(b) = value.as_bool() {
        return Ok(JsonValue::Bool(b));
    }
    if let Some(n) = value.as_f64() {
        return Ok(if js_sys::Number::is_safe_integer(value) {
            JsonValue::Integer(n as i64)
        } else {
            JsonValue::Float(n)
        });
    }
    if let Some(s) = value.as_string() {
        return Ok(JsonValue::String(s));
    }
    if js_sys::Array::is_array(value) {
        let array: &js_sys::Array = value.unchecked_ref();
        // A plain loop, not `collect` into a `Result` (generic adapters of its own).
        let mut items = Vec::with_capacity(array.length() as usize);
        for item in array.iter() {
            items.push(from_js(&item)?);
        }
        return Ok(JsonValue::Array(items));
    }
    if value.is_object() {
        let object: &js_sys::Object = value.unchecked_ref();
        let mut map = JsonMap::new();
        for key in js_sys::Object::keys(object).iter() {
            let item = js_sys::Reflect::get(value, &key)
                .map_err(|_| "an object property could not be read".to_owned())?;
            if item.is_undefined() {
                continue;
            }
            let key = key.as_string().unwrap_or_default();
            let item = from_js(&item).map_err(|e| concat(&["`", &key, "`: ", &e]))?;
            map.insert(key, item);
        }
        return Ok(JsonValue::Object(map));
    }
    Err("a BigInt, a symbol or a function is not a JSON value".to_owned())
}

/// Appends a float's JSON as `JSON.stringify` writes it: the shortest text that reads
/// back as the same number (`17`, `17.5`, `1e+21`), `null` when not finite.
#[cfg(target_arch = "wasm32")]
pub fn write_float(f: f64, out: &mut String) {
    match js_sys::JSON::stringify(&JsValue::from_f64(f)) {
        Ok(text) => out.push_str(&String::from(text)),
        Err(_) => out.push_str("null"),
    }
}
