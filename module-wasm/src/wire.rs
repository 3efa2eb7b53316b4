//! The wire format at the bindings' edge: a server frame's text is decoded once, here,
//! into a typed frame the machine dispatches on; the machine's frames are encoded here.
//!
//! In the browser, JSON is read and written by the browser's own `JSON.parse` and
//! `JSON.stringify`, and the typed values cross with serde-wasm-bindgen: serde_json stays
//! out of the wasm build, which keeps it small. On the host (the machine's tests) the same
//! functions use serde_json. Both go through the protocol crate's one decoder
//! (`ServerFrame::decode`), so the frame rules are the same.

use gold_box_protocol::{ClientFrame, ServerFrame};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decodes a server frame: its JSON, then its type and payload.
pub fn decode_server_frame(text: &str) -> Result<ServerFrame, String> {
    imp::decode_server_frame(text)
}

/// Encodes a frame (or an HTTP body, or a stored entry) as JSON text. Our own types
/// always serialize; a failure would be a bug in them, and is reported as `None`.
pub fn encode<T: Serialize>(value: &T) -> Option<String> {
    imp::encode(value)
}

/// Decodes JSON text into one of our own types (a stored entry).
pub fn decode<T: DeserializeOwned>(text: &str) -> Option<T> {
    imp::decode(text)
}

/// Encodes a client frame as its text.
pub fn encode_client_frame(frame: &ClientFrame) -> Option<String> {
    encode(frame)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;
    use gold_box_protocol::RawFrame;
    use wasm_bindgen::JsValue;

    pub fn decode_server_frame(text: &str) -> Result<ServerFrame, String> {
        let value = js_sys::JSON::parse(text).map_err(|_| "not valid JSON".to_owned())?;
        if !value.is_object() || js_sys::Array::is_array(&value) {
            return Err("a frame must be a JSON object".into());
        }
        let raw = RawFrame {
            kind: field(&value, "type")?
                .as_string()
                .ok_or("missing field `type`")?,
            request_id: optional_string(&value, "request_id")?,
            timestamp: optional_integer(&value, "timestamp")?,
            seq: optional_integer(&value, "seq")?,
            data: Some(field(&value, "data")?)
                .filter(|data| !data.is_undefined() && !data.is_null())
                .map(serde_wasm_bindgen::Deserializer::from),
        };
        ServerFrame::decode(raw).map_err(|e| e.to_string())
    }

    fn field(object: &JsValue, name: &str) -> Result<JsValue, String> {
        js_sys::Reflect::get(object, &JsValue::from_str(name))
            .map_err(|_| format!("cannot read field `{name}`"))
    }

    fn optional_string(object: &JsValue, name: &str) -> Result<Option<String>, String> {
        let value = field(object, name)?;
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        value
            .as_string()
            .map(Some)
            .ok_or_else(|| format!("`{name}` must be a string"))
    }

    fn optional_integer(object: &JsValue, name: &str) -> Result<Option<u64>, String> {
        let value = field(object, name)?;
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        match value.as_f64() {
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= u64::MAX as f64 => Ok(Some(n as u64)),
            _ => Err(format!("`{name}` must be a non-negative integer")),
        }
    }

    pub fn encode<T: Serialize>(value: &T) -> Option<String> {
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        let value = value.serialize(&serializer).ok()?;
        js_sys::JSON::stringify(&value).ok().map(String::from)
    }

    pub fn decode<T: DeserializeOwned>(text: &str) -> Option<T> {
        let value = js_sys::JSON::parse(text).ok()?;
        serde_wasm_bindgen::from_value(value).ok()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;
    use gold_box_protocol::RawFrame;

    pub fn decode_server_frame(text: &str) -> Result<ServerFrame, String> {
        let raw: RawFrame<serde_json::Value> =
            serde_json::from_str(text).map_err(|e| e.to_string())?;
        ServerFrame::decode(raw).map_err(|e| e.to_string())
    }

    pub fn encode<T: Serialize>(value: &T) -> Option<String> {
        serde_json::to_string(value).ok()
    }

    pub fn decode<T: DeserializeOwned>(text: &str) -> Option<T> {
        serde_json::from_str(text).ok()
    }
}

/// The browser's decoder and encoder against the host's (serde_json), on the protocol's
/// own examples: the same frames, the same errors.
#[cfg(all(test, target_arch = "wasm32"))]
mod browser_tests {
    use super::*;
    use gold_box_protocol::{ClientMessage, Connect, ResumeFrom, RollOutcome, RollResult};
    use gold_box_protocol::{UserInfo, WorldInfo};
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn server_frames_decode_as_on_the_host() {
        for text in [
            r#"{"type":"connected","data":{"client_id":"gb-u1-k3x9","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":30000,"instance":"5f0c2a9e","resume":{"replayed":2,"missed":0}}}"#,
            r#"{"type":"pong","request_id":"ping-1"}"#,
            r#"{"type":"pong","request_id":"ping-1","data":null}"#,
            r#"{"type":"execute_roll","request_id":"roll-7","data":{"rolls":[{"formula":"1d20+5","flavor":"Attack"}],"timeout_ms":30000}}"#,
            r#"{"type":"chat_response","request_id":"turn-4","seq":42,"data":{"message":{"speaker":"Game Master","content":"The goblin falls.","kind":"narration"}},"timestamp":1764216000000,"extra":1}"#,
        ] {
            let frame = decode_server_frame(text).expect(text);
            let host: serde_json::Value = serde_json::from_str(text).expect("json");
            assert_eq!(frame.seq, host["seq"].as_u64(), "{text}");
            assert_eq!(
                frame.request_id.as_deref(),
                host["request_id"].as_str(),
                "{text}"
            );
        }
    }

    #[wasm_bindgen_test]
    fn bad_frames_are_refused_with_a_reason() {
        for text in [
            "{nonsense",
            "[1]",
            r#"{"type":3}"#,
            r#"{"type":"pong","request_id":7}"#,
            r#"{"type":"chat_response","request_id":"t","seq":-1,"data":{"message":{"speaker":"a","content":"b","kind":"narration"}}}"#,
            r#"{"type":"no_such_type"}"#,
            r#"{"type":"execute_roll","data":{"rolls":[],"timeout_ms":1}}"#,
        ] {
            assert!(decode_server_frame(text).is_err(), "{text}");
        }
    }

    #[wasm_bindgen_test]
    fn client_frames_encode_to_the_same_json_as_on_the_host() {
        let frames = [
            ClientFrame::new(ClientMessage::Connect(Connect {
                client_id: "gb-u1-k3x9".into(),
                token: "s3cret".into(),
                protocol: 1,
                world: WorldInfo {
                    id: "w1".into(),
                    title: "Lost Mine".into(),
                    system: "dnd5e".into(),
                },
                user: UserInfo {
                    id: "u1".into(),
                    name: "Gamemaster".into(),
                    is_gm: true,
                },
                resume: Some(ResumeFrom {
                    instance: None,
                    last_seq: 41,
                }),
            })),
            ClientFrame::new(ClientMessage::RollResult(RollResult {
                results: vec![RollOutcome {
                    formula: "1d20+5".into(),
                    flavor: None,
                    total: Some(17.5),
                    dice: vec![],
                    error: None,
                }],
            }))
            .with_request_id("roll-7")
            .with_timestamp(1_764_216_000_000),
        ];
        for frame in frames {
            let browser: serde_json::Value =
                serde_json::from_str(&encode_client_frame(&frame).expect("encoded")).expect("json");
            let host = serde_json::to_value(&frame).expect("json");
            assert_eq!(browser, host);
        }
    }

    /// A whole-number float is written `17` by the browser and `17.0` by serde_json: the
    /// same JSON number, which the server reads as the same `f64`.
    #[wasm_bindgen_test]
    fn a_whole_number_total_is_the_same_number() {
        let frame = ClientFrame::new(ClientMessage::RollResult(RollResult {
            results: vec![RollOutcome {
                formula: "1d20".into(),
                flavor: None,
                total: Some(17.0),
                dice: vec![],
                error: None,
            }],
        }))
        .with_request_id("roll-8");
        let text = encode_client_frame(&frame).expect("encoded");
        let browser: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(browser["data"]["results"][0]["total"].as_f64(), Some(17.0));
        let decoded: RollResult =
            serde_json::from_value(browser["data"].clone()).expect("the server's reading");
        assert_eq!(decoded.results[0].total, Some(17.0));
    }
}
