//! The wire format at the bindings' edge: a server frame's text is decoded once, here,
//! into a typed frame the machine dispatches on; the machine's frames are encoded here.
//! Keeping both out of the machine lets the bindings choose how JSON is read and written.

use gold_box_protocol::{ClientFrame, RawFrame, ServerFrame};
use serde::Serialize;

/// Decodes a server frame: its JSON, then its type and payload.
pub fn decode_server_frame(text: &str) -> Result<ServerFrame, String> {
    let raw: RawFrame<serde_json::Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    ServerFrame::decode(raw).map_err(|e| e.to_string())
}

/// Encodes a frame (or an HTTP body) as JSON text. Our own types always serialize; a
/// failure would be a bug in the protocol types, and is reported as `None`.
pub fn encode<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_string(value).ok()
}

/// Encodes a client frame as its text.
pub fn encode_client_frame(frame: &ClientFrame) -> Option<String> {
    encode(frame)
}
