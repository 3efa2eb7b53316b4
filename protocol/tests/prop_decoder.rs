//! Property tests of the frame decoder (`RawFrame<serde_json::Value>` then
//! `ClientFrame::decode` / `ServerFrame::decode`), the code both the server and the
//! browser core run on every text they receive. Whatever arrives, bytes or JSON, the
//! decoder must not panic, and a refusal must be a `FrameError` that tells the sender
//! what was wrong; what it accepts must survive being written and read again.
//! Case counts are bounded (256 per property) so the suite stays fast.

mod strategies;

use gold_box_protocol::{
    ClientFrame, ClientMessage, ErrorCode, FrameError, RawFrame, ServerFrame, ServerMessage,
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

/// Decodes `bytes` both ways; each result is a frame that round-trips or a clear refusal.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    match decode_client(bytes) {
        Ok(frame) => check_round_trip(&frame, decode_client)?,
        Err(error) => check_refusal(&error, ClientMessage::TYPES)?,
    }
    match decode_server(bytes) {
        Ok(frame) => check_round_trip(&frame, decode_server)?,
        Err(error) => check_refusal(&error, ServerMessage::TYPES)?,
    }
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
