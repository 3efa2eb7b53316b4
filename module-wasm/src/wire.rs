//! The wire format at the bindings' edge: a server frame's text is decoded once, here,
//! into a typed frame the machine dispatches on; the machine's frames are encoded here.
//!
//! Typed values are read from a parsed [`JsonValue`] and written as text by the protocol's
//! hand-written codec (`gold_box_protocol::json`), the same code on the host and in the
//! browser, with no serde code in the .wasm. Only the parsing and the writing of floats
//! differ: in the browser `JSON.parse` and JavaScript's number formatting
//! (`bindings::js_json`), so that neither serde_json nor Rust's float code is in the
//! .wasm; on the host (the machine's tests) serde_json.

use gold_box_protocol::json::{FromJson, ToJson};
use gold_box_protocol::{ClientFrame, ServerFrame};

/// Decodes a server frame: its JSON, then its type and payload.
pub fn decode_server_frame(text: &str) -> Result<ServerFrame, String> {
    let value = imp::parse(text)?;
    ServerFrame::from_json(&value).map_err(|e| e.message())
}

/// Encodes a frame (or an HTTP body, a stored entry, an event) as JSON text.
pub fn encode<T: ToJson>(value: &T) -> String {
    value.to_json_text(imp::write_float)
}

/// Decodes JSON text into one of our own types (a stored entry).
pub fn decode<T: FromJson>(text: &str) -> Option<T> {
    T::from_json(&imp::parse(text).ok()?).ok()
}

/// Encodes a client frame as its text.
pub fn encode_client_frame(frame: &ClientFrame) -> String {
    encode(frame)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub use crate::bindings::js_json::{parse, write_float};
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use gold_box_protocol::JsonValue;

    pub fn parse(text: &str) -> Result<JsonValue, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Floats as serde_json writes them (`17.0` where the browser writes `17`: the same
    /// JSON number).
    pub fn write_float(f: f64, out: &mut String) {
        out.push_str(&serde_json::to_string(&f).unwrap_or_else(|_| "null".into()));
    }
}

/// Stored entries keep the JSON the serde derives wrote before: entries a tab stored
/// before an update are still read after it.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::ResumePoint;
    use crate::outbox::StoredRoll;
    use crate::settled::SettledRoll;
    use gold_box_protocol::{DieResult, DieTerm, RollOutcome, RollRequest};

    fn outcome() -> RollOutcome {
        RollOutcome {
            formula: "1d20".into(),
            flavor: None,
            total: Some(17.0),
            dice: vec![DieTerm {
                faces: 20,
                results: vec![DieResult {
                    result: 17,
                    active: true,
                }],
            }],
            error: None,
        }
    }

    #[test]
    fn stored_entries_read_and_write_as_before() {
        let started = StoredRoll {
            request_id: "roll-1".into(),
            deadline_ms: 5_000,
            rolls: vec![RollRequest {
                formula: "1d20".into(),
                flavor: Some("Attack".into()),
            }],
            results: None,
        };
        let text = r#"{"request_id":"roll-1","deadline_ms":5000,"rolls":[{"formula":"1d20","flavor":"Attack"}],"results":null}"#;
        assert_eq!(encode(&started), text);
        assert_eq!(decode::<StoredRoll>(text), Some(started));

        let marker = SettledRoll {
            request_id: "roll-1".into(),
            keep_until_ms: 9,
            results: Some(vec![outcome()]),
        };
        let text = r#"{"request_id":"roll-1","keep_until_ms":9,"results":[{"formula":"1d20","total":17.0,"dice":[{"faces":20,"results":[{"result":17,"active":true}]}]}]}"#;
        assert_eq!(encode(&marker), text);
        assert_eq!(decode::<SettledRoll>(text), Some(marker));
        // The browser writes the same total as `17`.
        let browser = text.replace("17.0", "17");
        assert_eq!(
            decode::<SettledRoll>(&browser).map(|m| m.results),
            Some(Some(vec![outcome()]))
        );

        let point = ResumePoint {
            instance: None,
            last_seq: 4,
        };
        assert_eq!(encode(&point), r#"{"instance":null,"last_seq":4}"#);
        assert_eq!(decode::<ResumePoint>(r#"{"last_seq":4}"#), Some(point));
        assert_eq!(decode::<ResumePoint>(r#"{"last_seq":"4"}"#), None);
        assert_eq!(decode::<ResumePoint>("{"), None);
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

    #[wasm_bindgen::prelude::wasm_bindgen(inline_js = "
export function sample() {
  return { a: 1, b: 2.5, c: undefined, d: null, e: [true, 'x', -0], f: { g: 9007199254740993, h: 'é\\n' } };
}
export function withFunction() { return { a: () => 1 }; }
")]
    extern "C" {
        fn sample() -> wasm_bindgen::JsValue;
        #[wasm_bindgen(js_name = withFunction)]
        fn with_function() -> wasm_bindgen::JsValue;
    }

    /// JavaScript values read as the JSON they stand for: safe integers as integers, other
    /// numbers as floats, `undefined` properties left out.
    #[wasm_bindgen_test]
    fn javascript_values_read_as_json() {
        use crate::bindings::js_json::from_js;
        let expected: gold_box_protocol::JsonValue = serde_json::from_str(
            r#"{"a":1,"b":2.5,"d":null,"e":[true,"x",0],"f":{"g":9007199254740992.0,"h":"é\n"}}"#,
        )
        .expect("json");
        assert_eq!(from_js(&sample()), Ok(expected));
        assert!(from_js(&with_function()).is_err());
    }

    /// Floats are written by JavaScript as numbers that read back the same.
    #[wasm_bindgen_test]
    fn floats_are_written_as_numbers_that_read_back_the_same() {
        for f in [17.0, 17.5, 0.1, 1e21, 1.5e-7, -2.75, 123456789.125] {
            let text = encode(&f);
            assert_eq!(serde_json::from_str::<f64>(&text).ok(), Some(f), "{text}");
        }
        assert_eq!(encode(&f64::NAN), "null");
        assert_eq!(encode(&f64::INFINITY), "null");
    }

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
                serde_json::from_str(&encode_client_frame(&frame)).expect("json");
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
        let text = encode_client_frame(&frame);
        let browser: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(browser["data"]["results"][0]["total"].as_f64(), Some(17.0));
        let decoded: RollResult =
            serde_json::from_value(browser["data"].clone()).expect("the server's reading");
        assert_eq!(decoded.results[0].total, Some(17.0));
    }
}
