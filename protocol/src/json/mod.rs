//! A second codec for the wire types, written by hand: [`FromJson`] reads a type out of
//! a parsed [`JsonValue`](crate::JsonValue), [`ToJson`] writes it as JSON text.
//!
//! Why a second one beside the serde derives: the WebAssembly core used to read and write
//! frames through serde-wasm-bindgen, and serde's derived code is compiled once per type
//! and per format. In the .wasm that was about 42 KB of `deserialize_struct` copies, plus
//! the float formatting (about 20 KB) that serde's error messages reach (`Unexpected::Float`).
//! Here each type has one reader and one writer, plain functions over one value type, and
//! no error message formats a float. The server keeps serde (axum, serde_json); the core
//! uses this codec. The tests hold both to the same frames: every pinned example of
//! `docs/PROTOCOL.md` decodes to the same value and encodes to the same bytes
//! (`tests/frames.rs`), and random input is accepted or refused alike
//! (`tests/prop_decoder.rs`).
//!
//! Differences from serde, on purpose (no peer sends them):
//! - a frame or a struct is read from a JSON object only: serde also took an array of its
//!   fields in order (the browser's decoder refused such frames already);
//! - a string enum is read from its string only: serde also took `{"variant": null}`;
//! - a key given twice keeps its last value (as `JSON.parse` does): serde_json refused a
//!   repeated field of a struct;
//! - an unsigned field holds at most `i64::MAX` (2^63 − 1): a larger whole number is a
//!   [`JsonValue::Float`](crate::JsonValue) (JavaScript's numbers cannot carry it exactly
//!   either, past 2^53), and is refused as not an integer, where serde took it up to
//!   `u64::MAX`. No field of the protocol comes near: the server bounds every time it
//!   sends.
//!
//! Floats are written by a function the caller passes ([`JsonWriter::new`]): in the
//! browser, JavaScript's own number formatting, so that Rust's float formatting (about
//! 20 KB of .wasm) is never linked in.

mod messages;
mod read;
mod write;

pub use read::{Fields, FromJson, JsonError};
pub use write::{JsonWriter, ObjectWriter, ToJson};
