//! Bad frames are refused with a typed error that says what was wrong, and never panic.

use gold_box_protocol::*;
use serde_json::Value;

fn decode(text: &str) -> Result<ClientFrame, FrameError> {
    let raw: RawFrame<Value> = serde_json::from_str(text).map_err(FrameError::malformed)?;
    ClientFrame::decode(raw)
}

fn error_of(text: &str) -> FrameError {
    decode(text).expect_err(text)
}

#[test]
fn an_unknown_type_is_unknown_type_and_names_it() {
    let error = error_of(r#"{"type":"teleport","data":{}}"#);
    assert_eq!(
        error,
        FrameError::UnknownType {
            type_name: "teleport".into()
        }
    );
    assert_eq!(error.code(), ErrorCode::UnknownType);
    assert!(error.to_string().contains("teleport"));
}

#[test]
fn a_missing_type_is_malformed() {
    let error = error_of(r#"{"data":{}}"#);
    assert!(matches!(error, FrameError::Malformed { .. }));
    assert_eq!(error.code(), ErrorCode::InvalidMessage);
    assert!(error.to_string().contains("type"), "{error}");
}

#[test]
fn text_that_is_not_json_is_malformed() {
    for text in ["", "nope", "{\"type\":", "[]", "null"] {
        assert!(
            matches!(error_of(text), FrameError::Malformed { .. }),
            "{text}"
        );
    }
}

#[test]
fn a_missing_field_is_named() {
    let error = error_of(r#"{"type":"settings_sync","data":{"settings":{}}}"#);
    assert_eq!(error.code(), ErrorCode::InvalidMessage);
    let text = error.to_string();
    assert!(
        text.contains("settings_sync") && text.contains("revision"),
        "{text}"
    );
}

#[test]
fn a_wrong_field_type_is_named() {
    let error = error_of(
        r#"{"type":"chat_request","request_id":"t","data":{"messages":"hi","settings_revision":1}}"#,
    );
    let text = error.to_string();
    assert!(
        text.contains("chat_request") && text.contains("invalid type"),
        "{text}"
    );
}

#[test]
fn a_negative_revision_is_refused() {
    let error = error_of(r#"{"type":"settings_sync","data":{"revision":-1,"settings":{}}}"#);
    assert_eq!(error.code(), ErrorCode::InvalidMessage);
    assert!(error.to_string().contains("-1"), "{error}");
}

#[test]
fn a_revision_of_two_to_the_53_is_refused() {
    let error =
        error_of(r#"{"type":"settings_sync","data":{"revision":9007199254740992,"settings":{}}}"#);
    assert_eq!(
        error,
        FrameError::OutOfRange {
            type_name: "settings_sync",
            field: "revision",
            value: 9_007_199_254_740_992
        }
    );
    assert!(
        decode(r#"{"type":"settings_sync","data":{"revision":9007199254740991,"settings":{}}}"#)
            .is_ok()
    );
}

#[test]
fn a_roll_result_without_request_id_is_refused() {
    let error = error_of(r#"{"type":"roll_result","data":{"results":[]}}"#);
    assert_eq!(
        error,
        FrameError::MissingRequestId {
            type_name: "roll_result"
        }
    );
}

#[test]
fn a_chat_request_without_request_id_is_refused() {
    let error = error_of(r#"{"type":"chat_request","data":{"messages":[],"settings_revision":0}}"#);
    assert_eq!(
        error,
        FrameError::MissingRequestId {
            type_name: "chat_request"
        }
    );
}

#[test]
fn data_may_come_before_type() {
    let frame =
        decode(r#"{"data":{"revision":1,"settings":{}},"type":"settings_sync"}"#).expect("decodes");
    assert_eq!(frame.message.type_name(), "settings_sync");
}

#[test]
fn unknown_fields_are_ignored() {
    let frame = decode(r#"{"type":"ping","request_id":"p","data":{"extra":1},"extra":true}"#)
        .expect("decodes");
    assert_eq!(frame.message, ClientMessage::Ping(Empty {}));
}

#[test]
fn a_frame_without_data_reads_as_empty_data() {
    assert_eq!(
        decode(r#"{"type":"ping"}"#).expect("ping").message,
        ClientMessage::Ping(Empty {})
    );
    let error = error_of(r#"{"type":"connect"}"#);
    assert!(error.to_string().contains("client_id"), "{error}");
}

#[test]
fn a_missing_token_reads_as_an_empty_token() {
    let frame = decode(
        r#"{"type":"connect","data":{"client_id":"c","protocol":1,"world":{"id":"w","title":"t","system":"s"},"user":{"id":"u","name":"n","is_gm":true}}}"#,
    )
    .expect("a connect without token decodes, so the server answers AUTH_FAILED");
    match frame.message {
        ClientMessage::Connect(connect) => assert_eq!(connect.token, ""),
        other => panic!("decoded as {other:?}"),
    }
}

#[test]
fn a_non_string_request_id_is_malformed() {
    assert!(matches!(
        error_of(r#"{"type":"ping","request_id":7}"#),
        FrameError::Malformed { .. }
    ));
}

#[test]
fn an_unknown_error_code_from_a_newer_server_still_decodes() {
    let raw: RawFrame<Value> =
        serde_json::from_str(r#"{"type":"error","data":{"code":"SOMETHING_NEW","message":"m"}}"#)
            .expect("json");
    let frame = ServerFrame::decode(raw).expect("decodes");
    assert_eq!(
        frame.message,
        ServerMessage::Error(ErrorData {
            code: ErrorCode::Unrecognized,
            message: "m".into()
        })
    );
}

#[test]
fn server_frames_that_answer_a_request_need_its_id() {
    let raw: RawFrame<Value> =
        serde_json::from_str(r#"{"type":"roll_ack","data":{"status":"accepted"}}"#).expect("json");
    assert_eq!(
        ServerFrame::decode(raw).expect_err("no request_id"),
        FrameError::MissingRequestId {
            type_name: "roll_ack"
        }
    );
}

/// The hand-written codec (the wasm core's) refuses the same frames with the same kind of
/// error, and its reasons name the field by its whole path.
#[test]
fn the_hand_written_codec_refuses_the_same_frames_and_names_the_field() {
    let hand = |text: &str| {
        let value: JsonValue = serde_json::from_str(text).expect("json");
        ClientFrame::from_json(&value)
    };
    for text in [
        r#"{"type":"teleport","data":{}}"#,
        r#"{"data":{}}"#,
        r#"{"type":"settings_sync","data":{"settings":{}}}"#,
        r#"{"type":"chat_request","request_id":"t","data":{"messages":"hi","settings_revision":1}}"#,
        r#"{"type":"settings_sync","data":{"revision":-1,"settings":{}}}"#,
        r#"{"type":"settings_sync","data":{"revision":9007199254740992,"settings":{}}}"#,
        r#"{"type":"roll_result","data":{"results":[]}}"#,
        r#"{"type":"connect"}"#,
        r#"{"type":"ping","request_id":7}"#,
    ] {
        let by_serde = error_of(text);
        let by_hand = hand(text).expect_err(text);
        assert_eq!(
            std::mem::discriminant(&by_hand),
            std::mem::discriminant(&by_serde),
            "{text}: {by_hand:?} / {by_serde:?}"
        );
        if !matches!(
            by_serde,
            FrameError::InvalidData { .. } | FrameError::Malformed { .. }
        ) {
            assert_eq!(by_hand, by_serde, "{text}");
        }
    }
    let error = hand(
        r#"{"type":"roll_result","request_id":"r","data":{"results":[{"formula":"1d6","total":3,"dice":[{"faces":6,"results":[{"result":"3","active":true}]}]}]}}"#,
    )
    .expect_err("a die result that is a string");
    assert_eq!(
        error.to_string(),
        "invalid `roll_result` data: field `results[0].dice[0].results[0].result` must be an integer, found a string"
    );
    let error = hand(r#"{"type":"connect"}"#).expect_err("no data");
    assert_eq!(
        error.to_string(),
        "invalid `connect` data: no `data`: missing field `client_id`"
    );
}
