//! Property tests of the frame decoder (`RawFrame<serde_json::Value>` then
//! `ClientFrame::decode` / `ServerFrame::decode`), the code both the server and the
//! browser core run on every text they receive. Whatever arrives, bytes or JSON, the
//! decoder must not panic, and a refusal must be a `FrameError` that tells the sender
//! what was wrong; what it accepts must survive being written and read again.
//! The hand-written codec (`gold_box_protocol::json`, which the wasm core runs) must
//! agree with serde on every case.
//! Case counts are bounded (256 per property) so the suite stays fast.

mod strategies;

use gold_box_protocol::json::ToJson;
use gold_box_protocol::{
    ClientFrame, ClientMessage, ErrorCode, FrameError, JsonValue, RawFrame, ServerFrame,
    ServerMessage,
};
use proptest::prelude::*;
use serde_json::Value;

fn decode_client(bytes: &[u8]) -> Result<ClientFrame, FrameError> {
    let raw: RawFrame<Value> = serde_json::from_slice(bytes).map_err(FrameError::malformed)?;
    ClientFrame::decode(raw)
}

fn decode_server(bytes: &[u8]) -> Result<ServerFrame, FrameError> {
    let raw: RawFrame<Value> = serde_json::from_slice(bytes).map_err(FrameError::malformed)?;
    ServerFrame::decode(raw)
}

/// A refusal says what was wrong: a non-empty message, the code that goes with its
/// kind, and a type name only where the type was known.
fn check_refusal(error: &FrameError, types: &[&str]) -> Result<(), TestCaseError> {
    let text = error.to_string();
    prop_assert!(!text.trim().is_empty(), "empty message for {error:?}");
    match error {
        FrameError::Malformed { reason } => {
            prop_assert!(!reason.trim().is_empty(), "{error:?}");
            prop_assert_eq!(error.code(), ErrorCode::InvalidMessage);
        }
        FrameError::UnknownType { type_name } => {
            prop_assert!(!types.contains(&type_name.as_str()), "{error:?}");
            prop_assert_eq!(error.code(), ErrorCode::UnknownType);
        }
        FrameError::InvalidData { type_name, reason } => {
            prop_assert!(types.contains(type_name), "{error:?}");
            prop_assert!(!reason.trim().is_empty(), "{error:?}");
            prop_assert!(text.contains(type_name), "{text}");
            prop_assert_eq!(error.code(), ErrorCode::InvalidMessage);
        }
        FrameError::MissingRequestId { type_name } | FrameError::OutOfRange { type_name, .. } => {
            prop_assert!(types.contains(type_name), "{error:?}");
            prop_assert_eq!(error.code(), ErrorCode::InvalidMessage);
        }
    }
    Ok(())
}

/// Whether two JSON documents are the same, numbers compared to within a few ulps:
/// serde_json's default float parser (without its `float_roundtrip` feature) may land
/// one ulp off the shortest representation it wrote, so a free-form float can move in
/// its last digit across a write and a read.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || (x - y).abs() <= x.abs().max(y.abs()) * 1e-15,
                _ => false,
            }
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| same_json(x, y)))
        }
        _ => a == b,
    }
}

/// An accepted frame is written and read again: it decodes, to the same frame.
fn check_round_trip<F, D>(frame: &F, decode: D) -> Result<(), TestCaseError>
where
    F: serde::Serialize + std::fmt::Debug,
    D: Fn(&[u8]) -> Result<F, FrameError>,
{
    let written = serde_json::to_vec(frame).expect("a decoded frame encodes");
    let again = decode(&written);
    prop_assert!(again.is_ok(), "{frame:?} re-read as {again:?}");
    let again = again.expect("checked");
    let (first, second) = (
        serde_json::to_value(frame).expect("encodes"),
        serde_json::to_value(&again).expect("encodes"),
    );
    prop_assert!(same_json(&first, &second), "{first} became {second}");
    Ok(())
}

/// Floats as serde_json writes them (for byte-equal comparisons with serde).
fn serde_float(f: f64, out: &mut String) {
    out.push_str(&serde_json::to_string(&f).expect("a float"));
}

/// The hand-written codec (the wasm core's) on the same bytes: parsed to a `JsonValue`,
/// then read by `from_json`; text that is not JSON is malformed, as in the core.
fn hand_decode<F>(
    bytes: &[u8],
    from_json: fn(&JsonValue) -> Result<F, FrameError>,
) -> Result<F, FrameError> {
    let value: JsonValue = serde_json::from_slice(bytes).map_err(FrameError::malformed)?;
    from_json(&value)
}

/// The hand-written codec agrees with serde: it accepts what serde accepts, as the same
/// frame written to the same bytes, and refuses what serde refuses, as clearly. Except
/// for the forms it refuses on purpose (see `gold_box_protocol::json`): a frame or a
/// struct written as an array, a string enum written as `{"variant": null}`, an unsigned
/// field above `i64::MAX` (only when `bytes` hold such a number), and, the other way round,
/// a repeated key (serde refuses it, the codec keeps the last value as `JSON.parse` does).
fn check_hand_codec<F>(
    bytes: &[u8],
    serde: &Result<F, FrameError>,
    hand: Result<F, FrameError>,
    types: &[&str],
) -> Result<(), TestCaseError>
where
    F: serde::Serialize + ToJson + PartialEq + std::fmt::Debug,
{
    match (serde, hand) {
        (Ok(by_serde), Ok(by_hand)) => {
            prop_assert_eq!(by_serde, &by_hand);
            prop_assert_eq!(
                by_hand.to_json_text(serde_float),
                serde_json::to_string(by_serde).expect("encodes")
            );
        }
        (Err(_), Err(error)) => check_refusal(&error, types)?,
        (Ok(_), Err(error))
            if error
                .to_string()
                .contains("must be an object, found an array")
                || error.to_string().contains("a frame must be a JSON object")
                || error
                    .to_string()
                    .contains("must be a string, found an object") =>
        {
            check_refusal(&error, types)?
        }
        (Ok(_), Err(error))
            if error
                .to_string()
                .contains("must be a non-negative integer, found a number")
                && holds_an_integer_above_i64_max(bytes) =>
        {
            check_refusal(&error, types)?
        }
        (Err(error), Ok(_)) if error.to_string().contains("duplicate field") => {}
        (serde, hand) => prop_assert!(false, "serde: {serde:?}, hand-written: {hand:?}"),
    }
    Ok(())
}

/// Whether the JSON in `bytes` holds a whole number in `(i64::MAX, u64::MAX]` anywhere.
fn holds_an_integer_above_i64_max(bytes: &[u8]) -> bool {
    fn walk(value: &Value) -> bool {
        match value {
            Value::Number(n) => n.as_u64().is_some_and(|u| i64::try_from(u).is_err()),
            Value::Array(items) => items.iter().any(walk),
            Value::Object(fields) => fields.values().any(walk),
            _ => false,
        }
    }
    serde_json::from_slice(bytes).is_ok_and(|value| walk(&value))
}

/// Decodes `bytes` both ways; each result is a frame that round-trips or a clear refusal,
/// and the hand-written codec agrees.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let client = decode_client(bytes);
    match &client {
        Ok(frame) => check_round_trip(frame, decode_client)?,
        Err(error) => check_refusal(error, ClientMessage::TYPES)?,
    }
    let hand = hand_decode(bytes, ClientFrame::from_json);
    check_hand_codec(bytes, &client, hand, ClientMessage::TYPES)?;
    let server = decode_server(bytes);
    match &server {
        Ok(frame) => check_round_trip(frame, decode_server)?,
        Err(error) => check_refusal(error, ServerMessage::TYPES)?,
    }
    let hand = hand_decode(bytes, ServerFrame::from_json);
    check_hand_codec(bytes, &server, hand, ServerMessage::TYPES)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_refused_with_a_clear_error_or_decode(
        bytes in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        check(&bytes)?;
    }

    #[test]
    fn arbitrary_json_values_never_panic_the_decoder(value in strategies::json_value()) {
        check(value.to_string().as_bytes())?;
    }

    #[test]
    fn frame_shaped_objects_with_random_field_types_never_panic_the_decoder(
        value in strategies::frame_shaped()
    ) {
        check(value.to_string().as_bytes())?;
    }

    #[test]
    fn mutations_of_the_documented_frames_decode_or_are_refused_clearly(
        value in strategies::mutated_example()
    ) {
        check(value.to_string().as_bytes())?;
    }

    #[test]
    fn damaged_json_text_is_refused_clearly(text in strategies::almost_json()) {
        check(text.as_bytes())?;
    }
}

#[test]
fn every_documented_frame_decodes_in_its_direction() {
    // The mutation strategy starts from these; a bad start would hide bad coverage.
    let frames = strategies::documented_frames();
    let decoded = frames
        .iter()
        .filter(|frame| {
            let bytes = frame.to_string().into_bytes();
            decode_client(&bytes).is_ok() || decode_server(&bytes).is_ok()
        })
        .count();
    assert_eq!(decoded, frames.len());
}

/// The case the mutations found (2^63 in `connected.roll_timeout_ms`): serde takes it, the
/// hand-written codec refuses it on purpose and says which field and why.
#[test]
fn an_unsigned_field_above_i64_max_is_refused_by_the_hand_written_codec_and_named() {
    let bytes = br#"{"type":"connected","data":{"client_id":"gb-u1-k3x9","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":9223372036854775808,"instance":"5f0c2a9e"}}"#;
    assert!(holds_an_integer_above_i64_max(bytes));
    assert!(
        decode_server(bytes).is_ok(),
        "serde takes it up to u64::MAX"
    );
    let refused = hand_decode(bytes, ServerFrame::from_json).expect_err("refused");
    assert_eq!(
        refused,
        FrameError::InvalidData {
            type_name: "connected",
            reason: "field `roll_timeout_ms` must be a non-negative integer, found a number".into(),
        },
        "the refusal names the field"
    );
    let just_below = br#"{"type":"connected","data":{"client_id":"gb-u1-k3x9","server_version":"0.1.0","protocol":1,"heartbeat_ms":15000,"roll_timeout_ms":9223372036854775807,"instance":"5f0c2a9e"}}"#;
    assert!(!holds_an_integer_above_i64_max(just_below));
    assert_eq!(
        hand_decode(just_below, ServerFrame::from_json).expect("i64::MAX is read"),
        decode_server(just_below).expect("serde reads it too")
    );
}
