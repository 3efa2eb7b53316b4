//! Text ⇄ frames at the connection's edge: a frame is decoded once, here, into a
//! typed message; everything past this point works on enums.

use gold_box_protocol::{
    ClientFrame, ErrorCode, ErrorData, FrameError, RawFrame, RollResult, ServerFrame, ServerMessage,
};
use serde_json::Value;

/// A decoded frame, or why it could not be; `request_id` is whatever the frame carried,
/// so that an error can answer the request it is about.
#[derive(Debug)]
pub struct Decoded {
    pub request_id: Option<String>,
    pub frame: Result<ClientFrame, FrameError>,
}

pub fn decode(text: &str) -> Decoded {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            return Decoded {
                request_id: None,
                frame: Err(FrameError::malformed(format!("not valid JSON: {e}"))),
            };
        }
    };
    let request_id = value
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let frame = if value.is_object() {
        serde_json::from_value::<RawFrame<Value>>(value)
            .map_err(FrameError::malformed)
            .and_then(|raw| {
                let roll_data = (raw.kind == "roll_result").then(|| raw.data.clone());
                ClientFrame::decode(raw).map_err(|error| match (error, roll_data) {
                    (FrameError::InvalidData { type_name, .. }, Some(Some(data))) => {
                        FrameError::InvalidData {
                            type_name,
                            reason: roll_result_field_error(data),
                        }
                    }
                    (error, _) => error,
                })
            })
    } else {
        Err(FrameError::malformed("a frame must be a JSON object"))
    };
    Decoded { request_id, frame }
}

/// Why a `roll_result`'s data does not decode, naming the field (`results[0].total: ...`),
/// so that the client is told which part of its result to fix.
fn roll_result_field_error(data: Value) -> String {
    match serde_path_to_error::deserialize::<_, RollResult>(data) {
        Ok(_) => "the result does not fit its request".to_owned(),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if path == "." {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            }
        }
    }
}

pub fn encode(frame: &ServerFrame) -> String {
    // Serializing these types cannot fail: every map key is a string.
    serde_json::to_string(frame).unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not encode a frame");
        String::from(r#"{"type":"error","data":{"code":"INTERNAL","message":"encoding failed"}}"#)
    })
}

/// An `error` frame, answering `request_id` when the offending frame had one.
pub fn error_frame(
    code: ErrorCode,
    message: impl Into<String>,
    request_id: Option<String>,
) -> ServerFrame {
    ServerFrame {
        request_id,
        timestamp: Some(crate::now_ms()),
        seq: None,
        message: ServerMessage::Error(ErrorData {
            code,
            message: message.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gold_box_protocol::ClientMessage;

    #[test]
    fn a_ping_decodes_with_its_request_id() {
        let decoded = decode(r#"{"type":"ping","request_id":"p1"}"#);
        assert_eq!(decoded.request_id.as_deref(), Some("p1"));
        assert!(matches!(
            decoded.frame.map(|f| f.message),
            Ok(ClientMessage::Ping(_))
        ));
    }

    #[test]
    fn bad_data_keeps_the_request_id_for_the_error() {
        let decoded =
            decode(r#"{"type":"settings_sync","request_id":"s1","data":{"revision":"one"}}"#);
        assert_eq!(decoded.request_id.as_deref(), Some("s1"));
        let error = decoded.frame.expect_err("bad revision");
        assert_eq!(error.code(), ErrorCode::InvalidMessage);
        assert!(error.to_string().contains("settings_sync"), "{error}");
    }

    #[test]
    fn text_that_is_not_json_or_not_an_object_is_malformed() {
        for text in ["not json", "[1,2]", "42", r#"{"data":{}}"#] {
            let error = decode(text).frame.expect_err(text);
            assert!(
                matches!(error, FrameError::Malformed { .. }),
                "{text}: {error}"
            );
        }
    }
}
