//! The Gold Box wire protocol, version 1, as Rust types.
//!
//! This crate is the compatibility boundary between the companion server and the
//! WebAssembly core of the Foundry module: both compile these same types, so a frame
//! one side writes is a frame the other side reads. It depends on `serde` only, which
//! keeps it buildable for the host and for `wasm32-unknown-unknown` alike, and leaves
//! the choice of JSON implementation to each side.
//!
//! The authoritative prose is `docs/PROTOCOL.md`; the tests in `tests/` pin the JSON of
//! every frame against the literal examples printed there.
//!
//! Decoding is done in two steps so that a bad frame gets a precise, typed error:
//! the caller parses the text into a [`RawFrame`] with its JSON library of choice, then
//! [`ClientFrame::decode`] / [`ServerFrame::decode`] turn it into a typed message or a
//! [`FrameError`] that names what was wrong.
//!
//! The WebAssembly core reads and writes the same types with [`json`], a codec written by
//! hand beside the derives (no serde code in the .wasm), which the tests hold to them.

mod error;
mod frame;
mod http;
pub mod json;
mod map;
mod messages;
mod metrics;
pub mod text;
mod value;

pub use error::{ErrorCode, FrameError};
pub use frame::{ClientFrame, ClientMessage, RawFrame, ServerFrame, ServerMessage};
pub use http::{
    HealthResponse, HttpError, HttpErrorBody, RollResultStatusBody, RollResultSubmission,
    TestRollRequest, TestRollResponse,
};
pub use map::JsonMap;
pub use messages::*;
pub use metrics::*;
pub use value::JsonValue;

/// The protocol version this crate speaks; sent in `connect` and `connected`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest integer both sides hold exactly (JavaScript's `Number.MAX_SAFE_INTEGER`).
/// Revisions, timestamps and counters above it are refused.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
